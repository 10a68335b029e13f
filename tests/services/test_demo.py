"""`crmpay demo`: the README's first command, on a temporary home."""

from __future__ import annotations


def test_demo_runs_on_a_temporary_home_and_leaves_the_real_one_alone(crmpay_env):
    before = (crmpay_env.home / "config.toml").read_text()
    result = crmpay_env.run("demo", "--json", timeout=300)
    assert result.code == 0, result.stderr
    summary = result.json()
    assert summary["profile"] == "demo"
    assert summary["store_before"]["payments"] == 0
    assert [p.name for p in crmpay_env.home.iterdir()] == ["config.toml"]  # CRMPAY_HOME untouched
    assert (crmpay_env.home / "config.toml").read_text() == before
    assert not crmpay_env.keyring_file.exists()  # secrets stayed in memory
    assert "demo finished" in result.stderr
    gocardless = [step["payment_status"] for step in summary["lifecycles"]["gocardless"]]
    assert gocardless[0] == "pending_submission" and gocardless[-1] == "paid_out"
    assert "submitted" in gocardless and "confirmed" in gocardless
    assert [s["mandate_status"] for s in summary["lifecycles"]["gocardless"]][-1] == "active"
    mollie = [step["payment_status"] for step in summary["lifecycles"]["mollie"]]
    assert mollie[0] == "pending" and mollie[-1] == "paid"
    for name, steps in summary["lifecycles"].items():  # the table follows the payment to its end
        assert steps[-1]["charge_date"], name
        assert int(steps[-1]["day"]) > 0
    invoices = summary["invoices"]
    # the invoice sent with a setup link is collected by sending it again once the link is completed
    assert list(invoices["statuses"].values()) == ["paid", "paid", "unpaid"]
    paid = [n for n, status in invoices["statuses"].items() if status == "paid"]
    assert sorted(invoices["invoices_paid_by_sync"]) == sorted(paid)
    assert set(invoices["charge_dates"]) >= set(paid) and all(invoices["charge_dates"].values())
    assert invoices["days_to_settle"] > 0  # the clock moved until the debits settled
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
    # a payment reached paid_out in the CRM through webhooks alone, every event applied
    hooks = summary["webhooks"]
    assert hooks["crm_statuses"][-1] == "paid_out" and hooks["events"] > 0 and hooks["unprocessed"] == 0
    # three months of a subscription: three invoices, a failed debit retried, a reminder
    billing = summary["billing"]
    assert len(billing["invoices"]) == 3 and billing["retries"] and billing["reminders"]


def test_demo_keeps_its_files_with_home(crmpay_env, tmp_path):
    target = tmp_path / "demo-home"
    result = crmpay_env.run("demo", "--home", str(target), timeout=300)
    assert result.code == 0, result.stderr
    assert (target / "profiles" / "demo" / "crmpay.sqlite3").exists()


def test_the_sample_files_are_package_data():
    from importlib.resources import files

    samples = files("crmpay.demo").joinpath("samples")
    accountant = samples.joinpath("mandats-comptable.csv").read_bytes()
    assert accountant.decode("cp1252").startswith("Nom;E-mail;IBAN;")  # as a French spreadsheet saves it
    assert "Société Générale".encode("cp1252") in accountant
    assert len(samples.joinpath("Master.csv").read_text(encoding="utf-8").splitlines()) == 4
    assert "[calls]" in samples.joinpath("call-rules.toml").read_text(encoding="utf-8")


def test_the_accountants_signature_dates_move_to_last_year_so_they_never_age_into_rejects():
    from crmpay.demo.files import ACCOUNTANT_CSV, in_year, sample

    original = sample(ACCOUNTANT_CSV)
    moved = in_year(original, 2031)
    assert moved.decode("cp1252").splitlines()[1].endswith(";15/03/2031")
    assert moved.count(b"/2031") == 3 and moved.replace(b"/2031", b"/2024") == original  # nothing else changed
