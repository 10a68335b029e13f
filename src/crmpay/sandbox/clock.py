"""The sandbox's clock: real time plus an offset that tests and the demo advance.

Lifecycles (mandate submission, payment collection) are computed in working days, as
the banks count them: Saturdays, Sundays and the fixed TARGET2 closing days are skipped.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta


def is_working_day(day: date) -> bool:
    if day.weekday() >= 5:
        return False
    return (day.month, day.day) not in {(1, 1), (5, 1), (12, 25), (12, 26)}


def next_working_day(day: date) -> date:
    """`day` itself when it is a working day, else the next one."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(day: date, n: int) -> date:
    """The working day `n` working days after `day` (n >= 0)."""
    current = next_working_day(day) if n == 0 else day
    remaining = n
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


class Clock:
    """Thread-safe simulated time."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._start = start
        self._offset = timedelta(0)

    def now(self) -> datetime:
        base = self._start or datetime.now(UTC)
        with self._lock:
            return (base + self._offset).replace(microsecond=(base + self._offset).microsecond // 1000 * 1000)

    def today(self) -> date:
        return self.now().date()

    def advance(self, days: float) -> None:
        with self._lock:
            self._offset += timedelta(days=days)

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)


def iso(ts: datetime) -> str:
    """`2026-11-22T10:15:30.123Z`, the form both providers write."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
