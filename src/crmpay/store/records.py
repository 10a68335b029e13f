"""Writing provider objects into the store: one upsert per kind, keyed by (provider, id).

Each upsert says whether the object was new, changed or unchanged (compared on its raw
JSON), so a sync can count what it did and push only what changed.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from crmpay.core.models import BankAccount, Customer, Mandate, Payment, SetupLink
from crmpay.store import Store
from crmpay.store.migrations import now_iso


class Change(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _raw(obj: Any) -> str:
    return json.dumps(obj.raw, sort_keys=True, separators=(",", ":"), default=str)


def _upsert(store: Store, table: str, provider: str, provider_id: str,
            columns: dict[str, Any], raw: str) -> Change:
    existing = store.db.execute(
        f"SELECT raw FROM {table} WHERE provider = ? AND provider_id = ?", (provider, provider_id)
    ).fetchone()
    if existing is not None and existing[0] == raw:
        return Change.UNCHANGED
    values = {**columns, "raw": raw, "synced_at": now_iso()}
    if existing is None:
        names = ["provider", "provider_id", *values]
        store.db.execute(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            (provider, provider_id, *values.values()),
        )
        return Change.NEW
    assignments = ", ".join(f"{name} = ?" for name in values)
    store.db.execute(
        f"UPDATE {table} SET {assignments} WHERE provider = ? AND provider_id = ?",
        (*values.values(), provider, provider_id),
    )
    return Change.UPDATED


def upsert_customer(store: Store, c: Customer) -> Change:
    return _upsert(store, "customers", c.provider, c.id, {
        "email": c.email, "name": c.name, "company_name": c.company_name, "language": c.language,
        "created_at": _iso(c.created_at)}, _raw(c))


def upsert_bank_account(store: Store, b: BankAccount) -> Change:
    return _upsert(store, "bank_accounts", b.provider, b.id, {
        "customer_id": b.customer_id, "holder_name": b.holder_name,
        "account_number_ending": b.account_number_ending, "bank_name": b.bank_name,
        "country_code": b.country_code, "currency": b.currency, "enabled": int(b.enabled),
        "created_at": _iso(b.created_at)}, _raw(b))


def upsert_mandate(store: Store, m: Mandate) -> Change:
    return _upsert(store, "mandates", m.provider, m.id, {
        "customer_id": m.customer_id, "bank_account_id": m.bank_account_id, "status": m.status,
        "state": m.state.value, "scheme": m.scheme, "reference": m.reference,
        "currency": m.currency, "next_possible_charge_date": _iso(m.next_possible_charge_date),
        "signature_date": _iso(m.signature_date), "created_at": _iso(m.created_at)}, _raw(m))


def upsert_payment(store: Store, p: Payment) -> Change:
    return _upsert(store, "payments", p.provider, p.id, {
        "mandate_id": p.mandate_id, "customer_id": p.customer_id,
        "amount_minor": p.amount.minor, "currency": p.amount.currency, "status": p.status,
        "state": p.state.value, "charge_date": _iso(p.charge_date), "description": p.description,
        "reference": p.reference, "invoice_number": p.metadata.get("invoice"),
        "created_at": _iso(p.created_at)}, _raw(p))


def insert_setup_link(store: Store, link: SetupLink, invoice_number: str | None) -> None:
    store.db.execute(
        "INSERT OR REPLACE INTO setup_links (provider, provider_id, customer_id, invoice_number,"
        " url, status, expires_at, created_at, raw) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
        (link.provider, link.id, link.customer_id, invoice_number, link.url,
         _iso(link.expires_at), now_iso(), _raw(link)),
    )
