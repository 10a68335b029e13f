"""Zoho OAuth, simulated: grant codes, refresh tokens (20 at most), access tokens (ten per ten minutes), revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.clock import iso
from crmpay.sandbox.zoho.constants import CLIENT_ID, CLIENT_SECRET, MAX_REFRESH_TOKENS
from crmpay.sandbox.zoho.state import _State


class _OAuth(_State):
    def revoke(self, request: Request) -> Response:
        token = request.arg("token") or ""
        if token not in self.refresh_tokens:
            return Response.json_body(400, {"status": "failure", "error": "invalid_token"})
        del self.refresh_tokens[token]
        return Response.json_body(200, {"status": "success"})

    def token(self, request: Request) -> Response:
        params = {k: v[0] for k, v in request.query.items()}
        params.update(request.form())
        if params.get("client_id") != CLIENT_ID or params.get("client_secret") != CLIENT_SECRET:
            return Response.json_body(200, {"error": "invalid_client"})
        grant = params.get("grant_type")
        if grant == "authorization_code":
            code = params.get("code", "")
            found = self.grant_codes.get(code)
            expired = found and (self.sandbox.clock.now() - _parse(found[0])) > timedelta(minutes=3)
            if found is None or found[1] or expired:
                return Response.json_body(200, {"error": "invalid_code"})
            self.grant_codes[code] = (found[0], True)
            refresh = "1000." + self.sandbox.ids.next("refresh", 24).lower()
            self.refresh_tokens[refresh] = None
            while len(self.refresh_tokens) > MAX_REFRESH_TOKENS:  # the 21st deletes the oldest
                del self.refresh_tokens[next(iter(self.refresh_tokens))]
            return Response.json_body(200, {**self._mint(refresh), "refresh_token": refresh})
        if grant == "refresh_token":
            refresh = params.get("refresh_token", "")
            if refresh not in self.refresh_tokens:
                return Response.json_body(200, {"error": "invalid_code"})
            window_start = iso(self.sandbox.clock.now() - timedelta(minutes=10))
            recent = [t for t in self.minted.get(refresh, []) if t > window_start]
            if len(recent) >= 10:
                return Response.json_body(
                    400,
                    {
                        "error_description": (
                            "You have made too many requests continuously. Please try again after some time."
                        ),
                        "error": "Access Denied",
                        "status": "failure",
                    },
                )
            return Response.json_body(200, self._mint(refresh))
        return Response.json_body(200, {"error": "unsupported_grant_type"})

    def _mint(self, refresh: str) -> dict[str, Any]:
        token = "1000." + self.sandbox.ids.next("access", 32).lower()
        ttl = self.settings["token_ttl_seconds"]
        self.access_tokens[token] = iso(self.sandbox.clock.now() + timedelta(seconds=ttl))
        self.minted.setdefault(refresh, []).append(self._now())
        self.tokens_minted += 1
        return {
            "access_token": token,
            "api_domain": self.sandbox.url,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(self.settings["scopes"]),
        }


def _parse(ts: str):
    from datetime import datetime

    return datetime.fromisoformat(ts.replace("Z", "+00:00"))
