"""The money rules around a direct debit, in one place.

- **A mandate that can be charged**: read again from the provider just before the debit
  (the store may be a day old), usable there, and not lapsed by the SEPA 36-month rule
  on the charge date (`crmpay.core.sepa`).
- **A charge date the debtor was told about**: the latest of the invoice's due date, the
  mandate's next possible date and today + the pre-notification period
  (`sepa.prenotification_days`, 14 by default), on a TARGET2 working day.
- **Mollie debits a recurring payment as soon as it is created** (its `dueDate`
  parameter is documented for bank transfers only, see docs/fidelity.md), so a Mollie
  debit is created `MOLLIE_DEBIT_AFTER` working days before its charge date: until then
  it is *scheduled* (an intent with status `scheduled`), and `crmpay invoices collect`
  creates it on the day.
- **The debit an invoice already has**: a manual payment may not, with it, pay the
  invoice twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from crmpay.core.calendar import add_working_days, next_working_day, working_days_before
from crmpay.core.errors import OperationFailed
from crmpay.core.invoice import Invoice
from crmpay.core.money import Money
from crmpay.core.sepa import mandate_expires_on
from crmpay.store import Store

if TYPE_CHECKING:
    from crmpay.core.models import Mandate, NewPayment, Payment
    from crmpay.providers.base import PaymentProvider

LIVE_PAYMENT_STATES = ("pending", "submitted", "paid")
MOLLIE_DEBIT_AFTER = 2  # working days from a Mollie recurring payment's creation to its debit


def remaining(invoice: Invoice) -> Money:
    """What is left to collect: the total less what was paid by hand."""
    total = invoice.totals.incl_vat
    left = total - (invoice.amount_paid or Money.from_minor(0, invoice.currency))
    if left.minor <= 0:
        raise OperationFailed(
            f"invoice {invoice.number} is already paid", hint=f"crmpay invoices show {invoice.number}"
        )
    return left


def check_currency(currency: str, provider: PaymentProvider) -> None:
    """Refused unless one of the provider's direct-debit schemes collects `currency` (no
    scheme debits JPY, for instance)."""
    if currency not in provider.currencies:
        raise OperationFailed(
            f"{provider.name} cannot collect {currency} by direct debit "
            f"(it debits {', '.join(sorted(provider.currencies))})",
            hint="send the invoice with --no-email and collect it another way, or invoice in a debit currency",
        )


def charge_date(*, due: date, next_possible: date | None, today: date, notice_days: int, provider: str) -> date:
    """The day the debtor's account is debited, told to them `notice_days` ahead."""
    day = max(due, today + timedelta(days=notice_days), next_possible or due)
    if provider == "mollie":
        day = max(day, add_working_days(today, MOLLIE_DEBIT_AFTER))
    return next_working_day(day)


def mollie_create_on(charge: date) -> date:
    """The day to create a Mollie recurring payment so that it is debited on `charge`."""
    return working_days_before(charge, MOLLIE_DEBIT_AFTER)


def refresh_mandate(store: Store, provider: PaymentProvider, row: Any) -> Mandate:
    """The mandate as the provider has it now, written to the store (dates it does not
    report, such as an imported signature date, are kept)."""
    from crmpay.store.records import upsert_mandate

    fresh = provider.get_mandate(row["provider_id"], customer_id=row["customer_id"])
    with store.transaction():
        upsert_mandate(store, fresh)
    return fresh


def unchargeable_reason(fresh: Mandate, row: Any, *, on: date) -> str | None:
    """Why a debit on `on` may not use this mandate, or None when it may."""
    name = fresh.reference or fresh.id
    if not fresh.usable:
        return f"mandate {name} is {fresh.status} at {fresh.provider}"
    signature = fresh.signature_date or row["signature_date"]
    expires = mandate_expires_on(signature, row["last_collection_date"])
    if expires is not None and expires <= on:
        return (
            f"mandate {name} lapsed on {expires}: 36 months without a collection "
            "(SEPA rulebook); the customer must sign a new mandate"
        )
    return None


# Mollie keeps an idempotency key for about an hour (docs/fidelity.md); past that, a
# second create with the same key would make a second payment.
KEY_LIFETIME = {"mollie": timedelta(minutes=50)}


def created_under_expired_key(store: Store, provider: PaymentProvider, key: str, new: NewPayment) -> Payment | None:
    """A payment an interrupted create made, found by listing, when the intent is older
    than the provider keeps idempotency keys (a retry with the key could charge twice)."""
    from datetime import datetime

    from crmpay.core import clock

    lifetime = KEY_LIFETIME.get(provider.name)
    intent = store.db.execute("SELECT status, created_at FROM intents WHERE key = ?", (key,)).fetchone()
    if lifetime is None or intent is None or intent["status"] != "pending":
        return None
    started = datetime.fromisoformat(intent["created_at"])
    if clock.now() - started < lifetime:
        return None
    for payment in provider.iter_payments(created_after=started - timedelta(minutes=5)):
        if payment.metadata.get("invoice") == new.metadata.get("invoice") and payment.mandate_id == new.mandate_id:
            return payment
    return None


def record_collection(store: Store, provider: str, mandate_id: str, charge: date) -> None:
    """The mandate was used: its 36 months start again from this collection's date."""
    store.db.execute(
        "UPDATE mandates SET last_collection_date = ? WHERE provider = ? AND provider_id = ?"
        " AND (last_collection_date IS NULL OR last_collection_date < ?)",
        (charge.isoformat(), provider, mandate_id, charge.isoformat()),
    )


@dataclass(frozen=True)
class LiveDebit:
    """A direct debit that may still take the invoice's money."""

    provider: str
    payment_id: str | None  # None while scheduled
    amount: Money
    charge_date: str | None
    scheduled: bool
    intent_key: str


def live_debit(store: Store, number: str, currency: str) -> LiveDebit | None:
    import json

    rows = store.db.execute(
        "SELECT * FROM intents WHERE subject = ? AND kind = 'payment' AND status IN ('scheduled', 'pending',"
        " 'succeeded') ORDER BY attempt DESC, created_at DESC",
        (number,),
    ).fetchall()
    for intent in rows:
        request = json.loads(intent["request"] or "{}")
        amount = Money.from_minor(int(request.get("amount_minor") or 0), request.get("currency") or currency)
        if intent["status"] != "succeeded":
            return LiveDebit(
                intent["provider"],
                None,
                amount,
                request.get("charge_date"),
                intent["status"] == "scheduled",
                intent["key"],
            )
        payment = store.db.execute(
            "SELECT state, charge_date FROM payments WHERE provider = ? AND provider_id = ?",
            (intent["provider"], intent["result_id"]),
        ).fetchone()
        if payment is None or payment["state"] in LIVE_PAYMENT_STATES:
            return LiveDebit(
                intent["provider"],
                intent["result_id"],
                amount,
                payment["charge_date"] if payment else request.get("charge_date"),
                False,
                intent["key"],
            )
    return None
