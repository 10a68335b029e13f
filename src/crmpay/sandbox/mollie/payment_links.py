"""Mollie payment links, simulated: create, list their payments, and the page that pays one."""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

from crmpay.sandbox._http import HttpError, Request, Response
from crmpay.sandbox.mollie.checkout import _Checkout
from crmpay.sandbox.mollie.constants import PROFILE_ID


class _PaymentLinks(_Checkout):
    def create_payment_link(self, request: Request) -> Response:
        body = self._body(request)
        description = self._description(body)
        amount = self._amount(body["amount"]) if body.get("amount") is not None else None
        sequence = body.get("sequenceType") or "oneoff"
        if sequence not in ("oneoff", "first"):
            raise self._unprocessable("The sequence type of a payment link is oneoff or first", "sequenceType")
        customer_id = body.get("customerId")
        if sequence == "first" and not customer_id:
            raise self._unprocessable("A customer is required for a first payment link", "customerId")
        if customer_id:
            self._get("customers", customer_id)
        expires = body.get("expiresAt")
        if expires is not None:
            try:
                datetime.fromisoformat(str(expires))
            except ValueError:
                raise self._unprocessable("The expiry date is invalid", "expiresAt") from None
        ident = self.sandbox.ids.next("pl_")
        link = {
            "resource": "payment-link",
            "id": ident,
            "mode": "test",
            "profileId": PROFILE_ID,
            "createdAt": self._now(),
            "paidAt": None,
            "updatedAt": None,
            "expiresAt": expires,
            "amount": amount,
            "description": description,
            "redirectUrl": self._url(body, "redirectUrl"),
            "cancelUrl": self._url(body, "cancelUrl"),
            "webhookUrl": self._url(body, "webhookUrl", webhook=True),
            "sequenceType": sequence,
            "customerId": customer_id,
            "reusable": bool(body.get("reusable")),
            "archived": False,
            "_links": {
                "self": self._link(f"payment-links/{ident}"),
                "paymentLink": self._page(f"link/{ident}"),
                "documentation": self._doc("reference/v2/payment-links-api/get-payment-link"),
            },
        }
        return self._ok(201, self._store("payment-links", link))

    def list_link_payments(self, request: Request) -> Response:
        lid = request.params["id"]
        self._get("payment-links", lid)
        return self._list(request, "payments", f"payment-links/{lid}/payments", self._children("payments", lid))

    def _link_open(self, ident: str) -> dict[str, Any]:
        link = self.objects["payment-links"].get(ident)
        if link is None:
            raise HttpError(Response.html(404, "<h1>Unknown payment link</h1>"))
        if link["paidAt"] and not link["reusable"]:
            raise HttpError(Response.html(409, "<h1>This link has been paid</h1>"))
        if link["expiresAt"] and link["expiresAt"] <= self._now():
            raise HttpError(Response.html(410, "<h1>This link has expired</h1>"))
        return link

    def link_page(self, request: Request) -> Response:
        link = self._link_open(request.params["id"])
        amount = link["amount"]
        fields = "" if amount else '<label>Amount <input name="amount"></label>'
        if link["sequenceType"] == "first":
            fields += self._ACCOUNT_FIELDS
        title = f"Pay {amount['value']} {amount['currency']}" if amount else "Pay"
        return self._form(title, link["description"], fields)

    def pay_link(self, request: Request) -> Response:
        link = self._link_open(request.params["id"])
        form = request.form()
        refused = self._checked(form)
        if refused:
            return refused
        amount = link["amount"] or {"currency": "EUR", "value": form.get("amount", "")}
        try:
            payment = self.add_payment(
                {
                    "amount": amount,
                    "description": link["description"],
                    "sequenceType": link["sequenceType"],
                    "customerId": link["customerId"],
                    "redirectUrl": link["redirectUrl"] or f"{self.sandbox.url}/__sandbox/mollie/thanks",
                }
            )
        except HttpError as exc:
            return Response.html(422, f"<h1>{html.escape(json.loads(exc.response.body)['detail'])}</h1>")
        self._index("payments", link["id"], payment["id"])
        self._pay(payment, form)
        link["paidAt"] = link["updatedAt"] = self._now()
        return Response.html(200, "<h1>Payment received</h1><p>You can close this page.</p>")
