"""GoCardless refunds, simulated: `POST /refunds` against a collected payment, list, get.

The refusals follow GoCardless's documentation (sources in docs/fidelity.md): the creditor
must be allowed to refund (`can_create_refunds`); the payment must be `confirmed` or
`paid_out` (`refund_payment_invalid_state`); `total_amount_confirmation` must be what the
payment's refunds will total with this one (`total_amount_confirmation_invalid`); at most
five refunds a payment (`number_of_refunds_exceeded`); never more than what is left of the
payment (`available_refund_amount_insufficient`). A refund is `created`, emits a `refunds`
`created` event, and adds its amount to the payment's `amount_refunded`. Its later
statuses (submitted, paid…) are not simulated.
"""

from __future__ import annotations

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.gocardless.events import _Events

REFUNDABLE = ("confirmed", "paid_out")
MAX_REFUNDS = 5  # "if five or more refunds have already been created against the payment"
# A refund's reference on the customer's statement, by scheme (SEPA: 140 characters).
REFERENCE_LIMITS = {
    "ach": 10,
    "autogiro": 11,
    "bacs": 10,
    "becs": 30,
    "becs_nz": 12,
    "betalingsservice": 30,
    "pad": 12,
    "sepa_core": 140,
}


class _Refunds(_Events):
    def create_refund(self, request: Request) -> Response:
        self._replay(request, "refunds")
        data = self._body(request, "refunds")
        envelope = "refunds"
        payment = self.objects["payments"].get((data.get("links") or {}).get("payment") or "")
        if payment is None:
            raise self._validation("links.payment", "must be an existing payment", envelope)
        amount = data.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise self._validation("amount", "must be a whole number of minor units greater than 0", envelope)
        confirmation = data.get("total_amount_confirmation")
        if not isinstance(confirmation, int) or isinstance(confirmation, bool):
            raise self._validation(
                "total_amount_confirmation", "must be supplied when links[payment] is present", envelope
            )
        reference = data.get("reference")
        limit = REFERENCE_LIMITS.get(payment["scheme"])
        if reference is not None and (not isinstance(reference, str) or (limit and len(reference) > limit)):
            raise self._validation("reference", f"is too long (maximum is {limit} characters)", envelope)
        metadata = self._metadata(data)
        if not self.creditor.get("can_create_refunds"):
            raise self._usage(403, "insufficient_permissions", "Insufficient permissions")
        if payment["status"] not in REFUNDABLE:
            raise self._invalid_state(
                "refund_payment_invalid_state",
                f"This payment cannot be refunded because its status is {payment['status']}: "
                "it must be confirmed or paid_out",
            )
        refunded = int(payment.get("amount_refunded") or 0)
        if confirmation != refunded + amount:
            raise self._invalid_state(
                "total_amount_confirmation_invalid",
                f"The total amount confirmation ({confirmation}) does not match the total amount refunded for "
                f"the payment with this refund ({refunded + amount})",
            )
        if len(self.index[("refunds", "payment")].get(payment["id"], [])) >= MAX_REFUNDS:
            raise self._invalid_state(
                "number_of_refunds_exceeded", f"{MAX_REFUNDS} refunds have already been created against the payment"
            )
        if refunded + amount > payment["amount"]:
            raise self._invalid_state(
                "available_refund_amount_insufficient",
                f"The refund ({amount}) is more than what is left to refund of the payment "
                f"({payment['amount'] - refunded})",
            )
        refund = {
            "id": self._new_id("refunds"),
            "created_at": self._now(),
            "amount": amount,
            "currency": payment["currency"],
            "fx": {"estimated_exchange_rate": None, "exchange_rate": None, "fx_amount": None, "fx_currency": None},
            "metadata": metadata,
            "reference": reference,
            "status": "created",
            "links": {"payment": payment["id"], "mandate": payment["links"]["mandate"]},
        }
        payment["amount_refunded"] = refunded + amount
        self._store("refunds", refund)
        self._remember(request, "refunds", refund["id"])
        self._event(
            "refunds",
            "created",
            {"refund": refund["id"]},
            cause="payment_refunded",
            origin="api",
            description="The refund has been created and will be submitted in the next batch.",
        )
        return self._ok(201, {"refunds": refund})

    def list_refunds(self, request: Request) -> Response:
        index, tests = self._indexed("refunds", request, ("payment", "mandate"))
        return self._list("refunds", request, self._all(tests), index=index)
