"""The sandbox's clock: a start time plus an offset that tests and the demo advance.

Lifecycles (mandate submission, payment collection) are computed in working days, as
the banks count them (`crmpay.core.calendar`: weekends and the TARGET2 closing days,
Good Friday and Easter Monday included).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

from crmpay.core.calendar import add_working_days, is_working_day, next_working_day

__all__ = ["Clock", "add_working_days", "is_working_day", "iso", "next_working_day", "start_of"]


def start_of(value: date | datetime | str | None) -> datetime | None:
    """A pinned start: a date (09:00 UTC that day), a datetime (UTC when naive) or an ISO
    string of either; None for "now"."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if len(value.strip()) > 10 else date.fromisoformat(value.strip())
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, 9, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Clock:
    """Thread-safe simulated time."""

    def __init__(self, start: date | datetime | str | None = None) -> None:
        """Unpinned, the clock follows real time; pinned at `start`, it begins there and
        runs on at real speed (so successive events keep distinct, ordered times)."""
        self._lock = threading.Lock()
        self._start = start_of(start)
        self._started = time.monotonic()
        self._offset = timedelta(0)

    @property
    def pinned(self) -> bool:
        return self._start is not None

    def now(self) -> datetime:
        if self._start is None:
            base = datetime.now(UTC)
        else:
            base = self._start + timedelta(seconds=time.monotonic() - self._started)
        with self._lock:
            moment = base + self._offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def today(self) -> date:
        return self.now().date()

    def advance(self, days: float) -> None:
        with self._lock:
            self._offset += timedelta(days=days)

    def reset(self) -> None:
        """Back to the start (a pinned clock restarts at its start date)."""
        with self._lock:
            self._offset = timedelta(0)
            self._started = time.monotonic()


def iso(ts: datetime) -> str:
    """`2026-11-22T10:15:30.123Z`, the form both providers write."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
