"""`crmpay config path|show|set`."""

from __future__ import annotations

from typing import Any

import typer

from crmpay.cli._app import Application

command = typer.Typer(
    help="Show or change the configuration file (secrets never live there).",
    no_args_is_help=True,
)


@command.command("path")
def path() -> None:
    """Print the configuration file's path.

    Example: crmpay config path
    """
    app = Application.current()
    app.out.line(str(app.home.config_file))


@command.command("show")
def show(
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the profile's effective settings (file, then environment, applied).

    Example: crmpay --profile acme config show --json
    """
    app = Application.current()
    settings = app.config.as_dict()
    if json_output:
        app.out.json({"profile": app.profile, "settings": settings})
        return
    rows: list[tuple[str, Any]] = []
    for key, value in settings.items():
        if isinstance(value, dict):
            rows.extend((f"{key}.{k}", v) for k, v in value.items())
        else:
            rows.append((key, value))
    app.out.table(("key", "value"), rows, title=f"profile {app.profile}", empty="no settings")


@command.command("set")
def set_(
    key: str = typer.Argument(..., help="Dotted key inside the profile, e.g. gocardless.environment."),
    value: str = typer.Argument(..., help="The value; checked before the file is written."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the value; write nothing."),
) -> None:
    """Set one setting of the profile; an invalid value leaves the file untouched.

    Example: crmpay config set creditor_id FR72ZZZ123456
    """
    from crmpay.services.settings import set_setting

    app = Application.current()
    set_setting(app.config, key, value, dry_run=dry_run)
    verb = "would set" if dry_run else "set"
    app.out.success(f"{verb} {key} in profile {app.profile} ({app.home.config_file})")
