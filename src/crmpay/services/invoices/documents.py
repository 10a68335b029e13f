"""Invoice PDFs: frozen at issue, archived at their first render, reproduced byte for byte.

The first render of an issued invoice writes its PDF under the profile folder
(`invoices/YEAR/NUMBER.pdf`) and its SHA-256 in the store; every later render copies that
original after checking its hash, and if the file is gone, renders it again from what the
invoice froze at issue and accepts the result only when it has the archived hash (reportlab
renders in invariant mode: the same invoice gives the same bytes). An invoice issued before
snapshots existed is frozen from the profile's seller at that first render.

Factur-X (`invoices.format = "facturx"`, or `render --format facturx`) is not archived
apart: it is that archived original, its hash checked, with the EN 16931 XML of the
invoice embedded (crmpay.documents.facturx). The XML is made from what the invoice froze at
issue and never changes (number, dates, buyer, lines, seller snapshot), and the package's
timestamps carry the issue date: the same original gives the same Factur-X bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from crmpay.config import Config
from crmpay.config.sections import INVOICE_FORMATS
from crmpay.core.errors import OperationFailed, UsageError
from crmpay.store import Store

if TYPE_CHECKING:
    from crmpay.config import SellerSettings
    from crmpay.core.invoice import Invoice

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


FORMATS = INVOICE_FORMATS  # pdf, facturx


def invoice_format(config: Config, fmt: str | None = None) -> str:
    """`fmt` when given (pdf or facturx), else the profile's `invoices.format`."""
    chosen = (fmt or config.settings.invoices.format).strip().lower()
    if chosen not in FORMATS:
        raise UsageError(f"format {fmt!r} is not one of: {', '.join(FORMATS)}")
    return chosen


def as_facturx(invoice: Invoice, pdf: bytes, seller: SellerSettings | None = None) -> bytes:
    """`pdf` (the invoice as drawn) as a Factur-X PDF/A-3 carrying the invoice's EN 16931 XML."""
    from crmpay.documents.facturx import facturx_pdf

    try:
        return facturx_pdf(pdf, invoice, seller)
    except ValueError as exc:  # the XML is refused by the XSD: a defect, said plainly
        raise OperationFailed(f"{invoice.number}: no Factur-X file written: {exc}") from None


def seller_from(config: Config) -> SellerSettings:
    """The profile's seller, as every invoice prints it; its name at least is required."""
    seller = config.settings.seller
    if not seller.name:
        raise UsageError(
            "the seller's name is not configured",
            hint="crmpay config set seller.name 'Your company' (and seller.address, seller.siren, seller.vat_number …)",
        )
    return seller


def archive_path(folder: Path, invoice: Invoice) -> Path:
    """Where the original PDF lives: inside `folder` whatever the number holds."""
    name = _UNSAFE.sub("_", invoice.number).strip("_") or "invoice"
    path = folder / "invoices" / str(invoice.issue_date.year) / f"{name}.pdf"
    if not path.resolve().is_relative_to(folder.resolve()):
        raise UsageError(f"invoice number {invoice.number!r} cannot name a file")
    return path


def pdf_bytes(invoice: Invoice, seller: SellerSettings | None = None, payment_line: str | None = None) -> bytes:
    from crmpay.documents.pdf import render_invoice

    buffer = io.BytesIO()
    render_invoice(invoice, seller, buffer, payment_line=payment_line)
    return buffer.getvalue()


def freeze_if_needed(store: Store, invoice: Invoice, config: Config) -> Invoice:
    """An invoice issued before snapshots existed gets one now, from the profile's seller."""
    if invoice.frozen is not None:
        return invoice
    from crmpay.documents.legal import freeze

    seller = seller_from(config)
    invoice.frozen = freeze(seller.model_dump(mode="json", exclude_none=True), invoice.language)
    with store.transaction():
        store.db.execute(
            "UPDATE invoices SET frozen = ? WHERE number = ? AND frozen IS NULL",
            (json.dumps(invoice.frozen, ensure_ascii=False, sort_keys=True), invoice.number),
        )
    return invoice


def original_pdf(store: Store, config: Config, number: str) -> tuple[bytes, Path]:
    """The archived original of `number` (archived now if this is its first render)."""
    _, data, path = _original(store, config, number)
    return data, path


def _original(store: Store, config: Config, number: str) -> tuple[Invoice, bytes, Path]:
    from crmpay.services.invoices.ledger import load_invoice

    invoice = freeze_if_needed(store, load_invoice(store, number), config)
    folder = config.home.profile_dir(config.profile)
    row = store.db.execute("SELECT pdf_path, pdf_sha256 FROM invoices WHERE number = ?", (number,)).fetchone()
    path = folder / row["pdf_path"] if row["pdf_path"] else archive_path(folder, invoice)
    if row["pdf_sha256"]:
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        if hashlib.sha256(data).hexdigest() == row["pdf_sha256"]:
            return invoice, data, path
        data = pdf_bytes(invoice)  # the archive is gone or altered: rebuild it from the snapshot
        if hashlib.sha256(data).hexdigest() != row["pdf_sha256"]:
            raise OperationFailed(
                f"the archived PDF of {number} ({path}) is missing or altered, and rendering it again "
                "does not give the original",
                hint="restore the file from a backup",
            )
        _write(path, data)
        return invoice, data, path
    data = pdf_bytes(invoice)
    _write(path, data)
    with store.transaction():
        store.db.execute(
            "UPDATE invoices SET pdf_path = ?, pdf_sha256 = ? WHERE number = ? AND pdf_sha256 IS NULL",
            (str(path.relative_to(folder)), hashlib.sha256(data).hexdigest(), number),
        )
    return invoice, data, path


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def render_to_file(
    store: Store,
    config: Config,
    number: str,
    path: Path,
    payment_line: str | None = None,
    fmt: str | None = None,
) -> Path:
    """Write the invoice's original PDF to `path` (a copy of the archived one), as Factur-X
    when `fmt` (default: the profile's `invoices.format`) says so."""
    chosen = invoice_format(config, fmt)
    if path.is_dir():
        raise UsageError(f"{path} is a directory: give a file name (-o FILE.pdf)")
    if payment_line is not None:
        from crmpay.services.invoices.ledger import load_invoice

        invoice = freeze_if_needed(store, load_invoice(store, number), config)
        data = pdf_bytes(invoice, payment_line=payment_line)
    else:
        invoice, data, _ = _original(store, config, number)
    _write(path, as_facturx(invoice, data) if chosen == "facturx" else data)
    return path
