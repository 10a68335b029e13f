"""The banks' calendar: SEPA debits move on TARGET2 working days only.

TARGET2 (the euro settlement system SEPA clears through) is closed on Saturdays,
Sundays and six days a year: 1 January, Good Friday, Easter Monday, 1 May, 25 and 26
December (European Central Bank, "TARGET2 closing days"; docs/fidelity.md). Good Friday
and Easter Monday move with Easter, computed here by the Gregorian computus.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

_FIXED_CLOSINGS = frozenset({(1, 1), (5, 1), (12, 25), (12, 26)})


@lru_cache(maxsize=64)
def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday of `year` (the anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def target2_closing_days(year: int) -> frozenset[date]:
    """Every weekday-independent TARGET2 closing day of `year`."""
    easter = easter_sunday(year)
    moving = {easter - timedelta(days=2), easter + timedelta(days=1)}  # Good Friday, Easter Monday
    return frozenset({date(year, m, d) for m, d in _FIXED_CLOSINGS} | moving)


def is_working_day(day: date) -> bool:
    """Whether TARGET2 settles on `day`."""
    return day.weekday() < 5 and day not in target2_closing_days(day.year)


def next_working_day(day: date) -> date:
    """`day` itself when it is a working day, else the next one."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(day: date, n: int) -> date:
    """The working day `n` working days after `day` (n >= 0); with n == 0, `day` rolled
    forward to a working day."""
    if n < 0:
        raise ValueError("n must be >= 0")
    current = next_working_day(day) if n == 0 else day
    remaining = n
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_before(day: date, n: int) -> date:
    """The working day `n` working days before `day` (n >= 1); `day` itself when n == 0."""
    current = day
    while n > 0:
        current -= timedelta(days=1)
        if is_working_day(current):
            n -= 1
    return current
