"""Importing invoices from a CSV file: one row per invoice line, grouped by invoice_ref.

Same tolerance as the mandate files (encoding, delimiter, French or English headers)
and the same rule: every row is validated first, and any invalid row imports nothing.
Re-importing a file skips the invoices already imported (matched by invoice_ref).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmpay.core.errors import UsageError
from crmpay.core.invoice import InvoiceLine
from crmpay.core.money import exponent
from crmpay.core.validation import email_problems
from crmpay.csvfiles import CsvTable
from crmpay.services.invoices.ledger import create_invoice
from crmpay.services.mandates.csv_check import Problem, parse_date
from crmpay.store import Store

if TYPE_CHECKING:
    from crmpay.config import SellerSettings

ALIASES: dict[str, tuple[str, ...]] = {
    "invoice_ref": ("reference", "ref", "numero", "numero_facture", "reference_facture", "invoice"),
    "customer_email": ("email", "e_mail", "courriel", "email_client"),
    "customer_name": ("name", "nom", "client", "nom_client"),
    "currency": ("devise", "monnaie"),
    "issue_date": ("date", "date_emission", "date_d_emission", "date_facture"),
    "due_date": ("echeance", "date_echeance", "date_d_echeance"),
    "description": ("libelle", "designation"),
    "quantity": ("qty", "quantite", "qte"),
    "unit_price": ("price", "prix", "prix_unitaire", "pu_ht", "prix_unitaire_ht"),
    "vat_rate": ("vat", "tva", "taux_tva", "taux_de_tva"),
}
REQUIRED = tuple(ALIASES)
_HEADER_FIELDS = ("customer_email", "customer_name", "currency", "issue_date", "due_date")


@dataclass
class _Draft:
    first_line: int
    header: dict[str, str]
    lines: list[InvoiceLine] = field(default_factory=list)


@dataclass
class InvoiceImport:
    file: str
    rows: int = 0
    invoices: int = 0
    created: list[str] = field(default_factory=list)
    already_imported: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            "invoices": self.invoices,
            "created": self.created,
            "already_imported": self.already_imported,
            "problems": [{"line": p.line, "column": p.column, "message": p.message} for p in self.problems],
        }


def import_invoices(
    store: Store, path: Path, *, prefix: str, dry_run: bool = False, seller: SellerSettings | None = None
) -> InvoiceImport:
    table = CsvTable(path, ALIASES)
    table.require(*REQUIRED)
    result = InvoiceImport(str(path))
    drafts: dict[str, _Draft] = {}
    for row in table.rows():
        result.rows += 1
        v = row.values
        problems = _row_problems(row.line, v)
        ref = v["invoice_ref"]
        if ref and ref in drafts:
            draft = drafts[ref]
            for column in _HEADER_FIELDS:
                if v[column] != draft.header[column]:
                    problems.append(
                        Problem(row.line, column, f"differs from line {draft.first_line} of invoice {ref!r}")
                    )
        if problems:
            result.problems.extend(problems)
            continue
        draft = drafts.setdefault(ref, _Draft(row.line, {c: v[c] for c in _HEADER_FIELDS}))
        draft.lines.append(InvoiceLine.build(v["description"], v["quantity"], v["unit_price"], v["vat_rate"]))
    result.invoices = len(drafts)
    if result.problems:
        return result  # all or nothing: the caller reports and exits 2
    known = {r[0] for r in store.db.execute("SELECT source_ref FROM invoices WHERE source = 'csv'")}
    # numbers follow dates: the invoices are numbered in the order of their issue dates
    # (file order among the same date); all invoices of the file, or none; a dry run
    # numbers them as the import would, then rolls everything back
    ordered = sorted(drafts.items(), key=lambda item: parse_date(item[1].header["issue_date"]))
    with store.transaction(rollback=dry_run):
        for ref, draft in ordered:
            if ref in known:
                result.already_imported.append(ref)
                continue
            h = draft.header
            invoice = create_invoice(
                store,
                prefix=prefix,
                customer_email=h["customer_email"],
                customer_name=h["customer_name"] or None,
                language="fr",
                currency=h["currency"],
                lines=draft.lines,
                issue_date=parse_date(h["issue_date"]),
                due_date=parse_date(h["due_date"]),
                seller=seller,
            )
            store.db.execute(
                "UPDATE invoices SET source = 'csv', source_ref = ? WHERE number = ?", (ref, invoice.number)
            )
            result.created.append(invoice.number)
    return result


def _row_problems(line: int, v: dict[str, str]) -> list[Problem]:
    problems = [Problem(line, c, "is empty") for c in REQUIRED if c != "customer_name" and not v.get(c)]
    if v.get("customer_email"):
        problems += [Problem(line, "customer_email", m) for m in email_problems(v["customer_email"])]
    if v.get("currency"):
        try:
            exponent(v["currency"])
        except UsageError as exc:
            problems.append(Problem(line, "currency", str(exc)))
    dates = {}
    for column in ("issue_date", "due_date"):
        if v.get(column):
            try:
                dates[column] = parse_date(v[column])
            except ValueError:
                problems.append(Problem(line, column, f"{v[column]!r} is not a date"))
    if len(dates) == 2 and dates["due_date"] < dates["issue_date"]:
        problems.append(Problem(line, "due_date", "is before the issue date"))
    if all(v.get(c) for c in ("description", "quantity", "unit_price", "vat_rate")):
        try:
            InvoiceLine.build(v["description"], v["quantity"], v["unit_price"], v["vat_rate"])
        except UsageError as exc:
            problems.append(Problem(line, "line", str(exc)))
    return problems
