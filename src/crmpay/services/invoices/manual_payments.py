"""Payments recorded by hand against an invoice: cheque, transfer or cash."""

from __future__ import annotations

from datetime import date
from typing import Any

from crmpay.core.clock import now_iso
from crmpay.core.errors import OperationFailed, UsageError
from crmpay.core.money import Money
from crmpay.services.invoices.debits import live_debit
from crmpay.services.invoices.ledger import load_invoice
from crmpay.store import Store

PAYMENT_METHODS = ("cheque", "transfer", "cash")


def record_payment(
    store: Store,
    number: str,
    *,
    amount: str,
    method: str,
    received_on: date,
    reference: str | None = None,
    today: date,
    dry_run: bool = False,
) -> dict[str, Any]:
    """A cheque, transfer or cash payment; partial payments add up; paid when covered."""
    if method not in PAYMENT_METHODS:
        raise UsageError(f"method {method!r}: choose one of {', '.join(PAYMENT_METHODS)}")
    if received_on > today:
        raise UsageError(f"received date {received_on} is in the future")
    invoice = load_invoice(store, number)
    if invoice.kind == "credit_note":
        raise UsageError(f"{number} is a credit note: nothing is to be paid on it")
    if received_on < invoice.issue_date:
        raise UsageError(f"received date {received_on} is before the invoice's issue date {invoice.issue_date}")
    money = Money.parse(amount, invoice.currency)
    if money.amount <= 0:
        raise UsageError("the amount must be more than 0")
    if invoice.status == "paid":
        raise OperationFailed(f"invoice {number} is already paid (on {invoice.paid_on})")
    total = invoice.totals.incl_vat
    paid_before = invoice.amount_paid or Money.from_minor(0, invoice.currency)
    paid_after = paid_before + money
    if paid_after.minor > total.minor:
        remaining = total - paid_before
        raise UsageError(f"{money} is more than the {remaining} left to pay on {number}")
    debit = live_debit(store, number, invoice.currency)
    if debit is not None and not debit.scheduled and paid_after.minor + debit.amount.minor > total.minor:
        # The debit takes its amount as well: the customer would pay twice.
        room = total - paid_before - debit.amount
        limit = f"; at most {room} can be recorded beside it" if room.minor > 0 else ""
        raise OperationFailed(
            f"invoice {number} already has a direct debit of {debit.amount} ({debit.provider} payment "
            f"{debit.payment_id or '(being created)'}, charge date {debit.charge_date}){limit}",
            hint=f"cancel it first: crmpay payments cancel {debit.payment_id}"
            if debit.payment_id
            else "run the same `crmpay invoices send` again to finish creating it, then cancel it",
        )
    status = "paid" if paid_after.minor == total.minor else "partially_paid"
    result = {
        "number": number,
        "amount": money.decimal_string(),
        "currency": invoice.currency,
        "method": method,
        "received_on": received_on,
        "paid_total": paid_after.decimal_string(),
        "remaining": (total - paid_after).decimal_string(),
        "status": status,
        "dry_run": dry_run,
    }
    if debit is not None and debit.scheduled:
        # No money has moved yet: the scheduled debit (for the whole amount) is dropped.
        result["note"] = (
            f"the debit of {debit.amount} scheduled for {debit.charge_date} was dropped; "
            f"`crmpay invoices send {number} --new-attempt` collects what remains"
        )
    if dry_run:
        return result
    with store.transaction():
        invoice_id = store.db.execute("SELECT id FROM invoices WHERE number = ?", (number,)).fetchone()[0]
        store.db.execute(
            "INSERT INTO manual_payments (invoice_id, amount_minor, currency, method, received_on,"
            " reference, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (invoice_id, money.minor, invoice.currency, method, received_on.isoformat(), reference, now_iso()),
        )
        store.db.execute(
            "UPDATE invoices SET status = ?, paid_on = ?, updated_at = ? WHERE id = ?",
            (status, received_on.isoformat() if status == "paid" else None, now_iso(), invoice_id),
        )
        if debit is not None and debit.scheduled:
            store.db.execute(
                "UPDATE intents SET status = 'dropped', error = 'a manual payment was recorded', updated_at = ?"
                " WHERE key = ?",
                (now_iso(), debit.intent_key),
            )
    return result
