"""Recurring billing: subscriptions (subscriptions.py), the billing run that invoices and
collects what has come due (run.py), failed debits retried by policy (retries.py, policy.py)
and dunning reminders (dunning.py, reminders.py). docs/billing.md explains the rules.

`Subscriptions`, `Billing` and `Dunning` are the nouns `crmpay.Workspace` exposes
(`ws.subscriptions`, `ws.billing`, `ws.dunning`); each takes the workspace as its context.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmpay.services.billing.dunning import DunningReport
    from crmpay.services.billing.run import RunReport
    from crmpay.services.context import Context


def _day(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _lines(lines: Iterable[str]) -> list[Any]:
    from crmpay.core.invoice import InvoiceLine

    return [InvoiceLine.parse(text) for text in lines]


class Subscriptions:
    """What `crmpay subscriptions …` does."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def create(
        self,
        customer: str,
        lines: Iterable[str],
        *,
        every: str = "month",
        day: int = 1,
        start: date | str | None = None,
        end: date | str | None = None,
        count: int | None = None,
        currency: str = "EUR",
        language: str = "fr",
        name: str | None = None,
        terms_days: int = 14,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """A subscription billing `lines` ("DESCRIPTION;QTY;UNIT_PRICE;VAT_RATE") every month,
        quarter or year on `day`, from `start` (today by default)."""
        from crmpay.core import clock
        from crmpay.services.billing import subscriptions

        return subscriptions.create(
            self._ctx.store(),
            customer=customer,
            lines=_lines(lines),
            every=every,
            day=day,
            start=_day(start) or clock.today(),
            end=_day(end),
            count=count,
            currency=currency,
            language=language,
            name=name,
            terms_days=terms_days,
            dry_run=dry_run,
        )

    def list(self, *, status: str | None = None, customer: str | None = None) -> list[dict[str, Any]]:
        from crmpay.services.billing import subscriptions

        return subscriptions.listing(self._ctx.store(), status=status, customer=customer)

    def get(self, ident: int | str) -> dict[str, Any]:
        """One subscription with its prices and its billed periods."""
        from crmpay.services.billing import subscriptions

        return subscriptions.show(self._ctx.store(), ident)

    def change_price(
        self, ident: int | str, lines: Iterable[str], *, effective: date | str, dry_run: bool = False
    ) -> dict[str, Any]:
        """New lines for the periods starting on or after `effective`."""
        from crmpay.services.billing import subscriptions

        day = _day(effective)
        assert day is not None
        return subscriptions.change_price(self._ctx.store(), ident, _lines(lines), effective=day, dry_run=dry_run)

    def _status(self, ident: int | str, action: str, dry_run: bool) -> dict[str, Any]:
        from crmpay.core import clock
        from crmpay.services.billing import subscriptions

        return subscriptions.set_status(self._ctx.store(), ident, action, today=clock.today(), dry_run=dry_run)

    def pause(self, ident: int | str, *, dry_run: bool = False) -> dict[str, Any]:
        return self._status(ident, "pause", dry_run)

    def resume(self, ident: int | str, *, dry_run: bool = False) -> dict[str, Any]:
        """Active again; the periods that started while paused are skipped, not caught up."""
        return self._status(ident, "resume", dry_run)

    def cancel(self, ident: int | str, *, dry_run: bool = False) -> dict[str, Any]:
        return self._status(ident, "cancel", dry_run)


class Billing:
    """What `crmpay billing run` does."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def run(self, *, until: date | str | None = None, dry_run: bool = False) -> RunReport:
        """Issue every invoice that has come due, collect each, retry failed debits;
        `report.raise_for_outcome()` raises what the command exits with."""
        from crmpay.services.billing import run

        return run.run(self._ctx, until=_day(until), dry_run=dry_run)


class Dunning:
    """What `crmpay dunning run|list` does."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def run(self, *, dry_run: bool = False) -> DunningReport:
        from crmpay.services.billing import dunning

        return dunning.run(self._ctx, dry_run=dry_run)

    def list(self) -> list[dict[str, Any]]:
        from crmpay.services.billing import dunning

        return dunning.listing(self._ctx)
