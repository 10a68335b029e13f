"""The simulated Mollie API: one service that owns the state and routes `/v2` to every resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crmpay.sandbox._http import Request, Response, Router
from crmpay.sandbox.mollie.constants import API_KEY, KINDS
from crmpay.sandbox.mollie.customers import _Customers
from crmpay.sandbox.mollie.lifecycle import _Lifecycle
from crmpay.sandbox.mollie.payment_links import _PaymentLinks
from crmpay.sandbox.mollie.refunds import _Refunds

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox


class MollieService(_Customers, _PaymentLinks, _Refunds, _Lifecycle):
    """The Mollie API: its state, the Service protocol and the routes to every resource."""

    name = "mollie"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.reset()

    def reset(self) -> None:
        self.reset_tables(KINDS)
        self.children = {}
        self.owner = {}
        self.references = {}
        self.private = {}
        self.live = {}
        self.idempotency = {}
        self.conflicts = {}

    # -- Service protocol -------------------------------------------------------------------------
    def credentials(self) -> dict[str, Any]:
        return {"api_key": API_KEY, "environment": "local", "base_url": self.sandbox.url}

    def fault_response(self, status: int) -> Response:
        if status == 429:
            return self._error(
                429,
                "Too Many Requests",
                "You have exceeded the rate limit. Please slow down your requests.",
                doc="guides/handling-errors",
            ).response
        return self._error(
            500, "Internal Server Error", "An internal server error occurred while processing your request."
        ).response

    def stats(self) -> dict[str, Any]:
        return {"mollie_objects": {k: len(v) for k, v in self.objects.items()}}

    # -- routes ---------------------------------------------------------------------------------------
    def register(self, router: Router) -> None:
        def api(method: str, template: str, handler: Callable[[Request], Response]) -> None:
            router.add(method, template, self._guard(handler, method in ("POST", "PATCH", "DELETE")), service=self.name)

        def page(method: str, template: str, handler: Callable[[Request], Response]) -> None:
            router.add(method, template, handler, service="control")

        api("POST", "/v2/customers", self.create_customer)
        api("GET", "/v2/customers", lambda r: self._list(r, "customers", "customers"))
        api("GET", "/v2/customers/{id}", lambda r: self._ok(200, self._get("customers", r.params["id"])))
        api("PATCH", "/v2/customers/{id}", self.update_customer)
        api("DELETE", "/v2/customers/{id}", self.delete_customer)
        api("POST", "/v2/customers/{id}/mandates", self.create_mandate)
        api("GET", "/v2/customers/{id}/mandates", self.list_mandates)
        api("GET", "/v2/customers/{cid}/mandates/{id}", lambda r: self._ok(200, self._mandate_of(r)))
        api("DELETE", "/v2/customers/{cid}/mandates/{id}", self.revoke_mandate)
        api("POST", "/v2/customers/{id}/payments", self.create_customer_payment)
        api("GET", "/v2/customers/{id}/payments", self.list_customer_payments)
        api("POST", "/v2/payments", lambda r: self._ok(201, self.add_payment(self._body(r))))
        api("GET", "/v2/payments", lambda r: self._list(r, "payments", "payments"))
        api("GET", "/v2/payments/{id}", lambda r: self._ok(200, self._get("payments", r.params["id"])))
        api("DELETE", "/v2/payments/{id}", self.cancel_payment)
        api("POST", "/v2/payments/{id}/refunds", self.create_refund)
        api("GET", "/v2/payments/{id}/refunds", self.list_payment_refunds)
        api("GET", "/v2/payments/{pid}/refunds/{id}", lambda r: self._ok(200, self._refund_of(r)))
        api("DELETE", "/v2/payments/{pid}/refunds/{id}", self.cancel_refund)
        api("GET", "/v2/refunds", lambda r: self._list(r, "refunds", "refunds"))
        api("GET", "/v2/chargebacks", lambda r: self._list(r, "chargebacks", "chargebacks"))
        api("GET", "/v2/payments/{id}/chargebacks", self.list_payment_chargebacks)
        api("GET", "/v2/payments/{pid}/chargebacks/{id}", lambda r: self._ok(200, self._chargeback_of(r)))
        api("POST", "/v2/payment-links", self.create_payment_link)
        api("GET", "/v2/payment-links", lambda r: self._list(r, "payment-links", "payment-links"))
        api("GET", "/v2/payment-links/{id}", lambda r: self._ok(200, self._get("payment-links", r.params["id"])))
        api("GET", "/v2/payment-links/{id}/payments", self.list_link_payments)
        page("GET", "/__sandbox/mollie/checkout/{id}", self.checkout_page)
        page("POST", "/__sandbox/mollie/checkout/{id}", self.checkout)
        page("GET", "/__sandbox/mollie/link/{id}", self.link_page)
        page("POST", "/__sandbox/mollie/link/{id}", self.pay_link)
        page("GET", "/__sandbox/mollie/thanks", lambda r: Response.html(200, "<h1>Thank you</h1>"))
        page("POST", "/__sandbox/mollie/payments/{id}/status", self.force_status)
        page("POST", "/__sandbox/mollie/payments/{id}/chargeback", self.control_chargeback)
        page("POST", "/__sandbox/mollie/idempotency/conflicts", self.arm_conflicts)
