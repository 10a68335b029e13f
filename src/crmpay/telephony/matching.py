"""Who is calling: CRM contacts, leads and accounts indexed by E.164.

Zoho stores phone numbers as people typed them ("01 42 68 53 00", "+33 1 42…"), so
equality is decided here, on E.164, for every phone field of a module. Records come in
bulk: a whole module read 200 at a time, which finds every spelling. When a file has
only a few distinct callers, `phone=` searches are cheaper on a CRM of 100,000 contacts;
Zoho documents no fuzziness for them (a number is found as typed), so each caller is
searched under the spellings people use (`phones.spellings`): a number typed another
way ("01.42.68.53.00") is found only by the bulk read, which the rules'
`phone_search_up_to = 0` forces.
Either way a call never costs a CRM request of its own. Several records on one number:
the most recently modified wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crmpay.telephony.phones import spellings, to_e164

MODULES = ("Contacts", "Leads", "Accounts")
DEFAULT_PHONE_FIELDS = {
    "Contacts": ("Phone", "Mobile", "Home_Phone", "Other_Phone", "Asst_Phone"),
    "Leads": ("Phone", "Mobile"),
    "Accounts": ("Phone",),
}
EXTRA_FIELDS = {"Contacts": ("Last_Name", "Account_Name"), "Leads": ("Last_Name",), "Accounts": ("Account_Name",)}
SEARCH_UP_TO = 8  # distinct callers up to which searching (4 spellings each) beats reading whole modules


@dataclass(frozen=True, slots=True)
class Match:
    module: str
    id: str
    owner_id: str | None
    modified: str
    account_id: str | None = None  # a contact's account
    name: str = ""


def ref_id(value: Any) -> str | None:
    """The id of a lookup field (`{"id": …, "name": …}`) or of a plain id."""
    if isinstance(value, dict):
        return str(value["id"]) if value.get("id") else None
    return str(value) if value else None


class PhoneIndex:
    """E.164 -> the most recently modified record of each module."""

    def __init__(self, region: str, phone_fields: dict[str, tuple[str, ...]] | None = None) -> None:
        self.region = region
        self.phone_fields = phone_fields or dict(DEFAULT_PHONE_FIELDS)
        self._best: dict[tuple[str, str], Match] = {}

    def add(self, module: str, record: dict[str, Any]) -> None:
        found = (to_e164(str(record[f]), self.region) for f in self.phone_fields[module] if record.get(f))
        numbers = {number for number in found if number is not None}
        if not numbers:
            return
        name_field = "Account_Name" if module == "Accounts" else "Last_Name"
        name = record.get(name_field)
        match = Match(
            module,
            str(record["id"]),
            ref_id(record.get("Owner")),
            str(record.get("Modified_Time") or ""),
            ref_id(record.get("Account_Name")) if module == "Contacts" else None,
            str(name.get("name", "") if isinstance(name, dict) else name or ""),
        )
        for number in numbers:
            current = self._best.get((number, module))
            if current is None or (match.modified, match.id) > (current.modified, current.id):
                self._best[(number, module)] = match

    def put(self, number: str, match: Match) -> None:
        """A record created during this import: it matches from now on."""
        self._best[(number, match.module)] = match

    def get(self, number: str, module: str) -> Match | None:
        return self._best.get((number, module))

    def __len__(self) -> int:
        return len(self._best)


def phone_fields(crm: Any) -> dict[str, tuple[str, ...]]:
    """Every phone field of each module, from the CRM's field metadata when it says."""
    found: dict[str, tuple[str, ...]] = {}
    for module in MODULES:
        fields = crm.fields(module)
        typed = tuple(f["api_name"] for f in fields if f.get("data_type") == "phone")
        known = {f["api_name"] for f in fields}
        found[module] = (
            typed or tuple(f for f in DEFAULT_PHONE_FIELDS[module] if f in known) or DEFAULT_PHONE_FIELDS[module][:1]
        )
    return found


def load_index(
    crm: Any,
    numbers: Iterable[str],
    region: str,
    fields: dict[str, tuple[str, ...]] | None = None,
    search_up_to: int = SEARCH_UP_TO,
) -> PhoneIndex:
    """The index for these callers, read in bulk (see the module's docstring)."""
    wanted = sorted(set(numbers))
    index = PhoneIndex(region, fields)
    for module in MODULES:
        columns = ["Owner", "Modified_Time", *EXTRA_FIELDS[module], *index.phone_fields[module]]
        if len(wanted) <= search_up_to:
            for number in wanted:
                for record in crm.find_by_phone(
                    module,
                    number,
                    normalise=lambda t: to_e164(t, region),
                    fields=index.phone_fields[module],
                    spellings=spellings(number),
                ):
                    index.add(module, record)
        else:
            for record in crm.iter_records(module, columns):
                index.add(module, record)
    return index
