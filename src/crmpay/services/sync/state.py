"""What sync remembers between runs: cursors in `sync_state`, and which objects the store holds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

from crmpay.core.clock import now_iso
from crmpay.store import Store


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


Obj = TypeVar("Obj", bound=_Identified)


def get_cursor(store: Store, provider: str, resource: str) -> str | None:
    row = store.db.execute(
        "SELECT cursor FROM sync_state WHERE provider = ? AND resource = ?", (provider, resource)
    ).fetchone()
    return row[0] if row else None


def set_cursor(store: Store, provider: str, resource: str, cursor: str) -> None:
    """Inside the caller's transaction: the one that commits what the cursor covers."""
    store.db.execute(
        "INSERT INTO sync_state (provider, resource, cursor, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (provider, resource) DO UPDATE SET cursor = excluded.cursor,"
        " updated_at = excluded.updated_at",
        (provider, resource, cursor, now_iso()),
    )


def known(store: Store, table: str, provider: str, ident: str) -> bool:
    return (
        store.db.execute(f"SELECT 1 FROM {table} WHERE provider = ? AND provider_id = ?", (provider, ident)).fetchone()
        is not None
    )


def until_known(store: Store, table: str, provider: str, items: Iterable[Obj]) -> Iterator[Obj]:
    """Newest first, up to the first object the store already holds."""
    for item in items:
        if known(store, table, provider, item.id):
            return
        yield item
