"""`crmpay webhooks serve|status|secret set`: the receiver that keeps the store and the CRM
current as the providers push changes (docs/webhooks.md)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from crmpay.cli._app import Application

command = typer.Typer(
    help="Receive GoCardless and Mollie webhooks: the store and the CRM within a second; sync stays the safety net.",
    no_args_is_help=True,
)
secret = typer.Typer(help="The webhook endpoint secret (kept in the keyring, never shown).", no_args_is_help=True)
command.add_typer(secret, name="secret")


@command.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (put a TLS reverse proxy in front)."),
    port: int = typer.Option(8765, help="Port; 0 picks a free one."),
    json_output: bool = typer.Option(False, "--json", help="Print the address as one JSON line first."),
) -> None:
    """Serve POST /webhooks/gocardless and POST /webhooks/mollie until Ctrl-C or SIGTERM.

    Each delivery is written to the store before it is answered, then applied behind the
    answer (the provider's objects read again by id) and pushed to the CRM. What was
    received but not applied when the process stopped is applied at the next start.
    Use the profile's --profile: one receiver per profile.

    Example: crmpay --profile shop webhooks serve --port 8765
    """
    import json

    app = Application.current()

    def ready(info: dict[str, Any]) -> None:
        if json_output:
            sys.stdout.write(json.dumps(info) + "\n")
            sys.stdout.flush()
            return
        app.out.info(f"listening on {info['url']} (profile {info['profile']})")
        for provider, url in info["endpoints"].items():
            app.out.info(f"  {provider}: {url}")
        if not info["gocardless_secret"]:
            app.out.warn("no GoCardless webhook secret: every GoCardless delivery is refused (498)")
            app.out.info("  set it with: crmpay webhooks secret set gocardless")

    counters = app.ws.webhooks.serve(host, port, ready=ready)
    if not json_output:
        app.out.info(f"stopped: {counters.applied} event(s) applied, {counters.failed} to try again")


@command.command("status")
def status(json_output: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """The last event, the lag, failures and what is still to apply, per provider."""
    app = Application.current()
    report = app.ws.webhooks.status()
    if json_output:
        app.out.json(report)
        return
    rows = []
    for provider, s in report.items():
        last = s["last_event"]
        rows.append(
            (
                provider,
                s["events"],
                s["deliveries"],
                s["last_received_at"] or "-",
                f"{last['resource_type']} {last['resource_id'] or last['id']}" if last else "-",
                s["unprocessed"],
                f"{s['lag_seconds']:.1f} s",
                s["failing"],
            )
        )
    app.out.table(
        ("provider", "events", "deliveries", "last received", "last event", "unprocessed", "lag", "failing"),
        rows,
        title="webhooks",
    )
    for provider, s in report.items():
        for error in s["errors"][:5]:
            app.out.warn(f"{provider} {error['event']} (attempt {error['attempts']}): {error['error']}")
    if not report["gocardless"]["secret"]:
        app.out.info("GoCardless webhook secret: not set (crmpay webhooks secret set gocardless)")


@secret.command("set")
def secret_set(
    provider: str = typer.Argument(..., help="gocardless (Mollie's webhooks are not signed)."),
    from_stdin: bool = typer.Option(False, "--stdin", help="Read the secret from stdin."),
) -> None:
    """Keep the webhook endpoint secret GoCardless shows for the endpoint (keyring;
    CRMPAY_GOCARDLESS_WEBHOOK_SECRET wins). It is never printed.

    Example: echo "$SECRET" | crmpay webhooks secret set gocardless --stdin
    """
    app = Application.current()
    if from_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().strip()
    else:
        value = typer.prompt("Webhook endpoint secret", hide_input=True).strip()
    app.ws.webhooks.set_secret(provider, value)
    app.out.success(f"{provider} webhook secret kept for profile {app.profile}")
