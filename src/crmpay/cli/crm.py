"""`crmpay crm check`."""

from __future__ import annotations

import typer

from crmpay.cli._app import Application

command = typer.Typer(help="Check the CRM side of the profile.", no_args_is_help=True)


@command.callback()
def group() -> None:
    """Check the CRM side of the profile."""


@command.command("check")
def check(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check that every module and field of the profile's CRM mapping exists, and the scopes work.

    Example: crmpay crm check --json
    """
    from crmpay.core.errors import UsageError

    app = Application.current()
    report = app.ws.crm.check()
    if json_output:
        app.out.json(report)
    else:
        for line in report["missing"]:
            app.out.warn(line)
        if report["ok"]:
            app.out.success(f"CRM mapping checked: modules and fields exist, {report['active_users']} active users")
    if not report["ok"]:
        raise UsageError(f"{len(report['missing'])} thing(s) missing in Zoho CRM (listed above)")
