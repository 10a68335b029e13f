"""Step m050: the invoice mentions of the e-invoicing reform, frozen like the others."""

from __future__ import annotations

import sqlite3

from crmpay.store.migrations._steps import migration, run_script


@migration
def m050_invoice_mentions(db: sqlite3.Connection) -> None:
    """Invoices state the period of a service (first and last day, instead of a single
    service date), the delivery address when it is not the billing address, and the
    nature of the operation (goods, services or mixed). They are part of what an issued
    invoice says: a trigger refuses any change to them, as `invoices_frozen` does for the
    columns before. Invoices already in the store keep NULL (nothing was stated)."""
    run_script(
        db,
        """
        ALTER TABLE invoices ADD COLUMN service_start TEXT;     -- YYYY-MM-DD, with service_end
        ALTER TABLE invoices ADD COLUMN service_end TEXT;
        ALTER TABLE invoices ADD COLUMN delivery_address TEXT;
        ALTER TABLE invoices ADD COLUMN nature TEXT;            -- goods / services / mixed; NULL: not stated
        CREATE TRIGGER invoices_frozen_mentions BEFORE UPDATE OF service_start, service_end, delivery_address,
            nature ON invoices
        BEGIN SELECT RAISE(ABORT, 'an issued invoice is never edited: issue a credit note'); END;
        """,
    )
