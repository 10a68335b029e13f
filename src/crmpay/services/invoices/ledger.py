"""Invoices in the store: gapless numbering, creation, listing (manual payments:
manual_payments.py)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crmpay.core import clock
from crmpay.core.clock import now_iso
from crmpay.core.errors import UsageError
from crmpay.core.invoice import (
    LANGUAGES,
    MAX_TEXT,
    Invoice,
    InvoiceLine,
    check_identifier,
    check_nature,
    check_text,
    check_total,
)
from crmpay.core.money import Money, exponent
from crmpay.core.validation import email_problems
from crmpay.store import Store, filters

if TYPE_CHECKING:
    from crmpay.config import Config, SellerSettings

PREFIX = re.compile(r"[A-Z0-9][A-Z0-9-]{0,11}")
EARLIEST = date(2000, 1, 1)
MAX_TERM = timedelta(days=5 * 365 + 1)  # a service date at most 5 years from the issue date
LATEST_DUE = date(2099, 12, 31)  # a due date in the 22nd century is a typo (9999-12-31)
MAX_LINES = 1000


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


def check_prefix(prefix: str) -> str:
    if not PREFIX.fullmatch(prefix):
        raise UsageError(f"invoice prefix {prefix!r}: 1 to 12 capital letters, digits or '-' (e.g. INV-)")
    return prefix


def check_series(store: Store, prefix: str, *, credit_prefix: str | None = None) -> None:
    """One series per prefix: the first invoice opens it; another prefix is refused until
    it is opened explicitly (`crmpay invoices new-series`), so a changed setting never
    starts a parallel numbering silently."""
    opened = [r[0] for r in store.db.execute("SELECT prefix FROM invoice_series ORDER BY opened_at, prefix")]
    if prefix in opened or prefix == credit_prefix:
        return
    if opened:
        raise UsageError(
            f"seller.invoice_prefix is {prefix!r} but the invoices so far are numbered in the series "
            f"{', '.join(repr(p) for p in opened)}; a new series is opened explicitly",
            hint=f"crmpay invoices new-series {prefix}  (or set seller.invoice_prefix back)",
        )
    store.db.execute("INSERT INTO invoice_series (prefix, opened_at) VALUES (?, ?)", (prefix, now_iso()))


def open_series(store: Store, config: Config, prefix: str, *, dry_run: bool = False) -> dict[str, Any]:
    """Open a numbering series and make it `seller.invoice_prefix` (`crmpay invoices new-series`)."""
    check_prefix(prefix)
    known = store.db.execute("SELECT opened_at FROM invoice_series WHERE prefix = ?", (prefix,)).fetchone()
    result = {"prefix": prefix, "opened": known is None, "dry_run": dry_run}
    config.set_value("seller.invoice_prefix", prefix, dry_run=True)  # valid before anything is written
    if not dry_run:
        with store.transaction():
            if known is None:
                store.db.execute("INSERT INTO invoice_series (prefix, opened_at) VALUES (?, ?)", (prefix, now_iso()))
        config.set_value("seller.invoice_prefix", prefix)
    return result


def check_dates(
    store: Store, key: str | None, issue_date: date, due_date: date, service_date: date | None, today: date
) -> None:
    """Issue dates follow the numbers: never before the series' last invoice, never in
    the future; due and service dates within a sane distance of the issue date."""
    if issue_date > today:
        raise UsageError(f"issue date {issue_date} is in the future (today is {today})")
    if issue_date < EARLIEST:
        raise UsageError(f"issue date {issue_date} is before {EARLIEST}")
    if due_date < issue_date:
        raise UsageError(f"due date {due_date} is before the issue date {issue_date}")
    if due_date > LATEST_DUE:
        raise UsageError(f"due date {due_date} is after {LATEST_DUE}")
    if service_date is not None and abs(service_date - issue_date) > MAX_TERM:
        raise UsageError(f"service date {service_date} is more than 5 years from the issue date {issue_date}")
    if key is None:
        return
    last = store.db.execute(
        "SELECT number, issue_date FROM invoices WHERE substr(number, 1, ?) = ? ORDER BY issue_date DESC LIMIT 1",
        (len(key), key),
    ).fetchone()
    if last is not None and issue_date.isoformat() < last["issue_date"]:
        raise UsageError(
            f"issue date {issue_date} is before {last['issue_date']}, the date of {last['number']}: "
            "invoice dates follow their numbers"
        )


def _optional_text(value: str | None, what: str, *, multiline: bool = False, limit: int = MAX_TEXT) -> str | None:
    if value is None or not value.strip():
        return None
    return check_text(value.strip(), what, multiline=multiline, limit=limit)


def _service_period(
    period: tuple[date, date] | None, service_date: date | None, issue_date: date
) -> tuple[date | None, date | None]:
    """A service period: its first and last day, in order, within 5 years of the issue
    date; it takes the place of a service date (not both)."""
    if period is None:
        return None, None
    start, end = period
    if service_date is not None:
        raise UsageError("give a service date or a service period, not both")
    if end < start:
        raise UsageError(f"service period {start}..{end}: its end is before its start")
    for day in (start, end):
        if abs(day - issue_date) > MAX_TERM:
            raise UsageError(f"service period {start}..{end}: more than 5 years from the issue date {issue_date}")
    return start, end


def _identifier(kind: str, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return check_identifier(kind, value)
    except ValueError as exc:
        raise UsageError(f"buyer {kind.replace('_', ' ')}: {exc}") from None


def _check_seller(seller: SellerSettings | None, *, charges_vat: bool) -> None:
    """An invoice crmpay numbers is issued by a seller whose identity is set."""
    from crmpay.config import SellerSettings

    missing = (seller or SellerSettings()).identity_problems(charges_vat=charges_vat)
    if missing:
        raise UsageError(
            f"the seller's identity is incomplete: {', '.join(missing)} not set; no invoice is issued without it",
            hint=f"crmpay config set {missing[0]} VALUE",
        )


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
    service_date: date | None = None,
    buyer_vat: str | None = None,
    buyer_siren: str | None = None,
    po_number: str | None = None,
    business: bool = False,
    service_period: tuple[date, date] | None = None,
    delivery_address: str | None = None,
    nature: str | None = None,
    seller: SellerSettings | None = None,
    kind: str = "invoice",
    credits: str | None = None,
    reason: str | None = None,
) -> Invoice:
    """A new invoice; `number` keeps a number given elsewhere (a Zoho invoice's). With
    `seller`, what the invoice prints of the seller and its legal texts are frozen now.
    `service_period` (first and last day) replaces `service_date`; `nature` is goods,
    services or mixed."""
    problems = email_problems(customer_email)
    if problems:
        raise UsageError(problems[0])
    if language not in LANGUAGES:
        raise UsageError(f"language {language!r}: choose one of {', '.join(LANGUAGES)}")
    currency = currency.upper()
    exponent(currency)  # a malformed currency code is a usage error
    if not lines:
        raise UsageError("an invoice needs at least one line")
    if len(lines) > MAX_LINES:
        raise UsageError(f"an invoice has at most {MAX_LINES} lines")
    customer_name = _optional_text(customer_name, "name")
    customer_address = _optional_text(customer_address, "address", multiline=True)
    po_number = _optional_text(po_number, "purchase order number", limit=60)
    delivery_address = _optional_text(delivery_address, "delivery address", multiline=True)
    nature = check_nature(nature)
    service_start, service_end = _service_period(service_period, service_date, issue_date)
    reason = _optional_text(reason, "reason")
    buyer_vat, buyer_siren = _identifier("vat_number", buyer_vat), _identifier("siren", buyer_siren)
    if (business or buyer_vat or buyer_siren) and not (customer_name and customer_address):
        raise UsageError("a business customer's name and address are required on the invoice (--name, --address)")
    sums = check_total(lines, currency)
    if number is None:
        check_prefix(prefix)
        _check_seller(seller, charges_vat=any(line.vat_category == "S" for line in lines))
    key = None if number is not None else _sequence_key(prefix, issue_date.year)
    # a number given elsewhere (Zoho's) follows that system's dates, not our series'
    today = clock.today() if number is None else date.max
    check_dates(store, key, issue_date, due_date, service_date, today)
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
        source=source,
        kind=kind,
        service_date=service_date,
        service_start=service_start,
        service_end=service_end,
        delivery_address=delivery_address,
        nature=nature,
        buyer_vat=buyer_vat,
        buyer_siren=buyer_siren,
        po_number=po_number,
        credits=credits,
        reason=reason,
    )
    if seller is not None:
        from crmpay.documents.legal import freeze

        invoice.frozen = freeze(seller.model_dump(mode="json", exclude_none=True), language)
    if dry_run:
        invoice.number = number or peek_number(store, prefix, issue_date.year)
        return invoice
    with store.transaction():
        if number is None:
            check_series(store, prefix, credit_prefix=prefix if kind == "credit_note" else None)
            check_dates(store, key, issue_date, due_date, service_date, today)  # again, under the write lock
        invoice.number = number or next_number(store, prefix, issue_date.year)
        now = now_iso()
        cursor = store.db.execute(
            "INSERT INTO invoices (number, source, source_ref, customer_email, customer_name, language,"
            " currency, issue_date, due_date, status, total_excl_minor, total_vat_minor,"
            " total_incl_minor, created_at, updated_at, customer_address, service_date, kind, credits, reason,"
            " buyer_vat, buyer_siren, po_number, frozen, service_start, service_end, delivery_address, nature)"
            f" VALUES ({', '.join('?' * 28)})",
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
                "issued" if kind == "credit_note" else "unpaid",
                sums.excl_vat.minor,
                sums.vat.minor,
                sums.incl_vat.minor,
                now,
                now,
                customer_address,
                service_date.isoformat() if service_date else None,
                kind,
                credits,
                reason,
                buyer_vat,
                buyer_siren,
                po_number,
                json.dumps(invoice.frozen, ensure_ascii=False, sort_keys=True) if invoice.frozen else None,
                service_start.isoformat() if service_start else None,
                service_end.isoformat() if service_end else None,
                delivery_address,
                nature,
            ),
        )
        store.db.executemany(
            "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price, vat_rate,"
            " vat_category) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    cursor.lastrowid,
                    i,
                    ln.description,
                    str(ln.quantity),
                    str(ln.unit_price),
                    str(ln.vat_rate),
                    ln.vat_category,
                )
                for i, ln in enumerate(lines, start=1)
            ],
        )
    invoice.status = "issued" if kind == "credit_note" else "unpaid"
    return invoice


def _credited(store: Store, number: str, currency: str) -> Money:
    minor = store.db.execute(
        "SELECT coalesce(sum(total_incl_minor), 0) FROM invoices WHERE kind = 'credit_note' AND credits = ?",
        (number,),
    ).fetchone()[0]
    return Money.from_minor(minor, currency)


def load_invoice(store: Store, number: str) -> Invoice:
    row = store.db.execute("SELECT * FROM invoices WHERE number = ?", (number,)).fetchone()
    if row is None:
        raise UsageError(f"no invoice {number[:60]!r} in the store", hint="see `crmpay invoices list`")
    lines = [
        InvoiceLine(
            r["description"],
            Decimal(r["quantity"]),
            Decimal(r["unit_price"]),
            Decimal(r["vat_rate"]),
            r["vat_category"] or "",
        )
        for r in store.db.execute("SELECT * FROM invoice_lines WHERE invoice_id = ? ORDER BY position", (row["id"],))
    ]
    paid = store.db.execute(
        "SELECT coalesce(sum(amount_minor), 0) FROM manual_payments WHERE invoice_id = ?",
        (row["id"],),
    ).fetchone()[0]
    currency = row["currency"]
    credited = _credited(store, number, currency)
    credits_date = None
    if row["credits"]:
        original = store.db.execute("SELECT issue_date FROM invoices WHERE number = ?", (row["credits"],)).fetchone()
        credits_date = date.fromisoformat(original[0]) if original else None

    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    return Invoice(
        number=row["number"],
        currency=currency,
        customer_email=row["customer_email"],
        customer_name=row["customer_name"],
        language=row["language"],
        issue_date=date.fromisoformat(row["issue_date"]),
        due_date=date.fromisoformat(row["due_date"]),
        lines=lines,
        status=row["status"],
        source=row["source"],
        extra={"source_ref": row["source_ref"] or "", "manual_payments": str(paid)},
        paid_on=day(row["paid_on"]),
        customer_address=row["customer_address"],
        # what no longer has to be collected: paid by hand, or cancelled by credit notes (a
        # credit note itself is never collected: all of it counts as settled)
        amount_paid=Money.from_minor(row["total_incl_minor"] if row["kind"] == "credit_note" else paid, currency)
        + credited,
        kind=row["kind"] or "invoice",
        service_date=day(row["service_date"]),
        service_start=day(row["service_start"]),
        service_end=day(row["service_end"]),
        delivery_address=row["delivery_address"],
        nature=row["nature"],
        buyer_vat=row["buyer_vat"],
        buyer_siren=row["buyer_siren"],
        po_number=row["po_number"],
        credits=row["credits"],
        credits_date=credits_date,
        reason=row["reason"],
        amount_credited=credited,
        frozen=json.loads(row["frozen"]) if row["frozen"] else None,
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
        "amount_paid": Money.from_minor(
            int(invoice.extra.get("manual_payments") or 0), invoice.currency
        ).decimal_string(),
        "amount_credited": invoice.amount_credited.decimal_string() if invoice.amount_credited else None,
        "amount_due": (sums.incl_vat - invoice.amount_paid).decimal_string()
        if invoice.amount_paid is not None and invoice.kind == "invoice"
        else None,
        "kind": invoice.kind,
        "credits": invoice.credits,
        "service_date": invoice.service_date,
        "service_start": invoice.service_start,
        "service_end": invoice.service_end,
        "delivery_address": invoice.delivery_address,
        "nature": invoice.nature,
        "buyer_vat": invoice.buyer_vat,
        "buyer_siren": invoice.buyer_siren,
        "po_number": invoice.po_number,
        "frozen": invoice.frozen is not None,
        "vat": [
            {
                "rate": str(v.rate),
                "category": v.category,
                "base": v.base.decimal_string(),
                "vat": v.vat.decimal_string(),
            }
            for v in sums.vat_lines
        ],
        "lines": [
            {
                "description": ln.description,
                "quantity": str(ln.quantity),
                "unit_price": str(ln.unit_price),
                "vat_rate": str(ln.vat_rate),
                "vat_category": ln.vat_category,
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
