"""Issue 18: an issued invoice is frozen: seller and legal texts stored at issue, the PDF
archived (path and SHA-256) and reproduced byte for byte, nothing edits or deletes it."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from tests.conftest import START


def _text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_render_reproduces_the_archived_original_whatever_the_config_says_now(crmpay_env, tmp_path):
    for key, value in [
        ("seller.name", "Acme SAS"),
        ("seller.address", "1 rue A\n75001 Paris"),
        ("seller.siren", "732829320"),
    ]:
        assert crmpay_env.run("config", "set", key, value).code == 0
    created = crmpay_env.run(
        "invoice", "create", "--customer", "a@b.fr", "--line", "X;1;10;20", "--due", str(START + timedelta(9)), "--json"
    )
    number = created.json()["number"]
    first, second = tmp_path / "1.pdf", tmp_path / "2.pdf"
    assert crmpay_env.run("invoice", "render", number, "-o", str(first)).code == 0
    # the seller changes afterwards: the past invoice does not
    assert crmpay_env.run("config", "set", "seller.name", "Nouveau Nom SARL").code == 0
    assert crmpay_env.run("invoice", "render", number, "-o", str(second)).code == 0
    assert first.read_bytes() == second.read_bytes()
    assert "Acme SAS" in _text(second) and "Nouveau Nom" not in _text(second)
    db = sqlite3.connect(crmpay_env.home / "profiles" / "default" / "crmpay.sqlite3")
    path, digest = db.execute("SELECT pdf_path, pdf_sha256 FROM invoices WHERE number = ?", (number,)).fetchone()
    archived = crmpay_env.home / "profiles" / "default" / path
    assert hashlib.sha256(archived.read_bytes()).hexdigest() == digest == hashlib.sha256(first.read_bytes()).hexdigest()
    # the archive lost: rendered again from the snapshot, it has the archived hash
    archived.unlink()
    third = tmp_path / "3.pdf"
    assert crmpay_env.run("invoice", "render", number, "-o", str(third)).code == 0
    assert third.read_bytes() == first.read_bytes() and archived.exists()
    # altered and not reproducible: refused
    archived.write_bytes(b"%PDF-forged")
    db.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError, match="never edited"):
        db.execute("UPDATE invoices SET pdf_sha256 = 'x' WHERE number = ?", (number,))
    # nothing edits or deletes an issued invoice
    for sql in (
        "UPDATE invoices SET customer_name = 'Other' WHERE number = ?",
        "UPDATE invoices SET frozen = '{}' WHERE number = ?",
        "DELETE FROM invoices WHERE number = ?",
        "DELETE FROM invoice_lines WHERE invoice_id = (SELECT id FROM invoices WHERE number = ?)",
        "UPDATE invoice_lines SET unit_price = '1' WHERE invoice_id = (SELECT id FROM invoices WHERE number = ?)",
    ):
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(sql, (number,))


def test_an_invoice_issued_without_a_seller_is_frozen_at_its_first_render(crmpay_env, tmp_path):
    """An invoice from before issued invoices were frozen (or numbered elsewhere) has no
    seller snapshot: the first render freezes the profile's seller of that day."""
    from crmpay import Workspace
    from crmpay.core.invoice import InvoiceLine
    from crmpay.services.invoices.ledger import create_invoice

    number = f"INV-{START.year}-0001"
    with Workspace(home=str(crmpay_env.home)) as ws:
        create_invoice(
            ws.store(), prefix="INV-", number=number, customer_email="a@b.fr", customer_name=None, language="fr",
            currency="EUR", lines=[InvoiceLine.parse("X;1;10;20")], issue_date=START, due_date=START + timedelta(9),
        )  # fmt: skip
    assert crmpay_env.run("config", "set", "seller.name", "Premier SAS").code == 0
    out = tmp_path / "a.pdf"
    assert crmpay_env.run("invoice", "render", number, "-o", str(out)).code == 0
    assert crmpay_env.run("config", "set", "seller.name", "Second SAS").code == 0
    assert crmpay_env.run("invoice", "render", number, "-o", str(out)).code == 0
    assert "Premier SAS" in _text(out) and crmpay_env.run("invoice", "show", number, "--json").json()["frozen"]


def test_render_to_a_directory_is_a_usage_error_and_leaves_nothing(crmpay_env, tmp_path):
    assert crmpay_env.run("config", "set", "seller.name", "Acme").code == 0
    args = ("invoice", "create", "--customer", "a@b.fr", "--line", "X;1;10;20", "--due", str(START + timedelta(9)))
    assert crmpay_env.run(*args).code == 0
    folder = tmp_path / "out"
    folder.mkdir()
    result = crmpay_env.run("invoice", "render", f"INV-{START.year}-0001", "-o", str(folder))
    assert result.code == 2 and "is a directory" in result.stderr and list(folder.iterdir()) == []
