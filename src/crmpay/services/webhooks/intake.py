"""The `webhook_events` table: every delivery written (committed) before the 2xx, then
claimed by the worker, applied, and marked processed or failed.

Keys: (provider, event id). GoCardless events have ids: a delivery of a known event only
counts one more delivery. A Mollie POST carries only an object id (`id=tr_…`), the same on
every change of that payment, so its row is queued again by each POST (`processed_at`
back to NULL, `deliveries` + 1) and the worker marks it processed only if no POST came in
while it was applying it (the `deliveries` it read is still there).

Times here are operational (when a POST reached this machine, how long it waited), so they
are the machine's UTC time, not crmpay's business clock (`CRMPAY_TODAY` pins that one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crmpay.core import clock
from crmpay.store import Store

BACKOFF_BASE = timedelta(seconds=2)  # a failed event waits 2 s, 4 s, 8 s … (at most 10 min)
BACKOFF_MAX = timedelta(minutes=10)


def utcnow() -> str:
    """When a delivery was received or handled: running time, not the business date."""
    return clock.elapsed_now().isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Pending:
    """One row to apply, as the worker claimed it."""

    provider: str
    event_id: str
    resource_type: str | None
    resource_id: str | None
    raw: dict[str, Any]
    deliveries: int
    attempts: int


def record_gocardless(store: Store, events: list[dict[str, Any]]) -> int:
    """Write a verified batch; the number of events not seen before. One transaction."""
    now = utcnow()
    rows = []
    for event in events:
        resource_type = str(event.get("resource_type") or "")
        links = event.get("links") or {}
        resource_id = links.get(resource_type.rstrip("s")) if isinstance(links, dict) else None
        rows.append(
            ("gocardless", str(event["id"]), resource_type, resource_id, json.dumps(event, sort_keys=True), now, now)
        )
    ids = [r[1] for r in rows]
    with store.transaction():
        marks = ",".join("?" * len(ids))
        known = {
            r[0]
            for r in store.db.execute(
                f"SELECT event_id FROM webhook_events WHERE provider = 'gocardless' AND event_id IN ({marks})", ids
            )
        }
        fresh = {r[1]: r for r in rows if r[1] not in known}  # a batch naming one event twice keeps one
        store.db.executemany(
            "INSERT INTO webhook_events (provider, event_id, resource_type, resource_id, raw, received_at,"
            " first_received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            list(fresh.values()),
        )
        store.db.executemany(  # a repeated delivery is counted, never applied again
            "UPDATE webhook_events SET deliveries = deliveries + 1, received_at = ?"
            " WHERE provider = 'gocardless' AND event_id = ?",
            [(now, ident) for ident in known],
        )
        new = len(fresh)
    return new


def record_mollie(store: Store, object_id: str, form: dict[str, str]) -> None:
    """Queue the object (again): Mollie posts the same id on every change."""
    now = utcnow()
    kind = "payments" if object_id.startswith("tr_") else "unknown"
    with store.transaction():
        store.db.execute(
            "INSERT INTO webhook_events (provider, event_id, resource_type, resource_id, raw, received_at,"
            " first_received_at) VALUES ('mollie', ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (provider, event_id) DO UPDATE SET deliveries = deliveries + 1,"
            " received_at = excluded.received_at, raw = excluded.raw, processed_at = NULL,"
            " attempts = 0, next_attempt_at = NULL, error = NULL",
            (object_id, kind, object_id, json.dumps(form, sort_keys=True), now, now),
        )


def claim(store: Store, limit: int = 500) -> list[Pending]:
    """The oldest rows still to apply whose retry time has come."""
    rows = store.db.execute(
        "SELECT provider, event_id, resource_type, resource_id, raw, deliveries, attempts FROM webhook_events"
        " WHERE processed_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        " ORDER BY received_at, event_id LIMIT ?",
        (utcnow(), limit),
    ).fetchall()
    return [Pending(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]


def mark_processed(store: Store, done: list[Pending]) -> None:
    """Inside the caller's transaction (the one that applied them)."""
    now = utcnow()
    store.db.executemany(
        "UPDATE webhook_events SET processed_at = ?, error = NULL, next_attempt_at = NULL"
        " WHERE provider = ? AND event_id = ? AND (provider = 'gocardless' OR deliveries = ?)",
        [(now, p.provider, p.event_id, p.deliveries) for p in done],
    )


def mark_failed(store: Store, failed: list[Pending], error: str) -> None:
    """Keep them pending, with the error and a later retry time (exponential back-off)."""
    now = clock.elapsed_now()
    with store.transaction():
        for p in failed:
            wait = min(BACKOFF_MAX, BACKOFF_BASE * (2**p.attempts))
            store.db.execute(
                "UPDATE webhook_events SET attempts = attempts + 1, error = ?, next_attempt_at = ?"
                " WHERE provider = ? AND event_id = ? AND processed_at IS NULL",
                (error[:500], (now + wait).isoformat(timespec="microseconds"), p.provider, p.event_id),
            )


def next_due(store: Store) -> float | None:
    """Seconds until the next failed row may be tried again (None: nothing waits)."""
    row = store.db.execute(
        "SELECT min(next_attempt_at) FROM webhook_events WHERE processed_at IS NULL AND next_attempt_at IS NOT NULL"
    ).fetchone()
    if not row or row[0] is None:
        return None
    return max(0.0, (datetime.fromisoformat(row[0]) - clock.elapsed_now()).total_seconds())


def summary(store: Store) -> dict[str, Any]:
    """What `crmpay webhooks status` shows, per provider: no secret, no payload."""
    now = clock.elapsed_now()
    out: dict[str, Any] = {}
    for provider in ("gocardless", "mollie"):
        row = store.db.execute(
            "SELECT count(*), sum(deliveries), max(received_at), max(processed_at),"
            " sum(processed_at IS NULL), min(CASE WHEN processed_at IS NULL THEN received_at END),"
            " sum(processed_at IS NULL AND error IS NOT NULL)"
            " FROM webhook_events WHERE provider = ?",
            (provider,),
        ).fetchone()
        events, deliveries, last_received, last_processed, pending, oldest, failing = row
        last = store.db.execute(
            "SELECT event_id, resource_type, resource_id FROM webhook_events WHERE provider = ?"
            " ORDER BY received_at DESC, event_id DESC LIMIT 1",
            (provider,),
        ).fetchone()
        errors = [
            {"event": r[0], "attempts": r[1], "error": r[2]}
            for r in store.db.execute(
                "SELECT event_id, attempts, error FROM webhook_events WHERE provider = ? AND processed_at IS NULL"
                " AND error IS NOT NULL ORDER BY received_at DESC LIMIT 10",
                (provider,),
            )
        ]
        lag = (now - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0.0
        out[provider] = {
            "events": events or 0,
            "deliveries": deliveries or 0,
            "last_received_at": last_received,
            "last_processed_at": last_processed,
            "last_event": {"id": last[0], "resource_type": last[1], "resource_id": last[2]} if last else None,
            "unprocessed": pending or 0,
            "failing": failing or 0,
            "lag_seconds": round(lag, 3),
            "errors": errors,
        }
    return out
