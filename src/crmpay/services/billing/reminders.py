"""The mails of dunning: a failed debit presented again, and the reminders of an unpaid
invoice (courteous, formal, then the formal notice: "mise en demeure"), in the invoice's
language (fr, en, ja), each with the late-payment penalty the invoice states."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from crmpay.core.invoice import Invoice
from crmpay.core.money import Money

_TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "hello": "Bonjour {name},",
        "bye": "Cordialement,\n{seller}",
        "retry_subject": "Facture {number} : nouvelle présentation du prélèvement",
        "retry": "Le prélèvement de {amount} pour la facture {number} a été rejeté par votre banque. "
        "Il sera présenté à nouveau le {date} (mandat {mandate}). Merci de vérifier que votre compte "
        "est approvisionné à cette date.",
        "courteous_subject": "Rappel : facture {number} en attente de règlement",
        "courteous": "Sauf erreur de notre part, la facture {number} de {amount}, échue le {due}, "
        "reste impayée à ce jour. Nous vous remercions de bien vouloir procéder à son règlement. "
        "Si vous l'avez déjà réglée, merci de ne pas tenir compte de ce message.",
        "formal_subject": "Deuxième relance : facture {number} impayée",
        "formal": "Malgré notre précédent rappel, la facture {number} de {amount}, échue le {due}, "
        "demeure impayée. Nous vous demandons de la régler sous huit jours.",
        "notice_subject": "Mise en demeure de payer : facture {number}",
        "notice": "Par la présente, nous vous mettons en demeure de régler sous huit jours la somme de "
        "{amount} due au titre de la facture {number}, échue le {due}. À défaut, nous engagerons "
        "une procédure de recouvrement.",
        "penalty": "Pénalités de retard : {penalty}.",
        "indemnity": "Indemnité forfaitaire pour frais de recouvrement : 40 € (art. L441-10 du Code de commerce).",
        "default_penalty": "trois fois le taux d'intérêt légal, exigibles dès le lendemain de l'échéance",
    },
    "en": {
        "hello": "Hello {name},",
        "bye": "Kind regards,\n{seller}",
        "retry_subject": "Invoice {number}: direct debit presented again",
        "retry": "The direct debit of {amount} for invoice {number} was returned by your bank. "
        "It will be presented again on {date} (mandate {mandate}). Please make sure the funds are "
        "available on that day.",
        "courteous_subject": "Reminder: invoice {number} is awaiting payment",
        "courteous": "Unless we are mistaken, invoice {number} for {amount}, due on {due}, has not been "
        "paid yet. We would be grateful if you could settle it. If you already have, please "
        "disregard this message.",
        "formal_subject": "Second reminder: invoice {number} is unpaid",
        "formal": "Despite our previous reminder, invoice {number} for {amount}, due on {due}, remains "
        "unpaid. Please settle it within eight days.",
        "notice_subject": "Formal notice to pay: invoice {number}",
        "notice": "We hereby give you formal notice to pay, within eight days, the sum of {amount} due "
        "under invoice {number}, which fell due on {due}. Failing that, we will start recovery "
        "proceedings.",
        "penalty": "Late payment penalties: {penalty}.",
        "indemnity": "Fixed compensation for recovery costs: EUR 40 (French Commercial Code, art. L441-10).",
        "default_penalty": "three times the French legal interest rate, due from the day after the due date",
    },
    "ja": {
        "hello": "{name} 様",
        "bye": "{seller}",
        "retry_subject": "請求書 {number}：口座振替の再請求",
        "retry": "請求書 {number}（{amount}）の口座振替が銀行により返却されました。{date} に再度請求いたします"
        "（マンデート {mandate}）。当日までに残高をご確認ください。",
        "courteous_subject": "請求書 {number} のお支払いについて",
        "courteous": "請求書 {number}（{amount}、支払期日 {due}）のお支払いが確認できておりません。"
        "お手数ですがお支払いをお願いいたします。行き違いの場合はご容赦ください。",
        "formal_subject": "再通知：請求書 {number} 未払い",
        "formal": "先日ご連絡いたしました請求書 {number}（{amount}、支払期日 {due}）が未払いのままです。"
        "8日以内にお支払いください。",
        "notice_subject": "支払督促：請求書 {number}",
        "notice": "請求書 {number}（支払期日 {due}）の {amount} を8日以内にお支払いください。"
        "お支払いがない場合、回収手続きを開始いたします。",
        "penalty": "遅延損害金：{penalty}。",
        "indemnity": "回収費用の定額補償：40ユーロ（フランス商法典 L441-10 条）。",
        "default_penalty": "フランス法定利率の3倍（支払期日の翌日から）",
    },
}


def money_text(money: Money, language: str) -> str:
    """1 234,50 EUR (fr) or 1,234.50 EUR: the invoice mail's way."""
    whole, _, frac = money.decimal_string().partition(".")
    sign, digits = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    groups = [digits[max(0, i - 3) : i] for i in range(len(digits), 0, -3)][::-1]
    if language == "fr":
        return f"{sign}{' '.join(groups)}{',' + frac if frac else ''} {money.currency}"
    return f"{sign}{','.join(groups)}{'.' + frac if frac else ''} {money.currency}"


def _message(invoice: Invoice, sender: str, subject: str, parts: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = invoice.customer_email
    message["Subject"] = subject
    message.set_content("\n\n".join(parts))
    return message


def _lang(language: str) -> str:
    return language if language in _TEXT else "en"


def retry_email(
    invoice: Invoice, amount: Money, *, charge_date: str, mandate: str, sender: str, seller: Any
) -> EmailMessage:
    """The customer is told a returned debit is presented again, with its new date."""
    lang = _lang(invoice.language)
    text = _TEXT[lang]
    values = {
        "name": invoice.customer_name or "",
        "number": invoice.number,
        "amount": money_text(amount, lang),
        "date": charge_date,
        "mandate": mandate,
        "seller": getattr(seller, "name", None) or "",
    }
    parts = [text["hello"], text["retry"], text["bye"]]
    return _message(invoice, sender, text["retry_subject"].format(**values), [p.format(**values) for p in parts])


def reminder_email(invoice: Invoice, left: Money, *, tone: str, sender: str, seller: Any) -> EmailMessage:
    """A reminder of `tone` (courteous / formal / notice) for what is left to pay."""
    lang = _lang(invoice.language)
    text = _TEXT[lang]
    values = {
        "name": invoice.customer_name or "",
        "number": invoice.number,
        "amount": money_text(left, lang),
        "due": invoice.due_date.isoformat(),
        "seller": getattr(seller, "name", None) or "",
        "penalty": getattr(seller, "late_penalty", None) or text["default_penalty"],
    }
    parts = [text["hello"], text[tone], text["penalty"]]
    if getattr(seller, "business_customers", True):
        parts.append(text["indemnity"])
    parts.append(text["bye"])
    return _message(invoice, sender, text[f"{tone}_subject"].format(**values), [p.format(**values) for p in parts])
