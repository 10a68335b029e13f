"""Mollie customers, simulated: create, update, delete (which cancels the customer's mandates)."""

from __future__ import annotations

from typing import Any

from crmpay.core.validation import email_problems
from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.mollie.constants import LOCALES
from crmpay.sandbox.mollie.wire import _Wire


class _Customers(_Wire):
    def _customer_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key in ("name", "email", "locale"):
            if key in body and body[key] is not None and not isinstance(body[key], str):
                raise self._unprocessable(f"The {key} is invalid", key)
        if body.get("email") and email_problems(body["email"]):
            raise self._unprocessable("The email address is invalid", "email")
        if body.get("locale") and body["locale"] not in LOCALES:
            raise self._unprocessable("The locale is invalid", "locale")
        for key in ("name", "email", "locale"):
            if key in body:
                fields[key] = body[key] or None
        if "metadata" in body:
            fields["metadata"] = self._metadata(body)
        return fields

    def add_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a customer as `POST /v2/customers` does (also used to seed the sandbox)."""
        fields = self._customer_fields(body)
        ident = self.sandbox.ids.next("cst_")
        customer = {
            "resource": "customer",
            "id": ident,
            "mode": "test",
            "name": fields.get("name"),
            "email": fields.get("email"),
            "locale": fields.get("locale"),
            "metadata": fields.get("metadata"),
            "createdAt": self._now(),
            "_links": {
                "self": self._link(f"customers/{ident}"),
                "mandates": self._link(f"customers/{ident}/mandates"),
                "subscriptions": self._link(f"customers/{ident}/subscriptions"),
                "payments": self._link(f"customers/{ident}/payments"),
                "documentation": self._doc("reference/v2/customers-api/get-customer"),
            },
        }
        return self._store("customers", customer)

    def create_customer(self, request: Request) -> Response:
        return self._ok(201, self.add_customer(self._body(request)))

    def update_customer(self, request: Request) -> Response:
        customer = self._get("customers", request.params["id"])
        customer.update(self._customer_fields(self._body(request)))
        return self._ok(200, customer)

    def delete_customer(self, request: Request) -> Response:
        """Deleting a customer cancels its mandates; its payments stay."""
        customer = self._get("customers", request.params["id"])
        ids, _ = self._children("mandates", customer["id"])
        for mandate_id in ids:
            self.objects["mandates"][mandate_id]["status"] = "invalid"
        del self.objects["customers"][customer["id"]]
        return Response.empty(204)
