"""`Workspace`: crmpay from Python, with the same behaviour as the command line.

    from crmpay import Workspace

    with Workspace(profile="default") as ws:
        invoice = ws.invoices.create("ann@example.fr", ["Maintenance;1;49.90;20"], due="2026-12-31")
        sent = ws.invoices.send(invoice.number)
        outcome = ws.sync()

A workspace is one profile of one crmpay home (`home=None`: `CRMPAY_HOME` or the
platform's directory). Its nouns (`invoices`, `payments`, `mandates`, `customers`,
`calls`, `crm`) call the same use cases as the commands, and so do its connecting and
settings methods (`connect_provider`, `connect_smtp`, `connect_zoho`, `set_setting`,
`status`); errors are `crmpay.CrmpayError`s carrying the exit code the command would give.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmpay.config import Config
    from crmpay.core.invoice import Invoice
    from crmpay.core.models import AccountCheck
    from crmpay.paths import Home
    from crmpay.providers.base import PaymentProvider
    from crmpay.services.billing import Billing, Dunning, Subscriptions
    from crmpay.services.calls.importer import ImportReport
    from crmpay.services.connections import ServiceStatus
    from crmpay.services.invoices.result import SendResult
    from crmpay.services.mandates.csv_import import ImportResult
    from crmpay.services.mandates.link import LinkReport
    from crmpay.services.sync import SyncOutcome
    from crmpay.services.webhooks import Webhooks
    from crmpay.store import Store


class Workspace:
    """One profile: its config, its store, and the use cases that act on them."""

    def __init__(self, profile: str | None = None, home: str | Path | None = None) -> None:
        self._profile_flag = profile
        self._home_flag = str(home) if home is not None else None
        self._store: Store | None = None

    # -- what every use case needs -------------------------------------------------------------
    @cached_property
    def home(self) -> Home:
        from crmpay.paths import Home

        return Home.resolve(self._home_flag)

    @cached_property
    def config(self) -> Config:
        return self.config_with()

    def config_with(self, **flags: Any) -> Config:
        """The profile's config with these values on top (flag > environment > file)."""
        from crmpay.config import Config
        from crmpay.telephony import rules  # noqa: F401  (registers the check of a profile's [calls])

        return Config.load(self.home, self._profile_flag, flags=flags or None)

    @property
    def profile(self) -> str:
        return self.config.profile

    def today(self) -> date:
        """The date crmpay works as of (`CRMPAY_TODAY` pins it)."""
        from crmpay.core import clock

        return clock.today()

    def store(self) -> Store:
        """The profile's store, opened (and migrated) on first use."""
        if self._store is None:
            from crmpay.store import Store

            self.home.ensure_profile_dir(self.profile)
            self._store = Store.open(self.home.database(self.profile))
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def store_counts(self) -> dict[str, int]:
        """Rows per table of the profile's store (customers, mandates, payments, invoices…)."""
        return self.store().counts()

    # -- connecting services and settings (what `crmpay connect`, `status`, `config set` do) ------
    @staticmethod
    def use_memory_keyring() -> None:
        """From now on, keep this process's secrets in memory only: nothing is written to the
        OS keyring (the demo uses it). Environment variables still win over it."""
        from crmpay import secrets

        secrets.use_memory_keyring()

    def status(self) -> list[ServiceStatus]:
        """Each service: connected or not, and where its secrets come from (never their values)."""
        from crmpay.services.connections import status

        return status(self.config)

    def connect_provider(
        self, name: str, secret: str, *, environment: str, base_url: str | None = None
    ) -> AccountCheck:
        """Connect GoCardless (`secret`: an access token) or Mollie (an API key): the
        credential is checked with a cheap call, then kept in the keyring with the settings.
        A rejected one raises `AuthError` and nothing is stored."""
        from crmpay.services.connections import connect_provider

        return connect_provider(self.config, name, secret, environment=environment, base_url=base_url)

    def connect_smtp(
        self,
        *,
        host: str,
        port: int = 587,
        security: str = "starttls",
        user: str | None = None,
        from_address: str | None = None,
        password: str | None = None,
    ) -> None:
        """Connect the SMTP server invoices and setup links are emailed through (checked first)."""
        from crmpay.services.connections import connect_smtp

        connect_smtp(
            self.config,
            host=host,
            port=port,
            security=security,
            user=user,
            from_address=from_address,
            password=password,
        )

    def connect_zoho(
        self,
        *,
        client_id: str,
        client_secret: str,
        grant_code: str,
        dc: str = "eu",
        environment: str = "live",
        base_url: str | None = None,
    ) -> dict[str, Any]:
        """Connect Zoho CRM with a Self Client: the grant code is exchanged and access
        checked before the client secret and refresh token are kept."""
        from crmpay.services.crm_setup import connect_zoho

        return connect_zoho(
            self.config,
            client_id=client_id,
            client_secret=client_secret,
            grant_code=grant_code,
            dc=dc,
            environment=environment,
            base_url=base_url,
        )

    def set_setting(self, key: str, value: str, *, dry_run: bool = False) -> None:
        """Set a dotted key of the profile (`seller.name`), validated; secrets are refused."""
        from crmpay.services.settings import set_setting

        set_setting(self.config, key, value, dry_run=dry_run)

    def open_provider(self, name: str) -> PaymentProvider:
        """The connected provider's client, opened with its secret. It follows the
        `PaymentProvider` protocol (crmpay/providers/base.py): low-level reads and creates,
        none of the store, journal or locks of the use cases."""
        from crmpay.services import context

        return context.providers(self, name)[name]

    # -- the use cases ---------------------------------------------------------------------------
    @cached_property
    def invoices(self) -> Invoices:
        return Invoices(self)

    @cached_property
    def payments(self) -> Payments:
        return Payments(self)

    @cached_property
    def mandates(self) -> Mandates:
        return Mandates(self)

    @cached_property
    def customers(self) -> Customers:
        return Customers(self)

    @cached_property
    def calls(self) -> Calls:
        return Calls(self)

    @cached_property
    def crm(self) -> Crm:
        return Crm(self)

    @cached_property
    def subscriptions(self) -> Subscriptions:
        """Recurring invoices: `create`, `list`, `get`, `change_price`, `pause`, `resume`, `cancel`."""
        from crmpay.services.billing import Subscriptions

        return Subscriptions(self)

    @cached_property
    def billing(self) -> Billing:
        """`run`: issue what has come due, collect it, retry failed debits (`crmpay billing run`)."""
        from crmpay.services.billing import Billing

        return Billing(self)

    @cached_property
    def dunning(self) -> Dunning:
        """`run` and `list`: reminders for unpaid invoices (`crmpay dunning run|list`)."""
        from crmpay.services.billing import Dunning

        return Dunning(self)

    @cached_property
    def webhooks(self) -> Webhooks:
        """The webhook receiver: `serve`, `start`, `set_secret`, `status`, `process_pending`."""
        from crmpay.services.webhooks import Webhooks

        return Webhooks(self)

    def sync(
        self,
        provider: str = "all",
        *,
        full: bool = False,
        push_crm: bool = True,
        dry_run: bool = False,
        progress: Any = None,
    ) -> SyncOutcome:
        """Providers -> store -> CRM. `outcome.raise_for_outcome()` raises what a partly
        failed sync exits with."""
        from crmpay.services import sync

        return sync.run(self, provider=provider, full=full, push_crm=push_crm, dry_run=dry_run, progress=progress)


def _day(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


class Invoices:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def create(
        self,
        customer: str,
        lines: Iterable[str],
        *,
        due: date | str,
        name: str | None = None,
        language: str = "fr",
        currency: str = "EUR",
        issue_date: date | str | None = None,
        address: str | None = None,
        dry_run: bool = False,
    ) -> Invoice:
        """An invoice with the next number of the series; `lines` as "DESCRIPTION;QTY;UNIT_PRICE;VAT_RATE"."""
        from crmpay.core import clock
        from crmpay.core.invoice import InvoiceLine
        from crmpay.services.invoices.ledger import create_invoice

        seller = self._ws.config.settings.seller
        return create_invoice(
            self._ws.store(),
            prefix=seller.invoice_prefix,
            seller=seller if seller.name else None,
            customer_email=customer,
            customer_name=name,
            language=language,
            currency=currency,
            lines=[InvoiceLine.parse(text) for text in lines],
            issue_date=_day(issue_date) or clock.today(),
            due_date=_day(due) or clock.today(),
            customer_address=address,
            dry_run=dry_run,
        )

    def get(self, number: str) -> Invoice:
        from crmpay.services.invoices.ledger import load_invoice

        return load_invoice(self._ws.store(), number)

    def list(
        self, *, status: str | None = None, customer: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        from crmpay.services.invoices.ledger import list_invoices

        return list_invoices(self._ws.store(), status=status, customer=customer, limit=limit)

    def send(
        self,
        number: str,
        *,
        mandate: str | None = None,
        provider: str | None = None,
        email: bool = True,
        dry_run: bool = False,
        new_attempt: bool = False,
    ) -> SendResult:
        """Collect by direct debit with a usable mandate, else email a mandate-setup link."""
        from crmpay.services.invoices.send import send

        return send(
            self._ws, number, mandate=mandate, provider=provider, email=email, dry_run=dry_run, new_attempt=new_attempt
        )

    def collect(self, *, dry_run: bool = False) -> Sequence[SendResult]:
        """Create the scheduled (Mollie) debits whose day has come; run it daily."""
        from crmpay.services.invoices.collect import collect

        return collect(self._ws, dry_run=dry_run)

    def render(self, number: str, path: str | Path | None = None, *, fmt: str | None = None) -> Path:
        """The invoice's archived original PDF, or as Factur-X (`fmt` pdf|facturx; None: invoices.format)."""
        from crmpay.services.invoices.documents import render_to_file

        return render_to_file(self._ws.store(), self._ws.config, number, Path(path or f"{number}.pdf"), fmt=fmt)

    def new_series(self, prefix: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Open a numbering series and make it seller.invoice_prefix (`invoices new-series`)."""
        from crmpay.services.invoices.ledger import open_series

        return open_series(self._ws.store(), self._ws.config, prefix, dry_run=dry_run)


class Payments:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def cancel(self, payment_id: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Cancel while the provider still allows it; the invoice returns to unpaid."""
        from crmpay.services.payments.cancel import cancel

        return cancel(self._ws, payment_id, dry_run=dry_run)

    def list(
        self,
        *,
        provider: str | None = None,
        status: str | None = None,
        customer: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Payments in the store, newest first (`status` matches the provider's status or
        crmpay's state); what `crmpay payments list` shows."""
        from crmpay.services.listing import list_payments

        return list_payments(
            self._ws.store(), provider=provider, status=status, customer=customer, since=since, limit=limit
        )

    def record(
        self,
        number: str,
        amount: str,
        *,
        method: str,
        received_on: date | str,
        reference: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """A cheque, transfer or cash payment against an invoice; partial payments add up."""
        from crmpay.core import clock
        from crmpay.services.invoices.manual_payments import record_payment

        return record_payment(
            self._ws.store(),
            number,
            amount=amount,
            method=method,
            received_on=_day(received_on) or clock.today(),
            reference=reference,
            today=clock.today(),
            dry_run=dry_run,
        )


class Mandates:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def import_csv(
        self,
        path: str | Path,
        *,
        provider: str = "none",
        dry_run: bool = False,
        skip_invalid: bool = False,
        errors_csv: str | Path | None = None,
    ) -> ImportResult:
        from crmpay.services import mandates

        return mandates.import_file(
            self._ws,
            Path(path),
            provider=provider,
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            errors_csv=Path(errors_csv) if errors_csv else None,
        )

    def import_from(self, provider: str, **options: Any) -> LinkReport:
        """A provider's existing mandates, linked to CRM contacts (see `services.mandates`)."""
        from crmpay.services import mandates

        return mandates.import_from_provider(self._ws, provider, **options)

    def collect(self, import_id: str) -> dict[str, Any]:
        from crmpay.services import mandates

        return mandates.collect(self._ws, import_id)

    def list(self, **filters: Any) -> list[dict[str, Any]]:
        from crmpay.services import mandates

        return mandates.listing(self._ws, **filters)


class Customers:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def list(
        self,
        *,
        provider: str | None = None,
        customer: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Customers in the store, newest first; what `crmpay customers list` shows."""
        from crmpay.services.listing import list_customers

        return list_customers(self._ws.store(), provider=provider, customer=customer, since=since, limit=limit)


class Calls:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def import_file(self, path: str | Path | None, *, fmt: str | None = None, **options: Any) -> ImportReport:
        """Asterisk or SipSim call records into the CRM, by the profile's rules (`path`
        None with `from_service="sipsim"` reads SipSim's API instead)."""
        from crmpay.services import calls

        return calls.import_calls(self._ws, Path(path) if path else None, fmt=fmt, **options)

    def import_from_sipsim(self, since: str, until: str | None = None, **options: Any) -> ImportReport:
        from crmpay.services import calls

        return calls.import_calls(self._ws, None, from_service="sipsim", since=since, until=until, **options)

    def list(self, *, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        from crmpay.services import calls

        return calls.listing(self._ws, status=status, limit=limit)


class Crm:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def check(self) -> dict[str, Any]:
        """Every module and field of the mapping exists in the CRM, and the scopes work."""
        from crmpay.services.crm_setup import check

        return check(self._ws)

    def records(self, module: str, fields: Iterable[str]) -> list[dict[str, Any]]:
        """Every record of a CRM module (`Contacts`, `Calls`…) with these fields and its `id`."""
        from crmpay.services import context

        client = context.crm(self._ws)
        assert client is not None  # required: NotConnected otherwise
        try:
            return list(client.iter_records(module, list(fields)))
        finally:
            client.close()
