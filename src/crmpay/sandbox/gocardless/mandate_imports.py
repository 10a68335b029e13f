"""GoCardless mandate imports, simulated: entries checked when added, turned into active mandates the next day."""

from __future__ import annotations

import json
from typing import Any

from crmpay.core.validation import compact_iban, iban_problems
from crmpay.sandbox._http import HttpError, Request, Response
from crmpay.sandbox.gocardless.bank_accounts import _BankAccounts
from crmpay.sandbox.gocardless.constants import COUNTRY_CURRENCY, SCHEME_CURRENCY
from crmpay.sandbox.gocardless.customers import _Customers


class _MandateImports(_Customers, _BankAccounts):
    def create_import(self, request: Request) -> Response:
        self._replay(request, "mandate_imports")
        if not self.creditor["mandate_imports_enabled"]:
            raise self._usage(403, "mandate_imports_not_enabled", "Mandate imports are not enabled for this creditor")
        data = self._body(request, "mandate_imports")
        if data.get("scheme") not in SCHEME_CURRENCY:
            raise self._validation("scheme", "is not a supported scheme", "mandate_imports")
        ident = self._new_id("mandate_imports")
        imp = {
            "id": ident,
            "created_at": self._now(),
            "scheme": data["scheme"],
            "status": "created",
            "links": {"creditor": self.creditor["id"]},
        }
        self._store("mandate_imports", imp)
        self._remember(request, "mandate_imports", ident)
        return self._ok(201, {"mandate_imports": imp})

    def create_import_entry(self, request: Request) -> Response:
        self._replay(request, "mandate_import_entries")
        data = self._body(request, "mandate_import_entries")
        envelope = "mandate_import_entries"
        imp = self.objects["mandate_imports"].get((data.get("links") or {}).get("mandate_import") or "")
        if imp is None:
            raise self._validation("links.mandate_import", "must be an existing mandate import", envelope)
        if imp["status"] != "created":
            raise self._invalid_state(
                "mandate_import_not_created", f"Entries can only be added to a created import (it is {imp['status']})"
            )
        if len(self.index[("mandate_import_entries", "mandate_import")].get(imp["id"], [])) >= 30_000:
            raise self._invalid_state("too_many_entries", "An import holds at most 30,000 entries")
        record = data.get("record_identifier")
        if record is not None and len(str(record)) > 255:
            raise self._validation("record_identifier", "is too long (maximum is 255 characters)", envelope)
        bank = data.get("bank_account") or {}
        if not bank.get("account_holder_name"):
            raise self._validation("bank_account.account_holder_name", "is required", envelope)
        if not (bank.get("iban") or bank.get("account_number")):
            raise self._validation("bank_account.iban", "is required", envelope)
        customer = data.get("customer") or {}
        if not (customer.get("email") or customer.get("family_name") or customer.get("company_name")):
            raise self._validation(
                "customer.email", "must be present when family_name and company_name are blank", envelope
            )
        amendment = data.get("amendment") or {}
        if imp["scheme"].startswith("sepa"):  # the SEPA amendment names the mandate's original creditor
            for key in ("original_mandate_reference", "original_creditor_id", "original_creditor_name"):
                if not str(amendment.get(key) or "").strip():
                    raise self._validation(f"amendment.{key}", "is required for SEPA mandate imports", envelope)
        ident = self._new_id("mandate_import_entries")
        entry = {
            "id": ident,
            "created_at": self._now(),
            "record_identifier": record,
            "processing_errors": {},
            "links": {"mandate_import": imp["id"], "customer": None, "customer_bank_account": None, "mandate": None},
        }
        self.private[ident] = {
            "customer": customer,
            "bank_account": bank,
            "amendment": amendment,
            "mandate": data.get("mandate") or {},
        }
        self._store("mandate_import_entries", entry)
        self._remember(request, "mandate_import_entries", ident)
        return self._ok(201, {"mandate_import_entries": entry})

    def list_import_entries(self, request: Request) -> Response:
        wanted = request.arg("mandate_import")
        if not wanted:
            raise self._validation("mandate_import", "is required")
        status = request.arg("status")
        match = {
            "successfully_processed": lambda e: bool(e["links"]["mandate"]),
            "unsuccessfully_processed": lambda e: bool(e["processing_errors"]),
        }.get(status or "")
        return self._list("mandate_import_entries", request, match, index=("mandate_import", wanted))

    def submit_import(self, request: Request) -> Response:
        imp = self._get("mandate_imports", request.params["id"])
        if imp["status"] != "created":
            raise self._invalid_state("mandate_import_not_created", f"This import is {imp['status']}")
        imp["status"] = "submitted"
        self.import_queue.append(imp["id"])
        return self._ok(200, {"mandate_imports": imp})

    def cancel_import(self, request: Request) -> Response:
        imp = self._get("mandate_imports", request.params["id"])
        if imp["status"] not in ("created", "submitted"):
            raise self._invalid_state("mandate_import_not_cancellable", f"This import is {imp['status']}")
        imp["status"] = "cancelled"
        return self._ok(200, {"mandate_imports": imp})

    def _process_import(self, imp: dict[str, Any]) -> None:
        """Each valid entry becomes a customer, a bank account and an active mandate; a bad
        one keeps `processing_errors` and no links."""
        imp["status"] = "processing"
        for entry_id in self.index[("mandate_import_entries", "mandate_import")].get(imp["id"], []):
            entry = self.objects["mandate_import_entries"][entry_id]
            data = self.private[entry_id]
            bank = data["bank_account"]
            reference = data["mandate"].get("reference") or data["amendment"].get("original_mandate_reference")
            errors: dict[str, str] = {}
            problems = iban_problems(bank.get("iban") or "")
            if problems:
                errors["bank_account.iban"] = problems[0]
            elif SCHEME_CURRENCY[imp["scheme"]] != COUNTRY_CURRENCY.get(compact_iban(bank["iban"])[:2], "EUR"):
                errors["bank_account.iban"] = f"is not a {imp['scheme']} bank account"
            if reference and reference.casefold() in self.references:
                errors["mandate.reference"] = "must be unique"
            if not errors:
                try:
                    customer = self._new_customer(data["customer"])
                    account = self._new_bank_account(
                        customer["id"], bank["account_holder_name"], bank["iban"], reuse=True
                    )
                    mandate = self._new_mandate(
                        account,
                        imp["scheme"],
                        reference,
                        data["mandate"].get("metadata"),
                        "api",
                        status="active",
                        authorisation_source="paper",
                    )
                except HttpError as exc:
                    for error in json.loads(exc.response.body)["error"]["errors"]:
                        errors[error.get("field") or error.get("reason") or "entry"] = error["message"]
                else:
                    entry["links"].update(
                        customer=customer["id"], customer_bank_account=account["id"], mandate=mandate["id"]
                    )
            if errors:
                entry["processing_errors"] = errors
        imp["status"] = "processed"
