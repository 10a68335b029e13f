"""Mollie's JSON as crmpay's records: customers, mandates (with the bank account read from
their `details`), payments and chargebacks, with Mollie's statuses mapped to ours. Pure
functions, no SDK.

A payment charged back keeps `status: paid` at Mollie (v2 has no charged-back status; the
payment gains `amountChargedBack` and `_links.chargebacks`). Any charged-back amount above
zero maps to `PaymentState.CHARGED_BACK`, a partial one too: the debtor disputed the
collection, so the invoice is not settled by it. The status is kept verbatim (`paid`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from crmpay.core.models import BankAccount, Customer, Mandate, MandateState, Payment, PaymentState
from crmpay.core.money import Money
from crmpay.providers.base import Chargeback

NAME = "mollie"
MANDATE_STATES = {"valid": MandateState.ACTIVE, "pending": MandateState.PENDING, "invalid": MandateState.FAILED}


def when_of(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def money_from(amount: dict[str, Any]) -> Money:
    """`{"currency": "EUR", "value": "10.00"}` as exact Money, never through a float."""
    return Money(Decimal(amount["value"]), amount["currency"])


def amount_of(money: Money) -> dict[str, str]:
    return {"currency": money.currency, "value": money.decimal_string()}


_LOCALES = {
    "fr": "fr_FR",
    "en": "en_US",
    "nl": "nl_NL",
    "de": "de_DE",
    "es": "es_ES",
    "it": "it_IT",
    "pt": "pt_PT",
    "ca": "ca_ES",
    "nb": "nb_NO",
    "sv": "sv_SE",
    "fi": "fi_FI",
    "da": "da_DK",
    "is": "is_IS",
    "hu": "hu_HU",
    "pl": "pl_PL",
    "lv": "lv_LV",
    "lt": "lt_LT",
}


def locale_of(language: str) -> str:
    return _LOCALES.get(language.lower()[:2], "en_US")


def _last_segment(link: dict[str, Any] | None) -> str | None:
    return link["href"].rstrip("/").rsplit("/", 1)[-1] if link and link.get("href") else None


def customer_from(raw: dict[str, Any]) -> Customer:
    locale = raw.get("locale") or ""
    return Customer(
        NAME,
        raw["id"],
        raw.get("email"),
        raw.get("name"),
        None,
        locale.split("_")[0] or None,
        when_of(raw.get("createdAt")),
        dict(raw),
    )


def mandate_from(raw: dict[str, Any], customer_id: str | None = None) -> Mandate:
    status = raw["status"]
    customer_id = customer_id or _last_segment((raw.get("_links") or {}).get("customer"))
    return Mandate(
        NAME,
        raw["id"],
        customer_id,
        raw["id"],
        status,
        MANDATE_STATES.get(status, MandateState.PENDING),
        status == "valid",
        "sepa_core" if raw.get("method") == "directdebit" else raw.get("method"),
        raw.get("mandateReference"),
        "EUR",
        None,
        _day(raw.get("signatureDate")),
        when_of(raw.get("createdAt")),
        dict(raw),
    )


def bank_account_from(mandate: Mandate) -> BankAccount:
    details = mandate.raw.get("details") or {}
    account = details.get("consumerAccount") or ""
    return BankAccount(
        NAME,
        mandate.id,
        mandate.customer_id,
        details.get("consumerName"),
        account[-4:] or None,
        None,
        account[:2] or None,
        "EUR",
        mandate.status == "valid",
        mandate.created_at,
        {"mandate": mandate.id},
    )


def payment_from(raw: dict[str, Any]) -> Payment:
    status = raw["status"]
    money = money_from(raw["amount"])
    charged_back = raw.get("amountChargedBack")
    if charged_back and Decimal(charged_back.get("value") or "0") > 0:
        state = PaymentState.CHARGED_BACK
    elif status == "open":
        state = PaymentState.PENDING
    elif status in ("pending", "authorized"):
        state = PaymentState.PENDING if raw.get("isCancelable") else PaymentState.SUBMITTED
    elif status == "paid":
        state = PaymentState.PAID
    elif status == "canceled":
        state = PaymentState.CANCELLED
    else:  # expired, failed
        state = PaymentState.FAILED
    metadata = raw.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    details = raw.get("details")
    details = details if isinstance(details, dict) else {}
    return Payment(
        NAME,
        raw["id"],
        money,
        status,
        state,
        bool(raw.get("isCancelable")),
        raw.get("mandateId"),
        raw.get("customerId"),
        _day(details.get("dueDate")),
        raw.get("description"),
        None,
        {str(k): str(v) for k, v in metadata.items()},
        when_of(raw.get("createdAt")),
        dict(raw),
    )


def chargeback_from(raw: dict[str, Any]) -> Chargeback:
    reason = raw.get("reason")
    reason = reason if isinstance(reason, dict) else {}
    text = " ".join(filter(None, [reason.get("code"), reason.get("description")])) or None
    return Chargeback(
        NAME, raw["id"], raw["paymentId"], money_from(raw["amount"]), when_of(raw.get("createdAt")), text, dict(raw)
    )
