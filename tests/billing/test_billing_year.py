"""A year of monthly billing, killed 20 times at random moments: 12 invoices and 12
payments per subscription, whatever was interrupted (issue 20)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

from tests.billing.conftest import customer_with_mandate, gc_payments, mail, subscribe

from crmpay.core import clock
from crmpay.core.sepa import add_months
from crmpay.sandbox import Faults

CHECKPOINTS = [
    "before_commit:period",  # inside the transaction that issues an invoice
    "after_issue:period",
    "after_intent:payment",  # `invoice send`'s own journal, called by the run
    "after_create:payment",
    "after_record:payment",
    "after_collect:period",
]
CUSTOMERS = ["ann@example.fr", "bob@example.fr"]


def _random_kill(env, sandbox, rng: random.Random) -> bool:
    """A billing run killed at a random moment; False when it ended first."""
    sandbox.set_faults(Faults(delay_ms=20))  # slow enough that the kill lands mid-request
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crmpay", "billing", "run"],
            env=env.environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.25, 0.8))
        proc.send_signal(signal.SIGKILL)
        return proc.wait() == -signal.SIGKILL
    finally:
        sandbox.set_faults(Faults())


def _checkpoint_kill(env, point: str) -> bool:
    return env.run("billing", "run", env={"CRMPAY_TEST_KILL_AT": point}).code == -signal.SIGKILL


def test_a_year_of_monthly_billing_killed_twenty_times_bills_each_month_once(shop, sandbox):
    for i, email in enumerate(CUSTOMERS):
        customer_with_mandate(sandbox, email, i)
    assert shop.run("sync").code == 0
    day = 1 + (clock.today().day % 28)  # any day of the month; short months are not the point here
    subs = {email: subscribe(shop, email, "--day", str(day)) for email in CUSTOMERS}
    first = date.fromisoformat(
        shop.run("subscriptions", "show", str(subs[CUSTOMERS[0]]), "--json").json()["next_period"]
    )
    rng = random.Random(20)
    kills = 0
    for month in range(12):
        if month == 5:
            continue  # the machine is off for this one: the next month's run catches it up
        sandbox.advance_to(add_months(first, month) + timedelta(days=rng.randint(0, 4)))
        tries, target = 0, min(20, kills + 2)  # two kills a month
        while kills < target and tries < 6:
            point = CHECKPOINTS[(kills + tries) % len(CHECKPOINTS)]
            kills += _checkpoint_kill(shop, point) if tries % 2 == 0 else _random_kill(shop, sandbox, rng)
            tries += 1
        done = shop.run("billing", "run", "--json")
        assert done.code == 0, done.stderr
        if month % 4 == 3:
            assert shop.run("sync", "--quiet").code == 0
    sandbox.advance_to(add_months(first, 12) - timedelta(days=1))  # the thirteenth period has not begun
    final = shop.run("billing", "run", "--json")
    assert final.code == 0, final.stderr
    assert kills == 20
    for email in CUSTOMERS:
        invoices = shop.run("invoice", "list", "--customer", email, "--json").json()
        assert len(invoices) == 12, email
        shown = shop.run("subscriptions", "show", str(subs[email]), "--json").json()
        periods = shown["periods"]
        assert [p["period_start"] for p in periods] == [add_months(first, k).isoformat() for k in range(12)]
        assert all(p["status"] == "collected" and p["action"] == "payment" for p in periods), periods
        assert sorted(p["invoice_number"] for p in periods) == sorted(i["number"] for i in invoices)
        for invoice in invoices:
            assert len(gc_payments(sandbox, invoice["number"])) == 1, invoice["number"]
        assert len([m for m in mail(sandbox) if m["to"] == [email]]) >= 12  # each debit pre-notified
    payments = sandbox.services["gocardless"].objects["payments"].values()
    assert len(payments) == 24
