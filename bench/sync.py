"""`crmpay sync` against the sandbox's GoCardless and Mollie, in one run.

    python bench/sync.py [--customers 20000] [--payments 100000]
                         [--mollie-customers 5000] [--mollie-payments 50000] [--mollie-open 300]

Seeds the GoCardless simulator (customers, one bank account and mandate each, payments
spread over the mandates), then prints:
- requests of the first sync / the minimum (sum of ceil(n / 500) per resource);
- requests of a second sync with nothing changed (target <= 3);
- wall time of the first sync (no CRM) / a bare loop fetching the same pages with the
  same SDK and discarding them (target <= 1.5);
- peak RSS of a first sync with N payments / with N/4 payments (target <= 1.3), of the
  largest process (the sync; its listing reader stays near 35 MiB).
Targets: request ratio <= 1.05.

Then seeds the Mollie simulator (customers, one mandate each, payments spread over them,
the newest `--mollie-open` still pending, the others paid) and prints:
- requests of the first sync / (customers + ceil(payments/250) + ceil(customers/250))
  (target <= 1.05): Mollie lists mandates only per customer, one request each;
- requests of a second sync with nothing changed, without the mandate re-check slice,
  against 3 + ceil(open/250) (customers, chargebacks, and the payments walk down to the
  oldest open payment); the slice (customers x time since the last run / 1 day, one
  request each) is printed on its own line with what it costs at a 5-minute cron.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import gocardless_pro
import httpx
from seeding import IBANS, gocardless_mandate

from crmpay.sandbox import Sandbox
from crmpay.services.sync.mollie import MANDATE_RECHECK


def seed(sandbox: Sandbox, customers: int, payments: int) -> None:
    gc = sandbox.services["gocardless"]
    charge = sandbox.clock.today() + timedelta(days=40)
    with sandbox.lock:
        mandates = []
        for i in range(customers):
            mandates.append(gocardless_mandate(gc, i))
        for j in range(payments):
            gc._new_payment(mandates[j % len(mandates)], 1000 + j, "EUR", charge, {})


def requests(sandbox: Sandbox) -> int:
    return sum(
        n
        for route, n in httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"].items()
        if not route.split(" ")[1].startswith(("/v2", "/crm", "/oauth"))
    )


def mollie_requests(sandbox: Sandbox) -> dict[str, int]:
    counted = httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]
    return {route: n for route, n in counted.items() if route.split(" ")[1].startswith("/v2")}


def seed_mollie(sandbox: Sandbox, customers: int, payments: int, still_open: int) -> None:
    """Customers with one valid mandate each; payments spread over them, created oldest
    first, all paid but the newest `still_open` (pending: at the bank)."""
    mollie = sandbox.services["mollie"]
    with sandbox.lock:
        mandates = []
        for i in range(customers):
            customer = mollie.add_customer({"name": f"Client {i}", "email": f"c{i}@example.fr"})
            mandates.append(
                (customer["id"], mollie._new_mandate(customer["id"], f"Client {i}", IBANS[i % 4], None, None, None))
            )
        for j in range(payments):
            customer_id, mandate = mandates[j % customers]
            payment = mollie.add_payment(
                {
                    "amount": {"currency": "EUR", "value": f"{10 + j % 90}.00"},
                    "description": f"INV-{j}",
                    "sequenceType": "recurring",
                    "customerId": customer_id,
                    "mandateId": mandate["id"],
                }
            )
            if j < payments - still_open:
                mollie._finish(payment, "paid")


def mollie_sync(customers: int, payments: int, still_open: int, home: Path) -> dict[str, float]:
    with Sandbox() as sandbox:
        seed_mollie(sandbox, customers, payments, still_open)
        env = {
            **os.environ,
            "CRMPAY_HOME": str(home),
            "NO_COLOR": "1",
            "CRMPAY_MOLLIE_API_KEY": sandbox.credentials()["mollie"]["api_key"],
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
        subprocess.run(
            [sys.executable, "-m", "crmpay", "connect", "mollie", "--environment", "local", "--base-url", sandbox.url],
            env=env,
            check=True,
            capture_output=True,
        )
        httpx.delete(f"{sandbox.url}/__sandbox/stats")
        wall, _ = crmpay(["sync", "--no-crm", "--quiet", "--provider", "mollie"], env)
        first = sum(mollie_requests(sandbox).values())
        httpx.delete(f"{sandbox.url}/__sandbox/stats")
        started = time.perf_counter()
        crmpay(["sync", "--no-crm", "--quiet", "--provider", "mollie"], env)
        between = time.perf_counter() - started
        again = mollie_requests(sandbox)
    slice_ = again.get("GET /v2/customers/{id}/mandates", 0)
    return {
        "wall": wall,
        "first": first,
        "first_minimum": customers + math.ceil(payments / 250) + math.ceil(customers / 250),
        "again": sum(again.values()) - slice_,
        "again_bound": 3 + math.ceil(still_open / 250),
        "slice": slice_,
        "second_wall": between,
        "slice_per_5_min": customers * 300 / MANDATE_RECHECK.total_seconds(),
    }


_RUNS = itertools.count(1)  # numbers the profile files of BENCH_PROFILE runs


def crmpay(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one crmpay process."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "t = time.perf_counter() - t\n"
        "assert p.returncode == 0, p.stderr[-800:]\n"
        "print(t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    profile = (
        ["-m", "cProfile", "-o", f"{os.environ['BENCH_PROFILE']}.{next(_RUNS)}"]
        if os.environ.get("BENCH_PROFILE")
        else []
    )  # one profile file per crmpay run
    out = subprocess.run(
        [sys.executable, "-c", wrapper, sys.executable, *profile, "-m", "crmpay", *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.split()
    return float(out[0]), int(out[1])


def bare_loop(sandbox: Sandbox) -> float:
    client = gocardless_pro.Client(
        access_token=sandbox.credentials()["gocardless"]["access_token"], base_url=sandbox.url
    )
    start = time.perf_counter()
    for service in (client.customers, client.customer_bank_accounts, client.mandates, client.payments):
        cursor = None
        while True:
            page = service.list(params={"limit": 500, **({"after": cursor} if cursor else {})})
            cursor = page.after
            if not cursor:
                break
    return time.perf_counter() - start


def first_sync(customers: int, payments: int, home: Path) -> dict[str, float]:
    with Sandbox() as sandbox:
        seed(sandbox, customers, payments)
        env = {
            **os.environ,
            "CRMPAY_HOME": str(home),
            "NO_COLOR": "1",
            "CRMPAY_GOCARDLESS_ACCESS_TOKEN": sandbox.credentials()["gocardless"]["access_token"],
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
        subprocess.run(
            [
                sys.executable,
                "-m",
                "crmpay",
                "connect",
                "gocardless",
                "--environment",
                "local",
                "--base-url",
                sandbox.url,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        httpx.delete(f"{sandbox.url}/__sandbox/stats")
        wall, rss = crmpay(["sync", "--no-crm", "--quiet"], env)
        first = requests(sandbox)
        httpx.delete(f"{sandbox.url}/__sandbox/stats")
        crmpay(["sync", "--no-crm", "--quiet"], env)
        again = requests(sandbox)
        bare = min(bare_loop(sandbox) for _ in range(2))
    minimum = 3 * math.ceil(customers / 500) + math.ceil(payments / 500)
    return {"wall": wall, "rss": rss, "first": first, "again": again, "bare": bare, "minimum": minimum}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--mollie-customers", type=int, default=5_000)
    parser.add_argument("--mollie-payments", type=int, default=50_000)
    parser.add_argument("--mollie-open", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = first_sync(args.customers, args.payments, Path(tmp) / "big")
        small = first_sync(args.customers // 4, args.payments // 4, Path(tmp) / "small")
        mollie = mollie_sync(args.mollie_customers, args.mollie_payments, args.mollie_open, Path(tmp) / "mollie")
    checks = [
        (
            "first-sync requests / minimum",
            big["first"] / big["minimum"],
            1.05,
            f"{big['first']} requests, minimum {big['minimum']}",
        ),
        ("no-change sync requests", big["again"], 3, "GoCardless: events + customers + bank accounts"),
        (
            "first-sync wall / bare SDK loop",
            big["wall"] / big["bare"],
            1.5,
            f"{big['wall']:.1f} s vs {big['bare']:.1f} s (sync: process start, reader process, SQLite writes)",
        ),
        (
            "peak RSS N / N/4",
            big["rss"] / small["rss"],
            1.3,
            f"{big['rss'] / 1024:.0f} MiB vs {small['rss'] / 1024:.0f} MiB",
        ),
    ]
    mollie_checks = [
        (
            "first-sync requests / minimum",
            mollie["first"] / mollie["first_minimum"],
            1.05,
            f"{mollie['first']} requests, minimum {mollie['first_minimum']} "
            "(customers + ceil(payments/250) + ceil(customers/250)); "
            f"{mollie['wall']:.1f} s",
        ),
        (
            "no-change sync requests",
            mollie["again"],
            mollie["again_bound"],
            f"bound 3 + ceil({args.mollie_open} open / 250): customers + chargebacks + payments walk",
        ),
    ]
    print(f"GoCardless: {args.customers} customers, bank accounts and mandates; {args.payments} payments")
    ok = True
    for name, value, target, detail in checks:
        passed = value <= target
        ok &= passed
        print(f"{name:32} {value:8.3f}  (target <= {target})  {'ok' if passed else 'MISSED'}  {detail}")
    print(
        f"Mollie: {args.mollie_customers} customers and mandates; {args.mollie_payments} payments, "
        f"the newest {args.mollie_open} open"
    )
    for name, value, target, detail in mollie_checks:
        passed = value <= target
        ok &= passed
        print(f"{name:32} {value:8.3f}  (target <= {target})  {'ok' if passed else 'MISSED'}  {detail}")
    print(
        f"{'mandate re-check slice':32} {mollie['slice']:8.0f}  (customers x time since last run / "
        f"{MANDATE_RECHECK / timedelta(hours=1):g} h; this run took {mollie['second_wall']:.1f} s) "
        f"-> about {mollie['slice_per_5_min']:.1f} requests per run at a 5-minute cron"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
