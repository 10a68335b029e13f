"""Option values shared by several commands, parsed once with the same error."""

from __future__ import annotations

from datetime import date

from crmpay.core.errors import UsageError


def parse_date(text: str, option: str) -> date:
    """`YYYY-MM-DD`, or a usage error (exit 2) naming the option."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date (YYYY-MM-DD)") from None


def optional_date(text: str | None, option: str) -> date | None:
    return None if text is None else parse_date(text, option)
