"""The store: migrations recorded once, upgrades keep every row, bad files left alone."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat

import pytest

from crmpay.core.errors import ExitCode, StoreError
from crmpay.store import Store
from crmpay.store.migrations import MIGRATIONS

ROWS = {
    "customers": "INSERT INTO customers VALUES ('gocardless','CU1','a@b.fr','Ann',NULL,'fr',"
    "'2026-01-01T00:00:00Z','{\"id\":\"CU1\"}','2026-01-02T00:00:00Z')",
    "bank_accounts": "INSERT INTO bank_accounts VALUES ('gocardless','BA1','CU1','Ann','06',"
    "'BNP',  'FR','EUR',1,NULL,'{}','2026-01-02T00:00:00Z')",
    "mandates": "INSERT INTO mandates VALUES ('gocardless','MD1','CU1','BA1','active','active',"
    "'sepa_core','REF-1','EUR','2026-01-09','2025-12-01',NULL,NULL,'{}','2026-01-02T00:00:00Z')",
    "payments": "INSERT INTO payments VALUES ('gocardless','PM1','MD1','CU1',4990,'EUR',"
    "'pending_submission','pending','2026-01-09','Invoice','INV-1','INV-1',NULL,'{}','x')",
    "invoices": "INSERT INTO invoices (id, number, customer_email, currency, issue_date, due_date,"
    " created_at, updated_at) VALUES (1,'INV-1','a@b.fr','EUR','2026-01-01','2026-01-31','x','x')",
    "invoice_lines": "INSERT INTO invoice_lines VALUES (1,1,'Service','1','41.58','20')",
    "intents": "INSERT INTO intents (key, kind, provider, subject, request, created_at, updated_at)"
    " VALUES ('k1','payment','gocardless','INV-1','{}','x','x')",
    "processed_events": "INSERT INTO processed_events VALUES ('gocardless','EV1','x')",
    "sync_state": "INSERT INTO sync_state VALUES ('gocardless','events','EV1','x')",
    "crm_links": "INSERT INTO crm_links VALUES ('customer','gocardless:CU1','Contacts','z1','h',NULL,NULL)",
    "calls": "INSERT INTO calls VALUES ('id1','asterisk','2026-01-01T10:00:00Z','inbound',"
    "'+33100000000','+33200000000','+33200000000','answered',42,'{}',NULL,'x')",
    "audit_log": "INSERT INTO audit_log (at, service, action, object_type) VALUES"
    " ('x','gocardless','create','payment')",
}


def _dump(path) -> dict[str, list[dict]]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return {t: [dict(r) for r in db.execute(f"SELECT * FROM {t} ORDER BY 1")] for t in ROWS}
    finally:
        db.close()


def test_first_open_applies_every_migration_once(tmp_path):
    path = tmp_path / "crmpay.sqlite3"
    with Store.open(path) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
    with Store.open(path) as store:
        assert store.migrate() == []  # nothing left to apply


def test_upgrade_from_migration_1_keeps_every_row(tmp_path):
    assert len(MIGRATIONS) >= 2, "this test needs a later migration to upgrade to"
    path = tmp_path / "crmpay.sqlite3"
    with Store.open(path, upto=1) as store:
        assert store.applied_migrations() == ["m001_initial"]
        with store.transaction() as db:
            for sql in ROWS.values():
                db.execute(sql)
    before = _dump(path)
    assert all(before[t] for t in ROWS), "every table holds a row before the upgrade"

    with Store.open(path) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
        tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
        assert {"setup_links", "invoice_sequences", "manual_payments"} <= tables
    after = _dump(path)
    for table, rows in before.items():
        # every value kept; columns added by later migrations are NULL on old rows
        assert [{k: r[k] for k in rows[0]} for r in after[table]] == rows, table
        added = {k for r in after[table] for k in r} - set(rows[0])
        assert all(r[k] is None for r in after[table] for k in added), table


def test_database_files_are_private_wal_and_foreign_keys_on(tmp_path):
    path = tmp_path / "p" / "crmpay.sqlite3"
    with Store.open(path) as store:
        with store.transaction() as db:
            db.execute(ROWS["sync_state"])
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        for name in os.listdir(path.parent):
            mode = stat.S_IMODE(os.stat(path.parent / name).st_mode)
            assert mode == 0o600, (name, oct(mode))


def test_transaction_rolls_back_on_error(tmp_path):
    with Store.open(tmp_path / "db.sqlite3") as store:
        with pytest.raises(RuntimeError):
            with store.transaction() as db:
                db.execute(ROWS["sync_state"])
                raise RuntimeError("boom")
        assert store.db.execute("SELECT count(*) FROM sync_state").fetchone()[0] == 0


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_corrupt_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "crmpay.sqlite3"
    path.write_bytes(b"this is not a database, just some bytes " * 200)
    digest = _digest(path)
    with pytest.raises(StoreError) as err:
        Store.open(path)
    assert err.value.exit_code == ExitCode.USAGE
    assert "not a usable SQLite database" in str(err.value)
    assert _digest(path) == digest


def test_database_from_a_newer_crmpay_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "crmpay.sqlite3"
    with Store.open(path) as store:
        with store.transaction() as db:
            db.execute("INSERT INTO schema_migrations VALUES ('m999_future', 'x')")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    digest = _digest(path)
    with pytest.raises(StoreError, match="newer crmpay .*m999_future"):
        Store.open(path)
    assert _digest(path) == digest


def test_audit_log_records_changes(tmp_path):
    with Store.open(tmp_path / "db.sqlite3") as store:
        with store.transaction():
            store.audit("gocardless", "create", "payment", "PM1", idempotency_key="k", detail={"amount_minor": 4990})
        row = store.db.execute("SELECT service, action, object_id, detail FROM audit_log").fetchone()
        assert tuple(row) == ("gocardless", "create", "PM1", '{"amount_minor": 4990}')
