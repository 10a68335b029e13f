"""The GoCardless simulator, driven through the official gocardless-pro SDK over HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import gocardless_pro
import httpx
import pytest
from gocardless_pro import errors

from crmpay.core.calendar import add_working_days, next_working_day
from crmpay.sandbox import Faults

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "gocardless"
IBAN = "FR1420041010050500013M02606"


@pytest.fixture
def gc(sandbox):
    return gocardless_pro.Client(access_token=sandbox.credentials()["gocardless"]["access_token"], base_url=sandbox.url)


def _mandate(gc, email="ann@example.fr", iban=IBAN):
    customer = gc.customers.create(params={"email": email, "given_name": "Ann", "family_name": "Lee"})
    account = gc.customer_bank_accounts.create(
        params={"account_holder_name": "Ann Lee", "iban": iban, "links": {"customer": customer.id}}
    )
    return customer, gc.mandates.create(params={"links": {"customer_bank_account": account.id}})


def _objects(sandbox, kind):
    return httpx.get(f"{sandbox.url}/__sandbox/stats").json()["gocardless_objects"][kind]


def test_mandate_and_payment_lifecycles_follow_the_clock(sandbox, gc):
    _, mandate = _mandate(gc)
    assert mandate.status == "pending_submission" and mandate.scheme == "sepa_core"
    payment = gc.payments.create(params={"amount": 4990, "currency": "EUR", "links": {"mandate": mandate.id}})
    assert payment.status == "pending_submission" and payment.charge_date == mandate.next_possible_charge_date
    seen = {"mandate": [], "payment": []}
    for _ in range(12):
        httpx.post(f"{sandbox.url}/__sandbox/clock", json={"advance_days": 1})
        for kind, getter, ident in (("mandate", gc.mandates.get, mandate.id), ("payment", gc.payments.get, payment.id)):
            status = getter(ident).status
            if not seen[kind] or seen[kind][-1] != status:
                seen[kind].append(status)
    assert seen["mandate"] in (["submitted", "active"], ["pending_submission", "submitted", "active"])
    assert seen["payment"][-3:] == ["submitted", "confirmed", "paid_out"]
    assert gc.payments.get(payment.id).links.payout


def test_cancel_only_while_pending_submission(sandbox, gc):
    _, mandate = _mandate(gc)
    early = gc.payments.create(params={"amount": 100, "currency": "EUR", "links": {"mandate": mandate.id}})
    assert gc.payments.cancel(early.id).status == "cancelled"
    late = gc.payments.create(params={"amount": 200, "currency": "EUR", "links": {"mandate": mandate.id}})
    for _ in range(10):  # day by day until the bank has it
        sandbox.advance(1)
        if gc.payments.get(late.id).status != "pending_submission":
            break
    assert gc.payments.get(late.id).status == "submitted"
    with pytest.raises(errors.InvalidStateError) as err:
        gc.payments.cancel(late.id)
    assert err.value.errors[0]["reason"] == "cancellation_failed"
    assert err.value.code == 422


def test_retry_a_failed_payment(sandbox, gc):
    _, mandate = _mandate(gc)
    payment = gc.payments.create(params={"amount": 100, "currency": "EUR", "links": {"mandate": mandate.id}})
    gc.scenario_simulators.run("mandate_activated", params={"links": {"resource": mandate.id}})
    gc.scenario_simulators.run("payment_failed", params={"links": {"resource": payment.id}})
    assert gc.payments.get(payment.id).status == "failed"
    assert gc.payments.retry(payment.id).status == "pending_submission"
    with pytest.raises(errors.InvalidStateError):
        gc.payments.retry(payment.id)  # only failed payments


def test_scenario_simulators_and_their_events(sandbox, gc):
    _, mandate = _mandate(gc)
    payment = gc.payments.create(params={"amount": 100, "currency": "EUR", "links": {"mandate": mandate.id}})
    gc.scenario_simulators.run("payment_charged_back", params={"links": {"resource": payment.id}})
    assert gc.payments.get(payment.id).status == "charged_back"
    actions = [e.action for e in gc.events.list(params={"payment": payment.id}).records]
    assert actions == ["charged_back", "paid_out", "confirmed", "submitted", "created"]
    _, other = _mandate(gc, "bob@example.fr", "DE89370400440532013000")
    gc.scenario_simulators.run("mandate_failed", params={"links": {"resource": other.id}})
    assert gc.mandates.get(other.id).status == "failed"
    with pytest.raises(errors.InvalidStateError):
        gc.scenario_simulators.run("mandate_activated", params={"links": {"resource": other.id}})
    with pytest.raises(errors.InvalidApiUsageError):
        gc.scenario_simulators.run("no_such_scenario", params={"links": {"resource": other.id}})
    with pytest.raises(errors.InvalidStateError) as err:  # a failed mandate takes no payment
        gc.payments.create(params={"amount": 1, "currency": "EUR", "links": {"mandate": other.id}})
    assert err.value.errors[0]["reason"] == "mandate_is_inactive"


def test_idempotent_replay_returns_the_first_resource(sandbox, gc):
    _, mandate = _mandate(gc)
    params = {"amount": 4990, "currency": "EUR", "links": {"mandate": mandate.id}}
    first = gc.payments.create(params=params, headers={"Idempotency-Key": "invoice-7:attempt-1"})
    again = gc.payments.create(params=params, headers={"Idempotency-Key": "invoice-7:attempt-1"})
    assert again.id == first.id and _objects(sandbox, "payments") == 1
    strict = gocardless_pro.Client(
        access_token=sandbox.credentials()["gocardless"]["access_token"],
        base_url=sandbox.url,
        raise_on_idempotency_conflict=True,
    )
    with pytest.raises(errors.IdempotentCreationConflictError) as err:
        strict.payments.create(params=params, headers={"Idempotency-Key": "invoice-7:attempt-1"})
    assert err.value.conflicting_resource_id == first.id


def test_pagination_past_one_page_newest_first(sandbox, gc):
    service = sandbox.services["gocardless"]
    _, mandate = _mandate(gc)
    with sandbox.lock:
        for i in range(1200):
            service._new_payment(service.objects["mandates"][mandate.id], 100 + i, "EUR", date(2027, 1, 4), {})
    pages, ids, cursor = 0, [], None
    while True:
        page = gc.payments.list(params={"limit": 500, **({"after": cursor} if cursor else {})})
        pages += 1
        ids += [p.id for p in page.records]
        cursor = page.after
        if not cursor:
            break
    assert pages == 3 and len(ids) == len(set(ids)) == 1200
    amounts = [gc.payments.get(ids[0]).amount, gc.payments.get(ids[-1]).amount]
    assert amounts == [1299, 100]  # newest first
    newer = gc.payments.list(params={"limit": 10, "before": ids[20]})
    assert [p.id for p in newer.records] == ids[10:20]
    with pytest.raises(errors.ValidationFailedError):
        gc.payments.list(params={"limit": 501})
    filtered = list(gc.payments.all(params={"mandate": mandate.id, "status": "pending_submission"}))
    assert len(filtered) == 1200


def test_each_error_type_raises_the_sdks_own_class(sandbox, gc):
    customer, mandate = _mandate(gc)
    with pytest.raises(errors.ValidationFailedError) as err:
        gc.payments.create(params={"amount": 100, "currency": "GBP", "links": {"mandate": mandate.id}})
    assert "must be EUR for a sepa_core mandate" in str(err.value)
    with pytest.raises(errors.ValidationFailedError) as dup:
        gc.customer_bank_accounts.create(
            params={"account_holder_name": "Ann", "iban": IBAN, "links": {"customer": customer.id}}
        )
    assert dup.value.code == 409 and dup.value.errors[0]["reason"] == "bank_account_exists"
    assert dup.value.errors[0]["links"]["customer_bank_account"].startswith("BA")
    with pytest.raises(errors.ValidationFailedError):
        gc.customer_bank_accounts.create(
            params={"account_holder_name": "Ann", "iban": IBAN[:-1] + "5", "links": {"customer": customer.id}}
        )
    with pytest.raises(errors.InvalidApiUsageError) as missing:
        gc.payments.get("PM0000000MISS")
    assert missing.value.code == 404
    with pytest.raises(errors.AuthenticationError):
        gocardless_pro.Client(access_token="sandbox_wrong", base_url=sandbox.url).customers.list()
    sandbox.set_faults(Faults(rate_limit_rate=1.0))
    with pytest.raises(errors.RateLimitError):
        gc.customers.list()
    sandbox.set_faults(Faults(error_rate=1.0))
    with pytest.raises(errors.GoCardlessInternalError):
        gc.customers.list()
    sandbox.set_faults(Faults())
    response = httpx.get(
        f"{sandbox.url}/customers", headers={"Authorization": "Bearer sandbox_crmpay-local-access-token"}
    )
    assert all(h in response.headers for h in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"))
    assert int(response.headers["RateLimit-Remaining"]) < int(response.headers["RateLimit-Limit"])


def test_events_read_newer_than_a_cursor(sandbox, gc):
    _, mandate = _mandate(gc)
    cursor = gc.events.list(params={"limit": 1}).records[0].id
    created = sandbox.clock.today()
    active_on = add_working_days(next_working_day(created + timedelta(days=1)), 2)  # submitted, then 2 days
    sandbox.advance((active_on - created).days)
    newer = gc.events.list(params={"before": cursor, "limit": 500}).records
    assert [e.action for e in reversed(newer)] == ["submitted", "active"]
    since = gc.events.list(params={"created_at[gt]": newer[-1].created_at, "resource_type": "mandates"})
    assert all(e.created_at > newer[-1].created_at for e in since.records)


def test_billing_request_flow_completed_by_the_customer(sandbox, gc):
    customer = gc.customers.create(params={"email": "cam@example.fr", "family_name": "Martin"})
    br = gc.billing_requests.create(
        params={
            "mandate_request": {"scheme": "sepa_core", "currency": "EUR"},
            "payment_request": {"amount": 12000, "currency": "EUR", "description": "INV-1"},
            "links": {"customer": customer.id},
        }
    )
    flow = gc.billing_request_flows.create(params={"links": {"billing_request": br.id}})
    assert flow.authorisation_url.startswith(sandbox.url) and flow.expires_at
    page = httpx.get(flow.authorisation_url)
    assert page.status_code == 200 and "<form" in page.text
    done = httpx.post(
        flow.authorisation_url, data={"account_holder_name": "Cam Martin", "iban": "DE89370400440532013000"}
    )
    assert done.status_code == 200
    fulfilled = gc.billing_requests.get(br.id)
    assert fulfilled.status == "fulfilled"
    mandate = gc.mandates.get(fulfilled.links.mandate_request_mandate)
    assert mandate.links.customer == customer.id
    payment = gc.payments.get(fulfilled.links.payment_request_payment)
    assert payment.amount == 12000
    assert httpx.post(flow.authorisation_url, data={}).status_code == 409  # one use only


def test_mandate_import_is_processed_when_the_clock_moves(sandbox, gc):
    imp = gc.mandate_imports.create(params={"scheme": "sepa_core"})
    entry = {
        "links": {"mandate_import": imp.id},
        "record_identifier": "RUM-0001",
        "customer": {"email": "ann@example.fr", "family_name": "Lee"},
        "bank_account": {"account_holder_name": "Ann Lee", "iban": IBAN},
        "amendment": {
            "original_mandate_reference": "RUM-0001",
            "original_creditor_id": "FR72ZZZ123456",
            "original_creditor_name": "Acme",
        },
    }
    gc.mandate_import_entries.create(params=entry)
    bad = {
        **entry,
        "record_identifier": "RUM-0002",
        "bank_account": {"account_holder_name": "X", "iban": IBAN[:-1] + "5"},
        "amendment": {**entry["amendment"], "original_mandate_reference": "RUM-0002"},
    }
    gc.mandate_import_entries.create(params=bad)
    with pytest.raises(errors.ValidationFailedError):  # SEPA needs an amendment
        gc.mandate_import_entries.create(params={**entry, "amendment": None})
    gc.mandate_imports.submit(imp.id)
    assert gc.mandate_imports.get(imp.id).status == "submitted"
    sandbox.advance(1)
    assert gc.mandate_imports.get(imp.id).status == "processed"
    entries = {
        e.record_identifier: e for e in gc.mandate_import_entries.list(params={"mandate_import": imp.id}).records
    }
    mandate = gc.mandates.get(entries["RUM-0001"].links.mandate)
    assert mandate.reference == "RUM-0001" and mandate.status == "active"
    assert entries["RUM-0002"].links.mandate is None and entries["RUM-0002"].processing_errors


def _missing_keys(fixture, ours, path=""):
    missing = []
    if isinstance(fixture, dict) and isinstance(ours, dict):
        for key, value in fixture.items():
            if key not in ours:
                missing.append(f"{path}{key}")
            elif isinstance(value, dict) and isinstance(ours[key], dict):
                missing += _missing_keys(value, ours[key], f"{path}{key}.")
    return missing


def test_every_fixture_key_is_in_the_sandbox_response(sandbox, gc):
    customer, mandate = _mandate(gc)
    payment = gc.payments.create(params={"amount": 100, "currency": "EUR", "links": {"mandate": mandate.id}})
    br = gc.billing_requests.create(
        params={"mandate_request": {"scheme": "sepa_core", "currency": "EUR"}, "links": {"customer": customer.id}}
    )
    flow = gc.billing_request_flows.create(params={"links": {"billing_request": br.id}})
    imp = gc.mandate_imports.create(params={"scheme": "sepa_core"})
    entry = gc.mandate_import_entries.create(
        params={
            "links": {"mandate_import": imp.id},
            "record_identifier": "R1",
            "customer": {"email": "x@y.fr", "family_name": "X"},
            "bank_account": {"account_holder_name": "X", "iban": "DE89370400440532013000"},
            "amendment": {"original_mandate_reference": "R1"},
        }
    )
    ours = {
        "customers": customer.attributes,
        "mandates": mandate.attributes,
        "payments": payment.attributes,
        "customer_bank_accounts": gc.customer_bank_accounts.get(mandate.links.customer_bank_account).attributes,
        "creditors": gc.creditors.list().records[0].attributes,
        "billing_requests": br.attributes,
        "billing_request_flows": flow.attributes,
        "mandate_imports": imp.attributes,
        "mandate_import_entries": entry.attributes,
        "events": gc.events.list().records[0].attributes,
    }
    report = {}
    for kind, obj in ours.items():
        fixture = json.loads((FIXTURES / f"{kind}.json").read_text())
        action = next(a for a in ("get", "create") if a in fixture)
        body = fixture[action]["body"][kind]
        missing = _missing_keys(body, obj)
        if missing:
            report[kind] = missing
    assert report == {}, json.dumps(report)
