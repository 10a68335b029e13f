"""`crmpay mandates import FILE --provider none`, `mandates list|show`, through the CLI."""

from __future__ import annotations

import sqlite3

GOOD = (
    "Nom;E-mail;IBAN;BIC;RUM;Date de signature;Date dernier prélèvement\r\n"
    "Société Générale;compta@sg.fr;FR14 2004 1010 0505 0001 3M02 606;;RUM-1;15/03/2020;\r\n"
    "Jean Dupont;jean@example.fr;DE89370400440532013000;COBADEFFXXX;RUM-2;2024-01-01;2025-06-01\r\n"
)
BAD_ROW = "Bad;not-an-email;FR1420041010050500013M02605;;RUM-3;2024-01-01;\r\n"


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
    path = _file(tmp_path, GOOD + BAD_ROW)
    refused = crmpay_env.run("mandates", "import", str(path), "--provider", "none")
    assert refused.code == 2
    assert "line 4: email: invalid email address 'not-an-email'" in refused.stderr
    assert "line 4: iban: invalid IBAN" in refused.stderr
    assert _count(crmpay_env) == 0

    dry = crmpay_env.run("mandates", "import", str(path), "--provider", "none", "--dry-run",
                         "--skip-invalid", "--json")
    assert dry.code == 3 and dry.json()["imported"] == 2 and _count(crmpay_env) == 0

    rejects = tmp_path / "rejects.csv"
    partial = crmpay_env.run("mandates", "import", str(path), "--provider", "none",
                             "--skip-invalid", "--errors-csv", str(rejects), "--json")
    assert partial.code == 3
    assert partial.json()["imported"] == 2 and partial.json()["invalid"] == 1
    assert "email: invalid email address" in rejects.read_text()
    assert _count(crmpay_env) == 2

    clean = _file(tmp_path, GOOD, "again.csv")
    again = crmpay_env.run("mandates", "import", str(clean), "--provider", "none", "--json")
    assert again.code == 0
    assert again.json()["imported"] == 0 and again.json()["already_imported"] == 2
    assert _count(crmpay_env) == 2 and _count(crmpay_env, "customers") == 2


def test_reference_reused_for_another_account_is_refused(crmpay_env, tmp_path):
    assert crmpay_env.run("mandates", "import", str(_file(tmp_path, GOOD)), "--provider", "none").code == 0
    other = GOOD.replace("DE89370400440532013000;COBADEFFXXX", "BE68539007547034;")
    result = crmpay_env.run("mandates", "import", str(_file(tmp_path, other, "o.csv")), "--provider", "none")
    assert result.code == 2
    assert "line 3: mandate_reference: 'RUM-2' is already in the store for another bank account" in result.stderr


def test_list_and_show_flag_the_36_month_rule(crmpay_env, tmp_path):
    crmpay_env.run("mandates", "import", str(_file(tmp_path, GOOD)), "--provider", "none")
    items = crmpay_env.run("mandates", "list", "--json").json()
    by_ref = {m["reference"]: m for m in items}
    assert by_ref["RUM-1"]["expired"] is True and by_ref["RUM-1"]["expires_on"] == "2023-03-15"
    assert by_ref["RUM-2"]["expired"] is False and by_ref["RUM-2"]["expires_on"] == "2028-06-01"
    assert all({"provider", "id", "status"} <= m.keys() for m in items)
    shown = crmpay_env.run("mandates", "show", "rum-2", "--json").json()
    assert shown["customer_email"] == "jean@example.fr"
    assert crmpay_env.run("mandates", "list", "--customer", "COMPTA@sg.fr", "--json").json()[0]["id"] == "RUM-1"
    missing = crmpay_env.run("mandates", "show", "RUM-9")
    assert missing.code == 2 and "no mandate 'RUM-9'" in missing.stderr


def test_provider_import_not_built_yet_is_said_plainly(crmpay_env, tmp_path):
    result = crmpay_env.run("mandates", "import", str(_file(tmp_path, GOOD)), "--provider", "mollie")
    assert result.code == 2
    assert "not built yet" in result.stderr
