"""Failed debits of subscription invoices, presented again by the dunning policy.

`dunning.retry_days = [3, 7]`: the first failure of an invoice's debit is retried 3 days
after crmpay learns of it (from `crmpay sync` or webhooks), a second failure 7 days after
that; then the invoice is left to the reminders. Before each retry the payment and its
mandate are read again at the provider:
- a payment **charged back** is never retried (the debtor disputed it), nor any later
  failure of the same invoice;
- a **mandate** no longer usable (cancelled, failed, expired) is never debited again;
- GoCardless: the payment's retry action (`POST /payments/{id}/actions/retry`, failed
  payments only, at most 3 times); when GoCardless refuses it, or with Mollie (no such
  action), a new attempt through `invoices send --new-attempt` (its own pre-notification).
The customer is emailed the new debit date. Each retry is a row (invoice, n) planned once,
its action journaled as an intent before the call; a pending one is resolved after a crash
by reading the payment again (a retried payment is no longer `failed`).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from crmpay.core import clock
from crmpay.core.clock import now_iso
from crmpay.core.errors import CrmpayError, ExitCode, OperationFailed
from crmpay.core.models import PaymentState
from crmpay.core.money import Money
from crmpay.services import intents
from crmpay.services.billing.policy import load
from crmpay.services.intents import checkpoint
from crmpay.store import Store

if TYPE_CHECKING:
    from crmpay.services.billing.run import RunReport
    from crmpay.services.context import Context


def _latest_payment(store: Store, number: str) -> Any:
    return store.db.execute(
        "SELECT * FROM intents WHERE subject = ? AND kind = 'payment' ORDER BY attempt DESC, created_at DESC LIMIT 1",
        (number,),
    ).fetchone()


def _rows(store: Store, number: str) -> list[Any]:
    return store.db.execute("SELECT * FROM debit_retries WHERE invoice_number = ? ORDER BY retry", (number,)).fetchall()


def _set(store: Store, number: str, retry: int, status: str, **values: Any) -> None:
    store.db.execute(
        "UPDATE debit_retries SET status = ?, method = coalesce(?, method), result_id = coalesce(?, result_id),"
        " charge_date = coalesce(?, charge_date), reason = coalesce(?, reason), updated_at = ?"
        " WHERE invoice_number = ? AND retry = ?",
        (
            status,
            values.get("method"),
            values.get("result_id"),
            values.get("charge_date"),
            values.get("reason"),
            now_iso(),
            number,
            retry,
        ),
    )


def plan(store: Store, retry_days: tuple[int, ...], today: date, *, dry_run: bool) -> list[dict[str, Any]]:
    """A row for each new failure of a subscription invoice's latest debit."""
    found = store.db.execute(
        "SELECT DISTINCT sp.invoice_number FROM subscription_periods sp JOIN invoices i ON i.number ="
        " sp.invoice_number JOIN payments p ON p.invoice_number = sp.invoice_number"
        " WHERE i.status != 'paid' AND p.state IN ('failed', 'charged_back')"
    ).fetchall()
    planned = []
    for (number,) in found:
        latest = _latest_payment(store, number)
        if latest is None or latest["status"] != "succeeded":
            continue
        payment = store.db.execute(
            "SELECT * FROM payments WHERE provider = ? AND provider_id = ?", (latest["provider"], latest["result_id"])
        ).fetchone()
        if payment is None or payment["state"] not in ("failed", "charged_back"):
            continue
        rows = _rows(store, number)
        if rows and (rows[-1]["status"] in ("planned", "skipped") or rows[-1]["updated_at"] > payment["synced_at"]):
            continue  # waiting, stopped for good, or this failure is older than the last retry
        charged_back = (
            payment["state"] == "charged_back"
            or store.db.execute(
                "SELECT 1 FROM payments WHERE invoice_number = ? AND state = 'charged_back'", (number,)
            ).fetchone()
        )
        n = len(rows) + 1
        if not charged_back and n > len(retry_days):
            continue  # the policy is spent: the reminders take over
        status, reason = ("skipped", "charged back: never retried") if charged_back else ("planned", None)
        retry_on = today + timedelta(days=retry_days[n - 1]) if not charged_back else today
        planned.append(
            {
                "invoice": number,
                "retry": n,
                "payment_id": payment["provider_id"],
                "status": status,
                "retry_on": retry_on,
                "reason": reason,
            }
        )
        if not dry_run:
            with store.transaction():
                store.db.execute(
                    "INSERT OR IGNORE INTO debit_retries (invoice_number, retry, provider, payment_id, failed_seen_on,"
                    " retry_on, status, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        number,
                        n,
                        payment["provider"],
                        payment["provider_id"],
                        today.isoformat(),
                        retry_on.isoformat(),
                        status,
                        reason,
                        now_iso(),
                        now_iso(),
                    ),
                )
    return planned


class Retrier:
    def __init__(self, ctx: Context, today: date) -> None:
        from crmpay.services import context
        from crmpay.services.invoices.documents import seller_from

        self.ctx, self.store, self.today = ctx, ctx.store(), today
        self.providers = context.providers(ctx)
        self.mailer, self.sender = context.mailer(ctx)
        self.seller = seller_from(ctx.config)

    def retry(self, row: Any) -> dict[str, Any]:
        """Present the failed debit of `row` again, or say why never."""
        from crmpay.services.invoices.ledger import load_invoice

        number, n = row["invoice_number"], row["retry"]
        done = {"invoice": number, "retry": n, "payment_id": row["payment_id"]}
        invoice = load_invoice(self.store, number)
        if invoice.status == "paid":
            return self._stop(done, "the invoice was paid meanwhile")
        latest = _latest_payment(self.store, number)
        if latest is not None and latest["result_id"] not in (None, row["payment_id"]):
            return self._done(done, "new_attempt", latest["result_id"], None)  # a new attempt was made
        if latest is not None and latest["status"] == "scheduled":  # a new (Mollie) attempt, created on its day
            return self._done(done, "new_attempt", None, json.loads(latest["request"]).get("charge_date"))
        provider = self.providers.get(row["provider"])
        if provider is None:
            raise OperationFailed(f"{row['provider']} is not connected", hint=f"crmpay connect {row['provider']}")
        key = intents.intent_key(self.ctx.profile, number, "retry", n, row["payment_id"])
        journal = intents.get(self.store, key)
        fresh = provider.get_payment(row["payment_id"])
        if fresh.state is PaymentState.CHARGED_BACK:
            return self._stop(done, "charged back: never retried")
        if fresh.state is not PaymentState.FAILED:
            if journal is not None and journal["status"] == "pending":  # our retry went through before a crash
                return self._record(done, key, fresh, invoice)
            return self._stop(done, f"payment {fresh.id} is {fresh.status} now")
        mandate = provider.get_mandate(fresh.mandate_id or "", customer_id=fresh.customer_id)
        if not mandate.usable:
            return self._stop(
                done, f"mandate {mandate.reference or mandate.id} is {mandate.status}: never debited again"
            )
        from crmpay.providers.base import PaymentRetrier

        if isinstance(provider, PaymentRetrier):
            intents.begin(self.store, key, "payment_retry", provider.name, number, n, {"payment": fresh.id})
            checkpoint("after_intent:payment_retry")
            try:
                retried = provider.retry_payment(fresh.id, charge_date=self._notified_date(mandate))
            except OperationFailed as exc:  # e.g. retried 3 times already: a new payment instead
                with self.store.transaction():
                    intents.finish(self.store, key, "failed", error=str(exc))
            else:
                checkpoint("after_create:payment_retry")
                return self._record(done, key, retried, invoice)
        return self._new_attempt(done, number)

    def _notified_date(self, mandate: Any) -> date:
        """The retry's charge date: the customer is told it `sepa.prenotification_days` ahead,
        as for any debit (docs/invoices.md)."""
        from crmpay.core import clock
        from crmpay.services.invoices.debits import charge_date

        today = clock.today()
        return charge_date(
            due=today,
            next_possible=mandate.next_possible_charge_date,
            today=today,
            notice_days=self.ctx.config.settings.sepa.prenotification_days,
            provider=mandate.provider,
        )

    def _record(self, done: dict[str, Any], key: str, payment: Any, invoice: Any) -> dict[str, Any]:
        from crmpay.store.records import upsert_payment

        charge = payment.charge_date.isoformat() if payment.charge_date else None
        with self.store.transaction():
            intents.finish(self.store, key, "succeeded", payment.id)
            upsert_payment(self.store, payment)
            self.store.db.execute(
                "UPDATE invoices SET status = 'pending', status_reason = ?, updated_at = ? WHERE number = ?",
                (f"debit presented again for {charge}", now_iso(), invoice.number),
            )
            self.store.audit(
                payment.provider,
                "retry",
                "payment",
                payment.id,
                idempotency_key=key,
                detail={"invoice": invoice.number, "retry": done["retry"]},
            )
        self._tell(invoice, payment, done["retry"])
        return self._done(done, "retry_action", payment.id, charge)

    def _tell(self, invoice: Any, payment: Any, n: int) -> None:
        """The customer learns the new debit date (journaled: once per retry)."""
        from crmpay.services.billing.reminders import retry_email

        key = intents.intent_key(self.ctx.profile, invoice.number, "retry", n, "email")
        sent = intents.get(self.store, key)
        if (sent is not None and sent["status"] == "succeeded") or self.mailer is None:
            return
        mandate = self.store.db.execute(
            "SELECT reference FROM mandates WHERE provider = ? AND provider_id = ?",
            (payment.provider, payment.mandate_id),
        ).fetchone()
        message = retry_email(
            invoice,
            Money(payment.amount.amount, payment.amount.currency),
            charge_date=payment.charge_date.isoformat() if payment.charge_date else "",
            mandate=(mandate["reference"] if mandate and mandate["reference"] else payment.mandate_id) or "",
            sender=self.sender or "billing@localhost",
            seller=self.seller,
        )
        intents.begin(self.store, key, "email", "smtp", invoice.number, n, {"to": invoice.customer_email})
        self.mailer(message)
        with self.store.transaction():
            intents.finish(self.store, key, "succeeded")

    def _new_attempt(self, done: dict[str, Any], number: str) -> dict[str, Any]:
        from crmpay.services.invoices.send import send

        result = send(self.ctx, number, email=True, new_attempt=True)
        return self._done(done, "new_attempt", result.payment_id, result.charge_date)

    def _done(self, done: dict[str, Any], method: str, result_id: str | None, charge: str | None) -> dict[str, Any]:
        with self.store.transaction():
            _set(
                self.store,
                done["invoice"],
                done["retry"],
                "done",
                method=method,
                result_id=result_id,
                charge_date=charge,
            )
        return {**done, "status": "done", "method": method, "result_id": result_id, "charge_date": charge}

    def _stop(self, done: dict[str, Any], reason: str) -> dict[str, Any]:
        with self.store.transaction():
            _set(self.store, done["invoice"], done["retry"], "skipped", reason=reason)
        return {**done, "status": "skipped", "reason": reason}


def run(ctx: Context, report: RunReport, *, dry_run: bool) -> None:
    """Plan a retry for each new failure, then make the retries whose day has come."""
    store, today = ctx.store(), clock.today()
    policy = load(ctx)
    report.retries.extend(plan(store, policy.retry_days, today, dry_run=dry_run))
    due = store.db.execute(
        "SELECT * FROM debit_retries WHERE status = 'planned' AND retry_on <= ? ORDER BY retry_on, invoice_number",
        (today.isoformat(),),
    ).fetchall()
    if not due:
        return
    if dry_run:
        report.retries.extend(
            {"invoice": r["invoice_number"], "retry": r["retry"], "status": "would retry"} for r in due
        )
        return
    retrier = Retrier(ctx, today)
    for row in due:
        try:
            report.retries.append(retrier.retry(row))
        except CrmpayError as exc:
            report.fail({"step": "retry", "invoice": row["invoice_number"], "retry": row["retry"]}, exc)
            if exc.exit_code in (ExitCode.TEMPORARY, ExitCode.AUTH):
                return
