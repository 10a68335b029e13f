"""The rules that turn calls into CRM records, validated when they load.

They live in `[profiles.NAME.calls]` or in a TOML file given with `--rules` (same keys).
Contradictions the original product lets users save are refused here, naming the keys:
owner choices that point at each other, and (checked against the CRM) managers that are
not CRM users and stages that are not in their pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator, model_validator

from crmpay.config import check_section_with
from crmpay.core.errors import ConfigError

OwnerChoice = Literal["line_manager", "default_owner", "account_owner", "contact_owner"]
DealPolicy = Literal["never", "always", "if_no_deals", "if_no_open_deals_last_year"]


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str
    manager: str
    pipeline: str | None = None
    stage: str | None = None


TEMPLATE_FIELDS = ("number",)


def check_template(text: str, fields: tuple[str, ...]) -> None:
    """A `{field}` template whose fields are all in `fields` (`{{` and `}}` are braces), or
    ValueError saying what is wrong."""
    import string

    allowed = ", ".join("{" + f + "}" for f in fields)
    if len(text) > 255:
        raise ValueError(f"is {len(text)} characters long (at most 255)")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid template ({exc}); use {allowed}, and {{{{ }}}} for braces") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in fields or spec or conversion:
            raise ValueError(f"{text!r}: unknown field {{{name}}}; the fields are {allowed}")


def render_template(text: str, **values: str) -> str:
    """A template checked by `check_template`, filled."""
    return text.format_map(values)


class CallRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_region: str = "FR"
    timezone: str = "Europe/Paris"
    default_owner: str | None = None
    ignore_numbers: list[str] = []
    create_account: StrictBool = False
    account_owner: OwnerChoice = "line_manager"
    create_contact: StrictBool = True
    contact_owner: OwnerChoice = "line_manager"
    create_lead_on_first_contact: StrictBool = False
    lead_status: str | None = None
    deal_policy: DealPolicy = "never"
    pipeline: str | None = None
    stage: str | None = None
    missed_call_task: StrictBool = True
    task_subject: str = "Missed call from {number}"
    task_due_days: int = 1
    task_priority: Literal["Highest", "High", "Normal", "Low", "Lowest"] = "High"
    create_call_records: StrictBool = True
    call_duration_format: Literal["mm:ss", "hh:mm", "hh:mm:ss", "seconds", "minutes"] = "mm:ss"
    csv_columns: dict[str, str] = {}
    lines: list[Line] = []
    phone_search_up_to: int = Field(8, ge=0, le=100)  # callers searched one by one; more: read whole modules

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. Europe/Paris)") from None
        return value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        import phonenumbers

        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a country code phone numbers know (e.g. FR, DE, GB)")
        return value.upper()

    @field_validator("task_subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        check_template(value, TEMPLATE_FIELDS)
        return value

    @field_validator("task_due_days")
    @classmethod
    def _due(cls, value: int) -> int:
        if not 0 <= value <= 365:
            raise ValueError("must be between 0 and 365 days")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CallRules:
        from crmpay.telephony.phones import to_e164

        if self.account_owner == "account_owner":
            raise ValueError("account_owner cannot be the account's own owner")
        if self.contact_owner == "contact_owner":
            raise ValueError("contact_owner cannot be the contact's own owner")
        if self.account_owner == "contact_owner" and self.contact_owner == "account_owner":
            raise ValueError(
                "account_owner = contact_owner and contact_owner = account_owner "
                "refer to each other: choose line_manager or default_owner for one"
            )
        uses_default = "default_owner" in (self.account_owner, self.contact_owner)
        if uses_default and not self.default_owner:
            raise ValueError("default_owner is required by account_owner/contact_owner = default_owner")
        if self.deal_policy != "never":
            everywhere = bool(self.pipeline and self.stage)
            on_every_line = bool(self.lines) and all(ln.pipeline and ln.stage for ln in self.lines)
            if not (everywhere or on_every_line):
                raise ValueError(
                    f"deal_policy = {self.deal_policy} needs pipeline and stage (globally or on every line)"
                )
        seen: set[str] = set()
        for index, line in enumerate(self.lines):
            e164 = to_e164(line.number, self.default_region)
            if e164 is None:
                raise ValueError(f"lines[{index}].number {line.number!r} is not a valid phone number")
            if e164 in seen:
                raise ValueError(f"lines[{index}].number {line.number!r} is listed twice")
            seen.add(e164)
        return self

    # -- derived ---------------------------------------------------------------------------------
    def line_numbers(self) -> dict[str, Line]:
        from crmpay.telephony.phones import to_e164

        numbers = ((to_e164(line.number, self.default_region), line) for line in self.lines)
        return {number: line for number, line in numbers if number is not None}

    def ignored(self) -> set[str]:
        from crmpay.telephony.phones import to_e164

        return {n for n in (to_e164(x, self.default_region) for x in self.ignore_numbers) if n}

    def use_stored_pipeline_names(self, names: dict[str, str]) -> None:
        """Rewrite each pipeline the rules name to the value the CRM stores for it (a name
        the CRM does not know stays, for `check_against_crm` to report)."""
        if self.pipeline:
            self.pipeline = names.get(self.pipeline, self.pipeline)
        for line in self.lines:
            if line.pipeline:
                line.pipeline = names.get(line.pipeline, line.pipeline)

    def check_against_crm(self, users: set[str], pipelines: dict[str, set[str]], where: str) -> None:
        """Managers must be active CRM users; every stage must belong to its pipeline."""
        active = {u.casefold() for u in users}
        problems = []
        if self.default_owner and self.default_owner.casefold() not in active:
            problems.append(f"{where}.default_owner: {self.default_owner} is not an active CRM user")
        for i, line in enumerate(self.lines):
            if line.manager.casefold() not in active:
                problems.append(f"{where}.lines[{i}].manager: {line.manager} is not an active CRM user")
        pairs = [(f"{where}", self.pipeline, self.stage)] + [
            (f"{where}.lines[{i}]", line.pipeline or self.pipeline, line.stage or self.stage)
            for i, line in enumerate(self.lines)
        ]
        for key, pipeline, stage in pairs:
            if pipeline and pipeline not in pipelines:
                problems.append(f"{key}.pipeline: {pipeline!r} is not a pipeline of the CRM")
            elif pipeline and stage and stage not in pipelines[pipeline]:
                problems.append(f"{key}.stage: {stage!r} is not a stage of pipeline {pipeline!r}")
        if problems:
            raise ConfigError("; ".join(dict.fromkeys(problems)))


def load_rules_file(path: Path) -> CallRules:
    from crmpay.config import read_toml

    raw = read_toml(path, kind="rules file", label="--rules ", missing_ok=False)
    raw = raw.get("calls", raw)
    try:
        return CallRules.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {loc or 'calls'}: {first['msg'].removeprefix('Value error, ')}") from None


check_section_with("calls", CallRules.model_validate)  # a profile's [calls], whenever config loads
