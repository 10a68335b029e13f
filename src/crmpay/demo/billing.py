"""Recurring billing: a monthly subscription over three months of sandbox clock. Three
invoices issued and debited by `billing run`, the first debit failed by the bank and
presented again by the retry policy, and one reminder for an invoice left unpaid."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from crmpay.core.models import NewCustomer, NewMandate
from crmpay.demo.common import present

if TYPE_CHECKING:
    from crmpay.demo.common import Renderer
    from crmpay.sandbox import Sandbox
    from crmpay.workspace import Workspace

EMAIL = "lea.dubois@example.fr"
LINE = "Abonnement hébergement;1;29.90;20"


def _scenario(sandbox: Sandbox, name: str, payment_id: str) -> None:
    """The GoCardless sandbox's scenario simulator (the real sandbox has the same endpoint)."""
    import httpx

    token = sandbox.credentials()["gocardless"]["access_token"]
    httpx.post(
        f"{sandbox.url}/scenario_simulators/{name}/actions/run",
        json={"data": {"links": {"resource": payment_id}}},
        headers={"Authorization": f"Bearer {token}", "GoCardless-Version": "2015-07-06"},
    ).raise_for_status()


def tour(ws: Workspace, sandbox: Sandbox, out: Renderer) -> dict[str, Any]:
    gc = ws.open_provider("gocardless")
    customer = gc.create_customer(NewCustomer(EMAIL, "Léa Dubois"), idempotency_key="demo-billing-customer")
    gc.create_mandate(
        NewMandate(customer.id, "Léa Dubois", "FR1420041010050500013M02606"), idempotency_key="demo-billing-mandate"
    )
    ws.sync(push_crm=False).raise_for_outcome()
    today = ws.today()
    sub = ws.subscriptions.create(
        EMAIL, [LINE], every="month", day=min(today.day, 28), start=today, name="Léa Dubois", language="fr"
    )
    out.success(f"subscription {sub['id']}: {sub['amount_incl_vat']} EUR every month on day {sub['day']}")
    invoices: list[str] = []
    retries: list[dict[str, Any]] = []
    for month in range(3):
        sandbox.advance_to(
            date.fromisoformat(str(ws.subscriptions.get(sub["id"])["next_period"] or today)) if month else today
        )
        report = ws.billing.run()
        report.raise_for_outcome()
        for item in report.collected:
            invoices.append(item["invoice"])
            out.success(f"{item['invoice']}: debit {item.get('payment_id')} on {item.get('charge_date')} (notified)")
        if month == 0:  # the bank returns the first debit; the policy presents it again
            payment_id = present(report.collected[0].get("payment_id"), "a payment")
            _scenario(sandbox, "payment_failed", payment_id)
            ws.sync(push_crm=False).raise_for_outcome()
            planned = ws.billing.run().retries
            out.info(f"  {payment_id} failed (insufficient funds): retry planned on {planned[0]['retry_on']}")
            sandbox.advance_to(date.fromisoformat(str(planned[0]["retry_on"])))
            retried = ws.billing.run().retries
            retries += retried
            out.success(f"  presented again: charge date {retried[0].get('charge_date')}, customer emailed")
    unpaid = ws.invoices.create(EMAIL, ["Intervention sur site;1;150;20"], due=ws.today(), name="Léa Dubois")
    sandbox.advance(8)
    reminders = ws.dunning.run().sent
    for sent in reminders:
        out.success(f"{sent['invoice']}: {sent['tone']} reminder (+{sent['step']} days) emailed to {sent['to']}")
    standing = ws.dunning.list()
    out.table(
        ("invoice", "days overdue", "left", "state"),
        [(i["number"], i["days_overdue"], i["left"], i["state"]) for i in standing],
        title="dunning",
    )
    return {
        "subscription": sub["id"],
        "invoices": invoices,
        "retries": [{k: r.get(k) for k in ("invoice", "status", "method", "charge_date")} for r in retries],
        "reminders": [{k: s[k] for k in ("invoice", "tone", "step")} for s in reminders],
        "unpaid": unpaid.number,
        "days": (ws.today() - today).days,
    }
