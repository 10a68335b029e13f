"""The GoCardless creditor, simulated: the sandbox's one creditor, its scheme identifiers and verification status."""

from __future__ import annotations

from typing import Any

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.gocardless.constants import VERIFICATION_STATUSES
from crmpay.sandbox.gocardless.wire import _Wire


class _Creditor(_Wire):
    def _new_creditor(self) -> dict[str, Any]:
        now = self._now()
        address = {
            "address_line1": "1 rue de la Sandbox",
            "address_line2": None,
            "address_line3": None,
            "city": "Paris",
            "region": None,
            "postal_code": "75001",
            "country_code": "FR",
        }
        return {
            "id": self._new_id("creditors"),
            "created_at": now,
            "name": "crmpay sandbox creditor",
            **address,
            "bank_reference_prefix": "CRMPAY",
            "can_create_refunds": True,
            "creditor_type": "company",
            "custom_payment_pages_enabled": False,
            "fx_payout_currency": None,
            "logo_url": None,
            "mandate_imports_enabled": True,
            "merchant_responsible_for_notifications": True,
            "verification_status": "successful",
            "links": {
                f"default_{c}_payout_account": None for c in ("aud", "cad", "dkk", "eur", "gbp", "nzd", "sek", "usd")
            },
            "scheme_identifiers": [
                {
                    "id": "SU0000000001",
                    "name": "crmpay sandbox creditor",
                    "scheme": "sepa_core",
                    "reference": "FR72ZZZ123456",
                    "status": "active",
                    "currency": "EUR",
                    "minimum_advance_notice": 3,
                    "can_specify_mandate_reference": True,
                    **address,
                    "email": "creditor@sandbox.invalid",
                    "phone_number": None,
                    "created_at": now,
                },
                {
                    "id": "SU0000000002",
                    "name": "crmpay sandbox creditor",
                    "scheme": "bacs",
                    "reference": "420042",
                    "status": "active",
                    "currency": "GBP",
                    "minimum_advance_notice": 3,
                    "can_specify_mandate_reference": True,
                    **address,
                    "email": "creditor@sandbox.invalid",
                    "phone_number": None,
                    "created_at": now,
                },
            ],
        }

    def set_creditor(self, request: Request) -> Response:
        body = request.json() or {}
        if not isinstance(body, dict):
            return Response.json_body(400, {"error": "expected a JSON object"})
        unknown = set(body) - {"verification_status", "mandate_imports_enabled", "can_create_refunds", "name"}
        if unknown:
            return Response.json_body(400, {"error": f"unknown creditor keys: {sorted(unknown)}"})
        if "verification_status" in body and body["verification_status"] not in VERIFICATION_STATUSES:
            return Response.json_body(400, {"error": f"verification_status must be one of {VERIFICATION_STATUSES}"})
        for flag in ("mandate_imports_enabled", "can_create_refunds"):
            if flag in body and not isinstance(body[flag], bool):
                return Response.json_body(400, {"error": f"{flag} must be true or false"})
        self.creditor.update(body)
        return Response.json_body(200, {"creditors": self.creditor})
