"""GoCardless due dates: when each mandate and payment moves next, and a mandate's next possible charge date."""

from __future__ import annotations

import heapq
from datetime import date
from typing import Any

from crmpay.core.calendar import add_working_days, working_days_before
from crmpay.sandbox.gocardless.constants import MANDATE_RANK, PAYMENT_RANK, USABLE_MANDATE
from crmpay.sandbox.gocardless.state import _State


class _Schedule(_State):
    def _schedule(self, ident: str, day: date | None, rank: int) -> None:
        if day is None:
            self.due_on.pop(ident, None)
            return
        if self.due_on.get(ident) == day:
            return
        self.due_on[ident] = day
        self.seq += 1
        heapq.heappush(self.due, (day, rank, self.seq, ident))

    def _mandate_due(self, mandate: dict[str, Any]) -> date | None:
        private = self.private[mandate["id"]]
        return {"pending_submission": private["submit_on"], "submitted": private["active_on"]}.get(mandate["status"])

    def _schedule_mandate(self, mandate: dict[str, Any]) -> None:
        self._schedule(mandate["id"], self._mandate_due(mandate), MANDATE_RANK)

    def _payment_due(self, payment: dict[str, Any]) -> date | None:
        status = payment["status"]
        if status not in ("pending_submission", "submitted", "confirmed"):
            return None
        charge = date.fromisoformat(payment["charge_date"])
        if status == "pending_submission":
            wait = self.private[payment["id"]].get("wait_until")
            submit = working_days_before(charge, 2)
            return max(wait, submit) if wait else submit
        if status == "submitted":
            return charge
        return add_working_days(charge, 2)

    def _schedule_payment(self, payment: dict[str, Any]) -> None:
        self._schedule(payment["id"], self._payment_due(payment), PAYMENT_RANK)

    def _refresh_charge_date(self, mandate: dict[str, Any]) -> None:
        """The earliest charge date today: two working days after activation, or after today
        for an active mandate. Computed on read, so a day passing costs nothing."""
        if mandate["status"] not in USABLE_MANDATE:
            mandate["next_possible_charge_date"] = None
            return
        today = self._today()
        start = today
        if mandate["status"] != "active":
            start = max(today, self.private[mandate["id"]]["active_on"])
        mandate["next_possible_charge_date"] = add_working_days(start, 2).isoformat()

    def _mandate_out(self, mandate: dict[str, Any]) -> dict[str, Any]:
        self._refresh_charge_date(mandate)
        return mandate
