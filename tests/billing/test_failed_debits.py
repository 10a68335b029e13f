"""Failed debits: retried by the policy (GoCardless's retry action), the customer told;
never after a chargeback (issue 20)."""

from __future__ import annotations

from datetime import timedelta

import gocardless_pro
from tests.billing.conftest import customer_with_mandate, gc_payments, mail, subscribe

from crmpay.core import clock


def _scenario(sandbox, name: str, payment_id: str) -> None:
    token = sandbox.credentials()["gocardless"]["access_token"]
    client = gocardless_pro.Client(access_token=token, base_url=sandbox.url)
    client.scenario_simulators.run(name, params={"links": {"resource": payment_id}})


def _bill_one(shop, sandbox, email: str, i: int) -> tuple[str, str]:
    customer_with_mandate(sandbox, email, i)
    assert shop.run("sync").code == 0
    subscribe(
        shop,
        email,
        "--day",
        str(clock.today().day if clock.today().day <= 28 else 28),
        "--count",
        "1",
        "--start",
        clock.today().replace(day=min(clock.today().day, 28)).isoformat(),
    )
    ran = shop.run("billing", "run", "--json")
    assert ran.code == 0, ran.stderr
    [collected] = [c for c in ran.json()["collected"] if c["action"] == "payment"]
    return collected["invoice"], collected["payment_id"]


def test_a_failed_debit_is_retried_per_policy_then_left_to_the_reminders(shop, sandbox):
    number, payment_id = _bill_one(shop, sandbox, "ann@example.fr", 0)
    _scenario(sandbox, "payment_failed", payment_id)
    assert shop.run("sync").code == 0
    planned = shop.run("billing", "run", "--json").json()["retries"]
    retry_on = clock.today() + timedelta(days=3)
    assert planned == [
        {
            "invoice": number,
            "retry": 1,
            "payment_id": payment_id,
            "status": "planned",
            "retry_on": retry_on.isoformat(),
            "reason": None,
        }
    ]
    assert shop.run("dunning", "list", "--json").json() == []  # not due yet
    sandbox.advance(2)
    assert shop.run("billing", "run", "--json").json()["retries"] == []  # not yet
    assert sandbox.services["gocardless"].objects["payments"][payment_id]["status"] == "failed"
    sandbox.advance_to(retry_on)
    retried = shop.run("billing", "run", "--json")
    assert retried.code == 0, retried.stderr
    [done] = retried.json()["retries"]
    assert done["status"] == "done" and done["method"] == "retry_action" and done["result_id"] == payment_id
    payment = sandbox.services["gocardless"].objects["payments"][payment_id]
    assert payment["status"] == "pending_submission" and done["charge_date"] == payment["charge_date"]
    assert payment["charge_date"] >= (retry_on + timedelta(days=14)).isoformat()  # pre-notified like any debit
    assert len(gc_payments(sandbox, number)) == 1  # the same payment, presented again
    told = [m for m in mail(sandbox) if "presented again" in m["body"] or "présenté à nouveau" in m["body"]]
    assert len(told) == 1 and told[0]["to"] == ["ann@example.fr"] and payment["charge_date"] in told[0]["body"]
    assert shop.run("invoice", "show", number, "--json").json()["status"] == "pending"
    # fails again: the second retry comes 7 days later
    _scenario(sandbox, "payment_failed", payment_id)
    assert shop.run("sync").code == 0
    [second] = shop.run("billing", "run", "--json").json()["retries"]
    assert second["retry"] == 2 and second["retry_on"] == (clock.today() + timedelta(days=7)).isoformat()
    sandbox.advance(7)
    assert shop.run("billing", "run", "--json").json()["retries"][0]["method"] == "retry_action"
    # a third failure: the policy [3, 7] is spent, the reminders take over
    _scenario(sandbox, "payment_failed", payment_id)
    assert shop.run("sync").code == 0
    assert shop.run("billing", "run", "--json").json()["retries"] == []
    sandbox.advance(30)
    assert shop.run("billing", "run", "--json").json()["retries"] == []
    assert sandbox.services["gocardless"].private[payment_id]["retries"] == 2
    assert shop.run("invoice", "show", number, "--json").json()["status"] == "unpaid"
    [standing] = shop.run("dunning", "list", "--json").json()
    assert standing["number"] == number and "reminder due" in standing["state"]


def test_a_charged_back_debit_is_never_retried(shop, sandbox):
    number, payment_id = _bill_one(shop, sandbox, "bob@example.fr", 1)
    _scenario(sandbox, "payment_charged_back", payment_id)
    assert shop.run("sync").code == 0
    [skipped] = shop.run("billing", "run", "--json").json()["retries"]
    assert skipped["status"] == "skipped" and "charged back" in skipped["reason"]
    for _ in range(2):
        sandbox.advance(8)
        assert shop.run("billing", "run", "--json").json()["retries"] == []
    assert sandbox.services["gocardless"].objects["payments"][payment_id]["status"] == "charged_back"
    assert sandbox.services["gocardless"].private[payment_id]["retries"] == 0
    assert len(gc_payments(sandbox, number)) == 1
    assert not [m for m in mail(sandbox) if "presented again" in m["body"] or "présenté à nouveau" in m["body"]]


def test_a_failure_on_a_cancelled_mandate_is_not_retried(shop, sandbox):
    number, payment_id = _bill_one(shop, sandbox, "cy@example.fr", 2)
    _scenario(sandbox, "payment_failed", payment_id)
    assert shop.run("sync").code == 0
    mandate = sandbox.services["gocardless"].objects["payments"][payment_id]["links"]["mandate"]
    token = sandbox.credentials()["gocardless"]["access_token"]
    gocardless_pro.Client(access_token=token, base_url=sandbox.url).mandates.cancel(mandate)
    assert shop.run("billing", "run", "--json").json()["retries"][0]["status"] == "planned"
    sandbox.advance(3)
    [stopped] = shop.run("billing", "run", "--json").json()["retries"]
    assert stopped["status"] == "skipped" and "cancelled" in stopped["reason"]
    assert sandbox.services["gocardless"].private[payment_id]["retries"] == 0
    assert len(gc_payments(sandbox, number)) == 1
