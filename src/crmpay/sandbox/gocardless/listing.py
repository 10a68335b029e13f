"""GoCardless listings, simulated: newest first, `after`/`before` cursors, `limit`, `created_at` windows, filters."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.clock import iso
from crmpay.sandbox.gocardless.constants import DEFAULT_LIMIT, MAX_LIMIT
from crmpay.sandbox.gocardless.wire import _Wire


class _Listing(_Wire):
    def _limit(self, request: Request) -> int:
        raw = request.arg("limit")
        if raw is None or raw == "":
            return DEFAULT_LIMIT
        try:
            limit = int(raw)
        except ValueError:
            raise self._validation("limit", "must be a number") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise self._validation("limit", f"must be between 1 and {MAX_LIMIT}")
        return limit

    def _bounds(self, request: Request, field: str = "created_at"):
        """`field[gt|gte|lt|lte]` as two monotone tests on the stored value (millisecond ISO
        text for timestamps, `YYYY-MM-DD` for dates): `low` is false then true along
        creation order, `high` true then false."""
        lows: list[tuple[str, bool]] = []  # (bound, strict)
        highs: list[tuple[str, bool]] = []
        for op in ("gt", "gte", "lt", "lte"):
            raw = request.arg(f"{field}[{op}]")
            if raw is None:
                continue
            bound, exact = self._bound_text(field, raw)
            if op == "gt":
                lows.append((bound, True))
            elif op == "gte":
                lows.append((bound, not exact))  # at or above a sub-millisecond bound: strictly above
            elif op == "lt":
                highs.append((bound, exact))
            else:
                highs.append((bound, False))

        def low(value: str) -> bool:
            return all(value > b if strict else value >= b for b, strict in lows)

        def high(value: str) -> bool:
            return all(value < b if strict else value <= b for b, strict in highs)

        return (low if lows else None), (high if highs else None)

    def _bound_text(self, field: str, raw: str) -> tuple[str, bool]:
        if field == "charge_date":
            try:
                return date.fromisoformat(raw).isoformat(), True
            except ValueError:
                raise self._validation(f"{field}", "must be a date (YYYY-MM-DD)") from None
        try:
            moment = datetime.fromisoformat(raw.strip().replace(" ", "+"))
        except ValueError:
            raise self._validation(field, "must be an ISO 8601 timestamp") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return iso(moment), moment.microsecond % 1000 == 0

    def _list(
        self,
        kind: str,
        request: Request,
        match: Callable[[dict[str, Any]], bool] | None = None,
        *,
        index: tuple[str, str] | None = None,
        envelope: str | None = None,
        render: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        extra: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
    ) -> Response:
        """One page, newest first: `after` walks to older records, `before` to newer ones.

        `index` = (link, value) reads that link's index instead of the whole table; the
        `created_at` window is found by bisection (records are stored in time order), so a
        page costs O(page + log n) unless `match` rejects most records.
        """
        limit = self._limit(request)
        positions = self.position[kind]
        ids: Sequence[str] = self.index[(kind, index[0])].get(index[1], []) if index else self.order[kind]
        whole = not index
        after, before = request.arg("after"), request.arg("before")
        if after and before:
            raise self._usage(400, "invalid_cursors", "Only one of before and after may be given")
        for name, cursor in (("after", after), ("before", before)):
            if cursor and cursor not in positions:
                raise self._usage(400, "invalid_cursor", f"{name} is not a valid cursor")
        objects = self.objects[kind]
        low, high = self._bounds(request)
        start, stop = 0, len(ids)  # the created_at window, as indexes into ids
        if low:
            start = bisect.bisect_left(range(len(ids)), True, key=lambda i: low(objects[ids[i]]["created_at"]))
        if high:
            stop = bisect.bisect_left(range(len(ids)), True, key=lambda i: not high(objects[ids[i]]["created_at"]))

        page: list[dict[str, Any]] = []
        more = False
        if before:  # newer than the cursor: walk forwards, then show newest first
            i = max(
                start,
                positions[before] + 1
                if whole
                else bisect.bisect_right(ids, positions[before], key=positions.__getitem__),
            )
            while i < stop:
                obj = objects[ids[i]]
                i += 1
                if match is None or match(obj):
                    if len(page) == limit:
                        more = True
                        break
                    page.append(obj)
            page.reverse()
            has_newer, has_older = more, bool(page)
        else:
            end = stop
            if after:  # the cursor's index in ids, or where it would be
                end = min(
                    stop,
                    positions[after] if whole else bisect.bisect_left(ids, positions[after], key=positions.__getitem__),
                )
            i = end - 1
            while i >= start:
                obj = objects[ids[i]]
                i -= 1
                if match is None or match(obj):
                    if len(page) == limit:
                        more = True
                        break
                    page.append(obj)
            has_newer, has_older = bool(after) and bool(page), more
        cursors = {
            "before": page[0]["id"] if page and has_newer else None,
            "after": page[-1]["id"] if page and has_older else None,
        }
        body: dict[str, Any] = {envelope or kind: [render(o) if render else o for o in page]}
        if extra:
            body.update(extra(page))
        body["meta"] = {"cursors": cursors, "limit": limit}
        return self._ok(200, body)

    def _one(self, kind: str, render: Callable[[dict[str, Any]], dict[str, Any]] | None = None):
        def handler(request: Request) -> Response:
            obj = self._get(kind, request.params["id"])
            return self._ok(200, {kind: render(obj) if render else obj})

        return handler

    @staticmethod
    def _statuses(request: Request) -> set[str]:
        return set((request.arg("status") or "").split(",")) - {""}

    @staticmethod
    def _all(tests: list[Callable[[dict[str, Any]], bool]]) -> Callable[[dict[str, Any]], bool] | None:
        if not tests:
            return None
        if len(tests) == 1:
            return tests[0]
        return lambda obj: all(test(obj) for test in tests)

    def _indexed(self, kind: str, request: Request, keys: Sequence[str]) -> tuple[tuple[str, str] | None, list]:
        """The first indexed filter present is read from its index, the others are tests."""
        chosen: tuple[str, str] | None = None
        tests: list[Callable[[dict[str, Any]], bool]] = []
        for key in keys:
            value = request.arg(key)
            if not value:
                continue
            if chosen is None:
                chosen = (key, value)
            else:
                tests.append(self._link_test(kind, key, value))
        return chosen, tests
