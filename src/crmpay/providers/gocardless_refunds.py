"""GoCardless refunds (`POST /refunds`), mixed into `GoCardlessProvider`.

A refund names its payment and carries `total_amount_confirmation`: what will have been
refunded on that payment with it. GoCardless refuses the refund when that total is not
its own (`total_amount_confirmation_invalid`), so two processes that do not know of each
other's refunds never refund twice. Our idempotency key makes a rerun answer the refund
already made (409, which the SDK turns into a read of it); should GoCardless no longer
know the key, the confirmation is refused and the refund is found among the payment's
refunds by its metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from gocardless_pro import errors as gc_errors

from crmpay.core.errors import OperationFailed
from crmpay.core.money import Money
from crmpay.providers.base import NewRefund, Refund
from crmpay.providers.gocardless_records import error_message, when_of

T = TypeVar("T")
NAME = "gocardless"


def refund_from(raw: dict[str, Any]) -> Refund:
    links = raw.get("links") or {}
    return Refund(
        NAME,
        raw["id"],
        links.get("payment") or "",
        Money.from_minor(int(raw["amount"]), raw["currency"]),
        raw.get("status") or "created",
        when_of(raw.get("created_at")),
        dict(raw.get("metadata") or {}),
        raw,
    )


def _reasons(exc: gc_errors.ApiError) -> list[str]:
    return [str(e.get("reason")) for e in (exc.errors or []) if isinstance(e, dict) and e.get("reason")]


class GoCardlessRefunds:
    _client: Any

    if TYPE_CHECKING:

        def _call(self, what: str, fn: Callable[[], T], *, safe: bool = True) -> T: ...

    def refund(self, new: NewRefund, *, idempotency_key: str) -> Refund:
        what = f"refunding payment {new.payment_id}"
        params: dict[str, Any] = {
            "amount": new.amount.minor,
            "total_amount_confirmation": new.total_refunded.minor,
            "links": {"payment": new.payment_id},
        }
        if new.description:
            params["reference"] = new.description[:140]  # SEPA: 140 characters
        if new.metadata:
            params["metadata"] = dict(list(new.metadata.items())[:3])

        def create() -> dict[str, Any]:
            try:
                return dict(
                    self._client.refunds.create(params=params, headers={"Idempotency-Key": idempotency_key}).attributes
                )
            except gc_errors.InvalidStateError as exc:
                reasons = _reasons(exc)
                if "total_amount_confirmation_invalid" in reasons:
                    made = self._refund_made(new)
                    if made is not None:
                        return made
                raise OperationFailed(
                    f"GoCardless refused {what}: {error_message(exc)}" + (f" ({', '.join(reasons)})" if reasons else "")
                ) from None

        return refund_from(self._call(what, create))

    def _refund_made(self, new: NewRefund) -> dict[str, Any] | None:
        """The payment's refund that carries `new`'s metadata, if one was made."""
        if not new.metadata:
            return None
        page = self._client.refunds.list(params={"payment": new.payment_id, "limit": 500})
        for record in page.records:
            metadata = record.attributes.get("metadata") or {}
            if all(metadata.get(k) == v for k, v in new.metadata.items()):
                return dict(record.attributes)
        return None
