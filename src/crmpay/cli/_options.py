"""Option values shared by several commands, parsed once with the same error."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from crmpay.core.errors import UsageError


def parse_date(text: str, option: str) -> date:
    """`YYYY-MM-DD` (a real day: not 2026-13-01), or a usage error (exit 2) naming the option.

    Relative words (`yesterday`) are refused rather than guessed."""
    import re

    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise UsageError(f"{option} {text!r} is not a date: expected YYYY-MM-DD, e.g. 2026-01-31")
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(f"{option} {text!r} is not a date ({exc}): expected YYYY-MM-DD") from None


def choice(value: str | None, valid: Iterable[str], option: str) -> str | None:
    """`value` when it is one of `valid` (case-insensitive; None passes), else a usage
    error (exit 2) naming the option and listing the valid values."""
    if value is None:
        return None
    options = list(valid)
    found = next((v for v in options if v.casefold() == value.strip().casefold()), None)
    if found is None:
        raise UsageError(f"{option} {value!r} is not one of: {', '.join(options)}")
    return found


def not_empty(value: str, what: str) -> str:
    """An identifier argument: not empty or blank (an empty id matches no record)."""
    if not value.strip():
        raise UsageError(f"the {what} is empty", hint=f"give the {what}")
    return value


def optional_date(text: str | None, option: str) -> date | None:
    return None if text is None else parse_date(text, option)
