"""`crmpay mandates import FILE --provider none`, `mandates list|show`, through the CLI."""

from __future__ import annotations

import sqlite3
from datetime import date

import httpx

from crmpay.core import clock
from crmpay.core.sepa import add_months


def _dates() -> dict[str, date]:
    """Dates relative to the pinned today, so that no sample mandate lapses on another day."""
    today = clock.today()
    return {
        "signed_1": add_months(today, -30),  # never used: lapses in 6 months
        "signed_2": add_months(today, -50),
        "collected_2": add_months(today, -5),  # used 5 months ago: lapses in 31 months
        "signed_3": add_months(today, -12),
    }


def _good() -> str:
    d = _dates()
    return (
        "Nom;E-mail;IBAN;BIC;RUM;Date de signature;Date dernier prélèvement\r\n"
        f"Société Générale;compta@sg.fr;FR14 2004 1010 0505 0001 3M02 606;;RUM-1;{d['signed_1']:%d/%m/%Y};\r\n"
        f"Jean Dupont;jean@example.fr;DE89370400440532013000;COBADEFFXXX;RUM-2;{d['signed_2']};{d['collected_2']}\r\n"
    )


def _bad_row() -> str:
    return f"Bad;not-an-email;FR1420041010050500013M02605;;RUM-3;{_dates()['signed_3']};\r\n"


def _file(tmp_path, text, name="mandats.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("cp1252"))
    return path


def _count(crmpay_env, table="mandates"):
    db = crmpay_env.home / "profiles" / "default" / "crmpay.sqlite3"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_all_or_nothing_then_skip_invalid_then_rerun_creates_nothing(crmpay_env, tmp_path):
    path = _file(tmp_path, _good() + _bad_row())
    refused = crmpay_env.run("mandates", "import", str(path), "--provider", "none")
    assert refused.code == 2
    assert "line 4: email: invalid email address 'not-an-email'" in refused.stderr
    assert "line 4: iban: invalid IBAN" in refused.stderr
    assert _count(crmpay_env) == 0

    dry = crmpay_env.run("mandates", "import", str(path), "--provider", "none", "--dry-run", "--skip-invalid", "--json")
    assert dry.code == 3 and dry.json()["imported"] == 2 and _count(crmpay_env) == 0

    rejects = tmp_path / "rejects.csv"
    partial = crmpay_env.run(
        "mandates", "import", str(path), "--provider", "none", "--skip-invalid", "--errors-csv", str(rejects), "--json"
    )
    assert partial.code == 3
    assert partial.json()["imported"] == 2 and partial.json()["invalid"] == 1
    assert "email: invalid email address" in rejects.read_text()
    assert _count(crmpay_env) == 2

    clean = _file(tmp_path, _good(), "again.csv")
    again = crmpay_env.run("mandates", "import", str(clean), "--provider", "none", "--json")
    assert again.code == 0
    assert again.json()["imported"] == 0 and again.json()["already_imported"] == 2
    assert _count(crmpay_env) == 2 and _count(crmpay_env, "customers") == 2


def test_reference_reused_for_another_account_is_refused(crmpay_env, tmp_path):
    assert crmpay_env.run("mandates", "import", str(_file(tmp_path, _good())), "--provider", "none").code == 0
    other = _good().replace("DE89370400440532013000;COBADEFFXXX", "BE68539007547034;")
    result = crmpay_env.run("mandates", "import", str(_file(tmp_path, other, "o.csv")), "--provider", "none")
    assert result.code == 2
    assert "line 3: mandate_reference: 'RUM-2' is already in the store for another bank account" in result.stderr


def test_list_and_show_flag_the_36_month_rule(crmpay_env, tmp_path):
    assert crmpay_env.run("mandates", "import", str(_file(tmp_path, _good())), "--provider", "none").code == 0
    d = _dates()
    lapse_1, lapse_2 = add_months(d["signed_1"], 36), add_months(d["collected_2"], 36)
    items = crmpay_env.run("mandates", "list", "--json").json()
    by_ref = {m["reference"]: m for m in items}
    assert by_ref["RUM-1"]["expired"] is False and by_ref["RUM-1"]["expires_on"] == lapse_1.isoformat()
    assert by_ref["RUM-2"]["expired"] is False and by_ref["RUM-2"]["expires_on"] == lapse_2.isoformat()
    # on RUM-1's 36th month without a collection, it is flagged; RUM-2 (used since) is not
    later = crmpay_env.run("mandates", "list", "--json", env={"CRMPAY_TODAY": f"{lapse_1}T09:00:00+00:00"}).json()
    by_ref = {m["reference"]: m for m in later}
    assert by_ref["RUM-1"]["expired"] is True and by_ref["RUM-2"]["expired"] is False
    assert all({"provider", "id", "status"} <= m.keys() for m in items)
    shown = crmpay_env.run("mandates", "show", "rum-2", "--json").json()
    assert shown["customer_email"] == "jean@example.fr"
    assert crmpay_env.run("mandates", "list", "--customer", "COMPTA@sg.fr", "--json").json()[0]["id"] == "RUM-1"
    missing = crmpay_env.run("mandates", "show", "RUM-9")
    assert missing.code == 2 and "no mandate 'RUM-9'" in missing.stderr


def test_provider_import_needs_the_provider_connected(crmpay_env, tmp_path):
    result = crmpay_env.run("mandates", "import", str(_file(tmp_path, _good())), "--provider", "mollie")
    assert result.code == 4 and "mollie is not connected" in result.stderr


def _connect(env, sandbox):
    creds = sandbox.credentials()
    env.env.update(
        {
            "CRMPAY_GOCARDLESS_ACCESS_TOKEN": creds["gocardless"]["access_token"],
            "CRMPAY_MOLLIE_API_KEY": creds["mollie"]["api_key"],
        }
    )
    for name in ("gocardless", "mollie"):
        assert env.run("connect", name, "--environment", "local", "--base-url", sandbox.url).code == 0


def test_mollie_import_creates_once_even_when_killed(crmpay_env, sandbox, tmp_path):
    _connect(crmpay_env, sandbox)
    path = _file(tmp_path, _good())
    killed = crmpay_env.run(
        "mandates", "import", str(path), "--provider", "mollie", env={"CRMPAY_TEST_KILL_AT": "after_create:mandate"}
    )
    assert killed.code == -9  # died right after Mollie created the first mandate
    done = crmpay_env.run("mandates", "import", str(path), "--provider", "mollie", "--json")
    assert done.code == 0, done.stderr
    again = crmpay_env.run("mandates", "import", str(path), "--provider", "mollie", "--json")
    assert again.json()["imported"] == 0 and again.json()["already_imported"] == 2
    from crmpay.providers.mollie import MollieProvider

    mollie = MollieProvider(sandbox.credentials()["mollie"]["api_key"], environment="local", base_url=sandbox.url)
    mandates = list(mollie.iter_mandates())  # read back through Mollie's own API
    assert sorted(m.reference for m in mandates) == ["RUM-1", "RUM-2"]  # one each, no duplicate
    assert len(list(mollie.iter_customers())) == 2
    assert "Société Générale" in {m.raw["details"]["consumerName"] for m in mandates}
    listed = crmpay_env.run("mandates", "list", "--provider", "mollie", "--json").json()
    assert sorted(m["reference"] for m in listed) == ["RUM-1", "RUM-2"]


def test_gocardless_import_is_submitted_then_collected(crmpay_env, sandbox, tmp_path):
    (crmpay_env.home / "config.toml").write_text("")  # a profile with no seller yet
    _connect(crmpay_env, sandbox)
    path = _file(tmp_path, _good())
    refused = crmpay_env.run("mandates", "import", str(path), "--provider", "gocardless")
    assert refused.code == 2 and "creditor identifier" in refused.stderr
    crmpay_env.run("config", "set", "creditor_id", "FR72ZZZ123456")
    nameless = crmpay_env.run("mandates", "import", str(path), "--provider", "gocardless")
    assert nameless.code == 2 and "names the original creditor" in nameless.stderr and "seller.name" in nameless.stderr
    crmpay_env.run("config", "set", "seller.name", "Acme SAS")
    httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"mandate_imports_enabled": False})
    restricted = crmpay_env.run("mandates", "import", str(path), "--provider", "gocardless")
    assert restricted.code == 1 and "mandate imports are not enabled on this GoCardless account" in restricted.stderr
    assert "--provider none" in restricted.stderr
    httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"mandate_imports_enabled": True})
    sent = crmpay_env.run("mandates", "import", str(path), "--provider", "gocardless", "--json")
    assert sent.code == 0, sent.stderr
    import_id = sent.json()["provider_import"]
    import gocardless_pro

    sdk = gocardless_pro.Client(access_token=sandbox.credentials()["gocardless"]["access_token"], base_url=sandbox.url)
    assert sdk.mandate_imports.get(import_id).status == "submitted"
    entries = sdk.mandate_import_entries.list(params={"mandate_import": import_id}).records
    assert sorted(e.record_identifier for e in entries) == ["RUM-1", "RUM-2"]
    assert {e.attributes.get("record_identifier") for e in entries} == {"RUM-1", "RUM-2"}
    service = sandbox.services["gocardless"]
    amendments = [service.private[ident]["amendment"] for ident in service.objects["mandate_import_entries"]]
    assert {(a["original_creditor_name"], a["original_creditor_id"]) for a in amendments} == {
        ("Acme SAS", "FR72ZZZ123456")
    }
    rerun = crmpay_env.run("mandates", "import", str(path), "--provider", "gocardless", "--json")
    assert rerun.json()["provider_import"] == import_id
    assert len(sandbox.services["gocardless"].objects["mandate_imports"]) == 1  # no second import
    sandbox.advance(1)
    collected = crmpay_env.run("mandates", "import", "--status", import_id, "--json")
    assert collected.code == 0 and collected.json()["status"] == "processed"
    assert sorted(c["record_identifier"] for c in collected.json()["collected"]) == ["RUM-1", "RUM-2"]
    listed = crmpay_env.run("mandates", "list", "--provider", "gocardless", "--json").json()
    assert sorted(m["reference"] for m in listed) == ["RUM-1", "RUM-2"]


def test_import_from_gocardless_links_contacts_by_email(crmpay_env, sandbox, tmp_path):
    import httpx

    from crmpay.core.models import NewCustomer, NewMandate
    from crmpay.providers.gocardless import GoCardlessProvider
    from crmpay.retry import RetryPolicy

    _connect(crmpay_env, sandbox)
    crmpay_env.connect_zoho(sandbox)
    gc = GoCardlessProvider(
        sandbox.credentials()["gocardless"]["access_token"],
        environment="local",
        base_url=sandbox.url,
        retry_policy=RetryPolicy(attempts=3, base_delay=0.001),
    )
    mandates = {}
    for i, email in enumerate(["Ann@Example.fr", "twins@example.fr", "nobody@example.fr"]):
        customer = gc.create_customer(NewCustomer(email, f"Client {i}"), idempotency_key=f"c{i}")
        mandates[email] = gc.create_mandate(
            NewMandate(customer.id, f"Client {i}", "FR1420041010050500013M02606"), idempotency_key=f"m{i}"
        ).id
    ids = httpx.post(
        f"{sandbox.url}/__sandbox/zoho/records/Contacts",
        json={
            "data": [
                {"Last_Name": "Ann", "Email": "ann@example.fr"},
                {"Last_Name": "Twin A", "Email": "twins@example.fr"},
                {"Last_Name": "Twin B", "Email": "twins@example.fr"},
            ]
        },
    ).json()["ids"]
    first = crmpay_env.run("mandates", "import", "--from", "gocardless", "--json")
    assert first.code == 3
    report = first.json()
    assert report["linked"] == [{"mandate": mandates["Ann@Example.fr"], "contact": ids[0]}]
    assert report["ambiguous"] == [
        {"mandate": mandates["twins@example.fr"], "email": "twins@example.fr", "contacts": ids[1:]}
    ]
    assert [n["mandate"] for n in report["no_contact"]] == [mandates["nobody@example.fr"]]
    records = sandbox.services["zoho"].records["Contacts"]
    assert records[ids[0]]["CRMPAY_Active_Mandate"] is True and "CRMPAY_Active_Mandate" not in records[ids[1]]
    settled = crmpay_env.run(
        "mandates",
        "import",
        "--from",
        "gocardless",
        "--create-contacts",
        "--json",
        "--link",
        f"{mandates['twins@example.fr']}={ids[2]}",
    )
    assert settled.code == 0, settled.stderr
    assert [c["email"] for c in settled.json()["created_contacts"]] == ["nobody@example.fr"]
    assert records[ids[2]]["CRMPAY_Active_Mandate"] is True
    assert len(crmpay_env.run("mandates", "list", "--provider", "gocardless", "--json").json()) == 3
