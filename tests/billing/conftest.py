"""A shop for billing tests: GoCardless (and Mollie) and the SMTP sink connected, a seller."""

from __future__ import annotations

import httpx
import pytest

from crmpay.core.models import NewCustomer, NewMandate
from crmpay.providers.gocardless import GoCardlessProvider
from crmpay.retry import RetryPolicy

FAST = RetryPolicy(attempts=8, base_delay=0.001, max_delay=0.01)
IBANS = ["FR1420041010050500013M02606", "DE89370400440532013000", "BE68539007547034", "NL91ABNA0417164300"]


@pytest.fixture
def shop(crmpay_env, sandbox):
    creds = sandbox.credentials()
    crmpay_env.env["CRMPAY_GOCARDLESS_ACCESS_TOKEN"] = creds["gocardless"]["access_token"]
    connected = crmpay_env.run("connect", "gocardless", "--environment", "local", "--base-url", sandbox.url)
    assert connected.code == 0, connected.stderr
    smtp = creds["smtp"]
    args = ("--host", smtp["host"], "--port", str(smtp["port"]), "--security", "none", "--from", "billing@acme.fr")
    assert crmpay_env.run("connect", "smtp", *args).code == 0
    assert crmpay_env.run("config", "set", "seller.name", "Acme SAS").code == 0
    return crmpay_env


def gocardless(sandbox) -> GoCardlessProvider:
    token = sandbox.credentials()["gocardless"]["access_token"]
    return GoCardlessProvider(token, environment="local", base_url=sandbox.url, retry_policy=FAST)


def customer_with_mandate(sandbox, email: str, i: int = 0):
    gc = gocardless(sandbox)
    customer = gc.create_customer(NewCustomer(email, f"Client {i}"), idempotency_key=f"{email}-c")
    return gc.create_mandate(NewMandate(customer.id, f"Client {i}", IBANS[i % 4]), idempotency_key=f"{email}-m")


def mail(sandbox) -> list[dict]:
    return httpx.get(f"{sandbox.url}/__sandbox/mail").json()


def gc_payments(sandbox, number: str) -> list[dict]:
    payments = sandbox.services["gocardless"].objects["payments"].values()
    return [p for p in payments if p["metadata"].get("invoice") == number]


def subscribe(env, email: str, *more: str) -> int:
    created = env.run(
        "subscriptions", "create", "--customer", email, "--line", "Hosting;1;25;20", "--every", "month", *more, "--json"
    )
    assert created.code == 0, created.stderr
    return int(created.json()["id"])
