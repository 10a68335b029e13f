"""Connecting and disconnecting services, and reporting what is connected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crmpay import secrets
from crmpay.config import SERVICES, Config
from crmpay.core.errors import UsageError
from crmpay.core.models import AccountCheck


@dataclass
class ServiceStatus:
    service: str
    connected: bool
    source: str | None  # keyring / environment / environment+keyring
    settings: dict[str, Any]
    missing: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "connected": self.connected,
            "source": self.source,
            "missing": self.missing,
            "settings": self.settings,
        }


def status(config: Config) -> list[ServiceStatus]:
    """Each service: connected or not, and where its secrets come from (never the values)."""
    report = []
    for service in SERVICES:
        section = getattr(config.settings, service)
        settings = section.model_dump(mode="json", exclude_none=True) if section else {}
        needed = list(secrets.SERVICE_SECRETS[service])
        if service == "smtp" and (section is None or not section.user):
            needed = []  # an SMTP relay without authentication needs no password
        sources: set[str] = set()
        missing: list[str] = []
        for field_name in needed:
            found = secrets.read_secret(config.profile, service, field_name)
            if found is None:
                missing.append(field_name)
            else:
                sources.add(found.source)
        connected = not missing and (bool(needed) or section is not None)
        source = "+".join(sorted(sources)) or None
        report.append(ServiceStatus(service, connected, source, settings, missing))
    return report


def connect_provider(
    config: Config,
    name: str,
    secret: str,
    *,
    environment: str,
    base_url: str | None,
) -> AccountCheck:
    """Check the credential with a cheap call, then store the secret and the settings.

    A rejected credential raises AuthError (exit 4) and nothing is stored.
    """
    from crmpay.config import GoCardlessSettings, MollieSettings
    from crmpay.providers import SECRET_FIELD, build_provider

    model = GoCardlessSettings if name == "gocardless" else MollieSettings
    try:
        settings = model.model_validate({"environment": environment, "base_url": base_url})
    except ValueError as exc:
        raise UsageError(f"{name}: {_first_error(exc)}") from None
    check = build_provider(name, secret, settings).check_credentials()
    secrets.set_secret(config.profile, name, SECRET_FIELD[name], secret)
    config.update_section(name, settings.model_dump(mode="json", exclude_none=True))
    return check


def disconnect(config: Config, service: str, *, dry_run: bool = False) -> dict[str, Any]:
    if service not in SERVICES:
        raise UsageError(f"unknown service {service!r}", hint=f"choose one of {', '.join(SERVICES)}")
    fields = secrets.SERVICE_SECRETS[service] + secrets.INTERNAL_SECRETS.get(service, ())
    in_env = []
    for field_name in secrets.SERVICE_SECRETS[service]:
        found = secrets.read_secret(config.profile, service, field_name)
        if found is not None and found.source == "environment":
            in_env.append(secrets.env_var(service, field_name))
    configured = getattr(config.settings, service) is not None
    if dry_run:
        removed = [f for f in fields if secrets.in_keyring(config.profile, service, f)]
        return {
            "service": service,
            "secrets_removed": removed,
            "settings_removed": configured,
            "dry_run": True,
            "still_in_environment": in_env,
        }
    removed = secrets.delete_service(config.profile, service)
    settings_removed = config.remove_section(service)
    return {
        "service": service,
        "secrets_removed": removed,
        "settings_removed": settings_removed,
        "dry_run": False,
        "still_in_environment": in_env,
    }


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return (
            f"{loc}: {first['msg'].removeprefix('Value error, ')}"
            if loc
            else first["msg"].removeprefix("Value error, ")
        )
    return str(exc)


def connect_smtp(
    config: Config,
    *,
    host: str,
    port: int,
    security: str,
    user: str | None,
    from_address: str | None,
    password: str | None,
) -> None:
    """Check that the server answers (and accepts the login), then keep the settings."""
    from crmpay.config import SmtpSettings
    from crmpay.mail import check_smtp

    try:
        settings = SmtpSettings.model_validate(
            {"host": host, "port": port, "security": security, "user": user, "from_address": from_address}
        )
    except ValueError as exc:
        raise UsageError(f"smtp: {_first_error(exc)}") from None
    check_smtp(settings, password)
    if password is not None:
        secrets.set_secret(config.profile, "smtp", "password", password)
    config.update_section("smtp", settings.model_dump(mode="json", exclude_none=True))


def connect_sipsim(
    config: Config, *, client_id: str, client_secret: str, environment: str, base_url: str | None
) -> dict[str, Any]:
    """Mint a token and list the active phones; only then keep the credentials."""
    from crmpay.config import SipsimSettings
    from crmpay.telephony.sipsim_api import SipsimClient

    try:
        settings = SipsimSettings.model_validate({"environment": environment, "base_url": base_url})
    except ValueError as exc:
        raise UsageError(f"sipsim: {_first_error(exc)}") from None
    client = SipsimClient(client_id, client_secret, base_url=settings.base_url)
    try:
        phones = client.phones()
    finally:
        client.close()
    secrets.set_secret(config.profile, "sipsim", "client_id", client_id)
    secrets.set_secret(config.profile, "sipsim", "client_secret", client_secret)
    config.update_section("sipsim", settings.model_dump(mode="json", exclude_none=True))
    return {
        "service": "sipsim",
        "profile": config.profile,
        "connected": True,
        "environment": environment,
        "active_phones": len(phones),
        "numbers": sorted(str(p.get("number")) for p in phones if p.get("number")),
    }


def credential_variable(service: str, field: str | None = None) -> str:
    """The environment variable a credential of `service` can be given in (for a provider,
    its API secret when `field` is None), e.g. CRMPAY_GOCARDLESS_ACCESS_TOKEN."""
    from crmpay.providers import SECRET_FIELD
    from crmpay.secrets import env_var

    return env_var(service, field or SECRET_FIELD[service])


def keyring_available() -> bool:
    """Whether an OS keyring backend is there (else only environment variables work)."""
    from crmpay.secrets import keyring_available as available

    return available()


def credential_variables() -> list[str]:
    """Every environment variable a credential can be given in."""
    from crmpay.secrets import all_env_vars

    return list(all_env_vars())
