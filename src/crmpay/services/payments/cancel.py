"""Cancelling a payment while the bank has not got it; the invoice returns to unpaid."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmpay.core.clock import now_iso
from crmpay.core.errors import NotConnected, OperationFailed, UsageError
from crmpay.store import Store
from crmpay.store.records import upsert_payment

if TYPE_CHECKING:
    from crmpay.providers.base import PaymentProvider
    from crmpay.services.context import Context


def cancel_payment(
    store: Store, providers: dict[str, PaymentProvider], payment_id: str, *, dry_run: bool = False
) -> dict[str, Any]:
    row = store.db.execute(
        "SELECT provider, invoice_number FROM payments WHERE provider_id = ?", (payment_id,)
    ).fetchone()
    if row is None:
        raise UsageError(f"no payment {payment_id} in the store", hint="run `crmpay sync` first")
    name = row["provider"]
    if name not in providers:
        raise NotConnected(f"{name} is not connected", hint=f"crmpay connect {name}")
    provider = providers[name]
    current = provider.get_payment(payment_id)  # the provider's word, not our copy
    with store.transaction():
        upsert_payment(store, current)
    if not current.cancellable:
        when = f" (charge date {current.charge_date})" if current.charge_date else ""
        raise OperationFailed(
            f"payment {payment_id} is {current.status}{when}; it has gone to the bank and can no longer be cancelled"
        )
    result = {
        "payment": payment_id,
        "provider": name,
        "status_before": current.status,
        "invoice": row["invoice_number"],
        "dry_run": dry_run,
    }
    if dry_run:
        result["status"] = "would be cancelled"
        return result
    cancelled = provider.cancel_payment(payment_id)
    with store.transaction():
        upsert_payment(store, cancelled)
        if row["invoice_number"]:
            store.db.execute(
                "UPDATE invoices SET status = 'unpaid', status_reason = ?, paid_on = NULL,"
                " updated_at = ? WHERE number = ?",
                (f"payment {payment_id} cancelled", now_iso(), row["invoice_number"]),
            )
        store.audit(name, "cancel", "payment", payment_id, detail={"invoice": row["invoice_number"]})
    result["status"] = cancelled.status
    return result


def cancel(ctx: Context, payment_id: str, *, dry_run: bool = False) -> dict[str, Any]:
    """`crmpay payments cancel`: asks the payment's provider (among the connected ones)."""
    from crmpay.services import context

    return cancel_payment(ctx.store(), context.providers(ctx), payment_id, dry_run=dry_run)
