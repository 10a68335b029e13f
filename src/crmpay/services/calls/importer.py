"""`crmpay calls import`: calls -> CRM accounts, leads, contacts, deals, tasks and calls.

1. The rules are checked against the CRM (managers are users, stages in their pipelines)
   and the module that holds the call's identity is checked to exist.
2. Calls already imported (the store's `calls` table says `done`) are skipped.
3. Contacts, leads, accounts (and deals, when the policy reads them) are loaded in bulk;
   the plan is made in memory (`telephony.plan`).
4. Records are written module by module in batches of 100: accounts, leads, contacts,
   then deals, tasks and calls, which carry the call's identity (`crm.call_id_field`).
   Deals are upserted by it. Zoho's upsert does not take Tasks or Calls, so those are
   first looked up by the identity (COQL `in`, 50 at a time) and only the missing ones
   inserted: writing one twice after a crash finds it instead of duplicating it.
   A call is marked done in the store in the same step as its last record is confirmed.

A killed import resumes: the next run re-reads the CRM, so the contacts and leads it made
now match, and the keyed records are found or upserted, not duplicated.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crmpay.core.clock import now_iso
from crmpay.core.errors import UsageError
from crmpay.crm.base import RecordResult
from crmpay.store import Store
from crmpay.telephony.calls import Call
from crmpay.telephony.plan import KEYED, ORDER, UPSERTABLE, DealBook, Plan, PlannedRecord, Planner, Ref
from crmpay.telephony.rules import CallRules
from crmpay.telephony.sources import LineProblem

IDS_PER_QUERY = 50  # values in one COQL `in (...)`

Progress = Callable[[str, int, int], None]  # (module, written so far, total)


@dataclass
class ImportReport:
    read: int = 0
    ignored: int = 0
    already: int = 0
    matched: int = 0
    done: int = 0
    failed: int = 0
    created: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "calls_read": self.read,
            "ignored": self.ignored,
            "already_imported": self.already,
            "matched": self.matched,
            "imported": self.done,
            "failed": self.failed,
            "created": {m.lower(): self.created.get(m, 0) for m in ORDER},
            "failures": self.failures,
            "problems": self.problems,
            **({"plan": self.plan} if self.dry_run else {}),
        }


@dataclass(frozen=True)
class CrmContext:
    users: dict[str, str]  # active users' ids by email (case-folded)
    deal_layout: str | None  # the Deals layout new deals are made in, when deals are made


def crm_context(crm: Any, rules: CallRules, id_field: str, where: str) -> CrmContext:
    """Check the rules and the identity field against the CRM; the users' ids by email and
    the Deals layout. Pipelines are read from that layout; a rule may name a pipeline as
    people see it ("Standard") or as Zoho stores it ("Standard (Standard)"): the rules are
    rewritten to the stored value, which is what a deal must carry."""
    from crmpay.core.errors import ConfigError

    users = {str(u.get("email", "")).casefold(): str(u["id"]) for u in crm.users() if u.get("email")}
    needs_pipelines = bool(rules.pipeline) or any(ln.pipeline for ln in rules.lines)
    layout = None
    pipelines: dict[str, set[str]] = {}
    if rules.deal_policy != "never" or needs_pipelines:
        layout = _deals_layout(crm, where)
    if needs_pipelines and layout is not None:
        found = crm.pipelines(layout)
        rules.use_stored_pipeline_names({p.display: p.actual for p in found} | {p.actual: p.actual for p in found})
        pipelines = {p.actual: set(p.stages) for p in found}
    rules.check_against_crm(set(users), pipelines, where)
    from crmpay.services.crm_setup import is_unique

    for module in _keyed_modules(rules):
        fields = crm.fields(module)
        if id_field not in {f["api_name"] for f in fields}:
            raise ConfigError(
                f"crm.call_id_field: field {id_field!r} does not exist in {module}",
                hint=f"add a single-line field with that API name to {module} and mark it "
                "unique (it keeps imports idempotent), or set crm.call_id_field",
            )
        if module in UPSERTABLE and not is_unique(fields, id_field):  # Zoho upserts match unique fields only
            raise ConfigError(
                f"crm.call_id_field: field {id_field!r} of {module} is not unique",
                hint='tick "Do not allow duplicate values" for it in Setup > Modules and Fields',
            )
    return CrmContext(users, layout)


def _deals_layout(crm: Any, where: str) -> str:
    """The id of the Deals layout new deals go in: the active one named Standard, else the
    first active one."""
    from crmpay.core.errors import ConfigError

    active = [lay for lay in crm.layouts("Deals") if lay.get("status", "active") == "active" and lay.get("id")]
    if not active:
        raise ConfigError(f"{where}: the CRM's Deals module has no active layout to create deals in")
    standard = [lay for lay in active if lay.get("name") == "Standard"]
    return str((standard or active)[0]["id"])


def _keyed_modules(rules: CallRules) -> list[str]:
    return [
        m
        for m, on in (
            ("Deals", rules.deal_policy != "never"),
            ("Tasks", rules.missed_call_task),
            ("Calls", rules.create_call_records),
        )
        if on
    ]


def import_calls(
    store: Store,
    crm: Any,
    rules: CallRules,
    calls: list[Call],
    problems: list[LineProblem],
    *,
    users: dict[str, str],
    id_field: str,
    deal_layout: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    from crmpay.telephony.matching import PhoneIndex, load_index, phone_fields

    report = ImportReport(read=len(calls) + len(problems), dry_run=dry_run, problems=[str(p) for p in problems])
    done = _done(store, [c.identity for c in calls])
    pending = {c.customer for c in calls if c.identity not in done and c.customer}
    index = (
        load_index(crm, pending, rules.default_region, phone_fields(crm), rules.phone_search_up_to)
        if pending
        else PhoneIndex(rules.default_region)
    )
    deals = None
    if rules.deal_policy in ("if_no_deals", "if_no_open_deals_last_year") and pending:
        deals = DealBook().load(crm.iter_records("Deals", ["Account_Name", "Contact_Name", "Stage", "Created_Time"]))
    planner = Planner(rules, users, index, deals, id_field, deal_layout=deal_layout)
    plan = planner.plan(calls, done)
    for step in plan.steps:
        report.ignored += step.outcome == "ignored"
        report.already += step.outcome == "already imported"
        report.matched += (
            step.outcome == "planned" and bool(step.matched) and not all(m.endswith(" planned") for m in step.matched)
        )
        if dry_run:
            report.plan.append(
                {
                    "line": step.call.line_number,
                    "identity": step.call.identity,
                    "customer": step.call.customer,
                    "outcome": step.outcome,
                    "plan": step.describe(),
                }
            )
    if dry_run:
        for record in plan.records.values():
            report.created[record.module] += 1
        return report
    _record_ignored(store, plan)
    _execute(store, crm, plan, report, id_field, progress)
    return report


def _done(store: Store, identities: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(identities), 500):
        chunk = identities[start : start + 500]
        rows = store.db.execute(
            f"SELECT identity FROM calls WHERE status = 'done' AND identity IN ({','.join('?' * len(chunk))})", chunk
        ).fetchall()
        found.update(r[0] for r in rows)
    return found


def _row(
    call: Call,
    status: str,
    *,
    error: str | None = None,
    call_id: str | None = None,
    records: dict[str, str] | None = None,
) -> tuple[Any, ...]:
    raw = json.dumps(
        {
            "identity": call.identity,
            "source": call.source,
            "line": call.line_number,
            "started_at": call.started_at.isoformat(),
            "direction": call.direction,
            "answered": call.answered,
            "duration_s": call.duration_s,
            "caller": call.raw_caller,
            "receiver": call.raw_receiver,
        },
        sort_keys=True,
    )
    return (
        call.identity,
        call.source,
        call.started_at.isoformat(),
        call.direction,
        call.raw_caller,
        call.raw_receiver,
        call.line,
        status,
        call.duration_s,
        raw,
        call_id,
        now_iso(),
        call.line_number,
        error,
        json.dumps(records, sort_keys=True) if records else None,
    )


_UPSERT_CALL = """
    INSERT INTO calls (identity, source, started_at, direction, caller, receiver, line, status, duration_s,
                       raw, crm_call_id, imported_at, line_number, error, crm_records)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (identity) DO UPDATE SET status = excluded.status, error = excluded.error,
        crm_call_id = excluded.crm_call_id, crm_records = excluded.crm_records,
        imported_at = excluded.imported_at, line_number = excluded.line_number
    WHERE calls.status != 'done'
"""


def _record_ignored(store: Store, plan: Plan) -> None:
    rows = [_row(s.call, "ignored", error=s.reason) for s in plan.steps if s.outcome == "ignored"]
    if rows:
        with store.transaction() as db:
            db.executemany(_UPSERT_CALL, rows)


def _resolve(value: Any, records: dict[str, PlannedRecord]) -> Any:
    """Planned references -> CRM ids; a KeyError names a reference that has none."""
    if isinstance(value, Ref):
        target = records[value.key]
        if target.id is None:
            raise KeyError(value.key)
        return target.id
    if isinstance(value, dict):
        return {k: _resolve(v, records) for k, v in value.items()}
    return value


def _execute(
    store: Store, crm: Any, plan: Plan, report: ImportReport, id_field: str, progress: Progress | None
) -> None:
    from crmpay.services.intents import checkpoint

    by_call = {s.call.identity: s for s in plan.steps if s.outcome == "planned"}
    settled: set[str] = set()
    for module in ORDER:
        records = plan.module(module)
        ready: list[tuple[PlannedRecord, dict[str, Any]]] = []
        for record in records:
            try:
                ready.append((record, _resolve(record.data, plan.records)))
            except KeyError as missing:
                failed = plan.records[missing.args[0]]
                record.error = f"needs {failed.module[:-1].lower()} {failed.key.split(':', 1)[1]}, which failed"
        written = 0
        for start in range(0, len(ready), 100):
            batch = ready[start : start + 100]
            data = [d for _, d in batch]
            if module in UPSERTABLE:
                results = crm.upsert(module, data, [id_field])
            elif module in KEYED:
                results = _insert_once(crm, module, id_field, data)
            else:
                results = crm.insert(module, data)
            for (record, _), result in zip(batch, results, strict=True):
                if result.ok:
                    record.id, record.action = result.id, result.action
                    report.created[module] += result.action == "insert"
                else:
                    field_name = (result.details or {}).get("api_name")
                    record.error = f"{result.code}: {result.message}" + (f" ({field_name})" if field_name else "")
            written += len(batch)
            if progress:
                progress(module, written, len(ready))
            checkpoint(f"calls:after-{module.lower()}-write")
            # Calls whose every record is now settled are marked in the same step.
            touched = {i for record, _ in batch for i in record.calls}
            _settle(store, plan, by_call, touched, settled, report)
    _settle(store, plan, by_call, set(by_call), settled, report)


def _insert_once(crm: Any, module: str, id_field: str, data: list[dict[str, Any]]) -> list[RecordResult]:
    """Insert the records whose identity the module does not hold yet; the others are
    answered with the id already there (action "found")."""
    identities = [str(d[id_field]) for d in data]
    found: dict[str, str] = {}
    for start in range(0, len(identities), IDS_PER_QUERY):
        chunk = identities[start : start + IDS_PER_QUERY]
        quoted = ", ".join("'" + i.replace("'", "\\'") + "'" for i in chunk)
        for row in crm.query(f"select id, {id_field} from {module} where {id_field} in ({quoted}) limit 2000"):
            if str(row.get(id_field)) in chunk:  # re-check every hit
                found.setdefault(str(row[id_field]), str(row["id"]))
    missing = [d for d in data if str(d[id_field]) not in found]
    inserted = iter(crm.insert(module, missing) if missing else [])
    results = []
    for index, identity in enumerate(identities):
        if identity in found:
            results.append(RecordResult(index, True, found[identity], "found", "SUCCESS", "already in the CRM"))
        else:
            result = next(inserted)
            results.append(
                RecordResult(index, result.ok, result.id, result.action, result.code, result.message, result.details)
            )
    return results


def _settle(
    store: Store, plan: Plan, by_call: dict[str, Any], identities: set[str], settled: set[str], report: ImportReport
) -> None:
    rows = []
    for identity in sorted(identities - settled):
        step = by_call.get(identity)
        if step is None:
            continue
        needed = [plan.records[k] for k in step.needs]
        failed = [r for r in needed if r.error]
        unwritten = [r for r in needed if r.id is None and not r.error]
        if unwritten and not failed:
            continue  # a later module still has to write one of its records
        settled.add(identity)
        call = step.call
        if failed:
            report.failed += 1
            first = failed[0]
            message = f"line {call.line_number} ({call.identity}): {first.module[:-1].lower()}: {first.error}"
            report.failures.append(message)
            rows.append(_row(call, "failed", error=message))
        else:
            report.done += 1
            made = {r.module: r.id for r in needed if r.id}
            rows.append(_row(call, "done", call_id=made.get("Calls"), records=made))
    if rows:
        with store.transaction() as db:
            db.executemany(_UPSERT_CALL, rows)


# -- inputs ----------------------------------------------------------------------------------------
def load_rules(config: Any, rules_file: Any = None) -> tuple[CallRules, str]:
    """The rules from `--rules FILE`, else the profile's `[calls]`, else the defaults."""
    from crmpay.telephony.rules import load_rules_file

    if rules_file is not None:
        return load_rules_file(rules_file), f"{rules_file}: calls"
    return CallRules.model_validate(config.settings.calls or {}), f"profiles.{config.profile}.calls"


def read_source(
    config: Any,
    rules: CallRules,
    *,
    file: Any,
    fmt: str | None,
    from_service: str | None,
    since: str | None,
    until: str | None,
    tz: str | None,
) -> Any:
    """Calls from a file (`--format`) or from SipSim's API (`--from sipsim --since`)."""
    from crmpay.telephony.sources import FORMATS, read_calls

    lines = set(rules.line_numbers())
    if from_service is not None:
        if file is not None or fmt is not None:
            raise UsageError("give a FILE with --format, or --from sipsim, not both")
        if from_service != "sipsim":
            raise UsageError(f"cannot read calls from {from_service!r}", hint="use --from sipsim")
        if not since:
            raise UsageError("--from sipsim needs --since", hint="e.g. --since 2026-11-01T00:00:00+01:00")
        from crmpay.telephony.sipsim_api import open_sipsim, read_api_calls

        zone_name = tz or rules.timezone
        start, end = _when(since, zone_name, "--since"), _when(until, zone_name, "--until") if until else None
        if end is not None and end <= start:
            raise UsageError(f"--until {until!r} is not after --since {since!r}")
        return read_api_calls(open_sipsim(config), start, end, region=rules.default_region, lines=lines)
    if since or until:
        raise UsageError("--since and --until go with --from sipsim")
    if file is None:
        raise UsageError("give a call FILE with --format, or --from sipsim --since …")
    if fmt is None:
        raise UsageError("--format is required with a file", hint=f"choose one of {', '.join(FORMATS)}")
    if file.is_dir():
        raise UsageError(f"{file}: is a directory; give the call file inside it")
    if not file.is_file():
        raise UsageError(f"{file}: no such file")
    return read_calls(
        file, fmt, region=rules.default_region, tz=tz or rules.timezone, lines=lines, csv_columns=rules.csv_columns
    )


def _when(text: str, tz: str, option: str) -> Any:
    from crmpay.telephony.sources import local_time, zone

    try:
        return local_time(text, zone(tz))
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a date-time", hint="use ISO 8601, e.g. 2026-11-01T08:00:00+01:00"
        ) from None


CALL_STATUSES = ("done", "failed", "ignored")


def list_calls(store: Store, *, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    sql = (
        "SELECT identity, source, started_at, direction, caller, receiver, line, status, duration_s,"
        " crm_call_id, error, line_number, crm_records FROM calls"
    )
    args: list[Any] = []
    if status is not None and status not in CALL_STATUSES:
        raise UsageError(f"--status {status!r} is not one of: {', '.join(CALL_STATUSES)}")
    if status:
        sql += " WHERE status = ?"
        args.append(status)
    sql += " ORDER BY started_at DESC, identity"
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    cursor = store.db.execute(sql, args)
    names = [d[0] for d in cursor.description]
    items = []
    for row in cursor.fetchall():
        item = dict(zip(names, row, strict=True))
        item["crm_records"] = json.loads(item["crm_records"]) if item["crm_records"] else {}
        items.append(item)
    return items
