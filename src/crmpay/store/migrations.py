"""Schema migrations: an ordered list of small named steps, each recorded once applied.

Never edit or reorder a step that has shipped: add a new one. A database that records a
step this crmpay does not know was written by a newer crmpay and is left untouched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Step = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Step]] = []


def migration(func: Step) -> Step:
    MIGRATIONS.append((func.__name__, func))
    return func


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Run SQL statements one by one inside the caller's transaction.

    (`executescript` would COMMIT first, breaking the one-transaction-per-step rule.)
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement: {pending.strip()[:60]}")


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- Provider objects: keyed by (provider, provider_id), raw JSON kept beside the columns.
        CREATE TABLE customers (
            provider TEXT NOT NULL,
            provider_id TEXT NOT NULL,
            email TEXT,
            name TEXT,
            company_name TEXT,
            language TEXT,
            created_at TEXT,
            raw TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (provider, provider_id)
        );
        CREATE INDEX customers_email ON customers (email COLLATE NOCASE);

        CREATE TABLE bank_accounts (
            provider TEXT NOT NULL,
            provider_id TEXT NOT NULL,
            customer_id TEXT,
            holder_name TEXT,
            account_number_ending TEXT,
            bank_name TEXT,
            country_code TEXT,
            currency TEXT,
            enabled INTEGER NOT NULL DEFAULT 1,
            created_at TEXT,
            raw TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (provider, provider_id)
        );

        CREATE TABLE mandates (
            provider TEXT NOT NULL,
            provider_id TEXT NOT NULL,
            customer_id TEXT,
            bank_account_id TEXT,
            status TEXT NOT NULL,
            state TEXT NOT NULL,
            scheme TEXT,
            reference TEXT,
            currency TEXT,
            next_possible_charge_date TEXT,
            signature_date TEXT,
            last_collection_date TEXT,
            created_at TEXT,
            raw TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (provider, provider_id)
        );
        CREATE INDEX mandates_customer ON mandates (provider, customer_id);
        CREATE INDEX mandates_reference ON mandates (reference COLLATE NOCASE);

        CREATE TABLE payments (
            provider TEXT NOT NULL,
            provider_id TEXT NOT NULL,
            mandate_id TEXT,
            customer_id TEXT,
            amount_minor INTEGER NOT NULL,
            currency TEXT NOT NULL,
            status TEXT NOT NULL,
            state TEXT NOT NULL,
            charge_date TEXT,
            description TEXT,
            reference TEXT,
            invoice_number TEXT,
            created_at TEXT,
            raw TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (provider, provider_id)
        );
        CREATE INDEX payments_mandate ON payments (provider, mandate_id);
        CREATE INDEX payments_invoice ON payments (invoice_number);

        -- Invoices: numbered locally, money in integer minor units.
        CREATE TABLE invoices (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL DEFAULT 'local',
            source_ref TEXT,
            customer_email TEXT NOT NULL,
            customer_name TEXT,
            language TEXT NOT NULL DEFAULT 'fr',
            currency TEXT NOT NULL,
            issue_date TEXT NOT NULL,
            due_date TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'draft',
            status_reason TEXT,
            total_excl_minor INTEGER NOT NULL DEFAULT 0,
            total_vat_minor INTEGER NOT NULL DEFAULT 0,
            total_incl_minor INTEGER NOT NULL DEFAULT 0,
            paid_on TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX invoices_customer ON invoices (customer_email COLLATE NOCASE);

        CREATE TABLE invoice_lines (
            invoice_id INTEGER NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            description TEXT NOT NULL,
            quantity TEXT NOT NULL,           -- exact decimal as text
            unit_price TEXT NOT NULL,         -- exact decimal as text
            vat_rate TEXT NOT NULL,           -- percent, exact decimal as text
            PRIMARY KEY (invoice_id, position)
        );

        -- The idempotency journal: written and committed before any create call.
        CREATE TABLE intents (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            provider TEXT NOT NULL,
            subject TEXT NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL DEFAULT 'pending',
            request TEXT NOT NULL,
            result_id TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX intents_subject ON intents (kind, subject);

        CREATE TABLE processed_events (
            provider TEXT NOT NULL,
            event_id TEXT NOT NULL,
            processed_at TEXT NOT NULL,
            PRIMARY KEY (provider, event_id)
        );

        CREATE TABLE sync_state (
            provider TEXT NOT NULL,
            resource TEXT NOT NULL,
            cursor TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (provider, resource)
        );

        -- Which CRM record stands for which local object, and what was last pushed.
        CREATE TABLE crm_links (
            kind TEXT NOT NULL,               -- customer, mandate, payment, invoice, call
            local_key TEXT NOT NULL,          -- e.g. 'gocardless:CU123'
            crm_module TEXT NOT NULL,
            crm_id TEXT,
            pushed_hash TEXT,
            pushed_at TEXT,
            last_error TEXT,
            PRIMARY KEY (kind, local_key, crm_module)
        );

        CREATE TABLE calls (
            identity TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            started_at TEXT NOT NULL,
            direction TEXT NOT NULL,
            caller TEXT,
            receiver TEXT,
            line TEXT,
            status TEXT,
            duration_s INTEGER,
            raw TEXT NOT NULL,
            crm_call_id TEXT,
            imported_at TEXT NOT NULL
        );

        -- Every change crmpay makes at a provider or in the CRM.
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            service TEXT NOT NULL,
            action TEXT NOT NULL,
            object_type TEXT NOT NULL,
            object_id TEXT,
            idempotency_key TEXT,
            detail TEXT
        );
        """,
    )


@migration
def m002_setup_links(db: sqlite3.Connection) -> None:
    """Mandate-setup links sent to customers, with their expiry (invoices without a mandate)."""
    run_script(
        db,
        """
        CREATE TABLE setup_links (
            provider TEXT NOT NULL,
            provider_id TEXT NOT NULL,        -- billing request (GoCardless) / first payment (Mollie)
            customer_id TEXT,
            invoice_number TEXT,
            url TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open',
            expires_at TEXT,
            created_at TEXT NOT NULL,
            raw TEXT NOT NULL,
            PRIMARY KEY (provider, provider_id)
        );
        CREATE INDEX setup_links_invoice ON setup_links (invoice_number);
        """,
    )


@migration
def m003_invoice_numbers_and_manual_payments(db: sqlite3.Connection) -> None:
    """Gapless invoice numbering per prefix, manual payments, the buyer's address."""
    run_script(
        db,
        """
        CREATE TABLE invoice_sequences (
            prefix TEXT PRIMARY KEY,
            last INTEGER NOT NULL
        );
        CREATE TABLE manual_payments (
            id INTEGER PRIMARY KEY,
            invoice_id INTEGER NOT NULL REFERENCES invoices (id),
            amount_minor INTEGER NOT NULL,
            currency TEXT NOT NULL,
            method TEXT NOT NULL,
            received_on TEXT NOT NULL,
            reference TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX manual_payments_invoice ON manual_payments (invoice_id);
        ALTER TABLE invoices ADD COLUMN customer_address TEXT;
        ALTER TABLE invoices ADD COLUMN service_date TEXT;
        """,
    )


@migration
def m004_call_imports(db: sqlite3.Connection) -> None:
    """Calls imports: where a call came from, why it failed, the CRM records it made."""
    run_script(
        db,
        """
        ALTER TABLE calls ADD COLUMN line_number INTEGER;
        ALTER TABLE calls ADD COLUMN error TEXT;
        ALTER TABLE calls ADD COLUMN crm_records TEXT;
        CREATE INDEX calls_status ON calls (status);
        """,
    )


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
