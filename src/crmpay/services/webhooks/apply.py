"""Applying claimed webhook rows to the store, then pushing what they touched to the CRM.

Nothing in a delivery is trusted but an id: every object is read again at the provider
with the profile's credentials.
- GoCardless: the same per-event path as an incremental `crmpay sync`
  (`services.sync.fetch_event_objects` / `commit_events`): events already in
  `processed_events` are skipped, each payment and mandate named is read once and upserted
  through the sync's writer (whose hook moves invoices), and the events are recorded in
  `processed_events` in the same transaction as the rows are marked processed, so a later
  sync does not apply them again. The events cursor stays sync's: events arrive out of
  order, and only a sync knows that none is missing before a point.
- Mollie: the payment is read by id; an id Mollie does not know (or that is not a payment)
  is marked processed with nothing done. A customer or mandate the store lacks, or a
  mandate it holds pending, is read too.
A row that fails for a passing reason (network, rate limit, not connected) stays pending
with its error and is tried again after a back-off; a permanent refusal for one event is
kept as its error and the event is marked processed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmpay.core.errors import CrmpayError, OperationFailed
from crmpay.services.sync import ProviderReport, StoreWriter, commit_events, fetch_event_objects, unprocessed_events
from crmpay.services.webhooks.intake import Pending, mark_failed, mark_processed, utcnow
from crmpay.store import Store
from crmpay.store.records import KINDS

if TYPE_CHECKING:
    from crmpay.services.context import Context

log = logging.getLogger("crmpay.webhooks")
MOLLIE_ID = re.compile(r"^tr_\w{1,60}$")


@dataclass
class Applied:
    """What one pass did (the worker's counters and the CRM push's input)."""

    events: int = 0
    failed: int = 0
    touched: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # resource -> (provider, id)
    invoices: list[str] = field(default_factory=list)
    everything: bool = False  # push every record that changed, not only those touched

    def touch(self, objects: list[Any]) -> None:
        for obj in objects:
            self.touched.setdefault(KINDS[type(obj)].name, set()).add((obj.provider, obj.id))


class Applier:
    """Holds one provider client per provider and the CRM client, opened on first use."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._providers: dict[str, Any] = {}
        self._crm: Any = None
        self._crm_checked = False

    def provider(self, name: str) -> Any:
        if name not in self._providers:
            from crmpay.services import context

            self._providers[name] = context.providers(self.ctx, name)[name]
        return self._providers[name]

    # -- the store ----------------------------------------------------------------------------
    def apply(self, store: Store, batch: list[Pending]) -> Applied:
        done = Applied()
        gocardless = [p for p in batch if p.provider == "gocardless"]
        mollie = [p for p in batch if p.provider == "mollie"]
        if gocardless:
            self._guarded(store, gocardless, done, self._gocardless)
        for row in mollie:
            self._guarded(store, [row], done, self._mollie)
        return done

    def _guarded(
        self, store: Store, rows: list[Pending], done: Applied, step: Callable[[Store, list[Pending], Applied], None]
    ) -> None:
        """Apply `rows` together; when that fails, one by one, so one bad event cannot hold
        the others back. A permanent refusal is kept as the row's error and marks it done."""
        try:
            step(store, rows, done)
            done.events += len(rows)
            return
        except CrmpayError as exc:
            if len(rows) > 1:
                for row in rows:
                    self._guarded(store, [row], done, step)
                return
            error: CrmpayError = exc
        row = rows[0]
        if isinstance(error, OperationFailed):  # refused for good: retrying cannot help
            log.warning("webhook %s %s: %s", row.provider, row.event_id, error)
            with store.transaction():
                mark_processed(store, rows)
                store.db.execute(
                    "UPDATE webhook_events SET error = ? WHERE provider = ? AND event_id = ?",
                    (f"ignored: {error}"[:500], row.provider, row.event_id),
                )
            done.events += 1
            return
        log.warning("webhook %s %s: %s (tried again later)", row.provider, row.event_id, error)
        mark_failed(store, rows, str(error))
        done.failed += 1

    def _gocardless(self, store: Store, rows: list[Pending], done: Applied) -> None:
        from crmpay.providers.gocardless_records import event_from

        try:
            events = [event_from(row.raw) for row in rows]
        except (KeyError, TypeError, ValueError) as exc:
            raise OperationFailed(f"a malformed GoCardless event ({type(exc).__name__})") from None
        fresh = unprocessed_events(store, events)
        provider = self.provider("gocardless") if fresh else None
        objects = fetch_event_objects(provider, fresh) if fresh else []
        objects += _related(store, provider, objects)
        report = ProviderReport("gocardless", "webhook")
        commit_events(
            store, StoreWriter(store, report, False), fresh, objects, then=lambda: mark_processed(store, rows)
        )
        done.touch(objects)
        done.invoices += report.invoices_updated

    def _mollie(self, store: Store, rows: list[Pending], done: Applied) -> None:
        row = rows[0]
        objects: list[Any] = []
        if MOLLIE_ID.match(row.event_id):
            provider = self.provider("mollie")
            try:
                payment = provider.get_payment(row.event_id)
            except OperationFailed:  # not a payment of this account: nothing to do, nothing said
                payment = None
            if payment is not None:
                objects = [payment, *_related(store, provider, [payment])]
        report = ProviderReport("mollie", "webhook")
        writer = StoreWriter(store, report, False)
        with store.transaction():
            writer.many(objects)
            mark_processed(store, rows)
        done.touch(objects)
        done.invoices += report.invoices_updated

    # -- the CRM ---------------------------------------------------------------------------------
    def push(self, store: Store, done: Applied) -> list[str]:
        """Push the touched records and the invoices moved; the CRM's refusals. Nothing when
        the CRM is not connected."""
        from crmpay.services import context
        from crmpay.services.invoices.zoho import push_status
        from crmpay.services.sync.crm_push import push

        if not (done.touched or done.invoices or done.everything):
            return []
        if self._crm is None:
            self._crm = context.crm(self.ctx, required=False) or False  # False: not connected
        if self._crm is False:
            return []
        if not self._crm_checked:
            from crmpay.core.errors import UsageError
            from crmpay.services.crm_setup import check_mapping

            checked = check_mapping(self.ctx.config, self._crm)
            if not checked["ok"]:
                raise UsageError("the CRM mapping is incomplete: " + "; ".join(checked["missing"]))
            self._crm_checked = True
        report = push(store, self._crm, self.ctx.config.settings.crm, only=None if done.everything else done.touched)
        failed = push_status(store, self._crm, sorted(set(done.invoices))) if done.invoices else []
        return report.failures + [f"invoice {n}: status not pushed" for n in failed]

    def close(self) -> None:
        if self._crm:
            self._crm.close()


def _related(store: Store, provider: Any, objects: list[Any]) -> list[Any]:
    """What the store lacks around these objects (or holds pending): a mandate's customer and
    bank account, a payment's mandate; read once each."""
    from crmpay.core.models import Mandate, Payment

    found: list[Any] = []
    seen: set[str] = {o.id for o in objects}

    def known(table: str, ident: str, pending_ok: bool = True) -> bool:
        row = store.db.execute(
            f"SELECT {'state' if table == 'mandates' else '1'} FROM {table} WHERE provider = ? AND provider_id = ?",
            (provider.name, ident),
        ).fetchone()
        return row is not None and (pending_ok or row[0] != "pending")

    for obj in list(objects):
        if isinstance(obj, Payment) and obj.mandate_id and obj.mandate_id not in seen:
            if not known("mandates", obj.mandate_id, pending_ok=provider.name != "mollie"):
                seen.add(obj.mandate_id)
                mandate = provider.get_mandate(obj.mandate_id, customer_id=obj.customer_id)
                objects.append(mandate)
                found.append(mandate)
    for obj in list(objects):
        if not isinstance(obj, Mandate | Payment):
            continue
        if obj.customer_id and obj.customer_id not in seen and not known("customers", obj.customer_id):
            seen.add(obj.customer_id)
            found.append(provider.get_customer(obj.customer_id))
        if (
            isinstance(obj, Mandate)
            and obj.bank_account_id
            and obj.bank_account_id not in seen
            and not known("bank_accounts", obj.bank_account_id)
        ):
            seen.add(obj.bank_account_id)
            account = provider.bank_account_of(obj)
            if account is not None:
                found.append(account)
    order = {"customers": 0, "bank_accounts": 1, "mandates": 2, "payments": 3}
    return sorted(found, key=lambda o: order[KINDS[type(o)].name])


__all__ = ["Applied", "Applier", "utcnow"]
