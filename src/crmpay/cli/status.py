"""`crmpay status`: which services are connected, and from where."""

from __future__ import annotations

import typer

from crmpay.cli._app import Application


def status(
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show each service as connected or not, and where its secrets come from.

    Secret values are never shown, only their source (keyring or environment).

    Example: crmpay status --json
    """
    from crmpay.services.connections import credential_variables, keyring_available
    from crmpay.services.connections import status as service_status
    from crmpay.services.listing import store_present

    app = Application.current()
    report = service_status(app.config)
    database = app.home.database(app.profile)
    counts = app.store().counts() if store_present(database) else None  # a bad or vanished store exits 2
    if json_output:
        app.out.json(
            {
                "profile": app.profile,
                "config_file": str(app.home.config_file),
                "store": {"path": str(database), "exists": counts is not None, "counts": counts},
                "keyring": "available" if keyring_available() else "unavailable",
                "services": [s.as_dict() for s in report],
            }
        )
        return
    rows = [
        (
            s.service,
            "connected" if s.connected else "not connected",
            s.source or "",
            ", ".join(f"{k}={v}" for k, v in s.settings.items()),
        )
        for s in report
    ]
    app.out.table(("service", "state", "secrets from", "settings"), rows, title=f"profile {app.profile}")
    if counts is None:
        app.out.info(f"store: {database} (not created yet)")
    else:
        app.out.info(f"store: {database} (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")")
    if not keyring_available():
        app.out.warn(
            f"no keyring backend: secrets can only come from the environment ({', '.join(credential_variables())})"
        )


command = status
