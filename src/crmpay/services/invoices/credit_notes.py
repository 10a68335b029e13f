"""Credit notes (avoirs): an issued invoice is corrected, never edited.

A credit note has its own number in its own series (`seller.credit_note_prefix`, `AV-` by
default: AV-2026-0001 …, gapless and chronological like the invoices' — French practice
accepts a distinct series as long as each is continuous), names the invoice it corrects
with its date, and lowers what is left to pay on it. Full (every line of the invoice, when
nothing was credited yet) or partial (`--line`, each at a VAT rate and category the
invoice has), never more than the invoice's total less what was already credited.

When the invoice was paid, by hand or by direct debit, a credit note can leave it paid
beyond what it now owes: the part a provider collected is refunded through that provider
(services/invoices/refunds.py), the rest is to be refunded by hand (`refund_by_hand`).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from crmpay.core.errors import UsageError
from crmpay.core.invoice import Invoice, InvoiceLine, totals
from crmpay.core.money import Money
from crmpay.services.invoices import refunds
from crmpay.services.invoices.refunds import RefundLine
from crmpay.store import Store

if TYPE_CHECKING:
    from crmpay.config import SellerSettings
    from crmpay.providers.base import PaymentProvider
    from crmpay.services.context import Context


def credit_invoice(
    store: Store,
    number: str,
    *,
    prefix: str,
    seller: SellerSettings | None,
    today: date,
    lines: list[InvoiceLine] | None = None,
    reason: str | None = None,
    dry_run: bool = False,
) -> tuple[Invoice, dict[str, Any]]:
    from crmpay.services.invoices.ledger import create_invoice, load_invoice

    original = load_invoice(store, number)
    if original.kind != "invoice":
        raise UsageError(f"{number} is a credit note: only an invoice is credited")
    currency = original.currency
    total = original.totals.incl_vat
    credited = original.amount_credited or total - total
    if lines is None:
        if credited.minor:
            raise UsageError(f"{number} was already credited for {credited}: credit the rest with --line")
        lines = list(original.lines)
    else:
        allowed = {(ln.vat_rate, ln.vat_category) for ln in original.lines}
        for line in lines:
            if (line.vat_rate, line.vat_category) not in allowed:
                raise UsageError(
                    f"{line.description!r}: {number} has no line at VAT {line.vat_rate} % ({line.vat_category})"
                )
    amount = totals(lines, currency).incl_vat
    if amount.minor > (total - credited).minor:
        raise UsageError(f"{amount} is more than the {total - credited} of {number} not yet credited")
    note = create_invoice(
        store,
        prefix=prefix,
        customer_email=original.customer_email,
        customer_name=original.customer_name,
        language=original.language,
        currency=currency,
        lines=lines,
        issue_date=today,
        due_date=today,
        customer_address=original.customer_address,
        service_date=original.service_date or original.issue_date,
        buyer_vat=original.buyer_vat,
        buyer_siren=original.buyer_siren,
        po_number=original.po_number,
        seller=seller,
        kind="credit_note",
        credits=number,
        reason=reason,
        dry_run=dry_run,
    )
    note = replace(note, credits_date=original.issue_date)
    after = credited + amount
    facts = standing(store, original, after)
    facts = {"credit_note": note.number, "invoice": number, "amount": amount.decimal_string(), **facts}
    facts["dry_run"] = dry_run
    if not dry_run and after.minor == total.minor and original.status in ("unpaid", "awaiting_mandate"):
        with store.transaction():
            store.db.execute("UPDATE invoices SET status = 'credited' WHERE number = ?", (number,))
    return note, facts


def standing(store: Store, invoice: Invoice, credited: Money) -> dict[str, Any]:
    """What the invoice owes once `credited` is credited, against what was paid (by hand,
    and by direct debits less what crmpay refunded of them): the amount due, or what was
    paid beyond it (`refund_due`, with `overpaid_minor` for the refunds)."""
    currency = invoice.currency
    owed = invoice.totals.incl_vat.minor - credited.minor
    paid = int(invoice.extra.get("manual_payments") or 0) + refunds.collected_net_minor(store, invoice.number)
    facts: dict[str, Any] = {
        "currency": currency,
        "credited_total": credited.decimal_string(),
        "amount_due": Money.from_minor(max(owed - paid, 0), currency).decimal_string(),
    }
    if paid > owed:  # paid beyond what is now owed: the customer is to be refunded
        facts["refund_due"] = Money.from_minor(paid - owed, currency).decimal_string()
        facts["overpaid_minor"] = paid - owed
    return facts


@dataclass
class CreditResult:
    """What `invoices credit` did: the credit note's facts, its refunds, and notes."""

    facts: dict[str, Any]
    refunds: list[RefundLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    resumed: bool = False  # a credit note issued before: only its refunds were finished

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.facts,
            "resumed": self.resumed,
            "refunds": [line.as_dict() for line in self.refunds],
            "notes": self.notes,
        }

    def raise_for_outcome(self) -> None:
        """Raise what the command exits with when a refund was refused (1) or could not be
        finished (5, or 4 for credentials): the credit note stays issued either way."""
        error = refunds.outcome_error(self.facts["invoice"], self.refunds)
        if error is not None:
            raise error


def credit(
    ctx: Context,
    number: str,
    *,
    lines: list[InvoiceLine] | None = None,
    reason: str | None = None,
    dry_run: bool = False,
    refund: bool = True,
) -> CreditResult:
    """`crmpay invoices credit`: issue a credit note and refund, through the provider that
    collected it, what the invoice was paid beyond what it now owes. When a credit note of
    the invoice still has a refund pending or refused, only that refund is finished (or,
    with `refund=False`, a refused one is given up): no second credit note is issued. One
    run at a time per profile (a dry run reads only)."""
    if dry_run:
        return _credit(ctx, number, lines, reason, dry_run=True, refund=refund)
    from crmpay.services import context

    with context.profile_lock(ctx, "credit", "invoices credit"):
        return _credit(ctx, number, lines, reason, dry_run=False, refund=refund)


def _credit(
    ctx: Context, number: str, lines: list[InvoiceLine] | None, reason: str | None, *, dry_run: bool, refund: bool
) -> CreditResult:
    from crmpay.core import clock
    from crmpay.services.invoices.ledger import load_invoice

    store = ctx.store()
    original = load_invoice(store, number)
    unfinished = refunds.unfinished(store, number)
    if unfinished:
        return _finish(ctx, original, unfinished, refund=refund, dry_run=dry_run)
    seller = ctx.config.settings.seller
    providers: dict[str, PaymentProvider] = {}
    # the credit note, its refunds and their intents: all or nothing
    with nullcontext() if dry_run else store.transaction():
        note, facts = credit_invoice(
            store,
            number,
            prefix=seller.credit_note_prefix,
            seller=seller if seller.name else None,
            today=clock.today(),
            lines=lines,
            reason=reason,
            dry_run=dry_run,
        )
        overpaid = int(facts.pop("overpaid_minor", 0))
        planned = refunds.plan(store, number, Money.from_minor(overpaid, original.currency)) if overpaid else []
        if refund and not dry_run:
            providers = _open(ctx, {item.provider for item in planned})  # not connected: nothing is issued
        rows = [] if dry_run else refunds.record(store, ctx.profile, note.number, number, planned, drop=not refund)
    result = CreditResult(facts)
    if dry_run:
        result.refunds = [
            RefundLine(
                item.provider,
                item.payment_id,
                item.amount.decimal_string(),
                item.amount.currency,
                "would_refund" if refund else "would_drop",
                credit_note=note.number,
            )
            for item in planned
        ]
    else:
        result.refunds = [
            refunds.make(store, ctx.profile, providers, row, original.language) if refund else refunds.line_of(row)
            for row in rows
        ]
    by_hand = overpaid - sum(item.amount.minor for item in planned)
    _notes(result, store, original, by_hand, refund=refund)
    return result


def _open(ctx: Context, names: set[str]) -> dict[str, PaymentProvider]:
    from crmpay.services import context

    return {name: context.providers(ctx, name)[name] for name in sorted(names)}


def _finish(ctx: Context, original: Invoice, rows: list[Any], *, refund: bool, dry_run: bool) -> CreditResult:
    """The refunds a credit note of the invoice left pending or refused: made (the pending
    with their key, the refused as a new attempt), or given up with `refund=False`."""
    store = ctx.store()
    note = rows[-1]["credit_note"]
    amount = store.db.execute("SELECT total_incl_minor FROM invoices WHERE number = ?", (note,)).fetchone()[0]
    result = CreditResult(
        {
            "credit_note": note,
            "invoice": original.number,
            "amount": Money.from_minor(amount, original.currency).decimal_string(),
        },
        resumed=True,
    )
    doing = ("finish it" if refund else "give it up (refund it another way)") if dry_run else ""
    done = "this run finishes it" if refund else "this run gives it up: refund it another way"
    result.notes.append(
        f"credit note {note} was issued before and its refund was not finished: "
        + (f"this run would {doing}" if dry_run else done)
        + "; no other credit note is issued"
    )
    if dry_run:
        result.refunds = [refunds.line_of(row, "would_retry" if refund else "would_drop") for row in rows]
    elif not refund:
        result.refunds = [refunds.drop(store, row) for row in rows]
    else:
        providers = _open(ctx, {row["provider"] for row in rows})
        result.refunds = [refunds.make(store, ctx.profile, providers, row, original.language) for row in rows]
    facts = standing(store, original, original.amount_credited or Money.from_minor(0, original.currency))
    facts.pop("overpaid_minor", None)
    result.facts.update(facts, dry_run=dry_run)
    return result


def _notes(result: CreditResult, store: Store, invoice: Invoice, by_hand: int, *, refund: bool) -> None:
    currency = invoice.currency
    if by_hand > 0:
        money = Money.from_minor(by_hand, currency).decimal_string()
        result.facts["refund_by_hand"] = money
        result.notes.append(
            f"{money} {currency} paid by hand (cheque, transfer or cash) is beyond what is owed: refund it by "
            "hand; a provider refunds only the debits it collected"
        )
    for line in result.refunds:
        if line.status in ("dropped", "would_drop") and not refund:
            result.notes.append(
                f"--no-refund: the {line.amount} {currency} that {line.provider} collected (payment "
                f"{line.payment_id}) is not refunded through it; refund it another way"
            )
    live = store.db.execute(
        "SELECT provider, provider_id, status FROM payments WHERE invoice_number = ? AND state IN"
        " ('pending', 'submitted')",
        (invoice.number,),
    ).fetchall()
    for row in live:
        result.notes.append(
            f"direct debit {row['provider_id']} ({row['provider']}, {row['status']}) is still under way and will "
            f"collect its amount: cancel it while it can be (`crmpay payments cancel {row['provider_id']}`)"
        )
