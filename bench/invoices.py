"""Invoice rendering: crmpay's renderer against a bare reportlab script, in one run.

    python bench/invoices.py [--invoices 1000]

Renders N invoices of 10 lines with `crmpay.documents.pdf.render_invoice`, and has a
bare script draw the same strings with the same fonts (DejaVu Sans subsets; no layout, no
wrapping, no per-script runs) to the same kind of canvas. The Factur-X render is the same
crmpay PDF with the invoice's EN 16931 XML made, checked against the XSD and embedded
(`crmpay.documents.facturx.facturx_pdf`): what a first `invoices render --format facturx`
or a Factur-X `invoices send` costs. The three alternate in batches of 50 so a noisy
machine slows them alike. Targets: ratio <= 1.5; Factur-X ratio <= 2.5.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from datetime import date, timedelta

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from crmpay.config import SellerSettings
from crmpay.core.invoice import Invoice, InvoiceLine
from crmpay.core.money import Money
from crmpay.documents.facturx import facturx_pdf
from crmpay.documents.pdf import BOLD, REGULAR, format_money, register_fonts, render_invoice

SELLER = SellerSettings(
    name="Acme Facturation",
    legal_form="SAS au capital de 10 000 €",
    address="12 rue de la Paix\n75002 Paris",
    siren="732829320",
    siret="73282932000074",
    vat_number="FR44732829320",
)


def make_invoices(n: int) -> list[Invoice]:
    out = []
    for i in range(n):
        lines = [
            InvoiceLine.parse(
                f"Prestation {j} pour le client n°{i} — forfait;{1 + j % 3};{10 + j}.{j}5;{20 if j % 4 else '5.5'}"
            )
            for j in range(10)
        ]
        out.append(
            Invoice(
                f"INV-2026-{i + 1:05d}",
                "EUR",
                f"client{i}@exemple.fr",
                f"Société Cliente {i}",
                "fr",
                date(2026, 11, 22),
                date(2026, 11, 22) + timedelta(days=30),
                lines,
                customer_address="29 boulevard Haussmann\n75009 Paris",
            )
        )
    return out


def strings_of(invoice: Invoice) -> list[tuple[str, str]]:
    """The (font, text) pairs the invoice shows, formatted once, outside the timing."""
    sums = invoice.totals
    texts = [
        (BOLD, SELLER.name or ""),
        (REGULAR, SELLER.legal_form or ""),
        *[(REGULAR, p) for p in (SELLER.address or "").splitlines()],
        (REGULAR, f"SIREN : {SELLER.siren}"),
        (REGULAR, f"SIRET : {SELLER.siret}"),
        (REGULAR, f"N° TVA : {SELLER.vat_number}"),
        (BOLD, "FACTURE"),
        (REGULAR, f"N° : {invoice.number}"),
        (REGULAR, f"Date d'émission : {invoice.issue_date}"),
        (REGULAR, f"Date de la prestation : {invoice.issue_date}"),
        (REGULAR, f"Échéance : {invoice.due_date}"),
        (BOLD, "Facturé à"),
        (REGULAR, invoice.customer_name or ""),
        (REGULAR, "29 boulevard Haussmann"),
        (REGULAR, "75009 Paris"),
        (REGULAR, invoice.customer_email),
    ]
    texts += [(BOLD, h) for h in ("Description", "Qté", "PU HT", "TVA", "Total HT")]
    for line in invoice.lines:
        texts += [
            (REGULAR, line.description),
            (REGULAR, str(line.quantity)),
            (REGULAR, format_money(Money(line.unit_price, "EUR"), "fr")),
            (REGULAR, f"{line.vat_rate} %"),
            (REGULAR, format_money(Money(line.net("EUR"), "EUR"), "fr")),
        ]
    texts.append((BOLD, "Récapitulatif TVA"))
    for vat in sums.vat_lines:
        texts += [
            (REGULAR, f"TVA {vat.rate} %"),
            (REGULAR, f"Base HT {format_money(vat.base, 'fr')}"),
            (REGULAR, format_money(vat.vat, "fr")),
        ]
    for label, amount in (("Total HT", sums.excl_vat), ("Total TVA", sums.vat), ("Total TTC", sums.incl_vat)):
        texts += [(REGULAR, label), (REGULAR, format_money(amount, "fr"))]
    texts += [
        (REGULAR, f"Échéance : {invoice.due_date}"),
        (REGULAR, "Pénalités de retard : trois fois le taux d'intérêt légal"),
        (REGULAR, "Indemnité forfaitaire pour frais de recouvrement en cas de retard : 40 €"),
        (REGULAR, "Escompte : Pas d'escompte pour paiement anticipé"),
        (REGULAR, f"{invoice.number} — Page 1"),
    ]
    return texts


def bare(texts: list[tuple[str, str]]) -> bytes:
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4, pageCompression=1, invariant=True, initialFontName=REGULAR)
    y = A4[1] - 20 * mm
    for font, text in texts:
        c.setFont(font, 9)
        c.drawString(18 * mm, y, text)
        y -= 4 * mm
    c.save()
    return buffer.getvalue()


def ours(invoice: Invoice) -> bytes:
    buffer = io.BytesIO()
    render_invoice(invoice, SELLER, buffer, payment_line="prélèvement SEPA, mandat RUM-1, ICS FR72ZZZ123456")
    return buffer.getvalue()


def facturx(invoice: Invoice) -> bytes:
    return facturx_pdf(ours(invoice), invoice, SELLER)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000)
    args = parser.parse_args()
    register_fonts()
    invoices = make_invoices(args.invoices)
    prepared = [strings_of(inv) for inv in invoices]
    ours(invoices[0]), bare(prepared[0]), facturx(invoices[0])  # warm every path once
    t_ours = t_bare = t_fx = 0.0
    for start in range(0, len(invoices), 50):
        t = time.perf_counter()
        for invoice in invoices[start : start + 50]:
            ours(invoice)
        t_ours += time.perf_counter() - t
        t = time.perf_counter()
        for texts in prepared[start : start + 50]:
            bare(texts)
        t_bare += time.perf_counter() - t
        t = time.perf_counter()
        for invoice in invoices[start : start + 50]:
            facturx(invoice)
        t_fx += time.perf_counter() - t
    ratio, fx_ratio = t_ours / t_bare, t_fx / t_bare
    n = len(invoices)
    print(f"invoices: {n} of 10 lines")
    print(f"crmpay render_invoice: {t_ours:.2f} s, {t_ours / n * 1000:.2f} ms per invoice")
    print(f"crmpay Factur-X:       {t_fx:.2f} s, {t_fx / n * 1000:.2f} ms per invoice")
    print(f"bare reportlab:        {t_bare:.2f} s, {t_bare / n * 1000:.2f} ms per invoice")
    print(f"ratio: {ratio:.2f} (target <= 1.5) {'ok' if ratio <= 1.5 else 'MISSED'}")
    print(f"Factur-X ratio: {fx_ratio:.2f} (target <= 2.5) {'ok' if fx_ratio <= 2.5 else 'MISSED'}")
    return 0 if ratio <= 1.5 and fx_ratio <= 2.5 else 1


if __name__ == "__main__":
    sys.exit(main())
