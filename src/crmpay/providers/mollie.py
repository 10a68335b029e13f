"""Mollie through the official mollie-api-python SDK.

The SDK retries only connection errors on https, never a 429 or a 5xx: calls go through
`with_retries`. Reads are safe to repeat; creates and cancels carry our idempotency key,
and Mollie replays the first answer for a repeated key. Mollie has no events API and no
bank-account resource: bank accounts are read from the mandates' `details`.
"""

from __future__ import annotations

import random
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
from crmpay.providers._retry import RetryPolicy, with_retries

T = TypeVar("T")
NAME = "mollie"
PAGE = 250
MANDATE_STATES = {"valid": MandateState.ACTIVE, "pending": MandateState.PENDING,
                  "invalid": MandateState.FAILED}


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def _last_segment(link: dict[str, Any] | None) -> str | None:
    return link["href"].rstrip("/").rsplit("/", 1)[-1] if link and link.get("href") else None


def customer_from(raw: dict[str, Any]) -> Customer:
    locale = raw.get("locale") or ""
    return Customer(NAME, raw["id"], raw.get("email"), raw.get("name"), None,
                    locale.split("_")[0] or None, _when(raw.get("createdAt")), dict(raw))


def mandate_from(raw: dict[str, Any], customer_id: str | None = None) -> Mandate:
    status = raw["status"]
    customer_id = customer_id or _last_segment((raw.get("_links") or {}).get("customer"))
    return Mandate(NAME, raw["id"], customer_id, raw["id"], status,
                   MANDATE_STATES.get(status, MandateState.PENDING), status == "valid",
                   "sepa_core" if raw.get("method") == "directdebit" else raw.get("method"),
                   raw.get("mandateReference"), "EUR", None, _day(raw.get("signatureDate")),
                   _when(raw.get("createdAt")), dict(raw))


def bank_account_from(mandate: Mandate) -> BankAccount:
    details = mandate.raw.get("details") or {}
    account = details.get("consumerAccount") or ""
    return BankAccount(NAME, mandate.id, mandate.customer_id, details.get("consumerName"),
                       account[-4:] or None, None, account[:2] or None, "EUR",
                       mandate.status == "valid", mandate.created_at, {"mandate": mandate.id})


def payment_from(raw: dict[str, Any]) -> Payment:
    status = raw["status"]
    amount = raw["amount"]
    money = Money(Decimal(amount["value"]), amount["currency"])
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
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    return Payment(NAME, raw["id"], money, status, state, bool(raw.get("isCancelable")),
                   raw.get("mandateId"), raw.get("customerId"), None, raw.get("description"), None,
                   {str(k): str(v) for k, v in metadata.items()}, _when(raw.get("createdAt")), dict(raw))


def _status(exc: BaseException) -> int:
    return int(getattr(exc, "status", 0) or 0)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (mollie_errors.RequestError, mollie_errors.ResponseHandlingError)):
        return True
    return isinstance(exc, mollie_errors.ResponseError) and (_status(exc) == 429 or _status(exc) >= 500)


class MollieProvider:
    name = NAME
    max_page_size = PAGE

    def __init__(self, api_key: str, *, environment: str = "live", base_url: str | None = None,
                 retry_policy: RetryPolicy | None = None, timeout: float = 30,
                 redirect_url: str | None = None) -> None:
        self._client = Client(timeout=(5, timeout))
        try:
            self._client.set_api_key(api_key)
        except mollie_errors.RequestSetupError:
            raise AuthError("Mollie API keys start with test_ or live_",
                            hint="copy the key from the Mollie dashboard (Developers > API keys)") from None
        if environment == "local":
            if not base_url:
                raise UsageError("mollie: environment 'local' needs a base URL")
            self._client.set_api_endpoint(base_url)
            redirect_url = redirect_url or f"{base_url.rstrip('/')}/__sandbox/mollie/thanks"
        elif environment != "live":
            raise UsageError(f"mollie: unknown environment {environment!r}")
        self._redirect_url = redirect_url
        self._customer_of_mandate: dict[str, str] = {}
        self._policy = retry_policy or RetryPolicy()
        self._rng = random.Random()

    # -- plumbing ----------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T], *, safe: bool = True) -> T:
        try:
            return with_retries(fn, is_transient=_is_transient, safe=safe, policy=self._policy, rng=self._rng)
        except mollie_errors.UnauthorizedError:
            raise AuthError("Mollie rejected the API key",
                            hint="run `crmpay connect mollie` with a valid key") from None
        except (mollie_errors.RequestError, mollie_errors.ResponseHandlingError) as exc:
            raise TemporaryError(f"cannot reach Mollie for {what}: {type(exc).__name__}") from None
        except mollie_errors.ResponseError as exc:
            status = _status(exc)
            if status == 403:
                raise AuthError(f"Mollie refused {what}: {exc}") from None
            if status == 429 or status >= 500:
                raise TemporaryError(f"Mollie is unavailable for {what}: {exc}") from None
            field = f" ({exc.field})" if getattr(exc, "field", None) else ""
            raise OperationFailed(f"Mollie refused {what}: {exc}{field}") from None

    def _pages(self, what: str, first: Callable[[], Any]) -> Iterator[dict[str, Any]]:
        page = self._call(what, first)
        while True:
            for item in page:
                yield dict(item)
            if not page.has_next():
                return
            current = page
            page = self._call(what, lambda: current.get_next())

    def _mandates_of(self, customer_id: str) -> CustomerMandates:
        return CustomerMandates(self._client, MollieCustomer({"id": customer_id}, self._client))

    # -- PaymentProvider ---------------------------------------------------------------------------
    def check_credentials(self) -> AccountCheck:
        page = self._call("the API key check", lambda: self._client.customers.list(limit=1))
        return AccountCheck(None, "Mollie", [] if page is not None else ["unexpected answer"])

    def iter_customers(self) -> Iterator[Customer]:
        return (customer_from(raw) for raw in
                self._pages("listing customers", lambda: self._client.customers.list(limit=PAGE)))

    def iter_mandates(self) -> Iterator[Mandate]:
        for customer in self.iter_customers():
            yield from self.iter_customer_mandates(customer.id)

    def iter_customer_mandates(self, customer_id: str) -> Iterator[Mandate]:
        """Mandates are listed per customer: Mollie has no listing of them all."""
        resource = self._mandates_of(customer_id)
        for raw in self._pages(f"listing mandates of {customer_id}", lambda: resource.list(limit=PAGE)):
            self._customer_of_mandate[raw["id"]] = customer_id
            yield mandate_from(raw, customer_id)

    def iter_bank_accounts(self) -> Iterator[BankAccount]:
        return (bank_account_from(mandate) for mandate in self.iter_mandates())

    def iter_payments(self, *, created_after: datetime | None = None) -> Iterator[Payment]:
        for raw in self._pages("listing payments", lambda: self._client.payments.list(limit=PAGE)):
            payment = payment_from(raw)
            if created_after and payment.created_at and payment.created_at <= created_after:
                return  # newest first: everything after this is older
            yield payment

    def get_customer(self, customer_id: str) -> Customer:
        return customer_from(dict(self._call(f"customer {customer_id}",
                                             lambda: self._client.customers.get(customer_id))))

    def get_mandate(self, mandate_id: str, *, customer_id: str | None = None) -> Mandate:
        customer_id = customer_id or self._customer_of_mandate.get(mandate_id)
        if customer_id is None:
            raise UsageError(f"Mollie mandate {mandate_id}: its customer is not known",
                             hint="run `crmpay sync` first, or give the customer")
        raw = self._call(f"mandate {mandate_id}", lambda: self._mandates_of(customer_id).get(mandate_id))
        return mandate_from(dict(raw), customer_id)

    def get_payment(self, payment_id: str) -> Payment:
        return payment_from(dict(self._call(f"payment {payment_id}",
                                            lambda: self._client.payments.get(payment_id))))

    def create_customer(self, new: NewCustomer, *, idempotency_key: str) -> Customer:
        data: dict[str, Any] = {"name": new.name, "email": new.email}
        if new.language:
            data["locale"] = {"fr": "fr_FR", "en": "en_US", "nl": "nl_NL", "de": "de_DE"}.get(new.language, "en_US")
        if new.metadata:
            data["metadata"] = new.metadata
        raw = self._call("creating a customer",
                         lambda: self._client.customers.create(data, idempotency_key=idempotency_key))
        return customer_from(dict(raw))

    def create_mandate(self, new: NewMandate, *, idempotency_key: str) -> Mandate:
        data: dict[str, Any] = {"method": "directdebit", "consumerName": new.holder_name,
                                "consumerAccount": new.iban}
        if new.bic:
            data["consumerBic"] = new.bic
        if new.signature_date:
            data["signatureDate"] = new.signature_date.isoformat()
        if new.reference:
            data["mandateReference"] = new.reference
        resource = self._mandates_of(new.customer_id)
        raw = self._call("creating a mandate", lambda: resource.create(data, idempotency_key=idempotency_key))
        self._customer_of_mandate[raw["id"]] = new.customer_id
        return mandate_from(dict(raw), new.customer_id)

    def create_payment(self, new: NewPayment, *, idempotency_key: str) -> Payment:
        if not new.customer_id:
            raise UsageError("a Mollie recurring payment needs the mandate's customer id")
        data: dict[str, Any] = {
            "amount": {"currency": new.amount.currency, "value": new.amount.decimal_string()},
            "description": new.description[:255], "sequenceType": "recurring",
            "customerId": new.customer_id, "mandateId": new.mandate_id,
        }
        if new.metadata:
            data["metadata"] = new.metadata
        raw = self._call("creating a payment",
                         lambda: self._client.payments.create(data, idempotency_key=idempotency_key))
        return payment_from(dict(raw))

    def create_setup_link(self, new: NewSetupLink, *, idempotency_key: str) -> SetupLink:
        """A `first` payment for the amount: paying it creates the mandate."""
        if new.amount is None:
            raise UsageError("a Mollie mandate-setup link is a first payment: it needs an amount")
        if not self._redirect_url:
            raise UsageError("a Mollie first payment needs a redirect URL",
                             hint="crmpay config set mollie.redirect_url https://your-site/thanks")
        data: dict[str, Any] = {
            "amount": {"currency": new.amount.currency, "value": new.amount.decimal_string()},
            "description": new.description[:255], "sequenceType": "first",
            "customerId": new.customer_id, "redirectUrl": new.redirect_url or self._redirect_url,
        }
        if new.metadata:
            data["metadata"] = new.metadata
        raw = dict(self._call("creating a first payment",
                              lambda: self._client.payments.create(data, idempotency_key=idempotency_key)))
        return SetupLink(NAME, raw["id"], raw["_links"]["checkout"]["href"], _when(raw.get("expiresAt")),
                         new.customer_id, raw)

    def get_setup_link_mandate(self, payment_id: str) -> str | None:
        return self.get_payment(payment_id).mandate_id

    def cancel_payment(self, payment_id: str) -> Payment:
        current = self.get_payment(payment_id)
        if not current.cancellable:
            raise OperationFailed(f"payment {payment_id} is {current.status}; it can no longer be cancelled")
        raw = self._call(f"cancelling payment {payment_id}",
                         lambda: self._client.payments.delete(payment_id, idempotency_key=f"cancel:{payment_id}"))
        return payment_from(dict(raw))

    def iter_events(self, *, after: str | None = None) -> Iterator[ProviderEvent]:
        """Mollie has no events API: sync lists newest first and refreshes open objects."""
        return iter(())
