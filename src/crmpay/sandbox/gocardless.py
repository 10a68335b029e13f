"""The GoCardless Pro API, simulated: served at the root, as the SDK drops path prefixes.

Shapes follow `shared/fixtures/gocardless` (every key of the fixtures is present), rules
follow `shared/reference/gocardless.md`: envelopes by resource name, newest-first lists
with `meta.cursors`, `limit` <= 500, error bodies with typed `errors`, `RateLimit-*`
headers, `Idempotency-Key` conflicts answered 409 with `conflicting_resource_id`.

Lifecycles move when the sandbox clock advances, in working days:
- mandates: pending_submission -> submitted the next working day -> active two working
  days later; `next_possible_charge_date` follows;
- payments: pending_submission -> submitted two working days before the charge date ->
  confirmed on the charge date -> paid_out two working days after it;
- mandate imports: submitted -> processed on the next advance.
Every change emits an event. Scenario simulators force the other outcomes.
"""

from __future__ import annotations

import html
import json
import time
from datetime import date, timedelta
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from crmpay.core.validation import compact_iban, iban_problems
from crmpay.sandbox._http import HttpError, Request, Response, Router
from crmpay.sandbox._tables import Tables
from crmpay.sandbox.clock import add_working_days, iso, next_working_day

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox

TOKEN = "sandbox_crmpay-local-access-token"
DOCS = "https://developer.gocardless.com/api-reference"
MAX_LIMIT = 500
SCHEME_CURRENCY = {"bacs": "GBP", "faster_payments": "GBP", "sepa_core": "EUR", "ach": "USD",
                   "autogiro": "SEK", "betalingsservice": "DKK", "becs": "AUD", "becs_nz": "NZD",
                   "pad": "CAD", "pay_to": "AUD"}
CURRENCY_SCHEME = {"EUR": "sepa_core", "GBP": "bacs", "SEK": "autogiro", "DKK": "betalingsservice"}
REFERENCE_LIMITS = {"ach": 10, "bacs": 10, "autogiro": 11, "becs": 30, "becs_nz": 12,
                    "betalingsservice": 30, "pay_to": 18}
USABLE_MANDATE = {"pending_customer_approval", "pending_submission", "submitted", "active"}
KINDS = ("customers", "customer_bank_accounts", "mandates", "payments", "billing_requests",
         "billing_request_flows", "mandate_imports", "mandate_import_entries", "events", "creditors")
ID_PREFIX = {"customers": "CU", "customer_bank_accounts": "BA", "mandates": "MD", "payments": "PM",
             "billing_requests": "BRQ", "billing_request_flows": "BRF", "mandate_imports": "IM",
             "mandate_import_entries": "IME", "events": "EV", "creditors": "CR"}
EVENT_LINKS = ("bank_authorisation", "billing_request", "billing_request_flow", "creditor", "customer",
               "customer_bank_account", "instalment_schedule", "mandate", "mandate_request",
               "mandate_request_mandate", "new_customer_bank_account", "new_mandate", "organisation",
               "outbound_payment", "parent_event", "payer_authorisation", "payment",
               "payment_account_transaction", "payment_request_payment", "payout",
               "previous_customer_bank_account", "refund", "scheme_identifier", "subscription")
EVENT_DETAILS = ("bank_account_id", "cause", "currency", "description", "item_count",
                 "not_retried_reason", "origin", "property", "reason_code", "scheme", "will_attempt_retry")
PREFILL_KEYS = ("address_line1", "address_line2", "address_line3", "city", "company_name",
                "country_code", "danish_identity_number", "email", "family_name", "given_name",
                "postal_code", "region", "swedish_identity_number")
SCENARIOS = ("payment_confirmed", "payment_paid_out", "payment_failed", "payment_charged_back",
             "mandate_activated", "mandate_failed")


class GoCardlessService(Tables):
    name = "gocardless"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.reset()

    # -- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        self.reset_tables(KINDS)
        self.idempotency: dict[str, tuple[str, str]] = {}
        self.private: dict[str, dict[str, Any]] = {}  # per object: IBAN, lifecycle dates
        self.window: tuple[int, int] = (0, 0)  # (minute, requests in it)
        self.creditor = self._store("creditors", self._new_creditor())

    def _new_id(self, kind: str) -> str:
        return self.sandbox.ids.next(ID_PREFIX[kind], 10 if len(ID_PREFIX[kind]) == 2 else 9)


    def _now(self) -> str:
        return iso(self.sandbox.clock.now())

    def _today(self) -> date:
        return self.sandbox.clock.today()

    def _new_creditor(self) -> dict[str, Any]:
        now = self._now()
        return {
            "id": self._new_id("creditors"), "created_at": now, "name": "crmpay sandbox creditor",
            "address_line1": "1 rue de la Sandbox", "address_line2": None, "address_line3": None,
            "city": "Paris", "region": None, "postal_code": "75001", "country_code": "FR",
            "bank_reference_prefix": "CRMPAY", "can_create_refunds": False, "creditor_type": "company",
            "custom_payment_pages_enabled": False, "fx_payout_currency": None, "logo_url": None,
            "mandate_imports_enabled": True, "merchant_responsible_for_notifications": True,
            "verification_status": "successful",
            "links": {"default_eur_payout_account": None, "default_gbp_payout_account": None,
                      "default_aud_payout_account": None, "default_cad_payout_account": None,
                      "default_dkk_payout_account": None, "default_nzd_payout_account": None,
                      "default_sek_payout_account": None, "default_usd_payout_account": None},
            "scheme_identifiers": [{
                "id": "SU0000000001", "name": "crmpay sandbox creditor", "scheme": "sepa_core",
                "reference": "FR72ZZZ123456", "status": "active", "currency": "EUR",
                "minimum_advance_notice": 3, "can_specify_mandate_reference": True,
                "address_line1": "1 rue de la Sandbox", "address_line2": None, "address_line3": None,
                "city": "Paris", "region": None, "postal_code": "75001", "country_code": "FR",
                "email": "creditor@sandbox.invalid", "phone_number": None, "created_at": now}],
        }

    # -- wire helpers ------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        minute = int(time.time() // 60)
        count = self.window[1] + 1 if self.window[0] == minute else 1
        self.window = (minute, count)
        return {"RateLimit-Limit": "1000", "RateLimit-Remaining": str(max(0, 1000 - count)),
                "RateLimit-Reset": formatdate((minute + 1) * 60, usegmt=True)}

    def _ok(self, status: int, body: Any) -> Response:
        return Response.json_body(status, body, headers=self._headers())

    def _error(self, status: int, kind: str, message: str, errors: list[dict[str, Any]]) -> HttpError:
        body = {"error": {"type": kind, "code": status, "message": message,
                          "documentation_url": f"{DOCS}#{errors[0].get('reason', kind)}",
                          "request_id": self.sandbox.ids.next("RQ", 12), "errors": errors}}
        return HttpError(Response.json_body(status, body, headers=self._headers()))

    def _invalid_state(self, reason: str, message: str, **links: str) -> HttpError:
        error: dict[str, Any] = {"reason": reason, "message": message}
        if links:
            error["links"] = links
        return self._error(422, "invalid_state", message, [error])

    def _validation(self, field: str, message: str, status: int = 422) -> HttpError:
        return self._error(status, "validation_failed", "Validation failed",
                           [{"field": field, "message": message,
                             "request_pointer": "/" + field.replace(".", "/")}])

    def _not_found(self) -> HttpError:
        return self._error(404, "invalid_api_usage", "Resource not found",
                           [{"reason": "resource_not_found", "message": "Resource not found"}])

    def fault_response(self, status: int) -> Response:
        if status == 429:
            return self._error(429, "invalid_api_usage", "Rate limit exceeded",
                               [{"reason": "rate_limit_exceeded",
                                 "message": "You have exceeded the rate limit"}]).response
        return self._error(500, "gocardless", "Uh-oh! Something went wrong", [
            {"reason": "internal_server_error", "message": "Internal server error"}]).response

    def credentials(self) -> dict[str, Any]:
        return {"access_token": TOKEN, "environment": "local", "base_url": self.sandbox.url}

    def _authorised(self, handler):
        def wrapped(request: Request) -> Response:
            if request.header("Authorization") != f"Bearer {TOKEN}":
                raise self._error(401, "invalid_api_usage", "Authentication failed", [
                    {"reason": "authentication_failed",
                     "message": "Authentication failed: the access token is not valid"}])
            return handler(request)
        return wrapped

    def _body(self, request: Request, envelope: str) -> dict[str, Any]:
        body = request.json() or {}
        data = body.get(envelope) if isinstance(body, dict) else None
        if data is None and isinstance(body, dict) and envelope == "data":
            return {}
        if not isinstance(data, dict):
            raise self._error(400, "invalid_api_usage", f"Expected a '{envelope}' object",
                              [{"reason": "invalid_document_structure",
                                "message": f"Expected a '{envelope}' object"}])
        return data

    def _get(self, kind: str, ident: str) -> dict[str, Any]:
        obj = self.objects[kind].get(ident)
        if obj is None:
            raise self._not_found()
        return obj

    def _replay(self, request: Request, kind: str) -> None:
        key = request.header("Idempotency-Key")
        if key and key in self.idempotency:
            _, existing = self.idempotency[key]
            message = "A resource has already been created with this idempotency key"
            raise self._error(409, "invalid_state", message, [
                {"reason": "idempotent_creation_conflict", "message": message,
                 "links": {"conflicting_resource_id": existing}}])

    def _remember(self, request: Request, kind: str, ident: str) -> None:
        key = request.header("Idempotency-Key")
        if key:
            self.idempotency[key] = (kind, ident)

    def _event(self, resource_type: str, action: str, links: dict[str, str],
               cause: str | None = None, description: str = "", origin: str = "gocardless",
               **details: Any) -> None:
        self._store("events", {
            "id": self._new_id("events"), "created_at": self._now(), "action": action,
            "resource_type": resource_type, "links": {**dict.fromkeys(EVENT_LINKS), **links},
            "metadata": {}, "resource_metadata": {},
            "customer_notifications": [], "source": {"type": "app" if origin == "api" else origin,
                                                     "name": "crmpay sandbox"},
            "details": {**dict.fromkeys(EVENT_DETAILS), "origin": origin, "cause": cause or action,
                        "description": description, **details},
        })

    # -- listing -----------------------------------------------------------------------------
    def _list(self, kind: str, request: Request, match=lambda obj: True, envelope: str | None = None) -> Response:
        raw_limit = request.arg("limit", "50")
        try:
            limit = int(raw_limit)
        except ValueError:
            raise self._validation("limit", "must be a number") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise self._validation("limit", f"must be between 1 and {MAX_LIMIT}")
        bounds = {op: request.arg(f"created_at[{op}]") for op in ("gt", "gte", "lt", "lte")}

        def keep(obj: dict[str, Any]) -> bool:
            created = obj["created_at"]
            if bounds["gt"] and not created > bounds["gt"]:
                return False
            if bounds["gte"] and not created >= bounds["gte"]:
                return False
            if bounds["lt"] and not created < bounds["lt"]:
                return False
            if bounds["lte"] and not created <= bounds["lte"]:
                return False
            return match(obj)

        ids, objects, positions = self.order[kind], self.objects[kind], self.position[kind]
        after, before = request.arg("after"), request.arg("before")
        page: list[dict[str, Any]] = []
        more = False
        if before:  # newer than the cursor: walk forwards, then show newest first
            if before not in positions:
                raise self._validation("before", "is not a valid cursor", 400)
            i = positions[before] + 1
            while i < len(ids):
                obj = objects[ids[i]]
                i += 1
                if keep(obj):
                    if len(page) == limit:
                        more = True
                        break
                    page.append(obj)
            page.reverse()
            has_newer, has_older = more, True
        else:
            if after and after not in positions:
                raise self._validation("after", "is not a valid cursor", 400)
            i = (positions[after] if after else len(ids)) - 1
            while i >= 0:
                obj = objects[ids[i]]
                i -= 1
                if keep(obj):
                    if len(page) == limit:
                        more = True
                        break
                    page.append(obj)
            has_newer, has_older = bool(after), more
        cursors = {"before": page[0]["id"] if page and has_newer else None,
                   "after": page[-1]["id"] if page and has_older else None}
        return self._ok(200, {envelope or kind: page, "meta": {"cursors": cursors, "limit": limit}})

    # -- routes --------------------------------------------------------------------------------
    def register(self, router: Router) -> None:
        routes = [
            ("GET", "/creditors", lambda r: self._list("creditors", r)),
            ("GET", "/creditors/{id}", lambda r: self._ok(200, {"creditors": self._get("creditors", r.params["id"])})),
            ("POST", "/customers", self.create_customer),
            ("GET", "/customers", lambda r: self._list("customers", r)),
            ("GET", "/customers/{id}", lambda r: self._ok(200, {"customers": self._get("customers", r.params["id"])})),
            ("PUT", "/customers/{id}", self.update_customer),
            ("POST", "/customer_bank_accounts", self.create_bank_account),
            ("GET", "/customer_bank_accounts", lambda r: self._list(
                "customer_bank_accounts", r, self._link_filter(r, "customer"))),
            ("GET", "/customer_bank_accounts/{id}", lambda r: self._ok(200, {
                "customer_bank_accounts": self._get("customer_bank_accounts", r.params["id"])})),
            ("POST", "/customer_bank_accounts/{id}/actions/disable", self.disable_bank_account),
            ("POST", "/mandates", self.create_mandate),
            ("GET", "/mandates", lambda r: self._list("mandates", r, self._mandate_filter(r))),
            ("GET", "/mandates/{id}", lambda r: self._ok(200, {"mandates": self._get("mandates", r.params["id"])})),
            ("PUT", "/mandates/{id}", self.update_metadata("mandates")),
            ("POST", "/mandates/{id}/actions/cancel", self.cancel_mandate),
            ("POST", "/mandates/{id}/actions/reinstate", self.reinstate_mandate),
            ("POST", "/payments", self.create_payment),
            ("GET", "/payments", lambda r: self._list("payments", r, self._payment_filter(r))),
            ("GET", "/payments/{id}", lambda r: self._ok(200, {"payments": self._get("payments", r.params["id"])})),
            ("PUT", "/payments/{id}", self.update_metadata("payments")),
            ("POST", "/payments/{id}/actions/cancel", self.cancel_payment),
            ("POST", "/payments/{id}/actions/retry", self.retry_payment),
            ("POST", "/billing_requests", self.create_billing_request),
            ("GET", "/billing_requests", lambda r: self._list("billing_requests", r, self._link_filter(r, "customer"))),
            ("GET", "/billing_requests/{id}", lambda r: self._ok(200, {
                "billing_requests": self._get("billing_requests", r.params["id"])})),
            ("POST", "/billing_requests/{id}/actions/cancel", self.cancel_billing_request),
            ("POST", "/billing_request_flows", self.create_flow),
            ("POST", "/mandate_imports", self.create_import),
            ("GET", "/mandate_imports/{id}", lambda r: self._ok(200, {
                "mandate_imports": self._get("mandate_imports", r.params["id"])})),
            ("POST", "/mandate_imports/{id}/actions/submit", self.submit_import),
            ("POST", "/mandate_imports/{id}/actions/cancel", self.cancel_import),
            ("POST", "/mandate_import_entries", self.create_import_entry),
            ("GET", "/mandate_import_entries", self.list_import_entries),
            ("GET", "/events", lambda r: self._list("events", r, self._event_filter(r))),
            ("GET", "/events/{id}", lambda r: self._ok(200, {"events": self._get("events", r.params["id"])})),
            ("POST", "/scenario_simulators/{id}/actions/run", self.run_scenario),
        ]
        for method, template, handler in routes:
            router.add(method, template, self._authorised(handler), service=self.name)
        router.add("GET", "/__sandbox/gocardless/flow/{id}", self.flow_page, service="control")
        router.add("POST", "/__sandbox/gocardless/flow/{id}", self.complete_flow, service="control")
        router.add("PUT", "/__sandbox/gocardless/creditor", self.set_creditor, service="control")

    # -- filters --------------------------------------------------------------------------------
    @staticmethod
    def _link_filter(request: Request, link: str):
        wanted = request.arg(link)
        return (lambda obj: obj["links"].get(link) == wanted) if wanted else (lambda obj: True)

    def _mandate_filter(self, request: Request):
        customer, account = request.arg("customer"), request.arg("customer_bank_account")
        statuses = set((request.arg("status") or "").split(",")) - {""}
        reference = request.arg("reference")
        return lambda m: ((not customer or m["links"]["customer"] == customer)
                          and (not account or m["links"]["customer_bank_account"] == account)
                          and (not statuses or m["status"] in statuses)
                          and (not reference or m["reference"] == reference))

    def _payment_filter(self, request: Request):
        customer, mandate = request.arg("customer"), request.arg("mandate")
        statuses = set((request.arg("status") or "").split(",")) - {""}
        return lambda p: ((not mandate or p["links"]["mandate"] == mandate)
                          and (not customer or self.private[p["id"]]["customer"] == customer)
                          and (not statuses or p["status"] in statuses))

    def _event_filter(self, request: Request):
        kind, action = request.arg("resource_type"), request.arg("action")
        singles = {k: request.arg(k) for k in ("payment", "mandate", "customer", "billing_request",
                                               "customer_bank_account") if request.arg(k)}
        return lambda e: ((not kind or e["resource_type"] == kind)
                          and (not action or e["action"] == action)
                          and all(e["links"].get(k) == v for k, v in singles.items()))

    # -- creditor -------------------------------------------------------------------------------
    def set_creditor(self, request: Request) -> Response:
        body = request.json() or {}
        for key in ("verification_status", "mandate_imports_enabled", "name"):
            if key in body:
                self.creditor[key] = body[key]
        return Response.json_body(200, {"creditors": self.creditor})

    # -- customers ------------------------------------------------------------------------------
    CUSTOMER_FIELDS = ("email", "given_name", "family_name", "company_name", "address_line1",
                       "address_line2", "address_line3", "city", "region", "postal_code",
                       "country_code", "language", "phone_number", "danish_identity_number",
                       "swedish_identity_number")

    def create_customer(self, request: Request) -> Response:
        self._replay(request, "customers")
        data = self._body(request, "customers")
        if not (data.get("email") or data.get("family_name") or data.get("company_name")):
            raise self._validation("email", "must be present when family_name and company_name are blank")
        customer = self._new_customer(data)
        self._remember(request, "customers", customer["id"])
        return self._ok(201, {"customers": customer})

    def _new_customer(self, data: dict[str, Any]) -> dict[str, Any]:
        customer = {"id": self._new_id("customers"), "created_at": self._now(),
                    **{f: data.get(f) for f in self.CUSTOMER_FIELDS},
                    "metadata": self._metadata(data)}
        customer["language"] = customer["language"] or "en"
        return self._store("customers", customer)

    def update_customer(self, request: Request) -> Response:
        customer = self._get("customers", request.params["id"])
        data = self._body(request, "customers")
        for field in self.CUSTOMER_FIELDS:
            if field in data:
                customer[field] = data[field]
        if "metadata" in data:
            customer["metadata"] = self._metadata(data)
        return self._ok(200, {"customers": customer})

    def _metadata(self, data: dict[str, Any]) -> dict[str, str]:
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict) or len(metadata) > 3:
            raise self._validation("metadata", "must have at most 3 keys")
        return {str(k): str(v) for k, v in metadata.items()}

    def update_metadata(self, kind: str):
        def handler(request: Request) -> Response:
            obj = self._get(kind, request.params["id"])
            obj["metadata"] = self._metadata(self._body(request, kind))
            return self._ok(200, {kind: obj})
        return handler

    # -- bank accounts ---------------------------------------------------------------------------
    def create_bank_account(self, request: Request) -> Response:
        self._replay(request, "customer_bank_accounts")
        data = self._body(request, "customer_bank_accounts")
        customer_id = (data.get("links") or {}).get("customer")
        if customer_id not in self.objects["customers"]:
            raise self._validation("links.customer", "must be an existing customer")
        account = self._new_bank_account(customer_id, data.get("account_holder_name"), data.get("iban"),
                                         data.get("metadata"))
        self._remember(request, "customer_bank_accounts", account["id"])
        return self._ok(201, {"customer_bank_accounts": account})

    def _new_bank_account(self, customer_id: str, holder: str | None, iban: str | None,
                          metadata: Any = None) -> dict[str, Any]:
        if not holder:
            raise self._validation("account_holder_name", "is required")
        if not iban:
            raise self._validation("iban", "is required (local bank details are not simulated)")
        problems = iban_problems(iban)
        if problems:
            raise self._validation("iban", problems[0].removeprefix(f"invalid IBAN {compact_iban(iban)}: "))
        iban = compact_iban(iban)
        for existing_id in self.order["customer_bank_accounts"]:
            private = self.private[existing_id]
            if private["iban"] == iban and private["customer"] == customer_id:
                message = "Bank account already exists"
                raise self._error(409, "validation_failed", message, [
                    {"reason": "bank_account_exists", "message": message,
                     "links": {"customer_bank_account": existing_id}}])
        country = iban[:2]
        currency = {"GB": "GBP", "SE": "SEK", "DK": "DKK"}.get(country, "EUR")
        account = {"id": self._new_id("customer_bank_accounts"), "created_at": self._now(),
                   "account_holder_name": holder, "account_number_ending": iban[-4:],
                   "account_type": None, "bank_account_token": None, "bank_name": "SANDBOX BANK",
                   "country_code": country, "currency": currency, "enabled": True,
                   "links": {"customer": customer_id}, "metadata": self._metadata({"metadata": metadata}),
                   "payer_name_verification_result": None, "trusted_recipient": False}
        self.private[account["id"]] = {"iban": iban, "customer": customer_id}
        return self._store("customer_bank_accounts", account)

    def disable_bank_account(self, request: Request) -> Response:
        account = self._get("customer_bank_accounts", request.params["id"])
        account["enabled"] = False
        for mandate in self.objects["mandates"].values():
            if mandate["links"]["customer_bank_account"] == account["id"] and mandate["status"] in USABLE_MANDATE:
                self._set_mandate(mandate, "cancelled", cause="bank_account_disabled",
                                  description="The customer's bank account was disabled")
        return self._ok(200, {"customer_bank_accounts": account})

    # -- mandates ---------------------------------------------------------------------------------
    def create_mandate(self, request: Request) -> Response:
        self._replay(request, "mandates")
        data = self._body(request, "mandates")
        account_id = (data.get("links") or {}).get("customer_bank_account")
        account = self.objects["customer_bank_accounts"].get(account_id)
        if account is None:
            raise self._validation("links.customer_bank_account", "must be an existing bank account")
        if not account["enabled"]:
            raise self._invalid_state("bank_account_disabled", "The bank account is disabled")
        scheme = data.get("scheme") or CURRENCY_SCHEME.get(account["currency"], "sepa_core")
        if SCHEME_CURRENCY.get(scheme) != account["currency"]:
            raise self._validation("scheme", f"is not available for a {account['currency']} bank account")
        mandate = self._new_mandate(account, scheme, data.get("reference"), data.get("metadata"), "api")
        self._remember(request, "mandates", mandate["id"])
        return self._ok(201, {"mandates": mandate})

    def _new_mandate(self, account: dict[str, Any], scheme: str, reference: str | None,
                     metadata: Any, origin: str, status: str = "pending_submission",
                     authorisation_source: str = "web") -> dict[str, Any]:
        if reference is not None:
            taken = any(m["reference"].casefold() == reference.casefold()
                        for m in self.objects["mandates"].values())
            if taken:
                raise self._validation("reference", "must be unique")
        ident = self._new_id("mandates")
        today = self._today()
        mandate = {
            "id": ident, "created_at": self._now(), "reference": reference or f"CRMPAY-{ident[2:]}",
            "scheme": scheme, "status": status, "authorisation_source": authorisation_source,
            "consent_parameters": None, "consent_type": None, "funds_settlement": "managed",
            "mandate_type": "bank_debit", "metadata": self._metadata({"metadata": metadata}),
            "next_possible_charge_date": None, "next_possible_standard_ach_charge_date": None,
            "payments_require_approval": False, "verified_at": None,
            "links": {"creditor": self.creditor["id"], "customer": account["links"]["customer"],
                      "customer_bank_account": account["id"], "new_mandate": None},
        }
        submit_on = next_working_day(today + timedelta(days=1))
        self.private[ident] = {"submit_on": submit_on, "active_on": add_working_days(submit_on, 2)}
        self._refresh_charge_date(mandate)
        self._store("mandates", mandate)
        self._event("mandates", "created", {"mandate": ident}, origin=origin,
                    description="Mandate created")
        if status == "active":
            self._event("mandates", "active", {"mandate": ident},
                        description="The mandate has been set up successfully")
        return mandate

    def _refresh_charge_date(self, mandate: dict[str, Any]) -> None:
        if mandate["status"] not in USABLE_MANDATE:
            mandate["next_possible_charge_date"] = None
            return
        today = self._today()
        start = today if mandate["status"] == "active" else max(today, self.private[mandate["id"]]["active_on"])
        mandate["next_possible_charge_date"] = add_working_days(start, 2).isoformat()

    def _set_mandate(self, mandate: dict[str, Any], status: str, *, cause: str | None = None,
                     description: str = "", origin: str = "gocardless", **details: Any) -> None:
        mandate["status"] = status
        self._refresh_charge_date(mandate)
        action = {"pending_submission": "reinstated"}.get(status, status)
        self._event("mandates", action, {"mandate": mandate["id"]}, cause=cause, origin=origin,
                    description=description or f"Mandate {status.replace('_', ' ')}",
                    scheme=mandate["scheme"], **details)
        if status in ("cancelled", "failed", "expired"):
            for payment in self.objects["payments"].values():
                if payment["links"]["mandate"] == mandate["id"] and payment["status"] in (
                        "pending_submission", "pending_customer_approval"):
                    self._set_payment(payment, "cancelled", cause=f"mandate_{status}",
                                      description=f"The mandate was {status}")

    def cancel_mandate(self, request: Request) -> Response:
        mandate = self._get("mandates", request.params["id"])
        if mandate["status"] in ("cancelled", "failed", "expired", "consumed"):
            raise self._invalid_state("mandate_already_cancelled", "Mandate is already cancelled")
        self._set_mandate(mandate, "cancelled", cause="mandate_cancelled", origin="api",
                          description="The mandate was cancelled at your request")
        return self._ok(200, {"mandates": mandate})

    def reinstate_mandate(self, request: Request) -> Response:
        mandate = self._get("mandates", request.params["id"])
        if mandate["status"] not in ("cancelled", "expired"):
            raise self._invalid_state("mandate_not_inactive", "Mandate is already active or being submitted")
        today = self._today()
        submit_on = next_working_day(today + timedelta(days=1))
        self.private[mandate["id"]].update(submit_on=submit_on, active_on=add_working_days(submit_on, 2))
        self._set_mandate(mandate, "pending_submission", origin="api", description="Mandate reinstated")
        return self._ok(200, {"mandates": mandate})

    # -- payments ---------------------------------------------------------------------------------
    def create_payment(self, request: Request) -> Response:
        self._replay(request, "payments")
        data = self._body(request, "payments")
        mandate = self.objects["mandates"].get((data.get("links") or {}).get("mandate"))
        if mandate is None:
            raise self._validation("links.mandate", "must be an existing mandate")
        amount = data.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise self._validation("amount", "must be a whole number of minor units greater than 0")
        currency = data.get("currency")
        expected = SCHEME_CURRENCY[mandate["scheme"]]
        if currency != expected:
            raise self._validation("currency", f"must be {expected} for a {mandate['scheme']} mandate")
        if mandate["status"] not in USABLE_MANDATE:
            raise self._invalid_state("mandate_is_inactive",
                                      "The mandate for this payment was cancelled, failed or expired")
        reference = data.get("reference")
        limit = REFERENCE_LIMITS.get(mandate["scheme"])
        if reference and limit and len(reference) > limit:
            raise self._validation("reference", f"is too long (maximum is {limit} characters)")
        earliest = date.fromisoformat(mandate["next_possible_charge_date"])
        if data.get("charge_date"):
            try:
                wanted = date.fromisoformat(data["charge_date"])
            except ValueError:
                raise self._validation("charge_date", "must be a date (YYYY-MM-DD)") from None
            if wanted < earliest:
                raise self._validation("charge_date", "must be on or after mandate's next_possible_charge_date")
            charge = next_working_day(wanted)
        else:
            charge = earliest
        payment = self._new_payment(mandate, amount, currency, charge, data)
        self._remember(request, "payments", payment["id"])
        return self._ok(201, {"payments": payment})

    def _new_payment(self, mandate: dict[str, Any], amount: int, currency: str, charge: date,
                     data: dict[str, Any], origin: str = "api") -> dict[str, Any]:
        ident = self._new_id("payments")
        payment = {
            "id": ident, "created_at": self._now(), "amount": amount, "amount_refunded": 0,
            "app_fee": None, "charge_date": charge.isoformat(), "currency": currency,
            "description": data.get("description"), "faster_ach": False, "fx": {
                "estimated_exchange_rate": None, "exchange_rate": None, "fx_amount": None,
                "fx_currency": None},
            "metadata": self._metadata(data), "reference": data.get("reference"),
            "retry_if_possible": bool(data.get("retry_if_possible", False)),
            "scheme": mandate["scheme"], "status": "pending_submission",
            "links": {"creditor": self.creditor["id"], "mandate": mandate["id"], "payout": None,
                      "instalment_schedule": None, "subscription": None},
        }
        self.private[ident] = {"customer": mandate["links"]["customer"], "retries": 0}
        self._store("payments", payment)
        self._event("payments", "created", {"payment": ident}, origin=origin,
                    description="Payment created", scheme=mandate["scheme"])
        return payment

    def _set_payment(self, payment: dict[str, Any], status: str, *, cause: str | None = None,
                     description: str = "", origin: str = "gocardless", **details: Any) -> None:
        payment["status"] = status
        if status == "paid_out" and not payment["links"]["payout"]:
            payment["links"]["payout"] = self.sandbox.ids.next("PO", 10)
        self._event("payments", status, {"payment": payment["id"]}, cause=cause, origin=origin,
                    description=description or f"Payment {status.replace('_', ' ')}",
                    scheme=payment["scheme"], **details)

    def cancel_payment(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        if payment["status"] != "pending_submission":
            raise self._invalid_state(
                "cancellation_failed",
                f"This payment cannot be cancelled because its status is {payment['status']}")
        self._set_payment(payment, "cancelled", cause="payment_cancelled", origin="api",
                          description="The payment was cancelled at your request")
        return self._ok(200, {"payments": payment})

    def retry_payment(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        private = self.private[payment["id"]]
        if payment["status"] != "failed":
            raise self._invalid_state("retry_failed", "Only failed payments can be retried")
        if private["retries"] >= 3:
            raise self._invalid_state("retry_failed", "This payment has been retried 3 times already")
        mandate = self.objects["mandates"][payment["links"]["mandate"]]
        if mandate["status"] not in USABLE_MANDATE:
            raise self._invalid_state("mandate_is_inactive", "The mandate for this payment is inactive")
        data = self._body(request, "data")
        earliest = date.fromisoformat(mandate["next_possible_charge_date"])
        wanted = date.fromisoformat(data["charge_date"]) if data.get("charge_date") else earliest
        payment["charge_date"] = next_working_day(max(wanted, earliest)).isoformat()
        private["retries"] += 1
        self._set_payment(payment, "pending_submission", cause="payment_retried", origin="api",
                          description="The payment will be resubmitted")
        return self._ok(200, {"payments": payment})

    # -- billing requests and flows ----------------------------------------------------------------
    def create_billing_request(self, request: Request) -> Response:
        self._replay(request, "billing_requests")
        data = self._body(request, "billing_requests")
        mandate_request = data.get("mandate_request") or {}
        payment_request = data.get("payment_request")
        customer_id = (data.get("links") or {}).get("customer")
        if customer_id and customer_id not in self.objects["customers"]:
            raise self._validation("links.customer", "must be an existing customer")
        if not mandate_request and not payment_request:
            raise self._validation("mandate_request", "a mandate_request or payment_request is required")
        currency = mandate_request.get("currency") or (payment_request or {}).get("currency") or "EUR"
        scheme = mandate_request.get("scheme") or CURRENCY_SCHEME.get(currency, "sepa_core")
        if SCHEME_CURRENCY.get(scheme) != currency:
            raise self._validation("mandate_request.currency", f"must be {SCHEME_CURRENCY.get(scheme)} for {scheme}")
        if payment_request and (not isinstance(payment_request.get("amount"), int) or payment_request["amount"] <= 0):
            raise self._validation("payment_request.amount", "must be a whole number greater than 0")
        ident = self._new_id("billing_requests")
        br = {
            "id": ident, "created_at": self._now(), "status": "pending", "fallback_enabled": False,
            "fallback_occurred": False, "metadata": self._metadata(data),
            "payment_context_code": None, "payment_purpose_code": None, "purpose_code": None,
            "instalment_schedule_request": None, "subscription_request": None,
            "actions": [{"type": "collect_bank_account", "required": True, "status": "pending",
                         "completes_actions": ["choose_currency"], "requires_actions": [],
                         "available_currencies": [currency], "bank_authorisation": None,
                         "collect_customer_details": None, "institution_guess_status": None}],
            "mandate_request": {"scheme": scheme, "currency": currency, "verify": "recommended",
                                "authorisation_source": "web", "consent_type": None, "constraints": None,
                                "description": mandate_request.get("description"),
                                "funds_settlement": "managed", "metadata": mandate_request.get("metadata") or {},
                                "payer_requested_dual_signature": False, "sweeping": False,
                                "links": {"mandate": None}} if mandate_request else None,
            "payment_request": {"amount": payment_request["amount"], "currency": currency,
                                "description": payment_request.get("description"), "app_fee": None,
                                "funds_settlement": "managed", "reference": payment_request.get("reference"),
                                "metadata": payment_request.get("metadata") or {}, "scheme": scheme,
                                "links": {"payment": None}} if payment_request else None,
            "resources": {"customer": None, "customer_bank_account": None, "customer_billing_detail": None},
            "links": {"creditor": self.creditor["id"], "customer": customer_id,
                      "customer_bank_account": None, "mandate_request": f"MRQ{ident[3:]}" if mandate_request else None,
                      "mandate_request_mandate": None, "payment_request": f"PRQ{ident[3:]}" if payment_request else None,
                      "payment_request_payment": None, "bank_authorisation": None,
                      "customer_billing_detail": None, "instalment_schedule_request": None,
                      "instalment_schedule_request_instalment_schedule": None, "organisation": None,
                      "payment_provider": None, "subscription_request": None,
                      "subscription_request_subscription": None},
        }
        if customer_id:
            br["resources"]["customer"] = self.objects["customers"][customer_id]
        self._store("billing_requests", br)
        self._remember(request, "billing_requests", ident)
        self._event("billing_requests", "created", {"billing_request": ident}, origin="api",
                    description="Billing request created")
        return self._ok(201, {"billing_requests": br})

    def cancel_billing_request(self, request: Request) -> Response:
        br = self._get("billing_requests", request.params["id"])
        if br["status"] in ("fulfilled", "cancelled"):
            raise self._invalid_state("billing_request_not_cancellable",
                                      f"This billing request is {br['status']}")
        br["status"] = "cancelled"
        self._event("billing_requests", "cancelled", {"billing_request": br["id"]}, origin="api")
        return self._ok(200, {"billing_requests": br})

    def create_flow(self, request: Request) -> Response:
        self._replay(request, "billing_request_flows")
        data = self._body(request, "billing_request_flows")
        br = self.objects["billing_requests"].get((data.get("links") or {}).get("billing_request"))
        if br is None:
            raise self._validation("links.billing_request", "must be an existing billing request")
        ident = self._new_id("billing_request_flows")
        now = self.sandbox.clock.now()
        flow = {
            "id": ident, "created_at": iso(now), "expires_at": iso(now + timedelta(days=7)),
            "authorisation_url": f"{self.sandbox.url}/__sandbox/gocardless/flow/{ident}",
            "auto_fulfil": True, "customer_details_captured": False,
            "exit_uri": data.get("exit_uri"), "redirect_uri": data.get("redirect_uri"),
            "language": data.get("language") or "en", "links": {"billing_request": br["id"]},
            "lock_bank_account": bool(data.get("lock_bank_account")),
            "lock_currency": bool(data.get("lock_currency")),
            "lock_customer_details": bool(data.get("lock_customer_details")),
            "prefilled_bank_account": data.get("prefilled_bank_account") or {"account_type": None},
            "prefilled_customer": {**{k: None for k in PREFILL_KEYS}, **(data.get("prefilled_customer") or {})},
            "session_token": None, "show_redirect_buttons": False,
            "show_success_redirect_button": False, "skip_success_screen": False,
        }
        self._store("billing_request_flows", flow)
        self._remember(request, "billing_request_flows", ident)
        return self._ok(201, {"billing_request_flows": flow})

    def _flow(self, ident: str) -> tuple[dict[str, Any], dict[str, Any]]:
        flow = self.objects["billing_request_flows"].get(ident)
        if flow is None:
            raise HttpError(Response.html(404, "<h1>This link is not valid</h1>"))
        br = self.objects["billing_requests"][flow["links"]["billing_request"]]
        if br["status"] == "fulfilled":
            raise HttpError(Response.html(409, "<h1>This mandate is already set up</h1>"))
        if br["status"] == "cancelled" or iso(self.sandbox.clock.now()) > flow["expires_at"]:
            raise HttpError(Response.html(410, "<h1>This link has expired</h1>"))
        return flow, br

    def flow_page(self, request: Request) -> Response:
        flow, br = self._flow(request.params["id"])
        amount = br["payment_request"]
        pay = (f"<p>First payment: {amount['amount'] / 100:.2f} {amount['currency']}</p>" if amount else "")
        prefilled = flow["prefilled_customer"]
        return Response.html(200, f"""<!doctype html><title>Set up a Direct Debit</title>
<h1>Set up a Direct Debit with {html.escape(self.creditor['name'])}</h1>{pay}
<form method="post">
<label>Email <input name="email" value="{html.escape(prefilled.get('email') or '')}"></label>
<label>Given name <input name="given_name" value="{html.escape(prefilled.get('given_name') or '')}"></label>
<label>Family name <input name="family_name" value="{html.escape(prefilled.get('family_name') or '')}"></label>
<label>Account holder <input name="account_holder_name"></label>
<label>IBAN <input name="iban"></label>
<button>Set up the Direct Debit</button></form>""")

    def complete_flow(self, request: Request) -> Response:
        flow, br = self._flow(request.params["id"])
        form = request.form()
        customer_id = br["links"]["customer"]
        try:
            if customer_id is None:
                prefilled = flow["prefilled_customer"]
                customer = self._new_customer({
                    "email": form.get("email") or prefilled.get("email"),
                    "given_name": form.get("given_name") or prefilled.get("given_name"),
                    "family_name": form.get("family_name") or prefilled.get("family_name")})
                customer_id = customer["id"]
            holder = form.get("account_holder_name") or " ".join(
                filter(None, [form.get("given_name"), form.get("family_name")])) or "Sandbox Customer"
            account = self._new_bank_account(customer_id, holder, form.get("iban") or "FR1420041010050500013M02606")
        except HttpError as exc:
            return Response.html(422, f"<h1>Please check your details</h1><pre>{html.escape(exc.response.body.decode())}</pre>")
        br["links"].update(customer=customer_id, customer_bank_account=account["id"])
        br["resources"]["customer"] = self.objects["customers"][customer_id]
        br["resources"]["customer_bank_account"] = account
        br["status"] = "fulfilling"
        if br["mandate_request"]:
            mandate = self._new_mandate(account, br["mandate_request"]["scheme"], None, None, "customer")
            br["links"]["mandate_request_mandate"] = mandate["id"]
            br["mandate_request"]["links"]["mandate"] = mandate["id"]
            if br["payment_request"]:
                pr = br["payment_request"]
                payment = self._new_payment(mandate, pr["amount"], pr["currency"],
                                            date.fromisoformat(mandate["next_possible_charge_date"]),
                                            {"description": pr["description"], "metadata": pr["metadata"],
                                             "reference": pr["reference"]}, origin="customer")
                br["links"]["payment_request_payment"] = payment["id"]
                pr["links"]["payment"] = payment["id"]
        br["status"] = "fulfilled"
        for action in br["actions"]:
            action["status"] = "completed"
        flow["customer_details_captured"] = True
        self._event("billing_requests", "fulfilled", {"billing_request": br["id"]}, origin="customer",
                    description="The billing request was fulfilled")
        return Response.html(200, "<h1>Your Direct Debit is set up</h1><p>You can close this page.</p>")

    # -- mandate imports ------------------------------------------------------------------------------
    def create_import(self, request: Request) -> Response:
        self._replay(request, "mandate_imports")
        if not self.creditor["mandate_imports_enabled"]:
            raise self._error(403, "invalid_api_usage", "Mandate imports are not enabled", [
                {"reason": "mandate_imports_not_enabled", "message": "Mandate imports are not enabled"}])
        data = self._body(request, "mandate_imports")
        if data.get("scheme") not in SCHEME_CURRENCY:
            raise self._validation("scheme", "is not a supported scheme")
        ident = self._new_id("mandate_imports")
        imp = {"id": ident, "created_at": self._now(), "scheme": data["scheme"], "status": "created",
               "links": {"creditor": self.creditor["id"]}}
        self._store("mandate_imports", imp)
        self._remember(request, "mandate_imports", ident)
        return self._ok(201, {"mandate_imports": imp})

    def create_import_entry(self, request: Request) -> Response:
        data = self._body(request, "mandate_import_entries")
        imp = self.objects["mandate_imports"].get((data.get("links") or {}).get("mandate_import"))
        if imp is None:
            raise self._validation("links.mandate_import", "must be an existing mandate import")
        if imp["status"] != "created":
            raise self._invalid_state("mandate_import_not_created",
                                      f"Entries can only be added to a created import (it is {imp['status']})")
        if sum(1 for e in self.objects["mandate_import_entries"].values()
               if e["links"]["mandate_import"] == imp["id"]) >= 30_000:
            raise self._invalid_state("too_many_entries", "An import holds at most 30,000 entries")
        record = data.get("record_identifier")
        if record is not None and len(str(record)) > 255:
            raise self._validation("record_identifier", "is too long (maximum is 255 characters)")
        bank = data.get("bank_account") or {}
        if not bank.get("account_holder_name"):
            raise self._validation("bank_account.account_holder_name", "is required")
        if imp["scheme"].startswith("sepa") and not (data.get("amendment") or {}).get("original_mandate_reference"):
            raise self._validation("amendment", "is required for SEPA mandate imports")
        ident = self._new_id("mandate_import_entries")
        entry = {"id": ident, "created_at": self._now(), "record_identifier": record,
                 "processing_errors": {},
                 "links": {"mandate_import": imp["id"], "customer": None, "customer_bank_account": None,
                           "mandate": None}}
        self.private[ident] = {"customer": data.get("customer") or {}, "bank_account": bank,
                               "amendment": data.get("amendment") or {}, "mandate": data.get("mandate") or {}}
        self._store("mandate_import_entries", entry)
        return self._ok(201, {"mandate_import_entries": entry})

    def list_import_entries(self, request: Request) -> Response:
        wanted = request.arg("mandate_import")
        if not wanted:
            raise self._validation("mandate_import", "is required", 400)
        return self._list("mandate_import_entries", request,
                          lambda e: e["links"]["mandate_import"] == wanted)

    def submit_import(self, request: Request) -> Response:
        imp = self._get("mandate_imports", request.params["id"])
        if imp["status"] != "created":
            raise self._invalid_state("mandate_import_not_created", f"This import is {imp['status']}")
        imp["status"] = "submitted"
        return self._ok(200, {"mandate_imports": imp})

    def cancel_import(self, request: Request) -> Response:
        imp = self._get("mandate_imports", request.params["id"])
        if imp["status"] not in ("created", "submitted"):
            raise self._invalid_state("mandate_import_not_cancellable", f"This import is {imp['status']}")
        imp["status"] = "cancelled"
        return self._ok(200, {"mandate_imports": imp})

    def _process_import(self, imp: dict[str, Any]) -> None:
        imp["status"] = "processing"
        for entry_id in list(self.order["mandate_import_entries"]):
            entry = self.objects["mandate_import_entries"][entry_id]
            if entry["links"]["mandate_import"] != imp["id"]:
                continue
            data = self.private[entry_id]
            try:
                customer = self._new_customer(data["customer"])
                account = self._new_bank_account(customer["id"], data["bank_account"].get("account_holder_name"),
                                                 data["bank_account"].get("iban"))
                mandate = self._new_mandate(account, imp["scheme"],
                                            data["mandate"].get("reference") or data["amendment"].get(
                                                "original_mandate_reference"),
                                            None, "api", status="active", authorisation_source="paper")
            except HttpError as exc:
                errors = json.loads(exc.response.body)["error"]["errors"]
                entry["processing_errors"] = {e.get("field", e.get("reason")): e["message"] for e in errors}
                continue
            entry["links"].update(customer=customer["id"], customer_bank_account=account["id"],
                                  mandate=mandate["id"])
        imp["status"] = "processed"

    # -- events and scenarios ----------------------------------------------------------------------
    def run_scenario(self, request: Request) -> Response:
        name = request.params["id"]
        if name not in SCENARIOS:
            raise self._not_found()
        data = self._body(request, "data")
        resource = (data.get("links") or {}).get("resource")
        kind = "payments" if name.startswith("payment") else "mandates"
        obj = self.objects[kind].get(resource)
        if obj is None:
            raise self._validation("links.resource", f"must be an existing {kind[:-1]}")
        status = obj["status"]
        if kind == "payments":
            allowed = {"payment_confirmed": ("pending_submission", "submitted"),
                       "payment_paid_out": ("pending_submission", "submitted", "confirmed"),
                       "payment_failed": ("pending_submission", "submitted", "confirmed"),
                       "payment_charged_back": ("pending_submission", "submitted", "confirmed", "paid_out")}
            if status not in allowed[name]:
                raise self._invalid_state("invalid_scenario_for_payment_status",
                                          f"{name} cannot run on a payment that is {status}")
            path = {"payment_confirmed": ["submitted", "confirmed"],
                    "payment_paid_out": ["submitted", "confirmed", "paid_out"],
                    "payment_failed": ["submitted", "failed"],
                    "payment_charged_back": ["submitted", "confirmed", "paid_out", "charged_back"]}[name]
            order = ["pending_submission", "submitted", "confirmed", "paid_out"]
            for step in path:
                if step in order and order.index(status) >= order.index(step):
                    continue  # already there
                extra: dict[str, Any] = {}
                if step == "failed":
                    extra = {"cause": "insufficient_funds", "origin": "bank", "reason_code": "AM04",
                             "description": "The customer's account had insufficient funds"}
                elif step == "charged_back":
                    extra = {"cause": "payment_charged_back", "origin": "bank", "reason_code": "MD06",
                             "description": "The customer disputed the payment"}
                self._set_payment(obj, step, **extra)
                status = step
        else:
            if status not in ("pending_customer_approval", "pending_submission", "submitted"):
                raise self._invalid_state("invalid_scenario_for_mandate_status",
                                          f"{name} cannot run on a mandate that is {status}")
            if status != "submitted":
                self._set_mandate(obj, "submitted", description="Mandate submitted to the bank")
            if name == "mandate_activated":
                self._set_mandate(obj, "active", description="The mandate has been set up successfully")
            else:
                self._set_mandate(obj, "failed", cause="invalid_bank_details", origin="bank",
                                  description="The bank rejected the mandate", reason_code="AC01")
        return self._ok(200, {"scenario_simulators": {"id": name}})

    # -- the clock ---------------------------------------------------------------------------------
    def advance(self) -> None:
        today = self._today()
        for imp in list(self.objects["mandate_imports"].values()):
            if imp["status"] == "submitted":
                self._process_import(imp)
        for mandate in self.objects["mandates"].values():
            private = self.private[mandate["id"]]
            if mandate["status"] == "pending_submission" and today >= private["submit_on"]:
                self._set_mandate(mandate, "submitted", description="Mandate submitted to the bank")
            if mandate["status"] == "submitted" and today >= private["active_on"]:
                self._set_mandate(mandate, "active", description="The mandate has been set up successfully")
            self._refresh_charge_date(mandate)
        for payment in self.objects["payments"].values():
            status = payment["status"]
            if status not in ("pending_submission", "submitted", "confirmed"):
                continue
            charge = date.fromisoformat(payment["charge_date"])
            mandate = self.objects["mandates"][payment["links"]["mandate"]]
            if status == "pending_submission" and today >= _working_days_before(charge, 2):
                if mandate["status"] != "active":
                    if today >= charge:  # the mandate never became usable in time
                        self._set_payment(payment, "failed", cause="mandate_not_active", origin="bank",
                                          description="The mandate was not active on the charge date")
                    continue
                self._set_payment(payment, "submitted", description="Payment submitted to the bank")
                status = "submitted"
            if status == "submitted" and today >= charge:
                self._set_payment(payment, "confirmed", description="Payment collected from the customer")
                status = "confirmed"
            if status == "confirmed" and today >= add_working_days(charge, 2):
                self._set_payment(payment, "paid_out", description="Payment paid out to the creditor")

    def stats(self) -> dict[str, Any]:
        return {"gocardless_objects": {k: len(v) for k, v in self.objects.items()}}


def _working_days_before(day: date, n: int) -> date:
    current = day
    while n > 0:
        current -= timedelta(days=1)
        if current.weekday() < 5:
            n -= 1
    return current
