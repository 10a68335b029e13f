"""Mollie's 409 "Another request with this Idempotency-Key is already being processed".

The sandbox answers it (`POST /__sandbox/mollie/idempotency/conflicts`) while it processes
the first request with the key, as Mollie does; crmpay asks again with the same key a few
times, then exits 5 (a temporary failure: DESIGN.md's exit code for "safe to retry later")
leaving the intent pending, and the rerun resumes it with that key: one payment at Mollie
whatever happens.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

import _paths
from crmpay.core import clock
from crmpay.core.errors import TemporaryError
from crmpay.core.models import NewCustomer, NewMandate, NewPayment
from crmpay.core.money import Money
from crmpay.providers import mollie as mp
from crmpay.retry import RetryPolicy

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
IBAN = "FR1420041010050500013M02606"
TRIES = mp.IN_PROGRESS.attempts  # POSTs one run makes while Mollie answers 409


def _provider(sandbox) -> mp.MollieProvider:
    return mp.MollieProvider(
        sandbox.credentials()["mollie"]["api_key"],
        environment="local",
        base_url=sandbox.url,
        retry_policy=FAST,
        in_progress_policy=RetryPolicy(attempts=TRIES, base_delay=0.001, max_delay=0.01),
    )


def _conflicts(sandbox, count: int, key: str | None = None) -> None:
    armed = httpx.post(f"{sandbox.url}/__sandbox/mollie/idempotency/conflicts", json={"count": count, "key": key})
    assert armed.status_code == 200, armed.text


def _posts(sandbox) -> int:
    return sandbox.stats_snapshot()["requests"].get("POST /v2/payments", 0)


def _payments(sandbox, number: str) -> list[dict]:
    mollie = sandbox.services["mollie"]
    return [p for p in mollie.objects["payments"].values() if (p["metadata"] or {}).get("invoice") == number]


def _payment_keys(sandbox) -> dict[str, str]:
    """Idempotency key -> the payment id the sandbox answers it with."""
    mollie = sandbox.services["mollie"]
    keys = {}
    for key, (_, response, _when) in mollie.idempotency.items():
        body = json.loads(response.body)
        if body.get("resource") == "payment":
            keys[key] = body["id"]
    return keys


def test_the_sandbox_answers_409_in_mollies_shape_while_the_first_request_is_processed(sandbox):
    provider = _provider(sandbox)
    customer = provider.create_customer(NewCustomer("ann@example.fr", "Ann"), idempotency_key="c")
    mandate = provider.create_mandate(NewMandate(customer.id, "Ann", IBAN), idempotency_key="m")
    key = sandbox.credentials()["mollie"]["api_key"]
    body = {
        "amount": {"currency": "EUR", "value": "10.00"},
        "description": "x",
        "sequenceType": "recurring",
        "customerId": customer.id,
        "mandateId": mandate.id,
    }
    _conflicts(sandbox, 2, "k-1")
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {key}"}) as http:
        answers = [http.post("/v2/payments", json=body, headers={"Idempotency-Key": "k-1"}) for _ in range(3)]
        other = http.post("/v2/payments", json=body, headers={"Idempotency-Key": "k-2"})  # another key: not armed
    fixture = json.loads((_paths.FIXTURES / "mollie" / "conflict_error.json").read_text())
    assert [a.status_code for a in answers] == [409, 409, 201]
    assert answers[0].json() == fixture and answers[0].headers["content-type"] == "application/hal+json"
    # the first request was processed: the third is its replay, one payment for the key
    assert answers[2].headers.get("Idempotent-Replayed") == "true"
    assert other.status_code == 201 and other.json()["id"] != answers[2].json()["id"]
    assert len(sandbox.services["mollie"].objects["payments"]) == 2
    assert httpx.post(f"{sandbox.url}/__sandbox/mollie/idempotency/conflicts", json={"count": -1}).status_code == 400


def test_the_provider_asks_again_with_the_same_key_then_gives_a_temporary_error(sandbox):
    provider = _provider(sandbox)
    customer = provider.create_customer(NewCustomer("bo@example.fr", "Bo"), idempotency_key="c")
    mandate = provider.create_mandate(NewMandate(customer.id, "Bo", IBAN), idempotency_key="m")
    new = NewPayment(mandate.id, Money(Decimal("12.50"), "EUR"), "INV-1", customer_id=customer.id)
    _conflicts(sandbox, TRIES - 1)  # any key: absorbed by the retries
    made = provider.create_payment(new, idempotency_key="pay-1")
    assert _posts(sandbox) == TRIES and _payment_keys(sandbox) == {"pay-1": made.id}
    _conflicts(sandbox, TRIES)  # as many as the retries: still in progress
    with pytest.raises(TemporaryError) as raised:
        provider.create_payment(new, idempotency_key="pay-2")
    assert raised.value.exit_code == 5 and "already being processed" in str(raised.value)
    assert "same command again" in str(raised.value) and _posts(sandbox) == 2 * TRIES
    again = provider.create_payment(new, idempotency_key="pay-2")  # the pending one, same key
    assert len(sandbox.services["mollie"].objects["payments"]) == 2
    assert _payment_keys(sandbox) == {"pay-1": made.id, "pay-2": again.id}


# -- through `crmpay invoice send` -------------------------------------------------------------------
@pytest.fixture
def shop(crmpay_env, sandbox):
    key = sandbox.credentials()["mollie"]["api_key"]
    connected = crmpay_env.run(
        "connect", "mollie", "--environment", "local", "--base-url", sandbox.url, env={"CRMPAY_MOLLIE_API_KEY": key}
    )
    assert connected.code == 0, connected.stderr
    crmpay_env.run("config", "set", "seller.name", "Acme SAS")
    provider = _provider(sandbox)
    customer = provider.create_customer(NewCustomer("ann@example.fr", "Ann Lee"), idempotency_key="c")
    provider.create_mandate(NewMandate(customer.id, "Ann Lee", IBAN), idempotency_key="m")
    assert crmpay_env.run("sync").code == 0
    return crmpay_env


def _invoice(env) -> str:
    created = env.run(
        "invoice", "create", "--customer", "ann@example.fr", "--name", "Ann Lee",
        "--line", "Maintenance;2;49.90;20", "--due", clock.today().isoformat(), "--json",
    )  # fmt: skip
    assert created.code == 0, created.stderr
    return created.json()["number"]


def _debit(env, sandbox, number: str) -> tuple[tuple[str, ...], Any]:
    """`invoice send`, and when it schedules the Mollie debit (Mollie debits a payment as
    soon as it is created, so it is created a few working days before the pre-notified
    date), `invoice collect` on that day: the command that POSTs the payment, and its result."""
    send = ("invoice", "send", number, "--no-email", "--json")
    sent = env.run(*send)
    scheduled = sent.code == 0 and sent.json().get("scheduled_for")
    if not scheduled:
        return send, sent
    sandbox.advance_to(date.fromisoformat(scheduled))
    collect = ("invoice", "collect", "--json")
    return collect, env.run(*collect)


def _intents(env, number: str) -> list[tuple[str, str]]:
    with sqlite3.connect(env.home / "profiles" / "default" / "crmpay.sqlite3") as db:
        query = "SELECT key, status FROM intents WHERE subject = ? AND kind = 'payment'"
        return db.execute(query, (number,)).fetchall()


def test_a_debit_still_in_progress_exits_5_and_the_rerun_resumes_the_same_key(shop, sandbox):
    number = _invoice(shop)
    _conflicts(sandbox, TRIES + 2)  # more than one run asks for: the first run gives up
    command, first = _debit(shop, sandbox, number)
    assert first.code == 5, first.stderr
    assert "already being processed" in first.stderr and "same command again" in first.stderr
    [(key, status)] = _intents(shop, number)
    assert status in ("pending", "scheduled")  # not failed: no --new-attempt, no new key
    # Mollie processed the first request: the payment exists, under our key only
    [payment] = _payments(sandbox, number)
    assert _posts(sandbox) == TRIES and _payment_keys(sandbox) == {key: payment["id"]}
    again = shop.run(*command)  # two more 409s, absorbed, then the first request's answer
    assert again.code == 0, again.stderr
    assert _payments(sandbox, number) == [payment] and _payment_keys(sandbox) == {key: payment["id"]}
    assert payment["id"] in again.stdout and _posts(sandbox) == TRIES + 3
    assert _intents(shop, number) == [(key, "succeeded")]


def test_a_debit_whose_409s_the_retry_absorbs_is_created_at_once(shop, sandbox):
    number = _invoice(shop)
    _conflicts(sandbox, TRIES - 1)
    _, sent = _debit(shop, sandbox, number)
    assert sent.code == 0, sent.stderr
    [payment] = _payments(sandbox, number)
    [(key, status)] = _intents(shop, number)
    assert status == "succeeded" and _payment_keys(sandbox) == {key: payment["id"]}
    assert payment["id"] in sent.stdout and _posts(sandbox) == TRIES
