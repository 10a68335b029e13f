"""MollieProvider over the official SDK: against the sandbox, and against Mollie's own bodies.

The sandbox tests drive every lifecycle through the provider; the replay tests serve the
files of `tests/fixtures/mollie` over HTTP, unchanged but for their host, so the SDK and
our mapping read exactly what Mollie wrote.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from mollie.api.client import Client
from mollie.api.objects.customer import Customer as SdkCustomer
from mollie.api.objects.mandate import Mandate as SdkMandate
from mollie.api.objects.payment import Payment as SdkPayment
from mollie.api.objects.payment_link import PaymentLink as SdkPaymentLink
from mollie.api.objects.refund import Refund as SdkRefund

import _paths
from crmpay.core.errors import AuthError, ExitCode, OperationFailed, TemporaryError, UsageError
from crmpay.core.models import (
    MandateState,
    NewCustomer,
    NewMandate,
    NewPayment,
    NewSetupLink,
    PaymentState,
)
from crmpay.core.money import Money
from crmpay.providers import mollie as mp
from crmpay.providers.base import PaymentProvider
from crmpay.retry import RetryPolicy
from crmpay.sandbox import Faults
from crmpay.sandbox.clock import add_working_days

FIXTURES = _paths.FIXTURES / "mollie"
FAST = RetryPolicy(attempts=12, base_delay=0.001, max_delay=0.01)
IBAN = "FR1420041010050500013M02606"
EUR = "EUR"


def _provider(sandbox, policy: RetryPolicy = FAST, key: str | None = None) -> mp.MollieProvider:
    return mp.MollieProvider(
        key or sandbox.credentials()["mollie"]["api_key"],
        environment="local",
        base_url=sandbox.url,
        retry_policy=policy,
        timeout=5,
    )


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _customer_with_mandate(provider: mp.MollieProvider, n: int = 1):
    customer = provider.create_customer(
        NewCustomer(f"c{n}@example.fr", f"Client {n}", language="fr"), idempotency_key=f"cst-{n}"
    )
    mandate = provider.create_mandate(
        NewMandate(customer.id, f"Client {n}", IBAN, reference=f"RUM-{n}", signature_date=date(2024, 1, 2)),
        idempotency_key=f"mdt-{n}",
    )
    return customer, mandate


def _pay(provider: mp.MollieProvider, customer, mandate, value: str = "49.90", key: str = "pay-1"):
    return provider.create_payment(
        NewPayment(
            mandate.id,
            Money(Decimal(value), EUR),
            "INV-2024-001",
            customer_id=customer.id,
            metadata={"invoice": "INV-2024-001"},
        ),
        idempotency_key=key,
    )


def _objects(sandbox) -> dict[str, int]:
    return sandbox.stats_snapshot()["mollie_objects"]


# -- construction and credentials ---------------------------------------------------------------------
def test_construction_and_credentials(sandbox):
    provider = _provider(sandbox)
    assert isinstance(provider, PaymentProvider)
    assert (provider.name, provider.max_page_size) == ("mollie", 250)
    check = provider.check_credentials()
    assert check.account_name == "Mollie (test mode)"
    assert sandbox.stats_snapshot()["requests"] == {"GET /v2/customers": 1}
    assert list(provider.iter_events()) == [] and list(provider.iter_events(after="x")) == []
    with pytest.raises(UsageError):
        mp.MollieProvider("test_abcdefghijklmnop", environment="local")
    with pytest.raises(UsageError):
        mp.MollieProvider("test_abcdefghijklmnop", environment="sandbox")
    with pytest.raises(AuthError) as malformed:
        mp.MollieProvider("secret-not-a-key", environment="local", base_url=sandbox.url)
    assert "secret-not-a-key" not in str(malformed.value)
    wrong = "test_wrongwrongwrongwrong"
    with pytest.raises(AuthError) as rejected:
        _provider(sandbox, key=wrong).check_credentials()
    assert rejected.value.exit_code == ExitCode.AUTH and wrong not in str(rejected.value)


# -- lifecycles ----------------------------------------------------------------------------------------
def test_recurring_payment_pending_submitted_paid(sandbox):
    provider = _provider(sandbox)
    customer, mandate = _customer_with_mandate(provider)
    assert customer.language == "fr" and customer.raw["locale"] == "fr_FR"
    assert (mandate.state, mandate.usable, mandate.scheme, mandate.reference) == (
        MandateState.ACTIVE,
        True,
        "sepa_core",
        "RUM-1",
    )
    assert mandate.customer_id == customer.id and mandate.signature_date == date(2024, 1, 2)
    payment = _pay(provider, customer, mandate)
    today = sandbox.clock.today()
    sent = add_working_days(today, 1)
    assert payment.amount == Money(Decimal("49.90"), EUR) and isinstance(payment.amount.amount, Decimal)
    assert (payment.status, payment.state, payment.cancellable) == ("pending", PaymentState.PENDING, True)
    assert payment.mandate_id == mandate.id and payment.customer_id == customer.id
    assert payment.charge_date == add_working_days(sent, 1) and payment.metadata == {"invoice": "INV-2024-001"}
    while sandbox.clock.today() < sent:
        sandbox.advance(1)
    at_bank = provider.get_payment(payment.id)
    assert (at_bank.status, at_bank.state, at_bank.cancellable) == ("pending", PaymentState.SUBMITTED, False)
    sandbox.advance_to(add_working_days(sent, 3))  # paid three working days after it was sent
    paid = provider.get_payment(payment.id)
    assert (paid.status, paid.state, paid.cancellable) == ("paid", PaymentState.PAID, False)
    httpx.post(f"{sandbox.url}/__sandbox/mollie/payments/{payment.id}/status", json={"status": "charged_back"})
    assert provider.get_payment(payment.id).state is PaymentState.CHARGED_BACK
    assert provider.get_mandate(mandate.id).id == mandate.id  # its customer is remembered


def test_cancel_before_sending_and_refused_after(sandbox):
    provider = _provider(sandbox)
    customer, mandate = _customer_with_mandate(provider)
    early = _pay(provider, customer, mandate, key="early")
    cancelled = provider.cancel_payment(early.id)
    assert (cancelled.status, cancelled.state, cancelled.cancellable) == ("canceled", PaymentState.CANCELLED, False)
    with pytest.raises(OperationFailed, match="is canceled"):
        provider.cancel_payment(early.id)
    late = _pay(provider, customer, mandate, "10.00", key="late")
    while provider.get_payment(late.id).cancellable:
        sandbox.advance(1)
    with pytest.raises(OperationFailed) as refused:
        provider.cancel_payment(late.id)
    assert "pending" in str(refused.value) and refused.value.exit_code == ExitCode.FAILED
    assert provider.get_payment(late.id).status == "pending"
    assert sandbox.stats_snapshot()["requests"]["DELETE /v2/payments/{id}"] == 1  # refused without asking


def test_setup_link_is_a_first_payment_whose_payment_creates_the_mandate(sandbox):
    provider = _provider(sandbox)
    customer = provider.create_customer(NewCustomer("dee@example.fr", "Dee Roy"), idempotency_key="cst-dee")
    link = provider.create_setup_link(
        NewSetupLink(customer.id, "Invoice INV-7", amount=Money(Decimal("120.00"), EUR)), idempotency_key="link-7"
    )
    assert link.url == f"{sandbox.url}/__sandbox/mollie/checkout/{link.id}" and link.expires_at
    assert link.raw["sequenceType"] == "first" and link.raw["amount"] == {"currency": EUR, "value": "120.00"}
    again = provider.create_setup_link(
        NewSetupLink(customer.id, "Invoice INV-7", amount=Money(Decimal("120.00"), EUR)), idempotency_key="link-7"
    )
    assert again.id == link.id
    assert provider.get_setup_link_mandate(link.id) is None
    assert httpx.post(link.url, data={"consumerName": "Dee Roy", "consumerAccount": IBAN}).status_code == 200
    mandate_id = provider.get_setup_link_mandate(link.id)
    assert mandate_id and provider.get_payment(link.id).state is PaymentState.PAID
    mandate = provider.get_mandate(mandate_id, customer_id=customer.id)
    assert (mandate.state, mandate.usable) == (MandateState.ACTIVE, True)
    assert [m.id for m in provider.iter_mandates()] == [mandate_id]
    (account,) = provider.iter_bank_accounts()
    assert (account.id, account.customer_id, account.holder_name, account.account_number_ending) == (
        mandate_id,
        customer.id,
        "Dee Roy",
        "2606",
    )
    shown = json.dumps(asdict(account), default=str)
    assert IBAN not in shown and IBAN[4:] not in shown  # never the whole account number
    without = provider.create_setup_link(NewSetupLink(customer.id, "Mandate only"), idempotency_key="link-8")
    assert without.raw["amount"] == {"currency": EUR, "value": "0.01"} and without.raw["sequenceType"] == "first"


def test_idempotent_creates_make_one_object_each(sandbox):
    provider = _provider(sandbox)
    customer, mandate = _customer_with_mandate(provider)
    twin_customer, twin_mandate = _customer_with_mandate(provider)  # same keys: replays
    assert (twin_customer.id, twin_mandate.id) == (customer.id, mandate.id)
    first = _pay(provider, customer, mandate, key="inv-1")
    assert _pay(provider, customer, mandate, key="inv-1").id == first.id
    assert _objects(sandbox) == {
        "customers": 1,
        "mandates": 1,
        "payments": 1,
        "payment-links": 0,
        "refunds": 0,
        "chargebacks": 0,
    }
    with pytest.raises(OperationFailed, match="This Idempotency-Key has already been used."):
        _pay(provider, customer, mandate, "1.00", key="inv-1")


# -- listings ---------------------------------------------------------------------------------------------
def test_listings_walk_every_page_at_250(sandbox):
    service = sandbox.services["mollie"]
    with sandbox.lock:
        ids = [service.add_customer({"name": f"C{i}", "email": f"c{i}@example.fr"})["id"] for i in range(600)]
    provider = _provider(sandbox)
    customers = [c.id for c in provider.iter_customers()]
    assert customers == ids[::-1]
    assert sandbox.stats_snapshot()["requests"] == {"GET /v2/customers": 3}  # 250 + 250 + 100


def test_bank_accounts_are_read_from_every_customers_mandates(sandbox):
    service = sandbox.services["mollie"]
    with sandbox.lock:
        ids = [service.add_customer({"name": f"C{i}"})["id"] for i in range(4)]
        mandates = [
            service.add_mandate(
                customer_id, {"method": "directdebit", "consumerName": f"Holder {n}", "consumerAccount": IBAN}
            )["id"]
            for n, customer_id in enumerate(ids[:3])
        ]
        service.add_mandate(
            ids[0],
            {"method": "directdebit", "consumerName": "Second account", "consumerAccount": "DE89370400440532013000"},
        )
    provider = _provider(sandbox)
    assert [m.customer_id for m in provider.iter_mandates()] == [ids[2], ids[1], ids[0], ids[0]]
    accounts = {a.id: a for a in provider.iter_bank_accounts()}
    assert set(mandates) < set(accounts) and len(accounts) == 4
    assert (accounts[mandates[1]].holder_name, accounts[mandates[1]].account_number_ending) == ("Holder 1", "2606")
    assert {a.account_number_ending for a in accounts.values()} == {"2606", "3000"}
    assert all(a.country_code in ("FR", "DE") and a.currency == EUR and a.enabled for a in accounts.values())


def test_chargebacks_newest_first_and_the_charged_back_state(sandbox):
    provider = _provider(sandbox)
    customer, mandate = _customer_with_mandate(provider)
    paid = [_pay(provider, customer, mandate, value, key=f"k{value}") for value in ("10.00", "20.00")]
    assert list(provider.iter_chargebacks()) == []
    for payment in paid:
        httpx.post(f"{sandbox.url}/__sandbox/mollie/payments/{payment.id}/status", json={"status": "paid"})
    httpx.post(
        f"{sandbox.url}/__sandbox/mollie/payments/{paid[0].id}/chargeback",
        json={"amount": {"currency": EUR, "value": "4.00"}},
    )
    httpx.post(f"{sandbox.url}/__sandbox/mollie/payments/{paid[1].id}/chargeback", json={})
    newest, oldest = provider.iter_chargebacks()
    assert (newest.payment_id, oldest.payment_id) == (paid[1].id, paid[0].id)
    assert oldest.amount == Money(Decimal("4.00"), EUR) and oldest.reason and oldest.reason.startswith("MD06")
    partly = provider.get_payment(paid[0].id)  # any amount charged back: charged_back, status verbatim
    assert (partly.status, partly.state) == ("paid", PaymentState.CHARGED_BACK)
    account = provider.bank_account_of(mandate)  # read from the mandate: no request
    before = sum(sandbox.stats_snapshot()["requests"].values())
    assert account is not None and account.id == mandate.id and account.account_number_ending == IBAN[-4:]
    assert provider.bank_account_of(mandate) == account
    assert sum(sandbox.stats_snapshot()["requests"].values()) == before


def test_listing_2000_payments_under_10_percent_faults_returns_each_once(sandbox):
    service = sandbox.services["mollie"]
    with sandbox.lock:
        customer = service.add_customer({"name": "Bulk", "email": "bulk@example.fr"})
        service.add_mandate(customer["id"], {"method": "directdebit", "consumerName": "Bulk", "consumerAccount": IBAN})
        created = [
            service.add_payment(
                {
                    "amount": {"currency": EUR, "value": f"{1 + i}.00"},
                    "description": f"P{i}",
                    "sequenceType": "recurring",
                    "customerId": customer["id"],
                }
            )["id"]
            for i in range(2000)
        ]
    sandbox.set_faults(Faults(error_rate=0.04, rate_limit_rate=0.03, drop_rate=0.03, seed=7))
    payments = list(_provider(sandbox).iter_payments())
    sandbox.set_faults(Faults())
    ids = [p.id for p in payments]
    assert len(ids) == 2000 and len(set(ids)) == 2000 and ids == created[::-1]
    assert {p.amount for p in payments} == {Money(Decimal(f"{1 + i}.00"), EUR) for i in range(2000)}
    assert sandbox.stats_snapshot()["requests"]["GET /v2/payments"] > 8  # some pages were asked again


# -- errors ------------------------------------------------------------------------------------------------
def test_errors_map_to_our_classes_without_the_key(sandbox):
    provider = _provider(sandbox)
    key = sandbox.credentials()["mollie"]["api_key"]
    customer, mandate = _customer_with_mandate(provider)
    other, _ = _customer_with_mandate(provider, 2)
    with pytest.raises(OperationFailed) as foreign:
        provider.create_payment(
            NewPayment(mandate.id, Money(Decimal("5.00"), EUR), "x", customer_id=other.id), idempotency_key="foreign"
        )
    assert "(field mandateId)" in str(foreign.value)
    with pytest.raises(OperationFailed) as dollars:
        provider.create_payment(
            NewPayment(mandate.id, Money(Decimal("5.00"), "USD"), "x", customer_id=customer.id), idempotency_key="usd"
        )
    assert "EUR" in str(dollars.value) and "amount.currency" in str(dollars.value)
    with pytest.raises(OperationFailed, match="No payment exists with token tr_missing."):
        provider.get_payment("tr_missing")
    with pytest.raises(UsageError):
        provider.get_payment("not-a-payment-id")  # refused by the SDK before any request
    with pytest.raises(UsageError):
        provider.get_mandate("mdt_unknown")
    assert "GET /v2/payments/{id}" in sandbox.stats_snapshot()["requests"]
    sandbox.reset()
    for faults in (Faults(rate_limit_rate=1.0), Faults(error_rate=1.0), Faults(drop_rate=1.0)):
        sandbox.set_faults(faults)
        with pytest.raises(TemporaryError) as temporary:
            _provider(sandbox, RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002)).check_credentials()
        assert temporary.value.exit_code == ExitCode.TEMPORARY and key not in str(temporary.value)
    assert sandbox.stats_snapshot()["requests"]["GET /v2/customers"] == 9  # three attempts each
    sandbox.set_faults(Faults())


# -- Mollie's own bodies -------------------------------------------------------------------------------------
def test_every_fixture_body_parses_into_core_types():
    """Each file of tests/fixtures/mollie goes through the SDK object and our mapping."""
    client = Client()
    handled: set[str] = set()

    def load(name: str) -> dict[str, Any]:
        handled.add(name)
        return _fixture(name)

    def items(name: str, plural: str) -> list[dict[str, Any]]:
        return load(name)["_embedded"][plural]

    payments = [
        mp.payment_from(dict(SdkPayment(load(n), client)))
        for n in ("payment_single", "payment_canceled", "payment_updated", "payment_single_no_links")
    ]
    payments += [
        mp.payment_from(dict(SdkPayment(raw, client)))
        for n in ("payments_list", "customer_payments_multiple")
        for raw in items(n, "payments")
    ]
    assert all(p.amount == Money(Decimal(p.raw["amount"]["value"]), p.raw["amount"]["currency"]) for p in payments)
    assert {p.state for p in payments} >= {PaymentState.PENDING, PaymentState.CANCELLED}
    assert next(p for p in payments if p.raw.get("amountChargedBack")).state is PaymentState.CHARGED_BACK
    customers = [
        mp.customer_from(dict(SdkCustomer(load(n), client)))
        for n in ("customer_single", "customer_new", "customer_updated")
    ]
    customers += [
        mp.customer_from(dict(SdkCustomer(raw, client)))
        for n in (
            "customers_list",
            "customers_list_first",
            "customers_list_second",
            "customers_list_third",
            "customers_list_fourth",
        )
        for raw in items(n, "customers")
    ]
    assert len(customers) == 3 + 3 + 17 and all(c.id.startswith("cst_") and c.provider == "mollie" for c in customers)
    mandates = [
        mp.mandate_from(dict(SdkMandate(load(n), client)))
        for n in ("customer_mandate_single", "customer_mandate_updated")
    ]
    mandates += [mp.mandate_from(dict(SdkMandate(raw, client))) for raw in items("customer_mandates_list", "mandates")]
    assert all(m.customer_id == "cst_8wmqcHMN4U" and m.state is MandateState.ACTIVE and m.usable for m in mandates)
    accounts = [mp.bank_account_from(m) for m in mandates]
    assert [a.account_number_ending for a in accounts][:2] == ["0000", "0000"] and accounts[0].holder_name == "John Doe"
    links = [SdkPaymentLink(load("payment_link_single"), client)]
    links += [SdkPaymentLink(raw, client) for raw in items("payment_links_list", "payment_links")]
    assert all(mp.money_from(link.amount).currency == EUR for link in links if link.amount)
    refunds = [SdkRefund(load("refund_single"), client)] + [
        SdkRefund(r, client) for r in items("refunds_list", "refunds")
    ]
    assert mp.money_from(refunds[0].amount) == Money(Decimal("5.95"), EUR)
    assert all(isinstance(mp.money_from(r.amount).amount, Decimal) for r in refunds)
    errors = {
        "payment_rejected": OperationFailed,
        "bad_request": OperationFailed,
        "conflict_error": OperationFailed,
        "customer_doesnotexist": OperationFailed,
        "error_unauthorized": AuthError,
        "error_bad_request": OperationFailed,
        "accepted": TemporaryError,
    }
    handled.update(errors)  # replayed over HTTP below
    every = {p.stem for p in FIXTURES.glob("*.json")}
    assert handled == every, f"fixtures nobody reads: {sorted(every - handled)}"


class _Replay:
    """A tiny HTTP server answering with fixture files, their host rewritten to its own."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str | None], list[tuple[int, str]]] = {}
        self.seen: list[tuple[str, str, str | None]] = []  # method, path, idempotency key
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                cursor = parse_qs(parts.query).get("from", [None])[0]
                replay.seen.append((self.command, parts.path, self.headers.get("Idempotency-Key")))
                queue = replay.routes.get((self.command, parts.path, cursor)) or [(404, "{}")]
                status, name = queue.pop(0) if len(queue) > 1 else queue[0]
                body = name if name.startswith("{") else (FIXTURES / f"{name}.json").read_text()
                data = body.replace("https://api.mollie.com", replay.url).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/hal+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, method: str, path: str, *answers: tuple[int, str], cursor: str | None = None) -> None:
        self.routes[(method, path, cursor)] = list(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def replay() -> Iterator[_Replay]:
    server = _Replay()
    yield server
    server.close()


def test_fixture_bodies_replayed_over_http(replay):
    provider = mp.MollieProvider(
        "test_replayreplayreplay",
        environment="local",
        base_url=replay.url,
        retry_policy=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002),
    )
    replay.on("GET", "/v2/customers", (200, "customers_list_first"))
    for cursor, name in (
        ("cst_8pknKQJzJa", "customers_list_second"),
        ("cst_prs8JjDf57", "customers_list_third"),
        ("cst_g328m9rhGe", "customers_list_fourth"),
    ):
        replay.on("GET", "/v2/customers", (200, name), cursor=cursor)
    customers = list(provider.iter_customers())
    assert len(customers) == 17 and customers[0].id == "cst_HwBHgJgRAf" and customers[-1].id == "cst_gNvaNJAerm"
    replay.on("GET", "/v2/payments", (200, "payments_list"))
    assert [p.id for p in provider.iter_payments()] == [
        p["id"] for p in _fixture("payments_list")["_embedded"]["payments"]
    ]
    replay.on("GET", "/v2/customers/cst_8wmqcHMN4U/mandates", (200, "customer_mandates_list"))
    mandates = list(provider.iter_customer_mandates("cst_8wmqcHMN4U"))
    assert mandates and all(m.state is MandateState.ACTIVE for m in mandates)
    replay.on("GET", "/v2/customers/cst_8wmqcHMN4U/mandates/mdt_h3gAaD5zP", (200, "customer_mandate_single"))
    assert provider.get_mandate("mdt_h3gAaD5zP", customer_id="cst_8wmqcHMN4U").reference == "YOUR-COMPANY-MD1380"
    replay.on("GET", "/v2/customers/cst_8wmqcHMN4U", (200, "customer_single"))
    assert provider.get_customer("cst_8wmqcHMN4U").language == "nl"
    replay.on("GET", "/v2/payments/tr_7UhSN1zuXS", (200, "payment_single"))
    single = provider.get_payment("tr_7UhSN1zuXS")
    assert single.amount == Money(Decimal("10.00"), EUR) and single.state is PaymentState.CHARGED_BACK
    # 202 Accepted (the first request still being processed), then the payment: retried, same key
    replay.on("POST", "/v2/payments", (202, "accepted"), (201, "payment_single"))
    made = provider.create_payment(
        NewPayment("mdt_h3gAaD5zP", Money(Decimal("10.00"), EUR), "Order #12345", customer_id="cst_8wmqcHMN4U"),
        idempotency_key="order-12345",
    )
    assert made.id == "tr_7UhSN1zuXS"
    posts = [s for s in replay.seen if s[0] == "POST"]
    assert posts == [("POST", "/v2/payments", "order-12345")] * 2
    errors = {
        "payment_rejected": (422, OperationFailed, "The amount is higher than the maximum (field amount)"),
        "bad_request": (400, OperationFailed, "This Idempotency-Key has already been used."),
        "conflict_error": (409, TemporaryError, "Another request with this Idempotency-Key"),  # retried first
        "customer_doesnotexist": (404, OperationFailed, "No customer exists with token cst_doesnotexist."),
        "error_unauthorized": (401, AuthError, "rejected the API key"),
        "error_bad_request": (400, OperationFailed, "HTTP 400"),  # an OAuth body, no `status`
        "accepted": (202, TemporaryError, "still processing"),  # never done
    }
    for name, (status, kind, text) in errors.items():
        replay.on("POST", "/v2/payments", (status, name))
        with pytest.raises(kind) as raised:
            provider.create_payment(
                NewPayment("mdt_h3gAaD5zP", Money(Decimal("10.00"), EUR), "x", customer_id="cst_8wmqcHMN4U"),
                idempotency_key=f"k-{name}",
            )
        assert text in str(raised.value), name
        assert "test_replayreplayreplay" not in str(raised.value)


def test_status_mapping_covers_every_mollie_status():
    base = _fixture("payment_canceled")

    def state(status: str, **extra: Any) -> PaymentState:
        return mp.payment_from({**base, "status": status, **extra}).state

    assert state("open") is PaymentState.PENDING
    assert state("pending", isCancelable=True) is PaymentState.PENDING
    assert state("pending", isCancelable=False) is PaymentState.SUBMITTED
    assert state("authorized") is PaymentState.SUBMITTED
    assert state("paid") is PaymentState.PAID
    assert state("canceled") is PaymentState.CANCELLED
    assert state("expired") is PaymentState.FAILED and state("failed") is PaymentState.FAILED
    assert state("paid", amountChargedBack={"value": "10.00", "currency": EUR}) is PaymentState.CHARGED_BACK
    mandate = _fixture("customer_mandate_single")
    for status, expected, usable in (
        ("valid", MandateState.ACTIVE, True),
        ("pending", MandateState.PENDING, False),
        ("invalid", MandateState.FAILED, False),
    ):
        parsed = mp.mandate_from({**mandate, "status": status})
        assert (parsed.state, parsed.usable) == (expected, usable)
    yen = mp.payment_from({**base, "amount": {"currency": "JPY", "value": "1000"}})
    assert yen.amount == Money(Decimal(1000), "JPY")
