"""Writing provider objects into the store: one upsert per kind, keyed by (provider, id).

Each upsert says whether the object was new, changed or unchanged (compared on its raw
JSON), so a sync can count what it did and push only what changed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

import orjson

from crmpay.core.clock import now_iso
from crmpay.core.models import BankAccount, Customer, Mandate, Payment, SetupLink
from crmpay.store import Store


class Change(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _raw(obj: Any) -> str:
    """The provider's JSON, keys sorted, so equal objects give equal text (orjson: ~2 µs, not ~20)."""
    return orjson.dumps(obj.raw, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _customer_columns(c: Customer) -> tuple[Any, ...]:
    return c.email, c.name, c.company_name, c.language, _iso(c.created_at)


def _bank_account_columns(b: BankAccount) -> tuple[Any, ...]:
    return (
        b.customer_id,
        b.holder_name,
        b.account_number_ending,
        b.bank_name,
        b.country_code,
        b.currency,
        int(b.enabled),
        _iso(b.created_at),
    )


def _mandate_columns(m: Mandate) -> tuple[Any, ...]:
    return (
        m.customer_id,
        m.bank_account_id,
        m.status,
        m.state.value,
        m.scheme,
        m.reference,
        m.currency,
        _iso(m.next_possible_charge_date),
        _iso(m.signature_date),
        _iso(m.created_at),
    )


def _payment_columns(p: Payment) -> tuple[Any, ...]:
    return (
        p.mandate_id,
        p.customer_id,
        p.amount.minor,
        p.amount.currency,
        p.status,
        p.state.value,
        _iso(p.charge_date),
        p.description,
        p.reference,
        p.metadata.get("invoice"),
        _iso(p.created_at),
    )


@dataclass(frozen=True)
class Kind:
    """Where one model lives in the store: its table, and the columns beside the raw JSON."""

    name: str  # the table, and the resource a sync reports
    columns: tuple[str, ...]
    values: Callable[[Any], tuple[Any, ...]]  # the model's values for `columns`, in order
    keep: tuple[str, ...] = ()  # columns a provider may not know: a NULL never erases what the store holds

    def upsert(self, store: Store, rows: list[tuple[Any, ...]]) -> None:
        """Insert the rows, or update those whose raw JSON changed: one statement per 500 rows
        (one step for SQLite, where `executemany` would run one per row)."""
        width = len(self.columns) + 4  # provider, provider_id, ..., raw, synced_at
        size = max(1, min(500, store.db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            store.db.execute(
                _upsert_sql(self.name, self.columns, len(chunk), self.keep), [value for row in chunk for value in row]
            )


@lru_cache(maxsize=64)
def _upsert_sql(table: str, columns: tuple[str, ...], rows: int, keep: tuple[str, ...] = ()) -> str:
    names = ("provider", "provider_id", *columns, "raw", "synced_at")
    row = f"({', '.join('?' * len(names))})"
    updates = ", ".join(
        f"{n} = coalesce(excluded.{n}, {table}.{n})" if n in keep else f"{n} = excluded.{n}" for n in names[2:]
    )
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES {', '.join([row] * rows)}"
        f" ON CONFLICT (provider, provider_id) DO UPDATE SET {updates} WHERE {table}.raw IS NOT excluded.raw"
    )


KINDS: dict[type, Kind] = {
    Customer: Kind("customers", ("email", "name", "company_name", "language", "created_at"), _customer_columns),
    BankAccount: Kind(
        "bank_accounts",
        (
            "customer_id",
            "holder_name",
            "account_number_ending",
            "bank_name",
            "country_code",
            "currency",
            "enabled",
            "created_at",
        ),
        _bank_account_columns,
    ),
    Mandate: Kind(
        "mandates",
        (
            "customer_id",
            "bank_account_id",
            "status",
            "state",
            "scheme",
            "reference",
            "currency",
            "next_possible_charge_date",
            "signature_date",
            "created_at",
        ),
        _mandate_columns,
        keep=("signature_date", "reference"),  # GoCardless reports no signature date; an import knows it
    ),
    Payment: Kind(
        "payments",
        (
            "mandate_id",
            "customer_id",
            "amount_minor",
            "currency",
            "status",
            "state",
            "charge_date",
            "description",
            "reference",
            "invoice_number",
            "created_at",
        ),
        _payment_columns,
    ),
}


def _known(store: Store, table: str, provider: str, ids: list[str]) -> dict[str, str]:
    """provider_id -> raw JSON of the rows the store already holds, 900 ids a query."""
    known: dict[str, str] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        known.update(
            store.db.execute(
                f"SELECT provider_id, raw FROM {table} WHERE provider = ? AND provider_id IN"
                f" ({', '.join('?' * len(chunk))})",
                (provider, *chunk),
            ).fetchall()
        )
    return known


def upsert_batch(store: Store, objects: list[Any]) -> list[Change]:
    """Upsert provider objects of any kinds; each one's Change, in the order given.

    One SELECT per kind reads what the store holds, one INSERT writes what is new or
    changed: a page of 500 payments costs two statements, not a thousand.
    """
    changes: list[Change] = [Change.UNCHANGED] * len(objects)
    synced_at = now_iso()
    groups: dict[tuple[type, str], dict[str, int]] = {}  # an object listed twice: its last version wins
    for index, obj in enumerate(objects):
        groups.setdefault((type(obj), obj.provider), {})[obj.id] = index
    for (model, provider), latest in groups.items():
        kind = KINDS[model]
        known = _known(store, kind.name, provider, list(latest))
        rows: list[tuple[Any, ...]] = []
        for ident, index in latest.items():
            obj = objects[index]
            raw = _raw(obj)
            before = known.get(ident)
            if before != raw:
                rows.append((provider, ident, *kind.values(obj), raw, synced_at))
                changes[index] = Change.NEW if before is None else Change.UPDATED
        kind.upsert(store, rows)
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
        (
            link.provider,
            link.id,
            link.customer_id,
            invoice_number,
            link.url,
            _iso(link.expires_at),
            now_iso(),
            _raw(link),
        ),
    )
