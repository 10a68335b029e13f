"""One httpx request with back-off, for the clients crmpay writes itself (Zoho, SipSim).

429, 5xx and network errors are retried by `providers._retry.with_retries` (safe calls
only); what is still failing afterwards becomes a `TemporaryError` (exit 5) that names
the service and the request, never a secret.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import httpx

from crmpay.core.errors import TemporaryError
from crmpay.providers._retry import RetryPolicy, with_retries


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
