"""Invoices in the store: gapless numbering, creation, listing, manual payments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from crmpay.core.clock import now_iso
from crmpay.core.errors import OperationFailed, UsageError
from crmpay.core.invoice import LANGUAGES, Invoice, InvoiceLine, totals
from crmpay.core.money import Money, exponent
from crmpay.core.validation import email_problems
from crmpay.services.invoices.debits import live_debit
from crmpay.store import Store, filters

PAYMENT_METHODS = ("cheque", "transfer", "cash")


def _sequence_key(prefix: str, year: int) -> str:
    return f"{prefix}{year}-"


def next_number(store: Store, prefix: str, year: int) -> str:
    """Allocate the next number for prefix + year; call inside the invoice's transaction,
    so a failed insert rolls the counter back and numbers never have gaps."""
    key = _sequence_key(prefix, year)
    store.db.execute(
        "INSERT INTO invoice_sequences (prefix, last) VALUES (?, 1) ON CONFLICT (prefix) DO UPDATE SET last = last + 1",
        (key,),
    )
    last = store.db.execute("SELECT last FROM invoice_sequences WHERE prefix = ?", (key,)).fetchone()
    return f"{key}{last[0]:04d}"


def peek_number(store: Store, prefix: str, year: int) -> str:
    """The number the next invoice would get (for --dry-run); allocates nothing."""
    key = _sequence_key(prefix, year)
    row = store.db.execute("SELECT last FROM invoice_sequences WHERE prefix = ?", (key,)).fetchone()
    return f"{key}{(row[0] if row else 0) + 1:04d}"


def create_invoice(
    store: Store,
    *,
    prefix: str,
    customer_email: str,
    customer_name: str | None,
    language: str,
    currency: str,
    lines: list[InvoiceLine],
    issue_date: date,
    due_date: date,
    customer_address: str | None = None,
    dry_run: bool = False,
    number: str | None = None,
    source: str = "local",
    source_ref: str | None = None,
) -> Invoice:
    """A new invoice; `number` keeps a number given elsewhere (a Zoho invoice's)."""
    problems = email_problems(customer_email)
    if problems:
        raise UsageError(problems[0])
    if language not in LANGUAGES:
        raise UsageError(f"language {language!r}: choose one of {', '.join(LANGUAGES)}")
    currency = currency.upper()
    exponent(currency)  # a malformed currency code is a usage error
    if not lines:
        raise UsageError("an invoice needs at least one line")
    if due_date < issue_date:
        raise UsageError(f"due date {due_date} is before the issue date {issue_date}")
    invoice = Invoice(
        "",
        currency,
        customer_email.strip(),
        customer_name,
        language,
        issue_date,
        due_date,
        lines,
        customer_address=customer_address,
    )
    invoice.source = source
    if dry_run:
        invoice.number = number or peek_number(store, prefix, issue_date.year)
        return invoice
    sums = totals(lines, currency)
    with store.transaction():
        invoice.number = number or next_number(store, prefix, issue_date.year)
        now = now_iso()
        cursor = store.db.execute(
            "INSERT INTO invoices (number, source, source_ref, customer_email, customer_name, language,"
            " currency, issue_date, due_date, status, total_excl_minor, total_vat_minor,"
            " total_incl_minor, created_at, updated_at, customer_address)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'unpaid', ?, ?, ?, ?, ?, ?)",
            (
                invoice.number,
                source,
                source_ref,
                invoice.customer_email,
                customer_name,
                language,
                currency,
                issue_date.isoformat(),
                due_date.isoformat(),
                sums.excl_vat.minor,
                sums.vat.minor,
                sums.incl_vat.minor,
                now,
                now,
                customer_address,
            ),
        )
        store.db.executemany(
            "INSERT INTO invoice_lines VALUES (?, ?, ?, ?, ?, ?)",
            [
                (cursor.lastrowid, i, line.description, str(line.quantity), str(line.unit_price), str(line.vat_rate))
                for i, line in enumerate(lines, start=1)
            ],
        )
    return invoice


def load_invoice(store: Store, number: str) -> Invoice:
    row = store.db.execute("SELECT * FROM invoices WHERE number = ?", (number,)).fetchone()
    if row is None:
        raise UsageError(f"no invoice {number!r} in the store", hint="see `crmpay invoice list`")
    lines = [
        InvoiceLine(r["description"], Decimal(r["quantity"]), Decimal(r["unit_price"]), Decimal(r["vat_rate"]))
        for r in store.db.execute("SELECT * FROM invoice_lines WHERE invoice_id = ? ORDER BY position", (row["id"],))
    ]
    paid = store.db.execute(
        "SELECT coalesce(sum(amount_minor), 0) FROM manual_payments WHERE invoice_id = ?",
        (row["id"],),
    ).fetchone()[0]
    return Invoice(
        number=row["number"],
        currency=row["currency"],
        customer_email=row["customer_email"],
        customer_name=row["customer_name"],
        language=row["language"],
        issue_date=date.fromisoformat(row["issue_date"]),
        due_date=date.fromisoformat(row["due_date"]),
        lines=lines,
        status=row["status"],
        source=row["source"],
        extra={"source_ref": row["source_ref"] or ""},
        paid_on=date.fromisoformat(row["paid_on"]) if row["paid_on"] else None,
        customer_address=row["customer_address"],
        amount_paid=Money.from_minor(paid, row["currency"]),
    )


def invoice_dict(invoice: Invoice) -> dict[str, Any]:
    sums = invoice.totals
    return {
        "number": invoice.number,
        "status": invoice.status,
        "source": invoice.source,
        "customer_email": invoice.customer_email,
        "customer_name": invoice.customer_name,
        "language": invoice.language,
        "currency": invoice.currency,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "paid_on": invoice.paid_on,
        "total_excl_vat": sums.excl_vat.decimal_string(),
        "total_vat": sums.vat.decimal_string(),
        "total_incl_vat": sums.incl_vat.decimal_string(),
        "amount_paid": invoice.amount_paid.decimal_string() if invoice.amount_paid else None,
        "vat": [
            {"rate": str(v.rate), "base": v.base.decimal_string(), "vat": v.vat.decimal_string()}
            for v in sums.vat_lines
        ],
        "lines": [
            {
                "description": ln.description,
                "quantity": str(ln.quantity),
                "unit_price": str(ln.unit_price),
                "vat_rate": str(ln.vat_rate),
                "net": str(ln.net(invoice.currency)),
            }
            for ln in invoice.lines
        ],
    }


def list_invoices(
    store: Store, *, status: str | None = None, customer: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    where, args = filters(
        ("status = ?", status), ("customer_email = ? COLLATE NOCASE", customer), order="id DESC", limit=limit
    )
    sql = (
        "SELECT number, status, customer_email, customer_name, currency, issue_date, due_date,"
        " total_incl_minor, paid_on FROM invoices WHERE 1=1" + where
    )
    return [
        {
            "number": r["number"],
            "status": r["status"],
            "customer_email": r["customer_email"],
            "customer_name": r["customer_name"],
            "currency": r["currency"],
            "issue_date": r["issue_date"],
            "due_date": r["due_date"],
            "total_incl_vat": Money.from_minor(r["total_incl_minor"], r["currency"]).decimal_string(),
            "paid_on": r["paid_on"],
        }
        for r in store.db.execute(sql, args)
    ]


def record_payment(
    store: Store,
    number: str,
    *,
    amount: str,
    method: str,
    received_on: date,
    reference: str | None = None,
    today: date,
    dry_run: bool = False,
) -> dict[str, Any]:
    """A cheque, transfer or cash payment; partial payments add up; paid when covered."""
    if method not in PAYMENT_METHODS:
        raise UsageError(f"method {method!r}: choose one of {', '.join(PAYMENT_METHODS)}")
    if received_on > today:
        raise UsageError(f"received date {received_on} is in the future")
    invoice = load_invoice(store, number)
    money = Money.parse(amount, invoice.currency)
    if money.amount <= 0:
        raise UsageError("the amount must be more than 0")
    if invoice.status == "paid":
        raise OperationFailed(f"invoice {number} is already paid (on {invoice.paid_on})")
    total = invoice.totals.incl_vat
    paid_before = invoice.amount_paid or Money.from_minor(0, invoice.currency)
    paid_after = paid_before + money
    if paid_after.minor > total.minor:
        remaining = total - paid_before
        raise UsageError(f"{money} is more than the {remaining} left to pay on {number}")
    debit = live_debit(store, number, invoice.currency)
    if debit is not None and not debit.scheduled and paid_after.minor + debit.amount.minor > total.minor:
        # The debit takes its amount as well: the customer would pay twice.
        room = total - paid_before - debit.amount
        limit = f"; at most {room} can be recorded beside it" if room.minor > 0 else ""
        raise OperationFailed(
            f"invoice {number} already has a direct debit of {debit.amount} ({debit.provider} payment "
            f"{debit.payment_id or '(being created)'}, charge date {debit.charge_date}){limit}",
            hint=f"cancel it first: crmpay payment cancel {debit.payment_id}"
            if debit.payment_id
            else "run the same `crmpay invoice send` again to finish creating it, then cancel it",
        )
    status = "paid" if paid_after.minor == total.minor else "partially_paid"
    result = {
        "number": number,
        "amount": money.decimal_string(),
        "currency": invoice.currency,
        "method": method,
        "received_on": received_on,
        "paid_total": paid_after.decimal_string(),
        "remaining": (total - paid_after).decimal_string(),
        "status": status,
        "dry_run": dry_run,
    }
    if debit is not None and debit.scheduled:
        # No money has moved yet: the scheduled debit (for the whole amount) is dropped.
        result["note"] = (
            f"the debit of {debit.amount} scheduled for {debit.charge_date} was dropped; "
            f"`crmpay invoice send {number} --new-attempt` collects what remains"
        )
    if dry_run:
        return result
    with store.transaction():
        invoice_id = store.db.execute("SELECT id FROM invoices WHERE number = ?", (number,)).fetchone()[0]
        store.db.execute(
            "INSERT INTO manual_payments (invoice_id, amount_minor, currency, method, received_on,"
            " reference, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (invoice_id, money.minor, invoice.currency, method, received_on.isoformat(), reference, now_iso()),
        )
        store.db.execute(
            "UPDATE invoices SET status = ?, paid_on = ?, updated_at = ? WHERE id = ?",
            (status, received_on.isoformat() if status == "paid" else None, now_iso(), invoice_id),
        )
        if debit is not None and debit.scheduled:
            store.db.execute(
                "UPDATE intents SET status = 'dropped', error = 'a manual payment was recorded', updated_at = ?"
                " WHERE key = ?",
                (now_iso(), debit.intent_key),
            )
    return result
