"""GoCardless state, simulated: objects in creation order, indexed by the links that listings filter on."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from crmpay.sandbox._tables import Tables
from crmpay.sandbox.clock import iso
from crmpay.sandbox.gocardless.constants import EVENT_INDEXED, ID_PREFIX, INDEXED

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox


class _State(Tables):
    """The tables and the indexes over them, shared by every resource; `reset` sets them."""

    sandbox: Sandbox
    index: dict[tuple[str, str], dict[str, list[str]]]  # (kind, link) -> link value -> ids in creation order
    idempotency: dict[tuple[str, str], str]  # (kind, key) -> id
    private: dict[str, dict[str, Any]]  # per object: IBAN, lifecycle dates, retries
    accounts_by_iban: dict[tuple[str, str], str]  # (customer, IBAN) -> bank account
    references: set[str]  # mandate references, casefolded
    removed: set[str]  # customers removed through DELETE
    import_queue: list[str]  # submitted mandate imports, processed on the next day
    due: list[tuple[date, int, int, str]]  # (day, rank, seq, id): a heap
    due_on: dict[str, date]  # the live entry of each scheduled object
    seq: int
    deferred: list[dict[str, Any]] | None  # events held back while set
    window: tuple[int, int]  # (minute, requests in it)
    last_now: datetime | None
    last_iso: str
    creditor: dict[str, Any]

    def _new_id(self, kind: str) -> str:
        prefix = ID_PREFIX[kind]
        return self.sandbox.ids.next(prefix, 12 - len(prefix))

    def _now(self) -> str:
        now = self.sandbox.clock.now()
        if now != self.last_now:  # formatting is dear when 100,000 payments are seeded at once
            self.last_now, self.last_iso = now, iso(now)
        return self.last_iso

    def _today(self) -> date:
        return self.sandbox.clock.today()

    def _store(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        super()._store(kind, obj)
        ident = obj["id"]
        if kind == "events":  # few links each: walk them rather than every indexed key
            for key, value in obj["links"].items():
                if key in EVENT_INDEXED:
                    self.index[("events", key)].setdefault(value, []).append(ident)
            return obj
        for key in INDEXED.get(kind, ()):
            value = self._link_value(kind, key, obj)
            if value:
                self.index[(kind, key)].setdefault(value, []).append(ident)
        if kind == "customer_bank_accounts":
            private = self.private.get(ident) or {}
            if private.get("iban"):
                self.accounts_by_iban[(obj["links"]["customer"], private["iban"])] = ident
        elif kind == "mandates" and obj.get("reference"):
            self.references.add(obj["reference"].casefold())
        return obj

    def _link_value(self, kind: str, key: str, obj: dict[str, Any]) -> str | None:
        if kind == "payments" and key == "customer":
            return (self.private.get(obj["id"]) or {}).get("customer")
        return (obj.get("links") or {}).get(key)

    def _link_test(self, kind: str, key: str, value: str) -> Callable[[dict[str, Any]], bool]:
        """A filter: objects whose link `key` is `value`."""
        return lambda obj: self._link_value(kind, key, obj) == value

    def _relink(self, kind: str, key: str, obj: dict[str, Any], value: str) -> None:
        """Set a link after creation, keeping its index in creation order."""
        obj["links"][key] = value
        if (kind, key) in self.index:
            ids = self.index[(kind, key)].setdefault(value, [])
            if obj["id"] not in ids:
                bisect.insort(ids, obj["id"], key=self.position[kind].__getitem__)
