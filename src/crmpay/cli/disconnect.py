"""`crmpay disconnect SERVICE`: remove a service's secrets and settings."""

from __future__ import annotations

import typer

from crmpay.cli._app import Application


def disconnect(
    service: str = typer.Argument(..., help="gocardless, mollie, zoho, sipsim or smtp."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be removed; remove nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Remove a service's secrets (keyring) and settings (config file) from the profile.

    Example: crmpay disconnect mollie --yes
    """
    from crmpay.services.connections import disconnect as do_disconnect

    app = Application.current()
    if not dry_run and not yes and app.out.interactive:
        typer.confirm(f"Disconnect {service} from profile {app.profile}?", abort=True)
    result = do_disconnect(app.config, service, dry_run=dry_run)
    if json_output:
        app.out.json(result)
        return
    verb = "would remove" if dry_run else "removed"
    secrets_text = ", ".join(result["secrets_removed"]) or "no secrets"
    settings_text = "settings" if result["settings_removed"] else "no settings"
    app.out.success(f"{service}: {verb} {secrets_text} and {settings_text} (profile {app.profile})")
    for name in result["still_in_environment"]:
        app.out.warn(f"{name} is still set in the environment; unset it to disconnect fully")


command = disconnect
