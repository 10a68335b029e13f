"""The GoCardless simulator over real HTTP, driven through the official gocardless-pro SDK.

Lifecycles on the sandbox clock, both cancel outcomes, retries, idempotent replays,
pagination, every error class the SDK raises, events and their cursors, the billing
request page, mandate imports, scenario simulators, and the shapes of GoCardless's own
responses in `tests/fixtures/gocardless`.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import gocardless_pro
import httpx
import pytest
from gocardless_pro import errors

import _paths
from crmpay.core.calendar import add_working_days, next_working_day, working_days_before
from crmpay.sandbox import Faults

FIXTURES = _paths.FIXTURES / "gocardless"
FR = "FR1420041010050500013M02606"
DE = "DE89370400440532013000"
BE = "BE68539007547034"
NL = "NL91ABNA0417164300"
GB = "GB82WEST12345698765432"


# -- helpers ------------------------------------------------------------------------------------
def _token(sandbox) -> str:
    return sandbox.credentials()["gocardless"]["access_token"]


@pytest.fixture
def gc(sandbox) -> gocardless_pro.Client:
    return gocardless_pro.Client(access_token=_token(sandbox), base_url=sandbox.url)


@pytest.fixture
def http(sandbox):
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {_token(sandbox)}"}) as client:
        yield client


@pytest.fixture
def service(sandbox):
    return sandbox.services["gocardless"]


def _mandate(gc, email: str = "ann@example.fr", iban: str = FR, **mandate: Any):
    customer = gc.customers.create(params={"email": email, "given_name": "Ann", "family_name": "Lee"})
    account = gc.customer_bank_accounts.create(
        params={"account_holder_name": "Ann Lee", "iban": iban, "links": {"customer": customer.id}}
    )
    return customer, gc.mandates.create(params={"links": {"customer_bank_account": account.id}, **mandate})


def _payment(gc, mandate, amount: int = 4990, currency: str = "EUR", **extra: Any):
    return gc.payments.create(
        params={"amount": amount, "currency": currency, "links": {"mandate": mandate.id}, **extra}
    )


def _seed_payments(sandbox, service, mandate_id: str, count: int, start: int = 100) -> None:
    """Payments straight into the simulator's state, as a benchmark seeds them."""
    charge = add_working_days(sandbox.clock.today(), 30)
    with sandbox.lock:
        mandate = service.objects["mandates"][mandate_id]
        for i in range(count):
            service._new_payment(mandate, start + i, "EUR", charge, {})


def _all_ids(list_call, params: dict[str, Any]) -> tuple[list[str], int]:
    ids, pages, cursor = [], 0, None
    while True:
        page = list_call(params={**params, **({"after": cursor} if cursor else {})})
        pages += 1
        ids += [r.id for r in page.records]
        cursor = page.after
        if not cursor:
            return ids, pages


def _missing_keys(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Keys of `expected` (a fixture body) absent from `actual`, recursively; null is fine."""
    missing: list[str] = []
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, value in expected.items():
            if key not in actual:
                missing.append(f"{path}.{key}")
            else:
                missing += _missing_keys(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list) and expected and isinstance(expected[0], dict) and isinstance(actual, list):
        for item in actual:
            missing += _missing_keys(expected[0], item, f"{path}[]")
    return missing


# -- mandates ------------------------------------------------------------------------------------
def test_mandate_lifecycle_on_working_days(sandbox, gc):
    today = sandbox.clock.today()
    submit_on = next_working_day(today + timedelta(days=1))
    active_on = add_working_days(submit_on, 2)
    _, mandate = _mandate(gc)
    assert mandate.status == "pending_submission" and mandate.scheme == "sepa_core"
    assert mandate.next_possible_charge_date == add_working_days(active_on, 2).isoformat()
    seen: dict[str, date] = {}
    while sandbox.clock.today() < active_on + timedelta(days=3):
        httpx.post(f"{sandbox.url}/__sandbox/clock", json={"advance_days": 1}).raise_for_status()
        seen.setdefault(gc.mandates.get(mandate.id).status, sandbox.clock.today())
    assert seen["submitted"] == submit_on and seen["active"] == active_on
    active = gc.mandates.get(mandate.id)
    assert active.next_possible_charge_date == add_working_days(sandbox.clock.today(), 2).isoformat()
    actions = [e.action for e in gc.events.list(params={"mandate": mandate.id}).records]
    assert actions == ["active", "submitted", "created"]


def test_mandate_cancel_and_reinstate(sandbox, gc):
    _, mandate = _mandate(gc)
    payment = _payment(gc, mandate)
    cancelled = gc.mandates.cancel(mandate.id)
    assert cancelled.status == "cancelled" and cancelled.next_possible_charge_date is None
    assert gc.payments.get(payment.id).status == "cancelled"  # its pending payment went with it
    with pytest.raises(errors.InvalidStateError) as err:
        gc.mandates.cancel(mandate.id)
    assert err.value.errors[0]["reason"] == "mandate_already_cancelled"
    assert gc.mandates.reinstate(mandate.id).status == "pending_submission"
    with pytest.raises(errors.InvalidStateError) as err:
        gc.mandates.reinstate(mandate.id)
    assert err.value.errors[0]["reason"] == "mandate_not_inactive"
    assert gc.mandates.update(mandate.id, params={"metadata": {"crm": "42"}}).metadata == {"crm": "42"}
    assert [e.action for e in gc.events.list(params={"mandate": mandate.id}).records] == [
        "reinstated",
        "cancelled",
        "created",
    ]


def test_mandate_scheme_must_fit_the_account(sandbox, gc):
    customer = gc.customers.create(params={"email": "uk@example.co.uk", "family_name": "Smith"})
    account = gc.customer_bank_accounts.create(
        params={"account_holder_name": "J Smith", "iban": GB, "links": {"customer": customer.id}}
    )
    assert (account.currency, account.country_code) == ("GBP", "GB")
    assert gc.mandates.create(params={"links": {"customer_bank_account": account.id}}).scheme == "bacs"
    with pytest.raises(errors.ValidationFailedError) as err:
        gc.mandates.create(params={"scheme": "sepa_core", "links": {"customer_bank_account": account.id}})
    assert err.value.errors[0]["field"] == "scheme"
    with pytest.raises(errors.ValidationFailedError) as err:
        gc.mandates.create(params={"links": {"customer_bank_account": "BA0000MISSING"}})
    assert err.value.errors[0]["field"] == "links.customer_bank_account"
    gc.mandates.create(params={"reference": "REF-1", "links": {"customer_bank_account": account.id}})
    with pytest.raises(errors.ValidationFailedError):  # references are unique, whatever the case
        gc.mandates.create(params={"reference": "ref-1", "links": {"customer_bank_account": account.id}})


# -- customers and bank accounts ----------------------------------------------------------------------
def test_customers_create_list_get_update_remove(sandbox, gc):
    ann = gc.customers.create(
        params={"email": "ann@example.fr", "given_name": "Ann", "family_name": "Lee", "metadata": {"crm_id": "7"}}
    )
    bob = gc.customers.create(params={"company_name": "Bob SARL"})
    assert ann.id.startswith("CU") and ann.language == "en" and ann.metadata == {"crm_id": "7"}
    assert [c.id for c in gc.customers.list().records] == [bob.id, ann.id]
    updated = gc.customers.update(ann.id, params={"city": "Lyon", "metadata": {"crm_id": "8"}})
    assert (updated.city, updated.metadata, updated.email) == ("Lyon", {"crm_id": "8"}, "ann@example.fr")
    assert gc.customers.get(ann.id).city == "Lyon"
    with pytest.raises(errors.ValidationFailedError) as err:
        gc.customers.create(params={"given_name": "Nobody"})
    assert err.value.errors[0]["field"] == "email"
    with pytest.raises(errors.ValidationFailedError) as err:
        gc.customers.create(params={"email": "m@example.fr", "metadata": {"a": "1", "b": "2", "c": "3", "d": "4"}})
    assert err.value.errors[0]["field"] == "metadata"
    assert gc.customers.remove(bob.id).id == bob.id
    with pytest.raises(errors.InvalidApiUsageError) as err:
        gc.customers.get(bob.id)
    assert err.value.code == 404 and err.value.errors[0]["reason"] == "resource_not_found"
    assert [c.id for c in gc.customers.list().records] == [ann.id]


def test_bank_accounts_iban_checks_duplicates_and_disable(sandbox, gc):
    customer, mandate = _mandate(gc)
    for bad, why in (
        ("DE89370400440532013001", "checksum"),
        ("DE8937040044053201300", "length"),
        ("XX89370400440532013000", "country"),
    ):
        with pytest.raises(errors.ValidationFailedError) as err:
            gc.customer_bank_accounts.create(
                params={"account_holder_name": "Ann", "iban": bad, "links": {"customer": customer.id}}
            )
        assert err.value.errors[0]["field"] == "iban" and err.value.code == 422, why
    account_id = mandate.links.customer_bank_account
    with pytest.raises(errors.ValidationFailedError) as dup:  # the same IBAN, spaced differently
        gc.customer_bank_accounts.create(
            params={
                "account_holder_name": "Ann",
                "iban": "fr14 2004 1010 0505 0001 3M02 606",
                "links": {"customer": customer.id},
            }
        )
    assert dup.value.code == 409 and dup.value.errors[0]["reason"] == "bank_account_exists"
    assert dup.value.errors[0]["links"]["customer_bank_account"] == account_id
    other = gc.customer_bank_accounts.create(
        params={"account_holder_name": "Ann", "iban": DE, "links": {"customer": customer.id}}
    )
    listed = gc.customer_bank_accounts.list(params={"customer": customer.id}).records
    assert [a.id for a in listed] == [other.id, account_id] and listed[1].account_number_ending == "2606"
    disabled = gc.customer_bank_accounts.disable(account_id)
    assert disabled.enabled is False
    assert gc.mandates.get(mandate.id).status == "cancelled"  # a disabled account ends its mandates
    assert [a.id for a in gc.customer_bank_accounts.list(params={"enabled": "false"}).records] == [account_id]
    with pytest.raises(errors.InvalidStateError):
        gc.mandates.create(params={"links": {"customer_bank_account": account_id}})


# -- payments ----------------------------------------------------------------------------------
def test_payment_lifecycle_on_working_days(sandbox, gc):
    _, mandate = _mandate(gc)
    payment = _payment(gc, mandate, reference="INV-1", description="Invoice INV-1", metadata={"invoice": "INV-1"})
    assert payment.status == "pending_submission" and payment.charge_date == mandate.next_possible_charge_date
    assert (payment.amount, payment.currency, payment.metadata) == (4990, "EUR", {"invoice": "INV-1"})
    charge = date.fromisoformat(payment.charge_date)
    seen: dict[str, date] = {}
    while sandbox.clock.today() < add_working_days(charge, 2) + timedelta(days=2):
        sandbox.advance(1)
        seen.setdefault(gc.payments.get(payment.id).status, sandbox.clock.today())
    assert (seen["submitted"], seen["confirmed"], seen["paid_out"]) == (
        working_days_before(charge, 2),
        charge,
        add_working_days(charge, 2),
    )
    paid = gc.payments.get(payment.id)
    assert paid.status == "paid_out" and paid.links.payout.startswith("PO")
    assert [e.action for e in gc.events.list(params={"payment": payment.id}).records] == [
        "paid_out",
        "confirmed",
        "submitted",
        "created",
    ]


def test_charge_dates_earliest_rolled_forward_and_refused(sandbox, gc):
    _, mandate = _mandate(gc)
    earliest = date.fromisoformat(mandate.next_possible_charge_date)
    saturday = earliest + timedelta(days=(5 - earliest.weekday()) % 7 or 7)
    rolled = _payment(gc, mandate, charge_date=saturday.isoformat())
    assert rolled.charge_date == next_working_day(saturday).isoformat() != saturday.isoformat()
    with pytest.raises(errors.ValidationFailedError) as err:
        _payment(gc, mandate, charge_date=(earliest - timedelta(days=1)).isoformat())
    assert err.value.errors[0]["field"] == "charge_date"
    assert "next_possible_charge_date" in err.value.errors[0]["message"]


def test_payment_validation(sandbox, gc):
    _, mandate = _mandate(gc)
    cases = [
        ({"currency": "GBP"}, "currency", "must be EUR for a sepa_core mandate"),
        ({"amount": 0}, "amount", None),
        ({"amount": 10.5}, "amount", None),
        ({"metadata": {"a": "1", "b": "2", "c": "3", "d": "4"}}, "metadata", None),
        ({"links": {"mandate": "MD0000MISSING"}}, "links.mandate", None),
    ]
    for change, field, message in cases:
        with pytest.raises(errors.ValidationFailedError) as err:
            gc.payments.create(params={"amount": 100, "currency": "EUR", "links": {"mandate": mandate.id}, **change})
        assert err.value.errors[0]["field"] == field and err.value.code == 422
        if message:
            assert err.value.errors[0]["message"] == message
    _, bacs = _mandate(gc, "uk@example.co.uk", GB)
    with pytest.raises(errors.ValidationFailedError) as err:
        _payment(gc, bacs, currency="GBP", reference="X" * 11)  # Bacs references: 10 characters
    assert err.value.errors[0]["field"] == "reference"
    assert _payment(gc, bacs, currency="GBP", reference="X" * 10).scheme == "bacs"
    gc.mandates.cancel(mandate.id)
    with pytest.raises(errors.InvalidStateError) as err:
        _payment(gc, mandate)
    assert err.value.errors[0]["reason"] == "mandate_is_inactive"


def test_cancel_before_submission_and_refused_after(sandbox, gc):
    _, mandate = _mandate(gc)
    early, late = _payment(gc, mandate), _payment(gc, mandate)
    cancelled = gc.payments.cancel(early.id)
    assert cancelled.status == "cancelled"
    assert gc.events.list(params={"payment": early.id, "limit": 1}).records[0].details.cause == "payment_cancelled"
    sandbox.advance((working_days_before(date.fromisoformat(late.charge_date), 2) - sandbox.clock.today()).days)
    assert gc.payments.get(late.id).status == "submitted"
    with pytest.raises(errors.InvalidStateError) as err:
        gc.payments.cancel(late.id)
    assert (err.value.code, err.value.errors[0]["reason"]) == (422, "cancellation_failed")
    assert "submitted" in err.value.message
    with pytest.raises(errors.InvalidStateError):
        gc.payments.cancel(early.id)  # already cancelled
    assert gc.payments.get(early.id).status == "cancelled"


def test_retry_failed_payments_at_most_three_times(sandbox, gc):
    _, mandate = _mandate(gc)
    payment = _payment(gc, mandate)
    with pytest.raises(errors.InvalidStateError) as err:
        gc.payments.retry(payment.id)
    assert err.value.errors[0]["reason"] == "retry_failed"
    for attempt in range(3):
        gc.scenario_simulators.run("payment_failed", params={"links": {"resource": payment.id}})
        assert gc.payments.get(payment.id).status == "failed"
        retried = gc.payments.retry(payment.id)
        assert retried.status == "pending_submission", attempt
        assert date.fromisoformat(retried.charge_date) >= add_working_days(sandbox.clock.today(), 2)
    # a retried payment follows the lifecycle again, towards its new charge date
    charge = date.fromisoformat(gc.payments.get(payment.id).charge_date)
    sandbox.advance((charge - sandbox.clock.today()).days)
    assert gc.payments.get(payment.id).status == "confirmed"
    gc.scenario_simulators.run("payment_failed", params={"links": {"resource": payment.id}})
    with pytest.raises(errors.InvalidStateError) as err:
        gc.payments.retry(payment.id)
    assert "3 times" in err.value.message
    actions = [e.action for e in gc.events.list(params={"payment": payment.id, "limit": 500}).records]
    assert actions.count("resubmission_requested") == 3 and actions.count("failed") == 4
    assert actions[:3] == ["failed", "confirmed", "submitted"]


def test_payment_list_filters(sandbox, gc, service):
    ann, m1 = _mandate(gc)
    bob, m2 = _mandate(gc, "bob@example.fr", DE)
    p1, p2 = _payment(gc, m1), _payment(gc, m2)
    sandbox.advance(1)
    p3 = _payment(gc, m1)
    gc.payments.cancel(p3.id)
    assert [p.id for p in gc.payments.list(params={"mandate": m1.id}).records] == [p3.id, p1.id]
    assert [p.id for p in gc.payments.list(params={"customer": bob.id}).records] == [p2.id]
    assert [p.id for p in gc.payments.list(params={"status": "cancelled"}).records] == [p3.id]
    assert [p.id for p in gc.payments.list(params={"customer": ann.id, "status": "pending_submission"}).records] == [
        p1.id
    ]
    assert [p.id for p in gc.payments.list(params={"created_at[gt]": p2.created_at}).records] == [p3.id]
    assert [p.id for p in gc.payments.list(params={"created_at[gte]": p3.created_at}).records] == [p3.id]
    assert {p.id for p in gc.payments.list(params={"created_at[lt]": p3.created_at}).records} == {p1.id, p2.id}
    assert {p.id for p in gc.payments.list(params={"created_at[lte]": p2.created_at}).records} == {p1.id, p2.id}
    since = datetime.fromisoformat(p2.created_at) + timedelta(microseconds=1)  # not on a millisecond
    assert [p.id for p in gc.payments.list(params={"created_at[gte]": since.isoformat()}).records] == [p3.id]
    # an index filter with a cursor taken from another listing still pages correctly
    page = gc.payments.list(params={"mandate": m1.id, "after": p2.id})
    assert [p.id for p in page.records] == [p1.id]
    with pytest.raises(errors.InvalidApiUsageError):
        gc.payments.list(params={"after": "PM0000NOSUCH"})


def test_pagination_past_one_page_newest_first(sandbox, gc, service):
    _, mandate = _mandate(gc)
    _seed_payments(sandbox, service, mandate.id, 1200)
    ids, pages = _all_ids(gc.payments.list, {"limit": 500})
    assert pages == 3 and len(ids) == len(set(ids)) == 1200
    assert [gc.payments.get(i).amount for i in (ids[0], ids[-1])] == [1299, 100]  # newest first
    first = gc.payments.list(params={"limit": 500})
    assert first.before is None and first.after == ids[499] and first.api_response.body["meta"]["limit"] == 500
    second = gc.payments.list(params={"limit": 500, "after": first.after})
    assert [p.id for p in second.records] == ids[500:1000] and second.before == ids[500]
    back = gc.payments.list(params={"limit": 500, "before": second.before})  # `before` walks to newer
    assert [p.id for p in back.records] == ids[:500] and back.before is None
    closest = gc.payments.list(params={"limit": 10, "before": ids[20]})  # the 10 just newer, not the newest
    assert [p.id for p in closest.records] == ids[10:20]
    assert len(gc.payments.list().records) == 50  # the default limit
    assert [p.id for p in gc.payments.all(params={"mandate": mandate.id, "limit": 500})] == ids
    for bad in (501, 0):
        with pytest.raises(errors.ValidationFailedError) as err:
            gc.payments.list(params={"limit": bad})
        assert err.value.errors[0]["field"] == "limit"


# -- idempotency ---------------------------------------------------------------------------------
def test_idempotent_replays_return_the_first_resource(sandbox, gc, service):
    _, mandate = _mandate(gc)
    params = {"amount": 1500, "currency": "EUR", "links": {"mandate": mandate.id}}
    first = gc.payments.create(params=params, headers={"Idempotency-Key": "invoice-7:1"})
    again = gc.payments.create(params={**params, "amount": 9999}, headers={"Idempotency-Key": "invoice-7:1"})
    assert (again.id, again.amount) == (first.id, 1500) and len(service.objects["payments"]) == 1
    strict = gocardless_pro.Client(
        access_token=_token(sandbox), base_url=sandbox.url, raise_on_idempotency_conflict=True
    )
    with pytest.raises(errors.IdempotentCreationConflictError) as err:
        strict.payments.create(params=params, headers={"Idempotency-Key": "invoice-7:1"})
    assert err.value.conflicting_resource_id == first.id and err.value.code == 409
    assert err.value.type == "invalid_state"
    # keys are per resource type; a fresh key makes a fresh payment
    customer = gc.customers.create(params={"email": "k@example.fr"}, headers={"Idempotency-Key": "invoice-7:1"})
    assert customer.id.startswith("CU")
    assert gc.payments.create(params=params, headers={"Idempotency-Key": "invoice-7:2"}).id != first.id
    replayed = gc.customers.create(params={"email": "other@example.fr"}, headers={"Idempotency-Key": "invoice-7:1"})
    assert replayed.id == customer.id and replayed.email == "k@example.fr"
    # a refused create does not burn its key
    with pytest.raises(errors.ValidationFailedError):
        gc.payments.create(params={**params, "currency": "GBP"}, headers={"Idempotency-Key": "invoice-8:1"})
    assert gc.payments.create(params=params, headers={"Idempotency-Key": "invoice-8:1"}).amount == 1500
    assert len(service.objects["payments"]) == 3


# -- errors and wire rules ---------------------------------------------------------------------------
def test_every_error_class_of_the_sdk(sandbox, gc, http):
    with pytest.raises(errors.AuthenticationError) as err:
        gocardless_pro.Client(access_token="sandbox_wrong", base_url=sandbox.url).customers.list()
    assert err.value.code == 401 and err.value.errors[0]["reason"] == "unauthorized"
    assert httpx.get(f"{sandbox.url}/payments").status_code == 401  # no Authorization header at all
    with pytest.raises(errors.InvalidApiUsageError) as err:
        gc.payments.get("PM0000MISSING")
    assert err.value.code == 404 and err.value.errors[0]["reason"] == "resource_not_found"
    with pytest.raises(errors.ValidationFailedError):
        gc.customers.create(params={})
    _, mandate = _mandate(gc)
    gc.mandates.cancel(mandate.id)
    with pytest.raises(errors.InvalidStateError) as err:
        _payment(gc, mandate)
    assert err.value.errors and all("reason" in e for e in err.value.errors)
    sandbox.set_faults(Faults(rate_limit_rate=1.0))
    with pytest.raises(errors.RateLimitError) as err:
        gc.customers.list()
    assert err.value.errors[0]["reason"] == "rate_limit_exceeded"
    limited = http.get("/customers")
    assert limited.status_code == 429 and limited.headers["RateLimit-Remaining"] == "0"
    sandbox.set_faults(Faults(error_rate=1.0))
    with pytest.raises(errors.GoCardlessInternalError) as err:
        gc.customers.list()
    assert err.value.code == 500
    sandbox.set_faults(Faults())
    bad = http.post("/customers", content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_api_usage"
    httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"mandate_imports_enabled": False})
    with pytest.raises(errors.PermissionsError):
        gc.mandate_imports.create(params={"scheme": "sepa_core"})


def test_rate_limit_headers_on_every_answer(sandbox, gc, http):
    for response in (
        http.get("/customers"),
        http.get("/payments/PM0000MISSING"),
        httpx.get(f"{sandbox.url}/customers"),
        http.post("/customers", json={"customers": {}}),
    ):
        assert all(h in response.headers for h in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"))
        assert response.headers["RateLimit-Reset"].endswith("GMT")
    gc.customers.list()
    assert gc._api_client.rate_limit.limit == 1000 and gc._api_client.rate_limit.remaining < 1000


# -- events ------------------------------------------------------------------------------------
def test_events_newest_first_with_cursors_and_filters(sandbox, gc):
    _, mandate = _mandate(gc)
    payment = _payment(gc, mandate)
    cursor = gc.events.list(params={"limit": 1}).records[0]
    assert (cursor.resource_type, cursor.action, cursor.links.payment) == ("payments", "created", payment.id)
    assert cursor.details.origin == "api" and cursor.details.cause == "payment_created"
    sandbox.advance_to(add_working_days(date.fromisoformat(payment.charge_date), 2))  # paid out
    newer = gc.events.list(params={"before": cursor.id, "limit": 500}).records
    assert [(e.resource_type, e.action) for e in reversed(newer)] == [
        ("mandates", "submitted"),
        ("mandates", "active"),
        ("payments", "submitted"),
        ("payments", "confirmed"),
        ("payments", "paid_out"),
    ]
    assert [e.created_at for e in newer] == sorted((e.created_at for e in newer), reverse=True)
    everything = [e.id for e in gc.events.all(params={"limit": 2})]
    assert everything == sorted(everything, reverse=True) and len(everything) == len(set(everything))
    older = gc.events.list(params={"after": cursor.id, "limit": 500}).records
    assert [e.id for e in older] == everything[everything.index(cursor.id) + 1 :]
    page = gc.events.list(params={"before": cursor.id, "limit": 2})
    assert page.before == page.records[0].id and page.after == page.records[-1].id  # more on both sides
    assert [e.action for e in gc.events.list(params={"resource_type": "payments", "action": "confirmed"}).records] == [
        "confirmed"
    ]
    since = gc.events.list(params={"created_at[gt]": newer[-1].created_at, "resource_type": "payments"}).records
    assert since and all(e.created_at > newer[-1].created_at for e in since)
    assert [e.action for e in gc.events.list(params={"mandate": mandate.id}).records] == [
        "active",
        "submitted",
        "created",
    ]
    one = gc.events.get(cursor.id)
    assert one.id == cursor.id and one.links.payment == payment.id
    included = gc.events.list(params={"payment": payment.id, "include": "payment"}).api_response.body
    assert [p["id"] for p in included["linked"]["payments"]] == [payment.id]


# -- billing requests -------------------------------------------------------------------------------
def test_billing_request_flow_completed_by_the_customer(sandbox, gc):
    customer = gc.customers.create(params={"email": "cam@example.fr", "family_name": "Martin"})
    br = gc.billing_requests.create(
        params={
            "mandate_request": {"scheme": "sepa_core", "currency": "EUR"},
            "payment_request": {"amount": 12000, "currency": "EUR", "description": "INV-9"},
            "links": {"customer": customer.id},
        }
    )
    assert br.status == "pending" and br.links.customer == customer.id
    flow = gc.billing_request_flows.create(
        params={"links": {"billing_request": br.id}, "redirect_uri": "https://example.fr/done"}
    )
    assert flow.authorisation_url == f"{sandbox.url}/__sandbox/gocardless/flow/{flow.id}"
    created = datetime.fromisoformat(flow.created_at)
    assert datetime.fromisoformat(flow.expires_at) - created == timedelta(days=7)
    page = httpx.get(flow.authorisation_url)
    assert page.status_code == 200 and "<form" in page.text and "120.00 EUR" in page.text
    refused = httpx.post(
        flow.authorisation_url, data={"account_holder_name": "Cam Martin", "iban": "FR1420041010050500013M02607"}
    )
    assert refused.status_code == 422 and gc.billing_requests.get(br.id).status == "pending"
    done = httpx.post(flow.authorisation_url, data={"account_holder_name": "Cam Martin", "iban": FR})
    assert done.status_code == 200
    fulfilled = gc.billing_requests.get(br.id)
    assert fulfilled.status == "fulfilled"
    mandate = gc.mandates.get(fulfilled.links.mandate_request_mandate)
    assert mandate.links.customer == customer.id and mandate.status == "pending_submission"
    payment = gc.payments.get(fulfilled.links.payment_request_payment)
    assert (payment.amount, payment.description, payment.links.mandate) == (12000, "INV-9", mandate.id)
    assert payment.charge_date == mandate.next_possible_charge_date
    events = gc.events.list(params={"limit": 4}).records  # fulfilled first, then what it created
    assert [(e.resource_type, e.action) for e in reversed(events)] == [
        ("billing_requests", "fulfilled"),
        ("customer_bank_accounts", "created"),
        ("mandates", "created"),
        ("payments", "created"),
    ]
    assert events[3].links.mandate_request_mandate == mandate.id
    assert events[3].links.payment_request_payment == payment.id
    assert httpx.post(flow.authorisation_url, data={"account_holder_name": "x", "iban": FR}).status_code == 409


def test_billing_request_without_customer_creates_one_and_links_expire(sandbox, gc):
    br = gc.billing_requests.create(params={"mandate_request": {"currency": "EUR"}})
    assert br.mandate_request.scheme == "sepa_core" and br.attributes["payment_request"] is None
    flow = gc.billing_request_flows.create(
        params={"links": {"billing_request": br.id}, "prefilled_customer": {"email": "new@example.fr"}}
    )
    assert 'value="new@example.fr"' in httpx.get(flow.authorisation_url).text
    done = httpx.post(
        flow.authorisation_url,
        data={"given_name": "Noa", "family_name": "Roux", "account_holder_name": "Noa Roux", "iban": BE},
    )
    assert done.status_code == 200
    fulfilled = gc.billing_requests.get(br.id)
    customer = gc.customers.get(fulfilled.links.customer)
    assert (customer.email, customer.family_name) == ("new@example.fr", "Roux")
    assert [b.id for b in gc.billing_requests.list(params={"customer": customer.id}).records] == [br.id]
    late = gc.billing_requests.create(params={"mandate_request": {"currency": "EUR"}})
    late_flow = gc.billing_request_flows.create(params={"links": {"billing_request": late.id}})
    sandbox.advance(8)
    assert httpx.get(late_flow.authorisation_url).status_code == 410
    assert httpx.get(f"{sandbox.url}/__sandbox/gocardless/flow/BRF000NOSUCH").status_code == 404
    with pytest.raises(errors.ValidationFailedError) as err:
        gc.billing_requests.create(params={"mandate_request": {"scheme": "bacs", "currency": "EUR"}})
    assert err.value.errors[0]["field"] == "mandate_request.currency"
    cancelled = gc.billing_requests.cancel(late.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(errors.InvalidStateError):
        gc.billing_requests.cancel(late.id)


# -- mandate imports -------------------------------------------------------------------------------
def test_mandate_import_processed_on_the_next_advance(sandbox, gc):
    imp = gc.mandate_imports.create(params={"scheme": "sepa_core"})
    assert imp.status == "created" and imp.links.creditor.startswith("CR")
    amendment = {
        "original_mandate_reference": "RUM-0001",
        "original_creditor_id": "FR72ZZZ123456",
        "original_creditor_name": "Old Creditor",
    }
    entry = {
        "links": {"mandate_import": imp.id},
        "record_identifier": "row-1",
        "customer": {"email": "ann@example.fr", "given_name": "Ann", "family_name": "Lee"},
        "bank_account": {"account_holder_name": "Ann Lee", "iban": FR},
        "amendment": amendment,
        "mandate": {"reference": "RUM-0001"},
    }
    gc.mandate_import_entries.create(params=entry)
    gc.mandate_import_entries.create(
        params={
            **entry,
            "record_identifier": "row-2",
            "customer": {"email": "bad@example.fr"},
            "bank_account": {"account_holder_name": "Bad", "iban": "DE89370400440532013001"},
            "amendment": {**amendment, "original_mandate_reference": "RUM-0002"},
            "mandate": {"reference": "RUM-0002"},
        }
    )
    with pytest.raises(errors.ValidationFailedError) as err:  # SEPA needs an amendment
        gc.mandate_import_entries.create(params={**entry, "amendment": None})
    assert err.value.errors[0]["field"] == "amendment.original_mandate_reference"
    with pytest.raises(errors.ValidationFailedError) as err:  # naming the original creditor
        gc.mandate_import_entries.create(params={**entry, "amendment": {**amendment, "original_creditor_name": ""}})
    assert err.value.errors[0]["field"] == "amendment.original_creditor_name"
    with pytest.raises(errors.ValidationFailedError):
        gc.mandate_import_entries.create(params={**entry, "record_identifier": "x" * 256})
    assert gc.mandate_imports.submit(imp.id).status == "submitted"
    with pytest.raises(errors.InvalidStateError):
        gc.mandate_import_entries.create(params=entry)
    with pytest.raises(errors.InvalidStateError):
        gc.mandate_imports.submit(imp.id)
    entries = gc.mandate_import_entries.list(params={"mandate_import": imp.id}).records
    assert all(e.links.mandate is None for e in entries)
    sandbox.advance(1)
    assert gc.mandate_imports.get(imp.id).status == "processed"
    entries = {
        e.record_identifier: e for e in gc.mandate_import_entries.list(params={"mandate_import": imp.id}).records
    }
    good, bad = entries["row-1"], entries["row-2"]
    mandate = gc.mandates.get(good.links.mandate)
    assert (mandate.status, mandate.reference, mandate.links.customer) == ("active", "RUM-0001", good.links.customer)
    assert gc.customer_bank_accounts.get(good.links.customer_bank_account).links.customer == good.links.customer
    assert bad.links.mandate is None and "bank_account.iban" in bad.processing_errors
    listed = gc.mandate_import_entries.list(params={"mandate_import": imp.id, "status": "unsuccessfully_processed"})
    assert [e.record_identifier for e in listed.records] == ["row-2"]
    with pytest.raises(errors.InvalidStateError):
        gc.mandate_imports.cancel(imp.id)
    other = gc.mandate_imports.create(params={"scheme": "bacs"})
    assert gc.mandate_imports.cancel(other.id).status == "cancelled"


# -- scenario simulators ---------------------------------------------------------------------------
def test_scenario_simulators_move_resources_and_emit_events(sandbox, gc, http):
    _, mandate = _mandate(gc)
    outcomes = {}
    for name in ("payment_confirmed", "payment_paid_out", "payment_failed", "payment_charged_back"):
        payment = _payment(gc, mandate)
        ran = gc.scenario_simulators.run(name, params={"links": {"resource": payment.id}})
        assert ran.id == name
        outcomes[name] = gc.payments.get(payment.id).status
        if name == "payment_charged_back":
            assert [e.action for e in gc.events.list(params={"payment": payment.id}).records] == [
                "charged_back",
                "paid_out",
                "confirmed",
                "submitted",
                "created",
            ]
    assert outcomes == {
        "payment_confirmed": "confirmed",
        "payment_paid_out": "paid_out",
        "payment_failed": "failed",
        "payment_charged_back": "charged_back",
    }
    assert gc.mandates.get(mandate.id).status == "active"  # a SEPA mandate goes with its first payment
    failed = gc.events.list(params={"resource_type": "payments", "action": "failed"}).records[0]
    assert (failed.details.origin, failed.details.reason_code) == ("bank", "AM04")
    with pytest.raises(errors.InvalidStateError) as err:  # paid out: it cannot be confirmed again
        gc.scenario_simulators.run("payment_confirmed", params={"links": {"resource": failed.links.payment}})
    assert err.value.errors[0]["reason"]
    _, fresh = _mandate(gc, "bob@example.fr", DE)
    raw = http.post(
        "/scenario_simulators/mandate_activated/actions/run", json={"data": {"links": {"resource": fresh.id}}}
    )  # exactly what the SDK sends
    assert raw.status_code == 200 and gc.mandates.get(fresh.id).status == "active"
    _, doomed = _mandate(gc, "eve@example.fr", NL)
    gc.scenario_simulators.run("mandate_failed", params={"links": {"resource": doomed.id}})
    assert gc.mandates.get(doomed.id).status == "failed"
    assert [e.action for e in gc.events.list(params={"mandate": doomed.id}).records] == [
        "failed",
        "submitted",
        "created",
    ]
    with pytest.raises(errors.InvalidStateError) as err:  # a failed mandate takes no payment
        _payment(gc, doomed)
    assert err.value.errors[0]["reason"] == "mandate_is_inactive"
    with pytest.raises(errors.InvalidStateError):
        gc.scenario_simulators.run("mandate_activated", params={"links": {"resource": doomed.id}})
    with pytest.raises(errors.InvalidApiUsageError) as err:
        gc.scenario_simulators.run("no_such_scenario", params={"links": {"resource": doomed.id}})
    assert err.value.code == 404
    with pytest.raises(errors.ValidationFailedError):
        gc.scenario_simulators.run("payment_failed", params={"links": {"resource": "PM0000MISSING"}})


def test_chargebacks_and_late_failures_follow_a_paid_out_payment_with_the_events_gocardless_sends(sandbox, gc):
    """payment_charged_back / payment_chargeback_settled / payment_late_failure(_settled), as
    gocardless-pro's ScenarioSimulatorsService documents them; details as GoCardless's event
    reference gives them for sepa_core."""
    _, mandate = _mandate(gc)

    def run(name, payment_id):
        return gc.scenario_simulators.run(name, params={"links": {"resource": payment_id}})

    def actions(payment_id):
        return [e.action for e in gc.events.list(params={"payment": payment_id}).records]

    paid = _payment(gc, mandate)
    run("payment_paid_out", paid.id)  # collected and paid out first: a chargeback comes weeks later
    run("payment_charged_back", paid.id)
    assert gc.payments.get(paid.id).status == "charged_back"
    back = gc.events.list(params={"payment": paid.id, "action": "charged_back"}).records[0]
    assert (back.details.origin, back.details.cause, back.details.scheme, back.details.reason_code) == (
        "bank",
        "refund_requested",
        "sepa_core",
        "MD06",
    )
    settled = _payment(gc, mandate)
    run("payment_chargeback_settled", settled.id)
    assert gc.payments.get(settled.id).status == "charged_back"  # settling is an event, not a status
    assert actions(settled.id)[:2] == ["chargeback_settled", "charged_back"]

    late = _payment(gc, mandate)
    run("payment_paid_out", late.id)
    run("payment_late_failure", late.id)
    assert gc.payments.get(late.id).status == "failed"
    assert actions(late.id) == ["failed", "paid_out", "confirmed", "submitted", "created"]
    failed = gc.events.list(params={"payment": late.id, "action": "failed"}).records[0]
    assert (failed.details.origin, failed.details.cause, failed.details.reason_code) == (
        "bank",
        "insufficient_funds",
        "AM04",
    )
    late_settled = _payment(gc, mandate)
    run("payment_late_failure_settled", late_settled.id)  # from pending_submission: the whole way
    assert gc.payments.get(late_settled.id).status == "failed"
    assert actions(late_settled.id) == [
        "late_failure_settled",
        "failed",
        "paid_out",
        "confirmed",
        "submitted",
        "created",
    ]
    event = gc.events.list(params={"payment": late_settled.id, "action": "late_failure_settled"}).records[0]
    assert (event.details.origin, event.details.cause) == ("gocardless", "late_failure_settled")
    assert event.resource_type == "payments" and event.links.payment == late_settled.id
    with pytest.raises(errors.InvalidStateError) as err:  # a late failure starts pending or paid out
        run("payment_late_failure", late.id)
    assert err.value.errors[0]["reason"] == "invalid_state_for_scenario"
    confirmed = _payment(gc, mandate)
    run("payment_confirmed", confirmed.id)
    with pytest.raises(errors.InvalidStateError):
        run("payment_late_failure", confirmed.id)


# -- creditor ------------------------------------------------------------------------------------
def test_creditor_and_its_control_route(sandbox, gc):
    creditor = gc.creditors.list().records[0]
    assert creditor.verification_status == "successful" and creditor.mandate_imports_enabled is True
    assert {s["scheme"] for s in creditor.scheme_identifiers} >= {"sepa_core", "bacs"}
    changed = httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"verification_status": "in_review"})
    assert changed.status_code == 200 and gc.creditors.get(creditor.id).verification_status == "in_review"
    assert (
        httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"verification_status": "maybe"}).status_code
        == 400
    )
    gc.scenario_simulators.run(
        "creditor_verification_status_action_required", params={"links": {"resource": creditor.id}}
    )
    assert gc.creditors.get(creditor.id).verification_status == "action_required"
    stats = httpx.get(f"{sandbox.url}/__sandbox/stats").json()
    assert stats["gocardless_objects"]["creditors"] == 1 and stats["requests"]["GET /creditors/{id}"] == 2


# -- the clock at scale -----------------------------------------------------------------------------
def test_indexes_and_clock_stay_right_at_scale(sandbox, gc, service):
    _, busy = _mandate(gc)
    _, quiet = _mandate(gc, "bob@example.fr", DE)
    _seed_payments(sandbox, service, busy.id, 20_000)
    only = _payment(gc, quiet)
    assert [p.id for p in gc.payments.list(params={"mandate": quiet.id}).records] == [only.id]
    assert len(service.due) <= 20_000 + 10  # one clock entry per object that will move
    sandbox.advance(1)  # nothing of the 20,000 is due: the day only visits what is
    assert gc.payments.list(params={"status": "submitted", "limit": 1}).records == []
    charge = date.fromisoformat(only.charge_date)
    sandbox.advance((add_working_days(charge, 2) - sandbox.clock.today()).days)
    assert gc.payments.get(only.id).status == "paid_out"
    assert (
        len(gc.payments.list(params={"mandate": busy.id, "status": "pending_submission", "limit": 500}).records) == 500
    )


# -- shapes: GoCardless's own fixtures ------------------------------------------------------------------
def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_every_fixture_key_is_in_the_sandbox_responses(sandbox, gc, http):
    customer, mandate = _mandate(gc)
    payment = _payment(gc, mandate, metadata={"k": "v"})
    br = gc.billing_requests.create(
        params={
            "mandate_request": {"scheme": "sepa_core", "currency": "EUR"},
            "payment_request": {"amount": 500, "currency": "EUR", "description": "first"},
            "links": {"customer": customer.id},
        }
    )
    flow = gc.billing_request_flows.create(params={"links": {"billing_request": br.id}})
    imp = gc.mandate_imports.create(params={"scheme": "sepa_core"})
    entry = gc.mandate_import_entries.create(
        params={
            "links": {"mandate_import": imp.id},
            "record_identifier": "r1",
            "customer": {"email": "x@example.fr", "family_name": "X"},
            "bank_account": {"account_holder_name": "X", "iban": DE},
            "amendment": {
                "original_mandate_reference": "R1",
                "original_creditor_id": "FR72ZZZ123456",
                "original_creditor_name": "Old",
            },
        }
    )
    creditor = gc.creditors.list().records[0]
    event = gc.events.list(params={"limit": 1}).records[0]
    account_id = mandate.links.customer_bank_account
    singles = {
        "customers": customer.id,
        "customer_bank_accounts": account_id,
        "mandates": mandate.id,
        "payments": payment.id,
        "billing_requests": br.id,
        "mandate_imports": imp.id,
        "creditors": creditor.id,
        "events": event.id,
    }
    created = {
        "billing_request_flows": flow.api_response.body,
        "mandate_import_entries": entry.api_response.body,
        "scenario_simulators": None,
    }
    lists = {
        "customers": "",
        "customer_bank_accounts": "",
        "mandates": "",
        "payments": "",
        "billing_requests": "",
        "creditors": "",
        "events": "",
        "mandate_import_entries": f"?mandate_import={imp.id}",
    }
    checked = 0
    for kind in sorted(set(singles) | set(created)):
        fixture = _fixture(kind)
        for action in ("get", "create"):
            if action not in fixture:
                continue
            if kind in singles:
                body = http.get(f"/{kind}/{singles[kind]}").json()
            elif kind == "scenario_simulators":
                continue
            else:
                body = created[kind]
            assert _missing_keys(fixture[action]["body"], body) == [], (kind, action)
            checked += 1
        if kind in lists and "list" in fixture:
            expected = {k: v for k, v in fixture["list"]["body"].items() if k != "linked"}  # only with include
            assert _missing_keys(expected, http.get(f"/{kind}{lists[kind]}").json()) == [], (kind, "list")
            checked += 1
    # actions answer the same shapes
    actions = [
        ("payments", "cancel", f"/payments/{payment.id}/actions/cancel"),
        ("mandates", "cancel", f"/mandates/{mandate.id}/actions/cancel"),
        ("mandates", "reinstate", f"/mandates/{mandate.id}/actions/reinstate"),
        ("customer_bank_accounts", "disable", f"/customer_bank_accounts/{account_id}/actions/disable"),
        ("mandate_imports", "submit", f"/mandate_imports/{imp.id}/actions/submit"),
        ("billing_requests", "cancel", f"/billing_requests/{br.id}/actions/cancel"),
    ]
    for kind, action, path in actions:
        response = http.post(path, json={"data": None})
        assert response.status_code == 200, (path, response.text)
        assert _missing_keys(_fixture(kind)[action]["body"], response.json()) == [], (kind, action)
        checked += 1
    _, other = _mandate(gc, "bob@example.fr", BE)
    run = http.post(
        "/scenario_simulators/payment_failed/actions/run",
        json={"data": {"links": {"resource": _payment(gc, other).id}}},
    )
    assert _missing_keys(_fixture("scenario_simulators")["run"]["body"], run.json()) == []
    assert checked >= 25


def test_error_bodies_have_the_fixture_keys(sandbox, gc, http):
    _, mandate = _mandate(gc)
    payment = _payment(gc, mandate)
    account_id = mandate.links.customer_bank_account
    customer_id = mandate.links.customer
    http.post(
        "/payments",
        json={"payments": {"amount": 1, "currency": "EUR", "links": {"mandate": mandate.id}}},
        headers={"Idempotency-Key": "same"},
    )
    bodies = {
        "validation_failed_error": http.post(
            "/payments", json={"payments": {"amount": 1, "currency": "GBP", "links": {"mandate": mandate.id}}}
        ),
        "validation_failed_duplicate_bank_account_error": http.post(
            "/customer_bank_accounts",
            json={
                "customer_bank_accounts": {"account_holder_name": "A", "iban": FR, "links": {"customer": customer_id}}
            },
        ),
        "idempotent_creation_conflict_error": http.post(
            "/payments",
            json={"payments": {"amount": 1, "currency": "EUR", "links": {"mandate": mandate.id}}},
            headers={"Idempotency-Key": "same"},
        ),
        "unauthorized_error": httpx.get(f"{sandbox.url}/payments", headers={"Authorization": "Bearer nope"}),
        "invalid_api_usage_error": http.post("/customers", content=b"[]"),
    }
    sandbox.advance((working_days_before(date.fromisoformat(payment.charge_date), 2) - sandbox.clock.today()).days)
    bodies["invalid_state_error"] = http.post(f"/payments/{payment.id}/actions/cancel")
    httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"mandate_imports_enabled": False})
    bodies["insufficient_permission"] = http.post("/mandate_imports", json={"mandate_imports": {"scheme": "bacs"}})
    sandbox.set_faults(Faults(rate_limit_rate=1.0))
    bodies["rate_limit_exceeded"] = http.get("/payments")
    sandbox.set_faults(Faults(error_rate=1.0))
    bodies["gocardless_error"] = http.get("/payments")
    sandbox.set_faults(Faults())
    assert account_id
    for name, response in bodies.items():
        expected = _fixture(name)
        assert response.status_code == expected["error"]["code"], name
        assert response.json()["error"]["type"] == expected["error"]["type"], name
        assert _missing_keys(expected, response.json()) == [], name
