"""Scheduled debits: Mollie debits a recurring payment as soon as it is created, so a
debit whose charge date is further off is journaled as `scheduled` (its idempotency key
fixed at once) and created on its day by `crmpay invoices collect`."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

from crmpay.core.clock import now_iso
from crmpay.core.invoice import Invoice
from crmpay.core.models import Mandate, NewPayment, Payment
from crmpay.core.money import Money
from crmpay.services import intents
from crmpay.services.invoices.debits import refresh_mandate, unchargeable_reason
from crmpay.services.invoices.result import SendResult
from crmpay.store import Store

if TYPE_CHECKING:
    from crmpay.providers.base import PaymentProvider


class ScheduledDebits:
    """Part of `InvoiceSender`: debits created later, on their day."""

    store: Store
    profile: str
    providers: dict[str, PaymentProvider]
    today: date

    def _finish(self, key: str, status: str, result_id: str | None = None, error: str | None = None) -> None:
        raise NotImplementedError

    def _mandate_row(self, provider: str, mandate_id: str) -> Any:
        raise NotImplementedError

    def _request(self, invoice: Invoice, mandate: Any, charge: date, amount: Money) -> NewPayment:
        raise NotImplementedError

    def _journal(self, mandate: Any, request: NewPayment, charge: date, **more: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _pay(self, invoice: Invoice, mandate: Any, charge: date, attempt: int, amount: Money) -> Payment:
        raise NotImplementedError

    def collect_scheduled(self, *, dry_run: bool = False) -> list[SendResult]:
        """Create the Mollie debits whose creation day has come (`crmpay invoices collect`).
        Each is checked again (mandate, expiry) and created with the key journaled when it
        was scheduled, so a rerun never creates a second one."""
        import json

        from crmpay.services.invoices.ledger import load_invoice

        due = self.store.db.execute(
            "SELECT * FROM intents WHERE kind = 'payment' AND status IN ('scheduled', 'pending')"
            " AND json_extract(request, '$.create_on') IS NOT NULL ORDER BY created_at"
        ).fetchall()
        done: list[SendResult] = []
        for intent in due:
            request = json.loads(intent["request"])
            if date.fromisoformat(request["create_on"]) > self.today:
                continue
            invoice = load_invoice(self.store, intent["subject"])
            charge = date.fromisoformat(request["charge_date"])
            row = self._mandate_row(intent["provider"], request["mandate"])
            result = SendResult(
                invoice.number,
                "payment",
                intent["provider"],
                int(intent["attempt"]),
                dry_run,
                Money.from_minor(request["amount_minor"], request["currency"]).decimal_string(),
                request["currency"],
                mandate_id=request["mandate"],
                charge_date=charge.isoformat(),
            )
            done.append(result)
            if row is None:
                result.notes.append(f"mandate {request['mandate']} is no longer in the store")
                continue
            resumed = intent["status"] == "pending"  # its key was sent: finish that create, whatever happened since
            fresh = refresh_mandate(self.store, self.providers[intent["provider"]], row)
            reason = None if resumed else unchargeable_reason(fresh, row, on=charge)
            if reason is not None:
                result.notes.append(f"not collected: {reason}")
                if not dry_run:
                    with self.store.transaction():
                        self._finish(intent["key"], "failed", error=reason)
                continue
            if dry_run:
                continue
            amount = Money.from_minor(request["amount_minor"], request["currency"])
            if not resumed:  # the key is first sent now: its lifetime at the provider starts now
                with self.store.transaction():
                    self.store.db.execute(
                        "UPDATE intents SET status = 'pending', created_at = ?, updated_at = ? WHERE key = ?",
                        (now_iso(), now_iso(), intent["key"]),
                    )
            payment = self._pay(invoice, row, charge, int(intent["attempt"]), amount)
            result.payment_id = payment.id
        return done

    def _schedule(
        self, invoice: Invoice, mandate: Any, fresh: Mandate, charge: date, create_on: date, attempt: int, amount: Money
    ) -> None:
        """Journal a debit to create on `create_on` (Mollie): its key is fixed now."""
        key = intents.intent_key(self.profile, invoice.number, attempt, "payment")
        request = self._request(invoice, mandate, charge, amount)
        journal = self._journal(mandate, request, charge, create_on=create_on.isoformat())
        with self.store.transaction():
            self.store.db.execute(
                "INSERT OR IGNORE INTO intents (key, kind, provider, subject, attempt, status, request,"
                " created_at, updated_at) VALUES (?, 'payment', ?, ?, ?, 'scheduled', ?, ?, ?)",
                (key, mandate["provider"], invoice.number, attempt, json.dumps(journal), now_iso(), now_iso()),
            )
            self.store.db.execute(
                "UPDATE invoices SET status = 'pending', status_reason = ?, updated_at = ? WHERE number = ?",
                (f"debit of {amount} scheduled for {charge}", now_iso(), invoice.number),
            )
            self.store.audit(
                mandate["provider"],
                "schedule",
                "payment",
                fresh.id,
                idempotency_key=key,
                detail={"invoice": invoice.number, "amount_minor": amount.minor, "charge_date": charge.isoformat()},
            )
