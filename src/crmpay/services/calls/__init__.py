"""The calls use case as the command line and the Python API run it: read calls from a
file or from SipSim, then write them into the CRM by the rules, one import per profile
at a time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmpay.core.errors import PartialFailure, UsageError

if TYPE_CHECKING:
    from crmpay.services.calls.importer import ImportReport, Progress
    from crmpay.services.context import Context


def import_calls(
    ctx: Context,
    file: Path | None = None,
    *,
    fmt: str | None = None,
    from_service: str | None = None,
    since: str | None = None,
    until: str | None = None,
    tz: str | None = None,
    rules_file: Path | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Calls into the CRM: match callers, create what the rules say, log each call.
    Importing the same calls again creates nothing; a killed import resumes."""
    from crmpay.services import context
    from crmpay.services.calls import importer as calls_import

    rules, where = calls_import.load_rules(ctx.config, rules_file)
    parsed = calls_import.read_source(
        ctx.config, rules, file=file, fmt=fmt, from_service=from_service, since=since, until=until, tz=tz
    )
    if not parsed.calls:
        shown = "; ".join(str(p) for p in parsed.problems[:5]) or "the input holds no call"
        raise UsageError(f"no valid call to import ({shown})", hint="check --format and the file's columns")
    crm = context.crm(ctx)
    id_field = ctx.config.settings.crm.call_id_field
    found = calls_import.crm_context(crm, rules, id_field, where)
    with context.profile_lock(ctx, "calls", "calls import"):
        return calls_import.import_calls(
            ctx.store(),
            crm,
            rules,
            parsed.calls,
            parsed.problems,
            users=found.users,
            id_field=id_field,
            deal_layout=found.deal_layout,
            dry_run=dry_run,
            progress=progress,
        )


def raise_for_outcome(report: ImportReport) -> None:
    """Exit 3 when some calls failed or some lines could not be read."""
    if report.failures or report.problems:
        raise PartialFailure(
            f"{len(report.failures)} call(s) failed, {len(report.problems)} line(s) unreadable",
            hint="see `crmpay calls list --status failed`",
        )


def listing(ctx: Context, *, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    from crmpay.services.calls.importer import list_calls

    return list_calls(ctx.store(), status=status, limit=limit)
