"""`crmpay subscriptions create|list|show|price|pause|resume|cancel`."""

from __future__ import annotations

from typing import Any

import typer

from crmpay.cli._app import Application
from crmpay.cli._options import optional_date, parse_date

command = typer.Typer(
    help="Recurring invoices: create, list, show, change the price, pause, resume, cancel.", no_args_is_help=True
)
COLUMNS = ("id", "customer_email", "every", "day", "amount_incl_vat", "currency", "status", "next_period")


def _render(app: Application, data: dict[str, Any], verb: str, json_output: bool) -> None:
    if json_output:
        app.out.json(data)
        return
    prefix = "would be " if data.get("dry_run") else ""
    app.out.success(
        f"subscription {data['id']} {prefix}{verb}: {data['customer_email']}, {data['amount_incl_vat']} "
        f"{data['currency']} incl. VAT every {data['every']} on day {data['day']}, {data['status']}"
        + (f", next period {data['next_period']}" if data.get("next_period") else "")
    )


@command.command("create")
def create(
    customer: str = typer.Option(..., "--customer", help="The customer's email."),
    line: list[str] = typer.Option(..., "--line", help='"DESCRIPTION;QTY;UNIT_PRICE;VAT_RATE", repeatable.'),
    every: str = typer.Option("month", "--every", help="month, quarter or year."),
    day: int = typer.Option(1, "--day", help="Day of the month a period starts (31: the month's last day)."),
    start: str = typer.Option(None, "--start", help="First possible period start (default: today)."),
    end: str = typer.Option(None, "--end", help="No period starts after this date."),
    count: int = typer.Option(None, "--count", help="Bill this many periods, then stop."),
    currency: str = typer.Option("EUR", "--currency", help="ISO 4217 code."),
    language: str = typer.Option("fr", "--language", help="fr, en or ja (invoices and mails)."),
    name: str = typer.Option(None, "--name", help="The customer's name as printed."),
    terms: int = typer.Option(14, "--terms", help="Days from an invoice's issue to its due date."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the subscription; store nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a subscription: an invoice for each period, issued by `crmpay billing run`.

    Example: crmpay subscriptions create --customer ann@example.fr --line "Hosting;1;29.90;20" --every month --day 1
    """
    app = Application.current()
    data = app.ws.subscriptions.create(
        customer,
        line,
        every=every,
        day=day,
        start=optional_date(start, "--start"),
        end=optional_date(end, "--end"),
        count=count,
        currency=currency,
        language=language,
        name=name,
        terms_days=terms,
        dry_run=dry_run,
    )
    _render(app, data, "created", json_output)


@command.command("list")
def list_(
    status: str = typer.Option(None, "--status", help="active, paused or cancelled."),
    customer: str = typer.Option(None, "--customer", help="Only this customer's email."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON (a list)."),
) -> None:
    """List subscriptions.

    Example: crmpay subscriptions list --status active --json
    """
    app = Application.current()
    items = app.ws.subscriptions.list(status=status, customer=customer)
    if json_output:
        app.out.json(items)
        return
    app.out.table(
        COLUMNS, [[i.get(c) for c in COLUMNS] for i in items], title="subscriptions", empty="no subscriptions"
    )


@command.command("show")
def show(
    ident: str = typer.Argument(..., help="The subscription's number."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a subscription, its prices and every period billed.

    Example: crmpay subscriptions show 3
    """
    app = Application.current()
    data = app.ws.subscriptions.get(ident)
    if json_output:
        app.out.json(data)
        return
    app.out.fields([(k, v) for k, v in data.items() if k not in ("prices", "periods")], title=f"subscription {ident}")
    app.out.table(
        ("from", "total_incl_vat", "lines"),
        [(p["from"], p["total_incl_vat"], " | ".join(";".join(ln) for ln in p["lines"])) for p in data["prices"]],
        title="prices",
    )
    app.out.table(
        ("period_start", "period_end", "status", "invoice_number", "action", "error"),
        [
            [p.get(c) for c in ("period_start", "period_end", "status", "invoice_number", "action", "error")]
            for p in data["periods"]
        ],
        title="periods",
        empty="no period billed yet",
    )


@command.command("price")
def price(
    ident: str = typer.Argument(..., help="The subscription's number."),
    line: list[str] = typer.Option(..., "--line", help='"DESCRIPTION;QTY;UNIT_PRICE;VAT_RATE", repeatable.'),
    from_: str = typer.Option(..., "--from", help="The new lines bill the periods starting on or after this date."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the change; store nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Change what a subscription bills, from a date (issued invoices never change).

    Example: crmpay subscriptions price 3 --line "Hosting;1;34.90;20" --from 2027-01-01
    """
    app = Application.current()
    data = app.ws.subscriptions.change_price(ident, line, effective=parse_date(from_, "--from"), dry_run=dry_run)
    _render(app, data, f"repriced from {from_}", json_output)


def _status_command(action: str, verb: str, doc: str) -> None:
    def run(
        ident: str = typer.Argument(..., help="The subscription's number."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Say what would change; store nothing."),
        json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        app = Application.current()
        data = getattr(app.ws.subscriptions, action)(ident, dry_run=dry_run)
        _render(app, data, verb, json_output)

    run.__doc__ = doc
    command.command(action)(run)


_status_command(
    "pause",
    "paused",
    "Pause: the periods that start while paused are not billed.\n\n    Example: crmpay subscriptions pause 3",
)
_status_command(
    "resume",
    "resumed",
    "Resume: billing goes on from the next period (no catch-up).\n\n    Example: crmpay subscriptions resume 3",
)
_status_command(
    "cancel", "cancelled", "Cancel: no period is billed any more.\n\n    Example: crmpay subscriptions cancel 3"
)
