"""`crmpay invoice send` and `payment cancel` against the sandbox, SMTP sink included."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest

from crmpay.core import clock
from crmpay.core.models import NewCustomer, NewMandate
from crmpay.providers.gocardless import GoCardlessProvider
from crmpay.retry import RetryPolicy
from crmpay.sandbox import Faults

FAST = RetryPolicy(attempts=8, base_delay=0.001, max_delay=0.01)


def _due() -> str:
    """Twenty days after the sandbox's (pinned) today."""
    return (clock.today() + timedelta(days=20)).isoformat()


@pytest.fixture
def shop(crmpay_env, sandbox):
    creds = sandbox.credentials()
    for name, var, secret in (
        ("gocardless", "CRMPAY_GOCARDLESS_ACCESS_TOKEN", creds["gocardless"]["access_token"]),
        ("mollie", "CRMPAY_MOLLIE_API_KEY", creds["mollie"]["api_key"]),
    ):
        assert (
            crmpay_env.run("connect", name, "--environment", "local", "--base-url", sandbox.url, env={var: secret}).code
            == 0
        )
    smtp = creds["smtp"]
    assert (
        crmpay_env.run(
            "connect",
            "smtp",
            "--host",
            smtp["host"],
            "--port",
            str(smtp["port"]),
            "--security",
            "none",
            "--from",
            "billing@acme.fr",
        ).code
        == 0
    )
    crmpay_env.run("config", "set", "seller.name", "Acme SAS")
    return crmpay_env


def _gc(sandbox):
    return GoCardlessProvider(
        sandbox.credentials()["gocardless"]["access_token"],
        environment="local",
        base_url=sandbox.url,
        retry_policy=FAST,
    )


def _customer_with_mandate(sandbox, email, iban="FR1420041010050500013M02606", key="k"):
    gc = _gc(sandbox)
    customer = gc.create_customer(NewCustomer(email, "Ann Lee"), idempotency_key=f"{key}-c")
    return gc.create_mandate(NewMandate(customer.id, "Ann Lee", iban), idempotency_key=f"{key}-m")


def _invoice(env, email, currency="EUR"):
    created = env.run(
        "invoice",
        "create",
        "--customer",
        email,
        "--name",
        "Ann Lee",
        "--line",
        "Maintenance;2;49.90;20",
        "--due",
        _due(),
        "--currency",
        currency,
        "--json",
    )
    assert created.code == 0, created.stderr
    return created.json()["number"]


def _payments_for(sandbox, number):
    service = sandbox.services["gocardless"]
    return [p for p in service.objects["payments"].values() if p["metadata"].get("invoice") == number]


def _mail(sandbox):
    return httpx.get(f"{sandbox.url}/__sandbox/mail").json()


def test_send_with_the_only_mandate_collects_once_and_emails(shop, sandbox):
    mandate = _customer_with_mandate(sandbox, "ann@example.fr")
    assert shop.run("sync").code == 0
    number = _invoice(shop, "ann@example.fr")
    dry = shop.run("invoice", "send", number, "--dry-run", "--json")
    assert dry.code == 0 and dry.json()["payment_id"] is None and _payments_for(sandbox, number) == []
    sent = shop.run("invoice", "send", number, "--json")
    assert sent.code == 0, sent.stderr
    result = sent.json()
    assert result["action"] == "payment" and result["mandate_id"] == mandate.id
    [payment] = _payments_for(sandbox, number)
    assert payment["amount"] == 11976 and payment["currency"] == "EUR"
    assert payment["charge_date"] >= _due() and payment["links"]["mandate"] == mandate.id
    [mail] = _mail(sandbox)
    assert mail["to"] == ["ann@example.fr"] and mail["attachments"] == [f"{number}.pdf"]
    assert "RUM" not in mail["subject"] and payment["charge_date"] in mail["body"]
    again = shop.run("invoice", "send", number)
    assert again.code == 1 and f"already has payment {payment['id']}" in again.stderr
    assert len(_payments_for(sandbox, number)) == 1
    assert shop.run("invoice", "show", number, "--json").json()["status"] == "pending"


def test_send_without_a_mandate_emails_a_link_then_uses_the_new_mandate(shop, sandbox):
    number = _invoice(shop, "cam@example.fr")
    sent = shop.run("invoice", "send", number, "--provider", "gocardless", "--json")
    assert sent.code == 0, sent.stderr
    link = sent.json()["setup_link"]
    assert sent.json()["action"] == "setup_link" and link.startswith(sandbox.url)
    assert sent.json()["link_expires_at"]
    [mail] = _mail(sandbox)
    assert link in mail["body"] and mail["attachments"] == [f"{number}.pdf"]
    assert httpx.post(link, data={"account_holder_name": "Cam", "iban": "DE89370400440532013000"}).status_code == 200
    assert shop.run("sync").code == 0
    second = _invoice(shop, "cam@example.fr")
    paid = shop.run("invoice", "send", second, "--no-email", "--json")
    assert paid.code == 0, paid.stderr
    assert paid.json()["action"] == "payment" and len(_payments_for(sandbox, second)) == 1


def test_mollie_link_is_a_first_payment_of_the_invoice(shop, sandbox):
    number = _invoice(shop, "dan@example.fr")
    sent = shop.run("invoice", "send", number, "--provider", "mollie", "--no-email", "--json")
    assert sent.code == 0, sent.stderr
    link = sent.json()["setup_link"]
    assert sent.stdout and link
    assert httpx.post(link, data={"consumerName": "Dan", "consumerAccount": "NL91ABNA0417164300"}).status_code == 200
    assert shop.run("sync").code == 0
    assert shop.run("invoice", "show", number, "--json").json()["status"] == "paid"


def test_currency_mismatch_and_several_mandates_are_refused(shop, sandbox):
    _customer_with_mandate(sandbox, "eve@example.fr", key="e1")
    gbp = _invoice(shop, "eve@example.fr", currency="GBP")
    assert shop.run("sync").code == 0
    mismatch = shop.run("invoice", "send", gbp)
    assert mismatch.code == 2 and "is in GBP but mandate" in mismatch.stderr and "collects EUR" in mismatch.stderr
    gc = _gc(sandbox)
    customer_id = sandbox.services["gocardless"].objects["mandates"][
        next(iter(sandbox.services["gocardless"].objects["mandates"]))
    ]["links"]["customer"]
    gc.create_mandate(NewMandate(customer_id, "Eve", "DE89370400440532013000"), idempotency_key="e2")
    assert shop.run("sync").code == 0
    eur = _invoice(shop, "eve@example.fr")
    several = shop.run("invoice", "send", eur)
    assert several.code == 2 and "several usable mandates" in several.stderr and "--mandate" in several.stderr
    assert _payments_for(sandbox, eur) == []


def test_cancel_early_and_refuse_late(shop, sandbox):
    _customer_with_mandate(sandbox, "fay@example.fr")
    assert shop.run("sync").code == 0
    first, second = _invoice(shop, "fay@example.fr"), _invoice(shop, "fay@example.fr")
    p1 = shop.run("invoice", "send", first, "--no-email", "--json").json()["payment_id"]
    cancelled = shop.run("payment", "cancel", p1, "--json")
    assert cancelled.code == 0 and cancelled.json()["status"] == "cancelled"
    assert shop.run("invoice", "show", first, "--json").json()["status"] == "unpaid"
    again = shop.run("invoice", "send", first, "--no-email", "--new-attempt", "--json")
    assert again.code == 0 and again.json()["attempt"] == 2
    p2 = shop.run("invoice", "send", second, "--no-email", "--json").json()["payment_id"]
    for _ in range(40):
        sandbox.advance(1)
        if sandbox.services["gocardless"].objects["payments"][p2]["status"] != "pending_submission":
            break
    late = shop.run("payment", "cancel", p2)
    assert late.code == 1
    assert f"payment {p2} is submitted" in late.stderr and "can no longer be cancelled" in late.stderr


@pytest.mark.parametrize("step", ["after_intent:payment", "after_create:payment", "after_record:payment"])
def test_killed_at_each_step_then_rerun_charges_exactly_once(shop, sandbox, step):
    _customer_with_mandate(sandbox, "gus@example.fr")
    assert shop.run("sync").code == 0
    number = _invoice(shop, "gus@example.fr")
    killed = shop.run("invoice", "send", number, "--no-email", env={"CRMPAY_TEST_KILL_AT": step})
    assert killed.code == -signal.SIGKILL
    rerun = shop.run("invoice", "send", number, "--no-email", "--json")
    if step == "after_record:payment":  # it had finished: the rerun refuses, nothing new
        assert rerun.code == 1 and "already has payment" in rerun.stderr
    else:
        assert rerun.code == 0, rerun.stderr
    assert len(_payments_for(sandbox, number)) == 1
    assert shop.run("invoice", "show", number, "--json").json()["status"] == "pending"


@pytest.mark.slow
def test_killed_at_random_moments_thirty_times(shop, sandbox):
    _customer_with_mandate(sandbox, "hal@example.fr")
    assert shop.run("sync").code == 0
    rng = random.Random(11)
    sandbox.set_faults(Faults(delay_ms=30))  # slow enough that kills land mid-request
    try:
        for _ in range(30):
            number = _invoice(shop, "hal@example.fr")
            proc = subprocess.Popen(
                [sys.executable, "-m", "crmpay", "invoice", "send", number, "--no-email"],
                env=shop.environ,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.2, 1.2))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            shop.run("invoice", "send", number, "--no-email")
            assert len(_payments_for(sandbox, number)) == 1, number
            assert shop.run("invoice", "show", number, "--json").json()["status"] == "pending"
    finally:
        sandbox.set_faults(Faults())
