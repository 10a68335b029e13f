"""Provider objects written to a real SQLite store: new, updated, unchanged."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal

from crmpay.core.models import Customer, Mandate, MandateState, Payment, PaymentState
from crmpay.core.money import Money
from crmpay.store import Store
from crmpay.store.records import Change, upsert_batch, upsert_customer, upsert_mandate, upsert_payment


def test_upserts_report_what_changed(tmp_path):
    with Store.open(tmp_path / "db.sqlite3") as store:
        customer = Customer("gocardless", "CU1", "ann@example.fr", "Ann", raw={"id": "CU1", "v": 1})
        assert upsert_customer(store, customer) is Change.NEW
        assert upsert_customer(store, customer) is Change.UNCHANGED
        changed = Customer("gocardless", "CU1", "ann@example.com", "Ann", raw={"id": "CU1", "v": 2})
        assert upsert_customer(store, changed) is Change.UPDATED
        assert store.db.execute("SELECT email FROM customers").fetchone()[0] == "ann@example.com"

        mandate = Mandate(
            "gocardless",
            "MD1",
            "CU1",
            "BA1",
            "active",
            MandateState.ACTIVE,
            True,
            scheme="sepa_core",
            reference="REF-1",
            next_possible_charge_date=date(2026, 12, 1),
            raw={"id": "MD1"},
        )
        assert upsert_mandate(store, mandate) is Change.NEW
        payment = Payment(
            "gocardless",
            "PM1",
            Money(Decimal("49.90"), "EUR"),
            "pending_submission",
            PaymentState.PENDING,
            True,
            mandate_id="MD1",
            metadata={"invoice": "INV-1"},
            created_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
            raw={"id": "PM1"},
        )
        assert upsert_payment(store, payment) is Change.NEW
        row = store.db.execute("SELECT amount_minor, currency, invoice_number, state FROM payments").fetchone()
        assert tuple(row) == (4990, "EUR", "INV-1", "pending")


def test_a_batch_larger_than_sqlites_variable_limit_is_split_and_a_repeat_keeps_the_last(tmp_path):
    with Store.open(tmp_path / "db.sqlite3") as store:
        store.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 40)  # two payment rows a statement
        payments = [
            Payment(
                "gocardless",
                f"PM{i}",
                Money.from_minor(100 * i, "EUR"),
                "submitted",
                PaymentState.SUBMITTED,
                False,
                raw={"id": f"PM{i}", "v": 1},
            )
            for i in range(7)
        ]
        payments.append(
            Payment(
                "gocardless",
                "PM3",
                Money.from_minor(999, "EUR"),
                "confirmed",
                PaymentState.PAID,
                False,
                raw={"id": "PM3", "v": 2},
            )
        )  # listed twice
        with store.transaction():
            changes = upsert_batch(store, payments)
        assert changes == [Change.NEW] * 3 + [Change.UNCHANGED] + [Change.NEW] * 4
        rows = store.db.execute("SELECT provider_id, amount_minor, status FROM payments ORDER BY provider_id")
        assert [tuple(r) for r in rows] == [
            (f"PM{i}", 999 if i == 3 else 100 * i, "confirmed" if i == 3 else "submitted") for i in range(7)
        ]
        with store.transaction():
            assert set(upsert_batch(store, payments)) == {Change.UNCHANGED}
