"""`crmpay invoices credit` refunds what a collected invoice was paid beyond what it owes.

The whole way over real HTTP: the invoice is sent, the sandbox clock runs until the provider
has collected it, `crmpay sync` marks it paid; then a credit note refunds the overpaid part
through the provider that collected it, exactly once, whatever happens to the run.
"""

from __future__ import annotations

import signal
import sqlite3
from datetime import date, timedelta

import gocardless_pro
import httpx
import pytest

from crmpay.core.calendar import add_working_days
from crmpay.core.models import NewCustomer, NewMandate
from crmpay.providers.gocardless import GoCardlessProvider
from crmpay.providers.mollie import MollieProvider
from crmpay.retry import RetryPolicy

IBAN = "FR1420041010050500013M02606"
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)


@pytest.fixture
def shop(crmpay_env, sandbox):
    """GoCardless and Mollie connected, a seller named; Ann has a GoCardless mandate, Ivy a Mollie one."""
    creds = sandbox.credentials()
    crmpay_env.env["CRMPAY_GOCARDLESS_ACCESS_TOKEN"] = creds["gocardless"]["access_token"]
    crmpay_env.env["CRMPAY_MOLLIE_API_KEY"] = creds["mollie"]["api_key"]
    for name in ("gocardless", "mollie"):
        assert crmpay_env.run("connect", name, "--environment", "local", "--base-url", sandbox.url).code == 0
    assert crmpay_env.run("config", "set", "seller.name", "Acme SAS").code == 0
    gc = GoCardlessProvider(
        creds["gocardless"]["access_token"], environment="local", base_url=sandbox.url, retry_policy=FAST
    )
    customer = gc.create_customer(NewCustomer("ann@example.fr", "Ann Lee"), idempotency_key="c")
    gc.create_mandate(NewMandate(customer.id, "Ann Lee", IBAN), idempotency_key="m")
    mollie = MollieProvider(creds["mollie"]["api_key"], environment="local", base_url=sandbox.url, retry_policy=FAST)
    ivy = mollie.create_customer(NewCustomer("ivy@example.fr", "Ivy Roe"), idempotency_key="mc")
    mollie.create_mandate(
        NewMandate(ivy.id, "Ivy Roe", IBAN, reference="RUM-IVY", signature_date=sandbox.clock.today()),
        idempotency_key="mm",
    )
    assert crmpay_env.run("sync").code == 0
    return crmpay_env


def _invoice(env, sandbox, email: str = "ann@example.fr") -> str:
    due = (sandbox.clock.today() + timedelta(days=20)).isoformat()
    line = "Maintenance;2;49.90;20"  # 119.76 incl. VAT
    created = env.run("invoice", "create", "--customer", email, "--line", line, "--due", due, "--json")
    assert created.code == 0, created.stderr
    return created.json()["number"]


def _collected_by_gocardless(env, sandbox, number: str) -> str:
    """`invoice send`, the clock until GoCardless pays it out, `sync`: the invoice is paid."""
    sent = env.run("invoice", "send", number, "--no-email", "--json")
    assert sent.code == 0, sent.stderr
    payment_id, charge = sent.json()["payment_id"], date.fromisoformat(sent.json()["charge_date"])
    sandbox.advance_to(add_working_days(charge, 2))
    assert sandbox.services["gocardless"].objects["payments"][payment_id]["status"] == "paid_out"
    assert env.run("sync").code == 0
    assert env.run("invoice", "show", number, "--json").json()["status"] == "paid"
    return payment_id


def _collected_by_mollie(env, sandbox, number: str) -> str:
    """`invoice send` schedules the Mollie debit, `invoice collect` creates it on its day, the
    clock runs until Mollie says paid, `sync`: the invoice is paid."""
    sent = env.run("invoice", "send", number, "--no-email", "--json")
    assert sent.code == 0, sent.stderr
    sandbox.advance_to(date.fromisoformat(sent.json()["scheduled_for"]))
    [done] = env.run("invoice", "collect", "--json").json()
    sandbox.advance_to(add_working_days(sandbox.clock.today(), 5))
    assert sandbox.services["mollie"].objects["payments"][done["payment_id"]]["status"] == "paid"
    assert env.run("sync").code == 0
    assert env.run("invoice", "show", number, "--json").json()["status"] == "paid"
    return done["payment_id"]


def _gc_refunds(sandbox) -> list[dict]:
    return list(sandbox.services["gocardless"].objects["refunds"].values())


def _mollie_refunds(sandbox) -> list[dict]:
    return list(sandbox.services["mollie"].objects["refunds"].values())


def _credit_notes(env, number: str) -> list[tuple[str, int, str]]:
    with sqlite3.connect(env.home / "profiles" / "default" / "crmpay.sqlite3") as db:
        return db.execute(
            "SELECT number, total_incl_minor, status FROM invoices WHERE credits = ? ORDER BY id", (number,)
        ).fetchall()


def _refund_rows(env, number: str) -> list[tuple[str, int, str, int]]:
    with sqlite3.connect(env.home / "profiles" / "default" / "crmpay.sqlite3") as db:
        return db.execute(
            "SELECT provider, amount_minor, status, attempt FROM refunds WHERE invoice_number = ? ORDER BY id",
            (number,),
        ).fetchall()


def test_a_full_credit_of_a_collected_gocardless_invoice_refunds_it_once(shop, sandbox):
    number = _invoice(shop, sandbox)
    payment_id = _collected_by_gocardless(shop, sandbox, number)
    credited = shop.run("invoice", "credit", number, "--reason", "Annulation", "--json")
    assert credited.code == 0, credited.stderr
    facts = credited.json()
    assert facts["amount"] == "119.76" and facts["amount_due"] == "0.00" and facts["refund_due"] == "119.76"
    [line] = facts["refunds"]
    [made] = _gc_refunds(sandbox)
    assert (line["provider"], line["payment_id"], line["amount"], line["status"]) == (
        "gocardless",
        payment_id,
        "119.76",
        "created",
    )
    assert line["id"] == made["id"] and line["provider_status"] == "created" and "refund_by_hand" not in facts
    assert made["amount"] == 11976 and made["links"]["payment"] == payment_id
    assert made["metadata"] == {"invoice": number, "credit_note": facts["credit_note"]}
    assert made["reference"] == f"Avoir {facts['credit_note']} sur la facture {number}"
    assert sandbox.services["gocardless"].objects["payments"][payment_id]["amount_refunded"] == 11976
    # a rerun makes neither a second refund nor a second credit note
    again = shop.run("invoice", "credit", number, "--json")
    assert again.code == 2 and "already credited" in again.stderr
    assert len(_gc_refunds(sandbox)) == 1 and len(_credit_notes(shop, number)) == 1
    assert _refund_rows(shop, number) == [("gocardless", 11976, "created", 1)]


@pytest.mark.parametrize("step", ["after_intent:refund", "after_create:refund", "after_record:refund"])
def test_killed_at_each_step_then_rerun_refunds_exactly_once(shop, sandbox, step):
    number = _invoice(shop, sandbox)
    _collected_by_gocardless(shop, sandbox, number)
    killed = shop.run("invoice", "credit", number, env={"CRMPAY_TEST_KILL_AT": step})
    assert killed.code == -signal.SIGKILL
    assert len(_credit_notes(shop, number)) == 1  # issued with its refund intent, before the call
    assert len(_gc_refunds(sandbox)) == (0 if step == "after_intent:refund" else 1)
    rerun = shop.run("invoice", "credit", number, "--json")
    if step == "after_record:refund":  # it had finished: nothing is left to do
        assert rerun.code == 2 and "already credited" in rerun.stderr
    else:
        assert rerun.code == 0, rerun.stderr
        result = rerun.json()
        assert result["resumed"] is True and result["credit_note"] == _credit_notes(shop, number)[0][0]
        assert [r["status"] for r in result["refunds"]] == ["created"]
    [made] = _gc_refunds(sandbox)
    assert made["amount"] == 11976
    assert len(_credit_notes(shop, number)) == 1
    assert _refund_rows(shop, number) == [("gocardless", 11976, "created", 1)]


def test_partial_credits_refund_only_the_overpaid_part(shop, sandbox):
    number = _invoice(shop, sandbox)
    payment_id = _collected_by_gocardless(shop, sandbox, number)
    first = shop.run("invoice", "credit", number, "--line", "Remise;1;10;20", "--json")
    assert first.code == 0, first.stderr
    assert first.json()["refund_due"] == "12.00" and first.json()["amount_due"] == "0.00"
    second = shop.run("invoice", "credit", number, "--line", "Geste;1;5;20", "--json")
    assert second.code == 0, second.stderr
    assert [r["amount"] for r in second.json()["refunds"]] == ["6.00"]
    # the second refund confirmed the total refunded on the payment: 12.00 + 6.00
    assert [r["amount"] for r in _gc_refunds(sandbox)] == [1200, 600]
    assert sandbox.services["gocardless"].objects["payments"][payment_id]["amount_refunded"] == 1800
    assert [n[1] for n in _credit_notes(shop, number)] == [1200, 600]


def test_what_was_paid_by_hand_is_refunded_by_hand(shop, sandbox):
    number = _invoice(shop, sandbox)
    today = sandbox.clock.today().isoformat()
    recorded = shop.run("payment", "record", number, "--amount", "19.76", "--method", "cheque", "--received-on", today)
    assert recorded.code == 0, recorded.stderr
    _collected_by_gocardless(shop, sandbox, number)  # collects the 100.00 left
    credited = shop.run("invoice", "credit", number, "--json")
    assert credited.code == 0, credited.stderr
    facts = credited.json()
    assert facts["refund_due"] == "119.76" and facts["refund_by_hand"] == "19.76"
    assert [(r["amount"], r["status"]) for r in facts["refunds"]] == [("100.00", "created")]
    assert any("paid by hand" in note for note in facts["notes"])
    assert [r["amount"] for r in _gc_refunds(sandbox)] == [10000]


def test_a_mollie_invoice_is_refunded_once(shop, sandbox):
    number = _invoice(shop, sandbox, "ivy@example.fr")
    payment_id = _collected_by_mollie(shop, sandbox, number)
    credited = shop.run("invoice", "credit", number, "--json")
    assert credited.code == 0, credited.stderr
    [line] = credited.json()["refunds"]
    [made] = _mollie_refunds(sandbox)
    assert (line["provider"], line["id"], line["amount"], line["status"]) == ("mollie", made["id"], "119.76", "created")
    assert made["paymentId"] == payment_id and made["amount"] == {"value": "119.76", "currency": "EUR"}
    assert made["description"] == f"Avoir {credited.json()['credit_note']} sur la facture {number}"
    again = shop.run("invoice", "credit", number)
    assert again.code == 2 and len(_mollie_refunds(sandbox)) == 1 and len(_credit_notes(shop, number)) == 1


def test_a_mollie_refund_resumed_after_its_key_expired_is_found_not_made_twice(shop, sandbox):
    """Mollie keeps an idempotency key about an hour: a refund made, then the run killed,
    then resumed two hours later finds the refund among the payment's refunds."""
    number = _invoice(shop, sandbox, "ivy@example.fr")
    _collected_by_mollie(shop, sandbox, number)
    killed = shop.run("invoice", "credit", number, env={"CRMPAY_TEST_KILL_AT": "after_create:refund"})
    assert killed.code == -signal.SIGKILL and len(_mollie_refunds(sandbox)) == 1
    sandbox.advance(2 / 24)
    resumed = shop.run("invoice", "credit", number, "--json")
    assert resumed.code == 0, resumed.stderr
    [made] = _mollie_refunds(sandbox)
    assert [r["id"] for r in resumed.json()["refunds"]] == [made["id"]]


def test_a_refund_the_provider_refuses_leaves_the_credit_note_issued_and_says_how_to_retry(shop, sandbox):
    number = _invoice(shop, sandbox)
    payment_id = _collected_by_gocardless(shop, sandbox, number)
    # the payment fails late at GoCardless; crmpay has not synced since: it still counts it paid
    client = gocardless_pro.Client(access_token=shop.env["CRMPAY_GOCARDLESS_ACCESS_TOKEN"], base_url=sandbox.url)
    client.scenario_simulators.run("payment_late_failure", params={"links": {"resource": payment_id}})
    refused = shop.run("invoice", "credit", number)
    assert refused.code == 1
    assert "refund_payment_invalid_state" in refused.stderr and "is issued" in refused.stderr
    assert f"run `crmpay invoices credit {number}` again to retry it" in refused.stderr
    [(note, total, _)] = _credit_notes(shop, number)
    assert total == 11976 and _gc_refunds(sandbox) == []
    assert _refund_rows(shop, number) == [("gocardless", 11976, "failed", 1)]
    # a rerun tries the refund again (a new attempt), and issues no second credit note
    again = shop.run("invoice", "credit", number, "--json")
    assert again.code == 1 and again.json()["resumed"] is True and again.json()["credit_note"] == note
    assert _refund_rows(shop, number) == [("gocardless", 11976, "failed", 2)]
    # given up: to be refunded another way
    given_up = shop.run("invoice", "credit", number, "--no-refund", "--json")
    assert given_up.code == 0, given_up.stderr
    assert [r["status"] for r in given_up.json()["refunds"]] == ["dropped"]
    assert _refund_rows(shop, number) == [("gocardless", 11976, "dropped", 2)]
    assert len(_credit_notes(shop, number)) == 1 and _gc_refunds(sandbox) == []


def test_a_refund_interrupted_by_the_provider_is_finished_by_the_rerun(shop, sandbox):
    number = _invoice(shop, sandbox)
    _collected_by_gocardless(shop, sandbox, number)
    creditor = f"{sandbox.url}/__sandbox/gocardless/creditor"
    assert httpx.put(creditor, json={"can_create_refunds": False}).status_code == 200
    denied = shop.run("invoice", "credit", number)
    assert denied.code == 4 and "is not finished" in denied.stderr and "never made twice" in denied.stderr
    assert _refund_rows(shop, number) == [("gocardless", 11976, "pending", 1)]
    assert httpx.put(creditor, json={"can_create_refunds": True}).status_code == 200
    finished = shop.run("invoice", "credit", number, "--json")
    assert finished.code == 0, finished.stderr
    assert [r["status"] for r in finished.json()["refunds"]] == ["created"]
    assert len(_gc_refunds(sandbox)) == 1 and len(_credit_notes(shop, number)) == 1


def test_no_refund_and_dry_run_move_no_money(shop, sandbox):
    number = _invoice(shop, sandbox)
    payment_id = _collected_by_gocardless(shop, sandbox, number)
    httpx.delete(f"{sandbox.url}/__sandbox/stats")
    dry = shop.run("invoice", "credit", number, "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    assert [(r["provider"], r["payment_id"], r["amount"], r["status"]) for r in dry.json()["refunds"]] == [
        ("gocardless", payment_id, "119.76", "would_refund")
    ]
    assert _credit_notes(shop, number) == [] and _refund_rows(shop, number) == []
    text = shop.run("invoice", "credit", number, "--dry-run")
    assert text.code == 0 and f"would refund 119.76 EUR through gocardless (payment {payment_id})" in text.stderr
    kept = shop.run("invoice", "credit", number, "--line", "Remise;1;10;20", "--no-refund", "--json")
    assert kept.code == 0, kept.stderr
    assert [(r["amount"], r["status"]) for r in kept.json()["refunds"]] == [("12.00", "dropped")]
    assert any("--no-refund" in note for note in kept.json()["notes"])
    requests = httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]
    assert not any("refunds" in route for route in requests) and _gc_refunds(sandbox) == []
    # a later credit refunds only its own part: the 12.00 was refunded another way
    later = shop.run("invoice", "credit", number, "--line", "Geste;1;5;20", "--json")
    assert later.code == 0, later.stderr
    assert [r["amount"] for r in _gc_refunds(sandbox)] == [600]
