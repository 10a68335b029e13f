"""The mandate use cases as the command line and the Python API run them: an
accountant's CSV file, a provider's existing mandates linked to CRM contacts, and the
results of a GoCardless mandate import."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmpay.core import clock
from crmpay.core.errors import PartialFailure

if TYPE_CHECKING:
    from crmpay.services.context import Context
    from crmpay.services.mandates.csv_import import ImportResult
    from crmpay.services.mandates.link import LinkReport


def import_file(
    ctx: Context,
    path: Path,
    *,
    provider: str = "none",
    dry_run: bool = False,
    skip_invalid: bool = False,
    errors_csv: Path | None = None,
) -> ImportResult:
    """Validate every row, then import (all or nothing unless `skip_invalid`). The result
    is returned for display; `raise_for_outcome(result, skip_invalid)` raises its exit."""
    from crmpay.services import context
    from crmpay.services.mandates.csv_import import import_csv

    client = None
    if provider in ("gocardless", "mollie") and not dry_run:
        client = context.providers(ctx, provider)[provider]
    settings = ctx.config.settings
    return import_csv(
        ctx.store(),
        path,
        provider=provider,
        today=clock.today(),
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        errors_csv=errors_csv,
        client=client,
        profile=ctx.profile,
        creditor=(settings.creditor_id, settings.seller.name),
    )


def raise_for_outcome(result: ImportResult, *, skip_invalid: bool) -> None:
    """Invalid rows: 2 (nothing imported) or 3 (with `skip_invalid`); refused rows: 3."""
    from crmpay.services.mandates.csv_import import raise_for

    raise_for(result, skip_invalid=skip_invalid)


def import_from_provider(
    ctx: Context,
    provider: str,
    *,
    all_statuses: bool = False,
    create_contacts: bool = False,
    links: dict[str, str] | None = None,
    dry_run: bool = False,
) -> LinkReport:
    """A provider's mandates into the store, each linked to the CRM contact with its
    customer's email; `links` (mandate id -> contact id) settle ambiguous emails."""
    from crmpay.services import context
    from crmpay.services.mandates.link import import_and_link

    mapping = ctx.config.settings.crm
    return import_and_link(
        ctx.store(),
        context.providers(ctx, provider)[provider],
        context.crm(ctx),
        contacts_module=mapping.contacts_module,
        mandate_field=mapping.contact_mandate_field,
        all_statuses=all_statuses,
        dry_run=dry_run,
        create_contacts=create_contacts,
        links=links or {},
    )


def raise_for_links(report: LinkReport) -> None:
    if report.unlinked:
        raise PartialFailure(f"{report.unlinked} mandate(s) left unlinked")


def collect(ctx: Context, import_id: str) -> dict[str, Any]:
    """A GoCardless mandate import's results (IM…) into the store."""
    from crmpay.providers.base import mandate_importer
    from crmpay.services import context
    from crmpay.services.mandates.csv_import import collect_import

    return collect_import(ctx.store(), mandate_importer(context.providers(ctx, "gocardless")["gocardless"]), import_id)


def listing(ctx: Context, **filters: Any) -> list[dict[str, Any]]:
    """Mandates in the store (36-month rule applied as of today)."""
    from crmpay.services.mandates.csv_import import list_mandates

    return list_mandates(ctx.store(), today=clock.today(), **filters)
