"""The mandate use cases as the command line and the Python API run them: an
accountant's CSV file, a provider's existing mandates linked to CRM contacts, and the
results of a GoCardless mandate import."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from crmpay.core import clock
from crmpay.core.errors import PartialFailure, TemporaryError, UsageError

if TYPE_CHECKING:
    from crmpay.providers.base import PaymentProvider
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
    from crmpay.services.listing import PROVIDERS, check_filter
    from crmpay.services.mandates.csv_import import import_csv

    provider = check_filter(provider, PROVIDERS, "--provider") or "none"
    _check_writable(errors_csv, "--errors-csv")
    client = None
    if provider in ("gocardless", "mollie") and not dry_run:
        client = context.providers(ctx, provider)[provider]
        if provider == "mollie":  # row by row: a row not reached is told from a row refused
            client = cast("PaymentProvider", _Recording(client))
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
    """Invalid rows: 2 (nothing imported) or 3 (with `skip_invalid`); refused rows: 3.
    Rows that failed only because the provider could not be reached: 5 when no row was
    imported (run again: the same keys resume), 3 otherwise, and worded as such."""
    from crmpay.services.mandates.csv_import import raise_for

    unreached = [f for f in result.failed if f.partition(": ")[2] in _UNREACHED]
    if unreached and not result.invalid:
        refused = [f for f in result.failed if f not in unreached]
        text = f"{len(unreached)} mandate(s) not imported: {result.provider} could not be reached ({unreached[0]})"
        if refused:
            text += f"; {len(refused)} refused by {result.provider}: " + "; ".join(refused[:5])
        hint = "run the same command again: rows already imported are skipped, pending ones resume"
        if refused or result.imported:
            raise PartialFailure(text, hint=hint)
        raise TemporaryError(text, hint=hint)
    raise_for(result, skip_invalid=skip_invalid)


#: The messages of the provider errors that were temporary (network, 5xx, rate limit) in
#: this process's imports: their rows are reported as not reached, not as refused.
_UNREACHED: set[str] = set()


class _Recording:
    """A provider whose temporary failures are remembered (their rows were not refused)."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._provider, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except TemporaryError as exc:
                _UNREACHED.add(str(exc))
                raise

        return call


def _check_writable(path: Path | None, option: str) -> None:
    """A file the command will write: not a directory, in a folder that exists."""
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{option} {path}: the folder {path.parent} does not exist")


def check_import_choice(
    file: Path | None, from_provider: str | None, status: str | None, links: list[str] | None
) -> None:
    """One source per run: a CSV file, a provider's mandates (--from) or a GoCardless
    import's results (--status); the options of one do not silently mean nothing."""
    given = [name for name, value in (("FILE", file), ("--from", from_provider), ("--status", status)) if value]
    if len(given) > 1:
        raise UsageError(
            f"{' and '.join(given)} cannot be used together",
            hint="import a CSV FILE, or a provider's mandates with --from, or collect --status IM…",
        )
    if links and not from_provider:
        raise UsageError("--link goes with --from")


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
    from crmpay.services.listing import check_filter
    from crmpay.services.mandates.link import import_and_link

    provider = check_filter(provider, ("gocardless", "mollie"), "--from") or ""
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
    from crmpay.services.listing import PROVIDERS, check_filter
    from crmpay.services.mandates.csv_import import list_mandates

    filters["provider"] = check_filter(filters.get("provider"), PROVIDERS, "--provider")
    filters["status"] = check_filter(filters.get("status"), mandate_statuses(), "--status")
    ident = filters.get("ident")
    if ident is not None and not ident.strip():
        return []  # an empty id or reference is no mandate's
    return list_mandates(ctx.store(), today=clock.today(), **filters)


def mandate_statuses() -> list[str]:
    """crmpay's mandate states, then GoCardless's and Mollie's statuses."""
    from crmpay.core.models import MandateState
    from crmpay.providers.gocardless_records import MANDATE_STATES

    return list(dict.fromkeys([*MandateState, *MANDATE_STATES, "valid", "invalid"]))
