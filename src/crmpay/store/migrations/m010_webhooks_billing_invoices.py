"""Steps m010–m030: webhook events, subscriptions, frozen invoices."""

from __future__ import annotations

import sqlite3

from crmpay.store.migrations._steps import migration, run_script


@migration
def m010_webhook_events(db: sqlite3.Connection) -> None:
    """Webhook deliveries, written before the 2xx and applied behind (services/webhooks):
    one row per (provider, event id); a Mollie payment id is queued again by each POST."""
    run_script(
        db,
        """
        CREATE TABLE webhook_events (
            provider TEXT NOT NULL,
            event_id TEXT NOT NULL,           -- GoCardless EV…; Mollie: the object id (tr_…)
            resource_type TEXT,
            resource_id TEXT,
            raw TEXT NOT NULL,                -- the event as delivered (GoCardless) / the form (Mollie)
            received_at TEXT NOT NULL,        -- the latest delivery
            first_received_at TEXT NOT NULL,
            deliveries INTEGER NOT NULL DEFAULT 1,
            processed_at TEXT,                -- NULL: still to apply
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            error TEXT,
            PRIMARY KEY (provider, event_id)
        );
        CREATE INDEX webhook_events_pending ON webhook_events (received_at) WHERE processed_at IS NULL;
        CREATE INDEX webhook_events_received ON webhook_events (received_at);
        """,
    )


@migration
def m020_subscriptions(db: sqlite3.Connection) -> None:
    """Recurring billing (services/billing): subscriptions, their prices from a date, one
    row per billed period (unique: a period is invoiced once), retries of failed debits
    and dunning reminders (one row per invoice and step)."""
    run_script(
        db,
        """
        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            customer_email TEXT NOT NULL,
            customer_name TEXT,
            language TEXT NOT NULL DEFAULT 'fr',
            currency TEXT NOT NULL,
            every TEXT NOT NULL,              -- month / quarter / year
            day INTEGER NOT NULL,             -- day of the month a period starts (a short month: its last day)
            start_date TEXT NOT NULL,         -- the first period starts on the first such day on or after it
            end_date TEXT,                    -- no period starts after it
            max_periods INTEGER,              -- --count
            terms_days INTEGER NOT NULL DEFAULT 14,
            status TEXT NOT NULL DEFAULT 'active',  -- active / paused / cancelled
            paused_on TEXT,
            cancelled_on TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX subscriptions_customer ON subscriptions (customer_email COLLATE NOCASE);
        CREATE TABLE subscription_prices (
            subscription_id INTEGER NOT NULL REFERENCES subscriptions (id),
            effective_from TEXT NOT NULL,     -- periods starting on or after this day
            lines TEXT NOT NULL,              -- JSON [[description, quantity, unit_price, vat_rate]], exact decimals
            created_at TEXT NOT NULL,
            PRIMARY KEY (subscription_id, effective_from)
        );
        CREATE TABLE subscription_periods (
            subscription_id INTEGER NOT NULL REFERENCES subscriptions (id),
            period_start TEXT NOT NULL,
            period_end TEXT NOT NULL,
            status TEXT NOT NULL,             -- issued / collected / failed / skipped
            invoice_number TEXT,              -- written in the transaction that issues the invoice
            action TEXT,                      -- payment / setup_link
            detail TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (subscription_id, period_start)
        );
        CREATE INDEX subscription_periods_status ON subscription_periods (status);
        CREATE INDEX subscription_periods_invoice ON subscription_periods (invoice_number);
        CREATE TABLE debit_retries (
            invoice_number TEXT NOT NULL,
            retry INTEGER NOT NULL,           -- 1, 2 … : the policy's position
            provider TEXT NOT NULL,
            payment_id TEXT NOT NULL,         -- the failed payment it answers
            failed_seen_on TEXT NOT NULL,
            retry_on TEXT NOT NULL,
            status TEXT NOT NULL,             -- planned / done / skipped
            method TEXT,                      -- retry_action / new_attempt
            result_id TEXT,
            charge_date TEXT,
            reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (invoice_number, retry)
        );
        CREATE INDEX debit_retries_status ON debit_retries (status);
        CREATE TABLE dunning_reminders (
            invoice_number TEXT NOT NULL,
            step INTEGER NOT NULL,            -- days past the due date
            tone TEXT NOT NULL,               -- courteous / formal / notice
            status TEXT NOT NULL,             -- pending / sent / skipped
            sent_on TEXT,
            crm TEXT,                         -- what the CRM was told
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (invoice_number, step)
        );
        """,
    )


@migration
def m030_invoices_frozen(db: sqlite3.Connection) -> None:
    """Issued invoices are frozen (services/invoices): the mentions of CGI art. 242 nonies A
    beside the lines (service date, buyer VAT number and SIREN, purchase order, each line's
    EN 16931 VAT category), credit notes (`kind`, the invoice they correct), the seller and
    legal texts as printed (`frozen`, JSON, written once; an invoice issued before this step
    gets it from the profile's config at its next render), the archived PDF (path and
    SHA-256), and the series opened (one per prefix; a new prefix is opened explicitly).
    Triggers refuse any change to what an invoice says once issued, and any deletion."""
    run_script(
        db,
        """
        ALTER TABLE invoices ADD COLUMN kind TEXT;            -- NULL: an invoice; credit_note: an avoir
        ALTER TABLE invoices ADD COLUMN credits TEXT;          -- a credit note: the invoice it corrects
        ALTER TABLE invoices ADD COLUMN reason TEXT;
        ALTER TABLE invoices ADD COLUMN buyer_vat TEXT;
        ALTER TABLE invoices ADD COLUMN buyer_siren TEXT;
        ALTER TABLE invoices ADD COLUMN po_number TEXT;
        ALTER TABLE invoices ADD COLUMN frozen TEXT;           -- JSON: seller, legal texts (set once)
        ALTER TABLE invoices ADD COLUMN pdf_path TEXT;         -- under the profile folder
        ALTER TABLE invoices ADD COLUMN pdf_sha256 TEXT;
        ALTER TABLE invoice_lines ADD COLUMN vat_category TEXT;  -- EN 16931 (UNTDID 5305); NULL: from the rate
        CREATE INDEX invoices_credits ON invoices (credits);
        CREATE TABLE invoice_series (
            prefix TEXT PRIMARY KEY,
            opened_at TEXT NOT NULL
        );
        INSERT INTO invoice_series (prefix, opened_at)
            SELECT DISTINCT substr(prefix, 1, length(prefix) - 5), datetime('now') FROM invoice_sequences
            WHERE prefix GLOB '*[0-9][0-9][0-9][0-9]-';
        CREATE TRIGGER invoices_never_deleted BEFORE DELETE ON invoices
        BEGIN SELECT RAISE(ABORT, 'an issued invoice is never deleted: issue a credit note'); END;
        CREATE TRIGGER invoices_frozen BEFORE UPDATE OF number, kind, credits, customer_email, customer_name,
            customer_address, language, currency, issue_date, due_date, service_date, total_excl_minor,
            total_vat_minor, total_incl_minor, buyer_vat, buyer_siren, po_number ON invoices
        BEGIN SELECT RAISE(ABORT, 'an issued invoice is never edited: issue a credit note'); END;
        CREATE TRIGGER invoices_frozen_once BEFORE UPDATE OF frozen, pdf_sha256 ON invoices
            WHEN (OLD.frozen IS NOT NULL AND NEW.frozen IS NOT OLD.frozen)
              OR (OLD.pdf_sha256 IS NOT NULL AND NEW.pdf_sha256 IS NOT OLD.pdf_sha256)
        BEGIN SELECT RAISE(ABORT, 'an issued invoice is never edited: its snapshot and PDF are kept'); END;
        CREATE TRIGGER invoice_lines_never_edited BEFORE UPDATE ON invoice_lines
        BEGIN SELECT RAISE(ABORT, 'an issued invoice is never edited: issue a credit note'); END;
        CREATE TRIGGER invoice_lines_never_deleted BEFORE DELETE ON invoice_lines
        BEGIN SELECT RAISE(ABORT, 'an issued invoice is never edited: issue a credit note'); END;
        """,
    )
