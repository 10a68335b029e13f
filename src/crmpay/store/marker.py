"""The store's identity, kept twice: in the database and in a marker file beside it.

A store that vanished, was emptied (a zero-byte file) or was replaced by another
database is noticed when the marker (`crmpay.sqlite3.id`, written when the store is
created) names a store the database is not. Starting again from an empty store would
restart invoice numbers: a legal numbering break, so it is never done silently; the
user restores the file from a backup or, to start afresh on purpose, deletes the marker.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from crmpay.core.clock import now_iso
from crmpay.core.errors import StoreError

_TABLE = "CREATE TABLE IF NOT EXISTS store_identity (id TEXT NOT NULL, created_at TEXT NOT NULL)"


@dataclass(frozen=True)
class Identity:
    id: str
    created_at: str


def marker_path(database: Path) -> Path:
    return database.with_name(database.name + ".id")


def read_marker(database: Path) -> Identity | None:
    """The identity the marker names; None when there is no marker."""
    path = marker_path(database)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Identity(str(data["id"]), str(data["created_at"]))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise StoreError(
            f"{path} is not a crmpay store marker",
            hint=f"restore it from a backup, or delete it to adopt {database.name} as it is",
        ) from None


def write_marker(database: Path, identity: Identity) -> None:
    path = marker_path(database)
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"id": identity.id, "created_at": identity.created_at, "database": database.name}, fh)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror}") from None


def refuse_missing(database: Path, identity: Identity, what: str) -> StoreError:
    """The error for a store that the marker says existed and is now `what` (missing, empty)."""
    marker = marker_path(database)
    return StoreError(
        f"the store {database} is {what}, but {marker.name} says store {identity.id} "
        f"(created {identity.created_at}) lives there; nothing was created",
        hint=(
            f"restore {database.name} from a backup; to start a new, empty store on purpose "
            f"(invoice numbers restart), delete {marker}"
        ),
    )


def database_identity(db: sqlite3.Connection) -> Identity | None:
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='store_identity'").fetchone()
    if not exists:
        return None
    row = db.execute("SELECT id, created_at FROM store_identity LIMIT 1").fetchone()
    return Identity(str(row[0]), str(row[1])) if row else None


def stamp(db: sqlite3.Connection, identity: Identity) -> None:
    """Record `identity` in the database (the caller holds a transaction)."""
    db.execute(_TABLE)
    db.execute("DELETE FROM store_identity")
    db.execute("INSERT INTO store_identity (id, created_at) VALUES (?, ?)", (identity.id, identity.created_at))


def new_identity() -> Identity:
    return Identity(uuid.uuid4().hex, now_iso())


def settle(database: Path, db: sqlite3.Connection, marker: Identity | None) -> Identity:
    """The store's identity, checked against the marker and recorded in the database when
    it lacks one (a store from before markers, or a backup of one). The caller holds a
    write transaction, so two first runs agree on one identity. StoreError when the
    database is another store than the marker names."""
    found = database_identity(db)
    if found is None:
        found = marker or new_identity()
        stamp(db, found)
    elif marker is not None and found.id != marker.id:
        raise StoreError(
            f"the store {database} is store {found.id}, but {marker_path(database).name} says store "
            f"{marker.id} (created {marker.created_at}) lives there: another profile's store or a wrong backup",
            hint=f"put the right file back, or delete {marker_path(database)} to adopt this one",
        )
    return found
