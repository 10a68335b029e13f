"""The simulated GoCardless API: one service that owns the state and routes every resource."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmpay.sandbox._http import Response, Router
from crmpay.sandbox.gocardless.constants import INDEXED, KINDS
from crmpay.sandbox.gocardless.creditor import _Creditor
from crmpay.sandbox.gocardless.flows import _Flows
from crmpay.sandbox.gocardless.lifecycle import _Lifecycle
from crmpay.sandbox.gocardless.refunds import _Refunds
from crmpay.sandbox.gocardless.scenarios import _Scenarios

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox


class GoCardlessService(_Creditor, _Flows, _Scenarios, _Refunds, _Lifecycle):
    """The GoCardless API: its state, the Service protocol and the routes to every resource."""

    name = "gocardless"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.reset()

    def reset(self) -> None:
        self.reset_tables(KINDS)
        self.index = {(kind, key): {} for kind, keys in INDEXED.items() for key in keys}
        self.idempotency = {}
        self.private = {}
        self.accounts_by_iban = {}
        self.references = set()
        self.removed = set()
        self.import_queue = []
        self.due = []
        self.due_on = {}
        self.seq = 0
        self.deferred = None
        self.window = (0, 0)
        self.last_now = None
        self.last_iso = ""
        self.creditor = self._store("creditors", self._new_creditor())

    def register(self, router: Router) -> None:
        routes = [
            ("GET", "/creditors", lambda r: self._list("creditors", r)),
            ("GET", "/creditors/{id}", self._one("creditors")),
            ("POST", "/customers", self.create_customer),
            ("GET", "/customers", self.list_customers),
            ("GET", "/customers/{id}", self._one("customers")),
            ("PUT", "/customers/{id}", self.update_customer),
            ("DELETE", "/customers/{id}", self.remove_customer),
            ("POST", "/customer_bank_accounts", self.create_bank_account),
            ("GET", "/customer_bank_accounts", self.list_bank_accounts),
            ("GET", "/customer_bank_accounts/{id}", self._one("customer_bank_accounts")),
            ("PUT", "/customer_bank_accounts/{id}", self.update_metadata("customer_bank_accounts")),
            ("POST", "/customer_bank_accounts/{id}/actions/disable", self.disable_bank_account),
            ("POST", "/mandates", self.create_mandate),
            ("GET", "/mandates", self.list_mandates),
            ("GET", "/mandates/{id}", self._one("mandates", self._mandate_out)),
            ("PUT", "/mandates/{id}", self.update_metadata("mandates")),
            ("POST", "/mandates/{id}/actions/cancel", self.cancel_mandate),
            ("POST", "/mandates/{id}/actions/reinstate", self.reinstate_mandate),
            ("POST", "/payments", self.create_payment),
            ("GET", "/payments", self.list_payments),
            ("GET", "/payments/{id}", self._one("payments")),
            ("PUT", "/payments/{id}", self.update_metadata("payments")),
            ("POST", "/payments/{id}/actions/cancel", self.cancel_payment),
            ("POST", "/payments/{id}/actions/retry", self.retry_payment),
            ("POST", "/refunds", self.create_refund),
            ("GET", "/refunds", self.list_refunds),
            ("GET", "/refunds/{id}", self._one("refunds")),
            ("PUT", "/refunds/{id}", self.update_metadata("refunds")),
            ("POST", "/billing_requests", self.create_billing_request),
            ("GET", "/billing_requests", self.list_billing_requests),
            ("GET", "/billing_requests/{id}", self._one("billing_requests")),
            ("POST", "/billing_requests/{id}/actions/cancel", self.cancel_billing_request),
            ("POST", "/billing_request_flows", self.create_flow),
            ("POST", "/mandate_imports", self.create_import),
            ("GET", "/mandate_imports/{id}", self._one("mandate_imports")),
            ("POST", "/mandate_imports/{id}/actions/submit", self.submit_import),
            ("POST", "/mandate_imports/{id}/actions/cancel", self.cancel_import),
            ("POST", "/mandate_import_entries", self.create_import_entry),
            ("GET", "/mandate_import_entries", self.list_import_entries),
            ("GET", "/events", self.list_events),
            ("GET", "/events/{id}", self.get_event),
            ("POST", "/scenario_simulators/{id}/actions/run", self.run_scenario),
        ]
        for method, template, handler in routes:
            router.add(method, template, self._authorised(handler), service=self.name)
        router.add("GET", "/__sandbox/gocardless/flow/{id}", self.flow_page, service="control")
        router.add("POST", "/__sandbox/gocardless/flow/{id}", self.complete_flow, service="control")
        router.add(
            "GET",
            "/__sandbox/gocardless/creditor",
            lambda r: Response.json_body(200, {"creditors": self.creditor}),
            service="control",
        )
        router.add("PUT", "/__sandbox/gocardless/creditor", self.set_creditor, service="control")

    def stats(self) -> dict[str, Any]:
        return {"gocardless_objects": {k: len(v) for k, v in self.objects.items()}}
