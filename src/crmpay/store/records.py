"""Writing provider objects into the store: one upsert per kind, keyed by (provider, id).

Each upsert says whether the object was new, changed or unchanged (compared on its raw
JSON), so a sync can count what it did and push only what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

import orjson

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
    """The provider's JSON, keys sorted, so equal objects give equal text (orjson: ~2 µs, not ~20)."""
    return orjson.dumps(obj.raw, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _customer_columns(c: Customer) -> dict[str, Any]:
    return {"email": c.email, "name": c.name, "company_name": c.company_name, "language": c.language,
            "created_at": _iso(c.created_at)}


def _bank_account_columns(b: BankAccount) -> dict[str, Any]:
    return {"customer_id": b.customer_id, "holder_name": b.holder_name,
            "account_number_ending": b.account_number_ending, "bank_name": b.bank_name,
            "country_code": b.country_code, "currency": b.currency, "enabled": int(b.enabled),
            "created_at": _iso(b.created_at)}


def _mandate_columns(m: Mandate) -> dict[str, Any]:
    return {"customer_id": m.customer_id, "bank_account_id": m.bank_account_id, "status": m.status,
            "state": m.state.value, "scheme": m.scheme, "reference": m.reference,
            "currency": m.currency, "next_possible_charge_date": _iso(m.next_possible_charge_date),
            "signature_date": _iso(m.signature_date), "created_at": _iso(m.created_at)}


def _payment_columns(p: Payment) -> dict[str, Any]:
    return {"mandate_id": p.mandate_id, "customer_id": p.customer_id,
            "amount_minor": p.amount.minor, "currency": p.amount.currency, "status": p.status,
            "state": p.state.value, "charge_date": _iso(p.charge_date), "description": p.description,
            "reference": p.reference, "invoice_number": p.metadata.get("invoice"),
            "created_at": _iso(p.created_at)}


KINDS: dict[type, tuple[str, Callable[[Any], dict[str, Any]]]] = {
    Customer: ("customers", _customer_columns), BankAccount: ("bank_accounts", _bank_account_columns),
    Mandate: ("mandates", _mandate_columns), Payment: ("payments", _payment_columns),
}


@lru_cache(maxsize=None)
def _upsert_sql(table: str, names: tuple[str, ...]) -> str:
    """One statement that inserts, or updates a row whose raw JSON changed."""
    columns = ("provider", "provider_id", *names)
    updates = ", ".join(f"{n} = excluded.{n}" for n in names)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            f" ON CONFLICT (provider, provider_id) DO UPDATE SET {updates} WHERE {table}.raw IS NOT excluded.raw")


def upsert_batch(store: Store, objects: list[Any]) -> list[Change]:
    """Upsert provider objects of any kinds; each one's Change, in the order given.

    One SELECT per kind reads what the store holds, one `executemany` writes what is new
    or changed: a page of 500 payments costs two statements, not a thousand.
    """
    changes: list[Change] = [Change.UNCHANGED] * len(objects)
    synced_at = now_iso()
    by_kind: dict[type, list[int]] = {}
    for index, obj in enumerate(objects):
        by_kind.setdefault(type(obj), []).append(index)
    for kind, indexes in by_kind.items():
        table, columns = KINDS[kind]
        latest: dict[tuple[str, str], int] = {}  # an object listed twice: its last version wins
        for index in indexes:
            latest[(objects[index].provider, objects[index].id)] = index
        known: dict[tuple[str, str], str] = {}
        for provider in {p for p, _ in latest}:
            ids = [i for p, i in latest if p == provider]
            for start in range(0, len(ids), 900):
                chunk = ids[start:start + 900]
                known.update(((provider, row[0]), row[1]) for row in store.db.execute(
                    f"SELECT provider_id, raw FROM {table} WHERE provider = ? AND provider_id IN"
                    f" ({', '.join('?' * len(chunk))})", (provider, *chunk)))
        rows: list[tuple[Any, ...]] = []
        names: tuple[str, ...] = ()
        for key, index in latest.items():
            obj = objects[index]
            raw = _raw(obj)
            before = known.get(key)
            if before == raw:
                continue
            values = columns(obj)
            names = (*values, "raw", "synced_at")
            rows.append((obj.provider, obj.id, *values.values(), raw, synced_at))
            changes[index] = Change.NEW if before is None else Change.UPDATED
        if rows:
            store.db.executemany(_upsert_sql(table, names), rows)
    return changes


def upsert_customer(store: Store, c: Customer) -> Change:
    return upsert_batch(store, [c])[0]


def upsert_bank_account(store: Store, b: BankAccount) -> Change:
    return upsert_batch(store, [b])[0]


def upsert_mandate(store: Store, m: Mandate) -> Change:
    return upsert_batch(store, [m])[0]


def upsert_payment(store: Store, p: Payment) -> Change:
    return upsert_batch(store, [p])[0]


def insert_setup_link(store: Store, link: SetupLink, invoice_number: str | None) -> None:
    store.db.execute(
        "INSERT OR REPLACE INTO setup_links (provider, provider_id, customer_id, invoice_number,"
        " url, status, expires_at, created_at, raw) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
        (link.provider, link.id, link.customer_id, invoice_number, link.url,
         _iso(link.expires_at), now_iso(), _raw(link)),
    )
