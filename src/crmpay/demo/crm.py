"""Zoho CRM: connect the sandbox's Self Client, then `crmpay sync` puts the customers in
Contacts (and the mandates and payments in their modules); the contacts are read back
through the CRM's API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmpay.demo.common import Renderer
    from crmpay.sandbox import Sandbox
    from crmpay.workspace import Workspace


def contacts(ws: Workspace, sandbox: Sandbox, out: Renderer) -> list[dict[str, Any]]:
    import httpx

    creds = sandbox.credentials()["zoho"]
    # a fresh grant code, as the API console gives one (they last three minutes)
    code = httpx.post(f"{sandbox.url}/__sandbox/zoho/grant_code").json()["code"]
    ws.connect_zoho(
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        grant_code=code,
        dc="eu",
        environment="local",
        base_url=sandbox.url,
    )
    out.success("connected zoho (self client: grant code exchanged, refresh token in the keyring)")
    outcome = ws.sync()
    outcome.raise_for_outcome()
    out.info(f"  crmpay sync: {outcome.crm}")
    pushed = sum(r.counts["customers"].pushed for r in outcome.reports if "customers" in r.counts)
    found = [
        {"id": r["id"], "name": f"{r.get('First_Name') or ''} {r.get('Last_Name') or ''}".strip(), "email": r["Email"]}
        for r in ws.crm.records("Contacts", ["First_Name", "Last_Name", "Email"])
        if r.get("Email")
    ]
    out.table(
        ("CRM id", "name", "email"),
        [(c["id"], c["name"], c["email"]) for c in found],
        title=f"Zoho CRM contacts ({pushed} customer records upserted by email)",
    )
    return found
