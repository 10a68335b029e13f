"""GoCardless scenario simulators: force a payment, mandate or creditor outcome the clock would not reach."""

from __future__ import annotations

from typing import Any

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.gocardless.constants import (
    PAYMENT_OUTCOMES,
    PAYMENT_SCENARIO_FROM,
    PAYMENT_SCENARIO_PATH,
    SCENARIOS,
    SETTLED,
    USABLE_MANDATE,
)
from crmpay.sandbox.gocardless.mandates import _Mandates


class _Scenarios(_Mandates):
    def run_scenario(self, request: Request) -> Response:
        name = request.params["id"]
        if name not in SCENARIOS:
            raise self._not_found()
        data = self._body(request, "data")
        resource = (data.get("links") or {}).get("resource")
        kind = name.split("_", 1)[0] + "s"
        obj = self.objects[kind].get(resource or "")
        if obj is None:
            raise self._validation("links.resource", f"must be an existing {kind[:-1]}", "data")
        if kind == "creditors":
            obj["verification_status"] = name.removeprefix("creditor_verification_status_")
        elif kind == "payments":
            self._payment_scenario(name, obj)
        else:
            self._mandate_scenario(name, obj)
        return self._ok(200, {"scenario_simulators": {"id": name}})

    def _payment_scenario(self, name: str, payment: dict[str, Any]) -> None:
        status = payment["status"]
        if status not in PAYMENT_SCENARIO_FROM[name]:
            raise self._invalid_state("invalid_state_for_scenario", f"{name} cannot run on a payment that is {status}")
        mandate = self.objects["mandates"][payment["links"]["mandate"]]
        if mandate["status"] not in USABLE_MANDATE:
            raise self._invalid_state("mandate_is_inactive", f"The payment's mandate is {mandate['status']}")
        if name.startswith("payment_late_failure") and mandate["scheme"] == "autogiro":
            raise self._invalid_state("invalid_state_for_scenario", f"{name} is not compatible with Autogiro mandates")
        if mandate["status"] != "active" and mandate["scheme"] not in ("sepa_core", "ach", "becs", "becs_nz"):
            raise self._invalid_state(
                "mandate_not_active", f"{name} needs an active mandate (this one is {mandate['status']})"
            )
        if mandate["status"] != "active":  # SEPA mandates are submitted with their first payment
            if mandate["status"] != "submitted":
                self._set_mandate(mandate, "submitted", description="Mandate submitted to the bank")
            self._set_mandate(mandate, "active", description="The mandate has been set up successfully")
        order = ["pending_submission", "submitted", "confirmed", "paid_out"]
        for step in PAYMENT_SCENARIO_PATH[name]:
            if step in order and order.index(status) >= order.index(step):
                continue  # already there
            if step in SETTLED:  # money taken back from a payout: an event, the status stays
                self._event(
                    "payments",
                    step,
                    {"payment": payment["id"]},
                    description=SETTLED[step],
                    scheme=payment["scheme"],
                    currency=payment["currency"],
                )
                continue
            self._set_payment(payment, step, **PAYMENT_OUTCOMES.get(step, {}))
            status = step

    def _mandate_scenario(self, name: str, mandate: dict[str, Any]) -> None:
        status = mandate["status"]
        if status not in ("pending_customer_approval", "pending_submission", "submitted") or (
            name == "mandate_expired" and status == "submitted"
        ):
            raise self._invalid_state("invalid_state_for_scenario", f"{name} cannot run on a mandate that is {status}")
        if status != "submitted":
            self._set_mandate(mandate, "submitted", description="Mandate submitted to the bank")
        if name == "mandate_activated":
            self._set_mandate(mandate, "active", description="The mandate has been set up successfully")
        elif name == "mandate_failed":
            self._set_mandate(
                mandate,
                "failed",
                cause="invalid_bank_details",
                origin="bank",
                description="The bank rejected the mandate",
                reason_code="AC01",
            )
        else:
            self._set_mandate(mandate, "active", description="The mandate has been set up successfully")
            self._set_mandate(mandate, "expired", description="The mandate expired after a dormant period")
