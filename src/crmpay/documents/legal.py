"""The legal texts an invoice carries, chosen by the seller's country and the language.

French seller (Code de commerce L441-9/L441-10): the late-payment penalty, the fixed EUR 40
recovery indemnity for business customers, the early-payment (escompte) terms; those texts
exist in French and English, and are never printed on a Japanese invoice nor by a seller of
another country. The seller's option for paying VAT on debits (`seller.vat_on_debits`) is
printed on every invoice and credit note, in every language, with the French wording the
law asks for. The wording for a line with no VAT comes from crmpay.core.invoice. These
texts are frozen with the invoice when it is issued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmpay.core.invoice import EXEMPTION_TEXTS

if TYPE_CHECKING:
    from crmpay.config import SellerSettings
    from crmpay.core.invoice import Invoice

FRENCH = {
    "fr": {
        "penalty": "trois fois le taux d'intérêt légal, exigibles dès le lendemain de l'échéance",
        "indemnity": "Indemnité forfaitaire pour frais de recouvrement en cas de retard : 40 €",
        "early_payment": "Pas d'escompte pour paiement anticipé",
    },
    "en": {
        "penalty": "three times the French legal interest rate, due from the day after the due date",
        "indemnity": "Fixed compensation for recovery costs in case of late payment: EUR 40",
        "early_payment": "No discount for early payment",
    },
}

VAT_ON_DEBITS = {
    "fr": "Option pour le paiement de la taxe d'après les débits",
    "en": "VAT option: payment of the tax on debits (Option pour le paiement de la taxe d'après les débits)",
    "ja": "付加価値税は請求時（débits）基準で納付（Option pour le paiement de la taxe d'après les débits）",
}


def legal_texts(seller: dict[str, Any], language: str) -> dict[str, Any]:
    """What the invoice will print, as stored at issue (a JSON-able dict)."""
    texts: dict[str, Any] = {"exemptions": EXEMPTION_TEXTS.get(language, EXEMPTION_TEXTS["en"])}
    french = FRENCH.get(language)
    if (seller.get("country") or "FR") == "FR" and french is not None:
        texts["penalty"] = seller.get("late_penalty") or french["penalty"]
        if seller.get("business_customers", True):
            texts["indemnity"] = french["indemnity"]
        texts["early_payment"] = seller.get("early_payment") or french["early_payment"]
    elif seller.get("early_payment"):
        texts["early_payment"] = seller["early_payment"]
    if seller.get("late_penalty") and "penalty" not in texts and language != "ja":
        texts["penalty"] = seller["late_penalty"]
    if seller.get("vat_on_debits"):
        texts["vat_on_debits"] = VAT_ON_DEBITS.get(language, VAT_ON_DEBITS["en"])
    return texts


def freeze(seller: dict[str, Any], language: str) -> dict[str, Any]:
    """The snapshot stored with an issued invoice: the seller as printed and its legal texts."""
    return {"seller": seller, "legal": legal_texts(seller, language)}


def snapshot(invoice: Invoice, seller: SellerSettings | dict[str, Any] | None) -> dict[str, Any]:
    """What the invoice froze at issue, else the seller given (an invoice issued before
    freezing, or numbered elsewhere): what the PDF prints and the Factur-X XML says."""
    if invoice.frozen:
        return invoice.frozen
    if seller is None:
        return freeze({}, invoice.language)
    data = seller if isinstance(seller, dict) else seller.model_dump(mode="json", exclude_none=True)
    return freeze(data, invoice.language)
