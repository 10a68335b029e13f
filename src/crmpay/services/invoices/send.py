"""Sending an invoice: collect it by direct debit, or email a mandate-setup link.

Exactly once: before any create call at a provider, an intent row with a deterministic
idempotency key (profile + invoice + attempt + step) is committed; the provider is
called with that key; the result is recorded after. A rerun finds a pending intent and
repeats the call with the same key, so the provider answers with the object the first
call created instead of creating a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from crmpay.core import clock
from crmpay.core.clock import now_iso
from crmpay.core.errors import NotConnected, OperationFailed, TemporaryError, UsageError
from crmpay.core.invoice import Invoice
from crmpay.core.models import NewCustomer, NewPayment, NewSetupLink, Payment, SetupLink
from crmpay.services import intents
from crmpay.services.intents import checkpoint
from crmpay.store import Store
from crmpay.store.records import insert_setup_link, upsert_customer, upsert_payment

if TYPE_CHECKING:
    from crmpay.providers.base import PaymentProvider
    from crmpay.services.context import Context

T = TypeVar("T")
LIVE_PAYMENT_STATES = ("pending", "submitted", "paid")
DESCRIPTION_LIMIT = 140


def intent_key(profile: str, number: str, attempt: int, step: str) -> str:
    return intents.intent_key(profile, number, attempt, step)


@dataclass
class SendResult:
    number: str
    action: str  # payment / setup_link
    provider: str
    attempt: int
    dry_run: bool
    amount: str
    currency: str
    payment_id: str | None = None
    mandate_id: str | None = None
    charge_date: str | None = None
    setup_link: str | None = None
    link_expires_at: str | None = None
    email: str = "not sent"
    resumed: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class InvoiceSender:
    def __init__(
        self,
        store: Store,
        profile: str,
        providers: dict[str, PaymentProvider],
        *,
        mailer: Any = None,
        seller: Any = None,
        sender: str | None = None,
        today: date | None = None,
    ) -> None:
        self.store, self.profile, self.providers = store, profile, providers
        self.mailer, self.seller, self.sender = mailer, seller, sender
        self.today = today or clock.today()

    # -- intents --------------------------------------------------------------------------------
    def _intent(self, key: str) -> Any:
        return intents.get(self.store, key)

    def _begin(self, key: str, kind: str, provider: str, number: str, attempt: int, request: dict[str, Any]) -> None:
        intents.begin(self.store, key, kind, provider, number, attempt, request)

    def _finish(self, key: str, status: str, result_id: str | None = None, error: str | None = None) -> None:
        intents.finish(self.store, key, status, result_id, error)

    def _call(
        self,
        key: str,
        kind: str,
        provider: str,
        number: str,
        attempt: int,
        request: dict[str, Any],
        create: Callable[[str], T],
    ) -> T:
        return intents.journaled(self.store, key, kind, provider, number, attempt, request, create)

    def attempts(self, number: str) -> list[Any]:
        return self.store.db.execute(
            "SELECT * FROM intents WHERE subject = ? AND kind IN ('payment', 'setup_link')"
            " ORDER BY attempt, created_at",
            (number,),
        ).fetchall()

    # -- the use case ------------------------------------------------------------------------------
    def send(
        self,
        invoice: Invoice,
        *,
        mandate: str | None = None,
        provider: str | None = None,
        email: bool = True,
        dry_run: bool = False,
        new_attempt: bool = False,
    ) -> SendResult:
        unsent = self._unsent_email(invoice) if email and not new_attempt else None
        if unsent is not None:  # the money part is done; only the email is left
            if not dry_run:
                unsent.email = self._email(invoice, unsent, unsent.attempt)
            unsent.resumed = True
            return unsent
        attempt = self._attempt(invoice, new_attempt)
        total = invoice.totals.incl_vat
        chosen = self._choose_mandate(invoice, mandate, provider)
        if chosen is not None:
            name = chosen["provider"]
            result = SendResult(
                invoice.number,
                "payment",
                name,
                attempt,
                dry_run,
                total.decimal_string(),
                total.currency,
                mandate_id=chosen["provider_id"],
            )
            charge = max(invoice.due_date, _date(chosen["next_possible_charge_date"]) or invoice.due_date)
            if name == "mollie":
                result.notes.append(
                    "Mollie debits a recurring payment as soon as possible; the due date is printed on the invoice"
                )
            result.charge_date = charge.isoformat()
            if not dry_run:
                payment = self._pay(invoice, chosen, charge, attempt)
                result.payment_id = payment.id
                result.charge_date = (payment.charge_date or charge).isoformat()
        else:
            name = self._provider_for(invoice, provider)
            result = SendResult(
                invoice.number, "setup_link", name, attempt, dry_run, total.decimal_string(), total.currency
            )
            if name == "mollie":
                result.notes.append(
                    "the link is a first payment of the invoice amount: paying it "
                    "settles the invoice and sets up the mandate"
                )
            if not dry_run:
                link = self._setup_link(invoice, name, attempt)
                result.setup_link, result.link_expires_at = (
                    link.url,
                    (link.expires_at.isoformat() if link.expires_at else None),
                )
        if email and not dry_run:
            result.email = self._email(invoice, result, attempt)
        elif email:
            result.email = f"would be sent to {invoice.customer_email}"
        return result

    def _unsent_email(self, invoice: Invoice) -> SendResult | None:
        rows = self.attempts(invoice.number)
        if not rows or rows[-1]["status"] != "succeeded":
            return None
        last = rows[-1]
        sent = self._intent(intent_key(self.profile, invoice.number, last["attempt"], "email"))
        if sent is not None and sent["status"] == "succeeded":
            return None
        total = invoice.totals.incl_vat
        result = SendResult(
            invoice.number,
            last["kind"],
            last["provider"],
            last["attempt"],
            False,
            total.decimal_string(),
            total.currency,
        )
        if last["kind"] == "payment":
            row = self.store.db.execute(
                "SELECT mandate_id, charge_date FROM payments WHERE provider = ? AND provider_id = ?",
                (last["provider"], last["result_id"]),
            ).fetchone()
            result.payment_id = last["result_id"]
            result.mandate_id, result.charge_date = (row["mandate_id"], row["charge_date"]) if row else (None, None)
        else:
            row = self.store.db.execute(
                "SELECT url, expires_at FROM setup_links WHERE provider = ? AND provider_id = ?",
                (last["provider"], last["result_id"]),
            ).fetchone()
            result.setup_link, result.link_expires_at = (row["url"], row["expires_at"]) if row else (None, None)
        return result

    def _attempt(self, invoice: Invoice, new_attempt: bool) -> int:
        rows = self.attempts(invoice.number)
        if not rows:
            return 1
        last = rows[-1]
        if last["status"] == "pending":
            return int(last["attempt"])  # resume with the same key
        live = last["status"] == "succeeded" and self._is_live(last)
        if not new_attempt:
            if last["status"] == "failed":
                raise OperationFailed(
                    f"the last attempt for {invoice.number} failed: {last['error']}",
                    hint="run again with --new-attempt",
                )
            what = f"{last['kind'].replace('_', ' ')} {last['result_id']} ({last['provider']})"
            raise OperationFailed(
                f"invoice {invoice.number} already has {what}",
                hint="use --new-attempt once that attempt has failed or been cancelled",
            )
        if live:
            raise OperationFailed(
                f"invoice {invoice.number}: {last['kind'].replace('_', ' ')} "
                f"{last['result_id']} is still live; cancel it first"
            )
        return int(last["attempt"]) + 1

    def _is_live(self, intent: Any) -> bool:
        if intent["kind"] == "payment":
            row = self.store.db.execute(
                "SELECT state FROM payments WHERE provider = ? AND provider_id = ?",
                (intent["provider"], intent["result_id"]),
            ).fetchone()
            return row is None or row["state"] in LIVE_PAYMENT_STATES
        row = self.store.db.execute(
            "SELECT status, expires_at FROM setup_links WHERE provider = ? AND provider_id = ?",
            (intent["provider"], intent["result_id"]),
        ).fetchone()
        return row is None or (row["status"] == "open" and (row["expires_at"] or "9") > now_iso())

    def _customer_rows(self, invoice: Invoice) -> list[Any]:
        return self.store.db.execute(
            "SELECT provider, provider_id FROM customers WHERE email = ? COLLATE NOCASE", (invoice.customer_email,)
        ).fetchall()

    def _choose_mandate(self, invoice: Invoice, mandate: str | None, provider: str | None) -> Any | None:
        rows = self.store.db.execute(
            "SELECT m.* FROM mandates m JOIN customers c ON c.provider = m.provider AND"
            " c.provider_id = m.customer_id WHERE c.email = ? COLLATE NOCASE",
            (invoice.customer_email,),
        ).fetchall()
        usable = [r for r in rows if _usable(r) and (provider is None or r["provider"] == provider)]
        if mandate:
            found = [r for r in rows if r["provider_id"] == mandate]
            if not found:
                raise UsageError(
                    f"mandate {mandate} is not one of {invoice.customer_email}'s mandates",
                    hint="run `crmpay sync`, or see `crmpay mandates list --customer EMAIL`",
                )
            chosen = found[0]
            if not _usable(chosen):
                raise OperationFailed(f"mandate {mandate} is {chosen['status']}: it cannot be charged")
        elif len(usable) > 1:
            listed = ", ".join(f"{r['provider_id']} ({r['provider']}, {r['status']})" for r in usable)
            raise UsageError(
                f"{invoice.customer_email} has several usable mandates: {listed}", hint="choose one with --mandate"
            )
        elif usable:
            chosen = usable[0]
        else:
            return None
        if chosen["provider"] not in self.providers:
            raise NotConnected(f"{chosen['provider']} is not connected", hint=f"crmpay connect {chosen['provider']}")
        currency = chosen["currency"] or "EUR"
        if currency != invoice.currency:
            raise UsageError(
                f"invoice {invoice.number} is in {invoice.currency} but mandate "
                f"{chosen['provider_id']} collects {currency}",
                hint="a provider charges only in the currency of the customer's bank account",
            )
        return chosen

    def _provider_for(self, invoice: Invoice, provider: str | None) -> str:
        if provider:
            if provider not in self.providers:
                raise NotConnected(f"{provider} is not connected", hint=f"crmpay connect {provider}")
            return provider
        known = [r["provider"] for r in self._customer_rows(invoice) if r["provider"] in self.providers]
        if known:
            return str(known[0])
        if not self.providers:
            raise NotConnected("no payment provider is connected", hint="run `crmpay connect gocardless`")
        return next(iter(self.providers))

    def _pay(self, invoice: Invoice, mandate: Any, charge: date, attempt: int) -> Payment:
        name = mandate["provider"]
        provider = self.providers[name]
        key = intent_key(self.profile, invoice.number, attempt, "payment")
        request = NewPayment(
            mandate_id=mandate["provider_id"],
            amount=invoice.totals.incl_vat,
            description=f"Invoice {invoice.number}"[:DESCRIPTION_LIMIT],
            charge_date=charge if name == "gocardless" else None,
            customer_id=mandate["customer_id"],
            metadata={"invoice": invoice.number},
        )
        payment = self._call(
            key,
            "payment",
            name,
            invoice.number,
            attempt,
            {
                "mandate": mandate["provider_id"],
                "amount_minor": request.amount.minor,
                "currency": request.amount.currency,
                "charge_date": charge,
            },
            lambda k: provider.create_payment(request, idempotency_key=k),
        )
        with self.store.transaction():
            self._finish(key, "succeeded", payment.id)
            upsert_payment(self.store, payment)
            self.store.db.execute(
                "UPDATE invoices SET status = 'pending', status_reason = NULL, updated_at = ? WHERE number = ?",
                (now_iso(), invoice.number),
            )
            self.store.audit(
                name,
                "create",
                "payment",
                payment.id,
                idempotency_key=key,
                detail={"invoice": invoice.number, "amount_minor": payment.amount.minor},
            )
        checkpoint("after_record:payment")
        return payment

    def _setup_link(self, invoice: Invoice, name: str, attempt: int) -> SetupLink:
        provider = self.providers[name]
        known = [r["provider_id"] for r in self._customer_rows(invoice) if r["provider"] == name]
        if known:
            customer_id = known[0]
        else:
            key = intent_key(self.profile, invoice.number, attempt, "customer")
            new = NewCustomer(
                invoice.customer_email,
                invoice.customer_name or invoice.customer_email,
                language=invoice.language if invoice.language in ("fr", "en") else "en",
            )
            customer = self._call(
                key,
                "customer",
                name,
                invoice.number,
                attempt,
                {"email": new.email},
                lambda k: provider.create_customer(new, idempotency_key=k),
            )
            with self.store.transaction():
                self._finish(key, "succeeded", customer.id)
                upsert_customer(self.store, customer)
                self.store.audit(name, "create", "customer", customer.id, idempotency_key=key)
            customer_id = customer.id
        key = intent_key(self.profile, invoice.number, attempt, "setup_link")
        request = NewSetupLink(
            customer_id,
            f"Invoice {invoice.number}"[:DESCRIPTION_LIMIT],
            currency=invoice.currency,
            amount=invoice.totals.incl_vat if name == "mollie" else None,
            language=invoice.language if invoice.language in ("fr", "en") else "en",
            metadata={"invoice": invoice.number},
        )
        link = self._call(
            key,
            "setup_link",
            name,
            invoice.number,
            attempt,
            {"customer": customer_id},
            lambda k: provider.create_setup_link(request, idempotency_key=k),
        )
        with self.store.transaction():
            self._finish(key, "succeeded", link.id)
            insert_setup_link(self.store, link, invoice.number)
            self.store.db.execute(
                "UPDATE invoices SET status = 'awaiting_mandate', updated_at = ? WHERE number = ?",
                (now_iso(), invoice.number),
            )
            self.store.audit(
                name, "create", "setup_link", link.id, idempotency_key=key, detail={"invoice": invoice.number}
            )
        return link

    def _email(self, invoice: Invoice, result: SendResult, attempt: int) -> str:
        key = intent_key(self.profile, invoice.number, attempt, "email")
        done = self._intent(key)
        if done is not None and done["status"] == "succeeded":
            return f"already sent to {invoice.customer_email}"
        if self.mailer is None:
            raise NotConnected(
                "smtp is not connected, so the invoice was not emailed",
                hint="run `crmpay connect smtp`, or send with --no-email",
            )
        import io

        from crmpay.documents.pdf import render_invoice
        from crmpay.services.invoices.mail import invoice_email

        pdf = io.BytesIO()
        line = (
            f"prélèvement SEPA, mandat {result.mandate_id}"
            if result.action == "payment"
            else f"lien de mise en place du prélèvement : {result.setup_link}"
        )
        render_invoice(invoice, self.seller, pdf, payment_line=line)
        message = invoice_email(
            invoice,
            pdf.getvalue(),
            sender=self.sender or "billing@localhost",
            seller_name=self.seller.name,
            charge_date=result.charge_date,
            mandate_reference=result.mandate_id,
            setup_link=result.setup_link,
        )
        self._begin(key, "email", "smtp", invoice.number, attempt, {"to": invoice.customer_email})
        try:
            self.mailer(message)
        except TemporaryError:
            raise TemporaryError(
                f"{result.action.replace('_', ' ')} created, but the email to {invoice.customer_email} was not sent",
                hint="run the same command again to send it",
            ) from None
        with self.store.transaction():
            self._finish(key, "succeeded")
        return f"sent to {invoice.customer_email}"


def _usable(row: Any) -> bool:
    if row["provider"] == "mollie":
        return bool(row["status"] == "valid")
    return row["status"] in ("pending_customer_approval", "pending_submission", "submitted", "active")


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def send(
    ctx: Context,
    number: str,
    *,
    mandate: str | None = None,
    provider: str | None = None,
    email: bool = True,
    dry_run: bool = False,
    new_attempt: bool = False,
) -> SendResult:
    """`crmpay invoice send`: the invoice (from the store, else from Zoho CRM when it is
    connected) collected by direct debit or sent with a mandate-setup link; the Zoho
    invoice's status follows."""
    from crmpay.services import context
    from crmpay.services.invoices.documents import seller_from
    from crmpay.services.invoices.ledger import load_invoice

    store = ctx.store()
    crm = context.crm(ctx, required=False)
    fetched = False
    try:
        invoice = load_invoice(store, number)
    except UsageError:
        if crm is None:
            raise
        from crmpay.services.invoices.zoho import fetch_invoice

        invoice, fetched = fetch_invoice(store, crm, number, today=clock.today()), True
    mailer, sender = context.mailer(ctx)
    seller = seller_from(ctx.config) if email else None
    result = InvoiceSender(
        store, ctx.profile, context.providers(ctx), mailer=mailer, seller=seller, sender=sender
    ).send(invoice, mandate=mandate, provider=provider, email=email, dry_run=dry_run, new_attempt=new_attempt)
    if fetched:
        result.notes.insert(0, f"{number} was fetched from Zoho CRM")
    if invoice.source == "zoho" and crm is not None and not dry_run:
        from crmpay.services.invoices.zoho import STATUS_SENT, push_status

        if push_status(store, crm, [number], STATUS_SENT):
            result.notes.append("the Zoho invoice's Status could not be updated; sync will retry")
    return result
