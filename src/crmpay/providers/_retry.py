"""Retries with exponential backoff and full jitter, for requests safe to repeat.

Neither official SDK retries a 429 or a 5xx, so every provider call goes through
`with_retries`. Only safe calls (reads, and creates that carry an idempotency key)
are retried; the caller says which by passing `safe`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

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
