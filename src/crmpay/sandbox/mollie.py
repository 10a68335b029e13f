"""The Mollie API v2, simulated under `/v2`, in the shapes of `shared/fixtures/mollie`.

Rules from `shared/reference/mollie.md`: amounts as strings with exactly the currency's
decimals, HAL lists newest first with `_links.next` on the sandbox's own address, errors
with `status`/`title`/`detail`, idempotent replays answered with `Idempotent-Replayed`.

Lifecycles (on clock advance, in working days):
- a recurring SEPA direct debit is `pending` and cancellable until it is sent to the bank
  one working day after creation, then `paid` three working days later;
- a one-off or first payment is `open` until the customer pays on the checkout page
  (`_links.checkout.href`); paying a `first` payment creates a valid `directdebit`
  mandate. Unpaid, it expires after 12 days.
`POST /__sandbox/mollie/payments/{id}/status` forces failed, paid, expired or a chargeback.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from crmpay.core.money import exponent
from crmpay.core.validation import compact_iban, iban_problems
from crmpay.sandbox._http import HttpError, Request, Response, Router
from crmpay.sandbox._tables import Tables
from crmpay.sandbox.clock import add_working_days, iso

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox

API_KEY = "test_crmpaySandboxKey000000000000"
DOCS = "https://docs.mollie.com/reference"
HAL = "application/hal+json"
MAX_LIMIT = 250
FINAL = {"paid", "canceled", "expired", "failed"}
KINDS = ("customers", "mandates", "payments", "payment-links", "refunds")
PREFIX = {"customers": "cst_", "mandates": "mdt_", "payments": "tr_", "payment-links": "pl_",
          "refunds": "re_"}
RESOURCE = {"customers": "customer", "mandates": "mandate", "payments": "payment",
            "payment-links": "payment-link", "refunds": "refund"}
_VALUE = re.compile(r"^\d+(\.\d+)?$")


class MollieService(Tables):
    name = "mollie"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.reset()

    def reset(self) -> None:
        self.reset_tables(KINDS)
        self.private: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[str, Response]] = {}

    # -- helpers -----------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"{self.sandbox.url}/v2"

    def _link(self, path: str, kind: str = HAL) -> dict[str, str]:
        return {"href": f"{self.base}/{path}", "type": kind}

    def _doc(self, page: str) -> dict[str, str]:
        return {"href": f"{DOCS}/{page}", "type": "text/html"}

    def _now(self) -> str:
        return iso(self.sandbox.clock.now())


    def _error(self, status: int, title: str, detail: str, field: str | None = None) -> HttpError:
        body: dict[str, Any] = {"status": status, "title": title, "detail": detail,
                                "_links": {"documentation": self._doc("handling-errors")}}
        if field:
            body["field"] = field
        return HttpError(Response.json_body(status, body, content_type=HAL))

    def _unprocessable(self, detail: str, field: str | None = None) -> HttpError:
        return self._error(422, "Unprocessable Entity", detail, field)

    def _get(self, kind: str, ident: str) -> dict[str, Any]:
        obj = self.objects[kind].get(ident)
        if obj is None:
            raise self._error(404, "Not Found", f"No {RESOURCE[kind]} exists with token {ident}.")
        return obj

    def _ok(self, status: int, body: Any) -> Response:
        return Response.json_body(status, body, content_type=HAL)

    def fault_response(self, status: int) -> Response:
        if status == 429:
            return self._error(429, "Too Many Requests",
                               "You have exceeded the rate limit. Please slow down your requests.").response
        return self._error(500, "Internal Server Error", "An internal server error occurred.").response

    def credentials(self) -> dict[str, Any]:
        return {"api_key": API_KEY, "environment": "local", "base_url": self.sandbox.url}

    def _guard(self, handler, *, idempotent: bool = False):
        """Authentication, then idempotent replay of POST/PATCH/DELETE by Idempotency-Key."""
        def wrapped(request: Request) -> Response:
            if request.header("Authorization") != f"Bearer {API_KEY}":
                raise self._error(401, "Unauthorized Request", "Missing authentication, or failed to authenticate")
            key = request.header("Idempotency-Key") if idempotent else None
            if not key:
                return handler(request)
            fingerprint = hashlib.sha256(request.method.encode() + request.path.encode() + request.body).hexdigest()
            if key in self.idempotency:
                seen, response = self.idempotency[key]
                if seen != fingerprint:
                    raise self._error(400, "Bad Request", "This Idempotency-Key has already been used.")
                return Response(response.status, response.body, {**response.headers, "Idempotent-Replayed": "true"})
            response = handler(request)
            if response.status < 400:
                self.idempotency[key] = (fingerprint, response)
            return response
        return wrapped

    def _body(self, request: Request) -> dict[str, Any]:
        body = request.json()
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise self._error(400, "Bad Request", "The request body must be a JSON object")
        return body

    def _amount(self, value: Any, field: str = "amount") -> dict[str, str]:
        if not isinstance(value, dict) or not isinstance(value.get("value"), str) or not value.get("currency"):
            raise self._unprocessable("The amount is invalid", f"{field}.value")
        currency = str(value["currency"]).upper()
        try:
            decimals = exponent(currency)
        except Exception:
            raise self._unprocessable(f"The currency '{currency}' is not supported", f"{field}.currency") from None
        text = value["value"]
        places = len(text.partition(".")[2])
        if not _VALUE.match(text) or places != decimals:
            raise self._unprocessable(
                f"The amount contains an invalid value: '{text}' needs exactly {decimals} decimals",
                f"{field}.value")
        return {"value": text, "currency": currency}

    # -- listing -----------------------------------------------------------------------------------
    def _list(self, kind: str, request: Request, path: str, match=lambda obj: True) -> Response:
        try:
            limit = int(request.arg("limit", "50"))
        except ValueError:
            raise self._error(400, "Bad Request", "Invalid limit") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise self._error(400, "Bad Request", f"The limit must be between 1 and {MAX_LIMIT}", "limit")
        newest_first = request.arg("sort", "desc") != "asc"
        ids, positions = self.order[kind], self.position[kind]
        start = request.arg("from")
        if start is not None and start not in positions:
            raise self._error(400, "Bad Request", f"Invalid cursor: {start}", "from")
        step = -1 if newest_first else 1
        i = positions[start] if start else (len(ids) - 1 if newest_first else 0)
        page, following = [], None
        while 0 <= i < len(ids):
            obj = self.objects[kind][ids[i]]
            i += step
            if not match(obj):
                continue
            if len(page) == limit:
                following = obj["id"]
                break
            page.append(obj)
        query = f"limit={limit}" + ("" if newest_first else "&sort=asc")
        links = {
            "self": self._link(f"{path}?{query}" + (f"&from={start}" if start else "")),
            "previous": None,
            "next": self._link(f"{path}?from={following}&{query}") if following else None,
            "documentation": self._doc(f"list-{kind}"),
        }
        plural = kind.replace("-", "_")
        return self._ok(200, {"count": len(page), "_embedded": {plural: page}, "_links": links})

    # -- routes ------------------------------------------------------------------------------------
    def register(self, router: Router) -> None:
        add = lambda method, template, handler, idem=False: router.add(  # noqa: E731
            method, template, self._guard(handler, idempotent=idem), service=self.name)
        add("POST", "/v2/customers", self.create_customer, True)
        add("GET", "/v2/customers", lambda r: self._list("customers", r, "customers"))
        add("GET", "/v2/customers/{id}", lambda r: self._ok(200, self._get("customers", r.params["id"])))
        add("PATCH", "/v2/customers/{id}", self.update_customer, True)
        add("DELETE", "/v2/customers/{id}", self.delete_customer, True)
        add("POST", "/v2/customers/{id}/mandates", self.create_mandate, True)
        add("GET", "/v2/customers/{id}/mandates", self.list_mandates)
        add("GET", "/v2/customers/{cid}/mandates/{id}", self.get_mandate)
        add("DELETE", "/v2/customers/{cid}/mandates/{id}", self.revoke_mandate, True)
        add("POST", "/v2/customers/{id}/payments", self.create_customer_payment, True)
        add("GET", "/v2/customers/{id}/payments", lambda r: self._list(
            "payments", r, f"customers/{r.params['id']}/payments",
            lambda p: p.get("customerId") == r.params["id"]))
        add("POST", "/v2/payments", self.create_payment, True)
        add("GET", "/v2/payments", lambda r: self._list("payments", r, "payments"))
        add("GET", "/v2/payments/{id}", lambda r: self._ok(200, self._get("payments", r.params["id"])))
        add("DELETE", "/v2/payments/{id}", self.cancel_payment, True)
        add("POST", "/v2/payments/{id}/refunds", self.create_refund, True)
        add("GET", "/v2/payments/{id}/refunds", lambda r: self._list(
            "refunds", r, f"payments/{r.params['id']}/refunds", lambda x: x["paymentId"] == r.params["id"]))
        add("GET", "/v2/refunds", lambda r: self._list("refunds", r, "refunds"))
        add("POST", "/v2/payment-links", self.create_payment_link, True)
        add("GET", "/v2/payment-links", lambda r: self._list("payment-links", r, "payment-links"))
        add("GET", "/v2/payment-links/{id}", lambda r: self._ok(200, self._get("payment-links", r.params["id"])))
        router.add("GET", "/__sandbox/mollie/checkout/{id}", self.checkout_page, service="control")
        router.add("POST", "/__sandbox/mollie/checkout/{id}", self.pay, service="control")
        router.add("GET", "/__sandbox/mollie/thanks", lambda r: Response.html(200, "<h1>Thank you</h1>"),
                   service="control")
        router.add("POST", "/__sandbox/mollie/payments/{id}/status", self.force_status, service="control")

    # -- customers ---------------------------------------------------------------------------------
    def create_customer(self, request: Request) -> Response:
        body = self._body(request)
        ident = self.sandbox.ids.next("cst_")
        customer = {
            "resource": "customer", "id": ident, "mode": "test", "name": body.get("name"),
            "email": body.get("email"), "locale": body.get("locale"), "metadata": body.get("metadata"),
            "createdAt": self._now(),
            "_links": {"self": self._link(f"customers/{ident}"),
                       "mandates": self._link(f"customers/{ident}/mandates"),
                       "subscriptions": self._link(f"customers/{ident}/subscriptions"),
                       "payments": self._link(f"customers/{ident}/payments"),
                       "documentation": self._doc("create-customer")},
        }
        return self._ok(201, self._store("customers", customer))

    def update_customer(self, request: Request) -> Response:
        customer = self._get("customers", request.params["id"])
        body = self._body(request)
        for key in ("name", "email", "locale", "metadata"):
            if key in body:
                customer[key] = body[key]
        return self._ok(200, customer)

    def delete_customer(self, request: Request) -> Response:
        customer = self._get("customers", request.params["id"])
        for mandate in self.objects["mandates"].values():
            if self.private[mandate["id"]]["customer"] == customer["id"]:
                mandate["status"] = "invalid"
        del self.objects["customers"][customer["id"]]
        return Response.empty(204)

    # -- mandates -----------------------------------------------------------------------------------
    def create_mandate(self, request: Request) -> Response:
        customer = self._get("customers", request.params["id"])
        body = self._body(request)
        if body.get("method") != "directdebit":
            raise self._unprocessable("Only the directdebit method can be used for a mandate", "method")
        if not body.get("consumerName"):
            raise self._unprocessable("The consumer name is missing", "consumerName")
        account = body.get("consumerAccount") or ""
        if iban_problems(account):
            raise self._unprocessable("The consumer account is invalid", "consumerAccount")
        if body.get("signatureDate"):
            try:
                signed = date.fromisoformat(body["signatureDate"])
            except ValueError:
                raise self._unprocessable("The signature date is invalid", "signatureDate") from None
            if signed > self.sandbox.clock.today():
                raise self._unprocessable("The signature date cannot be in the future", "signatureDate")
        reference = body.get("mandateReference")
        if reference and any((m.get("mandateReference") or "").casefold() == reference.casefold()
                             for m in self.objects["mandates"].values()):
            raise self._unprocessable("The mandate reference is already in use", "mandateReference")
        mandate = self._new_mandate(customer["id"], body["consumerName"], account, body.get("consumerBic"),
                                    body.get("signatureDate"), reference)
        return self._ok(201, mandate)

    def _new_mandate(self, customer_id: str, name: str, account: str, bic: str | None,
                     signed: str | None, reference: str | None) -> dict[str, Any]:
        ident = self.sandbox.ids.next("mdt_")
        mandate = {
            "resource": "mandate", "id": ident, "mode": "test", "status": "valid", "method": "directdebit",
            "details": {"consumerName": name, "consumerAccount": compact_iban(account),
                        "consumerBic": (bic or "").upper() or None},
            "mandateReference": reference, "signatureDate": signed or self.sandbox.clock.today().isoformat(),
            "createdAt": self._now(),
            "_links": {"self": self._link(f"customers/{customer_id}/mandates/{ident}"),
                       "customer": self._link(f"customers/{customer_id}"),
                       "documentation": self._doc("get-mandate")},
        }
        self.private[ident] = {"customer": customer_id}
        return self._store("mandates", mandate)

    def _mandate_of(self, request: Request) -> dict[str, Any]:
        mandate = self._get("mandates", request.params["id"])
        if self.private[mandate["id"]]["customer"] != request.params["cid"]:
            raise self._error(404, "Not Found", f"No mandate exists with token {mandate['id']}.")
        return mandate

    def get_mandate(self, request: Request) -> Response:
        return self._ok(200, self._mandate_of(request))

    def list_mandates(self, request: Request) -> Response:
        cid = request.params["id"]
        self._get("customers", cid)
        return self._list("mandates", request, f"customers/{cid}/mandates",
                          lambda m: self.private[m["id"]]["customer"] == cid)

    def revoke_mandate(self, request: Request) -> Response:
        mandate = self._mandate_of(request)
        mandate["status"] = "invalid"
        return Response.empty(204)

    # -- payments ------------------------------------------------------------------------------------
    def create_customer_payment(self, request: Request) -> Response:
        return self._create_payment(request, {**self._body(request), "customerId": request.params["id"]})

    def create_payment(self, request: Request) -> Response:
        return self._create_payment(request, self._body(request))

    def _create_payment(self, request: Request, body: dict[str, Any]) -> Response:
        amount = self._amount(body.get("amount"))
        description = body.get("description")
        if not description:
            raise self._unprocessable("The description is invalid", "description")
        if len(description) > 255:
            raise self._unprocessable("The description can be at most 255 characters", "description")
        sequence = body.get("sequenceType", "oneoff")
        if sequence not in ("oneoff", "first", "recurring"):
            raise self._unprocessable("The sequence type is invalid", "sequenceType")
        customer_id = body.get("customerId")
        if sequence != "oneoff" and not customer_id:
            raise self._unprocessable("A customer is required for this sequence type", "customerId")
        if customer_id:
            self._get("customers", customer_id)
        mandate_id = body.get("mandateId")
        method = body.get("method")
        if sequence == "recurring":
            valid = [m for m in self.objects["mandates"].values()
                     if self.private[m["id"]]["customer"] == customer_id and m["status"] == "valid"]
            if mandate_id:
                mandate = self.objects["mandates"].get(mandate_id)
                if mandate is None or self.private[mandate_id]["customer"] != customer_id:
                    raise self._unprocessable("The mandate does not belong to this customer", "mandateId")
                if mandate["status"] != "valid":
                    raise self._unprocessable("The mandate is not valid", "mandateId")
            elif not valid:
                raise self._unprocessable("The customer has no valid mandates", "customerId")
            else:
                mandate_id = valid[0]["id"]
            method = "directdebit"
            if amount["currency"] != "EUR":
                raise self._unprocessable("SEPA Direct Debit payments must be in EUR", "amount.currency")
        elif not body.get("redirectUrl"):
            raise self._unprocessable("The redirect URL is missing", "redirectUrl")
        ident = self.sandbox.ids.next("tr_")
        now = self.sandbox.clock.now()
        payment = {
            "resource": "payment", "id": ident, "mode": "test", "createdAt": iso(now),
            "amount": amount, "description": description, "method": method,
            "metadata": body.get("metadata"), "status": "pending" if sequence == "recurring" else "open",
            "isCancelable": sequence == "recurring",
            "expiresAt": None if sequence == "recurring" else iso(now + timedelta(days=12)),
            "details": None, "profileId": "pfl_crmpaysandbox", "customerId": customer_id,
            "mandateId": mandate_id, "sequenceType": sequence, "redirectUrl": body.get("redirectUrl"),
            "cancelUrl": body.get("cancelUrl"), "webhookUrl": body.get("webhookUrl"),
            "captureDelay": None, "captureMode": None, "captureBefore": None, "amountCaptured": None,
            "amountChargedBack": None, "orderId": None, "settlementId": None, "settlementAmount": None,
            "subscriptionId": None, "routing": None,
            "_links": {"self": self._link(f"payments/{ident}"),
                       "documentation": self._doc("create-payment")},
        }
        if sequence != "recurring":
            payment["_links"]["checkout"] = {"href": f"{self.sandbox.url}/__sandbox/mollie/checkout/{ident}",
                                             "type": "text/html"}
        if customer_id:
            payment["_links"]["customer"] = self._link(f"customers/{customer_id}")
        if mandate_id:
            payment["_links"]["mandate"] = self._link(f"customers/{customer_id}/mandates/{mandate_id}")
            mandate = self.objects["mandates"][mandate_id]
            payment["details"] = dict(mandate["details"])
        today = self.sandbox.clock.today()
        sent = add_working_days(today, 1)
        self.private[ident] = {"sent_on": sent, "paid_on": add_working_days(sent, 3)}
        return self._ok(201, self._store("payments", payment))

    def _finish(self, payment: dict[str, Any], status: str) -> None:
        payment["status"] = status
        payment.pop("isCancelable", None)
        stamp = {"paid": "paidAt", "canceled": "canceledAt", "expired": "expiredAt", "failed": "failedAt"}[status]
        payment[stamp] = self._now()
        payment["_links"].pop("checkout", None)

    def cancel_payment(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        if not payment.get("isCancelable"):
            raise self._unprocessable("The payment cannot be cancelled")
        self._finish(payment, "canceled")
        return self._ok(200, payment)

    def checkout_page(self, request: Request) -> Response:
        payment = self._payable(request.params["id"])
        first = payment["sequenceType"] == "first"
        fields = ('<label>Account holder <input name="consumerName"></label>'
                  '<label>IBAN <input name="consumerAccount"></label>') if first else ""
        amount = payment["amount"]
        return Response.html(200, f"""<!doctype html><title>Pay</title>
<h1>Pay {html.escape(amount['value'])} {html.escape(amount['currency'])}</h1>
<p>{html.escape(payment['description'])}</p><form method="post">{fields}<button>Pay</button></form>""")

    def _payable(self, ident: str) -> dict[str, Any]:
        payment = self.objects["payments"].get(ident)
        if payment is None:
            raise HttpError(Response.html(404, "<h1>Unknown payment</h1>"))
        if payment["status"] != "open":
            raise HttpError(Response.html(409, f"<h1>This payment is {payment['status']}</h1>"))
        return payment

    def pay(self, request: Request) -> Response:
        payment = self._payable(request.params["id"])
        form = request.form()
        if payment["sequenceType"] == "first":
            account = form.get("consumerAccount") or "NL55INGB0000000000"
            if iban_problems(account):
                return Response.html(422, "<h1>Please check the IBAN</h1>")
            mandate = self._new_mandate(payment["customerId"], form.get("consumerName") or "Sandbox Customer",
                                        account, None, None, None)
            payment["mandateId"] = mandate["id"]
            payment["method"] = "directdebit"
            payment["details"] = dict(mandate["details"])
            payment["_links"]["mandate"] = self._link(f"customers/{payment['customerId']}/mandates/{mandate['id']}")
        self._finish(payment, "paid")
        return Response.html(200, "<h1>Payment received</h1><p>You can close this page.</p>")

    def force_status(self, request: Request) -> Response:
        payment = self.objects["payments"].get(request.params["id"])
        if payment is None:
            return Response.json_body(404, {"error": "unknown payment"})
        wanted = (request.json() or {}).get("status")
        if wanted == "charged_back":
            if payment["status"] != "paid":
                self._finish(payment, "paid")
            payment["amountChargedBack"] = dict(payment["amount"])
        elif wanted in ("paid", "failed", "expired", "canceled"):
            self._finish(payment, wanted)
        else:
            return Response.json_body(400, {"error": "status must be paid, failed, expired, canceled or charged_back"})
        return Response.json_body(200, payment)

    # -- payment links and refunds ----------------------------------------------------------------------
    def create_payment_link(self, request: Request) -> Response:
        body = self._body(request)
        if not body.get("description"):
            raise self._unprocessable("The description is invalid", "description")
        amount = self._amount(body["amount"]) if body.get("amount") is not None else None
        ident = self.sandbox.ids.next("pl_")
        link = {"resource": "payment-link", "id": ident, "mode": "test", "profileId": "pfl_crmpaysandbox",
                "createdAt": self._now(), "paidAt": None, "updatedAt": None, "expiresAt": body.get("expiresAt"),
                "amount": amount, "description": body["description"], "redirectUrl": body.get("redirectUrl"),
                "cancelUrl": body.get("cancelUrl"), "webhookUrl": body.get("webhookUrl"),
                "_links": {"self": self._link(f"payment-links/{ident}"),
                           "paymentLink": {"href": f"{self.sandbox.url}/__sandbox/mollie/link/{ident}",
                                           "type": "text/html"},
                           "documentation": self._doc("create-payment-link")}}
        return self._ok(201, self._store("payment-links", link))

    def create_refund(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        if payment["status"] != "paid":
            raise self._unprocessable("The payment cannot be refunded: it is not paid")
        body = self._body(request)
        amount = self._amount(body["amount"]) if body.get("amount") else dict(payment["amount"])
        ident = self.sandbox.ids.next("re_")
        refund = {"resource": "refund", "id": ident, "mode": "test", "amount": amount, "status": "pending",
                  "createdAt": self._now(), "description": body.get("description") or "",
                  "metadata": body.get("metadata"), "paymentId": payment["id"], "settlementAmount": None,
                  "_links": {"self": self._link(f"payments/{payment['id']}/refunds/{ident}"),
                             "payment": self._link(f"payments/{payment['id']}"),
                             "documentation": self._doc("create-refund")}}
        return self._ok(201, self._store("refunds", refund))

    # -- the clock --------------------------------------------------------------------------------------
    def advance(self) -> None:
        today = self.sandbox.clock.today()
        now = self._now()
        for payment in self.objects["payments"].values():
            if payment["status"] in FINAL:
                continue
            private = self.private[payment["id"]]
            if payment["sequenceType"] == "recurring":
                if today >= private["sent_on"]:
                    payment["isCancelable"] = False
                if today >= private["paid_on"]:
                    self._finish(payment, "paid")
            elif payment["expiresAt"] and now >= payment["expiresAt"]:
                self._finish(payment, "expired")

    def stats(self) -> dict[str, Any]:
        return {"mollie_objects": {k: len(v) for k, v in self.objects.items()}}
