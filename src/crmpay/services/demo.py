"""The demo tour: every step is a real crmpay operation against the local sandbox."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

from crmpay import secrets
from crmpay.config import Config
from crmpay.core import clock
from crmpay.core.models import NewCustomer, NewMandate, NewPayment
from crmpay.core.money import Money
from crmpay.paths import Home
from crmpay.services.connections import connect_provider, status

T = TypeVar("T")


def _present(value: T | None, what: str) -> T:
    """A value the tour's previous step produced; a clear error if the sandbox did not."""
    if value is None:
        from crmpay.core.errors import OperationFailed

        raise OperationFailed(f"the demo expected {what} from the sandbox and got none")
    return value


class Renderer(Protocol):
    def info(self, message: str) -> None: ...
    def success(self, message: str) -> None: ...
    def table(self, columns: Any, rows: Any, *, title: str | None = None, empty: str = ...) -> None: ...


def run_tour(root: Path, out: Renderer) -> dict[str, Any]:
    from crmpay.providers import open_provider
    from crmpay.sandbox import Sandbox
    from crmpay.store import Store

    secrets.use_memory_keyring()
    home = Home.resolve(root)
    config = Config.load(home, "demo", environ={})
    summary: dict[str, Any] = {"home": str(root), "profile": "demo"}

    # The sandbox starts at crmpay's date (pinned with CRMPAY_TODAY, else the real one),
    # and crmpay follows the sandbox's clock as the tour moves it on.
    with Sandbox(start=clock.now() if clock.is_pinned() else None) as sandbox, clock.following(sandbox.clock.now):
        creds = sandbox.credentials()
        out.info(f"Sandbox running at {sandbox.url} (test credentials, nothing leaves this machine)")

        # 1. status and the empty store
        _show_status(config, out, "Before connecting")
        home.ensure_profile_dir(config.profile)
        with Store.open(home.database(config.profile)) as store:
            counts = store.counts()
        out.table(("table", "rows"), counts.items(), title=f"Store {home.database(config.profile)}")
        summary["store_before"] = counts

        # 2. connect both providers (credentials checked against the sandbox)
        providers = ("gocardless", "mollie")
        for name, field in (("gocardless", "access_token"), ("mollie", "api_key")):
            check = connect_provider(config, name, creds[name][field], environment="local", base_url=sandbox.url)
            for warning in check.warnings:
                out.info(f"  {name}: {warning}")
            out.success(f"connected {name} ({check.account_name or check.account_id})")
        config = Config.load(home, "demo", environ={})
        _show_status(config, out, "After connecting")

        # 3. a mandate and a payment moving through their lifecycle, at each provider
        lifecycles: dict[str, list[dict[str, str]]] = {}
        for name in providers:
            provider = open_provider(config, name)
            lifecycles[name] = _collect_once(provider, sandbox, name)
            out.table(
                ("day", "mandate", "mandate status", "payment", "payment status"),
                [
                    (s["day"], s["mandate"], s["mandate_status"], s["payment"], s["payment_status"])
                    for s in lifecycles[name]
                ],
                title=f"{name}: a direct debit of 49.90 EUR, day by day",
            )
        summary["lifecycles"] = lifecycles
        summary["invoices"] = _invoice_tour(home, config, sandbox, out)
        summary["crm_contacts"] = _crm_tour(home, sandbox, out)
        summary["mandate_csv"] = _csv_tour(home, config, out)
        summary["calls"] = _calls_tour(home, sandbox, out)
    out.success("demo finished: every step above ran against the local sandbox over HTTP")
    return summary


def _show_status(config: Config, out: Renderer, title: str) -> None:
    rows = [(s.service, "connected" if s.connected else "-", s.source or "") for s in status(config)]
    out.table(("service", "state", "secrets from"), rows, title=title)


def _collect_once(provider: Any, sandbox: Any, name: str) -> list[dict[str, str]]:
    key = f"demo:{name}"
    customer = provider.create_customer(
        NewCustomer(
            email="camille.martin@example.fr",
            name="Camille Martin",
            given_name="Camille",
            family_name="Martin",
            language="fr",
            country_code="FR",
        ),
        idempotency_key=f"{key}:customer",
    )
    mandate = provider.create_mandate(
        NewMandate(
            customer_id=customer.id,
            holder_name="Camille Martin",
            iban="FR1420041010050500013M02606",
            reference=f"DEMO-{name.upper()}-001",
            signature_date=sandbox.clock.today(),
        ),
        idempotency_key=f"{key}:mandate",
    )
    charge = max(sandbox.clock.today() + timedelta(days=7), mandate.next_possible_charge_date or sandbox.clock.today())
    payment = provider.create_payment(
        NewPayment(
            mandate_id=mandate.id,
            customer_id=customer.id,
            amount=Money(Decimal("49.90"), "EUR"),
            description="Invoice DEMO-1",
            charge_date=charge,
            metadata={"invoice": "DEMO-1"},
        ),
        idempotency_key=f"{key}:payment",
    )
    steps: list[dict[str, str]] = []
    for day in range(0, 15):
        if day:
            sandbox.advance(1)
        mandate = provider.get_mandate(mandate.id, customer_id=customer.id)
        payment = provider.get_payment(payment.id)
        row = {
            "day": str(day),
            "mandate": mandate.id,
            "mandate_status": mandate.status,
            "payment": payment.id,
            "payment_status": payment.status,
        }
        if not steps or (row["mandate_status"], row["payment_status"]) != (
            steps[-1]["mandate_status"],
            steps[-1]["payment_status"],
        ):
            steps.append(row)
    return steps


def _invoice_tour(home: Home, config: Config, sandbox: Any, out: Renderer) -> dict[str, Any]:
    """Invoices: one by mandate, one by a setup link the customer completes; the clock
    moves, sync sees the money; a late cancel is refused, an early one accepted."""

    import httpx

    from crmpay.core.errors import OperationFailed
    from crmpay.core.invoice import InvoiceLine
    from crmpay.mail import send as send_mail
    from crmpay.providers import open_provider
    from crmpay.services.invoices.documents import seller_from
    from crmpay.services.invoices.ledger import create_invoice, load_invoice
    from crmpay.services.invoices.send import InvoiceSender
    from crmpay.services.payments.cancel import cancel_payment
    from crmpay.services.sync import sync_providers
    from crmpay.store import Store

    smtp = sandbox.credentials()["smtp"]
    config.update_section(
        "smtp",
        {"host": smtp["host"], "port": smtp["port"], "security": "none", "from_address": "facturation@acme.example"},
    )
    config.set_value("seller.name", "Acme Facturation SAS")
    config.set_value("seller.address", "12 rue de la Paix\n75002 Paris")
    config.set_value("seller.siren", "123456789")
    config = Config.load(home, "demo", environ={})
    providers = {n: open_provider(config, n) for n in ("gocardless", "mollie")}
    settings = _present(config.settings.smtp, "the SMTP settings just written")
    results: dict[str, Any] = {}
    with Store.open(home.database(config.profile)) as store:
        sync_providers(store, providers)  # the demo's customers and mandates into the store
        sender = InvoiceSender(
            store,
            config.profile,
            providers,
            seller=seller_from(config),
            mailer=lambda m: send_mail(settings, None, m),
            sender=settings.from_address,
        )
        due = sandbox.clock.today()
        lines = [InvoiceLine.parse("Maintenance annuelle;1;99.00;20"), InvoiceLine.parse("Livre;2;12.50;5.5")]

        def invoice(email: str, name: str) -> Any:
            return create_invoice(
                store,
                prefix="INV-",
                customer_email=email,
                customer_name=name,
                language="fr",
                currency="EUR",
                lines=lines,
                issue_date=due,
                due_date=due,
            )

        by_mandate = sender.send(invoice("camille.martin@example.fr", "Camille Martin"), provider="gocardless")
        out.success(
            f"{by_mandate.number}: direct debit {by_mandate.payment_id} for {by_mandate.amount} EUR "
            f"on {by_mandate.charge_date}, email {by_mandate.email}"
        )
        by_link = sender.send(invoice("yamada@example.jp", "山田太郎"), provider="gocardless")
        out.success(f"{by_link.number}: no mandate yet, setup link emailed: {by_link.setup_link}")
        httpx.post(
            _present(by_link.setup_link, "a setup link"),
            data={"account_holder_name": "Yamada Taro", "iban": "DE89370400440532013000"},
        )
        out.info("  the customer completed the setup page; the next send uses the new mandate")
        sync_providers(store, providers)
        second = sender.send(invoice("yamada@example.jp", "山田太郎"), provider="gocardless")
        out.success(f"{second.number}: direct debit {second.payment_id} on the new mandate {second.mandate_id}")
        early = sender.send(invoice("camille.martin@example.fr", "Camille Martin"), provider="gocardless", email=False)
        cancelled = cancel_payment(store, providers, _present(early.payment_id, "a payment"))
        out.success(
            f"{early.number}: payment {early.payment_id} cancelled before it reached the bank ({cancelled['status']})"
        )
        for _ in range(12):
            sandbox.advance(1)
        reports = sync_providers(store, providers)
        out.table(
            ("provider", "mode", "resource", "fetched", "new", "updated"),
            [
                (r.provider, r.mode, resource, c.fetched, c.new, c.updated)
                for r in reports
                for resource, c in r.counts.items()
            ],
            title="crmpay sync after 12 days (GoCardless from events, Mollie newest first)",
        )
        try:
            cancel_payment(store, providers, _present(by_mandate.payment_id, "a payment"))
            refused = "accepted?!"
        except OperationFailed as exc:
            refused = str(exc)
        out.info(f"late cancel refused: {refused}")
        rows = [
            (n, load_invoice(store, n).status, load_invoice(store, n).paid_on or "")
            for n in (by_mandate.number, by_link.number, second.number, early.number)
        ]
        out.table(("invoice", "status", "paid on"), rows, title="invoices after the clock moved 12 days and a sync")
        mail = httpx.get(f"{sandbox.url}/__sandbox/mail").json()
        out.info(f"emails sent to the sandbox's SMTP sink: {len(mail)} ({', '.join(m['subject'] for m in mail)})")
        results = {
            "statuses": {n: st for n, st, _ in rows},
            "late_cancel_refused": refused,
            "emails": len(mail),
            "invoices_paid_by_sync": [n for r in reports for n in r.invoices_updated],
            "sync": [r.as_dict() for r in reports],
        }
    return results


def _crm_tour(home: Home, sandbox: Any, out: Renderer) -> list[dict[str, Any]]:
    """Connect Zoho CRM (the sandbox's self client) and put the customers in Contacts."""
    import httpx

    from crmpay.crm import open_crm
    from crmpay.services.crm_setup import connect_zoho
    from crmpay.store import Store

    creds = sandbox.credentials()["zoho"]
    config = Config.load(home, "demo", environ={})
    # a fresh grant code, as the API console gives one (they last three minutes)
    code = httpx.post(f"{sandbox.url}/__sandbox/zoho/grant_code").json()["code"]
    connect_zoho(
        config,
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        grant_code=code,
        dc="eu",
        environment="local",
        base_url=sandbox.url,
    )
    out.success("connected zoho (self client: grant code exchanged, refresh token in the keyring)")
    crm = open_crm(Config.load(home, "demo", environ={}))
    with Store.open(home.database("demo")) as store:
        people = {
            r["email"].lower(): r["name"]
            for r in store.db.execute("SELECT email, name FROM customers WHERE email IS NOT NULL")
        }
    records = [
        {
            "Last_Name": (name or email).split(" ")[-1],
            "First_Name": " ".join((name or "").split(" ")[:-1]),
            "Email": email,
        }
        for email, name in sorted(people.items())
    ]
    results = crm.upsert("Contacts", records, ["Email"])
    contacts = [
        {"id": r["id"], "name": f"{r.get('First_Name') or ''} {r['Last_Name']}".strip(), "email": r["Email"]}
        for r in crm.iter_records("Contacts", ["First_Name", "Last_Name", "Email"])
    ]
    out.table(
        ("CRM id", "name", "email"),
        [(c["id"], c["name"], c["email"]) for c in contacts],
        title=f"Zoho CRM contacts ({sum(r.ok for r in results)} upserted by email)",
    )
    crm.close()
    return contacts


ACCOUNTANT_CSV = (
    "Nom;E-mail;IBAN;BIC;RUM;Date de signature\r\n"
    "Société Générale Services;compta@sgs.example;FR14 2004 1010 0505 0001 3M02 606;;RUM-2024-001;15/03/2024\r\n"
    "Boulangerie Dupont;contact@dupont.example;DE89 3704 0044 0532 0130 00;COBADEFFXXX;RUM-2024-002;02/04/2024\r\n"
    "Café de la Gare;cafe@gare.example;FR14 2004 1010 0505 0001 3M02 605;;RUM-2024-003;31/02/2024\r\n"
)


def _csv_tour(home: Home, config: Config, out: Renderer) -> dict[str, Any]:
    """An accountant's file into Mollie: every row checked first, the bad one reported."""
    from crmpay.providers import open_provider
    from crmpay.services.mandates.csv_import import import_csv
    from crmpay.store import Store

    path = home.data_dir / "mandats-comptable.csv"
    path.write_bytes(ACCOUNTANT_CSV.encode("cp1252"))  # as a French spreadsheet saves it
    with Store.open(home.database(config.profile)) as store:
        result = import_csv(
            store,
            path,
            provider="mollie",
            today=clock.today(),
            skip_invalid=True,
            client=open_provider(config, "mollie"),
            profile=config.profile,
        )
    for problem in result.problems:
        out.info(f"  {path.name}: {problem}")
    out.success(
        f"mandate CSV (Windows-1252, ';'): {result.rows} rows, {result.imported} mandates created at "
        f"Mollie, {result.invalid} row rejected"
    )
    return {"rows": result.rows, "imported": result.imported, "problems": [str(p) for p in result.problems]}


DEMO_CDR = (
    "\n".join(
        ",".join(cells)
        for cells in (
            # accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata,
            # start, answer, end, duration, billsec, disposition, amaflags, uniqueid
            (
                '""',
                '"0612345678"',
                '"0142685300"',
                '"from-trunk"',
                '"""Camille"" <0612345678>"',
                '"SIP/trunk-01"',
                '"SIP/101-01"',
                '"Dial"',
                '"SIP/101"',
                '"2026-11-20 09:12:03"',
                '"2026-11-20 09:12:09"',
                '"2026-11-20 09:16:41"',
                "278",
                "272",
                '"ANSWERED"',
                '"DOCUMENTATION"',
                '"1763626323.1"',
            ),
            (
                '""',
                '"0612345678"',
                '"0142685300"',
                '"from-trunk"',
                '"""Camille"" <0612345678>"',
                '"SIP/trunk-02"',
                '"SIP/101-02"',
                '"Dial"',
                '"SIP/101"',
                '"2026-11-20 14:02:00"',
                '""',
                '"2026-11-20 14:02:30"',
                "30",
                "0",
                '"NO ANSWER"',
                '"DOCUMENTATION"',
                '"1763643720.2"',
            ),
            (
                '""',
                '"0142685300"',
                '"0478123456"',
                '"from-internal"',
                '"""Sales"" <101>"',
                '"SIP/101-03"',
                '"SIP/trunk-03"',
                '"Dial"',
                '"SIP/trunk/0478123456"',
                '"2026-11-20 15:30:00"',
                '"2026-11-20 15:30:12"',
                '"2026-11-20 15:41:02"',
                "662",
                "650",
                '"ANSWERED"',
                '"DOCUMENTATION"',
                '"1763649000.3"',
            ),
            (
                '""',
                '"101"',
                '"102"',
                '"from-internal"',
                '"""Sales"" <101>"',
                '"SIP/101-04"',
                '"SIP/102-04"',
                '"Dial"',
                '"SIP/102"',
                '"2026-11-20 16:00:00"',
                '"2026-11-20 16:00:03"',
                '"2026-11-20 16:01:00"',
                "60",
                "57",
                '"ANSWERED"',
                '"DOCUMENTATION"',
                '"1763650800.4"',
            ),
        )
    )
    + "\n"
)


def _calls_tour(home: Home, sandbox: Any, out: Renderer) -> dict[str, Any]:
    """A small Asterisk Master.csv into Zoho CRM: contacts, a missed-call task, call records."""
    import httpx

    from crmpay.crm import open_crm
    from crmpay.services.calls.importer import crm_context, import_calls
    from crmpay.store import Store
    from crmpay.telephony.rules import CallRules
    from crmpay.telephony.sources import read_calls

    httpx.post(f"{sandbox.url}/__sandbox/zoho/users", json={"email": "sales@demo.example", "name": "Sam Sales"})
    rules = CallRules.model_validate(
        {
            "default_region": "FR",
            "timezone": "Europe/Paris",
            "create_contact": True,
            "missed_call_task": True,
            "lines": [{"number": "01 42 68 53 00", "manager": "sales@demo.example"}],
        }
    )
    path = home.data_dir / "Master.csv"
    path.write_text(DEMO_CDR, encoding="utf-8")
    parsed = read_calls(
        path, "asterisk", region=rules.default_region, tz=rules.timezone, lines=set(rules.line_numbers())
    )
    config = Config.load(home, "demo", environ={})
    crm = open_crm(config)
    id_field = config.settings.crm.call_id_field
    context = crm_context(crm, rules, id_field, "demo rules")
    with Store.open(home.database("demo")) as store:
        report = import_calls(
            store,
            crm,
            rules,
            parsed.calls,
            parsed.problems,
            users=context.users,
            id_field=id_field,
            deal_layout=context.deal_layout,
        )
    zoho = sandbox.services["zoho"].records
    made = [("Contacts", r["Last_Name"], r.get("Phone")) for r in zoho["Contacts"].values() if r.get("Phone")]
    made += [("Tasks", r["Subject"], r["Due_Date"]) for r in zoho["Tasks"].values()]
    made += [
        ("Calls", r["Subject"], f"{r['Call_Type']} {r['Call_Start_Time']} {r['Call_Duration']}")
        for r in zoho["Calls"].values()
    ]
    out.table(
        ("module", "record", "detail"),
        made,
        title=f"Calls import ({path.name}): {report.read} calls, {report.ignored} ignored (internal)",
    )
    crm.close()
    return report.as_dict()
