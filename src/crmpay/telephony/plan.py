"""From calls and rules to a plan: what each call matches and what it makes in the CRM.

Planning is pure (no I/O): it reads a `PhoneIndex` and a `DealBook` loaded in bulk and
returns every record to write, in the order their links need (accounts, leads,
contacts, deals, tasks, calls). A record planned for one call is reused by the next
call from the same number, so a first-time caller makes one lead, not one per call.

Per call, in order: ignore? -> match -> account / lead / contact as the rules say ->
deal per policy -> a task for a missed call -> a Call record.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crmpay.telephony.calls import Call
from crmpay.telephony.matching import Match, PhoneIndex, ref_id
from crmpay.telephony.rules import CallRules, render_template

ORDER = ("Accounts", "Leads", "Contacts", "Deals", "Tasks", "Calls")
KEYED = ("Deals", "Tasks", "Calls")  # carry the call's identity: found again, never written twice
UPSERTABLE = ("Deals",)  # Zoho's upsert takes Deals, not Tasks or Calls (docs/fidelity.md)
PLANNED = "@"  # ids of records planned in this import start with it


@dataclass(frozen=True, slots=True)
class Ref:
    """A record planned in this import; its CRM id is known once it is written."""

    key: str


@dataclass
class PlannedRecord:
    key: str
    module: str
    data: dict[str, Any]
    calls: list[str]  # identities of the calls that need it
    line: int  # the file line of the first of them
    id: str | None = None
    action: str | None = None  # insert / update, from the CRM's answer
    error: str | None = None


@dataclass
class CallStep:
    call: Call
    outcome: str  # planned / ignored / already imported
    reason: str = ""
    matched: list[str] = field(default_factory=list)  # "contact 123", …
    creates: list[str] = field(default_factory=list)  # keys of records this call makes
    needs: list[str] = field(default_factory=list)  # keys of planned records this call uses

    def describe(self) -> str:
        if self.outcome != "planned":
            return f"{self.outcome}: {self.reason}" if self.reason else self.outcome
        parts = [f"matched {', '.join(self.matched)}" if self.matched else "no match"]
        if self.creates:
            parts.append("would create " + ", ".join(k.split(":", 1)[0] for k in self.creates))
        return "; ".join(parts)


@dataclass
class Plan:
    steps: list[CallStep]
    records: dict[str, PlannedRecord]

    def module(self, name: str) -> list[PlannedRecord]:
        return [r for r in self.records.values() if r.module == name]


class DealBook:
    """Existing deals by account or contact id: when each was created and whether it is open."""

    def __init__(self) -> None:
        self._deals: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)

    def add(self, anchors: list[str | None], created: datetime, stage: str) -> None:
        is_open = not stage.casefold().startswith("closed")
        for anchor in filter(None, anchors):
            self._deals[anchor].append((created, is_open))

    def load(self, records: list[dict[str, Any]] | Any) -> DealBook:
        for deal in records:
            created = _parse_time(deal.get("Created_Time"))
            if created is None:
                continue
            anchors = [ref_id(deal.get("Account_Name")), ref_id(deal.get("Contact_Name"))]
            self.add(anchors, created, str(deal.get("Stage") or ""))
        return self

    def allows(self, policy: str, anchor: str, at: datetime) -> bool:
        deals = self._deals.get(anchor, [])
        if policy == "always":
            return True
        if policy == "if_no_deals":
            return not deals
        if policy == "if_no_open_deals_last_year":
            year_ago = at - timedelta(days=365)
            return not any(is_open and created > year_ago for created, is_open in deals)
        return False


def _parse_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def duration_text(seconds: int, style: str) -> str:
    """A call's duration as the CRM is configured to read it."""
    seconds = max(0, int(seconds))
    if style == "seconds":
        return str(seconds)
    if style == "minutes":
        return str((seconds + 59) // 60)
    if style == "hh:mm":  # whole minutes, rounded up: a 20-second call is 00:01
        minutes = (seconds + 59) // 60
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    if style == "hh:mm:ss":
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60:02d}:{seconds % 60:02d}"  # mm:ss


class Planner:
    def __init__(
        self,
        rules: CallRules,
        users: dict[str, str],
        index: PhoneIndex,
        deals: DealBook | None,
        id_field: str,
        *,
        deal_layout: str | None = None,
    ) -> None:
        self.rules, self.users, self.index, self.deals = rules, users, index, deals or DealBook()
        self.id_field = id_field
        self.deal_layout = deal_layout
        self.lines = rules.line_numbers()
        self.ignored = rules.ignored()
        self.records: dict[str, PlannedRecord] = {}

    # -- owners ----------------------------------------------------------------------------------
    def _user(self, email: str | None) -> str | None:
        return self.users.get(email.casefold()) if email else None

    def manager(self, call: Call) -> str | None:
        """The line's manager, else the default owner, else none (the CRM's API user)."""
        line = self.lines.get(call.line) if call.line else None
        return self._user(line.manager if line else None) or self._user(self.rules.default_owner)

    def _owner(self, choice: str, call: Call, other: Match | None, other_choice: str) -> str | None:
        if choice == "default_owner":
            return self._user(self.rules.default_owner)
        if choice in ("account_owner", "contact_owner"):  # the other record's owner
            if other is not None:
                return other.owner_id
            if other_choice in ("line_manager", "default_owner"):
                return self._owner(other_choice, call, None, "line_manager")
        return self.manager(call)

    # -- records ---------------------------------------------------------------------------------
    def _new(self, key: str, module: str, data: dict[str, Any], call: Call) -> str:
        if key in self.records:
            self.records[key].calls.append(call.identity)
        else:
            data = {k: v for k, v in data.items() if v is not None}
            owner = data.pop("Owner", None)
            if owner:
                data["Owner"] = {"id": owner}
            self.records[key] = PlannedRecord(key, module, data, [call.identity], call.line_number)
        return key

    def _link(self, match: Match | None) -> dict[str, Any] | None:
        if match is None:
            return None
        return {"id": Ref(match.id[1:])} if match.id.startswith(PLANNED) else {"id": match.id}

    # -- one call ----------------------------------------------------------------------------------
    def plan(self, calls: list[Call], done: set[str]) -> Plan:
        steps = [self._step(call, done) for call in sorted(calls, key=lambda c: (c.started_at, c.identity))]
        return Plan(steps, self.records)

    def _step(self, call: Call, done: set[str]) -> CallStep:
        if call.identity in done:
            return CallStep(call, "already imported")
        if call.customer is None:
            return CallStep(call, "ignored", "no customer number (internal, short or unreadable)")
        hit = self.ignored & ({call.customer, call.line} | _raw_numbers(call, self.rules.default_region))
        if hit:
            return CallStep(call, "ignored", f"number {sorted(hit)[0]} is in ignore_numbers")
        step = CallStep(call, "planned")
        number, rules = call.customer, self.rules
        contact = self.index.get(number, "Contacts")
        lead = self.index.get(number, "Leads")
        account = self.index.get(number, "Accounts")
        for label, found in (("contact", contact), ("lead", lead), ("account", account)):
            if found is not None:
                where = "planned" if found.id.startswith(PLANNED) else found.id
                step.matched.append(f"{label} {where}")
        if contact is not None and account is None and contact.account_id:
            account = Match("Accounts", contact.account_id, None, "")
        nothing_known = contact is None and lead is None and account is None

        if account is None and rules.create_account:
            owner = self._owner(rules.account_owner, call, contact, rules.contact_owner)
            account = self._planned(
                step,
                "Accounts",
                f"account:{number}",
                call,
                owner,
                {"Account_Name": number, "Phone": number, "Owner": owner},
            )
        if nothing_known and rules.create_lead_on_first_contact:
            owner = self.manager(call)
            data: dict[str, Any] = {"Last_Name": number, "Company": number, "Phone": number, "Owner": owner}
            if rules.lead_status:
                data["Lead_Status"] = rules.lead_status
            lead = self._planned(step, "Leads", f"lead:{number}", call, owner, data)
        if contact is None and rules.create_contact:
            owner = self._owner(rules.contact_owner, call, account, rules.account_owner)
            data = {"Last_Name": number, "Phone": number, "Owner": owner}
            if account is not None:
                data["Account_Name"] = self._link(account)
            contact = self._planned(step, "Contacts", f"contact:{number}", call, owner, data)

        self._deal(step, call, account, contact)
        who = contact or lead
        for match in (account, contact, lead):
            if match is not None and match.id.startswith(PLANNED) and match.id[1:] not in step.needs:
                step.needs.append(match.id[1:])
                if call.identity not in self.records[match.id[1:]].calls:
                    self.records[match.id[1:]].calls.append(call.identity)
        if call.missed and rules.missed_call_task:
            self._task(step, call, who, account)
        if rules.create_call_records:
            self._call_record(step, call, who, account)
        return step

    def _planned(
        self, step: CallStep, module: str, key: str, call: Call, owner: str | None, data: dict[str, Any]
    ) -> Match:
        self._new(key, module, data, call)
        step.creates.append(key)
        match = Match(module, PLANNED + key, owner, "9999", None)
        self.index.put(call.customer or "", match)
        return match

    def _deal(self, step: CallStep, call: Call, account: Match | None, contact: Match | None) -> None:
        policy = self.rules.deal_policy
        anchor = account or contact
        if policy == "never" or anchor is None:
            return
        if not self.deals.allows(policy, anchor.id, call.started_at):
            return
        line = self.lines.get(call.line) if call.line else None
        pipeline = (line.pipeline if line and line.pipeline else None) or self.rules.pipeline
        stage = (line.stage if line and line.stage else None) or self.rules.stage or ""
        data: dict[str, Any] = {
            "Deal_Name": f"Call {call.customer} {call.started_at.date().isoformat()}",
            "Stage": stage,
            "Pipeline": pipeline,
            "Closing_Date": (call.started_at.date() + timedelta(days=30)).isoformat(),
            "Owner": self.manager(call),
            self.id_field: call.identity,
        }
        if self.deal_layout:
            data["Layout"] = {"id": self.deal_layout}  # the layout whose pipelines the rules were checked against
        if account is not None:
            data["Account_Name"] = self._link(account)
        if contact is not None:
            data["Contact_Name"] = self._link(contact)
        key = self._new(f"deal:{call.identity}", "Deals", data, call)
        step.creates.append(key)
        step.needs.append(key)
        self.deals.add([anchor.id], call.started_at, stage)

    def _task(self, step: CallStep, call: Call, who: Match | None, account: Match | None) -> None:
        number = call.customer or ""
        data: dict[str, Any] = {
            "Subject": render_template(self.rules.task_subject, number=number),
            "Due_Date": (call.started_at.date() + timedelta(days=self.rules.task_due_days)).isoformat(),
            "Status": "Not Started",
            "Priority": self.rules.task_priority,
            "Owner": self.manager(call),
            "Description": _describe(call),
            self.id_field: call.identity,
        }
        self._who_what(data, who, account)
        key = self._new(f"task:{call.identity}", "Tasks", data, call)
        step.creates.append(key)
        step.needs.append(key)

    def _call_record(self, step: CallStep, call: Call, who: Match | None, account: Match | None) -> None:
        number = call.customer or ""
        if call.direction == "inbound":
            kind = "Missed" if call.missed else "Inbound"
            subject = f"{'Missed call' if call.missed else 'Inbound call'} from {number}"
        else:
            kind, subject = "Outbound", f"{'Unanswered call' if call.missed else 'Outbound call'} to {number}"
        data: dict[str, Any] = {
            "Subject": subject,
            "Call_Type": kind,
            "Call_Start_Time": call.started_at.isoformat(timespec="seconds"),
            "Call_Duration": duration_text(call.duration_s if call.answered else 0, self.rules.call_duration_format),
            "Owner": self.manager(call),
            "Description": _describe(call),
            self.id_field: call.identity,
        }
        data["Caller_ID" if call.direction == "inbound" else "Dialled_Number"] = number
        self._who_what(data, who, account)
        key = self._new(f"call:{call.identity}", "Calls", data, call)
        step.creates.append(key)
        step.needs.append(key)

    def _who_what(self, data: dict[str, Any], who: Match | None, account: Match | None) -> None:
        if who is not None:
            data["Who_Id"] = self._link(who)
        if account is not None and (who is None or who.module == "Contacts"):
            data["What_Id"] = self._link(account)
            data["$se_module"] = "Accounts"


def _describe(call: Call) -> str:
    return f"{call.source} call {call.identity}: {call.raw_caller} -> {call.raw_receiver}"


def _raw_numbers(call: Call, region: str) -> set[str]:
    from crmpay.telephony.phones import to_e164

    return {n for n in (to_e164(call.raw_caller, region), to_e164(call.raw_receiver, region)) if n}
