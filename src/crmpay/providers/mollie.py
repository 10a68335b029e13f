"""Mollie through the official mollie-api-python SDK.

The SDK retries only connection errors on https, never a 429 or a 5xx: calls go through
`with_retries`. Reads are safe to repeat; creates and cancels carry our idempotency key,
and Mollie replays the first answer for a repeated key (a `202 Accepted` body, the answer
while the first request is still being processed, is retried like a 5xx).

Mollie has no events API (`iter_events` is an empty iterator: sync lists newest first and
refreshes what is not final) and no bank-account resource: `iter_bank_accounts` yields one
account per mandate, read from its `details`, with the mandate's id and only the last four
characters of the IBAN.

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
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from mollie.api import error as mollie_errors
from mollie.api.client import Client
from mollie.api.objects.customer import Customer as MollieCustomer
from mollie.api.resources.mandates import CustomerMandates

from crmpay.core.errors import AuthError, OperationFailed, TemporaryError, UsageError
from crmpay.core.models import (
    AccountCheck,
    BankAccount,
    Customer,
    Mandate,
    MandateState,
    NewCustomer,
    NewMandate,
    NewPayment,
    NewSetupLink,
    Payment,
    PaymentState,
    ProviderEvent,
    SetupLink,
)
from crmpay.core.money import Money
from crmpay.providers import _paging
from crmpay.retry import RetryPolicy, with_retries

T = TypeVar("T")
NAME = "mollie"
PAGE = 250
MANDATE_STATES = {"valid": MandateState.ACTIVE, "pending": MandateState.PENDING, "invalid": MandateState.FAILED}


def _when(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def money_from(amount: dict[str, Any]) -> Money:
    """`{"currency": "EUR", "value": "10.00"}` as exact Money, never through a float."""
    return Money(Decimal(amount["value"]), amount["currency"])


def _amount(money: Money) -> dict[str, str]:
    return {"currency": money.currency, "value": money.decimal_string()}


_LOCALES = {
    "fr": "fr_FR",
    "en": "en_US",
    "nl": "nl_NL",
    "de": "de_DE",
    "es": "es_ES",
    "it": "it_IT",
    "pt": "pt_PT",
    "ca": "ca_ES",
    "nb": "nb_NO",
    "sv": "sv_SE",
    "fi": "fi_FI",
    "da": "da_DK",
    "is": "is_IS",
    "hu": "hu_HU",
    "pl": "pl_PL",
    "lv": "lv_LV",
    "lt": "lt_LT",
}


def _locale(language: str) -> str:
    return _LOCALES.get(language.lower()[:2], "en_US")


def _last_segment(link: dict[str, Any] | None) -> str | None:
    return link["href"].rstrip("/").rsplit("/", 1)[-1] if link and link.get("href") else None


def customer_from(raw: dict[str, Any]) -> Customer:
    locale = raw.get("locale") or ""
    return Customer(
        NAME,
        raw["id"],
        raw.get("email"),
        raw.get("name"),
        None,
        locale.split("_")[0] or None,
        _when(raw.get("createdAt")),
        dict(raw),
    )


def mandate_from(raw: dict[str, Any], customer_id: str | None = None) -> Mandate:
    status = raw["status"]
    customer_id = customer_id or _last_segment((raw.get("_links") or {}).get("customer"))
    return Mandate(
        NAME,
        raw["id"],
        customer_id,
        raw["id"],
        status,
        MANDATE_STATES.get(status, MandateState.PENDING),
        status == "valid",
        "sepa_core" if raw.get("method") == "directdebit" else raw.get("method"),
        raw.get("mandateReference"),
        "EUR",
        None,
        _day(raw.get("signatureDate")),
        _when(raw.get("createdAt")),
        dict(raw),
    )


def bank_account_from(mandate: Mandate) -> BankAccount:
    details = mandate.raw.get("details") or {}
    account = details.get("consumerAccount") or ""
    return BankAccount(
        NAME,
        mandate.id,
        mandate.customer_id,
        details.get("consumerName"),
        account[-4:] or None,
        None,
        account[:2] or None,
        "EUR",
        mandate.status == "valid",
        mandate.created_at,
        {"mandate": mandate.id},
    )


def payment_from(raw: dict[str, Any]) -> Payment:
    status = raw["status"]
    money = money_from(raw["amount"])
    charged_back = raw.get("amountChargedBack")
    if charged_back and Decimal(charged_back.get("value") or "0") > 0:
        state = PaymentState.CHARGED_BACK
    elif status == "open":
        state = PaymentState.PENDING
    elif status in ("pending", "authorized"):
        state = PaymentState.PENDING if raw.get("isCancelable") else PaymentState.SUBMITTED
    elif status == "paid":
        state = PaymentState.PAID
    elif status == "canceled":
        state = PaymentState.CANCELLED
    else:  # expired, failed
        state = PaymentState.FAILED
    metadata = raw.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    details = raw.get("details")
    details = details if isinstance(details, dict) else {}
    return Payment(
        NAME,
        raw["id"],
        money,
        status,
        state,
        bool(raw.get("isCancelable")),
        raw.get("mandateId"),
        raw.get("customerId"),
        _day(details.get("dueDate")),
        raw.get("description"),
        None,
        {str(k): str(v) for k, v in metadata.items()},
        _when(raw.get("createdAt")),
        dict(raw),
    )


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


def _done(result: Any) -> Any:
    """A create's answer; `202 Accepted` (first request still running) is retried."""
    if isinstance(result, dict) and "id" not in result and result.get("status") == 202:
        raise _Accepted(result.get("detail") or "accepted, not yet processed")
    return result


class MollieProvider:
    name = NAME
    max_page_size = PAGE

    def __init__(
        self,
        api_key: str,
        *,
        environment: str = "live",
        base_url: str | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: float = 30,
        redirect_url: str | None = None,
    ) -> None:
        # requests takes float timeouts; the SDK's annotation says int
        self._client = Client(timeout=(5, timeout))  # type: ignore[arg-type]
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
        self._mode = "test" if api_key.startswith("test_") else "live"
        self._customer_of_mandate: dict[str, str] = {}
        self._policy = retry_policy or RetryPolicy()
        self._rng = random.Random()

    # -- plumbing ----------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T], *, safe: bool = True) -> T:
        try:
            return with_retries(fn, is_transient=_is_transient, safe=safe, policy=self._policy, rng=self._rng)
        except mollie_errors.UnauthorizedError:
            raise AuthError(
                "Mollie rejected the API key", hint="run `crmpay connect mollie` with a valid key"
            ) from None
        except mollie_errors.RequestSetupError as exc:
            raise UsageError(f"cannot ask Mollie for {what}: {exc}") from None
        except _Accepted:
            raise TemporaryError(f"Mollie is still processing {what}; run the command again later") from None
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
            data["locale"] = _locale(new.language)
        if new.metadata:
            data["metadata"] = new.metadata
        raw = self._call(
            "creating a customer", lambda: _done(self._client.customers.create(data, idempotency_key=idempotency_key))
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
        raw = self._call("creating a mandate", lambda: _done(resource.create(data, idempotency_key=idempotency_key)))
        self._customer_of_mandate[raw["id"]] = new.customer_id
        return mandate_from(dict(raw), new.customer_id)

    def create_payment(self, new: NewPayment, *, idempotency_key: str) -> Payment:
        if not new.customer_id:
            raise UsageError("a Mollie recurring payment needs the mandate's customer id")
        data: dict[str, Any] = {
            "amount": _amount(new.amount),
            "description": new.description[:255],
            "sequenceType": "recurring",
            "customerId": new.customer_id,
            "mandateId": new.mandate_id,
        }
        if new.metadata:
            data["metadata"] = new.metadata
        raw = self._call(
            "creating a payment", lambda: _done(self._client.payments.create(data, idempotency_key=idempotency_key))
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
            "amount": _amount(amount),
            "description": new.description[:255],
            "sequenceType": "first",
            "customerId": new.customer_id,
            "redirectUrl": redirect,
        }
        if new.language:
            data["locale"] = _locale(new.language)
        if new.metadata:
            data["metadata"] = new.metadata
        raw = dict(
            self._call(
                "creating a first payment",
                lambda: _done(self._client.payments.create(data, idempotency_key=idempotency_key)),
            )
        )
        return SetupLink(
            NAME, raw["id"], raw["_links"]["checkout"]["href"], _when(raw.get("expiresAt")), new.customer_id, raw
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
        )
        return payment_from(dict(raw))

    def iter_events(self, *, after: str | None = None) -> Iterator[ProviderEvent]:
        """Always empty: Mollie has no events API; sync lists newest first and refreshes open objects."""
        return iter(())
