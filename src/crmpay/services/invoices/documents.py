"""Rendering a stored invoice with the profile's seller settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crmpay.config import Config
from crmpay.core.errors import UsageError
from crmpay.store import Store

if TYPE_CHECKING:
    from crmpay.config import SellerSettings


def seller_from(config: Config) -> SellerSettings:
    """The profile's seller, as every invoice prints it; its name at least is required."""
    seller = config.settings.seller
    if not seller.name:
        raise UsageError(
            "the seller's name is not configured",
            hint="crmpay config set seller.name 'Your company' (and seller.address, seller.siren, seller.vat_number …)",
        )
    return seller


def render_to_file(store: Store, config: Config, number: str, path: Path, payment_line: str | None = None) -> Path:
    from crmpay.documents.pdf import render_invoice
    from crmpay.services.invoices.ledger import load_invoice

    seller = seller_from(config)
    invoice = load_invoice(store, number)
    tmp = path.with_name(path.name + ".part")
    try:
        render_invoice(invoice, seller, tmp, payment_line=payment_line)
        tmp.replace(path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    return path
