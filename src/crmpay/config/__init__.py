"""Configuration: one TOML file, one table per profile, validated when it loads.

    default_profile = "acme"

    [profiles.acme]
    creditor_id = "FR72ZZZ123456"

    [profiles.acme.gocardless]
    environment = "live"

Precedence for every setting: command-line flag > environment > file. A setting's
environment variable is `CRMPAY_<KEY>` for top-level keys and `CRMPAY_<SECTION>__<KEY>`
for keys of a section (`CRMPAY_GOCARDLESS__BASE_URL`). Secrets are never here: see
`crmpay.secrets`.

The models are plain pydantic models: pydantic-settings costs about 0.28 s of import
time, more than the whole start-up budget of `crmpay status`, for what the small
`_environment_overrides` below does.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError, ValidationInfo, field_validator

from crmpay.config.sections import (
    CrmMapping,
    DunningSettings,
    GoCardlessSettings,
    InvoicesSettings,
    MollieSettings,
    SellerSettings,
    SepaSettings,
    SipsimSettings,
    SmtpSettings,
    WebhooksSettings,
    ZohoDC,
    ZohoSettings,
    _Section,
    check_host,
    check_port,
    check_url,
)
from crmpay.core.errors import ConfigError, UsageError
from crmpay.paths import Home, check_profile_name

DEFAULT_PROFILE = "default"


__all__ = [
    "GoCardlessSettings",
    "MollieSettings",
    "ZohoDC",
    "ZohoSettings",
    "SipsimSettings",
    "SmtpSettings",
    "SellerSettings",
    "SepaSettings",
    "InvoicesSettings",
    "WebhooksSettings",
    "DunningSettings",
    "CrmMapping",
    "check_url",
    "check_host",
    "check_port",
    "Config",
    "ProfileConfig",
    "SERVICES",
    "check_section_with",
]

SERVICES = ("gocardless", "mollie", "zoho", "sipsim", "smtp")

SectionCheck = Callable[[dict[str, Any]], object]
_SECTION_CHECKS: dict[str, SectionCheck] = {}
# The module that owns a raw section and registers its check when imported: loaded the
# first time a profile with that section is read, however the config was opened.
_SECTION_OWNERS = {"calls": "crmpay.telephony.rules"}


def check_section_with(section: str, check: SectionCheck) -> None:
    """Have `check` validate a profile's raw `[section]` table each time the file is read or
    written. The tables kept raw here (`calls`) belong to a higher layer, which registers
    their check; it raises ValueError or pydantic's ValidationError (key paths are kept)."""
    if section not in ProfileConfig.model_fields:
        raise ValueError(f"no section {section!r} in a profile")
    _SECTION_CHECKS[section] = check


class ProfileConfig(_Section):
    creditor_id: str | None = None
    gocardless: GoCardlessSettings | None = None
    mollie: MollieSettings | None = None
    zoho: ZohoSettings | None = None
    sipsim: SipsimSettings | None = None
    smtp: SmtpSettings | None = None
    seller: SellerSettings = SellerSettings()
    sepa: SepaSettings = SepaSettings()
    invoices: InvoicesSettings = InvoicesSettings()
    webhooks: WebhooksSettings = WebhooksSettings()
    dunning: DunningSettings = DunningSettings()
    crm: CrmMapping = CrmMapping()
    calls: dict[str, Any] | None = None  # checked by crmpay.telephony.rules (check_section_with)

    @field_validator("calls")
    @classmethod
    def _registered_check(cls, value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        name = info.field_name or ""
        if value is not None and name not in _SECTION_CHECKS and name in _SECTION_OWNERS:
            import importlib

            importlib.import_module(_SECTION_OWNERS[name])  # registers the check
        check = _SECTION_CHECKS.get(name)
        if value is not None and check is not None:
            check(value)  # errors keep their key path
        return value

    @field_validator("creditor_id")
    @classmethod
    def _creditor_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from crmpay.core.validation import creditor_id_problems

        problems = creditor_id_problems(value)
        if problems:
            raise ValueError(problems[0])
        return "".join(value.split()).upper()


class ConfigFile(_Section):
    default_profile: str | None = None
    profiles: dict[str, ProfileConfig] = {}

    @field_validator("profiles")
    @classmethod
    def _names(cls, value: dict[str, ProfileConfig]) -> dict[str, ProfileConfig]:
        for name in value:
            check_profile_name(name)
        return value


# -- reading --------------------------------------------------------------------------------
def _describe(error: ValidationError, path: Path, prefix: tuple[str | int, ...] = ()) -> ConfigError:
    first = error.errors()[0]
    loc = ".".join(str(part) for part in (*prefix, *first["loc"]))
    message = first["msg"].removeprefix("Value error, ")
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return ConfigError(f"{path}: {loc or 'top level'}: {message}{suffix}")


def read_raw(path: Path) -> dict[str, Any]:
    """The file as a dict; {} when it does not exist; ConfigError when unreadable."""
    return read_toml(path)


def read_toml(path: Path, *, kind: str = "config file", label: str = "", missing_ok: bool = True) -> dict[str, Any]:
    """A TOML file as a dict, or one ConfigError naming it (`label`, e.g. "--rules ", goes
    before the path) and what is wrong: a directory, unreadable, not UTF-8, not TOML,
    nested past Python's limits. A missing file is {} when `missing_ok`."""
    where = f"{label}{path}"
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise ConfigError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a {kind}") from None
    except PermissionError:
        raise ConfigError(f"{where}: not readable (permission denied)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to be a {kind}") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not valid UTF-8") from None


def parse(raw: dict[str, Any], path: Path) -> ConfigFile:
    try:
        return ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise _describe(exc, path) from None
    except UsageError as exc:
        raise ConfigError(f"{path}: profiles: {exc}") from None


def _environment_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """Settings given as `CRMPAY_<KEY>` / `CRMPAY_<SECTION>__<KEY>` variables."""
    found: dict[str, Any] = {}
    for name, field in ProfileConfig.model_fields.items():
        annotation = field.annotation
        section = _section_model(annotation)
        if section is None:
            value = environ.get(f"CRMPAY_{name.upper()}")
            if value is not None:
                found[name] = value
            continue
        for key in section.model_fields:
            value = environ.get(f"CRMPAY_{name.upper()}__{key.upper()}")
            if value is not None:
                found.setdefault(name, {})[key] = value
    return found


def _section_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """`{"gocardless.environment": "live"}` -> `{"gocardless": {"environment": "live"}}`."""
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        if value is None:
            continue
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


class Config:
    """The loaded configuration of one profile, with flags and environment applied."""

    def __init__(self, home: Home, profile: str, file: ConfigFile, settings: ProfileConfig) -> None:
        self.home = home
        self.profile = profile
        self.file = file
        self.settings = settings

    @classmethod
    def load(
        cls,
        home: Home,
        profile: str | None = None,
        *,
        flags: dict[str, Any] | None = None,
        environ: dict[str, str] | None = None,
    ) -> Config:
        environ = dict(os.environ) if environ is None else environ
        raw = read_raw(home.config_file)
        file = parse(raw, home.config_file)
        name = check_profile_name(profile or environ.get("CRMPAY_PROFILE") or file.default_profile or DEFAULT_PROFILE)
        stored = raw.get("profiles", {}).get(name, {})
        layered = _merge(_merge(stored, _environment_overrides(environ)), unflatten(flags or {}))
        try:
            settings = ProfileConfig.model_validate(layered)
        except ValidationError as exc:
            raise _describe(exc, home.config_file, ("profiles", name)) from None
        return cls(home, name, file, settings)

    # -- writing ----------------------------------------------------------------------------
    def set_value(self, key: str, value: Any, *, dry_run: bool = False) -> None:
        """Set `key` (dotted, inside this profile) in the file, validating first."""
        raw = read_raw(self.home.config_file)
        profile = raw.setdefault("profiles", {}).setdefault(self.profile, {})
        node = profile
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"{key}: {part} is not a section")
            node = child
        node[leaf] = value
        self._write(raw, dry_run=dry_run)

    def update_section(self, section: str, values: dict[str, Any]) -> None:
        raw = read_raw(self.home.config_file)
        profile = raw.setdefault("profiles", {}).setdefault(self.profile, {})
        profile[section] = {k: v for k, v in values.items() if v is not None}
        self._write(raw)

    def remove_section(self, section: str) -> bool:
        raw = read_raw(self.home.config_file)
        profile = raw.get("profiles", {}).get(self.profile, {})
        if section not in profile:
            return False
        del profile[section]
        self._write(raw)
        return True

    def _write(self, raw: dict[str, Any], *, dry_run: bool = False) -> None:
        parsed = parse(raw, self.home.config_file)  # never write a file we could not read back
        if dry_run:
            return
        raw = parsed.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        self.file = parsed
        self.settings = parsed.profiles.get(self.profile, ProfileConfig())
        import tomli_w

        path = self.home.config_file
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".toml.tmp")
            tmp.write_text(tomli_w.dumps(raw), encoding="utf-8")
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror}") from None

    def as_dict(self) -> dict[str, Any]:
        """The effective settings of this profile (never a secret: none live here)."""
        return self.settings.model_dump(mode="json", exclude_none=True)
