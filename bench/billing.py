"""`crmpay billing run` over many subscriptions, against the sandbox, in one run.

    python bench/billing.py [--subscriptions 10000]

Seeds the GoCardless simulator with one customer and one SEPA mandate per subscription,
then, in two crmpay homes of the same sandbox, issues and collects the same invoices:
- **billing**: N monthly subscriptions, then `billing run` (through `crmpay.Workspace`):
  first with no SMTP server connected, which issues every invoice and collects none (the
  run refuses to debit without the pre-notification), then with the SMTP server, which
  collects them;
- **one by one**: `ws.invoices.create` for each invoice (the service `invoices create`
  calls), then `ws.invoices.send` for each.
Mail goes to a local SMTP server that discards it. Prints, from this one run:
- provider creates of the billing run / invoices (target <= 1.05): every POST the
  sandbox counted on GoCardless routes;
- issuing time of the billing run / creating the same invoices one by one (target <= 2);
- the whole billing run (issue + collect) / create + send one by one (for the record).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from seeding import gocardless_mandate

from crmpay.sandbox import Sandbox

LINE = "Hosting;1;29.90;20"


def seed(sandbox: Sandbox, n: int) -> None:
    gc = sandbox.services["gocardless"]
    with sandbox.lock:
        for i in range(n):
            gocardless_mandate(gc, i)


class Discard:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def smtp_sink() -> tuple[object, int]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def creates(sandbox: Sandbox) -> int:
    counted = httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]
    return sum(
        n
        for route, n in counted.items()
        if route.startswith("POST ") and not route.split(" ")[1].startswith(("/v2", "/crm", "/oauth", "/__"))
    )


def workspace(home: Path, sandbox: Sandbox):
    from crmpay import Workspace

    ws = Workspace(profile="bench", home=home)
    ws.connect_provider(
        "gocardless", sandbox.credentials()["gocardless"]["access_token"], environment="local", base_url=sandbox.url
    )
    for key, value in (
        ("seller.name", "Acme SAS"),
        ("seller.address", "1 rue de la Paix, 75002 Paris"),
        ("seller.siren", "732829320"),
        ("seller.vat_number", "FR44732829320"),
    ):
        ws.set_setting(key, value)
    outcome = ws.sync(push_crm=False)
    outcome.raise_for_outcome()
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    n = parser.parse_args().subscriptions
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    os.environ["CRMPAY_COMMAND_TIMEOUT"] = "0"
    from crmpay import Workspace
    from crmpay.core import clock

    Workspace.use_memory_keyring()
    controller, port = smtp_sink()
    with tempfile.TemporaryDirectory() as tmp, Sandbox() as sandbox, clock.following(sandbox.clock.now):
        seed(sandbox, n)
        today = clock.today()
        due = today + timedelta(days=14)

        billing = workspace(Path(tmp) / "billing", sandbox)
        for i in range(n):
            billing.subscriptions.create(
                f"c{i}@example.fr",
                [LINE],
                every="month",
                day=today.day if today.day <= 28 else 28,
                start=today.replace(day=min(today.day, 28)),
                name=f"Client {i}",
            )
        httpx.delete(f"{sandbox.url}/__sandbox/stats")
        started = time.perf_counter()
        issued = billing.billing.run()
        issuing = time.perf_counter() - started
        billing.connect_smtp(host="127.0.0.1", port=port, security="none", from_address="billing@acme.fr")
        started = time.perf_counter()
        collected = billing.billing.run()
        collecting = time.perf_counter() - started
        made = creates(sandbox)
        assert len(issued.issued) == n and len(collected.collected) == n, (len(issued.issued), collected.failures[:3])

        one = workspace(Path(tmp) / "one-by-one", sandbox)
        one.connect_smtp(host="127.0.0.1", port=port, security="none", from_address="billing@acme.fr")
        started = time.perf_counter()
        numbers = [
            one.invoices.create(f"c{i}@example.fr", [LINE], due=due, name=f"Client {i}").number for i in range(n)
        ]
        creating = time.perf_counter() - started
        started = time.perf_counter()
        for number in numbers:
            one.invoices.send(number)
        sending = time.perf_counter() - started
    controller.stop()  # type: ignore[attr-defined]
    print(f"subscriptions: {n}, invoices issued and collected: {n}")
    print(f"provider creates / invoices: {made} / {n} = {made / n:.3f} (target <= 1.05)")
    print(
        f"issuing: billing run {issuing:.2f} s / invoices created one by one {creating:.2f} s = "
        f"{issuing / creating:.2f} (target <= 2)"
    )
    print(
        f"issue + collect: billing run {issuing + collecting:.2f} s / create + send one by one "
        f"{creating + sending:.2f} s = {(issuing + collecting) / (creating + sending):.2f}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
