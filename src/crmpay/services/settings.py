"""Changing one setting safely: secrets refused, value validated before writing."""

from __future__ import annotations

from crmpay import secrets
from crmpay.config import Config, ProfileConfig
from crmpay.core.errors import UsageError

_SECRET_WORDS = ("token", "secret", "password", "api_key")


def set_setting(config: Config, key: str, value: str, *, dry_run: bool = False) -> None:
    for what, text in (("key", key), ("value", value)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(
                f"the {what} given for {key if what == 'value' else 'config set'} is not valid UTF-8",
                hint="check the terminal's or the script's encoding",
            ) from None
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
    config.set_value(key, _typed(parts, value), dry_run=dry_run)  # ConfigError names the key path


def _typed(parts: list[str], value: str) -> object:
    """`true`/`false` as booleans for a key of the call rules, whose booleans are strict
    (a rules file saying `create_contact = "yes"` is refused, not read as true)."""
    if parts[0] == "calls" and len(parts) == 2 and value in ("true", "false"):
        from crmpay.telephony.rules import CallRules

        field = CallRules.model_fields.get(parts[1])
        if field is not None and "bool" in str(field.annotation).lower():
            return value == "true"
    return value
