"""The GoCardless Pro API, simulated: served at the root, as the SDK drops path prefixes.

Shapes follow GoCardless's own response fixtures (`tests/fixtures/gocardless`: every key
is present), rules follow the GoCardless API reference (sources in `docs/fidelity.md`):
envelopes by resource name, newest-first lists with `meta.cursors`, `limit` <= 500,
error bodies with typed `errors`, `RateLimit-*` headers on every answer, `Idempotency-Key` conflicts answered 409 with
`conflicting_resource_id`, 401 for a wrong or missing bearer token.

Lifecycles move when the sandbox clock advances, in working days:
- mandates: pending_submission -> submitted the next working day -> active two working
  days later; `next_possible_charge_date` is computed when a mandate is read;
- payments: pending_submission -> submitted two working days before the charge date ->
  confirmed on the charge date -> paid_out two working days after it;
- mandate imports: submitted -> processed on the next advance.
Every change emits an event. Scenario simulators force the other outcomes, and
`/__sandbox/gocardless/flow/{id}` is the page a customer fills in to fulfil a billing
request.

Built for 100,000 payments: objects live in creation order with a position map, links
that lists filter on (customer, mandate, ...) have an index of ids in creation order, and
the clock only visits objects that are due (a heap of due dates), so a page or a day
costs what it returns, not the size of the tables.
"""

from __future__ import annotations

import bisect
import calendar
import heapq
import html
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from crmpay.core.calendar import add_working_days, next_working_day, working_days_before
from crmpay.core.money import exponent
from crmpay.core.validation import compact_iban, iban_problems
from crmpay.sandbox._http import HttpError, Request, Response, Router
from crmpay.sandbox._tables import Tables
from crmpay.sandbox.clock import iso

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox

TOKEN = "sandbox_crmpay-local-access-token"
DOCS = "https://developer.gocardless.com/api-reference"
DEFAULT_LIMIT = 50
EVENT_RETENTION_MONTHS = 18  # events older than this are no longer returned
MAX_LIMIT = 500
RATE_LIMIT = 1000  # requests per minute, as the real API announces
SCHEME_CURRENCY = {
    "bacs": "GBP",
    "faster_payments": "GBP",
    "sepa_core": "EUR",
    "ach": "USD",
    "autogiro": "SEK",
    "betalingsservice": "DKK",
    "becs": "AUD",
    "becs_nz": "NZD",
    "pad": "CAD",
    "pay_to": "AUD",
}
CURRENCY_SCHEME = {
    "EUR": "sepa_core",
    "GBP": "bacs",
    "SEK": "autogiro",
    "DKK": "betalingsservice",
    "USD": "ach",
    "AUD": "becs",
    "NZD": "becs_nz",
    "CAD": "pad",
}
COUNTRY_CURRENCY = {"GB": "GBP", "SE": "SEK", "DK": "DKK"}
REFERENCE_LIMITS = {
    "ach": 10,
    "bacs": 10,
    "autogiro": 11,
    "becs": 30,
    "becs_nz": 12,
    "betalingsservice": 30,
    "pay_to": 18,
}
USABLE_MANDATE = frozenset({"pending_customer_approval", "pending_submission", "submitted", "active"})
ENDED_MANDATE = frozenset({"cancelled", "failed", "expired", "consumed", "blocked"})
VERIFICATION_STATUSES = ("successful", "in_review", "action_required")
KINDS = (
    "customers",
    "customer_bank_accounts",
    "mandates",
    "payments",
    "billing_requests",
    "billing_request_flows",
    "mandate_imports",
    "mandate_import_entries",
    "events",
    "creditors",
)
ID_PREFIX = {
    "customers": "CU",
    "customer_bank_accounts": "BA",
    "mandates": "MD",
    "payments": "PM",
    "billing_requests": "BRQ",
    "billing_request_flows": "BRF",
    "mandate_imports": "IM",
    "mandate_import_entries": "IME",
    "events": "EV",
    "creditors": "CR",
}
# Links that listings filter on, indexed per kind: ids in creation order for each value.
INDEXED: dict[str, tuple[str, ...]] = {
    "customer_bank_accounts": ("customer",),
    "mandates": ("customer", "customer_bank_account"),
    "payments": ("mandate", "customer"),
    "billing_requests": ("customer",),
    "mandate_import_entries": ("mandate_import",),
    "events": (
        "payment",
        "mandate",
        "customer",
        "customer_bank_account",
        "billing_request",
        "billing_request_flow",
        "creditor",
    ),
}
EVENT_INDEXED = frozenset(INDEXED["events"])
EVENT_LINKS = (
    "bank_authorisation",
    "billing_request",
    "billing_request_flow",
    "creditor",
    "customer",
    "customer_bank_account",
    "instalment_schedule",
    "mandate",
    "mandate_request",
    "mandate_request_mandate",
    "new_customer_bank_account",
    "new_mandate",
    "organisation",
    "outbound_payment",
    "parent_event",
    "payer_authorisation",
    "payment",
    "payment_account_transaction",
    "payment_request_payment",
    "payout",
    "previous_customer_bank_account",
    "refund",
    "scheme_identifier",
    "subscription",
)
EVENT_DETAILS = (
    "bank_account_id",
    "cause",
    "currency",
    "description",
    "item_count",
    "not_retried_reason",
    "origin",
    "property",
    "reason_code",
    "scheme",
    "will_attempt_retry",
)
# The link that names an event's own resource, by resource_type.
EVENT_SUBJECT = {
    "payments": "payment",
    "mandates": "mandate",
    "customers": "customer",
    "customer_bank_accounts": "customer_bank_account",
    "billing_requests": "billing_request",
    "creditors": "creditor",
}
EVENT_FILTERS = ("payment", "mandate", "customer", "customer_bank_account", "billing_request")
INCLUDABLE = {
    "payment": "payments",
    "mandate": "mandates",
    "customer": "customers",
    "customer_bank_account": "customer_bank_accounts",
    "billing_request": "billing_requests",
    "creditor": "creditors",
}
PREFILL_KEYS = (
    "address_line1",
    "address_line2",
    "address_line3",
    "city",
    "company_name",
    "country_code",
    "danish_identity_number",
    "email",
    "family_name",
    "given_name",
    "postal_code",
    "region",
    "swedish_identity_number",
)
CUSTOMER_FIELDS = (
    "email",
    "given_name",
    "family_name",
    "company_name",
    "address_line1",
    "address_line2",
    "address_line3",
    "city",
    "region",
    "postal_code",
    "country_code",
    "language",
    "phone_number",
    "danish_identity_number",
    "swedish_identity_number",
)
SCENARIOS = (
    "payment_confirmed",
    "payment_paid_out",
    "payment_failed",
    "payment_charged_back",
    "payment_submitted",
    "mandate_activated",
    "mandate_failed",
    "mandate_expired",
    "creditor_verification_status_action_required",
    "creditor_verification_status_in_review",
    "creditor_verification_status_successful",
)
# What the default cause of each status change says, as GoCardless writes it.
CAUSES = {
    ("payments", "created"): "payment_created",
    ("payments", "submitted"): "payment_submitted",
    ("payments", "confirmed"): "payment_confirmed",
    ("payments", "paid_out"): "payment_paid_out",
    ("payments", "cancelled"): "payment_cancelled",
    ("payments", "resubmission_requested"): "payment_retried",
    ("mandates", "created"): "mandate_created",
    ("mandates", "submitted"): "mandate_submitted",
    ("mandates", "active"): "mandate_activated",
    ("mandates", "cancelled"): "mandate_cancelled",
    ("mandates", "reinstated"): "mandate_reinstated",
    ("mandates", "expired"): "mandate_expired",
    ("customer_bank_accounts", "created"): "bank_account_created",
    ("customer_bank_accounts", "disabled"): "bank_account_disabled",
    ("billing_requests", "created"): "billing_request_created",
    ("billing_requests", "flow_created"): "billing_request_flow_created",
    ("billing_requests", "fulfilled"): "billing_request_fulfilled",
    ("billing_requests", "cancelled"): "billing_request_cancelled",
}
SOURCE_TYPES = {"api": "access_token", "customer": "payer", "payer": "payer"}
# Order in which the clock visits what is due on one day: mandates before their payments.
MANDATE_RANK, PAYMENT_RANK = 0, 1


class GoCardlessService(Tables):
    name = "gocardless"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.reset()

    # -- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        self.reset_tables(KINDS)
        self.index: dict[tuple[str, str], dict[str, list[str]]] = {
            (kind, key): {} for kind, keys in INDEXED.items() for key in keys
        }
        self.idempotency: dict[tuple[str, str], str] = {}  # (kind, key) -> id
        self.private: dict[str, dict[str, Any]] = {}  # per object: IBAN, lifecycle dates, retries
        self.accounts_by_iban: dict[tuple[str, str], str] = {}  # (customer, IBAN) -> bank account
        self.references: set[str] = set()  # mandate references, casefolded
        self.removed: set[str] = set()  # customers removed through DELETE
        self.import_queue: list[str] = []  # submitted mandate imports, processed on the next day
        self.due: list[tuple[date, int, int, str]] = []  # (day, rank, seq, id): a heap
        self.due_on: dict[str, date] = {}  # the live entry of each scheduled object
        self.seq = 0
        self.deferred: list[dict[str, Any]] | None = None  # events held back while set
        self.window: tuple[int, int] = (0, 0)  # (minute, requests in it)
        self.last_now: datetime | None = None
        self.last_iso = ""
        self.creditor = self._store("creditors", self._new_creditor())

    def _new_id(self, kind: str) -> str:
        prefix = ID_PREFIX[kind]
        return self.sandbox.ids.next(prefix, 12 - len(prefix))

    def _now(self) -> str:
        now = self.sandbox.clock.now()
        if now != self.last_now:  # formatting is dear when 100,000 payments are seeded at once
            self.last_now, self.last_iso = now, iso(now)
        return self.last_iso

    def _today(self) -> date:
        return self.sandbox.clock.today()

    def _store(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        super()._store(kind, obj)
        ident = obj["id"]
        if kind == "events":  # few links each: walk them rather than every indexed key
            for key, value in obj["links"].items():
                if key in EVENT_INDEXED:
                    self.index[("events", key)].setdefault(value, []).append(ident)
            return obj
        for key in INDEXED.get(kind, ()):
            value = self._link_value(kind, key, obj)
            if value:
                self.index[(kind, key)].setdefault(value, []).append(ident)
        if kind == "customer_bank_accounts":
            private = self.private.get(ident) or {}
            if private.get("iban"):
                self.accounts_by_iban[(obj["links"]["customer"], private["iban"])] = ident
        elif kind == "mandates" and obj.get("reference"):
            self.references.add(obj["reference"].casefold())
        return obj

    def _link_value(self, kind: str, key: str, obj: dict[str, Any]) -> str | None:
        if kind == "payments" and key == "customer":
            return (self.private.get(obj["id"]) or {}).get("customer")
        return (obj.get("links") or {}).get(key)

    def _link_test(self, kind: str, key: str, value: str) -> Callable[[dict[str, Any]], bool]:
        """A filter: objects whose link `key` is `value`."""
        return lambda obj: self._link_value(kind, key, obj) == value

    def _relink(self, kind: str, key: str, obj: dict[str, Any], value: str) -> None:
        """Set a link after creation, keeping its index in creation order."""
        obj["links"][key] = value
        if (kind, key) in self.index:
            ids = self.index[(kind, key)].setdefault(value, [])
            if obj["id"] not in ids:
                bisect.insort(ids, obj["id"], key=self.position[kind].__getitem__)

    def _new_creditor(self) -> dict[str, Any]:
        now = self._now()
        address = {
            "address_line1": "1 rue de la Sandbox",
            "address_line2": None,
            "address_line3": None,
            "city": "Paris",
            "region": None,
            "postal_code": "75001",
            "country_code": "FR",
        }
        return {
            "id": self._new_id("creditors"),
            "created_at": now,
            "name": "crmpay sandbox creditor",
            **address,
            "bank_reference_prefix": "CRMPAY",
            "can_create_refunds": False,
            "creditor_type": "company",
            "custom_payment_pages_enabled": False,
            "fx_payout_currency": None,
            "logo_url": None,
            "mandate_imports_enabled": True,
            "merchant_responsible_for_notifications": True,
            "verification_status": "successful",
            "links": {
                f"default_{c}_payout_account": None for c in ("aud", "cad", "dkk", "eur", "gbp", "nzd", "sek", "usd")
            },
            "scheme_identifiers": [
                {
                    "id": "SU0000000001",
                    "name": "crmpay sandbox creditor",
                    "scheme": "sepa_core",
                    "reference": "FR72ZZZ123456",
                    "status": "active",
                    "currency": "EUR",
                    "minimum_advance_notice": 3,
                    "can_specify_mandate_reference": True,
                    **address,
                    "email": "creditor@sandbox.invalid",
                    "phone_number": None,
                    "created_at": now,
                },
                {
                    "id": "SU0000000002",
                    "name": "crmpay sandbox creditor",
                    "scheme": "bacs",
                    "reference": "420042",
                    "status": "active",
                    "currency": "GBP",
                    "minimum_advance_notice": 3,
                    "can_specify_mandate_reference": True,
                    **address,
                    "email": "creditor@sandbox.invalid",
                    "phone_number": None,
                    "created_at": now,
                },
            ],
        }

    # -- wire helpers ------------------------------------------------------------------------
    def _headers(self, exhausted: bool = False) -> dict[str, str]:
        minute = int(time.time() // 60)
        count = self.window[1] + 1 if self.window[0] == minute else 1
        self.window = (minute, count)
        remaining = 0 if exhausted else max(0, RATE_LIMIT - count)
        return {
            "RateLimit-Limit": str(RATE_LIMIT),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": formatdate((minute + 1) * 60, usegmt=True),
        }

    def _ok(self, status: int, body: Any) -> Response:
        return Response.json_body(status, body, headers=self._headers())

    def _error(self, status: int, kind: str, message: str, errors: list[dict[str, Any]]) -> HttpError:
        anchor = errors[0].get("reason") or kind if errors else kind
        body = {
            "error": {
                "type": kind,
                "code": status,
                "message": message,
                "documentation_url": f"{DOCS}#{anchor}",
                "request_id": self.sandbox.ids.next("RQ", 12),
                "errors": errors,
            }
        }
        return HttpError(Response.json_body(status, body, headers=self._headers(exhausted=status == 429)))

    def _invalid_state(self, reason: str, message: str, status: int = 422, **links: str) -> HttpError:
        error: dict[str, Any] = {"reason": reason, "message": message}
        if links:
            error["links"] = links
        return self._error(status, "invalid_state", message, [error])

    def _validation(self, field: str, message: str, envelope: str | None = None) -> HttpError:
        pointer = "/" + "/".join(filter(None, [envelope, *field.split(".")]))
        return self._error(
            422,
            "validation_failed",
            "Validation failed",
            [{"field": field, "message": message, "request_pointer": pointer}],
        )

    def _usage(self, status: int, reason: str, message: str) -> HttpError:
        return self._error(status, "invalid_api_usage", message, [{"reason": reason, "message": message}])

    def _not_found(self) -> HttpError:
        return self._usage(404, "resource_not_found", "Resource not found")

    def fault_response(self, status: int) -> Response:
        if status == 429:
            return self._usage(429, "rate_limit_exceeded", "Rate limit exceeded").response
        return self._error(
            500,
            "gocardless",
            "Uh-oh! Something went wrong",
            [{"reason": "internal_server_error", "message": "Internal server error"}],
        ).response

    def credentials(self) -> dict[str, Any]:
        return {"access_token": TOKEN, "environment": "local", "base_url": self.sandbox.url}

    def _authorised(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def wrapped(request: Request) -> Response:
            if request.header("Authorization") != f"Bearer {TOKEN}":
                raise self._usage(401, "unauthorized", "Unauthorized")
            return handler(request)

        return wrapped

    def _body(self, request: Request, envelope: str) -> dict[str, Any]:
        try:
            body = request.json()
        except HttpError:
            raise self._usage(400, "invalid_document_structure", "Invalid document structure") from None
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise self._usage(400, "invalid_document_structure", "Root element must be an object.")
        data = body.get(envelope)
        if data is None and envelope == "data":
            return {}  # actions: the SDK sends `null` when there are no parameters
        if not isinstance(data, dict):
            raise self._usage(400, "invalid_document_structure", f"Expected a '{envelope}' object")
        return data

    def _get(self, kind: str, ident: str) -> dict[str, Any]:
        obj = self.objects[kind].get(ident)
        if obj is None or ident in self.removed:
            raise self._not_found()
        return obj

    def _replay(self, request: Request, kind: str) -> None:
        """A create POST whose Idempotency-Key already made a `kind`: 409 with its id."""
        key = request.header("Idempotency-Key")
        existing = self.idempotency.get((kind, key)) if key else None
        if existing:
            raise self._invalid_state(
                "idempotent_creation_conflict",
                "A resource has already been created with this idempotency key",
                status=409,
                conflicting_resource_id=existing,
            )

    def _remember(self, request: Request, kind: str, ident: str) -> None:
        key = request.header("Idempotency-Key")
        if key:
            self.idempotency[(kind, key)] = ident

    def _metadata(self, data: dict[str, Any], field: str = "metadata") -> dict[str, str]:
        metadata = data.get(field) or {}
        if not isinstance(metadata, dict):
            raise self._validation(field, "must be an object")
        if len(metadata) > 3:
            raise self._validation(field, "must have at most 3 keys")
        for key, value in metadata.items():
            if len(str(key)) > 50:
                raise self._validation(field, f"key {key!r} is longer than 50 characters")
            if not isinstance(value, str) or len(value) > 500:
                raise self._validation(field, f"value of {key!r} must be a string of at most 500 characters")
        return dict(metadata)

    # -- events ------------------------------------------------------------------------------
    def _event(
        self,
        resource_type: str,
        action: str,
        links: dict[str, Any],
        cause: str | None = None,
        description: str = "",
        origin: str = "gocardless",
        **details: Any,
    ) -> None:
        """Record one event. Stored compactly (links and details without their nulls) and
        rendered in full when answered: 100,000 payments make several times as many events."""
        event = {
            "id": "",
            "created_at": "",
            "resource_type": resource_type,
            "action": action,
            "links": {k: v for k, v in links.items() if v},
            "details": {
                k: v
                for k, v in {
                    "origin": origin,
                    "cause": cause or CAUSES.get((resource_type, action), action),
                    "description": description,
                    **details,
                }.items()
                if v is not None
            },
        }
        if self.deferred is not None:
            self.deferred.append(event)
        else:
            self._emit(event)

    def _emit(self, event: dict[str, Any]) -> None:
        event["id"] = self._new_id("events")
        event["created_at"] = self._now()
        self._store("events", event)

    def _render_event(self, event: dict[str, Any]) -> dict[str, Any]:
        subject = event["links"].get(EVENT_SUBJECT.get(event["resource_type"], ""))
        resource = self.objects.get(event["resource_type"], {}).get(subject or "")
        origin = event["details"].get("origin")
        return {
            **event,
            "links": {**dict.fromkeys(EVENT_LINKS), **event["links"]},
            "details": {**dict.fromkeys(EVENT_DETAILS), **event["details"]},
            "metadata": {},
            "resource_metadata": dict((resource or {}).get("metadata") or {}),
            "customer_notifications": [],
            "source": {"type": SOURCE_TYPES.get(origin, "gc_team"), "name": "crmpay sandbox"},
        }

    # -- listing -----------------------------------------------------------------------------
    def _limit(self, request: Request) -> int:
        raw = request.arg("limit")
        if raw is None or raw == "":
            return DEFAULT_LIMIT
        try:
            limit = int(raw)
        except ValueError:
            raise self._validation("limit", "must be a number") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise self._validation("limit", f"must be between 1 and {MAX_LIMIT}")
        return limit

    def _bounds(self, request: Request, field: str = "created_at"):
        """`field[gt|gte|lt|lte]` as two monotone tests on the stored value (millisecond ISO
        text for timestamps, `YYYY-MM-DD` for dates): `low` is false then true along
        creation order, `high` true then false."""
        lows: list[tuple[str, bool]] = []  # (bound, strict)
        highs: list[tuple[str, bool]] = []
        for op in ("gt", "gte", "lt", "lte"):
            raw = request.arg(f"{field}[{op}]")
            if raw is None:
                continue
            bound, exact = self._bound_text(field, raw)
            if op == "gt":
                lows.append((bound, True))
            elif op == "gte":
                lows.append((bound, not exact))  # at or above a sub-millisecond bound: strictly above
            elif op == "lt":
                highs.append((bound, exact))
            else:
                highs.append((bound, False))

        def low(value: str) -> bool:
            return all(value > b if strict else value >= b for b, strict in lows)

        def high(value: str) -> bool:
            return all(value < b if strict else value <= b for b, strict in highs)

        return (low if lows else None), (high if highs else None)

    def _bound_text(self, field: str, raw: str) -> tuple[str, bool]:
        if field == "charge_date":
            try:
                return date.fromisoformat(raw).isoformat(), True
            except ValueError:
                raise self._validation(f"{field}", "must be a date (YYYY-MM-DD)") from None
        try:
            moment = datetime.fromisoformat(raw.strip().replace(" ", "+"))
        except ValueError:
            raise self._validation(field, "must be an ISO 8601 timestamp") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return iso(moment), moment.microsecond % 1000 == 0

    def _list(
        self,
        kind: str,
        request: Request,
        match: Callable[[dict[str, Any]], bool] | None = None,
        *,
        index: tuple[str, str] | None = None,
        envelope: str | None = None,
        render: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        extra: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
    ) -> Response:
        """One page, newest first: `after` walks to older records, `before` to newer ones.

        `index` = (link, value) reads that link's index instead of the whole table; the
        `created_at` window is found by bisection (records are stored in time order), so a
        page costs O(page + log n) unless `match` rejects most records.
        """
        limit = self._limit(request)
        positions = self.position[kind]
        ids: Sequence[str] = self.index[(kind, index[0])].get(index[1], []) if index else self.order[kind]
        whole = not index
        after, before = request.arg("after"), request.arg("before")
        if after and before:
            raise self._usage(400, "invalid_cursors", "Only one of before and after may be given")
        for name, cursor in (("after", after), ("before", before)):
            if cursor and cursor not in positions:
                raise self._usage(400, "invalid_cursor", f"{name} is not a valid cursor")
        objects = self.objects[kind]
        low, high = self._bounds(request)
        start, stop = 0, len(ids)  # the created_at window, as indexes into ids
        if low:
            start = bisect.bisect_left(range(len(ids)), True, key=lambda i: low(objects[ids[i]]["created_at"]))
        if high:
            stop = bisect.bisect_left(range(len(ids)), True, key=lambda i: not high(objects[ids[i]]["created_at"]))

        page: list[dict[str, Any]] = []
        more = False
        if before:  # newer than the cursor: walk forwards, then show newest first
            i = max(
                start,
                positions[before] + 1
                if whole
                else bisect.bisect_right(ids, positions[before], key=positions.__getitem__),
            )
            while i < stop:
                obj = objects[ids[i]]
                i += 1
                if match is None or match(obj):
                    if len(page) == limit:
                        more = True
                        break
                    page.append(obj)
            page.reverse()
            has_newer, has_older = more, bool(page)
        else:
            end = stop
            if after:  # the cursor's index in ids, or where it would be
                end = min(
                    stop,
                    positions[after] if whole else bisect.bisect_left(ids, positions[after], key=positions.__getitem__),
                )
            i = end - 1
            while i >= start:
                obj = objects[ids[i]]
                i -= 1
                if match is None or match(obj):
                    if len(page) == limit:
                        more = True
                        break
                    page.append(obj)
            has_newer, has_older = bool(after) and bool(page), more
        cursors = {
            "before": page[0]["id"] if page and has_newer else None,
            "after": page[-1]["id"] if page and has_older else None,
        }
        body: dict[str, Any] = {envelope or kind: [render(o) if render else o for o in page]}
        if extra:
            body.update(extra(page))
        body["meta"] = {"cursors": cursors, "limit": limit}
        return self._ok(200, body)

    def _one(self, kind: str, render: Callable[[dict[str, Any]], dict[str, Any]] | None = None):
        def handler(request: Request) -> Response:
            obj = self._get(kind, request.params["id"])
            return self._ok(200, {kind: render(obj) if render else obj})

        return handler

    # -- routes --------------------------------------------------------------------------------
    def register(self, router: Router) -> None:
        routes = [
            ("GET", "/creditors", lambda r: self._list("creditors", r)),
            ("GET", "/creditors/{id}", self._one("creditors")),
            ("POST", "/customers", self.create_customer),
            ("GET", "/customers", self.list_customers),
            ("GET", "/customers/{id}", self._one("customers")),
            ("PUT", "/customers/{id}", self.update_customer),
            ("DELETE", "/customers/{id}", self.remove_customer),
            ("POST", "/customer_bank_accounts", self.create_bank_account),
            ("GET", "/customer_bank_accounts", self.list_bank_accounts),
            ("GET", "/customer_bank_accounts/{id}", self._one("customer_bank_accounts")),
            ("PUT", "/customer_bank_accounts/{id}", self.update_metadata("customer_bank_accounts")),
            ("POST", "/customer_bank_accounts/{id}/actions/disable", self.disable_bank_account),
            ("POST", "/mandates", self.create_mandate),
            ("GET", "/mandates", self.list_mandates),
            ("GET", "/mandates/{id}", self._one("mandates", self._mandate_out)),
            ("PUT", "/mandates/{id}", self.update_metadata("mandates")),
            ("POST", "/mandates/{id}/actions/cancel", self.cancel_mandate),
            ("POST", "/mandates/{id}/actions/reinstate", self.reinstate_mandate),
            ("POST", "/payments", self.create_payment),
            ("GET", "/payments", self.list_payments),
            ("GET", "/payments/{id}", self._one("payments")),
            ("PUT", "/payments/{id}", self.update_metadata("payments")),
            ("POST", "/payments/{id}/actions/cancel", self.cancel_payment),
            ("POST", "/payments/{id}/actions/retry", self.retry_payment),
            ("POST", "/billing_requests", self.create_billing_request),
            ("GET", "/billing_requests", self.list_billing_requests),
            ("GET", "/billing_requests/{id}", self._one("billing_requests")),
            ("POST", "/billing_requests/{id}/actions/cancel", self.cancel_billing_request),
            ("POST", "/billing_request_flows", self.create_flow),
            ("POST", "/mandate_imports", self.create_import),
            ("GET", "/mandate_imports/{id}", self._one("mandate_imports")),
            ("POST", "/mandate_imports/{id}/actions/submit", self.submit_import),
            ("POST", "/mandate_imports/{id}/actions/cancel", self.cancel_import),
            ("POST", "/mandate_import_entries", self.create_import_entry),
            ("GET", "/mandate_import_entries", self.list_import_entries),
            ("GET", "/events", self.list_events),
            ("GET", "/events/{id}", self.get_event),
            ("POST", "/scenario_simulators/{id}/actions/run", self.run_scenario),
        ]
        for method, template, handler in routes:
            router.add(method, template, self._authorised(handler), service=self.name)
        router.add("GET", "/__sandbox/gocardless/flow/{id}", self.flow_page, service="control")
        router.add("POST", "/__sandbox/gocardless/flow/{id}", self.complete_flow, service="control")
        router.add(
            "GET",
            "/__sandbox/gocardless/creditor",
            lambda r: Response.json_body(200, {"creditors": self.creditor}),
            service="control",
        )
        router.add("PUT", "/__sandbox/gocardless/creditor", self.set_creditor, service="control")

    # -- listings and their filters ---------------------------------------------------------------
    @staticmethod
    def _statuses(request: Request) -> set[str]:
        return set((request.arg("status") or "").split(",")) - {""}

    @staticmethod
    def _all(tests: list[Callable[[dict[str, Any]], bool]]) -> Callable[[dict[str, Any]], bool] | None:
        if not tests:
            return None
        if len(tests) == 1:
            return tests[0]
        return lambda obj: all(test(obj) for test in tests)

    def _indexed(self, kind: str, request: Request, keys: Sequence[str]) -> tuple[tuple[str, str] | None, list]:
        """The first indexed filter present is read from its index, the others are tests."""
        chosen: tuple[str, str] | None = None
        tests: list[Callable[[dict[str, Any]], bool]] = []
        for key in keys:
            value = request.arg(key)
            if not value:
                continue
            if chosen is None:
                chosen = (key, value)
            else:
                tests.append(self._link_test(kind, key, value))
        return chosen, tests

    def list_customers(self, request: Request) -> Response:
        removed = self.removed
        return self._list("customers", request, (lambda c: c["id"] not in removed) if removed else None)

    def list_bank_accounts(self, request: Request) -> Response:
        index, tests = self._indexed("customer_bank_accounts", request, ("customer",))
        enabled = request.arg("enabled")
        if enabled in ("true", "false"):
            tests.append(lambda a: a["enabled"] == (enabled == "true"))
        return self._list("customer_bank_accounts", request, self._all(tests), index=index)

    def list_mandates(self, request: Request) -> Response:
        index, tests = self._indexed("mandates", request, ("customer_bank_account", "customer"))
        statuses, reference, scheme = self._statuses(request), request.arg("reference"), request.arg("scheme")
        if statuses:
            tests.append(lambda m: m["status"] in statuses)
        if reference:
            tests.append(lambda m: m["reference"] == reference)
        if scheme:
            tests.append(lambda m: m["scheme"] == scheme)
        return self._list("mandates", request, self._all(tests), index=index, render=self._mandate_out)

    def list_payments(self, request: Request) -> Response:
        index, tests = self._indexed("payments", request, ("mandate", "customer"))
        statuses, currency = self._statuses(request), request.arg("currency")
        if statuses:
            tests.append(lambda p: p["status"] in statuses)
        if currency:
            tests.append(lambda p: p["currency"] == currency)
        low, high = self._bounds(request, "charge_date")
        if low:
            tests.append(lambda p: low(p["charge_date"]))
        if high:
            tests.append(lambda p: high(p["charge_date"]))
        return self._list("payments", request, self._all(tests), index=index)

    def list_billing_requests(self, request: Request) -> Response:
        index, tests = self._indexed("billing_requests", request, ("customer",))
        statuses = self._statuses(request)
        if statuses:
            tests.append(lambda b: b["status"] in statuses)
        return self._list("billing_requests", request, self._all(tests), index=index)

    def _events_kept_since(self) -> str:
        """GoCardless stops returning events after 18 months: the oldest time still served."""
        today = self._today()
        months = today.year * 12 + today.month - 1 - EVENT_RETENTION_MONTHS
        year, month = divmod(months, 12)
        day = min(today.day, calendar.monthrange(year, month + 1)[1])
        return iso(datetime(year, month + 1, day, tzinfo=UTC))

    def get_event(self, request: Request) -> Response:
        event = self._get("events", request.params["id"])
        if event["created_at"] < self._events_kept_since():
            raise self._not_found()
        return self._ok(200, {"events": self._render_event(event)})

    def list_events(self, request: Request) -> Response:
        index, tests = self._indexed("events", request, EVENT_FILTERS)
        kept_since = self._events_kept_since()
        tests.append(lambda e: e["created_at"] >= kept_since)
        kind, action = request.arg("resource_type"), request.arg("action")
        if kind:
            tests.append(lambda e: e["resource_type"] == kind)
        if action:
            tests.append(lambda e: e["action"] == action)
        includes = [i for i in (request.arg("include") or "").split(",") if i]
        for include in includes:
            if include not in INCLUDABLE:
                raise self._validation("include", f"{include} cannot be included")

        def linked(page: list[dict[str, Any]]) -> dict[str, Any]:
            out: dict[str, list[dict[str, Any]]] = {}
            for include in includes:
                kind_ = INCLUDABLE[include]
                seen = dict.fromkeys(e["links"][include] for e in page if e["links"].get(include))
                objects = [self.objects[kind_][i] for i in seen if i in self.objects[kind_]]
                out[kind_] = [self._mandate_out(o) for o in objects] if kind_ == "mandates" else objects
            return {"linked": out} if includes else {}

        return self._list("events", request, self._all(tests), index=index, render=self._render_event, extra=linked)

    # -- creditor -------------------------------------------------------------------------------
    def set_creditor(self, request: Request) -> Response:
        body = request.json() or {}
        if not isinstance(body, dict):
            return Response.json_body(400, {"error": "expected a JSON object"})
        unknown = set(body) - {"verification_status", "mandate_imports_enabled", "name"}
        if unknown:
            return Response.json_body(400, {"error": f"unknown creditor keys: {sorted(unknown)}"})
        if "verification_status" in body and body["verification_status"] not in VERIFICATION_STATUSES:
            return Response.json_body(400, {"error": f"verification_status must be one of {VERIFICATION_STATUSES}"})
        if "mandate_imports_enabled" in body and not isinstance(body["mandate_imports_enabled"], bool):
            return Response.json_body(400, {"error": "mandate_imports_enabled must be true or false"})
        self.creditor.update(body)
        return Response.json_body(200, {"creditors": self.creditor})

    # -- customers ------------------------------------------------------------------------------
    def create_customer(self, request: Request) -> Response:
        self._replay(request, "customers")
        data = self._body(request, "customers")
        if not (data.get("email") or data.get("family_name") or data.get("company_name")):
            raise self._validation("email", "must be present when family_name and company_name are blank", "customers")
        customer = self._new_customer(data)
        self._remember(request, "customers", customer["id"])
        return self._ok(201, {"customers": customer})

    def _new_customer(self, data: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": self._new_id("customers"),
            "created_at": self._now(),
            **{f: data.get(f) for f in CUSTOMER_FIELDS},
            "metadata": self._metadata(data),
        }
        customer["language"] = customer["language"] or "en"
        return self._store("customers", customer)

    def update_customer(self, request: Request) -> Response:
        customer = self._get("customers", request.params["id"])
        data = self._body(request, "customers")
        metadata = self._metadata(data) if "metadata" in data else None
        for field in CUSTOMER_FIELDS:
            if field in data:
                customer[field] = data[field]
        if metadata is not None:
            customer["metadata"] = metadata
        return self._ok(200, {"customers": customer})

    def remove_customer(self, request: Request) -> Response:
        """Removed customers disappear from lists and cannot be read back by id."""
        customer = self._get("customers", request.params["id"])
        self.removed.add(customer["id"])
        return self._ok(200, {"customers": customer})

    def update_metadata(self, kind: str) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            obj = self._get(kind, request.params["id"])
            obj["metadata"] = self._metadata(self._body(request, kind))
            return self._ok(200, {kind: self._mandate_out(obj) if kind == "mandates" else obj})

        return handler

    # -- bank accounts ---------------------------------------------------------------------------
    def create_bank_account(self, request: Request) -> Response:
        self._replay(request, "customer_bank_accounts")
        data = self._body(request, "customer_bank_accounts")
        customer_id = (data.get("links") or {}).get("customer")
        if customer_id not in self.objects["customers"] or customer_id in self.removed:
            raise self._validation("links.customer", "must be an existing customer", "customer_bank_accounts")
        account = self._new_bank_account(
            customer_id, data.get("account_holder_name"), data.get("iban"), data.get("metadata")
        )
        self._remember(request, "customer_bank_accounts", account["id"])
        return self._ok(201, {"customer_bank_accounts": account})

    def _new_bank_account(
        self, customer_id: str, holder: str | None, iban: str | None, metadata: Any = None, *, reuse: bool = False
    ) -> dict[str, Any]:
        """Checks the IBAN (national length, mod-97); a second account with the same IBAN for
        the same customer is refused with `bank_account_exists` (or reused, when `reuse`)."""
        envelope = "customer_bank_accounts"
        if not holder:
            raise self._validation("account_holder_name", "is required", envelope)
        if not iban:
            raise self._validation("iban", "is required (local bank details are not simulated)", envelope)
        problems = iban_problems(iban)
        if problems:
            detail = problems[0].removeprefix(f"invalid IBAN {compact_iban(iban)}: ")
            raise self._validation("iban", f"is invalid ({detail})", envelope)
        iban = compact_iban(iban)
        existing = self.accounts_by_iban.get((customer_id, iban))
        if existing:
            if reuse:
                return self.objects["customer_bank_accounts"][existing]
            message = "Bank account already exists"
            raise self._error(
                409,
                "validation_failed",
                message,
                [{"reason": "bank_account_exists", "message": message, "links": {"customer_bank_account": existing}}],
            )
        meta = self._metadata({"metadata": metadata})
        country = iban[:2]
        ident = self._new_id("customer_bank_accounts")
        account = {
            "id": ident,
            "created_at": self._now(),
            "account_holder_name": holder,
            "account_number_ending": iban[-4:],
            "account_type": None,
            "bank_account_token": None,
            "bank_name": "SANDBOX BANK",
            "country_code": country,
            "currency": COUNTRY_CURRENCY.get(country, "EUR"),
            "enabled": True,
            "links": {"customer": customer_id},
            "metadata": meta,
            "payer_name_verification_result": None,
            "trusted_recipient": False,
        }
        self.private[ident] = {"iban": iban, "customer": customer_id}
        self._store("customer_bank_accounts", account)
        self._event(
            "customer_bank_accounts",
            "created",
            {"customer_bank_account": ident},
            origin="api",
            description="Customer bank account created",
        )
        return account

    def disable_bank_account(self, request: Request) -> Response:
        account = self._get("customer_bank_accounts", request.params["id"])
        if not account["enabled"]:
            raise self._invalid_state("bank_account_disabled", "This bank account is already disabled")
        account["enabled"] = False
        self.accounts_by_iban.pop((account["links"]["customer"], self.private[account["id"]]["iban"]), None)
        self._event(
            "customer_bank_accounts",
            "disabled",
            {"customer_bank_account": account["id"]},
            origin="api",
            description="Customer bank account disabled",
        )
        for mandate_id in self.index[("mandates", "customer_bank_account")].get(account["id"], []):
            mandate = self.objects["mandates"][mandate_id]
            if mandate["status"] in USABLE_MANDATE:
                self._set_mandate(
                    mandate,
                    "cancelled",
                    cause="bank_account_disabled",
                    description="The customer's bank account was disabled",
                )
        return self._ok(200, {"customer_bank_accounts": account})

    # -- mandates ---------------------------------------------------------------------------------
    def create_mandate(self, request: Request) -> Response:
        self._replay(request, "mandates")
        data = self._body(request, "mandates")
        account_id = (data.get("links") or {}).get("customer_bank_account")
        account = self.objects["customer_bank_accounts"].get(account_id or "")
        if account is None:
            raise self._validation("links.customer_bank_account", "must be an existing bank account", "mandates")
        if not account["enabled"]:
            raise self._invalid_state("bank_account_disabled", "The bank account is disabled")
        scheme = data.get("scheme") or CURRENCY_SCHEME.get(account["currency"], "sepa_core")
        if scheme not in SCHEME_CURRENCY:
            raise self._validation("scheme", "is not a supported scheme", "mandates")
        if SCHEME_CURRENCY[scheme] != account["currency"]:
            raise self._validation("scheme", f"is not available for a {account['currency']} bank account", "mandates")
        mandate = self._new_mandate(account, scheme, data.get("reference"), data.get("metadata"), "api")
        self._remember(request, "mandates", mandate["id"])
        return self._ok(201, {"mandates": self._mandate_out(mandate)})

    def _new_mandate(
        self,
        account: dict[str, Any],
        scheme: str,
        reference: str | None,
        metadata: Any,
        origin: str,
        status: str = "pending_submission",
        authorisation_source: str = "web",
    ) -> dict[str, Any]:
        if reference is not None and reference.casefold() in self.references:
            raise self._validation("reference", "must be unique", "mandates")
        meta = self._metadata({"metadata": metadata})
        ident = self._new_id("mandates")
        mandate = {
            "id": ident,
            "created_at": self._now(),
            "reference": reference or f"CRMPAY-{ident[2:]}",
            "scheme": scheme,
            "status": status,
            "authorisation_source": authorisation_source,
            "consent_parameters": None,
            "consent_type": None,
            "funds_settlement": "managed",
            "mandate_type": "bank_debit",
            "metadata": meta,
            "next_possible_charge_date": None,
            "next_possible_standard_ach_charge_date": None,
            "payments_require_approval": False,
            "verified_at": None,
            "links": {
                "creditor": self.creditor["id"],
                "customer": account["links"]["customer"],
                "customer_bank_account": account["id"],
                "new_mandate": None,
            },
        }
        submit_on = next_working_day(self._today() + timedelta(days=1))
        self.private[ident] = {"submit_on": submit_on, "active_on": add_working_days(submit_on, 2)}
        self._store("mandates", mandate)
        self._refresh_charge_date(mandate)
        links = {"mandate": ident}
        self._event("mandates", "created", links, origin=origin, description="Mandate created", scheme=scheme)
        if status == "active":
            self._event(
                "mandates", "active", links, scheme=scheme, description="The mandate has been set up successfully"
            )
        self._schedule_mandate(mandate)
        return mandate

    def _refresh_charge_date(self, mandate: dict[str, Any]) -> None:
        """The earliest charge date today: two working days after activation, or after today
        for an active mandate. Computed on read, so a day passing costs nothing."""
        if mandate["status"] not in USABLE_MANDATE:
            mandate["next_possible_charge_date"] = None
            return
        today = self._today()
        start = today
        if mandate["status"] != "active":
            start = max(today, self.private[mandate["id"]]["active_on"])
        mandate["next_possible_charge_date"] = add_working_days(start, 2).isoformat()

    def _mandate_out(self, mandate: dict[str, Any]) -> dict[str, Any]:
        self._refresh_charge_date(mandate)
        return mandate

    def _set_mandate(
        self,
        mandate: dict[str, Any],
        status: str,
        *,
        cause: str | None = None,
        description: str = "",
        origin: str = "gocardless",
        **details: Any,
    ) -> None:
        mandate["status"] = status
        self._refresh_charge_date(mandate)
        action = {"pending_submission": "reinstated"}.get(status, status)
        self._event(
            "mandates",
            action,
            {"mandate": mandate["id"]},
            cause=cause,
            origin=origin,
            description=description or f"Mandate {status.replace('_', ' ')}",
            scheme=mandate["scheme"],
            **details,
        )
        if status in ENDED_MANDATE:
            for payment_id in self.index[("payments", "mandate")].get(mandate["id"], []):
                payment = self.objects["payments"][payment_id]
                if payment["status"] in ("pending_submission", "pending_customer_approval"):
                    self._set_payment(
                        payment, "cancelled", cause=f"mandate_{status}", description=f"The mandate was {status}"
                    )
        self._schedule_mandate(mandate)

    def cancel_mandate(self, request: Request) -> Response:
        mandate = self._get("mandates", request.params["id"])
        if mandate["status"] in ENDED_MANDATE:
            raise self._invalid_state("mandate_already_cancelled", f"Mandate is already {mandate['status']}")
        self._set_mandate(mandate, "cancelled", origin="api", description="The mandate was cancelled at your request")
        return self._ok(200, {"mandates": self._mandate_out(mandate)})

    def reinstate_mandate(self, request: Request) -> Response:
        mandate = self._get("mandates", request.params["id"])
        if mandate["status"] not in ("cancelled", "expired"):
            raise self._invalid_state("mandate_not_inactive", "Mandate is already active or being submitted")
        submit_on = next_working_day(self._today() + timedelta(days=1))
        self.private[mandate["id"]].update(submit_on=submit_on, active_on=add_working_days(submit_on, 2))
        self._set_mandate(mandate, "pending_submission", origin="api", description="Mandate reinstated")
        return self._ok(200, {"mandates": self._mandate_out(mandate)})

    # -- payments ---------------------------------------------------------------------------------
    def create_payment(self, request: Request) -> Response:
        self._replay(request, "payments")
        data = self._body(request, "payments")
        envelope = "payments"
        mandate = self.objects["mandates"].get((data.get("links") or {}).get("mandate") or "")
        if mandate is None:
            raise self._validation("links.mandate", "must be an existing mandate", envelope)
        amount = data.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise self._validation("amount", "must be a whole number of minor units greater than 0", envelope)
        currency = data.get("currency")
        expected = SCHEME_CURRENCY[mandate["scheme"]]
        if currency != expected:
            raise self._validation("currency", f"must be {expected} for a {mandate['scheme']} mandate", envelope)
        if mandate["status"] not in USABLE_MANDATE:
            raise self._invalid_state(
                "mandate_is_inactive", "The mandate for this payment was cancelled, failed or expired"
            )
        reference = data.get("reference")
        limit = REFERENCE_LIMITS.get(mandate["scheme"])
        if reference and limit and len(reference) > limit:
            raise self._validation("reference", f"is too long (maximum is {limit} characters)", envelope)
        self._metadata(data)
        self._refresh_charge_date(mandate)
        earliest = date.fromisoformat(mandate["next_possible_charge_date"])
        if data.get("charge_date"):
            try:
                wanted = date.fromisoformat(str(data["charge_date"]))
            except ValueError:
                raise self._validation("charge_date", "must be a date (YYYY-MM-DD)", envelope) from None
            if wanted < earliest:
                raise self._validation(
                    "charge_date", "must be on or after mandate's next_possible_charge_date", envelope
                )
            charge = next_working_day(wanted)
        else:
            charge = earliest
        payment = self._new_payment(mandate, amount, currency, charge, data)
        self._remember(request, "payments", payment["id"])
        return self._ok(201, {"payments": payment})

    def _new_payment(
        self,
        mandate: dict[str, Any],
        amount: int,
        currency: str,
        charge: date,
        data: dict[str, Any],
        origin: str = "api",
    ) -> dict[str, Any]:
        ident = self._new_id("payments")
        payment = {
            "id": ident,
            "created_at": self._now(),
            "amount": amount,
            "amount_refunded": 0,
            "app_fee": None,
            "charge_date": charge.isoformat(),
            "currency": currency,
            "description": data.get("description"),
            "faster_ach": False,
            "fx": {"estimated_exchange_rate": None, "exchange_rate": None, "fx_amount": None, "fx_currency": None},
            "metadata": self._metadata(data),
            "reference": data.get("reference"),
            "retry_if_possible": bool(data.get("retry_if_possible", False)),
            "scheme": mandate["scheme"],
            "status": "pending_submission",
            "links": {
                "creditor": self.creditor["id"],
                "mandate": mandate["id"],
                "payout": None,
                "instalment_schedule": None,
                "subscription": None,
            },
        }
        self.private[ident] = {"customer": mandate["links"]["customer"], "retries": 0}
        self._store("payments", payment)
        self._event(
            "payments",
            "created",
            {"payment": ident},
            origin=origin,
            description="Payment created",
            scheme=mandate["scheme"],
            currency=currency,
        )
        self._schedule_payment(payment)
        return payment

    def _set_payment(
        self,
        payment: dict[str, Any],
        status: str,
        *,
        cause: str | None = None,
        description: str = "",
        origin: str = "gocardless",
        **details: Any,
    ) -> None:
        payment["status"] = status
        if status == "paid_out" and not payment["links"]["payout"]:
            payment["links"]["payout"] = self.sandbox.ids.next("PO", 10)
        action = {"pending_submission": "resubmission_requested"}.get(status, status)
        self._event(
            "payments",
            action,
            {"payment": payment["id"]},
            cause=cause,
            origin=origin,
            description=description or f"Payment {status.replace('_', ' ')}",
            scheme=payment["scheme"],
            currency=payment["currency"],
            **details,
        )
        self._schedule_payment(payment)

    def cancel_payment(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        if payment["status"] != "pending_submission":
            raise self._invalid_state(
                "cancellation_failed", f"This payment cannot be cancelled because its status is {payment['status']}"
            )
        self._set_payment(payment, "cancelled", origin="api", description="The payment was cancelled at your request")
        return self._ok(200, {"payments": payment})

    def retry_payment(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        private = self.private[payment["id"]]
        if payment["status"] != "failed":
            raise self._invalid_state(
                "retry_failed", f"Only failed payments can be retried (this one is {payment['status']})"
            )
        if private["retries"] >= 3:
            raise self._invalid_state("retry_failed", "This payment has been retried 3 times already")
        mandate = self.objects["mandates"][payment["links"]["mandate"]]
        if mandate["status"] not in USABLE_MANDATE:
            raise self._invalid_state("mandate_is_inactive", "The mandate for this payment is inactive")
        data = self._body(request, "data")
        self._refresh_charge_date(mandate)
        earliest = date.fromisoformat(mandate["next_possible_charge_date"])
        wanted = earliest
        if data.get("charge_date"):
            try:
                wanted = date.fromisoformat(str(data["charge_date"]))
            except ValueError:
                raise self._validation("charge_date", "must be a date (YYYY-MM-DD)", "data") from None
            if wanted < earliest:
                raise self._validation("charge_date", "must be on or after mandate's next_possible_charge_date", "data")
        payment["charge_date"] = next_working_day(wanted).isoformat()
        private["retries"] += 1
        self._set_payment(payment, "pending_submission", origin="api", description="The payment will be resubmitted")
        return self._ok(200, {"payments": payment})

    # -- billing requests and flows ----------------------------------------------------------------
    def create_billing_request(self, request: Request) -> Response:
        self._replay(request, "billing_requests")
        data = self._body(request, "billing_requests")
        envelope = "billing_requests"
        mandate_request = data.get("mandate_request") or {}
        payment_request = data.get("payment_request")
        customer_id = (data.get("links") or {}).get("customer")
        if customer_id and (customer_id not in self.objects["customers"] or customer_id in self.removed):
            raise self._validation("links.customer", "must be an existing customer", envelope)
        if not mandate_request and not payment_request:
            raise self._validation("mandate_request", "a mandate_request or a payment_request is required", envelope)
        currency = mandate_request.get("currency") or (payment_request or {}).get("currency") or "EUR"
        scheme = mandate_request.get("scheme") or CURRENCY_SCHEME.get(currency, "sepa_core")
        if SCHEME_CURRENCY.get(scheme) != currency:
            raise self._validation(
                "mandate_request.currency",
                f"must be {SCHEME_CURRENCY.get(scheme, 'a supported currency')} for {scheme}",
                envelope,
            )
        if payment_request:
            amount = payment_request.get("amount")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                raise self._validation("payment_request.amount", "must be a whole number greater than 0", envelope)
            if payment_request.get("currency", currency) != currency:
                raise self._validation("payment_request.currency", f"must be {currency}", envelope)
        metadata = self._metadata(data)
        ident = self._new_id("billing_requests")
        br: dict[str, Any] = {
            "id": ident,
            "created_at": self._now(),
            "status": "pending",
            "fallback_enabled": False,
            "fallback_occurred": False,
            "metadata": metadata,
            "payment_context_code": None,
            "payment_purpose_code": None,
            "purpose_code": None,
            "instalment_schedule_request": None,
            "subscription_request": None,
            "actions": [
                {
                    "type": "collect_bank_account",
                    "required": True,
                    "status": "pending",
                    "completes_actions": ["choose_currency"],
                    "requires_actions": [],
                    "available_currencies": [currency],
                    "bank_authorisation": None,
                    "collect_customer_details": None,
                    "institution_guess_status": None,
                }
            ],
            "mandate_request": {
                "scheme": scheme,
                "currency": currency,
                "verify": "recommended",
                "authorisation_source": "web",
                "consent_type": None,
                "constraints": None,
                "description": mandate_request.get("description"),
                "funds_settlement": "managed",
                "metadata": self._metadata(mandate_request),
                "payer_requested_dual_signature": False,
                "sweeping": False,
                "links": {"mandate": None},
            }
            if mandate_request
            else None,
            "payment_request": {
                "amount": payment_request["amount"],
                "currency": currency,
                "description": payment_request.get("description"),
                "app_fee": None,
                "funds_settlement": "managed",
                "reference": payment_request.get("reference"),
                "metadata": self._metadata(payment_request),
                "scheme": scheme,
                "links": {"payment": None},
            }
            if payment_request
            else None,
            "resources": {"customer": None, "customer_bank_account": None, "customer_billing_detail": None},
            "links": {
                "creditor": self.creditor["id"],
                "customer": customer_id,
                "customer_bank_account": None,
                "mandate_request": f"MRQ{ident[3:]}" if mandate_request else None,
                "mandate_request_mandate": None,
                "payment_request": f"PRQ{ident[3:]}" if payment_request else None,
                "payment_request_payment": None,
                "bank_authorisation": None,
                "customer_billing_detail": None,
                "instalment_schedule_request": None,
                "instalment_schedule_request_instalment_schedule": None,
                "organisation": None,
                "payment_provider": None,
                "subscription_request": None,
                "subscription_request_subscription": None,
            },
        }
        if customer_id:
            br["resources"]["customer"] = self.objects["customers"][customer_id]
        self._store("billing_requests", br)
        self._remember(request, "billing_requests", ident)
        self._event(
            "billing_requests",
            "created",
            {"billing_request": ident, "customer": customer_id},
            origin="api",
            description="Billing request created",
        )
        return self._ok(201, {"billing_requests": br})

    def cancel_billing_request(self, request: Request) -> Response:
        br = self._get("billing_requests", request.params["id"])
        if br["status"] in ("fulfilled", "cancelled"):
            raise self._invalid_state("billing_request_not_cancellable", f"This billing request is {br['status']}")
        br["status"] = "cancelled"
        self._event(
            "billing_requests",
            "cancelled",
            {"billing_request": br["id"]},
            origin="api",
            description="Billing request cancelled",
        )
        return self._ok(200, {"billing_requests": br})

    def create_flow(self, request: Request) -> Response:
        self._replay(request, "billing_request_flows")
        data = self._body(request, "billing_request_flows")
        br = self.objects["billing_requests"].get((data.get("links") or {}).get("billing_request") or "")
        if br is None:
            raise self._validation(
                "links.billing_request", "must be an existing billing request", "billing_request_flows"
            )
        if br["status"] == "cancelled":
            raise self._invalid_state("billing_request_cancelled", "This billing request is cancelled")
        ident = self._new_id("billing_request_flows")
        now = self.sandbox.clock.now()
        prefilled = data.get("prefilled_customer") or {}
        if not isinstance(prefilled, dict):
            raise self._validation("prefilled_customer", "must be an object", "billing_request_flows")
        flow = {
            "id": ident,
            "created_at": iso(now),
            "expires_at": iso(now + timedelta(days=7)),
            "authorisation_url": f"{self.sandbox.url}/__sandbox/gocardless/flow/{ident}",
            "auto_fulfil": True,
            "customer_details_captured": False,
            "exit_uri": data.get("exit_uri"),
            "redirect_uri": data.get("redirect_uri"),
            "language": data.get("language") or "en",
            "links": {"billing_request": br["id"]},
            "lock_bank_account": bool(data.get("lock_bank_account")),
            "lock_currency": bool(data.get("lock_currency")),
            "lock_customer_details": bool(data.get("lock_customer_details")),
            "prefilled_bank_account": data.get("prefilled_bank_account") or {"account_type": None},
            "prefilled_customer": {
                **dict.fromkeys(PREFILL_KEYS),
                **{k: v for k, v in prefilled.items() if k in PREFILL_KEYS},
            },
            "session_token": None,
            "show_redirect_buttons": False,
            "show_success_redirect_button": False,
            "skip_success_screen": False,
        }
        self._store("billing_request_flows", flow)
        self._remember(request, "billing_request_flows", ident)
        self._event(
            "billing_requests",
            "flow_created",
            {"billing_request": br["id"], "billing_request_flow": ident},
            origin="api",
            description="A billing request flow was created",
        )
        return self._ok(201, {"billing_request_flows": flow})

    def _flow(self, ident: str) -> tuple[dict[str, Any], dict[str, Any]]:
        flow = self.objects["billing_request_flows"].get(ident)
        if flow is None:
            raise HttpError(Response.html(404, "<h1>This link is not valid</h1>"))
        br = self.objects["billing_requests"][flow["links"]["billing_request"]]
        if br["status"] == "fulfilled":
            raise HttpError(Response.html(409, "<h1>This Direct Debit is already set up</h1>"))
        if br["status"] == "cancelled" or self._now() > flow["expires_at"]:
            raise HttpError(Response.html(410, "<h1>This link has expired</h1>"))
        return flow, br

    def flow_page(self, request: Request) -> Response:
        flow, br = self._flow(request.params["id"])
        pr = br["payment_request"]
        pay = ""
        if pr:
            shown = Decimal(pr["amount"]).scaleb(-exponent(pr["currency"]))
            pay = f"<p>First payment: {html.escape(str(shown))} {html.escape(pr['currency'])}</p>"
        prefilled = flow["prefilled_customer"]
        customer = self.objects["customers"].get(br["links"]["customer"] or "") or {}

        def value(key: str) -> str:
            return html.escape(prefilled.get(key) or customer.get(key) or "", quote=True)

        return Response.html(
            200,
            f"""<!doctype html><html lang="{html.escape(flow["language"])}">
<meta charset="utf-8"><title>Set up a Direct Debit</title>
<h1>Set up a Direct Debit with {html.escape(self.creditor["name"])}</h1>{pay}
<form method="post">
<label>Email <input name="email" value="{value("email")}"></label>
<label>Given name <input name="given_name" value="{value("given_name")}"></label>
<label>Family name <input name="family_name" value="{value("family_name")}"></label>
<label>Account holder <input name="account_holder_name"></label>
<label>IBAN <input name="iban"></label>
<button>Set up the Direct Debit</button></form></html>""",
        )

    def complete_flow(self, request: Request) -> Response:
        """The customer submits the page: customer (if the request has none), bank account,
        mandate and the first payment if one was asked for; the request is fulfilled. The
        `fulfilled` event comes first, then the events of what fulfilling created."""
        flow, br = self._flow(request.params["id"])
        form = {k: v.strip() for k, v in request.form().items()}
        prefilled = flow["prefilled_customer"]
        customer_id = br["links"]["customer"]
        details = {k: form.get(k) or prefilled.get(k) for k in ("email", "given_name", "family_name")}
        holder = form.get("account_holder_name") or " ".join(
            filter(None, [details["given_name"], details["family_name"]])
        )
        iban = form.get("iban") or ""
        problems = [] if iban else ["IBAN is required"]
        if customer_id is None and not (details["email"] or details["family_name"]):
            problems.append("Email is required")
        if not holder:
            problems.append("Account holder is required")
        problems += iban_problems(iban) if iban else []
        if problems:
            items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            return Response.html(422, f"<h1>Please check your details</h1><ul>{items}</ul>")
        self.deferred = []
        try:
            if customer_id is None:
                customer_id = self._new_customer({**{k: prefilled.get(k) for k in PREFILL_KEYS}, **details})["id"]
            account = self._new_bank_account(customer_id, holder, iban, reuse=True)
            mandate = payment = None
            if br["mandate_request"]:
                mandate = self._new_mandate(
                    account, br["mandate_request"]["scheme"], None, br["mandate_request"]["metadata"], "payer"
                )
            if br["payment_request"] and mandate is not None:
                pr = br["payment_request"]
                payment = self._new_payment(
                    mandate,
                    pr["amount"],
                    pr["currency"],
                    date.fromisoformat(mandate["next_possible_charge_date"]),
                    {"description": pr["description"], "metadata": pr["metadata"], "reference": pr["reference"]},
                    origin="payer",
                )
        finally:
            held, self.deferred = self.deferred, None
        self._relink("billing_requests", "customer", br, customer_id)
        br["links"]["customer_bank_account"] = account["id"]
        br["resources"]["customer"] = self.objects["customers"][customer_id]
        br["resources"]["customer_bank_account"] = account
        if mandate is not None:
            br["links"]["mandate_request_mandate"] = mandate["id"]
            br["mandate_request"]["links"]["mandate"] = mandate["id"]
        if payment is not None:
            br["links"]["payment_request_payment"] = payment["id"]
            br["payment_request"]["links"]["payment"] = payment["id"]
        br["status"] = "fulfilled"
        for action in br["actions"]:
            action["status"] = "completed"
        flow["customer_details_captured"] = True
        self._event(
            "billing_requests",
            "fulfilled",
            {
                "billing_request": br["id"],
                "billing_request_flow": flow["id"],
                "customer": customer_id,
                "mandate_request_mandate": mandate and mandate["id"],
                "payment_request_payment": payment and payment["id"],
            },
            origin="payer",
            description="The billing request was fulfilled",
        )
        for event in held:
            self._emit(event)
        return Response.html(200, "<h1>Your Direct Debit is set up</h1><p>You can close this page.</p>")

    # -- mandate imports ------------------------------------------------------------------------------
    def create_import(self, request: Request) -> Response:
        self._replay(request, "mandate_imports")
        if not self.creditor["mandate_imports_enabled"]:
            raise self._usage(403, "mandate_imports_not_enabled", "Mandate imports are not enabled for this creditor")
        data = self._body(request, "mandate_imports")
        if data.get("scheme") not in SCHEME_CURRENCY:
            raise self._validation("scheme", "is not a supported scheme", "mandate_imports")
        ident = self._new_id("mandate_imports")
        imp = {
            "id": ident,
            "created_at": self._now(),
            "scheme": data["scheme"],
            "status": "created",
            "links": {"creditor": self.creditor["id"]},
        }
        self._store("mandate_imports", imp)
        self._remember(request, "mandate_imports", ident)
        return self._ok(201, {"mandate_imports": imp})

    def create_import_entry(self, request: Request) -> Response:
        self._replay(request, "mandate_import_entries")
        data = self._body(request, "mandate_import_entries")
        envelope = "mandate_import_entries"
        imp = self.objects["mandate_imports"].get((data.get("links") or {}).get("mandate_import") or "")
        if imp is None:
            raise self._validation("links.mandate_import", "must be an existing mandate import", envelope)
        if imp["status"] != "created":
            raise self._invalid_state(
                "mandate_import_not_created", f"Entries can only be added to a created import (it is {imp['status']})"
            )
        if len(self.index[("mandate_import_entries", "mandate_import")].get(imp["id"], [])) >= 30_000:
            raise self._invalid_state("too_many_entries", "An import holds at most 30,000 entries")
        record = data.get("record_identifier")
        if record is not None and len(str(record)) > 255:
            raise self._validation("record_identifier", "is too long (maximum is 255 characters)", envelope)
        bank = data.get("bank_account") or {}
        if not bank.get("account_holder_name"):
            raise self._validation("bank_account.account_holder_name", "is required", envelope)
        if not (bank.get("iban") or bank.get("account_number")):
            raise self._validation("bank_account.iban", "is required", envelope)
        customer = data.get("customer") or {}
        if not (customer.get("email") or customer.get("family_name") or customer.get("company_name")):
            raise self._validation(
                "customer.email", "must be present when family_name and company_name are blank", envelope
            )
        amendment = data.get("amendment") or {}
        if imp["scheme"].startswith("sepa"):  # the SEPA amendment names the mandate's original creditor
            for key in ("original_mandate_reference", "original_creditor_id", "original_creditor_name"):
                if not str(amendment.get(key) or "").strip():
                    raise self._validation(f"amendment.{key}", "is required for SEPA mandate imports", envelope)
        ident = self._new_id("mandate_import_entries")
        entry = {
            "id": ident,
            "created_at": self._now(),
            "record_identifier": record,
            "processing_errors": {},
            "links": {"mandate_import": imp["id"], "customer": None, "customer_bank_account": None, "mandate": None},
        }
        self.private[ident] = {
            "customer": customer,
            "bank_account": bank,
            "amendment": amendment,
            "mandate": data.get("mandate") or {},
        }
        self._store("mandate_import_entries", entry)
        self._remember(request, "mandate_import_entries", ident)
        return self._ok(201, {"mandate_import_entries": entry})

    def list_import_entries(self, request: Request) -> Response:
        wanted = request.arg("mandate_import")
        if not wanted:
            raise self._validation("mandate_import", "is required")
        status = request.arg("status")
        match = {
            "successfully_processed": lambda e: bool(e["links"]["mandate"]),
            "unsuccessfully_processed": lambda e: bool(e["processing_errors"]),
        }.get(status or "")
        return self._list("mandate_import_entries", request, match, index=("mandate_import", wanted))

    def submit_import(self, request: Request) -> Response:
        imp = self._get("mandate_imports", request.params["id"])
        if imp["status"] != "created":
            raise self._invalid_state("mandate_import_not_created", f"This import is {imp['status']}")
        imp["status"] = "submitted"
        self.import_queue.append(imp["id"])
        return self._ok(200, {"mandate_imports": imp})

    def cancel_import(self, request: Request) -> Response:
        imp = self._get("mandate_imports", request.params["id"])
        if imp["status"] not in ("created", "submitted"):
            raise self._invalid_state("mandate_import_not_cancellable", f"This import is {imp['status']}")
        imp["status"] = "cancelled"
        return self._ok(200, {"mandate_imports": imp})

    def _process_import(self, imp: dict[str, Any]) -> None:
        """Each valid entry becomes a customer, a bank account and an active mandate; a bad
        one keeps `processing_errors` and no links."""
        imp["status"] = "processing"
        for entry_id in self.index[("mandate_import_entries", "mandate_import")].get(imp["id"], []):
            entry = self.objects["mandate_import_entries"][entry_id]
            data = self.private[entry_id]
            bank = data["bank_account"]
            reference = data["mandate"].get("reference") or data["amendment"].get("original_mandate_reference")
            errors: dict[str, str] = {}
            problems = iban_problems(bank.get("iban") or "")
            if problems:
                errors["bank_account.iban"] = problems[0]
            elif SCHEME_CURRENCY[imp["scheme"]] != COUNTRY_CURRENCY.get(compact_iban(bank["iban"])[:2], "EUR"):
                errors["bank_account.iban"] = f"is not a {imp['scheme']} bank account"
            if reference and reference.casefold() in self.references:
                errors["mandate.reference"] = "must be unique"
            if not errors:
                try:
                    customer = self._new_customer(data["customer"])
                    account = self._new_bank_account(
                        customer["id"], bank["account_holder_name"], bank["iban"], reuse=True
                    )
                    mandate = self._new_mandate(
                        account,
                        imp["scheme"],
                        reference,
                        data["mandate"].get("metadata"),
                        "api",
                        status="active",
                        authorisation_source="paper",
                    )
                except HttpError as exc:
                    for error in json.loads(exc.response.body)["error"]["errors"]:
                        errors[error.get("field") or error.get("reason") or "entry"] = error["message"]
                else:
                    entry["links"].update(
                        customer=customer["id"], customer_bank_account=account["id"], mandate=mandate["id"]
                    )
            if errors:
                entry["processing_errors"] = errors
        imp["status"] = "processed"

    # -- scenario simulators ------------------------------------------------------------------------
    def run_scenario(self, request: Request) -> Response:
        name = request.params["id"]
        if name not in SCENARIOS:
            raise self._not_found()
        data = self._body(request, "data")
        resource = (data.get("links") or {}).get("resource")
        kind = name.split("_", 1)[0] + "s"
        obj = self.objects[kind].get(resource or "")
        if obj is None:
            raise self._validation("links.resource", f"must be an existing {kind[:-1]}", "data")
        if kind == "creditors":
            obj["verification_status"] = name.removeprefix("creditor_verification_status_")
        elif kind == "payments":
            self._payment_scenario(name, obj)
        else:
            self._mandate_scenario(name, obj)
        return self._ok(200, {"scenario_simulators": {"id": name}})

    def _payment_scenario(self, name: str, payment: dict[str, Any]) -> None:
        status = payment["status"]
        allowed = {
            "payment_submitted": ("pending_submission",),
            "payment_confirmed": ("pending_submission", "submitted"),
            "payment_paid_out": ("pending_submission", "submitted", "confirmed"),
            "payment_failed": ("pending_submission", "submitted", "confirmed"),
            "payment_charged_back": ("pending_submission", "submitted", "confirmed", "paid_out"),
        }
        if status not in allowed[name]:
            raise self._invalid_state("invalid_state_for_scenario", f"{name} cannot run on a payment that is {status}")
        mandate = self.objects["mandates"][payment["links"]["mandate"]]
        if mandate["status"] not in USABLE_MANDATE:
            raise self._invalid_state("mandate_is_inactive", f"The payment's mandate is {mandate['status']}")
        if mandate["status"] != "active" and mandate["scheme"] not in ("sepa_core", "ach", "becs", "becs_nz"):
            raise self._invalid_state(
                "mandate_not_active", f"{name} needs an active mandate (this one is {mandate['status']})"
            )
        if mandate["status"] != "active":  # SEPA mandates are submitted with their first payment
            if mandate["status"] != "submitted":
                self._set_mandate(mandate, "submitted", description="Mandate submitted to the bank")
            self._set_mandate(mandate, "active", description="The mandate has been set up successfully")
        path = {
            "payment_submitted": ["submitted"],
            "payment_confirmed": ["submitted", "confirmed"],
            "payment_paid_out": ["submitted", "confirmed", "paid_out"],
            "payment_failed": ["submitted", "failed"],
            "payment_charged_back": ["submitted", "confirmed", "paid_out", "charged_back"],
        }[name]
        order = ["pending_submission", "submitted", "confirmed", "paid_out"]
        for step in path:
            if step in order and order.index(status) >= order.index(step):
                continue  # already there
            extra: dict[str, Any] = {}
            if step == "failed":
                extra = {
                    "cause": "insufficient_funds",
                    "origin": "bank",
                    "reason_code": "AM04",
                    "description": "The customer's account had insufficient funds",
                    "will_attempt_retry": False,
                }
            elif step == "charged_back":
                extra = {
                    "cause": "payment_charged_back",
                    "origin": "bank",
                    "reason_code": "MD06",
                    "description": "The customer disputed the payment",
                }
            self._set_payment(payment, step, **extra)
            status = step

    def _mandate_scenario(self, name: str, mandate: dict[str, Any]) -> None:
        status = mandate["status"]
        if status not in ("pending_customer_approval", "pending_submission", "submitted") or (
            name == "mandate_expired" and status == "submitted"
        ):
            raise self._invalid_state("invalid_state_for_scenario", f"{name} cannot run on a mandate that is {status}")
        if status != "submitted":
            self._set_mandate(mandate, "submitted", description="Mandate submitted to the bank")
        if name == "mandate_activated":
            self._set_mandate(mandate, "active", description="The mandate has been set up successfully")
        elif name == "mandate_failed":
            self._set_mandate(
                mandate,
                "failed",
                cause="invalid_bank_details",
                origin="bank",
                description="The bank rejected the mandate",
                reason_code="AC01",
            )
        else:
            self._set_mandate(mandate, "active", description="The mandate has been set up successfully")
            self._set_mandate(mandate, "expired", description="The mandate expired after a dormant period")

    # -- the clock ---------------------------------------------------------------------------------
    def _schedule(self, ident: str, day: date | None, rank: int) -> None:
        if day is None:
            self.due_on.pop(ident, None)
            return
        if self.due_on.get(ident) == day:
            return
        self.due_on[ident] = day
        self.seq += 1
        heapq.heappush(self.due, (day, rank, self.seq, ident))

    def _mandate_due(self, mandate: dict[str, Any]) -> date | None:
        private = self.private[mandate["id"]]
        return {"pending_submission": private["submit_on"], "submitted": private["active_on"]}.get(mandate["status"])

    def _schedule_mandate(self, mandate: dict[str, Any]) -> None:
        self._schedule(mandate["id"], self._mandate_due(mandate), MANDATE_RANK)

    def _payment_due(self, payment: dict[str, Any]) -> date | None:
        status = payment["status"]
        if status not in ("pending_submission", "submitted", "confirmed"):
            return None
        charge = date.fromisoformat(payment["charge_date"])
        if status == "pending_submission":
            wait = self.private[payment["id"]].get("wait_until")
            submit = working_days_before(charge, 2)
            return max(wait, submit) if wait else submit
        if status == "submitted":
            return charge
        return add_working_days(charge, 2)

    def _schedule_payment(self, payment: dict[str, Any]) -> None:
        self._schedule(payment["id"], self._payment_due(payment), PAYMENT_RANK)

    def advance(self) -> None:
        """A day passed: process submitted imports, then every mandate and payment now due."""
        today = self._today()
        queue, self.import_queue = self.import_queue, []
        for import_id in queue:
            imp = self.objects["mandate_imports"][import_id]
            if imp["status"] == "submitted":
                self._process_import(imp)
        while self.due and self.due[0][0] <= today:
            day, rank, _, ident = heapq.heappop(self.due)
            if self.due_on.get(ident) != day:
                continue  # rescheduled since
            del self.due_on[ident]
            if rank == MANDATE_RANK:
                self._step_mandate(self.objects["mandates"][ident], today)
            else:
                self._step_payment(self.objects["payments"][ident], today)

    def _step_mandate(self, mandate: dict[str, Any], today: date) -> None:
        while (due := self._mandate_due(mandate)) is not None and due <= today:
            if mandate["status"] == "pending_submission":
                self._set_mandate(mandate, "submitted", description="Mandate submitted to the bank")
            else:
                self._set_mandate(mandate, "active", description="The mandate has been set up successfully")

    def _step_payment(self, payment: dict[str, Any], today: date) -> None:
        private = self.private[payment["id"]]
        while (due := self._payment_due(payment)) is not None and due <= today:
            status = payment["status"]
            charge = date.fromisoformat(payment["charge_date"])
            if status == "pending_submission":
                mandate = self.objects["mandates"][payment["links"]["mandate"]]
                if mandate["status"] != "active":
                    if today >= charge:  # the mandate never became usable in time
                        self._set_payment(
                            payment,
                            "failed",
                            cause="mandate_not_active",
                            origin="bank",
                            description="The mandate was not active on the charge date",
                            will_attempt_retry=False,
                        )
                    else:  # wait for the mandate, a day at a time
                        private["wait_until"] = today + timedelta(days=1)
                        self._schedule_payment(payment)
                    return
                private.pop("wait_until", None)
                self._set_payment(payment, "submitted", description="Payment submitted to the bank")
            elif status == "submitted":
                self._set_payment(payment, "confirmed", description="Payment collected from the customer")
            else:
                self._set_payment(payment, "paid_out", description="Payment paid out to the creditor")

    def stats(self) -> dict[str, Any]:
        return {"gocardless_objects": {k: len(v) for k, v in self.objects.items()}}
