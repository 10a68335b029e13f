"""GoCardless chargebacks and late failures after an invoice was paid (issue 15).

The whole way over real HTTP: the invoice is sent by GoCardless, the sandbox clock runs
until the payment is paid out, `crmpay sync` marks the invoice paid; then the sandbox's
scenario simulator charges it back (or fails it late), and the next incremental sync (by
events) puts the invoice back to unpaid, says why, shows the payment's new state in
`payments list` and pushes both to Zoho CRM.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import gocardless_pro
import httpx
import pytest

from crmpay.core.calendar import add_working_days
from crmpay.core.models import NewCustomer, NewMandate
from crmpay.providers.gocardless import GoCardlessProvider
from crmpay.retry import RetryPolicy

IBAN = "FR1420041010050500013M02606"
OUTCOMES = {  # scenario -> (payment status, crmpay state, the end of the invoice's reason)
    "payment_charged_back": ("charged_back", "charged_back", ""),
    "payment_chargeback_settled": ("charged_back", "charged_back", ""),
    "payment_late_failure": ("failed", "failed", " after it was paid (late failure)"),
    "payment_late_failure_settled": ("failed", "failed", " after it was paid (late failure)"),
}


@pytest.fixture
def shop(crmpay_env, sandbox):
    """GoCardless and Zoho CRM connected, a seller named, Ann with an active SEPA mandate."""
    token = sandbox.credentials()["gocardless"]["access_token"]
    crmpay_env.env["CRMPAY_GOCARDLESS_ACCESS_TOKEN"] = token
    assert crmpay_env.run("connect", "gocardless", "--environment", "local", "--base-url", sandbox.url).code == 0
    crmpay_env.connect_zoho(sandbox)
    crmpay_env.run("config", "set", "seller.name", "Acme SAS")
    gc = GoCardlessProvider(
        token, environment="local", base_url=sandbox.url, retry_policy=RetryPolicy(attempts=3, base_delay=0.001)
    )
    customer = gc.create_customer(NewCustomer("ann@example.fr", "Ann Lee"), idempotency_key="c")
    gc.create_mandate(NewMandate(customer.id, "Ann Lee", IBAN), idempotency_key="m")
    assert crmpay_env.run("sync").code == 0
    return crmpay_env


def _sdk(sandbox) -> gocardless_pro.Client:
    return gocardless_pro.Client(access_token=sandbox.credentials()["gocardless"]["access_token"], base_url=sandbox.url)


def _local_invoice(env, sandbox) -> str:
    due = (sandbox.clock.today() + timedelta(days=20)).isoformat()
    line = "Maintenance;2;49.90;20"  # 119.76 incl. VAT
    created = env.run("invoice", "create", "--customer", "ann@example.fr", "--line", line, "--due", due, "--json")
    assert created.code == 0, created.stderr
    return created.json()["number"]


def _zoho_invoice(sandbox, number: str = "INV-77") -> str:
    """An invoice that lives in Zoho CRM (its Status is written back); its Zoho id."""
    base = f"{sandbox.url}/__sandbox/zoho/records"
    contact = httpx.post(
        f"{base}/Contacts", json={"data": [{"Last_Name": "Lee", "First_Name": "Ann", "Email": "ann@example.fr"}]}
    ).json()["ids"][0]
    today = sandbox.clock.today()
    record = {
        "Subject": "Maintenance",
        "Invoice_Number": number,
        "Contact_Name": {"id": contact},
        "Invoice_Date": today.isoformat(),
        "Due_Date": (today + timedelta(days=20)).isoformat(),
        "Currency": "EUR",
        "Status": "Created",
        "Invoiced_Items": [{"Product_Name": {"name": "Maintenance"}, "Quantity": 2, "List_Price": 49.9, "Tax": 19.96}],
    }
    return httpx.post(f"{base}/Invoices", json={"data": [record]}).json()["ids"][0]


def _send_and_get_paid(env, sandbox, number: str) -> str:
    """`invoice send`, the clock until GoCardless pays it out, `sync`: the invoice is paid."""
    sent = env.run("invoice", "send", number, "--no-email", "--json")
    assert sent.code == 0, sent.stderr
    payment_id, charge = sent.json()["payment_id"], date.fromisoformat(sent.json()["charge_date"])
    sandbox.advance_to(add_working_days(charge, 2))
    assert sandbox.services["gocardless"].objects["payments"][payment_id]["status"] == "paid_out"
    synced = env.run("sync", "--json")
    assert synced.code == 0, synced.stderr
    assert number in synced.json()["providers"][0]["invoices_updated"]
    shown = env.run("invoice", "show", number, "--json").json()
    assert shown["status"] == "paid" and shown["paid_on"] == charge.isoformat()
    return payment_id


def _reason(env, number: str) -> str | None:
    with sqlite3.connect(env.home / "profiles" / "default" / "crmpay.sqlite3") as db:
        return db.execute("SELECT status_reason FROM invoices WHERE number = ?", (number,)).fetchone()[0]


def _crm_payment(sandbox, payment_id: str) -> dict:
    records = sandbox.services["zoho"].records["CRMPAY_Payments"].values()
    [record] = [r for r in records if r["Name"] == f"gocardless {payment_id}"]
    return record


@pytest.mark.parametrize("scenario", sorted(OUTCOMES))
def test_a_paid_invoice_goes_back_to_unpaid_with_its_reason(shop, sandbox, scenario):
    status, state, late = OUTCOMES[scenario]
    number = _local_invoice(shop, sandbox)
    payment_id = _send_and_get_paid(shop, sandbox, number)
    assert _crm_payment(sandbox, payment_id)["Status"] == "paid_out"
    sandbox.advance(10)  # weeks after the payout, the customer's bank takes the money back
    _sdk(sandbox).scenario_simulators.run(scenario, params={"links": {"resource": payment_id}})
    synced = shop.run("sync", "--json")
    assert synced.code == 0, synced.stderr
    report = synced.json()["providers"][0]
    assert report["mode"] == "incremental" and report["events"] >= 1  # seen through GoCardless's events
    assert report["invoices_updated"] == [number]
    shown = shop.run("invoice", "show", number, "--json").json()
    assert shown["status"] == "unpaid" and shown["paid_on"] is None
    assert _reason(shop, number) == f"payment {payment_id} {status} on {sandbox.clock.today()}{late}"

    listed = shop.run("payments", "list", "--status", state, "--json").json()
    assert [(p["id"], p["status"], p["state"], p["invoice_number"]) for p in listed] == [
        (payment_id, status, state, number)
    ]
    assert shop.run("payments", "list", "--status", "paid", "--json").json() == []
    table = shop.run("payments", "list", "--status", state.replace("_", "-").upper())
    assert table.code == 0 and payment_id in table.stdout and "state" in table.stdout
    assert _crm_payment(sandbox, payment_id)["Status"] == status  # the CRM shows it too
    again = shop.run("sync", "--json").json()["providers"][0]
    assert again["invoices_updated"] == []  # nothing moves twice


def test_a_zoho_invoice_charged_back_is_unpaid_in_zoho_too(shop, sandbox):
    zoho_id = _zoho_invoice(sandbox)
    invoices = sandbox.services["zoho"].records["Invoices"]
    payment_id = _send_and_get_paid(shop, sandbox, "INV-77")
    assert invoices[zoho_id]["Status"] == "Paid"
    _sdk(sandbox).scenario_simulators.run("payment_charged_back", params={"links": {"resource": payment_id}})
    synced = shop.run("sync", "--json")
    assert synced.code == 0, synced.stderr
    assert "invoice statuses pushed (1 of 1)" in synced.json()["crm"]
    assert invoices[zoho_id]["Status"] == "Unpaid"
    assert _crm_payment(sandbox, payment_id)["Status"] == "charged_back"
    assert shop.run("invoice", "show", "INV-77", "--json").json()["status"] == "unpaid"


def test_money_received_by_hand_keeps_the_invoice_partly_paid(shop, sandbox):
    number = _local_invoice(shop, sandbox)
    today = sandbox.clock.today().isoformat()
    by_hand = shop.run(
        "payment", "record", number, "--amount", "19.76", "--method", "cheque", "--received-on", today, "--json"
    )
    assert by_hand.code == 0 and by_hand.json()["status"] == "partially_paid", by_hand.stderr
    payment_id = _send_and_get_paid(shop, sandbox, number)
    assert sandbox.services["gocardless"].objects["payments"][payment_id]["amount"] == 10000  # what remained
    _sdk(sandbox).scenario_simulators.run("payment_late_failure", params={"links": {"resource": payment_id}})
    assert shop.run("sync").code == 0
    shown = shop.run("invoice", "show", number, "--json").json()
    assert shown["status"] == "partially_paid" and shown["amount_paid"] == "19.76" and shown["paid_on"] is None
    assert _reason(shop, number).startswith(f"payment {payment_id} failed on ")


def test_an_old_attempt_failing_does_not_unpay_an_invoice_another_payment_paid(shop, sandbox):
    number = _local_invoice(shop, sandbox)
    first = shop.run("invoice", "send", number, "--no-email", "--json").json()["payment_id"]
    _sdk(sandbox).scenario_simulators.run("payment_failed", params={"links": {"resource": first}})
    assert shop.run("sync").code == 0 and shop.run("invoice", "show", number, "--json").json()["status"] == "unpaid"
    retry = shop.run("invoice", "send", number, "--no-email", "--new-attempt", "--json")
    assert retry.code == 0, retry.stderr
    _sdk(sandbox).scenario_simulators.run(
        "payment_paid_out", params={"links": {"resource": retry.json()["payment_id"]}}
    )
    full = shop.run("sync", "--full", "--json")  # every payment read again, the failed one too
    assert full.code == 0 and shop.run("invoice", "show", number, "--json").json()["status"] == "paid"
    fresh = shop.home / "profiles" / "default" / "crmpay.sqlite3"
    with sqlite3.connect(fresh) as db:  # a store that learns of both at once, in any order
        db.execute("DELETE FROM payments")
        db.execute("UPDATE invoices SET status = 'pending', paid_on = NULL WHERE number = ?", (number,))
    assert shop.run("sync", "--full").code == 0
    assert shop.run("invoice", "show", number, "--json").json()["status"] == "paid"
