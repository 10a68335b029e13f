"""The payment-provider Protocol every implementation follows.

Listings are generators over every page at the largest page size the API allows;
creates take our own deterministic idempotency key; errors are raised as the
`crmpay.core.errors` classes so the command line maps them to exit codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from crmpay.core.models import (
    AccountCheck,
    BankAccount,
    Customer,
    Mandate,
    NewCustomer,
    NewMandate,
    NewPayment,
    NewSetupLink,
    Payment,
    ProviderEvent,
    SetupLink,
)
from crmpay.core.money import Money


class EventsExpired(Exception):
    """The events after a stored cursor can no longer all be read (the provider dropped
    some): the caller reads everything again instead."""


@dataclass(frozen=True, slots=True)
class Chargeback:
    """A debit the payer's bank took back (Mollie lists them; GoCardless says it with the
    payment's status `charged_back` and an event)."""

    provider: str
    id: str
    payment_id: str
    amount: Money
    created_at: datetime | None = None
    reason: str | None = None  # the bank's reason code and text, when given
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class NewRefund:
    """A refund of (part of) a collected payment, back to the customer's account."""

    payment_id: str
    amount: Money
    total_refunded: Money  # on this payment, this refund included (GoCardless `total_amount_confirmation`)
    description: str  # on the customer's bank statement where the scheme allows (SEPA: 140 characters)
    metadata: dict[str, str] = field(default_factory=dict)  # at most 3 keys; identifies the refund on a rerun


@dataclass(frozen=True, slots=True)
class Refund:
    provider: str
    id: str  # RF… (GoCardless), re_… (Mollie)
    payment_id: str
    amount: Money
    status: str  # verbatim
    created_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@runtime_checkable
class PaymentProvider(Protocol):
    name: str
    max_page_size: int
    currencies: frozenset[str]  # what its direct-debit schemes collect

    def check_credentials(self) -> AccountCheck: ...

    # listings, newest first, every page
    # read_ahead: fetch the next page while the caller works (for listings read to the end)
    def iter_customers(self, *, read_ahead: bool = False) -> Iterator[Customer]: ...
    def iter_bank_accounts(self, *, read_ahead: bool = False) -> Iterator[BankAccount]: ...
    def iter_mandates(self, *, read_ahead: bool = False) -> Iterator[Mandate]: ...
    def iter_payments(
        self, *, created_after: datetime | None = None, read_ahead: bool = False
    ) -> Iterator[Payment]: ...
    def iter_customer_mandates(self, customer_id: str) -> Iterator[Mandate]:
        """One customer's mandates, as the provider has them now (before a debit)."""
        ...

    # one object
    def get_customer(self, customer_id: str) -> Customer: ...
    def get_mandate(self, mandate_id: str, *, customer_id: str | None = None) -> Mandate:
        """One mandate; Mollie reads mandates through their customer, so give it when known."""
        ...

    def get_payment(self, payment_id: str) -> Payment: ...

    def bank_account_of(self, mandate: Mandate) -> BankAccount | None:
        """The bank account `mandate` debits, or None when it has none. Mollie has no
        bank-account resource: its account is read from the mandate itself (no request);
        GoCardless reads the mandate's customer bank account (one request)."""
        ...

    # creates: each carries our idempotency key
    def create_customer(self, new: NewCustomer, *, idempotency_key: str) -> Customer: ...
    def create_mandate(self, new: NewMandate, *, idempotency_key: str) -> Mandate: ...
    def create_payment(self, new: NewPayment, *, idempotency_key: str) -> Payment: ...
    def create_setup_link(self, new: NewSetupLink, *, idempotency_key: str) -> SetupLink: ...

    def cancel_payment(self, payment_id: str) -> Payment: ...

    def refund(self, new: NewRefund, *, idempotency_key: str) -> Refund:
        """Refund part or all of a collected payment; a rerun with the same key (or, once
        the provider has forgotten the key, the same `metadata`) answers the refund made."""
        ...

    def iter_events(self, *, after: str | None = None) -> Iterator[ProviderEvent]:
        """Events newer than the cursor `after`, oldest first (GoCardless only); raises
        `EventsExpired` when the cursor is older than the provider keeps events."""
        ...


@runtime_checkable
class MandateImporter(PaymentProvider, Protocol):
    """A provider that takes existing mandates in bulk (GoCardless mandate imports)."""

    def create_mandate_import(self, scheme: str, *, idempotency_key: str) -> dict[str, Any]: ...
    def get_mandate_import(self, import_id: str) -> dict[str, Any]: ...
    def mandate_import_entries(self, import_id: str) -> list[dict[str, Any]]: ...
    def add_mandate_import_entry(self, import_id: str, entry: dict[str, Any]) -> None: ...
    def submit_mandate_import(self, import_id: str) -> dict[str, Any]: ...
    def get_bank_account(self, account_id: str) -> BankAccount: ...


@runtime_checkable
class PaymentRetrier(PaymentProvider, Protocol):
    """A provider that submits a failed payment again (GoCardless `actions/retry`); Mollie
    has no such action: a failed debit is collected by a new payment."""

    def retry_payment(self, payment_id: str, *, charge_date: date | None = None) -> Payment: ...


def mandate_importer(provider: PaymentProvider | None) -> MandateImporter:
    """`provider` as a bulk mandate importer, or a usage error saying it is not one."""
    if not isinstance(provider, MandateImporter):
        from crmpay.core.errors import UsageError

        name = provider.name if provider is not None else "no provider"
        raise UsageError(f"{name} cannot import mandates in bulk", hint="import them with --provider gocardless")
    return provider


def connected(provider: PaymentProvider | None, name: str) -> PaymentProvider:
    """`provider`, or a clear error when the use case was given none."""
    if provider is None:
        from crmpay.core.errors import NotConnected

        raise NotConnected(f"{name} is not connected", hint=f"crmpay connect {name}")
    return provider
