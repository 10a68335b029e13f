"""The tables of a profile as pydantic models, each checking its own values."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from crmpay.core.errors import UsageError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class _ServiceSection(_Section):
    base_url: str | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return check_url(value).rstrip("/")

    @model_validator(mode="after")
    def _local_needs_url(self) -> _ServiceSection:
        if getattr(self, "environment", None) == "local" and not self.base_url:
            raise ValueError("environment 'local' needs base_url")
        return self


class GoCardlessSettings(_ServiceSection):
    environment: Literal["live", "sandbox", "local"] = "sandbox"


class MollieSettings(_ServiceSection):
    environment: Literal["live", "local"] = "live"
    redirect_url: str | None = None  # where Mollie sends a customer after a first payment


ZohoDC = Literal["us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk"]


class ZohoSettings(_ServiceSection):
    environment: Literal["live", "local"] = "live"
    dc: ZohoDC = "eu"
    accounts_url: str | None = None


class SipsimSettings(_ServiceSection):
    environment: Literal["live", "local"] = "live"


class SmtpSettings(_Section):
    host: str
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    user: str | None = None
    from_address: str | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_host(value)

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        return check_port(value)

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        from crmpay.core.validation import email_problems

        if value is not None and email_problems(value):
            raise ValueError(f"{value!r} is not an email address (name@example.com)")
        return value


class SellerSettings(_Section):
    """The seller as invoices print it (and freeze it: an issued invoice keeps its copy)."""

    name: str | None = None
    legal_form: str | None = None
    address: str | None = None
    country: str = "FR"  # ISO 3166 alpha-2: which legal texts an invoice carries
    siren: str | None = None
    siret: str | None = None
    vat_number: str | None = None
    rcs: str | None = None  # e.g. "RCS Paris 732 829 320"
    share_capital: str | None = None  # e.g. "10 000 €"
    registration_number: str | None = None  # Japan: qualified invoice issuer number, T + 13 digits
    late_penalty: str | None = None
    early_payment: str | None = None  # escompte terms; default: none granted
    invoice_prefix: str = "INV-"  # changing it after invoices exist: `crmpay invoices new-series`
    credit_note_prefix: str = "AV-"
    business_customers: bool = True  # print the EUR 40 recovery indemnity line
    # France: the seller opted to pay VAT on debits (CGI art. 269, 2-c), printed on every invoice
    vat_on_debits: bool = False

    def identity_problems(self, *, charges_vat: bool) -> list[str]:
        """The settings an invoice cannot be issued without (CGI art. 242 nonies A for a
        French seller: name, address, SIREN or SIRET, and the VAT number when VAT is charged)."""
        missing = [key for key in ("name", "address") if not getattr(self, key)]
        if self.country == "FR" and not (self.siren or self.siret):
            missing.append("siren")
        if self.country == "FR" and charges_vat and not self.vat_number:
            missing.append("vat_number")
        return [f"seller.{key}" for key in missing]

    @field_validator("siren", "siret", "vat_number", "registration_number")
    @classmethod
    def _identifier(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        from crmpay.core.invoice import check_identifier

        return check_identifier(info.field_name or "", value)

    @field_validator("name", "legal_form", "address", "rcs", "share_capital", "late_penalty", "early_payment")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from crmpay.core.invoice import check_text

        try:
            return check_text(value, "text", multiline=True)
        except UsageError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("invoice_prefix", "credit_note_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{0,11}", value):
            raise ValueError(f"{value!r}: 1 to 12 capital letters, digits or '-' (e.g. INV-)")
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError(f"{value!r} is not an ISO 3166 country code (FR, JP …)")
        return value.upper()

    @model_validator(mode="after")
    def _consistent(self) -> SellerSettings:
        if self.siren and self.siret and not self.siret.startswith(self.siren):
            raise ValueError(f"siret {self.siret} does not start with the siren {self.siren}")
        siren = self.siren or (self.siret[:9] if self.siret else None)
        if siren and self.vat_number and self.vat_number.startswith("FR") and self.vat_number[4:] != siren:
            raise ValueError(f"vat_number {self.vat_number} is not the one of siren {siren}")
        if self.vat_on_debits and self.country != "FR":
            raise ValueError(f"vat_on_debits is a French VAT option; the seller's country is {self.country}")
        return self


INVOICE_FORMATS = ("pdf", "facturx")


class InvoicesSettings(_Section):
    """How an invoice is written: `pdf` (the PDF alone) or `facturx` (the same PDF with its
    EN 16931 XML embedded, PDF/A-3): what `invoices render` writes without --format, and
    what `invoices send` attaches."""

    format: Literal["pdf", "facturx"] = "pdf"

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, value: Any) -> Any:
        text = value.strip().lower() if isinstance(value, str) else value
        if text not in INVOICE_FORMATS:
            raise ValueError(f"{value!r} is not an invoice format: choose {' or '.join(INVOICE_FORMATS)}")
        return text


class SepaSettings(_Section):
    # The debtor is told amount and date this many calendar days before a debit. The
    # rulebook's default is 14; a shorter period only when agreed with the debtors.
    prenotification_days: int = 14

    @field_validator("prenotification_days")
    @classmethod
    def _days(cls, value: int) -> int:
        if not 1 <= value <= 60:
            raise ValueError("must be between 1 and 60 calendar days (the SEPA default is 14)")
        return value


class WebhooksSettings(_Section):
    # The receiver's public address (behind the reverse proxy, docs/webhooks.md): Mollie
    # payments then carry `webhookUrl` = it + /webhooks/mollie. None: no webhookUrl, sync polls.
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http://)")
        return value.rstrip("/")


class DunningSettings(_Section):
    # Days from an invoice's (n+1)-th failed debit to its retry, and the reminders past the
    # due date as "DAYS:TONE" (courteous, formal, notice): docs/billing.md.
    retry_days: list[int] = [3, 7]
    steps: list[str] = ["7:courteous", "15:formal", "30:notice"]

    @field_validator("retry_days", "steps", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("retry_days")
    @classmethod
    def _retry_days(cls, value: list[int]) -> list[int]:
        if any(not 1 <= days <= 60 for days in value):
            raise ValueError("each retry comes 1 to 60 days after a failure")
        return value

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[str]) -> list[str]:
        days = []
        for step in value:
            number, _, tone = step.partition(":")
            if not number.strip().isdigit() or int(number) < 1 or tone.strip() not in ("courteous", "formal", "notice"):
                raise ValueError(f"step {step!r} is not DAYS:TONE with a tone among courteous, formal, notice")
            days.append(int(number))
        if days != sorted(set(days)):
            raise ValueError("steps must come in increasing days, each once")
        return value


class CrmMapping(_Section):
    contacts_module: str = "Contacts"
    mandates_module: str = "CRMPAY_Mandates"
    payments_module: str = "CRMPAY_Payments"
    contact_mandate_field: str = "CRMPAY_Active_Mandate"
    call_id_field: str = "CRMPAY_Call_Id"  # unique field on Calls, Tasks, Deals: the call's identity

    @field_validator("*")
    @classmethod
    def _api_name(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,99}", value):
            raise ValueError(f"{value!r} is not a Zoho API name (a letter, then letters, digits or '_')")
        return value


def check_url(value: str) -> str:
    """An http(s) address with a host and a valid port, or ValueError saying what is wrong."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port out of range or not a number)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid address ({exc})") from None
    if not parts.hostname or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not a valid address (no host)")
    return value


def check_host(value: str) -> str:
    """A host name or address: not empty, no spaces or control characters, at most 253."""
    if not value.strip():
        raise ValueError("is empty: give the server's host name")
    if len(value) > 253 or any(c.isspace() or not c.isprintable() or c in "/@" for c in value):
        raise ValueError(f"{value!r} is not a host name")
    return value


def check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"{value} is not a port (1 to 65535)")
    return value
