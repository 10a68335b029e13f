"""Zoho CRM metadata, simulated: users, modules, fields, the Deals layout and its pipeline."""

from __future__ import annotations

from typing import Any

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.zoho.constants import DEALS_LAYOUT, FIELDS, FORECASTS, MANDATORY, PHONE_FIELDS, PIPELINES
from crmpay.sandbox.zoho.state import _State


class _Metadata(_State):
    def list_users(self, request: Request) -> Response:
        active = [u for u in self.users if u["status"] == "active"]
        return Response.json_body(200, {"users": active, "info": {"count": len(active), "more_records": False}})

    def modules(self, request: Request) -> Response:
        return Response.json_body(
            200,
            {
                "modules": [
                    {
                        "api_name": m,
                        "module_name": m,
                        "plural_label": m,
                        "api_supported": True,
                        "generated_type": "custom" if m.startswith("CRMPAY_") else "default",
                    }
                    for m in FIELDS
                ]
            },
        )

    def fields(self, request: Request) -> Response:
        module = request.arg("module")
        if module not in FIELDS:
            raise self._error(400, "INVALID_MODULE", "the module name given seems to be invalid")
        return Response.json_body(
            200,
            {
                "fields": [
                    {
                        "api_name": f,
                        "field_label": f.replace("_", " "),
                        "system_mandatory": f in MANDATORY[module],
                        "data_type": _data_type(f),
                        "unique": {"casesensitive": False} if f"{module}.{f}" in self.settings["unique_fields"] else {},
                    }
                    for f in FIELDS[module]
                ]
            },
        )

    def layouts(self, request: Request) -> Response:
        if not request.arg("module"):
            raise self._error(400, "REQUIRED_PARAM_MISSING", "module is required")
        if request.arg("module") != "Deals":
            return Response.json_body(200, {"layouts": [{"id": "5725767000000091000", "name": "Standard"}]})
        return Response.json_body(200, {"layouts": [DEALS_LAYOUT]})

    def pipelines(self, request: Request) -> Response:
        layout = request.arg("layout_id")
        if not layout:
            raise self._error(400, "REQUIRED_PARAM_MISSING", "layout_id is required")
        if layout != DEALS_LAYOUT["id"]:  # a real layout id, nothing else (not "default")
            raise self._error(400, "INVALID_DATA", "invalid data", {"param_name": "layout_id"})
        return Response.json_body(
            200,
            {
                "pipeline": [
                    {
                        "display_value": display,
                        "actual_value": actual,
                        "id": str(i + 1),
                        "default": i == 0,
                        "child_available": False,
                        "maps": [_stage(j, s) for j, s in enumerate(stages)],
                    }
                    for i, (actual, (display, stages)) in enumerate(PIPELINES.items())
                ]
            },
        )


def _stage(position: int, name: str) -> dict[str, Any]:
    """One stage of a pipeline with the fields zoho/crm-oas v8.0 `pipeline.json` requires
    of `maps` (display and actual value, id, sequence, forecast category and type)."""
    category, kind = FORECASTS.get(
        name, ("Omitted", "Closed Lost") if name.startswith("Closed Lost") else ("Pipeline", "Open")
    )
    return {
        "display_value": name,
        "actual_value": name,
        "id": str(100 + position),
        "sequence_number": position + 1,
        "forecast_category": {"name": category, "id": str(10 + ("Pipeline", "Closed", "Omitted").index(category))},
        "forecast_type": kind,
    }


def _data_type(field: str) -> str:
    if field in PHONE_FIELDS:
        return "phone"
    if field in ("Owner", "Account_Name", "Contact_Name", "Who_Id", "What_Id"):
        return "ownerlookup" if field == "Owner" else "lookup"
    return "email" if field == "Email" else "text"
