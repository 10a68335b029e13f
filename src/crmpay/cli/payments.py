"""`crmpay payments list|show`."""

from crmpay.cli._listing import listing_app


def _fetch(store, **filters):
    from crmpay.services.listing import list_payments

    return list_payments(store, **filters)


command = listing_app(
    "payment",
    _fetch,
    ("provider", "id", "amount", "currency", "status", "state", "charge_date", "customer_email", "invoice_number"),
)
