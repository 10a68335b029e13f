"""`crmpay sandbox serve|advance|faults|stats`: the built-in simulator of every service."""

from __future__ import annotations

import typer

from crmpay.cli._app import Application

command = typer.Typer(
    help="Run the built-in sandbox: GoCardless, Mollie and Zoho CRM over real HTTP on loopback.",
    no_args_is_help=True,
)

_URL_HELP = "The sandbox's address (else CRMPAY_SANDBOX_URL)."


@command.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(0, help="Port; 0 picks a free one."),
    json_output: bool = typer.Option(False, "--json", help="Print the address and credentials as one JSON line first."),
    today: str = typer.Option(
        None, "--today", metavar="YYYY-MM-DD", help="Pin the simulated date (else CRMPAY_TODAY, else the real clock)."
    ),
) -> None:
    """Serve the sandbox until interrupted (Ctrl-C or SIGTERM), then exit 0.

    Example: crmpay sandbox serve --json --today 2026-12-24
    """
    import json
    import signal
    import sys
    import threading
    from datetime import date

    from crmpay.core import clock
    from crmpay.core.errors import UsageError
    from crmpay.sandbox import Sandbox

    app = Application.current()
    start: date | None = None
    if today is not None:
        try:
            start = date.fromisoformat(today)
        except ValueError:
            raise UsageError(f"--today {today!r} is not a date", hint="use YYYY-MM-DD") from None
    elif clock.is_pinned():
        start = clock.now()
    sandbox = Sandbox(host, port, start=start)
    info = sandbox.credentials()
    if json_output:
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
    else:
        lines = [f"url: {info['url']}"]
        for name, creds in info.items():
            if isinstance(creds, dict):
                lines += [f"{name}.{k}: {v}" for k, v in creds.items()]
        lines.append("")
        lines.append(f"connect: crmpay connect gocardless --environment local --base-url {info['url']}")
        app.out.panel("\n".join(lines), title="crmpay sandbox (test credentials only)")
        app.out.info("serving; press Ctrl-C to stop")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sandbox.start()
    try:
        stop.wait()
    finally:
        sandbox.stop()


@command.command("advance")
def advance(
    days: float = typer.Option(..., "--days", min=0, max=3650, help="Days to move the sandbox clock (0 to 3650)."),
    url: str = typer.Option(None, "--url", envvar="CRMPAY_SANDBOX_URL", help=_URL_HELP),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Move the sandbox clock; mandates and payments move through their lifecycles.

    Example: crmpay sandbox advance --days 5 --url http://127.0.0.1:8765
    """
    app = Application.current()
    result = _control(url, "POST", "/__sandbox/clock", {"advance_days": days})
    if json_output:
        app.out.json(result)
    else:
        app.out.success(f"sandbox clock is now {result['now']}")


@command.command("stats")
def stats(
    url: str = typer.Option(None, "--url", envvar="CRMPAY_SANDBOX_URL", help=_URL_HELP),
) -> None:
    """Print the sandbox's request counts as JSON.

    Example: crmpay sandbox stats --url http://127.0.0.1:8765
    """
    Application.current().out.json(_control(url, "GET", "/__sandbox/stats", None))


def _control(url: str | None, method: str, path: str, body: object) -> dict:
    from crmpay.sandbox.control import control

    return control(url, method, path, body)
