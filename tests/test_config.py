"""Configuration: precedence (flag > environment > file), profiles, validation errors."""

from __future__ import annotations

import pytest

from crmpay.config import Config
from crmpay.core.errors import ConfigError, ExitCode
from crmpay.paths import Home

FILE = """
default_profile = "acme"

[profiles.acme]
creditor_id = "FR72ZZZ123456"

[profiles.acme.gocardless]
environment = "live"

[profiles.acme.smtp]
host = "smtp.acme.test"
port = 2525

[profiles.other.gocardless]
environment = "sandbox"
"""


@pytest.fixture
def home(tmp_path):
    home = Home.resolve(tmp_path)
    home.config_file.write_text(FILE)
    return home


def test_home_puts_config_and_data_under_crmpay_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMPAY_HOME", str(tmp_path))
    home = Home.resolve()
    assert home.config_file == tmp_path / "config.toml"
    assert home.database("acme") == tmp_path / "profiles" / "acme" / "crmpay.sqlite3"


def test_file_default_profile_then_environment_then_flag(home):
    assert Config.load(home, environ={}).profile == "acme"
    assert Config.load(home, environ={"CRMPAY_PROFILE": "other"}).profile == "other"
    assert Config.load(home, "acme", environ={"CRMPAY_PROFILE": "other"}).profile == "acme"


def test_without_file_default_profile_is_named_default(tmp_path):
    assert Config.load(Home.resolve(tmp_path), environ={}).profile == "default"


def test_setting_precedence_flag_over_environment_over_file(home):
    from_file = Config.load(home, environ={})
    assert from_file.settings.gocardless.environment == "live"

    env = {"CRMPAY_GOCARDLESS__ENVIRONMENT": "sandbox", "CRMPAY_SMTP__PORT": "587"}
    from_env = Config.load(home, environ=env)
    assert from_env.settings.gocardless.environment == "sandbox"
    assert from_env.settings.smtp.port == 587
    assert from_env.settings.smtp.host == "smtp.acme.test"  # untouched keys stay from the file

    flags = {"gocardless.environment": "local", "gocardless.base_url": "http://127.0.0.1:9"}
    from_flag = Config.load(home, environ=env, flags=flags)
    assert from_flag.settings.gocardless.environment == "local"
    assert from_flag.settings.gocardless.base_url == "http://127.0.0.1:9"


def test_profiles_are_separate(home):
    acme = Config.load(home, "acme", environ={})
    other = Config.load(home, "other", environ={})
    assert acme.settings.creditor_id == "FR72ZZZ123456"
    assert other.settings.creditor_id is None
    assert other.settings.smtp is None
    assert home.database("acme") != home.database("other")


def test_invalid_value_names_file_key_path_and_problem(home):
    home.config_file.write_text('[profiles.acme.gocardless]\nenvironment = "staging"\n')
    with pytest.raises(ConfigError) as err:
        Config.load(home, "acme", environ={})
    message = str(err.value)
    assert str(home.config_file) in message
    assert "profiles.acme.gocardless.environment" in message
    assert "'live', 'sandbox' or 'local'" in message
    assert err.value.exit_code == ExitCode.USAGE


def test_unknown_key_is_rejected_with_its_path(home):
    home.config_file.write_text('[profiles.acme.mollie]\nendpoint = "x"\n')
    with pytest.raises(ConfigError, match=r"profiles\.acme\.mollie\.endpoint: Extra inputs"):
        Config.load(home, "acme", environ={})


def test_malformed_toml_names_the_file(home):
    home.config_file.write_text("[profiles.acme\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.load(home, environ={})


def test_local_environment_needs_base_url(home):
    with pytest.raises(ConfigError, match="environment 'local' needs base_url"):
        Config.load(home, "acme", environ={"CRMPAY_GOCARDLESS__ENVIRONMENT": "local"})


def test_set_value_validates_before_writing(home):
    config = Config.load(home, "acme", environ={})
    before = home.config_file.read_text()
    with pytest.raises(ConfigError, match="smtp.port"):
        config.set_value("smtp.port", "not-a-port")
    assert home.config_file.read_text() == before
    config.set_value("smtp.port", "465")
    reloaded = Config.load(home, "acme", environ={})
    assert reloaded.settings.smtp.port == 465
    assert "port = 465" in home.config_file.read_text()  # written as an integer


def test_dry_run_writes_nothing(home):
    config = Config.load(home, "acme", environ={})
    before = home.config_file.read_text()
    config.set_value("creditor_id", "DE98ZZZ09999999999", dry_run=True)
    assert home.config_file.read_text() == before


def test_creditor_identifier_is_checked_when_configured(home):
    config = Config.load(home, "acme", environ={})
    with pytest.raises(ConfigError, match=r"profiles\.acme\.creditor_id: creditor identifier .*check digits"):
        config.set_value("creditor_id", "FR73ZZZ123456")
    config.set_value("creditor_id", "fr72 zzz 123456")
    assert Config.load(home, "acme", environ={}).settings.creditor_id == "FR72ZZZ123456"


def test_a_profiles_calls_table_is_checked_however_the_config_is_opened(tmp_path):
    """A fresh interpreter that imports only crmpay.config still refuses a bad [calls]
    table: the check is loaded from the section's owner, not left to whoever imported it."""
    import subprocess
    import sys

    (tmp_path / "config.toml").write_text('[profiles.acme.calls]\ndefault_region = "FR"\nunknown_key = 1\n')
    script = (
        "import sys\n"
        "from crmpay.config import Config\n"
        "from crmpay.core.errors import ConfigError\n"
        "from crmpay.paths import Home\n"
        "try:\n"
        f"    Config.load(Home.resolve({str(tmp_path)!r}), 'acme', environ={{}})\n"
        "except ConfigError as exc:\n"
        "    print('refused:', exc); sys.exit(0)\n"
        "print('accepted'); sys.exit(1)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "calls.unknown_key" in done.stdout


def test_the_prenotification_period_is_a_checked_setting(home):
    config = Config.load(home, "acme", environ={})
    assert config.settings.sepa.prenotification_days == 14
    config.set_value("sepa.prenotification_days", "5")
    assert Config.load(home, "acme", environ={}).settings.sepa.prenotification_days == 5
    with pytest.raises(ConfigError, match="between 1 and 60"):
        config.set_value("sepa.prenotification_days", "0")


def test_webhooks_public_url_is_where_mollie_payments_send_their_webhooks(tmp_path, sandbox, monkeypatch):
    from decimal import Decimal

    from crmpay.core.models import NewCustomer, NewMandate, NewPayment
    from crmpay.core.money import Money
    from crmpay.providers import open_provider

    home = Home.resolve(tmp_path)
    home.config_file.write_text(f'[profiles.acme.mollie]\nenvironment = "local"\nbase_url = "{sandbox.url}"\n')
    monkeypatch.setenv("CRMPAY_MOLLIE_API_KEY", sandbox.credentials()["mollie"]["api_key"])
    config = Config.load(home, "acme", environ={})
    with pytest.raises(ConfigError, match="https://"):
        config.set_value("webhooks.public_url", "hooks.example.test")
    config.set_value("webhooks.public_url", "https://hooks.example.test/")
    mollie = open_provider(Config.load(home, "acme", environ={}), "mollie")
    customer = mollie.create_customer(NewCustomer("w@example.fr", "Wes"), idempotency_key="w-c")
    mandate = mollie.create_mandate(
        NewMandate(customer.id, "Wes", "FR1420041010050500013M02606"), idempotency_key="w-m"
    )
    payment = mollie.create_payment(
        NewPayment(mandate.id, Money(Decimal("5.00"), "EUR"), "x", customer_id=customer.id), idempotency_key="w-p"
    )
    assert payment.raw["webhookUrl"] == "https://hooks.example.test/webhooks/mollie"
