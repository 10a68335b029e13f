"""Bounded time against a hostile network: a server that accepts and never answers, and
one that answers a byte at a time forever. Every networked command ends within its
bound with exit 5 and one line naming the service, and leaves no lock behind."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from _homes import SELLER_CONFIG
from crmpay.core import clock

CALL, COMMAND = 1.5, 5.0  # CRMPAY_CALL_TIMEOUT, CRMPAY_COMMAND_TIMEOUT for these runs


class _Server:
    """A TCP server on loopback; `trickle`: send a status line, then one header byte
    every 0.2 s forever (a read timeout never fires), else say nothing at all."""

    def __init__(self, trickle: bool) -> None:
        self.trickle, self.stop = trickle, threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            if self.trickle:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self.stop.wait(0.2):
                if self.trickle:
                    try:
                        conn.sendall(b"X")
                    except OSError:
                        return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture(params=[False, True], ids=["silent", "trickling"])
def hanging(request) -> Iterator[_Server]:
    server = _Server(trickle=request.param)
    yield server
    server.close()


def _point_at(crmpay_env, url: str, services: tuple[str, ...] = ("gocardless", "mollie")) -> None:
    """These services of the profile at `url`, connected through the environment."""
    crmpay_env.home.mkdir(parents=True, exist_ok=True)
    (crmpay_env.home / "config.toml").write_text(
        SELLER_CONFIG
        + "".join(
            f'[profiles.default.{service}]\nenvironment = "local"\nbase_url = "{url}"\n'
            for service in dict.fromkeys(services)
        )
    )
    secrets = {
        "gocardless": {"CRMPAY_GOCARDLESS_ACCESS_TOKEN": "hanging-token"},
        "mollie": {"CRMPAY_MOLLIE_API_KEY": "test_hangingkeyhangingkeyhangingke"},
        "zoho": {
            "CRMPAY_ZOHO_CLIENT_ID": "1000.HANGINGCLIENT",
            "CRMPAY_ZOHO_CLIENT_SECRET": "hanging-client-secret",
            "CRMPAY_ZOHO_REFRESH_TOKEN": "1000.hanging.refresh",
        },
        "sipsim": {"CRMPAY_SIPSIM_CLIENT_ID": "hanging-client", "CRMPAY_SIPSIM_CLIENT_SECRET": "hanging-secret"},
    }
    for service in services:
        crmpay_env.env.update(secrets[service])
    crmpay_env.env.update(CRMPAY_CALL_TIMEOUT=str(CALL), CRMPAY_COMMAND_TIMEOUT=str(COMMAND))


def _payment_in_store(crmpay_env, provider: str, payment_id: str) -> None:
    """A cancellable payment in the profile's store, as a sync would have left it."""
    from crmpay import Workspace
    from crmpay.core.models import Payment, PaymentState
    from crmpay.core.money import Money
    from crmpay.store.records import upsert_batch

    with Workspace(home=str(crmpay_env.home)) as ws:
        payment = Payment(
            provider, payment_id, Money.parse("10.00", "EUR"), "pending_submission", PaymentState.PENDING, True
        )
        upsert_batch(ws.store(), [payment])


def _timed(crmpay_env, *args: str):
    started = time.monotonic()
    result = crmpay_env.run(*args, timeout=60)
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    ("argv", "service"),
    [
        (("sync", "--provider", "gocardless"), "GoCardless"),
        (("sync", "--provider", "mollie"), "Mollie"),
        (("invoices", "send", "{number}", "--provider", "gocardless", "--no-email"), "GoCardless"),
        (("invoices", "send", "{number}", "--provider", "mollie", "--no-email"), "Mollie"),
        (("payments", "cancel", "PM0000000001"), "GoCardless"),
        (("payments", "cancel", "tr_HangingPay01"), "Mollie"),
        (("mandates", "import", "--from", "gocardless"), "GoCardless"),
        (("mandates", "import", "--from", "mollie"), "Mollie"),
        (("connect", "gocardless", "--environment", "local", "--base-url", "{url}"), "GoCardless"),
        (("connect", "mollie", "--environment", "local", "--base-url", "{url}"), "Mollie"),
        (("connect", "zoho", "--environment", "local", "--base-url", "{url}", "--grant-code", "1000.x"), "Zoho"),
        (("connect", "sipsim", "--environment", "local", "--base-url", "{url}"), "SipSim"),
        (("crm", "check"), "Zoho"),
        (("calls", "import", "--from", "sipsim", "--since", "2026-01-01T00:00:00Z"), "SipSim"),
    ],
    ids=lambda value: (
        "-".join(a for a in value if not a.startswith(("{", "-", "20", "PM", "tr_", "1000")))
        if isinstance(value, tuple)
        else None
    ),
)
def test_every_networked_command_ends_within_its_bound(crmpay_env, hanging, argv, service):
    crm = ("zoho",) if argv[:2] == ("mandates", "import") else ()  # mandates go on to the CRM
    _point_at(crmpay_env, hanging.url, ("gocardless", "mollie", service.lower(), *crm))
    argv = tuple(hanging.url if a == "{url}" else a for a in argv)
    if argv[:2] == ("payments", "cancel"):
        _payment_in_store(crmpay_env, service.lower(), argv[2])
    if "{number}" in argv:
        created = crmpay_env.run(
            "invoices",
            "create",
            "--customer",
            "ann@example.fr",
            "--line",
            "Audit;1;10;20",
            "--due",
            (clock.today() + timedelta(days=30)).isoformat(),
            "--json",
        )
        assert created.code == 0, created.stderr
        argv = tuple(created.json()["number"] if a == "{number}" else a for a in argv)
    result, took = _timed(crmpay_env, *argv)
    assert result.code == 5, (result.code, result.stderr)
    assert took < COMMAND + 6, took  # the command's bound, plus interpreter start-up
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and service in errors[0] and "Traceback" not in result.stderr, result.stderr
    # nothing held: the same command runs again at once (not "already running", exit 5 again)
    again, _ = _timed(crmpay_env, *argv)
    assert again.code == 5 and "already" not in again.stderr, again.stderr


def test_a_silent_server_costs_one_call_budget_not_the_command_bound(crmpay_env):
    """No retry starts that could not end within CRMPAY_CALL_TIMEOUT: a server that never
    answers ends the call after about one attempt, long before the command's bound."""
    server = _Server(trickle=False)
    try:
        _point_at(crmpay_env, server.url)
        crmpay_env.env["CRMPAY_COMMAND_TIMEOUT"] = "0"  # no command bound: only the call's
        result, took = _timed(crmpay_env, "sync", "--provider", "gocardless")
    finally:
        server.close()
    assert result.code == 5 and "GoCardless" in result.stderr, result.stderr
    assert took < CALL * 2 + 6, took


def test_a_server_that_never_greets_ends_connect_smtp_within_its_bound(crmpay_env, hanging):
    """Silent: exit 5 naming the SMTP server. Trickling an HTTP status line: not an SMTP
    server at all, a configuration error (exit 2) saying to check host and port."""
    _point_at(crmpay_env, hanging.url)
    port = hanging.url.rsplit(":", 1)[1]
    argv = ("connect", "smtp", "--host", "127.0.0.1", "--port", port, "--security", "none", "--from", "a@example.fr")
    result, took = _timed(crmpay_env, *argv)
    assert took < COMMAND + 6, took
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    if hanging.trickle:
        assert result.code == 2 and "does not speak SMTP" in errors[0], result.stderr
    else:
        assert result.code == 5 and f"SMTP server 127.0.0.1:{port}" in errors[0], result.stderr


def test_the_daily_billing_and_dunning_runs_end_within_their_bound(crmpay_env, hanging, sandbox):
    """`billing run` collects what it issues (GoCardless hanging, mail to the sandbox's
    SMTP sink); `dunning run` mails a reminder to an SMTP server that never greets: both
    end within the command's bound."""
    _point_at(crmpay_env, hanging.url, ("gocardless",))
    config = (crmpay_env.home / "config.toml").read_text()

    def smtp_at(port: object) -> None:
        (crmpay_env.home / "config.toml").write_text(
            config + f'[profiles.default.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            'from_address = "billing@example.fr"\n'
        )

    smtp_at(sandbox.credentials()["smtp"]["port"])
    today = clock.today()
    created = crmpay_env.run(
        "subscriptions", "create", "--customer", "ann@example.fr", "--line", "Hosting;1;29.90;20",
        "--day", str(min(today.day, 28)), "--start", today.isoformat(),
    )  # fmt: skip
    assert created.code == 0, created.stderr
    billed, took = _timed(crmpay_env, "billing", "run")
    assert took < COMMAND + 6, took
    assert billed.code in (3, 5) and "GoCardless" in billed.stderr, (billed.code, billed.stderr)
    assert "Traceback" not in billed.stderr and "internal error" not in billed.stderr
    assert len(crmpay_env.run("invoices", "list", "--json").json()) == 1  # issued once; collected by a later run

    smtp_at(hanging.url.rsplit(":", 1)[1])
    late = {"CRMPAY_TODAY": (today + timedelta(days=60)).isoformat()}  # past every reminder step
    started = time.monotonic()
    reminded = crmpay_env.run("dunning", "run", env=late, timeout=60)
    assert time.monotonic() - started < COMMAND + 6
    assert reminded.code in (3, 5), (reminded.code, reminded.stderr)
    assert "SMTP" in reminded.stderr and "Traceback" not in reminded.stderr, reminded.stderr
