"""Issue 18/17: numbers follow dates, one series per prefix, absurd input refused (exit 2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.conftest import START

from _homes import issue_invoice
from crmpay.core import clock
from crmpay.core.errors import UsageError
from crmpay.core.invoice import InvoiceLine
from crmpay.core.money import Money
from crmpay.store import Store

TODAY = START


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "db.sqlite3") as s:
        yield s


def test_issue_dates_follow_numbers_and_never_lie_in_the_future(store):
    first = issue_invoice(store, issue_date=TODAY - timedelta(days=2))
    with pytest.raises(UsageError, match="is before .* invoice dates follow their numbers"):
        issue_invoice(store, issue_date=TODAY - timedelta(days=3))
    with pytest.raises(UsageError, match="in the future"):
        issue_invoice(store, issue_date=TODAY + timedelta(days=1))
    assert issue_invoice(store).number == first.number[:-4] + "0002"  # no number was taken by the refusals


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"due_date": START.replace(year=9999)}, "is after 2099-12-31"),
        ({"lines": [InvoiceLine.parse("Free;1;0;20")]}, "must be more than 0"),
        ({"lines": [InvoiceLine.parse("A;1;10;20"), InvoiceLine.parse("Remise;1;-20;20")]}, "must be more than 0"),
        ({"currency": "ABC"}, "ISO 4217"),
        ({"customer_name": "Ann\x00"}, "control character U\\+0000"),
        ({"customer_address": "1 rue\x07"}, "control character"),
        ({"buyer_vat": "hello"}, "not a VAT number"),
        ({"business": True, "customer_address": None}, "name and address are required"),
    ],
)
def test_absurd_invoices_are_refused_before_a_number_is_taken(store, kw, message):
    with pytest.raises(UsageError, match=message):
        issue_invoice(store, **kw)
    assert issue_invoice(store, dry_run=True).number.endswith("-0001")


@pytest.mark.parametrize("text", ["X;1;1e309;20", "X;1;NaN;20", "X;1;Infinity;20", "X\x00;1;1;20", "X;1;1;20:XX"])
def test_bad_line_values_are_usage_errors(text):
    with pytest.raises(UsageError):
        InvoiceLine.parse(text)


def test_amounts_are_bounded_and_never_finer_than_the_minor_unit():
    for text, currency in (("1e309", "EUR"), ("0.5", "JPY"), ("99999999999999", "EUR"), ("1.001", "EUR")):
        with pytest.raises(UsageError):
            Money.parse(text, currency)
    assert str(Money.parse("1 000,50", "EUR")) == "1000.50 EUR"


def test_a_discount_line_is_allowed_while_the_total_stays_positive(store):
    invoice = issue_invoice(store, lines=[InvoiceLine.parse("A;1;100;20"), InvoiceLine.parse("Remise;1;-10;20")])
    assert invoice.totals.incl_vat.amount == 108


def test_a_new_prefix_is_refused_until_its_series_is_opened(crmpay_env):
    args = ("invoice", "create", "--customer", "a@b.fr", "--line", "X;1;10;20", "--due", str(START + timedelta(9)))
    assert crmpay_env.run(*args).code == 0
    assert crmpay_env.run("config", "set", "seller.invoice_prefix", "../pwn/").code == 2
    assert crmpay_env.run("config", "set", "seller.invoice_prefix", "FA-").code == 0
    refused = crmpay_env.run(*args)
    assert refused.code == 2 and "invoices new-series FA-" in refused.stderr
    opened = crmpay_env.run("invoice", "new-series", "FA-")
    assert opened.code == 0, opened.stderr
    created = crmpay_env.run(*args, "--json")
    assert created.code == 0 and created.json()["number"] == f"FA-{START.year}-0001"


def test_cli_refusals_are_one_line_exit_2(crmpay_env):
    base = ("invoice", "create", "--customer", "a@b.fr", "--due", str(START + timedelta(9)))
    for extra, needle in [
        (("--line", "X;1;1e309;20"), "1e309"),
        (("--line", "X;1;10;20", "--currency", "ABC"), "ABC"),
        (("--line", "X;1;0;20"), "more than 0"),
        (("--line", "X;1;10;20", "--due", "9999-12-31"), "9999-12-31"),
        (("--line", "X;1;10;20", "--issue-date", str(START + timedelta(days=400))), "in the future"),
    ]:
        result = crmpay_env.run(*base, *extra)
        assert result.code == 2 and needle in result.stderr and "Traceback" not in result.stderr, (extra, result)
    assert crmpay_env.run(*base, "--line", "X;1;10;20").code == 0
    number = f"INV-{START.year}-0001"
    for amount, received, needle in [("1e309", str(START), "1e309"), ("1", "1900-01-01", "before the invoice")]:
        result = crmpay_env.run(
            "payment", "record", number, "--amount", amount, "--method", "cash", "--received-on", received
        )
        assert result.code == 2 and needle in result.stderr, result


def test_csv_import_numbers_in_date_order(crmpay_env, tmp_path):
    d1, d2 = START - timedelta(days=5), START - timedelta(days=1)
    path = tmp_path / "f.csv"
    path.write_text(
        "invoice_ref,customer_email,customer_name,currency,issue_date,due_date,description,quantity,unit_price,vat_rate\n"
        f"LATE,b@x.fr,B,EUR,{d2},{d2 + timedelta(30)},X,1,10,20\n"
        f"EARLY,a@x.fr,A,EUR,{d1},{d1 + timedelta(30)},X,1,10,20\n",
        encoding="utf-8",
    )
    done = crmpay_env.run("invoice", "import", str(path), "--json")
    assert done.code == 0, done.stderr
    listed = {i["number"]: i["issue_date"] for i in crmpay_env.run("invoice", "list", "--json").json()}
    numbers = sorted(listed)
    assert [listed[n] for n in numbers] == [str(d1), str(d2)]


def test_no_invoice_is_numbered_without_the_sellers_identity(crmpay_env):
    (crmpay_env.home / "config.toml").write_text("")  # no seller at all
    due = (clock.today() + timedelta(days=30)).isoformat()
    create = ("invoices", "create", "--customer", "ann@example.fr", "--due", due, "--json")
    refused = crmpay_env.run(*create, "--line", "Audit;1;10;20")
    lines = refused.stderr.strip().splitlines()
    assert refused.code == 2 and len(lines) == 1, refused.stderr
    assert "seller.name, seller.address, seller.siren, seller.vat_number not set" in lines[0]
    for key, value in (("name", "Acme SAS"), ("address", "1 rue de la Paix, 75002 Paris"), ("siren", "732829320")):
        assert crmpay_env.run("config", "set", f"seller.{key}", value).code == 0
    charged = crmpay_env.run(*create, "--line", "Audit;1;10;20")
    assert charged.code == 2 and "seller.vat_number not set" in charged.stderr, charged.stderr
    exempt = crmpay_env.run(*create, "--line", "Audit;1;10;E")  # franchise en base: no VAT number needed
    assert exempt.code == 0, exempt.stderr
    assert exempt.json()["number"].endswith("-0001")  # the refusals took no number
