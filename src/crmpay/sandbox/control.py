"""Talking to a running sandbox's control endpoints (`/__sandbox/…`) from another process."""

from __future__ import annotations

from typing import Any


def control(url: str | None, method: str, path: str, body: object = None) -> Any:
    """One control request. A malformed address or an answer that is not the sandbox's is
    a usage error (exit 2); a sandbox out of reach or failing is a temporary one (exit 5)."""
    import httpx

    from crmpay.core.errors import TemporaryError, UsageError

    if not url:
        raise UsageError("no sandbox address", hint="pass --url or set CRMPAY_SANDBOX_URL")
    try:
        address = httpx.URL(url.rstrip("/") + path)
    except (httpx.InvalidURL, ValueError) as exc:
        raise UsageError(f"--url {url!r} is not an address ({exc})", hint="e.g. http://127.0.0.1:8765") from None
    if address.scheme not in ("http", "https") or not address.host:
        raise UsageError(f"--url {url!r} is not an http:// address", hint="e.g. http://127.0.0.1:8765")
    try:
        response = httpx.request(method, address, json=body, timeout=10)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise TemporaryError(f"cannot reach the sandbox at {url}: {exc}") from None
    if response.status_code >= 500:
        raise TemporaryError(f"the sandbox at {url} failed (HTTP {response.status_code})", hint="try again")
    if response.status_code >= 400:
        raise UsageError(f"the sandbox refused: {response.text[:200]}")
    try:
        return response.json()
    except ValueError:
        raise UsageError(f"{url} did not answer as a crmpay sandbox", hint="check --url") from None
