"""The list of steps and the decorator that appends to it (see the package's docstring)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Step = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Step]] = []


def migration(func: Step) -> Step:
    MIGRATIONS.append((func.__name__, func))
    return func


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Run SQL statements one by one inside the caller's transaction.

    (`executescript` would COMMIT first, breaking the one-transaction-per-step rule.)
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement: {pending.strip()[:60]}")
