"""Zoho CRM state, simulated: records per module, users, OAuth codes and tokens, settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmpay.sandbox._http import HttpError, Response
from crmpay.sandbox.clock import iso

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox


class _State:
    """What the simulator keeps, shared by every part (`reset` sets it), and the helpers they use."""

    sandbox: Sandbox
    records: dict[str, dict[str, dict[str, Any]]]  # module -> id -> record
    _indexes: dict[tuple[str, tuple[str, ...]], dict[tuple[str, ...], str]]  # (module, fields) -> key -> id
    users: list[dict[str, Any]]
    grant_codes: dict[str, tuple[str, bool]]  # code -> (created_at, used)
    refresh_tokens: dict[str, None]  # oldest first; a user keeps at most 20
    access_tokens: dict[str, str]  # token -> expires_at
    minted: dict[str, list[str]]  # refresh token -> mint times
    tokens_minted: int
    expired_answers: int
    settings: dict[str, Any]
    first_grant_code: str

    def _now(self) -> str:
        return iso(self.sandbox.clock.now())

    def _new_id(self) -> str:
        return str(5_000_000_000_000_000 + int(self.sandbox.ids.next("", 12), 36))

    def _add_user(self, email: str, name: str) -> dict[str, Any]:
        user = {
            "id": self._new_id(),
            "email": email,
            "full_name": name,
            "status": "active",
            "role": {"name": "Manager", "id": "1"},
            "profile": {"name": "Standard", "id": "2"},
        }
        self.users.append(user)
        return user

    def _new_grant_code(self) -> str:
        code = "1000." + self.sandbox.ids.next("grant", 16).lower()
        self.grant_codes[code] = (self._now(), False)
        return code

    @staticmethod
    def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> HttpError:
        return HttpError(
            Response.json_body(status, {"code": code, "details": details or {}, "message": message, "status": "error"})
        )
