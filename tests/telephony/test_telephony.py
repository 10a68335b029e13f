"""Call sources and the rules that govern them (the CRM side comes with the Zoho client)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crmpay.config import Config
from crmpay.core.errors import ConfigError, UsageError
from crmpay.paths import Home
from crmpay.telephony.phones import to_e164
from crmpay.telephony.rules import CallRules, load_rules_file
from crmpay.telephony.sources import read_calls

LINES = {"+33142685300"}


def test_phone_numbers_normalise_to_e164():
    assert to_e164("01 42 68 53 00", "FR") == "+33142685300"
    assert to_e164("+33 (0)6 12 34 56 78".replace("(0)", ""), "FR") == "+33612345678"
    assert to_e164("0033612345678", "FR") == "+33612345678"
    assert to_e164("204", "FR") is None  # an extension
    assert to_e164("3210", "FR") is None  # a short number
    assert to_e164("not a number", "FR") is None


ASTERISK = (
    '"","0612345678","0142685300","from-trunk","""Jean"" <0612345678>","SIP/trunk-0001",'
    '"SIP/204-0002","Dial","SIP/204","2026-07-01 10:15:00","2026-07-01 10:15:05",'
    '"2026-07-01 10:17:05",125,120,"ANSWERED","DOCUMENTATION","1719821700.1"\n'
    '"","0698765432","0142685300","from-trunk","","SIP/trunk-0003","","Dial","SIP/204",'
    '"2026-01-15 09:00:00","","2026-01-15 09:00:30",30,0,"NO ANSWER","DOCUMENTATION"\n'
    '"","204","0611223344","from-internal","","SIP/204-0004","SIP/trunk-0005","Dial","",'
    '"2026-01-15 11:00:00","","2026-01-15 11:00:20",20,0,"BUSY","DOCUMENTATION","","tag"\n'
    '"","204","205","from-internal","","SIP/204","SIP/205","Dial","","2026-01-15 12:00:00",'
    '"2026-01-15 12:00:01","2026-01-15 12:01:00",59,58,"ANSWERED","DOCUMENTATION"\n'
    '"broken","line"\n'
)


def test_asterisk_master_csv(tmp_path):
    path = tmp_path / "Master.csv"
    path.write_text(ASTERISK)
    parsed = read_calls(path, "asterisk", region="FR", tz="Europe/Paris", lines=LINES)
    assert [str(p) for p in parsed.problems] == ["line 5: 2 columns; an Asterisk CDR has 16 to 18"]
    first, missed, outbound, internal = parsed.calls
    assert first.identity == "1719821700.1" and first.direction == "inbound"
    assert first.customer == "+33612345678" and first.line == "+33142685300"
    assert first.answered and first.duration_s == 120
    assert first.started_at.utcoffset().total_seconds() == 7200  # Paris summer time
    assert missed.missed and missed.started_at.utcoffset().total_seconds() == 3600
    assert missed.identity.startswith("h:")  # no uniqueid: a stable hash
    again = read_calls(path, "asterisk", region="FR", tz="Europe/Paris", lines=LINES)
    assert again.calls[1].identity == missed.identity
    assert outbound.direction == "outbound" and outbound.customer == "+33611223344"
    assert outbound.missed and outbound.line is None  # an extension, not a configured line
    assert internal.customer is None  # extension to extension: no customer


def test_sipsim_webhooks_only_end_events_make_calls(tmp_path):
    events = [
        {
            "pbx_id": "c1",
            "event": "incoming_call_start",
            "time": "2026-03-01T10:00:00+01:00",
            "caller": "+33612345678",
            "receiver": "+33142685300",
            "status": "other",
            "duration": 0,
        },
        {
            "pbx_id": "c1",
            "event": "incoming_call_end",
            "time": "2026-03-01T10:02:00+01:00",
            "caller": "+33612345678",
            "receiver": "+33142685300",
            "status": "answer",
            "duration": 120,
            "audio_path": "https://example/rec.mp3",
        },
        {
            "pbx_id": "c2",
            "event": "outgoing_call_end",
            "time": "2026-03-01T11:00:30Z",
            "caller": "+33142685300",
            "receiver": "0698765432",
            "status": "noanswer",
            "duration": 0,
        },
    ]
    path = tmp_path / "hooks.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n{not json\n")
    parsed = read_calls(path, "sipsim-json", region="FR", tz="Europe/Paris", lines=LINES)
    assert [c.identity for c in parsed.calls] == ["c1", "c2"]
    c1, c2 = parsed.calls
    assert c1.started_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert c1.answered and c1.customer == "+33612345678"
    assert c2.direction == "outbound" and c2.missed and c2.customer == "+33698765432"
    assert len(parsed.problems) == 1 and parsed.problems[0].line == 4


def test_sipsim_csv_with_french_headers_and_a_configured_column(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "Identifiant;Sens;Appelant;Numéro composé;Début;Durée;Statut\n"
        "a1;entrant;06 12 34 56 78;01 42 68 53 00;2026-03-01 10:00:00;65;repondu\n"
        "a2;manque;06 98 76 54 32;01 42 68 53 00;2026-03-01 11:00:00;0;\n"
        "a3;sortant;01 42 68 53 00;06 11 22 33 44;pas une date;0;\n",
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match="missing column 'receiver'"):
        read_calls(path, "sipsim-csv", region="FR", tz="Europe/Paris", lines=LINES)
    parsed = read_calls(
        path, "sipsim-csv", region="FR", tz="Europe/Paris", lines=LINES, csv_columns={"receiver": "Numéro composé"}
    )
    assert [c.identity for c in parsed.calls] == ["a1", "a2"]
    assert parsed.calls[0].answered and not parsed.calls[1].answered
    assert parsed.calls[0].started_at.tzinfo is not None
    assert [p.line for p in parsed.problems] == [4]


def test_unknown_format_and_time_zone(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("x")
    with pytest.raises(UsageError, match="unknown format"):
        read_calls(path, "csv", region="FR", tz="Europe/Paris", lines=set())
    with pytest.raises(UsageError, match="unknown time zone"):
        read_calls(path, "asterisk", region="FR", tz="Mars/Olympus", lines=set())


def test_owner_choices_that_refer_to_each_other_are_refused_naming_both_keys(tmp_path):
    home = Home.resolve(tmp_path)
    home.config_file.write_text(
        '[profiles.default.calls]\naccount_owner = "contact_owner"\ncontact_owner = "account_owner"\n'
    )
    with pytest.raises(ConfigError) as err:
        Config.load(home, environ={})
    assert "profiles.default.calls" in str(err.value)
    assert "account_owner = contact_owner and contact_owner = account_owner" in str(err.value)


@pytest.mark.parametrize(
    "body, message",
    [
        ('deal_policy = "always"', "deal_policy = always needs pipeline and stage"),
        ('account_owner = "default_owner"', "default_owner is required"),
        ('[[lines]]\nnumber = "12"\nmanager = "a@b.fr"', "lines[0].number '12' is not a valid phone number"),
        ("task_due_days = 900", "task_due_days: must be between 0 and 365"),
        ('deal_policy = "sometimes"', "deal_policy"),
        ('colour = "blue"', "colour"),
    ],
)
def test_rules_file_errors_name_the_key(tmp_path, body, message):
    path = tmp_path / "rules.toml"
    path.write_text(body + "\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_rules_file(path)


def test_rules_checked_against_the_crm():
    rules = CallRules.model_validate(
        {
            "default_owner": "boss@acme.fr",
            "deal_policy": "if_no_open_deals_last_year",
            "pipeline": "Sales",
            "stage": "Qualification",
            "lines": [
                {"number": "01 42 68 53 00", "manager": "ann@acme.fr", "pipeline": "Sales", "stage": "Closed Won!"},
                {"number": "01 42 68 53 01", "manager": "ghost@acme.fr"},
            ],
        }
    )
    assert set(rules.line_numbers()) == {"+33142685300", "+33142685301"}
    pipelines = {"Sales": {"Qualification", "Closed Won"}}
    with pytest.raises(ConfigError) as err:
        rules.check_against_crm({"boss@acme.fr", "ANN@acme.fr"}, pipelines, "calls")
    text = str(err.value)
    assert "calls.lines[1].manager: ghost@acme.fr is not an active CRM user" in text
    assert "calls.lines[0].stage: 'Closed Won!' is not a stage of pipeline 'Sales'" in text
    assert "lines[0].manager" not in text  # ann@ is a CRM user, matched case-insensitively


def test_sipsim_webhooks_keep_the_ringing_time_and_read_upper_case_statuses(tmp_path):
    """The end event's duration is the talk time: the call began at its start event, and
    `ANSWER` (current documentation) is answered like `answer`."""
    events = [
        {"pbx_id": "r1", "event": "incoming_call_start", "time": "2026-03-01T10:00:00+01:00", "status": "other"},
        {"pbx_id": "r1", "event": "incoming_call_answer", "time": "2026-03-01T10:00:25+01:00", "status": "answer"},
        {
            "pbx_id": "r1",
            "event": "incoming_call_end",
            "time": "2026-03-01T10:02:25+01:00",
            "caller": "+33612345678",
            "receiver": "+33142685300",
            "status": "ANSWER",
            "duration": 120,
        },
        {
            "pbx_id": "r2",
            "event": "incoming_call_end",
            "time": "2026-03-01T11:00:30+01:00",
            "caller": "+33698765432",
            "receiver": "+33142685300",
            "status": "NOANSWER",
            "duration": 0,
        },
    ]
    path = tmp_path / "hooks.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    r1, r2 = read_calls(path, "sipsim-json", region="FR", tz="Europe/Paris", lines=LINES).calls
    assert r1.answered and r1.duration_s == 120
    assert r1.started_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)  # the start event, not end - duration (09:00:25)
    assert r2.missed and r2.started_at == datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)  # no start event: end - 0
