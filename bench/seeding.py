"""Seeding the sandbox's GoCardless straight into its tables, for the benchmarks: tens of
thousands of customers in seconds, where the API would take minutes."""

from __future__ import annotations

from typing import Any

IBANS = ["FR1420041010050500013M02606", "DE89370400440532013000", "BE68539007547034", "NL91ABNA0417164300"]


def gocardless_mandate(gc: Any, i: int) -> dict[str, Any]:
    """Customer number `i`, its bank account and an active-to-be SEPA mandate (hold the
    sandbox's lock while calling)."""
    customer = gc._new_customer({"email": f"c{i}@example.fr", "family_name": f"Client {i}"})
    account = {
        "id": gc._new_id("customer_bank_accounts"),
        "created_at": customer["created_at"],
        "account_holder_name": f"Client {i}",
        "account_number_ending": "0606",
        "account_type": None,
        "bank_account_token": None,
        "bank_name": "SANDBOX BANK",
        "country_code": "FR",
        "currency": "EUR",
        "enabled": True,
        "links": {"customer": customer["id"]},
        "metadata": {},
        "payer_name_verification_result": None,
        "trusted_recipient": False,
    }
    gc.private[account["id"]] = {"iban": IBANS[i % 4], "customer": customer["id"]}
    gc._store("customer_bank_accounts", account)
    return gc._new_mandate(account, "sepa_core", None, None, "api")  # type: ignore[no-any-return]
