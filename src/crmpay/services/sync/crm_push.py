"""Pushing the store to the CRM: customers to Contacts, mandates and payments to the
modules the profile maps, only what changed since its last push.

Each record's content hash is kept in `crm_links` once the CRM accepted it; a record the
CRM refused keeps its old hash and its error, so the next run sends it again. Writes go
in batches of 100 (the client's), read back record by record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from crmpay.core.clock import now_iso
from crmpay.core.money import Money
from crmpay.store import Store

CHUNK = 500


@dataclass
class PushReport:
    pushed: dict[tuple[str, str], int] = field(default_factory=dict)  # (provider, resource) -> n
    failed: dict[tuple[str, str], int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def count(self, table: dict[tuple[str, str], int], provider: str, resource: str) -> None:
        table[(provider, resource)] = table.get((provider, resource), 0) + 1


def _hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def _contact(row: Any) -> dict[str, Any] | None:
    if not row["email"]:
        return None
    name = (row["name"] or row["company_name"] or row["email"]).strip()
    first, _, last = name.rpartition(" ")
    return {"Last_Name": last or name, "First_Name": first or None, "Email": row["email"]}


def _mandate(row: Any) -> dict[str, Any]:
    return {
        "Name": f"{row['provider']} {row['provider_id']}",
        "Provider": row["provider"],
        "Status": row["status"],
        "Reference": row["reference"],
        "Email": row["email"],
    }


def _payment(row: Any) -> dict[str, Any]:
    money = Money.from_minor(row["amount_minor"], row["currency"])
    return {
        "Name": f"{row['provider']} {row['provider_id']}",
        "Provider": row["provider"],
        "Status": row["status"],
        "Amount": money.decimal_string(),
        "Currency": row["currency"],
        "Charge_Date": row["charge_date"],
        "Mandate": row["mandate_id"],
        "Email": row["email"],
    }


SOURCES = {
    "customers": ("SELECT c.*, c.email AS email FROM customers c", _contact, "customer"),
    "mandates": (
        "SELECT m.*, c.email AS email FROM mandates m LEFT JOIN customers c"
        " ON c.provider = m.provider AND c.provider_id = m.customer_id",
        _mandate,
        "mandate",
    ),
    "payments": (
        "SELECT p.*, c.email AS email FROM payments p LEFT JOIN customers c"
        " ON c.provider = p.provider AND c.provider_id = p.customer_id",
        _payment,
        "payment",
    ),
}


def _changed(
    store: Store, resource: str, module: str, only: Collection[tuple[str, str]] | None = None
) -> Iterator[tuple[Any, dict[str, Any], str]]:
    """(row, CRM record, hash) for every object whose record differs from its last push;
    with `only`, among those (provider, id) keys alone (the webhook receiver's few)."""
    sql, build, kind = SOURCES[resource]
    alias = sql.split(" FROM ")[1].split()[1]
    where, args = "", []
    if only is not None:
        if not only:
            return
        where = f" WHERE ({alias}.provider, {alias}.provider_id) IN (VALUES {','.join(['(?, ?)'] * len(only))})"
        args = [part for key in sorted(only) for part in key]
    query = (
        f"{sql} LEFT JOIN crm_links l ON l.kind = ? AND l.crm_module = ? AND"
        f" l.local_key = {alias}.provider || ':' || {alias}.provider_id{where}"
        f" ORDER BY {alias}.provider, {alias}.provider_id"
    )
    select = query.replace("SELECT ", "SELECT l.pushed_hash AS pushed_hash, ", 1)
    for row in store.db.execute(select, (kind, module, *args)):
        record = build(row)
        if record is None:
            continue
        digest = _hash(record)
        if digest != row["pushed_hash"]:
            yield row, record, digest


def push(
    store: Store,
    crm: Any,
    mapping: Any,
    *,
    dry_run: bool = False,
    only: Mapping[str, Collection[tuple[str, str]]] | None = None,
) -> PushReport:
    """Push what changed since its last push; `only` limits each resource to those
    (provider, id) keys (a resource it leaves out is not pushed)."""
    report = PushReport()
    plan = (
        ("customers", mapping.contacts_module, ["Email"]),
        ("mandates", mapping.mandates_module, ["Name"]),
        ("payments", mapping.payments_module, ["Name"]),
    )
    for resource, module, keys in plan:
        kind = SOURCES[resource][2]
        keys_only = None if only is None else only.get(resource, ())
        batch: list[tuple[Any, dict[str, Any], str]] = []
        if dry_run:
            for row, _, _ in _changed(store, resource, module, keys_only):
                report.count(report.pushed, row["provider"], resource)
            continue
        for item in _changed(store, resource, module, keys_only):
            batch.append(item)
            if len(batch) == CHUNK:
                _send(store, crm, module, keys, kind, resource, batch, report)
                batch = []
        if batch:
            _send(store, crm, module, keys, kind, resource, batch, report)
    return report


def _send(
    store: Store,
    crm: Any,
    module: str,
    keys: list[str],
    kind: str,
    resource: str,
    batch: list[tuple[Any, dict[str, Any], str]],
    report: PushReport,
) -> None:
    results = crm.upsert(module, [record for _, record, _ in batch], keys)
    with store.transaction():
        for (row, _record, digest), result in zip(batch, results, strict=True):
            key = f"{row['provider']}:{row['provider_id']}"
            if result.ok:
                store.db.execute(
                    "INSERT INTO crm_links (kind, local_key, crm_module, crm_id, pushed_hash, pushed_at, last_error)"
                    " VALUES (?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (kind, local_key, crm_module) DO UPDATE SET"
                    " crm_id = excluded.crm_id, pushed_hash = excluded.pushed_hash,"
                    " pushed_at = excluded.pushed_at, last_error = NULL",
                    (kind, key, module, result.id, digest, now_iso()),
                )
                report.count(report.pushed, row["provider"], resource)
            else:
                message = f"{result.code}: {result.message}"
                store.db.execute(
                    "INSERT INTO crm_links (kind, local_key, crm_module, last_error) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (kind, local_key, crm_module) DO UPDATE SET last_error = excluded.last_error",
                    (kind, key, module, message),
                )
                report.count(report.failed, row["provider"], resource)
                report.failures.append(f"{resource} {key} -> {module}: {message}")
        store.audit("zoho", "upsert", module, None, detail={"records": len(batch)})
