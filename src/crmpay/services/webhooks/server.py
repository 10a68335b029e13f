"""The receiver: a Starlette app served by uvicorn, one profile per process.

- `POST /webhooks/gocardless`: the `Webhook-Signature` header must be the hex HMAC-SHA256
  of the raw body with the endpoint secret (constant-time compare), else 498 and nothing
  is written. Each event of the batch is written to `webhook_events` (one transaction,
  committed) before the 204; an event already received only counts a delivery.
- `POST /webhooks/mollie`: the form's `id` is written (queued again if known) and 200 is
  answered whatever the id, so a caller learns nothing; the worker reads the payment at
  Mollie with the API key, never trusting the body.
- `GET /healthz`: 200 while the process runs (for a reverse proxy or systemd's watchdog).
Writes go through one intake thread with its own SQLite connection, so the event loop
never waits on the database; the worker applies behind the answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from crmpay.services.webhooks import intake
from crmpay.services.webhooks.verify import INVALID_SIGNATURE, signature_ok

if TYPE_CHECKING:
    from crmpay.services.webhooks.worker import Worker
    from crmpay.store import Store

log = logging.getLogger("crmpay.webhooks")
MAX_BODY = 5 * 1024 * 1024  # GoCardless sends at most a few hundred events a request
OBJECT_ID = re.compile(r"^[a-z]{2,4}_\w{1,60}$")


class Intake:
    """One thread that owns the intake's SQLite connection."""

    def __init__(self, open_store: Callable[[], Store]) -> None:
        self._local = threading.local()
        self._open_store = open_store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmpay-webhooks-intake")
        self._stores: list[Store] = []

    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self._open_store()
            self._stores.append(store)
        return store

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._store(), *args))

    def close(self) -> None:
        def close_all() -> None:
            for store in self._stores:
                store.close()

        self._pool.submit(close_all).result()
        self._pool.shutdown()


def build_app(gocardless_secret: str | None, store_intake: Intake, worker: Worker | None) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def read_body(request: Request) -> bytes | None:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            return None
        body = await request.body()
        return body if len(body) <= MAX_BODY else None

    async def gocardless(request: Request) -> Response:
        body = await read_body(request)
        if body is None:
            return PlainTextResponse("request too large", status_code=413)
        if not signature_ok(body, gocardless_secret, request.headers.get("webhook-signature")):
            return PlainTextResponse("invalid signature", status_code=INVALID_SIGNATURE)
        try:
            events = json.loads(body)["events"]
            if not isinstance(events, list) or not all(
                isinstance(e, dict) and isinstance(e.get("id"), str) for e in events
            ):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return PlainTextResponse('expected {"events": [...]}', status_code=400)
        if events:
            await store_intake.call(intake.record_gocardless, events)
            if worker is not None:
                worker.wake()
        return Response(status_code=204)

    async def mollie(request: Request) -> Response:
        body = await read_body(request)
        if body is None:
            return PlainTextResponse("request too large", status_code=413)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        ident = form.get("id", "").strip()
        if OBJECT_ID.match(ident):
            await store_intake.call(intake.record_mollie, ident, {"id": ident})
            if worker is not None:
                worker.wake()
        return PlainTextResponse("OK", status_code=200)  # known or not: the caller learns nothing

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/webhooks/gocardless", gocardless, methods=["POST"]),
            Route("/webhooks/mollie", mollie, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run(app: Any, sock: socket.socket) -> None:
    """Serve until SIGINT or SIGTERM (uvicorn's graceful shutdown)."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", proxy_headers=True)
    uvicorn.Server(config).run(sockets=[sock])


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
