"""The idempotency journal: an intent is committed before the provider call it protects.

`journaled` writes the intent (deterministic key), calls the provider with that key,
and leaves the intent pending if the process dies: the next run calls again with the
same key, and the provider answers with what the first call created.

Only a refusal (`OperationFailed`: the provider answered, and said no) marks the intent
failed, after which a new attempt takes a new key. Anything else leaves it as it was
(pending, or scheduled): a `TemporaryError` (network, 429/5xx after the retries, Mollie's
409 "already being processed") means the provider may have done it or be doing it, so
the next run must ask again with the same key, never a new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Callable
from typing import Any, TypeVar

from crmpay.core.clock import now_iso
from crmpay.core.errors import OperationFailed
from crmpay.store import Store

T = TypeVar("T")


def checkpoint(name: str) -> None:
    """Test-only: `CRMPAY_TEST_KILL_AT=name` kills the process here, as a crash would."""
    if os.environ.get("CRMPAY_TEST_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def intent_key(*parts: object) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"crmpay-{digest[:40]}"


def get(store: Store, key: str) -> Any:
    return store.db.execute("SELECT * FROM intents WHERE key = ?", (key,)).fetchone()


def begin(
    store: Store, key: str, kind: str, provider: str, subject: str, attempt: int, request: dict[str, Any]
) -> None:
    with store.transaction():
        store.db.execute(
            "INSERT OR IGNORE INTO intents (key, kind, provider, subject, attempt, status, request,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
            (key, kind, provider, subject, attempt, json.dumps(request, default=str), now_iso(), now_iso()),
        )


def finish(store: Store, key: str, status: str, result_id: str | None = None, error: str | None = None) -> None:
    """Record the outcome; call inside the transaction that stores the result."""
    store.db.execute(
        "UPDATE intents SET status = ?, result_id = ?, error = ?, updated_at = ? WHERE key = ?",
        (status, result_id, error, now_iso(), key),
    )


def journaled(
    store: Store,
    key: str,
    kind: str,
    provider: str,
    subject: str,
    attempt: int,
    request: dict[str, Any],
    create: Callable[[str], T],
) -> T:
    """Journal first, then the provider call with the journal's key; a refusal marks the
    intent failed, any other error leaves it to be resumed with the same key."""
    begin(store, key, kind, provider, subject, attempt, request)
    checkpoint(f"after_intent:{kind}")
    try:
        result = create(key)
    except OperationFailed as exc:
        with store.transaction():
            finish(store, key, "failed", error=str(exc))
        raise
    checkpoint(f"after_create:{kind}")
    return result
