"""GoCardless customer bank accounts, simulated: IBAN checks, one account per IBAN and customer, disable, list."""

from __future__ import annotations

from typing import Any

from crmpay.core.validation import compact_iban, iban_problems
from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.gocardless.constants import COUNTRY_CURRENCY, USABLE_MANDATE
from crmpay.sandbox.gocardless.mandates import _Mandates


class _BankAccounts(_Mandates):
    def list_bank_accounts(self, request: Request) -> Response:
        index, tests = self._indexed("customer_bank_accounts", request, ("customer",))
        enabled = request.arg("enabled")
        if enabled in ("true", "false"):
            tests.append(lambda a: a["enabled"] == (enabled == "true"))
        return self._list("customer_bank_accounts", request, self._all(tests), index=index)

    def create_bank_account(self, request: Request) -> Response:
        self._replay(request, "customer_bank_accounts")
        data = self._body(request, "customer_bank_accounts")
        customer_id = (data.get("links") or {}).get("customer")
        if customer_id not in self.objects["customers"] or customer_id in self.removed:
            raise self._validation("links.customer", "must be an existing customer", "customer_bank_accounts")
        account = self._new_bank_account(
            customer_id, data.get("account_holder_name"), data.get("iban"), data.get("metadata")
        )
        self._remember(request, "customer_bank_accounts", account["id"])
        return self._ok(201, {"customer_bank_accounts": account})

    def _new_bank_account(
        self, customer_id: str, holder: str | None, iban: str | None, metadata: Any = None, *, reuse: bool = False
    ) -> dict[str, Any]:
        """Checks the IBAN (national length, mod-97); a second account with the same IBAN for
        the same customer is refused with `bank_account_exists` (or reused, when `reuse`)."""
        envelope = "customer_bank_accounts"
        if not holder:
            raise self._validation("account_holder_name", "is required", envelope)
        if not iban:
            raise self._validation("iban", "is required (local bank details are not simulated)", envelope)
        problems = iban_problems(iban)
        if problems:
            detail = problems[0].removeprefix(f"invalid IBAN {compact_iban(iban)}: ")
            raise self._validation("iban", f"is invalid ({detail})", envelope)
        iban = compact_iban(iban)
        existing = self.accounts_by_iban.get((customer_id, iban))
        if existing:
            if reuse:
                return self.objects["customer_bank_accounts"][existing]
            message = "Bank account already exists"
            raise self._error(
                409,
                "validation_failed",
                message,
                [{"reason": "bank_account_exists", "message": message, "links": {"customer_bank_account": existing}}],
            )
        meta = self._metadata({"metadata": metadata})
        country = iban[:2]
        ident = self._new_id("customer_bank_accounts")
        account = {
            "id": ident,
            "created_at": self._now(),
            "account_holder_name": holder,
            "account_number_ending": iban[-4:],
            "account_type": None,
            "bank_account_token": None,
            "bank_name": "SANDBOX BANK",
            "country_code": country,
            "currency": COUNTRY_CURRENCY.get(country, "EUR"),
            "enabled": True,
            "links": {"customer": customer_id},
            "metadata": meta,
            "payer_name_verification_result": None,
            "trusted_recipient": False,
        }
        self.private[ident] = {"iban": iban, "customer": customer_id}
        self._store("customer_bank_accounts", account)
        self._event(
            "customer_bank_accounts",
            "created",
            {"customer_bank_account": ident},
            origin="api",
            description="Customer bank account created",
        )
        return account

    def disable_bank_account(self, request: Request) -> Response:
        account = self._get("customer_bank_accounts", request.params["id"])
        if not account["enabled"]:
            raise self._invalid_state("bank_account_disabled", "This bank account is already disabled")
        account["enabled"] = False
        self.accounts_by_iban.pop((account["links"]["customer"], self.private[account["id"]]["iban"]), None)
        self._event(
            "customer_bank_accounts",
            "disabled",
            {"customer_bank_account": account["id"]},
            origin="api",
            description="Customer bank account disabled",
        )
        for mandate_id in self.index[("mandates", "customer_bank_account")].get(account["id"], []):
            mandate = self.objects["mandates"][mandate_id]
            if mandate["status"] in USABLE_MANDATE:
                self._set_mandate(
                    mandate,
                    "cancelled",
                    cause="bank_account_disabled",
                    description="The customer's bank account was disabled",
                )
        return self._ok(200, {"customer_bank_accounts": account})
