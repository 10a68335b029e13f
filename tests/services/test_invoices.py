"""Invoices: EN 16931 totals, gapless numbers, the PDF read back as text, manual payments."""

from __future__ import annotations

import concurrent.futures
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from tests.conftest import START

from _homes import issue_invoice
from crmpay.config import SellerSettings
from crmpay.core.errors import OperationFailed, UsageError
from crmpay.core.invoice import Invoice, InvoiceLine, totals
from crmpay.documents.pdf import render_invoice
from crmpay.services.invoices import ledger as invoices
from crmpay.services.invoices.manual_payments import record_payment
from crmpay.store import Store

TODAY = START  # the suite's pinned today: issue dates are never in the future
DUE = TODAY + timedelta(days=30)


def test_vat_is_computed_once_per_rate_on_the_rounded_line_amounts():
    lines = [
        InvoiceLine.parse("A;3;0.333;20"),
        InvoiceLine.parse("B;1;10.005;20"),
        InvoiceLine.parse("C;1;100;5.5"),
        InvoiceLine.parse("D;7;0.07;20"),
    ]
    t = totals(lines, "EUR")
    # 20 %: 1.00 + 10.01 + 0.49 = 11.50 -> VAT 2.30; per-line rounding would give 0.20+2.00+0.10=2.30
    assert [(str(v.rate), str(v.base.amount), str(v.vat.amount)) for v in t.vat_lines] == [
        ("5.5", "100.00", "5.50"),
        ("20", "11.50", "2.30"),
    ]
    assert (str(t.excl_vat.amount), str(t.vat.amount), str(t.incl_vat.amount)) == ("111.50", "7.80", "119.30")
    # where the two methods differ: three lines of 0.63 at 20 % (0.126 VAT each)
    same_rate = [InvoiceLine.parse(f"L{i};1;0.63;20") for i in range(3)]
    assert totals(same_rate, "EUR").vat.amount == Decimal("0.38")  # 1.89 * 20 % = 0.378
    assert sum(Decimal("0.126").quantize(Decimal("0.01")) for _ in range(3)) == Decimal("0.39")


def test_zero_decimal_currency():
    assert totals([InvoiceLine.parse("Y;3;333;10")], "JPY").incl_vat.amount == Decimal("1099")


@pytest.mark.parametrize("text", ["no separators", "A;x;1;20", "A;1;1;120", "A;0;1;20", ";1;1;20"])
def test_bad_lines_are_usage_errors(text):
    with pytest.raises(UsageError):
        InvoiceLine.parse(text)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "db.sqlite3") as s:
        yield s


def test_numbers_are_sequential_without_gaps(store):
    y = TODAY.year
    assert issue_invoice(store, issue_date=date(y, 1, 1)).number == f"INV-{y}-0001"
    assert issue_invoice(store, dry_run=True).number == f"INV-{y}-0002"  # a dry run takes no number
    with pytest.raises(UsageError):
        issue_invoice(store, due_date=date(2020, 1, 1))  # refused before a number is taken
    assert issue_invoice(store).number == f"INV-{y}-0002"
    assert issue_invoice(store, issue_date=date(y - 1, 6, 1), due_date=DUE).number == f"INV-{y - 1}-0001"


def test_numbers_stay_gapless_across_concurrent_processes(tmp_path):
    path = tmp_path / "db.sqlite3"
    Store.open(path).close()

    with concurrent.futures.ProcessPoolExecutor(4) as pool:
        numbers = sorted(pool.map(_create_in_process, [path] * 24))
    assert numbers == [f"INV-{TODAY.year}-{i:04d}" for i in range(1, 25)]


def _create_in_process(path):
    with Store.open(path) as store:
        return issue_invoice(store).number  # TODAY: in the same series every date is the same


SELLER = SellerSettings(
    name="Acme Facturation",
    legal_form="SAS au capital de 10 000 €",
    address="12 rue de la Paix\n75002 Paris",
    siren="732829320",
    siret="73282932000074",
    vat_number="FR44732829320",
)


def _pdf_text(path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_pdf_has_every_mandatory_mention_in_french(tmp_path):
    invoice = Invoice(
        "INV-2026-0007",
        "EUR",
        "compta@sg.fr",
        "Société Générale",
        "fr",
        TODAY,
        DUE,
        [InvoiceLine.parse("Maintenance <b>annuelle</b> & co;2;49.90;20"), InvoiceLine.parse("Livre;1;10;5.5")],
        customer_address="29 boulevard Haussmann\n75009 Paris",
    )
    path = tmp_path / "f.pdf"
    render_invoice(invoice, SELLER, path, payment_line="prélèvement SEPA, mandat RUM-0001, ICS FR72ZZZ123456")
    text = _pdf_text(path)
    for mention in [
        "FACTURE",
        "N° : INV-2026-0007",
        f"Date d'émission : {TODAY}",
        "Date de la prestation",
        f"Échéance : {DUE}",
        "Acme Facturation",
        "SAS au capital de 10 000 €",
        "75002 Paris",
        "SIREN : 732829320",
        "SIRET : 73282932000074",
        "N° TVA : FR44732829320",
        "Société Générale",
        "29 boulevard Haussmann",
        "Maintenance <b>annuelle</b> & co",  # user text printed as typed, never as markup
        "49,90 EUR",
        "99,80 EUR",
        "20 %",
        "5,5 %",
        "TVA 5,5 %",
        "Base HT 10,00 EUR",
        "0,55 EUR",
        "TVA 20 %",
        "Base HT 99,80 EUR",
        "19,96 EUR",
        "Total HT",
        "109,80 EUR",
        "Total TVA",
        "20,51 EUR",
        "Total TTC",
        "130,31 EUR",
        "mandat RUM-0001, ICS FR72ZZZ123456",
        "Pénalités de retard",
        "Indemnité forfaitaire pour frais de recouvrement en cas de retard : 40 €",
    ]:
        assert mention in text, mention


def test_pdf_renders_a_japanese_customer_and_many_pages(tmp_path):
    lines = [InvoiceLine.parse(f"Ligne {i} — prestation détaillée;1;{i}.50;20") for i in range(1, 80)]
    invoice = Invoice(
        "INV-2026-0008",
        "JPY",
        "yamada@example.jp",
        "山田太郎 株式会社",
        "ja",
        TODAY,
        DUE,
        [InvoiceLine.parse("保守サービス;1;10000;10")],
    )
    path = tmp_path / "ja.pdf"
    render_invoice(invoice, SELLER, path)
    text = _pdf_text(path)
    assert "山田太郎" in text and "株式会社" in text and "保守サービス" in text
    assert "請求書" in text and "11,000 JPY" in text
    long = Invoice("INV-2026-0009", "EUR", "a@b.fr", "A", "fr", TODAY, DUE, lines)
    render_invoice(long, SELLER, tmp_path / "long.pdf")
    reader = PdfReader(tmp_path / "long.pdf")
    assert len(reader.pages) >= 2
    assert "Ligne 79 — prestation détaillée" in _pdf_text(tmp_path / "long.pdf")


def test_manual_payments_add_up_until_paid(store):
    number = issue_invoice(store).number  # 120.00 EUR incl. VAT
    first = record_payment(store, number, amount="50", method="cheque", received_on=TODAY, today=TODAY)
    assert first["status"] == "partially_paid" and first["remaining"] == "70.00"
    with pytest.raises(UsageError, match="more than the 70.00 EUR left"):
        record_payment(store, number, amount="70.01", method="cash", received_on=TODAY, today=TODAY)
    dry = record_payment(store, number, amount="70,00", method="transfer", received_on=TODAY, today=TODAY, dry_run=True)
    assert dry["status"] == "paid" and invoices.load_invoice(store, number).status == "partially_paid"
    record_payment(store, number, amount="70,00", method="transfer", received_on=TODAY, today=TODAY)
    paid = invoices.load_invoice(store, number)
    assert paid.status == "paid" and paid.paid_on == TODAY
    assert paid.amount_paid.amount == Decimal("120.00")
    with pytest.raises(OperationFailed, match="already paid"):
        record_payment(store, number, amount="1", method="cash", received_on=TODAY, today=TODAY)


def test_invoice_cli_round_trip(crmpay_env, tmp_path):
    crmpay_env.env["CRMPAY_TODAY"] = "2026-11-23"  # the dates below are in this test's past
    crmpay_env.run("config", "set", "seller.name", "Acme SAS")
    created = crmpay_env.run(
        "invoice",
        "create",
        "--customer",
        "ann@example.fr",
        "--name",
        "Ann",
        "--line",
        "Service;2;49.90;20",
        "--due",
        "2026-12-31",
        "--issue-date",
        "2026-11-22",
        "--json",
    )
    assert created.code == 0, created.stderr
    assert created.json()["number"] == "INV-2026-0001" and created.json()["total_incl_vat"] == "119.76"
    pdf = tmp_path / "out.pdf"
    assert crmpay_env.run("invoice", "render", "INV-2026-0001", "-o", str(pdf)).code == 0
    assert "119,76 EUR" in _pdf_text(pdf)
    recorded = crmpay_env.run(
        "payment",
        "record",
        "INV-2026-0001",
        "--amount",
        "119.76",
        "--method",
        "transfer",
        "--received-on",
        "2026-11-22",
        "--json",
    )
    assert recorded.code == 0, recorded.stderr
    assert recorded.json()["status"] == "paid"
    listed = crmpay_env.run("invoice", "list", "--status", "paid", "--json").json()
    assert [i["number"] for i in listed] == ["INV-2026-0001"]
    assert crmpay_env.run("invoice", "show", "INV-2026-0404").code == 2
    other = ("--profile", "other", "invoice")  # a profile with no seller issues nothing
    no_seller = crmpay_env.run(*other, "create", "--customer", "a@b.fr", "--line", "X;1;1;20", "--due", "2026-12-31")
    assert no_seller.code == 2 and "seller's identity is incomplete" in no_seller.stderr
    assert crmpay_env.run(*other, "list", "--json").json() == []


INVOICE_CSV = (
    "Référence facture;Email client;Nom client;Devise;Date émission;Échéance;Libellé;Quantité;PU HT;TVA\r\n"
    "F-1;compta@sg.fr;Société Générale;EUR;22/11/2026;22/12/2026;Maintenance;2;49,90;20\r\n"
    "F-1;compta@sg.fr;Société Générale;EUR;22/11/2026;22/12/2026;Livre;1;10;5,5\r\n"
    "\r\n"
    "F-2;jean@example.fr;Jean;EUR;2026-11-22;2026-12-22;Conseil;1;500;20\r\n"
)


def test_invoice_csv_import_groups_lines_and_is_idempotent(crmpay_env, tmp_path):
    crmpay_env.env["CRMPAY_TODAY"] = "2026-11-23"  # the dates of the file are in this test's past
    path = tmp_path / "factures.csv"
    path.write_bytes(INVOICE_CSV.encode("cp1252"))
    dry = crmpay_env.run("invoice", "import", str(path), "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    assert dry.json()["created"] == ["INV-2026-0001", "INV-2026-0002"]
    assert crmpay_env.run("invoice", "list", "--json").json() == []  # the dry run kept nothing
    done = crmpay_env.run("invoice", "import", str(path), "--json").json()
    assert done["created"] == ["INV-2026-0001", "INV-2026-0002"] and done["rows"] == 3
    shown = crmpay_env.run("invoice", "show", "INV-2026-0001", "--json").json()
    assert shown["customer_name"] == "Société Générale" and shown["total_incl_vat"] == "130.31"
    again = crmpay_env.run("invoice", "import", str(path), "--json").json()
    assert again["created"] == [] and again["already_imported"] == ["F-1", "F-2"]


def test_invoice_csv_reports_every_problem_and_imports_nothing(crmpay_env, tmp_path):
    bad = INVOICE_CSV + (
        "F-1;other@sg.fr;Société Générale;EUR;22/11/2026;22/12/2026;Extra;1;1;20\r\n"
        "F-3;x@y.fr;X;EURO;2026-11-22;2026-11-01;Y;zero;1;20\r\n"
    )
    path = tmp_path / "bad.csv"
    path.write_text(bad, encoding="utf-8")
    result = crmpay_env.run("invoice", "import", str(path))
    assert result.code == 2
    assert "line 6: customer_email: differs from line 2 of invoice 'F-1'" in result.stderr
    assert "line 7: currency: 'EURO' is not an ISO 4217 currency code" in result.stderr
    assert "line 7: due_date: is before the issue date" in result.stderr
    assert "line 7: line: 'Y': quantity 'zero' is not a number" in result.stderr
    assert crmpay_env.run("invoice", "list", "--json").json() == []
