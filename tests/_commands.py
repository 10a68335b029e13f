"""The `crmpay` command tree, for tests that walk every command (help, fuzz)."""

from __future__ import annotations

from typing import Any

import click
import typer


def root() -> Any:
    from crmpay.cli import app

    return typer.main.get_command(app)


def every_command() -> dict[tuple[str, ...], Any]:
    """argv prefix -> click command, for every command and sub-command (aliases excluded).
    Typer may bundle its own click: a group is whatever has `commands`."""
    from crmpay.cli import COMMANDS

    top = root()
    found: dict[tuple[str, ...], Any] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found[path] = command
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    ctx = click.Context(top)
    for name in COMMANDS:
        walk(top.get_command(ctx, name), (name,))
    return found


def leaves() -> dict[tuple[str, ...], Any]:
    """The commands that run something (not groups)."""
    return {path: command for path, command in every_command().items() if not hasattr(command, "commands")}
