"""Invoice PDFs with reportlab, drawn straight on the canvas.

Every French mandatory mention (CGI annexe II art. 242 nonies A, Code de commerce
L441-9/L441-10) is printed. Text is drawn with `drawString`, never through reportlab's
Paragraph markup, so user text is printed exactly as typed (`<b>` stays `<b>`). Latin text
uses the Vera TrueType fonts reportlab ships (embedded, full accents); Japanese runs use
the HeiseiMin CID font, and both extract back as text.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from crmpay.core.invoice import Invoice
from crmpay.core.money import Money
from crmpay.documents.fonts import BOLD, CJK, REGULAR, register_fonts, runs, text_width
from crmpay.documents.labels import LABELS
from crmpay.documents.legal import snapshot

if TYPE_CHECKING:
    from crmpay.config import SellerSettings

__all__ = ["BOLD", "CJK", "REGULAR", "format_money", "register_fonts", "render_invoice", "text_width"]


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
        # invariant: no creation date nor random id, so the same invoice gives the same bytes
        self.c = canvas.Canvas(
            target, pagesize=A4, pageCompression=1, invariant=True, initialFontName=REGULAR, initialFontSize=9
        )
        self.width, self.height = A4
        self.left, self.right = 18 * mm, self.width - 18 * mm
        self.labels, self.number = labels, number
        self.page = 1
        self.y = self.height - 20 * mm

    def text(self, x: float, y: float, text: str, *, font: str = REGULAR, size: float = 9, align: str = "left") -> None:
        if align == "right":
            x -= text_width(text, font, size)
        for run, cjk in runs(text):
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


def _service_fact(invoice: Invoice, labels: dict[str, str]) -> tuple[str, str]:
    """The date of the sale or service, or the period of the service (first and last day)."""
    if invoice.service_start and invoice.service_end:
        span = labels["period_range"].format(
            start=invoice.service_start.isoformat(), end=invoice.service_end.isoformat()
        )
        return labels["period"], span
    return labels["service"], (invoice.service_date or invoice.issue_date).isoformat()


def render_invoice(
    invoice: Invoice,
    seller: SellerSettings | dict[str, Any] | None,
    target: str | Path | Any,
    *,
    payment_line: str | None = None,
) -> None:
    """Draw `invoice` to `target` (a path or a binary file object). An issued invoice is
    drawn from what it froze at issue (seller, legal texts); `seller` serves the others."""
    register_fonts()
    lang = invoice.language if invoice.language in LABELS else "en"
    labels = LABELS[lang]
    sep = labels["sep"]
    frozen = snapshot(invoice, seller)
    who, legal = frozen.get("seller", {}), frozen.get("legal", {})
    page = _Page(str(target) if isinstance(target, Path) else target, labels, invoice.number)
    sums = invoice.totals
    credit = invoice.kind == "credit_note"

    # Seller (left) and invoice facts (right)
    top = page.y
    page.line(who.get("name") or "", font=BOLD, size=12, gap=5.5 * mm)
    form = ", ".join(
        filter(
            None,
            [
                who.get("legal_form"),
                f"{labels['capital']} {who['share_capital']}" if who.get("share_capital") else None,
            ],
        )
    )
    if form:
        page.line(form)
    for part in (who.get("address") or "").splitlines():
        page.line(part)
    ids = [
        (labels["siren"], who.get("siren")),
        (labels["siret"], who.get("siret")),
        (labels["rcs"], who.get("rcs")),
        (labels["vat_number"], who.get("vat_number")),
        (labels["registration"], who.get("registration_number")),
    ]
    for label, value in ids:
        if value:
            page.line(value if label == "RCS" and value.upper().startswith("RCS") else f"{label}{sep}{value}")
    left_bottom = page.y
    y = top
    page.text(page.right, y, labels["credit_title" if credit else "title"], font=BOLD, size=16, align="right")
    y -= 7 * mm
    facts = [
        (labels["number"], invoice.number),
        (labels["issued"], invoice.issue_date.isoformat()),
        _service_fact(invoice, labels),
    ]
    if credit and invoice.credits:
        when = f" {labels['of']} {invoice.credits_date.isoformat()}" if invoice.credits_date else ""
        facts.append((labels["credits"], f"{invoice.credits}{when}"))
    else:
        facts.append((labels["due"], invoice.due_date.isoformat()))
    if invoice.po_number:
        facts.append((labels["po"], invoice.po_number))
    for label, value in facts:
        page.text(page.right, y, f"{label}{sep}{value}", align="right")
        y -= 4.6 * mm
    page.y = min(left_bottom, y) - 6 * mm

    # Buyer
    page.line(labels["bill_to"], font=BOLD, size=10)
    page.line(invoice.customer_name or invoice.customer_email, size=10)
    for part in (invoice.customer_address or "").splitlines():
        page.line(part)
    for label, value in ((labels["buyer_vat"], invoice.buyer_vat), (labels["buyer_siren"], invoice.buyer_siren)):
        if value:
            page.line(f"{label}{sep}{value}")
    if invoice.customer_name:
        page.line(invoice.customer_email)
    if invoice.delivery_elsewhere:  # where the goods go, when it is not the billing address
        page.y -= 2 * mm
        page.line(labels["deliver_to"], font=BOLD)
        for part in page.wrap(invoice.delivery_address or "", 110 * mm):
            page.line(part)
    if invoice.nature:
        page.y -= 2 * mm
        page.line(f"{labels['nature']}{sep}{labels['nature_' + invoice.nature]}")
    page.y -= 4 * mm

    # Lines
    cols = [page.left, page.left + 92 * mm, page.left + 110 * mm, page.left + 140 * mm, page.right]
    reduced = lang == "ja" and any(ln.vat_rate == 8 for ln in invoice.lines)

    def header() -> None:
        page.need(8 * mm)
        page.text(cols[0], page.y, labels["description"], font=BOLD)
        page.text(cols[1] + 12 * mm, page.y, labels["qty"], font=BOLD, align="right")
        page.text(cols[2] + 27 * mm, page.y, labels["unit"], font=BOLD, align="right")
        page.text(cols[3] + 14 * mm, page.y, labels["vat_rate"], font=BOLD, align="right")
        page.text(cols[4], page.y, labels["net"], font=BOLD, align="right")
        page.c.line(page.left, page.y - 1.5 * mm, page.right, page.y - 1.5 * mm)
        page.y -= 5.5 * mm

    def rate_text(rate: Decimal, category: str) -> str:
        mark = " ※" if reduced and rate == 8 else ""
        return f"{_number(rate, lang)} %{mark}" if category == "S" else f"{_number(rate, lang)} % {category}"

    header()
    minor = Money.from_minor(1, invoice.currency).amount
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
            if item.unit_price == item.unit_price.quantize(minor)
            else f"{_number(item.unit_price, lang)} {invoice.currency}",
            align="right",
        )
        page.text(cols[3] + 14 * mm, page.y, rate_text(item.vat_rate, item.vat_category), align="right")
        page.text(
            cols[4], page.y, format_money(Money(item.net(invoice.currency), invoice.currency), lang), align="right"
        )
        for part in wrapped:
            page.text(cols[0], page.y, part)
            page.y -= 4.2 * mm
        page.y -= 0.8 * mm
    page.c.line(page.left, page.y + 2 * mm, page.right, page.y + 2 * mm)
    page.y -= 3 * mm

    # VAT per rate and category, then totals
    page.need(10 * mm + 4.6 * mm * (len(sums.vat_lines) + 6))
    page.line(labels["vat_summary"], font=BOLD)
    for vat in sums.vat_lines:
        page.text(page.left, page.y, f"{labels['vat']} {rate_text(vat.rate, vat.category)}")
        page.text(page.left + 70 * mm, page.y, f"{labels['base']} {format_money(vat.base, lang)}", align="right")
        page.text(page.left + 110 * mm, page.y, format_money(vat.vat, lang), align="right")
        page.y -= 4.6 * mm
    page.y -= 2 * mm
    totals = [
        (labels["total_excl"], sums.excl_vat, REGULAR),
        (labels["total_vat"], sums.vat, REGULAR),
        (labels["total_incl"], sums.incl_vat, BOLD),
    ]
    if not credit and invoice.amount_credited is not None and invoice.amount_credited.minor:
        totals.append((labels["credited"], invoice.amount_credited, REGULAR))
        totals.append((labels["amount_due"], sums.incl_vat - invoice.amount_credited, BOLD))
    for label, amount, font in totals:
        page.text(page.right - 45 * mm, page.y, label, font=font, align="right")
        page.text(page.right, page.y, format_money(amount, lang), font=font, align="right")
        page.y -= 5 * mm
    page.y -= 4 * mm

    # Payment and legal mentions
    notes: list[str] = []
    if credit and invoice.reason:
        notes.append(f"{labels['reason']}{sep}{invoice.reason}")
    if not credit:
        notes.append(f"{labels['due']}{sep}{invoice.due_date.isoformat()}")
        if payment_line:
            notes.append(f"{labels['payment']}{sep}{payment_line}")
    exemptions = legal.get("exemptions") or {}
    for category in dict.fromkeys(v.category for v in sums.vat_lines if v.category != "S"):
        if exemptions.get(category):
            notes.append(exemptions[category])
    if reduced:
        notes.append(labels["reduced"])
    if legal.get("vat_on_debits"):
        notes.append(legal["vat_on_debits"])
    if not credit:
        if legal.get("early_payment"):
            notes.append(f"{labels['early_payment']}{sep}{legal['early_payment']}")
        if legal.get("penalty"):
            notes.append(f"{labels['penalty']}{sep}{legal['penalty']}")
        if legal.get("indemnity"):
            notes.append(legal["indemnity"])
    for note in notes:
        for part in page.wrap(note, page.right - page.left, size=8):
            page.line(part, size=8, gap=4 * mm)
    page.finish()
