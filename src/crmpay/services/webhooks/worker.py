"""The worker: a thread that applies what the receiver wrote, behind the 2xx.

It reads `webhook_events` (never a queue in memory), so what was received but not applied
when the process died is applied at the next start, and a slow CRM only delays the CRM
push, never the provider's answer. Woken at once by each delivery; otherwise it looks
again when a failed row's back-off ends, or every `idle` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crmpay.core.errors import CrmpayError
from crmpay.services.webhooks.apply import Applied, Applier
from crmpay.services.webhooks.intake import claim, next_due

if TYPE_CHECKING:
    from crmpay.services.context import Context
    from crmpay.store import Store

log = logging.getLogger("crmpay.webhooks")
BATCH = 500


@dataclass
class Counters:
    applied: int = 0
    failed: int = 0
    crm_failures: list[str] = field(default_factory=list)


class Worker:
    def __init__(
        self,
        ctx: Context,
        open_store: Callable[[], Store],
        *,
        idle: float = 5.0,
        on_applied: Callable[[Applied], None] | None = None,
    ) -> None:
        self.ctx, self._open_store, self.idle, self._on_applied = ctx, open_store, idle, on_applied
        self.counters = Counters()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._crm_owed = Applied()  # what the CRM has not taken yet (it failed): pushed again
        # a process killed between applying and pushing left records unpushed: the first push
        # after a start sends every record that differs from its last push (as sync does)
        self._crm_owed.everything = True

    def start(self) -> Worker:
        self._thread = threading.Thread(target=self._run, name="crmpay-webhooks-worker", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand, then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        store = self._open_store()  # this thread's own connection
        applier = Applier(self.ctx)
        try:
            while not self._stop.is_set():
                self._wake.clear()
                if self.run_once(store, applier):
                    continue
                due = next_due(store)
                self._wake.wait(self.idle if due is None else min(self.idle, max(due, 0.05)))
        finally:
            applier.close()
            store.close()

    def run_once(self, store: Store, applier: Applier) -> int:
        """Apply one batch and push it; the rows it took (0: nothing was due)."""
        try:
            batch = claim(store, BATCH)
            done = applier.apply(store, batch) if batch else Applied()
        except Exception:  # a bug must not stop the receiver: the rows stay pending
            log.exception("webhooks: applying a batch failed")
            time.sleep(1)
            return 0
        self.counters.applied += done.events
        self.counters.failed += done.failed
        owed = self._crm_owed
        for resource, keys in done.touched.items():
            owed.touched.setdefault(resource, set()).update(keys)
        owed.invoices += done.invoices
        if owed.touched or owed.invoices or owed.everything:
            try:
                failures = applier.push(store, owed)
            except CrmpayError as exc:
                log.warning("webhooks: the CRM push failed (%s); it is tried again with the next batch", exc)
            except Exception:
                log.exception("webhooks: the CRM push failed")
            else:
                self._crm_owed = Applied()
                self.counters.crm_failures = failures[-20:]
        if self._on_applied is not None and batch:
            self._on_applied(done)
        return len(batch)
