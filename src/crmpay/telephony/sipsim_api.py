"""SipSim's API v2 over one httpx client: a client-credentials token, phones, calls.

The token lives in memory for the run only (it is cheap to mint and lasts an hour).
The calls listing pages by keyset: each answer's `pagination.page` is passed back
until `has_more` is false. 429, 5xx and network errors back off and retry; GETs are
safe to repeat.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from crmpay.core.errors import AuthError, OperationFailed
from crmpay.core.validation import call_duration
from crmpay.retry import RetryPolicy, http_timeouts, send_with_retries
from crmpay.telephony.calls import Call
from crmpay.telephony.sources import LineProblem, Parsed, Sides

if TYPE_CHECKING:
    from crmpay.config import Config

LIVE_URL = "https://app.sipsim.com"
SCOPE = "account.read calls.read phones.read"
PAGE = 1000  # the largest page the calls listing allows


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or response.status_code)
        return str(body.get("error_description") or error or response.status_code)
    return f"HTTP {response.status_code}"


class SipsimClient:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._id, self._secret = client_id, client_secret
        self._base = (base_url or LIVE_URL).rstrip("/")
        self._http = http or httpx.Client(timeout=http_timeouts(timeout))
        self._policy = retry_policy or RetryPolicy()
        self._rng = random.Random()
        self._token: str | None = None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return send_with_retries(
            lambda: self._http.request(method, f"{self._base}{path}", **kwargs),
            service="SipSim",
            what=f"{method} {path}",
            safe=True,
            policy=self._policy,
            rng=self._rng,
        )

    def _access(self) -> str:
        if self._token is None:
            response = self._send(
                "POST",
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._id,
                    "client_secret": self._secret,
                    "scope": SCOPE,
                },
            )
            if response.status_code in (400, 401, 403):
                raise AuthError(
                    f"SipSim refused the client credentials ({_message(response)})",
                    hint="check the client id and secret in SipSim's API settings, "
                    "then run `crmpay connect sipsim` again",
                )
            if response.status_code != 200 or "access_token" not in response.json():
                raise OperationFailed(f"SipSim did not issue a token ({_message(response)})")
            self._token = response.json()["access_token"]
        return self._token

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        response = self._send("GET", path, params=params, headers={"Authorization": f"Bearer {self._access()}"})
        if response.status_code in (401, 403):
            raise AuthError(
                f"SipSim refused GET {path}: {_message(response)}", hint="the API client needs the scopes " + SCOPE
            )
        if response.status_code >= 400:
            raise OperationFailed(f"SipSim refused GET {path}: {_message(response)}")
        return response.json()

    def phones(self, status: str = "active") -> list[dict[str, Any]]:
        return self._get("/api/v2/phones", {"status": status}).get("data") or []

    def iter_calls(self, since: datetime, until: datetime | None = None, limit: int = PAGE) -> Iterator[dict[str, Any]]:
        """Every call started in [since, until), oldest first, page after page."""
        params: dict[str, Any] = {"start_time": since.astimezone(UTC).isoformat(), "limit": limit}
        if until is not None:
            params["end_time"] = until.astimezone(UTC).isoformat()
        while True:
            body = self._get("/api/v2/calls", params)
            yield from body.get("data") or []
            pagination = body.get("pagination") or {}
            if not pagination.get("has_more") or not pagination.get("page"):
                return
            params = {**params, "page": pagination["page"]}

    def close(self) -> None:
        self._http.close()


def read_api_calls(
    client: SipsimClient, since: datetime, until: datetime | None, *, region: str, lines: set[str]
) -> Parsed:
    """SipSim's calls as `Call`s; a record that cannot be read is a problem at its position."""
    sides = Sides(region, lines)
    out = Parsed()
    for position, item in enumerate(client.iter_calls(since, until), start=1):
        try:
            started = datetime.fromisoformat(str(item["start_time"]).replace("Z", "+00:00"))
            if started.tzinfo is None:
                raise ValueError("start_time has no offset")
            duration = call_duration(item.get("duration"))
            identity = str(item["id"])
            kind = str(item.get("type") or item.get("direction") or "").casefold()
        except (KeyError, ValueError, TypeError) as exc:
            out.problems.append(LineProblem(position, f"call {item.get('id', '?')}: unreadable: {exc}"))
            continue
        direction = (
            "outbound" if str(item.get("direction") or kind).casefold() in ("outgoing", "outbound") else "inbound"
        )
        # statuses are ANSWER, MISSED, BUSY, NOANSWER in the current documentation, lower case in older pages
        answered = str(item.get("status") or "").casefold() == "answer" and kind not in ("missed", "voicemail")
        caller, receiver = str(item.get("caller_number") or ""), str(item.get("receiver_number") or "")
        _, line, customer = sides.classify(caller, receiver, direction)
        out.calls.append(
            Call(
                identity,
                "sipsim-api",
                position,
                started,
                direction,
                answered,
                duration,
                line,
                customer,
                caller,
                receiver,
            )
        )
    return out


def open_sipsim(config: Config) -> SipsimClient:
    """The profile's SipSim client; NotConnected (exit 4) when it is not connected."""
    from crmpay.config import SipsimSettings
    from crmpay.secrets import require_secret

    settings = config.settings.sipsim or SipsimSettings()
    client_id, client_secret = (require_secret(config.profile, "sipsim", f) for f in ("client_id", "client_secret"))
    return SipsimClient(client_id, client_secret, base_url=settings.base_url)


def sipsim_connected(config: Config) -> bool:
    from crmpay.secrets import read_secret

    return all(read_secret(config.profile, "sipsim", f) for f in ("client_id", "client_secret"))
