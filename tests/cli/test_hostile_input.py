"""Hostile input, command by command: each bad value gets the documented exit code and one
line naming it; never "internal error", never a traceback (issue 17).

Every row is a real `python -m crmpay` process in a private home; files are real files.
A hypothesis test then throws arbitrary text at a few commands' arguments.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BIG = "A" * 140_000  # over the csv module's 131,072-character cell limit


def _files(root: Path) -> dict[str, str]:
    """Input files the table refers to as {name}."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dir").mkdir(exist_ok=True)
    files = {
        "mandates.csv": "name,email,iban,bic,mandate_reference,signature_date\n"
        "Ann,ann@example.fr,FR1420041010050500013M02606,,REF-1,2024-01-01\n",
        "mandates_big.csv": "name,email,iban,bic,mandate_reference,signature_date\n"
        f"{BIG},ann@example.fr,FR1420041010050500013M02606,,REF-1,2024-01-01\n",
        "calls_big.csv": "x," * 16 + BIG + "\n",
        "calls.csv": "caller,receiver,start_time,duration\n0612345678,0142685300,2026-07-01T10:00:00,60\n",
        "deep.toml": "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
        "yes.toml": 'create_contact = "yes"\n',
        "subject.toml": 'task_subject = "Missed {numbr}"\n',
        "zone.toml": 'timezone = "Mars/Olympus"\n',
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return {name.replace(".", "_"): str(root / name) for name in [*files, "dir"]}


# (argv, stdin, expected exit, words the one-line message holds)
CASES: list[tuple[list[str], str | None, int, tuple[str, ...]]] = [
    # 2. the user's input or environment, not "internal error"
    (["customers", "list", "--limit", "99999999999999999999999"], None, 0, ()),
    # found by tests/cli/test_fuzz_commands.py
    (["sandbox", "advance", "--days", "1", "--url", "http://[::1"], None, 2, ("--url", "not an address")),
    (["sandbox", "stats", "--url", "x"], None, 2, ("--url", "http://")),
    (["subscriptions", "cancel", "99999999999999999999999"], None, 2, ("no subscription",)),
    (["invoice", "list", "--status", "bogus"], None, 2, ("--status", "bogus", "unpaid, pending")),
    (["mandates", "import", "--from", "bogus"], None, 2, ("--from", "bogus", "gocardless, mollie")),
    (["mandates", "import", "{mandates_csv}", "--errors-csv", "{dir}"], None, 2, ("--errors-csv", "is a directory")),
    (["mandates", "import", "{mandates_big_csv}", "--dry-run"], None, 2, ("line 2", "131,072")),
    (["calls", "import", "{calls_big_csv}", "--format", "asterisk"], None, 2, ("line 1", "131,072")),
    (
        ["calls", "import", "{calls_csv}", "--format", "sipsim-csv", "--rules", "{dir}"],
        None,
        2,
        ("--rules", "directory"),
    ),
    (["calls", "import", "{calls_csv}", "--format", "sipsim-csv", "--rules", "{deep_toml}"], None, 2, ("nested",)),
    (["calls", "import", "{dir}", "--format", "asterisk"], None, 2, ("is a directory",)),
    (
        ["connect", "gocardless", "--environment", "local", "--base-url", "http://[::1", "--token-stdin"],
        "abc\n",
        2,
        ("base_url", "http://[::1", "not a valid address"),
    ),
    (
        ["connect", "gocardless", "--environment", "local", "--base-url", "http://127.0.0.1:9", "--token-stdin"],
        "ab€c\n",
        2,
        ("access token", "printable ASCII"),
    ),
    (
        ["connect", "mollie", "--environment", "local", "--base-url", "http://127.0.0.1:9", "--token-stdin"],
        "k" * 10_000_000 + "\n",
        2,
        ("10,000,000 characters",),
    ),
    (["connect", "zoho", "--grant-code", "\udcff\udcfe"], None, 2, ("--grant-code", "printable ASCII")),
    (["config", "set", "seller.name", "\udcff"], None, 2, ("seller.name", "UTF-8")),
    # 3. permanent problems are 2, not 5
    (["connect", "smtp", "--host", ""], None, 2, ("host", "empty")),
    (["connect", "smtp", "--host", "localhost", "--port", "0"], None, 2, ("port", "1 to 65535")),
    (["connect", "smtp", "--host", "localhost", "--port", "99999"], None, 2, ("port", "99999")),
    (["connect", "smtp", "--host", "localhost", "--from", "not an email"], None, 2, ("from_address", "not an email")),
    (["connect", "smtp", "--host", "127.0.0.1", "--port", "9"], None, 5, ("cannot reach the SMTP server",)),
    # 4. nonsense refused
    (["config", "set", "smtp.host", ""], None, 2, ("smtp.host", "empty")),
    (["config", "set", "calls.timezone", "Mars/Olympus"], None, 2, ("calls.timezone", "Mars/Olympus")),
    (["config", "set", "calls.default_region", "ZZ"], None, 2, ("calls.default_region", "ZZ")),
    (["config", "set", "crm.contacts_module", ""], None, 2, ("crm.contacts_module", "API name")),
    (["config", "set", "calls.create_contact", "yes"], None, 2, ("calls.create_contact", "boolean")),
    (["config", "set", "calls.task_subject", "Missed {numbr}"], None, 2, ("task_subject", "{numbr}")),
    (
        ["calls", "import", "{calls_csv}", "--format", "sipsim-csv", "--rules", "{yes_toml}"],
        None,
        2,
        ("create_contact",),
    ),
    (["calls", "import", "{calls_csv}", "--format", "sipsim-csv", "--rules", "{subject_toml}"], None, 2, ("{numbr}",)),
    (
        ["calls", "import", "{calls_csv}", "--format", "sipsim-csv", "--rules", "{zone_toml}"],
        None,
        2,
        ("Mars/Olympus",),
    ),
    (["mandates", "import", "{mandates_csv}", "--from", "gocardless"], None, 2, ("FILE and --from",)),
    (["mandates", "import", "{mandates_csv}", "--provider", "bogus"], None, 2, ("--provider", "bogus")),
    # 5. filters that lied
    (["customers", "list", "--since", "2026-13-01"], None, 2, ("--since", "2026-13-01", "YYYY-MM-DD")),
    (["payments", "list", "--since", "yesterday"], None, 2, ("--since", "yesterday", "YYYY-MM-DD")),
    (["customers", "list", "--provider", "bogus"], None, 2, ("--provider", "bogus", "gocardless, mollie")),
    (["payments", "list", "--status", "bogus"], None, 2, ("--status", "bogus", "paid_out")),
    (["mandates", "list", "--status", "bogus"], None, 2, ("--status", "bogus", "active")),
    (["mandates", "list", "--provider", "bogus"], None, 2, ("--provider", "bogus")),
    (["calls", "list", "--status", "bogus"], None, 2, ("--status", "done, failed, ignored")),
    (["calls", "import", "--from", "sipsim", "--since", "yesterday"], None, 2, ("--since", "yesterday")),
    (["customers", "list", "--status", "x"], None, 2, ("no status",)),
    (["customers", "show", ""], None, 2, ("customer id", "empty")),
    (["payments", "show", ""], None, 2, ("payment id", "empty")),
    (["mandates", "show", " "], None, 2, ("mandate", "empty")),
]


def _assert_one_line(result, code: int, words: tuple[str, ...]) -> None:
    shown = f"exit {result.code}: {result.stderr[:600]}"
    assert result.code == code, shown
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, shown
    if code:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), shown
        for word in words:
            assert word in lines[0], (word, shown)


@pytest.mark.parametrize(("argv", "stdin", "code", "words"), CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_a_bad_value_gets_its_exit_code_and_one_line(crmpay_env, tmp_path, argv, stdin, code, words):
    files = _files(tmp_path / "in")
    args = [a.format(**files) if a.startswith("{") and a.endswith("}") and a[1:-1] in files else a for a in argv]
    result = crmpay_env.run(*args, input=stdin)
    _assert_one_line(result, code, words)
    if stdin:
        assert stdin.strip()[:50] not in result.stderr  # a secret is never repeated


def test_smtp_port_beyond_any_integer_is_refused_by_config_set(crmpay_env):
    assert crmpay_env.run("config", "set", "smtp.host", "mail.example.com").code == 0
    result = crmpay_env.run("config", "set", "smtp.port", "99999999999999999999999")
    _assert_one_line(result, 2, ("smtp.port", "1 to 65535"))


def test_a_bad_environment_token_is_named_by_its_variable_not_shown(crmpay_env):
    result = crmpay_env.run("sync", "--provider", "gocardless", env={"CRMPAY_GOCARDLESS_ACCESS_TOKEN": "sec€ret"})
    _assert_one_line(result, 2, ("CRMPAY_GOCARDLESS_ACCESS_TOKEN", "printable ASCII"))
    assert "sec€ret" not in result.stderr


# -- fuzz -------------------------------------------------------------------------------------
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
_FUZZED = [
    ["customers", "list", "--since", "{x}"],
    ["payments", "list", "--status", "{x}"],
    ["mandates", "list", "--provider", "{x}"],
    ["payments", "show", "{x}"],
    ["config", "set", "calls.timezone", "{x}"],
    ["config", "set", "smtp.port", "{x}"],
    ["calls", "list", "--limit", "{x}"],
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(_FUZZED), value=_TEXT)
def test_fuzzed_arguments_exit_within_0_to_5_without_internal_error(crmpay_env, template, value):
    if value.startswith("-"):
        value = " " + value  # an option name is a different test
    result = crmpay_env.run(*[value if part == "{x}" else part for part in template])
    assert 0 <= result.code <= 5, (template, value, result.stderr)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, (template, value, result.stderr)


# -- against real servers on loopback ------------------------------------------------------------
def test_a_login_on_a_server_without_auth_is_a_usage_error_not_a_retry(crmpay_env, sandbox):
    smtp = sandbox.credentials()["smtp"]
    result = crmpay_env.run(
        "connect", "smtp", "--host", smtp["host"], "--port", str(smtp["port"]), "--security", "none",
        "--user", "billing@example.fr", "--password-stdin", input="pw\n",
    )  # fmt: skip
    _assert_one_line(result, 2, ("does not support", "--user"))


def test_mollie_out_of_reach_during_a_mandate_import_is_temporary_and_not_worded_refused(crmpay_env, sandbox, tmp_path):
    key = sandbox.credentials()["mollie"]["api_key"]
    connect = ("connect", "mollie", "--environment", "local", "--base-url", sandbox.url, "--token-stdin")
    assert crmpay_env.run(*connect, input=key + "\n").code == 0
    files = _files(tmp_path / "in")
    unreachable = {"CRMPAY_MOLLIE__BASE_URL": "http://127.0.0.1:9", "CRMPAY_CALL_TIMEOUT": "2"}
    result = crmpay_env.run("mandates", "import", files["mandates_csv"], "--provider", "mollie", env=unreachable)
    assert result.code == 5, result.stderr  # a batch: each row's warning, then the one error line
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "could not be reached" in last and "run the same command again" in last
    assert "refused" not in result.stderr and "internal error" not in result.stderr
    again = crmpay_env.run("mandates", "import", files["mandates_csv"], "--provider", "mollie")
    assert again.code == 0, again.stderr  # the same rows, once reachable: imported
