"""Invoices that live in Zoho CRM (the Invoices module): fetched to send, status written back.

A Zoho line has a quantity, a list price, a discount, a tax amount and its taxes
(`Line_Tax`: name, percentage, value); crmpay keeps the net unit price (discount spread
over the quantity) and the VAT rate of the line's tax percentage. A line without
`Line_Tax` gets the usual rate nearest to tax ÷ net (never 20.12 % for a rounded tax).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from crmpay.core.errors import UsageError
from crmpay.core.invoice import Invoice, InvoiceLine
from crmpay.services.invoices.ledger import create_invoice, load_invoice
from crmpay.store import Store

STATUS_SENT, STATUS_PAID, STATUS_UNPAID = "Sent", "Paid", "Unpaid"


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _plain(value: Decimal) -> Decimal:
    """20.00 -> 20, 5.50 -> 5.5 (never 2E+1)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


# VAT rates in use (France 20 / 10 / 5.5 / 2.1, Japan 10 / 8, other EU standard rates)
USUAL_RATES = tuple(
    Decimal(r) for r in "0 2.1 3 4 5 5.5 6 7 8 8.5 9 10 12 13 13.5 14 15 16 17 19 20 21 22 23 24 25 25.5 27".split()
)


def line_rate(item: dict[str, Any], net: Decimal) -> Decimal:
    """The VAT rate of a Zoho line: its taxes' percentages, else the usual rate nearest to
    tax ÷ net (a tax rounded to the cent would give 20.12 % on a small line)."""
    taxes = item.get("Line_Tax") or []
    if isinstance(taxes, list) and any(isinstance(t, dict) and t.get("percentage") is not None for t in taxes):
        return sum((_decimal(t.get("percentage")) for t in taxes if isinstance(t, dict)), Decimal(0))
    if not net:
        return Decimal(0)
    implied = _decimal(item.get("Tax")) * 100 / net
    nearest = min(USUAL_RATES, key=lambda r: abs(r - implied))
    if abs(nearest - implied) <= Decimal("0.5"):
        return nearest
    return implied.quantize(Decimal("0.01"), ROUND_HALF_UP)


def fetch_invoice(store: Store, crm: Any, number: str, *, today: date) -> Invoice:
    """Copy the Zoho invoice `number` into the store (kept under its Zoho number)."""
    hits = crm.search("Invoices", "Invoice_Number", number)
    if not hits:
        raise UsageError(f"no invoice {number!r} in the store nor in Zoho CRM", hint="see `crmpay invoices list`")
    record = hits[0]
    contact_ref = record.get("Contact_Name") or {}
    contact = crm.get("Contacts", str(contact_ref.get("id"))) if contact_ref.get("id") else None
    if not contact or not contact.get("Email"):
        raise UsageError(f"Zoho invoice {number} has no contact with an email to send it to")
    lines = []
    for item in record.get("Invoiced_Items") or []:
        quantity = _decimal(item.get("Quantity") or 1)
        net = quantity * _decimal(item.get("List_Price")) - _decimal(item.get("Discount"))
        rate = line_rate(item, net)
        product = item.get("Product_Name") or {}
        description = item.get("Description") or product.get("name") or record.get("Subject") or number
        lines.append(InvoiceLine(description, quantity, net / quantity, _plain(rate)))
    name = " ".join(filter(None, [contact.get("First_Name"), contact.get("Last_Name")]))
    issued = date.fromisoformat(str(record.get("Invoice_Date") or today.isoformat())[:10])
    due = date.fromisoformat(str(record.get("Due_Date") or issued.isoformat())[:10])
    create_invoice(
        store,
        prefix="",
        customer_email=contact["Email"],
        customer_name=name or None,
        language="fr",
        currency=str(record.get("Currency") or "EUR"),
        lines=lines,
        issue_date=issued,
        due_date=due,
        number=number,
        source="zoho",
        source_ref=str(record["id"]),
    )
    return load_invoice(store, number)


def push_status(store: Store, crm: Any, numbers: list[str], status: str | None = None) -> list[str]:
    """Write the invoices' status to their Zoho records; the numbers that failed."""
    rows = (
        store.db.execute(
            f"SELECT number, source_ref, status FROM invoices WHERE source = 'zoho' AND number IN "
            f"({','.join('?' * len(numbers))})",
            numbers,
        ).fetchall()
        if numbers
        else []
    )
    if not rows:
        return []
    wanted = [
        {
            "id": r["source_ref"],
            "Status": status
            or (STATUS_PAID if r["status"] == "paid" else STATUS_UNPAID if r["status"] == "unpaid" else STATUS_SENT),
        }
        for r in rows
    ]
    results = crm.update("Invoices", wanted)
    return [rows[r.index]["number"] for r in results if not r.ok]
