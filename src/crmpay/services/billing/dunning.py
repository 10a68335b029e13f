"""`crmpay dunning run` / `list`: reminders for the invoices that stay unpaid.

An invoice is chased when it is not paid, its due date is past by a step of the policy
(`dunning.steps`, by default +7 courteous, +15 formal, +30 formal notice), no direct debit
is in progress for it and no retry of a failed debit is planned. Each step is sent once per
invoice (a row per invoice and step, written before the mail and marked sent after it); a
run that finds several steps reached sends only the latest and marks the earlier ones
skipped. An invoice paid meanwhile is never chased again. The mail is in the invoice's
language with the late-payment penalty; when Zoho CRM is connected, the customer's contact
gets a completed Task naming the invoice and the step (the CRM's record of the dunning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from crmpay.core import clock
from crmpay.core.clock import now_iso
from crmpay.core.errors import CrmpayError, ExitCode, NotConnected, error_for
from crmpay.core.money import Money
from crmpay.services.billing.policy import Policy, Step, load
from crmpay.services.intents import checkpoint
from crmpay.store import Store

if TYPE_CHECKING:
    from crmpay.services.context import Context

CHASED = ("unpaid", "partially_paid", "awaiting_mandate")
TASK_SUBJECT = {"courteous": "Reminder", "formal": "Second reminder", "notice": "Formal notice (mise en demeure)"}


@dataclass
class DunningReport:
    dry_run: bool
    sent: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "sent": self.sent, "failures": self.failures}

    def raise_for_outcome(self) -> None:
        if not self.failures:
            return
        codes = {f["exit_code"] for f in self.failures}
        code = ExitCode.TEMPORARY if ExitCode.TEMPORARY in codes else ExitCode.PARTIAL
        raise error_for(
            code, f"dunning run: {len(self.failures)} reminder(s) not sent, first: {self.failures[0]['error']}"
        )


def _left(row: Any, store: Store) -> Money:
    paid = store.db.execute(
        "SELECT coalesce(sum(amount_minor), 0) FROM manual_payments WHERE invoice_id = ?", (row["id"],)
    ).fetchone()[0]
    return Money.from_minor(row["total_incl_minor"] - paid, row["currency"])


def standing(store: Store, policy: Policy, today: date, *, only_due: bool = False) -> list[dict[str, Any]]:
    """Where each unpaid invoice past its due date stands (and invoices already chased)."""
    from crmpay.services.invoices.debits import live_debit

    rows = store.db.execute(
        "SELECT * FROM invoices WHERE (status IN (?, ?, ?) AND due_date < ?)"
        " OR number IN (SELECT invoice_number FROM dunning_reminders) ORDER BY due_date, number",
        (*CHASED, today.isoformat()),
    ).fetchall()
    sent_steps: dict[str, dict[int, Any]] = {}
    for r in store.db.execute("SELECT * FROM dunning_reminders"):
        sent_steps.setdefault(r["invoice_number"], {})[r["step"]] = r
    planned = {
        r["invoice_number"]: r["retry_on"]
        for r in store.db.execute("SELECT invoice_number, retry_on FROM debit_retries WHERE status = 'planned'")
    }
    found = []
    for row in rows:
        number = row["number"]
        due = date.fromisoformat(row["due_date"])
        overdue = (today - due).days
        done = sent_steps.get(number, {})
        last = max((s for s, r in done.items() if r["status"] == "sent"), default=None)
        reached = [s for s in policy.steps if s.days <= overdue]
        item: dict[str, Any] = {
            "number": number,
            "customer_email": row["customer_email"],
            "status": row["status"],
            "due_date": row["due_date"],
            "days_overdue": max(overdue, 0),
            "left": _left(row, store).decimal_string() if row["status"] != "paid" else "0",
            "currency": row["currency"],
            "last_step": last,
            "last_tone": done[last]["tone"] if last is not None else None,
            "next_step": None,
            "state": "",
            "step": None,
        }
        upcoming = [s for s in policy.steps if s.days > (last or 0) and s.days not in done]
        if row["status"] == "paid":
            item["state"] = "paid: no more reminders"
        elif (debit := live_debit(store, number, row["currency"])) is not None:
            item["state"] = f"direct debit in progress ({debit.charge_date or 'scheduled'})"
        elif number in planned:
            item["state"] = f"failed debit: retry planned on {planned[number]}"
        elif reached and reached[-1].days not in done:
            item["state"], item["step"] = f"{reached[-1].tone} reminder due", reached[-1]
        elif upcoming:
            nxt = upcoming[0]
            item["state"] = "waiting"
            item["next_step"] = (due + timedelta(days=nxt.days)).isoformat()
        else:
            item["state"] = "every step sent"
        if upcoming and item["next_step"] is None and item["step"] is None and row["status"] != "paid":
            item["next_step"] = (due + timedelta(days=upcoming[0].days)).isoformat()
        if not only_due or item["step"] is not None:
            found.append(item)
    return found


def listing(ctx: Context) -> list[dict[str, Any]]:
    """`crmpay dunning list`: every unpaid invoice past due, and every invoice chased."""
    items = standing(ctx.store(), load(ctx), clock.today())
    for item in items:
        step = item.pop("step")
        item["due_step"] = step.days if step else None
    return items


def _crm_task(crm: Any, invoice: Any, step: Step, today: date) -> str:
    contacts = crm.find_by_email("Contacts", invoice.customer_email)
    if not contacts:
        return "no CRM contact with this email"
    task = {
        "Subject": f"{TASK_SUBJECT[step.tone]} sent: invoice {invoice.number} (+{step.days} days)",
        "Status": "Completed",
        "Due_Date": today.isoformat(),
        "Who_Id": {"id": contacts[0]["id"]},
        "Description": f"crmpay dunning: {step.tone} reminder emailed to {invoice.customer_email} for invoice "
        f"{invoice.number}, due {invoice.due_date}.",
    }
    [result] = crm.insert("Tasks", [task])
    return f"task {result.id}" if result.ok else f"task not created: {result.message}"


def run(ctx: Context, *, dry_run: bool = False) -> DunningReport:
    """`crmpay dunning run`: the reminder each invoice has reached, sent once."""
    from crmpay.services import context
    from crmpay.services.billing.reminders import reminder_email
    from crmpay.services.invoices.documents import seller_from
    from crmpay.services.invoices.ledger import load_invoice

    report = DunningReport(dry_run)
    today = clock.today()
    with context.profile_lock(ctx, "dunning", "dunning run"):
        store, policy = ctx.store(), load(ctx)
        due = standing(store, policy, today, only_due=True)
        pending = store.db.execute(
            "SELECT d.*, i.status AS invoice_status FROM dunning_reminders d JOIN invoices i ON"
            " i.number = d.invoice_number WHERE d.status = 'pending'"
        ).fetchall()
        if not due and not pending:
            return report
        mailer, sender = context.mailer(ctx)
        if mailer is None and not dry_run:
            raise NotConnected("smtp is not connected: reminders are emailed", hint="run `crmpay connect smtp`")
        crm = None if dry_run else context.crm(ctx, required=False)
        seller = seller_from(ctx.config)
        work = [(item["number"], item["step"]) for item in due]
        work += [(r["invoice_number"], Step(r["step"], r["tone"])) for r in pending if r["invoice_status"] != "paid"]
        for number, step in work:
            invoice = load_invoice(store, number)
            left = invoice.totals.incl_vat - (invoice.amount_paid or Money.from_minor(0, invoice.currency))
            entry = {
                "invoice": number,
                "step": step.days,
                "tone": step.tone,
                "to": invoice.customer_email,
                "left": left.decimal_string(),
            }
            if dry_run:
                report.sent.append({**entry, "crm": None})
                continue
            now = now_iso()
            with store.transaction():
                store.db.execute(
                    "INSERT OR IGNORE INTO dunning_reminders (invoice_number, step, tone, status, created_at,"
                    " updated_at) VALUES (?, ?, ?, 'pending', ?, ?)",
                    (number, step.days, step.tone, now, now),
                )
                store.db.executemany(  # steps reached together: only the latest is sent
                    "INSERT OR IGNORE INTO dunning_reminders (invoice_number, step, tone, status, created_at,"
                    " updated_at) VALUES (?, ?, ?, 'skipped', ?, ?)",
                    [(number, s.days, s.tone, now, now) for s in policy.steps if s.days < step.days],
                )
            checkpoint("after_intent:reminder")
            try:
                assert mailer is not None
                mailer(
                    reminder_email(invoice, left, tone=step.tone, sender=sender or "billing@localhost", seller=seller)
                )
            except CrmpayError as exc:
                report.failures.append({**entry, "error": str(exc), "exit_code": int(exc.exit_code)})
                if exc.exit_code is ExitCode.TEMPORARY:
                    break
                continue
            note = None
            if crm is not None:
                try:
                    note = _crm_task(crm, invoice, step, today)
                except CrmpayError as exc:
                    note = f"CRM not told: {exc}"
            with store.transaction():
                store.db.execute(
                    "UPDATE dunning_reminders SET status = 'sent', sent_on = ?, crm = ?, updated_at = ?"
                    " WHERE invoice_number = ? AND step = ?",
                    (today.isoformat(), note, now_iso(), number, step.days),
                )
            report.sent.append({**entry, "crm": note})
    return report
