"""The Mollie simulator, driven through the official mollie-api-python SDK over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from mollie.api import error
from mollie.api.client import Client
from mollie.api.objects.customer import Customer
from mollie.api.resources.mandates import CustomerMandates

from crmpay.sandbox import Faults

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "mollie"


@pytest.fixture
def mollie(sandbox):
    client = Client()
    client.set_api_key(sandbox.credentials()["mollie"]["api_key"])
    client.set_api_endpoint(sandbox.url)
    return client


def _customer_with_mandate(mollie, email="ann@example.fr"):
    customer = mollie.customers.create({"name": "Ann Lee", "email": email})
    mandates = CustomerMandates(mollie, Customer({"id": customer.id}, mollie))
    mandate = mandates.create(
        {
            "method": "directdebit",
            "consumerName": "Ann Lee",
            "consumerAccount": "NL55INGB0000000000",
            "signatureDate": "2024-01-01",
            "mandateReference": f"RUM-{customer.id}",
        }
    )
    return customer, mandates, mandate


def _recurring(mollie, customer, value="49.90", key=""):
    return mollie.payments.create(
        {
            "amount": {"currency": "EUR", "value": value},
            "description": "INV-1",
            "sequenceType": "recurring",
            "customerId": customer.id,
            "metadata": {"invoice": "INV-1"},
        },
        idempotency_key=key,
    )


def test_recurring_direct_debit_pending_then_paid(sandbox, mollie):
    customer, _, mandate = _customer_with_mandate(mollie)
    assert mandate.status == "valid" and mandate["details"]["consumerAccount"] == "NL55INGB0000000000"
    payment = _recurring(mollie, customer)
    assert payment.status == "pending" and payment.is_cancelable and payment.mandate_id == mandate.id
    for _ in range(8):
        sandbox.advance(1)
    paid = mollie.payments.get(payment.id)
    assert paid.status == "paid" and "isCancelable" not in paid and paid["paidAt"]


def test_cancel_before_and_after_the_bank_has_it(sandbox, mollie):
    customer, _, _ = _customer_with_mandate(mollie)
    early = _recurring(mollie, customer)
    assert mollie.payments.delete(early.id)["status"] == "canceled"
    late = _recurring(mollie, customer, "10.00")
    sandbox.advance(3)
    assert mollie.payments.get(late.id).status == "pending"
    with pytest.raises(error.UnprocessableEntityError) as err:
        mollie.payments.delete(late.id)
    assert str(err.value) == "The payment cannot be cancelled" and err.value.status == 422


def test_first_payment_paid_on_checkout_creates_a_mandate(sandbox, mollie):
    customer = mollie.customers.create({"name": "Cam", "email": "cam@example.fr"})
    first = mollie.payments.create(
        {
            "amount": {"currency": "EUR", "value": "120.00"},
            "description": "INV-2",
            "sequenceType": "first",
            "customerId": customer.id,
            "redirectUrl": "https://shop.example/thanks",
        }
    )
    assert first.status == "open" and first.checkout_url.startswith(sandbox.url)
    assert httpx.get(first.checkout_url).status_code == 200
    paid = httpx.post(
        first.checkout_url, data={"consumerName": "Cam Martin", "consumerAccount": "DE89370400440532013000"}
    )
    assert paid.status_code == 200
    after = mollie.payments.get(first.id)
    assert after.status == "paid" and after.mandate_id
    mandates = CustomerMandates(mollie, Customer({"id": customer.id}, mollie))
    assert mandates.get(after.mandate_id).status == "valid"
    assert _recurring(mollie, customer).mandate_id == after.mandate_id


def test_idempotent_replays(sandbox, mollie):
    customer, _, _ = _customer_with_mandate(mollie)
    first = _recurring(mollie, customer, key="inv-1:1")
    again = _recurring(mollie, customer, key="inv-1:1")
    assert again.id == first.id
    stats = httpx.get(f"{sandbox.url}/__sandbox/stats").json()
    assert stats["mollie_objects"]["payments"] == 1
    with pytest.raises(error.BadRequestError, match="already been used"):
        _recurring(mollie, customer, value="1.00", key="inv-1:1")


def test_pagination_past_one_page(sandbox, mollie):
    service = sandbox.services["mollie"]
    with sandbox.lock:
        for i in range(600):
            service._store(
                "customers",
                {"resource": "customer", "id": sandbox.ids.next("cst_"), "name": f"C{i}", "email": f"c{i}@example.fr"},
            )
    page = mollie.customers.list(limit=250)
    seen, pages = [c.id for c in page], 1
    while page.has_next():
        page = page.get_next()
        seen += [c.id for c in page]
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 600
    assert seen[0] > seen[-1]  # newest first
    with pytest.raises(error.BadRequestError):
        mollie.customers.list(limit=251)


def test_each_error_type_raises_the_sdks_own_class(sandbox, mollie):
    with pytest.raises(error.UnprocessableEntityError) as bad_amount:
        mollie.payments.create(
            {"amount": {"currency": "EUR", "value": "16.1"}, "description": "x", "redirectUrl": "https://x.example"}
        )
    assert bad_amount.value.field == "amount.value"
    with pytest.raises(error.NotFoundError):
        mollie.customers.get("cst_doesnotexist")
    wrong = Client()
    wrong.set_api_key("test_wrongwrongwrong")
    wrong.set_api_endpoint(sandbox.url)
    with pytest.raises(error.UnauthorizedError):
        wrong.customers.list()
    for faults, status in ((Faults(rate_limit_rate=1.0), 429), (Faults(error_rate=1.0), 500)):
        sandbox.set_faults(faults)
        with pytest.raises(error.ResponseError) as err:
            mollie.customers.list()
        assert err.value.status == status
    sandbox.set_faults(Faults())


def test_forced_outcomes_and_refunds(sandbox, mollie):
    customer, _, _ = _customer_with_mandate(mollie)
    payment = _recurring(mollie, customer)
    forced = httpx.post(
        f"{sandbox.url}/__sandbox/mollie/payments/{payment.id}/status", json={"status": "charged_back"}
    ).json()
    assert forced["status"] == "paid" and forced["amountChargedBack"]["value"] == "49.90"
    auth = {"Authorization": f"Bearer {sandbox.credentials()['mollie']['api_key']}"}
    refund = httpx.post(
        f"{sandbox.url}/v2/payments/{payment.id}/refunds",
        headers=auth,
        json={"amount": {"currency": "EUR", "value": "10.00"}, "description": "goodwill"},
    )
    assert refund.status_code == 201 and refund.json()["status"] == "pending"
    listed = httpx.get(f"{sandbox.url}/v2/refunds", headers=auth).json()
    assert [r["id"] for r in listed["_embedded"]["refunds"]] == [refund.json()["id"]]
    unpaid = _recurring(mollie, customer, "3.00")
    refused = httpx.post(f"{sandbox.url}/v2/payments/{unpaid.id}/refunds", headers=auth, json={})
    assert refused.status_code == 422 and refused.json()["status"] == 422


def _missing_keys(fixture, ours, path=""):
    missing = []
    for key, value in fixture.items():
        if key not in ours:
            missing.append(f"{path}{key}")
        elif isinstance(value, dict) and isinstance(ours[key], dict) and key != "metadata":
            missing += _missing_keys(value, ours[key], f"{path}{key}.")
    return missing


def test_every_fixture_key_is_in_the_sandbox_response(sandbox, mollie):
    customer, mandates, mandate = _customer_with_mandate(mollie)
    payment = _recurring(mollie, customer)
    canceled = mollie.payments.delete(payment.id)
    link = mollie.payment_links.create({"amount": {"currency": "EUR", "value": "24.95"}, "description": "Tyres"})
    listing = httpx.get(
        f"{sandbox.url}/v2/customers", headers={"Authorization": f"Bearer {sandbox.credentials()['mollie']['api_key']}"}
    ).json()
    pairs = {
        "customer_single": dict(mollie.customers.get(customer.id)),
        "customer_mandate_single": dict(mandate),
        "payment_canceled": dict(canceled),
        "payment_link_single": dict(link),
        "customers_list_first": listing,
    }
    report = {}
    for name, ours in pairs.items():
        fixture = json.loads((FIXTURES / f"{name}.json").read_text())
        if name == "customers_list_first":
            fixture = {k: v for k, v in fixture.items() if k != "_embedded"}
            report_list = _missing_keys(
                json.loads((FIXTURES / f"{name}.json").read_text())["_embedded"]["customers"][0],
                ours["_embedded"]["customers"][0],
            )
            if report_list:
                report["customers_list_first._embedded"] = report_list
        missing = _missing_keys(fixture, ours)
        if missing:
            report[name] = missing
    single = json.loads((FIXTURES / "payment_single.json").read_text())
    recurring = dict(mollie.payments.get(_recurring(mollie, customer, "2.00").id))
    # links to objects a plain recurring payment does not have (order, subscription,
    # settlement, captures…) are the fixture's placeholders, not fields we owe
    missing = [
        k
        for k in _missing_keys(single, recurring)
        if not k.startswith("_links.") or k in ("_links.self", "_links.documentation")
    ]
    if missing:
        report["payment_single"] = missing
    assert report == {}, json.dumps(report)
