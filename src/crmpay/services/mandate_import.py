"""Importing mandates from an accountant's CSV file.

All-or-nothing by default: every row is validated first and any invalid row stops the
import before anything is written. `skip_invalid` imports the valid rows instead.
Re-importing a file skips the mandates already in the store (same reference and IBAN).

Only the store-only route (`provider="none"`) is built here; creating the mandates at
GoCardless (mandate imports) or Mollie comes with the provider layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from crmpay.core.errors import PartialFailure, UsageError
from crmpay.csvfiles import write_rejects
from crmpay.services import mandate_csv
from crmpay.services.mandate_csv import MandateRow, Problem
from crmpay.store import Store, filters
from crmpay.store.migrations import now_iso

STORE_ONLY = "none"
EXPIRY_MONTHS = 36


@dataclass
class ImportResult:
    file: str
    provider: str
    dry_run: bool
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    imported: int = 0
    already_imported: int = 0
    problems: list[Problem] = field(default_factory=list)
    rejects_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "provider": self.provider, "dry_run": self.dry_run,
            "rows": self.rows, "valid": self.valid, "invalid": self.invalid,
            "imported": self.imported, "already_imported": self.already_imported,
            "rejects_file": self.rejects_file,
            "problems": [{"line": p.line, "column": p.column, "message": p.message}
                         for p in self.problems],
        }


def _stored_ibans(store: Store, references: list[str]) -> dict[str, tuple[str, str]]:
    """casefolded reference -> (provider, IBAN) for those the store holds."""
    if not references:
        return {}
    marks = ",".join("?" * len(references))
    rows = store.db.execute(
        f"SELECT reference, provider, raw FROM mandates WHERE reference COLLATE NOCASE IN ({marks})",
        references,
    )
    return {r["reference"].casefold(): (r["provider"], json.loads(r["raw"]).get("iban", ""))
            for r in rows}


def _stored_iban(store: Store, reference: str) -> tuple[str, str] | None:
    row = store.db.execute(
        "SELECT provider, raw FROM mandates WHERE reference = ? COLLATE NOCASE", (reference,)
    ).fetchone()
    if row is None:
        return None
    return row["provider"], json.loads(row["raw"]).get("iban", "")


def import_csv(
    store: Store,
    path: Path,
    *,
    provider: str,
    today: date,
    dry_run: bool = False,
    skip_invalid: bool = False,
    errors_csv: Path | None = None,
) -> ImportResult:
    if provider != STORE_ONLY:
        raise UsageError(
            f"importing a CSV file into {provider} is not built yet",
            hint="use --provider none to keep the mandates in the store",
        )
    table = mandate_csv.open_table(path)
    already: set[int] = set()  # lines whose mandate the store holds already

    def conflicts(rows: list[MandateRow]) -> dict[int, str]:
        stored = _stored_ibans(store, [row.reference for row in rows])
        found = {}
        for row in rows:
            hit = stored.get(row.reference.casefold())
            if hit is None:
                continue
            if hit[1] == row.iban:
                already.add(row.line)
            else:
                found[row.line] = (f"{row.reference!r} is already in the store for another"
                                   f" bank account ({hit[0]})")
        return found

    report = mandate_csv.validate(table, today=today, store_conflicts=conflicts)
    result = ImportResult(str(path), provider, dry_run, rows=report.rows, valid=report.valid,
                          invalid=len(report.invalid_lines), problems=report.problems)
    if errors_csv is not None and report.invalid_lines:
        write_rejects(errors_csv, ["line", *table.columns], mandate_csv.rejected_rows(table, report))
        result.rejects_file = str(errors_csv)
    if report.invalid_lines and not skip_invalid:
        return result  # all or nothing: the caller exits 2
    if not dry_run:
        with store.transaction():
            for row in mandate_csv.valid_rows(table, report, today=today):
                if _stored_iban(store, row.reference) is not None:
                    result.already_imported += 1
                    continue
                _insert(store, row)
                result.imported += 1
            store.audit(STORE_ONLY, "import", "mandates", None,
                        detail={"file": str(path), "imported": result.imported})
    else:
        result.already_imported = len(already - report.invalid_lines)
        result.imported = report.valid - result.already_imported
    return result


def _insert(store: Store, row: MandateRow) -> None:
    now = now_iso()
    customer_id = (row.customer_ref or row.email).lower()
    raw = {
        "reference": row.reference, "iban": row.iban, "bic": row.bic, "name": row.name,
        "email": row.email, "signature_date": row.signature_date.isoformat(),
        "source_line": row.line,
    }
    store.db.execute(
        "INSERT OR IGNORE INTO customers (provider, provider_id, email, name, company_name,"
        " created_at, raw, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (STORE_ONLY, customer_id, row.email, row.name, row.company, now,
         json.dumps({"email": row.email, "name": row.name, "company": row.company,
                     "address_line1": row.address_line1, "city": row.city,
                     "postal_code": row.postal_code, "country_code": row.country_code}), now),
    )
    store.db.execute(
        "INSERT INTO bank_accounts (provider, provider_id, customer_id, holder_name,"
        " account_number_ending, country_code, currency, created_at, raw, synced_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (STORE_ONLY, row.reference, customer_id, row.name, row.iban[-4:], row.iban[:2],
         row.currency, now, json.dumps({"iban": row.iban, "bic": row.bic}), now),
    )
    store.db.execute(
        "INSERT INTO mandates (provider, provider_id, customer_id, bank_account_id, status, state,"
        " scheme, reference, currency, signature_date, last_collection_date, created_at, raw,"
        " synced_at) VALUES (?, ?, ?, ?, 'active', 'active', 'sepa_core', ?, ?, ?, ?, ?, ?, ?)",
        (STORE_ONLY, row.reference, customer_id, row.reference, row.reference, row.currency,
         row.signature_date.isoformat(),
         row.last_collection_date.isoformat() if row.last_collection_date else None,
         now, json.dumps(raw), now),
    )


def expiry_date(signature_date: str | None, last_collection_date: str | None) -> date | None:
    """36 months after the last collection, else after the signature (SEPA rulebook)."""
    start = last_collection_date or signature_date
    if not start:
        return None
    import calendar

    d = date.fromisoformat(start[:10])
    year, month0 = divmod(d.month - 1 + EXPIRY_MONTHS, 12)
    year += d.year
    return date(year, month0 + 1, min(d.day, calendar.monthrange(year, month0 + 1)[1]))


def list_mandates(
    store: Store,
    *,
    today: date,
    provider: str | None = None,
    status: str | None = None,
    customer_email: str | None = None,
    ident: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Mandates in the store, newest first; `ident` is a provider id or a reference."""
    sql = (
        "SELECT m.provider, m.provider_id, m.status, m.state, m.scheme, m.reference, m.currency,"
        " m.signature_date, m.last_collection_date, m.next_possible_charge_date, m.customer_id,"
        " c.email, c.name FROM mandates m LEFT JOIN customers c"
        " ON c.provider = m.provider AND c.provider_id = m.customer_id WHERE 1=1"
    )
    where, args = filters(("m.provider = ?", provider), ("(m.status = ? OR m.state = ?)", status),
                          ("c.email = ? COLLATE NOCASE", customer_email),
                          ("(m.provider_id = ? OR m.reference = ? COLLATE NOCASE)", ident),
                          order="m.created_at DESC, m.provider_id", limit=limit)
    sql += where
    out = []
    for row in store.db.execute(sql, args):
        item = {"provider": row["provider"], "id": row["provider_id"], "status": row["status"],
                "state": row["state"], "scheme": row["scheme"], "reference": row["reference"],
                "currency": row["currency"], "customer_id": row["customer_id"],
                "customer_email": row["email"], "customer_name": row["name"],
                "signature_date": row["signature_date"],
                "last_collection_date": row["last_collection_date"],
                "next_possible_charge_date": row["next_possible_charge_date"]}
        expires = expiry_date(row["signature_date"], row["last_collection_date"])
        item["expires_on"] = expires.isoformat() if expires else None
        item["expired"] = bool(expires and expires <= today)
        out.append(item)
    return out


def raise_for(result: ImportResult, *, skip_invalid: bool) -> None:
    """Exit codes: any invalid row -> 2 (nothing imported) or 3 (with --skip-invalid)."""
    if not result.invalid:
        return
    would = "would be " if result.dry_run else ""
    if skip_invalid:
        raise PartialFailure(
            f"{result.invalid} of {result.rows} rows are invalid; {result.imported} {would}imported"
        )
    raise UsageError(f"{result.invalid} of {result.rows} rows are invalid; nothing {would}imported")
