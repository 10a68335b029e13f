"""GoCardless billing request flows, simulated: the hosted page where a customer fulfils a billing request."""

from __future__ import annotations

import html
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from crmpay.core.money import exponent
from crmpay.core.validation import iban_problems
from crmpay.sandbox._http import HttpError, Request, Response
from crmpay.sandbox.clock import iso
from crmpay.sandbox.gocardless.bank_accounts import _BankAccounts
from crmpay.sandbox.gocardless.billing_requests import _BillingRequests
from crmpay.sandbox.gocardless.constants import PREFILL_KEYS
from crmpay.sandbox.gocardless.customers import _Customers


class _Flows(_BillingRequests, _Customers, _BankAccounts):
    def create_flow(self, request: Request) -> Response:
        self._replay(request, "billing_request_flows")
        data = self._body(request, "billing_request_flows")
        br = self.objects["billing_requests"].get((data.get("links") or {}).get("billing_request") or "")
        if br is None:
            raise self._validation(
                "links.billing_request", "must be an existing billing request", "billing_request_flows"
            )
        if br["status"] == "cancelled":
            raise self._invalid_state("billing_request_cancelled", "This billing request is cancelled")
        ident = self._new_id("billing_request_flows")
        now = self.sandbox.clock.now()
        prefilled = data.get("prefilled_customer") or {}
        if not isinstance(prefilled, dict):
            raise self._validation("prefilled_customer", "must be an object", "billing_request_flows")
        flow = {
            "id": ident,
            "created_at": iso(now),
            "expires_at": iso(now + timedelta(days=7)),
            "authorisation_url": f"{self.sandbox.url}/__sandbox/gocardless/flow/{ident}",
            "auto_fulfil": True,
            "customer_details_captured": False,
            "exit_uri": data.get("exit_uri"),
            "redirect_uri": data.get("redirect_uri"),
            "language": data.get("language") or "en",
            "links": {"billing_request": br["id"]},
            "lock_bank_account": bool(data.get("lock_bank_account")),
            "lock_currency": bool(data.get("lock_currency")),
            "lock_customer_details": bool(data.get("lock_customer_details")),
            "prefilled_bank_account": data.get("prefilled_bank_account") or {"account_type": None},
            "prefilled_customer": {
                **dict.fromkeys(PREFILL_KEYS),
                **{k: v for k, v in prefilled.items() if k in PREFILL_KEYS},
            },
            "session_token": None,
            "show_redirect_buttons": False,
            "show_success_redirect_button": False,
            "skip_success_screen": False,
        }
        self._store("billing_request_flows", flow)
        self._remember(request, "billing_request_flows", ident)
        self._event(
            "billing_requests",
            "flow_created",
            {"billing_request": br["id"], "billing_request_flow": ident},
            origin="api",
            description="A billing request flow was created",
        )
        return self._ok(201, {"billing_request_flows": flow})

    def _flow(self, ident: str) -> tuple[dict[str, Any], dict[str, Any]]:
        flow = self.objects["billing_request_flows"].get(ident)
        if flow is None:
            raise HttpError(Response.html(404, "<h1>This link is not valid</h1>"))
        br = self.objects["billing_requests"][flow["links"]["billing_request"]]
        if br["status"] == "fulfilled":
            raise HttpError(Response.html(409, "<h1>This Direct Debit is already set up</h1>"))
        if br["status"] == "cancelled" or self._now() > flow["expires_at"]:
            raise HttpError(Response.html(410, "<h1>This link has expired</h1>"))
        return flow, br

    def flow_page(self, request: Request) -> Response:
        flow, br = self._flow(request.params["id"])
        pr = br["payment_request"]
        pay = ""
        if pr:
            shown = Decimal(pr["amount"]).scaleb(-exponent(pr["currency"]))
            pay = f"<p>First payment: {html.escape(str(shown))} {html.escape(pr['currency'])}</p>"
        prefilled = flow["prefilled_customer"]
        customer = self.objects["customers"].get(br["links"]["customer"] or "") or {}

        def value(key: str) -> str:
            return html.escape(prefilled.get(key) or customer.get(key) or "", quote=True)

        return Response.html(
            200,
            f"""<!doctype html><html lang="{html.escape(flow["language"])}">
<meta charset="utf-8"><title>Set up a Direct Debit</title>
<h1>Set up a Direct Debit with {html.escape(self.creditor["name"])}</h1>{pay}
<form method="post">
<label>Email <input name="email" value="{value("email")}"></label>
<label>Given name <input name="given_name" value="{value("given_name")}"></label>
<label>Family name <input name="family_name" value="{value("family_name")}"></label>
<label>Account holder <input name="account_holder_name"></label>
<label>IBAN <input name="iban"></label>
<button>Set up the Direct Debit</button></form></html>""",
        )

    def complete_flow(self, request: Request) -> Response:
        """The customer submits the page: customer (if the request has none), bank account,
        mandate and the first payment if one was asked for; the request is fulfilled. The
        `fulfilled` event comes first, then the events of what fulfilling created."""
        flow, br = self._flow(request.params["id"])
        form = {k: v.strip() for k, v in request.form().items()}
        prefilled = flow["prefilled_customer"]
        customer_id = br["links"]["customer"]
        details = {k: form.get(k) or prefilled.get(k) for k in ("email", "given_name", "family_name")}
        holder = form.get("account_holder_name") or " ".join(
            filter(None, [details["given_name"], details["family_name"]])
        )
        iban = form.get("iban") or ""
        problems = [] if iban else ["IBAN is required"]
        if customer_id is None and not (details["email"] or details["family_name"]):
            problems.append("Email is required")
        if not holder:
            problems.append("Account holder is required")
        problems += iban_problems(iban) if iban else []
        if problems:
            items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            return Response.html(422, f"<h1>Please check your details</h1><ul>{items}</ul>")
        self.deferred = []
        try:
            if customer_id is None:
                customer_id = self._new_customer({**{k: prefilled.get(k) for k in PREFILL_KEYS}, **details})["id"]
            account = self._new_bank_account(customer_id, holder, iban, reuse=True)
            mandate = payment = None
            if br["mandate_request"]:
                mandate = self._new_mandate(
                    account, br["mandate_request"]["scheme"], None, br["mandate_request"]["metadata"], "payer"
                )
            if br["payment_request"] and mandate is not None:
                pr = br["payment_request"]
                payment = self._new_payment(
                    mandate,
                    pr["amount"],
                    pr["currency"],
                    date.fromisoformat(mandate["next_possible_charge_date"]),
                    {"description": pr["description"], "metadata": pr["metadata"], "reference": pr["reference"]},
                    origin="payer",
                )
        finally:
            held, self.deferred = self.deferred, None
        self._relink("billing_requests", "customer", br, customer_id)
        br["links"]["customer_bank_account"] = account["id"]
        br["resources"]["customer"] = self.objects["customers"][customer_id]
        br["resources"]["customer_bank_account"] = account
        if mandate is not None:
            br["links"]["mandate_request_mandate"] = mandate["id"]
            br["mandate_request"]["links"]["mandate"] = mandate["id"]
        if payment is not None:
            br["links"]["payment_request_payment"] = payment["id"]
            br["payment_request"]["links"]["payment"] = payment["id"]
        br["status"] = "fulfilled"
        for action in br["actions"]:
            action["status"] = "completed"
        flow["customer_details_captured"] = True
        self._event(
            "billing_requests",
            "fulfilled",
            {
                "billing_request": br["id"],
                "billing_request_flow": flow["id"],
                "customer": customer_id,
                "mandate_request_mandate": mandate and mandate["id"],
                "payment_request_payment": payment and payment["id"],
            },
            origin="payer",
            description="The billing request was fulfilled",
        )
        for event in held:
            self._emit(event)
        return Response.html(200, "<h1>Your Direct Debit is set up</h1><p>You can close this page.</p>")
