"""`crmpay invoice send` and `payment cancel` against the sandbox, SMTP sink included."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

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
    # the pre-notification names the reference the customer signed and the creditor's SEPA
    # identifier (no creditor_id configured: the GoCardless creditor's own)
    assert mandate.reference and mandate.reference in mail["body"] and mandate.id not in mail["body"]
    assert "FR72ZZZ123456" in mail["body"]
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


# -- money safety (issue 15) ----------------------------------------------------------------------
def _mollie(sandbox):
    from crmpay.providers.mollie import MollieProvider

    return MollieProvider(
        sandbox.credentials()["mollie"]["api_key"], environment="local", base_url=sandbox.url, retry_policy=FAST
    )


def _mollie_mandate(sandbox, email, *, signed, key="mm"):
    mollie = _mollie(sandbox)
    customer = mollie.create_customer(NewCustomer(email, "Ivy Roe"), idempotency_key=f"{key}-c")
    return mollie.create_mandate(
        NewMandate(
            customer.id, "Ivy Roe", "FR1420041010050500013M02606", reference=f"RUM-{key}", signature_date=signed
        ),
        idempotency_key=f"{key}-m",
    )


def _pdf_text(mail, name):
    import base64
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(base64.b64decode(mail["files"][name])))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_a_manual_payment_beside_a_live_debit_is_refused_and_the_debit_takes_what_remains(shop, sandbox):
    _customer_with_mandate(sandbox, "jo@example.fr", key="jo")
    assert shop.run("sync").code == 0
    number = _invoice(shop, "jo@example.fr")  # 119.76 EUR
    # 20.00 by cheque first: the debit then collects only the 99.76 left
    first = shop.run(
        "payment",
        "record",
        number,
        "--amount",
        "20.00",
        "--method",
        "cheque",
        "--received-on",
        clock.today().isoformat(),
    )
    assert first.code == 0, first.stderr
    sent = shop.run("invoice", "send", number, "--no-email", "--json")
    assert sent.code == 0, sent.stderr
    assert sent.json()["amount"] == "99.76"
    [payment] = _payments_for(sandbox, number)
    assert payment["amount"] == 9976
    # the rest by cheque as well would make the customer pay twice
    twice = shop.run(
        "payment",
        "record",
        number,
        "--amount",
        "99.76",
        "--method",
        "cheque",
        "--received-on",
        clock.today().isoformat(),
    )
    assert twice.code == 1
    assert "already has a direct debit of 99.76" in twice.stderr and f"payments cancel {payment['id']}" in twice.stderr
    assert shop.run("invoice", "show", number, "--json").json()["amount_paid"] == "20.00"
    # once the debit is cancelled, the cheque is accepted
    assert shop.run("payment", "cancel", payment["id"]).code == 0
    assert (
        shop.run(
            "payment",
            "record",
            number,
            "--amount",
            "99.76",
            "--method",
            "cheque",
            "--received-on",
            clock.today().isoformat(),
        ).code
        == 0
    )
    assert shop.run("invoice", "show", number, "--json").json()["status"] == "paid"


def test_the_debit_is_pre_notified_with_the_umr_and_creditor_id_and_the_pdf_agrees(shop, sandbox):
    crmpay_env = shop
    assert crmpay_env.run("config", "set", "creditor_id", "FR72ZZZ123456").code == 0
    gc = _gc(sandbox)
    customer = gc.create_customer(NewCustomer("kim@example.fr", "Kim Li"), idempotency_key="kim-c")
    mandate = gc.create_mandate(
        NewMandate(customer.id, "Kim Li", "FR1420041010050500013M02606", reference="RUM-KIM-0001"),
        idempotency_key="kim-m",
    )
    assert shop.run("sync").code == 0
    due_soon = (clock.today() + timedelta(days=3)).isoformat()  # due before the notice period ends
    created = shop.run(
        "invoice", "create", "--customer", "kim@example.fr", "--line", "Audit;1;100;20", "--due", due_soon, "--json"
    )
    number = created.json()["number"]
    dry = shop.run("invoice", "send", number, "--dry-run", "--json").json()
    sent = shop.run("invoice", "send", number, "--json")
    assert sent.code == 0, sent.stderr
    result = sent.json()
    notice_ends = (clock.today() + timedelta(days=14)).isoformat()
    assert result["charge_date"] >= notice_ends > due_soon  # 14 days of notice, not the due date
    assert dry["charge_date"] == result["charge_date"] and dry["amount"] == result["amount"]
    [payment] = _payments_for(sandbox, number)
    assert payment["charge_date"] == result["charge_date"]
    [mail] = _mail(sandbox)
    assert "RUM-KIM-0001" in mail["body"] and mandate.id not in mail["body"]
    assert "FR72ZZZ123456" in mail["body"] and result["charge_date"] in mail["body"] and "120,00 EUR" in mail["body"]
    pdf = _pdf_text(mail, f"{number}.pdf")
    assert "RUM-KIM-0001" in pdf and result["charge_date"] in pdf and "FR72ZZZ123456" in pdf
    listed = shop.run("mandates", "list", "--json").json()
    [row] = [m for m in listed if m["id"] == mandate.id]
    assert row["last_collection_date"] == result["charge_date"]  # the 36 months start again


def test_a_lapsed_mandate_is_never_charged(shop, sandbox):
    from crmpay.core.sepa import add_months

    signed = add_months(clock.today(), -36) + timedelta(days=5)  # lapses in five days
    mandate = _mollie_mandate(sandbox, "ivy@example.fr", signed=signed)
    assert shop.run("sync").code == 0
    number = _invoice(shop, "ivy@example.fr")
    forced = shop.run("invoice", "send", number, "--mandate", mandate.id, "--no-email")
    assert forced.code == 1 and "lapsed on" in forced.stderr and "36 months" in forced.stderr
    sent = shop.run("invoice", "send", number, "--no-email", "--json")
    assert sent.code == 0, sent.stderr
    assert sent.json()["action"] == "setup_link"  # a new mandate is needed
    assert any("lapsed on" in note for note in sent.json()["notes"])
    assert [p for p in sandbox.services["mollie"].objects["payments"].values() if p.get("mandateId")] == []


def test_a_mollie_debit_is_created_on_its_day_never_before_the_notified_date(shop, sandbox):
    mandate = _mollie_mandate(sandbox, "lou@example.fr", signed=clock.today(), key="lou")
    assert shop.run("sync").code == 0
    number = _invoice(shop, "lou@example.fr")  # due in 20 days
    dry = shop.run("invoice", "send", number, "--no-email", "--dry-run", "--json").json()
    sent = shop.run("invoice", "send", number, "--no-email", "--json")
    assert sent.code == 0, sent.stderr
    result = sent.json()
    assert (dry["charge_date"], dry["scheduled_for"]) == (result["charge_date"], result["scheduled_for"])
    assert result["charge_date"] >= _due() and result["scheduled_for"] < result["charge_date"]
    assert result["payment_id"] is None

    def debits():
        return [p for p in sandbox.services["mollie"].objects["payments"].values() if p.get("mandateId") == mandate.id]

    assert shop.run("invoice", "collect", "--json").json() == [] and debits() == []  # not yet
    again = shop.run("invoice", "send", number, "--no-email")
    assert again.code == 1 and "already has a debit scheduled" in again.stderr
    sandbox.advance_to(date.fromisoformat(result["scheduled_for"]))
    collected = shop.run("invoice", "collect", "--json")
    assert collected.code == 0, collected.stderr
    [done] = collected.json()
    [debit] = debits()
    assert done["payment_id"] == debit["id"] and debit["details"]["dueDate"] <= result["charge_date"]
    assert debit["amount"] == {"value": "119.76", "currency": "EUR"}
    assert shop.run("invoice", "collect", "--json").json() == [] and len(debits()) == 1  # once


def test_a_completed_setup_link_is_collected_by_the_next_send(shop, sandbox):
    number = _invoice(shop, "max@example.fr")
    link = shop.run("invoice", "send", number, "--provider", "gocardless", "--no-email", "--json").json()
    assert link["action"] == "setup_link"
    assert shop.run("invoice", "show", number, "--json").json()["status"] == "awaiting_mandate"
    form = {"account_holder_name": "Max", "iban": "DE89370400440532013000"}
    assert httpx.post(link["setup_link"], data=form).status_code == 200
    # no sync, no --new-attempt: the send reads the completed link and collects
    paid = shop.run("invoice", "send", number, "--no-email", "--json")
    assert paid.code == 0, paid.stderr
    assert paid.json()["action"] == "payment" and paid.json()["attempt"] == 2
    assert len(_payments_for(sandbox, number)) == 1
    assert shop.run("invoice", "show", number, "--json").json()["status"] == "pending"


def test_a_currency_no_direct_debit_scheme_collects_is_refused(shop, sandbox):
    number = _invoice(shop, "yui@example.jp", currency="JPY")
    sent = shop.run("invoice", "send", number, "--provider", "gocardless", "--no-email")
    assert sent.code == 1 and "cannot collect JPY by direct debit" in sent.stderr
    assert shop.run("invoice", "show", number, "--json").json()["status"] == "unpaid"


def test_a_mollie_create_resumed_after_its_key_expired_finds_the_payment_instead_of_a_second(shop, sandbox):
    """Mollie forgets an idempotency key after an hour: a create killed after Mollie made
    the payment and resumed two hours later must find that payment, not make another."""
    mandate = _mollie_mandate(sandbox, "ned@example.fr", signed=clock.today(), key="ned")
    assert shop.run("sync").code == 0
    number = _invoice(shop, "ned@example.fr")
    scheduled = shop.run("invoice", "send", number, "--no-email", "--json").json()["scheduled_for"]
    sandbox.advance_to(date.fromisoformat(scheduled))
    killed = shop.run("invoice", "collect", env={"CRMPAY_TEST_KILL_AT": "after_create:payment"})
    assert killed.code == -signal.SIGKILL

    def debits():
        return [p for p in sandbox.services["mollie"].objects["payments"].values() if p.get("mandateId") == mandate.id]

    assert len(debits()) == 1
    sandbox.advance(2 / 24)  # two hours: the key is gone from Mollie's cache
    resumed = shop.run("invoice", "collect", "--json")
    assert resumed.code == 0, resumed.stderr
    [done] = resumed.json()
    [debit] = debits()
    assert done["payment_id"] == debit["id"]
    assert shop.run("invoice", "collect", "--json").json() == []


def test_the_customers_mandates_are_listed_again_before_a_debit(shop, sandbox):
    """A mandate revoked and another added at Mollie since the last sync: the send sees
    both changes (no sync in between) and never charges the revoked one."""
    old = _mollie_mandate(sandbox, "ola@example.fr", signed=clock.today(), key="ola")
    assert shop.run("sync").code == 0
    key = sandbox.credentials()["mollie"]["api_key"]
    revoked = httpx.delete(
        f"{sandbox.url}/v2/customers/{old.customer_id}/mandates/{old.id}", headers={"Authorization": f"Bearer {key}"}
    )
    assert revoked.status_code == 204
    new = _mollie(sandbox).create_mandate(
        NewMandate(
            old.customer_id, "Ola", "DE89370400440532013000", reference="RUM-OLA-2", signature_date=clock.today()
        ),
        idempotency_key="ola-m2",
    )
    number = _invoice(shop, "ola@example.fr")
    sent = shop.run("invoice", "send", number, "--no-email", "--json")
    assert sent.code == 0, sent.stderr
    assert sent.json()["mandate_id"] == new.id and sent.json()["mandate_reference"] == "RUM-OLA-2"
    listed = {m["id"]: m for m in shop.run("mandates", "list", "--json").json()}
    assert listed[old.id]["status"] == "invalid" and listed[new.id]["status"] == "valid"


def test_a_scheduled_debit_whose_notice_was_not_sent_gets_it_on_the_rerun(shop, sandbox):
    """Killed after the Mollie debit was scheduled, before its pre-notification went out:
    the rerun sends that notice (same amount, date and mandate), and schedules nothing new."""
    _mollie_mandate(sandbox, "pia@example.fr", signed=clock.today(), key="pia")
    assert shop.run("sync").code == 0
    number = _invoice(shop, "pia@example.fr")
    smtp = sandbox.credentials()["smtp"]
    # an SMTP server that cannot be reached: the debit is scheduled, the email fails
    assert shop.run("config", "set", "smtp.port", "1").code == 0
    failed = shop.run("invoice", "send", number, "--json")
    assert failed.code == 5, failed.stderr
    assert _mail(sandbox) == []
    assert shop.run("config", "set", "smtp.port", str(smtp["port"])).code == 0
    again = shop.run("invoice", "send", number, "--json")
    assert again.code == 0, again.stderr
    result = again.json()
    assert result["resumed"] and result["scheduled_for"] and result["payment_id"] is None
    assert result["mandate_reference"] == "RUM-pia" and result["amount"] == "119.76"
    [mail] = _mail(sandbox)
    assert "RUM-pia" in mail["body"] and result["charge_date"] in mail["body"]
    assert shop.run("invoice", "send", number).code == 1  # done: a third run refuses
