"""GoCardless payments, simulated: create on a mandate, cancel, retry, list; every status change is an event."""

from __future__ import annotations

from datetime import date
from typing import Any

from crmpay.core.calendar import next_working_day
from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.gocardless.constants import REFERENCE_LIMITS, SCHEME_CURRENCY, USABLE_MANDATE
from crmpay.sandbox.gocardless.events import _Events


class _Payments(_Events):
    def list_payments(self, request: Request) -> Response:
        index, tests = self._indexed("payments", request, ("mandate", "customer"))
        statuses, currency = self._statuses(request), request.arg("currency")
        if statuses:
            tests.append(lambda p: p["status"] in statuses)
        if currency:
            tests.append(lambda p: p["currency"] == currency)
        low, high = self._bounds(request, "charge_date")
        if low:
            tests.append(lambda p: low(p["charge_date"]))
        if high:
            tests.append(lambda p: high(p["charge_date"]))
        return self._list("payments", request, self._all(tests), index=index)

    def create_payment(self, request: Request) -> Response:
        self._replay(request, "payments")
        data = self._body(request, "payments")
        envelope = "payments"
        mandate = self.objects["mandates"].get((data.get("links") or {}).get("mandate") or "")
        if mandate is None:
            raise self._validation("links.mandate", "must be an existing mandate", envelope)
        amount = data.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise self._validation("amount", "must be a whole number of minor units greater than 0", envelope)
        currency = data.get("currency")
        expected = SCHEME_CURRENCY[mandate["scheme"]]
        if currency != expected:
            raise self._validation("currency", f"must be {expected} for a {mandate['scheme']} mandate", envelope)
        if mandate["status"] not in USABLE_MANDATE:
            raise self._invalid_state(
                "mandate_is_inactive", "The mandate for this payment was cancelled, failed or expired"
            )
        reference = data.get("reference")
        limit = REFERENCE_LIMITS.get(mandate["scheme"])
        if reference and limit and len(reference) > limit:
            raise self._validation("reference", f"is too long (maximum is {limit} characters)", envelope)
        self._metadata(data)
        self._refresh_charge_date(mandate)
        earliest = date.fromisoformat(mandate["next_possible_charge_date"])
        if data.get("charge_date"):
            try:
                wanted = date.fromisoformat(str(data["charge_date"]))
            except ValueError:
                raise self._validation("charge_date", "must be a date (YYYY-MM-DD)", envelope) from None
            if wanted < earliest:
                raise self._validation(
                    "charge_date", "must be on or after mandate's next_possible_charge_date", envelope
                )
            charge = next_working_day(wanted)
        else:
            charge = earliest
        payment = self._new_payment(mandate, amount, currency, charge, data)
        self._remember(request, "payments", payment["id"])
        return self._ok(201, {"payments": payment})

    def _new_payment(
        self,
        mandate: dict[str, Any],
        amount: int,
        currency: str,
        charge: date,
        data: dict[str, Any],
        origin: str = "api",
    ) -> dict[str, Any]:
        ident = self._new_id("payments")
        payment = {
            "id": ident,
            "created_at": self._now(),
            "amount": amount,
            "amount_refunded": 0,
            "app_fee": None,
            "charge_date": charge.isoformat(),
            "currency": currency,
            "description": data.get("description"),
            "faster_ach": False,
            "fx": {"estimated_exchange_rate": None, "exchange_rate": None, "fx_amount": None, "fx_currency": None},
            "metadata": self._metadata(data),
            "reference": data.get("reference"),
            "retry_if_possible": bool(data.get("retry_if_possible", False)),
            "scheme": mandate["scheme"],
            "status": "pending_submission",
            "links": {
                "creditor": self.creditor["id"],
                "mandate": mandate["id"],
                "payout": None,
                "instalment_schedule": None,
                "subscription": None,
            },
        }
        self.private[ident] = {"customer": mandate["links"]["customer"], "retries": 0}
        self._store("payments", payment)
        self._event(
            "payments",
            "created",
            {"payment": ident},
            origin=origin,
            description="Payment created",
            scheme=mandate["scheme"],
            currency=currency,
        )
        self._schedule_payment(payment)
        return payment

    def _set_payment(
        self,
        payment: dict[str, Any],
        status: str,
        *,
        cause: str | None = None,
        description: str = "",
        origin: str = "gocardless",
        **details: Any,
    ) -> None:
        payment["status"] = status
        if status == "paid_out" and not payment["links"]["payout"]:
            payment["links"]["payout"] = self.sandbox.ids.next("PO", 10)
        action = {"pending_submission": "resubmission_requested"}.get(status, status)
        self._event(
            "payments",
            action,
            {"payment": payment["id"]},
            cause=cause,
            origin=origin,
            description=description or f"Payment {status.replace('_', ' ')}",
            scheme=payment["scheme"],
            currency=payment["currency"],
            **details,
        )
        self._schedule_payment(payment)

    def cancel_payment(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        if payment["status"] != "pending_submission":
            raise self._invalid_state(
                "cancellation_failed", f"This payment cannot be cancelled because its status is {payment['status']}"
            )
        self._set_payment(payment, "cancelled", origin="api", description="The payment was cancelled at your request")
        return self._ok(200, {"payments": payment})

    def retry_payment(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        private = self.private[payment["id"]]
        if payment["status"] != "failed":
            raise self._invalid_state(
                "retry_failed", f"Only failed payments can be retried (this one is {payment['status']})"
            )
        if private["retries"] >= 3:
            raise self._invalid_state("retry_failed", "This payment has been retried 3 times already")
        mandate = self.objects["mandates"][payment["links"]["mandate"]]
        if mandate["status"] not in USABLE_MANDATE:
            raise self._invalid_state("mandate_is_inactive", "The mandate for this payment is inactive")
        data = self._body(request, "data")
        self._refresh_charge_date(mandate)
        earliest = date.fromisoformat(mandate["next_possible_charge_date"])
        wanted = earliest
        if data.get("charge_date"):
            try:
                wanted = date.fromisoformat(str(data["charge_date"]))
            except ValueError:
                raise self._validation("charge_date", "must be a date (YYYY-MM-DD)", "data") from None
            if wanted < earliest:
                raise self._validation("charge_date", "must be on or after mandate's next_possible_charge_date", "data")
        payment["charge_date"] = next_working_day(wanted).isoformat()
        private["retries"] += 1
        self._set_payment(payment, "pending_submission", origin="api", description="The payment will be resubmitted")
        return self._ok(200, {"payments": payment})
