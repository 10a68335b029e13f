"""Mollie chargebacks, simulated: a paid payment's debit taken back by the payer's bank.

As in Mollie's API v2 (sources in `docs/fidelity.md`): the payment keeps `status: paid`
and gains `amountChargedBack` (the sum of its chargebacks) and `_links.chargebacks`; each
chargeback `chb_…` has `amount`, a negative `settlementAmount`, `createdAt`, `reason`
(`{code, description}`, for direct debits only), `reversedAt` and `paymentId`. They are
listed newest first account-wide (`GET /v2/chargebacks`) and per payment, with the same
`from`/`limit` paging as every listing. Only the control route makes one:
`POST /__sandbox/mollie/payments/{id}/chargeback` `{"amount"?: {...}, "reason"?: {...}}`
(default: what is left of the amount, reason MD06).
"""

from __future__ import annotations

from typing import Any

from crmpay.core.money import exponent
from crmpay.sandbox._http import HttpError, Request, Response
from crmpay.sandbox.mollie.constants import CHARGEBACK_REASON
from crmpay.sandbox.mollie.payments import _Payments
from crmpay.sandbox.mollie.wire import _major, _minor


class _Chargebacks(_Payments):
    def charge_back(
        self, payment: dict[str, Any], amount: Any = None, reason: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Charge back `amount` (default: all not yet charged back) of a paid payment."""
        if payment["status"] != "paid":
            raise self._unprocessable(f"Only a paid payment can be charged back: it is {payment['status']}")
        currency = payment["amount"]["currency"]
        cents = exponent(currency)
        total = _minor(payment["amount"]["value"], cents)
        already = _minor((payment.get("amountChargedBack") or {"value": "0"})["value"], cents)
        taken = _minor(self._amount(amount)["value"], cents) if amount is not None else total - already
        if taken <= 0 or already + taken > total:
            raise self._unprocessable("The amount is higher than what can still be charged back", "amount")
        pid = payment["id"]
        ident = self.sandbox.ids.next("chb_")
        value = {"currency": currency, "value": _major(taken, cents)}
        chargeback: dict[str, Any] = {
            "resource": "chargeback",
            "id": ident,
            "amount": value,
            "settlementAmount": {"currency": currency, "value": f"-{value['value']}"},
            "createdAt": self._now(),
        }
        if payment.get("method") == "directdebit":
            chargeback["reason"] = dict(reason or CHARGEBACK_REASON)
        chargeback.update(
            reversedAt=None,
            paymentId=pid,
            _links={
                "self": self._link(f"payments/{pid}/chargebacks/{ident}"),
                "payment": self._link(f"payments/{pid}"),
                "documentation": self._doc("reference/v2/chargebacks-api/get-payment-chargeback"),
            },
        )
        payment["amountChargedBack"] = {"currency": currency, "value": _major(already + taken, cents)}
        payment["_links"]["chargebacks"] = self._link(f"payments/{pid}/chargebacks")
        self._notify(payment)  # Mollie calls the payment's webhook when a chargeback is received
        return self._store("chargebacks", chargeback, pid)

    def control_chargeback(self, request: Request) -> Response:
        payment = self.objects["payments"].get(request.params["id"])
        if payment is None:
            return Response.json_body(404, {"error": f"unknown payment {request.params['id']}"})
        body = request.json() or {}
        reason = body.get("reason")
        if reason is not None and not (
            isinstance(reason, dict) and all(isinstance(reason.get(k), str) for k in ("code", "description"))
        ):
            return Response.json_body(400, {"error": "reason must be {code, description}"})
        try:
            return Response.json_body(201, self.charge_back(payment, body.get("amount"), reason))
        except HttpError as exc:
            return exc.response

    def _chargeback_of(self, request: Request) -> dict[str, Any]:
        self._get("payments", request.params["pid"])
        chargeback = self.objects["chargebacks"].get(request.params["id"])
        if chargeback is None or chargeback["paymentId"] != request.params["pid"]:
            raise self._not_found("chargebacks", request.params["id"])
        return chargeback

    def list_payment_chargebacks(self, request: Request) -> Response:
        pid = request.params["id"]
        self._get("payments", pid)
        return self._list(request, "chargebacks", f"payments/{pid}/chargebacks", self._children("chargebacks", pid))
