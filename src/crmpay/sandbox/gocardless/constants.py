"""Constants of the simulated GoCardless API: the token, limits, schemes and currencies, what events carry."""

from __future__ import annotations

from typing import Any

TOKEN = "sandbox_crmpay-local-access-token"
DOCS = "https://developer.gocardless.com/api-reference"
DEFAULT_LIMIT = 50
EVENT_RETENTION_MONTHS = 18  # events older than this are no longer returned
MAX_LIMIT = 500
RATE_LIMIT = 1000  # requests per minute, as the real API announces
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
CURRENCY_SCHEME = {
    "EUR": "sepa_core",
    "GBP": "bacs",
    "SEK": "autogiro",
    "DKK": "betalingsservice",
    "USD": "ach",
    "AUD": "becs",
    "NZD": "becs_nz",
    "CAD": "pad",
}
COUNTRY_CURRENCY = {"GB": "GBP", "SE": "SEK", "DK": "DKK"}
REFERENCE_LIMITS = {
    "ach": 10,
    "bacs": 10,
    "autogiro": 11,
    "becs": 30,
    "becs_nz": 12,
    "betalingsservice": 30,
    "pay_to": 18,
}
USABLE_MANDATE = frozenset({"pending_customer_approval", "pending_submission", "submitted", "active"})
ENDED_MANDATE = frozenset({"cancelled", "failed", "expired", "consumed", "blocked"})
VERIFICATION_STATUSES = ("successful", "in_review", "action_required")
KINDS = (
    "customers",
    "customer_bank_accounts",
    "mandates",
    "payments",
    "billing_requests",
    "billing_request_flows",
    "mandate_imports",
    "mandate_import_entries",
    "events",
    "creditors",
    "refunds",
)
ID_PREFIX = {
    "customers": "CU",
    "customer_bank_accounts": "BA",
    "mandates": "MD",
    "payments": "PM",
    "billing_requests": "BRQ",
    "billing_request_flows": "BRF",
    "mandate_imports": "IM",
    "mandate_import_entries": "IME",
    "events": "EV",
    "creditors": "CR",
    "refunds": "RF",
}
# Links that listings filter on, indexed per kind: ids in creation order for each value.
INDEXED: dict[str, tuple[str, ...]] = {
    "customer_bank_accounts": ("customer",),
    "mandates": ("customer", "customer_bank_account"),
    "payments": ("mandate", "customer"),
    "billing_requests": ("customer",),
    "mandate_import_entries": ("mandate_import",),
    "refunds": ("payment", "mandate"),
    "events": (
        "payment",
        "mandate",
        "customer",
        "customer_bank_account",
        "billing_request",
        "billing_request_flow",
        "creditor",
    ),
}
EVENT_INDEXED = frozenset(INDEXED["events"])
EVENT_LINKS = (
    "bank_authorisation",
    "billing_request",
    "billing_request_flow",
    "creditor",
    "customer",
    "customer_bank_account",
    "instalment_schedule",
    "mandate",
    "mandate_request",
    "mandate_request_mandate",
    "new_customer_bank_account",
    "new_mandate",
    "organisation",
    "outbound_payment",
    "parent_event",
    "payer_authorisation",
    "payment",
    "payment_account_transaction",
    "payment_request_payment",
    "payout",
    "previous_customer_bank_account",
    "refund",
    "scheme_identifier",
    "subscription",
)
EVENT_DETAILS = (
    "bank_account_id",
    "cause",
    "currency",
    "description",
    "item_count",
    "not_retried_reason",
    "origin",
    "property",
    "reason_code",
    "scheme",
    "will_attempt_retry",
)
# The link that names an event's own resource, by resource_type.
EVENT_SUBJECT = {
    "payments": "payment",
    "mandates": "mandate",
    "customers": "customer",
    "customer_bank_accounts": "customer_bank_account",
    "billing_requests": "billing_request",
    "creditors": "creditor",
    "refunds": "refund",
}
EVENT_FILTERS = ("payment", "mandate", "customer", "customer_bank_account", "billing_request")
INCLUDABLE = {
    "payment": "payments",
    "mandate": "mandates",
    "customer": "customers",
    "customer_bank_account": "customer_bank_accounts",
    "billing_request": "billing_requests",
    "creditor": "creditors",
}
PREFILL_KEYS = (
    "address_line1",
    "address_line2",
    "address_line3",
    "city",
    "company_name",
    "country_code",
    "danish_identity_number",
    "email",
    "family_name",
    "given_name",
    "postal_code",
    "region",
    "swedish_identity_number",
)
CUSTOMER_FIELDS = (
    "email",
    "given_name",
    "family_name",
    "company_name",
    "address_line1",
    "address_line2",
    "address_line3",
    "city",
    "region",
    "postal_code",
    "country_code",
    "language",
    "phone_number",
    "danish_identity_number",
    "swedish_identity_number",
)
SCENARIOS = (
    "payment_confirmed",
    "payment_paid_out",
    "payment_failed",
    "payment_charged_back",
    "payment_chargeback_settled",
    "payment_late_failure",
    "payment_late_failure_settled",
    "payment_submitted",
    "mandate_activated",
    "mandate_failed",
    "mandate_expired",
    "creditor_verification_status_action_required",
    "creditor_verification_status_in_review",
    "creditor_verification_status_successful",
)
# Payment scenario simulators (gocardless-pro's ScenarioSimulatorsService docstring): the
# statuses each may start from, and the statuses (or settlement events) it goes through.
# A late failure is a `failed` after `paid_out`; a chargeback follows `paid_out`. Either
# can later be settled against a payout: an event only, the status stays.
PAYMENT_SCENARIO_FROM = {
    "payment_submitted": ("pending_submission",),
    "payment_confirmed": ("pending_submission", "submitted"),
    "payment_paid_out": ("pending_submission", "submitted", "confirmed"),
    "payment_failed": ("pending_submission", "submitted", "confirmed"),
    "payment_charged_back": ("pending_submission", "submitted", "confirmed", "paid_out"),
    "payment_chargeback_settled": ("pending_submission", "submitted", "confirmed", "paid_out"),
    "payment_late_failure": ("pending_submission", "paid_out"),
    "payment_late_failure_settled": ("pending_submission", "paid_out"),
}
_PAID_OUT = ["submitted", "confirmed", "paid_out"]
PAYMENT_SCENARIO_PATH = {
    "payment_submitted": ["submitted"],
    "payment_confirmed": ["submitted", "confirmed"],
    "payment_paid_out": _PAID_OUT,
    "payment_failed": ["submitted", "failed"],
    "payment_charged_back": [*_PAID_OUT, "charged_back"],
    "payment_chargeback_settled": [*_PAID_OUT, "charged_back", "chargeback_settled"],
    "payment_late_failure": [*_PAID_OUT, "failed"],
    "payment_late_failure_settled": [*_PAID_OUT, "failed", "late_failure_settled"],
}
# The bank's word on a failure or a chargeback, as GoCardless's event reference gives it
# for sepa_core: AM04 (insufficient funds) and MD06 (refund requested by the debtor).
PAYMENT_OUTCOMES: dict[str, dict[str, Any]] = {
    "failed": {
        "cause": "insufficient_funds",
        "origin": "bank",
        "reason_code": "AM04",
        "description": "The customer's account had insufficient funds to make this payment.",
        "will_attempt_retry": False,
    },
    "charged_back": {
        "cause": "refund_requested",
        "origin": "bank",
        "reason_code": "MD06",
        "description": "This payment was charged back by the customer's bank at the customer's request"
        " within the 8 week cool-off period.",
    },
}
SETTLED = {
    "chargeback_settled": "This charged back payment has been settled against a payout",
    "late_failure_settled": "This late failed payment has been settled against a payout",
}
# What the default cause of each status change says, as GoCardless writes it.
CAUSES = {
    ("payments", "created"): "payment_created",
    ("payments", "submitted"): "payment_submitted",
    ("payments", "confirmed"): "payment_confirmed",
    ("payments", "paid_out"): "payment_paid_out",
    ("payments", "cancelled"): "payment_cancelled",
    ("payments", "resubmission_requested"): "payment_retried",
    ("payments", "chargeback_settled"): "chargeback_settled",
    ("payments", "late_failure_settled"): "late_failure_settled",
    ("mandates", "created"): "mandate_created",
    ("mandates", "submitted"): "mandate_submitted",
    ("mandates", "active"): "mandate_activated",
    ("mandates", "cancelled"): "mandate_cancelled",
    ("mandates", "reinstated"): "mandate_reinstated",
    ("mandates", "expired"): "mandate_expired",
    ("customer_bank_accounts", "created"): "bank_account_created",
    ("customer_bank_accounts", "disabled"): "bank_account_disabled",
    ("billing_requests", "created"): "billing_request_created",
    ("billing_requests", "flow_created"): "billing_request_flow_created",
    ("billing_requests", "fulfilled"): "billing_request_fulfilled",
    ("billing_requests", "cancelled"): "billing_request_cancelled",
}
SOURCE_TYPES = {"api": "access_token", "customer": "payer", "payer": "payer"}
# Order in which the clock visits what is due on one day: mandates before their payments.
MANDATE_RANK, PAYMENT_RANK = 0, 1
