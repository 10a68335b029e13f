"""`crmpay connect gocardless|mollie|smtp|zoho|sipsim`: check credentials, then keep them."""

from __future__ import annotations

import sys

import typer

from crmpay.cli._app import Application

command = typer.Typer(
    help="Connect a service: the credential is checked against the service before it is stored.",
    no_args_is_help=True,
)


def _read_secret(label: str, env_name: str, from_stdin: bool, stdin_flag: str | None = "--token-stdin") -> str:
    """The secret from stdin, the environment, or a hidden prompt (never an argument)."""
    import os

    from crmpay.core.errors import UsageError

    if from_stdin:
        value = sys.stdin.readline().strip()
    elif os.environ.get(env_name):
        value = os.environ[env_name]
    elif sys.stdin.isatty():
        value = typer.prompt(label, hide_input=True).strip()
    else:
        raise UsageError(
            f"no {label.lower()} given",
            hint=f"pipe it with {stdin_flag} or set {env_name}" if stdin_flag else f"set {env_name}",
        )
    return check_secret(value, label, env_name if not from_stdin and os.environ.get(env_name) else None)


def check_secret(value: str, label: str, where: str | None = None) -> str:
    """Printable ASCII of a sane length (`where`: the variable it came from), else exit 2."""
    from crmpay.core.errors import UsageError
    from crmpay.core.validation import secret_problems

    problems = secret_problems(value, label.lower())
    if problems:
        raise UsageError(problems[0] + (f" (from {where})" if where else ""), hint="copy it again from the service")
    return value


def _connect_provider(
    name: str, label: str, environment: str, base_url: str | None, token_stdin: bool, json_output: bool
) -> None:
    from crmpay.services.connections import connect_provider, credential_variable

    app = Application.current()
    secret = _read_secret(label, credential_variable(name), token_stdin)
    check = connect_provider(app.config, name, secret, environment=environment, base_url=base_url)
    if json_output:
        app.out.json(
            {
                "service": name,
                "profile": app.profile,
                "connected": True,
                "account_id": check.account_id,
                "account_name": check.account_name,
                "warnings": check.warnings,
            }
        )
        return
    for warning in check.warnings:
        app.out.warn(warning)
    who = check.account_name or check.account_id or "account"
    app.out.success(f"{name} connected for profile {app.profile} ({who}, {environment})")


@command.command("gocardless")
def gocardless(
    environment: str = typer.Option("sandbox", help="live, sandbox or local (local needs --base-url)."),
    base_url: str = typer.Option(None, "--base-url", help="API address, for --environment local."),
    token_stdin: bool = typer.Option(False, "--token-stdin", help="Read the access token from stdin."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Connect GoCardless with an access token (checked with a creditors call).

    Example: echo "$TOKEN" | crmpay connect gocardless --environment live --token-stdin
    """
    _connect_provider("gocardless", "Access token", environment, base_url, token_stdin, json_output)


@command.command("mollie")
def mollie(
    environment: str = typer.Option(
        "live", help="live or local (local needs --base-url); test mode comes from a test_ key."
    ),
    base_url: str = typer.Option(None, "--base-url", help="API address, for --environment local."),
    token_stdin: bool = typer.Option(False, "--token-stdin", help="Read the API key from stdin."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Connect Mollie with an API key (checked with a one-item customers list).

    Example: crmpay connect mollie --token-stdin < mollie-key.txt
    """
    _connect_provider("mollie", "API key", environment, base_url, token_stdin, json_output)


@command.command("smtp")
def smtp(
    host: str = typer.Option(..., help="SMTP server host."),
    port: int = typer.Option(587, help="SMTP server port."),
    security: str = typer.Option("starttls", help="starttls, tls or none."),
    user: str = typer.Option(None, help="Login user, if the server needs one."),
    from_address: str = typer.Option(None, "--from", help="Sender address for invoices."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Connect an SMTP server for invoices and mandate-setup links (checked by logging in).

    Example: crmpay connect smtp --host smtp.example.com --user billing@example.com
    """
    from crmpay.services.connections import connect_smtp, credential_variable

    app = Application.current()
    password = (
        _read_secret("Password", credential_variable("smtp", "password"), password_stdin, "--password-stdin")
        if user
        else None
    )
    connect_smtp(
        app.config, host=host, port=port, security=security, user=user, from_address=from_address, password=password
    )
    if json_output:
        app.out.json(
            {
                "service": "smtp",
                "profile": app.profile,
                "connected": True,
                "host": host,
                "port": port,
                "security": security,
            }
        )
    else:
        app.out.success(f"smtp connected for profile {app.profile} ({host}:{port}, {security})")


@command.command("zoho")
def zoho(
    dc: str = typer.Option("eu", "--dc", help="Data centre: us, eu, uk, in, au, jp, cn, ca or sa."),
    environment: str = typer.Option("live", help="live or local (local needs --base-url)."),
    base_url: str = typer.Option(None, "--base-url", help="Accounts and API address, for --environment local."),
    grant_code: str = typer.Option(None, "--grant-code", help="The one-time grant code from the API console."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Connect Zoho CRM with a Self Client: client id and secret, then a grant code.

    The client id and secret come from CRMPAY_ZOHO_CLIENT_ID / CRMPAY_ZOHO_CLIENT_SECRET
    or hidden prompts; the grant code (valid 3 minutes) from --grant-code or a prompt.

    Example: crmpay connect zoho --dc eu --grant-code 1000.abc…
    """
    from crmpay.services.connections import credential_variable
    from crmpay.services.crm_setup import connect_zoho

    app = Application.current()
    code = check_secret(grant_code, "Grant code", "--grant-code") if grant_code is not None else None
    client_id = _read_secret("Client id", credential_variable("zoho", "client_id"), False, None)
    client_secret = _read_secret("Client secret", credential_variable("zoho", "client_secret"), False, None)
    code = code or _read_secret("Grant code", "CRMPAY_ZOHO_GRANT_CODE", False, "--grant-code")
    result = connect_zoho(
        app.config,
        client_id=client_id,
        client_secret=client_secret,
        grant_code=code,
        dc=dc,
        environment=environment,
        base_url=base_url,
    )
    if json_output:
        app.out.json(result)
    else:
        app.out.success(f"zoho connected for profile {app.profile} ({dc}, {result['users']} active users)")
    if result["previous_token_revoked"] is True:
        app.out.info("revoked this profile's previous Zoho refresh token (Zoho keeps at most 20 per user)")
    elif result["previous_token_revoked"] is False:
        app.out.warn(
            "could not revoke this profile's previous Zoho refresh token: it still counts towards "
            "Zoho's 20 per user (the 21st deletes the oldest, maybe another profile's); "
            "remove it under Connected Apps in Zoho Accounts"
        )


@command.command("sipsim")
def sipsim(
    environment: str = typer.Option("live", help="live or local (local needs --base-url)."),
    base_url: str = typer.Option(None, "--base-url", help="API address, for --environment local."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Connect SipSim's API v2 with an API client (OAuth client credentials).

    The client id and secret come from CRMPAY_SIPSIM_CLIENT_ID / CRMPAY_SIPSIM_CLIENT_SECRET
    or hidden prompts. They are checked (a token, then the phones list) before they are kept.

    Example: crmpay connect sipsim && crmpay calls import --from sipsim --since 2026-11-01
    """
    from crmpay.services.connections import connect_sipsim, credential_variable

    app = Application.current()
    client_id = _read_secret("Client id", credential_variable("sipsim", "client_id"), False, None)
    client_secret = _read_secret("Client secret", credential_variable("sipsim", "client_secret"), False, None)
    result = connect_sipsim(
        app.config, client_id=client_id, client_secret=client_secret, environment=environment, base_url=base_url
    )
    if json_output:
        app.out.json(result)
        return
    app.out.success(
        f"sipsim connected for profile {app.profile} ({result['active_phones']} active phone(s): "
        f"{', '.join(result['numbers']) or 'none'})"
    )
