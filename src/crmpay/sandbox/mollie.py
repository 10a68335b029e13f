"""The Mollie API v2, simulated under `/v2`, in the shapes of Mollie's own fixtures (`tests/fixtures/mollie`).

Wire rules (from the Mollie API reference; sources in `docs/fidelity.md`):
- `Authorization: Bearer <key>` with the key `credentials()` gives, else 401;
- amounts are strings with exactly the currency's decimals (`"16.1"` is a 422 on
  `amount.value`);
- HAL lists, newest first unless `sort=asc`, cursor `from` (an object id), `limit` 1-250,
  `_links.next`/`previous` written on the sandbox's own address, `next` null on the last page;
- errors `{status, title, detail, field?, _links}` as `application/hal+json`;
- `Idempotency-Key` on POST/PATCH/DELETE: the same key with the same body replays the first
  answer with `Idempotent-Replayed: true`; with another body it is a 400.
Every key of the fixture bodies is written, `null` where the sandbox has no value.

Lifecycles (on clock advance, in working days: weekends and TARGET2 holidays skipped):
- a recurring SEPA direct debit is `pending` and `isCancelable` until it is sent to the
  bank, one working day after creation; its `details.dueDate` (the debit date) is the
  working day after that, and it turns `paid` three working days after it was sent;
- a one-off or first payment is `open` until the customer pays on the checkout page
  (`_links.checkout.href`, `GET` shows a form, `POST` pays, or cancels with
  `action=cancel`); paying a `first` payment creates a valid `directdebit` mandate for its
  customer from the form's `consumerName`/`consumerAccount`. Unpaid, it expires 12 days
  after creation (`expiresAt`);
- a payment link's page (`_links.paymentLink.href`) creates and pays a payment;
- a refund is `pending`, then `refunded` one working day later.
`POST /__sandbox/mollie/payments/{id}/status` `{"status": "paid"|"failed"|"expired"|
"canceled"|"charged_back"}` forces an outcome.

Objects are kept in creation order with a position map, for every listing and for the
listings under a customer or a payment, so a page costs O(page) even with 100,000 payments.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from crmpay.core.errors import UsageError
from crmpay.core.money import exponent
from crmpay.core.validation import bic_problems, compact_iban, email_problems, iban_problems
from crmpay.sandbox._http import HttpError, Request, Response, Router
from crmpay.sandbox._tables import Tables
from crmpay.sandbox.clock import add_working_days, iso

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox

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
KINDS = ("customers", "mandates", "payments", "payment-links", "refunds")
RESOURCE = {
    "customers": "customer",
    "mandates": "mandate",
    "payments": "payment",
    "payment-links": "payment-link",
    "refunds": "refund",
}
NOUN = {
    "customers": "customer",
    "mandates": "mandate",
    "payments": "payment",
    "payment-links": "payment link",
    "refunds": "refund",
}
DOC_PAGE = {
    "customers": "customers-api",
    "mandates": "mandates-api",
    "payments": "payments-api",
    "payment-links": "payment-links-api",
    "refunds": "refunds-api",
}
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
_UNREACHABLE = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|::1|\[::1\])$", re.IGNORECASE)


class MollieService(Tables):
    name = "mollie"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.reset()

    def reset(self) -> None:
        self.reset_tables(KINDS)
        # listings under a parent: (kind, parent id) -> (ids in creation order, positions)
        self.children: dict[tuple[str, str], tuple[list[str], dict[str, int]]] = {}
        self.owner: dict[str, str] = {}  # mandate id -> customer id
        self.references: dict[str, str] = {}  # mandate reference (casefolded) -> mandate id
        self.private: dict[str, dict[str, Any]] = {}  # lifecycle dates, never on the wire
        self.live: dict[str, None] = {}  # payments and refunds not yet final, in creation order
        self.idempotency: dict[str, tuple[str, Response]] = {}

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"{self.sandbox.url}/v2"

    def _link(self, path: str, kind: str = HAL) -> dict[str, str]:
        return {"href": f"{self.base}/{path}", "type": kind}

    def _page(self, path: str) -> dict[str, str]:
        return {"href": f"{self.sandbox.url}/__sandbox/mollie/{path}", "type": "text/html"}

    @staticmethod
    def _doc(page: str) -> dict[str, str]:
        return {"href": f"{DOCS}/{page}", "type": "text/html"}

    def _now(self) -> str:
        return iso(self.sandbox.clock.now())

    def _error(
        self, status: int, title: str, detail: str, field: str | None = None, doc: str = "guides/handling-errors"
    ) -> HttpError:
        body: dict[str, Any] = {"status": status, "title": title, "detail": detail}
        if field:
            body["field"] = field
        body["_links"] = {"documentation": self._doc(doc)}
        return HttpError(Response.json_body(status, body, content_type=HAL))

    def _bad(self, detail: str, field: str | None = None) -> HttpError:
        return self._error(400, "Bad Request", detail, field)

    def _unprocessable(self, detail: str, field: str | None = None) -> HttpError:
        return self._error(422, "Unprocessable Entity", detail, field)

    def _not_found(self, kind: str, ident: str) -> HttpError:
        return self._error(404, "Not Found", f"No {NOUN[kind]} exists with token {ident}.")

    def _get(self, kind: str, ident: str) -> dict[str, Any]:
        obj = self.objects[kind].get(ident)
        if obj is None:
            raise self._not_found(kind, ident)
        return obj

    @staticmethod
    def _ok(status: int, body: Any) -> Response:
        return Response.json_body(status, body, content_type=HAL)

    def _store(self, kind: str, obj: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
        """Keep `obj` in creation order, also under its parent (customer, payment)."""
        super()._store(kind, obj)
        if parent is None:
            parent = {
                "payments": obj.get("customerId"),
                "refunds": obj.get("paymentId"),
                "mandates": self.owner.get(obj["id"]),
            }.get(kind)
        if parent:
            self._index(kind, parent, obj["id"])
        if kind in ("payments", "refunds") and obj.get("status") in ("open", "pending", "queued"):
            self.live[obj["id"]] = None
        return obj

    def _index(self, kind: str, parent: str, ident: str) -> None:
        ids, positions = self.children.setdefault((kind, parent), ([], {}))
        positions[ident] = len(ids)
        ids.append(ident)

    def _children(self, kind: str, parent: str) -> tuple[list[str], dict[str, int]]:
        return self.children.get((kind, parent)) or ([], {})

    # -- Service protocol -------------------------------------------------------------------------
    def credentials(self) -> dict[str, Any]:
        return {"api_key": API_KEY, "environment": "local", "base_url": self.sandbox.url}

    def fault_response(self, status: int) -> Response:
        if status == 429:
            return self._error(
                429,
                "Too Many Requests",
                "You have exceeded the rate limit. Please slow down your requests.",
                doc="guides/handling-errors",
            ).response
        return self._error(
            500, "Internal Server Error", "An internal server error occurred while processing your request."
        ).response

    def stats(self) -> dict[str, Any]:
        return {"mollie_objects": {k: len(v) for k, v in self.objects.items()}}

    # -- authentication and idempotency ---------------------------------------------------------------
    def _guard(self, handler: Callable[[Request], Response], idempotent: bool) -> Callable[[Request], Response]:
        def wrapped(request: Request) -> Response:
            if request.header("Authorization") != f"Bearer {API_KEY}":
                raise self._error(
                    401,
                    "Unauthorized Request",
                    "Missing authentication, or failed to authenticate",
                    doc="guides/authentication",
                )
            key = request.header("Idempotency-Key") if idempotent else None
            if not key:
                return handler(request)
            fingerprint = self._fingerprint(request)
            seen = self.idempotency.get(key)
            if seen is not None:
                if seen[0] != fingerprint:
                    raise self._error(
                        400,
                        "Bad Request",
                        "This Idempotency-Key has already been used.",
                        doc="overview/api-idempotency",
                    )
                first = seen[1]
                return Response(first.status, first.body, {**first.headers, "Idempotent-Replayed": "true"})
            response = handler(request)
            if response.status < 300:
                self.idempotency[key] = (fingerprint, response)
            return response

        return wrapped

    @staticmethod
    def _fingerprint(request: Request) -> str:
        try:
            body = json.dumps(json.loads(request.body), sort_keys=True) if request.body.strip() else ""
        except ValueError:
            body = request.body.decode("utf-8", "replace")
        return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()

    def _body(self, request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        try:
            body = json.loads(request.body)
        except ValueError:
            raise self._bad("The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise self._bad("The request body must be a JSON object")
        return body

    # -- validation ----------------------------------------------------------------------------------
    def _amount(self, value: Any, field: str = "amount") -> dict[str, str]:
        if value is None:
            raise self._unprocessable("The amount is required", field)
        if not isinstance(value, dict):
            raise self._unprocessable("The amount is invalid", field)
        currency = value.get("currency")
        if not isinstance(currency, str):
            raise self._unprocessable("The currency is missing", f"{field}.currency")
        try:
            decimals = exponent(currency)
        except UsageError:
            raise self._unprocessable(f"The currency '{currency}' is not supported", f"{field}.currency") from None
        text = value.get("value")
        pattern = r"\d+" if decimals == 0 else rf"\d+\.\d{{{decimals}}}"
        if not isinstance(text, str) or not re.fullmatch(pattern, text):
            raise self._unprocessable(
                f"The amount contains an invalid value: {currency.upper()} amounts have exactly {decimals} decimals",
                f"{field}.value",
            )
        if not any(ch in "123456789" for ch in text):
            raise self._unprocessable("The amount is lower than the minimum", field)
        return {"value": text, "currency": currency.upper()}

    def _description(self, body: dict[str, Any], limit: int = 255) -> str:
        description = body.get("description")
        if not isinstance(description, str) or not description.strip():
            raise self._unprocessable("The description is invalid", "description")
        if len(description) > limit:
            raise self._unprocessable(f"The description must be at most {limit} characters", "description")
        return description

    def _url(self, body: dict[str, Any], field: str, *, webhook: bool = False) -> str | None:
        value = body.get(field)
        if value is None:
            return None
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._unprocessable(f"The {field} is invalid", field)
        if webhook and _UNREACHABLE.match(parts.hostname):
            raise self._unprocessable(
                "The webhook URL is invalid because it is unreachable from Mollie's point of view", field
            )
        return value

    def _metadata(self, body: dict[str, Any]) -> Any:
        metadata = body.get("metadata")
        if metadata is not None and len(json.dumps(metadata)) > 1024:
            raise self._unprocessable("The metadata is too large: at most 1024 bytes", "metadata")
        return metadata

    # -- listing --------------------------------------------------------------------------------------
    def _list(
        self, request: Request, kind: str, path: str, index: tuple[list[str], dict[str, int]] | None = None
    ) -> Response:
        raw_limit = request.arg("limit", str(DEFAULT_LIMIT))
        try:
            limit = int(raw_limit or "")
        except ValueError:
            raise self._bad(f"Invalid limit: '{raw_limit}'", "limit") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise self._bad(f"The limit must be between 1 and {MAX_LIMIT}", "limit")
        sort = request.arg("sort", "desc")
        if sort not in ("asc", "desc"):
            raise self._bad("The sort must be asc or desc", "sort")
        ids, positions = index if index is not None else (self.order[kind], self.position[kind])
        table = self.objects[kind]
        step = -1 if sort == "desc" else 1
        start = request.arg("from")
        if start:
            if start not in positions:
                raise self._bad(f"Invalid 'from' parameter: {start}", "from")
            i = positions[start]
        else:
            i = len(ids) - 1 if step < 0 else 0
        page: list[dict[str, Any]] = []
        following = None
        while 0 <= i < len(ids):
            obj = table.get(ids[i])  # a deleted customer leaves a gap
            i += step
            if obj is None:
                continue
            if len(page) == limit:
                following = obj["id"]
                break
            page.append(obj)
        preceding = None
        if start:
            j, seen = positions[start] - step, 0
            while 0 <= j < len(ids) and seen < limit:
                if ids[j] in table:
                    preceding, seen = ids[j], seen + 1
                j -= step

        def href(cursor: str | None) -> str:
            query = {"from": cursor} if cursor else {}
            query["limit"] = str(limit)
            if sort == "asc":
                query["sort"] = "asc"
            return f"{path}?{urlencode(query)}"

        links = {
            "self": self._link(href(start)),
            "previous": self._link(href(preceding)) if preceding else None,
            "next": self._link(href(following)) if following else None,
            "documentation": self._doc(f"reference/v2/{DOC_PAGE[kind]}/list-{kind}"),
        }
        plural = kind.replace("-", "_")
        return self._ok(200, {"count": len(page), "_embedded": {plural: page}, "_links": links})

    # -- routes ---------------------------------------------------------------------------------------
    def register(self, router: Router) -> None:
        def api(method: str, template: str, handler: Callable[[Request], Response]) -> None:
            router.add(method, template, self._guard(handler, method in ("POST", "PATCH", "DELETE")), service=self.name)

        def page(method: str, template: str, handler: Callable[[Request], Response]) -> None:
            router.add(method, template, handler, service="control")

        api("POST", "/v2/customers", self.create_customer)
        api("GET", "/v2/customers", lambda r: self._list(r, "customers", "customers"))
        api("GET", "/v2/customers/{id}", lambda r: self._ok(200, self._get("customers", r.params["id"])))
        api("PATCH", "/v2/customers/{id}", self.update_customer)
        api("DELETE", "/v2/customers/{id}", self.delete_customer)
        api("POST", "/v2/customers/{id}/mandates", self.create_mandate)
        api("GET", "/v2/customers/{id}/mandates", self.list_mandates)
        api("GET", "/v2/customers/{cid}/mandates/{id}", lambda r: self._ok(200, self._mandate_of(r)))
        api("DELETE", "/v2/customers/{cid}/mandates/{id}", self.revoke_mandate)
        api("POST", "/v2/customers/{id}/payments", self.create_customer_payment)
        api("GET", "/v2/customers/{id}/payments", self.list_customer_payments)
        api("POST", "/v2/payments", lambda r: self._ok(201, self.add_payment(self._body(r))))
        api("GET", "/v2/payments", lambda r: self._list(r, "payments", "payments"))
        api("GET", "/v2/payments/{id}", lambda r: self._ok(200, self._get("payments", r.params["id"])))
        api("DELETE", "/v2/payments/{id}", self.cancel_payment)
        api("POST", "/v2/payments/{id}/refunds", self.create_refund)
        api("GET", "/v2/payments/{id}/refunds", self.list_payment_refunds)
        api("GET", "/v2/payments/{pid}/refunds/{id}", lambda r: self._ok(200, self._refund_of(r)))
        api("DELETE", "/v2/payments/{pid}/refunds/{id}", self.cancel_refund)
        api("GET", "/v2/refunds", lambda r: self._list(r, "refunds", "refunds"))
        api("POST", "/v2/payment-links", self.create_payment_link)
        api("GET", "/v2/payment-links", lambda r: self._list(r, "payment-links", "payment-links"))
        api("GET", "/v2/payment-links/{id}", lambda r: self._ok(200, self._get("payment-links", r.params["id"])))
        api("GET", "/v2/payment-links/{id}/payments", self.list_link_payments)
        page("GET", "/__sandbox/mollie/checkout/{id}", self.checkout_page)
        page("POST", "/__sandbox/mollie/checkout/{id}", self.checkout)
        page("GET", "/__sandbox/mollie/link/{id}", self.link_page)
        page("POST", "/__sandbox/mollie/link/{id}", self.pay_link)
        page("GET", "/__sandbox/mollie/thanks", lambda r: Response.html(200, "<h1>Thank you</h1>"))
        page("POST", "/__sandbox/mollie/payments/{id}/status", self.force_status)

    # -- customers ------------------------------------------------------------------------------------
    def _customer_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key in ("name", "email", "locale"):
            if key in body and body[key] is not None and not isinstance(body[key], str):
                raise self._unprocessable(f"The {key} is invalid", key)
        if body.get("email") and email_problems(body["email"]):
            raise self._unprocessable("The email address is invalid", "email")
        if body.get("locale") and body["locale"] not in LOCALES:
            raise self._unprocessable("The locale is invalid", "locale")
        for key in ("name", "email", "locale"):
            if key in body:
                fields[key] = body[key] or None
        if "metadata" in body:
            fields["metadata"] = self._metadata(body)
        return fields

    def add_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a customer as `POST /v2/customers` does (also used to seed the sandbox)."""
        fields = self._customer_fields(body)
        ident = self.sandbox.ids.next("cst_")
        customer = {
            "resource": "customer",
            "id": ident,
            "mode": "test",
            "name": fields.get("name"),
            "email": fields.get("email"),
            "locale": fields.get("locale"),
            "metadata": fields.get("metadata"),
            "createdAt": self._now(),
            "_links": {
                "self": self._link(f"customers/{ident}"),
                "mandates": self._link(f"customers/{ident}/mandates"),
                "subscriptions": self._link(f"customers/{ident}/subscriptions"),
                "payments": self._link(f"customers/{ident}/payments"),
                "documentation": self._doc("reference/v2/customers-api/get-customer"),
            },
        }
        return self._store("customers", customer)

    def create_customer(self, request: Request) -> Response:
        return self._ok(201, self.add_customer(self._body(request)))

    def update_customer(self, request: Request) -> Response:
        customer = self._get("customers", request.params["id"])
        customer.update(self._customer_fields(self._body(request)))
        return self._ok(200, customer)

    def delete_customer(self, request: Request) -> Response:
        """Deleting a customer cancels its mandates; its payments stay."""
        customer = self._get("customers", request.params["id"])
        ids, _ = self._children("mandates", customer["id"])
        for mandate_id in ids:
            self.objects["mandates"][mandate_id]["status"] = "invalid"
        del self.objects["customers"][customer["id"]]
        return Response.empty(204)

    # -- mandates ------------------------------------------------------------------------------------
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

    # -- payments -------------------------------------------------------------------------------------
    def create_customer_payment(self, request: Request) -> Response:
        cid = request.params["id"]
        self._get("customers", cid)
        return self._ok(201, self.add_payment({**self._body(request), "customerId": cid}))

    def list_customer_payments(self, request: Request) -> Response:
        cid = request.params["id"]
        self._get("customers", cid)
        return self._list(request, "payments", f"customers/{cid}/payments", self._children("payments", cid))

    def _create_payment(self, request: Request, body: dict[str, Any]) -> Response:
        return self._ok(201, self.add_payment(body))

    def _valid_mandate(self, customer_id: str, mandate_id: str | None) -> dict[str, Any]:
        if mandate_id:
            mandate = self.objects["mandates"].get(mandate_id)
            if mandate is None or self.owner.get(mandate_id) != customer_id:
                raise self._unprocessable("The mandate does not exist for this customer", "mandateId")
            if mandate["status"] != "valid":
                raise self._unprocessable("The mandate is not valid", "mandateId")
            return mandate
        ids, _ = self._children("mandates", customer_id)
        for ident in reversed(ids):  # the newest valid mandate
            if self.objects["mandates"][ident]["status"] == "valid":
                return self.objects["mandates"][ident]
        raise self._unprocessable("The customer has no valid mandates", "customerId")

    def add_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a payment as `POST /v2/payments` does (also used to seed the sandbox)."""
        amount = self._amount(body.get("amount"))
        description = self._description(body)
        sequence = body.get("sequenceType") or "oneoff"
        if sequence not in ("oneoff", "first", "recurring"):
            raise self._unprocessable("The sequence type is invalid: use oneoff, first or recurring", "sequenceType")
        method = body.get("method")
        if method is not None and method not in METHODS:
            raise self._unprocessable(f"The payment method '{method}' is invalid", "method")
        customer_id = body.get("customerId")
        if sequence != "oneoff" and not customer_id:
            raise self._unprocessable(f"A customer is required for a {sequence} payment", "customerId")
        if customer_id:
            self._get("customers", customer_id)
        webhook = self._url(body, "webhookUrl", webhook=True)
        metadata = self._metadata(body)
        mandate = None
        if sequence == "recurring":
            mandate = self._valid_mandate(str(customer_id), body.get("mandateId"))
            if method not in (None, mandate["method"]):
                raise self._unprocessable(f"The mandate is for {mandate['method']}, not {method}", "method")
            method = mandate["method"]
            redirect = cancel = None
        else:
            if method == "directdebit":
                raise self._unprocessable("Direct debit can only be used for recurring payments", "method")
            redirect = self._url(body, "redirectUrl")
            if not redirect:
                raise self._unprocessable("The redirect URL is missing", "redirectUrl")
            cancel = self._url(body, "cancelUrl")
        if method == "directdebit" and amount["currency"] != "EUR":
            raise self._unprocessable("SEPA Direct Debit is only available for payments in EUR", "amount.currency")
        ident = self.sandbox.ids.next("tr_")
        now = self.sandbox.clock.now()
        recurring = sequence == "recurring"
        payment: dict[str, Any] = {
            "resource": "payment",
            "id": ident,
            "mode": "test",
            "createdAt": iso(now),
            "amount": amount,
            "description": description,
            "method": method,
            "metadata": metadata,
            "status": "pending" if recurring else "open",
            "isCancelable": recurring,
            "expiresAt": None if recurring else iso(now + EXPIRES_AFTER),
            "details": None,
            "profileId": PROFILE_ID,
            "customerId": customer_id,
            "mandateId": mandate["id"] if mandate else None,
            "sequenceType": sequence,
            "redirectUrl": redirect,
            "cancelUrl": cancel,
            "webhookUrl": webhook,
            "locale": body.get("locale"),
            "countryCode": None,
            "captureDelay": None,
            "captureMode": None,
            "captureBefore": None,
            "amountCaptured": None,
            "amountChargedBack": None,
            "amountRefunded": None,
            "amountRemaining": None,
            "orderId": None,
            "settlementId": None,
            "settlementAmount": None,
            "subscriptionId": None,
            "routing": None,
            "_links": {
                "self": self._link(f"payments/{ident}"),
                "checkout": None if recurring else self._page(f"checkout/{ident}"),
                "chargebacks": None,
                "captures": None,
                "refunds": None,
                "customer": self._link(f"customers/{customer_id}") if customer_id else None,
                "mandate": None,
                "subscription": None,
                "order": None,
                "settlement": None,
                "documentation": self._doc("reference/v2/payments-api/get-payment"),
            },
        }
        private: dict[str, Any] = {"expires": now + EXPIRES_AFTER}
        if mandate:
            sent = add_working_days(now.date(), SENT_AFTER)
            due = add_working_days(sent, DUE_AFTER)
            private.update(sent=sent, paid=add_working_days(sent, PAID_AFTER))
            self._attach_mandate(payment, mandate)
            payment["details"].update(
                dueDate=due.isoformat(),
                transferReference=f"SD{ident[3:]}",
                creditorIdentifier=CREDITOR_ID,
                bankReasonCode=None,
                bankReason=None,
            )
        self.private[ident] = private
        return self._store("payments", payment)

    def _attach_mandate(self, payment: dict[str, Any], mandate: dict[str, Any]) -> None:
        customer_id = self.owner[mandate["id"]]
        payment["mandateId"] = mandate["id"]
        payment["details"] = {
            **mandate["details"],
            "signatureDate": mandate["signatureDate"],
            "mandateReference": mandate["mandateReference"],
        }
        payment["_links"]["mandate"] = self._link(f"customers/{customer_id}/mandates/{mandate['id']}")

    def _finish(self, payment: dict[str, Any], status: str) -> None:
        payment["status"] = status
        payment.pop("isCancelable", None)
        stamp = {"paid": "paidAt", "canceled": "canceledAt", "expired": "expiredAt", "failed": "failedAt"}[status]
        payment[stamp] = self._now()
        payment["_links"]["checkout"] = None
        if status == "paid":
            currency = payment["amount"]["currency"]
            payment["amountRefunded"] = {"value": _major(0, exponent(currency)), "currency": currency}
            payment["amountRemaining"] = dict(payment["amount"])
        self.live.pop(payment["id"], None)

    def _pay(self, payment: dict[str, Any], form: dict[str, str]) -> None:
        """The customer pays an open payment; a first payment leaves a valid mandate behind."""
        if payment["method"] is None:
            payment["method"] = "ideal"
        name = form.get("consumerName") or "Sandbox Customer"
        account = form.get("consumerAccount") or "NL55INGB0000000000"
        if payment["sequenceType"] == "first":
            mandate = self._new_mandate(
                payment["customerId"], name, account, form.get("consumerBic") or None, None, None
            )
            self._attach_mandate(payment, mandate)
        else:
            payment["details"] = {
                "consumerName": name,
                "consumerAccount": compact_iban(account),
                "consumerBic": form.get("consumerBic") or None,
            }
        self._finish(payment, "paid")

    def cancel_payment(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        if not payment.get("isCancelable"):
            raise self._unprocessable("The payment cannot be cancelled")
        self._finish(payment, "canceled")
        return self._ok(200, payment)

    # -- the checkout page the customer sees ----------------------------------------------------------
    def _payable(self, ident: str) -> dict[str, Any]:
        payment = self.objects["payments"].get(ident)
        if payment is None:
            raise HttpError(Response.html(404, "<h1>Unknown payment</h1>"))
        if payment["status"] != "open":
            raise HttpError(Response.html(409, f"<h1>This payment is {html.escape(payment['status'])}</h1>"))
        return payment

    @staticmethod
    def _form(title: str, description: str, fields: str) -> Response:
        return Response.html(
            200,
            f"""<!doctype html><title>Mollie sandbox checkout</title>
<h1>{html.escape(title)}</h1><p>{html.escape(description)}</p>
<form method="post">{fields}<button name="action" value="pay">Pay</button>
<button name="action" value="cancel">Cancel</button></form>""",
        )

    _ACCOUNT_FIELDS = (
        '<label>Account holder <input name="consumerName"></label><label>IBAN <input name="consumerAccount"></label>'
    )

    def checkout_page(self, request: Request) -> Response:
        payment = self._payable(request.params["id"])
        amount = payment["amount"]
        fields = self._ACCOUNT_FIELDS if payment["sequenceType"] == "first" else ""
        return self._form(f"Pay {amount['value']} {amount['currency']}", payment["description"], fields)

    def _checked(self, form: dict[str, str]) -> Response | None:
        account = form.get("consumerAccount")
        if account and iban_problems(account):
            return Response.html(422, "<h1>Please check the IBAN</h1>")
        return None

    def checkout(self, request: Request) -> Response:
        payment = self._payable(request.params["id"])
        form = request.form()
        if form.get("action") == "cancel":
            self._finish(payment, "canceled")
            return Response.html(200, "<h1>Payment cancelled</h1>")
        refused = self._checked(form)
        if refused:
            return refused
        self._pay(payment, form)
        return Response.html(200, "<h1>Payment received</h1><p>You can close this page.</p>")

    def force_status(self, request: Request) -> Response:
        payment = self.objects["payments"].get(request.params["id"])
        if payment is None:
            return Response.json_body(404, {"error": f"unknown payment {request.params['id']}"})
        wanted = (request.json() or {}).get("status")
        if wanted not in FORCEABLE:
            return Response.json_body(400, {"error": f"status must be one of {', '.join(FORCEABLE)}"})
        if wanted in ("paid", "charged_back") and payment["status"] != "paid":
            if payment["status"] == "open":
                self._pay(payment, {})  # as if the customer paid: a first payment leaves a mandate
            else:
                self._finish(payment, "paid")
        if wanted == "charged_back":
            payment["amountChargedBack"] = dict(payment["amount"])
        elif wanted != "paid":
            self._finish(payment, wanted)
        return Response.json_body(200, payment)

    # -- payment links --------------------------------------------------------------------------------
    def create_payment_link(self, request: Request) -> Response:
        body = self._body(request)
        description = self._description(body)
        amount = self._amount(body["amount"]) if body.get("amount") is not None else None
        sequence = body.get("sequenceType") or "oneoff"
        if sequence not in ("oneoff", "first"):
            raise self._unprocessable("The sequence type of a payment link is oneoff or first", "sequenceType")
        customer_id = body.get("customerId")
        if sequence == "first" and not customer_id:
            raise self._unprocessable("A customer is required for a first payment link", "customerId")
        if customer_id:
            self._get("customers", customer_id)
        expires = body.get("expiresAt")
        if expires is not None:
            try:
                datetime.fromisoformat(str(expires))
            except ValueError:
                raise self._unprocessable("The expiry date is invalid", "expiresAt") from None
        ident = self.sandbox.ids.next("pl_")
        link = {
            "resource": "payment-link",
            "id": ident,
            "mode": "test",
            "profileId": PROFILE_ID,
            "createdAt": self._now(),
            "paidAt": None,
            "updatedAt": None,
            "expiresAt": expires,
            "amount": amount,
            "description": description,
            "redirectUrl": self._url(body, "redirectUrl"),
            "cancelUrl": self._url(body, "cancelUrl"),
            "webhookUrl": self._url(body, "webhookUrl", webhook=True),
            "sequenceType": sequence,
            "customerId": customer_id,
            "reusable": bool(body.get("reusable")),
            "archived": False,
            "_links": {
                "self": self._link(f"payment-links/{ident}"),
                "paymentLink": self._page(f"link/{ident}"),
                "documentation": self._doc("reference/v2/payment-links-api/get-payment-link"),
            },
        }
        return self._ok(201, self._store("payment-links", link))

    def list_link_payments(self, request: Request) -> Response:
        lid = request.params["id"]
        self._get("payment-links", lid)
        return self._list(request, "payments", f"payment-links/{lid}/payments", self._children("payments", lid))

    def _link_open(self, ident: str) -> dict[str, Any]:
        link = self.objects["payment-links"].get(ident)
        if link is None:
            raise HttpError(Response.html(404, "<h1>Unknown payment link</h1>"))
        if link["paidAt"] and not link["reusable"]:
            raise HttpError(Response.html(409, "<h1>This link has been paid</h1>"))
        if link["expiresAt"] and link["expiresAt"] <= self._now():
            raise HttpError(Response.html(410, "<h1>This link has expired</h1>"))
        return link

    def link_page(self, request: Request) -> Response:
        link = self._link_open(request.params["id"])
        amount = link["amount"]
        fields = "" if amount else '<label>Amount <input name="amount"></label>'
        if link["sequenceType"] == "first":
            fields += self._ACCOUNT_FIELDS
        title = f"Pay {amount['value']} {amount['currency']}" if amount else "Pay"
        return self._form(title, link["description"], fields)

    def pay_link(self, request: Request) -> Response:
        link = self._link_open(request.params["id"])
        form = request.form()
        refused = self._checked(form)
        if refused:
            return refused
        amount = link["amount"] or {"currency": "EUR", "value": form.get("amount", "")}
        try:
            payment = self.add_payment(
                {
                    "amount": amount,
                    "description": link["description"],
                    "sequenceType": link["sequenceType"],
                    "customerId": link["customerId"],
                    "redirectUrl": link["redirectUrl"] or f"{self.sandbox.url}/__sandbox/mollie/thanks",
                }
            )
        except HttpError as exc:
            return Response.html(422, f"<h1>{html.escape(json.loads(exc.response.body)['detail'])}</h1>")
        self._index("payments", link["id"], payment["id"])
        self._pay(payment, form)
        link["paidAt"] = link["updatedAt"] = self._now()
        return Response.html(200, "<h1>Payment received</h1><p>You can close this page.</p>")

    # -- refunds --------------------------------------------------------------------------------------
    def create_refund(self, request: Request) -> Response:
        payment = self._get("payments", request.params["id"])
        if payment["status"] != "paid":
            raise self._unprocessable(f"The payment cannot be refunded: it is {payment['status']}")
        body = self._body(request)
        remaining = payment.get("amountRemaining") or payment["amount"]
        amount = self._amount(body["amount"]) if body.get("amount") is not None else dict(remaining)
        if amount["currency"] != payment["amount"]["currency"]:
            raise self._unprocessable("The refund must be in the currency of the payment", "amount.currency")
        cents = exponent(amount["currency"])
        left = _minor(remaining["value"], cents) - _minor(amount["value"], cents)
        if left < 0:
            raise self._unprocessable("The amount is higher than the amount that can be refunded", "amount")
        description = body.get("description") or ""
        if not isinstance(description, str) or len(description) > 140:
            raise self._unprocessable("The description must be at most 140 characters", "description")
        refunded = _minor(payment["amountRefunded"]["value"], cents) + _minor(amount["value"], cents)
        payment["amountRemaining"] = {"value": _major(left, cents), "currency": amount["currency"]}
        payment["amountRefunded"] = {"value": _major(refunded, cents), "currency": amount["currency"]}
        payment["_links"]["refunds"] = self._link(f"payments/{payment['id']}/refunds")
        ident = self.sandbox.ids.next("re_")
        refund = {
            "resource": "refund",
            "id": ident,
            "mode": "test",
            "amount": amount,
            "status": "pending",
            "createdAt": self._now(),
            "description": description,
            "metadata": self._metadata(body),
            "paymentId": payment["id"],
            "settlementId": None,
            "settlementAmount": None,
            "orderId": None,
            "lines": None,
            "_links": {
                "self": self._link(f"payments/{payment['id']}/refunds/{ident}"),
                "payment": self._link(f"payments/{payment['id']}"),
                "order": None,
                "settlement": None,
                "documentation": self._doc("reference/v2/refunds-api/get-refund"),
            },
        }
        self.private[ident] = {"refunded": add_working_days(self.sandbox.clock.today(), REFUNDED_AFTER)}
        return self._ok(201, self._store("refunds", refund, payment["id"]))

    def _refund_of(self, request: Request) -> dict[str, Any]:
        self._get("payments", request.params["pid"])
        refund = self.objects["refunds"].get(request.params["id"])
        if refund is None or refund["paymentId"] != request.params["pid"]:
            raise self._not_found("refunds", request.params["id"])
        return refund

    def cancel_refund(self, request: Request) -> Response:
        refund = self._refund_of(request)
        if refund["status"] not in ("queued", "pending"):
            raise self._unprocessable("The refund cannot be canceled")
        refund["status"] = "canceled"
        self.live.pop(refund["id"], None)
        payment = self.objects["payments"][refund["paymentId"]]
        cents = exponent(refund["amount"]["currency"])
        for key, sign in (("amountRemaining", 1), ("amountRefunded", -1)):
            value = _minor(payment[key]["value"], cents) + sign * _minor(refund["amount"]["value"], cents)
            payment[key] = {"value": _major(value, cents), "currency": refund["amount"]["currency"]}
        return Response.empty(204)

    def list_payment_refunds(self, request: Request) -> Response:
        pid = request.params["id"]
        self._get("payments", pid)
        return self._list(request, "refunds", f"payments/{pid}/refunds", self._children("refunds", pid))

    # -- the clock ------------------------------------------------------------------------------------
    def advance(self) -> None:
        """Move every payment and refund that is not final; final ones are never visited."""
        now = self.sandbox.clock.now()
        today = now.date()
        for ident in list(self.live):
            if ident.startswith("re_"):
                refund = self.objects["refunds"][ident]
                if today >= self.private[ident]["refunded"]:
                    refund["status"] = "refunded"
                    del self.live[ident]
                continue
            payment = self.objects["payments"][ident]
            private = self.private.get(ident) or self._dates_of(payment)
            if payment["sequenceType"] == "recurring" and payment["status"] == "pending":
                if today >= private["sent"]:
                    payment["isCancelable"] = False
                if today >= private["paid"]:
                    self._finish(payment, "paid")
            elif payment["status"] == "open" and now >= private["expires"]:
                self._finish(payment, "expired")

    def _dates_of(self, payment: dict[str, Any]) -> dict[str, Any]:
        """Lifecycle dates of a payment seeded straight into the tables."""
        created = datetime.fromisoformat(payment["createdAt"])
        sent = add_working_days(created.date(), SENT_AFTER)
        dates = {"sent": sent, "paid": add_working_days(sent, PAID_AFTER), "expires": created + EXPIRES_AFTER}
        self.private[payment["id"]] = dates
        return dates


def _minor(value: str, decimals: int) -> int:
    whole, _, fraction = value.partition(".")
    return int(whole) * 10**decimals + int((fraction or "0").ljust(decimals, "0")[:decimals] or "0")


def _major(minor: int, decimals: int) -> str:
    if decimals == 0:
        return str(minor)
    return f"{minor // 10**decimals}.{minor % 10**decimals:0{decimals}d}"
