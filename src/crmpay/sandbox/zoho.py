"""Zoho CRM, simulated: OAuth (`/oauth/v2/token`) and the records API under `/crm/v8`.

Rules from the Zoho CRM v8 API documentation (sources in `docs/fidelity.md`): a refresh
token mints at most ten access tokens per ten minutes of the sandbox clock; access tokens live an hour; at most 100
records per write, 207 for mixed outcomes, 204 for empty results; search's `equals`
acts like "contains", as in v8, and `phone=` finds a number only as it was typed; 429 once more
requests than `max_concurrency` are in flight.

Modules: Leads, Contacts, Accounts, Deals, Tasks, Calls, Invoices, and two custom
modules crmpay mirrors providers into, `CRMPAY_Mandates` and `CRMPAY_Payments`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from crmpay.sandbox._http import HttpError, Request, Response, Router
from crmpay.sandbox.clock import iso

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox

CLIENT_ID = "1000.CRMPAYSANDBOXCLIENT"
CLIENT_SECRET = "crmpay-sandbox-client-secret"
ALL_SCOPES = [
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.modules.READ",
    "ZohoCRM.settings.fields.READ",
    "ZohoCRM.settings.layouts.READ",
    "ZohoCRM.settings.pipeline.READ",
    "ZohoCRM.users.READ",
    "ZohoCRM.coql.READ",
]
MANDATORY = {
    "Leads": ("Last_Name",),
    "Contacts": ("Last_Name",),
    "Accounts": ("Account_Name",),
    "Deals": ("Deal_Name", "Stage"),
    "Tasks": ("Subject",),
    "Calls": ("Subject", "Call_Type", "Call_Start_Time"),
    "Invoices": ("Subject", "Invoiced_Items"),
    "CRMPAY_Mandates": ("Name",),
    "CRMPAY_Payments": ("Name",),
}
# v8 upsert takes Leads, Accounts, Contacts, Deals, … and custom modules, not activities
NOT_UPSERTABLE = frozenset({"Tasks", "Calls", "Events"})
# Upsert matches only on these system duplicate-check fields, or on fields marked unique.
SYSTEM_DUPLICATE_CHECK = {"Leads": ("Email",), "Contacts": ("Email",), "Accounts": ("Account_Name",)}
UNIQUE_FIELDS = (
    "CRMPAY_Mandates.Name",
    "CRMPAY_Payments.Name",
    "Deals.CRMPAY_Call_Id",
    "Tasks.CRMPAY_Call_Id",
    "Calls.CRMPAY_Call_Id",
)
MAX_REFRESH_TOKENS = 20  # per user: the 21st deletes the oldest

FIELDS = {
    "Leads": ["Last_Name", "First_Name", "Company", "Email", "Phone", "Mobile", "Lead_Source", "Lead_Status", "Owner"],
    "Contacts": [
        "Last_Name",
        "First_Name",
        "Email",
        "Phone",
        "Mobile",
        "Home_Phone",
        "Account_Name",
        "Owner",
        "CRMPAY_Active_Mandate",
    ],
    "Accounts": ["Account_Name", "Phone", "Owner"],
    "Deals": [
        "Deal_Name",
        "Stage",
        "Pipeline",
        "Layout",
        "Closing_Date",
        "Account_Name",
        "Contact_Name",
        "Amount",
        "Owner",
        "CRMPAY_Call_Id",
    ],
    "Tasks": [
        "Subject",
        "Due_Date",
        "Status",
        "Priority",
        "Owner",
        "Who_Id",
        "What_Id",
        "Description",
        "CRMPAY_Call_Id",
    ],
    "Calls": [
        "Subject",
        "Call_Type",
        "Call_Start_Time",
        "Call_Duration",
        "Who_Id",
        "What_Id",
        "Caller_ID",
        "Dialled_Number",
        "Owner",
        "Description",
        "CRMPAY_Call_Id",
    ],
    "Invoices": [
        "Subject",
        "Invoice_Number",
        "Invoiced_Items",
        "Account_Name",
        "Contact_Name",
        "Invoice_Date",
        "Due_Date",
        "Status",
        "Grand_Total",
        "Currency",
    ],
    "CRMPAY_Mandates": ["Name", "Provider", "Status", "Reference", "Contact", "Email"],
    "CRMPAY_Payments": ["Name", "Provider", "Status", "Amount", "Currency", "Charge_Date", "Mandate", "Email"],
}
# A new org's Deals layout and its one pipeline, stored as "Standard (Standard)" and shown
# as "Standard", with Zoho's standard stages. Pipelines are read per layout.
DEALS_LAYOUT = {"id": "5725767000000091055", "name": "Standard", "status": "active"}
PIPELINES = {  # actual value -> (display value, stages)
    "Standard (Standard)": (
        "Standard",
        [
            "Qualification",
            "Needs Analysis",
            "Value Proposition",
            "Identify Decision Makers",
            "Proposal/Price Quote",
            "Negotiation/Review",
            "Closed Won",
            "Closed Lost",
            "Closed Lost to Competition",
        ],
    )
}
PHONE_FIELDS = ("Phone", "Mobile", "Home_Phone", "Other_Phone")
FORECASTS = {"Closed Won": ("Closed", "Closed Won"), "Closed Lost": ("Omitted", "Closed Lost")}  # else Pipeline/Open


def _stage(position: int, name: str) -> dict[str, Any]:
    """One stage of a pipeline with the fields zoho/crm-oas v8.0 `pipeline.json` requires
    of `maps` (display and actual value, id, sequence, forecast category and type)."""
    category, kind = FORECASTS.get(
        name, ("Omitted", "Closed Lost") if name.startswith("Closed Lost") else ("Pipeline", "Open")
    )
    return {
        "display_value": name,
        "actual_value": name,
        "id": str(100 + position),
        "sequence_number": position + 1,
        "forecast_category": {"name": category, "id": str(10 + ("Pipeline", "Closed", "Omitted").index(category))},
        "forecast_type": kind,
    }


class ZohoService:
    name = "zoho"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.reset()

    def reset(self) -> None:
        self.records: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in FIELDS}
        self._indexes: dict[tuple[str, tuple[str, ...]], dict[tuple[str, ...], str]] = {}
        self.users: list[dict[str, Any]] = []
        self.grant_codes: dict[str, tuple[str, bool]] = {}  # code -> (created_at, used)
        self.refresh_tokens: dict[str, None] = {}  # oldest first; a user keeps at most 20
        self.access_tokens: dict[str, str] = {}  # token -> expires_at
        self.minted: dict[str, list[str]] = {}  # refresh token -> mint times
        self.tokens_minted = 0
        self.expired_answers = 0
        self.settings: dict[str, Any] = {
            "token_ttl_seconds": 3600,
            "max_concurrency": 10,
            "scopes": list(ALL_SCOPES),
            "reject_values": [],
            # "Module.Field" marked unique ("Do not allow duplicate values"), as our setup asks
            "unique_fields": list(UNIQUE_FIELDS),
        }  # records holding one of these values are refused
        self._add_user("admin@crmpay-sandbox.example", "Sandbox Admin")
        self.first_grant_code = self._new_grant_code()

    # -- helpers -----------------------------------------------------------------------------------
    def _now(self) -> str:
        return iso(self.sandbox.clock.now())

    def _new_id(self) -> str:
        return str(5_000_000_000_000_000 + int(self.sandbox.ids.next("", 12), 36))

    def _add_user(self, email: str, name: str) -> dict[str, Any]:
        user = {
            "id": self._new_id(),
            "email": email,
            "full_name": name,
            "status": "active",
            "role": {"name": "Manager", "id": "1"},
            "profile": {"name": "Standard", "id": "2"},
        }
        self.users.append(user)
        return user

    def _new_grant_code(self) -> str:
        code = "1000." + self.sandbox.ids.next("grant", 16).lower()
        self.grant_codes[code] = (self._now(), False)
        return code

    @staticmethod
    def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> HttpError:
        return HttpError(
            Response.json_body(status, {"code": code, "details": details or {}, "message": message, "status": "error"})
        )

    def fault_response(self, status: int) -> Response:
        if status == 429:
            return self._error(429, "TOO_MANY_REQUESTS", "too many requests").response
        return self._error(500, "INTERNAL_ERROR", "Internal Server Error").response

    def credentials(self) -> dict[str, Any]:
        return {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_code": self.first_grant_code,
            "accounts_url": self.sandbox.url,
            "api_url": self.sandbox.url,
        }

    def advance(self) -> None:
        pass

    def stats(self) -> dict[str, Any]:
        return {"zoho_tokens_minted": self.tokens_minted, "zoho_records": {m: len(r) for m, r in self.records.items()}}

    # -- routes --------------------------------------------------------------------------------------
    def register(self, router: Router) -> None:
        router.add("POST", "/oauth/v2/token", self.token, service=self.name)
        router.add("POST", "/oauth/v2/token/revoke", self.revoke, service=self.name)
        api = [
            ("GET", "/crm/v8/users", self.list_users),
            ("GET", "/crm/v8/settings/modules", self.modules),
            ("GET", "/crm/v8/settings/fields", self.fields),
            ("GET", "/crm/v8/settings/pipeline", self.pipelines),
            ("GET", "/crm/v8/settings/layouts", self.layouts),
            ("POST", "/crm/v8/coql", self.coql),
            ("GET", "/crm/v8/{module}/search", self.search),
            ("POST", "/crm/v8/{module}/upsert", self.upsert),
            ("GET", "/crm/v8/{module}/{id}", self.get_record),
            ("GET", "/crm/v8/{module}", self.list_records),
            ("POST", "/crm/v8/{module}", self.insert),
            ("PUT", "/crm/v8/{module}", self.update),
        ]
        for method, template, handler in api:
            router.add(method, template, self._guard(handler), service=self.name)
        control = [
            ("POST", "/__sandbox/zoho/grant_code", lambda r: Response.json_body(200, {"code": self._new_grant_code()})),
            ("POST", "/__sandbox/zoho/users", self.control_user),
            ("POST", "/__sandbox/zoho/records/{module}", self.control_records),
            ("PUT", "/__sandbox/zoho/settings", self.control_settings),
            ("POST", "/__sandbox/zoho/expire_tokens", self.control_expire),
        ]
        for method, template, handler in control:
            router.add(method, template, handler, service="control")

    def _guard(self, handler):
        def wrapped(request: Request) -> Response:
            if self.sandbox.in_flight[self.name] > self.settings["max_concurrency"]:
                raise self._error(429, "TOO_MANY_REQUESTS", "concurrency limit exceeded")
            auth = request.header("Authorization") or ""
            token = auth.removeprefix("Zoho-oauthtoken ").strip()
            expires = self.access_tokens.get(token)
            if not auth.startswith("Zoho-oauthtoken ") or expires is None:
                raise self._error(401, "INVALID_TOKEN", "invalid oauth token")
            if expires <= self._now():
                # Zoho answers an expired token with either code: alternate, so clients meet both
                self.expired_answers += 1
                if self.expired_answers % 2:
                    raise self._error(401, "INVALID_TOKEN", "invalid oauth token")
                raise self._error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
            module = request.params.get("module")
            needed = (
                "ZohoCRM.coql.READ"
                if request.path.endswith("/coql")
                else (
                    "ZohoCRM.users.READ"
                    if request.path.endswith("/users")
                    else (
                        "ZohoCRM.settings.pipeline.READ"
                        if "pipeline" in request.path
                        else "ZohoCRM.settings.layouts.READ"
                        if request.path.endswith("/layouts")
                        else (
                            "ZohoCRM.settings.fields.READ"
                            if request.path.endswith("/fields")
                            else (
                                "ZohoCRM.settings.modules.READ"
                                if request.path.endswith("/modules")
                                else "ZohoCRM.modules.ALL"
                            )
                        )
                    )
                )
            )
            if needed not in self.settings["scopes"]:
                raise self._error(
                    401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL", {"required_scope": needed}
                )
            if module is not None and module not in self.records:
                raise self._error(400, "INVALID_MODULE", "the module name given seems to be invalid")
            return handler(request)

        return wrapped

    # -- OAuth ---------------------------------------------------------------------------------------
    def revoke(self, request: Request) -> Response:
        token = request.arg("token") or ""
        if token not in self.refresh_tokens:
            return Response.json_body(400, {"status": "failure", "error": "invalid_token"})
        del self.refresh_tokens[token]
        return Response.json_body(200, {"status": "success"})

    def token(self, request: Request) -> Response:
        params = {k: v[0] for k, v in request.query.items()}
        params.update(request.form())
        if params.get("client_id") != CLIENT_ID or params.get("client_secret") != CLIENT_SECRET:
            return Response.json_body(200, {"error": "invalid_client"})
        grant = params.get("grant_type")
        if grant == "authorization_code":
            code = params.get("code", "")
            found = self.grant_codes.get(code)
            expired = found and (self.sandbox.clock.now() - _parse(found[0])) > timedelta(minutes=3)
            if found is None or found[1] or expired:
                return Response.json_body(200, {"error": "invalid_code"})
            self.grant_codes[code] = (found[0], True)
            refresh = "1000." + self.sandbox.ids.next("refresh", 24).lower()
            self.refresh_tokens[refresh] = None
            while len(self.refresh_tokens) > MAX_REFRESH_TOKENS:  # the 21st deletes the oldest
                del self.refresh_tokens[next(iter(self.refresh_tokens))]
            return Response.json_body(200, {**self._mint(refresh), "refresh_token": refresh})
        if grant == "refresh_token":
            refresh = params.get("refresh_token", "")
            if refresh not in self.refresh_tokens:
                return Response.json_body(200, {"error": "invalid_code"})
            window_start = iso(self.sandbox.clock.now() - timedelta(minutes=10))
            recent = [t for t in self.minted.get(refresh, []) if t > window_start]
            if len(recent) >= 10:
                return Response.json_body(
                    400,
                    {
                        "error_description": (
                            "You have made too many requests continuously. Please try again after some time."
                        ),
                        "error": "Access Denied",
                        "status": "failure",
                    },
                )
            return Response.json_body(200, self._mint(refresh))
        return Response.json_body(200, {"error": "unsupported_grant_type"})

    def _mint(self, refresh: str) -> dict[str, Any]:
        token = "1000." + self.sandbox.ids.next("access", 32).lower()
        ttl = self.settings["token_ttl_seconds"]
        self.access_tokens[token] = iso(self.sandbox.clock.now() + timedelta(seconds=ttl))
        self.minted.setdefault(refresh, []).append(self._now())
        self.tokens_minted += 1
        return {
            "access_token": token,
            "api_domain": self.sandbox.url,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(self.settings["scopes"]),
        }

    # -- records -------------------------------------------------------------------------------------
    def _record(self, module: str, data: dict[str, Any]) -> dict[str, Any]:
        now = self._now()
        owner = data.get("Owner") or {"id": self.users[0]["id"]}
        return {
            **data,
            "id": data.get("id") or self._new_id(),
            "Owner": owner,
            "Created_Time": data.get("Created_Time") or now,
            "Modified_Time": data.get("Modified_Time") or now,
        }

    @staticmethod
    def _deal_mapping(data: dict[str, Any]) -> dict[str, Any] | None:
        """A deal's layout must exist, and its pipeline and stage belong to that layout."""

        def error(code: str, field: str) -> dict[str, Any]:
            details = {"api_name": field, "json_path": f"$.data[0].{field}"}
            return {"code": code, "message": "invalid data", "status": "error", "details": details}

        layout = data.get("Layout")
        if layout is not None and (not isinstance(layout, dict) or layout.get("id") != DEALS_LAYOUT["id"]):
            return error("INVALID_DATA", "Layout")
        pipeline = data.get("Pipeline")
        if pipeline is not None and pipeline not in PIPELINES:
            return error("MAPPING_MISMATCH", "Pipeline")
        stages = PIPELINES[pipeline][1] if pipeline else [s for _, ss in PIPELINES.values() for s in ss]
        if data.get("Stage") and data["Stage"] not in stages:
            return error("MAPPING_MISMATCH", "Stage")
        return None

    def _check(self, module: str, data: Any) -> dict[str, Any] | None:
        """The error entry for one record, or None when it is valid."""
        if not isinstance(data, dict):
            return {"code": "INVALID_DATA", "message": "invalid data", "status": "error", "details": {}}
        for field in MANDATORY[module]:
            if data.get(field) in (None, "", []):
                return {
                    "code": "MANDATORY_NOT_FOUND",
                    "message": "required field not found",
                    "status": "error",
                    "details": {"api_name": field, "json_path": f"$.data[0].{field}"},
                }
        refused = next((k for k, v in data.items() if isinstance(v, str) and v in self.settings["reject_values"]), None)
        if refused:
            return {
                "code": "INVALID_DATA",
                "message": "invalid data",
                "status": "error",
                "details": {"api_name": refused, "json_path": f"$.data[0].{refused}"},
            }
        if module == "Deals":
            mismatch = self._deal_mapping(data)
            if mismatch:
                return mismatch
        unknown = [
            k
            for k in data
            if k not in FIELDS[module] and k not in ("id", "$se_module", "Created_Time", "Modified_Time")
        ]
        if unknown:
            return {
                "code": "INVALID_DATA",
                "message": "invalid data",
                "status": "error",
                "details": {"api_name": unknown[0], "json_path": f"$.data[0].{unknown[0]}"},
            }
        return None

    def _batch(self, request: Request) -> tuple[str, list[Any], dict[str, Any]]:
        body = request.json() or {}
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            raise self._error(400, "INVALID_DATA", "the data is empty or malformed")
        if len(data) > 100:
            raise self._error(400, "LIMIT_EXCEEDED", "the number of records exceeds 100", {"limit": 100})
        return request.params["module"], data, body

    def _answer(self, results: list[dict[str, Any]], ok_status: int) -> Response:
        statuses = {r["status"] for r in results}
        status = 207 if len(statuses) > 1 else (ok_status if statuses == {"success"} else 400)
        return Response.json_body(status, {"data": results})

    def _success(self, record: dict[str, Any], action: str) -> dict[str, Any]:
        return {
            "code": "SUCCESS",
            "status": "success",
            "action": action,
            "message": f"record {'added' if action == 'insert' else 'updated'}",
            "details": {
                "id": record["id"],
                "Created_Time": record["Created_Time"],
                "Modified_Time": record["Modified_Time"],
                "Created_By": {"id": self.users[0]["id"], "name": self.users[0]["full_name"]},
            },
        }

    def _create(self, module: str, item: dict[str, Any]) -> dict[str, Any]:
        record = self._record(module, {k: v for k, v in item.items() if k != "id"})
        self.records[module][record["id"]] = record
        self._reindex(module, record)
        return self._success(record, "insert")

    def insert(self, request: Request) -> Response:
        module, data, _ = self._batch(request)
        results = [self._check(module, item) or self._create(module, item) for item in data]
        return self._answer(results, 201)

    def update(self, request: Request) -> Response:
        module, data, _ = self._batch(request)
        results = []
        for item in data:
            existing = self.records[module].get(str(item.get("id"))) if isinstance(item, dict) else None
            if existing is None:
                results.append(
                    {
                        "code": "INVALID_DATA",
                        "message": "the related id given seems to be invalid",
                        "status": "error",
                        "details": {"api_name": "id"},
                    }
                )
                continue
            merged = {**existing, **item}
            error = self._check(module, {k: v for k, v in merged.items() if k != "Owner"})
            if error:
                results.append(error)
                continue
            merged["Modified_Time"] = self._now()
            self.records[module][existing["id"]] = merged
            self._reindex(module, merged)
            results.append(self._success(merged, "update"))
        return self._answer(results, 200)

    def upsert(self, request: Request) -> Response:
        module = request.params["module"]
        if module in NOT_UPSERTABLE:
            raise self._error(400, "INVALID_MODULE", f"the upsert API does not support the module {module}")
        module, data, body = self._batch(request)
        keys = body.get("duplicate_check_fields") or []
        for key in keys:  # Zoho matches only on system duplicate-check fields and unique fields
            if (
                key not in SYSTEM_DUPLICATE_CHECK.get(module, ())
                and f"{module}.{key}" not in self.settings["unique_fields"]
            ):
                raise self._error(
                    400,
                    "INVALID_DATA",
                    "the field is not a unique field",
                    {"param_name": "duplicate_check_fields", "api_name": key},
                )
        results = []
        for item in data:
            error = self._check(module, item)
            if error:
                results.append(error)
                continue
            match = self._duplicate(module, tuple(keys), item) if keys else None
            if match is not None:
                match.update({k: v for k, v in item.items() if k != "id"})
                match["Modified_Time"] = self._now()
                self._reindex(module, match)
                results.append({**self._success(match, "update"), "duplicate_field": keys[0]})
            else:
                results.append(self._create(module, item))
        return self._answer(results, 200)

    # Upserts look duplicates up in an index per (module, fields), kept current on every
    # write, so a module of 100,000 records answers an upsert of 100 in constant time.
    @staticmethod
    def _key(record: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(record.get(k) or "").casefold() for k in keys)

    def _duplicate(self, module: str, keys: tuple[str, ...], item: dict[str, Any]) -> dict[str, Any] | None:
        index = self._indexes.get((module, keys))
        if index is None:
            index = self._indexes[(module, keys)] = {}
            for record in self.records[module].values():
                index.setdefault(self._key(record, keys), record["id"])
        wanted = self._key(item, keys)
        if wanted not in index:
            return None
        found = self.records[module].get(index[wanted])
        if found is not None and self._key(found, keys) == wanted:
            return found
        # the indexed record's key changed since: look again, the slow way (rare)
        return next((r for r in self.records[module].values() if self._key(r, keys) == wanted), None)

    def _reindex(self, module: str, record: dict[str, Any]) -> None:
        for (indexed, keys), index in self._indexes.items():
            if indexed == module:
                key = self._key(record, keys)
                current = self.records[module].get(index.get(key, ""))
                if current is None or self._key(current, keys) != key:
                    index[key] = record["id"]

    def get_record(self, request: Request) -> Response:
        record = self.records[request.params["module"]].get(request.params["id"])
        if record is None:
            return Response.empty(204)
        return Response.json_body(200, {"data": [record]})

    def list_records(self, request: Request) -> Response:
        fields = request.arg("fields")
        if not fields:
            raise self._error(
                400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param_name": "fields"}
            )
        per_page = int(request.arg("per_page", "200"))
        if not 1 <= per_page <= 200:
            raise self._error(400, "INVALID_DATA", "per_page must be between 1 and 200")
        page = int(request.arg("page", "1"))
        token = request.arg("page_token")
        start = int(token.removeprefix("tok-")) if token else (page - 1) * per_page
        if not token and start >= 2000:
            raise self._error(400, "LIMIT_REACHED", "use page_token to read past 2,000 records")
        records = list(self.records[request.params["module"]].values())
        chunk = records[start : start + per_page]
        if not chunk:
            return Response.empty(204)
        wanted = [f.strip() for f in fields.split(",")] + ["id"]
        more = start + per_page < len(records)
        info = {
            "per_page": per_page,
            "count": len(chunk),
            "page": page if not token else None,
            "more_records": more,
            "next_page_token": f"tok-{start + per_page}" if more else None,
        }
        return Response.json_body(200, {"data": [{k: r.get(k) for k in wanted} for r in chunk], "info": info})

    def search(self, request: Request) -> Response:
        module = request.params["module"]
        records = list(self.records[module].values())
        if request.arg("email"):
            wanted = request.arg("email", "").casefold()
            hits = [r for r in records if wanted in str(r.get("Email") or "").casefold()]
        elif request.arg("phone"):
            # Zoho documents that every phone-type field is searched, nothing about partial
            # or reformatted matches: only the number as it was typed is found.
            wanted = request.arg("phone", "").strip()
            hits = [r for r in records if any(str(r.get(f) or "").strip() == wanted for f in PHONE_FIELDS)]
        elif request.arg("criteria"):
            hits = [r for r in records if _matches(r, request.arg("criteria", ""))]
        elif request.arg("word"):
            word = request.arg("word", "").casefold()
            hits = [r for r in records if any(word in str(v).casefold() for v in r.values())]
        else:
            raise self._error(400, "REQUIRED_PARAM_MISSING", "one of criteria, email, phone or word is needed")
        if not hits:
            return Response.empty(204)
        return Response.json_body(
            200, {"data": hits[:200], "info": {"count": len(hits[:200]), "more_records": len(hits) > 200}}
        )

    def coql(self, request: Request) -> Response:
        query = ((request.json() or {}).get("select_query") or "").strip()
        match = re.match(
            r"(?is)^select\s+(.+?)\s+from\s+(\w+)(?:\s+where\s+(.+?))?(?:\s+limit\s+(\d+)(?:\s*,\s*(\d+))?)?$", query
        )
        if not match:
            raise self._error(400, "SYNTAX_ERROR", "error at or near the query")
        fields, module, where, first, second = match.groups()
        if module not in self.records:
            raise self._error(400, "INVALID_QUERY", "invalid module", {"module": module})
        limit, offset = (int(second), int(first)) if second else (int(first or 200), 0)
        if limit > 2000:
            raise self._error(400, "LIMIT_EXCEEDED", "limit exceeds 2000")
        rows = [r for r in self.records[module].values() if not where or _coql_where(r, where)]
        page = rows[offset : offset + limit]
        if not page:
            return Response.empty(204)
        names = [f.strip() for f in fields.split(",")]
        return Response.json_body(
            200,
            {
                "data": [{n: r.get(n) for n in [*names, "id"]} for r in page],
                "info": {"count": len(page), "more_records": offset + limit < len(rows)},
            },
        )

    # -- metadata ------------------------------------------------------------------------------------
    def list_users(self, request: Request) -> Response:
        active = [u for u in self.users if u["status"] == "active"]
        return Response.json_body(200, {"users": active, "info": {"count": len(active), "more_records": False}})

    def modules(self, request: Request) -> Response:
        return Response.json_body(
            200,
            {
                "modules": [
                    {
                        "api_name": m,
                        "module_name": m,
                        "plural_label": m,
                        "api_supported": True,
                        "generated_type": "custom" if m.startswith("CRMPAY_") else "default",
                    }
                    for m in FIELDS
                ]
            },
        )

    def fields(self, request: Request) -> Response:
        module = request.arg("module")
        if module not in FIELDS:
            raise self._error(400, "INVALID_MODULE", "the module name given seems to be invalid")
        return Response.json_body(
            200,
            {
                "fields": [
                    {
                        "api_name": f,
                        "field_label": f.replace("_", " "),
                        "system_mandatory": f in MANDATORY[module],
                        "data_type": _data_type(f),
                        "unique": {"casesensitive": False} if f"{module}.{f}" in self.settings["unique_fields"] else {},
                    }
                    for f in FIELDS[module]
                ]
            },
        )

    def layouts(self, request: Request) -> Response:
        if not request.arg("module"):
            raise self._error(400, "REQUIRED_PARAM_MISSING", "module is required")
        if request.arg("module") != "Deals":
            return Response.json_body(200, {"layouts": [{"id": "5725767000000091000", "name": "Standard"}]})
        return Response.json_body(200, {"layouts": [DEALS_LAYOUT]})

    def pipelines(self, request: Request) -> Response:
        layout = request.arg("layout_id")
        if not layout:
            raise self._error(400, "REQUIRED_PARAM_MISSING", "layout_id is required")
        if layout != DEALS_LAYOUT["id"]:  # a real layout id, nothing else (not "default")
            raise self._error(400, "INVALID_DATA", "invalid data", {"param_name": "layout_id"})
        return Response.json_body(
            200,
            {
                "pipeline": [
                    {
                        "display_value": display,
                        "actual_value": actual,
                        "id": str(i + 1),
                        "default": i == 0,
                        "child_available": False,
                        "maps": [_stage(j, s) for j, s in enumerate(stages)],
                    }
                    for i, (actual, (display, stages)) in enumerate(PIPELINES.items())
                ]
            },
        )

    # -- control -------------------------------------------------------------------------------------
    def control_user(self, request: Request) -> Response:
        body = request.json() or {}
        return Response.json_body(201, self._add_user(body["email"], body.get("name") or body["email"]))

    def control_records(self, request: Request) -> Response:
        module = request.params["module"]
        if module not in self.records:
            return Response.json_body(400, {"error": f"unknown module {module}"})
        created = []
        for item in (request.json() or {}).get("data", []):
            record = self._record(module, item)
            self.records[module][record["id"]] = record
            self._reindex(module, record)
            created.append(record["id"])
        return Response.json_body(201, {"ids": created})

    def control_settings(self, request: Request) -> Response:
        body = request.json() or {}
        for key in ("token_ttl_seconds", "max_concurrency", "scopes", "reject_values", "unique_fields"):
            if key in body:
                self.settings[key] = body[key]
        return Response.json_body(200, self.settings)

    def control_expire(self, request: Request) -> Response:
        now = self._now()
        for token in self.access_tokens:
            self.access_tokens[token] = now
        return Response.json_body(200, {"expired": len(self.access_tokens)})


def _data_type(field: str) -> str:
    if field in PHONE_FIELDS:
        return "phone"
    if field in ("Owner", "Account_Name", "Contact_Name", "Who_Id", "What_Id"):
        return "ownerlookup" if field == "Owner" else "lookup"
    return "email" if field == "Email" else "text"


def _parse(ts: str):
    from datetime import datetime

    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _criteria_terms(criteria: str) -> list[tuple[str, str, str]]:
    """`((Email:equals:a@b.fr)and(Last_Name:starts_with:Do\\,e))` -> [(field, op, value)…]."""
    terms = []
    for part in re.findall(r"\(([^()]*?(?:\\.[^()]*?)*)\)", unquote(criteria)):
        pieces = re.split(r"(?<!\\):", part, maxsplit=2)
        if len(pieces) == 3:
            field, op, value = pieces
            terms.append((field, op, re.sub(r"\\(.)", r"\1", value)))
    return terms


def _matches(record: dict[str, Any], criteria: str) -> bool:
    terms = _criteria_terms(criteria)
    use_or = ")or(" in criteria.replace(" ", "")
    results = []
    for field, op, value in terms:
        have = str(record.get(field) or "").casefold()
        want = value.casefold()
        if op in ("equals", "contains"):  # v8: equals acts like contains
            results.append(want in have)
        elif op == "starts_with":
            results.append(have.startswith(want))
        else:
            results.append(False)
    return bool(results) and (any(results) if use_or else all(results))


def _coql_where(record: dict[str, Any], where: str) -> bool:
    clauses = re.split(r"(?i)\s+and\s+", where.strip().strip("()"))
    for clause in clauses:
        clause = clause.strip().strip("()")
        m = re.match(r"(?i)^(\w+)\s*(=|!=|in|like)\s*(.+)$", clause)
        if not m:
            return False
        field, op, raw = m.groups()
        have = str(
            record.get(field)
            if not isinstance(record.get(field), dict)
            else record[field].get("id") or record[field].get("name")
        )
        if op.lower() == "in":
            values = [v.strip().strip("'") for v in raw.strip("() ").split(",")]
            if have not in values:
                return False
        else:
            value = raw.strip().strip("'")
            if op == "=" and have != value or op == "!=" and have == value:
                return False
            if op.lower() == "like" and value.strip("%").casefold() not in have.casefold():
                return False
    return True
