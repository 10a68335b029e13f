"""The sandbox: one real HTTP server on loopback serving every simulated API.

Services (GoCardless at the root, Mollie under `/v2`, and later Zoho CRM and SipSim)
plug in through the `Service` protocol. The control API under `/__sandbox/` moves the
clock, injects faults, reports request counts and resets everything.
"""

from __future__ import annotations

import importlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from crmpay.sandbox._http import HttpError, Request, Response, Router
from crmpay.sandbox.clock import Clock, iso
from crmpay.sandbox.webhooks import WebhookDelivery

# The services a sandbox starts with, as "module:class" names resolved when a Sandbox is built:
# the simulators import this module (for `Sandbox`), so this module never imports them.
DEFAULT_SERVICES = (
    "crmpay.sandbox.gocardless:GoCardlessService",
    "crmpay.sandbox.mollie:MollieService",
    "crmpay.sandbox.zoho:ZohoService",
    "crmpay.sandbox.sipsim:SipsimService",
    "crmpay.sandbox.smtp:SmtpSink",
)


class Service(Protocol):
    """One simulated API. Handlers run under the sandbox's lock, one at a time."""

    name: str

    def register(self, router: Router) -> None: ...

    def credentials(self) -> dict[str, Any]: ...

    def advance(self) -> None:
        """The clock moved: move every lifecycle that is due."""

    def fault_response(self, status: int) -> Response:
        """The body this API answers a 500 or a 429 with."""

    def reset(self) -> None: ...


class Ids:
    """Deterministic identifiers: `PM0000000001`, `tr_0000000001`…"""

    def __init__(self) -> None:
        self._counters: Counter[str] = Counter()
        self._lock = threading.Lock()

    def next(self, prefix: str, width: int = 10) -> str:
        with self._lock:
            self._counters[prefix] += 1
            n = self._counters[prefix]
        return f"{prefix}{_base36(n).rjust(width, '0')}"

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()


def _base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


@dataclass
class Faults:
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    drop_rate: float = 0.0
    delay_ms: int = 0
    seed: int | None = None


class Sandbox:
    """Owns the state of every simulated service and the HTTP server in front of them."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, start: date | datetime | str | None = None) -> None:
        """`start` pins the simulated date (a date begins at 09:00 UTC); without it the
        sandbox follows the real clock. `reset()` brings a pinned clock back to `start`."""
        self.clock = Clock(start)
        self.ids = Ids()
        self.lock = threading.RLock()
        self.router = Router()
        self.faults = Faults()
        self._rng = random.Random(0)
        self.stats: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()  # requests being served, per service
        self.services: dict[str, Service] = {}
        self._server = _Server((host, port), _Handler)
        self._server.sandbox = self
        self._thread: threading.Thread | None = None
        # webhooks to registered receivers, sent by a thread of their own (sandbox/webhooks.py)
        self.webhooks = WebhookDelivery(lambda: self.url, lambda prefix: self.ids.next(prefix, 12 - len(prefix)))
        self._register_control()
        for service in self._default_services():
            self.add_service(service)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self._server.serve_forever, name="crmpay-sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self.webhooks.stop()
        self._server.shutdown()
        self._server.server_close()
        for service in self.services.values():
            close = getattr(service, "close", None)
            if close:
                close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- services ------------------------------------------------------------------------------
    def _default_services(self) -> Iterable[Service]:
        services = []
        for path in DEFAULT_SERVICES:
            module, _, name = path.partition(":")
            services.append(getattr(importlib.import_module(module), name)(self))
        return services

    def add_service(self, service: Service) -> None:
        self.services[service.name] = service
        service.register(self.router)

    def credentials(self) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self.url}
        for name, service in self.services.items():
            info[name] = service.credentials()
        return info

    # -- control API -----------------------------------------------------------------------
    def _register_control(self) -> None:
        add = self.router.add
        add("GET", "/__sandbox/clock", self._get_clock, service="control")
        add("POST", "/__sandbox/clock", self._post_clock, service="control")
        add("GET", "/__sandbox/faults", self._get_faults, service="control")
        add("PUT", "/__sandbox/faults", self._put_faults, service="control")
        add("GET", "/__sandbox/stats", self._get_stats, service="control")
        add("DELETE", "/__sandbox/stats", self._delete_stats, service="control")
        add("POST", "/__sandbox/reset", self._post_reset, service="control")
        add("GET", "/__sandbox/credentials", lambda r: Response.json_body(200, self.credentials()), service="control")
        add("POST", "/__sandbox/webhooks", self._post_webhooks, service="control")
        add(
            "GET", "/__sandbox/webhooks", lambda r: Response.json_body(200, self.webhooks.describe()), service="control"
        )
        add("DELETE", "/__sandbox/webhooks", self._delete_webhooks, service="control")

    def _post_webhooks(self, request: Request) -> Response:
        """Register a receiver: `{"provider", "url", "secret", "retry_delays"?}` (the secret is never echoed)."""
        body = request.json() or {}
        try:
            receiver = self.webhooks.register(
                body.get("provider"), body.get("url"), body.get("secret"), body.get("retry_delays")
            )
        except ValueError as exc:
            return Response.json_body(400, {"error": str(exc)})
        return Response.json_body(201, {"provider": receiver.provider, "url": receiver.url})

    def _delete_webhooks(self, request: Request) -> Response:
        self.webhooks.reset()
        return Response.empty(204)

    def _get_clock(self, request: Request) -> Response:
        return Response.json_body(200, {"now": iso(self.clock.now())})

    def _post_clock(self, request: Request) -> Response:
        body = request.json() or {}
        days = body.get("advance_days")
        if not isinstance(days, int | float) or isinstance(days, bool) or days < 0:
            return Response.json_body(400, {"error": "advance_days must be a number >= 0"})
        self.advance(days)
        return Response.json_body(200, {"now": iso(self.clock.now())})

    def advance(self, days: float) -> None:
        """Move the clock one day at a time so each lifecycle sees every day pass."""
        with self.lock:
            whole, rest = divmod(days, 1)
            for _ in range(int(whole)):
                self.clock.advance(1)
                for service in self.services.values():
                    service.advance()
            if rest:
                self.clock.advance(rest)
                for service in self.services.values():
                    service.advance()

    def advance_to(self, day: date) -> None:
        """Move the clock on, a day at a time, until its date is `day` (never backwards)."""
        days = (day - self.clock.today()).days
        if days > 0:
            self.advance(days)

    def _get_faults(self, request: Request) -> Response:
        return Response.json_body(200, asdict(self.faults))

    def _put_faults(self, request: Request) -> Response:
        body = request.json() or {}
        allowed = set(Faults.__dataclass_fields__)
        unknown = set(body) - allowed
        if unknown:
            return Response.json_body(400, {"error": f"unknown fault keys: {sorted(unknown)}"})
        for key in ("error_rate", "rate_limit_rate", "drop_rate"):
            value = body.get(key, 0.0)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                return Response.json_body(400, {"error": f"{key} must be between 0 and 1"})
        self.set_faults(Faults(**body))
        return Response.json_body(200, asdict(self.faults))

    def set_faults(self, faults: Faults) -> None:
        with self.lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    def _get_stats(self, request: Request) -> Response:
        return Response.json_body(200, self.stats_snapshot())

    def stats_snapshot(self) -> dict[str, Any]:
        with self.lock:
            snapshot: dict[str, Any] = {"requests": dict(sorted(self.stats.items()))}
            for service in self.services.values():
                extra = getattr(service, "stats", None)
                if extra:
                    snapshot.update(extra())
            return snapshot

    def _delete_stats(self, request: Request) -> Response:
        with self.lock:
            self.stats.clear()
        return Response.empty(204)

    def _post_reset(self, request: Request) -> Response:
        self.reset()
        return Response.json_body(200, {"reset": True})

    def reset(self) -> None:
        with self.lock:
            self.stats.clear()
            self.faults = Faults()
            self._rng = random.Random(0)
            self.clock.reset()
            self.ids.reset()
            self.webhooks.reset()
            for service in self.services.values():
                service.reset()

    # -- dispatch ------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response | None:
        """Answer one request; `None` means: drop the connection without answering."""
        found = self.router.match(request.method, request.path)
        if found is None:
            allowed = self.router.allows(request.path)
            if allowed:
                return Response.json_body(405, {"error": "method not allowed", "allowed": allowed})
            return Response.json_body(404, {"error": f"no sandbox route for {request.path}"})
        route, params = found
        request.params = params
        if route.service != "control":
            with self.lock:
                self.stats[f"{route.method} {route.template}"] += 1
                faults = self.faults
                roll = self._rng.random()
            if faults.delay_ms:
                time.sleep(faults.delay_ms / 1000)
            if roll < faults.drop_rate:
                return None
            roll -= faults.drop_rate
            service = self.services[route.service]
            if roll < faults.error_rate:
                return service.fault_response(500)
            roll -= faults.error_rate
            if roll < faults.rate_limit_rate:
                return service.fault_response(429)
        with self.lock:
            self.in_flight[route.service] += 1
        try:
            with self.lock:
                return route.handler(request)
        except HttpError as exc:
            return exc.response
        finally:
            with self.lock:
                self.in_flight[route.service] -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: Sandbox
    # Tests and benchmarks open many short connections at once.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that went away (killed, timed out) is not the sandbox's problem
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the second waits for
    # the client's delayed ACK (about 40 ms) on every reused connection.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request.build(self.command, self.path, dict(self.headers.items()), body)
        try:
            response = self.server.sandbox.dispatch(request)
        except Exception as exc:  # a sandbox bug: answer 500 rather than hang the client
            response = Response.json_body(500, {"error": f"sandbox error: {exc!r}"})
        if response is None:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


def json_dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
