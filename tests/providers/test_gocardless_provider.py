"""GoCardlessProvider over the official SDK: against the sandbox, and against GoCardless's own bodies.

The sandbox tests drive every lifecycle through the provider (retries, idempotency keys,
error mapping, pages, events); the replay tests serve the files of
`tests/fixtures/gocardless` over HTTP, unchanged, so the SDK and our mapping read exactly
what GoCardless wrote.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import gocardless_pro
import httpx
import pytest

import _paths
from crmpay.core.errors import AuthError, ExitCode, OperationFailed, TemporaryError, UsageError
from crmpay.core.models import (
    BankAccount,
    Customer,
    Mandate,
    MandateState,
    NewCustomer,
    NewMandate,
    NewPayment,
    NewSetupLink,
    Payment,
    PaymentState,
    ProviderEvent,
)
from crmpay.core.money import Money
from crmpay.providers import gocardless as gcp
from crmpay.providers.base import EventsExpired, PaymentProvider
from crmpay.retry import RetryPolicy
from crmpay.sandbox import Faults
from crmpay.sandbox.clock import add_working_days

FIXTURES = _paths.FIXTURES / "gocardless"
FAST = RetryPolicy(attempts=12, base_delay=0.001, max_delay=0.01)
FR = "FR1420041010050500013M02606"
DE = "DE89370400440532013000"
GB = "GB82WEST12345698765432"


# -- helpers ------------------------------------------------------------------------------------
def _token(sandbox) -> str:
    return sandbox.credentials()["gocardless"]["access_token"]


@pytest.fixture
def provider(sandbox) -> gcp.GoCardlessProvider:
    return gcp.GoCardlessProvider(_token(sandbox), environment="local", base_url=sandbox.url, retry_policy=FAST)


@pytest.fixture
def service(sandbox):
    return sandbox.services["gocardless"]


def _requests(sandbox, route: str) -> int:
    return sandbox.stats_snapshot()["requests"].get(route, 0)


def _mandate(provider, email: str = "ann@example.fr", iban: str = FR, key: str = "m", **extra: Any) -> Mandate:
    customer = provider.create_customer(NewCustomer(email, "Ann Lee"), idempotency_key=f"{key}:c")
    return provider.create_mandate(NewMandate(customer.id, "Ann Lee", iban, **extra), idempotency_key=key)


def _seed_payments(sandbox, service, mandate_id: str, count: int) -> None:
    charge = add_working_days(sandbox.clock.today(), 30)
    with sandbox.lock:
        mandate = service.objects["mandates"][mandate_id]
        for i in range(count):
            service._new_payment(mandate, 100 + i, "EUR", charge, {})


# -- construction and credentials ----------------------------------------------------------------
def test_follows_the_protocol_and_checks_its_environment(sandbox, provider):
    assert isinstance(provider, PaymentProvider)
    assert (provider.name, provider.max_page_size) == ("gocardless", 500)
    with pytest.raises(UsageError):
        gcp.GoCardlessProvider("sandbox_x", environment="local")
    with pytest.raises(UsageError):
        gcp.GoCardlessProvider("sandbox_x", environment="staging")
    for environment in ("live", "sandbox"):  # builds a client, sends nothing
        assert gcp.GoCardlessProvider("sandbox_x", environment=environment).name == "gocardless"


def test_check_credentials_reports_an_unverified_creditor(sandbox, provider):
    check = provider.check_credentials()
    assert check.account_id.startswith("CR") and check.account_name and check.warnings == []
    httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"verification_status": "action_required"})
    check = provider.check_credentials()
    assert len(check.warnings) == 1 and "action_required" in check.warnings[0]
    secret = "sandbox_wrong_secret_value"
    with pytest.raises(AuthError) as err:
        gcp.GoCardlessProvider(secret, environment="local", base_url=sandbox.url).check_credentials()
    assert err.value.exit_code == ExitCode.AUTH and secret not in str(err.value)
    assert _token(sandbox) not in str(err.value)


# -- creates, replays, mapping ------------------------------------------------------------------
def test_customers_created_once_per_key_and_mapped(sandbox, provider, service):
    new = NewCustomer("ann@example.fr", "Ann Lee", language="fr", metadata={"crm": "7"})
    customer = provider.create_customer(new, idempotency_key="profile:customer:ann")
    again = provider.create_customer(new, idempotency_key="profile:customer:ann")
    assert again.id == customer.id and len(service.objects["customers"]) == 1
    assert (customer.email, customer.name, customer.language) == ("ann@example.fr", "Ann Lee", "fr")
    assert customer.raw["given_name"] == "Ann" and customer.raw["metadata"] == {"crm": "7"}
    assert customer.created_at.tzinfo is not None
    company = provider.create_customer(
        NewCustomer("b@example.fr", "", company_name="Bob SARL"), idempotency_key="profile:customer:bob"
    )
    assert company.name == "Bob SARL"
    assert [c.id for c in provider.iter_customers()] == [company.id, customer.id]
    assert provider.get_customer(customer.id) == customer


def test_create_mandate_reuses_an_existing_bank_account(sandbox, provider, service):
    customer = provider.create_customer(NewCustomer("ann@example.fr", "Ann Lee"), idempotency_key="c")
    first = provider.create_mandate(NewMandate(customer.id, "Ann Lee", FR, reference="RUM-1"), idempotency_key="m1")
    assert (first.status, first.state, first.usable) == ("pending_submission", MandateState.PENDING, True)
    assert (first.scheme, first.currency, first.reference, first.customer_id) == (
        "sepa_core",
        "EUR",
        "RUM-1",
        customer.id,
    )
    assert isinstance(first.next_possible_charge_date, date)
    assert service.idempotency[("customer_bank_accounts", "m1:bank_account")] == first.bank_account_id
    assert service.idempotency[("mandates", "m1")] == first.id
    replay = provider.create_mandate(NewMandate(customer.id, "Ann Lee", FR, reference="RUM-1"), idempotency_key="m1")
    assert replay.id == first.id and len(service.objects["mandates"]) == 1
    # another key, the same IBAN: the bank account exists, so it is reused for a second mandate
    second = provider.create_mandate(NewMandate(customer.id, "Ann Lee", FR.lower()), idempotency_key="m2")
    assert second.id != first.id and second.bank_account_id == first.bank_account_id
    assert len(service.objects["customer_bank_accounts"]) == 1
    accounts = list(provider.iter_bank_accounts())
    assert [(a.id, a.customer_id, a.holder_name, a.account_number_ending, a.currency) for a in accounts] == [
        (first.bank_account_id, customer.id, "Ann Lee", "2606", "EUR")
    ]
    assert provider.get_bank_account(first.bank_account_id) == accounts[0]
    with pytest.raises(OperationFailed) as err:
        provider.create_mandate(NewMandate(customer.id, "Ann Lee", "FR1420041010050500013M02607"), idempotency_key="m3")
    assert "iban" in str(err.value) and err.value.exit_code == ExitCode.FAILED


def test_payment_lifecycle_mapped_to_states(sandbox, provider, service):
    mandate = _mandate(provider)
    payment = provider.create_payment(
        NewPayment(
            mandate.id,
            Money(Decimal("49.90"), "EUR"),
            "Invoice INV-1",
            reference="INV-1",
            metadata={"invoice": "INV-1"},
        ),
        idempotency_key="inv-1:1",
    )
    assert service.objects["payments"][payment.id]["amount"] == 4990
    assert payment.amount == Money(Decimal("49.90"), "EUR") and payment.amount.minor == 4990
    assert (payment.state, payment.cancellable, payment.customer_id) == (
        PaymentState.PENDING,
        True,
        mandate.customer_id,
    )
    assert payment.charge_date == mandate.next_possible_charge_date and payment.metadata == {"invoice": "INV-1"}
    assert (payment.description, payment.reference, payment.mandate_id) == ("Invoice INV-1", "INV-1", mandate.id)
    states: dict[str, tuple[PaymentState, bool]] = {}
    while sandbox.clock.today() <= add_working_days(payment.charge_date, 2):
        sandbox.advance(1)
        current = provider.get_payment(payment.id)
        states[current.status] = (current.state, current.cancellable)
    assert states["submitted"] == (PaymentState.SUBMITTED, False)
    assert states["confirmed"] == (PaymentState.PAID, False) and states["paid_out"] == (PaymentState.PAID, False)
    active = provider.get_mandate(mandate.id)
    assert (active.state, active.usable) == (MandateState.ACTIVE, True)
    sdk = gocardless_pro.Client(access_token=_token(sandbox), base_url=sandbox.url)
    sdk.scenario_simulators.run("payment_charged_back", params={"links": {"resource": payment.id}})
    assert provider.get_payment(payment.id).state == PaymentState.CHARGED_BACK
    failing = provider.create_payment(NewPayment(mandate.id, Money(Decimal("1.00"), "EUR"), "x"), idempotency_key="f")
    sdk.scenario_simulators.run("payment_failed", params={"links": {"resource": failing.id}})
    assert provider.get_payment(failing.id).state == PaymentState.FAILED
    other = _mandate(provider, "bob@example.fr", DE, key="bob")
    sdk.scenario_simulators.run("mandate_failed", params={"links": {"resource": other.id}})
    failed = provider.get_mandate(other.id)
    assert (failed.state, failed.usable, failed.next_possible_charge_date) == (MandateState.FAILED, False, None)


def test_payment_charge_date_and_currencies(sandbox, provider):
    mandate = _mandate(provider)
    later = mandate.next_possible_charge_date + timedelta(days=14)
    payment = provider.create_payment(
        NewPayment(mandate.id, Money(Decimal(10), "EUR"), "later", charge_date=later), idempotency_key="later"
    )
    assert payment.charge_date >= later and payment.charge_date.weekday() < 5
    with pytest.raises(OperationFailed) as err:  # the provider's own words: field and message
        provider.create_payment(NewPayment(mandate.id, Money(Decimal(10), "GBP"), "wrong"), idempotency_key="gbp")
    assert "currency must be EUR for a sepa_core mandate" in str(err.value)
    uk = _mandate(provider, "uk@example.co.uk", GB, key="uk", scheme="bacs")
    assert (uk.scheme, uk.currency) == ("bacs", "GBP")
    pounds = provider.create_payment(NewPayment(uk.id, Money(Decimal("12.34"), "GBP"), "pounds"), idempotency_key="gb")
    assert pounds.amount == Money(Decimal("12.34"), "GBP")


def test_cancel_payment_both_outcomes_and_never_repeated(sandbox, provider):
    mandate = _mandate(provider)
    early = provider.create_payment(NewPayment(mandate.id, Money(Decimal(5), "EUR"), "early"), idempotency_key="e")
    late = provider.create_payment(NewPayment(mandate.id, Money(Decimal(6), "EUR"), "late"), idempotency_key="l")
    cancelled = provider.cancel_payment(early.id)
    assert (cancelled.status, cancelled.state, cancelled.cancellable) == ("cancelled", PaymentState.CANCELLED, False)
    sandbox.advance(10)
    assert provider.get_payment(late.id).state in (PaymentState.SUBMITTED, PaymentState.PAID)
    with pytest.raises(OperationFailed) as err:
        provider.cancel_payment(late.id)
    assert "cannot be cancelled" in str(err.value) and err.value.exit_code == ExitCode.FAILED
    replayed = provider.create_payment(NewPayment(mandate.id, Money(Decimal(6), "EUR"), "late"), idempotency_key="l")
    assert replayed.id == late.id  # its key still answers the first payment, though it has moved on
    fresh = provider.create_payment(NewPayment(mandate.id, Money(Decimal(7), "EUR"), "f"), idempotency_key="fr")
    sandbox.set_faults(Faults(error_rate=1.0))
    with pytest.raises(TemporaryError):
        provider.cancel_payment(fresh.id)
    sandbox.set_faults(Faults())
    assert _requests(sandbox, "POST /payments/{id}/actions/cancel") == 3  # one attempt each
    assert provider.get_payment(fresh.id).status == "pending_submission"


def test_retries_and_error_mapping(sandbox, provider, service):
    mandate = _mandate(provider)
    sandbox.set_faults(Faults(error_rate=1.0))
    with pytest.raises(TemporaryError) as err:
        provider.get_mandate(mandate.id)
    assert err.value.exit_code == ExitCode.TEMPORARY
    assert _requests(sandbox, "GET /mandates/{id}") == FAST.attempts
    sandbox.set_faults(Faults(rate_limit_rate=1.0))
    with pytest.raises(TemporaryError):
        list(provider.iter_customers())
    # creates are retried with the same key: whatever failed, one payment exists
    sandbox.set_faults(Faults(error_rate=0.5, rate_limit_rate=0.3, seed=3))
    made = provider.create_payment(NewPayment(mandate.id, Money(Decimal(3), "EUR"), "retried"), idempotency_key="r")
    sandbox.set_faults(Faults())
    assert _requests(sandbox, "POST /payments") > 1 and list(service.objects["payments"]) == [made.id]
    with pytest.raises(OperationFailed) as err:
        provider.get_payment("PM0000MISSING")
    assert "not found" in str(err.value)
    provider.get_mandate(mandate.id)
    gocardless_pro.Client(access_token=_token(sandbox), base_url=sandbox.url).mandates.cancel(mandate.id)
    with pytest.raises(OperationFailed) as err:
        provider.create_payment(NewPayment(mandate.id, Money(Decimal(3), "EUR"), "late"), idempotency_key="z")
    assert "cancelled, failed or expired" in str(err.value)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    offline = gcp.GoCardlessProvider(
        _token(sandbox),
        environment="local",
        base_url=f"http://127.0.0.1:{port}",
        retry_policy=RetryPolicy(attempts=1),
        timeout=2,
    )
    with pytest.raises(TemporaryError) as err:
        offline.get_payment("PM1")
    assert _token(sandbox) not in str(err.value)


# -- setup links ---------------------------------------------------------------------------------
def test_setup_link_with_a_first_payment_completed_by_the_customer(sandbox, provider, service):
    customer = provider.create_customer(NewCustomer("cam@example.fr", "Cam Martin"), idempotency_key="c")
    plain = provider.create_setup_link(NewSetupLink(customer.id, "Set up"), idempotency_key="link-1")
    assert plain.url.startswith(f"{sandbox.url}/__sandbox/gocardless/flow/") and plain.id.startswith("BRQ")
    assert plain.expires_at - datetime.fromisoformat(plain.raw["flow"]["created_at"]) == timedelta(days=7)
    assert plain.raw["billing_request"]["payment_request"] is None and plain.customer_id == customer.id
    replay = provider.create_setup_link(NewSetupLink(customer.id, "Set up"), idempotency_key="link-1")
    assert replay.id == plain.id and len(service.objects["billing_requests"]) == 1
    paid = provider.create_setup_link(
        NewSetupLink(
            customer.id,
            "INV-3",
            amount=Money(Decimal("120.00"), "EUR"),
            redirect_url="https://example.fr/merci",
            language="fr",
        ),
        idempotency_key="link-2",
    )
    request = service.objects["billing_requests"][paid.id]
    assert request["payment_request"]["amount"] == 12000 and request["payment_request"]["description"] == "INV-3"
    assert provider.get_setup_link_mandate(paid.id) is None
    assert httpx.post(paid.url, data={"account_holder_name": "Cam Martin", "iban": FR}).status_code == 200
    mandate_id = provider.get_setup_link_mandate(paid.id)
    mandate = provider.get_mandate(mandate_id)
    assert mandate.customer_id == customer.id and mandate.usable
    first = [p for p in provider.iter_payments() if p.mandate_id == mandate_id]
    assert [p.amount for p in first] == [Money(Decimal("120.00"), "EUR")]


# -- listings and events --------------------------------------------------------------------------
def test_listing_past_one_page(sandbox, provider, service):
    mandate = _mandate(provider)
    list(provider.iter_mandates())  # the provider learns each mandate's customer
    _seed_payments(sandbox, service, mandate.id, 1200)
    before = _requests(sandbox, "GET /payments")
    payments = list(provider.iter_payments())
    assert len(payments) == len({p.id for p in payments}) == 1200
    assert _requests(sandbox, "GET /payments") - before == 3  # 500 + 500 + 200
    assert [p.amount.minor for p in payments[:2]] == [1299, 1298]  # newest first
    assert all(p.customer_id == mandate.customer_id for p in payments)
    sandbox.advance(1)
    cutoff = sandbox.clock.now()
    newer = provider.create_payment(NewPayment(mandate.id, Money(Decimal(1), "EUR"), "new"), idempotency_key="n")
    assert [p.id for p in provider.iter_payments(created_after=cutoff - timedelta(milliseconds=1))] == [newer.id]
    assert [p.id for p in provider.iter_payments(created_after=cutoff.replace(tzinfo=None) - timedelta(seconds=1))] == [
        newer.id
    ]


def test_events_newer_than_a_cursor_oldest_first(sandbox, provider, service):
    mandate = _mandate(provider)
    payment = provider.create_payment(NewPayment(mandate.id, Money(Decimal(9), "EUR"), "x"), idempotency_key="p")
    cursor = provider.latest_event_cursor()
    assert cursor.endswith("|" + list(service.objects["events"])[-1])
    sandbox.advance_to(add_working_days(payment.charge_date, 2))  # paid out two working days after the charge
    events = list(provider.iter_events(after=cursor))
    assert [(e.resource_type, e.action) for e in events] == [
        ("mandates", "submitted"),
        ("mandates", "active"),
        ("payments", "submitted"),
        ("payments", "confirmed"),
        ("payments", "paid_out"),
    ]
    assert [e.resource_id for e in events] == [mandate.id, mandate.id, payment.id, payment.id, payment.id]
    assert all(isinstance(e, ProviderEvent) and e.created_at.tzinfo for e in events)
    assert list(provider.iter_events(after=events[-1].cursor)) == []
    assert [e.id for e in provider.iter_events(after=events[-2].id)] == [events[-1].id]  # a bare id, as stored before
    # past one page: 1,200 new events arrive after the cursor
    cursor = events[-1].cursor
    _seed_payments(sandbox, service, mandate.id, 1200)
    newer = list(provider.iter_events(after=cursor))
    assert len(newer) == len({e.id for e in newer}) == 1200
    assert [e.id for e in newer] == list(service.objects["events"])[-1200:]  # oldest first, none missed
    everything = list(provider.iter_events())
    assert [e.id for e in everything] == list(service.objects["events"])


def test_listing_2000_payments_under_ten_percent_faults(sandbox, provider, service):
    mandate = _mandate(provider)
    _seed_payments(sandbox, service, mandate.id, 2000)
    expected = list(reversed(service.order["payments"]))
    httpx.delete(f"{sandbox.url}/__sandbox/stats")
    sandbox.set_faults(Faults(error_rate=0.04, rate_limit_rate=0.03, drop_rate=0.03, seed=7))
    payments = [p.id for p in provider.iter_payments()]
    events = [e.id for e in provider.iter_events(after=service.order["events"][0])]
    sandbox.set_faults(Faults())
    assert payments == expected and len(set(payments)) == 2000
    assert events == service.order["events"][1:] and len(events) == 2001
    pages = 4 + 5  # 2,000 payments and 2,001 events at 500 a page
    assert _requests(sandbox, "GET /payments") + _requests(sandbox, "GET /events") > pages  # faults were met


# -- replay of GoCardless's own fixtures ---------------------------------------------------------------
class _Replay(ThreadingHTTPServer):
    """Answers each request with the fixture body of the matching action, unchanged."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReplayHandler)
        self.routes: list[tuple[str, re.Pattern[str], dict[str, Any]]] = []
        for path in sorted(FIXTURES.glob("*.json")):
            data = json.loads(path.read_text())
            for spec in data.values():
                if isinstance(spec, dict) and "method" in spec:
                    pattern = re.compile("^" + re.sub(r":\w+", "[^/]+", spec["path_template"]) + "$")
                    self.routes.append((spec["method"], pattern, spec["body"]))
        self.errors: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}  # (method, path) -> answer
        self.listed: set[str] = set()
        self.seen: list[tuple[str, str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ReplayHandler(BaseHTTPRequestHandler):
    server: _Replay
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        split = urlsplit(self.path)
        self.server.seen.append((self.command, split.path, body))
        status, answer = (
            self.server.errors.get((self.command, split.path))
            or self.server.errors.get((self.command, "*"))
            or (200, None)
        )
        if answer is None:
            found = [b for m, p, b in self.server.routes if m == self.command and p.match(split.path)]
            if not found:
                status, answer = (
                    404,
                    {
                        "error": {
                            "type": "invalid_api_usage",
                            "code": 404,
                            "message": "no fixture",
                            "errors": [{"reason": "resource_not_found", "message": "no fixture"}],
                        }
                    },
                )
            else:
                answer = found[0]
                if "meta" in answer:  # a list: its records once, then an empty last page
                    if split.path in self.server.listed or parse_qs(split.query).get("after"):
                        kind = next(k for k in answer if k not in ("meta", "linked"))
                        answer = {kind: [], "meta": {"cursors": {"before": None, "after": None}, "limit": 500}}
                    self.server.listed.add(split.path)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def replay() -> Iterator[_Replay]:
    server = _Replay()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


MAPPERS = {
    "customers": (gcp.customer_from, Customer),
    "customer_bank_accounts": (gcp.bank_account_from, BankAccount),
    "mandates": (gcp.mandate_from, Mandate),
    "payments": (gcp.payment_from, Payment),
    "events": (gcp.event_from, ProviderEvent),
}


def _check_mapped(kind: str, raw: dict[str, Any]) -> None:
    mapper, cls = MAPPERS[kind]
    obj = mapper(raw)
    assert isinstance(obj, cls) and obj.id == raw["id"] and obj.raw == raw
    if getattr(obj, "created_at", None) is not None:
        assert obj.created_at.tzinfo is not None
    if kind == "payments":
        assert obj.amount == Money.from_minor(raw["amount"], raw["currency"]) and isinstance(obj.charge_date, date)
        assert isinstance(obj.state, PaymentState) and obj.cancellable == (raw["status"] == "pending_submission")
    if kind == "mandates":
        assert isinstance(obj.state, MandateState) and isinstance(obj.next_possible_charge_date, date)
    if kind == "events":
        assert obj.resource_id and obj.created_at == datetime.fromisoformat(raw["created_at"])
        assert obj.resource_id == raw["links"][raw["resource_type"][:-1]]


def test_every_fixture_body_replayed_through_the_sdk(replay):
    client = gocardless_pro.Client(access_token="sandbox_replay", base_url=replay.url)
    mapped = 0
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text())
        for action, spec in data.items():
            if not (isinstance(spec, dict) and "method" in spec):
                continue
            kind = path.stem
            replay.listed.clear()
            result = getattr(getattr(client, kind), action)(*spec["url_params"])
            records = result.records if hasattr(result, "records") else [result]
            raws = spec["body"][kind] if isinstance(spec["body"][kind], list) else [spec["body"][kind]]
            assert [r.attributes for r in records] == raws, (kind, action)
            if kind in MAPPERS:
                for raw in raws:
                    _check_mapped(kind, raw)
                    mapped += 1
    webhook = json.loads((FIXTURES / "webhook_body.json").read_text())
    for raw in webhook["events"]:
        _check_mapped("events", raw)
        mapped += 1
    assert mapped >= 30


def test_provider_reads_and_writes_the_fixture_bodies(replay):
    provider = gcp.GoCardlessProvider("sandbox_replay", environment="local", base_url=replay.url, retry_policy=FAST)
    check = provider.check_credentials()
    assert check.account_id == "CR123" and "action_required" in check.warnings[0]
    assert [c.id for c in provider.iter_customers()] == ["CU123", "CU123"]
    assert [a.id for a in provider.iter_bank_accounts()] == ["BA123", "BA123"]
    assert [m.id for m in provider.iter_mandates()] == ["MD123", "MD123"]
    payments = list(provider.iter_payments(created_after=datetime(2014, 1, 1, tzinfo=UTC)))
    assert [p.customer_id for p in payments] == ["CU123", "CU123"]  # the mandates were listed first
    assert provider.get_payment("PM123").amount == Money(Decimal("10.00"), "EUR")
    assert provider.get_customer("CU123").name == "Frank Osborne"
    assert provider.get_mandate("MD123").next_possible_charge_date == date(2014, 10, 27)
    assert provider.get_bank_account("BA123").holder_name == "Billie Jean"
    assert provider.create_customer(NewCustomer("u@example.com", "Frank Osborne"), idempotency_key="k").id == "CU123"
    mandate = provider.create_mandate(NewMandate("CU123", "Frank", GB), idempotency_key="k")
    assert mandate.id == "MD123"
    assert (
        provider.create_payment(NewPayment("MD123", Money(Decimal(10), "EUR"), "x"), idempotency_key="k").id == "PM123"
    )
    link = provider.create_setup_link(NewSetupLink("CU123", "x", amount=Money(Decimal(5), "EUR")), idempotency_key="k")
    assert (link.id, link.url) == ("BRQ123", "https://monzo.com/abc-123-things")
    assert provider.get_setup_link_mandate("BRQ123") == "MD123"
    assert provider.cancel_payment("PM123").id == "PM123"
    assert [e.id for e in provider.iter_events()] == ["EV123", "EV123"]
    with pytest.raises(EventsExpired):  # the fixture's events are from 2014: long past the retention
        list(provider.iter_events(after="EV123"))
    replay.listed.clear()
    assert provider.latest_event_cursor() == "2014-01-01T12:00:00.000Z|EV123"
    assert provider.create_mandate_import("bacs", idempotency_key="k")["id"] == "IM123"
    assert provider.get_mandate_import("IM123")["status"] == "created"
    assert [e["record_identifier"] for e in provider.mandate_import_entries("IM123")] == ["bank-file.xml/line-1"] * 2
    provider.add_mandate_import_entry("IM123", {"record_identifier": "r"})
    assert provider.submit_mandate_import("IM123")["id"] == "IM123"
    sent = {(m, p): b for m, p, b in replay.seen}
    assert sent[("POST", "/payments")]["payments"]["amount"] == 1000
    assert sent[("POST", "/billing_requests")]["billing_requests"]["payment_request"]["amount"] == 500


def test_fixture_error_bodies_map_to_crmpay_errors(replay):
    provider = gcp.GoCardlessProvider(
        "sandbox_replay",
        environment="local",
        base_url=replay.url,
        retry_policy=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002),
    )
    expected = {
        "unauthorized_error": AuthError,
        "insufficient_permission": AuthError,
        "rate_limit_exceeded": TemporaryError,
        "gocardless_error": TemporaryError,
        "validation_failed_error": OperationFailed,
        "invalid_state_error": OperationFailed,
        "invalid_api_usage_error": OperationFailed,
    }
    for name, error in expected.items():
        body = json.loads((FIXTURES / f"{name}.json").read_text())
        replay.errors[("GET", "*")] = (body["error"]["code"], body)
        with pytest.raises(error) as raised:
            provider.get_payment("PM123")
        if name == "validation_failed_error":
            assert "branch_code must be a number" in str(raised.value)
        if name == "invalid_state_error":
            assert "Mandate is already active or being submitted" in str(raised.value)
    replay.errors.clear()
    duplicate = json.loads((FIXTURES / "validation_failed_duplicate_bank_account_error.json").read_text())
    replay.errors[("POST", "/customer_bank_accounts")] = (409, duplicate)
    assert provider.create_mandate(NewMandate("CU123", "Frank", GB), idempotency_key="dup").id == "MD123"
    mandate_body = next(b for m, p, b in replay.seen if (m, p) == ("POST", "/mandates"))
    assert mandate_body["mandates"]["links"]["customer_bank_account"] == "xyz"
    conflict = json.loads((FIXTURES / "idempotent_creation_conflict_error.json").read_text())
    replay.errors[("POST", "/payments")] = (409, conflict)
    assert (
        provider.create_payment(NewPayment("MD123", Money(Decimal(1), "EUR"), "x"), idempotency_key="again").id
        == "PM123"
    )
    assert ("GET", "/payments/PM00001078ZJJN", None) in replay.seen  # the SDK read the first one back
