"""GoCardless lifecycles on the sandbox clock: imports processed, then each mandate and payment that is due moves."""

from __future__ import annotations

import heapq
from datetime import date, timedelta
from typing import Any

from crmpay.sandbox.gocardless.constants import MANDATE_RANK
from crmpay.sandbox.gocardless.mandate_imports import _MandateImports


class _Lifecycle(_MandateImports):
    def advance(self) -> None:
        """A day passed: process submitted imports, then every mandate and payment now due."""
        today = self._today()
        queue, self.import_queue = self.import_queue, []
        for import_id in queue:
            imp = self.objects["mandate_imports"][import_id]
            if imp["status"] == "submitted":
                self._process_import(imp)
        while self.due and self.due[0][0] <= today:
            day, rank, _, ident = heapq.heappop(self.due)
            if self.due_on.get(ident) != day:
                continue  # rescheduled since
            del self.due_on[ident]
            if rank == MANDATE_RANK:
                self._step_mandate(self.objects["mandates"][ident], today)
            else:
                self._step_payment(self.objects["payments"][ident], today)

    def _step_mandate(self, mandate: dict[str, Any], today: date) -> None:
        while (due := self._mandate_due(mandate)) is not None and due <= today:
            if mandate["status"] == "pending_submission":
                self._set_mandate(mandate, "submitted", description="Mandate submitted to the bank")
            else:
                self._set_mandate(mandate, "active", description="The mandate has been set up successfully")

    def _step_payment(self, payment: dict[str, Any], today: date) -> None:
        private = self.private[payment["id"]]
        while (due := self._payment_due(payment)) is not None and due <= today:
            status = payment["status"]
            charge = date.fromisoformat(payment["charge_date"])
            if status == "pending_submission":
                mandate = self.objects["mandates"][payment["links"]["mandate"]]
                if mandate["status"] != "active":
                    if today >= charge:  # the mandate never became usable in time
                        self._set_payment(
                            payment,
                            "failed",
                            cause="mandate_not_active",
                            origin="bank",
                            description="The mandate was not active on the charge date",
                            will_attempt_retry=False,
                        )
                    else:  # wait for the mandate, a day at a time
                        private["wait_until"] = today + timedelta(days=1)
                        self._schedule_payment(payment)
                    return
                private.pop("wait_until", None)
                self._set_payment(payment, "submitted", description="Payment submitted to the bank")
            elif status == "submitted":
                self._set_payment(payment, "confirmed", description="Payment collected from the customer")
            else:
                self._set_payment(payment, "paid_out", description="Payment paid out to the creditor")
