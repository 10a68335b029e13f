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
    from crmpay.core.errors import ExitCode, UsageError
    from crmpay.providers import PROVIDERS, connected_providers, open_provider
    from crmpay.services.locks import exclusive
    from crmpay.services.sync import sync_providers

    app = Application.current()
    if provider not in (*PROVIDERS, "all"):
        raise UsageError(f"unknown provider {provider!r}", hint="choose gocardless, mollie or all")
    names = connected_providers(app.config) if provider == "all" else [provider]
    if not names:
        from crmpay.core.errors import NotConnected

        raise NotConnected(
            "no payment provider is connected", hint="run `crmpay connect gocardless` or `crmpay connect mollie`"
        )
    providers = {name: open_provider(app.config, name) for name in names}
    app.home.ensure_profile_dir(app.profile)
    with exclusive(app.home.profile_dir(app.profile) / "sync.lock", "sync"):
        with app.out.progress(enabled=not (json_output or quiet), unit="fetched") as update:
            progress = (lambda provider, resource, n: update(f"{provider} {resource}", n, None)) if update else None
            reports = sync_providers(app.store(), providers, full=full, dry_run=dry_run, progress=progress)
        crm = "skipped (--no-crm)" if no_crm else "not connected"
        push_failures: list[str] = []
        from crmpay.crm import open_crm, zoho_connected

        if not no_crm and zoho_connected(app.config):
            from crmpay.services.crm_push import push
            from crmpay.services.crm_setup import check_mapping
            from crmpay.services.zoho_invoices import push_status

            client = open_crm(app.config)
            checked = check_mapping(app.config, client)
            if not checked["ok"]:
                raise UsageError(
                    "the CRM mapping is incomplete: " + "; ".join(checked["missing"]), hint="see `crmpay crm check`"
                )
            pushed = push(app.store(), client, app.config.settings.crm, dry_run=dry_run)
            for report in reports:
                for resource, counts in report.counts.items():
                    counts.pushed = pushed.pushed.get((report.provider, resource), 0)
                    counts.failed = pushed.failed.get((report.provider, resource), 0)
            push_failures = pushed.failures
            numbers = [n for r in reports for n in r.invoices_updated]
            failed = push_status(app.store(), client, numbers) if numbers and not dry_run else []
            crm = (
                f"pushed {sum(pushed.pushed.values())} record(s), {len(push_failures)} failed; "
                f"invoice statuses pushed ({len(numbers) - len(failed)} of {len(numbers)})"
            )
    if json_output:
        app.out.json(
            {"dry_run": dry_run, "crm": crm, "crm_failures": push_failures, "providers": [r.as_dict() for r in reports]}
        )
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
        updated = [n for r in reports for n in r.invoices_updated]
        if updated:
            app.out.info(f"invoices updated: {', '.join(updated)}")
        for failure in push_failures[:20]:
            app.out.warn(failure)
        if not quiet:
            app.out.info(f"crm: {crm}")
    codes = [r.exit_code for r in reports if r.exit_code] + ([int(ExitCode.PARTIAL)] if push_failures else [])
    if codes:
        raise typer.Exit(max(codes) if ExitCode.TEMPORARY not in codes else int(ExitCode.TEMPORARY))


command = sync
