"""Retries with exponential backoff and full jitter, for requests safe to repeat.

Neither official SDK retries a 429 or a 5xx, so every provider call goes through
`with_retries`. Only safe calls (reads, and creates that carry an idempotency key)
are retried; the caller says which by passing `safe`.

`send_with_retries` does the same for one httpx request of the clients crmpay writes
itself (Zoho, SipSim): 429, 5xx and network errors are retried (safe calls only), and
what is still failing afterwards becomes a `TemporaryError` (exit 5) that names the
service and the request, never a secret. httpx is imported only when it is called.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from crmpay.core.errors import TemporaryError

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 8.0

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
    """Run `call`, retrying transient failures when `safe`; re-raise the last failure."""
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            attempt += 1
            if not safe or not is_transient(exc) or attempt >= policy.attempts:
                raise
            sleep(policy.delay(attempt - 1, rng, retry_after(exc)))


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
