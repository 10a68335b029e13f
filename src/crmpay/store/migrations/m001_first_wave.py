"""Steps m001–m004: the first wave's schema (providers, CRM links, invoices, calls)."""

from __future__ import annotations

import sqlite3

from crmpay.store.migrations._steps import migration, run_script


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
