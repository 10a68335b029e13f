"""Mollie's HAL listings, simulated: cursor `from`, `limit`, `sort`, and the `previous`/`next` links."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.mollie.constants import DEFAULT_LIMIT, DOC_PAGE, MAX_LIMIT
from crmpay.sandbox.mollie.wire import _Wire


class _Listing(_Wire):
    def _list(
        self, request: Request, kind: str, path: str, index: tuple[list[str], dict[str, int]] | None = None
    ) -> Response:
        raw_limit = request.arg("limit", str(DEFAULT_LIMIT))
        try:
            limit = int(raw_limit or "")
        except ValueError:
            raise self._bad(f"Invalid limit: '{raw_limit}'", "limit") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise self._bad(f"The limit must be between 1 and {MAX_LIMIT}", "limit")
        sort = request.arg("sort", "desc")
        if sort not in ("asc", "desc"):
            raise self._bad("The sort must be asc or desc", "sort")
        ids, positions = index if index is not None else (self.order[kind], self.position[kind])
        table = self.objects[kind]
        step = -1 if sort == "desc" else 1
        start = request.arg("from")
        if start:
            if start not in positions:
                raise self._bad(f"Invalid 'from' parameter: {start}", "from")
            i = positions[start]
        else:
            i = len(ids) - 1 if step < 0 else 0
        page: list[dict[str, Any]] = []
        following = None
        while 0 <= i < len(ids):
            obj = table.get(ids[i])  # a deleted customer leaves a gap
            i += step
            if obj is None:
                continue
            if len(page) == limit:
                following = obj["id"]
                break
            page.append(obj)
        preceding = None
        if start:
            j, seen = positions[start] - step, 0
            while 0 <= j < len(ids) and seen < limit:
                if ids[j] in table:
                    preceding, seen = ids[j], seen + 1
                j -= step

        def href(cursor: str | None) -> str:
            query = {"from": cursor} if cursor else {}
            query["limit"] = str(limit)
            if sort == "asc":
                query["sort"] = "asc"
            return f"{path}?{urlencode(query)}"

        links = {
            "self": self._link(href(start)),
            "previous": self._link(href(preceding)) if preceding else None,
            "next": self._link(href(following)) if following else None,
            "documentation": self._doc(f"reference/v2/{DOC_PAGE[kind]}/list-{kind}"),
        }
        plural = kind.replace("-", "_")
        return self._ok(200, {"count": len(page), "_embedded": {plural: page}, "_links": links})
