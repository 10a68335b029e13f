"""Step m040: refunds of collected direct debits, made when a credit note leaves the
invoice paid beyond what is owed."""

from __future__ import annotations

import sqlite3

from crmpay.store.migrations._steps import migration, run_script


@migration
def m040_refunds(db: sqlite3.Connection) -> None:
    """One row per credit note and provider payment it refunds, written in the transaction
    that issues the credit note, before the provider is asked (services/invoices/refunds.py).
    `status`: pending (not made yet, or made and not recorded: a rerun resumes it with the
    same idempotency key), created (the provider's refund exists), failed (the provider
    refused it: a rerun tries again as a new attempt), dropped (given up: refunded another
    way). `total_minor` is what crmpay will have refunded on that payment with this one
    (GoCardless's `total_amount_confirmation`)."""
    run_script(
        db,
        """
        CREATE TABLE refunds (
            id INTEGER PRIMARY KEY,
            credit_note TEXT NOT NULL,        -- the credit note that left the overpayment
            invoice_number TEXT NOT NULL,     -- the invoice it credits
            provider TEXT NOT NULL,           -- gocardless / mollie
            payment_id TEXT NOT NULL,         -- the collected payment refunded (PM… / tr_…)
            amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
            currency TEXT NOT NULL,
            total_minor INTEGER NOT NULL,     -- refunded by crmpay on that payment, this one included
            attempt INTEGER NOT NULL DEFAULT 1,
            intent_key TEXT NOT NULL,         -- the idempotency key of the current attempt
            status TEXT NOT NULL DEFAULT 'pending',  -- pending / created / failed / dropped
            provider_id TEXT,                 -- RF… / re_…
            provider_status TEXT,             -- the provider's word when it was made
            error TEXT,                       -- why it failed (or was dropped)
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (credit_note, provider, payment_id)
        );
        CREATE INDEX refunds_invoice ON refunds (invoice_number);
        CREATE INDEX refunds_payment ON refunds (provider, payment_id);
        """,
    )
