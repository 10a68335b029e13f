"""Mollie's wire rules, simulated: links, HAL errors, bearer key, idempotency keys, body and amount checks."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crmpay.core.errors import UsageError
from crmpay.core.money import exponent
from crmpay.sandbox._http import HttpError, Request, Response
from crmpay.sandbox._tables import Tables
from crmpay.sandbox.clock import iso
from crmpay.sandbox.mollie.constants import API_KEY, DOCS, HAL, IN_PROGRESS, NOUN

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox

KEY_TTL = timedelta(hours=1)  # how long Mollie keeps an idempotency key

_UNREACHABLE = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|::1|\[::1\])$", re.IGNORECASE)


class _Wire(Tables):
    """The state every resource shares (set by `MollieService.reset`), and how it goes on the wire."""

    sandbox: Sandbox
    # listings under a parent: (kind, parent id) -> (ids in creation order, positions)
    children: dict[tuple[str, str], tuple[list[str], dict[str, int]]]
    owner: dict[str, str]  # mandate id -> customer id
    references: dict[str, str]  # mandate reference (casefolded) -> mandate id
    private: dict[str, dict[str, Any]]  # lifecycle dates, never on the wire
    live: dict[str, None]  # payments and refunds not yet final, in creation order
    idempotency: dict[str, tuple[str, Response, datetime]]  # key -> (body fingerprint, first answer, when)
    conflicts: dict[str | None, int]  # idempotency key (None: any) -> POSTs left to answer 409

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"{self.sandbox.url}/v2"

    def _link(self, path: str, kind: str = HAL) -> dict[str, str]:
        return {"href": f"{self.base}/{path}", "type": kind}

    def _page(self, path: str) -> dict[str, str]:
        return {"href": f"{self.sandbox.url}/__sandbox/mollie/{path}", "type": "text/html"}

    @staticmethod
    def _doc(page: str) -> dict[str, str]:
        return {"href": f"{DOCS}/{page}", "type": "text/html"}

    def _now(self) -> str:
        return iso(self.sandbox.clock.now())

    def _error(
        self, status: int, title: str, detail: str, field: str | None = None, doc: str = "guides/handling-errors"
    ) -> HttpError:
        body: dict[str, Any] = {"status": status, "title": title, "detail": detail}
        if field:
            body["field"] = field
        body["_links"] = {"documentation": self._doc(doc)}
        return HttpError(Response.json_body(status, body, content_type=HAL))

    def _bad(self, detail: str, field: str | None = None) -> HttpError:
        return self._error(400, "Bad Request", detail, field)

    def _unprocessable(self, detail: str, field: str | None = None) -> HttpError:
        return self._error(422, "Unprocessable Entity", detail, field)

    def _not_found(self, kind: str, ident: str) -> HttpError:
        return self._error(404, "Not Found", f"No {NOUN[kind]} exists with token {ident}.")

    def _get(self, kind: str, ident: str) -> dict[str, Any]:
        obj = self.objects[kind].get(ident)
        if obj is None:
            raise self._not_found(kind, ident)
        return obj

    @staticmethod
    def _ok(status: int, body: Any) -> Response:
        return Response.json_body(status, body, content_type=HAL)

    def _store(self, kind: str, obj: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
        """Keep `obj` in creation order, also under its parent (customer, payment)."""
        super()._store(kind, obj)
        if parent is None:
            parent = {
                "payments": obj.get("customerId"),
                "refunds": obj.get("paymentId"),
                "chargebacks": obj.get("paymentId"),
                "mandates": self.owner.get(obj["id"]),
            }.get(kind)
        if parent:
            self._index(kind, parent, obj["id"])
        if kind in ("payments", "refunds") and obj.get("status") in ("open", "pending", "queued"):
            self.live[obj["id"]] = None
        return obj

    def _index(self, kind: str, parent: str, ident: str) -> None:
        ids, positions = self.children.setdefault((kind, parent), ([], {}))
        positions[ident] = len(ids)
        ids.append(ident)

    def _children(self, kind: str, parent: str) -> tuple[list[str], dict[str, int]]:
        return self.children.get((kind, parent)) or ([], {})

    # -- authentication and idempotency ---------------------------------------------------------------
    def _guard(self, handler: Callable[[Request], Response], idempotent: bool) -> Callable[[Request], Response]:
        def wrapped(request: Request) -> Response:
            if request.header("Authorization") != f"Bearer {API_KEY}":
                raise self._error(
                    401,
                    "Unauthorized Request",
                    "Missing authentication, or failed to authenticate",
                    doc="guides/authentication",
                )
            key = request.header("Idempotency-Key") if idempotent else None
            if not key:
                return handler(request)
            fingerprint = self._fingerprint(request)
            if request.method == "POST" and self._conflict(key):
                self._process_first(key, fingerprint, handler, request)
                raise self._error(409, "Conflict", IN_PROGRESS, doc="overview/api-idempotency")
            seen = self._kept(key)
            if seen is not None:
                if seen[0] != fingerprint:
                    raise self._error(
                        400,
                        "Bad Request",
                        "This Idempotency-Key has already been used.",
                        doc="overview/api-idempotency",
                    )
                first = seen[1]
                return Response(first.status, first.body, {**first.headers, "Idempotent-Replayed": "true"})
            response = handler(request)
            if response.status < 300:
                self.idempotency[key] = (fingerprint, response, self.sandbox.clock.now())
            return response

        return wrapped

    def _conflict(self, key: str) -> bool:
        """Whether this POST is to be answered 409 (armed by `arm_conflicts`); counts it down."""
        for armed in (key, None):
            left = self.conflicts.get(armed, 0)
            if left > 0:
                self.conflicts[armed] = left - 1
                return True
        return False

    def _process_first(
        self, key: str, fingerprint: str, handler: Callable[[Request], Response], request: Request
    ) -> None:
        """The request Mollie is "still processing": the first one with a key is processed
        (what it creates exists, and is what later requests with the key are answered with)."""
        if self._kept(key) is not None:
            return
        try:
            response = handler(request)
        except HttpError:
            return  # refused: nothing kept, a later request with the key is processed again
        if response.status < 300:
            self.idempotency[key] = (fingerprint, response, self.sandbox.clock.now())

    def _kept(self, key: str) -> tuple[str, Response, datetime] | None:
        """The first answer to `key`, while Mollie keeps it: "Keys older than 1 hour will be
        removed from our cache" (docs/fidelity.md); after that the key is new again."""
        seen = self.idempotency.get(key)
        if seen is not None and self.sandbox.clock.now() - seen[2] > KEY_TTL:
            del self.idempotency[key]
            return None
        return seen

    def arm_conflicts(self, request: Request) -> Response:
        """`POST /__sandbox/mollie/idempotency/conflicts` `{"count": N, "key": "..."}`: the next N
        POSTs carrying that Idempotency-Key (any key when `key` is null or absent) answer 409
        "already being processed", as Mollie does while a request with the same key is still
        being processed; then requests with the key behave as before (a replay of the first)."""
        body = request.json() or {}
        count, key = body.get("count", 1), body.get("key")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return Response.json_body(400, {"error": "count must be an integer >= 0"})
        if key is not None and (not isinstance(key, str) or not key):
            return Response.json_body(400, {"error": "key must be a non-empty string or null"})
        self.conflicts[key] = count
        return Response.json_body(200, {"conflicts": [{"key": k, "left": n} for k, n in self.conflicts.items()]})

    @staticmethod
    def _fingerprint(request: Request) -> str:
        try:
            body = json.dumps(json.loads(request.body), sort_keys=True) if request.body.strip() else ""
        except ValueError:
            body = request.body.decode("utf-8", "replace")
        return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()

    def _body(self, request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        try:
            body = json.loads(request.body)
        except ValueError:
            raise self._bad("The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise self._bad("The request body must be a JSON object")
        return body

    # -- validation ----------------------------------------------------------------------------------
    def _amount(self, value: Any, field: str = "amount") -> dict[str, str]:
        if value is None:
            raise self._unprocessable("The amount is required", field)
        if not isinstance(value, dict):
            raise self._unprocessable("The amount is invalid", field)
        currency = value.get("currency")
        if not isinstance(currency, str):
            raise self._unprocessable("The currency is missing", f"{field}.currency")
        try:
            decimals = exponent(currency)
        except UsageError:
            raise self._unprocessable(f"The currency '{currency}' is not supported", f"{field}.currency") from None
        text = value.get("value")
        pattern = r"\d+" if decimals == 0 else rf"\d+\.\d{{{decimals}}}"
        if not isinstance(text, str) or not re.fullmatch(pattern, text):
            raise self._unprocessable(
                f"The amount contains an invalid value: {currency.upper()} amounts have exactly {decimals} decimals",
                f"{field}.value",
            )
        if not any(ch in "123456789" for ch in text):
            raise self._unprocessable("The amount is lower than the minimum", field)
        return {"value": text, "currency": currency.upper()}

    def _description(self, body: dict[str, Any], limit: int = 255) -> str:
        description = body.get("description")
        if not isinstance(description, str) or not description.strip():
            raise self._unprocessable("The description is invalid", "description")
        if len(description) > limit:
            raise self._unprocessable(f"The description must be at most {limit} characters", "description")
        return description

    def _url(self, body: dict[str, Any], field: str, *, webhook: bool = False) -> str | None:
        value = body.get(field)
        if value is None:
            return None
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._unprocessable(f"The {field} is invalid", field)
        if webhook and _UNREACHABLE.match(parts.hostname):
            raise self._unprocessable(
                "The webhook URL is invalid because it is unreachable from Mollie's point of view", field
            )
        return value

    def _metadata(self, body: dict[str, Any]) -> Any:
        metadata = body.get("metadata")
        if metadata is not None and len(json.dumps(metadata)) > 1024:
            raise self._unprocessable("The metadata is too large: at most 1024 bytes", "metadata")
        return metadata


def _minor(value: str, decimals: int) -> int:
    whole, _, fraction = value.partition(".")
    return int(whole) * 10**decimals + int((fraction or "0").ljust(decimals, "0")[:decimals] or "0")


def _major(minor: int, decimals: int) -> str:
    if decimals == 0:
        return str(minor)
    return f"{minor // 10**decimals}.{minor % 10**decimals:0{decimals}d}"
