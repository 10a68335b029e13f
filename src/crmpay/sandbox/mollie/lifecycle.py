"""Mollie lifecycles on the sandbox clock: debits sent and paid, checkouts expired, refunds refunded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crmpay.sandbox.clock import add_working_days
from crmpay.sandbox.mollie.constants import EXPIRES_AFTER, PAID_AFTER, SENT_AFTER
from crmpay.sandbox.mollie.payments import _Payments


class _Lifecycle(_Payments):
    def advance(self) -> None:
        """Move every payment and refund that is not final; final ones are never visited."""
        now = self.sandbox.clock.now()
        today = now.date()
        for ident in list(self.live):
            if ident.startswith("re_"):
                refund = self.objects["refunds"][ident]
                if today >= self.private[ident]["refunded"]:
                    refund["status"] = "refunded"
                    del self.live[ident]
                continue
            payment = self.objects["payments"][ident]
            private = self.private.get(ident) or self._dates_of(payment)
            if payment["sequenceType"] == "recurring" and payment["status"] == "pending":
                if today >= private["sent"]:
                    payment["isCancelable"] = False
                if today >= private["paid"]:
                    self._finish(payment, "paid")
            elif payment["status"] == "open" and now >= private["expires"]:
                self._finish(payment, "expired")

    def _dates_of(self, payment: dict[str, Any]) -> dict[str, Any]:
        """Lifecycle dates of a payment seeded straight into the tables."""
        created = datetime.fromisoformat(payment["createdAt"])
        sent = add_working_days(created.date(), SENT_AFTER)
        dates = {"sent": sent, "paid": add_working_days(sent, PAID_AFTER), "expires": created + EXPIRES_AFTER}
        self.private[payment["id"]] = dates
        return dates
