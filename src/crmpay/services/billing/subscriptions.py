"""Subscriptions in the store: what to invoice, how often, from when; prices from a date.

A subscription bills **periods**: every month, quarter or year, starting on day `day` of
the month (a shorter month: its last day), the first on or after `start`. It stops after
`end` (no period starts after it) or after `count` periods. A price change applies to the
periods that start on or after its date; an invoice already issued is never changed.
Pausing skips the periods that start while paused (resuming does not catch them up);
cancelling stops every period not yet issued.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from crmpay.core.clock import now_iso
from crmpay.core.errors import OperationFailed, UsageError
from crmpay.core.invoice import LANGUAGES, InvoiceLine, totals
from crmpay.core.money import exponent
from crmpay.core.validation import email_problems
from crmpay.store import Store

MONTHS = {"month": 1, "quarter": 3, "year": 12}


def period_start(first: date, day: int, every: str, index: int) -> date:
    """The start of period `index` (0: the first), on `day` of its month."""
    year, month0 = divmod(first.month - 1 + index * MONTHS[every], 12)
    year += first.year
    return date(year, month0 + 1, min(day, calendar.monthrange(year, month0 + 1)[1]))


def first_start(start: date, day: int) -> date:
    """The first `day` of a month on or after `start`."""
    candidate = date(start.year, start.month, min(day, calendar.monthrange(start.year, start.month)[1]))
    if candidate >= start:
        return candidate
    return period_start(candidate, day, "month", 1)


@dataclass(frozen=True)
class Period:
    index: int
    start: date
    end: date  # inclusive: the day before the next period starts


@dataclass
class Subscription:
    id: int
    customer_email: str
    customer_name: str | None
    language: str
    currency: str
    every: str
    day: int
    start_date: date
    end_date: date | None
    max_periods: int | None
    terms_days: int
    status: str
    paused_on: date | None
    cancelled_on: date | None

    @classmethod
    def from_row(cls, row: Any) -> Subscription:
        def day(value: str | None) -> date | None:
            return date.fromisoformat(value) if value else None

        return cls(
            row["id"],
            row["customer_email"],
            row["customer_name"],
            row["language"],
            row["currency"],
            row["every"],
            row["day"],
            date.fromisoformat(row["start_date"]),
            day(row["end_date"]),
            row["max_periods"],
            row["terms_days"],
            row["status"],
            day(row["paused_on"]),
            day(row["cancelled_on"]),
        )

    def periods(self, until: date) -> Iterator[Period]:
        """Every period that starts on or before `until`, within the subscription's end."""
        first = first_start(self.start_date, self.day)
        index = 0
        while self.max_periods is None or index < self.max_periods:
            start = period_start(first, self.day, self.every, index)
            if start > until or (self.end_date is not None and start > self.end_date):
                return
            end = period_start(first, self.day, self.every, index + 1) - timedelta(days=1)
            yield Period(index, start, end)
            index += 1


def lines_json(lines: list[InvoiceLine]) -> str:
    return json.dumps([[ln.description, str(ln.quantity), str(ln.unit_price), str(ln.vat_rate)] for ln in lines])


def lines_from(text: str) -> list[InvoiceLine]:
    return [InvoiceLine.build(*item) for item in json.loads(text)]


def get(store: Store, ident: int | str) -> Subscription:
    try:
        key = int(str(ident).removeprefix("SUB-").removeprefix("sub-"))
    except ValueError:
        raise UsageError(f"subscription {ident!r}: expected its number, e.g. 3") from None
    row = None
    if 0 < key < 2**63:  # beyond SQLite's integers no subscription can have that number
        row = store.db.execute("SELECT * FROM subscriptions WHERE id = ?", (key,)).fetchone()
    if row is None:
        raise UsageError(f"no subscription {ident!r}", hint="see `crmpay subscriptions list`")
    return Subscription.from_row(row)


def prices(store: Store, subscription_id: int) -> list[tuple[date, list[InvoiceLine]]]:
    rows = store.db.execute(
        "SELECT effective_from, lines FROM subscription_prices WHERE subscription_id = ? ORDER BY effective_from",
        (subscription_id,),
    )
    return [(date.fromisoformat(r["effective_from"]), lines_from(r["lines"])) for r in rows]


def lines_on(price_list: list[tuple[date, list[InvoiceLine]]], day: date) -> list[InvoiceLine]:
    """The lines in force for a period starting on `day` (the first price before it all began)."""
    chosen = price_list[0][1]
    for since, lines in price_list:
        if since <= day:
            chosen = lines
    return chosen


def create(
    store: Store,
    *,
    customer: str,
    lines: list[InvoiceLine],
    every: str,
    day: int,
    start: date,
    end: date | None = None,
    count: int | None = None,
    currency: str = "EUR",
    language: str = "fr",
    name: str | None = None,
    terms_days: int = 14,
    dry_run: bool = False,
) -> dict[str, Any]:
    problems = email_problems(customer)
    if problems:
        raise UsageError(problems[0])
    if every not in MONTHS:
        raise UsageError(f"--every {every!r}: choose one of {', '.join(MONTHS)}")
    if not 1 <= day <= 31:
        raise UsageError(f"--day {day}: a day of the month, 1 to 31 (a shorter month bills on its last day)")
    if end is not None and count is not None:
        raise UsageError("give --end or --count, not both")
    if count is not None and count < 1:
        raise UsageError("--count must be at least 1")
    if end is not None and end < start:
        raise UsageError(f"--end {end} is before the start {start}")
    if language not in LANGUAGES:
        raise UsageError(f"language {language!r}: choose one of {', '.join(LANGUAGES)}")
    if not lines:
        raise UsageError("a subscription needs at least one --line")
    if not 0 <= terms_days <= 90:
        raise UsageError("--terms: 0 to 90 days")
    currency = currency.upper()
    exponent(currency)
    totals(lines, currency)  # amounts that do not fit the currency fail now
    now = now_iso()
    values = (customer.strip(), name, language, currency, every, day, start.isoformat())
    more = (end.isoformat() if end else None, count, terms_days, now, now)
    with store.transaction(rollback=dry_run):
        cursor = store.db.execute(
            "INSERT INTO subscriptions (customer_email, customer_name, language, currency, every, day,"
            " start_date, end_date, max_periods, terms_days, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)",
            values + more,
        )
        ident = int(cursor.lastrowid or 0)
        store.db.execute(
            "INSERT INTO subscription_prices VALUES (?, ?, ?, ?)", (ident, start.isoformat(), lines_json(lines), now)
        )
        result = show(store, ident)
    return {**result, "dry_run": dry_run}


def show(store: Store, ident: int | str, *, today: date | None = None) -> dict[str, Any]:
    sub = get(store, ident)
    price_list = prices(store, sub.id)
    periods = store.db.execute(
        "SELECT period_start, period_end, status, invoice_number, action, error FROM subscription_periods"
        " WHERE subscription_id = ? ORDER BY period_start",
        (sub.id,),
    ).fetchall()
    data = summary(sub, price_list, today=today, billed=frozenset(p["period_start"] for p in periods))
    data["prices"] = [
        {
            "from": since,
            "lines": [[ln.description, str(ln.quantity), str(ln.unit_price), str(ln.vat_rate)] for ln in lines],
            "total_incl_vat": totals(lines, sub.currency).incl_vat.decimal_string(),
        }
        for since, lines in price_list
    ]
    data["periods"] = [dict(p) for p in periods]
    return data


def summary(
    sub: Subscription,
    price_list: list[tuple[date, list[InvoiceLine]]],
    today: date | None = None,
    billed: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    from crmpay.core import clock

    day = today or clock.today()
    upcoming = None
    if sub.status == "active":
        for period in sub.periods(date.max):
            if period.start >= day and period.start.isoformat() not in billed:
                upcoming = period.start
                break
    current = lines_on(price_list, day) if price_list else []
    return {
        "id": sub.id,
        "customer_email": sub.customer_email,
        "customer_name": sub.customer_name,
        "every": sub.every,
        "day": sub.day,
        "start": sub.start_date,
        "end": sub.end_date,
        "count": sub.max_periods,
        "status": sub.status,
        "currency": sub.currency,
        "language": sub.language,
        "terms_days": sub.terms_days,
        "amount_incl_vat": totals(current, sub.currency).incl_vat.decimal_string() if current else None,
        "next_period": upcoming,
    }


def listing(store: Store, *, status: str | None = None, customer: str | None = None) -> list[dict[str, Any]]:
    from crmpay.store import filters

    where, args = filters(("status = ?", status), ("customer_email = ? COLLATE NOCASE", customer), order="id")
    subs = [Subscription.from_row(r) for r in store.db.execute("SELECT * FROM subscriptions WHERE 1=1" + where, args)]
    billed: dict[int, set[str]] = {}
    for row in store.db.execute("SELECT subscription_id, period_start FROM subscription_periods"):
        billed.setdefault(row[0], set()).add(row[1])
    return [summary(s, prices(store, s.id), billed=frozenset(billed.get(s.id, ()))) for s in subs]


def change_price(
    store: Store, ident: int | str, lines: list[InvoiceLine], *, effective: date, dry_run: bool = False
) -> dict[str, Any]:
    """New lines for the periods starting on or after `effective` (not before a period
    already issued: an issued invoice is never changed)."""
    sub = get(store, ident)
    if not lines:
        raise UsageError("a price needs at least one --line")
    totals(lines, sub.currency)
    last = store.db.execute(
        "SELECT max(period_start) FROM subscription_periods WHERE subscription_id = ? AND status != 'skipped'",
        (sub.id,),
    ).fetchone()[0]
    if last is not None and effective.isoformat() <= last:
        raise OperationFailed(
            f"subscription {sub.id}: the period starting {last} is already invoiced",
            hint="give a --from date after it; an issued invoice is corrected by a credit note",
        )
    with store.transaction(rollback=dry_run):
        store.db.execute(
            "INSERT INTO subscription_prices VALUES (?, ?, ?, ?) ON CONFLICT (subscription_id, effective_from)"
            " DO UPDATE SET lines = excluded.lines, created_at = excluded.created_at",
            (sub.id, effective.isoformat(), lines_json(lines), now_iso()),
        )
        result = show(store, sub.id)
    return {**result, "dry_run": dry_run}


def set_status(store: Store, ident: int | str, action: str, *, today: date, dry_run: bool = False) -> dict[str, Any]:
    """pause / resume / cancel. Resuming marks the periods that started while paused as
    skipped, so that they are not caught up."""
    sub = get(store, ident)
    wanted = {"pause": "paused", "resume": "active", "cancel": "cancelled"}[action]
    allowed = {"pause": ("active",), "resume": ("paused",), "cancel": ("active", "paused")}[action]
    if sub.status not in allowed:
        raise OperationFailed(f"subscription {sub.id} is {sub.status}: it cannot be {wanted}")
    now = now_iso()
    with store.transaction(rollback=dry_run):
        if action == "resume" and sub.paused_on is not None:
            done = {
                r[0]
                for r in store.db.execute(
                    "SELECT period_start FROM subscription_periods WHERE subscription_id = ?", (sub.id,)
                )
            }
            for period in sub.periods(today):
                if period.start >= sub.paused_on and period.start.isoformat() not in done:
                    store.db.execute(
                        "INSERT INTO subscription_periods (subscription_id, period_start, period_end, status,"
                        " detail, created_at, updated_at) VALUES (?, ?, ?, 'skipped', ?, ?, ?)",
                        (sub.id, period.start.isoformat(), period.end.isoformat(), "paused", now, now),
                    )
        store.db.execute(
            "UPDATE subscriptions SET status = ?, paused_on = ?, cancelled_on = coalesce(cancelled_on, ?),"
            " updated_at = ? WHERE id = ?",
            (
                wanted,
                today.isoformat() if action == "pause" else None,
                today.isoformat() if action == "cancel" else None,
                now,
                sub.id,
            ),
        )
        result = show(store, sub.id)
    return {**result, "dry_run": dry_run}
