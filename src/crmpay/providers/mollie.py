"""Mollie through the official mollie-api-python SDK.

The SDK retries only connection errors on https, never a 429 or a 5xx: calls go through
`with_retries`. Reads are safe to repeat; creates and cancels carry our idempotency key,
and Mollie replays the first answer for a repeated key (a `202 Accepted` body, the answer
while the first request is still being processed, is retried like a 5xx). A `409
Conflict` on a keyed request means another request with the same key is still being
processed: it is asked again with the same key (`IN_PROGRESS`, a short bounded back-off),
and if Mollie still answers 409 it becomes a `TemporaryError` (exit 5): the intent stays
pending and running the same command again resumes it with the same key, never a new one.

Mollie has no events API (`iter_events` is an empty iterator: sync lists newest first and
refreshes what is not final; `iter_chargebacks` lists chargebacks newest first) and no
bank-account resource: `bank_account_of` and `iter_bank_accounts` read one account per
mandate from its `details`, with the mandate's id and only the last four characters of
the IBAN.

A setup link is a `first` payment: paying it on Mollie's checkout creates the mandate.
Mollie has no first payment without an amount, so a link asked for without one is a first
payment of the currency's smallest amount (one minor unit, EUR 0.01); a payment link with
`sequenceType: first` would also do, but its mandate can only be found through the
payments the link made, where a first payment carries `mandateId` itself.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from mollie.api import error as mollie_errors
from mollie.api.client import Client
from mollie.api.objects.customer import Customer as MollieCustomer
from mollie.api.objects.payment import Payment as MolliePayment
from mollie.api.resources.mandates import CustomerMandates
from mollie.api.resources.refunds import PaymentRefunds

from crmpay.core.errors import AuthError, OperationFailed, TemporaryError, UsageError
from crmpay.core.models import (
    AccountCheck,
    BankAccount,
    Customer,
    Mandate,
    NewCustomer,
    NewMandate,
    NewPayment,
    NewSetupLink,
    Payment,
    ProviderEvent,
    SetupLink,
)
from crmpay.core.money import Money
from crmpay.providers import _paging
from crmpay.providers.base import Chargeback, NewRefund, Refund
from crmpay.providers.mollie_records import (
    NAME,
    amount_of,
    bank_account_from,
    chargeback_from,
    customer_from,
    locale_of,
    mandate_from,
    money_from,
    payment_from,
    when_of,
)
from crmpay.retry import RetryPolicy, attempt_timeouts, waiting_on, with_retries

__all__ = ["NAME", "PAGE", "MollieProvider", "customer_from", "mandate_from", "money_from", "payment_from"]

T = TypeVar("T")
PAGE = 250
# A 409 "Another request with this Idempotency-Key is already being processed" is asked
# again with the same key: 4 tries, at most about 1.75 s of waiting in all.
IN_PROGRESS = RetryPolicy(attempts=4, base_delay=0.25, max_delay=1.0)


class _Accepted(Exception):
    """Mollie accepted a replayed request whose first attempt is still being processed."""


_HTTP_STATUS = re.compile(r"status code: (\d{3})")


def _status(exc: BaseException) -> int:
    if isinstance(exc, mollie_errors.ResponseHandlingError):  # an answer that was not Mollie's JSON
        found = _HTTP_STATUS.search(str(exc))
        return int(found.group(1)) if found else 0
    return int(getattr(exc, "status", 0) or 0)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, _Accepted):
        return True
    if isinstance(exc, mollie_errors.RequestSetupError):  # a bad id or key: no retry mends it
        return False
    if isinstance(exc, mollie_errors.RequestError):  # connection refused, reset, timed out
        return True
    if isinstance(exc, mollie_errors.ResponseHandlingError):
        status = _status(exc)
        return status == 0 or status == 429 or status >= 500
    return isinstance(exc, mollie_errors.ResponseError) and (_status(exc) == 429 or _status(exc) >= 500)


def _in_progress(exc: BaseException) -> bool:
    """409: another request with this Idempotency-Key is still being processed."""
    return isinstance(exc, mollie_errors.ConflictError)


def _done(result: Any) -> Any:
    """A create's answer; `202 Accepted` (first request still running) is retried."""
    if isinstance(result, dict) and "id" not in result and result.get("status") == 202:
        raise _Accepted(result.get("detail") or "accepted, not yet processed")
    return result


class MollieProvider:
    name = NAME
    max_page_size = PAGE
    currencies = frozenset({"EUR"})  # SEPA Direct Debit only

    def __init__(
        self,
        api_key: str,
        *,
        environment: str = "live",
        base_url: str | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,  # read seconds per attempt; None: retry.attempt_timeouts()
        redirect_url: str | None = None,
        in_progress_policy: RetryPolicy = IN_PROGRESS,
        webhook_url: str | None = None,
    ) -> None:
        connect, read = attempt_timeouts()
        # requests takes float timeouts; the SDK's annotation says int
        self._client = Client(timeout=(connect, timeout or read))  # type: ignore[arg-type]
        try:
            self._client.set_api_key(api_key)
        except mollie_errors.RequestSetupError:
            raise AuthError(
                "Mollie API keys start with test_ or live_",
                hint="copy the key from the Mollie dashboard (Developers > API keys)",
            ) from None
        if environment == "local":
            if not base_url:
                raise UsageError("mollie: environment 'local' needs a base URL")
            self._client.set_api_endpoint(base_url)
            redirect_url = redirect_url or f"{base_url.rstrip('/')}/__sandbox/mollie/thanks"
        elif environment != "live":
            raise UsageError(f"mollie: unknown environment {environment!r}")
        self._redirect_url = redirect_url
        # Mollie refuses an unreachable webhookUrl (localhost) at creation: a payment carries
        # the receiver's public address (`webhooks.public_url`, docs/webhooks.md), else none
        # and sync polls.
        self._webhook_url = webhook_url
        self._mode = "test" if api_key.startswith("test_") else "live"
        self._customer_of_mandate: dict[str, str] = {}
        self._policy = retry_policy or RetryPolicy()
        self._in_progress = in_progress_policy
        self._rng = random.Random()

    # -- plumbing ----------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T], *, safe: bool = True, keyed: bool = False) -> T:
        """`fn` with retries; `keyed`: it carries our idempotency key, so a 409 (the same key
        still being processed) is asked again with that key, a few times, then is temporary."""

        def once() -> T:
            if not keyed:
                return fn()
            return with_retries(fn, is_transient=_in_progress, policy=self._in_progress, rng=self._rng)

        try:
            with waiting_on("Mollie"):
                return with_retries(once, is_transient=_is_transient, safe=safe, policy=self._policy, rng=self._rng)
        except mollie_errors.UnauthorizedError:
            raise AuthError(
                "Mollie rejected the API key", hint="run `crmpay connect mollie` with a valid key"
            ) from None
        except mollie_errors.RequestSetupError as exc:
            raise UsageError(f"cannot ask Mollie for {what}: {exc}") from None
        except _Accepted:
            raise TemporaryError(f"Mollie is still processing {what}; run the command again later") from None
        except mollie_errors.ConflictError as exc:
            if not keyed:
                raise OperationFailed(f"Mollie refused {what}: {exc}") from None
            raise TemporaryError(
                f"Mollie is still processing {what}: {exc}",
                hint="run the same command again; it resumes with the same idempotency key, so nothing is made twice",
            ) from None
        except mollie_errors.RequestError as exc:
            raise TemporaryError(f"cannot reach Mollie for {what}: {type(exc).__name__}") from None
        except mollie_errors.ResponseHandlingError as exc:
            status = _status(exc)
            if status in (401, 403):
                raise AuthError(f"Mollie refused {what} (HTTP {status})") from None
            if 400 <= status < 500 and status != 429:
                raise OperationFailed(
                    f"Mollie refused {what} (HTTP {status}): the answer was not a Mollie error body"
                ) from None
            raise TemporaryError(
                f"Mollie gave no usable answer for {what}" + (f" (HTTP {status})" if status else "")
            ) from None
        except mollie_errors.ResponseError as exc:
            status = _status(exc)
            if status == 403:
                raise AuthError(f"Mollie refused {what}: {exc}") from None
            if status == 429 or status >= 500:
                raise TemporaryError(f"Mollie is unavailable for {what}: {exc}") from None
            field = f" (field {exc.field})" if getattr(exc, "field", None) else ""
            raise OperationFailed(f"Mollie refused {what}: {exc}{field}") from None

    def _page_list(self, what: str, first: Callable[[], Any]) -> Iterator[Any]:
        page = self._call(what, first)
        while True:
            yield page
            if not page.has_next():
                return
            page = self._call(what, page.get_next)

    def _pages(self, what: str, first: Callable[[], Any], *, read_ahead: bool = False) -> Iterator[dict[str, Any]]:
        pages = self._page_list(what, first)
        for page in _paging.read_ahead(pages) if read_ahead else pages:
            for item in page:
                yield dict(item)

    def _mandates_of(self, customer_id: str) -> CustomerMandates:
        return CustomerMandates(self._client, MollieCustomer({"id": customer_id}, self._client))

    # -- PaymentProvider ---------------------------------------------------------------------------
    def check_credentials(self) -> AccountCheck:
        """One customer listed with the key: cheap, and refused with 401 for a wrong key."""
        page = self._call("the API key check", lambda: self._client.customers.list(limit=1))
        warnings = [] if "_embedded" in page else ["Mollie answered the check in an unexpected shape"]
        if self._mode == "test":
            warnings.append("this is a test-mode key: no real money moves")
        return AccountCheck(None, f"Mollie ({self._mode} mode)", warnings)

    def iter_customers(self, *, read_ahead: bool = False) -> Iterator[Customer]:
        return (
            customer_from(raw)
            for raw in self._pages(
                "listing customers", lambda: self._client.customers.list(limit=PAGE), read_ahead=read_ahead
            )
        )

    def iter_mandates(self, *, read_ahead: bool = False) -> Iterator[Mandate]:
        for customer in self.iter_customers(read_ahead=read_ahead):
            yield from self.iter_customer_mandates(customer.id)

    def iter_customer_mandates(self, customer_id: str) -> Iterator[Mandate]:
        """Mandates are listed per customer: Mollie has no listing of them all."""
        resource = self._mandates_of(customer_id)
        for raw in self._pages(f"listing mandates of {customer_id}", lambda: resource.list(limit=PAGE)):
            self._customer_of_mandate[raw["id"]] = customer_id
            yield mandate_from(raw, customer_id)

    def iter_bank_accounts(self, *, read_ahead: bool = False) -> Iterator[BankAccount]:
        return (bank_account_from(mandate) for mandate in self.iter_mandates(read_ahead=read_ahead))

    def bank_account_of(self, mandate: Mandate) -> BankAccount | None:
        """Read from the mandate's `details` (Mollie has no bank-account resource): no request."""
        return bank_account_from(mandate)

    def iter_chargebacks(self, *, read_ahead: bool = False) -> Iterator[Chargeback]:
        """Every chargeback of the account, newest first, 250 a page (`GET /v2/chargebacks`)."""
        return (
            chargeback_from(raw)
            for raw in self._pages(
                "listing chargebacks", lambda: self._client.chargebacks.list(limit=PAGE), read_ahead=read_ahead
            )
        )

    def iter_payments(self, *, created_after: datetime | None = None, read_ahead: bool = False) -> Iterator[Payment]:
        for raw in self._pages(
            "listing payments", lambda: self._client.payments.list(limit=PAGE), read_ahead=read_ahead
        ):
            payment = payment_from(raw)
            if created_after and payment.created_at and payment.created_at <= created_after:
                return  # newest first: everything after this is older
            yield payment

    def get_customer(self, customer_id: str) -> Customer:
        return customer_from(
            dict(self._call(f"customer {customer_id}", lambda: self._client.customers.get(customer_id)))
        )

    def get_mandate(self, mandate_id: str, *, customer_id: str | None = None) -> Mandate:
        customer_id = customer_id or self._customer_of_mandate.get(mandate_id)
        if customer_id is None:
            raise UsageError(
                f"Mollie mandate {mandate_id}: its customer is not known",
                hint="run `crmpay sync` first, or give the customer",
            )
        raw = self._call(f"mandate {mandate_id}", lambda: self._mandates_of(customer_id).get(mandate_id))
        return mandate_from(dict(raw), customer_id)

    def get_payment(self, payment_id: str) -> Payment:
        return payment_from(dict(self._call(f"payment {payment_id}", lambda: self._client.payments.get(payment_id))))

    def create_customer(self, new: NewCustomer, *, idempotency_key: str) -> Customer:
        data: dict[str, Any] = {"name": new.name, "email": new.email}
        if new.language:
            data["locale"] = locale_of(new.language)
        if new.metadata:
            data["metadata"] = new.metadata
        raw = self._call(
            "creating a customer",
            lambda: _done(self._client.customers.create(data, idempotency_key=idempotency_key)),
            keyed=True,
        )
        return customer_from(dict(raw))

    def create_mandate(self, new: NewMandate, *, idempotency_key: str) -> Mandate:
        data: dict[str, Any] = {"method": "directdebit", "consumerName": new.holder_name, "consumerAccount": new.iban}
        if new.bic:
            data["consumerBic"] = new.bic
        if new.signature_date:
            data["signatureDate"] = new.signature_date.isoformat()
        if new.reference:
            data["mandateReference"] = new.reference
        resource = self._mandates_of(new.customer_id)
        raw = self._call(
            "creating a mandate", lambda: _done(resource.create(data, idempotency_key=idempotency_key)), keyed=True
        )
        self._customer_of_mandate[raw["id"]] = new.customer_id
        return mandate_from(dict(raw), new.customer_id)

    def create_payment(self, new: NewPayment, *, idempotency_key: str) -> Payment:
        if not new.customer_id:
            raise UsageError("a Mollie recurring payment needs the mandate's customer id")
        data: dict[str, Any] = {
            "amount": amount_of(new.amount),
            "description": new.description[:255],
            "sequenceType": "recurring",
            "customerId": new.customer_id,
            "mandateId": new.mandate_id,
        }
        if new.metadata:
            data["metadata"] = new.metadata
        if self._webhook_url:
            data["webhookUrl"] = self._webhook_url
        raw = self._call(
            "creating a payment",
            lambda: _done(self._client.payments.create(data, idempotency_key=idempotency_key)),
            keyed=True,
        )
        return payment_from(dict(raw))

    def create_setup_link(self, new: NewSetupLink, *, idempotency_key: str) -> SetupLink:
        """A `first` payment: paying it on the checkout page creates the mandate.

        Without an amount, the first payment is for the currency's smallest amount (one minor
        unit): Mollie has no first payment of nothing for SEPA mandates.
        """
        redirect = new.redirect_url or self._redirect_url
        if not redirect:
            raise UsageError(
                "a Mollie first payment needs a redirect URL: the page the customer returns to after paying",
                hint="give the provider a redirect_url",
            )
        amount = new.amount if new.amount is not None else Money.from_minor(1, new.currency)
        data: dict[str, Any] = {
            "amount": amount_of(amount),
            "description": new.description[:255],
            "sequenceType": "first",
            "customerId": new.customer_id,
            "redirectUrl": redirect,
        }
        if new.language:
            data["locale"] = locale_of(new.language)
        if new.metadata:
            data["metadata"] = new.metadata
        if self._webhook_url:
            data["webhookUrl"] = self._webhook_url
        raw = dict(
            self._call(
                "creating a first payment",
                lambda: _done(self._client.payments.create(data, idempotency_key=idempotency_key)),
                keyed=True,
            )
        )
        return SetupLink(
            NAME, raw["id"], raw["_links"]["checkout"]["href"], when_of(raw.get("expiresAt")), new.customer_id, raw
        )

    def get_setup_link_mandate(self, payment_id: str) -> str | None:
        return self.get_payment(payment_id).mandate_id

    def cancel_payment(self, payment_id: str) -> Payment:
        current = self.get_payment(payment_id)
        if not current.cancellable:
            raise OperationFailed(f"payment {payment_id} is {current.status}; it can no longer be cancelled")
        raw = self._call(
            f"cancelling payment {payment_id}",
            lambda: _done(self._client.payments.delete(payment_id, idempotency_key=f"cancel:{payment_id}")),
            keyed=True,
        )
        return payment_from(dict(raw))

    def refund(self, new: NewRefund, *, idempotency_key: str) -> Refund:
        """`POST /v2/payments/{id}/refunds`. Mollie keeps an idempotency key about an hour and
        advises reading the payment's refunds rather than creating again after a failed
        attempt (docs/fidelity.md): before each try, a refund carrying `new`'s metadata is the
        one a previous try or run made. A `409` "duplicate refund" (the same amount on the
        payment within the hour) is answered the same way, or refused when it is not ours."""
        what = f"refunding payment {new.payment_id}"
        resource = PaymentRefunds(self._client, MolliePayment({"id": new.payment_id}, self._client))
        data: dict[str, Any] = {"amount": amount_of(new.amount), "description": new.description[:140]}
        if new.metadata:
            data["metadata"] = new.metadata

        def create() -> Any:
            made = self._refund_made(resource, new)
            if made is not None:
                return made
            try:
                return _done(resource.create(data, idempotency_key=idempotency_key))
            except mollie_errors.ConflictError as exc:
                if "duplicate refund" not in str(exc).lower():
                    raise  # the same key still being processed: asked again
                found = self._refund_made(resource, new)
                if found is None:
                    raise OperationFailed(f"Mollie refused {what}: {exc}") from None
                return found

        return _refund_from(dict(self._call(what, create, keyed=True)))

    def _refund_made(self, resource: PaymentRefunds, new: NewRefund) -> dict[str, Any] | None:
        """Called inside `_call` (its errors are mapped there): one page is a payment's refunds."""
        if not new.metadata:
            return None
        for item in resource.list(limit=PAGE):
            raw = dict(item)
            metadata = raw.get("metadata") or {}
            if isinstance(metadata, dict) and all(metadata.get(k) == v for k, v in new.metadata.items()):
                return raw
        return None

    def iter_events(self, *, after: str | None = None) -> Iterator[ProviderEvent]:
        """Always empty: Mollie has no events API; sync lists newest first and refreshes open objects."""
        return iter(())


def _refund_from(raw: dict[str, Any]) -> Refund:
    return Refund(
        NAME,
        raw["id"],
        raw.get("paymentId") or "",
        money_from(raw["amount"]),
        raw.get("status") or "pending",
        when_of(raw.get("createdAt")),
        dict(raw.get("metadata") or {}) if isinstance(raw.get("metadata"), dict) else {},
        raw,
    )
