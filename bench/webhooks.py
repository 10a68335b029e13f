"""`crmpay webhooks serve` fed by the sandbox's own deliveries, in one run.

    python bench/webhooks.py [--latency-samples 200] [--payments 1000]

Starts the sandbox in this process and one `crmpay webhooks serve` process (GoCardless
and Zoho CRM connected, no sync ever run), registers the receiver, then prints:
- the time from the sandbox's POST of a webhook to the CRM record showing the new status,
  median and p99 over `--latency-samples` payments confirmed one at a time by the
  `payment_confirmed` scenario (one event, one delivery each); target p99 < 1 s;
- the events per second the one receiver process applies (store and CRM push) when
  `--payments` payments all move at once (the clock advanced to their payout: submitted,
  confirmed and paid_out events), from the first POST to the last CRM record updated.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import gocardless_pro
import httpx

from crmpay.core.calendar import add_working_days
from crmpay.core.models import NewCustomer, NewMandate, NewPayment
from crmpay.core.money import Money
from crmpay.providers.gocardless import GoCardlessProvider
from crmpay.sandbox import Sandbox

SECRET = "bench-webhook-secret"
IBAN = "FR1420041010050500013M02606"


def crmpay(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "crmpay", *args], env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"crmpay {' '.join(args)}: {result.stderr}")


def wait(predicate: Any, timeout: float = 120.0, step: float = 0.001) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.time()
        time.sleep(step)
    raise SystemExit("timed out")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--payments", type=int, default=1000)
    args = parser.parse_args()
    sandbox = Sandbox(start="2026-11-19").start()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRMPAY_")}
        creds = sandbox.credentials()
        env.update(
            CRMPAY_HOME=f"{tmp}/home",
            XDG_DATA_HOME=f"{tmp}/keyring",
            PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
            CRMPAY_TODAY=sandbox.clock.now().isoformat(),
            CRMPAY_GOCARDLESS_ACCESS_TOKEN=creds["gocardless"]["access_token"],
            CRMPAY_ZOHO_CLIENT_ID=creds["zoho"]["client_id"],
            CRMPAY_ZOHO_CLIENT_SECRET=creds["zoho"]["client_secret"],
            CRMPAY_GOCARDLESS_WEBHOOK_SECRET=SECRET,
        )
        crmpay(env, "connect", "gocardless", "--environment", "local", "--base-url", sandbox.url)
        code = httpx.post(f"{sandbox.url}/__sandbox/zoho/grant_code").json()["code"]
        crmpay(env, "connect", "zoho", "--environment", "local", "--base-url", sandbox.url, "--grant-code", code)
        server = subprocess.Popen(
            [sys.executable, "-m", "crmpay", "webhooks", "serve", "--port", "0", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            url = json.loads(server.stdout.readline())["url"]
            sandbox.webhooks.register("gocardless", f"{url}/webhooks/gocardless", SECRET)
            run(sandbox, args, Path(tmp))
        finally:
            server.terminate()
            server.wait(30)
            sandbox.stop()


def run(sandbox: Sandbox, args: argparse.Namespace, tmp: Path) -> None:
    token = sandbox.credentials()["gocardless"]["access_token"]
    gc = GoCardlessProvider(token, environment="local", base_url=sandbox.url)
    sdk = gocardless_pro.Client(access_token=token, base_url=sandbox.url)
    records = sandbox.services["zoho"].records["CRMPAY_Payments"]

    def crm_status() -> dict[str, str]:
        with sandbox.lock:
            return {r["Name"]: r.get("Status") for r in list(records.values())}

    total = args.latency_samples + args.payments
    print(f"seeding {total} payments (one customer and mandate each)...", file=sys.stderr)
    payments = []
    for n in range(total):
        customer = gc.create_customer(NewCustomer(f"c{n}@example.fr", f"Client {n}"), idempotency_key=f"c{n}")
        mandate = gc.create_mandate(NewMandate(customer.id, f"Client {n}", IBAN), idempotency_key=f"m{n}")
        payments.append(
            gc.create_payment(NewPayment(mandate.id, Money(Decimal("10.00"), "EUR"), f"P{n}"), idempotency_key=f"p{n}")
        )
    names = [f"gocardless {p.id}" for p in payments]
    wait(lambda: sandbox.webhooks.idle() and all(crm_status().get(n) for n in names), timeout=600, step=0.05)

    # 1. latency: one payment confirmed at a time, POST -> CRM record
    samples = []
    for payment in payments[: args.latency_samples]:
        seen = len(sandbox.webhooks.log)
        sdk.scenario_simulators.run("payment_confirmed", params={"links": {"resource": payment.id}})
        name = f"gocardless {payment.id}"
        done = wait(lambda name=name: crm_status().get(name) == "confirmed")
        posts = [e for e in sandbox.webhooks.log[seen:] if e["attempt"] == 0]
        samples.append(done - posts[0]["sent"])
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    median = statistics.median(samples)
    ok = "ok" if p99 < 1.0 else "MISSED"
    print(
        f"{'webhook POST -> CRM record':32} median {median:6.3f} s  p99 {p99:6.3f} s  (target p99 < 1 s)  {ok}"
        f"  {len(samples)} payments confirmed one at a time"
    )

    # 2. throughput: every other payment moves at once
    rest = payments[args.latency_samples :]
    seen = len(sandbox.webhooks.log)
    events_before = len(sandbox.services["gocardless"].objects["events"])
    sandbox.advance_to(add_working_days(max(p.charge_date for p in rest), 2))  # submitted, confirmed, paid out
    want = [f"gocardless {p.id}" for p in rest]
    done = wait(lambda: sandbox.webhooks.idle() and all(crm_status().get(n) == "paid_out" for n in want), 600, 0.01)
    events = len(sandbox.services["gocardless"].objects["events"]) - events_before
    first = min(e["sent"] for e in sandbox.webhooks.log[seen:])
    posts = len(sandbox.webhooks.log) - seen
    print(
        f"{'events applied per second':32} {events / (done - first):8.1f}  ({events} events in {posts} POSTs,"
        f" {done - first:.1f} s from the first POST to the last CRM record; one receiver process)"
    )


if __name__ == "__main__":
    main()
