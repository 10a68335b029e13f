"""Refunds of collected direct debits: what a credit note leaves paid beyond what is owed.

When a credit note lowers what an invoice owes below what was collected, the overpaid part
is refunded through the provider that collected it (GoCardless `POST /refunds`, Mollie
`POST /v2/payments/{id}/refunds`), from the invoice's payments the provider has collected
(state paid in the store), each up to what crmpay has not refunded of it yet. Money paid by
hand (cheque, transfer, cash) is refunded by hand: no provider holds it.

Exactly once, as for debits (services/intents.py): each refund is a row of `refunds` and an
intent with a deterministic key, both written in the transaction that issues the credit
note, before any provider call. A pending one (the run stopped, or the provider could not
be reached) is asked again with the same key and the same body; one the provider refused
is `failed` and is tried again as a new attempt (a new key). While a credit note of the
invoice has a refund pending or failed, `invoices credit` on that invoice only finishes it.
A refund given up (`--no-refund`) is `dropped`: counted as refunded another way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmpay.core.clock import now_iso
from crmpay.core.errors import CrmpayError, ExitCode, OperationFailed
from crmpay.core.money import Money
from crmpay.services import intents
from crmpay.services.intents import checkpoint
from crmpay.store import Store

if TYPE_CHECKING:
    from crmpay.providers.base import PaymentProvider

PROVIDERS = ("gocardless", "mollie")
UNFINISHED = ("pending", "failed")
REFUNDED = ("created", "dropped")  # made through the provider, or refunded another way
DESCRIPTIONS = {
    "fr": "Avoir {note} sur la facture {number}",
    "en": "Credit note {note} for invoice {number}",
}


@dataclass
class RefundLine:
    """One refund as a command shows it."""

    provider: str
    payment_id: str
    amount: str
    currency: str
    status: str  # would_refund / pending / created / failed / dropped
    id: str | None = None  # the provider's refund (RF… / re_…)
    provider_status: str | None = None
    credit_note: str | None = None
    error: str | None = None
    exit_code: int = field(default=0, repr=False)

    def as_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        del data["exit_code"]
        return data


def collected(store: Store, number: str) -> list[Any]:
    """The invoice's debits a provider has collected, oldest first."""
    marks = ", ".join("?" * len(PROVIDERS))
    return store.db.execute(
        "SELECT provider, provider_id, amount_minor, currency FROM payments WHERE invoice_number = ?"
        f" AND state = 'paid' AND provider IN ({marks}) ORDER BY created_at, provider_id",
        (number, *PROVIDERS),
    ).fetchall()


def refunded_minor(store: Store, number: str) -> int:
    """What crmpay refunded (or gave up to a refund by hand) of the invoice's debits."""
    marks = ", ".join("?" * len(REFUNDED))
    row = store.db.execute(
        f"SELECT coalesce(sum(amount_minor), 0) FROM refunds WHERE invoice_number = ? AND status IN ({marks})",
        (number, *REFUNDED),
    ).fetchone()
    return int(row[0])


def collected_net_minor(store: Store, number: str) -> int:
    """Collected by direct debit, less what was refunded of it: what the debits paid."""
    return sum(int(p["amount_minor"]) for p in collected(store, number)) - refunded_minor(store, number)


def _made_on(store: Store, provider: str, payment_id: str, *, besides: int | None = None) -> int:
    """What crmpay's refunds made at the provider total on one payment."""
    row = store.db.execute(
        "SELECT coalesce(sum(amount_minor), 0) FROM refunds WHERE provider = ? AND payment_id = ?"
        " AND status = 'created' AND id IS NOT ?",
        (provider, payment_id, besides),
    ).fetchone()
    return int(row[0])


@dataclass(frozen=True)
class Planned:
    provider: str
    payment_id: str
    amount: Money
    total: Money  # refunded on that payment once this one is made


def plan(store: Store, number: str, overpaid: Money) -> list[Planned]:
    """The refunds that give `overpaid` back through the providers that collected it, each
    payment up to what is left of it; what no debit covers is refunded by hand."""
    left, planned = overpaid.minor, []
    for payment in collected(store, number):
        if left <= 0:
            break
        made = _made_on(store, payment["provider"], payment["provider_id"])
        take = min(left, int(payment["amount_minor"]) - made)
        if take <= 0:
            continue
        currency = payment["currency"]
        planned.append(
            Planned(
                payment["provider"],
                payment["provider_id"],
                Money.from_minor(take, currency),
                Money.from_minor(made + take, currency),
            )
        )
        left -= take
    return planned


def unfinished(store: Store, number: str) -> list[Any]:
    marks = ", ".join("?" * len(UNFINISHED))
    return store.db.execute(
        f"SELECT * FROM refunds WHERE invoice_number = ? AND status IN ({marks}) ORDER BY id",
        (number, *UNFINISHED),
    ).fetchall()


def _key(profile: str, row: Any, attempt: int) -> str:
    return intents.intent_key(profile, row["credit_note"], row["provider"], row["payment_id"], attempt, "refund")


def _journal(row: Any) -> dict[str, Any]:
    return {
        "invoice": row["invoice_number"],
        "payment": row["payment_id"],
        "amount_minor": row["amount_minor"],
        "total_minor": row["total_minor"],
        "currency": row["currency"],
    }


def record(store: Store, profile: str, note: str, number: str, planned: list[Planned], *, drop: bool) -> list[Any]:
    """The refunds of a credit note, written in the caller's transaction (the one issuing
    the note): pending with their intents, or dropped (`--no-refund`)."""
    rows = []
    for item in planned:
        now = now_iso()
        cursor = store.db.execute(
            "INSERT INTO refunds (credit_note, invoice_number, provider, payment_id, amount_minor, currency,"
            " total_minor, attempt, intent_key, status, error, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 1, '', ?, ?, ?, ?)",
            (
                note,
                number,
                item.provider,
                item.payment_id,
                item.amount.minor,
                item.amount.currency,
                item.total.minor,
                "dropped" if drop else "pending",
                "not refunded through the provider (--no-refund)" if drop else None,
                now,
                now,
            ),
        )
        row = store.db.execute("SELECT * FROM refunds WHERE id = ?", (cursor.lastrowid,)).fetchone()
        if not drop:
            key = _key(profile, row, 1)
            store.db.execute("UPDATE refunds SET intent_key = ? WHERE id = ?", (key, row["id"]))
            intents.begin(store, key, "refund", item.provider, note, 1, _journal(row))
            row = store.db.execute("SELECT * FROM refunds WHERE id = ?", (row["id"],)).fetchone()
        rows.append(row)
    return rows


def line_of(row: Any, status: str | None = None, error: str | None = None) -> RefundLine:
    return RefundLine(
        row["provider"],
        row["payment_id"],
        Money.from_minor(row["amount_minor"], row["currency"]).decimal_string(),
        row["currency"],
        status or row["status"],
        row["provider_id"],
        row["provider_status"],
        row["credit_note"],
        error if error is not None else row["error"],
    )


def drop(store: Store, row: Any) -> RefundLine:
    """Give up a refund the provider refused: it is to be refunded another way."""
    if row["status"] != "failed":
        raise OperationFailed(
            f"the refund of {Money.from_minor(row['amount_minor'], row['currency'])} through {row['provider']} "
            f"(credit note {row['credit_note']}) may already have been made",
            hint=f"run `crmpay invoices credit {row['invoice_number']}` again, without --no-refund, to finish it",
        )
    with store.transaction():
        store.db.execute(
            "UPDATE refunds SET status = 'dropped', error = ?, updated_at = ? WHERE id = ?",
            (f"given up after: {row['error']}", now_iso(), row["id"]),
        )
    return line_of(store.db.execute("SELECT * FROM refunds WHERE id = ?", (row["id"],)).fetchone())


def _retry(store: Store, profile: str, row: Any) -> Any:
    """A failed refund as a new attempt: a new key, and the total as it stands now."""
    attempt = int(row["attempt"]) + 1
    key = _key(profile, row, attempt)
    total = _made_on(store, row["provider"], row["payment_id"], besides=row["id"]) + int(row["amount_minor"])
    with store.transaction():
        store.db.execute(
            "UPDATE refunds SET attempt = ?, intent_key = ?, total_minor = ?, status = 'pending', error = NULL,"
            " updated_at = ? WHERE id = ?",
            (attempt, key, total, now_iso(), row["id"]),
        )
        fresh = store.db.execute("SELECT * FROM refunds WHERE id = ?", (row["id"],)).fetchone()
        intents.begin(store, key, "refund", row["provider"], row["credit_note"], attempt, _journal(fresh))
    return fresh


def make(store: Store, profile: str, providers: dict[str, PaymentProvider], row: Any, language: str) -> RefundLine:
    """Make one refund at its provider (a failed one as a new attempt) and record it; a
    refusal marks it failed, any other error leaves it pending for the next run."""
    from crmpay.providers.base import NewRefund

    if row["status"] == "failed":
        row = _retry(store, profile, row)
    provider = providers[row["provider"]]
    currency = row["currency"]
    number, note = row["invoice_number"], row["credit_note"]
    new = NewRefund(
        row["payment_id"],
        Money.from_minor(row["amount_minor"], currency),
        Money.from_minor(row["total_minor"], currency),
        DESCRIPTIONS.get(language, DESCRIPTIONS["en"]).format(note=note, number=number),
        {"invoice": number, "credit_note": note},
    )
    key = row["intent_key"]
    try:
        refund = intents.journaled(
            store,
            key,
            "refund",
            row["provider"],
            note,
            int(row["attempt"]),
            _journal(row),
            lambda k: provider.refund(new, idempotency_key=k),
        )
    except OperationFailed as exc:  # the provider said no; the intent is failed
        with store.transaction():
            store.db.execute(
                "UPDATE refunds SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                (exc.message, now_iso(), row["id"]),
            )
        return _with_code(line_of(row, "failed", exc.message), exc)
    except CrmpayError as exc:  # unknown outcome: the same key next time
        return _with_code(line_of(row, "pending", exc.message), exc)
    with store.transaction():
        intents.finish(store, key, "succeeded", refund.id)
        store.db.execute(
            "UPDATE refunds SET status = 'created', provider_id = ?, provider_status = ?, error = NULL,"
            " updated_at = ? WHERE id = ?",
            (refund.id, refund.status, now_iso(), row["id"]),
        )
        store.audit(
            row["provider"],
            "create",
            "refund",
            refund.id,
            idempotency_key=key,
            detail={"payment": row["payment_id"], "amount_minor": row["amount_minor"], "credit_note": note},
        )
    checkpoint("after_record:refund")
    return line_of(store.db.execute("SELECT * FROM refunds WHERE id = ?", (row["id"],)).fetchone())


def _with_code(line: RefundLine, exc: CrmpayError) -> RefundLine:
    line.exit_code = int(exc.exit_code)
    return line


def outcome_error(number: str, lines: list[RefundLine]) -> CrmpayError | None:
    """What a credit whose refunds did not all succeed exits with: a temporary failure wins
    (the rerun that finishes it may just work), else the most serious code."""
    from crmpay.core.errors import error_for

    bad = [line for line in lines if line.exit_code]
    if not bad:
        return None
    codes = {line.exit_code for line in bad}
    code = ExitCode.TEMPORARY if ExitCode.TEMPORARY in codes else max(codes)
    first = bad[0]
    what = (
        f"credit note {first.credit_note} is issued, but its refund of {first.amount} {first.currency} "
        f"through {first.provider} (payment {first.payment_id}) "
    )
    if first.status == "failed":
        return error_for(
            code,
            what + f"was refused: {first.error}",
            hint=f"run `crmpay invoices credit {number}` again to retry it, "
            "or with --no-refund to refund it another way",
        )
    return error_for(
        code,
        what + f"is not finished: {first.error}",
        hint=f"run `crmpay invoices credit {number}` again to finish it (same idempotency key: never made twice)",
    )
