"""SipSim, simulated: OAuth client credentials and the API v2 calls and phones listings.

From the SipSim API documentation (sources in `docs/fidelity.md`): `POST /oauth/token`
(grant_type=client_credentials, client_id, client_secret, scope) gives a Bearer token; answers come in an envelope
`{status, request_id, timestamp, data, pagination{count, limit, page, has_more}}`; the
calls listing needs `start_time`, takes `limit` 20..1000 and pages by keyset: `page` is
an opaque token for the last (start_time, id) returned, so calls arriving meanwhile
never shift a page.

Control: `POST /__sandbox/sipsim/calls` and `/__sandbox/sipsim/phones` seed data
(`{"data": [...]}`; missing ids are filled).
"""

from __future__ import annotations

import base64
import bisect
import json
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from crmpay.sandbox._http import HttpError, Request, Response, Router
from crmpay.sandbox.clock import iso

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox

CLIENT_ID = "sipsim-sandbox-client"
CLIENT_SECRET = "sipsim-sandbox-secret"
SCOPES = ("account.read", "calls.read", "phones.read")
CALL_TYPES = ("inbound", "outgoing", "missed", "voicemail")


def _utc(text: str) -> datetime:
    """An ISO 8601 time with an offset (a `+` left unencoded in a query arrives as a space)."""
    text = re.sub(r" (\d\d:?\d\d)$", r"+\1", text.strip()).replace("Z", "+00:00")
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a time zone offset is required")
    return value


class SipsimService:
    name = "sipsim"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.reset()

    def reset(self) -> None:
        self.tokens: dict[str, tuple[str, set[str]]] = {}  # token -> (expires_at, scopes)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []  # sorted (start_time UTC, id, call)
        self.phones: list[dict[str, Any]] = []

    # -- the Service protocol --------------------------------------------------------------------
    def credentials(self) -> dict[str, Any]:
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_url": self.sandbox.url}

    def advance(self) -> None:
        pass

    def stats(self) -> dict[str, Any]:
        return {"sipsim_calls": len(self.calls)}

    def fault_response(self, status: int) -> Response:
        return self._envelope_error(status, "too many requests" if status == 429 else "internal error").response

    def register(self, router: Router) -> None:
        router.add("POST", "/oauth/token", self.token, service=self.name)
        router.add("GET", "/api/v2/calls", self._guard(self.list_calls, "calls.read"), service=self.name)
        router.add("GET", "/api/v2/phones", self._guard(self.list_phones, "phones.read"), service=self.name)
        router.add("POST", "/__sandbox/sipsim/calls", self.seed_calls, service="control")
        router.add("POST", "/__sandbox/sipsim/phones", self.seed_phones, service="control")

    # -- helpers ---------------------------------------------------------------------------------
    def _envelope(self, data: Any, pagination: dict[str, Any] | None = None, status: int = 200) -> Response:
        body: dict[str, Any] = {
            "status": "success",
            "request_id": self.sandbox.ids.next("req_", 12),
            "timestamp": iso(self.sandbox.clock.now()),
            "data": data,
        }
        if pagination is not None:
            body["pagination"] = pagination
        return Response.json_body(status, body)

    def _envelope_error(self, status: int, message: str) -> HttpError:
        return HttpError(
            Response.json_body(
                status,
                {
                    "status": "error",
                    "request_id": self.sandbox.ids.next("req_", 12),
                    "timestamp": iso(self.sandbox.clock.now()),
                    "error": {"code": status, "message": message},
                },
            )
        )

    def _guard(self, handler, scope: str):
        def wrapped(request: Request) -> Response:
            auth = request.header("Authorization") or ""
            found = self.tokens.get(auth.removeprefix("Bearer ").strip()) if auth.startswith("Bearer ") else None
            if found is None or found[0] <= iso(self.sandbox.clock.now()):
                raise self._envelope_error(401, "invalid or expired access token")
            if scope not in found[1]:
                raise self._envelope_error(403, f"the token lacks the scope {scope}")
            return handler(request)

        return wrapped

    # -- OAuth -------------------------------------------------------------------------------------
    def token(self, request: Request) -> Response:
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return Response.json_body(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return Response.json_body(
                401, {"error": "invalid_client", "error_description": "client authentication failed"}
            )
        asked = set((form.get("scope") or " ".join(SCOPES)).split())
        unknown = asked - set(SCOPES)
        if unknown:
            return Response.json_body(400, {"error": "invalid_scope", "error_description": sorted(unknown)[0]})
        token = "sst_" + self.sandbox.ids.next("sipsim-token", 24).lower()
        self.tokens[token] = (iso(self.sandbox.clock.now() + timedelta(hours=1)), asked)
        return Response.json_body(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": " ".join(sorted(asked))}
        )

    # -- listings ------------------------------------------------------------------------------------
    def list_calls(self, request: Request) -> Response:
        start_text = request.arg("start_time")
        if not start_text:
            raise self._envelope_error(400, "start_time is required")
        try:
            start = iso(_utc(start_text))
            end = iso(_utc(request.arg("end_time", ""))) if request.arg("end_time") else None
            limit = int(request.arg("limit", "100"))
        except ValueError as exc:
            raise self._envelope_error(400, f"invalid parameter: {exc}") from None
        if not 20 <= limit <= 1000:
            raise self._envelope_error(400, "limit must be between 20 and 1000")
        types = set((request.arg("call_types") or ",".join(CALL_TYPES)).split(","))
        if types - set(CALL_TYPES):
            raise self._envelope_error(400, f"unknown call type {sorted(types - set(CALL_TYPES))[0]}")
        position = bisect.bisect_left(self.calls, (start, ""), key=lambda entry: (entry[0], entry[1]))
        token = request.arg("page")
        if token:
            try:
                after = json.loads(base64.urlsafe_b64decode(token.encode()))
                position = max(position, self._after(str(after[0]), str(after[1])))
            except (ValueError, IndexError, TypeError):
                raise self._envelope_error(400, "invalid page token") from None
        page: list[dict[str, Any]] = []
        index = position
        while index < len(self.calls) and len(page) < limit:
            started, _, call = self.calls[index]
            if end is not None and started >= end:
                break
            if call["type"] in types:
                page.append(call)
            index += 1
        more = index < len(self.calls) and (end is None or self.calls[index][0] < end)
        last = (self.calls[index - 1][0], self.calls[index - 1][1]) if index > position else None
        next_token = base64.urlsafe_b64encode(json.dumps(list(last)).encode()).decode() if more and last else None
        return self._envelope(page, {"count": len(page), "limit": limit, "page": next_token, "has_more": more})

    def _after(self, started: str, call_id: str) -> int:
        """The index of the first call strictly after (start_time, id)."""
        return bisect.bisect_right(self.calls, (started, call_id), key=lambda entry: (entry[0], entry[1]))

    def list_phones(self, request: Request) -> Response:
        status = request.arg("status")
        phones = [p for p in self.phones if status is None or p["status"] == status]
        return self._envelope(phones, {"count": len(phones), "limit": len(phones), "page": None, "has_more": False})

    # -- control ---------------------------------------------------------------------------------------
    def seed_calls(self, request: Request) -> Response:
        added = []
        for item in (request.json() or {}).get("data", []):
            call = {
                "id": str(item.get("id") or self.sandbox.ids.next("call_", 12).lower()),
                "direction": item.get("direction", "inbound"),
                "type": item.get("type")
                or (
                    "missed"
                    if str(item.get("status", "")).casefold() in ("noanswer", "missed")
                    and item.get("direction", "inbound") == "inbound"
                    else item.get("direction", "inbound")
                ),
                "caller_number": item["caller_number"],
                "receiver_number": item["receiver_number"],
                "start_time": item["start_time"],
                "answer_time": item.get("answer_time"),
                "end_time": item.get("end_time") or item["start_time"],
                "duration": int(item.get("duration") or 0),
                "status": str(item.get("status") or "answer").upper(),  # ANSWER, NOANSWER… as documented now
            }
            self.calls.append((iso(_utc(call["start_time"])), call["id"], call))
            added.append(call["id"])
        self.calls.sort(key=lambda entry: (entry[0], entry[1]))
        return Response.json_body(201, {"ids": added})

    def seed_phones(self, request: Request) -> Response:
        for item in (request.json() or {}).get("data", []):
            self.phones.append(
                {
                    "id": str(item.get("id") or self.sandbox.ids.next("phone_", 8).lower()),
                    "name": item.get("name", ""),
                    "internal_number": item.get("internal_number"),
                    "number": item["number"],
                    "group": item.get("group"),
                    "status": item.get("status", "active"),
                }
            )
        return Response.json_body(201, {"count": len(self.phones)})
