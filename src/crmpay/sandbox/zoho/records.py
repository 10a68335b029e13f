"""Zoho CRM record writes, simulated: insert, update and upsert of at most 100 records, checked field by field."""

from __future__ import annotations

from typing import Any

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.zoho.constants import (
    DEALS_LAYOUT,
    FIELDS,
    MANDATORY,
    NOT_UPSERTABLE,
    PIPELINES,
    SYSTEM_DUPLICATE_CHECK,
)
from crmpay.sandbox.zoho.state import _State


class _Records(_State):
    def _record(self, module: str, data: dict[str, Any]) -> dict[str, Any]:
        now = self._now()
        owner = data.get("Owner") or {"id": self.users[0]["id"]}
        return {
            **data,
            "id": data.get("id") or self._new_id(),
            "Owner": owner,
            "Created_Time": data.get("Created_Time") or now,
            "Modified_Time": data.get("Modified_Time") or now,
        }

    @staticmethod
    def _deal_mapping(data: dict[str, Any]) -> dict[str, Any] | None:
        """A deal's layout must exist, and its pipeline and stage belong to that layout."""

        def error(code: str, field: str) -> dict[str, Any]:
            details = {"api_name": field, "json_path": f"$.data[0].{field}"}
            return {"code": code, "message": "invalid data", "status": "error", "details": details}

        layout = data.get("Layout")
        if layout is not None and (not isinstance(layout, dict) or layout.get("id") != DEALS_LAYOUT["id"]):
            return error("INVALID_DATA", "Layout")
        pipeline = data.get("Pipeline")
        if pipeline is not None and pipeline not in PIPELINES:
            return error("MAPPING_MISMATCH", "Pipeline")
        stages = PIPELINES[pipeline][1] if pipeline else [s for _, ss in PIPELINES.values() for s in ss]
        if data.get("Stage") and data["Stage"] not in stages:
            return error("MAPPING_MISMATCH", "Stage")
        return None

    def _check(self, module: str, data: Any) -> dict[str, Any] | None:
        """The error entry for one record, or None when it is valid."""
        if not isinstance(data, dict):
            return {"code": "INVALID_DATA", "message": "invalid data", "status": "error", "details": {}}
        for field in MANDATORY[module]:
            if data.get(field) in (None, "", []):
                return {
                    "code": "MANDATORY_NOT_FOUND",
                    "message": "required field not found",
                    "status": "error",
                    "details": {"api_name": field, "json_path": f"$.data[0].{field}"},
                }
        refused = next((k for k, v in data.items() if isinstance(v, str) and v in self.settings["reject_values"]), None)
        if refused:
            return {
                "code": "INVALID_DATA",
                "message": "invalid data",
                "status": "error",
                "details": {"api_name": refused, "json_path": f"$.data[0].{refused}"},
            }
        if module == "Deals":
            mismatch = self._deal_mapping(data)
            if mismatch:
                return mismatch
        unknown = [
            k
            for k in data
            if k not in FIELDS[module] and k not in ("id", "$se_module", "Created_Time", "Modified_Time")
        ]
        if unknown:
            return {
                "code": "INVALID_DATA",
                "message": "invalid data",
                "status": "error",
                "details": {"api_name": unknown[0], "json_path": f"$.data[0].{unknown[0]}"},
            }
        return None

    def _batch(self, request: Request) -> tuple[str, list[Any], dict[str, Any]]:
        body = request.json() or {}
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            raise self._error(400, "INVALID_DATA", "the data is empty or malformed")
        if len(data) > 100:
            raise self._error(400, "LIMIT_EXCEEDED", "the number of records exceeds 100", {"limit": 100})
        return request.params["module"], data, body

    def _answer(self, results: list[dict[str, Any]], ok_status: int) -> Response:
        statuses = {r["status"] for r in results}
        status = 207 if len(statuses) > 1 else (ok_status if statuses == {"success"} else 400)
        return Response.json_body(status, {"data": results})

    def _success(self, record: dict[str, Any], action: str) -> dict[str, Any]:
        return {
            "code": "SUCCESS",
            "status": "success",
            "action": action,
            "message": f"record {'added' if action == 'insert' else 'updated'}",
            "details": {
                "id": record["id"],
                "Created_Time": record["Created_Time"],
                "Modified_Time": record["Modified_Time"],
                "Created_By": {"id": self.users[0]["id"], "name": self.users[0]["full_name"]},
            },
        }

    def _create(self, module: str, item: dict[str, Any]) -> dict[str, Any]:
        record = self._record(module, {k: v for k, v in item.items() if k != "id"})
        self.records[module][record["id"]] = record
        self._reindex(module, record)
        return self._success(record, "insert")

    def insert(self, request: Request) -> Response:
        module, data, _ = self._batch(request)
        results = [self._check(module, item) or self._create(module, item) for item in data]
        return self._answer(results, 201)

    def update(self, request: Request) -> Response:
        module, data, _ = self._batch(request)
        results = []
        for item in data:
            existing = self.records[module].get(str(item.get("id"))) if isinstance(item, dict) else None
            if existing is None:
                results.append(
                    {
                        "code": "INVALID_DATA",
                        "message": "the related id given seems to be invalid",
                        "status": "error",
                        "details": {"api_name": "id"},
                    }
                )
                continue
            merged = {**existing, **item}
            error = self._check(module, {k: v for k, v in merged.items() if k != "Owner"})
            if error:
                results.append(error)
                continue
            merged["Modified_Time"] = self._now()
            self.records[module][existing["id"]] = merged
            self._reindex(module, merged)
            results.append(self._success(merged, "update"))
        return self._answer(results, 200)

    def upsert(self, request: Request) -> Response:
        module = request.params["module"]
        if module in NOT_UPSERTABLE:
            raise self._error(400, "INVALID_MODULE", f"the upsert API does not support the module {module}")
        module, data, body = self._batch(request)
        keys = body.get("duplicate_check_fields") or []
        for key in keys:  # Zoho matches only on system duplicate-check fields and unique fields
            if (
                key not in SYSTEM_DUPLICATE_CHECK.get(module, ())
                and f"{module}.{key}" not in self.settings["unique_fields"]
            ):
                raise self._error(
                    400,
                    "INVALID_DATA",
                    "the field is not a unique field",
                    {"param_name": "duplicate_check_fields", "api_name": key},
                )
        results = []
        for item in data:
            error = self._check(module, item)
            if error:
                results.append(error)
                continue
            match = self._duplicate(module, tuple(keys), item) if keys else None
            if match is not None:
                match.update({k: v for k, v in item.items() if k != "id"})
                match["Modified_Time"] = self._now()
                self._reindex(module, match)
                results.append({**self._success(match, "update"), "duplicate_field": keys[0]})
            else:
                results.append(self._create(module, item))
        return self._answer(results, 200)

    # Upserts look duplicates up in an index per (module, fields), kept current on every
    # write, so a module of 100,000 records answers an upsert of 100 in constant time.
    @staticmethod
    def _key(record: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(record.get(k) or "").casefold() for k in keys)

    def _duplicate(self, module: str, keys: tuple[str, ...], item: dict[str, Any]) -> dict[str, Any] | None:
        index = self._indexes.get((module, keys))
        if index is None:
            index = self._indexes[(module, keys)] = {}
            for record in self.records[module].values():
                index.setdefault(self._key(record, keys), record["id"])
        wanted = self._key(item, keys)
        if wanted not in index:
            return None
        found = self.records[module].get(index[wanted])
        if found is not None and self._key(found, keys) == wanted:
            return found
        # the indexed record's key changed since: look again, the slow way (rare)
        return next((r for r in self.records[module].values() if self._key(r, keys) == wanted), None)

    def _reindex(self, module: str, record: dict[str, Any]) -> None:
        for (indexed, keys), index in self._indexes.items():
            if indexed == module:
                key = self._key(record, keys)
                current = self.records[module].get(index.get(key, ""))
                if current is None or self._key(current, keys) != key:
                    index[key] = record["id"]
