"""Secrets: the OS keyring, with environment variables winning for cron and CI.

One keyring entry per profile, service and field: service name `crmpay`, user name
`<profile>:<service>:<field>`. `CRMPAY_<SERVICE>_<FIELD>` in the environment wins over
the keyring. No value read here is ever logged, stored, printed or put in an error.

File-based keyrings (keyrings.alt, the usual choice on a bare server) rewrite their whole
file on every change, truncating it first: a crmpay run reading a secret while another
run caches a Zoho token could see an empty file and report "not connected". Every access
to such a keyring therefore holds a lock on a file beside it (shared to read, exclusive
to write), so concurrent runs see the file before or after a write, never during it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from crmpay.core.errors import ConfigError, NotConnected

KEYRING_SERVICE = "crmpay"

#: The secrets each service needs to be connected, in the order they are asked for.
SERVICE_SECRETS: dict[str, tuple[str, ...]] = {
    "gocardless": ("access_token",),
    "mollie": ("api_key",),
    "zoho": ("client_id", "client_secret", "refresh_token"),
    "sipsim": ("client_id", "client_secret"),
    "smtp": ("password",),
}

#: Secrets removed on disconnect but never required: crmpay's caches, and the GoCardless
#: webhook endpoint secret (`crmpay webhooks secret set gocardless`).
INTERNAL_SECRETS: dict[str, tuple[str, ...]] = {"zoho": ("access_token",), "gocardless": ("webhook_secret",)}

Source = Literal["environment", "keyring"]


@dataclass(frozen=True)
class Secret:
    value: str
    source: Source

    def __repr__(self) -> str:  # never show the value, even in a traceback
        return f"Secret(source={self.source!r}, value=<hidden>)"


def env_var(service: str, field: str) -> str:
    return f"CRMPAY_{service.upper()}_{field.upper()}"


def all_env_vars() -> list[str]:
    return [env_var(s, f) for s, fields in SERVICE_SECRETS.items() for f in fields]


def _username(profile: str, service: str, field: str) -> str:
    return f"{profile}:{service}:{field}"


def _no_backend(detail: str = "") -> NotConnected:
    names = ", ".join(all_env_vars())
    why = f" ({detail})" if detail else ""
    return NotConnected(
        f"no keyring backend is available{why}",
        hint=f"set the secrets in the environment instead: {names}",
    )


def _keyring():
    """The keyring module with a usable backend, or NotConnected naming the variables."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:  # pragma: no cover - keyring is a dependency
        raise _no_backend("the keyring package is missing") from None
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a PYTHON_KEYRING_BACKEND that does not load
        raise _unreadable(
            f"its backend does not load: {type(exc).__name__}", fix="check PYTHON_KEYRING_BACKEND"
        ) from None
    if isinstance(backend, fail.Keyring):
        raise _no_backend()
    chained = getattr(backend, "backends", None)
    if chained is not None and not chained:
        raise _no_backend()
    return keyring


def _keyring_files(backend: Any) -> list[Path]:
    """The files a keyring backend keeps its secrets in (none for an OS keyring)."""
    backends = getattr(backend, "backends", None) or [backend]
    return sorted({Path(path) for b in backends if isinstance(path := getattr(b, "file_path", None), str)})


@contextmanager
def _file_lock(keyring: Any, *, exclusive: bool) -> Iterator[None]:
    """Hold a lock beside each file the keyring writes, for one read or one write."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: its keyring is the OS's, atomic
        yield
        return
    fds = []
    try:
        for path in _keyring_files(keyring.get_keyring()):
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                continue  # a read-only place: the backend will say what is wrong
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        for fd in fds:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _unreadable(detail: str, path: Path | None = None, fix: str | None = None) -> ConfigError:
    """The keyring is there but cannot be read: a configuration problem (exit 2), not
    "not connected". Never the exception's text: a parser may quote the secret's line."""
    where = f" ({path})" if path else ""
    fix = fix or "repair or move that file and run `crmpay connect` again"
    return ConfigError(
        f"the keyring cannot be read{where}: {detail}",
        hint=f"{fix}, or set the secrets in the environment: {', '.join(all_env_vars())}",
    )


@contextmanager
def _access(keyring: Any, *, exclusive: bool = False) -> Iterator[None]:
    """One keyring read or write: under the file lock, every failure one clear error."""
    from keyring.errors import KeyringError, PasswordDeleteError

    for path in _keyring_files(keyring.get_keyring()):
        if path.exists() and not path.is_file():
            raise _unreadable("it is not a file", path)
    try:
        with _file_lock(keyring, exclusive=exclusive):
            yield
    except (PasswordDeleteError, NotConnected, ConfigError):
        raise
    except KeyringError as exc:
        raise _no_backend(type(exc).__name__) from None
    except (OSError, ValueError, LookupError, RuntimeError) as exc:  # a corrupt file, a locked store
        files = _keyring_files(keyring.get_keyring())
        raise _unreadable(type(exc).__name__, files[0] if files else None) from None


def keyring_available() -> bool:
    try:
        _keyring()
    except NotConnected:
        return False
    return True


def read_secret(profile: str, service: str, field: str) -> Secret | None:
    """The secret and where it came from, or None when it is nowhere."""
    value = os.environ.get(env_var(service, field))
    if value:
        return Secret(value, "environment")
    try:
        keyring = _keyring()
    except NotConnected:
        return None
    with _access(keyring):
        stored = keyring.get_password(KEYRING_SERVICE, _username(profile, service, field))
    return Secret(stored, "keyring") if stored else None


def keyring_value(profile: str, service: str, field: str) -> str | None:
    """The secret as the keyring (not the environment) holds it; None when it does not."""
    try:
        keyring = _keyring()
    except NotConnected:
        return None
    try:
        with _access(keyring):
            value: str | None = keyring.get_password(KEYRING_SERVICE, _username(profile, service, field))
    except NotConnected:  # the backend refused (KeyringError): nothing held there
        return None
    return value


def in_keyring(profile: str, service: str, field: str) -> bool:
    """Whether the keyring (not the environment) holds this secret."""
    return keyring_value(profile, service, field) is not None


def get_secret(profile: str, service: str, field: str) -> str | None:
    secret = read_secret(profile, service, field)
    return secret.value if secret else None


def require_secret(profile: str, service: str, field: str) -> str:
    """The secret's value, or NotConnected (exit 4) saying how to provide it."""
    secret = read_secret(profile, service, field)
    if secret is None:
        hint = f"run `crmpay connect {service}`"
        if not keyring_available():
            hint += f" or set {env_var(service, field)}"
        raise NotConnected(f"{service} is not connected for profile {profile!r}", hint=hint)
    if secret.source == "environment":  # checked when kept in the keyring; not when set here
        from crmpay.core.errors import UsageError
        from crmpay.core.validation import secret_problems

        problems = secret_problems(secret.value, field.replace("_", " "))
        if problems:
            raise UsageError(f"{env_var(service, field)}: {problems[0]}", hint="copy it again from the service")
    return secret.value


def set_secret(profile: str, service: str, field: str, value: str) -> None:
    keyring = _keyring()
    with _access(keyring, exclusive=True):
        keyring.set_password(KEYRING_SERVICE, _username(profile, service, field), value)


def delete_secret(profile: str, service: str, field: str) -> bool:
    """Remove one secret from the keyring; True when something was removed."""
    try:
        keyring = _keyring()
    except NotConnected:
        return False
    from keyring.errors import PasswordDeleteError

    try:
        with _access(keyring, exclusive=True):
            keyring.delete_password(KEYRING_SERVICE, _username(profile, service, field))
    except PasswordDeleteError:
        return False
    return True


def delete_service(profile: str, service: str) -> list[str]:
    """Remove every secret of a service for a profile; the fields removed."""
    fields = SERVICE_SECRETS.get(service, ()) + INTERNAL_SECRETS.get(service, ())
    return [field for field in fields if delete_secret(profile, service, field)]


def use_memory_keyring() -> None:
    """Keep secrets in this process's memory only (the demo: nothing reaches a disk)."""
    import keyring
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self) -> None:
            super().__init__()
            self._values: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self._values.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self._values[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            from keyring.errors import PasswordDeleteError

            if self._values.pop((service, username), None) is None:
                raise PasswordDeleteError(username)

    keyring.set_keyring(MemoryKeyring())
