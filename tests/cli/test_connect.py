"""`crmpay connect gocardless|mollie` through the command line: checked before stored, and
the secret never leaks to the output, the config or the store."""

from __future__ import annotations

import base64

import httpx


def test_connect_checks_then_stores_and_never_leaks(crmpay_env, sandbox):
    token = sandbox.credentials()["gocardless"]["access_token"]
    key = sandbox.credentials()["mollie"]["api_key"]
    refused = crmpay_env.run(
        "connect",
        "gocardless",
        "--environment",
        "local",
        "--base-url",
        sandbox.url,
        "--token-stdin",
        input="sandbox_not-the-token\n",
    )
    assert refused.code == 4 and "rejected the access token" in refused.stderr
    assert crmpay_env.run("status", "--json").json()["services"][0]["connected"] is False
    outputs = [
        crmpay_env.run(
            "connect",
            "gocardless",
            "--environment",
            "local",
            "--base-url",
            sandbox.url,
            "--token-stdin",
            "--json",
            input=token + "\n",
        ),
        crmpay_env.run(
            "connect", "mollie", "--environment", "local", "--base-url", sandbox.url, "--token-stdin", input=key + "\n"
        ),
    ]
    assert [o.code for o in outputs] == [0, 0], [o.stderr for o in outputs]
    assert outputs[0].json()["account_id"].startswith("CR")
    outputs.append(crmpay_env.run("status", "--json"))
    services = {s["service"]: s for s in outputs[-1].json()["services"]}
    assert services["gocardless"]["connected"] and services["gocardless"]["source"] == "keyring"
    assert services["gocardless"]["settings"] == {"environment": "local", "base_url": sandbox.url}
    assert services["mollie"]["connected"]
    outputs.append(crmpay_env.run("config", "show", "--json"))
    for secret in (token, key):
        forms = [secret.encode(), base64.b64encode(secret.encode())]
        assert not any(secret in o.stdout + o.stderr for o in outputs)
        assert not [p for p in crmpay_env.home.rglob("*") if p.is_file() and any(f in p.read_bytes() for f in forms)]
        assert any(f in crmpay_env.keyring_file.read_bytes() for f in forms)


def test_connect_reports_an_unverified_creditor(crmpay_env, sandbox):
    httpx.put(f"{sandbox.url}/__sandbox/gocardless/creditor", json={"verification_status": "in_review"})
    result = crmpay_env.run(
        "connect",
        "gocardless",
        "--environment",
        "local",
        "--base-url",
        sandbox.url,
        env={"CRMPAY_GOCARDLESS_ACCESS_TOKEN": sandbox.credentials()["gocardless"]["access_token"]},
    )
    assert result.code == 0 and "warning:" in result.stderr and "in_review" in result.stderr


def test_connect_local_needs_a_base_url(crmpay_env):
    result = crmpay_env.run("connect", "mollie", "--environment", "local", "--token-stdin", input="test_x\n")
    assert result.code == 2 and "needs base_url" in result.stderr
