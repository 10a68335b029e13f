"""`crmpay sandbox serve --json` and `sandbox advance`, as a user's script runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import gocardless_pro
import httpx


def test_serve_prints_credentials_first_serves_and_stops_on_sigterm(crmpay_env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "crmpay", "sandbox", "serve", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=crmpay_env.env,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["url"].startswith("http://127.0.0.1:")
        assert info["gocardless"]["access_token"].startswith("sandbox_")
        assert info["mollie"]["api_key"].startswith("test_")
        assert {"host", "port"} <= set(info["smtp"])
        assert {"client_id", "client_secret", "grant_code"} <= set(info["zoho"])
        client = gocardless_pro.Client(access_token=info["gocardless"]["access_token"], base_url=info["url"])
        assert client.creditors.list().records[0].id.startswith("CR")
        before = httpx.get(f"{info['url']}/__sandbox/clock").json()["now"]
        advanced = crmpay_env.run("sandbox", "advance", "--days", "3", "--url", info["url"], "--json")
        assert advanced.code == 0 and advanced.json()["now"] > before
        stats = crmpay_env.run("sandbox", "stats", env={"CRMPAY_SANDBOX_URL": info["url"]}).json()
        assert stats["requests"]["GET /creditors"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    assert code == 0


def test_control_api_faults_validation_and_reset(sandbox):
    assert httpx.put(f"{sandbox.url}/__sandbox/faults", json={"error_rate": 2}).status_code == 400
    assert httpx.put(f"{sandbox.url}/__sandbox/faults", json={"nonsense": 1}).status_code == 400
    ok = httpx.put(f"{sandbox.url}/__sandbox/faults", json={"drop_rate": 1.0, "seed": 1})
    assert ok.status_code == 200 and ok.json()["drop_rate"] == 1.0
    token = sandbox.credentials()["gocardless"]["access_token"]
    try:
        httpx.get(f"{sandbox.url}/customers", headers={"Authorization": f"Bearer {token}"})
        dropped = False
    except httpx.HTTPError:
        dropped = True
    assert dropped
    assert httpx.post(f"{sandbox.url}/__sandbox/reset").json() == {"reset": True}
    assert httpx.get(f"{sandbox.url}/__sandbox/faults").json()["drop_rate"] == 0
    assert httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"] == {}
