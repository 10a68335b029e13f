"""Issue 18: the mentions of CGI art. 242 nonies A / Code de commerce L441-9, read back from
the PDF; no French legal text on a Japanese invoice; the T-number when set."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError
from pypdf import PdfReader

from crmpay.config import SellerSettings
from crmpay.core.invoice import Invoice, InvoiceLine
from crmpay.documents.pdf import render_invoice

DAY = date(2026, 3, 2)
FR = SellerSettings(
    name="Acme SAS",
    legal_form="SAS",
    share_capital="10 000 €",
    rcs="RCS Paris 732 829 320",
    address="1 rue A\n75001 Paris",
    siren="732 829 320",
    siret="73282932000074",
    vat_number="FR44732829320",
    early_payment="2 % pour paiement sous 8 jours",
)


def _text(path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def _invoice(language="fr", currency="EUR", lines=None, **kw) -> Invoice:
    return Invoice(
        "INV-2026-0001",
        currency,
        "a@b.fr",
        "Client SA",
        language,
        DAY,
        DAY + timedelta(30),
        lines or [InvoiceLine.parse("Conseil;1;100;20")],
        customer_address="2 rue B\n69001 Lyon",
        **kw,
    )


def test_french_mentions(tmp_path):
    invoice = _invoice(
        lines=[
            InvoiceLine.parse("Conseil;1;100;20"),
            InvoiceLine.parse("Maintenance UE;1;50;0:K"),
            InvoiceLine.parse("Audit;1;40;AE"),
            InvoiceLine.parse("Formation;1;30;E"),
        ],
        service_date=DAY - timedelta(days=20),
        buyer_vat="DE136695976",
        buyer_siren="552100554",
        po_number="PO-778",
    )
    render_invoice(invoice, FR, tmp_path / "f.pdf")
    text = _text(tmp_path / "f.pdf")
    for mention in [
        f"Date de la prestation : {DAY - timedelta(days=20)}",
        f"Date d'émission : {DAY}",
        "Bon de commande : PO-778",
        "N° TVA : DE136695976",
        "SIREN : 552100554",
        "SAS, Capital 10 000 €",
        "RCS Paris 732 829 320",
        "SIRET : 73282932000074",
        "Exonération de TVA, art. 262 ter I du CGI",
        "Autoliquidation",
        "TVA non applicable, art. 293 B du CGI",
        "0 % K",
        "Escompte : 2 % pour paiement sous 8 jours",
        "Pénalités de retard",
        "40 €",
    ]:
        assert mention in text, mention


def test_a_japanese_invoice_has_japanese_labels_no_french_legal_text_and_the_t_number(tmp_path):
    seller = SellerSettings(name="株式会社アクメ", country="JP", registration_number="T5835678256246")
    invoice = _invoice("ja", "JPY", [InvoiceLine.parse("食品;1;1000;8"), InvoiceLine.parse("保守①;1;10000;10")])
    render_invoice(invoice, seller, tmp_path / "ja.pdf")
    text = _text(tmp_path / "ja.pdf")
    for mention in ["請求書", "消費税", "適格請求書発行事業者登録番号", "T5835678256246", "※は軽減税率対象", "保守①"]:
        assert mention in text, mention
    assert text.count("※") >= 3  # the 8 % line, its rate in the summary, the note
    for french in ("40", "légal", "legal", "Pénalités", "penalties"):
        assert french not in text.replace("11,000", "").replace("1,080", ""), french


@pytest.mark.parametrize(
    "field, value",
    [
        ("siren", "ABCDEFGHI"),
        ("siren", "123456789"),
        ("vat_number", "hello"),
        ("vat_number", "FR00732829320"),
        ("siret", "73282932000075"),
        ("registration_number", "T1234567890123"),
        ("invoice_prefix", "../pwn/"),
    ],
)
def test_seller_identifiers_are_validated(field, value):
    with pytest.raises(ValidationError):
        SellerSettings(**{field: value})


def test_zoho_rates_come_from_the_line_tax_percentage():
    from decimal import Decimal

    from crmpay.services.invoices.zoho import line_rate

    assert line_rate({"Tax": 0.99, "Line_Tax": [{"percentage": 20, "value": 0.99}]}, Decimal("4.97")) == 20
    assert line_rate({"Tax": 0.99}, Decimal("4.92")) == 20  # 20.12 % implied: the usual rate nearest
    assert line_rate({"Tax": 1.1}, Decimal("20")) == Decimal("5.5")
