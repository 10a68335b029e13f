"""In-memory tables for simulated services: objects by id, in creation order.

Listings walk `order` from a cursor's `position`, so a page costs O(page), not O(table),
even with 100,000 payments.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Tables:
    def reset_tables(self, kinds: Iterable[str]) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in kinds}
        self.order: dict[str, list[str]] = {k: [] for k in self.objects}
        self.position: dict[str, dict[str, int]] = {k: {} for k in self.objects}

    def _store(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[kind][obj["id"]] = obj
        self.position[kind][obj["id"]] = len(self.order[kind])
        self.order[kind].append(obj["id"])
        return obj
