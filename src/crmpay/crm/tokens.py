"""Zoho access tokens, cached between runs so that many runs mint few tokens.

A refresh token may mint at most ten access tokens per ten minutes. The cached token
lives in the keyring (as a secret), or in a 0600 file in the profile's folder when no
keyring backend exists; a file lock serialises check-then-mint across processes, so any
number of crmpay runs started together mint one token.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from crmpay import secrets

MARGIN = timedelta(minutes=5)  # refresh a little before expiry


@dataclass(frozen=True)
class CachedToken:
    access_token: str
    expires_at: datetime
    api_domain: str
    accounts: str = ""  # the Zoho accounts server that minted it (its data centre)

    def fresh(self, now: datetime) -> bool:
        return now + MARGIN < self.expires_at

    def __repr__(self) -> str:
        return f"CachedToken(expires_at={self.expires_at.isoformat()}, api_domain={self.api_domain!r})"


class TokenCache:
    def __init__(self, profile: str, folder: Path) -> None:
        self.profile, self.folder = profile, folder

    @property
    def _file(self) -> Path:
        return self.folder / "zoho-token.json"

    def load(self) -> CachedToken | None:
        raw = None
        if secrets.keyring_available():
            raw = secrets.get_secret(self.profile, "zoho", "access_token")
        elif self._file.exists():
            raw = self._file.read_text()
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return CachedToken(
                data["access_token"],
                datetime.fromisoformat(data["expires_at"]),
                data["api_domain"],
                str(data.get("accounts") or ""),
            )
        except (ValueError, KeyError):
            return None

    def save(self, token: CachedToken) -> None:
        raw = json.dumps(
            {
                "access_token": token.access_token,
                "expires_at": token.expires_at.isoformat(),
                "api_domain": token.api_domain,
                "accounts": token.accounts,
            }
        )
        if secrets.keyring_available():
            secrets.set_secret(self.profile, "zoho", "access_token", raw)
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(raw)

    def clear(self) -> None:
        secrets.delete_secret(self.profile, "zoho", "access_token")
        self._file.unlink(missing_ok=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / "zoho-token.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def now() -> datetime:
    """Token lifetimes run on the machine's time, not the pinned business date."""
    from crmpay.core import clock

    return clock.elapsed_now()
