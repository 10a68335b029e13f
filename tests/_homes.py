"""What every test home starts with, and an invoice issued in it (imported as
`import _homes`, like `_paths`)."""

# The seller: no invoice is issued without its identity.
SELLER = {
    "name": "Acme SAS",
    "address": "1 rue de la Paix, 75002 Paris",
    "siren": "732829320",
    "vat_number": "FR44732829320",
}
SELLER_CONFIG = "[profiles.default.seller]\n" + "".join(f'{key} = "{value}"\n' for key, value in SELLER.items())


def seller_settings():
    """`SELLER` as the settings object the services take."""
    from crmpay.config import SellerSettings

    return SellerSettings(**SELLER)


def issue_invoice(store, **changes):
    """`ledger.create_invoice` with Ann's one-line invoice of the suite's today, due in 30
    days, issued by `SELLER`; `changes` override any argument."""
    from datetime import timedelta

    from tests.conftest import START

    from crmpay.core.invoice import InvoiceLine
    from crmpay.services.invoices.ledger import create_invoice

    args = dict(
        prefix="INV-",
        customer_email="ann@example.fr",
        customer_name="Ann",
        language="fr",
        currency="EUR",
        lines=[InvoiceLine.parse("Service;1;100;20")],
        issue_date=START,
        due_date=START + timedelta(days=30),
        seller=seller_settings(),
    )
    args.update(changes)
    return create_invoice(store, **args)
