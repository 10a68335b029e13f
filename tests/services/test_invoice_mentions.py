"""The mentions of the e-invoicing reform on an invoice: service period, delivery address,
nature of the operation, the seller's VAT-on-debits option, the escompte terms; read back
from the PDF in French, English and Japanese, frozen once issued, and kept by an upgrade."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from pypdf import PdfReader
from tests.conftest import START

from crmpay.config import SellerSettings
from crmpay.store import Store
from crmpay.store.migrations import MIGRATIONS

FIRST, LAST = START - timedelta(days=29), START  # a service period ending on the pinned day
DUE = START + timedelta(days=30)
NUMBER = f"INV-{START.year}-0001"
BILLING = "2 rue B\n69001 Lyon"
DELIVERY = "Entrepôt 3\nZI Nord\n38000 Grenoble"
SELLER = [
    ("seller.name", "Acme SAS"),
    ("seller.address", "1 rue A\n75001 Paris"),
    ("seller.siren", "732829320"),
    ("seller.vat_number", "FR44732829320"),
]


def _flat(text: str) -> str:
    """Text without whitespace: pypdf cuts lines between the Latin and the Japanese runs."""
    return "".join(text.split())


def _pdf_text(path: Path) -> str:
    return _flat("\n".join(page.extract_text() for page in PdfReader(path).pages))


def _configure(env, *settings: tuple[str, str]) -> None:
    for key, value in settings:
        result = env.run("config", "set", key, value)
        assert result.code == 0, result.stderr


def _create(env, *args: str, language: str = "fr", currency: str = "EUR") -> dict:
    result = env.run(
        "invoices",
        "create",
        "--customer",
        "client@example.fr",
        "--name",
        "Client SA",
        "--address",
        BILLING,
        "--language",
        language,
        "--currency",
        currency,
        "--line",
        "Conseil;2;100;20",
        "--due",
        str(DUE),
        *args,
        "--json",
    )
    assert result.code == 0, result.stderr
    return result.json()


def _render(env, number: str, tmp_path: Path) -> str:
    out = tmp_path / f"{number}.pdf"
    result = env.run("invoices", "render", number, "-o", str(out))
    assert result.code == 0, result.stderr
    return _pdf_text(out)


def _db(env) -> sqlite3.Connection:
    return sqlite3.connect(env.home / "profiles" / "default" / "crmpay.sqlite3")


@pytest.mark.parametrize(
    "language, currency, nature, expected",
    [
        (
            "fr",
            "EUR",
            "goods",
            [
                f"Période de la prestation : du {FIRST} au {LAST}",
                "Adresse de livraison",
                "Entrepôt 3",
                "38000 Grenoble",
                "Nature de l'opération : Livraison de biens",
                "Escompte : Pas d'escompte pour paiement anticipé",
            ],
        ),
        (
            "fr",
            "EUR",
            "mixed",
            ["Nature de l'opération : Livraison de biens et prestation de services", "Adresse de livraison"],
        ),
        (
            "en",
            "EUR",
            "goods",
            [
                f"Service period: {FIRST} to {LAST}",
                "Delivery address",
                "ZI Nord",
                "Nature of the operation: Supply of goods",
                "Early payment: No discount for early payment",
            ],
        ),
        (
            "ja",
            "JPY",
            "mixed",
            [f"取引期間：{FIRST}～{LAST}", "納品先", "Entrepôt 3", "取引区分：物品の販売及び役務の提供"],
        ),
    ],
)
def test_the_mentions_are_printed_in_each_language_and_shown(
    crmpay_env, tmp_path, language, currency, nature, expected
):
    _configure(crmpay_env, *SELLER)
    created = _create(
        crmpay_env,
        "--service-period",
        f"{FIRST}..{LAST}",
        "--delivery-address",
        DELIVERY,
        "--nature",
        nature.upper(),  # any case
        language=language,
        currency=currency,
    )
    assert created["number"] == NUMBER and created["nature"] == nature
    text = _render(crmpay_env, NUMBER, tmp_path)
    for mention in expected:
        assert _flat(mention) in text, mention
    shown = crmpay_env.run("invoices", "show", NUMBER, "--json").json()
    assert {k: shown[k] for k in ("service_date", "service_start", "service_end", "delivery_address", "nature")} == {
        "service_date": None,
        "service_start": str(FIRST),
        "service_end": str(LAST),
        "delivery_address": DELIVERY,
        "nature": nature,
    }
    assert shown["frozen"] is True
    if language == "ja":  # the French escompte and penalty texts stay off a Japanese invoice
        assert "escompte" not in text and "Pénalités" not in text


def test_defaults_services_a_single_service_date_and_no_delivery_address_when_it_is_the_billing_one(
    crmpay_env, tmp_path
):
    _configure(crmpay_env, *SELLER)
    created = _create(crmpay_env, "--service-date", str(FIRST), "--delivery-address", " 2 rue b\n69001  LYON ")
    assert created["nature"] == "services"  # the default of `invoices create`
    assert created["service_date"] == str(FIRST) and created["service_start"] is None
    text = _render(crmpay_env, NUMBER, tmp_path)
    assert _flat(f"Date de la prestation : {FIRST}") in text
    assert _flat("Nature de l'opération : Prestation de services") in text
    assert "Période" not in text
    assert "livraison" not in text.lower()  # the same address as the billing one: printed once


def test_the_escompte_terms_come_from_the_seller_setting(crmpay_env, tmp_path):
    _configure(crmpay_env, *SELLER, ("seller.early_payment", "2 % pour paiement sous 8 jours"))
    _create(crmpay_env)
    text = _render(crmpay_env, NUMBER, tmp_path)
    assert _flat("Escompte : 2 % pour paiement sous 8 jours") in text
    assert "Pasd'escompte" not in text


def test_vat_on_debits_is_printed_on_every_invoice_while_set_and_stays_on_those_issued(crmpay_env, tmp_path):
    option = {
        "fr": "Option pour le paiement de la taxe d'après les débits",
        "en": "VAT option: payment of the tax on debits",
        "ja": "付加価値税は請求時（débits）基準で納付",
    }
    _configure(crmpay_env, *SELLER)
    plain = _create(crmpay_env)["number"]
    assert "débits" not in _render(crmpay_env, plain, tmp_path)
    _configure(crmpay_env, ("seller.vat_on_debits", "true"))
    numbers = {lang: _create(crmpay_env, language=lang)["number"] for lang in ("fr", "en", "ja")}
    for lang, number in numbers.items():
        assert _flat(option[lang]) in _render(crmpay_env, number, tmp_path), lang
    credit = crmpay_env.run("invoices", "credit", numbers["fr"], "--json")
    assert credit.code == 0, credit.stderr
    note = f"AV-{START.year}-0001"
    assert _flat(option["fr"]) in _render(crmpay_env, note, tmp_path)  # a credit note too
    # the option dropped: new invoices no longer say it, those issued keep it
    _configure(crmpay_env, ("seller.vat_on_debits", "false"))
    later = _create(crmpay_env)["number"]
    assert "débits" not in _render(crmpay_env, later, tmp_path)
    assert _flat(option["fr"]) in _render(crmpay_env, numbers["fr"], tmp_path)
    assert "débits" not in _render(crmpay_env, plain, tmp_path)


@pytest.mark.parametrize(
    "value, message",
    [("maybe", "valid boolean"), ("true", "French VAT option")],
)
def test_vat_on_debits_is_a_boolean_of_a_french_seller(crmpay_env, value, message):
    _configure(crmpay_env, ("seller.country", "JP"))
    result = crmpay_env.run("config", "set", "seller.vat_on_debits", value)
    assert result.code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    with pytest.raises(ValidationError, match="French VAT option"):
        SellerSettings(country="JP", vat_on_debits=True)
    assert SellerSettings(vat_on_debits=True).vat_on_debits is True


def test_seller_identifiers_agree_with_each_other():
    # SIRET (Luhn), SIREN, FR VAT key and the JP registration number are checked one by
    # one; together, a VAT number must be the SIREN's, also when only the SIRET is given
    assert SellerSettings(siret="73282932000074", vat_number="FR44732829320").siret == "73282932000074"
    with pytest.raises(ValidationError, match="not the one of siren 732829320"):
        SellerSettings(siret="73282932000074", vat_number="FR96552100554")
    with pytest.raises(ValidationError, match="does not start with the siren"):
        SellerSettings(siren="552100554", siret="73282932000074")
    with pytest.raises(ValidationError, match="registration number"):
        SellerSettings(country="JP", registration_number="T5835678256245")
    assert SellerSettings(country="JP", registration_number="T5835678256246").registration_number


def test_the_mentions_of_an_issued_invoice_cannot_be_changed(crmpay_env):
    _configure(crmpay_env, *SELLER)
    _create(crmpay_env, "--service-period", f"{FIRST}..{LAST}", "--delivery-address", DELIVERY, "--nature", "goods")
    db = _db(crmpay_env)
    for column, value in [
        ("service_start", str(LAST)),
        ("service_end", str(DUE)),
        ("delivery_address", "ailleurs"),
        ("nature", "services"),
        ("nature", None),
    ]:
        with pytest.raises(sqlite3.IntegrityError, match="never edited"):
            db.execute(f"UPDATE invoices SET {column} = ? WHERE number = ?", (value, NUMBER))
    row = db.execute(
        "SELECT service_start, service_end, delivery_address, nature FROM invoices WHERE number = ?", (NUMBER,)
    ).fetchone()
    assert row == (str(FIRST), str(LAST), DELIVERY, "goods")
    db.execute("UPDATE invoices SET status = 'paid' WHERE number = ?", (NUMBER,))  # a status still moves
    assert db.execute("SELECT status FROM invoices").fetchone() == ("paid",)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--nature", "food"], "--nature 'food' is not one of: goods, services, mixed"),
        (["--nature", ""], "--nature '' is not one of"),
        (["--service-period", f"{LAST}..{FIRST - timedelta(days=1)}"], "its end is before its start"),
        (["--service-period", str(FIRST)], "expected FIRST..LAST"),
        (["--service-period", f"{FIRST}..{START.year}-13-01"], "--service-period '"),
        (["--service-period", f"{FIRST}..{LAST + timedelta(days=6 * 365)}"], "more than 5 years"),
        (["--service-date", str(FIRST), "--service-period", f"{FIRST}..{LAST}"], "not both"),
        (["--delivery-address", "quai\x07 7"], "control character U+0007"),
        (["--delivery-address", "x" * 1001], "longer than 1000 characters"),
    ],
)
def test_bad_mentions_are_usage_errors_and_store_nothing(crmpay_env, args, message):
    result = crmpay_env.run(
        "invoices", "create", "--customer", "a@b.fr", "--line", "X;1;10;20", "--due", str(DUE), *args
    )
    assert result.code == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert crmpay_env.run("invoices", "list", "--json").json() == []


def test_a_store_upgraded_through_m050_keeps_its_invoices(crmpay_env, tmp_path):
    path = crmpay_env.home / "profiles" / "default" / "crmpay.sqlite3"
    names = [name for name, _ in MIGRATIONS]
    before = names.index("m050_invoice_mentions")
    with Store.open(path, upto=before) as store, store.transaction() as db:
        assert "m050_invoice_mentions" not in store.applied_migrations()
        db.execute("INSERT INTO invoice_sequences (prefix, last) VALUES (?, 1)", (f"INV-{START.year}-",))
        db.execute("INSERT INTO invoice_series (prefix, opened_at) VALUES ('INV-', '2026-01-01T00:00:00+00:00')")
        cursor = db.execute(
            "INSERT INTO invoices (number, customer_email, customer_name, customer_address, language, currency,"
            " issue_date, due_date, service_date, status, total_excl_minor, total_vat_minor, total_incl_minor,"
            " created_at, updated_at) VALUES (?, 'old@example.fr', 'Ancien Client', ?, 'fr', 'EUR', ?, ?, ?,"
            " 'unpaid', 10000, 2000, 12000, 'x', 'x')",
            (NUMBER, BILLING, str(FIRST), str(DUE), str(FIRST)),
        )
        db.execute(
            "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price, vat_rate,"
            " vat_category) VALUES (?, 1, 'Abonnement', '1', '100', '20', 'S')",
            (cursor.lastrowid,),
        )
    _configure(crmpay_env, *SELLER)
    old = crmpay_env.run("invoices", "show", NUMBER, "--json")
    assert old.code == 0, old.stderr
    shown = old.json()
    assert (shown["customer_name"], shown["total_incl_vat"], shown["service_date"]) == (
        "Ancien Client",
        "120.00",
        str(FIRST),
    )
    assert shown["nature"] is None and shown["delivery_address"] is None and shown["service_start"] is None
    text = _render(crmpay_env, NUMBER, tmp_path)
    assert "AncienClient" in text and _flat(f"Date de la prestation : {FIRST}") in text
    assert "Nature" not in text  # nothing was stated at issue, nothing is added now
    # the next invoice follows in the same series, with its mentions
    new = _create(crmpay_env, "--nature", "goods")
    assert new["number"] == f"INV-{START.year}-0002" and new["nature"] == "goods"
    db = _db(crmpay_env)
    applied = [r[0] for r in db.execute("SELECT name FROM schema_migrations ORDER BY rowid")]
    assert applied == names
    with pytest.raises(sqlite3.IntegrityError, match="never edited"):
        db.execute("UPDATE invoices SET nature = 'services' WHERE number = ?", (NUMBER,))
