"""Sync: every connected provider into the local store (docs/sync.md explains the strategy).

Correct after any interruption: every write is an idempotent upsert keyed by
(provider, id), done in batches of one transaction each, and a cursor only moves in the
transaction that commits the data it covers. A run killed at any moment leaves the store
consistent; the next run reads again what the killed one had not committed.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from crmpay.core import clock
from crmpay.core.clock import now_iso
from crmpay.core.models import Payment, PaymentState, ProviderEvent
from crmpay.providers.base import EventsExpired
from crmpay.services.sync import mollie
from crmpay.services.sync.state import get_cursor, until_known
from crmpay.services.sync.state import set_cursor as _set_cursor
from crmpay.store import Store
from crmpay.store.records import KINDS, Change, upsert_batch

if TYPE_CHECKING:
    from crmpay.services.context import Context

__all__ = ["get_cursor"]  # re-exported: where sync keeps its cursors (services/sync/state.py)

T = TypeVar("T")
BATCH = 500  # objects per transaction: one page of the largest size
RESOURCES = ("customers", "bank_accounts", "mandates", "payments")


@dataclass
class Counts:
    fetched: int = 0
    new: int = 0
    updated: int = 0
    pushed: int = 0
    failed: int = 0

    def add(self, change: Change, n: int = 1) -> None:
        self.fetched += n
        if change is Change.NEW:
            self.new += n
        elif change is Change.UPDATED:
            self.updated += n


@dataclass
class ProviderReport:
    provider: str
    mode: str  # full / incremental
    counts: dict[str, Counts] = field(default_factory=lambda: {r: Counts() for r in RESOURCES})
    events: int = 0
    invoices_updated: list[str] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "mode": self.mode,
            "events": self.events,
            "invoices_updated": self.invoices_updated,
            "error": self.error,
            "resources": {k: vars(v) for k, v in self.counts.items()},
        }


def _chunks(items: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


Progress = Callable[[str, str, int], None]  # (provider, resource, fetched so far)


class StoreWriter:
    """Upserts in batches, each batch one transaction (rolled back on a dry run)."""

    def __init__(self, store: Store, report: ProviderReport, dry_run: bool, progress: Progress | None = None) -> None:
        self.store, self.report, self.dry_run, self.progress = store, report, dry_run, progress

    def write(
        self,
        objects: Iterable[Any],
        *,
        then: Callable[[], None] | None = None,
        changed: Callable[[Any], None] | None = None,
    ) -> None:
        """Batches of one transaction each; `then` in one more after them (a cursor);
        `changed` is told each object that was new or different."""
        for chunk in _chunks(objects):
            with self.store.transaction(rollback=self.dry_run):
                self.many(chunk, changed)
        if then is not None:
            with self.store.transaction(rollback=self.dry_run):
                then()

    def many(self, objects: list[Any], changed: Callable[[Any], None] | None = None) -> None:
        """Upsert inside the caller's transaction; count, and move invoices paid or unpaid."""
        changes = upsert_batch(self.store, objects)
        tally = Counter(zip(map(type, objects), changes, strict=True))
        for (model, change), n in tally.items():
            self.report.counts[KINDS[model].name].add(change, n)
        for obj, change in zip(objects, changes, strict=True):
            if changed is not None and change is not Change.UNCHANGED:
                changed(obj)
            if isinstance(obj, Payment) and change is not Change.UNCHANGED:
                number = _invoice_hook(self.store, obj)
                if number:
                    self.report.invoices_updated.append(number)
        if self.progress is not None:
            for kind in {KINDS[model].name for model, _ in tally}:
                self.progress(self.report.provider, kind, self.report.counts[kind].fetched)


def _invoice_hook(store: Store, payment: Payment) -> str | None:
    """A payment tied to an invoice moves the invoice: paid; or, when it failed, was cancelled
    or charged back (a chargeback or a late failure comes after the invoice was paid), back
    to unpaid with why and when, and no paid_on. Money recorded by hand stays counted
    (partially paid), and an invoice another of its payments paid stays paid."""
    number = payment.metadata.get("invoice")
    if not number:
        return None
    row = store.db.execute("SELECT id, status, total_incl_minor FROM invoices WHERE number = ?", (number,)).fetchone()
    if row is None:
        return None
    if payment.state is PaymentState.PAID:
        paid_on = (payment.charge_date or clock.today()).isoformat()
        status, reason = "paid", None
    elif payment.state in (PaymentState.FAILED, PaymentState.CANCELLED, PaymentState.CHARGED_BACK):
        if store.db.execute(
            "SELECT 1 FROM payments WHERE invoice_number = ? AND state = ? AND NOT (provider = ? AND provider_id = ?)",
            (number, PaymentState.PAID.value, payment.provider, payment.id),
        ).fetchone():
            return None  # an older attempt's news: another payment paid the invoice
        by_hand, last_received = store.db.execute(
            "SELECT coalesce(sum(amount_minor), 0), max(received_on) FROM manual_payments WHERE invoice_id = ?",
            (row["id"],),
        ).fetchone()
        was_paid = payment.state is PaymentState.FAILED and row["status"] == "paid"
        late = " after it was paid (late failure)" if was_paid else ""
        what = payment.state.value if payment.state is PaymentState.CHARGED_BACK else payment.status
        status, reason, paid_on = "unpaid", f"payment {payment.id} {what} on {clock.today()}{late}", None
        if by_hand >= row["total_incl_minor"] > 0:
            status, reason, paid_on = "paid", None, last_received  # paid by hand in full
        elif by_hand > 0:
            status = "partially_paid"
    else:
        return None
    if row["status"] == status:
        return None
    store.db.execute(
        "UPDATE invoices SET status = ?, status_reason = ?, paid_on = ?, updated_at = ? WHERE number = ?",
        (status, reason, paid_on, now_iso(), number),
    )
    return number


def _events_after(provider: Any, cursor: str) -> Iterator[ProviderEvent] | None:
    """The events after the cursor, or None when the provider no longer keeps them all
    (only reading everything is safe then). The check happens before the first event."""
    events = provider.iter_events(after=cursor)
    try:
        first = next(events)
    except StopIteration:
        return iter(())
    except EventsExpired:
        return None
    return itertools.chain([first], events)


def _unprocessed(store: Store, events: list[ProviderEvent]) -> list[ProviderEvent]:
    """The events not applied yet: a cursor's millisecond is read again, and webhooks may
    have applied some."""
    marks = ",".join("?" * len(events))
    done = {
        row[0]
        for row in store.db.execute(
            f"SELECT event_id FROM processed_events WHERE provider = 'gocardless' AND event_id IN ({marks})",
            [e.id for e in events],
        )
    }
    return [e for e in events if e.id not in done]


# -- GoCardless: events ---------------------------------------------------------------------------
# The per-event path, shared by `crmpay sync` (incremental) and the webhook receiver
# (services/webhooks): events not yet in processed_events name payments and mandates, each
# read once at GoCardless (never trusted from the event) and upserted through the writer,
# whose hook moves invoices; the events are recorded as processed in the same transaction.
def unprocessed_events(store: Store, events: list[ProviderEvent]) -> list[ProviderEvent]:
    return _unprocessed(store, events) if events else []


def fetch_event_objects(provider: Any, events: Iterable[ProviderEvent]) -> list[Any]:
    """The mandates, then the payments, the events name: each read once, as it is now."""
    changed: dict[str, list[str]] = {"payments": [], "mandates": []}
    for event in events:
        ids = changed.get(event.resource_type)
        if ids is not None and event.resource_id and event.resource_id not in ids:
            ids.append(event.resource_id)
    objects: list[Any] = [provider.get_mandate(i) for i in changed["mandates"]]
    objects += [provider.get_payment(i) for i in changed["payments"]]
    return objects


def commit_events(
    store: Store,
    writer: StoreWriter,
    events: list[ProviderEvent],
    objects: list[Any],
    *,
    dry_run: bool = False,
    cursor: str | None = None,
    then: Callable[[], None] | None = None,
) -> None:
    """One transaction: upsert `objects`, record `events` as processed, move the events
    cursor when one is given (sync does; the webhook receiver does not: events arrive out of
    order, so only sync knows none is missing before it), and run `then`."""
    with store.transaction(rollback=dry_run):
        writer.many(objects)
        store.db.executemany(
            "INSERT OR IGNORE INTO processed_events (provider, event_id, processed_at) VALUES (?, ?, ?)",
            [(e.provider, e.id, now_iso()) for e in events],
        )
        if cursor is not None:
            _set_cursor(store, "gocardless", "events", cursor)
        if then is not None:
            then()


def _sync_gocardless(
    store: Store, provider: Any, full: bool, dry_run: bool, progress: Progress | None = None
) -> ProviderReport:
    cursor = get_cursor(store, "gocardless", "events")
    events = None if full or not cursor else _events_after(provider, cursor)
    if events is None:
        report = ProviderReport("gocardless", "full")
        writer = StoreWriter(store, report, dry_run, progress)
        latest = provider.latest_event_cursor()  # taken first: what changes while we list is replayed
        writer.write(
            provider.iter_all(),  # customers, bank accounts, mandates, then payments
            then=lambda: _set_cursor(store, "gocardless", "events", latest),
        )
        return report
    report = ProviderReport("gocardless", "incremental")
    writer = StoreWriter(store, report, dry_run, progress)
    for chunk in _chunks(events):
        fresh = _unprocessed(store, chunk)
        objects = fetch_event_objects(provider, fresh)
        commit_events(store, writer, fresh, objects, dry_run=dry_run, cursor=chunk[-1].cursor)
        report.events += len(fresh)
    # Customers and bank accounts have no creation events: walk them newest first.
    writer.write(until_known(store, "customers", "gocardless", provider.iter_customers()))
    writer.write(until_known(store, "bank_accounts", "gocardless", provider.iter_bank_accounts()))
    return report


# -- Mollie: newest-first listings (services/sync/mollie.py) ------------------------------------------
def _sync_mollie(
    store: Store, provider: Any, full: bool, dry_run: bool, progress: Progress | None = None
) -> ProviderReport:
    first = full or get_cursor(store, "mollie", "complete") is None
    report = ProviderReport("mollie", "full" if first else "incremental")
    mollie.sync(store, provider, StoreWriter(store, report, dry_run, progress), first=first, dry_run=dry_run)
    return report


STRATEGIES = {"gocardless": _sync_gocardless, "mollie": _sync_mollie}


def sync_providers(
    store: Store,
    providers: dict[str, Any],
    *,
    full: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> list[ProviderReport]:
    """Sync each provider; a provider that fails is reported and the others still run."""
    from crmpay.core.errors import CrmpayError

    reports = []
    for name, provider in providers.items():
        try:
            reports.append(STRATEGIES[name](store, provider, full, dry_run, progress))
        except CrmpayError as exc:
            reports.append(ProviderReport(name, "failed", error=str(exc), exit_code=int(exc.exit_code)))
    return reports


# -- the use case: providers, then the CRM, under the profile's lock -------------------------------
@dataclass
class SyncOutcome:
    """What `crmpay sync` did: one report per provider, then the CRM push."""

    reports: list[ProviderReport]
    dry_run: bool
    crm: str = "not connected"
    crm_failures: list[str] = field(default_factory=list)

    @property
    def invoices_updated(self) -> list[str]:
        return [number for report in self.reports for number in report.invoices_updated]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "crm": self.crm,
            "crm_failures": self.crm_failures,
            "providers": [r.as_dict() for r in self.reports],
        }

    def raise_for_outcome(self) -> None:
        """Raise the error a partly failed sync exits with (after its summary is shown): a
        temporary failure wins, so cron retries; else the most serious code."""
        from crmpay.core.errors import ExitCode, error_for

        failed = [r for r in self.reports if r.exit_code]
        codes = [r.exit_code for r in failed] + ([int(ExitCode.PARTIAL)] if self.crm_failures else [])
        if not codes:
            return
        code = ExitCode.TEMPORARY if ExitCode.TEMPORARY in codes else max(codes)
        what = [f"{r.provider}: {r.error}" for r in failed]
        if self.crm_failures:
            what.append(f"{len(self.crm_failures)} CRM record(s) not pushed")
        raise error_for(code, "sync incomplete: " + "; ".join(what))


def run(
    ctx: Context,
    *,
    provider: str = "all",
    full: bool = False,
    push_crm: bool = True,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> SyncOutcome:
    """Sync the connected providers (or one) into the store, then push to the CRM when it
    is connected; one sync per profile at a time."""
    from crmpay.core.errors import UsageError
    from crmpay.providers import PROVIDERS, none_connected
    from crmpay.services import context

    if provider not in (*PROVIDERS, "all"):
        raise UsageError(f"unknown provider {provider!r}", hint="choose gocardless, mollie or all")
    providers = context.providers(ctx, None if provider == "all" else provider)
    if not providers:
        raise none_connected()
    with context.profile_lock(ctx, "sync", "sync"):
        store = ctx.store()
        outcome = SyncOutcome(sync_providers(store, providers, full=full, dry_run=dry_run, progress=progress), dry_run)
        client = context.crm(ctx, required=False) if push_crm else None
        if not push_crm:
            outcome.crm = "skipped (--no-crm)"
        elif client is not None:
            _push_to_crm(ctx, client, outcome)
    return outcome


def _push_to_crm(ctx: Context, client: Any, outcome: SyncOutcome) -> None:
    from crmpay.core.errors import UsageError
    from crmpay.services.crm_setup import check_mapping
    from crmpay.services.invoices.zoho import push_status
    from crmpay.services.sync.crm_push import push

    checked = check_mapping(ctx.config, client)
    if not checked["ok"]:
        raise UsageError(
            "the CRM mapping is incomplete: " + "; ".join(checked["missing"]), hint="see `crmpay crm check`"
        )
    store = ctx.store()
    pushed = push(store, client, ctx.config.settings.crm, dry_run=outcome.dry_run)
    for report in outcome.reports:
        for resource, counts in report.counts.items():
            counts.pushed = pushed.pushed.get((report.provider, resource), 0)
            counts.failed = pushed.failed.get((report.provider, resource), 0)
    outcome.crm_failures = pushed.failures
    numbers = outcome.invoices_updated
    failed = push_status(store, client, numbers) if numbers and not outcome.dry_run else []
    outcome.crm = (
        f"pushed {sum(pushed.pushed.values())} record(s), {len(pushed.failures)} failed; "
        f"invoice statuses pushed ({len(numbers) - len(failed)} of {len(numbers)})"
    )
