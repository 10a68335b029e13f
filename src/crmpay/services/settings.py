"""Changing one setting safely: secrets refused, value validated before writing."""

from __future__ import annotations

from crmpay import secrets
from crmpay.config import Config, ProfileConfig
from crmpay.core.errors import UsageError

_SECRET_WORDS = ("token", "secret", "password", "api_key")


def set_setting(config: Config, key: str, value: str, *, dry_run: bool = False) -> None:
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise UsageError(f"invalid key {key!r}", hint="use a dotted key such as smtp.port")
    if any(word in parts[-1].lower() for word in _SECRET_WORDS):
        service = parts[0] if parts[0] in secrets.SERVICE_SECRETS else "SERVICE"
        raise UsageError(
            f"{key} looks like a secret and secrets never go into the config file",
            hint=f"use `crmpay connect {service}` or a CRMPAY_* environment variable",
        )
    if parts[0] not in ProfileConfig.model_fields:
        known = ", ".join(ProfileConfig.model_fields)
        raise UsageError(f"unknown setting {parts[0]!r}", hint=f"known: {known}")
    config.set_value(key, value, dry_run=dry_run)  # ConfigError names the key path
