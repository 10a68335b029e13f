"""A `crmpay webhooks serve` process per test, connected to the session's sandbox."""

from __future__ import annotations

import pytest
from _webhook_helpers import SECRET, Served, connect, register


@pytest.fixture
def start_receiver(crmpay_env, sandbox):
    """Call it to connect providers (and Zoho), keep the secret, serve and register."""
    started: list[Served] = []

    def start(*providers: str, zoho: bool = False, extra_env: dict[str, str] | None = None) -> Served:
        connect(crmpay_env, sandbox, *providers)
        if zoho:
            crmpay_env.connect_zoho(sandbox)
        result = crmpay_env.run("webhooks", "secret", "set", "gocardless", "--stdin", input=SECRET + "\n")
        assert result.code == 0, result.stderr
        receiver = Served(crmpay_env, extra_env=dict(extra_env or {})).start()
        started.append(receiver)
        if "gocardless" in providers:
            register(sandbox, "gocardless", f"{receiver.url}/webhooks/gocardless", SECRET)
        if "mollie" in providers:
            register(sandbox, "mollie", f"{receiver.url}/webhooks/mollie")
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def served(start_receiver):
    """GoCardless connected, its webhook secret kept, a receiver serving and registered."""
    return start_receiver("gocardless")
