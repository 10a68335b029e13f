"""Retries with exponential backoff and full jitter, for requests safe to repeat.

Neither official SDK retries a 429 or a 5xx, so every provider call goes through
`with_retries`. Only safe calls (reads, and creates that carry an idempotency key)
are retried; the caller says which by passing `safe`.

`send_with_retries` does the same for one httpx request of the clients crmpay writes
itself (Zoho, SipSim): 429, 5xx and network errors are retried (safe calls only), and
what is still failing afterwards becomes a `TemporaryError` (exit 5) that names the
service and the request, never a secret. httpx is imported only when it is called.

Bounded time (docs/architecture.md, "Timeouts"): one call — its attempts and the waits
between them — ends within `call_timeout()` seconds (`CRMPAY_CALL_TIMEOUT`, 60): each
attempt has `attempt_timeouts()` (connect, read), and no retry starts that could not
finish in time. A whole command ends within `command_timeout()` seconds
(`CRMPAY_COMMAND_TIMEOUT`, 300; 0 = no limit): `command_deadline` raises a
`TemporaryError` (exit 5) naming the service it was waiting on, even in a read that
trickles, and the command's locks and transactions unwind as for any error.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from crmpay.core.errors import TemporaryError

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
CALL_TIMEOUT = 60.0
COMMAND_TIMEOUT = 300.0
_waiting_on: list[str] = []  # the services being called now, innermost last
_past_deadline: list[float] = []  # the command's limit, once it has passed
_late_on: list[str] = []  # the service the command was waiting on when its limit passed


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        from crmpay.core.errors import UsageError

        raise UsageError(f"{variable}={raw!r} is not a number of seconds") from None
    if not 0 <= value <= 86_400:
        from crmpay.core.errors import UsageError

        raise UsageError(f"{variable}={raw!r}: give 0 to 86400 seconds")
    return value


def call_timeout() -> float:
    """Seconds one call may take, retries included (`CRMPAY_CALL_TIMEOUT`, 60)."""
    return _seconds("CRMPAY_CALL_TIMEOUT", CALL_TIMEOUT) or CALL_TIMEOUT


def command_timeout() -> float:
    """Seconds a whole command may take (`CRMPAY_COMMAND_TIMEOUT`, 300; 0: no limit)."""
    return _seconds("CRMPAY_COMMAND_TIMEOUT", COMMAND_TIMEOUT)


def attempt_timeouts() -> tuple[float, float]:
    """(connect, read) seconds for one attempt: half the call's time at most."""
    budget = call_timeout()
    return (min(10.0, budget / 4), budget / 2)


def http_timeouts(read: float | None = None) -> Any:
    """`attempt_timeouts()` as an `httpx.Timeout` (`read` overriding the read timeout),
    for the clients crmpay writes itself (Zoho, SipSim)."""
    import httpx

    connect, default_read = attempt_timeouts()
    return httpx.Timeout(read or default_read, connect=connect)


@contextmanager
def waiting_on(service: str) -> Iterator[None]:
    """Name the service a blocking call waits on, for the command deadline's message."""
    _waiting_on.append(service)
    try:
        yield
    finally:
        _waiting_on.pop()


@contextmanager
def command_deadline(seconds: float | None = None) -> Iterator[None]:
    """End the command with a TemporaryError after `seconds` (default `command_timeout()`),
    wherever it is blocked. POSIX main thread only (SIGALRM); elsewhere it does nothing."""
    import signal
    import threading

    limit = command_timeout() if seconds is None else seconds
    if not limit or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: object) -> None:
        # Once past the limit, every second interrupts whatever blocks again, and no new
        # call starts (`with_retries`): a caller that reports an error and goes on to the
        # next service is stopped there too.
        if not _past_deadline and _waiting_on:
            _late_on.append(_waiting_on[-1])
        _past_deadline.append(limit)
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        raise _deadline_error()

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        _past_deadline.clear()
        _late_on.clear()


def _deadline_error() -> TemporaryError:
    # the service that made the command late, even once a caller has moved past it
    service = _late_on[0] if _late_on else _waiting_on[-1] if _waiting_on else None
    where = f"waiting on {service}" if service else "still working"
    return TemporaryError(
        f"gave up after {_past_deadline[0]:g} s ({where}; CRMPAY_COMMAND_TIMEOUT sets the limit)",
        hint="what was done is kept; run the command again",
    )


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 8.0
    budget: float | None = None  # seconds for the whole call; None: call_timeout()

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Full jitter: a random delay up to base * 2**attempt, capped; Retry-After wins."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return rng.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


def with_retries(
    call: Callable[[], T],
    *,
    is_transient: Callable[[BaseException], bool],
    safe: bool = True,
    policy: RetryPolicy | None = None,
    retry_after: Callable[[BaseException], float | None] = lambda exc: None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run `call`, retrying transient failures when `safe`; re-raise the last failure. No
    retry starts that could not end within the policy's budget (`call_timeout()`)."""
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    budget = policy.budget if policy.budget is not None else call_timeout()
    longest_attempt = sum(attempt_timeouts())
    started = time.monotonic()
    attempt = 0
    while True:
        if _past_deadline:
            raise _deadline_error()
        try:
            return call()
        except Exception as exc:
            attempt += 1
            if not safe or not is_transient(exc) or attempt >= policy.attempts:
                raise
            pause = policy.delay(attempt - 1, rng, retry_after(exc))
            if time.monotonic() - started + pause + longest_attempt > budget:
                raise
            sleep(pause)


# -- httpx clients --------------------------------------------------------------------------------
class _Retryable(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def send_with_retries(
    send: Callable[[], httpx.Response],
    *,
    service: str,
    what: str,
    safe: bool,
    policy: RetryPolicy,
    rng: random.Random,
    code_of: Callable[[httpx.Response], str] = lambda response: "",
) -> httpx.Response:
    """The response of `send()`, once it is neither a 429 nor a 5xx."""
    import httpx

    def once() -> httpx.Response:
        response = send()
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(response)
        return response

    try:
        with waiting_on(service):
            return with_retries(
                once,
                is_transient=lambda e: isinstance(e, (_Retryable, httpx.TransportError)),
                safe=safe,
                policy=policy,
                rng=rng,
            )
    except _Retryable as exc:
        code = code_of(exc.response)
        raise TemporaryError(
            f"{service} is unavailable ({exc.response.status_code}{' ' + code if code else ''}) for {what}",
            hint="try again later",
        ) from None
    except httpx.TransportError as exc:
        raise TemporaryError(f"cannot reach {service} for {what}: {type(exc).__name__}") from None
