"""GoCardless events, simulated: one per change, kept 18 months, listed with filters and `include`."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

from crmpay.sandbox._http import Request, Response
from crmpay.sandbox.clock import iso
from crmpay.sandbox.gocardless.constants import (
    CAUSES,
    EVENT_DETAILS,
    EVENT_FILTERS,
    EVENT_LINKS,
    EVENT_RETENTION_MONTHS,
    EVENT_SUBJECT,
    INCLUDABLE,
    SOURCE_TYPES,
)
from crmpay.sandbox.gocardless.listing import _Listing
from crmpay.sandbox.gocardless.schedule import _Schedule


class _Events(_Listing, _Schedule):
    def _event(
        self,
        resource_type: str,
        action: str,
        links: dict[str, Any],
        cause: str | None = None,
        description: str = "",
        origin: str = "gocardless",
        **details: Any,
    ) -> None:
        """Record one event. Stored compactly (links and details without their nulls) and
        rendered in full when answered: 100,000 payments make several times as many events."""
        event = {
            "id": "",
            "created_at": "",
            "resource_type": resource_type,
            "action": action,
            "links": {k: v for k, v in links.items() if v},
            "details": {
                k: v
                for k, v in {
                    "origin": origin,
                    "cause": cause or CAUSES.get((resource_type, action), action),
                    "description": description,
                    **details,
                }.items()
                if v is not None
            },
        }
        if self.deferred is not None:
            self.deferred.append(event)
        else:
            self._emit(event)

    def _emit(self, event: dict[str, Any]) -> None:
        event["id"] = self._new_id("events")
        event["created_at"] = self._now()
        self._store("events", event)
        if self.sandbox.webhooks.wants("gocardless"):  # sent later, by the delivery thread
            self.sandbox.webhooks.gocardless_event(self._render_event(event))

    def _render_event(self, event: dict[str, Any]) -> dict[str, Any]:
        subject = event["links"].get(EVENT_SUBJECT.get(event["resource_type"], ""))
        resource = self.objects.get(event["resource_type"], {}).get(subject or "")
        origin = event["details"].get("origin")
        return {
            **event,
            "links": {**dict.fromkeys(EVENT_LINKS), **event["links"]},
            "details": {**dict.fromkeys(EVENT_DETAILS), **event["details"]},
            "metadata": {},
            "resource_metadata": dict((resource or {}).get("metadata") or {}),
            "customer_notifications": [],
            "source": {"type": SOURCE_TYPES.get(origin, "gc_team"), "name": "crmpay sandbox"},
        }

    def _events_kept_since(self) -> str:
        """GoCardless stops returning events after 18 months: the oldest time still served."""
        today = self._today()
        months = today.year * 12 + today.month - 1 - EVENT_RETENTION_MONTHS
        year, month = divmod(months, 12)
        day = min(today.day, calendar.monthrange(year, month + 1)[1])
        return iso(datetime(year, month + 1, day, tzinfo=UTC))

    def get_event(self, request: Request) -> Response:
        event = self._get("events", request.params["id"])
        if event["created_at"] < self._events_kept_since():
            raise self._not_found()
        return self._ok(200, {"events": self._render_event(event)})

    def list_events(self, request: Request) -> Response:
        index, tests = self._indexed("events", request, EVENT_FILTERS)
        kept_since = self._events_kept_since()
        tests.append(lambda e: e["created_at"] >= kept_since)
        kind, action = request.arg("resource_type"), request.arg("action")
        if kind:
            tests.append(lambda e: e["resource_type"] == kind)
        if action:
            tests.append(lambda e: e["action"] == action)
        includes = [i for i in (request.arg("include") or "").split(",") if i]
        for include in includes:
            if include not in INCLUDABLE:
                raise self._validation("include", f"{include} cannot be included")

        def linked(page: list[dict[str, Any]]) -> dict[str, Any]:
            out: dict[str, list[dict[str, Any]]] = {}
            for include in includes:
                kind_ = INCLUDABLE[include]
                seen = dict.fromkeys(e["links"][include] for e in page if e["links"].get(include))
                objects = [self.objects[kind_][i] for i in seen if i in self.objects[kind_]]
                out[kind_] = [self._mandate_out(o) for o in objects] if kind_ == "mandates" else objects
            return {"linked": out} if includes else {}

        return self._list("events", request, self._all(tests), index=index, render=self._render_event, extra=linked)
