"""Print docs/cli.md from the Typer app itself: `python scripts/gen_cli_docs.py > docs/cli.md`.

tests/test_docs.py fails when docs/cli.md differs from what this prints.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator

import typer

from crmpay.cli import ALIASES, COMMANDS, app


def _walk(command, path: list[str]) -> Iterator[tuple[list[str], object]]:
    yield path, command
    subcommands = getattr(command, "commands", None)
    if path == ["crmpay"]:
        subcommands = {name: command.get_command(None, name) for name in COMMANDS}
    for name, sub in (subcommands or {}).items():
        yield from _walk(sub, [*path, name])


def _param_line(param) -> str:
    if param.param_type_name == "argument":
        name = param.name.upper()
        return f"- `{name}`{' (required)' if param.required else ''}: {_clean(getattr(param, 'help', '') or '')}"
    opts = ", ".join(f"`{o}`" for o in (*param.opts, *param.secondary_opts))
    extra = []
    if param.required:
        extra.append("required")
    elif param.default not in (None, False, "") and not param.is_flag:
        extra.append(f"default: `{param.default}`")
    suffix = f" ({'; '.join(extra)})" if extra else ""
    return f"- {opts}{suffix}: {_clean(param.help or '')}"


def _clean(text: str) -> str:
    return " ".join(text.split())


def render() -> str:
    root = typer.main.get_command(app)
    lines = [
        "# Command reference",
        "",
        "Generated from the command line itself by `scripts/gen_cli_docs.py`; do not edit.",
        "",
        "Aliases (the same commands, not listed by `crmpay --help`): "
        + ", ".join(f"`crmpay {alias}` = `crmpay {name}`" for alias, name in ALIASES.items())
        + ".",
        "",
    ]
    for path, command in _walk(root, ["crmpay"]):
        lines.append(f"{'#' * min(len(path) + 1, 4)} `{' '.join(path)}`")
        lines.append("")
        help_text = inspect.cleandoc(command.help or "")
        if help_text:
            lines.append(help_text)
            lines.append("")
        params = [p for p in command.params if p.name not in ("install_completion", "show_completion")]
        if params:
            lines.extend(_param_line(p) for p in params)
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
