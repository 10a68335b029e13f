"""The Zoho sandbox's control API: add users and records, change settings, expire access tokens."""

from __future__ import annotations

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.zoho.records import _Records


class _Control(_Records):
    def control_user(self, request: Request) -> Response:
        body = request.json() or {}
        return Response.json_body(201, self._add_user(body["email"], body.get("name") or body["email"]))

    def control_records(self, request: Request) -> Response:
        module = request.params["module"]
        if module not in self.records:
            return Response.json_body(400, {"error": f"unknown module {module}"})
        created = []
        for item in (request.json() or {}).get("data", []):
            record = self._record(module, item)
            self.records[module][record["id"]] = record
            self._reindex(module, record)
            created.append(record["id"])
        return Response.json_body(201, {"ids": created})

    def control_settings(self, request: Request) -> Response:
        body = request.json() or {}
        for key in ("token_ttl_seconds", "max_concurrency", "scopes", "reject_values", "unique_fields"):
            if key in body:
                self.settings[key] = body[key]
        return Response.json_body(200, self.settings)

    def control_expire(self, request: Request) -> Response:
        now = self._now()
        for token in self.access_tokens:
            self.access_tokens[token] = now
        return Response.json_body(200, {"expired": len(self.access_tokens)})
