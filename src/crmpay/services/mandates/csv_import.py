"""Importing mandates from an accountant's CSV file.

All-or-nothing by default: every row is validated first and any invalid row stops the
import before anything is written. `skip_invalid` imports the valid rows instead.
Re-importing a file skips the mandates already in the store (same reference and IBAN).

Routes: `none` keeps the mandates in the store only; `mollie` creates a customer (reused
by email) and a directdebit mandate per row; `gocardless` sends one mandate import (its
entries keyed by the mandate reference, the CSV's dates in each mandate's metadata),
whose results `collect_import` reads later. Every route keeps `last_collection_date`.
Creates are journaled with keys derived from the references: a killed import resumes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from crmpay.core.clock import now_iso
from crmpay.core.errors import PartialFailure, UsageError
from crmpay.core.sepa import mandate_expires_on
from crmpay.core.validation import compact_iban
from crmpay.csvfiles import write_rejects
from crmpay.providers.base import MandateImporter, PaymentProvider, connected, mandate_importer
from crmpay.services.mandates import csv_check as mandate_csv
from crmpay.services.mandates.csv_check import MandateRow, Problem
from crmpay.store import Store, filters

STORE_ONLY = "none"
LAST = "last_collection_date"  # also a GoCardless mandate's metadata key


@dataclass
class ImportResult:
    file: str
    provider: str
    dry_run: bool
    provider_import: str | None = None  # GoCardless mandate import id
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    imported: int = 0
    already_imported: int = 0
    problems: list[Problem] = field(default_factory=list)
    rejects_file: str | None = None
    failed: list[str] = field(default_factory=list)  # "REF: provider's message"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "provider": self.provider,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "valid": self.valid,
            "invalid": self.invalid,
            "imported": self.imported,
            "already_imported": self.already_imported,
            "rejects_file": self.rejects_file,
            "provider_import": self.provider_import,
            "failed": self.failed,
            "problems": [{"line": p.line, "column": p.column, "message": p.message} for p in self.problems],
        }


def _stored_ibans(store: Store, references: list[str]) -> dict[str, tuple[str, str]]:
    """casefolded reference -> (provider, IBAN or its last digits) for those the store holds.

    The store-only route keeps the IBAN, Mollie its `details.consumerAccount`; GoCardless
    shows only the account number's ending.
    """
    if not references:
        return {}
    marks = ",".join("?" * len(references))
    rows = store.db.execute(
        "SELECT m.reference, m.provider, m.raw, b.account_number_ending FROM mandates m"
        " LEFT JOIN bank_accounts b ON b.provider = m.provider AND b.provider_id = m.bank_account_id"
        f" WHERE m.reference COLLATE NOCASE IN ({marks})",
        references,
    )
    found = {}
    for r in rows:
        raw = json.loads(r["raw"])
        account = (
            raw.get("iban") or (raw.get("details") or {}).get("consumerAccount") or r["account_number_ending"] or ""
        )
        found[r["reference"].casefold()] = (r["provider"], compact_iban(account))
    return found


def _same_account(stored: str, iban: str) -> bool:
    return stored == iban or (0 < len(stored) < len(iban) and iban.endswith(stored))


def _stored_iban(store: Store, reference: str) -> tuple[str, str] | None:
    return _stored_ibans(store, [reference]).get(reference.casefold())


def import_csv(
    store: Store,
    path: Path,
    *,
    provider: str,
    today: date,
    dry_run: bool = False,
    skip_invalid: bool = False,
    errors_csv: Path | None = None,
    client: PaymentProvider | None = None,
    profile: str = "default",
    creditor: tuple[str | None, str | None] = (None, None),
) -> ImportResult:
    if provider not in (STORE_ONLY, "mollie", "gocardless"):
        raise UsageError(f"unknown provider {provider!r}", hint="choose gocardless, mollie or none")
    if provider == "gocardless" and not creditor[0]:
        raise UsageError(
            "a SEPA mandate import names the original creditor identifier",
            hint="crmpay config set creditor_id FR72ZZZ123456",
        )
    if provider == "gocardless" and not (creditor[1] or "").strip():
        raise UsageError(
            "a SEPA mandate import names the original creditor (the name your customers signed with)",
            hint='crmpay config set seller.name "Acme SAS"',
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
            if _same_account(hit[1], row.iban):
                already.add(row.line)
            else:
                found[row.line] = f"{row.reference!r} is already in the store for another bank account ({hit[0]})"
        return found

    report = mandate_csv.validate(table, today=today, store_conflicts=conflicts)
    result = ImportResult(
        str(path),
        provider,
        dry_run,
        rows=report.rows,
        valid=report.valid,
        invalid=len(report.invalid_lines),
        problems=report.problems,
    )
    if errors_csv is not None and report.invalid_lines:
        write_rejects(errors_csv, ["line", *table.columns], mandate_csv.rejected_rows(table, report))
        result.rejects_file = str(errors_csv)
    if report.invalid_lines and not skip_invalid:
        return result  # all or nothing: the caller exits 2
    if not dry_run and provider == "mollie":
        _import_mollie(store, connected(client, provider), profile, table, report, today, result)
    elif not dry_run and provider == "gocardless":
        _import_gocardless(store, mandate_importer(client), profile, table, report, today, result, creditor)
    elif not dry_run:
        with store.transaction():
            for row in mandate_csv.valid_rows(table, report, today=today):
                if _stored_iban(store, row.reference) is not None:
                    result.already_imported += 1
                    continue
                _insert(store, row)
                result.imported += 1
            store.audit(STORE_ONLY, "import", "mandates", None, detail={"file": str(path), "imported": result.imported})
    else:
        result.already_imported = len(already - report.invalid_lines)
        result.imported = report.valid - result.already_imported
    return result


def _import_mollie(
    store: Store, client: PaymentProvider, profile: str, table: Any, report: Any, today: date, result: ImportResult
) -> None:
    from crmpay.core.errors import CrmpayError
    from crmpay.core.models import NewCustomer, NewMandate
    from crmpay.services import intents
    from crmpay.store.records import upsert_bank_account, upsert_customer, upsert_mandate

    for row in mandate_csv.valid_rows(table, report, today=today):
        if _stored_iban(store, row.reference) is not None:
            result.already_imported += 1
            continue
        ref = row.reference.casefold()
        try:
            known = store.db.execute(
                "SELECT provider_id FROM customers WHERE provider = 'mollie' AND email = ? COLLATE NOCASE", (row.email,)
            ).fetchone()
            if known:
                customer_id = known[0]
            else:
                new = NewCustomer(row.email, row.name, company_name=row.company)
                key = intents.intent_key("mandate-csv", profile, ref, "customer")
                customer = intents.journaled(
                    store,
                    key,
                    "customer",
                    "mollie",
                    row.reference,
                    1,
                    {"email": row.email},
                    lambda k: client.create_customer(new, idempotency_key=k),  # noqa: B023 (called at once)
                )
                with store.transaction():
                    intents.finish(store, key, "succeeded", customer.id)
                    upsert_customer(store, customer)
                customer_id = customer.id
            new_mandate = NewMandate(
                customer_id, row.name, row.iban, reference=row.reference, bic=row.bic, signature_date=row.signature_date
            )
            key = intents.intent_key("mandate-csv", profile, ref, "mandate")
            mandate = intents.journaled(
                store,
                key,
                "mandate",
                "mollie",
                row.reference,
                1,
                {"customer": customer_id, "reference": row.reference},
                lambda k: client.create_mandate(new_mandate, idempotency_key=k),  # noqa: B023 (called at once)
            )
        except CrmpayError as exc:
            result.failed.append(f"{row.reference}: {exc}")
            continue
        with store.transaction():
            intents.finish(store, key, "succeeded", mandate.id)
            upsert_mandate(store, mandate)
            _keep_last_collection(store, mandate.provider, mandate.id, row.last_collection_date)
            if (account := client.bank_account_of(mandate)) is not None:
                upsert_bank_account(store, account)
            store.audit(
                "mollie",
                "create",
                "mandate",
                mandate.id,
                idempotency_key=key,
                detail={"reference": row.reference, "line": row.line},
            )
        result.imported += 1


def _import_gocardless(
    store: Store,
    client: MandateImporter,
    profile: str,
    table: Any,
    report: Any,
    today: date,
    result: ImportResult,
    creditor: tuple[str | None, str | None],
) -> None:
    """One mandate import for the file's new rows: created, filled, submitted (resumable)."""
    import hashlib

    from crmpay.services import intents

    rows = [r for r in mandate_csv.valid_rows(table, report, today=today) if _stored_iban(store, r.reference) is None]
    result.already_imported = report.valid - len(rows)
    if not rows:
        return
    digest = hashlib.sha256("\x1f".join(sorted(r.reference.casefold() for r in rows)).encode()).hexdigest()
    key = intents.intent_key("mandate-csv", profile, digest, "mandate_import")
    done = intents.get(store, key)
    if done is not None and done["status"] == "succeeded":
        import_id = done["result_id"]
    else:
        created = intents.journaled(
            store,
            key,
            "mandate_import",
            "gocardless",
            f"import:{digest[:12]}",
            1,
            {"rows": len(rows)},
            lambda k: client.create_mandate_import("sepa_core", idempotency_key=k),
        )
        import_id = created["id"]
        with store.transaction():
            intents.finish(store, key, "succeeded", import_id)
            store.audit(
                "gocardless", "create", "mandate_import", import_id, idempotency_key=key, detail={"rows": len(rows)}
            )
    result.provider_import = import_id
    if client.get_mandate_import(import_id)["status"] == "created":
        present = {e.get("record_identifier") for e in client.mandate_import_entries(import_id)}
        for row in rows:
            if row.reference in present:
                continue
            given, _, family = row.name.partition(" ")
            client.add_mandate_import_entry(
                import_id,
                {
                    "record_identifier": row.reference,
                    "customer": {
                        k: v
                        for k, v in {
                            "email": row.email,
                            "given_name": given if not row.company else None,
                            "family_name": (family or given) if not row.company else None,
                            "company_name": row.company,
                            "address_line1": row.address_line1,
                            "city": row.city,
                            "postal_code": row.postal_code,
                            "country_code": row.country_code,
                        }.items()
                        if v
                    },
                    "bank_account": {"account_holder_name": row.name, "iban": row.iban},
                    "amendment": {
                        "original_mandate_reference": row.reference,
                        "original_creditor_id": creditor[0],
                        "original_creditor_name": creditor[1],
                    },
                    "mandate": {"reference": row.reference, "metadata": _dates_metadata(row)},
                },
            )
        client.submit_mandate_import(import_id)
    result.imported = len(rows)


def collect_import(store: Store, client: MandateImporter, import_id: str) -> dict[str, Any]:
    """Read a GoCardless mandate import's results into the store."""
    from crmpay.store.records import upsert_bank_account, upsert_customer, upsert_mandate

    status = client.get_mandate_import(import_id)["status"]
    entries = client.mandate_import_entries(import_id)
    collected, errors = [], {}
    for entry in entries:
        links = entry.get("links") or {}
        if entry.get("processing_errors"):
            errors[entry.get("record_identifier")] = entry["processing_errors"]
        if not links.get("mandate"):
            continue
        mandate = client.get_mandate(links["mandate"])
        customer = client.get_customer(links["customer"])
        account = client.get_bank_account(links["customer_bank_account"])
        with store.transaction():
            upsert_customer(store, customer)
            upsert_bank_account(store, account)
            upsert_mandate(store, mandate)
            _keep_last_collection(store, mandate.provider, mandate.id, mandate.raw.get("metadata", {}).get(LAST))
        collected.append(
            {"record_identifier": entry.get("record_identifier"), "mandate": mandate.id, "status": mandate.status}
        )
    return {"import": import_id, "status": status, "entries": len(entries), "collected": collected, "errors": errors}


def _dates_metadata(row: MandateRow) -> dict[str, str]:
    """The CSV's dates as GoCardless mandate metadata (3 keys at most), read back by `collect_import`."""
    dates = {"signature_date": row.signature_date, LAST: row.last_collection_date}
    return {k: v.isoformat() for k, v in dates.items() if v}


def _keep_last_collection(store: Store, provider: str, mandate_id: str, day: date | str | None) -> None:
    """Set `mandates.last_collection_date`, which no provider returns (a sync leaves it)."""
    sql = "UPDATE mandates SET last_collection_date = ? WHERE provider = ? AND provider_id = ?"
    if day:
        store.db.execute(sql, (day if isinstance(day, str) else day.isoformat(), provider, mandate_id))


def _insert(store: Store, row: MandateRow) -> None:
    now = now_iso()
    customer_id = (row.customer_ref or row.email).lower()
    raw = {
        "reference": row.reference,
        "iban": row.iban,
        "bic": row.bic,
        "name": row.name,
        "email": row.email,
        "signature_date": row.signature_date.isoformat(),
        "source_line": row.line,
    }
    store.db.execute(
        "INSERT OR IGNORE INTO customers (provider, provider_id, email, name, company_name,"
        " created_at, raw, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            STORE_ONLY,
            customer_id,
            row.email,
            row.name,
            row.company,
            now,
            json.dumps(
                {
                    "email": row.email,
                    "name": row.name,
                    "company": row.company,
                    "address_line1": row.address_line1,
                    "city": row.city,
                    "postal_code": row.postal_code,
                    "country_code": row.country_code,
                }
            ),
            now,
        ),
    )
    store.db.execute(
        "INSERT INTO bank_accounts (provider, provider_id, customer_id, holder_name,"
        " account_number_ending, country_code, currency, created_at, raw, synced_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            STORE_ONLY,
            row.reference,
            customer_id,
            row.name,
            row.iban[-4:],
            row.iban[:2],
            row.currency,
            now,
            json.dumps({"iban": row.iban, "bic": row.bic}),
            now,
        ),
    )
    store.db.execute(
        "INSERT INTO mandates (provider, provider_id, customer_id, bank_account_id, status, state,"
        " scheme, reference, currency, signature_date, last_collection_date, created_at, raw,"
        " synced_at) VALUES (?, ?, ?, ?, 'active', 'active', 'sepa_core', ?, ?, ?, ?, ?, ?, ?)",
        (
            STORE_ONLY,
            row.reference,
            customer_id,
            row.reference,
            row.reference,
            row.currency,
            row.signature_date.isoformat(),
            row.last_collection_date.isoformat() if row.last_collection_date else None,
            now,
            json.dumps(raw),
            now,
        ),
    )


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
    where, args = filters(
        ("m.provider = ?", provider),
        ("(m.status = ? OR m.state = ?)", status),
        ("c.email = ? COLLATE NOCASE", customer_email),
        ("(m.provider_id = ? OR m.reference = ? COLLATE NOCASE)", ident),
        order="m.created_at DESC, m.provider_id",
        limit=limit,
    )
    sql += where
    out = []
    for row in store.db.execute(sql, args):
        item = {
            "provider": row["provider"],
            "id": row["provider_id"],
            "status": row["status"],
            "state": row["state"],
            "scheme": row["scheme"],
            "reference": row["reference"],
            "currency": row["currency"],
            "customer_id": row["customer_id"],
            "customer_email": row["email"],
            "customer_name": row["name"],
            "signature_date": row["signature_date"],
            "last_collection_date": row["last_collection_date"],
            "next_possible_charge_date": row["next_possible_charge_date"],
        }
        expires = mandate_expires_on(row["signature_date"], row["last_collection_date"])
        item["expires_on"] = expires.isoformat() if expires else None
        item["expired"] = bool(expires and expires <= today)
        out.append(item)
    return out


def raise_for(result: ImportResult, *, skip_invalid: bool) -> None:
    """Exit codes: any invalid row -> 2 (nothing imported) or 3 (with --skip-invalid);
    rows the provider refused -> 3."""
    if result.failed and not result.invalid:
        raise PartialFailure(
            f"{len(result.failed)} mandate(s) refused by {result.provider}: " + "; ".join(result.failed[:5])
        )
    if not result.invalid:
        return
    would = "would be " if result.dry_run else ""
    if skip_invalid:
        raise PartialFailure(f"{result.invalid} of {result.rows} rows are invalid; {result.imported} {would}imported")
    raise UsageError(f"{result.invalid} of {result.rows} rows are invalid; nothing {would}imported")
