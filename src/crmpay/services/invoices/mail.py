"""The email that carries an invoice: a short body in the customer's language, the PDF.

For a direct debit it is the SEPA pre-notification: amount, charge date, the mandate
reference the customer signed (UMR) and the creditor identifier. The PDF's payment line
is made from the same facts, so mail and invoice never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from crmpay.core.invoice import Invoice
from crmpay.documents.pdf import format_money

_TEXT = {
    "fr": {
        "subject": "Facture {number}",
        "hello": "Bonjour {name},",
        "debit": "Veuillez trouver ci-joint la facture {number}. Un montant de {amount} sera prélevé "
        "sur votre compte le {date} au titre du mandat {mandate}, identifiant créancier SEPA {creditor}.",
        "link": "Veuillez trouver ci-joint la facture {number} d'un montant de {amount}, "
        "à régler avant le {date}. Pour la payer par prélèvement, autorisez-le ici :\n{link}",
        "bye": "Cordialement,\n{seller}",
        "debit_line": "prélèvement SEPA de {amount} le {date}, mandat {mandate}, ICS {creditor}",
        "link_line": "lien de mise en place du prélèvement : {link}",
        "unknown_creditor": "celui de votre relevé bancaire",
    },
    "en": {
        "subject": "Invoice {number}",
        "hello": "Hello {name},",
        "debit": "Please find attached invoice {number}. {amount} will be collected from your account "
        "on {date} under mandate {mandate}, SEPA creditor identifier {creditor}.",
        "link": "Please find attached invoice {number} for {amount}, due on {date}. To pay it "
        "by direct debit, set up your mandate here:\n{link}",
        "bye": "Kind regards,\n{seller}",
        "debit_line": "SEPA direct debit of {amount} on {date}, mandate {mandate}, creditor identifier {creditor}",
        "link_line": "direct debit setup link: {link}",
        "unknown_creditor": "the one on your bank statement",
    },
}


@dataclass(frozen=True)
class NoticeFacts:
    """What the customer is told, once for the mail and the PDF."""

    debit: bool
    amount: Any  # Money
    date: str
    mandate: str | None
    creditor: str | None
    link: str | None


def _lang(language: str) -> str:
    return "fr" if language == "fr" else "en"


def notice_facts(invoice: Invoice, result: Any) -> NoticeFacts:
    """The facts of a send result (`services.invoices.send.SendResult`)."""
    from crmpay.core.money import Money

    return NoticeFacts(
        debit=result.action == "payment",
        amount=Money.parse(result.amount, result.currency),
        date=result.charge_date or invoice.due_date.isoformat(),
        mandate=result.mandate_reference or result.mandate_id,
        creditor=result.creditor_id,
        link=result.setup_link,
    )


def _values(facts: NoticeFacts, lang: str) -> dict[str, Any]:
    return {
        "amount": format_money(facts.amount, lang),
        "date": facts.date,
        "mandate": facts.mandate,
        "creditor": facts.creditor or _TEXT[lang]["unknown_creditor"],
        "link": facts.link,
    }


def payment_line(language: str, facts: NoticeFacts) -> str:
    """The PDF's "payment" line, from the same facts as the mail."""
    lang = _lang(language)
    return _TEXT[lang]["debit_line" if facts.debit else "link_line"].format(**_values(facts, lang))


def invoice_email(invoice: Invoice, pdf: bytes, *, sender: str, seller_name: str, facts: NoticeFacts) -> EmailMessage:
    """The message for `invoice`: its pre-notification, or its mandate-setup link."""
    lang = _lang(invoice.language)
    text = _TEXT[lang]
    values = {
        **_values(facts, lang),
        "number": invoice.number,
        "name": invoice.customer_name or "",
        "seller": seller_name,
    }
    middle = text["debit"] if facts.debit else text["link"]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = invoice.customer_email
    message["Subject"] = text["subject"].format(**values)
    message.set_content("\n\n".join(part.format(**values) for part in (text["hello"], middle, text["bye"])))
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{invoice.number}.pdf")
    return message
