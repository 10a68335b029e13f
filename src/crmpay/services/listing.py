"""Reading customers and payments from the store, with the filters the CLI offers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crmpay.core.errors import UsageError
from crmpay.core.money import Money
from crmpay.store import Store, filters

PROVIDERS = ("gocardless", "mollie", "none")  # none: kept in the store only (a CSV import)


def payment_statuses() -> list[str]:
    """Every status a payment can have in the store: crmpay's states, then the providers'."""
    from crmpay.core.models import PaymentState
    from crmpay.providers.gocardless_records import PAYMENT_STATES

    mollie = ("open", "pending", "authorized", "paid", "canceled", "expired", "failed")
    return list(dict.fromkeys([*PaymentState, *PAYMENT_STATES, *mollie]))


def check_filter(value: str | None, valid: list[str] | tuple[str, ...], option: str) -> str | None:
    """`value` normalised (case, `-` for `_`) when it is one of `valid`; UsageError (exit 2)
    listing them otherwise: an unknown value would match nothing and look like "none"."""
    if value is None:
        return None
    key = value.strip().lower().replace("-", "_")
    if key not in valid:
        raise UsageError(f"{option} {value!r} is not one of: {', '.join(valid)}")
    return key


def store_present(database: Path) -> bool:
    """Whether a store exists at `database`, or existed (its marker is there): opening it
    then says what became of it rather than creating an empty one."""
    from crmpay.store.marker import marker_path

    return database.exists() or marker_path(database).exists()


def list_customers(
    store: Store,
    *,
    provider: str | None = None,
    customer: str | None = None,
    since: str | None = None,
    limit: int | None = None,
    ident: str | None = None,
) -> list[dict[str, Any]]:
    provider = check_filter(provider, PROVIDERS, "--provider")
    if ident is not None and not ident.strip():
        return []  # an empty id is no customer's
    where, args = filters(
        ("provider = ?", provider),
        ("email = ? COLLATE NOCASE", customer),
        ("created_at >= ?", since),
        ("provider_id = ?", ident),
        order="created_at DESC, provider_id",
        limit=limit,
    )
    sql = (
        "SELECT provider, provider_id, email, name, company_name, language, created_at FROM customers WHERE 1=1" + where
    )
    return [
        {
            "provider": r["provider"],
            "id": r["provider_id"],
            "email": r["email"],
            "name": r["name"],
            "company_name": r["company_name"],
            "language": r["language"],
            "created_at": r["created_at"],
        }
        for r in store.db.execute(sql, args)
    ]


def list_payments(
    store: Store,
    *,
    provider: str | None = None,
    status: str | None = None,
    customer: str | None = None,
    since: str | None = None,
    limit: int | None = None,
    ident: str | None = None,
) -> list[dict[str, Any]]:
    """Payments, newest first; `status` is a provider's status (`paid_out`) or crmpay's state
    (`paid`, `charged_back`, `failed`: a late failure too), in any case, `-` or `_`."""
    provider = check_filter(provider, PROVIDERS, "--provider")
    status = check_filter(status, payment_statuses(), "--status")
    if ident is not None and not ident.strip():
        return []  # an empty id is no payment's
    sql = (
        "SELECT p.provider, p.provider_id, p.amount_minor, p.currency, p.status, p.state,"
        " p.charge_date, p.description, p.mandate_id, p.customer_id, p.invoice_number,"
        " p.created_at, c.email FROM payments p LEFT JOIN customers c"
        " ON c.provider = p.provider AND c.provider_id = p.customer_id WHERE 1=1"
    )
    where, args = filters(
        ("p.provider = ?", provider),
        ("(p.status = ? OR p.state = ?)", status),
        ("c.email = ? COLLATE NOCASE", customer),
        ("p.created_at >= ?", since),
        ("p.provider_id = ?", ident),
        order="p.created_at DESC, p.provider_id",
        limit=limit,
    )
    sql += where
    return [
        {
            "provider": r["provider"],
            "id": r["provider_id"],
            "amount": Money.from_minor(r["amount_minor"], r["currency"]).decimal_string(),
            "currency": r["currency"],
            "status": r["status"],
            "state": r["state"],
            "charge_date": r["charge_date"],
            "description": r["description"],
            "mandate_id": r["mandate_id"],
            "customer_id": r["customer_id"],
            "customer_email": r["email"],
            "invoice_number": r["invoice_number"],
            "created_at": r["created_at"],
        }
        for r in store.db.execute(sql, args)
    ]


def one(items: list[dict[str, Any]], kind: str, ident: str) -> dict[str, Any]:
    if not items:
        raise UsageError(f"no {kind} {ident!r} in the store", hint=f"see `crmpay {kind}s list`")
    return items[0]


def raw_of(store: Store, table: str, provider: str, ident: str) -> dict[str, Any]:
    row = store.db.execute(
        f"SELECT raw FROM {table} WHERE provider = ? AND provider_id = ?", (provider, ident)
    ).fetchone()
    return json.loads(row[0]) if row else {}
