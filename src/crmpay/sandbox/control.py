"""Talking to a running sandbox's control endpoints (`/__sandbox/…`) from another process."""

from __future__ import annotations

from typing import Any


def control(url: str | None, method: str, path: str, body: object = None) -> Any:
    """One control request; a sandbox that cannot be reached is a temporary error."""
    import httpx

    from crmpay.core.errors import TemporaryError, UsageError

    if not url:
        raise UsageError("no sandbox address", hint="pass --url or set CRMPAY_SANDBOX_URL")
    try:
        response = httpx.request(method, url.rstrip("/") + path, json=body, timeout=10)
    except httpx.HTTPError as exc:
        raise TemporaryError(f"cannot reach the sandbox at {url}: {exc}") from None
    if response.status_code >= 400:
        raise UsageError(f"the sandbox refused: {response.text}")
    return response.json()
