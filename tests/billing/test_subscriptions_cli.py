"""`crmpay subscriptions …`: created, listed, repriced from a date, paused, resumed, cancelled."""

from __future__ import annotations

from datetime import date, timedelta

from tests.billing.conftest import subscribe

from crmpay.core import clock


def test_subscription_lifecycle_and_price_from_a_date(shop, sandbox):
    today = clock.today()
    dry = shop.run(
        "subscriptions", "create", "--customer", "ann@example.fr", "--line", "Hosting;1;25;20", "--dry-run", "--json"
    )
    assert dry.code == 0 and dry.json()["dry_run"] is True
    assert shop.run("subscriptions", "list", "--json").json() == []
    bad = shop.run(
        "subscriptions", "create", "--customer", "ann@example.fr", "--line", "Hosting;1;25;20", "--every", "week"
    )
    assert bad.code == 2 and "--every 'week'" in bad.stderr
    both = shop.run(
        "subscriptions",
        "create",
        "--customer",
        "ann@example.fr",
        "--line",
        "Hosting;1;25;20",
        "--end",
        "2099-01-01",
        "--count",
        "3",
    )
    assert both.code == 2 and "not both" in both.stderr
    ident = subscribe(shop, "ann@example.fr", "--day", "31", "--count", "3")
    shown = shop.run("subscriptions", "show", str(ident), "--json").json()
    assert shown["amount_incl_vat"] == "30.00" and shown["status"] == "active" and shown["count"] == 3
    assert shown["next_period"] >= today.isoformat()  # the first 31st (or month end) on or after today
    later = (today + timedelta(days=70)).isoformat()
    repriced = shop.run("subscriptions", "price", str(ident), "--line", "Hosting;1;30;20", "--from", later, "--json")
    assert repriced.code == 0, repriced.stderr
    assert [p["total_incl_vat"] for p in repriced.json()["prices"]] == ["30.00", "36.00"]
    assert shop.run("subscriptions", "pause", str(ident), "--json").json()["status"] == "paused"
    again = shop.run("subscriptions", "pause", str(ident))
    assert again.code == 1 and "is paused" in again.stderr
    assert shop.run("subscriptions", "resume", str(ident), "--json").json()["status"] == "active"
    assert shop.run("subscriptions", "cancel", str(ident), "--dry-run", "--json").json()["status"] == "cancelled"
    assert shop.run("subscriptions", "list", "--status", "active", "--json").json()[0]["id"] == ident
    assert shop.run("subscriptions", "cancel", str(ident), "--json").json()["status"] == "cancelled"
    assert shop.run("subscriptions", "list", "--status", "active", "--json").json() == []
    missing = shop.run("subscriptions", "show", "99")
    assert missing.code == 2 and "no subscription" in missing.stderr


def test_prices_apply_from_their_date_and_pauses_are_not_caught_up(shop, sandbox):
    from tests.billing.conftest import customer_with_mandate

    customer_with_mandate(sandbox, "bob@example.fr")
    assert shop.run("sync").code == 0
    start = clock.today()
    ident = subscribe(shop, "bob@example.fr", "--day", str(min(start.day, 28)), "--start", start.isoformat())
    dry = shop.run("billing", "run", "--dry-run", "--json")
    assert dry.code == 0 and len(dry.json()["issued"]) == (1 if start.day <= 28 else 0)
    assert shop.run("invoice", "list", "--json").json() == []  # a dry run issues nothing
    first = shop.run("billing", "run", "--json")
    assert first.code == 0, first.stderr
    assert len(first.json()["issued"]) == (1 if start.day <= 28 else 0)
    assert shop.run("subscriptions", "pause", str(ident)).code == 0
    sandbox.advance(40)  # a period starts while paused: never billed, not even after resuming
    paused = shop.run("billing", "run", "--json").json()
    assert paused["issued"] == []
    assert shop.run("subscriptions", "resume", str(ident)).code == 0
    nxt = date.fromisoformat(shop.run("subscriptions", "show", str(ident), "--json").json()["next_period"])
    repriced = shop.run("subscriptions", "price", str(ident), "--line", "Hosting;2;25;20", "--from", nxt.isoformat())
    assert repriced.code == 0, repriced.stderr
    assert shop.run("billing", "run", "--json").json()["issued"] == []
    sandbox.advance_to(nxt)
    resumed = shop.run("billing", "run", "--json")
    assert resumed.code == 0, resumed.stderr
    [issued] = resumed.json()["issued"]
    assert issued["amount"] == "60.00" and issued["period_start"] == nxt.isoformat()
    periods = shop.run("subscriptions", "show", str(ident), "--json").json()["periods"]
    assert [p["status"] for p in periods].count("skipped") == 1
