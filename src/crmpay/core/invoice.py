"""Invoices: lines, and totals computed the EN 16931 way.

Line amounts are rounded to the currency's decimals; the VAT of each rate is computed
once on that rate's taxable base (never the sum of per-line rounded VAT). Each line has
an EN 16931 VAT category (UNTDID 5305: S, Z, E, AE, K, G, O); a line with no VAT names
why, in the wording French law asks for (CGI art. 242 nonies A).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from crmpay.core.errors import UsageError
from crmpay.core.money import Money, exponent, parse_decimal, round_to_currency

LANGUAGES = ("fr", "en", "ja")
KINDS = ("invoice", "credit_note")
# EN 16931 VAT categories (UNTDID 5305) crmpay issues: S standard; Z zero rated; E exempt
# (in France: the franchise of art. 293 B); AE reverse charge; K intra-EU supply; G export
# outside the EU; O outside the scope of VAT.
VAT_CATEGORIES = ("S", "Z", "E", "AE", "K", "G", "O")
EXEMPTION_TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "Z": "TVA au taux zéro",
        "E": "TVA non applicable, art. 293 B du CGI",
        "AE": "Autoliquidation",
        "K": "Exonération de TVA, art. 262 ter I du CGI",
        "G": "Exonération de TVA, art. 262 I du CGI (exportation)",
        "O": "Opération hors du champ d'application de la TVA",
    },
    "en": {
        "Z": "Zero-rated VAT",
        "E": "VAT not applicable, art. 293 B of the French CGI",
        "AE": "Reverse charge (Autoliquidation)",
        "K": "VAT exempt intra-EU supply, art. 262 ter I of the French CGI",
        "G": "VAT exempt export, art. 262 I of the French CGI",
        "O": "Outside the scope of VAT",
    },
    "ja": {
        "Z": "ゼロ税率",
        "E": "非課税",
        "AE": "リバースチャージ",
        "K": "EU域内取引（免税）",
        "G": "輸出免税",
        "O": "不課税",
    },
}
# VATEX codes (CEF list) for Factur-X: why a line carries no VAT.
VATEX = {"E": "VATEX-FR-FRANCHISE", "AE": "VATEX-EU-AE", "K": "VATEX-EU-IC", "G": "VATEX-EU-G", "O": "VATEX-EU-O"}
MAX_TEXT = 1000  # characters of a description, a name or an address
# The nature of the operation (CGI art. 242 nonies A as amended for the e-invoicing reform):
# only supplies of goods, only services, or both.
NATURES = ("goods", "services", "mixed")


def check_text(value: str, what: str, *, multiline: bool = False, limit: int = MAX_TEXT) -> str:
    """User text printed on an invoice: no NUL or other control character, bounded."""
    for char in value:
        if unicodedata.category(char) == "Cc" and not (multiline and char in "\n\t"):
            raise UsageError(f"{what} {value[:40]!r}: contains the control character U+{ord(char):04X}")
    if len(value) > limit:
        raise UsageError(f"{what} {value[:40]!r}…: longer than {limit} characters")
    return value


def check_nature(value: str | None) -> str | None:
    """goods, services or mixed (any case); None or blank: not stated."""
    if value is None or not value.strip():
        return None
    nature = value.strip().lower()
    if nature not in NATURES:
        raise UsageError(f"nature {value[:40]!r}: choose one of {', '.join(NATURES)}")
    return nature


def _category_and_rate(raw: str, description: str) -> tuple[Decimal, str]:
    """`20`, `20:S`, `0:E`, `AE` (a category alone has a 0 % rate)."""
    text = raw.replace("%", "").strip()
    rate_text, _, category = text.partition(":")
    if rate_text.upper() in VAT_CATEGORIES and not category:
        rate_text, category = "0", rate_text
    rate = parse_decimal(rate_text, f"{description!r}: VAT rate", limit=Decimal(100), places=4)
    if rate < 0:
        raise UsageError(f"{description!r}: VAT rate must be between 0 and 100")
    return rate, category.upper()


# What an invoice's `status` can be: unpaid until money is asked for; pending while a
# debit is live or scheduled; awaiting_mandate while a setup link is out; then paid,
# partially_paid (by hand), or credited (a credit note cancelled what was due).
STATUSES = ("unpaid", "pending", "awaiting_mandate", "partially_paid", "paid", "credited")


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: Decimal
    unit_price: Decimal  # excl. VAT; negative for a discount (allowance) line
    vat_rate: Decimal  # percent: 20 means 20 %
    vat_category: str = ""  # S when a rate is charged, E (exempt) when 0 %, unless given

    def __post_init__(self) -> None:
        category = (self.vat_category or ("S" if self.vat_rate > 0 else "E")).upper()
        if category not in VAT_CATEGORIES:
            raise UsageError(
                f"{self.description!r}: VAT category {category!r}: choose one of {', '.join(VAT_CATEGORIES)}"
            )
        if (category == "S") != (self.vat_rate > 0):
            raise UsageError(
                f"{self.description!r}: VAT category {category} "
                + ("needs a rate above 0" if category == "S" else "is charged at 0 %")
            )
        object.__setattr__(self, "vat_category", category)

    def net(self, currency: str) -> Decimal:
        return round_to_currency(self.quantity * self.unit_price, currency)

    @classmethod
    def parse(cls, text: str) -> InvoiceLine:
        """`DESCRIPTION;QTY;UNIT_PRICE;VAT`, e.g. `Maintenance;2;49.90;20`; VAT is a rate, a
        rate and an EN 16931 category (`0:K`) or a category (`AE`)."""
        parts = text.rsplit(";", 3)
        if len(parts) != 4:
            raise UsageError(f"line {text[:60]!r}: expected DESCRIPTION;QTY;UNIT_PRICE;VAT_RATE")
        description, quantity, price, rate = (p.strip() for p in parts)
        return cls.build(description, quantity, price, rate)

    @classmethod
    def build(cls, description: str, quantity: str, unit_price: str, vat_rate: str) -> InvoiceLine:
        if not description:
            raise UsageError("an invoice line needs a description")
        check_text(description, "description")
        qty = parse_decimal(quantity, f"{description!r}: quantity", limit=Decimal(10) ** 9)
        price = parse_decimal(unit_price, f"{description!r}: unit price")
        rate, category = _category_and_rate(vat_rate, description)
        if qty <= 0:
            raise UsageError(f"{description!r}: quantity must be more than 0")
        return cls(description, qty, price, rate, category)


@dataclass(frozen=True)
class VatLine:
    rate: Decimal
    base: Money
    vat: Money
    category: str = "S"


@dataclass(frozen=True)
class Totals:
    excl_vat: Money
    vat_lines: list[VatLine]
    vat: Money
    incl_vat: Money


def totals(lines: list[InvoiceLine], currency: str) -> Totals:
    bases: dict[tuple[Decimal, str], Decimal] = {}
    for line in lines:
        key = (line.vat_rate, line.vat_category)
        bases[key] = bases.get(key, Decimal(0)) + line.net(currency)
    vat_lines = [
        VatLine(rate, Money(base, currency), Money(round_to_currency(base * rate / 100, currency), currency), cat)
        for (rate, cat), base in sorted(bases.items())
    ]
    zero = Money(Decimal(0).quantize(Money.from_minor(0, currency).amount), currency)
    excl = sum((v.base for v in vat_lines), zero)
    vat = sum((v.vat for v in vat_lines), zero)
    return Totals(excl, vat_lines, vat, excl + vat)


def check_total(lines: list[InvoiceLine], currency: str) -> Totals:
    """An invoice (or a credit note) takes a legal number only for a total above zero;
    discount lines are allowed while the total stays positive."""
    exponent(currency)
    sums = totals(lines, currency)
    if sums.incl_vat.amount <= 0:
        raise UsageError(f"the total {sums.incl_vat} must be more than 0 (a discount larger than the invoice?)")
    if sums.incl_vat.amount > Money.from_minor(10**14, currency).amount:
        raise UsageError(f"the total {sums.incl_vat} is too large")
    return sums


# -- identifiers (python-stdnum) -----------------------------------------------------------
def _compact(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value).upper()


def check_identifier(kind: str, value: str) -> str:
    """A French SIREN (Luhn) / SIRET / EU VAT number (FR: its key) / a Japanese qualified
    invoice registration number (T + 13 digits of a corporate number); the compact form."""
    from stdnum.eu import vat
    from stdnum.fr import siren, siret
    from stdnum.jp import cn

    compact = _compact(value)
    checks: dict[str, tuple[str, Any]] = {
        "siren": ("a SIREN (9 digits, Luhn key)", siren.is_valid),
        "siret": ("a SIRET (14 digits, Luhn key)", siret.is_valid),
        "vat_number": ("a VAT number (e.g. FR + 2-digit key + SIREN)", vat.is_valid),
        "registration_number": (
            "a registration number (T + 13 digits)",
            lambda v: re.fullmatch(r"T\d{13}", v) is not None and cn.is_valid(v[1:]),
        ),
    }
    label, valid = checks[kind]
    if not valid(compact):
        raise ValueError(f"{value!r} is not {label}")
    return compact


@dataclass
class Invoice:
    number: str
    currency: str
    customer_email: str
    customer_name: str | None
    language: str
    issue_date: date
    due_date: date
    lines: list[InvoiceLine]
    status: str = "unpaid"
    source: str = "local"
    paid_on: date | None = None
    customer_address: str | None = None
    payment_note: str | None = None  # mandate reference / setup link / manual, for the PDF
    amount_paid: Money | None = None
    extra: dict[str, str] = field(default_factory=dict)
    kind: str = "invoice"  # or credit_note (an avoir)
    service_date: date | None = None  # date of the sale or service, when not the issue date
    service_start: date | None = None  # or the period of the service: first and last day
    service_end: date | None = None
    delivery_address: str | None = None  # where the goods go, printed when not the billing address
    nature: str | None = None  # goods, services or mixed (NATURES)
    buyer_vat: str | None = None
    buyer_siren: str | None = None
    po_number: str | None = None
    credits: str | None = None  # a credit note: the number of the invoice it corrects
    credits_date: date | None = None
    reason: str | None = None
    amount_credited: Money | None = None  # by credit notes (an invoice)
    frozen: dict[str, Any] | None = None  # what was stored at issue: seller, legal texts

    @property
    def totals(self) -> Totals:
        return totals(self.lines, self.currency)

    @property
    def business(self) -> bool:
        return bool(self.buyer_vat or self.buyer_siren)

    @property
    def delivery_elsewhere(self) -> bool:
        """A delivery address that is not the billing address (whitespace and case aside)."""

        def norm(text: str | None) -> str:
            return " ".join((text or "").split()).casefold()

        return bool(self.delivery_address) and norm(self.delivery_address) != norm(self.customer_address)
