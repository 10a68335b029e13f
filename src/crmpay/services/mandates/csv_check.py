"""Validating an accountant's mandate CSV before anything is imported.

Every row is checked (all problems, not the first) in one streamed pass that keeps only
the mandate references seen and the problems found; the import then reads the file a
second time and takes the valid rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from crmpay.core import validation
from crmpay.core.sepa import EXPIRY_MONTHS, SCHEME_START, mandate_expired, mandate_expires_on
from crmpay.csvfiles import CsvTable, Row

ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "nom",
        "titulaire",
        "account_holder",
        "account_holder_name",
        "holder_name",
        "nom_du_titulaire",
        "debiteur",
    ),
    "email": ("e_mail", "mail", "courriel", "adresse_email", "adresse_e_mail"),
    "iban": (),
    "bic": ("swift", "code_bic"),
    "mandate_reference": ("reference", "rum", "reference_du_mandat", "reference_mandat", "mandate_ref", "umr"),
    "signature_date": ("date_signature", "date_de_signature", "signed_on", "date_of_signature"),
    "customer_ref": ("customer_reference", "reference_client", "ref_client", "code_client"),
    "company": ("company_name", "societe", "entreprise", "raison_sociale"),
    "address_line1": ("address", "adresse", "adresse_1", "address_1"),
    "city": ("ville",),
    "postal_code": ("code_postal", "cp", "zip", "postcode"),
    "country_code": ("country", "pays"),
    "currency": ("devise", "monnaie"),
    "last_collection_date": (
        "date_dernier_prelevement",
        "derniere_collecte",
        "date_du_dernier_prelevement",
        "last_collection",
    ),
}
REQUIRED = ("name", "email", "iban", "mandate_reference", "signature_date")
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.message}"


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a setattr per field per row
class MandateRow:
    line: int
    name: str
    email: str
    iban: str  # compact, upper case
    bic: str | None
    reference: str
    signature_date: date
    currency: str
    customer_ref: str | None = None
    company: str | None = None
    address_line1: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    last_collection_date: date | None = None


@dataclass
class Report:
    path: Path
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    invalid_lines: set[int] = field(default_factory=set)

    @property
    def valid(self) -> int:
        return self.rows - len(self.invalid_lines)


def parse_date(text: str) -> date:
    """`YYYY-MM-DD` or `DD/MM/YYYY`; ValueError otherwise (including 31/02/2024)."""
    text = text.strip()
    match = _DMY.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return date(year, month, day)
    return datetime.strptime(text, "%Y-%m-%d").date()


def open_table(path: Path) -> CsvTable:
    table = CsvTable(path, ALIASES)
    table.require(*REQUIRED)
    return table


_CHECKS: tuple[tuple[str, Callable[..., list[str]]], ...] = (
    ("email", validation.email_problems),
    ("iban", validation.iban_problems),
    ("bic", lambda bic, values: validation.bic_problems(bic, values.get("iban") or None)),
    ("mandate_reference", validation.mandate_reference_problems),
)


def _check(row: Row, today: date) -> tuple[MandateRow | None, list[Problem]]:
    v = row.values
    found: list[tuple[str, str]] = []  # (column, message)

    for column in REQUIRED:
        if not v.get(column):
            found.append((column, "is empty"))
    for column, check in _CHECKS:
        value = v.get(column)
        if value:
            problems = check(value, v) if column == "bic" else check(value)
            found.extend((column, m) for m in problems)
    signed = _date(v.get("signature_date"), "signature_date", found)
    last = _date(v.get("last_collection_date"), "last_collection_date", found)
    found.extend(_date_problems(signed, last, today))
    currency = (v.get("currency") or "EUR").upper()
    if currency != "EUR":
        found.append(("currency", f"SEPA direct debit is in EUR, not {currency}"))
    if found or signed is None:
        return None, [Problem(row.line, column, message) for column, message in found]
    return MandateRow(
        line=row.line,
        name=v["name"],
        email=v["email"].strip(),
        iban=validation.compact_iban(v["iban"]),
        bic=v["bic"].upper() if v.get("bic") else None,
        reference=v["mandate_reference"],
        signature_date=signed,
        currency=currency,
        customer_ref=v.get("customer_ref") or None,
        company=v.get("company") or None,
        address_line1=v.get("address_line1") or None,
        city=v.get("city") or None,
        postal_code=v.get("postal_code") or None,
        country_code=(v.get("country_code") or "").upper() or None,
        last_collection_date=last,
    ), []


def _date_problems(signed: date | None, last: date | None, today: date) -> list[tuple[str, str]]:
    """A mandate signed before SEPA existed, a collection before the signature, or a mandate
    already lapsed by the 36-month rule today cannot be imported (the customer signs anew)."""
    found = []
    if signed and signed > today:
        found.append(("signature_date", f"signature date {signed.isoformat()} is in the future"))
    if signed and signed < SCHEME_START:
        found.append(
            (
                "signature_date",
                f"signature date {signed.isoformat()} is before the SEPA direct debit scheme started"
                f" ({SCHEME_START.isoformat()})",
            )
        )
    if last and last > today:
        found.append(("last_collection_date", f"{last.isoformat()} is in the future"))
    if last and signed and last < signed:
        found.append(
            (
                "last_collection_date",
                f"last collection {last.isoformat()} is before the signature date {signed.isoformat()}",
            )
        )
    if not found and signed and mandate_expired(signed, last, on=today):
        found.append(
            (
                "last_collection_date" if last else "signature_date",
                f"expired on {mandate_expires_on(signed, last)}: {EXPIRY_MONTHS} months without a collection;"
                " the customer must sign a new mandate",
            )
        )
    return found


def _date(text: str | None, column: str, found: list[tuple[str, str]]) -> date | None:
    if not text:
        return None
    try:
        return parse_date(text)
    except ValueError:
        found.append((column, f"{text!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)"))
        return None


StoreConflicts = Callable[[list[MandateRow]], dict[int, str]]
_BATCH = 500


def validate(
    table: CsvTable,
    *,
    today: date,
    store_conflicts: StoreConflicts = lambda rows: {},
) -> Report:
    """Check every row.

    `store_conflicts` gets valid rows in batches and returns, by line, a message for each
    row whose mandate reference the store holds for another mandate (the same mandate
    imported before is no conflict: the import skips it).
    """
    report = Report(table.path)
    seen: dict[str, int] = {}
    pending: list[MandateRow] = []

    def flush() -> None:
        for line, message in store_conflicts(pending).items():
            report.problems.append(Problem(line, "mandate_reference", message))
            report.invalid_lines.add(line)
        pending.clear()

    for row in table.rows():
        report.rows += 1
        parsed, problems = _check(row, today)
        reference = row.values.get("mandate_reference", "")
        if reference:
            key = reference.casefold()
            if key in seen:
                problems.append(
                    Problem(row.line, "mandate_reference", f"{reference!r} already used on line {seen[key]}")
                )
            else:
                seen[key] = row.line
        if problems:
            report.problems.extend(problems)
            report.invalid_lines.add(row.line)
        elif parsed is not None:
            pending.append(parsed)
            if len(pending) >= _BATCH:
                flush()
    flush()
    report.problems.sort(key=lambda p: p.line)
    return report


def valid_rows(table: CsvTable, report: Report, *, today: date) -> Iterator[MandateRow]:
    """The rows `validate` accepted, read again from the file."""
    for row in table.rows():
        if row.line in report.invalid_lines:
            continue
        parsed, _ = _check(row, today)
        if parsed is not None:
            yield parsed


def rejected_rows(table: CsvTable, report: Report) -> Iterator[tuple[list[str], str]]:
    reasons: dict[int, list[str]] = {}
    for problem in report.problems:
        reasons.setdefault(problem.line, []).append(f"{problem.column}: {problem.message}")
    columns = list(table.columns)
    for row in table.rows():
        if row.line in reasons:
            yield [str(row.line), *(row.values.get(c, "") for c in columns)], "; ".join(reasons[row.line])
