"""`crmpay invoices create|credit|new-series|import|send|collect|render|list|show`."""

from __future__ import annotations

from pathlib import Path

import typer

from crmpay.cli._app import Application
from crmpay.cli._options import optional_date, parse_date
from crmpay.core import clock

command = typer.Typer(help="Create, render and list invoices.", no_args_is_help=True)


@command.command("create")
def create(
    customer: str = typer.Option(..., "--customer", help="The customer's email."),
    name: str = typer.Option(None, "--name", help="The customer's name as printed."),
    language: str = typer.Option("fr", "--language", help="fr, en or ja."),
    line: list[str] = typer.Option(
        ...,
        "--line",
        help='"DESCRIPTION;QTY;UNIT_PRICE;VAT", repeatable; VAT is a rate (20), a rate and an EN 16931 '
        "category (0:K) or a category (AE, E, K, G, O, Z); a negative price is a discount.",
    ),
    due: str = typer.Option(..., "--due", help="Due date, YYYY-MM-DD (not after 2099-12-31)."),
    currency: str = typer.Option("EUR", "--currency", help="ISO 4217 code."),
    issue_date: str = typer.Option(
        None, "--issue-date", help="Issue date (default: today; not in the future, not before the last invoice)."
    ),
    service_date: str = typer.Option(None, "--service-date", help="Date of the sale or service (default: issue date)."),
    service_period: str = typer.Option(
        None,
        "--service-period",
        help="Period of the service, FIRST..LAST (e.g. 2026-11-01..2026-11-30); instead of --service-date.",
    ),
    address: str = typer.Option(None, "--address", help="The customer's postal address."),
    delivery_address: str = typer.Option(
        None, "--delivery-address", help="Where the goods are delivered (printed when not the billing address)."
    ),
    nature: str = typer.Option(
        "services", "--nature", help="Nature of the operation: goods, services or mixed (both)."
    ),
    buyer_vat: str = typer.Option(None, "--buyer-vat", help="The customer's VAT number (a business)."),
    buyer_siren: str = typer.Option(None, "--buyer-siren", help="The customer's SIREN (a business)."),
    business: bool = typer.Option(False, "--business", help="A business customer: name and address required."),
    po_number: str = typer.Option(None, "--po", help="The customer's purchase-order number."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the invoice; store nothing, take no number."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create an invoice with the next number (sequential, no gaps, dates in number order).

    Example: crmpay invoices create --customer ann@example.fr --line "Maintenance;1;49.90;20" --due 2026-12-31
    """
    from crmpay.cli._options import choice
    from crmpay.core.errors import UsageError
    from crmpay.core.invoice import NATURES, InvoiceLine
    from crmpay.services.invoices.ledger import create_invoice, invoice_dict

    app = Application.current()
    seller = app.config.settings.seller
    period = None
    if service_period is not None:
        first, dots, last = service_period.partition("..")
        if not dots:
            raise UsageError(
                f"--service-period {service_period[:60]!r}: expected FIRST..LAST, e.g. 2026-11-01..2026-11-30"
            )
        period = (parse_date(first, "--service-period"), parse_date(last, "--service-period"))
    invoice = create_invoice(
        app.store(),
        prefix=seller.invoice_prefix,
        customer_email=customer,
        customer_name=name,
        language=language,
        currency=currency,
        lines=[InvoiceLine.parse(text) for text in line],
        issue_date=optional_date(issue_date, "--issue-date") or clock.today(),
        due_date=parse_date(due, "--due"),
        customer_address=address,
        service_date=optional_date(service_date, "--service-date"),
        service_period=period,
        delivery_address=delivery_address,
        nature=choice(nature, NATURES, "--nature"),
        buyer_vat=buyer_vat,
        buyer_siren=buyer_siren,
        business=business,
        po_number=po_number,
        seller=seller if seller.name else None,
        dry_run=dry_run,
    )
    data = invoice_dict(invoice)
    if json_output:
        app.out.json({**data, "dry_run": dry_run})
        return
    verb = "would create" if dry_run else "created"
    app.out.success(
        f"{verb} invoice {invoice.number}: {data['total_incl_vat']} {invoice.currency} "
        f"incl. VAT, due {invoice.due_date}"
    )


@command.command("credit")
def credit(
    number: str = typer.Argument(..., help="The invoice to credit."),
    line: list[str] = typer.Option(
        None, "--line", help='"DESCRIPTION;QTY;UNIT_PRICE;VAT" credited, repeatable (default: the whole invoice).'
    ),
    reason: str = typer.Option(None, "--reason", help="Why (printed on the credit note)."),
    no_refund: bool = typer.Option(
        False, "--no-refund", help="Refund nothing through the provider (refund it another way)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the credit note and its refunds; store nothing, take no number, refund nothing."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Issue a credit note (avoir) for all or part of an invoice: its own number
    (seller.credit_note_prefix, AV-YYYY-NNNN), the invoice's number and date printed on it;
    the invoice's amount due drops by as much.

    When the invoice was collected by direct debit and is now paid beyond what it owes, the
    overpaid part is refunded through GoCardless or Mollie, exactly once: if the refund is
    refused or interrupted, the credit note stays issued and running the same command again
    finishes the refund (it issues no second credit note). What was paid by hand is refunded
    by hand.

    Example: crmpay invoices credit INV-2026-0001 --line "Remise;1;10;20" --reason "Geste commercial"
    """
    from crmpay.core.invoice import InvoiceLine
    from crmpay.services.invoices.credit_notes import credit as credit_note

    app = Application.current()
    result = credit_note(
        app.ws,
        number,
        lines=[InvoiceLine.parse(text) for text in line] if line else None,
        reason=reason,
        dry_run=dry_run,
        refund=not no_refund,
    )
    facts = result.facts
    would = {
        "would_refund": "would refund ",
        "would_retry": "would finish the refund of ",
        "would_drop": "would give up (refund another way) ",
    }
    if json_output:
        for note in result.notes:  # on stderr: stdout stays one JSON document
            app.out.info(f"note: {note}")
        app.out.json(result.as_dict())
    else:
        if result.resumed:
            app.out.info(f"credit note {facts['credit_note']} was already issued for {number}")
        else:
            verb = "would issue" if dry_run else "issued"
            app.out.success(
                f"{verb} credit note {facts['credit_note']} for {facts['amount']} {facts['currency']} on {number}; "
                f"{facts['amount_due']} {facts['currency']} left to pay"
            )
        if facts.get("refund_due"):
            app.out.info(f"{facts['refund_due']} {facts['currency']} was paid beyond what is owed")
        for refund in result.refunds:
            what = f"{refund.amount} {refund.currency} through {refund.provider} (payment {refund.payment_id})"
            if refund.status == "created":
                app.out.success(f"refunded {what}: refund {refund.id} ({refund.provider_status})")
            elif refund.status in would:
                app.out.info(would[refund.status] + what)
            elif refund.status == "dropped":
                app.out.info(f"not refunded {what}: {refund.error}")
            else:
                app.out.warn(f"refund of {what} {refund.status}: {refund.error}")
        for note in result.notes:
            app.out.info(f"note: {note}")
    result.raise_for_outcome()


@command.command("new-series")
def new_series(
    prefix: str = typer.Argument(..., help="The new prefix, e.g. FA- (capital letters, digits, '-')."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would change; change nothing."),
) -> None:
    """Open a new numbering series and make it seller.invoice_prefix. Invoices already
    issued keep their numbers; a changed prefix is refused until its series is opened here.

    Example: crmpay invoices new-series FA-
    """
    app = Application.current()
    result = app.ws.invoices.new_series(prefix, dry_run=dry_run)
    verb = "would open" if dry_run else "opened"
    app.out.success(
        f"{verb} the series {prefix}YYYY-NNNN" if result["opened"] else f"series {prefix} already open; now in use"
    )


@command.command("import")
def import_(
    file: Path = typer.Argument(
        ...,
        help="CSV: invoice_ref, customer_email, customer_name, currency, "
        "issue_date, due_date, description, quantity, unit_price, vat_rate.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and show numbers; store nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Import invoices from a CSV file, one row per line, grouped by invoice_ref.

    Every row is validated first; any problem imports nothing (exit 2). Invoices already
    imported from a file (same invoice_ref) are skipped. Numbers follow issue dates: the
    invoices are numbered in date order.

    Example: crmpay invoices import factures.csv --dry-run
    """
    from crmpay.services.invoices.csv_import import import_invoices

    app = Application.current()
    seller = app.config.settings.seller
    result = import_invoices(
        app.store(), file, prefix=seller.invoice_prefix, dry_run=dry_run, seller=seller if seller.name else None
    )
    if json_output:
        app.out.json({**result.as_dict(), "dry_run": dry_run})
    else:
        for problem in result.problems:
            app.out.info(str(problem))
    if result.problems:
        from crmpay.core.errors import UsageError

        raise UsageError(f"{len(result.problems)} problem(s) in {file}; nothing imported")
    if json_output:
        return
    verb = "would create" if dry_run else "created"
    app.out.success(
        f"{file}: {result.rows} rows, {result.invoices} invoices; {verb} "
        f"{len(result.created)} ({', '.join(result.created) or 'none'}), "
        f"{len(result.already_imported)} already imported"
    )


@command.command("send")
def send(
    number: str = typer.Argument(..., help="The invoice number."),
    mandate: str = typer.Option(
        None, "--mandate", help="Collect with this mandate (else the customer's only usable one)."
    ),
    provider: str = typer.Option(None, "--provider", help="gocardless or mollie, when both are connected."),
    no_email: bool = typer.Option(False, "--no-email", help="Do not email; print the link or the payment."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would happen; create and send nothing."),
    new_attempt: bool = typer.Option(False, "--new-attempt", help="Try again after a failed or cancelled attempt."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Collect an invoice by direct debit, or email a mandate-setup link with the PDF.

    The mandate (--mandate, or the customer's only usable one) is read again from the
    provider and must not have lapsed (36 months without a collection). The debit is
    for what remains to pay, on the latest of the due date, the mandate's next possible
    date and today + sepa.prenotification_days (14): the email is the pre-notification
    (amount, date, mandate reference, creditor identifier). A Mollie debit is created on
    its day by `crmpay invoices collect`. With no usable mandate, a setup link is emailed.
    Never charges twice: a rerun resumes the same attempt with the same idempotency key.

    Example: crmpay invoices send INV-2026-0001
    """

    app = Application.current()
    result = app.ws.invoices.send(
        number, mandate=mandate, provider=provider, email=not no_email, dry_run=dry_run, new_attempt=new_attempt
    )
    if json_output:
        for note in result.notes:  # on stderr: stdout stays one JSON document
            app.out.info(f"note: {note}")
        app.out.json(result.as_dict())
        return
    verb = "would " if dry_run else ""
    if result.action == "payment":
        app.out.success(
            f"{number}: {verb}collect {result.amount} {result.currency} by direct debit "
            f"({result.provider}, mandate {result.mandate_reference}) on {result.charge_date}"
            + (f" — payment {result.payment_id}" if result.payment_id else "")
            + (f" — created on {result.scheduled_for}" if result.scheduled_for else "")
        )
    else:
        app.out.success(f"{number}: {verb}send a mandate-setup link ({result.provider})")
        if result.setup_link:
            app.out.line(result.setup_link)
    for note in result.notes:
        app.out.info(f"note: {note}")
    app.out.info(f"email: {result.email}")


@command.command("collect")
def collect(
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be created; create nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create the scheduled direct debits whose day has come (run it daily, e.g. from cron).

    Mollie debits a payment as soon as it is created, so `invoices send` schedules a Mollie
    debit and this command creates it a few working days before its pre-notified date,
    after checking the mandate again.

    Example: crmpay invoices collect --dry-run
    """
    app = Application.current()
    results = app.ws.invoices.collect(dry_run=dry_run)
    if json_output:
        app.out.json([r.as_dict() for r in results])
        return
    verb = "would create" if dry_run else "created"
    rows = [
        (r.number, r.provider, f"{r.amount} {r.currency}", r.charge_date, r.payment_id or "", "; ".join(r.notes))
        for r in results
    ]
    app.out.table(
        ("invoice", "provider", "amount", "charge date", "payment", "note"),
        rows,
        title=f"debits {verb}",
        empty="no scheduled debit is due today",
    )


@command.command("render")
def render(
    number: str = typer.Argument(..., help="The invoice number."),
    output: Path = typer.Option(None, "-o", "--output", help="PDF file (default: NUMBER.pdf)."),
    fmt: str = typer.Option(
        None,
        "--format",
        help="pdf, or facturx: the same PDF with its EN 16931 XML embedded (PDF/A-3). "
        "Default: the profile's invoices.format (pdf).",
    ),
) -> None:
    """Write an invoice's PDF: the original archived at its first render (under the profile
    folder, its SHA-256 in the store), as it was issued whatever the config says now.
    As Factur-X, that original carries the invoice's XML (factur-x.xml).

    Example: crmpay invoices render INV-2026-0001 --format facturx -o facture.pdf
    """
    from crmpay.cli._options import choice
    from crmpay.config.sections import INVOICE_FORMATS

    app = Application.current()
    path = app.ws.invoices.render(number, output, fmt=choice(fmt, INVOICE_FORMATS, "--format"))
    app.out.success(f"wrote {path}")


@command.command("list")
def list_(
    status: str = typer.Option(
        None, "--status", help="unpaid, pending, awaiting_mandate, partially_paid, paid, credited."
    ),
    customer: str = typer.Option(None, "--customer", help="Only this customer's email."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most N invoices."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List invoices, newest first.

    Example: crmpay invoices list --status unpaid --json
    """
    from crmpay.cli._options import choice
    from crmpay.core.invoice import STATUSES
    from crmpay.services.invoices.ledger import list_invoices

    app = Application.current()
    items = list_invoices(app.store(), status=choice(status, STATUSES, "--status"), customer=customer, limit=limit)
    if json_output:
        app.out.json(items)
        return
    app.out.table(
        ("number", "status", "customer", "total incl. VAT", "due", "paid on"),
        [
            (
                i["number"],
                i["status"],
                i["customer_email"],
                f"{i['total_incl_vat']} {i['currency']}",
                i["due_date"],
                i["paid_on"],
            )
            for i in items
        ],
        title="invoices",
        empty="no invoices",
    )


@command.command("show")
def show(
    number: str = typer.Argument(..., help="The invoice number."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one invoice with its lines, VAT per rate and totals.

    Example: crmpay invoices show INV-2026-0001
    """
    from crmpay.services.invoices.ledger import invoice_dict, load_invoice

    app = Application.current()
    data = invoice_dict(load_invoice(app.store(), number))
    if json_output:
        app.out.json(data)
        return
    app.out.fields(
        [(k, v) for k, v in data.items() if k not in ("lines", "vat") and v is not None], title=f"invoice {number}"
    )
    app.out.table(
        ("description", "qty", "unit price", "VAT %", "VAT cat.", "net"),
        [
            (ln["description"], ln["quantity"], ln["unit_price"], ln["vat_rate"], ln["vat_category"], ln["net"])
            for ln in data["lines"]
        ],
    )
