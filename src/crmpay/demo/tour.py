"""The tour: the sandbox started, crmpay following its clock, each step in turn."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmpay.core import clock

if TYPE_CHECKING:
    from crmpay.demo.common import Renderer
    from crmpay.sandbox import Sandbox
    from crmpay.workspace import Workspace

PROFILE = "demo"
PROVIDERS = {"gocardless": "access_token", "mollie": "api_key"}  # provider -> its sandbox credential


def run_tour(root: Path, out: Renderer) -> dict[str, Any]:
    """Run every step on the home `root` (profile "demo", secrets in memory only) and
    return the summary `crmpay demo --json` prints."""
    from crmpay import Workspace
    from crmpay.demo import crm, imports, invoices, lifecycle, webhooks
    from crmpay.sandbox import Sandbox

    Workspace.use_memory_keyring()
    summary: dict[str, Any] = {"home": str(root), "profile": PROFILE}
    # The sandbox starts at crmpay's date (pinned with CRMPAY_TODAY, else the real one),
    # and crmpay follows the sandbox's clock as the tour moves it on.
    start = clock.now() if clock.is_pinned() else None
    with (
        Workspace(profile=PROFILE, home=root) as ws,
        Sandbox(start=start) as sandbox,
        clock.following(sandbox.clock.now),
    ):
        out.info(f"Sandbox running at {sandbox.url} (test credentials, nothing leaves this machine)")
        show_status(ws, out, "Before connecting")
        counts = ws.store_counts()
        out.table(("table", "rows"), counts.items(), title=f"Store {ws.home.database(ws.profile)}")
        summary["store_before"] = counts
        connect_providers(ws, sandbox, out)
        show_status(ws, out, "After connecting")
        summary["lifecycles"] = {name: lifecycle.show(ws, sandbox, name, out) for name in PROVIDERS}
        summary["invoices"] = invoices.tour(ws, sandbox, out)
        summary["crm_contacts"] = crm.contacts(ws, sandbox, out)
        mandate = summary["lifecycles"]["gocardless"][-1]["mandate"]
        summary["webhooks"] = webhooks.realtime(ws, sandbox, mandate, out)
        summary["mandate_csv"] = imports.mandate_csv(ws, out)
        summary["calls"] = imports.calls(ws, sandbox, out)
        from crmpay.demo import billing

        summary["billing"] = billing.tour(ws, sandbox, out)  # three months of a subscription
    out.success("demo finished: every step above ran against the local sandbox over HTTP")
    return summary


def show_status(ws: Workspace, out: Renderer, title: str) -> None:
    rows = [(s.service, "connected" if s.connected else "-", s.source or "") for s in ws.status()]
    out.table(("service", "state", "secrets from"), rows, title=title)


def connect_providers(ws: Workspace, sandbox: Sandbox, out: Renderer) -> None:
    """Both providers, their credentials checked against the sandbox before they are kept."""
    credentials = sandbox.credentials()
    for name, field in PROVIDERS.items():
        check = ws.connect_provider(name, credentials[name][field], environment="local", base_url=sandbox.url)
        for warning in check.warnings:
            out.info(f"  {name}: {warning}")
        out.success(f"connected {name} ({check.account_name or check.account_id})")
