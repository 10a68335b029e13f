"""Zoho CRM record reads, simulated: get by id, pages and page tokens, search (criteria, email, phone, word), COQL."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.zoho.constants import PHONE_FIELDS
from crmpay.sandbox.zoho.state import _State


class _Queries(_State):
    def get_record(self, request: Request) -> Response:
        record = self.records[request.params["module"]].get(request.params["id"])
        if record is None:
            return Response.empty(204)
        return Response.json_body(200, {"data": [record]})

    def list_records(self, request: Request) -> Response:
        fields = request.arg("fields")
        if not fields:
            raise self._error(
                400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param_name": "fields"}
            )
        per_page = int(request.arg("per_page", "200"))
        if not 1 <= per_page <= 200:
            raise self._error(400, "INVALID_DATA", "per_page must be between 1 and 200")
        page = int(request.arg("page", "1"))
        token = request.arg("page_token")
        start = int(token.removeprefix("tok-")) if token else (page - 1) * per_page
        if not token and start >= 2000:
            raise self._error(400, "LIMIT_REACHED", "use page_token to read past 2,000 records")
        records = list(self.records[request.params["module"]].values())
        chunk = records[start : start + per_page]
        if not chunk:
            return Response.empty(204)
        wanted = [f.strip() for f in fields.split(",")] + ["id"]
        more = start + per_page < len(records)
        info = {
            "per_page": per_page,
            "count": len(chunk),
            "page": page if not token else None,
            "more_records": more,
            "next_page_token": f"tok-{start + per_page}" if more else None,
        }
        return Response.json_body(200, {"data": [{k: r.get(k) for k in wanted} for r in chunk], "info": info})

    def search(self, request: Request) -> Response:
        module = request.params["module"]
        records = list(self.records[module].values())
        if request.arg("email"):
            wanted = request.arg("email", "").casefold()
            hits = [r for r in records if wanted in str(r.get("Email") or "").casefold()]
        elif request.arg("phone"):
            # Zoho documents that every phone-type field is searched, nothing about partial
            # or reformatted matches: only the number as it was typed is found.
            wanted = request.arg("phone", "").strip()
            hits = [r for r in records if any(str(r.get(f) or "").strip() == wanted for f in PHONE_FIELDS)]
        elif request.arg("criteria"):
            hits = [r for r in records if _matches(r, request.arg("criteria", ""))]
        elif request.arg("word"):
            word = request.arg("word", "").casefold()
            hits = [r for r in records if any(word in str(v).casefold() for v in r.values())]
        else:
            raise self._error(400, "REQUIRED_PARAM_MISSING", "one of criteria, email, phone or word is needed")
        if not hits:
            return Response.empty(204)
        return Response.json_body(
            200, {"data": hits[:200], "info": {"count": len(hits[:200]), "more_records": len(hits) > 200}}
        )

    def coql(self, request: Request) -> Response:
        query = ((request.json() or {}).get("select_query") or "").strip()
        match = re.match(
            r"(?is)^select\s+(.+?)\s+from\s+(\w+)(?:\s+where\s+(.+?))?(?:\s+limit\s+(\d+)(?:\s*,\s*(\d+))?)?$", query
        )
        if not match:
            raise self._error(400, "SYNTAX_ERROR", "error at or near the query")
        fields, module, where, first, second = match.groups()
        if module not in self.records:
            raise self._error(400, "INVALID_QUERY", "invalid module", {"module": module})
        limit, offset = (int(second), int(first)) if second else (int(first or 200), 0)
        if limit > 2000:
            raise self._error(400, "LIMIT_EXCEEDED", "limit exceeds 2000")
        rows = [r for r in self.records[module].values() if not where or _coql_where(r, where)]
        page = rows[offset : offset + limit]
        if not page:
            return Response.empty(204)
        names = [f.strip() for f in fields.split(",")]
        return Response.json_body(
            200,
            {
                "data": [{n: r.get(n) for n in [*names, "id"]} for r in page],
                "info": {"count": len(page), "more_records": offset + limit < len(rows)},
            },
        )


def _criteria_terms(criteria: str) -> list[tuple[str, str, str]]:
    """`((Email:equals:a@b.fr)and(Last_Name:starts_with:Do\\,e))` -> [(field, op, value)…]."""
    terms = []
    for part in re.findall(r"\(([^()]*?(?:\\.[^()]*?)*)\)", unquote(criteria)):
        pieces = re.split(r"(?<!\\):", part, maxsplit=2)
        if len(pieces) == 3:
            field, op, value = pieces
            terms.append((field, op, re.sub(r"\\(.)", r"\1", value)))
    return terms


def _matches(record: dict[str, Any], criteria: str) -> bool:
    terms = _criteria_terms(criteria)
    use_or = ")or(" in criteria.replace(" ", "")
    results = []
    for field, op, value in terms:
        have = str(record.get(field) or "").casefold()
        want = value.casefold()
        if op in ("equals", "contains"):  # v8: equals acts like contains
            results.append(want in have)
        elif op == "starts_with":
            results.append(have.startswith(want))
        else:
            results.append(False)
    return bool(results) and (any(results) if use_or else all(results))


def _coql_where(record: dict[str, Any], where: str) -> bool:
    clauses = re.split(r"(?i)\s+and\s+", where.strip().strip("()"))
    for clause in clauses:
        clause = clause.strip().strip("()")
        m = re.match(r"(?i)^(\w+)\s*(=|!=|in|like)\s*(.+)$", clause)
        if not m:
            return False
        field, op, raw = m.groups()
        have = str(
            record.get(field)
            if not isinstance(record.get(field), dict)
            else record[field].get("id") or record[field].get("name")
        )
        if op.lower() == "in":
            values = [v.strip().strip("'") for v in raw.strip("() ").split(",")]
            if have not in values:
                return False
        else:
            value = raw.strip().strip("'")
            if op == "=" and have != value or op == "!=" and have == value:
                return False
            if op.lower() == "like" and value.strip("%").casefold() not in have.casefold():
                return False
    return True
