"""`crmpay calls import|list`: call records become CRM records, by rules."""

from __future__ import annotations

from pathlib import Path

import typer

from crmpay.cli._app import Application

command = typer.Typer(help="Turn call records into CRM records.", no_args_is_help=True)


@command.command("import")
def import_(
    file: Path = typer.Argument(None, help="A call file: Asterisk Master.csv, SipSim CSV export or webhook lines."),
    fmt: str = typer.Option(None, "--format", "-f", help="asterisk, sipsim-csv or sipsim-json."),
    from_service: str = typer.Option(None, "--from", help="Read calls from a service instead of a file: sipsim."),
    since: str = typer.Option(None, "--since", help="With --from: calls started at or after (ISO 8601)."),
    until: str = typer.Option(None, "--until", help="With --from: calls started before (ISO 8601)."),
    tz: str = typer.Option(None, "--tz", help="Time zone of local times in the file (default: the rules' timezone)."),
    rules_file: Path = typer.Option(None, "--rules", help="A TOML rules file (else the profile's [calls])."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan call by call; change nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary (and plan) as JSON."),
) -> None:
    """Import calls into Zoho CRM: match callers, create what the rules say, log each call.

    Per call: ignore? -> match contacts/leads/accounts by E.164 -> create account,
    lead or contact -> deal per policy -> task for a missed call -> a Call record.
    Importing the same calls again creates nothing; a killed import resumes.
    Exit 3 when some calls failed or some lines were unreadable.

    Example: crmpay calls import Master.csv --format asterisk --tz Europe/Paris --dry-run
    """
    from crmpay.services.calls import raise_for_outcome

    app = Application.current()
    with app.out.progress(enabled=not (json_output or dry_run), unit="written") as progress:
        report = app.ws.calls.import_file(
            file,
            fmt=fmt,
            from_service=from_service,
            since=since,
            until=until,
            tz=tz,
            rules_file=rules_file,
            dry_run=dry_run,
            progress=progress,
        )
    if json_output:
        app.out.json(report.as_dict())
    else:
        if dry_run:
            app.out.table(
                ("line", "identity", "customer", "plan"),
                [(p["line"], p["identity"], p["customer"] or "", p["plan"]) for p in report.plan],
                title="plan (dry run: nothing written)",
            )
        for problem in report.problems[:20]:
            app.out.warn(problem)
        for failure in report.failures[:20]:
            app.out.warn(failure)
        more = len(report.failures) - 20
        if more > 0:
            app.out.warn(f"… and {more} more failed calls (see `crmpay calls list --status failed`)")
        c = report.as_dict()["created"]
        verb = "would create" if dry_run else "created"
        app.out.table(
            (
                "calls read",
                "ignored",
                "already imported",
                "matched",
                f"{verb}: accounts",
                "leads",
                "contacts",
                "deals",
                "tasks",
                "calls",
                "failed",
            ),
            [
                (
                    report.read,
                    report.ignored,
                    report.already,
                    report.matched,
                    c["accounts"],
                    c["leads"],
                    c["contacts"],
                    c["deals"],
                    c["tasks"],
                    c["calls"],
                    report.failed + len(report.problems),
                )
            ],
            title="calls import (dry run)" if dry_run else "calls import",
        )
    raise_for_outcome(report)


@command.command("list")
def list_(
    status: str = typer.Option(None, "--status", help="done, failed or ignored."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most N calls (newest first)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON (a list)."),
) -> None:
    """List imported calls from the store, newest first.

    Example: crmpay calls list --status failed
    """
    app = Application.current()
    items = app.ws.calls.list(status=status, limit=limit)
    if json_output:
        app.out.json(items)
        return
    app.out.table(
        ("started_at", "identity", "direction", "caller", "receiver", "status", "crm_call_id", "error"),
        [
            (
                i["started_at"],
                i["identity"],
                i["direction"],
                i["caller"],
                i["receiver"],
                i["status"],
                i["crm_call_id"],
                i["error"],
            )
            for i in items
        ],
        title="calls",
        empty="no calls imported yet",
    )
