"""The store's marker: a store that vanished, was emptied or replaced is refused, never
silently replaced by a new empty one (invoice numbers would restart)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crmpay.core.errors import ExitCode, StoreError
from crmpay.store import Store
from crmpay.store.marker import marker_path


def _identity(path) -> str:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT id FROM store_identity").fetchone()[0]
    finally:
        db.close()


def _made(tmp_path):
    path = tmp_path / "p" / "crmpay.sqlite3"
    with Store.open(path) as store:
        with store.transaction() as db:
            db.execute("INSERT INTO sync_state VALUES ('gocardless','events','EV1','x')")
    return path


def test_a_new_store_writes_its_identity_in_the_database_and_a_private_marker(tmp_path):
    path = _made(tmp_path)
    marker = marker_path(path)
    data = json.loads(marker.read_text())
    assert data["id"] == _identity(path) and len(data["id"]) == 32
    assert stat.S_IMODE(os.stat(marker).st_mode) == 0o600
    with Store.open(path):  # opened again: same identity, marker unchanged
        pass
    assert json.loads(marker.read_text()) == data


@pytest.mark.parametrize("damage", ["emptied", "deleted"])
def test_a_store_emptied_or_deleted_is_refused_with_how_to_restore(tmp_path, damage):
    path = _made(tmp_path)
    for extra in path.parent.glob("crmpay.sqlite3-*"):
        extra.unlink()
    if damage == "emptied":
        path.write_bytes(b"")
    else:
        path.unlink()
    with pytest.raises(StoreError) as err:
        Store.open(path)
    assert err.value.exit_code == ExitCode.USAGE
    message = str(err.value)
    assert ("empty (0 bytes)" if damage == "emptied" else "missing") in message
    assert "from a backup" in message and str(marker_path(path)) in message
    # nothing was created in its place
    assert (path.stat().st_size == 0) if damage == "emptied" else not path.exists()


def test_a_backup_put_back_is_accepted_and_deleting_the_marker_starts_afresh_on_purpose(tmp_path):
    path = _made(tmp_path)
    with Store.open(path) as store:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(path, backup)
    path.write_bytes(b"")
    with pytest.raises(StoreError):
        Store.open(path)
    shutil.copy(backup, path)  # restored from the backup
    with Store.open(path) as store:
        assert store.db.execute("SELECT count(*) FROM sync_state").fetchone()[0] == 1
    old = _identity(path)
    path.write_bytes(b"")
    marker_path(path).unlink()  # the documented, deliberate fresh start
    with Store.open(path) as store:
        assert store.db.execute("SELECT count(*) FROM sync_state").fetchone()[0] == 0
    assert _identity(path) != old


def test_another_store_put_in_its_place_is_refused(tmp_path):
    path = _made(tmp_path)
    other = _made(tmp_path / "other")
    with Store.open(other) as store:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for extra in path.parent.glob("crmpay.sqlite3-*"):
        extra.unlink()
    shutil.copy(other, path)
    with pytest.raises(StoreError, match="wrong backup"):
        Store.open(path)


def test_a_foreign_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / "crmpay.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a crmpay store"):
        Store.open(path)
    assert path.read_bytes() == before
    assert not marker_path(path).exists()


def test_a_store_missing_a_table_is_refused(tmp_path):
    path = _made(tmp_path)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE calls")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="damaged: table calls is missing") as err:
        Store.open(path)
    assert err.value.exit_code == ExitCode.USAGE


def test_a_store_from_before_markers_is_adopted(tmp_path):
    path = _made(tmp_path)
    marker_path(path).unlink()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE store_identity")
    db.commit()
    db.close()
    with Store.open(path) as store:
        assert store.db.execute("SELECT count(*) FROM sync_state").fetchone()[0] == 1
    assert json.loads(marker_path(path).read_text())["id"] == _identity(path)


@contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """`path` cannot be written by this process: mode 0400, and for root (who writes any
    file) the immutable attribute as well. Skipped where neither can be had."""
    import subprocess

    mode, writable = (0o500, 0o700) if path.is_dir() else (0o400, 0o600)
    os.chmod(path, mode)
    immutable = os.geteuid() == 0
    if immutable and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        os.chmod(path, writable)
        pytest.skip("root writes a read-only file and chattr +i is not available here")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        os.chmod(path, writable)


def test_a_read_only_store_is_a_one_line_usage_error(tmp_path):
    path = _made(tmp_path)
    with _read_only(path):
        with pytest.raises(OSError):
            path.open("ab").close()  # truly read-only for this process
        with pytest.raises(StoreError, match="read-only") as err:
            Store.open(path)
        assert err.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("what", ["store", "home"])
def test_a_read_only_store_or_home_is_one_line_and_exit_2_on_the_command_line(crmpay_env, what):
    assert crmpay_env.run("customers", "list").code == 0  # the store and its folder exist
    store = crmpay_env.home / "profiles" / "default" / "crmpay.sqlite3"
    target = store if what == "store" else crmpay_env.home / "profiles" / "default"
    if what == "home":
        for item in target.iterdir():
            item.unlink()  # a new store would have to be created in a folder that refuses it
    with _read_only(target):
        result = crmpay_env.run("invoices", "create", "--customer", "ann@example.fr", "--line", "A;1;1;20",
                                "--due", "2099-01-01")  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.code == 2 and len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "read-only" in lines[0] or "cannot write" in lines[0] or "permission" in lines[0].lower(), lines[0]
    assert "internal error" not in result.stderr


def test_a_read_only_database_error_maps_to_a_usage_error(tmp_path):
    """What the global handler does with SQLite's own read-only error (real, via mode=ro)."""
    from crmpay.core.errors import from_environment

    path = _made(tmp_path)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as raised:
        db.execute("INSERT INTO sync_state VALUES ('mollie','x','y','z')")
    db.close()
    error = from_environment(raised.value)
    assert error is not None and error.exit_code == ExitCode.USAGE and "read-only" in str(error)


def test_the_command_line_refuses_an_emptied_store_in_one_line(crmpay_env):
    assert crmpay_env.run("customers", "list").code == 0
    database = crmpay_env.home / "profiles" / "default" / "crmpay.sqlite3"
    for extra in database.parent.glob("crmpay.sqlite3-*"):
        extra.unlink()
    database.write_bytes(b"")
    for args in (("customers", "list"), ("status",)):
        result = crmpay_env.run(*args)
        assert result.code == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr
        assert "from a backup" in result.stderr and "crmpay.sqlite3.id" in result.stderr
    assert database.stat().st_size == 0
