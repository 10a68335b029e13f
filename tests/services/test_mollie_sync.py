"""`crmpay sync` with Mollie: chargebacks, open payments read by walking the list, mandates
changed outside crmpay seen within the re-check bound, and what each run costs in requests
(counted by the sandbox, `/__sandbox/stats`)."""

from __future__ import annotations

import math
import sqlite3
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from crmpay.core import clock
from crmpay.core.models import NewCustomer, NewMandate, NewPayment
from crmpay.core.money import Money
from crmpay.providers.mollie import MollieProvider
from crmpay.retry import RetryPolicy
from crmpay.services.sync.mollie import MANDATE_RECHECK

FAST = RetryPolicy(attempts=8, base_delay=0.001, max_delay=0.01)
IBANS = ["FR1420041010050500013M02606", "DE89370400440532013000", "BE68539007547034", "NL91ABNA0417164300"]


@pytest.fixture
def env(crmpay_env, sandbox):
    key = sandbox.credentials()["mollie"]["api_key"]
    connected = crmpay_env.run(
        "connect", "mollie", "--environment", "local", "--base-url", sandbox.url, env={"CRMPAY_MOLLIE_API_KEY": key}
    )
    assert connected.code == 0, connected.stderr
    return crmpay_env


def _mollie(sandbox) -> MollieProvider:
    creds = sandbox.credentials()["mollie"]
    return MollieProvider(creds["api_key"], environment="local", base_url=sandbox.url, retry_policy=FAST)


def _customers(mollie: MollieProvider, n: int) -> list[tuple[Any, Any]]:
    made = []
    for i in range(n):
        customer = mollie.create_customer(NewCustomer(f"c{i}@example.fr", f"Client {i}"), idempotency_key=f"c{i}")
        mandate = mollie.create_mandate(NewMandate(customer.id, f"Client {i}", IBANS[i % 4]), idempotency_key=f"m{i}")
        made.append((customer, mandate))
    return made


def _pay(mollie: MollieProvider, customer, mandate, key: str, value: str = "10.00"):
    new = NewPayment(mandate.id, Money(Decimal(value), "EUR"), key, customer_id=customer.id)
    return mollie.create_payment(new, idempotency_key=key)


def _requests(sandbox) -> dict[str, int]:
    counted = httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]
    return {route: n for route, n in counted.items() if route.split(" ")[1].startswith("/v2")}


def _reset_stats(sandbox) -> None:
    httpx.delete(f"{sandbox.url}/__sandbox/stats")


def _sync(env, *args: str) -> dict[str, Any]:
    result = env.run("sync", "--provider", "mollie", "--json", *args)
    assert result.code == 0, result.stderr
    [report] = result.json()["providers"]
    return report


def _db(env) -> sqlite3.Connection:
    return sqlite3.connect(env.home / "profiles" / "default" / "crmpay.sqlite3")


def _mandate_statuses(env) -> dict[str, str]:
    with _db(env) as db:
        return dict(db.execute("SELECT provider_id, status FROM mandates WHERE provider = 'mollie'"))


# -- chargebacks ------------------------------------------------------------------------------------------
def _debit_invoice(env, sandbox) -> tuple[str, str]:
    """An invoice collected by a Mollie direct debit (sent, and created on its day when
    `invoice send` schedules it): its number and the payment id."""
    env.run("config", "set", "seller.name", "Acme SAS")
    mollie = _mollie(sandbox)
    customer = mollie.create_customer(NewCustomer("ann@example.fr", "Ann Lee"), idempotency_key="c")
    mollie.create_mandate(NewMandate(customer.id, "Ann Lee", IBANS[0]), idempotency_key="m")
    _sync(env)
    created = env.run(
        "invoice", "create", "--customer", "ann@example.fr", "--name", "Ann Lee",
        "--line", "Maintenance;2;49.90;20", "--due", clock.today().isoformat(), "--json",
    )  # fmt: skip
    assert created.code == 0, created.stderr
    number = created.json()["number"]
    sent = env.run("invoice", "send", number, "--no-email", "--json")
    assert sent.code == 0, sent.stderr
    if sent.json().get("scheduled_for"):
        sandbox.advance_to(date.fromisoformat(sent.json()["scheduled_for"]))
        collected = env.run("invoice", "collect", "--json")
        assert collected.code == 0, collected.stderr
    [payment] = [
        p for p in sandbox.services["mollie"].objects["payments"].values() if (p["metadata"] or {}).get("invoice")
    ]
    return number, payment["id"]


def test_a_chargeback_moves_the_paid_invoice_back_to_unpaid(env, sandbox):
    number, payment_id = _debit_invoice(env, sandbox)
    sandbox.advance(10)  # sent to the bank, then paid
    assert sandbox.services["mollie"].objects["payments"][payment_id]["status"] == "paid"
    report = _sync(env)
    assert report["mode"] == "incremental" and number in report["invoices_updated"]
    assert env.run("invoice", "show", number, "--json").json()["status"] == "paid"

    charged = httpx.post(
        f"{sandbox.url}/__sandbox/mollie/payments/{payment_id}/chargeback",
        json={"reason": {"code": "MD06", "description": "Return of funds requested by end customer"}},
    )
    assert charged.status_code == 201, charged.text
    chargeback = charged.json()
    _reset_stats(sandbox)
    report = _sync(env)
    assert number in report["invoices_updated"]
    requests = _requests(sandbox)
    assert requests["GET /v2/chargebacks"] == 1 and requests["GET /v2/payments/{id}"] == 1  # that payment only
    shown = env.run("invoice", "show", number, "--json").json()
    assert shown["status"] == "unpaid"
    with _db(env) as db:
        reason = db.execute("SELECT status_reason FROM invoices WHERE number = ?", (number,)).fetchone()[0]
    assert reason and payment_id in reason and "charged_back" in reason
    [listed] = [p for p in env.run("payments", "list", "--json").json() if p["id"] == payment_id]
    assert listed["state"] == "charged_back" and listed["status"] == "paid"  # Mollie's status, verbatim
    # the cursor moved: the next run reads the chargeback list once and no payment again
    _reset_stats(sandbox)
    report = _sync(env)
    assert report["invoices_updated"] == [] and "GET /v2/payments/{id}" not in _requests(sandbox)
    with _db(env) as db:
        cursor = db.execute("SELECT cursor FROM sync_state WHERE provider = 'mollie' AND resource = 'chargebacks'")
        assert cursor.fetchone()[0] == chargeback["id"]


# -- open payments: one listing walk, not one GET each ------------------------------------------------------
def test_open_payments_are_read_by_walking_the_newest_first_list(env, sandbox):
    mollie = _mollie(sandbox)
    [(customer, mandate)] = _customers(mollie, 1)
    for j in range(260):  # all pending (open): 260 > one page of 250
        _pay(mollie, customer, mandate, f"p{j}")
    first = _sync(env)
    assert first["mode"] == "full" and first["resources"]["payments"]["new"] == 260
    _reset_stats(sandbox)
    _sync(env)
    requests = _requests(sandbox)
    assert requests["GET /v2/payments"] == math.ceil(260 / 250) and "GET /v2/payments/{id}" not in requests
    assert sum(requests.values()) <= 3 + math.ceil(260 / 250)  # customers, payments, chargebacks
    sandbox.advance(10)  # every one paid
    _reset_stats(sandbox)
    report = _sync(env)
    assert report["resources"]["payments"]["updated"] == 260
    assert _requests(sandbox)["GET /v2/payments"] == 2 and "GET /v2/payments/{id}" not in _requests(sandbox)
    _reset_stats(sandbox)
    _sync(env)  # nothing open any more: one page, down to the newest known payment
    assert _requests(sandbox)["GET /v2/payments"] == 1


def test_a_new_payment_and_a_changed_one_have_their_customers_mandates_read_again(env, sandbox):
    mollie = _mollie(sandbox)
    made = _customers(mollie, 3)
    _sync(env)
    _pay(mollie, *made[1], "new-payment")
    _reset_stats(sandbox)
    report = _sync(env)
    assert report["resources"]["payments"]["new"] == 1
    requests = _requests(sandbox)
    assert requests["GET /v2/customers/{id}/mandates"] == 1  # made[1]'s, for its activity
    assert sum(requests.values()) == 4  # customers, payments, chargebacks, that customer's mandates


# -- mandates changed outside crmpay --------------------------------------------------------------------------
def test_mandates_added_or_revoked_outside_crmpay_are_seen_within_the_recheck_bound(env, sandbox):
    mollie = _mollie(sandbox)
    made = _customers(mollie, 4)
    _sync(env)
    added = mollie.create_mandate(NewMandate(made[1][0].id, "Client 1", IBANS[2]), idempotency_key="extra")
    revoked = made[3][1]
    key = sandbox.credentials()["mollie"]["api_key"]
    gone = httpx.delete(
        f"{sandbox.url}/v2/customers/{made[3][0].id}/mandates/{revoked.id}", headers={"Authorization": f"Bearer {key}"}
    )
    assert gone.status_code == 204
    # no time has passed: no customer is due a re-check, the run costs its three listings
    _reset_stats(sandbox)
    _sync(env)
    assert sum(_requests(sandbox).values()) == 3 and added.id not in _mandate_statuses(env)
    # half of MANDATE_RECHECK later: half the customers (in id order) are read again
    sandbox.advance(MANDATE_RECHECK / timedelta(days=1) / 2)
    _reset_stats(sandbox)
    report = _sync(env)
    assert _requests(sandbox)["GET /v2/customers/{id}/mandates"] == 2
    assert report["resources"]["mandates"]["new"] == 1 and _mandate_statuses(env)[added.id] == "valid"
    assert _mandate_statuses(env)[revoked.id] == "valid"  # its customer's turn has not come yet
    # the other half: within MANDATE_RECHECK of the change, every customer was read again
    sandbox.advance(MANDATE_RECHECK / timedelta(days=1) / 2)
    _reset_stats(sandbox)
    report = _sync(env)
    assert _requests(sandbox)["GET /v2/customers/{id}/mandates"] == 2
    assert report["resources"]["mandates"]["updated"] == 1 and _mandate_statuses(env)[revoked.id] == "invalid"
    with _db(env) as db:
        accounts = {r[0] for r in db.execute("SELECT provider_id FROM bank_accounts WHERE provider = 'mollie'")}
    assert added.id in accounts  # its bank account, read from the mandate's details


def test_first_sync_costs_one_request_per_customer_and_pages_of_250(env, sandbox):
    mollie = _mollie(sandbox)
    made = _customers(mollie, 3)
    for j in range(4):
        _pay(mollie, *made[j % 3], f"p{j}")
    _reset_stats(sandbox)
    assert _sync(env)["mode"] == "full"
    requests = _requests(sandbox)
    assert requests == {
        "GET /v2/chargebacks": 1,
        "GET /v2/customers": 1,
        "GET /v2/customers/{id}/mandates": 3,
        "GET /v2/payments": 1,
    }
    customers, payments = 3, 4
    assert sum(requests.values()) / (customers + math.ceil(payments / 250) + math.ceil(customers / 250)) <= 1.25
