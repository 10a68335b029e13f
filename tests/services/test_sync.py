"""`crmpay sync` against the sandbox: exactly the providers' state, after any interruption."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

import gocardless_pro
import httpx
import pytest

from crmpay.core.calendar import add_working_days, next_working_day
from crmpay.core.models import NewCustomer, NewMandate, NewPayment
from crmpay.core.money import Money
from crmpay.providers.gocardless import GoCardlessProvider
from crmpay.providers.mollie import MollieProvider
from crmpay.retry import RetryPolicy
from crmpay.sandbox import Faults

TABLES = ("customers", "bank_accounts", "mandates", "payments")
FAST = RetryPolicy(attempts=12, base_delay=0.001, max_delay=0.01)
IBANS = ["FR1420041010050500013M02606", "DE89370400440532013000", "BE68539007547034", "NL91ABNA0417164300"]


def _connect(env, sandbox):
    creds = sandbox.credentials()
    for name, var, secret in (
        ("gocardless", "CRMPAY_GOCARDLESS_ACCESS_TOKEN", creds["gocardless"]["access_token"]),
        ("mollie", "CRMPAY_MOLLIE_API_KEY", creds["mollie"]["api_key"]),
    ):
        result = env.run("connect", name, "--environment", "local", "--base-url", sandbox.url, env={var: secret})
        assert result.code == 0, result.stderr


def _providers(sandbox):
    creds = sandbox.credentials()
    return (
        GoCardlessProvider(
            creds["gocardless"]["access_token"], environment="local", base_url=sandbox.url, retry_policy=FAST
        ),
        MollieProvider(creds["mollie"]["api_key"], environment="local", base_url=sandbox.url, retry_policy=FAST),
    )


def _seed(sandbox, seed_accounts, customers=6, payments_each=3):
    gc, mollie = _providers(sandbox)
    for provider in (gc, mollie):
        seed_accounts(provider, customers, payments_each)
    return gc, mollie


def _store(env):
    return sqlite3.connect(env.home / "profiles" / "default" / "crmpay.sqlite3")


def _canonical(raw: str) -> str:
    return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))


def _dump(env) -> dict[str, list]:
    with _store(env) as db:
        return {
            t: [
                (p, i, _canonical(raw))
                for p, i, raw in db.execute(
                    f"SELECT provider, provider_id, raw FROM {t} ORDER BY provider, provider_id"
                )
            ]
            for t in TABLES
        }


CRM_MODULES = ("Contacts", "CRMPAY_Mandates", "CRMPAY_Payments")
VOLATILE = ("id", "Created_Time", "Modified_Time", "Owner")


def _crm_dump(sandbox) -> dict[str, list[str]]:
    """The sandbox CRM's records without what differs between two equal pushes (ids, times)."""
    records = sandbox.services["zoho"].records
    return {
        m: sorted(
            json.dumps({k: v for k, v in r.items() if k not in VOLATILE}, sort_keys=True, default=str)
            for r in records[m].values()
        )
        for m in CRM_MODULES
    }


def _clear_crm(sandbox) -> None:
    zoho = sandbox.services["zoho"]
    for module in CRM_MODULES:
        zoho.records[module].clear()
    zoho._indexes.clear()


def _truth(sandbox) -> dict[str, set]:
    """What the providers hold, as (provider, id, raw JSON) — the store must hold exactly that."""
    gc, mollie = _providers(sandbox)
    truth = {t: set() for t in TABLES}
    for provider in (gc, mollie):
        for table, items in (
            ("customers", provider.iter_customers()),
            ("mandates", list(provider.iter_mandates())),
            ("payments", provider.iter_payments()),
        ):
            for item in items:
                truth[table].add((provider.name, item.id, _canonical(json.dumps(item.raw, default=str))))
        for item in provider.iter_bank_accounts():
            truth["bank_accounts"].add((provider.name, item.id, _canonical(json.dumps(item.raw, default=str))))
    return truth


def _as_sets(dump):
    return {t: set(rows) for t, rows in dump.items()}


def test_initial_then_incremental_sync_matches_the_providers(seed_accounts, crmpay_env, sandbox):
    _connect(crmpay_env, sandbox)
    gc, mollie = _seed(sandbox, seed_accounts)
    first = crmpay_env.run("sync", "--json")
    assert first.code == 0, first.stderr
    modes = {p["provider"]: p["mode"] for p in first.json()["providers"]}
    assert modes == {"gocardless": "full", "mollie": "full"}
    assert _as_sets(_dump(crmpay_env)) == _truth(sandbox)

    # changes made through the SDKs: new customers, the clock, a failure by scenario
    sdk = gocardless_pro.Client(access_token=sandbox.credentials()["gocardless"]["access_token"], base_url=sandbox.url)
    sdk.customers.create(params={"email": "new@example.fr", "family_name": "New"})
    mollie.create_customer(NewCustomer("new@example.fr", "New"), idempotency_key="new")
    # to the day every GoCardless payment is with the bank and every Mollie one is paid,
    # counted on the banks' calendar from whatever day the clock is pinned to
    today = sandbox.clock.today()
    gc_submitted = add_working_days(next_working_day(today + timedelta(days=1)), 2)  # with the mandate's activation
    mollie_paid = add_working_days(add_working_days(today, 1), 3)  # sent the next working day, paid 3 later
    target = max(gc_submitted, mollie_paid)
    assert target < add_working_days(gc_submitted, 2)  # before GoCardless confirms them
    sandbox.advance((target - today).days)
    failed = next(p for p in gc.iter_payments() if p.status == "submitted")
    sdk.scenario_simulators.run("payment_failed", params={"links": {"resource": failed.id}})
    second = crmpay_env.run("sync", "--json")
    assert second.code == 0, second.stderr
    report = {p["provider"]: p for p in second.json()["providers"]}
    assert report["gocardless"]["mode"] == "incremental" and report["gocardless"]["events"] > 0
    assert report["gocardless"]["resources"]["customers"]["new"] == 1
    assert report["mollie"]["resources"]["payments"]["updated"] > 0  # pending -> paid, refreshed
    assert _as_sets(_dump(crmpay_env)) == _truth(sandbox)
    with _store(crmpay_env) as db:
        assert db.execute("SELECT status FROM payments WHERE provider_id = ?", (failed.id,)).fetchone()[0] == "failed"


def test_a_sync_with_no_change_is_cheap(seed_accounts, crmpay_env, sandbox):
    _connect(crmpay_env, sandbox)
    _seed(sandbox, seed_accounts, customers=3, payments_each=1)
    # everything final, nothing left to refresh: GoCardless pays out two working days after
    # the first charge date (two after activation), which comes after Mollie's "paid"
    today = sandbox.clock.today()
    charge = add_working_days(add_working_days(next_working_day(today + timedelta(days=1)), 2), 2)
    sandbox.advance_to(add_working_days(charge, 2))
    assert crmpay_env.run("sync").code == 0
    httpx.delete(f"{sandbox.url}/__sandbox/stats")
    again = crmpay_env.run("sync", "--json")
    assert again.code == 0
    requests = httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]
    gocardless = sum(n for route, n in requests.items() if not route.split(" ")[1].startswith("/v2"))
    mollie = sum(n for route, n in requests.items() if route.split(" ")[1].startswith("/v2"))
    assert gocardless <= 3 and mollie <= 3, requests
    assert all(c["new"] == c["updated"] == 0 for p in again.json()["providers"] for c in p["resources"].values())


def test_a_cursor_older_than_the_event_retention_reads_everything_again(crmpay_env, sandbox):
    """GoCardless stops returning events after 18 months: a payment whose only events were
    dropped while crmpay was not run is still found, by a full sync."""
    _connect(crmpay_env, sandbox)
    gc, _ = _providers(sandbox)
    customer = gc.create_customer(NewCustomer("old@example.fr", "Old"), idempotency_key="c")
    mandate = gc.create_mandate(NewMandate(customer.id, "Old", IBANS[0]), idempotency_key="m")
    assert crmpay_env.run("sync", "--provider", "gocardless").code == 0
    payment = gc.create_payment(NewPayment(mandate.id, Money(Decimal(7), "EUR"), "x"), idempotency_key="p")
    sandbox.advance(600)  # past 18 months: the payment went through, and its events are gone
    assert not any(e.resource_id == payment.id for e in gc.iter_events())
    result = crmpay_env.run("sync", "--provider", "gocardless", "--json")
    assert result.code == 0, result.stderr
    assert result.json()["providers"][0]["mode"] == "full"
    with _store(crmpay_env) as db:
        assert db.execute("SELECT count(*) FROM payments WHERE provider_id = ?", (payment.id,)).fetchone()[0] == 1
    again = crmpay_env.run("sync", "--provider", "gocardless", "--json")
    assert again.json()["providers"][0]["mode"] == "incremental"


def test_two_syncs_started_together_one_exits_5(seed_accounts, crmpay_env, sandbox):
    _connect(crmpay_env, sandbox)
    _seed(sandbox, seed_accounts, customers=2, payments_each=1)
    sandbox.set_faults(Faults(delay_ms=150))  # long enough that the two runs overlap
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "crmpay", "sync"],
                env=crmpay_env.environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    finally:
        sandbox.set_faults(Faults())
    codes = sorted(code for code, _ in results)
    assert codes == [0, 5], results
    loser = next(err for code, err in results if code == 5)
    assert "another sync is running (pid " in loser


@pytest.mark.slow
def test_killed_at_random_moments_then_a_clean_run_equals_an_uninterrupted_run(
    crmpay_env, sandbox, tmp_path, seed_accounts, listing_readers
):
    """Store and CRM: 20 runs killed at random moments (provider reads, store writes, CRM
    pushes), then one clean run, equal one uninterrupted run into an empty store and CRM.
    No listing reader outlives its killed sync."""
    _connect(crmpay_env, sandbox)
    crmpay_env.connect_zoho(sandbox)
    _seed(sandbox, seed_accounts, customers=8, payments_each=4)
    sandbox.set_faults(Faults(delay_ms=4))
    rng = random.Random(20)
    try:
        for round_ in range(20):
            if round_ == 10:
                sandbox.advance(3)  # changes in the middle of the crash loop
            proc = subprocess.Popen(
                [sys.executable, "-m", "crmpay", "sync", "--quiet"],
                env=crmpay_env.environ,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.3, 2.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    finally:
        sandbox.set_faults(Faults())
    deadline = time.monotonic() + 10
    while listing_readers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listing_readers() == {}
    final = crmpay_env.run("sync")
    assert final.code == 0, final.stderr
    with _store(crmpay_env) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    killed_crm = _crm_dump(sandbox)
    assert [len(killed_crm[m]) for m in CRM_MODULES] == [8, 16, 64]  # one contact per email at both providers

    _clear_crm(sandbox)
    clean_home = tmp_path / "clean"
    clean = type(crmpay_env)(clean_home, crmpay_env.keyring_dir, {**crmpay_env.env, "CRMPAY_HOME": str(clean_home)})
    _connect(clean, sandbox)
    clean.connect_zoho(sandbox)
    assert clean.run("sync").code == 0  # one uninterrupted run, in a home and a CRM of its own
    assert _as_sets(_dump(crmpay_env)) == _as_sets(_dump(clean)) == _truth(sandbox)
    assert killed_crm == _crm_dump(sandbox)


def test_ctrl_c_during_a_first_sync_stops_its_reader_and_the_next_run_completes(
    crmpay_env, sandbox, seed_accounts, listing_readers
):
    _connect(crmpay_env, sandbox)
    _seed(sandbox, seed_accounts, customers=4, payments_each=2)
    sandbox.set_faults(Faults(delay_ms=400))  # slow pages: the reader is mid-listing when we press Ctrl-C
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crmpay", "sync", "--no-crm"],
            env=crmpay_env.environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )  # its own process group, as on a terminal
        deadline = time.monotonic() + 30
        while not any(ppid == proc.pid for ppid, _ in listing_readers().values()):
            assert time.monotonic() < deadline and proc.poll() is None, "the sync never started its reader"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole group, reader included
        _, err = proc.communicate(timeout=30)
    finally:
        sandbox.set_faults(Faults())
    assert proc.returncode == 130 and "Traceback" not in err, err  # interrupted, not failed
    deadline = time.monotonic() + 10
    while listing_readers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listing_readers() == {}
    again = crmpay_env.run("sync", "--no-crm")
    assert again.code == 0, again.stderr
    assert _as_sets(_dump(crmpay_env)) == _truth(sandbox)


def test_faults_give_the_same_store_and_crm_as_a_fault_free_run(seed_accounts, crmpay_env, sandbox, tmp_path):
    _connect(crmpay_env, sandbox)
    crmpay_env.connect_zoho(sandbox)
    _seed(sandbox, seed_accounts, customers=5, payments_each=3)
    assert crmpay_env.run("sync").code == 0
    reference, reference_crm = _as_sets(_dump(crmpay_env)), _crm_dump(sandbox)
    assert [len(reference_crm[m]) for m in CRM_MODULES] == [5, 10, 30]
    _clear_crm(sandbox)
    faulty_home = tmp_path / "faulty"
    env = type(crmpay_env)(faulty_home, crmpay_env.keyring_dir, {**crmpay_env.env, "CRMPAY_HOME": str(faulty_home)})
    _connect(env, sandbox)
    env.connect_zoho(sandbox)
    sandbox.set_faults(Faults(error_rate=0.04, rate_limit_rate=0.03, drop_rate=0.03, seed=3))
    try:
        result = env.run("sync", timeout=300)
    finally:
        sandbox.set_faults(Faults())
    assert result.code == 0, result.stderr
    assert _as_sets(_dump(env)) == reference
    assert _crm_dump(sandbox) == reference_crm


def test_invoice_becomes_paid_then_unpaid_on_chargeback(crmpay_env, sandbox):
    _connect(crmpay_env, sandbox)
    crmpay_env.run(
        "invoice", "create", "--customer", "ann@example.fr", "--line", "Service;1;100;20", "--due", "2030-01-31"
    )
    gc, _ = _providers(sandbox)
    customer = gc.create_customer(NewCustomer("ann@example.fr", "Ann"), idempotency_key="c")
    mandate = gc.create_mandate(NewMandate(customer.id, "Ann", IBANS[0]), idempotency_key="m")
    number = crmpay_env.run("invoice", "list", "--json").json()[0]["number"]
    payment = gc.create_payment(
        NewPayment(mandate.id, Money(Decimal("120.00"), "EUR"), number, metadata={"invoice": number}),
        idempotency_key="p",
    )
    assert crmpay_env.run("sync", "--provider", "gocardless").code == 0
    sandbox.advance_to(add_working_days(payment.charge_date, 2))  # paid out
    done = crmpay_env.run("sync", "--provider", "gocardless", "--json")
    assert number in done.json()["providers"][0]["invoices_updated"]
    shown = crmpay_env.run("invoice", "show", number, "--json").json()
    assert shown["status"] == "paid" and shown["paid_on"]
    sdk = gocardless_pro.Client(access_token=sandbox.credentials()["gocardless"]["access_token"], base_url=sandbox.url)
    sdk.scenario_simulators.run("payment_charged_back", params={"links": {"resource": payment.id}})
    crmpay_env.run("sync", "--provider", "gocardless")
    assert crmpay_env.run("invoice", "show", number, "--json").json()["status"] == "unpaid"


def test_sync_without_a_provider_exits_4(crmpay_env):
    result = crmpay_env.run("sync")
    assert result.code == 4 and "no payment provider is connected" in result.stderr


def test_crm_push_sends_only_what_changed_and_retries_failures(seed_accounts, crmpay_env, sandbox):
    _connect(crmpay_env, sandbox)
    crmpay_env.connect_zoho(sandbox)
    _seed(sandbox, seed_accounts, customers=3, payments_each=2)
    first = crmpay_env.run("sync", "--json")
    assert first.code == 0, first.stderr
    records = sandbox.services["zoho"].records
    assert len(records["Contacts"]) == 3  # the same 3 emails at both providers: one contact each
    assert len(records["CRMPAY_Mandates"]) == 6 and len(records["CRMPAY_Payments"]) == 12
    amounts = sorted(r["Amount"] for r in records["CRMPAY_Payments"].values())
    assert amounts[0] == "10.50" and all(isinstance(a, str) for a in amounts)  # exact decimals, never floats
    httpx.delete(f"{sandbox.url}/__sandbox/stats")
    quiet = crmpay_env.run("sync", "--json")
    writes = {
        k: v
        for k, v in httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"].items()
        if k.startswith(("POST /crm", "PUT /crm")) and not k.endswith("/coql")
    }  # COQL reads
    assert writes == {} and "pushed 0 record(s)" in quiet.json()["crm"]
    sandbox.advance(6)  # statuses move: only those payments and mandates are pushed again
    moved = crmpay_env.run("sync", "--json").json()
    pushed = sum(c["pushed"] for p in moved["providers"] for c in p["resources"].values())
    assert 0 < pushed < 18
    settings = f"{sandbox.url}/__sandbox/zoho/settings"
    httpx.put(settings, json={"reject_values": ["gocardless"]})  # the CRM refuses GoCardless's records
    sandbox.advance(6)
    broken = crmpay_env.run("sync", "--json")
    assert broken.code == 3 and broken.json()["crm_failures"]
    assert "INVALID_DATA" in broken.json()["crm_failures"][0]
    httpx.put(settings, json={"reject_values": []})
    fixed = crmpay_env.run("sync", "--json")
    assert fixed.code == 0 and fixed.json()["crm_failures"] == []


def test_progress_shows_on_a_terminal_only(seed_accounts, crmpay_env, sandbox):
    import os
    import pty

    _connect(crmpay_env, sandbox)
    _seed(sandbox, seed_accounts, customers=3, payments_each=2)
    piped = crmpay_env.run("sync")
    assert piped.code == 0 and "fetched" not in piped.stderr and "\x1b[" not in piped.stderr
    assert crmpay_env.run("sync", "--full", "--json").stderr == ""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crmpay", "sync", "--full"],
        env={**crmpay_env.environ, "TERM": "xterm"},
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == 0
    text = seen.decode(errors="replace")
    assert "gocardless payments" in text and "fetched" in text  # the live count, drawn on the terminal
    assert "payments" in out.decode()  # the summary table still goes to stdout
