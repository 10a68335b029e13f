"""Credit notes (avoirs): an issued invoice is corrected, never edited.

A credit note has its own number in its own series (`seller.credit_note_prefix`, `AV-` by
default: AV-2026-0001 …, gapless and chronological like the invoices' — French practice
accepts a distinct series as long as each is continuous), names the invoice it corrects
with its date, and lowers what is left to pay on it. Full (every line of the invoice, when
nothing was credited yet) or partial (`--line`, each at a VAT rate and category the
invoice has), never more than the invoice's total less what was already credited.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from crmpay.core.errors import UsageError
from crmpay.core.invoice import Invoice, InvoiceLine, totals
from crmpay.core.money import Money
from crmpay.store import Store

if TYPE_CHECKING:
    from crmpay.config import SellerSettings


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
    paid = int(original.extra.get("manual_payments") or 0)
    after = credited + amount
    facts: dict[str, Any] = {
        "credit_note": note.number,
        "invoice": number,
        "amount": amount.decimal_string(),
        "currency": currency,
        "credited_total": after.decimal_string(),
        "amount_due": Money.from_minor(max(total.minor - after.minor - paid, 0), currency).decimal_string(),
        "dry_run": dry_run,
    }
    refund = paid + after.minor - total.minor
    if refund > 0:
        # paid beyond what is now owed: the customer is to be refunded (not done by crmpay yet)
        facts["refund_due"] = Money.from_minor(refund, currency).decimal_string()
    if not dry_run and after.minor == total.minor and original.status in ("unpaid", "awaiting_mandate"):
        with store.transaction():
            store.db.execute("UPDATE invoices SET status = 'credited' WHERE number = ?", (number,))
    return note, facts
