"""Webhooks: the providers tell crmpay what changed, within a second, and `crmpay sync`
stays the safety net (docs/webhooks.md).

- `Receiver`: the HTTP receiver (server.py) and its worker (worker.py) for one profile;
  `serve` runs it in the foreground until SIGINT/SIGTERM (`crmpay webhooks serve`),
  `start` in a background thread (the demo, tests).
- `set_secret`: the GoCardless endpoint secret, kept in the keyring
  (`CRMPAY_GOCARDLESS_WEBHOOK_SECRET` wins), never in config, logs or output.
- `status`: the last event, lag, failures and what is still to apply, per provider.
- `process_pending`: apply what was received but not applied, without serving.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crmpay.core.errors import UsageError

if TYPE_CHECKING:
    from crmpay.services.context import Context
    from crmpay.services.webhooks.worker import Counters, Worker
    from crmpay.store import Store

SECRET = ("gocardless", "webhook_secret")  # (service, field) in crmpay.secrets
PROVIDERS = ("gocardless", "mollie")


def set_secret(ctx: Context, provider: str, value: str) -> None:
    """Keep a provider's webhook endpoint secret (GoCardless only: Mollie's classic webhooks are not signed)."""
    from crmpay.secrets import set_secret as keep

    if provider != "gocardless":
        raise UsageError(
            f"no webhook secret for {provider!r}",
            hint="only GoCardless signs its webhooks; Mollie posts an id that crmpay reads back with the API key",
        )
    value = value.strip()
    if not value:
        raise UsageError("the webhook secret is empty", hint="copy it from GoCardless: Developers > Webhook endpoints")
    keep(ctx.profile, *SECRET, value)


def secret_source(ctx: Context) -> str | None:
    """Where the GoCardless webhook secret comes from ("environment" / "keyring"), never its value."""
    from crmpay.secrets import read_secret

    found = read_secret(ctx.profile, *SECRET)
    return found.source if found else None


def status(ctx: Context) -> dict[str, Any]:
    from crmpay.services.webhooks.intake import summary

    out = summary(ctx.store())
    out["gocardless"]["secret"] = secret_source(ctx)
    return out


def process_pending(ctx: Context, *, timeout: float = 60.0) -> dict[str, Any]:
    """Apply every row due now (and push it to the CRM), in this process."""
    from crmpay.services.webhooks.apply import Applier
    from crmpay.services.webhooks.worker import Worker

    worker = Worker(ctx, lambda: _open(ctx))
    store, applier = _open(ctx), Applier(ctx)
    deadline = time.monotonic() + timeout
    try:
        while worker.run_once(store, applier) and time.monotonic() < deadline:
            pass
    finally:
        applier.close()
        store.close()
    return {
        "applied": worker.counters.applied,
        "failed": worker.counters.failed,
        "crm_failures": worker.counters.crm_failures,
    }


def _open(ctx: Context) -> Store:
    from crmpay.store import Store

    return Store.open(ctx.home.database(ctx.profile))


class Receiver:
    """The receiver of one profile: bound at once (port 0 picks one), served by `serve()`
    here or `start()` in a thread. One per profile at a time (a lock beside the store)."""

    def __init__(self, ctx: Context, host: str = "127.0.0.1", port: int = 8765, *, idle: float = 5.0) -> None:
        from crmpay.services import context
        from crmpay.services.webhooks.server import Intake, bind, build_app, url_of
        from crmpay.services.webhooks.worker import Worker

        self.ctx = ctx
        self._lock = context.profile_lock(ctx, "webhooks", "webhook receiver")
        self._lock.__enter__()
        try:
            ctx.store()  # created and migrated before the threads open their own connections
            secret = _secret(ctx)
            self.secret_source = secret_source(ctx)
            self.worker: Worker = Worker(ctx, lambda: _open(ctx), idle=idle)
            self._intake = Intake(lambda: _open(ctx))
            self.app = build_app(secret, self._intake, self.worker)
            try:
                self._sock = bind(host, port)
            except OSError as exc:
                raise UsageError(
                    f"cannot listen on {host}:{port}: {exc.strerror}", hint="choose another --port"
                ) from None
            self.url = url_of(self._sock)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def _uvicorn(self) -> Any:
        import uvicorn

        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", proxy_headers=True)
        self._server = uvicorn.Server(config)
        return self._server

    def serve(self) -> Counters:
        """Serve until SIGINT or SIGTERM, then finish the batch in hand."""
        self.worker.start()
        try:
            self._uvicorn().run(sockets=[self._sock])
        finally:
            self.close()
        return self.worker.counters

    def start(self) -> Receiver:
        self.worker.start()
        server = self._uvicorn()
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._sock]}, name="crmpay-webhooks", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.01)
        return self

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once nothing received is still to apply (tests, the demo)."""
        from crmpay.services.webhooks.intake import summary

        store = _open(self.ctx)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if all(v["unprocessed"] == 0 for v in summary(store).values()):
                    return True
                time.sleep(0.02)
            return False
        finally:
            store.close()

    def stop(self) -> Counters:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.close()
        return self.worker.counters

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.worker.stop()
        self._intake.close()
        self._sock.close()
        self._lock.__exit__(None, None, None)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _secret(ctx: Context) -> str | None:
    from crmpay.secrets import get_secret

    return get_secret(ctx.profile, *SECRET)


def serve(ctx: Context, host: str, port: int, *, ready: Callable[[dict[str, Any]], None] | None = None) -> Counters:
    """`crmpay webhooks serve`: bind, tell `ready` where (no secret in it), serve until stopped."""
    receiver = Receiver(ctx, host, port)
    if ready is not None:
        ready(
            {
                "url": receiver.url,
                "profile": ctx.profile,
                "endpoints": {p: f"{receiver.url}/webhooks/{p}" for p in PROVIDERS},
                "gocardless_secret": receiver.secret_source,
            }
        )
    return receiver.serve()


class Webhooks:
    """`Workspace.webhooks`: the receiver and its state for the workspace's profile."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def serve(
        self, host: str = "127.0.0.1", port: int = 8765, *, ready: Callable[[dict[str, Any]], None] | None = None
    ) -> Counters:
        """Serve until SIGINT/SIGTERM; `ready(info)` is told the address first (no secret in it)."""
        return serve(self._ctx, host, port, ready=ready)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Receiver:
        """The receiver in a background thread (`.url`, `.wait_idle()`, `.stop()`)."""
        return Receiver(self._ctx, host, port, idle=1.0).start()

    def set_secret(self, provider: str, value: str) -> None:
        set_secret(self._ctx, provider, value)

    def status(self) -> dict[str, Any]:
        return status(self._ctx)

    def process_pending(self) -> dict[str, Any]:
        return process_pending(self._ctx)
