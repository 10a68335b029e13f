"""Today, from one place.

Every business date crmpay decides with (is a mandate expired, is a payment date in the
past, when did an invoice get paid, is a setup link still live) comes from `today()` and
`now()` here, never from `date.today()` or `datetime.now()` elsewhere, so a run can be
reproduced at any date:

- `CRMPAY_TODAY=2026-12-24` (or a full ISO time, `2026-12-24T09:30:00+00:00`) pins the
  clock for one process: the tests pin it to the sandbox's date, an operator can replay a
  run as of a past day;
- `following(source)` makes this process follow another clock for a while (the demo
  follows the sandbox's simulated clock).

Unpinned, `today()` is the machine's local date and `now()` the current UTC time.
Token lifetimes (Zoho's access tokens) are real time, not business time: they use
`datetime.now` in `crmpay.crm` on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time

from crmpay.core.errors import UsageError

ENV_VAR = "CRMPAY_TODAY"

_source: Callable[[], datetime] | None = None


def parse_pin(value: str) -> datetime:
    """`YYYY-MM-DD` (noon UTC that day) or an ISO time (UTC when it names no zone)."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(12), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{ENV_VAR}={value!r} is not a date", hint="use YYYY-MM-DD or an ISO time such as 2026-12-24T09:30:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _pinned() -> datetime | None:
    if _source is not None:
        return _source()
    value = os.environ.get(ENV_VAR)
    return parse_pin(value) if value else None


def now() -> datetime:
    """The current time, timezone-aware (UTC unless pinned with another offset)."""
    pinned = _pinned()
    return pinned if pinned is not None else datetime.now(UTC)


def elapsed_now() -> datetime:
    """The machine's running time (UTC), for waits, back-off and lag: a pinned business
    date must not freeze them. Never a business date: use `now()` or `today()`."""
    return datetime.now(UTC)


def today() -> date:
    """The business date: the pinned one, else the machine's local date."""
    pinned = _pinned()
    return pinned.date() if pinned is not None else date.today()


def now_iso() -> str:
    """`now()` in UTC to the second, the form the store keeps (`2026-12-04T09:30:00+00:00`)."""
    return now().astimezone(UTC).isoformat(timespec="seconds")


def is_pinned() -> bool:
    return _pinned() is not None


@contextmanager
def following(source: Callable[[], datetime]) -> Iterator[None]:
    """Within the block, `now()` and `today()` read `source` (a zone-aware clock)."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
