"""A mandate and a payment moving through their lifecycle at one provider, day by day.

Created through the provider's client (`Workspace.open_provider`, the `PaymentProvider`
protocol), then read back each simulated day until the payment reaches an end
(GoCardless `paid_out`, Mollie `paid`, or a failure): however far the charge date lies,
the tour waits for it rather than for a fixed number of days.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from crmpay.core.models import NewCustomer, NewMandate, NewPayment
from crmpay.core.money import Money

if TYPE_CHECKING:
    from crmpay.demo.common import Renderer
    from crmpay.sandbox import Sandbox
    from crmpay.workspace import Workspace

AMOUNT = Money(Decimal("49.90"), "EUR")
END = frozenset({"paid_out", "paid", "failed", "cancelled", "canceled", "charged_back", "expired"})
MAX_DAYS = 90  # a payment still open after this is shown as it stands


def show(ws: Workspace, sandbox: Sandbox, name: str, out: Renderer) -> list[dict[str, str]]:
    steps = collect_once(ws, sandbox, name)
    charged = {s["charge_date"] for s in steps if s["charge_date"]}
    out.table(
        ("day", "mandate", "mandate status", "payment", "payment status"),
        [(s["day"], s["mandate"], s["mandate_status"], s["payment"], s["payment_status"]) for s in steps],
        title=f"{name}: a direct debit of {AMOUNT}, charge date {', '.join(sorted(charged)) or '-'}, day by day",
    )
    return steps


def collect_once(ws: Workspace, sandbox: Sandbox, name: str) -> list[dict[str, str]]:
    """The rows of the lifecycle: day 0, then each day a status changed."""
    provider = ws.open_provider(name)
    key = f"demo:{name}"
    today = ws.today()
    customer = provider.create_customer(
        NewCustomer(
            email="camille.martin@example.fr",
            name="Camille Martin",
            given_name="Camille",
            family_name="Martin",
            language="fr",
            country_code="FR",
        ),
        idempotency_key=f"{key}:customer",
    )
    mandate = provider.create_mandate(
        NewMandate(
            customer_id=customer.id,
            holder_name="Camille Martin",
            iban="FR1420041010050500013M02606",
            reference=f"DEMO-{name.upper()}-001",
            signature_date=today,
        ),
        idempotency_key=f"{key}:mandate",
    )
    payment = provider.create_payment(
        NewPayment(
            mandate_id=mandate.id,
            customer_id=customer.id,
            amount=AMOUNT,
            description="Invoice DEMO-1",
            charge_date=max(today + timedelta(days=7), mandate.next_possible_charge_date or today),
            metadata={"invoice": "DEMO-1"},
        ),
        idempotency_key=f"{key}:payment",
    )
    steps: list[dict[str, str]] = []
    for day in range(MAX_DAYS + 1):
        if day:
            sandbox.advance(1)
        mandate = provider.get_mandate(mandate.id, customer_id=customer.id)
        payment = provider.get_payment(payment.id)
        row = {
            "day": str(day),
            "mandate": mandate.id,
            "mandate_status": mandate.status,
            "payment": payment.id,
            "payment_status": payment.status,
            "charge_date": payment.charge_date.isoformat() if payment.charge_date else "",
        }
        if not steps or (row["mandate_status"], row["payment_status"]) != (
            steps[-1]["mandate_status"],
            steps[-1]["payment_status"],
        ):
            steps.append(row)
        if payment.status in END:
            break
    return steps
