"""The CRM behind one Protocol; Zoho CRM is the implementation (crm/zoho.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class RecordResult:
    """The outcome of one record of a batch write, read from the CRM's answer."""

    index: int  # position in the records given
    ok: bool
    id: str | None
    action: str | None  # insert / update
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pipeline:
    """A deal pipeline as a layout holds it: the value records carry ("Standard (Standard)"),
    the name people see ("Standard") and its stages."""

    actual: str
    display: str
    stages: list[str]


class CRM(Protocol):
    def users(self) -> list[dict[str, Any]]: ...
    def modules(self) -> list[dict[str, Any]]: ...
    def fields(self, module: str) -> list[dict[str, Any]]: ...
    def layouts(self, module: str) -> list[dict[str, Any]]: ...
    def pipelines(self, layout_id: str) -> list[Pipeline]: ...
    def get(self, module: str, record_id: str) -> dict[str, Any] | None: ...
    def iter_records(self, module: str, fields: list[str]) -> Iterator[dict[str, Any]]: ...
    def find_by_email(self, module: str, email: str) -> list[dict[str, Any]]: ...
    def find_by_phone(self, module: str, e164: str) -> list[dict[str, Any]]: ...
    def search(self, module: str, field: str, value: str) -> list[dict[str, Any]]: ...
    def query(self, select_query: str) -> list[dict[str, Any]]: ...
    def insert(self, module: str, records: list[dict[str, Any]]) -> list[RecordResult]: ...
    def update(self, module: str, records: list[dict[str, Any]]) -> list[RecordResult]: ...
    def upsert(
        self, module: str, records: list[dict[str, Any]], duplicate_check_fields: list[str]
    ) -> list[RecordResult]: ...
