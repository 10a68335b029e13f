"""`crmpay webhooks serve` over real HTTP on loopback, fed by the sandbox's own deliveries."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
from _webhook_helpers import SECRET, query, register, settle, unprocessed
from gocardless_pro import webhooks as gocardless_webhooks

from _paths import FIXTURES
from crmpay.core.calendar import add_working_days
from crmpay.core.models import NewCustomer, NewMandate, NewPayment
from crmpay.core.money import Money
from crmpay.providers.gocardless import GoCardlessProvider
from crmpay.providers.mollie import MollieProvider
from crmpay.retry import RetryPolicy
from crmpay.sandbox import Faults
from crmpay.services.webhooks.verify import INVALID_SIGNATURE, sign, signature_ok

FAST = RetryPolicy(attempts=12, base_delay=0.001, max_delay=0.01)
IBAN = "FR1420041010050500013M02606"


def _gocardless(sandbox):
    token = sandbox.credentials()["gocardless"]["access_token"]
    return GoCardlessProvider(token, environment="local", base_url=sandbox.url, retry_policy=FAST)


def _debit(gc, n=0, *, metadata=None):
    customer = gc.create_customer(NewCustomer(f"c{n}@example.fr", f"Client {n}"), idempotency_key=f"c{n}")
    mandate = gc.create_mandate(NewMandate(customer.id, f"Client {n}", IBAN), idempotency_key=f"m{n}")
    payment = gc.create_payment(
        NewPayment(mandate.id, Money(Decimal("120.00"), "EUR"), f"INV-{n}", metadata=metadata or {}),
        idempotency_key=f"p{n}",
    )
    return customer, mandate, payment


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _crm_payment(sandbox, payment_id):
    records = sandbox.services["zoho"].records["CRMPAY_Payments"].values()
    return next((r for r in records if r.get("Name") == f"gocardless {payment_id}"), None)


def _events_body(sandbox, *resource_ids):
    """A batch as GoCardless would send it: the sandbox's own events for these resources."""
    events = httpx.get(
        f"{sandbox.url}/events",
        headers={"Authorization": f"Bearer {sandbox.credentials()['gocardless']['access_token']}"},
    ).json()["events"]
    picked = [e for e in events if set(e["links"].values()) & set(resource_ids)]
    return json.dumps({"events": picked, "meta": {"webhook_id": "WB0000TEST"}}).encode()


def test_the_fixture_vector_verifies_and_a_tampered_one_does_not():
    body = (FIXTURES / "gocardless" / "webhook_body.json").read_text().strip().encode()
    secret = "ED7D658C-D8EB-4941-948B-3973214F2D49"
    signature = "2693754819d3e32d7e8fcb13c729631f316c6de8dc1cf634d6527f1c07276e7e"
    assert sign(body, secret) == signature
    assert signature_ok(body, secret, signature)
    assert gocardless_webhooks.parse(body, secret, signature)[0].id == "EV00BD05S5VM2T"  # the SDK agrees
    assert not signature_ok(body + b" ", secret, signature)
    assert not signature_ok(body, "another", signature)
    assert not signature_ok(body, secret, None) and not signature_ok(body, None, signature)


def test_a_signed_batch_moves_the_invoice_to_paid_in_the_store_and_the_crm(start_receiver, crmpay_env, sandbox):
    served = start_receiver("gocardless", zoho=True)
    created = crmpay_env.run(
        "invoice", "create", "--customer", "c0@example.fr", "--line", "Service;1;100;20", "--due", "2030-01-31"
    )
    assert created.code == 0, created.stderr
    number = crmpay_env.run("invoice", "list", "--json").json()[0]["number"]
    gc = _gocardless(sandbox)
    _, _, payment = _debit(gc, metadata={"invoice": number})
    settle(crmpay_env, sandbox)
    assert _wait_for(lambda: _crm_payment(sandbox, payment.id) is not None)  # no sync was run
    sandbox.advance_to(add_working_days(payment.charge_date, 2))  # confirmed, then paid out
    settle(crmpay_env, sandbox)
    assert query(crmpay_env, "SELECT status FROM payments WHERE provider_id = ?", payment.id) == [("paid_out",)]
    status, paid_on = query(crmpay_env, "SELECT status, paid_on FROM invoices WHERE number = ?", number)[0]
    assert status == "paid" and paid_on == payment.charge_date.isoformat()
    assert _wait_for(lambda: (_crm_payment(sandbox, payment.id) or {}).get("Status") == "paid_out")
    status_json = crmpay_env.run("webhooks", "status", "--json")
    assert status_json.code == 0, status_json.stderr
    gocardless = status_json.json()["gocardless"]
    assert gocardless["unprocessed"] == 0 and gocardless["failing"] == 0 and gocardless["events"] >= 6
    assert gocardless["secret"] == "keyring"
    assert SECRET not in status_json.stdout + status_json.stderr
    for path in crmpay_env.home.rglob("*.toml"):
        assert SECRET not in path.read_text()
    assert served.proc is not None and served.proc.poll() is None


def test_a_bad_or_missing_signature_gets_498_and_changes_nothing(served, crmpay_env, sandbox):
    gc = _gocardless(sandbox)
    httpx.delete(f"{sandbox.url}/__sandbox/webhooks")  # deliver by hand only
    _, _, payment = _debit(gc)
    body = _events_body(sandbox, payment.id)
    url = f"{served.url}/webhooks/gocardless"
    for headers in ({"Webhook-Signature": sign(body, "not-the-secret")}, {}, {"Webhook-Signature": "zz"}):
        answer = httpx.post(url, content=body, headers={"Content-Type": "application/json", **headers})
        assert answer.status_code == INVALID_SIGNATURE
    assert query(crmpay_env, "SELECT count(*) FROM webhook_events") == [(0,)]
    assert query(crmpay_env, "SELECT count(*) FROM payments") == [(0,)]
    good = httpx.post(url, content=body, headers={"Webhook-Signature": sign(body, SECRET)})
    assert good.status_code == 204
    assert _wait_for(lambda: query(crmpay_env, "SELECT count(*) FROM payments") == [(1,)])


def test_the_fixture_batch_is_accepted_and_unknown_objects_change_nothing(start_receiver, crmpay_env, sandbox):
    """The SDK's own test vector, served with its secret: 204, both events kept and done."""
    served = start_receiver("gocardless")
    vector_secret = "ED7D658C-D8EB-4941-948B-3973214F2D49"
    served.stop()
    served.extra_env["CRMPAY_GOCARDLESS_WEBHOOK_SECRET"] = vector_secret  # the environment wins
    served.start()
    body = (FIXTURES / "gocardless" / "webhook_body.json").read_text().strip().encode()
    answer = httpx.post(
        f"{served.url}/webhooks/gocardless",
        content=body,
        headers={"Webhook-Signature": "2693754819d3e32d7e8fcb13c729631f316c6de8dc1cf634d6527f1c07276e7e"},
    )
    assert answer.status_code == 204
    assert _wait_for(lambda: unprocessed(crmpay_env) == 0)
    rows = query(crmpay_env, "SELECT event_id, processed_at IS NOT NULL FROM webhook_events ORDER BY event_id")
    assert rows == [("EV00BD05S5VM2T", 1), ("EV00BD05TB8K63", 1)]
    assert query(crmpay_env, "SELECT count(*) FROM mandates") == [(0,)]  # MD000AMA19XGEC is not ours: nothing


def test_the_same_event_delivered_five_times_is_applied_once(served, crmpay_env, sandbox):
    gc = _gocardless(sandbox)
    httpx.delete(f"{sandbox.url}/__sandbox/webhooks")
    _, _, payment = _debit(gc)
    body = _events_body(sandbox, payment.id)
    httpx.delete(f"{sandbox.url}/__sandbox/stats")
    for _ in range(5):
        answer = httpx.post(
            f"{served.url}/webhooks/gocardless", content=body, headers={"Webhook-Signature": sign(body, SECRET)}
        )
        assert answer.status_code == 204
    assert _wait_for(lambda: unprocessed(crmpay_env) == 0)
    event = json.loads(body)["events"][0]["id"]
    assert query(crmpay_env, "SELECT deliveries FROM webhook_events WHERE event_id = ?", event) == [(5,)]
    assert query(crmpay_env, "SELECT count(*) FROM processed_events WHERE event_id = ?", event) == [(1,)]
    reads = httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]
    assert reads.get("GET /payments/{id}") == 1  # read once: the four later deliveries did nothing


def test_sigkill_between_receipt_and_processing_loses_nothing(served, crmpay_env, sandbox):
    gc = _gocardless(sandbox)
    httpx.delete(f"{sandbox.url}/__sandbox/webhooks")
    _, _, payment = _debit(gc)
    body = _events_body(sandbox, payment.id)
    sandbox.set_faults(Faults(delay_ms=3000))  # the worker's read of the payment hangs
    try:
        answer = httpx.post(
            f"{served.url}/webhooks/gocardless", content=body, headers={"Webhook-Signature": sign(body, SECRET)}
        )
        assert answer.status_code == 204  # answered at once, the apply still in hand
        served.kill()
    finally:
        sandbox.set_faults(Faults())
    assert unprocessed(crmpay_env) == len(json.loads(body)["events"])  # written before the 204, not applied
    assert query(crmpay_env, "SELECT count(*) FROM payments") == [(0,)]
    served.restart()
    assert _wait_for(lambda: unprocessed(crmpay_env) == 0)
    assert query(crmpay_env, "SELECT status FROM payments WHERE provider_id = ?", payment.id) == [
        ("pending_submission",)
    ]


def test_a_cron_sync_after_webhooks_costs_its_no_change_minimum(served, crmpay_env, sandbox):
    gc = _gocardless(sandbox)
    _, _, first = _debit(gc, 0)
    settle(crmpay_env, sandbox)
    assert crmpay_env.run("sync", "--provider", "gocardless").code == 0  # the cron's last run
    _debit(gc, 1)
    sandbox.advance_to(add_working_days(first.charge_date, 2))  # everything moves on
    settle(crmpay_env, sandbox)
    httpx.delete(f"{sandbox.url}/__sandbox/stats")
    result = crmpay_env.run("sync", "--provider", "gocardless", "--json")
    assert result.code == 0, result.stderr
    requests = httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]
    assert sum(requests.values()) <= 3, requests  # events, customers, bank accounts: no object read again
    report = result.json()["providers"][0]
    assert report["mode"] == "incremental" and report["events"] == 0
    assert all(c["new"] == c["updated"] == 0 for c in report["resources"].values())


def test_mollie_posts_an_id_and_the_payment_is_read_back(start_receiver, crmpay_env, sandbox):
    served = start_receiver("mollie")
    api_key = sandbox.credentials()["mollie"]["api_key"]
    mollie = MollieProvider(
        api_key,
        environment="local",
        base_url=sandbox.url,
        retry_policy=FAST,
        webhook_url="https://hooks.example.test/webhooks/mollie",
    )
    customer = mollie.create_customer(NewCustomer("m@example.fr", "Mia"), idempotency_key="c")
    mandate = mollie.create_mandate(NewMandate(customer.id, "Mia", IBAN), idempotency_key="m")
    payment = mollie.create_payment(
        NewPayment(mandate.id, Money(Decimal("9.99"), "EUR"), "x", customer_id=customer.id), idempotency_key="p"
    )
    assert payment.raw["webhookUrl"] == "https://hooks.example.test/webhooks/mollie"
    httpx.post(f"{sandbox.url}/__sandbox/mollie/payments/{payment.id}/status", json={"status": "paid"})
    settle(crmpay_env, sandbox)
    assert query(crmpay_env, "SELECT status FROM payments WHERE provider_id = ?", payment.id) == [("paid",)]
    assert query(crmpay_env, "SELECT provider_id FROM customers") == [(customer.id,)]
    # an id Mollie does not know, or none at all: 200, and nothing else happens
    for form in ({"id": "tr_unknown12345"}, {"id": "<script>"}, {}):
        assert httpx.post(f"{served.url}/webhooks/mollie", data=form).status_code == 200
    assert _wait_for(lambda: unprocessed(crmpay_env) == 0)
    assert query(crmpay_env, "SELECT count(*) FROM payments") == [(1,)]
    assert query(crmpay_env, "SELECT event_id FROM webhook_events ORDER BY event_id") == [
        (payment.id,),
        ("tr_unknown12345",),
    ]


def test_the_sandbox_retries_a_failed_delivery_with_back_off(crmpay_env, sandbox):
    """A receiver that answers 500 twice gets the same signed body a third time."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    seen: list[tuple[bytes, str]] = []

    class Flaky(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((body, self.headers["Webhook-Signature"]))
            self.send_response(500 if len(seen) <= 2 else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        gc = _gocardless(sandbox)
        customer = gc.create_customer(NewCustomer("r@example.fr", "R"), idempotency_key="c")
        mandate = gc.create_mandate(NewMandate(customer.id, "R", IBAN), idempotency_key="m")
        register(sandbox, "gocardless", f"http://127.0.0.1:{server.server_address[1]}/", "s3cret")
        gc.create_payment(NewPayment(mandate.id, Money(Decimal(5), "EUR"), "x"), idempotency_key="p")  # one event
        assert sandbox.webhooks.wait_idle(10)
    finally:
        server.shutdown()
    assert len(seen) == 3 and len({body for body, _ in seen}) == 1  # the same batch, resent
    body, signature = seen[0]
    assert signature == sign(body, "s3cret")
    assert set(json.loads(body)) == {"events", "meta"} and json.loads(body)["meta"]["webhook_id"].startswith("WB")
    attempts = [entry["attempt"] for entry in sandbox.webhooks.log]
    assert attempts == [0, 1, 2]


TABLES = ("customers", "bank_accounts", "mandates", "payments")


def _dump(env):
    def canonical(raw):
        return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))

    return {
        t: sorted((p, i, canonical(raw)) for p, i, raw in query(env, f"SELECT provider, provider_id, raw FROM {t}"))
        for t in TABLES
    }


def test_a_thousand_events_under_faults_leave_the_store_a_full_sync_gives(served, crmpay_env, sandbox, tmp_path):
    gc = _gocardless(sandbox)
    payments = []
    for n in range(50):
        customer = gc.create_customer(NewCustomer(f"c{n}@example.fr", f"Client {n}"), idempotency_key=f"c{n}")
        mandate = gc.create_mandate(NewMandate(customer.id, f"Client {n}", IBAN), idempotency_key=f"m{n}")
        for j in range(6):
            amount = Money(Decimal(f"{10 + j}.50"), "EUR")
            payments.append(gc.create_payment(NewPayment(mandate.id, amount, f"P{n}-{j}"), idempotency_key=f"p{n}-{j}"))
    settle(crmpay_env, sandbox)
    before = sandbox.webhooks.stats["gocardless ok"]
    events_before = len(sandbox.services["gocardless"].objects["events"])
    sandbox.set_faults(Faults(error_rate=0.04, rate_limit_rate=0.03, drop_rate=0.03, seed=7))
    try:
        sandbox.advance_to(add_working_days(max(p.charge_date for p in payments), 2))  # all paid out
        sdk = gocardless_pro_client(sandbox)
        for payment in payments[:20]:  # and some fail afterwards
            run_scenario(sdk, "payment_charged_back", payment.id)
        settle(crmpay_env, sandbox, timeout=240)
    finally:
        sandbox.set_faults(Faults())
    delivered = len(sandbox.services["gocardless"].objects["events"]) - events_before
    assert delivered >= 1000, delivered
    assert sandbox.webhooks.stats["gocardless ok"] > before
    webhooks = _dump(crmpay_env)
    full_home = tmp_path / "full"
    env = type(crmpay_env)(full_home, crmpay_env.keyring_dir, {**crmpay_env.env, "CRMPAY_HOME": str(full_home)})
    token = sandbox.credentials()["gocardless"]["access_token"]
    connected = env.run(
        "connect", "gocardless", "--environment", "local", "--base-url", sandbox.url,
        env={"CRMPAY_GOCARDLESS_ACCESS_TOKEN": token},
    )  # fmt: skip
    assert connected.code == 0, connected.stderr
    assert env.run("sync", "--full").code == 0
    assert webhooks == _dump(env)
    assert len(webhooks["payments"]) == 300
    assert query(
        crmpay_env, "SELECT count(*) FROM webhook_events WHERE error IS NOT NULL AND processed_at IS NULL"
    ) == [(0,)]


def gocardless_pro_client(sandbox):
    import gocardless_pro

    return gocardless_pro.Client(access_token=sandbox.credentials()["gocardless"]["access_token"], base_url=sandbox.url)


def run_scenario(sdk, name, resource):
    """Under dropped connections a scenario may have run although its answer was lost: a
    retry is then refused, and the comparison with a full sync holds either way."""
    from crmpay.retry import with_retries

    try:
        with_retries(
            lambda: sdk.scenario_simulators.run(name, params={"links": {"resource": resource}}),
            is_transient=lambda exc: True,
            policy=FAST,
        )
    except Exception:  # noqa: BLE001
        pass
