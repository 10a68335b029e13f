"""`crmpay dunning run|list`: reminders for unpaid invoices, and where each stands."""

from __future__ import annotations

import typer

from crmpay.cli._app import Application

command = typer.Typer(
    help="Reminders for unpaid invoices: run them, list where each invoice stands.", no_args_is_help=True
)
COLUMNS = (
    "number",
    "customer_email",
    "due_date",
    "days_overdue",
    "left",
    "currency",
    "last_tone",
    "state",
    "next_step",
)


@command.command("run")
def run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Say which reminders would go; send nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success (for cron)."),
) -> None:
    """Email the reminder each unpaid invoice has reached (+7 courteous, +15 formal,
    +30 formal notice by default), once per step, in the invoice's language.

    Example: 30 6 * * * crmpay dunning run --quiet
    """
    app = Application.current()
    report = app.ws.dunning.run(dry_run=dry_run)
    if json_output:
        app.out.json(report.as_dict())
    elif not quiet or report.failures:
        verb = "would send" if dry_run else "sent"
        app.out.table(
            ("invoice", "step", "tone", "to", "left", "crm"),
            [[s.get(k) for k in ("invoice", "step", "tone", "to", "left", "crm")] for s in report.sent],
            title=f"reminders {verb}",
            empty="no reminder due",
        )
        for failure in report.failures:
            app.out.warn(f"{failure['invoice']}: {failure['error']}")
    report.raise_for_outcome()


@command.command("list")
def list_(json_output: bool = typer.Option(False, "--json", help="Print JSON (a list).")) -> None:
    """Where each unpaid invoice past its due date stands: debit, retry, last reminder, next.

    Example: crmpay dunning list --json
    """
    app = Application.current()
    items = app.ws.dunning.list()
    if json_output:
        app.out.json(items)
        return
    app.out.table(
        COLUMNS, [[i.get(c) for c in COLUMNS] for i in items], title="dunning", empty="no unpaid invoice past due"
    )
