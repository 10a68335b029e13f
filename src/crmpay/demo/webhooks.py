"""Real time: the webhook receiver keeps the CRM current with no sync at all.

The receiver (`Workspace.webhooks`, what `crmpay webhooks serve` runs) listens on
loopback; the sandbox is told where it is (`POST /__sandbox/webhooks`, with the endpoint
secret it signs with). A new direct debit is created at GoCardless, the clock moves on,
and each event GoCardless sends (signed, in batches) is checked, kept, read back and
pushed: the payment's CRM record reaches `paid_out` without `crmpay sync` being run.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crmpay.core.models import NewPayment
from crmpay.core.money import Money

if TYPE_CHECKING:
    from crmpay.demo.common import Renderer
    from crmpay.sandbox import Sandbox
    from crmpay.workspace import Workspace

AMOUNT = Money(Decimal("29.90"), "EUR")


def realtime(ws: Workspace, sandbox: Sandbox, mandate_id: str, out: Renderer) -> dict[str, Any]:
    import httpx

    secret = secrets.token_hex(16)  # the endpoint secret GoCardless would show, kept in memory only
    ws.webhooks.set_secret("gocardless", secret)
    receiver = ws.webhooks.start()
    try:
        url = f"{receiver.url}/webhooks/gocardless"
        httpx.post(
            f"{sandbox.url}/__sandbox/webhooks", json={"provider": "gocardless", "url": url, "secret": secret}
        ).raise_for_status()
        out.success(f"webhook receiver listening at {url} (GoCardless signs each batch)")
        provider = ws.open_provider("gocardless")
        mandate = provider.get_mandate(mandate_id)
        charge = max(ws.today() + timedelta(days=3), mandate.next_possible_charge_date or ws.today())
        payment = provider.create_payment(
            NewPayment(mandate_id, AMOUNT, "Invoice DEMO-2", charge_date=charge, customer_id=mandate.customer_id),
            idempotency_key="demo:webhooks:payment",
        )
        rows: list[tuple[str, str, str, str]] = []
        moved = time.monotonic()
        for _ in range(30):  # a day at a time until the CRM shows the payment paid out
            sandbox.webhooks.wait_idle()  # GoCardless has sent what the day changed
            receiver.wait_idle()  # and crmpay has kept and applied it
            stored = [p["status"] for p in ws.payments.list(provider="gocardless") if p["id"] == payment.id]
            status = _crm_status(ws, f"gocardless {payment.id}", stored[0] if stored else None)
            if not rows or status != rows[-1][2]:
                rows.append((ws.today().isoformat(), payment.id, status or "-", f"{time.monotonic() - moved:.2f} s"))
            if status == "paid_out":
                break
            sandbox.advance(1)
            moved = time.monotonic()
        out.table(
            ("day", "payment", "status in Zoho CRM", "after the change"),
            rows,
            title="A payment reaching the CRM through webhooks alone (no crmpay sync run)",
        )
        state = ws.webhooks.status()["gocardless"]
        out.info(f"  {state['events']} event(s) received, {state['unprocessed']} left to apply, 0 syncs")
        return {
            "payment": payment.id,
            "crm_statuses": [r[2] for r in rows],
            "events": state["events"],
            "unprocessed": state["unprocessed"],
        }
    finally:
        receiver.stop()


def _crm_status(ws: Workspace, name: str, wanted: str | None, timeout: float = 3.0) -> str | None:
    """The CRM record's status, once it is `wanted` (what the store holds) or after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in ws.crm.records("CRMPAY_Payments", ["Name", "Status"]) if r.get("Name") == name]
        status = found[0].get("Status") if found else None
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.02)
