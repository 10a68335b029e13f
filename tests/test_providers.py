"""The provider layer over the official SDKs, against the sandbox and the providers' fixtures."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from crmpay.core.errors import AuthError, ExitCode, OperationFailed, TemporaryError
from crmpay.core.models import MandateState, NewCustomer, NewMandate, NewPayment, NewSetupLink, PaymentState
from crmpay.core.money import Money
from crmpay.providers import _retry
from crmpay.providers import gocardless as gcp
from crmpay.providers import mollie as mp
from crmpay.sandbox import Faults

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
FAST = _retry.RetryPolicy(attempts=12, base_delay=0.001, max_delay=0.01)


def _gc(sandbox, policy=FAST):
    return gcp.GoCardlessProvider(
        sandbox.credentials()["gocardless"]["access_token"],
        environment="local",
        base_url=sandbox.url,
        retry_policy=policy,
    )


def _mollie(sandbox, policy=FAST):
    return mp.MollieProvider(
        sandbox.credentials()["mollie"]["api_key"], environment="local", base_url=sandbox.url, retry_policy=policy
    )


# -- fixtures written by the providers themselves --------------------------------------------------
def _gc_bodies(kind):
    fixture = json.loads((SHARED / "gocardless" / f"{kind}.json").read_text())
    for action in fixture.values():
        body = action["body"][kind]
        yield from (body if isinstance(body, list) else [body])


@pytest.mark.parametrize(
    "kind, parse",
    [
        ("customers", gcp.customer_from),
        ("customer_bank_accounts", gcp.bank_account_from),
        ("mandates", gcp.mandate_from),
        ("payments", gcp.payment_from),
        ("events", gcp.event_from),
    ],
)
def test_every_gocardless_fixture_parses_through_the_sdk(kind, parse):
    import gocardless_pro.resources as resources

    classes = {
        "customers": resources.Customer,
        "customer_bank_accounts": resources.CustomerBankAccount,
        "mandates": resources.Mandate,
        "payments": resources.Payment,
        "events": resources.Event,
    }
    parsed = [parse(classes[kind](body, None).attributes) for body in _gc_bodies(kind)]
    assert parsed and all(p.id and p.provider == "gocardless" for p in parsed)
    if kind == "payments":
        assert {p.amount.currency for p in parsed} == {"EUR"} and all(
            isinstance(p.amount.amount, Decimal) for p in parsed
        )


MOLLIE_PAYMENTS = ["payment_single", "payment_canceled", "payment_updated", "payment_single_no_links"]
# error_bad_request.json is an OAuth token-endpoint error ({"error": "invalid_grant"}); API-key
# calls never see that shape, so it is not in this table.
MOLLIE_ERRORS = {
    "payment_rejected": 422,
    "bad_request": 400,
    "error_unauthorized": 401,
    "conflict_error": 409,
    "customer_doesnotexist": 404,
}


def test_every_mollie_error_fixture_is_an_sdk_error_we_map():
    from mollie.api.error import ResponseError

    for name, status in MOLLIE_ERRORS.items():
        body = json.loads((SHARED / "mollie" / f"{name}.json").read_text())
        error = ResponseError.factory(body)
        assert error.status == status and str(error) == body["detail"]


def test_every_mollie_fixture_parses_through_the_sdk():
    from mollie.api.client import Client
    from mollie.api.objects.customer import Customer
    from mollie.api.objects.mandate import Mandate
    from mollie.api.objects.payment import Payment

    client = Client()
    folder = SHARED / "mollie"
    payments = [
        mp.payment_from(dict(Payment(json.loads((folder / f"{n}.json").read_text()), client))) for n in MOLLIE_PAYMENTS
    ]
    for name in ("payments_list", "customer_payments_multiple"):
        payments += [
            mp.payment_from(dict(Payment(raw, client)))
            for raw in json.loads((folder / f"{name}.json").read_text())["_embedded"]["payments"]
        ]
    assert all(p.amount.amount == Decimal(p.raw["amount"]["value"]) for p in payments)
    assert {p.status for p in payments} >= {"open", "canceled"}
    single = next(p for p in payments if p.id == "tr_7UhSN1zuXS" and p.status == "open")
    assert single.state is PaymentState.CHARGED_BACK  # the fixture carries amountChargedBack
    customers = [
        mp.customer_from(dict(Customer(json.loads((folder / f"{n}.json").read_text()), client)))
        for n in ("customer_single", "customer_new", "customer_updated")
    ]
    for name in ("customers_list", "customers_list_first", "customers_list_second"):
        customers += [
            mp.customer_from(dict(Customer(raw, client)))
            for raw in json.loads((folder / f"{name}.json").read_text())["_embedded"]["customers"]
        ]
    assert all(c.id.startswith("cst_") for c in customers)
    mandates = [
        mp.mandate_from(dict(Mandate(json.loads((folder / f"{n}.json").read_text()), client)))
        for n in ("customer_mandate_single", "customer_mandate_updated")
    ]
    mandates += [
        mp.mandate_from(dict(Mandate(raw, client)))
        for raw in json.loads((folder / "customer_mandates_list.json").read_text())["_embedded"]["mandates"]
    ]
    assert mandates[0].customer_id == "cst_8wmqcHMN4U" and mandates[0].state is MandateState.ACTIVE
    assert mp.bank_account_from(mandates[0]).account_number_ending == "0000"


# -- lifecycles and outcomes through the provider layer -----------------------------------------------
@pytest.mark.parametrize("make", [_gc, _mollie], ids=["gocardless", "mollie"])
def test_collect_then_cancel_outcomes(sandbox, make):
    provider = make(sandbox)
    customer = provider.create_customer(NewCustomer("ann@example.fr", "Ann Lee"), idempotency_key="c")
    mandate = provider.create_mandate(
        NewMandate(customer.id, "Ann Lee", "FR1420041010050500013M02606", reference="RUM-1"), idempotency_key="m"
    )
    assert mandate.usable
    amount = Money(Decimal("49.90"), "EUR")
    early = provider.create_payment(
        NewPayment(mandate.id, amount, "INV-1", customer_id=customer.id), idempotency_key="p1"
    )
    assert early.state is PaymentState.PENDING and early.cancellable and early.amount == amount
    assert provider.cancel_payment(early.id).state is PaymentState.CANCELLED
    late = provider.create_payment(
        NewPayment(mandate.id, amount, "INV-2", customer_id=customer.id), idempotency_key="p2"
    )
    for _ in range(10):
        sandbox.advance(1)
        if not provider.get_payment(late.id).cancellable:
            break
    with pytest.raises(OperationFailed) as err:
        provider.cancel_payment(late.id)
    assert err.value.exit_code == ExitCode.FAILED
    for _ in range(10):
        sandbox.advance(1)
    assert provider.get_payment(late.id).state is PaymentState.PAID
    replay = provider.create_payment(
        NewPayment(mandate.id, amount, "INV-2", customer_id=customer.id), idempotency_key="p2"
    )
    assert replay.id == late.id


@pytest.mark.parametrize("make", [_gc, _mollie], ids=["gocardless", "mollie"])
def test_setup_link_completed_by_the_customer_yields_a_mandate(sandbox, make):
    provider = make(sandbox)
    customer = provider.create_customer(NewCustomer("cam@example.fr", "Cam Martin"), idempotency_key="c")
    link = provider.create_setup_link(
        NewSetupLink(customer.id, "INV-9", amount=Money(Decimal("120.00"), "EUR")), idempotency_key="link"
    )
    assert link.url.startswith(sandbox.url) and link.expires_at is not None
    assert provider.get_setup_link_mandate(link.id) is None
    form = {
        "account_holder_name": "Cam Martin",
        "iban": "DE89370400440532013000",
        "consumerName": "Cam Martin",
        "consumerAccount": "DE89370400440532013000",
    }
    assert httpx.post(link.url, data=form).status_code == 200
    mandate_id = provider.get_setup_link_mandate(link.id)
    assert mandate_id and provider.get_mandate(mandate_id, customer_id=customer.id).usable


def test_errors_map_to_exit_codes(sandbox):
    with pytest.raises(AuthError) as auth:
        gcp.GoCardlessProvider("sandbox_wrong", environment="local", base_url=sandbox.url).check_credentials()
    assert auth.value.exit_code == ExitCode.AUTH and "sandbox_wrong" not in str(auth.value)
    with pytest.raises(AuthError):
        mp.MollieProvider("test_wrongwrongwrong", environment="local", base_url=sandbox.url).check_credentials()
    sandbox.set_faults(Faults(error_rate=1.0))
    slow = _retry.RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001)
    for make in (_gc, _mollie):
        with pytest.raises(TemporaryError) as temp:
            make(sandbox, slow).check_credentials()
        assert temp.value.exit_code == ExitCode.TEMPORARY
    sandbox.set_faults(Faults())
    provider = _gc(sandbox)
    customer = provider.create_customer(NewCustomer("a@b.fr", "A B"), idempotency_key="c")
    with pytest.raises(OperationFailed, match="iban"):
        provider.create_mandate(NewMandate(customer.id, "A B", "FR1420041010050500013M02605"), idempotency_key="m")
    with pytest.raises(OperationFailed, match="not found"):
        provider.get_payment("PM0000NOTHERE")


def test_unverified_creditor_is_a_warning(sandbox):
    httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"verification_status": "action_required"})
    check = _gc(sandbox).check_credentials()
    assert check.warnings and "action_required" in check.warnings[0]


def _seed_payments(sandbox, provider_name, count):
    """Put `count` payments straight into the simulator (faults off)."""
    service = sandbox.services[provider_name]
    if provider_name == "gocardless":
        gc = _gc(sandbox)
        customer = gc.create_customer(NewCustomer("bulk@example.fr", "Bulk"), idempotency_key="bulk-c")
        mandate = gc.create_mandate(
            NewMandate(customer.id, "Bulk", "FR1420041010050500013M02606"), idempotency_key="bulk-m"
        )
        with sandbox.lock:
            for i in range(count):
                service._new_payment(
                    service.objects["mandates"][mandate.id],
                    100 + i,
                    "EUR",
                    sandbox.clock.today() + timedelta(days=30),
                    {},
                )
    else:
        mollie = _mollie(sandbox)
        customer = mollie.create_customer(NewCustomer("bulk@example.fr", "Bulk"), idempotency_key="bulk-c")
        mollie.create_mandate(NewMandate(customer.id, "Bulk", "FR1420041010050500013M02606"), idempotency_key="bulk-m")
        request = {
            "amount": {"currency": "EUR", "value": "1.00"},
            "description": "bulk",
            "sequenceType": "recurring",
            "customerId": customer.id,
        }
        from crmpay.sandbox._http import Request

        with sandbox.lock:
            for i in range(count):
                body = json.dumps({**request, "amount": {"currency": "EUR", "value": f"{1 + i}.00"}}).encode()
                service._create_payment(Request.build("POST", "/v2/payments", {}, body), json.loads(body))


@pytest.mark.parametrize("name, make", [("gocardless", _gc), ("mollie", _mollie)])
def test_listing_2000_payments_under_10_percent_faults_returns_each_once(sandbox, name, make):
    _seed_payments(sandbox, name, 2000)
    sandbox.set_faults(Faults(error_rate=0.04, rate_limit_rate=0.03, drop_rate=0.03, seed=7))
    try:
        ids = [p.id for p in make(sandbox).iter_payments()]
    finally:
        sandbox.set_faults(Faults())
    assert len(ids) == 2000 and len(set(ids)) == 2000
    stats = httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]
    listing = stats["GET /payments"] if name == "gocardless" else stats["GET /v2/payments"]
    pages = 4 if name == "gocardless" else 8
    assert listing > pages  # faults were really injected, and retried


# -- crmpay connect, through the command line -----------------------------------------------------
def test_connect_checks_then_stores_and_never_leaks(crmpay_env, sandbox):
    token = sandbox.credentials()["gocardless"]["access_token"]
    key = sandbox.credentials()["mollie"]["api_key"]
    refused = crmpay_env.run(
        "connect",
        "gocardless",
        "--environment",
        "local",
        "--base-url",
        sandbox.url,
        "--token-stdin",
        input="sandbox_not-the-token\n",
    )
    assert refused.code == 4 and "rejected the access token" in refused.stderr
    assert crmpay_env.run("status", "--json").json()["services"][0]["connected"] is False
    outputs = [
        crmpay_env.run(
            "connect",
            "gocardless",
            "--environment",
            "local",
            "--base-url",
            sandbox.url,
            "--token-stdin",
            "--json",
            input=token + "\n",
        ),
        crmpay_env.run(
            "connect", "mollie", "--environment", "local", "--base-url", sandbox.url, "--token-stdin", input=key + "\n"
        ),
    ]
    assert [o.code for o in outputs] == [0, 0], [o.stderr for o in outputs]
    assert outputs[0].json()["account_id"].startswith("CR")
    outputs.append(crmpay_env.run("status", "--json"))
    services = {s["service"]: s for s in outputs[-1].json()["services"]}
    assert services["gocardless"]["connected"] and services["gocardless"]["source"] == "keyring"
    assert services["gocardless"]["settings"] == {"environment": "local", "base_url": sandbox.url}
    assert services["mollie"]["connected"]
    outputs.append(crmpay_env.run("config", "show", "--json"))
    for secret in (token, key):
        forms = [secret.encode(), base64.b64encode(secret.encode())]
        assert not any(secret in o.stdout + o.stderr for o in outputs)
        assert not [p for p in crmpay_env.home.rglob("*") if p.is_file() and any(f in p.read_bytes() for f in forms)]
        assert any(f in crmpay_env.keyring_file.read_bytes() for f in forms)


def test_connect_reports_an_unverified_creditor(crmpay_env, sandbox):
    httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"verification_status": "in_review"})
    result = crmpay_env.run(
        "connect",
        "gocardless",
        "--environment",
        "local",
        "--base-url",
        sandbox.url,
        env={"CRMPAY_GOCARDLESS_ACCESS_TOKEN": sandbox.credentials()["gocardless"]["access_token"]},
    )
    assert result.code == 0 and "warning:" in result.stderr and "in_review" in result.stderr


def test_connect_local_needs_a_base_url(crmpay_env):
    result = crmpay_env.run("connect", "mollie", "--environment", "local", "--token-stdin", input="test_x\n")
    assert result.code == 2 and "needs base_url" in result.stderr
