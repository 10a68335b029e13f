"""Mollie payments, simulated: one-off, first and recurring (SEPA direct debit on a mandate), cancel."""

from __future__ import annotations

from typing import Any

from crmpay.core.money import exponent
from crmpay.core.validation import compact_iban
from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.clock import add_working_days, iso
from crmpay.sandbox.mollie.constants import (
    CREDITOR_ID,
    DUE_AFTER,
    EXPIRES_AFTER,
    METHODS,
    PAID_AFTER,
    PROFILE_ID,
    SENT_AFTER,
)
from crmpay.sandbox.mollie.mandates import _Mandates
from crmpay.sandbox.mollie.wire import _major


class _Payments(_Mandates):
    def create_customer_payment(self, request: Request) -> Response:
        cid = request.params["id"]
        self._get("customers", cid)
        return self._ok(201, self.add_payment({**self._body(request), "customerId": cid}))

    def list_customer_payments(self, request: Request) -> Response:
        cid = request.params["id"]
        self._get("customers", cid)
        return self._list(request, "payments", f"customers/{cid}/payments", self._children("payments", cid))

    def _create_payment(self, request: Request, body: dict[str, Any]) -> Response:
        return self._ok(201, self.add_payment(body))

    def _valid_mandate(self, customer_id: str, mandate_id: str | None) -> dict[str, Any]:
        if mandate_id:
            mandate = self.objects["mandates"].get(mandate_id)
            if mandate is None or self.owner.get(mandate_id) != customer_id:
                raise self._unprocessable("The mandate does not exist for this customer", "mandateId")
            if mandate["status"] != "valid":
                raise self._unprocessable("The mandate is not valid", "mandateId")
            return mandate
        ids, _ = self._children("mandates", customer_id)
        for ident in reversed(ids):  # the newest valid mandate
            if self.objects["mandates"][ident]["status"] == "valid":
                return self.objects["mandates"][ident]
        raise self._unprocessable("The customer has no valid mandates", "customerId")

    def add_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a payment as `POST /v2/payments` does (also used to seed the sandbox)."""
        amount = self._amount(body.get("amount"))
        description = self._description(body)
        sequence = body.get("sequenceType") or "oneoff"
        if sequence not in ("oneoff", "first", "recurring"):
            raise self._unprocessable("The sequence type is invalid: use oneoff, first or recurring", "sequenceType")
        method = body.get("method")
        if method is not None and method not in METHODS:
            raise self._unprocessable(f"The payment method '{method}' is invalid", "method")
        customer_id = body.get("customerId")
        if sequence != "oneoff" and not customer_id:
            raise self._unprocessable(f"A customer is required for a {sequence} payment", "customerId")
        if customer_id:
            self._get("customers", customer_id)
        webhook = self._url(body, "webhookUrl", webhook=True)
        metadata = self._metadata(body)
        mandate = None
        if sequence == "recurring":
            mandate = self._valid_mandate(str(customer_id), body.get("mandateId"))
            if method not in (None, mandate["method"]):
                raise self._unprocessable(f"The mandate is for {mandate['method']}, not {method}", "method")
            method = mandate["method"]
            redirect = cancel = None
        else:
            if method == "directdebit":
                raise self._unprocessable("Direct debit can only be used for recurring payments", "method")
            redirect = self._url(body, "redirectUrl")
            if not redirect:
                raise self._unprocessable("The redirect URL is missing", "redirectUrl")
            cancel = self._url(body, "cancelUrl")
        if method == "directdebit" and amount["currency"] != "EUR":
            raise self._unprocessable("SEPA Direct Debit is only available for payments in EUR", "amount.currency")
        ident = self.sandbox.ids.next("tr_")
        now = self.sandbox.clock.now()
        recurring = sequence == "recurring"
        payment: dict[str, Any] = {
            "resource": "payment",
            "id": ident,
            "mode": "test",
            "createdAt": iso(now),
            "amount": amount,
            "description": description,
            "method": method,
            "metadata": metadata,
            "status": "pending" if recurring else "open",
            "isCancelable": recurring,
            "expiresAt": None if recurring else iso(now + EXPIRES_AFTER),
            "details": None,
            "profileId": PROFILE_ID,
            "customerId": customer_id,
            "mandateId": mandate["id"] if mandate else None,
            "sequenceType": sequence,
            "redirectUrl": redirect,
            "cancelUrl": cancel,
            "webhookUrl": webhook,
            "locale": body.get("locale"),
            "countryCode": None,
            "captureDelay": None,
            "captureMode": None,
            "captureBefore": None,
            "amountCaptured": None,
            "amountChargedBack": None,
            "amountRefunded": None,
            "amountRemaining": None,
            "orderId": None,
            "settlementId": None,
            "settlementAmount": None,
            "subscriptionId": None,
            "routing": None,
            "_links": {
                "self": self._link(f"payments/{ident}"),
                "checkout": None if recurring else self._page(f"checkout/{ident}"),
                "chargebacks": None,
                "captures": None,
                "refunds": None,
                "customer": self._link(f"customers/{customer_id}") if customer_id else None,
                "mandate": None,
                "subscription": None,
                "order": None,
                "settlement": None,
                "documentation": self._doc("reference/v2/payments-api/get-payment"),
            },
        }
        private: dict[str, Any] = {"expires": now + EXPIRES_AFTER}
        if mandate:
            sent = add_working_days(now.date(), SENT_AFTER)
            due = add_working_days(sent, DUE_AFTER)
            private.update(sent=sent, paid=add_working_days(sent, PAID_AFTER))
            self._attach_mandate(payment, mandate)
            payment["details"].update(
                dueDate=due.isoformat(),
                transferReference=f"SD{ident[3:]}",
                creditorIdentifier=CREDITOR_ID,
                bankReasonCode=None,
                bankReason=None,
            )
        self.private[ident] = private
        return self._store("payments", payment)

    def _attach_mandate(self, payment: dict[str, Any], mandate: dict[str, Any]) -> None:
        customer_id = self.owner[mandate["id"]]
        payment["mandateId"] = mandate["id"]
        payment["details"] = {
            **mandate["details"],
            "signatureDate": mandate["signatureDate"],
            "mandateReference": mandate["mandateReference"],
        }
        payment["_links"]["mandate"] = self._link(f"customers/{customer_id}/mandates/{mandate['id']}")

    def _finish(self, payment: dict[str, Any], status: str) -> None:
        payment["status"] = status
        payment.pop("isCancelable", None)
        stamp = {"paid": "paidAt", "canceled": "canceledAt", "expired": "expiredAt", "failed": "failedAt"}[status]
        payment[stamp] = self._now()
        payment["_links"]["checkout"] = None
        if status == "paid":
            currency = payment["amount"]["currency"]
            payment["amountRefunded"] = {"value": _major(0, exponent(currency)), "currency": currency}
            payment["amountRemaining"] = dict(payment["amount"])
        self.live.pop(payment["id"], None)
        self._notify(payment)

    def _notify(self, payment: dict[str, Any]) -> None:
        """A payment created with a webhookUrl changed: its id goes to the registered receiver
        (sent later, by the delivery thread: sandbox/webhooks.py)."""
        if payment.get("webhookUrl"):
            self.sandbox.webhooks.mollie_payment(payment["id"])

    def _pay(self, payment: dict[str, Any], form: dict[str, str]) -> None:
        """The customer pays an open payment; a first payment leaves a valid mandate behind."""
        if payment["method"] is None:
            payment["method"] = "ideal"
        name = form.get("consumerName") or "Sandbox Customer"
        account = form.get("consumerAccount") or "NL55INGB0000000000"
        if payment["sequenceType"] == "first":
            mandate = self._new_mandate(
                payment["customerId"], name, account, form.get("consumerBic") or None, None, None
            )
            self._attach_mandate(payment, mandate)
        else:
            payment["details"] = {
                "consumerName": name,
                "consumerAccount": compact_iban(account),
                "consumerBic": form.get("consumerBic") or None,
            }
        self._finish(payment, "paid")

    def cancel_payment(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        if not payment.get("isCancelable"):
            raise self._unprocessable("The payment cannot be cancelled")
        self._finish(payment, "canceled")
        return self._ok(200, payment)
