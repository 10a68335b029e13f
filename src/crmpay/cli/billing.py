"""`crmpay billing run`: issue what has come due, collect it, retry failed debits."""

from __future__ import annotations

import typer

from crmpay.cli._app import Application
from crmpay.cli._options import optional_date

command = typer.Typer(help="Recurring billing: issue and collect the subscriptions' invoices.", no_args_is_help=True)


@command.callback()
def group() -> None:
    """Recurring billing: issue and collect the subscriptions' invoices (`run`, daily from cron)."""


@command.command("run")
def run(
    until: str = typer.Option(
        None, "--until", help="Bill the periods starting on or before this date (default: today)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be issued and collected; change nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success (for cron)."),
) -> None:
    """Issue every invoice that has come due, collect each, retry failed debits.

    Each period of each active subscription is invoiced once (a period missed while the
    machine was off is caught up), then collected like `crmpay invoices send`: by direct
    debit with its pre-notification, or by a mandate-setup link. Failed debits are retried
    by the dunning policy. Safe to kill and run again; one run per profile at a time.

    Example: 0 6 * * * crmpay sync --quiet && crmpay billing run --quiet
    """
    app = Application.current()
    report = app.ws.billing.run(until=optional_date(until, "--until"), dry_run=dry_run)
    if json_output:
        app.out.json(report.as_dict())
    elif not quiet or report.failures:
        verb = "would issue" if dry_run else "issued"
        app.out.table(
            ("subscription", "period_start", "invoice", "amount", "currency"),
            [[i[c] for c in ("subscription", "period_start", "invoice", "amount", "currency")] for i in report.issued],
            title=f"{verb} (until {report.until})",
            empty="nothing to issue",
        )
        app.out.table(
            ("invoice", "action", "provider", "payment_id", "charge_date", "scheduled_for", "setup_link"),
            [
                [
                    c.get(k)
                    for k in (
                        "invoice",
                        "action",
                        "provider",
                        "payment_id",
                        "charge_date",
                        "scheduled_for",
                        "setup_link",
                    )
                ]
                for c in report.collected
            ],
            title="collected",
            empty="nothing to collect",
        )
        if report.retries:
            app.out.table(
                ("invoice", "retry", "status", "method", "retry_on", "charge_date", "reason"),
                [
                    [r.get(k) for k in ("invoice", "retry", "status", "method", "retry_on", "charge_date", "reason")]
                    for r in report.retries
                ],
                title="failed debits",
            )
        for failure in report.failures:
            app.out.warn(f"{failure.get('invoice') or failure.get('step') or ''}: {failure['error']}")
    report.raise_for_outcome()
