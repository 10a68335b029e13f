"""Fixtures of the sandbox tests: the official SDK clients pointed at the sandbox."""

from __future__ import annotations

import pytest
from mollie.api.client import Client


@pytest.fixture
def mollie(sandbox) -> Client:
    """mollie-api-python's client on the sandbox's Mollie API."""
    client = Client()
    client.set_api_key(sandbox.credentials()["mollie"]["api_key"])
    client.set_api_endpoint(sandbox.url)
    return client
