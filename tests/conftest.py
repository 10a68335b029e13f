"""Shared fixtures: a real sandbox on loopback, a private crmpay home, a file keyring.

The sandbox's clock is pinned: the suite starts every test at `START` (09:00 UTC),
a date that `CRMPAY_TEST_TODAY=YYYY-MM-DD` chooses (default: a Thursday, the weekday
that puts the most weekends and holidays inside a lifecycle). crmpay runs started by
`CrmpayEnv.run` get the sandbox's current time as `CRMPAY_TODAY`, so both sides always
agree on the date, whatever the real day is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from _homes import SELLER_CONFIG
from crmpay.sandbox import Sandbox

FILE_KEYRING = "keyrings.alt.file.PlaintextKeyring"
FAIL_KEYRING = "keyring.backends.fail.Keyring"

START = date.fromisoformat(os.environ.get("CRMPAY_TEST_TODAY") or "2026-11-19")


def pytest_report_header(config: pytest.Config) -> str:
    return f"crmpay: sandbox clock pinned to {START.isoformat()} ({START:%A}); CRMPAY_TEST_TODAY changes it"


@pytest.fixture(scope="session")
def sandbox_server():
    sandbox = Sandbox(start=START).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """crmpay code run inside the test process reads the same date as the sandbox."""
    from crmpay.core import clock

    _ACTIVE.clear()  # the `sandbox` fixture, when the test asks for it, puts it back
    monkeypatch.setattr(clock, "_source", _sandbox_now)


_ACTIVE: list[Sandbox] = []


def _sandbox_now() -> datetime:
    """The sandbox's time when the test uses it, else the pinned start."""
    if _ACTIVE:
        return _ACTIVE[0].clock.now()
    return datetime(START.year, START.month, START.day, 9, tzinfo=UTC)


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """The session's sandbox, reset to empty (data, clock, faults, stats) for each test."""
    sandbox_server.reset()
    _ACTIVE.append(sandbox_server)
    return sandbox_server


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class CrmpayEnv:
    """A private CRMPAY_HOME and a file keyring under tmp, shared by crmpay subprocesses."""

    home: Path
    keyring_dir: Path
    env: dict[str, str]

    @property
    def keyring_file(self) -> Path:
        return self.keyring_dir / "python_keyring" / "keyring_pass.cfg"

    @property
    def environ(self) -> dict[str, str]:
        """The environment of a crmpay run started now: `env` plus the sandbox's time."""
        return {"CRMPAY_TODAY": _sandbox_now().isoformat(), **self.env}

    def run(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
    ) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "crmpay", *args],
            input=input,
            capture_output=True,
            text=True,
            env={**self.environ, **(env or {})},
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def connect_zoho(self, sandbox: Sandbox) -> None:
        """`crmpay connect zoho` to the sandbox's CRM with a fresh grant code; the client id
        and secret stay in this environment for the runs that follow."""
        creds = sandbox.credentials()["zoho"]
        self.env.update(CRMPAY_ZOHO_CLIENT_ID=creds["client_id"], CRMPAY_ZOHO_CLIENT_SECRET=creds["client_secret"])
        code = httpx.post(f"{sandbox.url}/__sandbox/zoho/grant_code").json()["code"]
        result = self.run("connect", "zoho", "--environment", "local", "--base-url", sandbox.url, "--grant-code", code)
        assert result.code == 0, result.stderr


@pytest.fixture
def crmpay_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CrmpayEnv:
    home = tmp_path / "home"
    keyring_dir = tmp_path / "keyring"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMPAY_") and k not in ("NO_COLOR",)}
    env.update(
        CRMPAY_HOME=str(home),
        XDG_DATA_HOME=str(keyring_dir),
        PYTHON_KEYRING_BACKEND=FILE_KEYRING,
        NO_COLOR="1",
        COLUMNS="200",
    )
    for key in list(os.environ):
        if key.startswith("CRMPAY_"):
            monkeypatch.delenv(key)
    home.mkdir(parents=True)
    (home / "config.toml").write_text(SELLER_CONFIG)  # no invoice is issued without the seller's identity
    return CrmpayEnv(home, keyring_dir, env)


@pytest.fixture
def file_keyring(crmpay_env: CrmpayEnv, monkeypatch: pytest.MonkeyPatch):
    """This process uses the same CRMPAY_HOME and file keyring as `crmpay_env.run`."""
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    for key in ("CRMPAY_HOME", "XDG_DATA_HOME", "PYTHON_KEYRING_BACKEND"):
        monkeypatch.setenv(key, crmpay_env.env[key])
    backend = PlaintextKeyring()
    backend.file_path = str(crmpay_env.keyring_file)
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def _listing_readers() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every live `crmpay.providers._background` child
    on this machine, read from /proc (Linux)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if "crmpay.providers._background" in cmdline and state != "Z":
            found[int(entry.name)] = (int(ppid), cmdline)
    return found


@pytest.fixture
def listing_readers():
    """Call it for the listing-reader processes alive now (see `_listing_readers`)."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc")
    return _listing_readers


SEED_IBANS = ["FR1420041010050500013M02606", "DE89370400440532013000", "BE68539007547034", "NL91ABNA0417164300"]


def _seed_accounts(provider: Any, customers: int = 6, payments_each: int = 3) -> None:
    """Through `provider`: customers c0@…, each with a SEPA mandate and payments of
    10.50, 11.50, … EUR; every create carries a key, so seeding twice changes nothing."""
    from decimal import Decimal

    from crmpay.core.models import NewCustomer, NewMandate, NewPayment
    from crmpay.core.money import Money

    for i in range(customers):
        c = provider.create_customer(NewCustomer(f"c{i}@example.fr", f"Client {i}"), idempotency_key=f"c{i}")
        m = provider.create_mandate(NewMandate(c.id, f"Client {i}", SEED_IBANS[i % 4]), idempotency_key=f"m{i}")
        for j in range(payments_each):
            provider.create_payment(
                NewPayment(m.id, Money(Decimal(f"{10 + j}.50"), "EUR"), f"INV-{i}-{j}", customer_id=c.id),
                idempotency_key=f"p{i}-{j}",
            )


@pytest.fixture
def seed_accounts():
    """Call it with a provider to create customers, mandates and payments there."""
    return _seed_accounts
