"""Which mandate an invoice is collected on: the customer's mandates read again from
their provider, the ones that can be charged on the charge date, and a GoCardless setup
link the customer completed (its mandate is taken at once, no sync needed)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from crmpay.core.clock import now_iso
from crmpay.core.errors import NotConnected, OperationFailed, UsageError
from crmpay.core.invoice import Invoice
from crmpay.core.models import Mandate, Payment
from crmpay.providers import none_connected
from crmpay.services.invoices.debits import charge_date, check_currency, refresh_mandate, unchargeable_reason
from crmpay.store import Store
from crmpay.store.records import upsert_batch, upsert_mandate

if TYPE_CHECKING:
    from crmpay.providers.base import PaymentProvider


class MandateChoice:
    """Part of `InvoiceSender`: choosing the mandate and the creditor identifier."""

    store: Store
    providers: dict[str, PaymentProvider]
    today: date
    notice_days: int
    creditor_id: str | None

    def attempts(self, number: str) -> list[Any]:
        raise NotImplementedError

    def _link_completed(self, intent: Any) -> bool:
        row = self.store.db.execute(
            "SELECT status FROM setup_links WHERE provider = ? AND provider_id = ?",
            (intent["provider"], intent["result_id"]),
        ).fetchone()
        return row is not None and row["status"] == "completed"

    def _take_completed_link(self, invoice: Invoice) -> None:
        """A GoCardless setup link the customer completed: its mandate goes into the store
        and the link is marked completed, so this send collects on it (no sync needed)."""
        rows = self.attempts(invoice.number)
        if not rows or rows[-1]["kind"] != "setup_link" or rows[-1]["status"] != "succeeded":
            return
        last = rows[-1]
        provider = self.providers.get(last["provider"])
        if not isinstance(provider, _SetupLinkMandates) or self._link_completed(last):
            return
        mandate_id = provider.get_setup_link_mandate(last["result_id"])
        if not mandate_id:
            return
        mandate = provider.get_mandate(mandate_id)
        with self.store.transaction():
            upsert_mandate(self.store, mandate)
            self.store.db.execute(
                "UPDATE setup_links SET status = 'completed' WHERE provider = ? AND provider_id = ?",
                (last["provider"], last["result_id"]),
            )
            self.store.db.execute(
                "UPDATE invoices SET status = 'unpaid', status_reason = NULL, updated_at = ?"
                " WHERE number = ? AND status = 'awaiting_mandate'",
                (now_iso(), invoice.number),
            )

    def _choose_mandate(
        self, invoice: Invoice, mandate: str | None, provider: str | None, notes: list[str]
    ) -> tuple[Any, Mandate, date] | None:
        """The mandate to charge, read again from its provider, with its charge date; None
        when the customer has none that can be charged (a setup link is sent instead)."""
        fresh_by_id = self._reread_mandates(invoice, provider)
        rows = self.store.db.execute(
            "SELECT m.* FROM mandates m JOIN customers c ON c.provider = m.provider AND"
            " c.provider_id = m.customer_id WHERE c.email = ? COLLATE NOCASE ORDER BY m.created_at",
            (invoice.customer_email,),
        ).fetchall()
        if mandate:
            found = [r for r in rows if r["provider_id"] == mandate]
            if not found:
                raise UsageError(
                    f"mandate {mandate} is not one of {invoice.customer_email}'s mandates",
                    hint="run `crmpay sync`, or see `crmpay mandates list --customer EMAIL`",
                )
            rows = found
        elif provider:
            rows = [r for r in rows if r["provider"] == provider]
        rows = [r for r in rows if r["state"] not in ("failed", "cancelled", "expired")]
        unconnected = {r["provider"] for r in rows} - set(self.providers)
        if mandate and unconnected:
            raise NotConnected(f"{rows[0]['provider']} is not connected", hint=f"crmpay connect {rows[0]['provider']}")
        usable: list[tuple[Any, Mandate, date]] = []
        for row in (r for r in rows if r["provider"] in self.providers):
            fresh = fresh_by_id.get((row["provider"], row["provider_id"])) or refresh_mandate(
                self.store, self.providers[row["provider"]], row
            )
            charge = charge_date(
                due=invoice.due_date,
                next_possible=fresh.next_possible_charge_date,
                today=self.today,
                notice_days=self.notice_days,
                provider=row["provider"],
            )
            reason = unchargeable_reason(fresh, row, on=charge)
            if reason is None:
                usable.append((row, fresh, charge))
            elif mandate:
                raise OperationFailed(f"{reason}: it cannot be charged")
            else:
                notes.append(f"{reason}: not used")
        if not usable:
            if unconnected and not self.providers:
                name = sorted(unconnected)[0]
                raise NotConnected(f"{name} is not connected", hint=f"crmpay connect {name}")
            return None
        if len(usable) > 1:
            listed = ", ".join(f"{r['provider_id']} ({r['provider']}, {f.status})" for r, f, _ in usable)
            raise UsageError(
                f"{invoice.customer_email} has several usable mandates: {listed}", hint="choose one with --mandate"
            )
        row, fresh, charge = usable[0]
        currency = fresh.currency or row["currency"] or "EUR"
        if currency != invoice.currency:
            raise UsageError(
                f"invoice {invoice.number} is in {invoice.currency} but mandate {fresh.id} collects {currency}",
                hint="a provider charges only in the currency of the customer's bank account",
            )
        check_currency(invoice.currency, self.providers[row["provider"]])
        return row, fresh, charge

    def _reread_mandates(self, invoice: Invoice, provider: str | None) -> dict[tuple[str, str], Mandate]:
        """Every mandate of the customer at each connected provider, listed now (one request
        per customer) and written to the store: one added or revoked since the last sync is
        seen before the debit, not after."""
        fresh: dict[tuple[str, str], Mandate] = {}
        for row in self._customer_rows(invoice):
            name = row["provider"]
            if name not in self.providers or (provider and name != provider):
                continue
            listed = list(self.providers[name].iter_customer_mandates(row["provider_id"]))
            with self.store.transaction():
                upsert_batch(self.store, listed)
            fresh.update(((m.provider, m.id), m) for m in listed)
        return fresh

    def _customer_rows(self, invoice: Invoice) -> list[Any]:
        return self.store.db.execute(
            "SELECT provider, provider_id FROM customers WHERE email = ? COLLATE NOCASE", (invoice.customer_email,)
        ).fetchall()

    def _provider_for(self, invoice: Invoice, provider: str | None) -> str:
        if provider:
            if provider not in self.providers:
                raise none_connected(provider)
            return provider
        known = [r["provider"] for r in self._customer_rows(invoice) if r["provider"] in self.providers]
        if known:
            return str(known[0])
        if not self.providers:
            raise none_connected()
        return next(iter(self.providers))

    def _mandate_row(self, provider: str, mandate_id: str) -> Any:
        return self.store.db.execute(
            "SELECT * FROM mandates WHERE provider = ? AND provider_id = ?", (provider, mandate_id)
        ).fetchone()

    def _creditor(self, provider: str) -> str | None:
        """The SEPA creditor identifier the debtor sees: the profile's, else the one the
        provider debits under (GoCardless: its creditor's SEPA scheme identifier; Mollie
        gives its own on each payment, see `creditor_of`)."""
        if self.creditor_id:
            return self.creditor_id
        source = self.providers.get(provider)
        if source is None:
            return None
        said = source.check_credentials().creditor_identifier
        return said or self._creditor_seen(provider)

    def _creditor_seen(self, provider: str) -> str | None:
        """The creditor identifier on the provider's latest debits in the store (Mollie
        writes it on each SEPA payment, not on the account)."""
        import json

        for (raw,) in self.store.db.execute(
            "SELECT raw FROM payments WHERE provider = ? AND mandate_id IS NOT NULL ORDER BY created_at DESC LIMIT 20",
            (provider,),
        ):
            value = ((json.loads(raw) or {}).get("details") or {}).get("creditorIdentifier")
            if value:
                return str(value)
        return None


def creditor_of(payment: Payment) -> str | None:
    details = payment.raw.get("details") if isinstance(payment.raw, dict) else None
    value = (details or {}).get("creditorIdentifier")
    return str(value) if value else None


@runtime_checkable
class _SetupLinkMandates(Protocol):
    def get_setup_link_mandate(self, billing_request_id: str) -> str | None: ...
    def get_mandate(self, mandate_id: str, *, customer_id: str | None = None) -> Mandate: ...
