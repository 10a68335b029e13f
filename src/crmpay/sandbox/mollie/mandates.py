"""Mollie SEPA direct debit mandates under a customer, simulated: create, get, list, revoke."""

from __future__ import annotations

from datetime import date
from typing import Any

from crmpay.core.validation import bic_problems, compact_iban, iban_problems
from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.mollie.listing import _Listing


class _Mandates(_Listing):
    def add_mandate(self, customer_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a mandate as `POST /v2/customers/{id}/mandates` does."""
        self._get("customers", customer_id)
        if body.get("method") != "directdebit":
            raise self._unprocessable("The method is invalid: only directdebit mandates can be created", "method")
        name = body.get("consumerName")
        if not isinstance(name, str) or not name.strip():
            raise self._unprocessable("The consumer name is missing", "consumerName")
        account = body.get("consumerAccount")
        if not isinstance(account, str) or iban_problems(account):
            raise self._unprocessable("The consumer account is invalid", "consumerAccount")
        bic = body.get("consumerBic")
        if bic is not None and (not isinstance(bic, str) or bic_problems(bic)):
            raise self._unprocessable("The consumer BIC is invalid", "consumerBic")
        signed = body.get("signatureDate")
        if signed is not None:
            try:
                day = date.fromisoformat(signed)
            except (TypeError, ValueError):
                raise self._unprocessable("The signature date is invalid: use YYYY-MM-DD", "signatureDate") from None
            if day > self.sandbox.clock.today():
                raise self._unprocessable("The signature date cannot be in the future", "signatureDate")
        reference = body.get("mandateReference")
        if reference is not None:
            if not isinstance(reference, str) or not 0 < len(reference) <= 35:
                raise self._unprocessable("The mandate reference is invalid", "mandateReference")
            if reference.casefold() in self.references:
                raise self._unprocessable("The mandate reference is already in use", "mandateReference")
        return self._new_mandate(customer_id, name, account, bic, signed, reference)

    def _new_mandate(
        self, customer_id: str, name: str, account: str, bic: str | None, signed: str | None, reference: str | None
    ) -> dict[str, Any]:
        ident = self.sandbox.ids.next("mdt_")
        mandate = {
            "resource": "mandate",
            "id": ident,
            "mode": "test",
            "status": "valid",
            "method": "directdebit",
            "details": {
                "consumerName": name,
                "consumerAccount": compact_iban(account),
                "consumerBic": bic.strip().upper() if bic else None,
            },
            "mandateReference": reference,
            "signatureDate": signed or self.sandbox.clock.today().isoformat(),
            "createdAt": self._now(),
            "_links": {
                "self": self._link(f"customers/{customer_id}/mandates/{ident}"),
                "customer": self._link(f"customers/{customer_id}"),
                "documentation": self._doc("reference/v2/mandates-api/get-mandate"),
            },
        }
        self.owner[ident] = customer_id
        if reference:
            self.references[reference.casefold()] = ident
        return self._store("mandates", mandate, customer_id)

    def create_mandate(self, request: Request) -> Response:
        return self._ok(201, self.add_mandate(request.params["id"], self._body(request)))

    def _mandate_of(self, request: Request) -> dict[str, Any]:
        self._get("customers", request.params["cid"])
        mandate = self.objects["mandates"].get(request.params["id"])
        if mandate is None or self.owner.get(mandate["id"]) != request.params["cid"]:
            raise self._not_found("mandates", request.params["id"])
        return mandate

    def list_mandates(self, request: Request) -> Response:
        cid = request.params["id"]
        self._get("customers", cid)
        return self._list(request, "mandates", f"customers/{cid}/mandates", self._children("mandates", cid))

    def revoke_mandate(self, request: Request) -> Response:
        self._mandate_of(request)["status"] = "invalid"
        return Response.empty(204)
