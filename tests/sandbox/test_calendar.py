"""The banks' calendar, and a GoCardless lifecycle walked day by day from many start dates.

Expectations come from the calendar (`crmpay.core.calendar`), never from a fixed number
of days: a lifecycle started on a Thursday, on 24 December or before Easter crosses
weekends and TARGET2 closing days, and each step must land on the working day the rules
give. The calendar itself is checked against published dates.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crmpay.core.calendar import (
    add_working_days,
    easter_sunday,
    is_working_day,
    next_working_day,
    target2_closing_days,
    working_days_before,
)
from crmpay.core.errors import OperationFailed
from crmpay.core.models import NewCustomer, NewMandate, NewPayment
from crmpay.core.money import Money
from crmpay.providers.gocardless import GoCardlessProvider
from crmpay.retry import RetryPolicy
from crmpay.sandbox import Sandbox

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)

# Published Western Easter Sundays.
EASTERS = {
    2000: date(2000, 4, 23),
    2008: date(2008, 3, 23),
    2011: date(2011, 4, 24),
    2019: date(2019, 4, 21),
    2024: date(2024, 3, 31),
    2025: date(2025, 4, 20),
    2026: date(2026, 4, 5),
    2027: date(2027, 3, 28),
    2028: date(2028, 4, 16),
    2038: date(2038, 4, 25),
}


@pytest.mark.parametrize("year", sorted(EASTERS))
def test_easter_sunday_matches_the_published_dates(year):
    assert easter_sunday(year) == EASTERS[year]


def test_target2_is_closed_on_its_six_days_of_2026_and_open_around_them():
    closed = {
        date(2026, 1, 1),  # New Year's Day
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),  # Labour Day
        date(2026, 12, 25),
        date(2026, 12, 26),
    }
    assert target2_closing_days(2026) == closed
    assert not any(is_working_day(d) for d in closed)
    assert is_working_day(date(2026, 4, 2)) and is_working_day(date(2026, 4, 7))  # Thursday, Tuesday
    assert not is_working_day(date(2026, 12, 5)) and not is_working_day(date(2026, 12, 6))  # a weekend
    # Whit Monday and 8 May are bank holidays in some countries, not TARGET2 closing days
    assert is_working_day(date(2026, 5, 25)) and is_working_day(date(2026, 5, 8))


def test_working_day_arithmetic_across_christmas_and_easter():
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 28)  # Fri 25, Sat, Sun closed
    assert add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)  # 1 January, then a weekend
    assert add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 30)  # Good Friday to Easter Monday
    assert next_working_day(date(2027, 3, 26)) == date(2027, 3, 30)
    assert add_working_days(date(2026, 11, 19), 0) == date(2026, 11, 19)
    assert working_days_before(date(2027, 3, 30), 2) == date(2027, 3, 24)
    assert working_days_before(date(2026, 12, 28), 1) == date(2026, 12, 24)
    for start in (date(2026, 12, 20) + timedelta(days=i) for i in range(120)):
        for n in (1, 2, 5):
            later = add_working_days(start, n)
            assert is_working_day(later) and working_days_before(later, n) <= start


def _starts() -> list[date]:
    monday = date(2026, 11, 16)
    week = [monday + timedelta(days=i) for i in range(5)]  # Monday to Friday
    return [*week, date(2026, 12, 24), date(2026, 3, 31), date(2027, 3, 24), date(2027, 4, 1)]


def _expected(start: date) -> dict[tuple[str, str], date]:
    """The day each step happens, from the sandbox's documented rules and the calendar:
    a mandate is submitted the next working day and active two working days later; the
    first possible charge date is two working days after that; a payment is submitted two
    working days before its charge date, confirmed on it, paid out two working days after."""
    submitted = next_working_day(start + timedelta(days=1))
    active = add_working_days(submitted, 2)
    charge = add_working_days(active, 2)
    return {
        ("mandate", "submitted"): submitted,
        ("mandate", "active"): active,
        ("payment", "submitted"): working_days_before(charge, 2),
        ("payment", "confirmed"): charge,
        ("payment", "paid_out"): add_working_days(charge, 2),
    }


@pytest.mark.parametrize("start", _starts(), ids=lambda d: f"{d:%Y-%m-%d-%a}")
def test_a_gocardless_lifecycle_lands_on_working_days(start):
    expected = _expected(start)
    with Sandbox(start=start) as sandbox:
        token = sandbox.credentials()["gocardless"]["access_token"]
        gc = GoCardlessProvider(token, environment="local", base_url=sandbox.url, retry_policy=FAST)
        customer = gc.create_customer(NewCustomer("ann@example.fr", "Ann Lee"), idempotency_key="c")
        mandate = gc.create_mandate(
            NewMandate(customer.id, "Ann Lee", "FR1420041010050500013M02606"), idempotency_key="m"
        )
        charge = mandate.next_possible_charge_date
        assert charge == expected[("payment", "confirmed")]
        amount = Money.parse("42.00", "EUR")
        payments = {
            name: gc.create_payment(
                NewPayment(mandate.id, amount, f"INV-{name}", customer_id=customer.id, charge_date=charge),
                idempotency_key=name,
            )
            for name in ("kept", "cancelled-in-time", "cancelled-too-late")
        }
        assert {p.charge_date for p in payments.values()} == {charge}
        too_late = expected[("payment", "submitted")]

        seen: dict[tuple[str, str], date] = {}
        day = start
        while day < expected[("payment", "paid_out")]:
            if day == expected[("payment", "submitted")] - timedelta(days=1):
                # the last calendar day the bank does not have it yet: cancelling works
                assert gc.cancel_payment(payments["cancelled-in-time"].id).status == "cancelled"
            sandbox.advance(1)
            day += timedelta(days=1)
            assert sandbox.clock.today() == day
            states = {
                "mandate": gc.get_mandate(mandate.id).status,
                "payment": gc.get_payment(payments["kept"].id).status,
            }
            for kind, status in states.items():
                seen.setdefault((kind, status), day)
            if day == too_late:
                with pytest.raises(OperationFailed, match="cannot be cancelled"):
                    gc.cancel_payment(payments["cancelled-too-late"].id)

        assert {k: v for k, v in seen.items() if k in expected} == expected
        assert all(is_working_day(d) for d in expected.values())
        assert gc.get_payment(payments["cancelled-too-late"].id).status == "paid_out"
        assert gc.get_payment(payments["cancelled-in-time"].id).status == "cancelled"
