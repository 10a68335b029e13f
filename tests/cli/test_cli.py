"""The command line as users run it: a real `python -m crmpay` process each time."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys

import pytest

FAIL_KEYRING = "keyring.backends.fail.Keyring"

HEAVY = [
    "gocardless_pro",
    "mollie",
    "reportlab",
    "crmpay.store",
    "crmpay.sandbox",
    "httpx",
    "sqlite3",
    "keyring",
    "pydantic",
]


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_import_nothing_heavy(args):
    code = (
        "import sys\n"
        "from crmpay.cli import app\n"
        "try:\n"
        f"    app({args!r}, prog_name='crmpay')\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_version(crmpay_env):
    from crmpay import __version__

    result = crmpay_env.run("--version")
    assert result.code == 0
    assert result.stdout.strip() == f"crmpay {__version__}"


def test_help_lists_every_command_group(crmpay_env):
    result = crmpay_env.run("--help")
    assert result.code == 0
    for name in (
        "connect",
        "disconnect",
        "status",
        "config",
        "sync",
        "customers",
        "mandates",
        "invoice",
        "payment",
        "calls",
        "sandbox",
        "demo",
    ):
        assert name in result.stdout


def test_unknown_command_is_a_usage_error(crmpay_env):
    result = crmpay_env.run("frobnicate")
    assert result.code == 2
    assert "No such command 'frobnicate'" in result.stderr


def test_unknown_option_is_a_usage_error(crmpay_env):
    result = crmpay_env.run("status", "--frobnicate")
    assert result.code == 2
    assert "No such option" in result.stderr


def test_a_usage_error_is_one_line_naming_the_fix(crmpay_env):
    result = crmpay_env.run("calls", "import", "x.csv")
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: --format is required with a file; choose one of asterisk, sipsim-csv, sipsim-json"
    )
    assert "Traceback" not in result.stderr


def test_status_json_on_a_fresh_home(crmpay_env):
    result = crmpay_env.run("status", "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["profile"] == "default"
    assert data["keyring"] == "available"
    assert data["store"]["exists"] is False
    assert [s["service"] for s in data["services"]] == ["gocardless", "mollie", "zoho", "sipsim", "smtp"]
    assert not any(s["connected"] for s in data["services"])
    assert not crmpay_env.home.exists() or not any(crmpay_env.home.rglob("*.sqlite3"))


def test_status_reports_environment_and_keyring_sources_never_values(crmpay_env, file_keyring):
    from crmpay import secrets

    secrets.set_secret("default", "mollie", "api_key", "test_keyring_value_123")
    result = crmpay_env.run("status", "--json", env={"CRMPAY_GOCARDLESS_ACCESS_TOKEN": "sandbox_env_value_456"})
    assert result.code == 0, result.stderr
    services = {s["service"]: s for s in result.json()["services"]}
    assert services["gocardless"]["connected"] and services["gocardless"]["source"] == "environment"
    assert services["mollie"]["connected"] and services["mollie"]["source"] == "keyring"
    assert services["zoho"]["missing"] == ["client_id", "client_secret", "refresh_token"]
    assert "value_123" not in result.stdout and "value_456" not in result.stdout


def test_profile_flag_beats_environment(crmpay_env):
    assert crmpay_env.run("--profile", "acme", "config", "set", "creditor_id", "FR72ZZZ123456").code == 0
    shown = crmpay_env.run("--profile", "acme", "config", "show", "--json", env={"CRMPAY_PROFILE": "other"})
    assert shown.json() == {"profile": "acme", "settings": shown.json()["settings"]}
    assert shown.json()["settings"]["creditor_id"] == "FR72ZZZ123456"
    other = crmpay_env.run("config", "show", "--json", env={"CRMPAY_PROFILE": "other"})
    assert other.json()["profile"] == "other"
    assert "creditor_id" not in other.json()["settings"]


def test_config_path_and_set_validation(crmpay_env):
    path = crmpay_env.run("config", "path")
    assert path.stdout.strip() == str(crmpay_env.home / "config.toml")
    bad = crmpay_env.run("config", "set", "gocardless.environment", "staging")
    assert bad.code == 2
    assert "profiles.default.gocardless.environment" in bad.stderr
    assert bad.stderr.count("\n") == 1  # one line
    secret = crmpay_env.run("config", "set", "mollie.api_key", "test_x")
    assert secret.code == 2 and "secrets never go into the config file" in secret.stderr


def test_malformed_config_exits_2_naming_file(crmpay_env):
    crmpay_env.home.mkdir(parents=True, exist_ok=True)
    (crmpay_env.home / "config.toml").write_text("[profiles.default\n")
    result = crmpay_env.run("status")
    assert result.code == 2
    assert str(crmpay_env.home / "config.toml") in result.stderr
    assert "Traceback" not in result.stderr


def test_home_that_is_a_file_exits_2(crmpay_env, tmp_path):
    not_a_dir = tmp_path / "plain-file"
    not_a_dir.write_text("x")
    result = crmpay_env.run("status", env={"CRMPAY_HOME": str(not_a_dir)})
    assert result.code == 2
    assert result.stderr.strip() == f"error: CRMPAY_HOME {not_a_dir} is not a directory"


def test_corrupt_database_exits_2_and_is_not_overwritten(crmpay_env):
    db = crmpay_env.home / "profiles" / "default" / "crmpay.sqlite3"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"garbage" * 1000)
    result = crmpay_env.run("status")
    assert result.code == 2
    assert "not a usable SQLite database" in result.stderr
    assert db.read_bytes() == b"garbage" * 1000


def test_database_from_newer_crmpay_exits_2(crmpay_env):
    from crmpay.store import Store

    db = crmpay_env.home / "profiles" / "default" / "crmpay.sqlite3"
    with Store.open(db) as store:
        store.db.execute("INSERT INTO schema_migrations VALUES ('m999_future', 'x')")
    result = crmpay_env.run("status", "--json")
    assert result.code == 2
    assert "newer crmpay" in result.stderr


def test_unreachable_sandbox_is_temporary_exit_5(crmpay_env):
    result = crmpay_env.run("sandbox", "advance", "--days", "1", "--url", "http://127.0.0.1:9")
    assert result.code == 5
    assert result.stderr.startswith("error: cannot reach the sandbox")


def test_internal_errors_show_a_traceback_only_with_verbose(crmpay_env, tmp_path):
    # A config file whose profile table is a string trips no validation rule we wrote,
    # but must still never print a traceback without --verbose.
    crmpay_env.home.mkdir(parents=True, exist_ok=True)
    (crmpay_env.home / "config.toml").write_text('profiles = "oops"\n')
    quiet = crmpay_env.run("status")
    assert quiet.code == 2 and "Traceback" not in quiet.stderr
    loud = crmpay_env.run("--verbose", "status")
    assert loud.code == 2 and "Traceback" in loud.stderr


def test_no_colour_when_no_color_is_set(crmpay_env):
    coloured = crmpay_env.run("disconnect", "smtp", "--yes", env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    plain = crmpay_env.run("disconnect", "smtp", "--yes", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[32m" in coloured.stderr  # the green tick, forced on
    assert "\x1b[32m" not in plain.stderr


def test_disconnect_removes_secrets_and_settings(crmpay_env, file_keyring):
    from crmpay import secrets

    crmpay_env.run("config", "set", "mollie.environment", "live")
    secrets.set_secret("default", "mollie", "api_key", "test_to_remove")
    dry = crmpay_env.run("disconnect", "mollie", "--dry-run", "--json")
    assert dry.json()["secrets_removed"] == ["api_key"] and dry.json()["dry_run"] is True
    assert secrets.get_secret("default", "mollie", "api_key") == "test_to_remove"
    done = crmpay_env.run("disconnect", "mollie", "--yes", "--json")
    assert done.code == 0
    assert done.json()["secrets_removed"] == ["api_key"] and done.json()["settings_removed"]
    assert secrets.get_secret("default", "mollie", "api_key") is None
    assert "mollie" not in crmpay_env.run("config", "show", "--json").json()["settings"]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Sink:
        messages: list = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"billing@acme.test" and auth_data.password == b"s3cret-smtp-pass"
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    import socket

    with socket.socket() as probe:  # aiosmtpd cannot report a port chosen by the OS
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Sink(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    yield controller
    controller.stop()


def _smtp_args(server):
    return [
        "connect",
        "smtp",
        "--host",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--security",
        "none",
        "--user",
        "billing@acme.test",
        "--password-stdin",
    ]


def test_connect_smtp_checks_login_and_keeps_password_in_keyring_only(crmpay_env, smtp_server):
    wrong = crmpay_env.run(*_smtp_args(smtp_server), input="wrong-password\n")
    assert wrong.code == 4 and "rejected the login" in wrong.stderr
    assert crmpay_env.run("status", "--json").json()["services"][4]["connected"] is False

    secret = "s3cret-smtp-pass"
    outputs = [crmpay_env.run(*_smtp_args(smtp_server), input=secret + "\n")]
    assert outputs[0].code == 0, outputs[0].stderr
    outputs += [
        crmpay_env.run("status", "--json"),
        crmpay_env.run("status"),
        crmpay_env.run("config", "show", "--json"),
        crmpay_env.run("--verbose", "status"),
    ]
    smtp = {s["service"]: s for s in outputs[1].json()["services"]}["smtp"]
    assert smtp["connected"] and smtp["source"] == "keyring"

    forms = [secret.encode(), base64.b64encode(secret.encode()), secret.encode().hex().encode()]
    for out in outputs:
        assert secret not in out.stdout + out.stderr
    leaked = [p for p in crmpay_env.home.rglob("*") if p.is_file() and any(f in p.read_bytes() for f in forms)]
    assert leaked == [], leaked
    # the scan can fail: the keyring backend's own file does hold the secret
    assert any(f in crmpay_env.keyring_file.read_bytes() for f in forms)


def test_no_keyring_backend_exits_4_naming_the_variables(crmpay_env, smtp_server):
    env = {"PYTHON_KEYRING_BACKEND": FAIL_KEYRING}
    status = crmpay_env.run("status", env=env)
    assert status.code == 0
    assert "no keyring backend" in status.stderr
    result = crmpay_env.run(*_smtp_args(smtp_server), input="s3cret-smtp-pass\n", env=env)
    assert result.code == 4
    assert result.stderr.count("\n") == 1
    assert "no keyring backend" in result.stderr and "CRMPAY_SMTP_PASSWORD" in result.stderr
    assert "s3cret" not in result.stderr
    # cron's way still works: the secret from the environment
    via_env = crmpay_env.run("status", "--json", env={**env, "CRMPAY_MOLLIE_API_KEY": "test_k"})
    assert json.loads(via_env.stdout)["keyring"] == "unavailable"
    assert {s["service"]: s for s in via_env.json()["services"]}["mollie"]["source"] == "environment"


def test_every_help_has_no_bool_type_no_completion_options_and_whole_sentences(crmpay_env):
    from typer.testing import CliRunner

    import _commands
    from crmpay.cli import app

    commands = _commands.every_command()
    assert ("payments", "cancel") in commands and ("invoices", "send") in commands and len(commands) > 50
    root = crmpay_env.run("--help")
    assert root.code == 0 and "<bool>" not in root.stdout and "--install-completion" in root.stdout
    runner = CliRunner()
    for path in commands:  # in this process: the same help text, without 60 interpreter starts
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert shown.exit_code == 0, (path, shown.output)
        assert "<bool>" not in shown.output, path
        assert "--install-completion" not in shown.output, path
    # a docstring's paragraph is one line: rich wraps it, never at the source's breaks
    send = commands[("invoices", "send")]
    assert len(send.help.split("\n\n")) > 2
    assert all("\n" not in paragraph for paragraph in send.help.split("\n\n"))


def test_the_singular_groups_are_aliases_of_the_plural_ones(crmpay_env):
    plural = crmpay_env.run("invoices", "list", "--json")
    singular = crmpay_env.run("invoice", "list", "--json")
    assert plural.code == singular.code == 0 and plural.json() == singular.json() == []
    assert crmpay_env.run("payment", "list", "--json").json() == crmpay_env.run("payments", "list", "--json").json()
    listed = crmpay_env.run("--help").stdout
    assert re.search(r"\binvoices\b", listed) and re.search(r"\bpayments\b", listed)
    assert not re.search(r"│ invoice ", listed) and not re.search(r"│ payment ", listed)
    cancel = crmpay_env.run("payment", "cancel", "--help")
    assert cancel.code == 0 and "Cancel a payment" in cancel.stdout


@pytest.mark.parametrize("argv", [(), ("invoices",), ("invoices", "create"), ("calls", "import")])
def test_help_piped_into_head_is_not_an_error(crmpay_env, argv):
    import shlex
    import subprocess
    import sys

    piped = subprocess.run(
        f"{sys.executable} -m crmpay {shlex.join(argv)} --help | head -c 1",
        shell=True,
        capture_output=True,
        text=True,
        env=crmpay_env.environ,
        timeout=60,
    )
    assert piped.stdout == " " or piped.stdout.strip() in ("", "U"), piped.stdout
    assert piped.stderr == "", piped.stderr
