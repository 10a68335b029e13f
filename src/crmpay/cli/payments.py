"""`crmpay payments list|show|cancel|record` (`crmpay payment …` is the same group)."""

from __future__ import annotations

import typer

from crmpay.cli._app import Application
from crmpay.cli._listing import listing_app
from crmpay.core import clock


def _fetch(store, **filters):
    from crmpay.services.listing import list_payments

    return list_payments(store, **filters)


command = listing_app(
    "payment",
    _fetch,
    ("provider", "id", "amount", "currency", "status", "state", "charge_date", "customer_email", "invoice_number"),
    help="List and show payments; cancel a direct debit; record a cheque, transfer or cash payment.",
)


@command.command("cancel")
def cancel(
    payment: str = typer.Argument(..., help="The provider's payment id (PM… or tr_…)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check it can be cancelled; cancel nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Cancel a payment while the provider allows it (GoCardless: pending_submission;
    Mollie: isCancelable); the invoice returns to unpaid. Too late: exit 1.

    Example: crmpay payments cancel PM0000000001
    """
    app = Application.current()
    result = app.ws.payments.cancel(payment, dry_run=dry_run)
    if json_output:
        app.out.json(result)
    else:
        app.out.success(
            f"payment {payment} ({result['provider']}): {result['status']}"
            + (f"; invoice {result['invoice']} is unpaid again" if result["invoice"] and not dry_run else "")
        )


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

    Example: crmpay payments record INV-2026-0001 --amount 50 --method cheque --received-on 2026-11-20
    """
    from crmpay.cli._options import parse_date
    from crmpay.services.invoices.manual_payments import record_payment

    app = Application.current()
    result = record_payment(
        app.store(),
        number,
        amount=amount,
        method=method,
        received_on=parse_date(received_on, "--received-on"),
        reference=reference,
        today=clock.today(),
        dry_run=dry_run,
    )
    if json_output:
        app.out.json(result)
        return
    verb = "would record" if dry_run else "recorded"
    app.out.success(
        f"{verb} {result['amount']} {result['currency']} by {method} on {number}: "
        f"{result['status']}, {result['remaining']} {result['currency']} left"
    )
