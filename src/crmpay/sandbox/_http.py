"""Tiny HTTP primitives for the sandbox: requests, responses and a route table.

The sandbox is a real HTTP server; these types keep each simulated service free of
`http.server` details. Route templates (`/payments/{id}/actions/cancel`) double as the
keys of `GET /__sandbox/stats`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, overload
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route template

    @classmethod
    def build(cls, method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
        path, _, qs = target.partition("?")
        return cls(
            method=method.upper(),
            path=path or "/",
            query=parse_qs(qs, keep_blank_values=True),
            headers={k.lower(): v for k, v in headers.items()},
            body=body,
        )

    @overload
    def arg(self, name: str) -> str | None: ...
    @overload
    def arg(self, name: str, default: str) -> str: ...
    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The JSON body, `None` when empty; raises `HttpError(400)` when malformed."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise HttpError(Response.json_body(400, {"error": "malformed JSON body"})) from None

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json_body(
        cls,
        status: int,
        payload: Any,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Response:
        data = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, data, {"Content-Type": content_type, **(headers or {})})

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status, b"", {})


class HttpError(Exception):
    """Raised inside a handler to answer with `response` at once."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    service: str


class Router:
    """Maps `METHOD /path/{param}` templates to handlers."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, *, service: str) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self._routes.append(Route(method.upper(), template, re.compile(f"^{regex}$"), handler, service))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            if route.method != method:
                continue
            m = route.pattern.match(path)
            if m:
                return route, m.groupdict()
        return None

    def allows(self, path: str) -> list[str]:
        return sorted({r.method for r in self._routes if r.pattern.match(path)})

    def service_for_path(self, path: str) -> str | None:
        for route in self._routes:
            if route.pattern.match(path):
                return route.service
        return None
