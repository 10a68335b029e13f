"""A call as crmpay sees it, whatever its source."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Call:
    identity: str  # pbx_id, Asterisk uniqueid, else a stable hash
    source: str  # asterisk / sipsim-csv / sipsim-json / sipsim-api
    line_number: int  # where it came from in the file (0 for the API)
    started_at: datetime  # timezone-aware
    direction: str  # inbound / outbound
    answered: bool
    duration_s: int
    line: str | None  # the company side (E.164), when it is one of the configured lines
    customer: str | None  # the other side (E.164), None when it is not a customer number
    raw_caller: str
    raw_receiver: str

    @property
    def missed(self) -> bool:
        """An unanswered inbound call, or an outbound call that never connected."""
        return not self.answered


def stable_identity(*parts: str) -> str:
    """A deterministic id for calls whose source gives none (start + src + dst + channel)."""
    return "h:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
