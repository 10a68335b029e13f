"""The simulated Zoho CRM: one service that owns the state, checks tokens and scopes, and routes every part."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmpay.sandbox._http import Request, Response, Router
from crmpay.sandbox.zoho.constants import ALL_SCOPES, CLIENT_ID, CLIENT_SECRET, FIELDS, UNIQUE_FIELDS
from crmpay.sandbox.zoho.control import _Control
from crmpay.sandbox.zoho.metadata import _Metadata
from crmpay.sandbox.zoho.oauth import _OAuth
from crmpay.sandbox.zoho.queries import _Queries

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox


class ZohoService(_OAuth, _Queries, _Metadata, _Control):
    """Zoho CRM: its state, the Service protocol and the routes to every part."""

    name = "zoho"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.reset()

    def reset(self) -> None:
        self.records = {m: {} for m in FIELDS}
        self._indexes = {}
        self.users = []
        self.grant_codes = {}
        self.refresh_tokens = {}
        self.access_tokens = {}
        self.minted = {}
        self.tokens_minted = 0
        self.expired_answers = 0
        self.settings = {
            "token_ttl_seconds": 3600,
            "max_concurrency": 10,
            "scopes": list(ALL_SCOPES),
            "reject_values": [],
            # "Module.Field" marked unique ("Do not allow duplicate values"), as our setup asks
            "unique_fields": list(UNIQUE_FIELDS),
        }  # records holding one of these values are refused
        self._add_user("admin@crmpay-sandbox.example", "Sandbox Admin")
        self.first_grant_code = self._new_grant_code()

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
