"""Call files and rules a careful attacker writes: impossible durations, JSON nested deep,
loose booleans, broken templates. Each is refused where it is read, naming it (issue 17)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from crmpay.core.errors import ConfigError
from crmpay.core.validation import MAX_CALL_SECONDS, call_duration
from crmpay.telephony.rules import CallRules, load_rules_file, render_template
from crmpay.telephony.sources import read_calls

LINES = {"+33142685300"}


def _sipsim_csv(tmp_path, durations):
    path = tmp_path / "calls.csv"
    rows = [f"0612345678,0142685300,2026-07-01T10:0{i}:00,{d},answered" for i, d in enumerate(durations)]
    path.write_text("caller,receiver,start_time,duration,status\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return read_calls(path, "sipsim-csv", region="FR", tz="Europe/Paris", lines=LINES)


def test_durations_past_two_days_negative_or_infinite_are_line_problems_not_writes(tmp_path):
    parsed = _sipsim_csv(tmp_path, ["60", "1e22", "-5", "inf", "nan", str(MAX_CALL_SECONDS)])
    assert [c.duration_s for c in parsed.calls] == [60, MAX_CALL_SECONDS]
    problems = [str(p) for p in parsed.problems]
    assert len(problems) == 4
    assert "line 3" in problems[0] and "longer than two days" in problems[0]
    assert "line 4" in problems[1] and "negative" in problems[1]


def test_sipsim_webhook_lines_with_huge_durations_or_deep_nesting_are_line_problems(tmp_path):
    path = tmp_path / "events.jsonl"
    end = {"event": "incoming_call_end", "pbx_id": "p1", "time": "2026-07-01T10:05:00+02:00"}
    lines = [
        json.dumps({**end, "duration": 10**22}),
        "[" * 100_000 + "]" * 100_000,
        json.dumps({**end, "pbx_id": "p2", "duration": -1}),
        json.dumps({**end, "pbx_id": "p3", "duration": 30, "caller": "0612345678", "receiver": "0142685300"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parsed = read_calls(path, "sipsim-json", region="FR", tz="Europe/Paris", lines=LINES)
    assert [c.identity for c in parsed.calls] == ["p3"]
    assert [p.line for p in parsed.problems] == [1, 2, 3]
    assert "nested too deeply" in str(parsed.problems[1])


def test_call_duration_bounds():
    assert call_duration(None) == 0 and call_duration("") == 0 and call_duration("42.9") == 42
    for bad in ("x", True, -1, MAX_CALL_SECONDS + 1, "1e309"):
        with pytest.raises(ValueError):
            call_duration(bad)


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        ({"create_contact": "yes"}, "create_contact"),
        ({"missed_call_task": 1}, "missed_call_task"),
        ({"task_subject": "Missed {numbr}"}, "unknown field {numbr}"),
        ({"task_subject": "Missed {number"}, "not a valid template"),
        ({"task_subject": "Missed {number!r}"}, "unknown field"),
        ({"timezone": "Mars/Olympus"}, "not a time zone"),
        ({"default_region": "ZZ"}, "'ZZ'"),
    ],
)
def test_rules_refuse_loose_booleans_broken_templates_unknown_zones_and_regions(rules, words):
    with pytest.raises(ValidationError) as err:
        CallRules.model_validate(rules)
    assert words in str(err.value)


def test_a_valid_template_renders_with_escaped_braces():
    rules = CallRules.model_validate({"task_subject": "Missed {number} {{urgent}}", "create_contact": False})
    assert render_template(rules.task_subject, number="+33612345678") == "Missed +33612345678 {urgent}"


def test_a_rules_path_that_is_a_directory_or_nested_too_deep_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_rules_file(tmp_path)
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_rules_file(deep)
