"""Sending an invoice: collect it by direct debit, or email a mandate-setup link.

Exactly once: before any create call at a provider, an intent row with a deterministic
idempotency key (profile + invoice + attempt + step) is committed; the provider is
called with that key; the result is recorded after. A rerun finds a pending intent and
repeats the call with the same key, so the provider answers with the object the first
call created instead of creating a second one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from crmpay.core import clock
from crmpay.core.clock import now_iso
from crmpay.core.errors import NotConnected, OperationFailed, TemporaryError, UsageError
from crmpay.core.invoice import Invoice
from crmpay.core.models import NewCustomer, NewPayment, NewSetupLink, Payment, SetupLink
from crmpay.core.money import Money
from crmpay.core.sepa import PRENOTIFICATION_DAYS
from crmpay.services import intents
from crmpay.services.intents import checkpoint
from crmpay.services.invoices.choose import MandateChoice, creditor_of
from crmpay.services.invoices.debits import (
    LIVE_PAYMENT_STATES,
    check_currency,
    created_under_expired_key,
    mollie_create_on,
    record_collection,
    remaining,
)
from crmpay.services.invoices.result import SendResult
from crmpay.services.invoices.scheduled import ScheduledDebits
from crmpay.store import Store
from crmpay.store.records import insert_setup_link, upsert_customer, upsert_payment

if TYPE_CHECKING:
    from crmpay.providers.base import PaymentProvider
    from crmpay.services.context import Context

T = TypeVar("T")
DESCRIPTION_LIMIT = 140


def intent_key(profile: str, number: str, attempt: int, step: str) -> str:
    return intents.intent_key(profile, number, attempt, step)


class InvoiceSender(MandateChoice, ScheduledDebits):
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
        notice_days: int = PRENOTIFICATION_DAYS,
        creditor_id: str | None = None,
        invoice_format: str = "pdf",  # or facturx: the PDF emailed carries its EN 16931 XML
    ) -> None:
        self.store, self.profile, self.providers = store, profile, providers
        self.invoice_format = invoice_format
        self.mailer, self.seller, self.sender = mailer, seller, sender
        self.today = today or clock.today()
        self.notice_days, self.creditor_id = notice_days, creditor_id

    # -- intents --------------------------------------------------------------------------------
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
        self._take_completed_link(invoice)
        attempt = self._attempt(invoice, new_attempt, dry_run)
        amount = remaining(invoice)
        notes: list[str] = []
        chosen = self._choose_mandate(invoice, mandate, provider, notes)
        if chosen is not None:
            row, fresh, charge = chosen
            name = row["provider"]
            result = SendResult(
                invoice.number,
                "payment",
                name,
                attempt,
                dry_run,
                amount.decimal_string(),
                amount.currency,
                mandate_id=fresh.id,
                mandate_reference=fresh.reference or fresh.id,
                creditor_id=self._creditor(name),
                charge_date=charge.isoformat(),
                notes=notes,
            )
            create_on = mollie_create_on(charge) if name == "mollie" else self.today
            if create_on > self.today:
                result.scheduled_for = create_on.isoformat()
                result.notes.append(
                    f"Mollie debits a payment as soon as it is created: crmpay creates it on {create_on} "
                    f"for a debit on {charge} (run `crmpay invoices collect` daily, e.g. from cron)"
                )
            if not dry_run:
                if result.scheduled_for:
                    self._schedule(invoice, row, fresh, charge, create_on, attempt, amount)
                else:
                    payment = self._pay(invoice, row, charge, attempt, amount)
                    result.payment_id = payment.id
                    result.charge_date = (payment.charge_date or charge).isoformat()
                    result.creditor_id = result.creditor_id or creditor_of(payment)
        else:
            name = self._provider_for(invoice, provider)
            check_currency(invoice.currency, self.providers[name])
            result = SendResult(
                invoice.number,
                "setup_link",
                name,
                attempt,
                dry_run,
                amount.decimal_string(),
                amount.currency,
                notes=notes,
            )
            if name == "mollie":
                result.notes.append(
                    "the link is a first payment of the invoice amount: paying it "
                    "settles the invoice and sets up the mandate"
                )
            if not dry_run:
                link = self._setup_link(invoice, name, attempt, amount)
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
        """The last attempt, when its debit (created or scheduled) or link is done but its
        email is not: a rerun sends that email, with the facts journaled at the time."""
        rows = self.attempts(invoice.number)
        if not rows or rows[-1]["status"] not in ("succeeded", "scheduled"):
            return None
        last = rows[-1]
        sent = intents.get(self.store, intent_key(self.profile, invoice.number, last["attempt"], "email"))
        if sent is not None and sent["status"] == "succeeded":
            return None
        journal = json.loads(last["request"] or "{}")
        amount = (
            Money.from_minor(int(journal["amount_minor"]), journal["currency"])
            if "amount_minor" in journal
            else remaining(invoice)
        )
        result = SendResult(
            invoice.number,
            last["kind"],
            last["provider"],
            last["attempt"],
            False,
            amount.decimal_string(),
            amount.currency,
        )
        if last["kind"] == "payment":
            mandate = self._mandate_row(last["provider"], journal.get("mandate") or "")
            result.mandate_id = journal.get("mandate")
            result.mandate_reference = (mandate["reference"] if mandate else None) or result.mandate_id
            result.creditor_id = self._creditor(last["provider"])
            result.payment_id = last["result_id"]
            made = self.store.db.execute(
                "SELECT charge_date FROM payments WHERE provider = ? AND provider_id = ?",
                (last["provider"], result.payment_id),
            ).fetchone()
            result.charge_date = (made["charge_date"] if made else None) or journal.get("charge_date")
            result.scheduled_for = journal.get("create_on") if last["status"] == "scheduled" else None
        else:
            row = self.store.db.execute(
                "SELECT url, expires_at FROM setup_links WHERE provider = ? AND provider_id = ?",
                (last["provider"], last["result_id"]),
            ).fetchone()
            result.setup_link, result.link_expires_at = (row["url"], row["expires_at"]) if row else (None, None)
        return result

    def _attempt(self, invoice: Invoice, new_attempt: bool, dry_run: bool) -> int:
        rows = self.attempts(invoice.number)
        if not rows:
            return 1
        last = rows[-1]
        if last["status"] == "pending":
            return int(last["attempt"])  # resume with the same key
        if last["status"] == "scheduled":
            charge = json.loads(last["request"])["charge_date"]
            if not new_attempt:
                raise OperationFailed(
                    f"invoice {invoice.number} already has a debit scheduled for {charge} ({last['provider']})",
                    hint="`crmpay invoices collect` creates it on the day; --new-attempt drops it and starts again",
                )
            if not dry_run:
                with self.store.transaction():
                    self._finish(last["key"], "dropped", error="replaced by a new attempt")
            return int(last["attempt"]) + 1
        if last["kind"] == "setup_link" and last["status"] == "succeeded" and self._link_completed(last):
            return int(last["attempt"]) + 1  # the customer set up the mandate: collect on it
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

    def _request(self, invoice: Invoice, mandate: Any, charge: date, amount: Money) -> NewPayment:
        name = mandate["provider"]
        return NewPayment(
            mandate_id=mandate["provider_id"],
            amount=amount,
            description=f"Invoice {invoice.number}"[:DESCRIPTION_LIMIT],
            charge_date=charge if name == "gocardless" else None,
            customer_id=mandate["customer_id"],
            metadata={"invoice": invoice.number},
        )

    @staticmethod
    def _journal(mandate: Any, request: NewPayment, charge: date, **more: Any) -> dict[str, Any]:
        return {
            "mandate": mandate["provider_id"],
            "amount_minor": request.amount.minor,
            "currency": request.amount.currency,
            "charge_date": charge.isoformat(),
            **more,
        }

    def _pay(self, invoice: Invoice, mandate: Any, charge: date, attempt: int, amount: Money) -> Payment:
        name = mandate["provider"]
        provider = self.providers[name]
        key = intent_key(self.profile, invoice.number, attempt, "payment")
        request = self._request(invoice, mandate, charge, amount)
        payment = created_under_expired_key(self.store, provider, key, request) or self._call(
            key,
            "payment",
            name,
            invoice.number,
            attempt,
            self._journal(mandate, request, charge),
            lambda k: provider.create_payment(request, idempotency_key=k),
        )
        with self.store.transaction():
            self._finish(key, "succeeded", payment.id)
            upsert_payment(self.store, payment)
            record_collection(self.store, name, mandate["provider_id"], payment.charge_date or charge)
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

    def _setup_link(self, invoice: Invoice, name: str, attempt: int, amount: Money) -> SetupLink:
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
            amount=amount if name == "mollie" else None,
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
        done = intents.get(self.store, key)
        if done is not None and done["status"] == "succeeded":
            return f"already sent to {invoice.customer_email}"
        if self.mailer is None:
            raise NotConnected(
                "smtp is not connected, so the invoice was not emailed",
                hint="run `crmpay connect smtp`, or send with --no-email",
            )
        import io

        from crmpay.documents.pdf import render_invoice
        from crmpay.services.invoices.mail import invoice_email, notice_facts, payment_line

        facts = notice_facts(invoice, result)
        pdf = io.BytesIO()
        render_invoice(invoice, self.seller, pdf, payment_line=payment_line(invoice.language, facts))
        attachment = pdf.getvalue()
        if self.invoice_format == "facturx":
            from crmpay.services.invoices.documents import as_facturx

            attachment = as_facturx(invoice, attachment, self.seller)
        message = invoice_email(
            invoice,
            attachment,
            sender=self.sender or "billing@localhost",
            seller_name=self.seller.name or "",
            facts=facts,
        )
        intents.begin(self.store, key, "email", "smtp", invoice.number, attempt, {"to": invoice.customer_email})
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
    """`crmpay invoices send`: the invoice (from the store, else from Zoho CRM when it is
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
    settings = ctx.config.settings
    result = InvoiceSender(
        store,
        ctx.profile,
        context.providers(ctx),
        mailer=mailer,
        seller=seller,
        sender=sender,
        notice_days=settings.sepa.prenotification_days,
        creditor_id=settings.creditor_id,
        invoice_format=settings.invoices.format,
    ).send(invoice, mandate=mandate, provider=provider, email=email, dry_run=dry_run, new_attempt=new_attempt)
    if fetched:
        result.notes.insert(0, f"{number} was fetched from Zoho CRM")
    if invoice.source == "zoho" and crm is not None and not dry_run:
        from crmpay.services.invoices.zoho import STATUS_SENT, push_status

        if push_status(store, crm, [number], STATUS_SENT):
            result.notes.append("the Zoho invoice's Status could not be updated; sync will retry")
    return result
