"""The local record store: one SQLite database per profile.

WAL mode, foreign keys on, file mode 0600, schema moved forward by the named steps of
`crmpay.store.migrations`. One unit of work = one transaction (`with store.transaction()`).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from crmpay.core.clock import now_iso
from crmpay.core.errors import StoreError
from crmpay.store.migrations import MIGRATIONS


def filters(*conditions: tuple[str, Any], limit: int | None = None, order: str = "") -> tuple[str, list[Any]]:
    """` AND clause …` for every (clause, value) whose value is given, then ORDER and LIMIT.

    A clause with several `?` takes its value once per placeholder.
    """
    sql, args = "", []
    for clause, value in conditions:
        if value:
            sql += f" AND {clause}"
            args += [value] * clause.count("?")
    if order:
        sql += f" ORDER BY {order}"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(min(limit, _SQLITE_MAX_INT))  # a limit past SQLite's integers means all
    return sql, args


_SQLITE_MAX_INT = 2**63 - 1


_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL
)
"""


def _check_file(path: Path, known: object) -> bool:
    """Whether a store exists at `path` (non-empty); StoreError when the marker says one
    existed and it is missing or empty, or when it cannot be read and written."""
    from crmpay.store import marker

    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = -1
    except OSError as exc:
        raise StoreError(f"cannot read the store {path}: {exc.strerror}") from None
    if isinstance(known, marker.Identity) and size <= 0:
        raise marker.refuse_missing(path, known, "missing" if size < 0 else "empty (0 bytes)")
    if size >= 0 and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(
            f"the store {path} is read-only or unreadable (permission denied)",
            hint="give your user read and write access to it (chmod u+rw)",
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StoreError(
            f"the folder {path.parent} of the store is read-only (permission denied)",
            hint="SQLite writes its journal beside the store: give your user write access to the folder",
        )
    return size > 0


@cache
def _expected_tables() -> frozenset[str]:
    """The tables the migrations create, read from a scratch in-memory database."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    try:
        db.execute(_MIGRATIONS_TABLE)
        for _, step in MIGRATIONS:
            step(db)
        return frozenset(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'"))
    finally:
        db.close()


class Store:
    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path, *, migrate: bool = True, upto: int | None = None) -> Store:
        """Open (creating if needed) the database at `path` and bring it to head.

        `upto` stops after that many migrations (tests build old databases with it). A
        store that the marker beside it says existed, and that is missing, empty or
        another database, is refused (`crmpay.store.marker`).
        """
        from crmpay.store import marker

        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"cannot create the folder {path.parent}: {exc.strerror}") from None
        known = marker.read_marker(path)
        existed = _check_file(path, known)
        old_umask = os.umask(0o077)  # the -wal and -shm files get 0600 too
        try:
            if not path.exists():
                try:
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
                except OSError as exc:
                    raise StoreError(f"cannot create the store {path}: {exc.strerror}") from None
            try:
                db = sqlite3.connect(path, isolation_level=None, timeout=30)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the store {path}: {exc}") from None
            store = cls(db, path)
            try:
                if existed:
                    store._check_is_ours()  # before WAL mode changes the file's header
                store._configure()
                if migrate:
                    store.migrate(upto=upto)
                    with store.transaction():
                        identity = marker.settle(path, db, known)
                    if known is None:
                        marker.write_marker(path, identity)
                    if existed and upto is None:
                        store._check_tables()
            except sqlite3.DatabaseError as exc:
                db.close()
                raise StoreError(
                    f"the store {path} is not a usable SQLite database ({exc})",
                    hint="restore it from a backup or move it aside; nothing was overwritten",
                ) from None
            except StoreError:
                db.close()
                raise
            return store
        finally:
            os.umask(old_umask)

    def _check_is_ours(self) -> None:
        """A database with tables but no migration record is another program's."""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "schema_migrations" not in tables:
            raise StoreError(
                f"{self.path} is an SQLite database, but not a crmpay store (tables: {', '.join(sorted(tables)[:5])})",
                hint="restore the store from a backup or move this file aside; nothing was changed",
            )

    def _check_tables(self) -> None:
        """Every table the migrations create is there (a damaged store is refused whole)."""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = sorted(_expected_tables() - tables)
        if missing:
            raise StoreError(
                f"the store {self.path} is damaged: table {', '.join(missing)} is missing",
                hint="restore it from a backup; nothing was changed",
            )

    def _configure(self) -> None:
        self.db.row_factory = sqlite3.Row
        # Reading the schema first makes a corrupt file fail before anything is written.
        self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute("PRAGMA synchronous=NORMAL")

    # -- migrations ---------------------------------------------------------------------------
    def applied_migrations(self) -> list[str]:
        exists = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
        ).fetchone()
        if not exists:
            return []
        return [r[0] for r in self.db.execute("SELECT name FROM schema_migrations ORDER BY rowid")]

    def migrate(self, *, upto: int | None = None) -> list[str]:
        """Apply every pending step, each in its own transaction; the names applied."""
        known = [name for name, _ in MIGRATIONS]
        applied = self.applied_migrations()
        unknown = [name for name in applied if name not in known]
        if unknown:
            raise StoreError(
                f"the store {self.path} was written by a newer crmpay (migration {unknown[0]})",
                hint="upgrade crmpay; nothing was changed",
            )
        done: list[str] = []
        steps = MIGRATIONS if upto is None else MIGRATIONS[:upto]
        for name, step in steps:
            if name in applied:
                continue
            with self.transaction():
                self.db.execute(_MIGRATIONS_TABLE)
                step(self.db)
                self.db.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, now_iso()),
                )
            done.append(name)
        return done

    # -- transactions ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self, *, rollback: bool = False) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception.

        `rollback=True` rolls back even on success: a dry run does the real work and
        keeps none of it.
        """
        if self.db.in_transaction:  # nested: join the outer unit of work
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("ROLLBACK" if rollback else "COMMIT")

    def audit(
        self,
        service: str,
        action: str,
        object_type: str,
        object_id: str | None,
        *,
        idempotency_key: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record a change crmpay made at a provider or in the CRM (no secrets in `detail`)."""
        self.db.execute(
            "INSERT INTO audit_log (at, service, action, object_type, object_id,"
            " idempotency_key, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                now_iso(),
                service,
                action,
                object_type,
                object_id,
                idempotency_key,
                json.dumps(detail, sort_keys=True, default=str) if detail else None,
            ),
        )

    def counts(self) -> dict[str, int]:
        tables = ("customers", "bank_accounts", "mandates", "payments", "invoices", "calls")
        return {t: self.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
