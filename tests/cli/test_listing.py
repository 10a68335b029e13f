"""`customers` and `payments` list/show over a real store."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from crmpay.core.models import Customer, Payment, PaymentState
from crmpay.core.money import Money
from crmpay.store import Store
from crmpay.store.records import upsert_customer, upsert_payment


def _seed(crmpay_env):
    db = crmpay_env.home / "profiles" / "default" / "crmpay.sqlite3"
    with Store.open(db) as store, store.transaction():
        for i, (provider, email) in enumerate([("gocardless", "ann@example.fr"), ("mollie", "bob@example.fr")]):
            cid = f"C{i}"
            upsert_customer(
                store,
                Customer(
                    provider,
                    cid,
                    email,
                    email.split("@")[0],
                    created_at=datetime(2026, 11, 1 + i, tzinfo=UTC),
                    raw={"id": cid},
                ),
            )
            for j, status in enumerate(["pending_submission", "paid_out"]):
                upsert_payment(
                    store,
                    Payment(
                        provider,
                        f"P{i}{j}",
                        Money(Decimal("10.50"), "EUR"),
                        status,
                        PaymentState.PENDING if j == 0 else PaymentState.PAID,
                        j == 0,
                        customer_id=cid,
                        created_at=datetime(2026, 11, 10 + j, tzinfo=UTC),
                        raw={"id": f"P{i}{j}"},
                    ),
                )


def test_lists_filter_and_return_json_lists(crmpay_env):
    _seed(crmpay_env)
    payments = crmpay_env.run("payments", "list", "--json").json()
    assert len(payments) == 4 and all({"provider", "id", "status"} <= p.keys() for p in payments)
    assert payments[0]["amount"] == "10.50"
    paid = crmpay_env.run("payments", "list", "--status", "paid", "--json").json()
    assert sorted(p["id"] for p in paid) == ["P01", "P11"]
    ann = crmpay_env.run("payments", "list", "--customer", "ANN@example.fr", "--json").json()
    assert sorted(p["id"] for p in ann) == ["P00", "P01"]
    assert len(crmpay_env.run("payments", "list", "--limit", "1", "--json").json()) == 1
    customers = crmpay_env.run("customers", "list", "--provider", "mollie", "--json").json()
    assert [c["email"] for c in customers] == ["bob@example.fr"]
    since = crmpay_env.run("customers", "list", "--since", "2026-11-02", "--json").json()
    assert [c["id"] for c in since] == ["C1"]
    shown = crmpay_env.run("payments", "show", "P11", "--json").json()
    assert shown["customer_email"] == "bob@example.fr" and shown["status"] == "paid_out"
    assert crmpay_env.run("customers", "show", "nope").code == 2
