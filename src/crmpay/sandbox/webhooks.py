"""Webhook delivery, as the providers do it, from a background thread of the sandbox.

`POST /__sandbox/webhooks` `{"provider": "gocardless"|"mollie", "url": "...", "secret": "..."}`
registers a receiver (`GET` lists them without secrets and counts deliveries; `DELETE`
removes them all; `Sandbox.reset()` too).

- GoCardless: every event the simulator emits is queued; the delivery thread takes what is
  queued (at most `GOCARDLESS_BATCH` events) into one POST `{"events": [...], "meta":
  {"webhook_id": "WB…"}}` signed with `Webhook-Signature` = hex HMAC-SHA256 of the raw body
  keyed with the secret. Any answer but 2xx (or no answer within `TIMEOUT`) resends the same
  body later, like GoCardless, which retries a failed webhook up to 8 times at growing
  intervals; receivers must de-duplicate by event id.
- Mollie: when a payment that was created with a `webhookUrl` changes status (paid,
  failed, canceled, expired, a chargeback), the receiver gets `id=tr_…` as a form POST,
  retried the same way. Mollie refuses an unreachable `webhookUrl` (localhost) at
  creation, so a payment carries a public URL; the registered receiver stands for the
  reverse proxy that URL reaches.

Back-off: real delays, scaled down from minutes to fractions of a second
(`RETRY_DELAYS`, 8 retries, 50 ms doubling to 6.4 s) so tests stay fast; a registration
may give its own `retry_delays`. Delivery never happens inside the request that caused the
change: handlers only queue, under the sandbox's lock; the thread sends, outside it.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GOCARDLESS_BATCH = 250
RETRY_DELAYS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4)
TIMEOUT = 10.0  # seconds GoCardless waits for a 2xx


@dataclass
class Receiver:
    provider: str
    url: str
    secret: str | None = None
    retry_delays: tuple[float, ...] = RETRY_DELAYS


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    provider: str = field(compare=False)
    body: bytes = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    ids: list[str] = field(compare=False)
    generation: int = field(compare=False)
    attempt: int = field(default=0, compare=False)
    first_sent: float | None = field(default=None, compare=False)


class WebhookDelivery:
    def __init__(self, origin: Callable[[], str], new_id: Callable[[str], str]) -> None:
        self._origin, self._new_id = origin, new_id
        self.receivers: dict[str, Receiver] = {}
        self._cond = threading.Condition()
        self._events: list[dict[str, Any]] = []  # GoCardless events not yet in a batch
        self._retries: list[_Delivery] = []  # a heap by due time
        self._ready: list[_Delivery] = []
        self._seq = itertools.count()
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.stats: Counter[str] = Counter()
        self.log: list[dict[str, Any]] = []  # each POST: provider, ids, status, attempt, sent (time.time())
        self.log_limit = 100_000

    # -- registration (control API) ----------------------------------------------------------------
    def register(self, provider: Any, url: Any, secret: Any = None, retry_delays: Any = None) -> Receiver:
        if provider not in ("gocardless", "mollie"):
            raise ValueError("provider must be gocardless or mollie")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        if provider == "gocardless" and not (isinstance(secret, str) and secret):
            raise ValueError("a GoCardless receiver needs the endpoint secret")
        delays = RETRY_DELAYS
        if retry_delays is not None:
            if not isinstance(retry_delays, list) or not all(
                isinstance(d, int | float) and 0 <= d <= 60 for d in retry_delays
            ):
                raise ValueError("retry_delays must be a list of seconds (0-60)")
            delays = tuple(float(d) for d in retry_delays)
        receiver = Receiver(provider, url, secret, delays)
        with self._cond:
            self.receivers[provider] = receiver
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="crmpay-sandbox-webhooks", daemon=True)
                self._thread.start()
        return receiver

    def describe(self) -> dict[str, Any]:
        with self._cond:
            return {
                "receivers": [
                    {
                        "provider": r.provider,
                        "url": r.url,
                        "signed": bool(r.secret),
                        "retry_delays": list(r.retry_delays),
                    }
                    for r in self.receivers.values()
                ],
                "queued_events": len(self._events),
                "waiting_retries": len(self._retries),
                "deliveries": dict(self.stats),
            }

    def reset(self) -> None:
        with self._cond:
            self.receivers.clear()
            self._events.clear()
            self._retries.clear()
            self._ready.clear()
            self._generation += 1
            self.stats.clear()
            self.log.clear()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(TIMEOUT + 1)

    # -- emission (called by the simulators, under the sandbox's lock: queue only) ------------------
    def wants(self, provider: str) -> bool:
        return provider in self.receivers

    def gocardless_event(self, event: dict[str, Any]) -> None:
        with self._cond:
            if "gocardless" in self.receivers:
                self._events.append(event)
                self._cond.notify_all()

    def mollie_payment(self, payment_id: str) -> None:
        with self._cond:
            if "mollie" in self.receivers:
                body = f"id={payment_id}".encode()
                headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Mollie HTTP client/1.0"}
                self._ready.append(
                    _Delivery(0.0, next(self._seq), "mollie", body, headers, [payment_id], self._generation)
                )
                self._cond.notify_all()

    def idle(self) -> bool:
        """Nothing queued, ready or waiting for a retry (tests and the bench wait for it)."""
        with self._cond:
            return not (self._events or self._ready or self._retries or self.stats["in_flight"])

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.01)
        return False

    # -- the delivery thread -------------------------------------------------------------------------
    def _gocardless_batch(self) -> _Delivery:
        """Inside the condition: the queued events (at most a batch) as one signed POST."""
        events, self._events = self._events[:GOCARDLESS_BATCH], self._events[GOCARDLESS_BATCH:]
        payload = {"events": events, "meta": {"webhook_id": self._new_id("WB")}}
        body = json.dumps(payload, separators=(",", ":")).encode()
        secret = self.receivers["gocardless"].secret or ""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "gocardless-webhook-service/1.1",
            "Origin": self._origin(),
            "Webhook-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        }
        ids = [e["id"] for e in events]
        return _Delivery(0.0, next(self._seq), "gocardless", body, headers, ids, self._generation)

    def _next(self) -> _Delivery | None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._ready:
                    return self._ready.pop(0)
                if self._events and "gocardless" in self.receivers:
                    return self._gocardless_batch()
                if self._retries and self._retries[0].due <= now:
                    return heapq.heappop(self._retries)
                wait = self._retries[0].due - now if self._retries else None
                self._cond.wait(wait)
            return None

    def _run(self) -> None:
        while (delivery := self._next()) is not None:
            with self._cond:
                receiver = self.receivers.get(delivery.provider)
                if receiver is None or delivery.generation != self._generation:
                    continue
                self.stats["in_flight"] += 1
            sent = time.time()
            try:
                status = _post(receiver.url, delivery.body, delivery.headers)
            finally:
                with self._cond:
                    self.stats["in_flight"] -= 1
            self._done(receiver, delivery, status, sent)

    def _done(self, receiver: Receiver, delivery: _Delivery, status: int, sent: float) -> None:
        with self._cond:
            if delivery.generation != self._generation:
                return
            ok = 200 <= status < 300
            self.stats[f"{delivery.provider} {'ok' if ok else 'failed'}"] += 1
            if len(self.log) < self.log_limit:
                self.log.append(
                    {
                        "provider": delivery.provider,
                        "ids": delivery.ids,
                        "status": status,
                        "attempt": delivery.attempt,
                        "sent": sent,
                    }
                )
            if ok or delivery.attempt >= len(receiver.retry_delays):
                if not ok:
                    self.stats[f"{delivery.provider} given up"] += 1
                return
            delivery.due = time.monotonic() + receiver.retry_delays[delivery.attempt]
            delivery.attempt += 1
            heapq.heappush(self._retries, delivery)
            self._cond.notify_all()


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight to the receiver, never a proxy


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """The answer's status; 0 when there was none (refused, reset, timed out)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return 0
