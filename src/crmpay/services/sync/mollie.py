"""Mollie sync: Mollie has no events API, so each run reads a few newest-first listings
(docs/sync.md, "Mollie", says why each one and what it costs).

- First run (or `--full`): the newest chargeback (its id is the chargeback cursor), every
  customer (250 a page), each customer's mandates (one request per customer: Mollie lists
  mandates only per customer, `GET /v2/customers/{id}/mandates`), every payment (250 a
  page).
- Later runs:
  1. customers newest first, down to the first one the store holds;
  2. payments newest first (250 a page) down to both the first one the store holds and
     the oldest payment the store still holds open: new payments and every open one are
     read with ceil(k/250) requests, k the payments newer than the oldest open one, instead
     of one GET per open payment;
  3. chargebacks newest first down to the chargeback cursor; each charged-back payment is
     read again (it keeps `status: paid` and gains `amountChargedBack`), which moves its
     invoice back to unpaid;
  4. mandates of the customers with activity this run (new customer, payment new or
     changed, chargeback), plus a rolling slice of every customer (`MANDATE_RECHECK`);
  5. each mandate the store holds `pending`.
Newest-first walks are written oldest first: a run killed between two batches leaves the
newest ones unwritten, so the next run's walk does not stop early at a known one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Protocol

from crmpay.core import clock
from crmpay.core.errors import OperationFailed
from crmpay.core.models import Customer, Mandate, Payment
from crmpay.services.sync.state import get_cursor, known, set_cursor, until_known
from crmpay.store import Store

NAME = "mollie"
OPEN = ("open", "pending", "authorized")
# Every customer's mandates are listed again once per MANDATE_RECHECK, spread evenly over
# the runs in that time: a run re-checks customers x (time since the last run) /
# MANDATE_RECHECK of them (the fraction left over is carried to the next run), so each
# customer is re-checked within MANDATE_RECHECK plus one run, i.e. within
# MANDATE_RECHECK / T + 1 runs for runs every T. Mollie has no account-wide mandate
# listing and no events: this is how a mandate added or revoked outside crmpay is seen
# without `--full`. It costs one request per customer re-checked.
MANDATE_RECHECK = timedelta(days=1)


class Writer(Protocol):
    def write(
        self,
        objects: Iterable[Any],
        *,
        then: Callable[[], None] | None = None,
        changed: Callable[[Any], None] | None = None,
    ) -> None: ...


def sync(store: Store, provider: Any, writer: Writer, *, first: bool, dry_run: bool) -> None:
    if first:
        _first(store, provider, writer, dry_run)
    else:
        _incremental(store, provider, writer)


def _first(store: Store, provider: Any, writer: Writer, dry_run: bool) -> None:
    # taken first: a chargeback made while we list is read again by the next run
    newest = next(iter(provider.iter_chargebacks()), None)
    customers: list[str] = []

    def remember(items: Iterable[Customer]) -> Iterator[Customer]:
        for customer in items:
            customers.append(customer.id)
            yield customer

    writer.write(remember(provider.iter_customers(read_ahead=True)))
    writer.write(_mandates_of(provider, customers))
    writer.write(provider.iter_payments(read_ahead=True))
    with store.transaction(rollback=dry_run):
        set_cursor(store, NAME, "chargebacks", newest.id if newest else "")
        set_cursor(store, NAME, "mandates", _slice_cursor("", 0.0, clock.now()))
        set_cursor(store, NAME, "complete", clock.now_iso())


def _incremental(store: Store, provider: Any, writer: Writer) -> None:
    active: dict[str, None] = {}  # customers whose mandates are read again, in order

    def touched(obj: Any) -> None:
        customer_id = obj.id if isinstance(obj, Customer) else getattr(obj, "customer_id", None)
        if customer_id:
            active[customer_id] = None

    new_customers = list(until_known(store, "customers", NAME, provider.iter_customers()))
    writer.write(reversed(new_customers), changed=touched)
    writer.write(reversed(_walk_payments(store, provider)), changed=touched)
    _chargebacks(store, provider, writer, touched)
    checked, cursor = _slice(store, list(active))
    writer.write(_mandates_of(provider, checked), then=lambda: set_cursor(store, NAME, "mandates", cursor))
    writer.write(_pending_mandates(store, provider))


def _walk_payments(store: Store, provider: Any) -> list[Payment]:
    """Newest first, down to the first known payment and past every open one."""
    marks = ",".join("?" * len(OPEN))
    open_ids = {
        r[0]
        for r in store.db.execute(
            f"SELECT provider_id FROM payments WHERE provider = ? AND status IN ({marks})", (NAME, *OPEN)
        )
    }
    walked: list[Payment] = []
    reached_known = False
    for payment in provider.iter_payments():
        walked.append(payment)
        open_ids.discard(payment.id)
        reached_known = reached_known or known(store, "payments", NAME, payment.id)
        if reached_known and not open_ids:
            return walked
    for payment_id in sorted(open_ids):  # no longer listed (should not happen): one GET each
        try:
            walked.append(provider.get_payment(payment_id))
        except OperationFailed:
            continue
    return walked


def _chargebacks(store: Store, provider: Any, writer: Writer, touched: Callable[[Any], None]) -> None:
    """Chargebacks newer than the cursor; their payments read again, the cursor moved after."""
    cursor = get_cursor(store, NAME, "chargebacks")
    fresh = []
    for chargeback in provider.iter_chargebacks():
        if chargeback.id == cursor:
            break
        fresh.append(chargeback)
    if not fresh:
        return
    payment_ids = list(dict.fromkeys(c.payment_id for c in reversed(fresh)))
    payments = [provider.get_payment(payment_id) for payment_id in payment_ids]
    for payment in payments:
        touched(payment)
    writer.write(payments, then=lambda: set_cursor(store, NAME, "chargebacks", fresh[0].id))


def _slice_cursor(position: str, carry: float, at: datetime) -> str:
    return f"{position}|{carry:.6f}|{at.isoformat()}"


def _slice(store: Store, active: list[str]) -> tuple[list[str], str]:
    """The customers whose mandates this run lists: the active ones, then the next slice of
    every customer (by id, wrapping round), sized by the time since the last run; and the
    cursor to store once they are written (`position|carry|time of this run`)."""
    now = clock.now()
    position, carry, last = "", 0.0, now
    saved = get_cursor(store, NAME, "mandates")
    if saved:
        position, raw_carry, raw_last = saved.split("|", 2)
        carry, last = float(raw_carry), datetime.fromisoformat(raw_last)
    total = store.db.execute("SELECT count(*) FROM customers WHERE provider = ?", (NAME,)).fetchone()[0]
    elapsed = max((now - last).total_seconds(), 0.0)
    due = carry + total * elapsed / MANDATE_RECHECK.total_seconds()
    size = min(total, math.floor(due))
    carry = due - size if size < total else 0.0
    ids = [
        r[0]
        for r in store.db.execute(
            "SELECT provider_id FROM customers WHERE provider = ? AND provider_id > ? ORDER BY provider_id LIMIT ?",
            (NAME, position, size),
        )
    ]
    if len(ids) < size:  # round again from the first
        ids += [
            r[0]
            for r in store.db.execute(
                "SELECT provider_id FROM customers WHERE provider = ? AND provider_id <= ? ORDER BY provider_id"
                " LIMIT ?",
                (NAME, position, size - len(ids)),
            )
        ]
    if ids:
        position = ids[-1]
    return list(dict.fromkeys([*active, *ids])), _slice_cursor(position, carry, now)


def _mandates_of(provider: Any, customer_ids: Iterable[str]) -> Iterator[Any]:
    """Each customer's mandates, each followed by the bank account read from it; a customer
    deleted at Mollie (404) is skipped: deleting a customer cancels its mandates there."""
    for customer_id in customer_ids:
        try:
            mandates: list[Mandate] = list(provider.iter_customer_mandates(customer_id))
        except OperationFailed:
            continue
        for mandate in mandates:
            yield mandate
            account = provider.bank_account_of(mandate)
            if account is not None:
                yield account


def _pending_mandates(store: Store, provider: Any) -> Iterator[Mandate]:
    rows = store.db.execute(
        "SELECT provider_id, customer_id FROM mandates WHERE provider = ? AND status = 'pending'", (NAME,)
    ).fetchall()
    for mandate_id, customer_id in rows:
        yield provider.get_mandate(mandate_id, customer_id=customer_id)
