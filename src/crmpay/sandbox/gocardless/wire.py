"""GoCardless's wire rules, simulated: bearer token, envelopes, typed errors, RateLimit headers, idempotency keys."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from crmpay.sandbox._http import HttpError, Request, Response
from crmpay.sandbox.gocardless.constants import DOCS, RATE_LIMIT, TOKEN
from crmpay.sandbox.gocardless.state import _State


class _Wire(_State):
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
