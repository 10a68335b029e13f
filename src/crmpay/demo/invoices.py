"""Invoices: one collected on a mandate, one by a setup link the customer completes, an
early cancel accepted; the clock moves until the debits have settled, a sync sees the
money, and a late cancel is refused.

Everything shown comes from what crmpay returned (amounts, charge dates, statuses): a
charge date may lie days or weeks ahead (a pre-notification period), so the tour moves
the clock until the payments it collected are settled at the provider, not a fixed
number of days.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmpay.core.errors import OperationFailed
from crmpay.core.models import PaymentState
from crmpay.demo.common import present

if TYPE_CHECKING:
    from crmpay.core.invoice import Invoice
    from crmpay.demo.common import Renderer
    from crmpay.sandbox import Sandbox
    from crmpay.workspace import Workspace

PROVIDER = "gocardless"
SELLER = {
    "seller.name": "Acme Facturation SAS",
    "seller.address": "12 rue de la Paix\n75002 Paris",
    "seller.siren": "732829320",
    "seller.vat_number": "FR44732829320",
}
LINES = ("Maintenance annuelle;1;99.00;20", "Livre;2;12.50;5.5")
OPEN = (PaymentState.PENDING, PaymentState.SUBMITTED)
MAX_DAYS = 90


def tour(ws: Workspace, sandbox: Sandbox, out: Renderer) -> dict[str, Any]:
    import httpx

    smtp = sandbox.credentials()["smtp"]
    ws.connect_smtp(
        host=smtp["host"], port=smtp["port"], security=smtp["security"], from_address="facturation@acme.example"
    )
    for key, value in SELLER.items():
        ws.set_setting(key, value)
    ws.sync(push_crm=False).raise_for_outcome()  # the demo's customers and mandates into the store

    def invoice(email: str, name: str) -> Invoice:
        today = ws.today()
        return ws.invoices.create(email, LINES, due=today, issue_date=today, name=name, language="fr")

    by_mandate = ws.invoices.send(invoice("camille.martin@example.fr", "Camille Martin").number, provider=PROVIDER)
    out.success(
        f"{by_mandate.number}: direct debit {by_mandate.payment_id} for {by_mandate.amount} {by_mandate.currency} "
        f"on {by_mandate.charge_date}, email {by_mandate.email}"
    )
    by_link = ws.invoices.send(invoice("yamada@example.jp", "山田太郎").number, provider=PROVIDER)
    out.success(f"{by_link.number}: no mandate yet, setup link emailed: {by_link.setup_link}")
    completed = httpx.post(
        present(by_link.setup_link, "a setup link"),
        data={"account_holder_name": "Yamada Taro", "iban": "DE89370400440532013000"},
    )
    completed.raise_for_status()
    out.info("  the customer completed the setup page; sending the same invoice again collects it")
    second = ws.invoices.send(by_link.number, provider=PROVIDER)  # no sync needed: the link is read
    out.success(
        f"{second.number}: direct debit {second.payment_id} on the new mandate {second.mandate_reference}, "
        f"charge date {second.charge_date} (pre-notified by email)"
    )
    early = ws.invoices.send(
        invoice("camille.martin@example.fr", "Camille Martin").number, provider=PROVIDER, email=False
    )
    cancelled = ws.payments.cancel(present(early.payment_id, "a payment"))
    out.success(
        f"{early.number}: payment {early.payment_id} (charge date {early.charge_date}) cancelled before it "
        f"reached the bank ({cancelled['status']})"
    )

    collected = [present(sent.payment_id, "a payment") for sent in (by_mandate, second)]
    days = settle(ws, sandbox, collected)
    outcome = ws.sync(push_crm=False)
    out.table(
        ("provider", "mode", "resource", "fetched", "new", "updated"),
        [
            (r.provider, r.mode, resource, c.fetched, c.new, c.updated)
            for r in outcome.reports
            for resource, c in r.counts.items()
        ],
        title=f"crmpay sync after {days} days (GoCardless from events, Mollie newest first)",
    )
    try:
        ws.payments.cancel(collected[0])
        refused = "accepted?!"
    except OperationFailed as exc:
        refused = str(exc)
    out.info(f"late cancel refused: {refused}")
    numbers = [sent.number for sent in (by_mandate, by_link, early)]
    rows = [(n, ws.invoices.get(n).status, ws.invoices.get(n).paid_on or "") for n in numbers]
    out.table(("invoice", "status", "paid on"), rows, title=f"invoices after the clock moved {days} days and a sync")
    mail = httpx.get(f"{sandbox.url}/__sandbox/mail").json()
    out.info(f"emails sent to the sandbox's SMTP sink: {len(mail)} ({', '.join(m['subject'] for m in mail)})")
    return {
        "statuses": {n: status for n, status, _ in rows},
        "charge_dates": {sent.number: sent.charge_date for sent in (by_mandate, second, early)},
        "days_to_settle": days,
        "late_cancel_refused": refused,
        "emails": len(mail),
        "invoices_paid_by_sync": outcome.invoices_updated,
        "sync": [r.as_dict() for r in outcome.reports],
    }


def settle(ws: Workspace, sandbox: Sandbox, payment_ids: list[str]) -> int:
    """Move the clock a day at a time until none of these payments is still open at the
    provider (they are paid, or failed): the number of days it took."""
    provider = ws.open_provider(PROVIDER)
    for day in range(1, MAX_DAYS + 1):
        sandbox.advance(1)
        if all(provider.get_payment(ident).state not in OPEN for ident in payment_ids):
            return day
    return MAX_DAYS
