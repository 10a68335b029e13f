"""Issue 18: credit notes (avoirs): own series, reference the invoice, lower what is due."""

from __future__ import annotations

from datetime import timedelta

from pypdf import PdfReader
from tests.conftest import START


def _text(path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_partial_then_full_credit(crmpay_env, tmp_path):
    assert crmpay_env.run("config", "set", "seller.name", "Acme SAS").code == 0
    created = crmpay_env.run(
        "invoice",
        "create",
        "--customer",
        "a@b.fr",
        "--line",
        "Service;2;50;20",
        "--line",
        "Livre;1;10;5.5",
        "--due",
        str(START + timedelta(30)),
        "--json",
    )
    number = created.json()["number"]  # 120.00 + 10.55 = 130.55
    partial = crmpay_env.run(
        "invoice", "credit", number, "--line", "Remise commerciale;1;10;20", "--reason", "Geste commercial", "--json"
    )
    assert partial.code == 0, partial.stderr
    facts = partial.json()
    assert facts["credit_note"] == f"AV-{START.year}-0001" and facts["amount"] == "12.00"
    assert facts["amount_due"] == "118.55"
    shown = crmpay_env.run("invoice", "show", number, "--json").json()
    assert shown["amount_credited"] == "12.00" and shown["amount_due"] == "118.55"
    # a line at a rate the invoice does not have, or more than what is left: refused
    assert crmpay_env.run("invoice", "credit", number, "--line", "X;1;1;10").code == 2
    assert crmpay_env.run("invoice", "credit", number, "--line", "X;1;200;20").code == 2
    assert crmpay_env.run("invoice", "credit", number).code == 2  # the whole: already partly credited
    pdf = tmp_path / "av.pdf"
    assert crmpay_env.run("invoice", "render", facts["credit_note"], "-o", str(pdf)).code == 0
    text = _text(pdf)
    assert "AVOIR" in text and f"Avoir sur la facture : {number} du {START}" in text
    assert "Geste commercial" in text and "12,00 EUR" in text and "Indemnité forfaitaire" not in text
    invoice_pdf = tmp_path / "inv.pdf"
    assert crmpay_env.run("invoice", "render", number, "-o", str(invoice_pdf)).code == 0
    # the credit note's own show: a credit note is never paid, never credited
    note = crmpay_env.run("invoice", "show", facts["credit_note"], "--json").json()
    assert note["kind"] == "credit_note" and note["credits"] == number
    assert (
        crmpay_env.run(
            "payment", "record", facts["credit_note"], "--amount", "1", "--method", "cash", "--received-on", str(START)
        ).code
        == 2
    )
    # the rest, in English wording on an English invoice
    created = crmpay_env.run(
        "invoice",
        "create",
        "--customer",
        "b@b.fr",
        "--line",
        "Service;1;100;20",
        "--language",
        "en",
        "--due",
        str(START + timedelta(30)),
        "--json",
    ).json()["number"]
    full = crmpay_env.run("invoice", "credit", created, "--json").json()
    assert full["credit_note"] == f"AV-{START.year}-0002" and full["amount_due"] == "0.00"
    assert crmpay_env.run("invoice", "show", created, "--json").json()["status"] == "credited"
    en = tmp_path / "en.pdf"
    assert crmpay_env.run("invoice", "render", full["credit_note"], "-o", str(en)).code == 0
    assert "CREDIT NOTE" in _text(en) and f"Credit note for invoice: {created} of {START}" in _text(en)
