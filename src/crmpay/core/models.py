"""Domain types shared by providers, the store and the services.

Provider statuses are kept verbatim (`status`) next to a normalised `state`, so that a
rule can be written once for both providers while nothing the provider said is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from crmpay.core.money import Money


class MandateState(StrEnum):
    PENDING = "pending"  # not yet usable at the bank, or awaiting the customer
    ACTIVE = "active"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    SUSPENDED = "suspended"


class PaymentState(StrEnum):
    PENDING = "pending"  # created, not yet sent to the bank: still cancellable
    SUBMITTED = "submitted"  # at the bank
    PAID = "paid"  # confirmed / paid out / paid
    FAILED = "failed"
    CANCELLED = "cancelled"
    CHARGED_BACK = "charged_back"


@dataclass(frozen=True, slots=True)
class Customer:
    provider: str
    id: str
    email: str | None
    name: str | None
    company_name: str | None = None
    language: str | None = None
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BankAccount:
    provider: str
    id: str
    customer_id: str | None
    holder_name: str | None
    account_number_ending: str | None
    bank_name: str | None = None
    country_code: str | None = None
    currency: str | None = None
    enabled: bool = True
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Mandate:
    provider: str
    id: str
    customer_id: str | None
    bank_account_id: str | None
    status: str  # verbatim
    state: MandateState
    usable: bool  # a payment can be created against it now
    scheme: str | None = None
    reference: str | None = None
    currency: str | None = None
    next_possible_charge_date: date | None = None
    signature_date: date | None = None
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Payment:
    provider: str
    id: str
    amount: Money
    status: str  # verbatim
    state: PaymentState
    cancellable: bool
    mandate_id: str | None = None
    customer_id: str | None = None
    charge_date: date | None = None
    description: str | None = None
    reference: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class SetupLink:
    """A link the customer follows to set up a mandate (and maybe pay a first amount)."""

    provider: str
    id: str  # billing request id (GoCardless) or first payment id (Mollie)
    url: str
    expires_at: datetime | None
    customer_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    provider: str
    id: str
    created_at: datetime
    resource_type: str
    action: str
    resource_id: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def cursor(self) -> str:
        """A resumable position just after this event: its time (UTC, to the millisecond)
        and its id."""
        moment = self.created_at.astimezone(UTC) if self.created_at.tzinfo else self.created_at.replace(tzinfo=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z|{self.id}"

    @staticmethod
    def parse_cursor(cursor: str) -> tuple[datetime | None, str]:
        """(time, event id) of a cursor; a bare event id (the older form) has no time."""
        stamp, _, ident = cursor.rpartition("|")
        return (datetime.fromisoformat(stamp) if stamp else None), ident


@dataclass(frozen=True, slots=True)
class AccountCheck:
    """What a cheap credential check learnt about the account."""

    account_id: str | None
    account_name: str | None
    warnings: list[str] = field(default_factory=list)
    creditor_identifier: str | None = None  # the SEPA creditor id debits are collected under, if the provider says


# -- what crmpay asks a provider to create ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class NewCustomer:
    email: str
    name: str
    given_name: str | None = None
    family_name: str | None = None
    company_name: str | None = None
    language: str | None = None  # ISO 639-1
    country_code: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewMandate:
    customer_id: str
    holder_name: str
    iban: str
    reference: str | None = None
    bic: str | None = None
    signature_date: date | None = None
    scheme: str = "sepa_core"
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewPayment:
    mandate_id: str
    amount: Money
    description: str
    charge_date: date | None = None
    reference: str | None = None
    customer_id: str | None = None  # Mollie needs the customer of the mandate
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewSetupLink:
    """A mandate-setup link; with `amount`, the customer pays it as a first payment."""

    customer_id: str
    description: str
    currency: str = "EUR"
    amount: Money | None = None
    scheme: str = "sepa_core"
    redirect_url: str | None = None
    language: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
