"""`crmpay calls import`: Asterisk and SipSim files into the sandbox Zoho CRM, by rules.

Every test runs the real command line against the sandbox over loopback and reads the
outcome back from the sandbox CRM's records and the store.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from crmpay.paths import Home
from crmpay.sandbox.zoho import DEALS_LAYOUT

LINE = "01 42 68 53 00"  # the company line, +33142685300
LINE_E164 = "+33142685300"
SALES = "sales@example.fr"
BOSS = "boss@example.fr"


# -- helpers -----------------------------------------------------------------------------------------
def _cdr(
    src: str,
    dst: str,
    start: str,
    *,
    answered: bool = True,
    billsec: int = 125,
    uniqueid: str | None = None,
    channel: str = "SIP/trunk-0001",
) -> str:
    """One Asterisk Master.csv line, quoted as cdr_csv writes it."""
    end = (datetime.fromisoformat(start) + timedelta(seconds=billsec + 5)).strftime("%Y-%m-%d %H:%M:%S")
    answer = (datetime.fromisoformat(start) + timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S") if answered else ""
    cells = [
        '""',
        f'"{src}"',
        f'"{dst}"',
        '"from-trunk"',
        f'"""Caller"" <{src}>"',
        f'"{channel}"',
        '"SIP/100-0002"',
        '"Dial"',
        '"SIP/100"',
        f'"{start}"',
        f'"{answer}"',
        f'"{end}"',
        str(billsec + 5),
        str(billsec if answered else 0),
        '"ANSWERED"' if answered else '"NO ANSWER"',
        '"DOCUMENTATION"',
    ]
    if uniqueid is not None:
        cells.append(f'"{uniqueid}"')
    return ",".join(cells)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rules(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


BASE_RULES = f"""
default_region = "FR"
timezone = "Europe/Paris"
default_owner = "{BOSS}"
create_contact = true
contact_owner = "line_manager"
missed_call_task = true
create_call_records = true

[[lines]]
number = "{LINE}"
manager = "{SALES}"
"""


@pytest.fixture
def zoho(crmpay_env, sandbox):
    """crmpay connected to the sandbox Zoho, with two CRM users besides the admin."""
    crmpay_env.connect_zoho(sandbox)
    users = {}
    for email, name in ((SALES, "Sam Sales"), (BOSS, "Bea Boss")):
        users[email] = httpx.post(f"{sandbox.url}/__sandbox/zoho/users", json={"email": email, "name": name}).json()[
            "id"
        ]
    return users


def _records(sandbox, module: str) -> list[dict]:
    return list(sandbox.services["zoho"].records[module].values())


def _seed(sandbox, module: str, *records: dict) -> list[str]:
    return httpx.post(f"{sandbox.url}/__sandbox/zoho/records/{module}", json={"data": list(records)}).json()["ids"]


def _import(env, path: Path, rules: Path, *extra: str):
    return env.run("calls", "import", str(path), "--format", "asterisk", "--rules", str(rules), "--json", *extra)


def _owner(record: dict) -> str:
    return record["Owner"]["id"]


# -- matching, leads, contacts -------------------------------------------------------------------------
def test_a_first_time_caller_makes_one_lead_and_not_a_second_on_the_next_call(crmpay_env, sandbox, zoho, tmp_path):
    rules = _rules(
        tmp_path / "rules.toml",
        BASE_RULES.replace(
            "create_contact = true",
            'create_contact = false\ncreate_lead_on_first_contact = true\nlead_status = "Not Contacted"',
        ),
    )
    calls = _write(
        tmp_path / "Master.csv",
        [
            _cdr("06 12 34 56 78", LINE, "2026-11-20 10:00:00", uniqueid="1.1"),
            _cdr("+33612345678", LINE, "2026-11-20 11:00:00", uniqueid="1.2"),
        ],
    )
    result = _import(crmpay_env, calls, rules)
    assert result.code == 0, result.stderr
    summary = result.json()
    assert summary["created"]["leads"] == 1 and summary["created"]["contacts"] == 0
    leads = _records(sandbox, "Leads")
    assert len(leads) == 1 and leads[0]["Phone"] == "+33612345678"
    assert leads[0]["Lead_Status"] == "Not Contacted" and _owner(leads[0]) == zoho[SALES]
    logged = _records(sandbox, "Calls")
    assert len(logged) == 2 and {c["Who_Id"]["id"] for c in logged} == {leads[0]["id"]}

    # a later call from the same number, in another file and run: still one lead
    later = _write(tmp_path / "later.csv", [_cdr("0612345678", LINE, "2026-11-21 09:00:00", uniqueid="1.3")])
    again = _import(crmpay_env, later, rules)
    assert again.code == 0 and again.json()["created"]["leads"] == 0 and again.json()["matched"] == 1
    assert len(_records(sandbox, "Leads")) == 1 and len(_records(sandbox, "Calls")) == 3


def test_matching_is_by_e164_on_every_phone_field_and_the_most_recent_wins(crmpay_env, sandbox, zoho, tmp_path):
    old, new, _near = _seed(
        sandbox,
        "Contacts",
        {"Last_Name": "Old", "Mobile": "06 12 34 56 78", "Modified_Time": "2025-01-01T00:00:00+00:00"},
        {"Last_Name": "New", "Home_Phone": "+33 6 12 34 56 78", "Modified_Time": "2026-06-01T00:00:00+00:00"},
        # Zoho's fuzzy phone search would offer this one too: same last digits
        {"Last_Name": "Near", "Phone": "+44 20 7946 12345678", "Modified_Time": "2026-09-01T00:00:00+00:00"},
    )
    rules = _rules(tmp_path / "rules.toml", BASE_RULES)
    calls = _write(tmp_path / "Master.csv", [_cdr("0612345678", LINE, "2026-11-20 10:00:00", uniqueid="2.1")])
    result = _import(crmpay_env, calls, rules)
    assert result.code == 0, result.stderr
    assert result.json()["matched"] == 1 and result.json()["created"]["contacts"] == 0
    (logged,) = _records(sandbox, "Calls")
    assert logged["Who_Id"]["id"] == new != old


def test_a_number_typed_unusually_is_matched_only_by_reading_whole_modules(crmpay_env, sandbox, zoho, tmp_path):
    """Zoho's `phone=` search finds a number as typed; crmpay searches the usual spellings
    and, past `phone_search_up_to` callers (0: always), reads the modules instead."""
    (typed,) = _seed(sandbox, "Contacts", {"Last_Name": "Dotted", "Phone": "06.12.34.56.78"})
    calls = _write(tmp_path / "Master.csv", [_cdr("0612345678", LINE, "2026-11-20 10:00:00", uniqueid="2.9")])
    searched = _import(crmpay_env, calls, _rules(tmp_path / "rules.toml", BASE_RULES), "--dry-run")
    assert searched.code == 0, searched.stderr
    assert searched.json()["matched"] == 0  # not found by any spelling searched
    read = _import(crmpay_env, calls, _rules(tmp_path / "read.toml", "phone_search_up_to = 0\n" + BASE_RULES))
    assert read.code == 0, read.stderr
    assert read.json()["matched"] == 1 and read.json()["created"]["contacts"] == 0
    (logged,) = _records(sandbox, "Calls")
    assert logged["Who_Id"]["id"] == typed


def test_call_records_have_type_offset_start_and_duration_in_the_configured_format(crmpay_env, sandbox, zoho, tmp_path):
    lines = [
        _cdr("0612345678", LINE, "2026-11-20 10:00:00", billsec=125, uniqueid="3.1"),  # inbound answered
        _cdr("0698765432", LINE, "2026-07-14 18:30:00", answered=False, uniqueid="3.2"),  # missed
        _cdr(LINE, "0611223344", "2026-11-20 15:00:00", billsec=3725, uniqueid="3.3"),
    ]  # outbound
    calls = _write(tmp_path / "Master.csv", lines)
    for style, expected in (
        ("mm:ss", {"3.1": "02:05", "3.2": "00:00", "3.3": "62:05"}),
        ("hh:mm", {"3.1": "00:03", "3.2": "00:00", "3.3": "01:03"}),
    ):
        sandbox.services["zoho"].records["Calls"].clear()
        store = Home.resolve(crmpay_env.home).database("default")
        if style == "hh:mm":  # forget the first import, to import the same calls again
            with sqlite3.connect(store) as db:
                assert db.execute("DELETE FROM calls").rowcount == 3
        rules = _rules(
            tmp_path / f"{style[:2]}.toml",
            BASE_RULES.replace(
                "create_call_records = true", f'create_call_records = true\ncall_duration_format = "{style}"'
            ),
        )
        result = _import(crmpay_env, calls, rules)
        assert result.code == 0, result.stderr
        by_id = {c["CRMPAY_Call_Id"]: c for c in _records(sandbox, "Calls")}
        assert {k: v["Call_Duration"] for k, v in by_id.items()} == expected
    assert by_id["3.1"]["Call_Type"] == "Inbound" and by_id["3.1"]["Caller_ID"] == "+33612345678"
    assert by_id["3.2"]["Call_Type"] == "Missed"
    assert by_id["3.3"]["Call_Type"] == "Outbound" and by_id["3.3"]["Dialled_Number"] == "+33611223344"
    # local Paris times with their offset: winter +01:00, summer +02:00
    assert by_id["3.1"]["Call_Start_Time"] == "2026-11-20T10:00:00+01:00"
    assert by_id["3.2"]["Call_Start_Time"] == "2026-07-14T18:30:00+02:00"
    assert all(_owner(c) == zoho[SALES] for c in by_id.values())


def test_a_missed_call_makes_a_task_for_the_lines_manager(crmpay_env, sandbox, zoho, tmp_path):
    other = "01 42 68 53 99"
    rules = _rules(
        tmp_path / "rules.toml",
        BASE_RULES.replace(
            "missed_call_task = true", 'missed_call_task = true\ntask_due_days = 2\ntask_priority = "Highest"'
        )
        + f'\n[[lines]]\nnumber = "{other}"\nmanager = "{BOSS}"\n',
    )
    calls = _write(
        tmp_path / "Master.csv",
        [
            _cdr("0612345678", other, "2026-11-20 10:00:00", answered=False, uniqueid="4.1"),  # missed on Bea's line
            _cdr(LINE, "0698765432", "2026-11-20 11:00:00", answered=False, uniqueid="4.2"),  # outbound, no answer
            _cdr("0611111111", LINE, "2026-11-20 12:00:00", uniqueid="4.3"),
        ],
    )  # answered: no task
    result = _import(crmpay_env, calls, rules)
    assert result.code == 0, result.stderr
    tasks = {t["CRMPAY_Call_Id"]: t for t in _records(sandbox, "Tasks")}
    assert set(tasks) == {"4.1", "4.2"}
    assert _owner(tasks["4.1"]) == zoho[BOSS] and _owner(tasks["4.2"]) == zoho[SALES]
    assert tasks["4.1"]["Subject"] == "Missed call from +33612345678"
    assert tasks["4.1"]["Due_Date"] == "2026-11-22" and tasks["4.1"]["Priority"] == "Highest"
    contacts = {c["Phone"]: c["id"] for c in _records(sandbox, "Contacts")}
    assert tasks["4.1"]["Who_Id"]["id"] == contacts["+33612345678"]
    assert _records(sandbox, "Calls") and len(_records(sandbox, "Calls")) == 3


def test_ignored_numbers_and_internal_calls_create_nothing(crmpay_env, sandbox, zoho, tmp_path):
    rules = _rules(
        tmp_path / "rules.toml",
        BASE_RULES.replace("create_contact = true", 'create_contact = true\nignore_numbers = ["06 99 99 99 99"]'),
    )
    calls = _write(
        tmp_path / "Master.csv",
        [
            _cdr("+33699999999", LINE, "2026-11-20 10:00:00", answered=False, uniqueid="5.1"),
            _cdr("101", "102", "2026-11-20 10:05:00", uniqueid="5.2"),  # extension to extension
            _cdr("0612345678", LINE, "2026-11-20 10:10:00", uniqueid="5.3"),
        ],
    )
    result = _import(crmpay_env, calls, rules)
    assert result.code == 0, result.stderr
    assert result.json()["ignored"] == 2 and result.json()["imported"] == 1
    assert [c["Phone"] for c in _records(sandbox, "Contacts")] == ["+33612345678"]
    assert [c["CRMPAY_Call_Id"] for c in _records(sandbox, "Calls")] == ["5.3"]
    assert _records(sandbox, "Tasks") == []


def test_importing_the_same_file_twice_creates_nothing(crmpay_env, sandbox, zoho, tmp_path):
    rules = _rules(tmp_path / "rules.toml", BASE_RULES)
    calls = _write(
        tmp_path / "Master.csv",
        [
            _cdr("0612345678", LINE, "2026-11-20 10:00:00", answered=False),  # no uniqueid: a stable hash
            _cdr("0698765432", LINE, "2026-11-20 11:00:00", uniqueid="6.2"),
        ],
    )
    first = _import(crmpay_env, calls, rules)
    assert first.code == 0, first.stderr
    assert first.json()["imported"] == 2
    before = {m: len(_records(sandbox, m)) for m in ("Contacts", "Tasks", "Calls")}
    assert before == {"Contacts": 2, "Tasks": 1, "Calls": 2}
    httpx.delete(f"{sandbox.url}/__sandbox/stats")
    second = _import(crmpay_env, calls, rules)
    assert second.code == 0 and second.json()["already_imported"] == 2 and second.json()["imported"] == 0
    assert {m: len(_records(sandbox, m)) for m in before} == before
    requests = httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]
    assert not any(k.startswith(("POST /crm/v8/{module}", "PUT /crm")) for k in requests)
    listed = crmpay_env.run("calls", "list", "--json").json()
    assert sorted(i["status"] for i in listed) == ["done", "done"] and all(i["crm_call_id"] for i in listed)


def test_a_killed_import_resumes_without_duplicates(crmpay_env, sandbox, zoho, tmp_path):
    rules = _rules(
        tmp_path / "rules.toml",
        BASE_RULES.replace(
            "create_contact = true",
            'create_contact = true\ndeal_policy = "always"\npipeline = "Standard (Standard)"\nstage = "Qualification"',
        ),
    )
    rows = [
        _cdr(
            f"06{i:08d}", LINE, f"2026-11-20 {8 + i // 60:02d}:{i % 60:02d}:00", answered=i % 3 != 0, uniqueid=f"7.{i}"
        )
        for i in range(150)
    ]
    calls = _write(tmp_path / "Master.csv", rows)
    for stop in ("calls:after-deals-write", "calls:after-calls-write"):
        killed = crmpay_env.run(
            "calls",
            "import",
            str(calls),
            "--format",
            "asterisk",
            "--rules",
            str(rules),
            env={"CRMPAY_TEST_KILL_AT": stop},
        )
        assert killed.code == -9
    final = _import(crmpay_env, calls, rules)
    assert final.code == 0, final.stderr
    for module, count in (("Contacts", 150), ("Deals", 150), ("Tasks", 50), ("Calls", 150)):
        records = _records(sandbox, module)
        assert len(records) == count, module
    assert len({c["CRMPAY_Call_Id"] for c in _records(sandbox, "Calls")}) == 150
    assert len({c["Phone"] for c in _records(sandbox, "Contacts")}) == 150
    listed = crmpay_env.run("calls", "list", "--status", "done", "--json").json()
    assert len(listed) == 150


# -- deals -------------------------------------------------------------------------------------------
def _deal_rules(tmp_path: Path, policy: str) -> Path:
    return _rules(
        tmp_path / f"{policy}.toml",
        BASE_RULES.replace(
            "create_contact = true",
            f'create_contact = true\ncreate_account = true\naccount_owner = "line_manager"\n'
            f'deal_policy = "{policy}"\npipeline = "Standard"\nstage = "Qualification"',  # as the CRM shows it
        ),
    )


@pytest.mark.parametrize(
    "policy, expected", [("never", 0), ("always", 3), ("if_no_deals", 1), ("if_no_open_deals_last_year", 1)]
)
def test_deal_policies_for_a_new_caller(crmpay_env, sandbox, zoho, tmp_path, policy, expected):
    calls = _write(
        tmp_path / "Master.csv",
        [_cdr("0612345678", LINE, f"2026-11-{day} 10:00:00", uniqueid=f"8.{day}") for day in (18, 19, 20)],
    )
    result = _import(crmpay_env, calls, _deal_rules(tmp_path, policy))
    assert result.code == 0, result.stderr
    deals = _records(sandbox, "Deals")
    assert len(deals) == expected and result.json()["created"]["deals"] == expected
    (account,) = _records(sandbox, "Accounts")
    for deal in deals:
        assert deal["Account_Name"]["id"] == account["id"] and deal["Pipeline"] == "Standard (Standard)"
        assert deal["Stage"] == "Qualification" and _owner(deal) == zoho[SALES]
        assert deal["Layout"]["id"] == DEALS_LAYOUT["id"]


def test_no_open_deal_created_less_than_a_year_ago(crmpay_env, sandbox, zoho, tmp_path):
    """Accounts with deals of different ages and stages; calls on 2026-11-20."""
    numbers = {
        "recent_open": "0611000001",
        "recent_closed": "0611000002",
        "old_open": "0611000003",
        "none": "0611000004",
    }
    accounts = dict(
        zip(
            numbers,
            _seed(sandbox, "Accounts", *[{"Account_Name": name, "Phone": phone} for name, phone in numbers.items()]),
            strict=True,
        )
    )
    _seed(
        sandbox,
        "Deals",
        {
            "Deal_Name": "a",
            "Stage": "Proposal",
            "Account_Name": {"id": accounts["recent_open"]},
            "Created_Time": "2026-03-01T09:00:00+01:00",
        },
        {
            "Deal_Name": "b",
            "Stage": "Closed Lost",
            "Account_Name": {"id": accounts["recent_closed"]},
            "Created_Time": "2026-06-01T09:00:00+02:00",
        },
        {
            "Deal_Name": "c",
            "Stage": "Negotiation",
            "Account_Name": {"id": accounts["old_open"]},
            "Created_Time": "2025-10-01T09:00:00+02:00",
        },
    )
    calls = _write(
        tmp_path / "Master.csv",
        [_cdr(phone, LINE, "2026-11-20 10:00:00", uniqueid=f"9.{name}") for name, phone in numbers.items()],
    )
    result = _import(crmpay_env, calls, _deal_rules(tmp_path, "if_no_open_deals_last_year"))
    assert result.code == 0, result.stderr
    new = [d for d in _records(sandbox, "Deals") if d.get("CRMPAY_Call_Id")]
    got = sorted(name for name, account in accounts.items() for d in new if d["Account_Name"]["id"] == account)
    assert got == ["none", "old_open", "recent_closed"]
    # if_no_deals on the same CRM: only the account with no deal at all gets one
    result = _import(
        crmpay_env,
        _write(
            tmp_path / "again.csv",
            [_cdr(phone, LINE, "2026-11-21 10:00:00", uniqueid=f"9b.{name}") for name, phone in numbers.items()],
        ),
        _deal_rules(tmp_path, "if_no_deals"),
    )
    assert result.code == 0 and result.json()["created"]["deals"] == 0  # "none" got one a moment ago


# -- owners and contradictions -----------------------------------------------------------------------
def test_account_owner_can_be_the_matched_contacts_owner(crmpay_env, sandbox, zoho, tmp_path):
    _seed(sandbox, "Contacts", {"Last_Name": "Known", "Phone": "0612345678", "Owner": {"id": zoho[BOSS]}})
    rules = _rules(
        tmp_path / "rules.toml",
        BASE_RULES.replace(
            "create_contact = true", 'create_contact = true\ncreate_account = true\naccount_owner = "contact_owner"'
        ),
    )
    calls = _write(
        tmp_path / "Master.csv",
        [
            _cdr("0612345678", LINE, "2026-11-20 10:00:00", uniqueid="10.1"),
            _cdr("0698765432", LINE, "2026-11-20 10:05:00", uniqueid="10.2"),
        ],
    )
    assert _import(crmpay_env, calls, rules).code == 0
    owners = {a["Phone"]: _owner(a) for a in _records(sandbox, "Accounts")}
    # the known contact's owner; for a new caller, the new contact's owner (the line's manager)
    assert owners == {"+33612345678": zoho[BOSS], "+33698765432": zoho[SALES]}
    new_contact = next(c for c in _records(sandbox, "Contacts") if c["Phone"] == "+33698765432")
    account = next(a for a in _records(sandbox, "Accounts") if a["Phone"] == "+33698765432")
    assert new_contact["Account_Name"]["id"] == account["id"]


@pytest.mark.parametrize(
    "change, named",
    [
        ('account_owner = "contact_owner"\ncontact_owner = "account_owner"', "account_owner"),
        ('default_owner = "ghost@example.fr"', "default_owner: ghost@example.fr is not an active CRM user"),
        ('deal_policy = "always"\npipeline = "Standard"\nstage = "Signed"', "stage: 'Signed' is not a stage"),
        ('deal_policy = "always"\npipeline = "Sales"\nstage = "Qualification"', "'Sales' is not a pipeline"),
        ('deal_policy = "always"', "needs pipeline and stage"),
    ],
)
def test_contradictory_rules_are_refused_naming_the_keys(crmpay_env, sandbox, zoho, tmp_path, change, named):
    text = BASE_RULES.replace(f'default_owner = "{BOSS}"\n', "").replace('contact_owner = "line_manager"\n', "")
    rules = _rules(tmp_path / "rules.toml", change + "\n" + text)
    calls = _write(tmp_path / "Master.csv", [_cdr("0612345678", LINE, "2026-11-20 10:00:00", uniqueid="11.1")])
    result = _import(crmpay_env, calls, rules)
    assert result.code == 2 and named in result.stderr, result.stderr
    assert _records(sandbox, "Contacts") == [] and _records(sandbox, "Calls") == []


def test_a_manager_who_is_not_a_crm_user_is_refused_from_the_profile_config(crmpay_env, sandbox, zoho, tmp_path):
    config = Path(crmpay_env.run("config", "path").stdout.strip())
    text = config.read_text() if config.exists() else ""
    config.write_text(
        text + f'\n[profiles.default.calls]\ndefault_owner = "{BOSS}"\n'
        f'[[profiles.default.calls.lines]]\nnumber = "{LINE}"\nmanager = "nobody@example.fr"\n'
    )
    calls = _write(tmp_path / "Master.csv", [_cdr("0612345678", LINE, "2026-11-20 10:00:00", uniqueid="12.1")])
    result = crmpay_env.run("calls", "import", str(calls), "--format", "asterisk")
    assert result.code == 2
    assert "profiles.default.calls.lines[0].manager: nobody@example.fr is not an active CRM user" in result.stderr


# -- failures, dry run, bad files ---------------------------------------------------------------------
def test_a_refused_record_fails_its_call_only_with_identity_and_line(crmpay_env, sandbox, zoho, tmp_path):
    httpx.put(f"{sandbox.url}/__sandbox/zoho/settings", json={"reject_values": ["+33698765432"]})
    rules = _rules(tmp_path / "rules.toml", BASE_RULES)
    calls = _write(
        tmp_path / "Master.csv",
        [
            _cdr("0612345678", LINE, "2026-11-20 10:00:00", uniqueid="13.1"),
            _cdr("0698765432", LINE, "2026-11-20 10:05:00", uniqueid="13.2"),
        ],
    )
    result = _import(crmpay_env, calls, rules)
    assert result.code == 3
    summary = result.json()
    assert summary["imported"] == 1 and summary["failed"] == 1
    assert summary["failures"] == ["line 2 (13.2): contact: INVALID_DATA: invalid data (Last_Name)"]
    assert [c["CRMPAY_Call_Id"] for c in _records(sandbox, "Calls")] == ["13.1"]
    # the CRM accepts it again: the next run imports the failed call, and only it
    httpx.put(f"{sandbox.url}/__sandbox/zoho/settings", json={"reject_values": []})
    again = _import(crmpay_env, calls, rules)
    assert again.code == 0 and again.json()["imported"] == 1 and again.json()["already_imported"] == 1
    assert sorted(c["CRMPAY_Call_Id"] for c in _records(sandbox, "Calls")) == ["13.1", "13.2"]


def test_dry_run_prints_the_plan_and_changes_nothing(crmpay_env, sandbox, zoho, tmp_path):
    _seed(sandbox, "Contacts", {"Last_Name": "Known", "Phone": "+33612345678"})
    rules = _rules(tmp_path / "rules.toml", BASE_RULES)
    calls = _write(
        tmp_path / "Master.csv",
        [
            _cdr("0612345678", LINE, "2026-11-20 10:00:00", uniqueid="14.1"),
            _cdr("0698765432", LINE, "2026-11-20 10:05:00", answered=False, uniqueid="14.2"),
        ],
    )
    httpx.delete(f"{sandbox.url}/__sandbox/stats")
    result = _import(crmpay_env, calls, rules, "--dry-run")
    assert result.code == 0, result.stderr
    plan = {p["identity"]: p["plan"] for p in result.json()["plan"]}
    assert plan["14.1"].startswith("matched contact ") and "would create call" in plan["14.1"]
    assert plan["14.2"] == "no match; would create contact, task, call"
    assert result.json()["created"] == {"accounts": 0, "leads": 0, "contacts": 1, "deals": 0, "tasks": 1, "calls": 2}
    requests = httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]
    assert not any(k.startswith(("POST /crm/v8/{module}", "PUT /crm")) for k in requests)
    assert len(_records(sandbox, "Contacts")) == 1 and _records(sandbox, "Calls") == []
    assert crmpay_env.run("calls", "list", "--json").json() == []
    table = crmpay_env.run("calls", "import", str(calls), "--format", "asterisk", "--rules", str(rules), "--dry-run")
    assert table.code == 0 and "would create contact, task, call" in table.stdout


def test_bad_lines_are_reported_and_a_file_with_no_valid_line_sends_nothing(crmpay_env, sandbox, zoho, tmp_path):
    rules = _rules(tmp_path / "rules.toml", BASE_RULES)
    good = _cdr("0612345678", LINE, "2026-11-20 10:00:00", uniqueid="15.1")
    broken = _cdr("0698765432", LINE, "2026-11-20 10:05:00", uniqueid="15.2").replace(
        "2026-11-20 10:05:00", "yesterday", 1
    )
    mixed = _import(crmpay_env, _write(tmp_path / "mixed.csv", [good, "a,b,c", broken]), rules)
    assert mixed.code == 3 and mixed.json()["imported"] == 1
    assert mixed.json()["problems"][0] == "line 2: 3 columns; an Asterisk CDR has 16 to 18"
    assert mixed.json()["problems"][1].startswith("line 3: unreadable start or billsec")
    sandbox.services["zoho"].records["Calls"].clear()
    httpx.delete(f"{sandbox.url}/__sandbox/stats")
    none_valid = _import(crmpay_env, _write(tmp_path / "bad.csv", ["a,b,c", broken]), rules)
    assert none_valid.code == 2 and "line 1: 3 columns" in none_valid.stderr
    requests = httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]
    assert not any("/crm/" in k or "/oauth/" in k for k in requests), requests
    wrong_format = crmpay_env.run(
        "calls", "import", str(tmp_path / "mixed.csv"), "--format", "sipsim-csv", "--rules", str(rules)
    )
    assert wrong_format.code == 2 and "caller" in wrong_format.stderr


def test_sipsim_webhook_lines_and_csv_exports_import_too(crmpay_env, sandbox, zoho, tmp_path):
    rules = _rules(tmp_path / "rules.toml", BASE_RULES)
    events = [
        {
            "event": "incoming_call_start",
            "time": "2026-11-20T10:00:00+01:00",
            "pbx_id": "pbx-1",
            "caller": "0612345678",
            "receiver": "+33142685300",
            "status": "",
            "duration": 0,
        },
        {
            "event": "incoming_call_end",
            "time": "2026-11-20T10:02:05+01:00",
            "pbx_id": "pbx-1",
            "caller": "0612345678",
            "receiver": "+33142685300",
            "status": "answer",
            "duration": 125,
            "audio_path": "https://example.invalid/a.mp3",
        },
        {
            "event": "outgoing_call_end",
            "time": "2026-11-20T11:00:30+01:00",
            "pbx_id": "pbx-2",
            "caller": "+33142685300",
            "receiver": "0698765432",
            "status": "noanswer",
            "duration": 0,
        },
    ]
    hooks = _write(tmp_path / "hooks.jsonl", [json.dumps(e) for e in events])
    result = crmpay_env.run("calls", "import", str(hooks), "--format", "sipsim-json", "--rules", str(rules), "--json")
    assert result.code == 0, result.stderr
    by_id = {c["CRMPAY_Call_Id"]: c for c in _records(sandbox, "Calls")}
    assert by_id["pbx-1"]["Call_Start_Time"] == "2026-11-20T10:00:00+01:00"
    assert by_id["pbx-1"]["Call_Duration"] == "02:05" and by_id["pbx-2"]["Call_Type"] == "Outbound"
    assert [t["CRMPAY_Call_Id"] for t in _records(sandbox, "Tasks")] == ["pbx-2"]
    export = _write(
        tmp_path / "export.csv",
        [
            "id;type;appelant;appele;date_heure;duree;statut",
            f"c-9;entrant;0611223344;{LINE};2026-11-20 12:00:00;30;answered",
        ],
    )
    result = crmpay_env.run("calls", "import", str(export), "--format", "sipsim-csv", "--rules", str(rules), "--json")
    assert result.code == 0, result.stderr
    assert result.json()["imported"] == 1
    assert _records(sandbox, "Calls")[-1]["Call_Start_Time"] == "2026-11-20T12:00:00+01:00"


def test_calls_import_needs_the_call_id_field(crmpay_env, sandbox, zoho, tmp_path):
    assert crmpay_env.run("config", "set", "crm.call_id_field", "Call_Ref").code == 0
    calls = _write(tmp_path / "Master.csv", [_cdr("0612345678", LINE, "2026-11-20 10:00:00", uniqueid="16.1")])
    result = crmpay_env.run(
        "calls", "import", str(calls), "--format", "asterisk", "--rules", str(_rules(tmp_path / "r.toml", BASE_RULES))
    )
    assert result.code == 2 and "crm.call_id_field: field 'Call_Ref' does not exist in Tasks" in result.stderr
    assert _records(sandbox, "Contacts") == []


def test_duration_formats():
    from crmpay.telephony.plan import duration_text

    assert [duration_text(s, "mm:ss") for s in (0, 59, 3725)] == ["00:00", "00:59", "62:05"]
    assert [duration_text(s, "hh:mm") for s in (0, 20, 3725)] == ["00:00", "00:01", "01:03"]
    assert [duration_text(s, "hh:mm:ss") for s in (0, 59, 3725)] == ["00:00:00", "00:00:59", "01:02:05"]
    assert [duration_text(s, "seconds") for s in (7, 125)] == ["7", "125"]


def test_calls_on_an_unmapped_line_go_to_the_default_owner_and_switches_turn_records_off(
    crmpay_env, sandbox, zoho, tmp_path
):
    rules = _rules(
        tmp_path / "rules.toml",
        BASE_RULES.replace("missed_call_task = true", "missed_call_task = false").replace(
            "create_call_records = true", "create_call_records = false"
        ),
    )
    calls = _write(
        tmp_path / "Master.csv",
        [_cdr("0612345678", "04 72 10 20 30", "2026-11-20 10:00:00", answered=False, uniqueid="17.1")],
    )
    result = _import(crmpay_env, calls, rules)
    assert result.code == 0, result.stderr
    assert result.json()["imported"] == 1 and result.json()["created"]["calls"] == 0
    (contact,) = _records(sandbox, "Contacts")
    assert _owner(contact) == zoho[BOSS]  # 04 72 10 20 30 is no configured line: the default owner
    assert _records(sandbox, "Tasks") == [] and _records(sandbox, "Calls") == []
    assert crmpay_env.run("calls", "list", "--json").json()[0]["crm_records"] == {"Contacts": contact["id"]}
