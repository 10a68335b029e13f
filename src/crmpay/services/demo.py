"""The demo tour: every step is a real crmpay operation against the local sandbox."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from crmpay import secrets
from crmpay.config import Config
from crmpay.core.models import NewCustomer, NewMandate, NewPayment
from crmpay.core.money import Money
from crmpay.paths import Home
from crmpay.services.connections import connect_provider, status


class Renderer(Protocol):
    def info(self, message: str) -> None: ...
    def success(self, message: str) -> None: ...
    def table(self, columns: Any, rows: Any, *, title: str | None = None, empty: str = ...) -> None: ...


def run_tour(root: Path, out: Renderer) -> dict[str, Any]:
    from crmpay.providers import open_provider
    from crmpay.sandbox import Sandbox
    from crmpay.store import Store

    secrets.use_memory_keyring()
    home = Home.resolve(root)
    config = Config.load(home, "demo", environ={})
    summary: dict[str, Any] = {"home": str(root), "profile": "demo"}

    with Sandbox() as sandbox:
        creds = sandbox.credentials()
        out.info(f"Sandbox running at {sandbox.url} (test credentials, nothing leaves this machine)")

        # 1. status and the empty store
        _show_status(config, out, "Before connecting")
        home.ensure_profile_dir(config.profile)
        with Store.open(home.database(config.profile)) as store:
            counts = store.counts()
        out.table(("table", "rows"), counts.items(), title=f"Store {home.database(config.profile)}")
        summary["store_before"] = counts

        # 2. connect both providers (credentials checked against the sandbox)
        providers = ("gocardless", "mollie")
        for name, field in (("gocardless", "access_token"), ("mollie", "api_key")):
            check = connect_provider(config, name, creds[name][field],
                                     environment="local", base_url=sandbox.url)
            for warning in check.warnings:
                out.info(f"  {name}: {warning}")
            out.success(f"connected {name} ({check.account_name or check.account_id})")
        config = Config.load(home, "demo", environ={})
        _show_status(config, out, "After connecting")

        # 3. a mandate and a payment moving through their lifecycle, at each provider
        lifecycles: dict[str, list[dict[str, str]]] = {}
        for name in providers:
            provider = open_provider(config, name)
            lifecycles[name] = _collect_once(provider, sandbox, name)
            out.table(
                ("day", "mandate", "mandate status", "payment", "payment status"),
                [(s["day"], s["mandate"], s["mandate_status"], s["payment"], s["payment_status"])
                 for s in lifecycles[name]],
                title=f"{name}: a direct debit of 49.90 EUR, day by day",
            )
        summary["lifecycles"] = lifecycles
    out.success("demo finished: every step above ran against the local sandbox over HTTP")
    return summary


def _show_status(config: Config, out: Renderer, title: str) -> None:
    rows = [(s.service, "connected" if s.connected else "-", s.source or "") for s in status(config)]
    out.table(("service", "state", "secrets from"), rows, title=title)


def _collect_once(provider: Any, sandbox: Any, name: str) -> list[dict[str, str]]:
    key = f"demo:{name}"
    customer = provider.create_customer(
        NewCustomer(email="camille.martin@example.fr", name="Camille Martin",
                    given_name="Camille", family_name="Martin", language="fr", country_code="FR"),
        idempotency_key=f"{key}:customer",
    )
    mandate = provider.create_mandate(
        NewMandate(customer_id=customer.id, holder_name="Camille Martin",
                   iban="FR1420041010050500013M02606", reference=f"DEMO-{name.upper()}-001",
                   signature_date=sandbox.clock.today()),
        idempotency_key=f"{key}:mandate",
    )
    charge = max(sandbox.clock.today() + timedelta(days=7), mandate.next_possible_charge_date
                 or sandbox.clock.today())
    payment = provider.create_payment(
        NewPayment(mandate_id=mandate.id, customer_id=customer.id,
                   amount=Money(Decimal("49.90"), "EUR"), description="Invoice DEMO-1",
                   charge_date=charge, metadata={"invoice": "DEMO-1"}),
        idempotency_key=f"{key}:payment",
    )
    steps = []
    for day in range(0, 15):
        if day:
            sandbox.advance(1)
        mandate = provider.get_mandate(mandate.id, customer_id=customer.id)
        payment = provider.get_payment(payment.id)
        row = {"day": str(day), "mandate": mandate.id, "mandate_status": mandate.status,
               "payment": payment.id, "payment_status": payment.status}
        if not steps or (row["mandate_status"], row["payment_status"]) != (
            steps[-1]["mandate_status"], steps[-1]["payment_status"]):
            steps.append(row)
    return steps
