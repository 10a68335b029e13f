"""Exact money: `Decimal` in code, integer minor units on the wire and in the store.

Exponents follow ISO 4217 (JPY 0, EUR 2, KWD 3). A float never becomes money: the
constructors refuse one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
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


# The active ISO 4217 codes (list one, 2025): a code outside it (`ABC`) is refused.
_ISO4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN
    ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD
    JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF
    XPF YER ZAR ZMW ZWG""".split()
)
# The largest amount crmpay takes (in major units): far above any invoice, far below what
# would lose exactness or overflow a 64-bit count of minor units.
MAX_AMOUNT = Decimal(10) ** 12
_PLAIN_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")


@lru_cache(maxsize=256)
def exponent(currency: str) -> int:
    """The number of decimals of `currency` (ISO 4217)."""
    code = currency.upper()
    if len(code) != 3 or not code.isalpha() or code not in _ISO4217:
        raise UsageError(f"{currency!r} is not an ISO 4217 currency code (EUR, USD, JPY …)")
    return _EXPONENTS.get(code, 2)


def parse_decimal(text: str, what: str, *, limit: Decimal = MAX_AMOUNT, places: int = 6) -> Decimal:
    """A plain decimal number typed by a user (`12.50`, `12,50`): never a float, no
    exponent (`1e309`), no more than `places` decimals, at most `limit` in size."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    if not _PLAIN_NUMBER.fullmatch(cleaned):
        raise UsageError(f"{what} {text!r} is not a number")
    value = Decimal(cleaned)
    if abs(value) > limit:
        raise UsageError(f"{what} {text!r} is too large (at most {limit:,})")
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise UsageError(f"{what} {text!r} has more than {places} decimals")
    return value


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
        exp = exponent(currency)
        value = parse_decimal(text, "amount", places=max(exp, 6))
        if value != value.quantize(Decimal(1).scaleb(-exp)):
            raise UsageError(f"amount {text!r} is finer than the {currency.upper()} minor unit ({exp} decimals)")
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
