"""GoCardless billing requests, simulated: a mandate request, a payment request or both; cancel, list."""

from __future__ import annotations

from typing import Any

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.gocardless.constants import CURRENCY_SCHEME, SCHEME_CURRENCY
from crmpay.sandbox.gocardless.events import _Events


class _BillingRequests(_Events):
    def list_billing_requests(self, request: Request) -> Response:
        index, tests = self._indexed("billing_requests", request, ("customer",))
        statuses = self._statuses(request)
        if statuses:
            tests.append(lambda b: b["status"] in statuses)
        return self._list("billing_requests", request, self._all(tests), index=index)

    def create_billing_request(self, request: Request) -> Response:
        self._replay(request, "billing_requests")
        data = self._body(request, "billing_requests")
        envelope = "billing_requests"
        mandate_request = data.get("mandate_request") or {}
        payment_request = data.get("payment_request")
        customer_id = (data.get("links") or {}).get("customer")
        if customer_id and (customer_id not in self.objects["customers"] or customer_id in self.removed):
            raise self._validation("links.customer", "must be an existing customer", envelope)
        if not mandate_request and not payment_request:
            raise self._validation("mandate_request", "a mandate_request or a payment_request is required", envelope)
        currency = mandate_request.get("currency") or (payment_request or {}).get("currency") or "EUR"
        scheme = mandate_request.get("scheme") or CURRENCY_SCHEME.get(currency, "sepa_core")
        if SCHEME_CURRENCY.get(scheme) != currency:
            raise self._validation(
                "mandate_request.currency",
                f"must be {SCHEME_CURRENCY.get(scheme, 'a supported currency')} for {scheme}",
                envelope,
            )
        if payment_request:
            amount = payment_request.get("amount")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                raise self._validation("payment_request.amount", "must be a whole number greater than 0", envelope)
            if payment_request.get("currency", currency) != currency:
                raise self._validation("payment_request.currency", f"must be {currency}", envelope)
        metadata = self._metadata(data)
        ident = self._new_id("billing_requests")
        br: dict[str, Any] = {
            "id": ident,
            "created_at": self._now(),
            "status": "pending",
            "fallback_enabled": False,
            "fallback_occurred": False,
            "metadata": metadata,
            "payment_context_code": None,
            "payment_purpose_code": None,
            "purpose_code": None,
            "instalment_schedule_request": None,
            "subscription_request": None,
            "actions": [
                {
                    "type": "collect_bank_account",
                    "required": True,
                    "status": "pending",
                    "completes_actions": ["choose_currency"],
                    "requires_actions": [],
                    "available_currencies": [currency],
                    "bank_authorisation": None,
                    "collect_customer_details": None,
                    "institution_guess_status": None,
                }
            ],
            "mandate_request": {
                "scheme": scheme,
                "currency": currency,
                "verify": "recommended",
                "authorisation_source": "web",
                "consent_type": None,
                "constraints": None,
                "description": mandate_request.get("description"),
                "funds_settlement": "managed",
                "metadata": self._metadata(mandate_request),
                "payer_requested_dual_signature": False,
                "sweeping": False,
                "links": {"mandate": None},
            }
            if mandate_request
            else None,
            "payment_request": {
                "amount": payment_request["amount"],
                "currency": currency,
                "description": payment_request.get("description"),
                "app_fee": None,
                "funds_settlement": "managed",
                "reference": payment_request.get("reference"),
                "metadata": self._metadata(payment_request),
                "scheme": scheme,
                "links": {"payment": None},
            }
            if payment_request
            else None,
            "resources": {"customer": None, "customer_bank_account": None, "customer_billing_detail": None},
            "links": {
                "creditor": self.creditor["id"],
                "customer": customer_id,
                "customer_bank_account": None,
                "mandate_request": f"MRQ{ident[3:]}" if mandate_request else None,
                "mandate_request_mandate": None,
                "payment_request": f"PRQ{ident[3:]}" if payment_request else None,
                "payment_request_payment": None,
                "bank_authorisation": None,
                "customer_billing_detail": None,
                "instalment_schedule_request": None,
                "instalment_schedule_request_instalment_schedule": None,
                "organisation": None,
                "payment_provider": None,
                "subscription_request": None,
                "subscription_request_subscription": None,
            },
        }
        if customer_id:
            br["resources"]["customer"] = self.objects["customers"][customer_id]
        self._store("billing_requests", br)
        self._remember(request, "billing_requests", ident)
        self._event(
            "billing_requests",
            "created",
            {"billing_request": ident, "customer": customer_id},
            origin="api",
            description="Billing request created",
        )
        return self._ok(201, {"billing_requests": br})

    def cancel_billing_request(self, request: Request) -> Response:
        br = self._get("billing_requests", request.params["id"])
        if br["status"] in ("fulfilled", "cancelled"):
            raise self._invalid_state("billing_request_not_cancellable", f"This billing request is {br['status']}")
        br["status"] = "cancelled"
        self._event(
            "billing_requests",
            "cancelled",
            {"billing_request": br["id"]},
            origin="api",
            description="Billing request cancelled",
        )
        return self._ok(200, {"billing_requests": br})
