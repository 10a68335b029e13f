"""`crmpay calls import` against the sandbox's Zoho CRM, in one run.

    python bench/calls.py [--calls 50000] [--contacts 20000]

Seeds the CRM with N contacts (phones typed in several national and international
forms, some only as Mobile), writes an Asterisk Master.csv of M calls (30% missed,
60% from known contacts, the rest from new numbers, three company lines), runs
`crmpay calls import` once as a subprocess, and prints:
- CRM write requests / ceil(records written / 100) (target <= 1.05);
- CRM read requests / calls (target <= 2%);
- the wall time of the import, and that a second import of the same file writes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from crmpay.crm.zoho import exchange_grant_code
from crmpay.sandbox import Sandbox

LINES = [
    ("01 42 68 53 00", "sales@example.fr"),
    ("01 42 68 53 01", "support@example.fr"),
    ("04 72 10 20 30", "lyon@example.fr"),
]
RULES = """
default_region = "FR"
timezone = "Europe/Paris"
default_owner = "sales@example.fr"
create_contact = true
missed_call_task = true
create_call_records = true
deal_policy = "if_no_deals"
pipeline = "Sales"
stage = "Qualification"
""" + "".join(f'\n[[lines]]\nnumber = "{n}"\nmanager = "{m}"\n' for n, m in LINES)


def typed(number: int, rng: random.Random) -> str:
    """A French mobile number as people type it into a CRM."""
    digits = f"6{number:08d}"
    return rng.choice(
        [
            f"0{digits[0]} {digits[1:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}",
            f"+33 {digits[0]} {digits[1:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}",
            f"+33{digits}",
            f"0{digits}",
            f"0033{digits}",
        ]
    )


def seed_crm(sandbox: Sandbox, contacts: int, rng: random.Random) -> None:
    for _, email in LINES:
        httpx.post(f"{sandbox.url}/__sandbox/zoho/users", json={"email": email, "name": email.split("@")[0]})
    records = []
    for i in range(contacts):
        field = "Mobile" if i % 5 == 0 else "Phone"
        records.append(
            {"Last_Name": f"Client {i}", field: typed(i, rng), "Modified_Time": f"2026-0{1 + i % 9}-01T09:00:00+01:00"}
        )
    for start in range(0, len(records), 5000):
        httpx.post(
            f"{sandbox.url}/__sandbox/zoho/records/Contacts", json={"data": records[start : start + 5000]}, timeout=120
        ).raise_for_status()


def write_calls(path: Path, calls: int, contacts: int, rng: random.Random) -> None:
    start = datetime(2026, 11, 2, 8, 0, 0)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(calls):
            known = rng.random() < 0.6
            customer = f"0{6}{rng.randrange(contacts) if known else contacts + rng.randrange(contacts // 2):08d}"
            line = LINES[i % 3][0].replace(" ", "")
            inbound = rng.random() < 0.8
            missed = rng.random() < 0.3
            when = start + timedelta(seconds=i * 37)
            billsec = 0 if missed else rng.randrange(5, 1800)
            src, dst = (customer, line) if inbound else (line, customer)
            fmt = "%Y-%m-%d %H:%M:%S"
            answer = "" if missed else (when + timedelta(seconds=4)).strftime(fmt)
            end = (when + timedelta(seconds=billsec + 4)).strftime(fmt)
            fh.write(
                f'"","{src}","{dst}","from-trunk","""Client"" <{src}>","SIP/trunk-{i:06d}","SIP/100-{i:06d}",'
                f'"Dial","SIP/100","{when.strftime(fmt)}","{answer}","{end}",{billsec + 4},{billsec},'
                f'"{"NO ANSWER" if missed else "ANSWERED"}","DOCUMENTATION","{1763000000 + i}.{i}"\n'
            )


def stats(sandbox: Sandbox) -> dict[str, int]:
    return httpx.get(f"{sandbox.url}/__sandbox/stats").json()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp, Sandbox() as sandbox:
        tmpdir = Path(tmp)
        seed_crm(sandbox, args.contacts, rng)
        write_calls(tmpdir / "Master.csv", args.calls, args.contacts, rng)
        (tmpdir / "rules.toml").write_text(RULES, encoding="utf-8")
        creds = sandbox.credentials()["zoho"]
        code = httpx.post(f"{sandbox.url}/__sandbox/zoho/grant_code").json()["code"]
        refresh = exchange_grant_code(creds["client_id"], creds["client_secret"], code, accounts=creds["accounts_url"])[
            "refresh_token"
        ]
        env = {
            **os.environ,
            "CRMPAY_HOME": str(tmpdir / "home"),
            "NO_COLOR": "1",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "CRMPAY_ZOHO_CLIENT_ID": creds["client_id"],
            "CRMPAY_ZOHO_CLIENT_SECRET": creds["client_secret"],
            "CRMPAY_ZOHO_REFRESH_TOKEN": refresh,
            "CRMPAY_ZOHO__ENVIRONMENT": "local",
            "CRMPAY_ZOHO__BASE_URL": sandbox.url,
            "CRMPAY_ZOHO__ACCOUNTS_URL": sandbox.url,
        }
        profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
        crmpay = [
            "-m",
            "crmpay",
            "calls",
            "import",
            str(tmpdir / "Master.csv"),
            "--format",
            "asterisk",
            "--rules",
            str(tmpdir / "rules.toml"),
            "--json",
        ]
        before = stats(sandbox)["zoho_records"]
        httpx.delete(f"{sandbox.url}/__sandbox/stats")
        started = time.perf_counter()
        run = subprocess.run([sys.executable, *profile, *crmpay], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if run.returncode != 0:
            print(run.stderr[-2000:], file=sys.stderr)
            return 2
        summary = json.loads(run.stdout)
        after = stats(sandbox)
        requests = after["requests"]
        written = sum(after["zoho_records"][m] - before[m] for m in before)
        writes = sum(n for r, n in requests.items() if r.startswith(("POST /crm/v8/{module}", "PUT /crm/v8/{module}")))
        reads = sum(n for r, n in requests.items() if r.startswith(("GET /crm", "POST /crm/v8/coql")))
        httpx.delete(f"{sandbox.url}/__sandbox/stats")
        again = subprocess.run([sys.executable, *crmpay], env=env, capture_output=True, text=True)  # not profiled
        rewrites = sum(
            n
            for r, n in stats(sandbox)["requests"].items()
            if r.startswith(("POST /crm/v8/{module}", "PUT /crm/v8/{module}"))
        )
    batches = math.ceil(written / 100)
    print(
        f"calls import: {args.calls} calls ({summary['ignored']} ignored, {summary['matched']} matched) "
        f"against {args.contacts} contacts"
    )
    print(f"records written: {written} ({', '.join(f'{k} {v}' for k, v in summary['created'].items())})")
    checks = [
        ("CRM write requests / ceil(records / 100)", writes / batches, 1.05, f"{writes} vs {batches}"),
        ("CRM read requests / calls", reads / args.calls, 0.02, f"{reads} reads for {args.calls} calls"),
    ]
    ok = True
    for name, value, target, detail in checks:
        passed = value <= target
        ok &= passed
        print(f"{name:42} {value:8.4f}  (target <= {target})  {'ok' if passed else 'MISSED'}  {detail}")
    print(f"wall time of the import: {wall:.1f} s ({args.calls / wall:.0f} calls/s, process start included)")
    second = again.returncode == 0 and rewrites == 0
    print(
        f"second import of the same file: exit {again.returncode}, {rewrites} write requests "
        f"{'ok' if second else 'MISSED'}"
    )
    return 0 if ok and second else 1


if __name__ == "__main__":
    sys.exit(main())
