"""Invoices: lines, and totals computed the EN 16931 way.

Line amounts are rounded to the currency's decimals; the VAT of each rate is computed
once on that rate's taxable base (never the sum of per-line rounded VAT).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from crmpay.core.errors import UsageError
from crmpay.core.money import Money, round_to_currency

LANGUAGES = ("fr", "en", "ja")


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: Decimal
    unit_price: Decimal  # excl. VAT
    vat_rate: Decimal  # percent: 20 means 20 %

    def net(self, currency: str) -> Decimal:
        return round_to_currency(self.quantity * self.unit_price, currency)

    @classmethod
    def parse(cls, text: str) -> InvoiceLine:
        """`DESCRIPTION;QTY;UNIT_PRICE;VAT_RATE`, e.g. `Maintenance;2;49.90;20`."""
        parts = text.rsplit(";", 3)
        if len(parts) != 4:
            raise UsageError(f"line {text!r}: expected DESCRIPTION;QTY;UNIT_PRICE;VAT_RATE")
        description, quantity, price, rate = (p.strip() for p in parts)
        return cls.build(description, quantity, price, rate)

    @classmethod
    def build(cls, description: str, quantity: str, unit_price: str, vat_rate: str) -> InvoiceLine:
        if not description:
            raise UsageError("an invoice line needs a description")
        values = {}
        for name, raw in (("quantity", quantity), ("unit price", unit_price), ("VAT rate", vat_rate)):
            try:
                value = Decimal(raw.replace(",", ".").replace("%", "").strip())
            except InvalidOperation:
                raise UsageError(f"{description!r}: {name} {raw!r} is not a number") from None
            if not value.is_finite():
                raise UsageError(f"{description!r}: {name} {raw!r} is not a number")
            values[name] = value
        if values["quantity"] <= 0:
            raise UsageError(f"{description!r}: quantity must be more than 0")
        if values["unit price"] < 0:
            raise UsageError(f"{description!r}: unit price must not be negative")
        if not 0 <= values["VAT rate"] <= 100:
            raise UsageError(f"{description!r}: VAT rate must be between 0 and 100")
        return cls(description, values["quantity"], values["unit price"], values["VAT rate"])


@dataclass(frozen=True)
class VatLine:
    rate: Decimal
    base: Money
    vat: Money


@dataclass(frozen=True)
class Totals:
    excl_vat: Money
    vat_lines: list[VatLine]
    vat: Money
    incl_vat: Money


def totals(lines: list[InvoiceLine], currency: str) -> Totals:
    bases: dict[Decimal, Decimal] = {}
    for line in lines:
        bases[line.vat_rate] = bases.get(line.vat_rate, Decimal(0)) + line.net(currency)
    vat_lines = [
        VatLine(rate, Money(base, currency), Money(round_to_currency(base * rate / 100, currency), currency))
        for rate, base in sorted(bases.items())
    ]
    zero = Money(Decimal(0).quantize(Money.from_minor(0, currency).amount), currency)
    excl = sum((v.base for v in vat_lines), zero)
    vat = sum((v.vat for v in vat_lines), zero)
    return Totals(excl, vat_lines, vat, excl + vat)


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

    @property
    def totals(self) -> Totals:
        return totals(self.lines, self.currency)
