"""The email that carries an invoice: a short body in the customer's language, the PDF."""

from __future__ import annotations

from email.message import EmailMessage

from crmpay.core.invoice import Invoice
from crmpay.documents.pdf import format_money

_TEXT = {
    "fr": {
        "subject": "Facture {number}",
        "hello": "Bonjour {name},",
        "debit": "Veuillez trouver ci-joint la facture {number} d'un montant de {amount}. "
        "Elle sera prélevée sur votre compte le {date} (mandat {mandate}).",
        "link": "Veuillez trouver ci-joint la facture {number} d'un montant de {amount}, "
        "à régler avant le {date}. Pour la payer par prélèvement, autorisez-le ici :\n{link}",
        "bye": "Cordialement,\n{seller}",
    },
    "en": {
        "subject": "Invoice {number}",
        "hello": "Hello {name},",
        "debit": "Please find attached invoice {number} for {amount}. It will be collected "
        "from your account on {date} (mandate {mandate}).",
        "link": "Please find attached invoice {number} for {amount}, due on {date}. To pay it "
        "by direct debit, set up your mandate here:\n{link}",
        "bye": "Kind regards,\n{seller}",
    },
}


def invoice_email(
    invoice: Invoice,
    pdf: bytes,
    *,
    sender: str,
    seller_name: str,
    charge_date: str | None = None,
    mandate_reference: str | None = None,
    setup_link: str | None = None,
) -> EmailMessage:
    """The message for `invoice`: either its collection date or its mandate-setup link."""
    lang = "fr" if invoice.language == "fr" else "en"
    text = _TEXT[lang]
    amount = format_money(invoice.totals.incl_vat, lang)
    facts = {
        "number": invoice.number,
        "amount": amount,
        "name": invoice.customer_name or "",
        "seller": seller_name,
        "link": setup_link,
        "mandate": mandate_reference,
        "date": charge_date or invoice.due_date.isoformat(),
    }
    middle = text["link"] if setup_link else text["debit"]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = invoice.customer_email
    message["Subject"] = text["subject"].format(**facts)
    message.set_content("\n\n".join(part.format(**facts) for part in (text["hello"], middle, text["bye"])))
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{invoice.number}.pdf")
    return message
