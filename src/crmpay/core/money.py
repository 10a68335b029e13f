"""Exact money: `Decimal` in code, integer minor units on the wire and in the store.

Exponents follow ISO 4217 (JPY 0, EUR 2, KWD 3). A float never becomes money: the
constructors refuse one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from crmpay.core.errors import UsageError

# ISO 4217 minor-unit exponents that differ from 2; everything else has 2.
_EXPONENTS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "CLF": 4,
    "UYW": 4,
}


@lru_cache(maxsize=256)
def exponent(currency: str) -> int:
    """The number of decimals of `currency` (ISO 4217)."""
    code = currency.upper()
    if len(code) != 3 or not code.isalpha():
        raise UsageError(f"{currency!r} is not an ISO 4217 currency code")
    return _EXPONENTS.get(code, 2)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, float) or not isinstance(self.amount, Decimal):
            raise TypeError("Money needs a Decimal amount, never a float")
        object.__setattr__(self, "currency", self.currency.upper())
        exp = exponent(self.currency)
        if self.amount != self.amount.quantize(Decimal(1).scaleb(-exp)):
            raise UsageError(f"{self.amount} has more decimals than {self.currency} allows ({exp})")

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a user-typed amount such as `12.50` or `12,50`."""
        cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
        if cleaned.count(",") == 1 and "." not in cleaned:
            cleaned = cleaned.replace(",", ".")
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise UsageError(f"{text!r} is not an amount") from None
        if not value.is_finite():
            raise UsageError(f"{text!r} is not an amount")
        return cls(value, currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        if not isinstance(minor, int) or isinstance(minor, bool):
            raise TypeError("minor units must be an int")
        # exact by construction: no need for the quantize check of __post_init__ (a sync makes 100,000)
        money = object.__new__(cls)
        object.__setattr__(money, "amount", Decimal(minor).scaleb(-exponent(currency)))
        object.__setattr__(money, "currency", currency.upper())
        return money

    @property
    def minor(self) -> int:
        """The amount in integer minor units (cents for EUR)."""
        return int(self.amount.scaleb(exponent(self.currency)))

    def decimal_string(self) -> str:
        """Exactly the currency's decimals, as Mollie wants: `10.00`, `1000` for JPY."""
        exp = exponent(self.currency)
        return f"{self.amount:.{exp}f}"

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise UsageError(f"cannot combine {self.currency} with {getattr(other, 'currency', other)}")

    def __str__(self) -> str:
        return f"{self.decimal_string()} {self.currency}"


def round_to_currency(value: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's decimals (used once per VAT rate, EN 16931)."""
    return value.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=ROUND_HALF_UP)
