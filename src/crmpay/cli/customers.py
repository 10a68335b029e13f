"""`crmpay customers list|show`."""

from crmpay.cli._listing import listing_app


def _fetch(store, **filters):
    from crmpay.services.listing import list_customers

    return list_customers(store, **filters)


command = listing_app("customer", _fetch, ("provider", "id", "email", "name", "created_at"), with_status=False)
