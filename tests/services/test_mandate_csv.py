"""Mandate CSV files as French accountants' spreadsheets write them."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmpay.core.errors import UsageError
from crmpay.csvfiles import detect_encoding, neutralise, write_rejects
from crmpay.services.mandates import csv_check as mandate_csv

TODAY = date(2026, 11, 22)
GOOD_IBAN = "FR14 2004 1010 0505 0001 3M02 606"
OTHER_IBAN = "DE89370400440532013000"


def write(tmp_path, text: str, encoding="utf-8", name="mandats.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run(path, **kwargs):
    table = mandate_csv.open_table(path)
    return table, mandate_csv.validate(table, today=TODAY, **kwargs)


FRENCH = (
    "Nom;E-mail;IBAN;BIC;RUM;Date de signature;Société\r\n"
    "Société Générale Services;compta@sgs.fr;fr14 2004 1010 0505 0001 3m02 606;PSSTFRPP;RUM-0001;"
    "15/03/2024;Société Générale\r\n"
    "\r\n"
    "Jean Dupont;jean.dupont@example.fr;DE89 3704 0044 0532 0130 00;COBADEFFXXX;RUM-0002;"
    "2024-01-31;\r\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_french_spreadsheet_in_every_encoding(tmp_path, encoding):
    path = write(tmp_path, FRENCH, encoding)
    table, report = run(path)
    assert table.delimiter == ";"
    assert report.problems == [] and report.rows == 2 and report.valid == 2
    rows = list(mandate_csv.valid_rows(table, report, today=TODAY))
    assert [r.line for r in rows] == [2, 4]  # the blank line 3 is skipped, numbering kept
    assert rows[0].name == "Société Générale Services"  # never mangled
    assert rows[0].company == "Société Générale"
    assert rows[0].iban == "FR1420041010050500013M02606"
    assert rows[0].signature_date == date(2024, 3, 15)
    assert rows[1].bic == "COBADEFFXXX"


def test_english_headers_commas_and_tabs(tmp_path):
    for delimiter in (",", "\t"):
        text = delimiter.join(["name", "email", "iban", "mandate_reference", "signature_date"]) + "\n"
        text += delimiter.join(["Ann Lee", "ann@example.com", GOOD_IBAN, "REF-1", "2024-01-01"]) + "\n"
        table, report = run(write(tmp_path, text))
        assert table.delimiter == delimiter and report.valid == 1


def test_missing_column_is_one_error_naming_it(tmp_path):
    path = write(tmp_path, "nom,email,iban,date_signature\nA,a@b.fr,x,2024-01-01\n")
    with pytest.raises(UsageError, match="missing column 'mandate_reference'"):
        mandate_csv.open_table(path)


def test_every_problem_of_every_row_is_reported(tmp_path):
    text = (
        "name,email,iban,bic,reference,signature_date,currency\n"
        f"A,not-an-email,FR1420041010050500013M02605,DEUTDEFF,/BAD//REF é,31/02/2024,EUR\n"
        f"B,b@example.fr,{GOOD_IBAN},,OK-1,2099-01-01,GBP\n"
        f"C,c@example.fr,{OTHER_IBAN},,ok-1,2024-01-01,\n"
        f",d@example.fr,{OTHER_IBAN},,OK-4,,\n"
    )
    _, report = run(write(tmp_path, text))
    messages = [str(p) for p in report.problems]
    expected = [
        "line 2: email: invalid email address 'not-an-email'",
        "line 2: iban: invalid IBAN FR1420041010050500013M02605: invalid checksum digits",
        "line 2: bic: BIC country DE does not match the IBAN's country FR",
        "line 2: signature_date: '31/02/2024' is not a date (YYYY-MM-DD or DD/MM/YYYY)",
        "line 3: signature_date: signature date 2099-01-01 is in the future",
        "line 3: currency: SEPA direct debit is in EUR, not GBP",
        "line 4: mandate_reference: 'ok-1' already used on line 3",
        "line 5: name: is empty",
        "line 5: signature_date: is empty",
    ]
    for line in expected:
        assert line in messages, line
    ref_problems = [m for m in messages if m.startswith("line 2: mandate_reference")]
    assert len(ref_problems) == 3  # characters, leading slash, double slash
    assert report.valid == 0 and report.rows == 4


def test_store_conflicts_are_reported_but_the_same_mandate_is_not(tmp_path):
    path = write(tmp_path, FRENCH)
    conflicts = {"RUM-0002": "'RUM-0002' is already in the store for another IBAN"}
    _, report = run(
        path, store_conflicts=lambda rows: {r.line: conflicts[r.reference] for r in rows if r.reference in conflicts}
    )
    assert [str(p) for p in report.problems] == [
        "line 4: mandate_reference: 'RUM-0002' is already in the store for another IBAN"
    ]


def test_rejects_file_has_reasons_and_neutralised_formulas(tmp_path):
    text = (
        "name,email,iban,reference,signature_date\n"
        f'=HYPERLINK("http://evil"),x@y,{GOOD_IBAN},+SUM(1),2024-01-01\n'
        f"@cmd,bad,{GOOD_IBAN},R-2,2024-01-01\n"
    )
    table, report = run(write(tmp_path, text))
    out = tmp_path / "rejects.csv"
    assert write_rejects(out, ["line", *table.columns], mandate_csv.rejected_rows(table, report)) == 2
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0][-1] == "reason"
    assert rows[1][1] == '\'=HYPERLINK("http://evil")'
    assert rows[1][4] == "'+SUM(1)"
    assert rows[2][1] == "'@cmd" and "email" in rows[2][-1]
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_neutralise():
    assert neutralise("-2+3") == "'-2+3" and neutralise("plain") == "plain"


def test_not_text_is_a_usage_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\x81\x8d\x8f\x90\x9d" * 10)
    with pytest.raises(UsageError, match="not text"):
        detect_encoding(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_a_usage_error(tmp_path, data):
    path = tmp_path / "random.csv"
    path.write_bytes(data)
    try:
        table, report = run(path)
        list(mandate_csv.valid_rows(table, report, today=TODAY))
    except UsageError:
        pass


cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cell, min_size=5, max_size=5), max_size=8))
def test_random_rows_are_either_valid_or_reported(tmp_path, rows):
    path = tmp_path / "rows.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(["name", "email", "iban", "rum", "signature_date"])
        writer.writerows(rows)
    table, report = run(path)
    valid = list(mandate_csv.valid_rows(table, report, today=TODAY))
    assert len(valid) == report.valid
    assert {r.line for r in valid}.isdisjoint(report.invalid_lines)
    assert report.valid + len(report.invalid_lines) == report.rows
