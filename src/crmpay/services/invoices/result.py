"""What sending an invoice did (or, on a dry run, would do)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SendResult:
    number: str
    action: str  # payment / setup_link
    provider: str
    attempt: int
    dry_run: bool
    amount: str
    currency: str
    payment_id: str | None = None
    mandate_id: str | None = None
    mandate_reference: str | None = None  # the UMR the customer signed
    creditor_id: str | None = None
    charge_date: str | None = None
    scheduled_for: str | None = None  # a Mollie debit is created on this day (`crmpay invoices collect`)
    setup_link: str | None = None
    link_expires_at: str | None = None
    email: str = "not sent"
    resumed: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))
