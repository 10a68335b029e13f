"""Constants of the simulated Mollie API: the sandbox's key and profile, lifecycle delays, accepted values."""

from __future__ import annotations

from datetime import timedelta

API_KEY = "test_crmpaySandboxKey000000000000"
PROFILE_ID = "pfl_crmpaySandbx"
CREDITOR_ID = "NL08ZZZ502057730000"
DOCS = "https://docs.mollie.com"
HAL = "application/hal+json"
MAX_LIMIT = 250
DEFAULT_LIMIT = 50
SENT_AFTER = 1  # working days from creation to the file sent to the bank
DUE_AFTER = 1  # working days from sent to the debit date
PAID_AFTER = 3  # working days from sent to paid
EXPIRES_AFTER = timedelta(days=12)
REFUNDED_AFTER = 1
FINAL = frozenset({"paid", "canceled", "expired", "failed"})
KINDS = ("customers", "mandates", "payments", "payment-links", "refunds", "chargebacks")
RESOURCE = {
    "customers": "customer",
    "mandates": "mandate",
    "payments": "payment",
    "payment-links": "payment-link",
    "refunds": "refund",
    "chargebacks": "chargeback",
}
NOUN = {
    "customers": "customer",
    "mandates": "mandate",
    "payments": "payment",
    "payment-links": "payment link",
    "refunds": "refund",
    "chargebacks": "chargeback",
}
DOC_PAGE = {
    "customers": "customers-api",
    "mandates": "mandates-api",
    "payments": "payments-api",
    "payment-links": "payment-links-api",
    "refunds": "refunds-api",
    "chargebacks": "chargebacks-api",
}
# The reason a SEPA chargeback carries when the control route is given none: the debtor
# asked their bank for the money back (SEPA reason code MD06).
CHARGEBACK_REASON = {"code": "MD06", "description": "Return of funds requested by end customer"}
IN_PROGRESS = "Another request with this Idempotency-Key is already being processed."
LOCALES = frozenset(
    [
        "en_US",
        "en_GB",
        "nl_NL",
        "nl_BE",
        "fr_FR",
        "fr_BE",
        "de_DE",
        "de_AT",
        "de_CH",
        "es_ES",
        "ca_ES",
        "pt_PT",
        "it_IT",
        "nb_NO",
        "sv_SE",
        "fi_FI",
        "da_DK",
        "is_IS",
        "hu_HU",
        "pl_PL",
        "lv_LV",
        "lt_LT",
    ]
)
METHODS = frozenset(
    [
        "applepay",
        "bancomatpay",
        "bancontact",
        "banktransfer",
        "belfius",
        "billie",
        "blik",
        "creditcard",
        "directdebit",
        "eps",
        "giftcard",
        "ideal",
        "kbc",
        "mybank",
        "paypal",
        "paysafecard",
        "przelewy24",
        "riverty",
        "satispay",
        "trustly",
        "twint",
    ]
)
FORCEABLE = ("paid", "failed", "expired", "canceled", "charged_back")
