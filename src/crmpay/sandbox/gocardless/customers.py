"""GoCardless customers, simulated: create, update, remove, list; metadata updates of any resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.gocardless.constants import CUSTOMER_FIELDS
from crmpay.sandbox.gocardless.events import _Events


class _Customers(_Events):
    def list_customers(self, request: Request) -> Response:
        removed = self.removed
        return self._list("customers", request, (lambda c: c["id"] not in removed) if removed else None)

    def create_customer(self, request: Request) -> Response:
        self._replay(request, "customers")
        data = self._body(request, "customers")
        if not (data.get("email") or data.get("family_name") or data.get("company_name")):
            raise self._validation("email", "must be present when family_name and company_name are blank", "customers")
        customer = self._new_customer(data)
        self._remember(request, "customers", customer["id"])
        return self._ok(201, {"customers": customer})

    def _new_customer(self, data: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": self._new_id("customers"),
            "created_at": self._now(),
            **{f: data.get(f) for f in CUSTOMER_FIELDS},
            "metadata": self._metadata(data),
        }
        customer["language"] = customer["language"] or "en"
        return self._store("customers", customer)

    def update_customer(self, request: Request) -> Response:
        customer = self._get("customers", request.params["id"])
        data = self._body(request, "customers")
        metadata = self._metadata(data) if "metadata" in data else None
        for field in CUSTOMER_FIELDS:
            if field in data:
                customer[field] = data[field]
        if metadata is not None:
            customer["metadata"] = metadata
        return self._ok(200, {"customers": customer})

    def remove_customer(self, request: Request) -> Response:
        """Removed customers disappear from lists and cannot be read back by id."""
        customer = self._get("customers", request.params["id"])
        self.removed.add(customer["id"])
        return self._ok(200, {"customers": customer})

    def update_metadata(self, kind: str) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            obj = self._get(kind, request.params["id"])
            obj["metadata"] = self._metadata(self._body(request, kind))
            return self._ok(200, {kind: self._mandate_out(obj) if kind == "mandates" else obj})

        return handler
