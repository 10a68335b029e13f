"""GoCardless through the official gocardless-pro SDK.

The SDK retries only network errors and never a 429 or a 5xx: every call goes through
`with_retries`. Reads are always safe to repeat; creates are, because each carries our
own idempotency key (a replay answers 409, and the SDK then fetches the existing object).
Actions (cancel, retry) are not repeated.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import gocardless_pro
import requests
from gocardless_pro import errors as gc_errors

from crmpay.core.clock import now
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
from crmpay.providers import _paging
from crmpay.providers.base import EventsExpired
from crmpay.providers.gocardless_records import (  # noqa: F401  (mappers are part of this module's API)
    MANDATE_STATES,
    PAYMENT_STATES,
    SCHEME_CURRENCY,
    USABLE,
    account_check_from,
    bank_account_from,
    customer_from,
    error_message,
    event_from,
    mandate_from,
    payment_from,
    validation_message,
    when_of,
)
from crmpay.providers.gocardless_refunds import GoCardlessRefunds
from crmpay.retry import RetryPolicy, attempt_timeouts, waiting_on, with_retries

T = TypeVar("T")
NAME = "gocardless"
PAGE = 500
EVENT_RETENTION = timedelta(days=540)
"""GoCardless stops returning events after 18 months; a cursor older than this (a little
less, to be safe) cannot be trusted to see every change, so sync reads everything again."""
LISTINGS = {  # name: (what an error calls it, the SDK's service)
    "customers": ("listing customers", "customers"),
    "bank_accounts": ("listing bank accounts", "customer_bank_accounts"),
    "mandates": ("listing mandates", "mandates"),
    "payments": ("listing payments", "payments"),
}


def _is_transient(exc: BaseException) -> bool:
    if isinstance(
        exc,
        (
            gc_errors.RateLimitError,
            gc_errors.GoCardlessInternalError,
            gc_errors.MalformedResponseError,
            requests.ConnectionError,
            requests.Timeout,
        ),
    ):
        return True
    return isinstance(exc, gc_errors.ApiError) and (exc.code or 0) >= 500


class GoCardlessProvider(GoCardlessRefunds):
    name = NAME
    max_page_size = PAGE
    currencies = frozenset(SCHEME_CURRENCY.values())  # one per direct-debit scheme

    def __init__(
        self,
        access_token: str,
        *,
        environment: str = "sandbox",
        base_url: str | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: float | tuple[float, float] | None = None,  # None: retry.attempt_timeouts()
    ) -> None:
        timeout = tuple(timeout) if isinstance(timeout, list) else (timeout or attempt_timeouts())
        if environment == "local":
            if not base_url:
                raise UsageError("gocardless: environment 'local' needs a base URL")
            self._client = gocardless_pro.Client(access_token=access_token, base_url=base_url, timeout=timeout)
        elif environment in ("live", "sandbox"):
            self._client = gocardless_pro.Client(access_token=access_token, environment=environment, timeout=timeout)
        else:
            raise UsageError(f"gocardless: unknown environment {environment!r}")
        self._policy = retry_policy or RetryPolicy()
        self._rng = random.Random()
        self._customer_of_mandate: dict[str, str | None] = {}
        self._spec = {
            "access_token": access_token,
            "environment": environment,
            "base_url": base_url,
            "timeout": timeout,
            "retry_policy": asdict(self._policy),
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> GoCardlessProvider:
        """The same provider in another process (`_background`): settings, token and retries."""
        return cls(
            spec["access_token"],
            environment=spec["environment"],
            base_url=spec["base_url"],
            timeout=spec["timeout"],
            retry_policy=RetryPolicy(**spec["retry_policy"]),
        )

    # -- plumbing ----------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T], *, safe: bool = True) -> T:
        try:
            with waiting_on("GoCardless"):
                return with_retries(fn, is_transient=_is_transient, safe=safe, policy=self._policy, rng=self._rng)
        except gc_errors.AuthenticationError:
            raise AuthError(
                "GoCardless rejected the access token", hint="run `crmpay connect gocardless` with a valid token"
            ) from None
        except gc_errors.PermissionsError as exc:
            raise AuthError(f"GoCardless refused {what}: {exc.message}") from None
        except (gc_errors.RateLimitError, gc_errors.GoCardlessInternalError, gc_errors.MalformedResponseError) as exc:
            raise TemporaryError(f"GoCardless is unavailable for {what}: {error_message(exc)}") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TemporaryError(f"cannot reach GoCardless for {what}: {type(exc).__name__}") from None
        except gc_errors.ValidationFailedError as exc:
            raise OperationFailed(f"GoCardless refused {what}: {validation_message(exc)}") from None
        except gc_errors.InvalidApiUsageError as exc:
            if exc.code == 404:
                raise OperationFailed(f"GoCardless: {what}: not found") from None
            raise OperationFailed(f"GoCardless refused {what}: {error_message(exc)}") from None
        except gc_errors.ApiError as exc:
            raise OperationFailed(f"GoCardless refused {what}: {error_message(exc)}") from None
        except gc_errors.GoCardlessProError as exc:  # refused by the SDK before sending
            raise OperationFailed(f"GoCardless: {what}: {exc}") from None

    def _page_list(self, what: str, service: Any, params: dict[str, Any] | None) -> Iterator[list[dict[str, Any]]]:
        """The raw records of a listing a page at a time, newest first, following `after` at
        the largest page size."""
        cursor = None
        while True:
            query = {**(params or {}), "limit": PAGE}
            if cursor:
                query["after"] = cursor
            page = self._call(what, partial(service.list, params=query))
            yield [record.attributes for record in page.records]
            cursor = page.after
            if not cursor:
                return

    def _pages(
        self, what: str, service: Any, params: dict[str, Any] | None = None, *, read_ahead: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every raw record of a listing, one after the other."""
        pages = self._page_list(what, service, params)
        for records in _paging.read_ahead(pages) if read_ahead else pages:
            yield from records

    def raw_pages(self, listing: str, params: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """The raw records of one of LISTINGS, a page at a time."""
        what, service = LISTINGS[listing]
        return self._page_list(what, getattr(self._client, service), params)

    def _listing(
        self, name: str, params: dict[str, Any] | None = None, *, read_ahead: bool = False
    ) -> Iterator[dict[str, Any]]:
        what, service = LISTINGS[name]
        return self._pages(what, getattr(self._client, service), params, read_ahead=read_ahead)

    def iter_all(self) -> Iterator[Customer | BankAccount | Mandate | Payment]:
        """Every customer, bank account, mandate and payment, in that order: what a full sync
        reads. The pages are read by a child process (`_background`) while this one maps and
        stores them; in this process, a page ahead, when no child can run."""
        from crmpay.providers import _background

        names = ("customers", "bank_accounts", "mandates", "payments")
        pages = _background.read_listings(NAME, self._spec, [(name, None) for name in names])
        if pages is None:
            pages = _paging.read_ahead(
                (index, records) for index, name in enumerate(names) for records in self.raw_pages(name)
            )
        mappers = (customer_from, bank_account_from, self._mandate, self._payment)
        for index, records in pages:
            mapper = mappers[index]
            for raw in records:
                yield mapper(raw)

    def _mandate(self, raw: dict[str, Any]) -> Mandate:
        mandate = mandate_from(raw)
        self._customer_of_mandate[mandate.id] = mandate.customer_id
        return mandate

    def _customer_of(self, raw: dict[str, Any]) -> str | None:
        """The customer of a payment's mandate, when this provider has read that mandate."""
        mandate = (raw.get("links") or {}).get("mandate")
        return self._customer_of_mandate.get(mandate) if mandate else None

    def _payment(self, raw: dict[str, Any]) -> Payment:
        return payment_from(raw, self._customer_of(raw))

    # -- PaymentProvider ---------------------------------------------------------------------------
    def check_credentials(self) -> AccountCheck:
        page = self._call("the creditor check", lambda: self._client.creditors.list(params={"limit": 1}))
        if not page.records:
            return AccountCheck(None, None, ["the GoCardless account has no creditor yet"])
        return account_check_from(page.records[0].attributes)

    def iter_customers(self, *, read_ahead: bool = False) -> Iterator[Customer]:
        return map(customer_from, self._listing("customers", read_ahead=read_ahead))

    def iter_customer_mandates(self, customer_id: str) -> Iterator[Mandate]:
        return map(self._mandate, self._listing("mandates", {"customer": customer_id}))

    def iter_bank_accounts(self, *, read_ahead: bool = False) -> Iterator[BankAccount]:
        return map(bank_account_from, self._listing("bank_accounts", read_ahead=read_ahead))

    def iter_mandates(self, *, read_ahead: bool = False) -> Iterator[Mandate]:
        return map(self._mandate, self._listing("mandates", read_ahead=read_ahead))

    def iter_payments(self, *, created_after: datetime | None = None, read_ahead: bool = False) -> Iterator[Payment]:
        params = None
        if created_after:
            stamp = (
                created_after.replace(tzinfo=UTC)
                if created_after.tzinfo is None  # naive: UTC
                else created_after.astimezone(UTC)
            )
            params = {"created_at[gt]": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond:06d}Z"}
        return map(self._payment, self._listing("payments", params, read_ahead=read_ahead))

    def get_customer(self, customer_id: str) -> Customer:
        return customer_from(
            self._call(f"customer {customer_id}", lambda: self._client.customers.get(customer_id)).attributes
        )

    def get_mandate(self, mandate_id: str, *, customer_id: str | None = None) -> Mandate:
        mandate = mandate_from(
            self._call(f"mandate {mandate_id}", lambda: self._client.mandates.get(mandate_id)).attributes
        )
        self._customer_of_mandate[mandate.id] = mandate.customer_id
        return mandate

    def get_payment(self, payment_id: str) -> Payment:
        raw = self._call(f"payment {payment_id}", lambda: self._client.payments.get(payment_id)).attributes
        mandate_id = (raw.get("links") or {}).get("mandate")
        if mandate_id and mandate_id not in self._customer_of_mandate:
            self.get_mandate(mandate_id)
        return payment_from(raw, self._customer_of(raw))

    def create_customer(self, new: NewCustomer, *, idempotency_key: str) -> Customer:
        given, family = new.given_name, new.family_name
        if not (given or family):
            given, _, family = new.name.partition(" ")
        params = {
            "email": new.email,
            "given_name": given or None,
            "family_name": family or None,
            "company_name": new.company_name,
            "language": new.language,
            "country_code": new.country_code,
            "metadata": new.metadata,
        }
        raw = self._call(
            "creating a customer",
            lambda: self._client.customers.create(
                params={k: v for k, v in params.items() if v not in (None, {})},
                headers={"Idempotency-Key": idempotency_key},
            ),
        ).attributes
        return customer_from(raw)

    def create_mandate(self, new: NewMandate, *, idempotency_key: str) -> Mandate:
        """A bank account from the IBAN (reused when it exists), then the mandate on it."""

        def bank_account() -> str:
            try:
                return self._client.customer_bank_accounts.create(
                    params={
                        "account_holder_name": new.holder_name,
                        "iban": new.iban,
                        "links": {"customer": new.customer_id},
                    },
                    headers={"Idempotency-Key": f"{idempotency_key}:bank_account"},
                ).id
            except gc_errors.ValidationFailedError as exc:
                for error in exc.errors or []:
                    if error.get("reason") == "bank_account_exists":
                        return error["links"]["customer_bank_account"]
                raise

        account_id = self._call("creating a bank account", bank_account)
        params: dict[str, Any] = {"scheme": new.scheme, "links": {"customer_bank_account": account_id}}
        if new.reference:
            params["reference"] = new.reference
        if new.metadata:
            params["metadata"] = new.metadata
        raw = self._call(
            "creating a mandate",
            lambda: self._client.mandates.create(params=params, headers={"Idempotency-Key": idempotency_key}),
        ).attributes
        mandate = mandate_from(raw)
        self._customer_of_mandate[mandate.id] = mandate.customer_id
        return mandate

    def create_payment(self, new: NewPayment, *, idempotency_key: str) -> Payment:
        params: dict[str, Any] = {
            "amount": new.amount.minor,
            "currency": new.amount.currency,
            "description": new.description,
            "links": {"mandate": new.mandate_id},
        }
        if new.charge_date:
            params["charge_date"] = new.charge_date.isoformat()
        if new.reference:
            params["reference"] = new.reference
        if new.metadata:
            params["metadata"] = dict(list(new.metadata.items())[:3])
        raw = self._call(
            "creating a payment",
            lambda: self._client.payments.create(params=params, headers={"Idempotency-Key": idempotency_key}),
        ).attributes
        return payment_from(raw, new.customer_id or self._customer_of_mandate.get(new.mandate_id))

    def create_setup_link(self, new: NewSetupLink, *, idempotency_key: str) -> SetupLink:
        """A billing request (mandate, plus a first payment with an amount) and its flow."""
        request: dict[str, Any] = {
            "mandate_request": {"scheme": new.scheme, "currency": new.currency},
            "links": {"customer": new.customer_id},
        }
        if new.amount is not None:
            request["payment_request"] = {
                "amount": new.amount.minor,
                "currency": new.amount.currency,
                "description": new.description,
            }
        if new.metadata:
            request["metadata"] = dict(list(new.metadata.items())[:3])
        br = self._call(
            "creating a billing request",
            lambda: self._client.billing_requests.create(
                params=request, headers={"Idempotency-Key": f"{idempotency_key}:billing_request"}
            ),
        ).attributes
        flow_params = {
            "links": {"billing_request": br["id"]},
            "lock_currency": True,
            "redirect_uri": new.redirect_url,
            "language": new.language,
        }
        flow_params = {k: v for k, v in flow_params.items() if v is not None}

        def flow() -> dict[str, Any]:
            try:
                return self._client.billing_request_flows.create(
                    params=flow_params, headers={"Idempotency-Key": f"{idempotency_key}:flow"}
                ).attributes
            except gc_errors.IdempotentCreationConflictError:
                # The API cannot read a flow back, and the SDK does not try: a second flow for
                # the same billing request is harmless (both links fulfil the one request).
                return self._client.billing_request_flows.create(params=flow_params).attributes

        raw = self._call("creating a billing request flow", flow)
        return SetupLink(
            NAME,
            br["id"],
            raw["authorisation_url"],
            when_of(raw.get("expires_at")),
            new.customer_id,
            {"billing_request": br, "flow": raw},
        )

    def get_setup_link_mandate(self, billing_request_id: str) -> str | None:
        """The mandate a fulfilled billing request created, if any."""
        raw = self._call(
            f"billing request {billing_request_id}", lambda: self._client.billing_requests.get(billing_request_id)
        ).attributes
        return (raw.get("links") or {}).get("mandate_request_mandate")

    # -- mandate imports (bulk migration of existing mandates) ----------------------------------
    def create_mandate_import(self, scheme: str, *, idempotency_key: str) -> dict[str, Any]:
        def create() -> Any:
            try:
                return self._client.mandate_imports.create(
                    params={"scheme": scheme}, headers={"Idempotency-Key": idempotency_key}
                )
            except gc_errors.PermissionsError:  # 403: the feature, not the token
                raise OperationFailed(
                    "mandate imports are not enabled on this GoCardless account (a feature GoCardless turns on "
                    "on request)",
                    hint="ask GoCardless support to enable mandate imports, or import with --provider none",
                ) from None

        return self._call("creating a mandate import", create).attributes

    def get_mandate_import(self, import_id: str) -> dict[str, Any]:
        return self._call(f"mandate import {import_id}", lambda: self._client.mandate_imports.get(import_id)).attributes

    def mandate_import_entries(self, import_id: str) -> list[dict[str, Any]]:
        return list(
            self._pages(f"entries of {import_id}", self._client.mandate_import_entries, {"mandate_import": import_id})
        )

    def add_mandate_import_entry(self, import_id: str, entry: dict[str, Any]) -> None:
        params = {**entry, "links": {"mandate_import": import_id}}
        self._call(
            f"adding {entry.get('record_identifier')} to {import_id}",
            lambda: self._client.mandate_import_entries.create(params=params),
            safe=False,
        )

    def submit_mandate_import(self, import_id: str) -> dict[str, Any]:
        return self._call(
            f"submitting {import_id}", lambda: self._client.mandate_imports.submit(import_id), safe=False
        ).attributes

    def get_bank_account(self, account_id: str) -> BankAccount:
        return bank_account_from(
            self._call(
                f"bank account {account_id}", lambda: self._client.customer_bank_accounts.get(account_id)
            ).attributes
        )

    def bank_account_of(self, mandate: Mandate) -> BankAccount | None:
        return self.get_bank_account(mandate.bank_account_id) if mandate.bank_account_id else None

    def latest_event_cursor(self) -> str:
        """Where a first sync starts reading events from: the newest event's cursor, or an
        hour ago when there is none (an hour of clock difference is read again, harmlessly)."""
        page = self._call("listing events", lambda: self._client.events.list(params={"limit": 1}))
        if page.records:
            return event_from(page.records[0].attributes).cursor
        return ProviderEvent(NAME, "", now() - timedelta(hours=1), "", "", None).cursor

    def cancel_payment(self, payment_id: str) -> Payment:
        raw = self._call(
            f"cancelling payment {payment_id}", lambda: self._client.payments.cancel(payment_id), safe=False
        ).attributes
        return payment_from(raw, self._customer_of(raw))

    def retry_payment(self, payment_id: str, *, charge_date: date | None = None) -> Payment:
        """A failed payment submitted again (`actions/retry`: at most 3 times); never repeated by us."""
        params = {"charge_date": charge_date.isoformat()} if charge_date else None
        call = partial(self._client.payments.retry, payment_id, params=params)
        raw = self._call(f"retrying payment {payment_id}", call, safe=False).attributes
        return payment_from(raw, self._customer_of(raw))

    def iter_events(self, *, after: str | None = None) -> Iterator[ProviderEvent]:
        """Events newer than the cursor `after` (from `event_cursor`), oldest first.

        Read with `created_at[gte]` the cursor's time, newest first along `after` (GoCardless
        documents the filter; it does not document which page `before=` answers), then
        turned round; the events of the cursor's millisecond up to the cursor itself are
        dropped (the caller also drops any event it has already applied). A cursor older than the event
        retention raises `EventsExpired` before anything is read: events may be missing.
        """
        params: dict[str, Any] = {}
        skip = None
        if after:
            since, skip = self._cursor_time(after)
            if since < now() - EVENT_RETENTION:
                raise EventsExpired(f"the events cursor is from {since:%Y-%m-%d}, older than GoCardless keeps events")
            params["created_at[gte]"] = since.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        oldest_first = [event_from(raw) for raw in self._pages("listing events", self._client.events, params)][::-1]
        ids = [event.id for event in oldest_first]
        start = ids.index(skip) + 1 if skip in ids else 0  # the cursor's own millisecond, up to the cursor
        yield from oldest_first[start:]

    def _cursor_time(self, cursor: str) -> tuple[datetime, str]:
        """The time and id of a cursor; a bare event id (as stored before) is looked up."""
        since, ident = ProviderEvent.parse_cursor(cursor)
        if since is not None:
            return since, ident
        try:
            raw = self._call("reading the last event", lambda: self._client.events.get(ident)).attributes
        except OperationFailed as exc:
            if not str(exc).endswith("not found"):
                raise
            # gone: older than the retention
            raise EventsExpired(f"event {ident} is no longer kept by GoCardless") from None
        return event_from(raw).created_at, ident
