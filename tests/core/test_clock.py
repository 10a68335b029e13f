"""One clock: `CRMPAY_TODAY` pins crmpay's date, `sandbox serve --today` the sandbox's."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone

import httpx
import pytest

from crmpay.core import clock
from crmpay.core.errors import UsageError


def test_a_pin_is_a_date_at_noon_utc_or_an_iso_time():
    assert clock.parse_pin("2026-12-24") == datetime(2026, 12, 24, 12, tzinfo=UTC)
    assert clock.parse_pin("2026-12-24T23:30:00+09:00") == datetime(
        2026, 12, 24, 23, 30, tzinfo=timezone(timedelta(hours=9))
    )
    assert clock.parse_pin("2026-12-24T08:00:00").tzinfo is UTC
    with pytest.raises(UsageError, match="CRMPAY_TODAY='24/12/2026' is not a date"):
        clock.parse_pin("24/12/2026")


def test_the_environment_pins_today_and_following_wins_while_it_lasts(monkeypatch):
    monkeypatch.setattr(clock, "_source", None)  # undo the suite's own pin
    monkeypatch.setenv("CRMPAY_TODAY", "2031-02-28")
    assert clock.today() == date(2031, 2, 28) and clock.is_pinned()
    assert clock.now_iso() == "2031-02-28T12:00:00+00:00"
    moment = datetime(2027, 3, 26, 9, tzinfo=UTC)
    with clock.following(lambda: moment):
        assert clock.today() == date(2027, 3, 26)
        with clock.following(lambda: moment + timedelta(days=3)):
            assert clock.today() == date(2027, 3, 29)
        assert clock.today() == date(2027, 3, 26)
    assert clock.today() == date(2031, 2, 28)
    monkeypatch.delenv("CRMPAY_TODAY")
    assert not clock.is_pinned()


def test_a_command_runs_as_of_the_pinned_day(crmpay_env):
    created = crmpay_env.run(
        "invoice",
        "create",
        "--customer",
        "ann@example.fr",
        "--name",
        "Ann Lee",
        "--line",
        "Maintenance;1;49.90;20",
        "--due",
        "2031-03-31",
        "--json",
        env={"CRMPAY_TODAY": "2031-03-03"},
    )
    assert created.code == 0, created.stderr
    assert created.json()["issue_date"] == "2031-03-03" and created.json()["number"] == "INV-2031-0001"
    bad = crmpay_env.run(
        "invoice",
        "create",
        "--customer",
        "ann@example.fr",
        "--line",
        "X;1;1;20",
        "--due",
        "2031-03-31",
        env={"CRMPAY_TODAY": "next tuesday"},
    )
    assert bad.code == 2 and "CRMPAY_TODAY='next tuesday' is not a date" in bad.stderr
    assert "Traceback" not in bad.stderr


def _serve(crmpay_env, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crmpay", "sandbox", "serve", "--json", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=crmpay_env.env,
    )


@pytest.mark.parametrize("flags, env_pin", [(("--today", "2027-03-26"), None), ((), "2027-03-26")])
def test_sandbox_serve_pins_its_clock(crmpay_env, flags, env_pin):
    if env_pin:
        crmpay_env.env["CRMPAY_TODAY"] = env_pin
    proc = _serve(crmpay_env, *flags)
    try:
        info = json.loads(proc.stdout.readline())
        assert httpx.get(f"{info['url']}/__sandbox/clock").json()["now"].startswith("2027-03-26T")
        advanced = crmpay_env.run("sandbox", "advance", "--days", "3", "--url", info["url"], "--json")
        assert advanced.json()["now"].startswith("2027-03-29T")  # Easter Monday 2027
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_sandbox_serve_refuses_a_date_it_cannot_read(crmpay_env):
    result = crmpay_env.run("sandbox", "serve", "--today", "2027-02-30")
    assert result.code == 2 and "--today '2027-02-30' is not a date" in result.stderr
