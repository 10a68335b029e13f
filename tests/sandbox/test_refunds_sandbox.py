"""Refunds in the GoCardless and Mollie simulators, over real HTTP through the official SDKs:
what the real services refuse is refused with their error shapes (docs/fidelity.md, "Refunds")."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import gocardless_pro
import httpx
import pytest
from gocardless_pro import errors as gc_errors
from mollie.api import error as mollie_errors
from mollie.api.client import Client

import _paths

FR = "FR1420041010050500013M02606"


# -- GoCardless -------------------------------------------------------------------------------------
@pytest.fixture
def gc(sandbox) -> gocardless_pro.Client:
    return gocardless_pro.Client(access_token=sandbox.credentials()["gocardless"]["access_token"], base_url=sandbox.url)


@pytest.fixture
def http(sandbox):
    token = sandbox.credentials()["gocardless"]["access_token"]
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def _payment(gc, amount: int = 10000):
    customer = gc.customers.create(params={"email": "ann@example.fr", "given_name": "Ann", "family_name": "Lee"})
    account = gc.customer_bank_accounts.create(
        params={"account_holder_name": "Ann Lee", "iban": FR, "links": {"customer": customer.id}}
    )
    mandate = gc.mandates.create(params={"links": {"customer_bank_account": account.id}})
    return gc.payments.create(params={"amount": amount, "currency": "EUR", "links": {"mandate": mandate.id}})


def _refund(gc, payment_id: str, amount: int, total: int, key: str | None = None, **extra: Any):
    params = {"amount": amount, "total_amount_confirmation": total, "links": {"payment": payment_id}, **extra}
    return gc.refunds.create(params=params, headers={"Idempotency-Key": key} if key else None)


def _reason(exc: gc_errors.ApiError) -> str:
    return exc.errors[0]["reason"]


def test_gocardless_refunds_only_confirmed_or_paid_out_payments(sandbox, gc):
    payment = _payment(gc)
    with pytest.raises(gc_errors.InvalidStateError) as early:
        _refund(gc, payment.id, 1000, 1000)
    assert _reason(early.value) == "refund_payment_invalid_state" and early.value.code == 422
    assert "pending_submission" in early.value.message
    sandbox.advance_to(date.fromisoformat(payment.charge_date))
    assert gc.payments.get(payment.id).status == "confirmed"
    refund = _refund(gc, payment.id, 1000, 1000, reference="Avoir AV-1", metadata={"credit_note": "AV-1"})
    assert (refund.amount, refund.currency, refund.status) == (1000, "EUR", "created")
    assert refund.links.payment == payment.id and refund.metadata == {"credit_note": "AV-1"}
    assert gc.payments.get(payment.id).amount_refunded == 1000
    events = gc.events.list(params={"resource_type": "refunds"}).records
    assert [(e.action, e.links.refund, e.details.cause) for e in events] == [("created", refund.id, "payment_refunded")]


def test_gocardless_total_amount_confirmation_and_what_is_left(sandbox, gc):
    payment = _payment(gc, 10000)
    sandbox.advance_to(date.fromisoformat(payment.charge_date))
    with pytest.raises(gc_errors.ValidationFailedError) as missing:
        gc.refunds.create(params={"amount": 100, "links": {"payment": payment.id}})
    assert missing.value.errors[0]["field"] == "total_amount_confirmation"
    _refund(gc, payment.id, 3000, 3000)
    with pytest.raises(gc_errors.InvalidStateError) as unaware:  # does not know of the first refund
        _refund(gc, payment.id, 2000, 2000)
    assert _reason(unaware.value) == "total_amount_confirmation_invalid"
    with pytest.raises(gc_errors.InvalidStateError) as too_much:
        _refund(gc, payment.id, 7001, 10001)
    assert _reason(too_much.value) == "available_refund_amount_insufficient"
    assert gc.payments.get(payment.id).amount_refunded == 3000  # nothing refused was counted
    _refund(gc, payment.id, 7000, 10000)  # the rest, exactly
    assert gc.payments.get(payment.id).amount_refunded == 10000
    listed = gc.refunds.list(params={"payment": payment.id}).records
    assert [r.amount for r in listed] == [7000, 3000]  # newest first


def test_gocardless_at_most_five_refunds_a_payment(sandbox, gc):
    payment = _payment(gc, 10000)
    sandbox.advance_to(date.fromisoformat(payment.charge_date))
    for i in range(1, 6):
        _refund(gc, payment.id, 100, 100 * i)
    with pytest.raises(gc_errors.InvalidStateError) as sixth:
        _refund(gc, payment.id, 100, 600)
    assert _reason(sixth.value) == "number_of_refunds_exceeded"


def test_gocardless_idempotency_key_replay_answers_the_same_refund(sandbox, gc, http):
    payment = _payment(gc)
    sandbox.advance_to(date.fromisoformat(payment.charge_date))
    first = _refund(gc, payment.id, 500, 500, key="refund-key")
    again = _refund(gc, payment.id, 500, 500, key="refund-key")  # the SDK reads the one made
    assert again.id == first.id and gc.payments.get(payment.id).amount_refunded == 500
    raw = http.post(
        "/refunds",
        json={"refunds": {"amount": 500, "total_amount_confirmation": 500, "links": {"payment": payment.id}}},
        headers={"Idempotency-Key": "refund-key"},
    )
    assert raw.status_code == 409
    [error] = raw.json()["error"]["errors"]
    assert error["reason"] == "idempotent_creation_conflict"
    assert error["links"]["conflicting_resource_id"] == first.id
    assert len(sandbox.services["gocardless"].objects["refunds"]) == 1


def test_gocardless_refunds_need_the_creditor_to_be_allowed(sandbox, gc):
    payment = _payment(gc)
    sandbox.advance_to(date.fromisoformat(payment.charge_date))
    off = httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"can_create_refunds": False})
    assert off.status_code == 200 and gc.creditors.list().records[0].can_create_refunds is False
    with pytest.raises(gc_errors.PermissionsError) as refused:
        _refund(gc, payment.id, 100, 100)
    assert refused.value.code == 403 and _reason(refused.value) == "insufficient_permissions"
    assert (
        httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"can_create_refunds": "yes"}).status_code == 400
    )


def test_gocardless_refund_shapes_have_the_fixture_keys(sandbox, gc, http):
    payment = _payment(gc)
    sandbox.advance_to(date.fromisoformat(payment.charge_date))
    created = http.post(
        "/refunds",
        json={"refunds": {"amount": 150, "total_amount_confirmation": 150, "links": {"payment": payment.id}}},
    )
    assert created.status_code == 201
    fixture = json.loads((_paths.FIXTURES / "gocardless" / "refunds.json").read_text())
    ident = created.json()["refunds"]["id"]
    answers = {
        "create": created.json(),
        "get": http.get(f"/refunds/{ident}").json(),
        "list": http.get("/refunds").json(),
        "update": http.put(f"/refunds/{ident}", json={"refunds": {"metadata": {"k": "v"}}}).json(),
    }
    for action, body in answers.items():
        assert _missing(fixture[action]["body"], body) == [], action
    assert answers["update"]["refunds"]["metadata"] == {"k": "v"}


def _missing(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Keys of GoCardless's own fixture that the sandbox's answer lacks."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [path or "."]
        return [
            miss
            for key, value in expected.items()
            for miss in ([f"{path}.{key}"] if key not in actual else _missing(value, actual[key], f"{path}.{key}"))
        ]
    if isinstance(expected, list) and expected and isinstance(actual, list) and actual:
        return _missing(expected[0], actual[0], f"{path}[0]")
    return []


# -- Mollie -------------------------------------------------------------------------------------------
def _mollie_payment(sandbox, mollie: Client, value: str = "30.00"):
    customer = mollie.customers.create({"name": "Ann Lee", "email": "ann@example.fr"})
    customer.mandates.create(
        {"method": "directdebit", "consumerName": "Ann Lee", "consumerAccount": FR, "signatureDate": "2024-01-01"}
    )
    payment = mollie.payments.create(
        {
            "amount": {"currency": "EUR", "value": value},
            "description": "INV-1",
            "sequenceType": "recurring",
            "customerId": customer.id,
        }
    )
    return payment


def _paid(sandbox, mollie: Client, payment_id: str):
    forced = httpx.post(f"{sandbox.url}/__sandbox/mollie/payments/{payment_id}/status", json={"status": "paid"})
    assert forced.status_code == 200
    return mollie.payments.get(payment_id)


def test_mollie_refunds_only_paid_payments_within_what_remains(sandbox, mollie):
    payment = _mollie_payment(sandbox, mollie)
    with pytest.raises(mollie_errors.UnprocessableEntityError, match="cannot be refunded"):
        payment.refunds.create({"amount": {"currency": "EUR", "value": "1.00"}})
    payment = _paid(sandbox, mollie, payment.id)
    with pytest.raises(mollie_errors.UnprocessableEntityError) as currency:
        payment.refunds.create({"amount": {"currency": "GBP", "value": "1.00"}})
    assert currency.value.field == "amount.currency"
    with pytest.raises(mollie_errors.UnprocessableEntityError) as description:
        payment.refunds.create({"amount": {"currency": "EUR", "value": "1.00"}, "description": "x" * 141})
    assert description.value.field == "description"
    payment.refunds.create({"amount": {"currency": "EUR", "value": "25.00"}})
    with pytest.raises(mollie_errors.UnprocessableEntityError) as beyond:
        payment.refunds.create({"amount": {"currency": "EUR", "value": "5.01"}})
    assert beyond.value.status == 422 and beyond.value.field == "amount"
    assert mollie.payments.get(payment.id)["amountRemaining"] == {"value": "5.00", "currency": "EUR"}


def test_mollie_idempotency_key_replays_the_same_refund(sandbox, mollie):
    payment = _paid(sandbox, mollie, _mollie_payment(sandbox, mollie).id)
    body = {"amount": {"currency": "EUR", "value": "10.00"}, "description": "Avoir AV-1", "metadata": {"n": "AV-1"}}
    first = payment.refunds.create(body, idempotency_key="refund-key")
    again = payment.refunds.create(body, idempotency_key="refund-key")
    assert again.id == first.id and first.metadata == {"n": "AV-1"}
    assert len(sandbox.services["mollie"].objects["refunds"]) == 1
    assert mollie.payments.get(payment.id)["amountRefunded"]["value"] == "10.00"


def test_mollie_refuses_a_duplicate_refund_within_the_hour(sandbox, mollie):
    payment = _paid(sandbox, mollie, _mollie_payment(sandbox, mollie).id)
    payment.refunds.create({"amount": {"currency": "EUR", "value": "10.00"}}, idempotency_key="one")
    with pytest.raises(mollie_errors.ConflictError) as duplicate:
        payment.refunds.create({"amount": {"currency": "EUR", "value": "10.00"}}, idempotency_key="two")
    assert duplicate.value.status == 409 and str(duplicate.value) == "A duplicate refund has been detected"
    payment.refunds.create({"amount": {"currency": "EUR", "value": "5.00"}})  # another amount: fine
    sandbox.advance(61 / (24 * 60))
    payment.refunds.create({"amount": {"currency": "EUR", "value": "10.00"}}, idempotency_key="three")
    assert len(sandbox.services["mollie"].objects["refunds"]) == 3
