"""Output: data to stdout (a rich table, or JSON with --json), messages to stderr.

Colour follows rich's rules: none when the stream is not a terminal or NO_COLOR is set.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def to_json(data: Any) -> str:
    return json.dumps(data, default=_default, indent=2, ensure_ascii=False)


class Output:
    def __init__(self, *, tables_to_stderr: bool = False) -> None:
        """`tables_to_stderr`: narrate on stderr while stdout carries one JSON document."""
        self._stdout = None
        self._stderr = None
        self._tables_to_stderr = tables_to_stderr

    def _console(self, stderr: bool):
        from rich.console import Console

        attr = "_stderr" if stderr else "_stdout"
        console = getattr(self, attr)
        if console is None:
            console = Console(
                stderr=stderr,
                no_color=bool(os.environ.get("NO_COLOR")),
                highlight=False,
                soft_wrap=not stderr,
            )
            setattr(self, attr, console)
        return console

    # -- data (stdout) --------------------------------------------------------------------------
    def json(self, data: Any) -> None:
        sys.stdout.write(to_json(data) + "\n")
        sys.stdout.flush()

    def table(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        title: str | None = None,
        empty: str = "nothing to show",
    ) -> None:
        from rich.table import Table

        rows = list(rows)
        if not rows:
            self.info(empty if title is None else f"{title}: {empty}")
            return
        table = Table(title=title, title_justify="left", header_style="bold")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*("" if cell is None else str(cell) for cell in row))
        self._console(stderr=self._tables_to_stderr).print(table)

    def fields(self, pairs: Iterable[tuple[str, Any]], *, title: str | None = None) -> None:
        self.table(("field", "value"), [(k, v) for k, v in pairs], title=title)

    def line(self, text: str) -> None:
        """A line of data on stdout (plain, for scripts)."""
        sys.stdout.write(text + "\n")

    def panel(self, text: str, *, title: str) -> None:
        from rich.panel import Panel

        self._console(stderr=False).print(Panel(text, title=title, expand=False))

    # -- messages (stderr) ----------------------------------------------------------------------
    def info(self, message: str) -> None:
        self._console(stderr=True).print(message, markup=False)

    def success(self, message: str) -> None:
        self._console(stderr=True).print(f"[green]✓[/green] {_escape(message)}")

    def warn(self, message: str) -> None:
        self._console(stderr=True).print(f"[yellow]warning:[/yellow] {_escape(message)}")

    @contextmanager
    def progress(
        self, *, enabled: bool = True, unit: str = "done"
    ) -> Iterator[Callable[[str, int, int | None], None] | None]:
        """A live count per label on a terminal's stderr, cleared at the end; None elsewhere.

        The caller gets `update(label, completed, total=None)`, or None when stderr is not
        a terminal (cron, pipes, tests) or `enabled` is false.
        """
        if not enabled or not sys.stderr.isatty():
            yield None
            return
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        tasks: dict[str, Any] = {}
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed}{task.fields[of]} " + unit),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self._console(stderr=True), transient=True) as bar:

            def update(label: str, completed: int, total: int | None = None) -> None:
                if label not in tasks:
                    tasks[label] = bar.add_task(label, total=total, of=f"/{total}" if total else "")
                bar.update(tasks[label], completed=completed)

            yield update

    @property
    def interactive(self) -> bool:
        return sys.stdin.isatty()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
