"""The demo's billing step (src/crmpay/demo/billing.py) on its own: three months of a
monthly subscription, three invoices debited, one failure presented again, a reminder."""

from __future__ import annotations

from crmpay import Workspace
from crmpay.demo.invoices import SELLER


class _Quiet:
    def info(self, message: str) -> None: ...
    def success(self, message: str) -> None: ...
    def table(self, columns, rows, *, title=None, empty="") -> None:
        list(rows)


def test_the_demo_bills_three_months(tmp_path, sandbox, monkeypatch):
    from crmpay.demo import billing

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    Workspace.use_memory_keyring()
    creds = sandbox.credentials()
    with Workspace(profile="demo", home=tmp_path) as ws:
        ws.connect_provider(
            "gocardless", creds["gocardless"]["access_token"], environment="local", base_url=sandbox.url
        )
        smtp = creds["smtp"]
        ws.connect_smtp(host=smtp["host"], port=smtp["port"], security="none", from_address="f@acme.example")
        for key, value in SELLER.items():  # as the demo's invoice step leaves it
            ws.set_setting(key, value)
        summary = billing.tour(ws, sandbox, _Quiet())
    assert len(summary["invoices"]) == 3 and summary["days"] >= 59
    assert [r["status"] for r in summary["retries"]] == ["done"]
    assert summary["retries"][0]["method"] == "retry_action"
    assert [(r["invoice"], r["tone"]) for r in summary["reminders"]] == [(summary["unpaid"], "courteous")]
