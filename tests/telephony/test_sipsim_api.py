"""SipSim: the simulated API v2, the client's keyset paging, `connect sipsim`, `--from sipsim`."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crmpay.core.errors import AuthError
from crmpay.retry import RetryPolicy
from crmpay.telephony.sipsim_api import SipsimClient, read_api_calls

FAST = RetryPolicy(attempts=10, base_delay=0.01, max_delay=0.05)
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _seed_calls(sandbox, n: int, *, start: datetime = T0, step_s: int = 60) -> list[str]:
    calls = []
    for i in range(n):
        when = start + timedelta(seconds=i * step_s)
        inbound = i % 4 != 3
        missed = i % 5 == 0
        calls.append(
            {
                "id": f"pbx-{i:05d}",
                "direction": "inbound" if inbound else "outgoing",
                "type": ("missed" if missed and inbound else ("inbound" if inbound else "outgoing")),
                "caller_number": f"+3361{i:07d}" if inbound else "+33142685300",
                "receiver_number": "+33142685300" if inbound else f"+3361{i:07d}",
                "start_time": when.isoformat(),
                "end_time": (when + timedelta(seconds=30)).isoformat(),
                "answer_time": None if missed else when.isoformat(),
                "duration": 0 if missed else 25,
                "status": "noanswer" if missed else "answer",
            }
        )
    answer = httpx.post(f"{sandbox.url}/__sandbox/sipsim/calls", json={"data": calls}, timeout=60)
    return answer.json()["ids"]


def _client(sandbox, secret: str | None = None) -> SipsimClient:
    creds = sandbox.credentials()["sipsim"]
    return SipsimClient(creds["client_id"], secret or creds["client_secret"], base_url=sandbox.url, retry_policy=FAST)


def _requests(sandbox) -> dict[str, int]:
    return httpx.get(f"{sandbox.url}/__sandbox/stats").json()["requests"]


def test_keyset_pages_return_every_call_once_in_order(sandbox):
    ids = _seed_calls(sandbox, 2500)
    httpx.delete(f"{sandbox.url}/__sandbox/stats")
    client = _client(sandbox)
    got = [c["id"] for c in client.iter_calls(T0)]
    assert got == ids  # seeded in time order
    assert _requests(sandbox) == {"POST /oauth/token": 1, "GET /api/v2/calls": 3}


def test_calls_arriving_between_pages_shift_nothing(sandbox):
    _seed_calls(sandbox, 1500)
    client = _client(sandbox)
    pages = client.iter_calls(T0)
    first = [next(pages)["id"] for _ in range(1000)]
    # a call older than the cursor arrives: keyset paging neither repeats nor skips
    httpx.post(
        f"{sandbox.url}/__sandbox/sipsim/calls",
        json={
            "data": [
                {
                    "id": "late",
                    "caller_number": "+33611111111",
                    "receiver_number": "+33142685300",
                    "start_time": T0.isoformat(),
                }
            ]
        },
    )
    rest = [c["id"] for c in pages]
    assert len(set(first + rest)) == 1500 and "late" not in rest


def test_since_and_until_bound_the_listing(sandbox):
    _seed_calls(sandbox, 100)  # one a minute from 08:00
    client = _client(sandbox)
    window = [c["id"] for c in client.iter_calls(T0 + timedelta(minutes=10), T0 + timedelta(minutes=20))]
    assert window == [f"pbx-{i:05d}" for i in range(10, 20)]


def test_faults_still_give_every_call_exactly_once(sandbox):
    _seed_calls(sandbox, 2500)
    httpx.put(
        f"{sandbox.url}/__sandbox/faults",
        json={"error_rate": 0.05, "rate_limit_rate": 0.03, "drop_rate": 0.02, "seed": 4},
    )
    got = [c["id"] for c in _client(sandbox).iter_calls(T0)]
    assert len(got) == 2500 and len(set(got)) == 2500


def test_bad_credentials_and_parameters_are_refused(sandbox):
    with pytest.raises(AuthError, match="refused the client credentials"):
        _client(sandbox, secret="wrong").phones()
    token = httpx.post(
        f"{sandbox.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.credentials()["sipsim"]["client_id"],
            "client_secret": sandbox.credentials()["sipsim"]["client_secret"],
            "scope": "phones.read",
        },
    ).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    no_scope = httpx.get(f"{sandbox.url}/api/v2/calls", params={"start_time": T0.isoformat()}, headers=headers)
    assert no_scope.status_code == 403 and no_scope.json()["status"] == "error"
    full = _client(sandbox)._access()
    missing = httpx.get(f"{sandbox.url}/api/v2/calls", headers={"Authorization": f"Bearer {full}"})
    assert missing.status_code == 400 and "start_time" in missing.json()["error"]["message"]
    too_big = httpx.get(
        f"{sandbox.url}/api/v2/calls",
        params={"start_time": T0.isoformat(), "limit": 5000},
        headers={"Authorization": f"Bearer {full}"},
    )
    assert too_big.status_code == 400


def test_api_calls_become_calls_with_lines_customers_and_missed(sandbox):
    _seed_calls(sandbox, 10)
    parsed = read_api_calls(_client(sandbox), T0, None, region="FR", lines={"+33142685300"})
    assert parsed.problems == [] and len(parsed.calls) == 10
    by_id = {c.identity: c for c in parsed.calls}
    assert by_id["pbx-00000"].missed and by_id["pbx-00000"].direction == "inbound"
    assert by_id["pbx-00001"].answered and by_id["pbx-00001"].customer == "+33610000001"
    assert by_id["pbx-00003"].direction == "outbound" and by_id["pbx-00003"].customer == "+33610000003"
    assert all(c.line == "+33142685300" for c in parsed.calls)
    assert by_id["pbx-00001"].started_at == T0 + timedelta(minutes=1)


def _connect(crmpay_env, sandbox, secret: str | None = None):
    creds = sandbox.credentials()["sipsim"]
    env = {
        "CRMPAY_SIPSIM_CLIENT_ID": creds["client_id"],
        "CRMPAY_SIPSIM_CLIENT_SECRET": secret or creds["client_secret"],
    }
    return crmpay_env.run("connect", "sipsim", "--environment", "local", "--base-url", sandbox.url, "--json", env=env)


def test_connect_checks_then_keeps_the_secret_in_the_keyring_only(crmpay_env, sandbox, file_keyring):
    httpx.post(
        f"{sandbox.url}/__sandbox/sipsim/phones",
        json={"data": [{"name": "Standard", "internal_number": 101, "number": "+33142685300", "group": "Sales"}]},
    )
    refused = _connect(crmpay_env, sandbox, secret="not-the-secret")
    assert refused.code == 4 and "refused the client credentials" in refused.stderr
    assert "not-the-secret" not in refused.stderr + refused.stdout
    assert not crmpay_env.keyring_file.exists() or "sipsim" not in crmpay_env.keyring_file.read_text()
    done = _connect(crmpay_env, sandbox)
    assert done.code == 0, done.stderr
    assert done.json()["active_phones"] == 1 and done.json()["numbers"] == ["+33142685300"]
    secret = sandbox.credentials()["sipsim"]["client_secret"]
    assert file_keyring.get_password("crmpay", "default:sipsim:client_secret") == secret
    forms = [secret.encode(), base64.b64encode(secret.encode())]
    assert any(f in crmpay_env.keyring_file.read_bytes() for f in forms)  # the scan below can fail
    for path in crmpay_env.home.rglob("*"):
        if path.is_file():
            assert not any(f in path.read_bytes() for f in forms), path
    status = {s["service"]: s for s in crmpay_env.run("status", "--json").json()["services"]}
    assert status["sipsim"]["connected"] and status["sipsim"]["source"] == "keyring"
    gone = crmpay_env.run("disconnect", "sipsim", "--json")
    assert gone.code == 0 and sorted(gone.json()["secrets_removed"]) == ["client_id", "client_secret"]
    assert not {s["service"]: s for s in crmpay_env.run("status", "--json").json()["services"]}["sipsim"]["connected"]


def test_calls_import_from_sipsim(crmpay_env, sandbox, tmp_path):
    assert _connect(crmpay_env, sandbox).code == 0
    crmpay_env.connect_zoho(sandbox)
    _seed_calls(sandbox, 30)
    rules = tmp_path / "rules.toml"
    rules.write_text('[[lines]]\nnumber = "+33142685300"\nmanager = "admin@crmpay-sandbox.example"\n')
    args = (
        "calls",
        "import",
        "--from",
        "sipsim",
        "--since",
        "2026-11-20T09:00:00+01:00",
        "--until",
        "2026-11-20T09:20:00+01:00",
        "--rules",
        str(rules),
        "--json",
    )
    served = {c["status"] for c in _client(sandbox).iter_calls(T0)}
    assert served == {"ANSWER", "NOANSWER"}  # upper case, as SipSim's current documentation writes them
    result = crmpay_env.run(*args)
    assert result.code == 0, result.stderr
    summary = result.json()
    assert summary["calls_read"] == 20 and summary["imported"] == 20
    assert summary["created"]["calls"] == 20 and summary["created"]["tasks"] == 4  # pbx 0, 5, 10, 15 missed
    logged = sandbox.services["zoho"].records["Calls"].values()
    assert sorted(c["CRMPAY_Call_Id"] for c in logged) == [f"pbx-{i:05d}" for i in range(20)]
    again = crmpay_env.run(*args)
    assert again.code == 0 and again.json()["already_imported"] == 20
    assert len(sandbox.services["zoho"].records["Calls"]) == 20
    both = crmpay_env.run("calls", "import", "x.csv", "--from", "sipsim", "--since", "2026-11-20")
    assert both.code == 2 and "not both" in both.stderr
    assert json.loads(crmpay_env.run("calls", "list", "--limit", "1", "--json").stdout)[0]["source"] == "sipsim-api"


@pytest.mark.parametrize("answer, missed", [("ANSWER", "NOANSWER"), ("answer", "noanswer"), ("Answer", "MISSED")])
def test_end_statuses_are_read_without_regard_to_case(sandbox, answer, missed):
    """SipSim's current pages write ANSWER/MISSED/BUSY/NOANSWER, older ones lower case."""
    httpx.post(
        f"{sandbox.url}/__sandbox/sipsim/calls",
        json={
            "data": [
                {
                    "id": "a",
                    "direction": "inbound",
                    "type": "inbound",
                    "caller_number": "+33611111111",
                    "receiver_number": "+33142685300",
                    "start_time": T0.isoformat(),
                    "duration": 40,
                    "status": answer,
                },
                {
                    "id": "m",
                    "direction": "inbound",
                    "caller_number": "+33622222222",
                    "receiver_number": "+33142685300",
                    "start_time": (T0 + timedelta(minutes=1)).isoformat(),
                    "status": missed,
                },
            ]
        },
    )
    parsed = read_api_calls(_client(sandbox), T0, None, region="FR", lines={"+33142685300"})
    assert [(c.identity, c.answered) for c in parsed.calls] == [("a", True), ("m", False)]
