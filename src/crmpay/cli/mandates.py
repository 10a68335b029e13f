"""`crmpay mandates import|list|show`."""

from __future__ import annotations

from pathlib import Path

import typer

from crmpay.cli._app import Application

command = typer.Typer(help="Import, list and show direct-debit mandates.", no_args_is_help=True)


@command.command("import")
def import_(
    file: Path = typer.Argument(None, help="CSV file: name, email, iban, bic, mandate_reference, signature_date…"),
    provider: str = typer.Option("none", "--provider", help="gocardless, mollie or none (store only)."),
    status: str = typer.Option(None, "--status", help="Collect the results of GoCardless mandate import IM…"),
    from_provider: str = typer.Option(
        None, "--from", help="Import a provider's existing mandates and link them to CRM contacts."
    ),
    all_statuses: bool = typer.Option(False, "--all-statuses", help="With --from: not only usable mandates."),
    create_contacts: bool = typer.Option(
        False, "--create-contacts", help="With --from: create a contact when none matches."
    ),
    link: list[str] = typer.Option(None, "--link", help="With --from: MANDATE=CONTACT_ID settles an ambiguous email."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and report; change nothing."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid rows; exit 3 if any row was invalid."
    ),
    errors_csv: Path = typer.Option(
        None, "--errors-csv", help="Write rejected rows with a reason column to this file."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Import mandates from an accountant's CSV file; every row is validated first.

    Columns are matched by name in English or French (nom, rum, date_signature…);
    `,` `;` or tab; UTF-8 or Windows-1252; dates YYYY-MM-DD or DD/MM/YYYY.
    Any invalid row imports nothing (exit 2) unless --skip-invalid (exit 3).

    Example: crmpay mandates import mandats.csv --provider none --dry-run
    """
    from crmpay.core.errors import UsageError
    from crmpay.services import mandates

    app = Application.current()
    mandates.check_import_choice(file, from_provider, status, link)
    if from_provider:
        pairs = dict(item.split("=", 1) for item in link or [] if "=" in item)
        if link and len(pairs) != len(link):
            raise UsageError("--link takes MANDATE=CONTACT_ID")
        report = app.ws.mandates.import_from(
            from_provider, all_statuses=all_statuses, create_contacts=create_contacts, links=pairs, dry_run=dry_run
        )
        if json_output:
            app.out.json(report.as_dict())
        else:
            app.out.table(
                ("mandates", "linked", "contacts created", "ambiguous", "no contact"),
                [
                    (
                        report.mandates,
                        len(report.linked),
                        len(report.created_contacts),
                        len(report.ambiguous),
                        len(report.no_contact),
                    )
                ],
                title=f"mandates from {from_provider}",
            )
            for item in report.ambiguous:
                app.out.warn(
                    f"{item['mandate']}: {item['email']} is the email of contacts {', '.join(item['contacts'])}; "
                    f"choose with --link {item['mandate']}=CONTACT_ID"
                )
            for item in report.no_contact:
                app.out.warn(
                    f"{item['mandate']}: no CRM contact has the email {item['email'] or '(none)'}; "
                    "use --create-contacts or --link"
                )
        mandates.raise_for_links(report)
        return
    if status:
        collected = app.ws.mandates.collect(status)
        if json_output:
            app.out.json(collected)
        else:
            app.out.table(
                ("record", "mandate", "status"),
                [(c["record_identifier"], c["mandate"], c["status"]) for c in collected["collected"]],
                title=f"mandate import {status}: {collected['status']}",
                empty="no mandates yet",
            )
            for record, problem in collected["errors"].items():
                app.out.warn(f"{record}: {problem}")
        return
    if file is None:
        raise UsageError("give a CSV file, or --status IM… to collect a GoCardless import")
    result = app.ws.mandates.import_csv(
        file, provider=provider, dry_run=dry_run, skip_invalid=skip_invalid, errors_csv=errors_csv
    )
    if json_output:
        app.out.json(result.as_dict())
    else:
        for problem in result.problems:
            app.out.info(str(problem))
        verb = "would import" if dry_run else "imported"
        app.out.table(
            ("rows", "valid", "invalid", verb, "already imported"),
            [(result.rows, result.valid, result.invalid, result.imported, result.already_imported)],
            title=f"{file} -> {provider}",
        )
        if result.rejects_file:
            app.out.info(f"rejected rows written to {result.rejects_file}")
        if result.provider_import:
            app.out.info(
                f"GoCardless mandate import {result.provider_import} submitted; collect it with "
                f"`crmpay mandates import --status {result.provider_import}`"
            )
        for failure in result.failed:
            app.out.warn(failure)
    mandates.raise_for_outcome(result, skip_invalid=skip_invalid)


@command.command("list")
def list_(
    provider: str = typer.Option(None, help="Only this provider (gocardless, mollie, none)."),
    status: str = typer.Option(None, help="Only this status (provider's or normalised)."),
    customer: str = typer.Option(None, "--customer", help="Only the customer with this email."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most N mandates."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List mandates in the store; those past the 36-month rule are flagged expired.

    Example: crmpay mandates list --provider gocardless --status active --json
    """
    app = Application.current()
    items = app.ws.mandates.list(provider=provider, status=status, customer_email=customer, limit=limit)
    if json_output:
        app.out.json(items)
        return
    app.out.table(
        ("provider", "id", "status", "reference", "customer", "expires", ""),
        [
            (
                m["provider"],
                m["id"],
                m["status"],
                m["reference"],
                m["customer_email"],
                m["expires_on"],
                "EXPIRED" if m["expired"] else "",
            )
            for m in items
        ],
        title="mandates",
        empty="no mandates in the store",
    )


@command.command("show")
def show(
    mandate: str = typer.Argument(..., help="The provider's mandate id or the mandate reference."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one mandate from the store.

    Example: crmpay mandates show RUM-2024-0001
    """
    from crmpay.cli._options import not_empty
    from crmpay.core.errors import UsageError

    not_empty(mandate, "mandate id or reference")
    app = Application.current()
    found = app.ws.mandates.list(ident=mandate)
    if not found:
        raise UsageError(f"no mandate {mandate!r} in the store", hint="see `crmpay mandates list`")
    if json_output:
        app.out.json(found[0])
        return
    app.out.fields(found[0].items(), title=f"mandate {mandate}")
