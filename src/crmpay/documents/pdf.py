"""Invoice PDFs with reportlab, drawn straight on the canvas.

Every French mandatory mention (CGI annexe II art. 242 nonies A, Code de commerce
L441-9/L441-10) is printed. Text is drawn with `drawString`, never through reportlab's
Paragraph markup, so user text is printed exactly as typed (`<b>` stays `<b>`). Latin text
uses the Vera TrueType fonts reportlab ships (embedded, full accents); Japanese runs use
the HeiseiMin CID font, and both extract back as text.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from crmpay.core.invoice import Invoice
from crmpay.core.money import Money

if TYPE_CHECKING:
    from crmpay.config import SellerSettings

REGULAR, BOLD, CJK = "Vera", "VeraBd", "HeiseiMin-W3"
_registered = False


def register_fonts() -> None:
    global _registered
    if _registered:
        return
    import reportlab
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    folder = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
    pdfmetrics.registerFont(TTFont(REGULAR, os.path.join(folder, "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, os.path.join(folder, "VeraBd.ttf")))
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))
    _registered = True


LABELS = {
    "fr": {
        "title": "FACTURE",
        "number": "N°",
        "issued": "Date d'émission",
        "service": "Date de la prestation",
        "due": "Échéance",
        "bill_to": "Facturé à",
        "description": "Description",
        "qty": "Qté",
        "unit": "PU HT",
        "vat_rate": "TVA",
        "net": "Total HT",
        "vat_summary": "Récapitulatif TVA",
        "base": "Base HT",
        "vat": "TVA",
        "total_excl": "Total HT",
        "total_vat": "Total TVA",
        "total_incl": "Total TTC",
        "payment": "Paiement",
        "siren": "SIREN",
        "siret": "SIRET",
        "vat_number": "N° TVA",
        "penalty": "Pénalités de retard",
        "default_penalty": "trois fois le taux d'intérêt légal, exigibles dès le lendemain de l'échéance",
        "indemnity": "Indemnité forfaitaire pour frais de recouvrement en cas de retard : 40 €",
        "page": "Page",
    },
    "en": {
        "title": "INVOICE",
        "number": "No.",
        "issued": "Issue date",
        "service": "Date of service",
        "due": "Due date",
        "bill_to": "Bill to",
        "description": "Description",
        "qty": "Qty",
        "unit": "Unit price excl. VAT",
        "vat_rate": "VAT",
        "net": "Total excl. VAT",
        "vat_summary": "VAT summary",
        "base": "Taxable base",
        "vat": "VAT",
        "total_excl": "Total excl. VAT",
        "total_vat": "Total VAT",
        "total_incl": "Total incl. VAT",
        "payment": "Payment",
        "siren": "SIREN",
        "siret": "SIRET",
        "vat_number": "VAT no.",
        "penalty": "Late payment penalties",
        "default_penalty": "three times the French legal interest rate, due from the day after the due date",
        "indemnity": "Fixed compensation for recovery costs in case of late payment: EUR 40",
        "page": "Page",
    },
}


# CJK punctuation, kana, CJK ideographs (+ extension A), Hangul, full-width forms.
_CJK = re.compile("([\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]+)")


def _runs(text: str) -> list[tuple[str, bool]]:
    """Split text into runs of Latin and of CJK characters (odd pieces are CJK)."""
    if not _CJK.search(text):
        return [(text, False)]
    return [(piece, i % 2 == 1) for i, piece in enumerate(_CJK.split(text)) if piece]


def text_width(text: str, font: str, size: float) -> float:
    return sum(pdfmetrics.stringWidth(run, CJK if cjk else font, size) for run, cjk in _runs(text))


def format_money(money: Money, language: str) -> str:
    text = money.decimal_string()
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = whole.lstrip("-")
    groups: list[str] = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    if language == "fr":
        return f"{sign}{' '.join(groups)}{',' + frac if frac else ''} {money.currency}"
    return f"{sign}{','.join(groups)}{'.' + frac if frac else ''} {money.currency}"


def _number(value: Decimal, language: str) -> str:
    text = format(value.normalize(), "f")
    return text.replace(".", ",") if language == "fr" else text


class _Page:
    """A canvas with a cursor, mixed-script text and automatic page breaks."""

    def __init__(self, target: Any, labels: dict[str, str], number: str) -> None:
        self.c = canvas.Canvas(target, pagesize=A4, pageCompression=1)
        self.width, self.height = A4
        self.left, self.right = 18 * mm, self.width - 18 * mm
        self.labels, self.number = labels, number
        self.page = 1
        self.y = self.height - 20 * mm

    def text(self, x: float, y: float, text: str, *, font: str = REGULAR, size: float = 9, align: str = "left") -> None:
        if align == "right":
            x -= text_width(text, font, size)
        for run, cjk in _runs(text):
            face = CJK if cjk else font
            self.c.setFont(face, size)
            self.c.drawString(x, y, run)
            x += pdfmetrics.stringWidth(run, face, size)

    def line(
        self, text: str, *, font: str = REGULAR, size: float = 9, x: float | None = None, gap: float = 4.6 * mm
    ) -> None:
        self.need(gap)
        self.text(self.left if x is None else x, self.y, text, font=font, size=size)
        self.y -= gap

    def wrap(self, text: str, width: float, font: str = REGULAR, size: float = 9) -> list[str]:
        if "\n" not in text and text_width(text, font, size) <= width:
            return [text]
        lines: list[str] = []
        for paragraph in text.splitlines() or [""]:
            current = ""
            for word in paragraph.split(" "):
                candidate = f"{current} {word}" if current else word
                if text_width(candidate, font, size) <= width:
                    current = candidate
                    continue
                if current:
                    lines.append(current)
                current = ""
                for char in word:  # a word longer than the column (or CJK text) breaks anywhere
                    if text_width(current + char, font, size) > width and current:
                        lines.append(current)
                        current = ""
                    current += char
            lines.append(current)
        return lines

    def need(self, height: float) -> None:
        if self.y - height < 22 * mm:
            self.footer()
            self.c.showPage()
            self.page += 1
            self.y = self.height - 20 * mm

    def footer(self) -> None:
        self.text(self.right, 12 * mm, f"{self.number} — {self.labels['page']} {self.page}", size=7, align="right")

    def finish(self) -> None:
        self.footer()
        self.c.save()


def render_invoice(
    invoice: Invoice, seller: SellerSettings, target: str | Path | Any, *, payment_line: str | None = None
) -> None:
    """Draw `invoice` to `target` (a path or a binary file object)."""
    register_fonts()
    labels = LABELS["fr" if invoice.language == "fr" else "en"]
    lang = "fr" if invoice.language == "fr" else "en"
    page = _Page(str(target) if isinstance(target, Path) else target, labels, invoice.number)
    sums = invoice.totals

    # Seller (left) and invoice facts (right)
    top = page.y
    page.line(seller.name or "", font=BOLD, size=12, gap=5.5 * mm)
    if seller.legal_form:
        page.line(seller.legal_form)
    for part in (seller.address or "").splitlines():
        page.line(part)
    ids = [(labels["siren"], seller.siren), (labels["siret"], seller.siret), (labels["vat_number"], seller.vat_number)]
    for label, value in ids:
        if value:
            page.line(f"{label} : {value}" if lang == "fr" else f"{label}: {value}")
    left_bottom = page.y
    y = top
    page.text(page.right, y, labels["title"], font=BOLD, size=16, align="right")
    y -= 7 * mm
    facts = [
        (labels["number"], invoice.number),
        (labels["issued"], invoice.issue_date.isoformat()),
        (labels["service"], invoice.issue_date.isoformat()),
        (labels["due"], invoice.due_date.isoformat()),
    ]
    for label, value in facts:
        page.text(page.right, y, f"{label} : {value}" if lang == "fr" else f"{label}: {value}", align="right")
        y -= 4.6 * mm
    page.y = min(left_bottom, y) - 6 * mm

    # Buyer
    page.line(labels["bill_to"], font=BOLD, size=10)
    page.line(invoice.customer_name or invoice.customer_email, size=10)
    for part in (invoice.customer_address or "").splitlines():
        page.line(part)
    page.line(invoice.customer_email)
    page.y -= 4 * mm

    # Lines
    cols = [page.left, page.left + 92 * mm, page.left + 110 * mm, page.left + 140 * mm, page.right]

    def header() -> None:
        page.need(8 * mm)
        page.text(cols[0], page.y, labels["description"], font=BOLD)
        page.text(cols[1] + 12 * mm, page.y, labels["qty"], font=BOLD, align="right")
        page.text(cols[2] + 27 * mm, page.y, labels["unit"], font=BOLD, align="right")
        page.text(cols[3] + 14 * mm, page.y, labels["vat_rate"], font=BOLD, align="right")
        page.text(cols[4], page.y, labels["net"], font=BOLD, align="right")
        page.c.line(page.left, page.y - 1.5 * mm, page.right, page.y - 1.5 * mm)
        page.y -= 5.5 * mm

    header()
    for item in invoice.lines:
        wrapped = page.wrap(item.description, 88 * mm)
        if page.y - len(wrapped) * 4.2 * mm < 22 * mm:
            page.need(len(wrapped) * 4.2 * mm + 10 * mm)
            header()
        page.text(cols[1] + 12 * mm, page.y, _number(item.quantity, lang), align="right")
        page.text(
            cols[2] + 27 * mm,
            page.y,
            format_money(Money(item.unit_price, invoice.currency), lang)
            if item.unit_price == item.unit_price.quantize(Money.from_minor(1, invoice.currency).amount)
            else f"{_number(item.unit_price, lang)} {invoice.currency}",
            align="right",
        )
        page.text(cols[3] + 14 * mm, page.y, f"{_number(item.vat_rate, lang)} %", align="right")
        page.text(
            cols[4], page.y, format_money(Money(item.net(invoice.currency), invoice.currency), lang), align="right"
        )
        for part in wrapped:
            page.text(cols[0], page.y, part)
            page.y -= 4.2 * mm
        page.y -= 0.8 * mm
    page.c.line(page.left, page.y + 2 * mm, page.right, page.y + 2 * mm)
    page.y -= 3 * mm

    # VAT per rate, then totals
    page.need(10 * mm + 4.6 * mm * (len(sums.vat_lines) + 4))
    page.line(labels["vat_summary"], font=BOLD)
    for vat in sums.vat_lines:
        page.text(page.left, page.y, f"{labels['vat']} {_number(vat.rate, lang)} %")
        page.text(page.left + 70 * mm, page.y, f"{labels['base']} {format_money(vat.base, lang)}", align="right")
        page.text(page.left + 110 * mm, page.y, format_money(vat.vat, lang), align="right")
        page.y -= 4.6 * mm
    page.y -= 2 * mm
    for label, amount, font in (
        (labels["total_excl"], sums.excl_vat, REGULAR),
        (labels["total_vat"], sums.vat, REGULAR),
        (labels["total_incl"], sums.incl_vat, BOLD),
    ):
        page.text(page.right - 45 * mm, page.y, label, font=font, align="right")
        page.text(page.right, page.y, format_money(amount, lang), font=font, align="right")
        page.y -= 5 * mm
    page.y -= 4 * mm

    # Payment and legal mentions
    sep = " : " if lang == "fr" else ": "
    notes = [f"{labels['due']}{sep}{invoice.due_date.isoformat()}"]
    if payment_line:
        notes.append(f"{labels['payment']}{sep}{payment_line}")
    notes.append(f"{labels['penalty']}{sep}{seller.late_penalty or labels['default_penalty']}")
    if seller.business_customers:
        notes.append(labels["indemnity"])
    for note in notes:
        for part in page.wrap(note, page.right - page.left, size=8):
            page.line(part, size=8, gap=4 * mm)
    page.finish()
