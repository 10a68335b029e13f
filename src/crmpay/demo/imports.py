"""An operator's files, shipped as package data: an accountant's mandate CSV into
Mollie, and an Asterisk Master.csv into Zoho CRM by a rules file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmpay.demo.files import ACCOUNTANT_CSV, ASTERISK_CDR, CALL_RULES, copy_sample, in_year, sample

if TYPE_CHECKING:
    from crmpay.demo.common import Renderer
    from crmpay.sandbox import Sandbox
    from crmpay.workspace import Workspace

SALES = {"email": "sales@demo.example", "name": "Sam Sales"}  # the manager call-rules.toml names


def mandate_csv(ws: Workspace, out: Renderer) -> dict[str, Any]:
    """Every row checked first; the valid ones become Mollie mandates, the bad one is reported."""
    signed = in_year(sample(ACCOUNTANT_CSV), ws.today().year - 1)  # recent signatures, whatever today is
    path = copy_sample(ACCOUNTANT_CSV, ws.home.data_dir, signed)
    result = ws.mandates.import_csv(path, provider="mollie", skip_invalid=True)
    for problem in result.problems:
        out.info(f"  {path.name}: {problem}")
    out.success(
        f"mandate CSV (Windows-1252, ';'): {result.rows} rows, {result.imported} mandates created at "
        f"Mollie, {result.invalid} row rejected"
    )
    return {"rows": result.rows, "imported": result.imported, "problems": [str(p) for p in result.problems]}


def calls(ws: Workspace, sandbox: Sandbox, out: Renderer) -> dict[str, Any]:
    """Contacts for unknown callers, a task for the missed call, a call record each;
    what was written is read back from the CRM."""
    import httpx

    httpx.post(f"{sandbox.url}/__sandbox/zoho/users", json=SALES).raise_for_status()
    rules = copy_sample(CALL_RULES, ws.home.data_dir)
    path = copy_sample(ASTERISK_CDR, ws.home.data_dir)
    report = ws.calls.import_file(path, fmt="asterisk", rules_file=rules)
    made = [
        ("Contacts", r.get("Last_Name"), r.get("Phone"))
        for r in ws.crm.records("Contacts", ["Last_Name", "Phone"])
        if r.get("Phone")
    ]
    made += [("Tasks", r.get("Subject"), r.get("Due_Date")) for r in ws.crm.records("Tasks", ["Subject", "Due_Date"])]
    made += [
        ("Calls", r.get("Subject"), f"{r.get('Call_Type')} {r.get('Call_Start_Time')} {r.get('Call_Duration')}")
        for r in ws.crm.records("Calls", ["Subject", "Call_Type", "Call_Start_Time", "Call_Duration"])
    ]
    out.table(
        ("module", "record", "detail"),
        made,
        title=f"Calls import ({path.name}): {report.read} calls, {report.ignored} ignored (internal)",
    )
    return report.as_dict()
