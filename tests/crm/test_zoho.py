"""Zoho CRM: the client over httpx against the sandbox, and connect/check through the CLI."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from crmpay.core.errors import AuthError, ExitCode, OperationFailed
from crmpay.crm.tokens import TokenCache
from crmpay.crm.zoho import ZohoCRM, escape_criteria, exchange_grant_code
from crmpay.retry import RetryPolicy
from crmpay.telephony.phones import spellings, to_e164

FAST = RetryPolicy(attempts=8, base_delay=0.05, max_delay=0.2)


def _grant(sandbox) -> str:
    return httpx.post(f"{sandbox.url}/__sandbox/zoho/grant_code").json()["code"]


@pytest.fixture
def crm(sandbox, file_keyring, tmp_path):
    creds = sandbox.credentials()["zoho"]
    answer = exchange_grant_code(
        creds["client_id"], creds["client_secret"], _grant(sandbox), accounts=creds["accounts_url"]
    )
    client = ZohoCRM(
        creds["client_id"],
        creds["client_secret"],
        answer["refresh_token"],
        token_cache=TokenCache("default", tmp_path / "profile"),
        accounts=creds["accounts_url"],
        retry_policy=FAST,
    )
    yield client
    client.close()


def _stats(sandbox):
    return httpx.get(f"{sandbox.url}/__sandbox/stats").json()


def test_250_records_go_in_three_calls(sandbox, crm):
    httpx.delete(f"{sandbox.url}/__sandbox/stats")
    results = crm.insert("Contacts", [{"Last_Name": f"N{i}", "Email": f"c{i}@example.fr"} for i in range(250)])
    assert len(results) == 250 and all(r.ok and r.id for r in results)
    assert _stats(sandbox)["requests"]["POST /crm/v8/{module}"] == 3
    assert _stats(sandbox)["zoho_records"]["Contacts"] == 250


def test_a_bad_record_in_a_207_batch_hides_no_other(sandbox, crm):
    records = [{"Last_Name": f"N{i}"} for i in range(99)]
    records.insert(42, {"Email": "no-last-name@example.fr"})
    results = crm.insert("Contacts", records)
    assert [r.index for r in results if not r.ok] == [42]
    assert results[42].code == "MANDATORY_NOT_FOUND" and results[42].details["api_name"] == "Last_Name"
    assert sum(r.ok for r in results) == 99 and _stats(sandbox)["zoho_records"]["Contacts"] == 99


def test_upsert_by_email_then_search_rechecks_hits(sandbox, crm):
    crm.upsert(
        "Contacts",
        [{"Last_Name": "Ann", "Email": "ann@example.fr"}, {"Last_Name": "Anna", "Email": "ann@example.fr.evil"}],
        ["Email"],
    )
    updated = crm.upsert("Contacts", [{"Last_Name": "Ann Lee", "Email": "ANN@example.fr"}], ["Email"])
    assert updated[0].action == "update"
    # the sandbox, like Zoho v8, answers both for a "equals" on ann@example.fr
    raw = httpx.get(
        f"{sandbox.url}/crm/v8/Contacts/search",
        params={"criteria": "(Email:equals:ann@example.fr)"},
        headers={"Authorization": f"Zoho-oauthtoken {crm._access().access_token}"},
    ).json()["data"]
    assert len(raw) == 2
    assert [r["Last_Name"] for r in crm.search("Contacts", "Email", "ann@example.fr")] == ["Ann Lee"]
    assert [r["Last_Name"] for r in crm.find_by_email("Contacts", "ann@example.fr")] == ["Ann Lee"]
    assert escape_criteria("Dupont (SARL), Paris\\") == "Dupont \\(SARL\\)\\, Paris\\\\"
    assert crm.search("Contacts", "Email", "nobody@example.fr") == []  # 204


def test_phone_search_finds_a_number_as_typed_under_each_spelling_tried(sandbox, crm):
    crm.insert(
        "Contacts",
        [
            {"Last_Name": "A", "Phone": "+33 6 12 34 56 78"},
            {"Last_Name": "B", "Mobile": "06 12 34 56 78"},
            {"Last_Name": "C", "Phone": "06.12.34.56.78"},  # typed in a way nobody searches for
            {"Last_Name": "D", "Phone": "+44 6 12 34 56 78"},
        ],
    )
    assert crm.find_by_phone("Contacts", "+33612345678") == []  # Zoho documents no fuzzy match: none typed so
    hits = crm.find_by_phone(
        "Contacts", "+33612345678", spellings=spellings("+33612345678"), fields=("Phone", "Mobile")
    )
    assert sorted(h["Last_Name"] for h in hits) == ["A"]  # rechecked on our side: default normalise is digits only
    hits = crm.find_by_phone(
        "Contacts",
        "+33612345678",
        spellings=spellings("+33612345678"),
        fields=("Phone", "Mobile"),
        normalise=lambda text: to_e164(text, "FR"),
    )
    assert sorted(h["Last_Name"] for h in hits) == ["A", "B"]
    assert spellings("+33612345678") == ["+33612345678", "+33 6 12 34 56 78", "06 12 34 56 78", "0612345678"]


def test_pagination_past_2000_with_page_token_and_coql(sandbox, crm):
    with sandbox.lock:
        service = sandbox.services["zoho"]
        for i in range(2300):
            record = service._record("Leads", {"Last_Name": f"L{i}", "Company": "X"})
            service.records["Leads"][record["id"]] = record
    names = [r["Last_Name"] for r in crm.iter_records("Leads", ["Last_Name"])]
    assert len(names) == 2300 and len(set(names)) == 2300
    rows = crm.query("select Last_Name from Leads where Last_Name = 'L7' limit 10")
    assert [r["Last_Name"] for r in rows] == ["L7"]


def test_expired_token_refreshes_once(sandbox, crm):
    crm.users()
    minted = _stats(sandbox)["zoho_tokens_minted"]
    httpx.post(f"{sandbox.url}/__sandbox/zoho/expire_tokens")
    assert crm.users()
    assert _stats(sandbox)["zoho_tokens_minted"] == minted + 1


def test_429_backs_off_and_succeeds(sandbox, crm):
    crm.users()
    # patient enough that the lift lands before it gives up, however loaded the machine
    crm._policy = RetryPolicy(attempts=40, base_delay=0.05, max_delay=0.2)
    httpx.put(f"{sandbox.url}/__sandbox/zoho/settings", json={"max_concurrency": 0})
    lifted = threading.Timer(
        0.3, lambda: httpx.put(f"{sandbox.url}/__sandbox/zoho/settings", json={"max_concurrency": 10})
    )
    lifted.start()
    started = time.monotonic()
    assert crm.users()
    assert time.monotonic() - started >= 0.25  # it waited, rather than hammering or failing
    lifted.join()
    assert _stats(sandbox)["requests"]["GET /crm/v8/users"] > 2


def test_missing_scope_is_named(sandbox, crm):
    httpx.put(f"{sandbox.url}/__sandbox/zoho/settings", json={"scopes": ["ZohoCRM.modules.ALL"]})
    with pytest.raises(AuthError) as err:
        crm.users()
    assert err.value.exit_code == ExitCode.AUTH and "ZohoCRM.users.READ" in str(err.value)


@pytest.mark.slow
def test_connect_check_and_one_token_for_twenty_runs(crmpay_env, sandbox):
    creds = sandbox.credentials()["zoho"]
    env = {"CRMPAY_ZOHO_CLIENT_ID": creds["client_id"], "CRMPAY_ZOHO_CLIENT_SECRET": creds["client_secret"]}
    code = _grant(sandbox)
    connected = crmpay_env.run(
        "connect", "zoho", "--environment", "local", "--base-url", sandbox.url, "--grant-code", code, "--json", env=env
    )
    assert connected.code == 0, connected.stderr
    reused = crmpay_env.run(
        "connect", "zoho", "--environment", "local", "--base-url", sandbox.url, "--grant-code", code, env=env
    )
    assert reused.code == 4 and "generate a new grant code in the API console" in reused.stderr
    before = _stats(sandbox)["zoho_tokens_minted"]
    runs = [crmpay_env.run("crm", "check", "--json", env=env) for _ in range(20)]
    assert all(r.code == 0 and r.json()["ok"] for r in runs), runs[0].stderr
    assert _stats(sandbox)["zoho_tokens_minted"] == before  # the connect's token served all twenty
    status = {s["service"]: s for s in crmpay_env.run("status", "--json", env=env).json()["services"]}
    assert status["zoho"]["connected"]
    for secret in (creds["client_secret"],):
        assert not [p for p in crmpay_env.home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_crm_check_names_what_is_missing(crmpay_env, sandbox):
    crmpay_env.connect_zoho(sandbox)
    crmpay_env.run("config", "set", "crm.mandates_module", "Mandats_SEPA")
    result = crmpay_env.run("crm", "check")
    assert result.code == 2
    assert "crm.mandates_module: module 'Mandats_SEPA' does not exist" in result.stderr


def test_runs_started_together_on_an_empty_cache_mint_one_token(crmpay_env, sandbox, file_keyring):
    import subprocess
    import sys

    from crmpay import secrets

    crmpay_env.connect_zoho(sandbox)  # the client id and secret stay in its environment
    env = crmpay_env.environ
    secrets.delete_secret("default", "zoho", "access_token")  # as if the cached token had expired
    before = _stats(sandbox)["zoho_tokens_minted"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "crmpay", "crm", "check"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(8)
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read().decode()) for p in procs]
    assert [code for code, _ in outcomes] == [0] * 8, outcomes
    assert _stats(sandbox)["zoho_tokens_minted"] == before + 1


def test_ten_tokens_per_ten_minutes_then_zohos_refusal(sandbox, crm):
    from crmpay.core.errors import TemporaryError

    for _ in range(9):  # the grant exchange minted the first of ten
        crm._mint()
    with pytest.raises(TemporaryError, match="more than ten in ten minutes"):
        crm._mint()
    sandbox.advance(11 / (24 * 60))  # eleven minutes later the window has passed
    assert crm._mint().access_token


def test_more_than_100_records_in_one_call_is_refused(sandbox, crm):
    token = crm._access().access_token
    response = httpx.post(
        f"{sandbox.url}/crm/v8/Contacts",
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
        json={"data": [{"Last_Name": f"N{i}"} for i in range(101)]},
    )
    assert response.status_code == 400 and response.json()["code"] == "LIMIT_EXCEEDED"
    assert _stats(sandbox)["zoho_records"]["Contacts"] == 0


def test_an_expired_token_is_refreshed_once_whichever_code_zoho_answers(sandbox, crm):
    """Zoho answers an expired access token with INVALID_TOKEN or AUTHENTICATION_FAILURE;
    the sandbox alternates (first INVALID_TOKEN), so two expiries meet both."""
    crm.users()
    before = _stats(sandbox)["zoho_tokens_minted"]
    for _ in range(2):
        httpx.post(f"{sandbox.url}/__sandbox/zoho/expire_tokens")
        assert crm.users()  # refused once, refreshed once, carried on
    assert sandbox.services["zoho"].expired_answers == 2  # one INVALID_TOKEN, one AUTHENTICATION_FAILURE
    assert _stats(sandbox)["zoho_tokens_minted"] == before + 2
    token = crm._access().access_token
    httpx.post(f"{sandbox.url}/__sandbox/zoho/expire_tokens")
    codes = [
        httpx.get(f"{sandbox.url}/crm/v8/users", headers={"Authorization": f"Zoho-oauthtoken {token}"}).json()["code"]
        for _ in range(2)
    ]
    assert codes == ["INVALID_TOKEN", "AUTHENTICATION_FAILURE"]


def test_a_changed_address_is_not_served_from_the_cached_token(sandbox, file_keyring, tmp_path):
    """The cached token belongs to the accounts server and API address that minted it:
    after `zoho.base_url` changes, the next run mints at the new place."""
    from crmpay.sandbox import Sandbox

    cache = TokenCache("default", tmp_path / "profile")

    def client(box):
        creds = box.credentials()["zoho"]
        refresh = exchange_grant_code(
            creds["client_id"], creds["client_secret"], _grant(box), accounts=creds["accounts_url"]
        )["refresh_token"]
        return ZohoCRM(
            creds["client_id"],
            creds["client_secret"],
            refresh,
            token_cache=cache,
            accounts=creds["accounts_url"],
            api_url=box.url,
            retry_policy=FAST,
        )

    first = client(sandbox)
    assert first.users() and cache.load().api_domain == sandbox.url
    with Sandbox(start=sandbox.clock.today()) as moved:
        second = client(moved)
        httpx.delete(f"{sandbox.url}/__sandbox/stats")
        assert second.users()
        assert _stats(moved)["requests"]["GET /crm/v8/users"] == 1
        assert "GET /crm/v8/users" not in _stats(sandbox)["requests"]
        assert cache.load().api_domain == moved.url
        second.close()
    first.close()


def test_the_uk_data_centre_is_known():
    from crmpay.config import ZohoSettings
    from crmpay.crm.zoho import DATA_CENTRES, accounts_url

    assert accounts_url("uk") == "https://accounts.zoho.uk"
    assert DATA_CENTRES["uk"][1] == "https://www.zohoapis.uk"
    assert ZohoSettings.model_validate({"dc": "uk"}).dc == "uk"


def test_the_21st_refresh_token_deletes_the_oldest(sandbox):
    creds = sandbox.credentials()["zoho"]
    tokens = [
        exchange_grant_code(
            creds["client_id"], creds["client_secret"], _grant(sandbox), accounts=creds["accounts_url"]
        )["refresh_token"]
        for _ in range(21)
    ]
    mint = {"grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": creds["client_secret"]}
    oldest = httpx.post(f"{creds['accounts_url']}/oauth/v2/token", data={**mint, "refresh_token": tokens[0]})
    assert oldest.json() == {"error": "invalid_code"}
    second = httpx.post(f"{creds['accounts_url']}/oauth/v2/token", data={**mint, "refresh_token": tokens[1]})
    assert second.json()["access_token"]


def test_reconnecting_revokes_the_profiles_previous_refresh_token(crmpay_env, sandbox):
    service = sandbox.services["zoho"]
    crmpay_env.connect_zoho(sandbox)
    first = set(service.refresh_tokens)
    assert len(first) == 1
    code = httpx.post(f"{sandbox.url}/__sandbox/zoho/grant_code").json()["code"]
    again = crmpay_env.run(
        "connect", "zoho", "--environment", "local", "--base-url", sandbox.url, "--grant-code", code, "--json"
    )
    assert again.code == 0, again.stderr
    assert again.json()["previous_token_revoked"] is True
    assert "revoked this profile's previous Zoho refresh token" in again.stderr
    assert len(service.refresh_tokens) == 1 and not first & set(service.refresh_tokens)
    assert crmpay_env.run("crm", "check").code == 0  # the new token works


@pytest.mark.parametrize("module", ["Tasks", "Calls"])
def test_activities_cannot_be_upserted(sandbox, crm, module):
    """Zoho v8's upsert takes Leads, Accounts, Contacts, Deals, … and custom modules, not
    Tasks, Calls or Meetings: the sandbox refuses as Zoho does, and inserting still works."""
    record = {"Subject": "x", "CRMPAY_Call_Id": "c1"}
    if module == "Calls":
        record.update(Call_Type="Inbound", Call_Start_Time="2026-11-20T09:00:00+01:00")
    token = crm._access().access_token
    refused = httpx.post(
        f"{sandbox.url}/crm/v8/{module}/upsert",
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
        json={"data": [record], "duplicate_check_fields": ["CRMPAY_Call_Id"]},
    )
    assert refused.status_code == 400 and refused.json()["code"] == "INVALID_MODULE"
    assert _stats(sandbox)["zoho_records"][module] == 0
    assert crm.insert(module, [record])[0].ok


def test_pipelines_are_read_per_real_layout_and_deals_must_fit_them(sandbox, crm):
    """`layout_id` must be a real layout id; a new org's pipeline is stored as
    "Standard (Standard)"; a deal whose pipeline or stage is not in its layout is refused."""
    token = crm._access().access_token
    by_default = httpx.get(
        f"{sandbox.url}/crm/v8/settings/pipeline",
        params={"layout_id": "default"},
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
    )
    assert by_default.status_code == 400 and by_default.json()["code"] == "INVALID_DATA"
    [layout] = crm.layouts("Deals")
    [standard] = crm.pipelines(layout["id"])
    assert (standard.actual, standard.display) == ("Standard (Standard)", "Standard")
    assert standard.stages[0] == "Qualification" and "Closed Lost to Competition" in standard.stages
    deal = {"Deal_Name": "D", "Stage": "Qualification", "Layout": {"id": layout["id"]}}
    results = crm.insert(
        "Deals",
        [
            {**deal, "Pipeline": "Standard (Standard)"},
            {**deal, "Pipeline": "Standard"},  # the display name is not what a record carries
            {**deal, "Pipeline": "Standard (Standard)", "Stage": "Signed"},
            {**deal, "Pipeline": "Standard (Standard)", "Layout": {"id": "123"}},
        ],
    )
    assert [(r.ok, r.code) for r in results] == [
        (True, "SUCCESS"),
        (False, "MAPPING_MISMATCH"),
        (False, "MAPPING_MISMATCH"),
        (False, "INVALID_DATA"),
    ]


def test_sandbox_answers_carry_the_fields_zohos_openapi_description_requires(sandbox, crm):
    """Shapes checked against zoho/crm-oas v8.0 (pipeline.json, record.json, coql.json):
    the fields marked required there are present in the sandbox's answers."""
    [layout] = crm.layouts("Deals")
    token = crm._access().access_token
    answer = httpx.get(
        f"{sandbox.url}/crm/v8/settings/pipeline",
        params={"layout_id": layout["id"]},
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
    ).json()
    for pipeline in answer["pipeline"]:
        assert {"display_value", "default", "maps", "actual_value", "id"} <= pipeline.keys()
        for stage in pipeline["maps"]:
            assert {"display_value", "sequence_number", "forecast_category", "actual_value", "id", "forecast_type"} <= (
                stage.keys()
            )
            assert {"name", "id"} <= stage["forecast_category"].keys() and stage["sequence_number"] <= 10
    missing = httpx.get(
        f"{sandbox.url}/crm/v8/settings/pipeline", headers={"Authorization": f"Zoho-oauthtoken {token}"}
    )
    assert missing.status_code == 400
    assert {"status", "code", "message", "details"} <= missing.json().keys()
    assert missing.json()["code"] == "REQUIRED_PARAM_MISSING"
    crm.insert("Contacts", [{"Last_Name": "Shape", "Email": "shape@example.fr"}])
    found = httpx.get(
        f"{sandbox.url}/crm/v8/Contacts/search",
        params={"email": "shape@example.fr"},
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
    ).json()
    assert {"data", "info"} <= found.keys() and {"count", "more_records"} <= found["info"].keys()


def test_upserts_match_only_on_unique_fields_and_crm_check_says_so(crmpay_env, sandbox, crm):
    """Zoho's upsert matches on system duplicate-check fields (Email of Contacts) and on
    fields marked unique: the custom modules' Name must be unique, or every sync adds."""
    record = {"Name": "MD1", "Provider": "gocardless"}
    assert crm.upsert("CRMPAY_Mandates", [record], ["Name"])[0].ok  # Name is unique in this org
    assert crm.upsert("Contacts", [{"Last_Name": "Lee", "Email": "ann@example.fr"}], ["Email"])[0].ok
    crmpay_env.connect_zoho(sandbox)
    assert crmpay_env.run("crm", "check").code == 0
    unique = [f for f in sandbox.services["zoho"].settings["unique_fields"] if f != "CRMPAY_Mandates.Name"]
    httpx.put(f"{sandbox.url}/__sandbox/zoho/settings", json={"unique_fields": unique})
    with pytest.raises(OperationFailed, match="not a unique field"):
        crm.upsert("CRMPAY_Mandates", [record], ["Name"])
    checked = crmpay_env.run("crm", "check")
    assert checked.code == 2 and "field 'Name' of CRMPAY_Mandates is not unique" in checked.stderr
