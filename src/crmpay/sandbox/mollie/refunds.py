"""Mollie refunds of a paid payment, simulated: create, get, list, cancel while pending.

Refused with 422: a payment that is not paid, a currency not the payment's, more than the
payment's `amountRemaining` (which starts at its amount: the over-refund some methods
allow is not simulated), a description over 140 characters; with 409 "A duplicate refund
has been detected": a refund of the same amount on the same payment within the hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from crmpay.core.money import exponent
from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.clock import add_working_days
from crmpay.sandbox.mollie.constants import REFUNDED_AFTER
from crmpay.sandbox.mollie.listing import _Listing
from crmpay.sandbox.mollie.wire import _major, _minor

DUPLICATE_WINDOW = timedelta(hours=1)  # "a duplicate (of the same amount in the last hour)"


class _Refunds(_Listing):
    def create_refund(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        if payment["status"] != "paid":
            raise self._unprocessable(f"The payment cannot be refunded: it is {payment['status']}")
        body = self._body(request)
        remaining = payment.get("amountRemaining") or payment["amount"]
        amount = self._amount(body["amount"]) if body.get("amount") is not None else dict(remaining)
        if amount["currency"] != payment["amount"]["currency"]:
            raise self._unprocessable("The refund must be in the currency of the payment", "amount.currency")
        cents = exponent(amount["currency"])
        left = _minor(remaining["value"], cents) - _minor(amount["value"], cents)
        if left < 0:
            raise self._unprocessable("The amount is higher than the amount that can be refunded", "amount")
        description = body.get("description") or ""
        if not isinstance(description, str) or len(description) > 140:
            raise self._unprocessable("The description must be at most 140 characters", "description")
        if self._duplicate(payment["id"], amount):
            raise self._error(409, "Conflict", "A duplicate refund has been detected")
        refunded = _minor(payment["amountRefunded"]["value"], cents) + _minor(amount["value"], cents)
        payment["amountRemaining"] = {"value": _major(left, cents), "currency": amount["currency"]}
        payment["amountRefunded"] = {"value": _major(refunded, cents), "currency": amount["currency"]}
        payment["_links"]["refunds"] = self._link(f"payments/{payment['id']}/refunds")
        ident = self.sandbox.ids.next("re_")
        refund = {
            "resource": "refund",
            "id": ident,
            "mode": "test",
            "amount": amount,
            "status": "pending",
            "createdAt": self._now(),
            "description": description,
            "metadata": self._metadata(body),
            "paymentId": payment["id"],
            "settlementId": None,
            "settlementAmount": None,
            "orderId": None,
            "lines": None,
            "_links": {
                "self": self._link(f"payments/{payment['id']}/refunds/{ident}"),
                "payment": self._link(f"payments/{payment['id']}"),
                "order": None,
                "settlement": None,
                "documentation": self._doc("reference/v2/refunds-api/get-refund"),
            },
        }
        self.private[ident] = {"refunded": add_working_days(self.sandbox.clock.today(), REFUNDED_AFTER)}
        return self._ok(201, self._store("refunds", refund, payment["id"]))

    def _duplicate(self, payment_id: str, amount: dict[str, str]) -> bool:
        """A refund of the same amount on the payment in the last hour, not canceled or failed."""
        since = self.sandbox.clock.now() - DUPLICATE_WINDOW
        for ident in self._children("refunds", payment_id)[0]:
            refund = self.objects["refunds"][ident]
            if refund["status"] in ("canceled", "failed") or refund["amount"] != amount:
                continue
            if datetime.fromisoformat(refund["createdAt"]) > since:
                return True
        return False

    def _refund_of(self, request: Request) -> dict[str, Any]:
        self._get("payments", request.params["pid"])
        refund = self.objects["refunds"].get(request.params["id"])
        if refund is None or refund["paymentId"] != request.params["pid"]:
            raise self._not_found("refunds", request.params["id"])
        return refund

    def cancel_refund(self, request: Request) -> Response:
        refund = self._refund_of(request)
        if refund["status"] not in ("queued", "pending"):
            raise self._unprocessable("The refund cannot be canceled")
        refund["status"] = "canceled"
        self.live.pop(refund["id"], None)
        payment = self.objects["payments"][refund["paymentId"]]
        cents = exponent(refund["amount"]["currency"])
        for key, sign in (("amountRemaining", 1), ("amountRefunded", -1)):
            value = _minor(payment[key]["value"], cents) + sign * _minor(refund["amount"]["value"], cents)
            payment[key] = {"value": _major(value, cents), "currency": refund["amount"]["currency"]}
        return Response.empty(204)

    def list_payment_refunds(self, request: Request) -> Response:
        pid = request.params["id"]
        self._get("payments", pid)
        return self._list(request, "refunds", f"payments/{pid}/refunds", self._children("refunds", pid))
