"""Zoho CRM over one httpx client per run.

- OAuth: the access token is cached between runs (`tokens.TokenCache`) and minted under
  a cross-process lock; `INVALID_TOKEN` refreshes once and retries once.
- Writes go in batches of at most 100 records; each record's outcome is read from the
  answer (200, 201 or 207), so one bad record never hides the others.
- Search hits are re-checked here: v8's `equals` acts like "contains"; `phone=` finds a number
  only as typed, so callers pass the spellings to try.
- 429 and 5xx back off (no Retry-After is promised) for requests safe to repeat.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import httpx

from crmpay.core.errors import AuthError, OperationFailed, TemporaryError, UsageError
from crmpay.crm.base import Pipeline, RecordResult
from crmpay.crm.tokens import CachedToken, TokenCache, now
from crmpay.retry import RetryPolicy, http_timeouts, send_with_retries, waiting_on

API_VERSION = "v8"
BATCH = 100
DATA_CENTRES = {  # dc -> (accounts host, API host)
    "us": ("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "au": ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "cn": ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "ca": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "sa": ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    "uk": ("https://accounts.zoho.uk", "https://www.zohoapis.uk"),
}
SCOPE_CODES = {"OAUTH_SCOPE_MISMATCH", "NO_PERMISSION", "AUTHENTICATION_FAILURE"}


def accounts_url(dc: str, override: str | None = None) -> str:
    if override:
        return override.rstrip("/")
    if dc not in DATA_CENTRES:
        raise UsageError(f"unknown Zoho data centre {dc!r}", hint=f"choose one of {', '.join(DATA_CENTRES)}")
    return DATA_CENTRES[dc][0]


def exchange_grant_code(
    client_id: str,
    client_secret: str,
    code: str,
    *,
    dc: str = "eu",
    accounts: str | None = None,
    http: httpx.Client | None = None,
) -> dict[str, Any]:
    """Grant code -> {refresh_token, access_token, expires_in, api_domain}."""
    client = http or httpx.Client(timeout=http_timeouts())
    try:
        with waiting_on("Zoho accounts"):  # once: a grant code is spent by its first use
            response = client.post(
                f"{accounts_url(dc, accounts)}/oauth/v2/token",
                data={
                    "grant_type": "authorization_code",
                    "client_id": client_id,
                    "client_secret": client_secret,
                    "code": code,
                },
            )
    except httpx.HTTPError as exc:
        raise TemporaryError(f"cannot reach Zoho accounts: {type(exc).__name__}") from None
    body = _json(response)
    if body.get("error") or "refresh_token" not in body:
        error = body.get("error", "no refresh token in the answer")
        if error == "invalid_client":
            raise AuthError(
                "Zoho rejected the client id or secret", hint="copy them from the API console's Self Client"
            )
        raise AuthError(
            f"Zoho refused the grant code ({error})",
            hint="generate a new grant code in the API console (it is valid 3 minutes)",
        )
    return body


def revoke_refresh_token(refresh_token: str, *, accounts: str, http: httpx.Client | None = None) -> bool:
    """Revoke a refresh token at its accounts server (`POST /oauth/v2/token/revoke`); True
    when Zoho says it is gone. A Zoho user keeps at most 20 refresh tokens and the 21st
    deletes the oldest, so a reconnect revokes the token it replaces."""
    client = http or httpx.Client(timeout=http_timeouts())
    try:
        with waiting_on("Zoho accounts"):
            response = client.post(f"{accounts}/oauth/v2/token/revoke", params={"token": refresh_token})
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and _json(response).get("status") == "success"


def _json(response: httpx.Response) -> dict[str, Any]:
    """The body as a dict; numbers with decimals become `Decimal` (money never a float)."""
    if response.status_code == 204 or not response.content:
        return {}
    try:
        value = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class ZohoCRM:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        token_cache: TokenCache,
        dc: str = "eu",
        accounts: str | None = None,
        api_url: str | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._client_id, self._client_secret, self._refresh = client_id, client_secret, refresh_token
        self._accounts = accounts_url(dc, accounts)
        self._api_override = api_url.rstrip("/") if api_url else None
        self._cache = token_cache
        self._http = http or httpx.Client(timeout=http_timeouts(timeout))
        self._policy = retry_policy or RetryPolicy()
        self._rng = random.Random()
        self._token: CachedToken | None = None

    # -- tokens --------------------------------------------------------------------------------------
    def _usable(self, token: CachedToken | None, stale: str | None) -> bool:
        """Fresh, not the one just refused, and minted for the place the settings name now
        (a changed data centre or `zoho.base_url` must not keep using the old one)."""
        return (
            token is not None
            and token.fresh(now())
            and token.access_token != stale
            and token.accounts == self._accounts
            and (self._api_override is None or token.api_domain == self._api_override)
        )

    def adopt(self, access_token: str, expires_in: int, api_domain: str) -> CachedToken:
        """Use a token minted elsewhere (the grant-code exchange's); the caller caches it
        once the connection is checked."""
        self._token = CachedToken(
            access_token,
            now() + timedelta(seconds=expires_in),
            (self._api_override or api_domain).rstrip("/"),
            self._accounts,
        )
        return self._token

    def _access(self, *, stale: str | None = None) -> CachedToken:
        if self._token is not None and self._usable(self._token, stale):
            return self._token
        with self._cache.lock():
            cached = self._cache.load()
            if cached is not None and self._usable(cached, stale):
                self._token = cached
                return cached
            self._token = self._mint()
            self._cache.save(self._token)
            return self._token

    def _mint(self) -> CachedToken:
        try:
            response = self._http.post(
                f"{self._accounts}/oauth/v2/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                    "refresh_token": self._refresh,
                },
            )
        except httpx.HTTPError as exc:
            raise TemporaryError(f"cannot reach Zoho accounts: {type(exc).__name__}") from None
        body = _json(response)
        if "access_token" not in body:
            if response.status_code == 400 and "too many requests" in str(body).lower():
                raise TemporaryError(
                    "Zoho blocked new access tokens for this refresh token (more than ten in ten minutes)",
                    hint="try again in ten minutes",
                )
            raise AuthError(
                f"Zoho refused to refresh the access token ({body.get('error', 'unknown')})",
                hint="run `crmpay connect zoho` again",
            )
        domain = self._api_override or body.get("api_domain") or DATA_CENTRES["us"][1]
        return CachedToken(
            body["access_token"],
            now() + timedelta(seconds=int(body.get("expires_in", 3600))),
            domain.rstrip("/"),
            self._accounts,
        )

    # -- requests -------------------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None, safe: bool = True
    ) -> httpx.Response:
        refreshed = False
        while True:
            token = self._access()
            url = f"{token.api_domain}/crm/{API_VERSION}/{path}"
            response = send_with_retries(
                partial(
                    self._http.request,
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={"Authorization": f"Zoho-oauthtoken {token.access_token}"},
                ),
                service="Zoho CRM",
                what=f"{method} {path}",
                safe=safe,
                policy=self._policy,
                rng=self._rng,
                code_of=lambda r: str(_json(r).get("code", "")),
            )
            body = _json(response)
            code = body.get("code")
            # an expired token comes back as INVALID_TOKEN or AUTHENTICATION_FAILURE: refresh once
            if response.status_code == 401 and code in ("INVALID_TOKEN", "AUTHENTICATION_FAILURE") and not refreshed:
                refreshed = True
                self._access(stale=token.access_token)
                continue
            if code in SCOPE_CODES or response.status_code in (401, 403):
                scope = (body.get("details") or {}).get("required_scope")
                missing = f"; the token lacks the scope {scope}" if scope else ""
                raise AuthError(
                    f"Zoho CRM refused {method} {path}: {code or response.status_code}{missing}",
                    hint="grant the scope in the API console and run `crmpay connect zoho` again",
                )
            if response.status_code >= 400 and response.status_code != 207 and not body.get("data"):
                raise OperationFailed(f"Zoho CRM refused {method} {path}: {code}: {body.get('message', '')}")
            return response

    # -- metadata -------------------------------------------------------------------------------------
    def users(self) -> list[dict[str, Any]]:
        return _json(self._request("GET", "users", params={"type": "ActiveUsers"})).get("users", [])

    def modules(self) -> list[dict[str, Any]]:
        return _json(self._request("GET", "settings/modules")).get("modules", [])

    def fields(self, module: str) -> list[dict[str, Any]]:
        return _json(self._request("GET", "settings/fields", params={"module": module})).get("fields", [])

    def layouts(self, module: str) -> list[dict[str, Any]]:
        return _json(self._request("GET", "settings/layouts", params={"module": module})).get("layouts", [])

    def pipelines(self, layout_id: str) -> list[Pipeline]:
        """The pipelines of a layout (a real layout id: Zoho refuses anything else)."""
        body = _json(self._request("GET", "settings/pipeline", params={"layout_id": layout_id}))
        return [
            Pipeline(
                str(p["actual_value"]),
                str(p.get("display_value") or p["actual_value"]),
                [str(s["actual_value"]) for s in p.get("maps", [])],
            )
            for p in body.get("pipeline", [])
        ]

    # -- reading --------------------------------------------------------------------------------------
    def get(self, module: str, record_id: str) -> dict[str, Any] | None:
        data = _json(self._request("GET", f"{module}/{record_id}")).get("data") or []
        return data[0] if data else None

    def iter_records(self, module: str, fields: list[str], per_page: int = 200) -> Iterator[dict[str, Any]]:
        """Every record, 200 per page; past 2,000 with `page_token`."""
        params: dict[str, Any] = {"fields": ",".join(fields[:50]), "per_page": per_page, "page": 1}
        while True:
            body = _json(self._request("GET", module, params=params))
            yield from body.get("data", [])
            info = body.get("info") or {}
            if not info.get("more_records"):
                return
            if info.get("next_page_token"):
                params = {"fields": params["fields"], "per_page": per_page, "page_token": info["next_page_token"]}
            else:
                params = {**params, "page": params.get("page", 1) + 1}

    def search(self, module: str, field: str, value: str) -> list[dict[str, Any]]:
        """Records whose `field` equals `value` (case-insensitive), hits re-checked."""
        criteria = f"({field}:equals:{escape_criteria(value)})"
        hits = _json(self._request("GET", f"{module}/search", params={"criteria": criteria})).get("data", [])
        return [r for r in hits if str(r.get(field) or "").casefold() == value.casefold()]

    def find_by_email(self, module: str, email: str) -> list[dict[str, Any]]:
        hits = _json(self._request("GET", f"{module}/search", params={"email": email})).get("data", [])
        return [r for r in hits if str(r.get("Email") or "").casefold() == email.casefold()]

    def find_by_phone(
        self,
        module: str,
        e164: str,
        normalise: Callable[[str], str | None] | None = None,
        fields: tuple[str, ...] = ("Phone", "Mobile"),
        spellings: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """Records with this number in one of `fields`. Zoho's `phone=` search finds a number
        only as it was typed: each of `spellings` is searched (E.164 alone by default), and
        every hit is checked here on `normalise`d numbers."""
        found: dict[str, dict[str, Any]] = {}
        for text in spellings or (e164,):
            for hit in _json(self._request("GET", f"{module}/search", params={"phone": text})).get("data", []):
                found.setdefault(str(hit.get("id")), hit)
        same = normalise or (lambda text: "+" + re.sub(r"\D", "", text) if text else None)
        return [r for r in found.values() if any(r.get(f) and same(str(r[f])) == e164 for f in fields)]

    def query(self, select_query: str) -> list[dict[str, Any]]:
        return _json(self._request("POST", "coql", json={"select_query": select_query})).get("data", [])

    # -- writing --------------------------------------------------------------------------------------
    def insert(self, module: str, records: list[dict[str, Any]]) -> list[RecordResult]:
        return self._write("POST", module, records, safe=False)

    def update(self, module: str, records: list[dict[str, Any]]) -> list[RecordResult]:
        return self._write("PUT", module, records, safe=True)

    def upsert(
        self, module: str, records: list[dict[str, Any]], duplicate_check_fields: list[str]
    ) -> list[RecordResult]:
        return self._write(
            "POST", f"{module}/upsert", records, safe=True, duplicate_check_fields=duplicate_check_fields
        )

    def _write(
        self,
        method: str,
        path: str,
        records: list[dict[str, Any]],
        *,
        safe: bool,
        duplicate_check_fields: list[str] | None = None,
    ) -> list[RecordResult]:
        results: list[RecordResult] = []
        for start in range(0, len(records), BATCH):
            chunk = records[start : start + BATCH]
            body: dict[str, Any] = {"data": chunk, "trigger": []}
            if duplicate_check_fields:
                body["duplicate_check_fields"] = duplicate_check_fields
            answer = _json(self._request(method, path, json=body, safe=safe)).get("data") or []
            for offset in range(len(chunk)):
                entry = answer[offset] if offset < len(answer) else {}
                details = entry.get("details") or {}
                ok = entry.get("status") == "success"
                results.append(
                    RecordResult(
                        start + offset,
                        ok,
                        details.get("id") if ok else None,
                        entry.get("action"),
                        entry.get("code", "NO_ANSWER"),
                        entry.get("message", "no answer for this record"),
                        details,
                    )
                )
        return results

    def close(self) -> None:
        self._http.close()


def escape_criteria(value: str) -> str:
    """Backslash-escape what Zoho's criteria syntax reserves: `\\`, `(`, `)` and `,`."""
    return re.sub(r"([\\(),])", r"\\\1", value)
