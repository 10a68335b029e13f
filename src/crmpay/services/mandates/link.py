"""Importing a provider's existing mandates and linking each to its CRM contact by email.

Two contacts with one email are never guessed between: the mandate is reported as
ambiguous with both contact ids and left unlinked until `--link MANDATE=CONTACT_ID`.
Contacts are looked up in bulk (COQL, 50 emails a query) and every hit is re-checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmpay.core.clock import now_iso
from crmpay.store import Store
from crmpay.store.records import upsert_bank_account, upsert_customer, upsert_mandate

if TYPE_CHECKING:
    from crmpay.core.models import Mandate
    from crmpay.crm.base import CRM
    from crmpay.providers.base import PaymentProvider

EMAILS_PER_QUERY = 50


@dataclass
class LinkReport:
    provider: str
    dry_run: bool
    mandates: int = 0
    linked: list[dict[str, str]] = field(default_factory=list)
    created_contacts: list[dict[str, str]] = field(default_factory=list)
    ambiguous: list[dict[str, Any]] = field(default_factory=list)
    no_contact: list[dict[str, str]] = field(default_factory=list)

    @property
    def unlinked(self) -> int:
        return len(self.ambiguous) + len(self.no_contact)

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "dry_run": self.dry_run,
            "mandates": self.mandates,
            "linked": self.linked,
            "created_contacts": self.created_contacts,
            "ambiguous": self.ambiguous,
            "no_contact": self.no_contact,
            "unlinked": self.unlinked,
        }


def _contacts_by_email(crm: CRM, module: str, emails: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for start in range(0, len(emails), EMAILS_PER_QUERY):
        chunk = emails[start : start + EMAILS_PER_QUERY]
        quoted = ", ".join("'" + e.replace("'", "\\\\'") + "'" for e in chunk)
        for row in crm.query(f"select id, Email from {module} where Email in ({quoted}) limit 2000"):
            email = str(row.get("Email") or "").casefold()
            if email in {e.casefold() for e in chunk}:  # re-check every hit
                found.setdefault(email, []).append(str(row["id"]))
    return found


def import_and_link(
    store: Store,
    provider: PaymentProvider,
    crm: CRM,
    *,
    contacts_module: str,
    mandate_field: str,
    all_statuses: bool = False,
    dry_run: bool = False,
    create_contacts: bool = False,
    links: dict[str, str] | None = None,
) -> LinkReport:
    report = LinkReport(provider.name, dry_run)
    customers = {c.id: c for c in provider.iter_customers()}
    mandates = [m for m in provider.iter_mandates() if all_statuses or m.usable]
    report.mandates = len(mandates)
    accounts = {a.id: a for a in provider.iter_bank_accounts()} if provider.name == "gocardless" else {}
    with store.transaction(rollback=dry_run):
        for mandate in mandates:
            customer = customers.get(mandate.customer_id or "")
            if customer is not None:
                upsert_customer(store, customer)
            account = accounts.get(mandate.bank_account_id or "")
            if account is None and provider.name == "mollie":
                account = provider.bank_account_of(mandate)
            if account is not None:
                upsert_bank_account(store, account)
            upsert_mandate(store, mandate)
    emails = sorted(
        {
            (customers[m.customer_id].email or "").casefold()
            for m in mandates
            if m.customer_id in customers and customers[m.customer_id].email
        }
    )
    by_email = _contacts_by_email(crm, contacts_module, emails)
    to_mark: list[tuple[Mandate, str]] = []
    for mandate in mandates:
        customer = customers.get(mandate.customer_id or "")
        email = (customer.email or "") if customer else ""
        forced = (links or {}).get(mandate.id)
        matches = [forced] if forced else by_email.get(email.casefold(), [])
        if len(matches) > 1:
            report.ambiguous.append({"mandate": mandate.id, "email": email, "contacts": matches})
        elif not matches:
            if create_contacts and email:
                name = (customer.name if customer else None) or email
                if dry_run:
                    report.created_contacts.append({"mandate": mandate.id, "email": email, "contact": "(new)"})
                    continue
                [result] = crm.insert(
                    contacts_module,
                    [
                        {
                            "Last_Name": name.split(" ")[-1],
                            "First_Name": " ".join(name.split(" ")[:-1]) or None,
                            "Email": email,
                        }
                    ],
                )
                if result.ok and result.id:
                    by_email[email.casefold()] = [result.id]
                    report.created_contacts.append({"mandate": mandate.id, "email": email, "contact": result.id})
                    to_mark.append((mandate, result.id))
                    continue
            report.no_contact.append({"mandate": mandate.id, "email": email})
        else:
            to_mark.append((mandate, matches[0]))
    if not dry_run and to_mark:
        crm.update(contacts_module, [{"id": contact, mandate_field: True} for _, contact in to_mark])
        with store.transaction():
            for mandate, contact in to_mark:
                store.db.execute(
                    "INSERT INTO crm_links (kind, local_key, crm_module, crm_id, pushed_at) VALUES"
                    " ('mandate', ?, ?, ?, ?) ON CONFLICT (kind, local_key, crm_module) DO UPDATE SET"
                    " crm_id = excluded.crm_id, pushed_at = excluded.pushed_at",
                    (f"{mandate.provider}:{mandate.id}", contacts_module, contact, now_iso()),
                )
                store.audit("zoho", "update", contacts_module, contact, detail={"mandate": mandate.id})
    report.linked = [
        {"mandate": m.id, "contact": c}
        for m, c in to_mark
        if not any(x["mandate"] == m.id for x in report.created_contacts)
    ]
    return report
