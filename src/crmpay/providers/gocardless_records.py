"""GoCardless's JSON as crmpay's records: customers, bank accounts, mandates, payments and
events, with GoCardless's statuses mapped to ours. Pure functions, no SDK."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from crmpay.core.models import (
    AccountCheck,
    BankAccount,
    Customer,
    Mandate,
    MandateState,
    Payment,
    PaymentState,
    ProviderEvent,
)
from crmpay.core.money import Money

NAME = "gocardless"

MANDATE_STATES = {
    "pending_customer_approval": MandateState.PENDING,
    "pending_submission": MandateState.PENDING,
    "submitted": MandateState.PENDING,
    "active": MandateState.ACTIVE,
    "failed": MandateState.FAILED,
    "cancelled": MandateState.CANCELLED,
    "expired": MandateState.EXPIRED,
    "consumed": MandateState.EXPIRED,
    "blocked": MandateState.SUSPENDED,
    "suspended_by_payer": MandateState.SUSPENDED,
}
USABLE = {"pending_customer_approval", "pending_submission", "submitted", "active"}
# A late failure is `failed` after `paid_out`; a chargeback is `charged_back` after
# `confirmed`/`paid_out`. Their settlements against a payout (`late_failure_settled`,
# `chargeback_settled`) are events only: the status stays `failed` / `charged_back`.
PAYMENT_STATES = {
    "pending_customer_approval": PaymentState.PENDING,
    "pending_submission": PaymentState.PENDING,
    "submitted": PaymentState.SUBMITTED,
    "confirmed": PaymentState.PAID,
    "paid_out": PaymentState.PAID,
    "cancelled": PaymentState.CANCELLED,
    "customer_approval_denied": PaymentState.FAILED,
    "failed": PaymentState.FAILED,
    "charged_back": PaymentState.CHARGED_BACK,
}


def when_of(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def customer_from(raw: dict[str, Any]) -> Customer:
    name = " ".join(filter(None, [raw.get("given_name"), raw.get("family_name")])) or raw.get("company_name")
    return Customer(
        NAME,
        raw["id"],
        raw.get("email"),
        name,
        raw.get("company_name"),
        raw.get("language"),
        when_of(raw.get("created_at")),
        raw,
    )


def bank_account_from(raw: dict[str, Any]) -> BankAccount:
    return BankAccount(
        NAME,
        raw["id"],
        (raw.get("links") or {}).get("customer"),
        raw.get("account_holder_name"),
        raw.get("account_number_ending"),
        raw.get("bank_name"),
        raw.get("country_code"),
        raw.get("currency"),
        bool(raw.get("enabled", True)),
        when_of(raw.get("created_at")),
        raw,
    )


def mandate_from(raw: dict[str, Any]) -> Mandate:
    status = raw["status"]
    links = raw.get("links") or {}
    scheme = raw.get("scheme")
    return Mandate(
        NAME,
        raw["id"],
        links.get("customer"),
        links.get("customer_bank_account"),
        status,
        MANDATE_STATES.get(status, MandateState.PENDING),
        status in USABLE,
        scheme,
        raw.get("reference"),
        SCHEME_CURRENCY.get(scheme or ""),
        _day(raw.get("next_possible_charge_date")),
        None,
        when_of(raw.get("created_at")),
        raw,
    )


SCHEME_CURRENCY = {
    "bacs": "GBP",
    "faster_payments": "GBP",
    "sepa_core": "EUR",
    "ach": "USD",
    "autogiro": "SEK",
    "betalingsservice": "DKK",
    "becs": "AUD",
    "becs_nz": "NZD",
    "pad": "CAD",
    "pay_to": "AUD",
}


def payment_from(raw: dict[str, Any], customer_id: str | None = None) -> Payment:
    status = raw["status"]
    links = raw.get("links") or {}
    return Payment(
        NAME,
        raw["id"],
        Money.from_minor(int(raw["amount"]), raw["currency"]),
        status,
        PAYMENT_STATES.get(status, PaymentState.PENDING),
        status == "pending_submission",
        links.get("mandate"),
        customer_id,
        _day(raw.get("charge_date")),
        raw.get("description"),
        raw.get("reference"),
        {str(k): str(v) for k, v in (raw.get("metadata") or {}).items()},
        when_of(raw.get("created_at")),
        raw,
    )


def event_from(raw: dict[str, Any]) -> ProviderEvent:
    links = raw.get("links") or {}
    singular = (raw.get("resource_type") or "").rstrip("s")
    resource = links.get(singular) or next((v for v in links.values() if v), None)
    created = datetime.fromisoformat(raw["created_at"])  # every event has one
    return ProviderEvent(NAME, raw["id"], created, raw.get("resource_type", ""), raw.get("action", ""), resource, raw)


def account_check_from(creditor: dict[str, Any]) -> AccountCheck:
    """The creditor as a credential check reports it: a warning while it is not verified,
    and the SEPA creditor identifier of its active `sepa_core` scheme identifier."""
    warnings = []
    status = creditor.get("verification_status")
    if status and status != "successful":
        warnings.append(
            f"the GoCardless creditor {creditor['id']} is not verified "
            f"(verification_status: {status}); payouts wait until it is"
        )
    sepa = [
        s.get("reference")
        for s in creditor.get("scheme_identifiers") or []
        if s.get("scheme") == "sepa_core" and s.get("status", "active") == "active" and s.get("reference")
    ]
    return AccountCheck(creditor["id"], creditor.get("name"), warnings, sepa[0] if sepa else None)


def error_message(exc: BaseException) -> str:
    """What an SDK error says (its `message`, else its text)."""
    return getattr(exc, "message", None) or str(exc)


def validation_message(exc: Any) -> str:
    """A `ValidationFailedError`'s field errors, one after the other."""
    details = [f"{e['field']} {e['message']}" for e in (exc.errors or []) if "field" in e]
    return "; ".join(details) or error_message(exc)
