"""Invoice email through the sandbox's real SMTP sink, read back over its control API."""

from __future__ import annotations

import io
from datetime import date

import httpx

from crmpay.config import SellerSettings, SmtpSettings
from crmpay.core.invoice import Invoice, InvoiceLine
from crmpay.core.money import Money
from crmpay.documents.pdf import render_invoice
from crmpay.mail import send
from crmpay.services.invoices.mail import NoticeFacts, invoice_email


def _invoice(language: str) -> Invoice:
    return Invoice(
        "INV-2026-0003",
        "EUR",
        "ann@example.fr",
        "Ann Martin",
        language,
        date(2026, 11, 22),
        date(2026, 12, 22),
        [InvoiceLine.parse("Service;1;100;20")],
    )


def test_setup_link_and_debit_emails_reach_the_sink(sandbox):
    smtp = sandbox.credentials()["smtp"]
    settings = SmtpSettings(host=smtp["host"], port=smtp["port"], security="none")
    pdf = io.BytesIO()
    render_invoice(_invoice("fr"), SellerSettings(name="Acme SAS"), pdf)
    send(
        settings,
        None,
        invoice_email(
            _invoice("fr"),
            pdf.getvalue(),
            sender="billing@acme.fr",
            seller_name="Acme SAS",
            facts=NoticeFacts(False, Money.parse("120.00", "EUR"), "2026-12-22", None, None, "https://pay.example/s/1"),
        ),
    )
    send(
        settings,
        None,
        invoice_email(
            _invoice("en"),
            pdf.getvalue(),
            sender="billing@acme.fr",
            seller_name="Acme SAS",
            facts=NoticeFacts(True, Money.parse("120.00", "EUR"), "2026-12-24", "RUM-1", "FR72ZZZ123456", None),
        ),
    )
    mail = httpx.get(f"{sandbox.url}/__sandbox/mail").json()
    assert [m["subject"] for m in mail] == ["Facture INV-2026-0003", "Invoice INV-2026-0003"]
    assert mail[0]["to"] == ["ann@example.fr"]
    assert "https://pay.example/s/1" in mail[0]["body"] and "120,00 EUR" in mail[0]["body"]
    assert "collected from your account on 2026-12-24 under mandate RUM-1" in mail[1]["body"]
    assert "SEPA creditor identifier FR72ZZZ123456" in mail[1]["body"]
    assert mail[0]["attachments"] == ["INV-2026-0003.pdf"]
    sandbox.reset()
    assert httpx.get(f"{sandbox.url}/__sandbox/mail").json() == []
