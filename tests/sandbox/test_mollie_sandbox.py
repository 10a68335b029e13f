"""The Mollie simulator over real HTTP, driven through the official mollie-api-python SDK.

Lifecycles, both cancel outcomes, idempotent replays, pagination, every error class the SDK
raises, and the shapes of Mollie's own responses in `tests/fixtures/mollie`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from mollie.api import error
from mollie.api.client import Client
from mollie.api.objects.customer import Customer
from mollie.api.objects.payment import Payment

import _paths
from crmpay.sandbox import Faults
from crmpay.sandbox.clock import add_working_days

FIXTURES = _paths.FIXTURES / "mollie"
IBAN = "NL55INGB0000000000"
DE_IBAN = "DE89370400440532013000"


# -- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def http(sandbox):
    key = sandbox.credentials()["mollie"]["api_key"]
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def _customer(mollie: Client, name: str = "Ann Lee", **extra: Any) -> Customer:
    return mollie.customers.create({"name": name, "email": f"{name.split()[0].lower()}@example.fr", **extra})


def _mandate(customer: Customer, account: str = IBAN, reference: str | None = None):
    body = {
        "method": "directdebit",
        "consumerName": customer.name,
        "consumerAccount": account,
        "consumerBic": "INGBNL2A",
        "signatureDate": "2024-01-01",
    }
    if reference:
        body["mandateReference"] = reference
    return customer.mandates.create(body)


def _recurring(mollie: Client, customer: Customer, value: str = "49.90", key: str = "", **extra: Any) -> Payment:
    body = {
        "amount": {"currency": "EUR", "value": value},
        "description": "INV-1",
        "sequenceType": "recurring",
        "customerId": customer.id,
        "metadata": {"invoice": "INV-1"},
        **extra,
    }
    return mollie.payments.create(body, idempotency_key=key)


def _first(mollie: Client, customer: Customer, value: str = "120.00") -> Payment:
    return mollie.payments.create(
        {
            "amount": {"currency": "EUR", "value": value},
            "description": "INV-2",
            "sequenceType": "first",
            "customerId": customer.id,
            "redirectUrl": "https://shop.example/thanks",
        }
    )


def _force(sandbox, payment_id: str, status: str) -> httpx.Response:
    return httpx.post(f"{sandbox.url}/__sandbox/mollie/payments/{payment_id}/status", json={"status": status})


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _missing(fixture: dict[str, Any], ours: dict[str, Any], path: str = "") -> list[str]:
    """Keys of `fixture` absent from `ours`, recursively through nested objects."""
    missing = []
    for key, value in fixture.items():
        if key not in ours:
            missing.append(f"{path}{key}")
        elif isinstance(value, dict) and isinstance(ours[key], dict) and key != "metadata":
            missing += _missing(value, ours[key], f"{path}{key}.")
    return missing


# -- lifecycles -----------------------------------------------------------------------------------
def test_recurring_direct_debit_is_cancelable_until_sent_then_paid_on_working_days(sandbox, mollie):
    customer = _customer(mollie)
    mandate = _mandate(customer, reference="RUM-ANN-1")
    assert mandate.status == "valid" and mandate.method == "directdebit"
    assert mandate["details"] == {"consumerName": "Ann Lee", "consumerAccount": IBAN, "consumerBic": "INGBNL2A"}
    payment = _recurring(mollie, customer)
    today = sandbox.clock.today()
    sent, paid_on = add_working_days(today, 1), add_working_days(add_working_days(today, 1), 3)
    assert payment.status == "pending" and payment.is_cancelable is True
    assert payment.mandate_id == mandate.id and payment.method == "directdebit"
    assert payment.checkout_url is None and payment["redirectUrl"] is None
    assert payment["details"]["dueDate"] == add_working_days(sent, 1).isoformat()
    assert payment["details"]["mandateReference"] == "RUM-ANN-1"
    assert payment.amount == {"value": "49.90", "currency": "EUR"}
    seen = []
    while True:
        sandbox.advance(1)
        current = mollie.payments.get(payment.id)
        day = sandbox.clock.today()
        seen.append(day)
        if day < sent:
            assert current.status == "pending" and current.is_cancelable is True
        elif day < paid_on:
            assert current.status == "pending" and current.is_cancelable is False
        else:
            break
        assert len(seen) < 20
    assert day == paid_on
    assert current.status == "paid" and "isCancelable" not in current and current["paidAt"]
    assert current["amountRemaining"] == {"value": "49.90", "currency": "EUR"}
    assert current["amountRefunded"] == {"value": "0.00", "currency": "EUR"}


def test_first_payment_paid_on_the_checkout_page_creates_a_valid_mandate(sandbox, mollie):
    customer = _customer(mollie, "Cam Martin")
    first = _first(mollie, customer)
    assert first.status == "open" and first.is_cancelable is False and first.mandate_id is None
    assert first.checkout_url == f"{sandbox.url}/__sandbox/mollie/checkout/{first.id}"
    page = httpx.get(first.checkout_url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'name="consumerName"' in page.text and 'name="consumerAccount"' in page.text
    assert "120.00 EUR" in page.text
    refused = httpx.post(first.checkout_url, data={"consumerName": "Cam Martin", "consumerAccount": "DE00123"})
    assert refused.status_code == 422 and mollie.payments.get(first.id).status == "open"
    paid = httpx.post(first.checkout_url, data={"consumerName": "Cam Martin", "consumerAccount": DE_IBAN})
    assert paid.status_code == 200
    after = mollie.payments.get(first.id)
    assert after.status == "paid" and after["paidAt"] and after.checkout_url is None and after.mandate_id
    mandate = customer.mandates.get(after.mandate_id)
    assert mandate.status == "valid" and mandate.method == "directdebit"
    assert mandate["details"]["consumerName"] == "Cam Martin"
    assert mandate["details"]["consumerAccount"] == DE_IBAN
    assert [m.id for m in customer.mandates.list()] == [mandate.id]
    # the next payment is a recurring one on that mandate, chosen when no mandateId is given
    assert _recurring(mollie, customer).mandate_id == mandate.id
    assert httpx.post(first.checkout_url).status_code == 409  # paid once only


def test_open_payments_cancelled_at_checkout_or_expired_by_the_clock(sandbox, mollie):
    oneoff = {
        "amount": {"currency": "EUR", "value": "15.00"},
        "description": "Shop order",
        "redirectUrl": "https://shop.example/thanks",
    }
    walked_away = mollie.payments.create(oneoff)
    assert walked_away.sequence_type == "oneoff" and walked_away.status == "open"
    assert 'name="consumerAccount"' not in httpx.get(walked_away.checkout_url).text  # one-off: no mandate form
    cancelled = mollie.payments.create(oneoff)
    assert httpx.post(cancelled.checkout_url, data={"action": "cancel"}).status_code == 200
    assert mollie.payments.get(cancelled.id).status == "canceled"
    paid = mollie.payments.create(oneoff)
    httpx.post(paid.checkout_url, data={"consumerName": "Dee"})
    assert mollie.payments.get(paid.id).status == "paid" and mollie.payments.get(paid.id).mandate_id is None
    sandbox.advance(11)
    assert mollie.payments.get(walked_away.id).status == "open"
    sandbox.advance(1)
    expired = mollie.payments.get(walked_away.id)
    assert expired.status == "expired" and expired["expiredAt"] and "isCancelable" not in expired
    assert httpx.get(walked_away.checkout_url).status_code == 409
    assert mollie.payments.get(paid.id).status == "paid"  # final states never move


def test_cancel_before_the_bank_has_it_and_refused_after(sandbox, mollie):
    customer = _customer(mollie)
    _mandate(customer)
    early = _recurring(mollie, customer)
    cancelled = mollie.payments.delete(early.id)
    assert cancelled["status"] == "canceled" and cancelled["canceledAt"] and "isCancelable" not in cancelled
    assert mollie.payments.get(early.id).status == "canceled"
    with pytest.raises(error.UnprocessableEntityError) as twice:
        mollie.payments.delete(early.id)
    assert str(twice.value) == "The payment cannot be cancelled"
    late = _recurring(mollie, customer, "10.00")
    sandbox.advance(1)
    while mollie.payments.get(late.id).is_cancelable:  # a weekend before the bank day
        sandbox.advance(1)
    with pytest.raises(error.UnprocessableEntityError) as refused:
        mollie.payments.delete(late.id)
    assert str(refused.value) == "The payment cannot be cancelled" and refused.value.status == 422
    assert mollie.payments.get(late.id).status == "pending"
    oneoff = mollie.payments.create(
        {"amount": {"currency": "EUR", "value": "1.00"}, "description": "x", "redirectUrl": "https://shop.example/"}
    )
    with pytest.raises(error.UnprocessableEntityError, match="cannot be cancelled"):
        mollie.payments.delete(oneoff.id)


def test_forced_outcomes_through_the_control_route(sandbox, mollie):
    customer = _customer(mollie)
    _mandate(customer)
    failed = _recurring(mollie, customer, "1.00")
    body = _force(sandbox, failed.id, "failed").json()
    assert body["status"] == "failed" and body["failedAt"] and mollie.payments.get(failed.id).status == "failed"
    charged = _recurring(mollie, customer, "2.00")
    forced = _force(sandbox, charged.id, "charged_back").json()
    assert forced["status"] == "paid" and forced["amountChargedBack"] == {"value": "2.00", "currency": "EUR"}
    first = _first(mollie, _customer(mollie, "Eve Stone"))
    assert _force(sandbox, first.id, "paid").json()["mandateId"]  # paid as the customer would: a mandate
    assert _force(sandbox, first.id, "bogus").status_code == 400
    assert _force(sandbox, "tr_unknown", "paid").status_code == 404
    sandbox.advance(10)
    assert mollie.payments.get(failed.id).status == "failed"


# -- customers, mandates, payment links and refunds --------------------------------------------------
def test_customer_update_delete_and_its_mandates(sandbox, mollie, http):
    customer = _customer(mollie, locale="fr_FR", metadata={"crm": "42"})
    assert (customer.locale, customer.metadata) == ("fr_FR", {"crm": "42"})
    updated = mollie.customers.update(customer.id, {"name": "Ann Martin", "email": "ann.martin@example.fr"})
    assert (updated.name, updated.email, updated.locale) == ("Ann Martin", "ann.martin@example.fr", "fr_FR")
    with pytest.raises(error.UnprocessableEntityError) as bad_email:
        mollie.customers.update(customer.id, {"email": "not-an-email"})
    assert bad_email.value.field == "email"
    with pytest.raises(error.UnprocessableEntityError) as bad_locale:
        mollie.customers.create({"name": "X", "locale": "xx_XX"})
    assert bad_locale.value.field == "locale"
    other = _customer(mollie, "Bob Ray")
    mandate = _mandate(customer)
    assert http.delete(f"/v2/customers/{customer.id}").status_code == 204
    with pytest.raises(error.NotFoundError, match=f"No customer exists with token {customer.id}."):
        mollie.customers.get(customer.id)
    assert [c.id for c in mollie.customers.list()] == [other.id]  # the listing skips the deleted one
    assert sandbox.services["mollie"].objects["mandates"][mandate.id]["status"] == "invalid"
    with pytest.raises(error.NotFoundError):
        _recurring(mollie, customer)


def test_mandate_rules_and_revocation(sandbox, mollie):
    customer = _customer(mollie)
    for body, field in (
        ({"method": "creditcard", "consumerName": "A", "consumerAccount": IBAN}, "method"),
        ({"method": "directdebit", "consumerAccount": IBAN}, "consumerName"),
        ({"method": "directdebit", "consumerName": "A", "consumerAccount": "NL55INGB0000000001"}, "consumerAccount"),
        ({"method": "directdebit", "consumerName": "A", "consumerAccount": IBAN, "consumerBic": "??"}, "consumerBic"),
        (
            {"method": "directdebit", "consumerName": "A", "consumerAccount": IBAN, "signatureDate": "2999-01-01"},
            "signatureDate",
        ),
    ):
        with pytest.raises(error.UnprocessableEntityError) as refused:
            customer.mandates.create(body)
        assert refused.value.field == field, body
    kept = _mandate(customer, reference="RUM-1")
    with pytest.raises(error.UnprocessableEntityError) as duplicate:
        _mandate(customer, reference="rum-1")
    assert duplicate.value.field == "mandateReference"
    other = _customer(mollie, "Bob Ray")
    with pytest.raises(error.NotFoundError):
        other.mandates.get(kept.id)  # a mandate is read through its own customer only
    with pytest.raises(error.UnprocessableEntityError) as foreign:
        _recurring(mollie, other, mandateId=kept.id)
    assert foreign.value.field == "mandateId"
    assert customer.mandates.delete(kept.id) == {}  # 204, no body
    assert customer.mandates.get(kept.id).status == "invalid"
    with pytest.raises(error.UnprocessableEntityError) as revoked:
        _recurring(mollie, customer, mandateId=kept.id)
    assert revoked.value.field == "mandateId"
    with pytest.raises(error.UnprocessableEntityError) as none_left:
        _recurring(mollie, customer)
    assert none_left.value.field == "customerId"


def test_listings_under_a_customer_stay_with_that_customer(sandbox, mollie):
    ann, bob = _customer(mollie), _customer(mollie, "Bob Ray")
    _mandate(ann), _mandate(bob)
    mine = [_recurring(mollie, ann, f"{i}.00").id for i in range(1, 6)]
    _recurring(mollie, bob, "9.00")
    via_customer = ann.payments.create(
        {"amount": {"currency": "EUR", "value": "6.00"}, "description": "x", "sequenceType": "recurring"}
    )
    assert via_customer.customer_id == ann.id
    mine.append(via_customer.id)
    page = ann.payments.list(limit=4)
    assert page["_links"]["next"]["href"].startswith(f"{sandbox.url}/v2/customers/{ann.id}/payments?from=")
    listed = [p.id for p in page] + [p.id for p in page.get_next()]
    assert listed == mine[::-1]
    assert [m.id for m in bob.mandates.list()] != [m.id for m in ann.mandates.list()]


def test_payment_links_and_their_page(sandbox, mollie):
    link = mollie.payment_links.create(
        {
            "amount": {"currency": "EUR", "value": "24.95"},
            "description": "Bicycle tyres",
            "redirectUrl": "https://shop.example/",
        }
    )
    assert link.id.startswith("pl_") and link.payment_link == f"{sandbox.url}/__sandbox/mollie/link/{link.id}"
    assert mollie.payment_links.get(link.id)["paidAt"] is None
    assert [x.id for x in mollie.payment_links.list()] == [link.id]
    assert "24.95 EUR" in httpx.get(link.payment_link).text
    assert httpx.post(link.payment_link, data={"consumerName": "Ann"}).status_code == 200
    paid_link = mollie.payment_links.get(link.id)
    assert paid_link["paidAt"]
    payments = list(paid_link.payments.list())
    assert len(payments) == 1 and payments[0].status == "paid" and payments[0].amount["value"] == "24.95"
    assert httpx.post(link.payment_link).status_code == 409  # not reusable
    customer = _customer(mollie)
    setup = mollie.payment_links.create(
        {"description": "Direct debit setup", "sequenceType": "first", "customerId": customer.id}
    )
    assert setup.amount is None and 'name="amount"' in httpx.get(setup.payment_link).text
    assert httpx.post(setup.payment_link, data={"amount": "0.01", "consumerAccount": DE_IBAN}).status_code == 200
    assert [m["details"]["consumerAccount"] for m in customer.mandates.list()] == [DE_IBAN]
    with pytest.raises(error.UnprocessableEntityError) as no_customer:
        mollie.payment_links.create({"description": "x", "sequenceType": "first"})
    assert no_customer.value.field == "customerId"


def test_refunds_of_a_paid_payment(sandbox, mollie):
    customer = _customer(mollie)
    _mandate(customer)
    payment = _recurring(mollie, customer, "30.00")
    with pytest.raises(error.UnprocessableEntityError, match="cannot be refunded"):
        payment.refunds.create({"amount": {"currency": "EUR", "value": "1.00"}})
    _force(sandbox, payment.id, "paid")
    payment = mollie.payments.get(payment.id)
    refund = payment.refunds.create({"amount": {"currency": "EUR", "value": "10.00"}, "description": "goodwill"})
    assert refund.status == "pending" and refund.payment_id == payment.id and refund.amount["value"] == "10.00"
    after = mollie.payments.get(payment.id)
    assert after["amountRemaining"]["value"] == "20.00" and after["amountRefunded"]["value"] == "10.00"
    with pytest.raises(error.UnprocessableEntityError) as too_much:
        payment.refunds.create({"amount": {"currency": "EUR", "value": "20.01"}})
    assert too_much.value.field == "amount"
    rest = payment.refunds.create({})  # no amount: the remainder
    assert rest.amount == {"value": "20.00", "currency": "EUR"}
    assert [r.id for r in payment.refunds.list()] == [rest.id, refund.id]
    assert [r.id for r in mollie.refunds.list()] == [rest.id, refund.id]
    sandbox.advance_to(add_working_days(sandbox.clock.today(), 1))  # refunded the next working day
    assert payment.refunds.get(refund.id).status == "refunded"


def _chargeback(sandbox, payment_id: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{sandbox.url}/__sandbox/mollie/payments/{payment_id}/chargeback", json=body)


def test_chargebacks_of_a_paid_payment_in_mollies_shape(sandbox, mollie):
    """The payment keeps `status: paid` and gains `amountChargedBack` (the sum) and
    `_links.chargebacks`; chargebacks are listed newest first, account-wide and per payment."""
    customer = _customer(mollie)
    _mandate(customer)
    payment = _recurring(mollie, customer, "30.00")
    refused = _chargeback(sandbox, payment.id)
    assert refused.status_code == 422 and "paid" in refused.json()["detail"]  # pending: nothing to take back
    _force(sandbox, payment.id, "paid")
    part = _chargeback(sandbox, payment.id, amount={"currency": "EUR", "value": "10.00"})
    assert part.status_code == 201
    after = mollie.payments.get(payment.id)
    assert after.status == "paid" and after["amountChargedBack"] == {"currency": "EUR", "value": "10.00"}
    assert after.has_chargebacks() and after["_links"]["chargebacks"]["href"].startswith(sandbox.url)
    rest = _chargeback(sandbox, payment.id, reason={"code": "AC04", "description": "Account closed"}).json()
    assert rest["amount"] == {"currency": "EUR", "value": "20.00"} and rest["reason"]["code"] == "AC04"
    assert mollie.payments.get(payment.id)["amountChargedBack"]["value"] == "30.00"
    assert _chargeback(sandbox, payment.id).status_code == 422  # nothing left to charge back
    first = part.json()
    assert first["id"].startswith("chb_") and first["resource"] == "chargeback"
    assert first["settlementAmount"] == {"currency": "EUR", "value": "-10.00"} and first["reversedAt"] is None
    assert first["paymentId"] == payment.id and first["reason"]["code"] == "MD06" and first["createdAt"]
    assert set(first["_links"]) == {"self", "payment", "documentation"}
    # through the SDK: the account's list and the payment's, newest first; one by id
    assert [c.id for c in mollie.chargebacks.list()] == [rest["id"], first["id"]]
    assert [c.id for c in after.chargebacks.list()] == [rest["id"], first["id"]]
    one = after.chargebacks.get(first["id"])
    assert one.payment_id == payment.id and one.amount["value"] == "10.00" and one.reason["code"] == "MD06"
    other = _recurring(mollie, customer, "5.00")
    assert _force(sandbox, other.id, "charged_back").json()["amountChargedBack"]["value"] == "5.00"
    page = mollie.chargebacks.list(limit=2)
    assert [c.payment_id for c in page] == [other.id, payment.id] and page.has_next()
    assert [c.id for c in page.get_next()] == [first["id"]]
    with pytest.raises(error.NotFoundError):
        after.chargebacks.get("chb_unknown00")
    assert _chargeback(sandbox, "tr_unknown").status_code == 404


# -- wire rules -------------------------------------------------------------------------------------
def test_idempotent_replays_create_nothing_new(sandbox, mollie, http):
    customer = _customer(mollie)
    _mandate(customer)
    first = _recurring(mollie, customer, key="inv-1:1")
    again = _recurring(mollie, customer, key="inv-1:1")
    assert again.id == first.id and dict(again) == dict(first)
    assert [p.id for p in mollie.payments.list()] == [first.id]
    with pytest.raises(error.BadRequestError) as reused:
        _recurring(mollie, customer, value="1.00", key="inv-1:1")
    assert str(reused.value) == "This Idempotency-Key has already been used." and reused.value.status == 400
    body = {"name": "Zed", "email": "zed@example.fr"}
    made = http.post("/v2/customers", json=body, headers={"Idempotency-Key": "cst-zed"})
    replay = http.post("/v2/customers", json=body, headers={"Idempotency-Key": "cst-zed"})
    assert made.status_code == replay.status_code == 201
    assert "idempotent-replayed" not in made.headers and replay.headers["idempotent-replayed"] == "true"
    assert replay.content == made.content
    assert sandbox.stats_snapshot()["mollie_objects"]["customers"] == 2
    # a cancel replayed answers the first result, not "cannot be cancelled"
    cancelled = mollie.payments.delete(first.id, idempotency_key="cancel-1")
    assert mollie.payments.delete(first.id, idempotency_key="cancel-1") == cancelled
    # an error is not remembered: the same key may be used again once the request is valid
    bad = {
        "amount": {"currency": "EUR", "value": "16.1"},
        "description": "x",
        "sequenceType": "recurring",
        "customerId": customer.id,
    }
    with pytest.raises(error.UnprocessableEntityError):
        mollie.payments.create(bad, idempotency_key="retry-me")
    good = mollie.payments.create({**bad, "amount": {"currency": "EUR", "value": "16.10"}}, idempotency_key="retry-me")
    assert good.status == "pending"


def test_pagination_follows_next_links_on_the_sandbox_address(sandbox, mollie):
    service = sandbox.services["mollie"]
    with sandbox.lock:
        created = [service.add_customer({"name": f"C{i}", "email": f"c{i}@example.fr"})["id"] for i in range(600)]
    page = mollie.customers.list(limit=250)
    seen, sizes = [c.id for c in page], [page.count]
    while page.has_next():
        href = page["_links"]["next"]["href"]
        assert re.fullmatch(rf"{re.escape(sandbox.url)}/v2/customers\?from=cst_\w+&limit=250", href)
        page = page.get_next()
        seen += [c.id for c in page]
        sizes.append(page.count)
    assert sizes == [250, 250, 100] and page["_links"]["next"] is None
    assert seen == created[::-1]  # newest first, each once
    assert page["_links"]["previous"]["href"].endswith(f"from={created[349]}&limit=250")
    ascending = mollie.customers.list(limit=250, sort="asc")
    assert [c.id for c in ascending][:3] == created[:3]
    assert ascending["_links"]["next"]["href"].endswith(f"from={created[250]}&limit=250&sort=asc")
    middle = mollie.customers.list(limit=5, **{"from": created[300]})
    assert [c.id for c in middle] == created[300:295:-1]
    assert middle["_links"]["previous"]["href"].endswith(f"from={created[305]}&limit=5")
    assert mollie.customers.list(limit=1)["_links"]["previous"] is None
    for bad in ({"limit": 0}, {"limit": 251}, {"limit": "many"}, {"sort": "up"}, {"from": "cst_nope"}):
        with pytest.raises(error.BadRequestError) as refused:
            mollie.customers.list(**bad)
        assert refused.value.status == 400


def test_each_error_is_the_sdks_own_class(sandbox, mollie, http):
    with pytest.raises(error.UnprocessableEntityError) as bad_amount:
        mollie.payments.create(
            {"amount": {"currency": "EUR", "value": "16.1"}, "description": "x", "redirectUrl": "https://x.example"}
        )
    assert bad_amount.value.field == "amount.value" and bad_amount.value.status == 422
    for value in ("16.100", "16", "-1.00", "0.00"):
        with pytest.raises(error.UnprocessableEntityError):
            mollie.payments.create(
                {"amount": {"currency": "EUR", "value": value}, "description": "x", "redirectUrl": "https://x.example"}
            )
    yen = mollie.payments.create(
        {"amount": {"currency": "JPY", "value": "1000"}, "description": "x", "redirectUrl": "https://x.example"}
    )
    assert yen.amount == {"currency": "JPY", "value": "1000"}
    customer = _customer(mollie)
    _mandate(customer)
    refusals = [
        ({"description": "x" * 256}, "description"),
        ({"amount": {"currency": "USD", "value": "5.00"}}, "amount.currency"),
        ({"sequenceType": "monthly"}, "sequenceType"),
        ({"customerId": None}, "customerId"),
        ({"webhookUrl": "http://127.0.0.1:9/hook"}, "webhookUrl"),
    ]
    for change, field in refusals:
        body = {
            "amount": {"currency": "EUR", "value": "5.00"},
            "description": "x",
            "sequenceType": "recurring",
            "customerId": customer.id,
            **change,
        }
        with pytest.raises(error.UnprocessableEntityError) as refused:
            mollie.payments.create(body)
        assert refused.value.field == field, change
    with pytest.raises(error.UnprocessableEntityError) as no_redirect:
        mollie.payments.create({"amount": {"currency": "EUR", "value": "5.00"}, "description": "x"})
    assert no_redirect.value.field == "redirectUrl"
    with pytest.raises(error.NotFoundError) as missing:
        mollie.customers.get("cst_doesnotexist")
    expected = _fixture("customer_doesnotexist")
    assert str(missing.value) == expected["detail"] and missing.value.status == 404
    with pytest.raises(error.BadRequestError):
        mollie.customers.list(limit=251)
    wrong = Client()
    wrong.set_api_key("test_wrongwrongwrongwrong")
    wrong.set_api_endpoint(sandbox.url)
    with pytest.raises(error.UnauthorizedError) as unauthorized:
        wrong.customers.list()
    assert str(unauthorized.value) == _fixture("error_unauthorized")["detail"]
    anonymous = httpx.get(f"{sandbox.url}/v2/payments")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/hal+json"
    assert set(anonymous.json()) == {"status", "title", "detail", "_links"}
    malformed = http.post("/v2/customers", content=b"{not json", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["status"] == 400
    details = {429: "You have exceeded the rate limit. Please slow down your requests."}
    for faults, status in ((Faults(rate_limit_rate=1.0), 429), (Faults(error_rate=1.0), 500)):
        sandbox.set_faults(faults)
        with pytest.raises(error.ResponseError) as err:
            mollie.customers.list()
        assert type(err.value) is error.ResponseError and err.value.status == status
        raw = http.get("/v2/customers")
        assert raw.status_code == status and raw.headers["content-type"] == "application/hal+json"
        body = raw.json()
        assert body["status"] == status and body["title"] and body["_links"]["documentation"]["href"]
        if status in details:
            assert str(err.value) == body["detail"] == details[status]
    sandbox.set_faults(Faults())


def test_every_fixture_key_is_in_the_sandbox_response(sandbox, mollie, http):
    customer = _customer(mollie, locale="nl_NL")
    mandate = _mandate(customer, reference="YOUR-COMPANY-MD1380")
    recurring = _recurring(mollie, customer, "10.00")
    oneoff = mollie.payments.create(
        {
            "amount": {"currency": "EUR", "value": "10.00"},
            "description": "Order",
            "redirectUrl": "https://shop.example/",
            "cancelUrl": "https://shop.example/x",
            "webhookUrl": "https://shop.example/hook",
            "customerId": customer.id,
        }
    )
    canceled = mollie.payments.delete(_recurring(mollie, customer, "3.00").id)
    link = mollie.payment_links.create({"amount": {"currency": "EUR", "value": "24.95"}, "description": "Tyres"})
    _force(sandbox, recurring.id, "paid")
    refund = mollie.payments.get(recurring.id).refunds.create({"amount": {"currency": "EUR", "value": "5.95"}})
    singles = {
        "customer_single": mollie.customers.get(customer.id),
        "customer_mandate_single": customer.mandates.get(mandate.id),
        "payment_single": [
            mollie.payments.get(_recurring(mollie, customer, "2.00").id),
            mollie.payments.get(oneoff.id),
        ],
        "payment_canceled": canceled,
        "payment_link_single": mollie.payment_links.get(link.id),
        "refund_single": mollie.payments.get(recurring.id).refunds.get(refund.id),
    }
    lists = {
        "customers_list": "/v2/customers",
        "customers_list_first": "/v2/customers",  # its customers carry their mandates/payments links
        "payments_list": "/v2/payments",
        "payment_links_list": "/v2/payment-links",
        "refunds_list": f"/v2/payments/{recurring.id}/refunds",
        "customer_mandates_list": f"/v2/customers/{customer.id}/mandates",
        "customer_payments_multiple": f"/v2/customers/{customer.id}/payments",
    }
    report: dict[str, list[str]] = {}
    for name, ours in singles.items():
        for one in ours if isinstance(ours, list) else [ours]:
            one = dict(one)
            report[f"{name} ({one['id']})"] = _missing(_fixture(name), one)
            assert (
                one["mode"] == "test"
                and one["createdAt"]
                and one["_links"]["self"]["href"].startswith(f"{sandbox.url}/v2/")
                and one["_links"]["documentation"]["href"]
            )
    for name, path in lists.items():
        fixture, ours = _fixture(name), http.get(path).json()
        (plural,) = fixture["_embedded"]
        assert ours["count"] >= 1 and list(ours["_embedded"]) == [plural]
        report[name] = _missing({k: v for k, v in fixture.items() if k != "_embedded"}, ours)
        report[f"{name} items"] = _missing(fixture["_embedded"][plural][0], ours["_embedded"][plural][0])
    assert {k: v for k, v in report.items() if v} == {}


def test_credentials_and_fault_bodies(sandbox):
    service = sandbox.services["mollie"]
    key = service.credentials()["api_key"]
    assert re.fullmatch(r"(live|test)_\w+", key) and key == sandbox.credentials()["mollie"]["api_key"]
    for status in (429, 500):
        response = service.fault_response(status)
        body = json.loads(response.body)
        assert response.status == body["status"] == status
        assert response.headers["Content-Type"] == "application/hal+json"
        assert {"status", "title", "detail", "_links"} <= set(body)


def test_a_page_deep_in_a_large_table_is_read_from_its_cursor(sandbox, mollie):
    service = sandbox.services["mollie"]
    with sandbox.lock:
        ann = service.add_customer({"name": "Ann"})
        service.add_mandate(ann["id"], {"method": "directdebit", "consumerName": "Ann", "consumerAccount": IBAN})
        bob = service.add_customer({"name": "Bob"})
        service.add_mandate(bob["id"], {"method": "directdebit", "consumerName": "Bob", "consumerAccount": IBAN})
        ids = []
        for i in range(3000):
            owner = ann if i % 3 else bob
            ids.append(
                service.add_payment(
                    {
                        "amount": {"currency": "EUR", "value": "1.00"},
                        "description": f"P{i}",
                        "sequenceType": "recurring",
                        "customerId": owner["id"],
                    }
                )["id"]
            )
    page = mollie.payments.list(limit=250, **{"from": ids[1500]})
    assert [p.id for p in page] == ids[1500:1250:-1]
    bobs = [p for i, p in enumerate(ids) if i % 3 == 0]
    scoped = Customer({"id": bob["id"]}, mollie).payments.list(limit=100, **{"from": bobs[500]})
    assert [p.id for p in scoped] == bobs[500:400:-1]
    with pytest.raises(error.BadRequestError):  # Ann's payment is no cursor in Bob's listing
        Customer({"id": bob["id"]}, mollie).payments.list(**{"from": ids[1]})
