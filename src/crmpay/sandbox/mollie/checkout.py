"""Mollie's hosted checkout page, simulated: the customer pays or cancels; the control API forces outcomes."""

from __future__ import annotations

import html
from typing import Any

from crmpay.core.validation import iban_problems
from crmpay.sandbox._http import HttpError, Request, Response
from crmpay.sandbox.mollie.chargebacks import _Chargebacks
from crmpay.sandbox.mollie.constants import FORCEABLE


class _Checkout(_Chargebacks):
    def _payable(self, ident: str) -> dict[str, Any]:
        payment = self.objects["payments"].get(ident)
        if payment is None:
            raise HttpError(Response.html(404, "<h1>Unknown payment</h1>"))
        if payment["status"] != "open":
            raise HttpError(Response.html(409, f"<h1>This payment is {html.escape(payment['status'])}</h1>"))
        return payment

    @staticmethod
    def _form(title: str, description: str, fields: str) -> Response:
        return Response.html(
            200,
            f"""<!doctype html><title>Mollie sandbox checkout</title>
<h1>{html.escape(title)}</h1><p>{html.escape(description)}</p>
<form method="post">{fields}<button name="action" value="pay">Pay</button>
<button name="action" value="cancel">Cancel</button></form>""",
        )

    _ACCOUNT_FIELDS = (
        '<label>Account holder <input name="consumerName"></label><label>IBAN <input name="consumerAccount"></label>'
    )

    def checkout_page(self, request: Request) -> Response:
        payment = self._payable(request.params["id"])
        amount = payment["amount"]
        fields = self._ACCOUNT_FIELDS if payment["sequenceType"] == "first" else ""
        return self._form(f"Pay {amount['value']} {amount['currency']}", payment["description"], fields)

    def _checked(self, form: dict[str, str]) -> Response | None:
        account = form.get("consumerAccount")
        if account and iban_problems(account):
            return Response.html(422, "<h1>Please check the IBAN</h1>")
        return None

    def checkout(self, request: Request) -> Response:
        payment = self._payable(request.params["id"])
        form = request.form()
        if form.get("action") == "cancel":
            self._finish(payment, "canceled")
            return Response.html(200, "<h1>Payment cancelled</h1>")
        refused = self._checked(form)
        if refused:
            return refused
        self._pay(payment, form)
        return Response.html(200, "<h1>Payment received</h1><p>You can close this page.</p>")

    def force_status(self, request: Request) -> Response:
        payment = self.objects["payments"].get(request.params["id"])
        if payment is None:
            return Response.json_body(404, {"error": f"unknown payment {request.params['id']}"})
        wanted = (request.json() or {}).get("status")
        if wanted not in FORCEABLE:
            return Response.json_body(400, {"error": f"status must be one of {', '.join(FORCEABLE)}"})
        if wanted in ("paid", "charged_back") and payment["status"] != "paid":
            if payment["status"] == "open":
                self._pay(payment, {})  # as if the customer paid: a first payment leaves a mandate
            else:
                self._finish(payment, "paid")
        if wanted == "charged_back":
            if payment.get("amountChargedBack") != payment["amount"]:
                self.charge_back(payment)  # whatever is left of the amount
        elif wanted != "paid":
            self._finish(payment, wanted)
        return Response.json_body(200, payment)
