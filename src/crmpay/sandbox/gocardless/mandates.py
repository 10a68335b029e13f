"""GoCardless mandates, simulated: create, cancel, reinstate, list; an ended mandate cancels its pending payments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crmpay.core.calendar import add_working_days, next_working_day
from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.gocardless.constants import CURRENCY_SCHEME, ENDED_MANDATE, SCHEME_CURRENCY
from crmpay.sandbox.gocardless.payments import _Payments


class _Mandates(_Payments):
    def list_mandates(self, request: Request) -> Response:
        index, tests = self._indexed("mandates", request, ("customer_bank_account", "customer"))
        statuses, reference, scheme = self._statuses(request), request.arg("reference"), request.arg("scheme")
        if statuses:
            tests.append(lambda m: m["status"] in statuses)
        if reference:
            tests.append(lambda m: m["reference"] == reference)
        if scheme:
            tests.append(lambda m: m["scheme"] == scheme)
        return self._list("mandates", request, self._all(tests), index=index, render=self._mandate_out)

    def create_mandate(self, request: Request) -> Response:
        self._replay(request, "mandates")
        data = self._body(request, "mandates")
        account_id = (data.get("links") or {}).get("customer_bank_account")
        account = self.objects["customer_bank_accounts"].get(account_id or "")
        if account is None:
            raise self._validation("links.customer_bank_account", "must be an existing bank account", "mandates")
        if not account["enabled"]:
            raise self._invalid_state("bank_account_disabled", "The bank account is disabled")
        scheme = data.get("scheme") or CURRENCY_SCHEME.get(account["currency"], "sepa_core")
        if scheme not in SCHEME_CURRENCY:
            raise self._validation("scheme", "is not a supported scheme", "mandates")
        if SCHEME_CURRENCY[scheme] != account["currency"]:
            raise self._validation("scheme", f"is not available for a {account['currency']} bank account", "mandates")
        mandate = self._new_mandate(account, scheme, data.get("reference"), data.get("metadata"), "api")
        self._remember(request, "mandates", mandate["id"])
        return self._ok(201, {"mandates": self._mandate_out(mandate)})

    def _new_mandate(
        self,
        account: dict[str, Any],
        scheme: str,
        reference: str | None,
        metadata: Any,
        origin: str,
        status: str = "pending_submission",
        authorisation_source: str = "web",
    ) -> dict[str, Any]:
        if reference is not None and reference.casefold() in self.references:
            raise self._validation("reference", "must be unique", "mandates")
        meta = self._metadata({"metadata": metadata})
        ident = self._new_id("mandates")
        mandate = {
            "id": ident,
            "created_at": self._now(),
            "reference": reference or f"CRMPAY-{ident[2:]}",
            "scheme": scheme,
            "status": status,
            "authorisation_source": authorisation_source,
            "consent_parameters": None,
            "consent_type": None,
            "funds_settlement": "managed",
            "mandate_type": "bank_debit",
            "metadata": meta,
            "next_possible_charge_date": None,
            "next_possible_standard_ach_charge_date": None,
            "payments_require_approval": False,
            "verified_at": None,
            "links": {
                "creditor": self.creditor["id"],
                "customer": account["links"]["customer"],
                "customer_bank_account": account["id"],
                "new_mandate": None,
            },
        }
        submit_on = next_working_day(self._today() + timedelta(days=1))
        self.private[ident] = {"submit_on": submit_on, "active_on": add_working_days(submit_on, 2)}
        self._store("mandates", mandate)
        self._refresh_charge_date(mandate)
        links = {"mandate": ident}
        self._event("mandates", "created", links, origin=origin, description="Mandate created", scheme=scheme)
        if status == "active":
            self._event(
                "mandates", "active", links, scheme=scheme, description="The mandate has been set up successfully"
            )
        self._schedule_mandate(mandate)
        return mandate

    def _set_mandate(
        self,
        mandate: dict[str, Any],
        status: str,
        *,
        cause: str | None = None,
        description: str = "",
        origin: str = "gocardless",
        **details: Any,
    ) -> None:
        mandate["status"] = status
        self._refresh_charge_date(mandate)
        action = {"pending_submission": "reinstated"}.get(status, status)
        self._event(
            "mandates",
            action,
            {"mandate": mandate["id"]},
            cause=cause,
            origin=origin,
            description=description or f"Mandate {status.replace('_', ' ')}",
            scheme=mandate["scheme"],
            **details,
        )
        if status in ENDED_MANDATE:
            for payment_id in self.index[("payments", "mandate")].get(mandate["id"], []):
                payment = self.objects["payments"][payment_id]
                if payment["status"] in ("pending_submission", "pending_customer_approval"):
                    self._set_payment(
                        payment, "cancelled", cause=f"mandate_{status}", description=f"The mandate was {status}"
                    )
        self._schedule_mandate(mandate)

    def cancel_mandate(self, request: Request) -> Response:
        mandate = self._get("mandates", request.params["id"])
        if mandate["status"] in ENDED_MANDATE:
            raise self._invalid_state("mandate_already_cancelled", f"Mandate is already {mandate['status']}")
        self._set_mandate(mandate, "cancelled", origin="api", description="The mandate was cancelled at your request")
        return self._ok(200, {"mandates": self._mandate_out(mandate)})

    def reinstate_mandate(self, request: Request) -> Response:
        mandate = self._get("mandates", request.params["id"])
        if mandate["status"] not in ("cancelled", "expired"):
            raise self._invalid_state("mandate_not_inactive", "Mandate is already active or being submitted")
        submit_on = next_working_day(self._today() + timedelta(days=1))
        self.private[mandate["id"]].update(submit_on=submit_on, active_on=add_working_days(submit_on, 2))
        self._set_mandate(mandate, "pending_submission", origin="api", description="Mandate reinstated")
        return self._ok(200, {"mandates": self._mandate_out(mandate)})
