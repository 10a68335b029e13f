"""Issue 18: embedded TrueType fonts cover Latin Extended and Japanese; every font embedded."""

from __future__ import annotations

from datetime import date

from pypdf import PdfReader

from crmpay.config import SellerSettings
from crmpay.core.invoice import Invoice, InvoiceLine
from crmpay.documents.pdf import render_invoice

NAMES = "Łukasz Wałęsa / Antonín Dvořák / Ștefan Țiriac / Ő Ā"
JAPANESE = "株式会社山田 ※ ㈱ ① 請求書"


def test_latin_extended_and_japanese_read_back_and_every_font_is_embedded(tmp_path):
    invoice = Invoice(
        "INV-2026-0001",
        "EUR",
        "a@b.fr",
        NAMES,
        "fr",
        date(2026, 3, 2),
        date(2026, 4, 1),
        [InvoiceLine.parse(f"{JAPANESE};1;10;20"), InvoiceLine.parse(f"{NAMES};1;10;20")],
        customer_address="ul. Długa 5\n00-238 Warszawa",
    )
    path = tmp_path / "f.pdf"
    render_invoice(invoice, SellerSettings(name="Ștefan Țiriac SRL"), path)
    reader = PdfReader(path)
    text = "\n".join(page.extract_text() for page in reader.pages)
    for name in NAMES.split(" / ") + ["Ștefan Țiriac SRL", "Długa"] + JAPANESE.split():
        assert name in text, name
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font).get("/FontDescriptor")
            fonts[font["/BaseFont"]] = descriptor is not None and "/FontFile2" in descriptor.get_object()
    assert fonts and all(fonts.values()), fonts
