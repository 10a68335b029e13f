"""`crmpay billing run`: every period that has come due invoiced once, then collected.

Exactly once per period, whatever is killed or re-run:
- **issuing**: the period's row (subscription, period start: the primary key) is inserted
  in the same transaction as the invoice it issues, so a period has one invoice or none,
  and a number is never lost (the counter rolls back with the transaction);
- **collecting**: each issued invoice goes through `invoices send`'s use case
  (`services.invoices.send.send`: pre-notification, mandate read again, Mollie debits
  scheduled), journaled by its own idempotency keys; a period is marked collected only
  once that journal says the money part and the email are done, and a rerun that finds
  them done marks it without calling anything again.

A period missed while the machine was off is caught up on the next run: each missed
period gets its own invoice (issued today, naming the period it bills). The run holds the
profile's `billing` lock: a second one at the same time exits 5.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from crmpay.core import clock
from crmpay.core.clock import now_iso
from crmpay.core.errors import CrmpayError, ExitCode, UsageError, error_for
from crmpay.core.invoice import InvoiceLine, totals
from crmpay.services.billing import subscriptions as subs
from crmpay.services.intents import checkpoint
from crmpay.store import Store

if TYPE_CHECKING:
    from crmpay.services.context import Context

_PERIOD_TEXT = {
    "fr": "{description} (période du {start:%d/%m/%Y} au {end:%d/%m/%Y})",
    "en": "{description} (period {start:%Y-%m-%d} to {end:%Y-%m-%d})",
    "ja": "{description}（{start:%Y-%m-%d}〜{end:%Y-%m-%d}）",
}


@dataclass
class RunReport:
    until: date
    dry_run: bool
    issued: list[dict[str, Any]] = field(default_factory=list)
    collected: list[dict[str, Any]] = field(default_factory=list)
    retries: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "until": self.until,
            "dry_run": self.dry_run,
            "issued": self.issued,
            "collected": self.collected,
            "retries": self.retries,
            "failures": self.failures,
        }

    def fail(self, what: dict[str, Any], exc: CrmpayError) -> None:
        self.failures.append({**what, "error": str(exc), "exit_code": int(exc.exit_code)})

    def raise_for_outcome(self) -> None:
        """Exit 5 when something only needs a later run (cron retries), else 3 for a batch
        where some items failed (the report says which)."""
        if not self.failures:
            return
        codes = {f["exit_code"] for f in self.failures}
        code = ExitCode.TEMPORARY if ExitCode.TEMPORARY in codes else ExitCode.PARTIAL
        first = self.failures[0]
        raise error_for(code, f"billing run: {len(self.failures)} item(s) not done, first: {first['error']}")


def period_lines(lines: list[InvoiceLine], language: str, period: subs.Period) -> list[InvoiceLine]:
    text = _PERIOD_TEXT.get(language, _PERIOD_TEXT["en"])
    return [
        InvoiceLine(text.format(description=ln.description, start=period.start, end=period.end), *rest)
        for ln in lines
        for rest in [(ln.quantity, ln.unit_price, ln.vat_rate)]
    ]


def due_periods(store: Store, until: date) -> list[tuple[subs.Subscription, subs.Period]]:
    """Every period of an active subscription that starts on or before `until` and has no row yet."""
    done: dict[int, set[str]] = {}
    for row in store.db.execute("SELECT subscription_id, period_start FROM subscription_periods"):
        done.setdefault(row[0], set()).add(row[1])
    due = []
    for row in store.db.execute("SELECT * FROM subscriptions WHERE status = 'active' ORDER BY id"):
        sub = subs.Subscription.from_row(row)
        seen = done.get(sub.id, set())
        due += [(sub, p) for p in sub.periods(until) if p.start.isoformat() not in seen]
    return due


def issue(
    store: Store,
    seller: Any,
    sub: subs.Subscription,
    period: subs.Period,
    price: list[InvoiceLine],
    *,
    today: date,
) -> str:
    """One transaction: the period's row and its invoice (through `invoices create`'s service)."""
    from crmpay.services.invoices.ledger import create_invoice

    now = now_iso()
    with store.transaction():
        store.db.execute(
            "INSERT INTO subscription_periods (subscription_id, period_start, period_end, status, created_at,"
            " updated_at) VALUES (?, ?, ?, 'issued', ?, ?)",
            (sub.id, period.start.isoformat(), period.end.isoformat(), now, now),
        )
        invoice = create_invoice(
            store,
            prefix=seller.invoice_prefix,
            seller=seller if seller.name else None,  # frozen into the invoice, as `invoices create` does
            customer_email=sub.customer_email,
            customer_name=sub.customer_name,
            language=sub.language,
            currency=sub.currency,
            lines=period_lines(price, sub.language, period),
            issue_date=today,
            due_date=today + timedelta(days=sub.terms_days),
            service_date=period.start,
        )
        store.db.execute(
            "UPDATE subscription_periods SET invoice_number = ? WHERE subscription_id = ? AND period_start = ?",
            (invoice.number, sub.id, period.start.isoformat()),
        )
        checkpoint("before_commit:period")
    checkpoint("after_issue:period")
    return invoice.number


def send_state(store: Store, profile: str, number: str) -> tuple[str, Any]:
    """Where `invoices send` stands for `number`, read from its journal: todo (never sent,
    or a create or an email to finish), done, failed (the provider refused), or unmailed
    (a scheduled debit whose pre-notification may not have gone)."""
    from crmpay.services import intents
    from crmpay.services.invoices.send import intent_key

    rows = store.db.execute(
        "SELECT * FROM intents WHERE subject = ? AND kind IN ('payment', 'setup_link') ORDER BY attempt, created_at",
        (number,),
    ).fetchall()
    if not rows or rows[-1]["status"] == "pending":
        return "todo", None
    last = rows[-1]
    if last["status"] == "failed":
        return "failed", last
    if last["status"] == "dropped":
        return "done", last
    email = intents.get(store, intent_key(profile, number, last["attempt"], "email"))
    if email is not None and email["status"] == "succeeded":
        return "done", last
    return ("todo" if last["status"] == "succeeded" else "unmailed"), last


def _mark(store: Store, sub_id: int, start: str, status: str, **values: Any) -> None:
    with store.transaction():
        store.db.execute(
            "UPDATE subscription_periods SET status = ?, action = coalesce(?, action), detail = coalesce(?, detail),"
            " error = ?, updated_at = ? WHERE subscription_id = ? AND period_start = ?",
            (
                status,
                values.get("action"),
                json.dumps(values["detail"], default=str) if values.get("detail") else None,
                values.get("error"),
                now_iso(),
                sub_id,
                start,
            ),
        )


def collect(ctx: Context, report: RunReport, *, dry_run: bool) -> None:
    """Send every issued, not yet collected invoice (oldest first)."""
    from crmpay.services import context
    from crmpay.services.invoices.send import send

    store = ctx.store()
    rows = store.db.execute(
        "SELECT * FROM subscription_periods WHERE status = 'issued' AND invoice_number IS NOT NULL"
        " ORDER BY period_start, subscription_id"
    ).fetchall()
    if rows and context.mailer(ctx)[0] is None:
        from crmpay.core.errors import NotConnected

        report.fail(
            {"step": "collect", "invoices": len(rows)},
            NotConnected(
                "smtp is not connected: invoices are issued, but none is collected without its notice",
                hint="run `crmpay connect smtp`, then `crmpay billing run` again",
            ),
        )
        return
    for row in rows:
        number, what = row["invoice_number"], {"subscription": row["subscription_id"], "invoice": row["invoice_number"]}
        state, last = send_state(store, ctx.profile, number)
        if state == "done":
            if not dry_run:
                _mark(store, row["subscription_id"], row["period_start"], "collected", action=last["kind"])
            report.collected.append({**what, "action": last["kind"], "provider": last["provider"], "resumed": True})
            continue
        if state in ("failed", "unmailed"):
            error = (
                f"{last['kind'].replace('_', ' ')} refused: {last['error']}"
                if state == "failed"
                else f"the debit is scheduled but its notice may not have been emailed ({last['provider']})"
            )
            if not dry_run:
                _mark(store, row["subscription_id"], row["period_start"], "failed", error=error)
            report.fail(what, error_for(int(ExitCode.FAILED), f"{number}: {error}"))
            continue
        try:
            result = send(ctx, number, email=True, dry_run=dry_run)
        except CrmpayError as exc:
            if not dry_run and exc.exit_code in (ExitCode.FAILED, ExitCode.USAGE):
                _mark(store, row["subscription_id"], row["period_start"], "failed", error=str(exc))
            report.fail(what, exc)
            if exc.exit_code in (ExitCode.TEMPORARY, ExitCode.AUTH):
                return  # the provider or the mail server is away: the next run goes on
            continue
        detail = {
            k: v
            for k, v in result.as_dict().items()
            if k in ("provider", "payment_id", "charge_date", "scheduled_for", "setup_link", "amount", "currency") and v
        }
        if not dry_run:
            _mark(store, row["subscription_id"], row["period_start"], "collected", action=result.action, detail=detail)
        checkpoint("after_collect:period")
        report.collected.append({**what, "action": result.action, **detail, "resumed": result.resumed})


def run(ctx: Context, *, until: date | None = None, dry_run: bool = False) -> RunReport:
    """`crmpay billing run`: issue what has come due up to `until` (today by default),
    collect it, then retry failed debits by the dunning policy."""
    from crmpay.services import context
    from crmpay.services.billing import retries

    today = clock.today()
    until = until or today
    if until > today:
        raise UsageError(f"--until {until} is after today ({today}): invoices are not issued ahead of their period")
    report = RunReport(until, dry_run)
    with context.profile_lock(ctx, "billing", "billing run"):
        store = ctx.store()
        seller = ctx.config.settings.seller
        prefix = seller.invoice_prefix
        due = due_periods(store, until)
        price_cache: dict[int, list[tuple[date, list[InvoiceLine]]]] = {}
        if dry_run and due:
            from crmpay.services.invoices.ledger import peek_number

            first = peek_number(store, prefix, today.year)
            base = int(first.rsplit("-", 1)[-1]) if first.rsplit("-", 1)[-1].isdigit() else 0
        for i, (sub, period) in enumerate(due):
            if sub.id not in price_cache:
                price_cache[sub.id] = subs.prices(store, sub.id)
            price_list = price_cache[sub.id]
            price = subs.lines_on(price_list, period.start)
            what = {"subscription": sub.id, "period_start": period.start, "period_end": period.end}
            amount = totals(price, sub.currency).incl_vat.decimal_string()
            if dry_run:
                number = f"{prefix}{today.year}-{base + i:04d}"
            else:
                try:
                    number = issue(store, seller, sub, period, price, today=today)
                except CrmpayError as exc:
                    report.fail(what, exc)
                    continue
            report.issued.append({**what, "invoice": number, "amount": amount, "currency": sub.currency})
        collect(ctx, report, dry_run=dry_run)
        retries.run(ctx, report, dry_run=dry_run)
    return report
