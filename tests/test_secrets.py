"""Secrets through the real keyring API with a file backend, and the environment."""

from __future__ import annotations

import pytest

from crmpay import secrets
from crmpay.core.errors import ExitCode, NotConnected


def test_keyring_round_trip_per_profile(file_keyring, crmpay_env):
    secrets.set_secret("acme", "mollie", "api_key", "test_acme_key")
    secrets.set_secret("beta", "mollie", "api_key", "test_beta_key")
    assert secrets.read_secret("acme", "mollie", "api_key") == secrets.Secret("test_acme_key", "keyring")
    assert secrets.get_secret("beta", "mollie", "api_key") == "test_beta_key"
    # stored through the keyring API, in the backend's own file (which base64-encodes values)
    import base64

    stored = crmpay_env.keyring_file.read_text()
    assert "acme_3amollie_3aapi_5fkey" in stored
    assert base64.b64encode(b"test_acme_key").decode() in stored
    assert secrets.delete_service("acme", "mollie") == ["api_key"]
    assert secrets.read_secret("acme", "mollie", "api_key") is None
    assert secrets.get_secret("beta", "mollie", "api_key") == "test_beta_key"


def test_environment_wins_over_keyring(file_keyring, monkeypatch):
    secrets.set_secret("default", "gocardless", "access_token", "sandbox_from_keyring")
    monkeypatch.setenv("CRMPAY_GOCARDLESS_ACCESS_TOKEN", "sandbox_from_env")
    found = secrets.read_secret("default", "gocardless", "access_token")
    assert found == secrets.Secret("sandbox_from_env", "environment")


def test_secret_repr_never_shows_the_value():
    assert "hunter2" not in repr(secrets.Secret("hunter2", "keyring"))


def test_no_backend_error_names_every_environment_variable(monkeypatch):
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(NotConnected) as err:
            secrets.set_secret("default", "smtp", "password", "pw")
        assert err.value.exit_code == ExitCode.AUTH
        for name in secrets.all_env_vars():
            assert name in str(err.value)
        assert "CRMPAY_ZOHO_REFRESH_TOKEN" in str(err.value)
        assert "pw" not in str(err.value).split("password")  # the value never appears
        # reading falls back to "not there", and the environment still works
        assert secrets.read_secret("default", "smtp", "password") is None
        monkeypatch.setenv("CRMPAY_SMTP_PASSWORD", "from-env")
        assert secrets.get_secret("default", "smtp", "password") == "from-env"
    finally:
        keyring.set_keyring(previous)


def test_require_secret_says_how_to_connect(file_keyring):
    with pytest.raises(NotConnected, match=r"gocardless is not connected .*crmpay connect gocardless"):
        secrets.require_secret("default", "gocardless", "access_token")


def test_all_documented_environment_variables():
    assert set(secrets.all_env_vars()) == {
        "CRMPAY_GOCARDLESS_ACCESS_TOKEN",
        "CRMPAY_MOLLIE_API_KEY",
        "CRMPAY_ZOHO_CLIENT_ID",
        "CRMPAY_ZOHO_CLIENT_SECRET",
        "CRMPAY_ZOHO_REFRESH_TOKEN",
        "CRMPAY_SIPSIM_CLIENT_ID",
        "CRMPAY_SIPSIM_CLIENT_SECRET",
        "CRMPAY_SMTP_PASSWORD",
    }


_WRITER = """
from crmpay import secrets
for i in range(300):
    secrets.set_secret("default", "zoho", "access_token", f"token-{i}" * 50)
"""

_READER = """
from crmpay import secrets
missing = sum(secrets.get_secret("default", "zoho", "refresh_token") is None for _ in range(300))
print(missing)
"""


def test_a_secret_read_while_another_process_writes_the_file_keyring_is_never_missing(file_keyring, crmpay_env):
    """The file keyring truncates its file on every write; without the lock beside it, a
    reader in another process saw no refresh token ("not connected", exit 4) now and then."""
    import subprocess
    import sys

    secrets.set_secret("default", "zoho", "refresh_token", "1000.refresh")
    env = crmpay_env.env
    writer = subprocess.Popen([sys.executable, "-c", _WRITER], env=env)
    readers = [
        subprocess.Popen([sys.executable, "-c", _READER], env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    missing = [int(r.communicate(timeout=120)[0]) for r in readers]
    assert writer.wait(timeout=120) == 0
    assert missing == [0, 0, 0]
    lock = crmpay_env.keyring_file.with_name(crmpay_env.keyring_file.name + ".lock")
    assert lock.exists() and lock.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("damage", ["binary", "directory", "backend"])
def test_an_unreadable_keyring_is_named_not_taken_for_no_provider(crmpay_env, damage):
    """A keyring that cannot be read is a configuration error (exit 2) naming it, never
    "no payment provider is connected" (exit 4), and never quoting what the file holds."""
    crmpay_env.keyring_file.parent.mkdir(parents=True, exist_ok=True)
    if damage == "binary":
        crmpay_env.keyring_file.write_bytes(b"[crmpay]\ndefault_3agocardless = live_SECRETVALUE\x00\xff\xfe\n")
    elif damage == "directory":
        crmpay_env.keyring_file.mkdir()
    else:
        crmpay_env.env["PYTHON_KEYRING_BACKEND"] = "no_such_module.Keyring"
    result = crmpay_env.run("sync")
    assert result.code == 2, (result.code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the keyring cannot be read"), result.stderr
    assert "no payment provider" not in result.stderr and "SECRETVALUE" not in result.stderr
    if damage != "backend":
        assert str(crmpay_env.keyring_file) in result.stderr
    else:
        assert "PYTHON_KEYRING_BACKEND" in result.stderr


def test_with_no_keyring_at_all_the_error_says_which_variables_to_set(crmpay_env):
    crmpay_env.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    result = crmpay_env.run("sync")
    assert result.code == 4, (result.code, result.stderr)
    assert "no payment provider is connected" in result.stderr
    assert "CRMPAY_GOCARDLESS_ACCESS_TOKEN" in result.stderr and "CRMPAY_MOLLIE_API_KEY" in result.stderr
