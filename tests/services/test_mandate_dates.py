"""The dates of an accountant's mandate CSV (issue 15), through `crmpay mandates import`.

Every date is counted from the pinned sandbox day (`clock.today()`), never the real one.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import gocardless_pro
import pytest

from crmpay.core import clock
from crmpay.core.sepa import SCHEME_START, add_months

HEADER = "Nom;E-mail;IBAN;BIC;RUM;Date de signature;Date dernier prélèvement\r\n"
IBANS = ("FR1420041010050500013M02606", "DE89370400440532013000", "BE68539007547034", "NL91ABNA0417164300")


def _row(i: int, signed: date | str, last: date | str | None = None) -> str:
    last_text = last.isoformat() if isinstance(last, date) else (last or "")
    signed_text = signed.isoformat() if isinstance(signed, date) else signed
    return f"Client {i};c{i}@example.fr;{IBANS[i % 4]};;RUM-{i};{signed_text};{last_text}\r\n"


def _file(tmp_path, *rows: str, name: str = "mandats.csv"):
    path = tmp_path / name
    path.write_bytes((HEADER + "".join(rows)).encode("cp1252"))
    return path


def _stored(env) -> dict[str, tuple[str | None, str | None]]:
    """reference -> (signature_date, last_collection_date) as the store holds them."""
    with sqlite3.connect(env.home / "profiles" / "default" / "crmpay.sqlite3") as db:
        return {
            r: (s, last)
            for r, s, last in db.execute("SELECT reference, signature_date, last_collection_date FROM mandates")
        }


def test_a_signature_before_sepa_existed_is_refused(crmpay_env, tmp_path):
    today = clock.today()
    path = _file(tmp_path, _row(1, "1900-01-01"), _row(2, "01/11/2009"), _row(3, SCHEME_START, today))
    result = crmpay_env.run("mandates", "import", str(path), "--provider", "none", "--json")
    assert result.code == 2  # all or nothing: nothing imported
    problems = {(p["line"], p["column"]): p["message"] for p in result.json()["problems"]}
    assert problems[(2, "signature_date")] == (
        "signature date 1900-01-01 is before the SEPA direct debit scheme started (2009-11-02)"
    )
    assert "2009-11-01 is before the SEPA direct debit scheme started" in problems[(3, "signature_date")]
    assert not any(line == 4 for line, _ in problems)  # signed on the scheme's first day, used today: fine
    assert result.json()["imported"] == 0 and result.json()["valid"] == 1


def test_a_mandate_already_lapsed_by_the_36_month_rule_is_an_invalid_row(crmpay_env, tmp_path):
    today = clock.today()
    lapsed = add_months(today, -48)  # signed four years ago, never used
    used_long_ago = (add_months(today, -60), add_months(today, -40))  # signed 5 years ago, last used 40 months ago
    path = _file(tmp_path, _row(1, lapsed), _row(2, *used_long_ago))
    result = crmpay_env.run("mandates", "import", str(path), "--provider", "none")
    assert result.code == 2
    expected_1 = (
        f"line 2: signature_date: expired on {add_months(lapsed, 36)}: 36 months without a collection;"
        " the customer must sign a new mandate"
    )
    expected_2 = f"line 3: last_collection_date: expired on {add_months(used_long_ago[1], 36)}: 36 months"
    assert expected_1 in result.stderr and expected_2 in result.stderr
    assert crmpay_env.run("mandates", "list", "--json").json() == []  # nothing imported, nothing shown EXPIRED


def test_the_36_months_end_on_the_import_day_itself(crmpay_env, tmp_path):
    today = clock.today()
    boundary = add_months(today, -36)  # lapses today: a debit today would be refused
    path = _file(tmp_path, _row(1, boundary), _row(2, boundary + timedelta(days=1)))
    result = crmpay_env.run("mandates", "import", str(path), "--provider", "none", "--skip-invalid", "--json")
    assert result.code == 3 and result.json()["imported"] == 1
    [problem] = result.json()["problems"]
    assert problem["line"] == 2 and problem["message"].startswith(f"expired on {add_months(boundary, 36)}")
    [kept] = crmpay_env.run("mandates", "list", "--json").json()
    assert kept["reference"] == "RUM-2" and kept["expired"] is False


def test_a_last_collection_before_the_signature_is_refused(crmpay_env, tmp_path):
    today = clock.today()
    signed = add_months(today, -6)
    path = _file(tmp_path, _row(1, signed, signed - timedelta(days=1)), _row(2, signed, signed))
    result = crmpay_env.run("mandates", "import", str(path), "--provider", "none", "--json")
    assert result.code == 2
    assert [(p["line"], p["column"], p["message"]) for p in result.json()["problems"]] == [
        (
            2,
            "last_collection_date",
            f"last collection {signed - timedelta(days=1)} is before the signature date {signed}",
        )
    ]


def test_a_recent_collection_keeps_an_old_mandate_alive_and_is_stored(crmpay_env, tmp_path):
    today = clock.today()
    signed, last = add_months(today, -60), add_months(today, -12)
    result = crmpay_env.run("mandates", "import", str(_file(tmp_path, _row(1, signed, last))), "--provider", "none")
    assert result.code == 0, result.stderr
    [listed] = crmpay_env.run("mandates", "list", "--json").json()
    assert listed["last_collection_date"] == last.isoformat()
    assert listed["expires_on"] == add_months(last, 36).isoformat() and listed["expired"] is False
    assert _stored(crmpay_env) == {"RUM-1": (signed.isoformat(), last.isoformat())}


def _connect(env, sandbox):
    creds = sandbox.credentials()
    env.env.update(
        CRMPAY_GOCARDLESS_ACCESS_TOKEN=creds["gocardless"]["access_token"],
        CRMPAY_MOLLIE_API_KEY=creds["mollie"]["api_key"],
    )
    for name in ("gocardless", "mollie"):
        assert env.run("connect", name, "--environment", "local", "--base-url", sandbox.url).code == 0


def test_mollie_route_keeps_the_last_collection_date(crmpay_env, sandbox, tmp_path):
    _connect(crmpay_env, sandbox)
    today = clock.today()
    used = (add_months(today, -50), add_months(today, -3))
    path = _file(tmp_path, _row(1, *used), _row(2, add_months(today, -2)))
    result = crmpay_env.run("mandates", "import", str(path), "--provider", "mollie", "--json")
    assert result.code == 0, result.stderr
    listed = {m["reference"]: m for m in crmpay_env.run("mandates", "list", "--provider", "mollie", "--json").json()}
    assert listed["RUM-1"]["last_collection_date"] == used[1].isoformat()
    assert listed["RUM-1"]["expired"] is False and listed["RUM-2"]["last_collection_date"] is None
    assert crmpay_env.run("sync", "--provider", "mollie", "--full").code == 0  # Mollie knows no such date
    assert _stored(crmpay_env)["RUM-1"][1] == used[1].isoformat()  # the sync kept it


def test_gocardless_route_keeps_the_last_collection_date(crmpay_env, sandbox, tmp_path):
    _connect(crmpay_env, sandbox)
    crmpay_env.run("config", "set", "creditor_id", "FR72ZZZ123456")
    crmpay_env.run("config", "set", "seller.name", "Acme SAS")
    today = clock.today()
    signed, last = add_months(today, -50), add_months(today, -3)
    path = _file(tmp_path, _row(1, signed, last), _row(2, add_months(today, -2)))
    sent = crmpay_env.run("mandates", "import", str(path), "--provider", "gocardless", "--json")
    assert sent.code == 0, sent.stderr
    sandbox.advance(1)  # GoCardless processes the import
    collected = crmpay_env.run("mandates", "import", "--status", sent.json()["provider_import"], "--json")
    assert collected.code == 0 and collected.json()["status"] == "processed"
    by_ref = {c["record_identifier"]: c["mandate"] for c in collected.json()["collected"]}
    sdk = gocardless_pro.Client(access_token=sandbox.credentials()["gocardless"]["access_token"], base_url=sandbox.url)
    assert sdk.mandates.get(by_ref["RUM-1"]).metadata == {
        "signature_date": signed.isoformat(),
        "last_collection_date": last.isoformat(),
    }  # kept with the mandate at GoCardless too
    listed = {
        m["reference"]: m for m in crmpay_env.run("mandates", "list", "--provider", "gocardless", "--json").json()
    }
    assert listed["RUM-1"]["last_collection_date"] == last.isoformat()
    assert listed["RUM-1"]["expires_on"] == add_months(last, 36).isoformat()
    assert listed["RUM-2"]["last_collection_date"] is None
    assert crmpay_env.run("sync", "--provider", "gocardless", "--full").code == 0
    assert _stored(crmpay_env)["RUM-1"][1] == last.isoformat()


@pytest.mark.parametrize("provider", ["none", "mollie", "gocardless"])
def test_every_route_refuses_a_lapsed_mandate_before_calling_the_provider(crmpay_env, sandbox, tmp_path, provider):
    _connect(crmpay_env, sandbox)
    crmpay_env.run("config", "set", "creditor_id", "FR72ZZZ123456")
    crmpay_env.run("config", "set", "seller.name", "Acme SAS")
    path = _file(tmp_path, _row(1, add_months(clock.today(), -40)))
    result = crmpay_env.run("mandates", "import", str(path), "--provider", provider)
    assert result.code == 2 and "the customer must sign a new mandate" in result.stderr
    assert sandbox.services["gocardless"].objects["mandate_imports"] == {}
    assert sandbox.services["mollie"].objects["mandates"] == {}
