"""`crmpay sync`: providers -> local store -> Zoho CRM."""

from __future__ import annotations

import typer

from crmpay.cli._app import Application


def sync(
    provider: str = typer.Option("all", "--provider", help="gocardless, mollie or all (the connected ones)."),
    full: bool = typer.Option(False, "--full", help="Read everything again, not only what changed."),
    no_crm: bool = typer.Option(False, "--no-crm", help="Do not push to the CRM."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Read the providers, count what would change, keep nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success (for cron)."),
) -> None:
    """Sync customers, bank accounts, mandates and payments into the local store.

    The first run reads everything; later runs read only what changed (GoCardless
    events, Mollie newest-first listings). One sync per profile at a time: an
    overlapping run exits 5. Safe to kill at any moment.

    Example: */10 * * * * crmpay sync --quiet
    """
    app = Application.current()
    with app.out.progress(enabled=not (json_output or quiet), unit="fetched") as update:
        progress = (lambda provider, resource, n: update(f"{provider} {resource}", n, None)) if update else None
        outcome = app.ws.sync(provider, full=full, push_crm=not no_crm, dry_run=dry_run, progress=progress)
    reports, crm, push_failures = outcome.reports, outcome.crm, outcome.crm_failures
    if json_output:
        app.out.json(outcome.as_dict())
    elif not quiet or any(r.error for r in reports) or push_failures:
        rows: list[tuple[object, ...]] = []
        for report in reports:
            if report.error:
                rows.append((report.provider, "-", "error", "", "", "", "", "", report.error))
                continue
            for resource, c in report.counts.items():
                rows.append(
                    (report.provider, report.mode, resource, c.fetched, c.new, c.updated, c.pushed, c.failed, "")
                )
        app.out.table(
            ("provider", "mode", "resource", "fetched", "new", "updated", "pushed", "failed", "error"),
            rows,
            title="sync (dry run: nothing kept)" if dry_run else "sync",
        )
        updated = outcome.invoices_updated
        if updated:
            app.out.info(f"invoices updated: {', '.join(updated)}")
        for failure in push_failures[:20]:
            app.out.warn(failure)
        if not quiet:
            app.out.info(f"crm: {crm}")
    outcome.raise_for_outcome()


command = sync
