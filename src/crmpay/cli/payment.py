"""`crmpay payment record`."""

from __future__ import annotations

from datetime import date

import typer

from crmpay.cli._app import Application

command = typer.Typer(help="Record manual payments (cancel comes with the providers).",
                      no_args_is_help=True)


@command.callback()
def group() -> None:
    """Record manual payments (cancel comes with the providers)."""


@command.command("record")
def record(
    number: str = typer.Argument(..., help="The invoice number."),
    amount: str = typer.Option(..., "--amount", help="Amount received, e.g. 49.90."),
    method: str = typer.Option(..., "--method", help="cheque, transfer or cash."),
    received_on: str = typer.Option(..., "--received-on", help="Date received, YYYY-MM-DD."),
    reference: str = typer.Option(None, "--reference", help="Cheque number or transfer reference."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and report; record nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Record a cheque, transfer or cash payment; partial payments add up.

    Example: crmpay payment record INV-2026-0001 --amount 50 --method cheque --received-on 2026-11-20
    """
    from crmpay.cli.invoice import _date
    from crmpay.services.invoices import record_payment

    app = Application.current()
    result = record_payment(app.store(), number, amount=amount, method=method,
                            received_on=_date(received_on, "--received-on"), reference=reference,
                            today=date.today(), dry_run=dry_run)
    if json_output:
        app.out.json(result)
        return
    verb = "would record" if dry_run else "recorded"
    app.out.success(f"{verb} {result['amount']} {result['currency']} by {method} on {number}: "
                    f"{result['status']}, {result['remaining']} {result['currency']} left")
