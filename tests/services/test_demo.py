"""`crmpay demo`: the README's first command, on a temporary home."""

from __future__ import annotations


def test_demo_runs_on_a_temporary_home_and_leaves_the_real_one_alone(crmpay_env):
    result = crmpay_env.run("demo", "--json", timeout=300)
    assert result.code == 0, result.stderr
    summary = result.json()
    assert summary["profile"] == "demo"
    assert summary["store_before"]["payments"] == 0
    assert not crmpay_env.home.exists()  # CRMPAY_HOME untouched
    assert not crmpay_env.keyring_file.exists()  # secrets stayed in memory
    assert "demo finished" in result.stderr
    gocardless = [step["payment_status"] for step in summary["lifecycles"]["gocardless"]]
    assert gocardless[0] == "pending_submission" and gocardless[-1] == "paid_out"
    assert "submitted" in gocardless and "confirmed" in gocardless
    assert [s["mandate_status"] for s in summary["lifecycles"]["gocardless"]][-1] == "active"
    mollie = [step["payment_status"] for step in summary["lifecycles"]["mollie"]]
    assert mollie[0] == "pending" and mollie[-1] == "paid"
    invoices = summary["invoices"]
    assert list(invoices["statuses"].values()) == ["paid", "awaiting_mandate", "paid", "unpaid"]
    assert "can no longer be cancelled" in invoices["late_cancel_refused"]
    assert invoices["emails"] == 3
    sync = {r["provider"]: r for r in invoices["sync"]}
    assert sync["gocardless"]["mode"] == "incremental" and sync["gocardless"]["events"] > 0
    assert sync["gocardless"]["resources"]["payments"]["updated"] >= 1 and sync["mollie"]["mode"] == "incremental"
    assert {c["email"] for c in summary["crm_contacts"]} >= {"camille.martin@example.fr", "yamada@example.jp"}
    csv_step = summary["mandate_csv"]
    assert csv_step["rows"] == 3 and csv_step["imported"] == 2
    assert any(p.startswith("line 4: iban:") for p in csv_step["problems"])
    assert any(p.startswith("line 4: signature_date:") for p in csv_step["problems"])
    calls = summary["calls"]
    assert calls["calls_read"] == 4 and calls["ignored"] == 1 and calls["imported"] == 3
    assert calls["created"] == {"accounts": 0, "leads": 0, "contacts": 2, "deals": 0, "tasks": 1, "calls": 3}


def test_demo_keeps_its_files_with_home(crmpay_env, tmp_path):
    target = tmp_path / "demo-home"
    result = crmpay_env.run("demo", "--home", str(target), timeout=300)
    assert result.code == 0, result.stderr
    assert (target / "profiles" / "demo" / "crmpay.sqlite3").exists()
