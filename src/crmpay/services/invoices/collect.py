"""`crmpay invoices collect`: the scheduled debits whose day has come, created."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmpay.services.invoices.result import SendResult
from crmpay.services.invoices.send import InvoiceSender

if TYPE_CHECKING:
    from crmpay.services.context import Context


def collect(ctx: Context, *, dry_run: bool = False) -> list[SendResult]:
    """`crmpay invoices collect`: create the scheduled debits whose day has come."""
    from crmpay.services import context

    settings = ctx.config.settings
    with context.profile_lock(ctx, "collect", "invoices collect"):
        sender = InvoiceSender(
            ctx.store(),
            ctx.profile,
            context.providers(ctx),
            notice_days=settings.sepa.prenotification_days,
            creditor_id=settings.creditor_id,
        )
        return sender.collect_scheduled(dry_run=dry_run)
