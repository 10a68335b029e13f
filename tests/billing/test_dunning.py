"""Dunning: each reminder step once per invoice, in the invoice's language, with the late
penalty; none once the invoice is paid; the CRM told (issue 20)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from tests.billing.conftest import mail

from crmpay.core import clock


def _invoice(env, email: str, language: str = "fr") -> str:
    due = (clock.today() + timedelta(days=5)).isoformat()
    created = env.run(
        "invoice",
        "create",
        "--customer",
        email,
        "--name",
        "Ann Lee",
        "--language",
        language,
        "--line",
        "Audit;1;100;20",
        "--due",
        due,
        "--json",
    )
    assert created.code == 0, created.stderr
    return created.json()["number"]


def _reminders(sandbox, number: str) -> list[dict]:
    return [m for m in mail(sandbox) if number in m["subject"]]


def test_reminders_go_once_per_step_and_stop_when_paid(shop, sandbox):
    shop.connect_zoho(sandbox)
    httpx.post(
        f"{sandbox.url}/__sandbox/zoho/records/Contacts",
        json={"data": [{"Last_Name": "Lee", "Email": "ann@example.fr"}]},
    )
    paid_later = _invoice(shop, "ann@example.fr")
    english = _invoice(shop, "ben@example.com", language="en")
    due = clock.today() + timedelta(days=5)
    assert shop.run("dunning", "run", "--json").json()["sent"] == []
    sandbox.advance_to(due + timedelta(days=7))
    dry = shop.run("dunning", "run", "--dry-run", "--json").json()
    assert {(s["invoice"], s["tone"]) for s in dry["sent"]} == {(paid_later, "courteous"), (english, "courteous")}
    assert mail(sandbox) == []
    first = shop.run("dunning", "run", "--json")
    assert first.code == 0, first.stderr
    assert len(first.json()["sent"]) == 2
    [fr] = _reminders(sandbox, paid_later)
    assert fr["to"] == ["ann@example.fr"] and "Rappel" in fr["subject"] and "120,00 EUR" in fr["body"]
    assert "Pénalités de retard" in fr["body"] and "40 €" in fr["body"]
    [en] = _reminders(sandbox, english)
    assert "Reminder" in en["subject"] and "Late payment penalties" in en["body"] and "120.00 EUR" in en["body"]
    crm = [s["crm"] for s in first.json()["sent"]]
    assert any(c and c.startswith("task ") for c in crm) and "no CRM contact with this email" in crm
    tasks = sandbox.services["zoho"].records["Tasks"].values()
    assert [t for t in tasks if paid_later in t["Subject"] and t["Status"] == "Completed"]
    assert shop.run("dunning", "run", "--json").json()["sent"] == []  # once per step
    listed = {i["number"]: i for i in shop.run("dunning", "list", "--json").json()}
    assert listed[paid_later]["last_tone"] == "courteous"
    assert listed[paid_later]["next_step"] == (due + timedelta(days=15)).isoformat()
    sandbox.advance_to(due + timedelta(days=15))
    second = shop.run("dunning", "run", "--json").json()["sent"]
    assert {(s["invoice"], s["tone"]) for s in second} == {(paid_later, "formal"), (english, "formal")}
    received = clock.today().isoformat()
    assert (
        shop.run(
            "payment", "record", paid_later, "--amount", "120.00", "--method", "transfer", "--received-on", received
        ).code
        == 0
    )
    sandbox.advance_to(due + timedelta(days=40))
    third = shop.run("dunning", "run", "--json").json()["sent"]
    assert [(s["invoice"], s["tone"]) for s in third] == [(english, "notice")]  # none once paid
    assert len(_reminders(sandbox, paid_later)) == 2 and len(_reminders(sandbox, english)) == 3
    notice = _reminders(sandbox, english)[-1]
    assert "Formal notice" in notice["subject"] and "eight days" in notice["body"]
    assert shop.run("dunning", "run", "--json").json()["sent"] == []
    listed = {i["number"]: i for i in shop.run("dunning", "list", "--json").json()}
    assert listed[paid_later]["state"].startswith("paid") and listed[english]["state"] == "every step sent"


def test_an_invoice_found_late_gets_only_the_step_it_has_reached(shop, sandbox):
    number = _invoice(shop, "cat@example.fr")
    sandbox.advance(5 + 31)
    sent = shop.run("dunning", "run", "--json").json()["sent"]
    assert [(s["invoice"], s["tone"], s["step"]) for s in sent] == [(number, "notice", 30)]
    [notice] = _reminders(sandbox, number)
    assert "Mise en demeure" in notice["subject"]
    assert shop.run("dunning", "run", "--json").json()["sent"] == []
    custom = shop.run("dunning", "run", "--json", env={"CRMPAY_DUNNING__STEPS": "7:courteous,40:notice"})
    assert custom.code == 0 and custom.json()["sent"] == []  # 40 days not reached yet
    sandbox.advance(10)  # 41 days past due
    later = shop.run("dunning", "run", "--json", env={"CRMPAY_DUNNING__STEPS": "7:courteous,40:notice"})
    assert [(s["step"], s["tone"]) for s in later.json()["sent"]] == [(40, "notice")]
    bad = shop.run("dunning", "run", env={"CRMPAY_DUNNING__STEPS": "7:rude"})
    assert bad.code == 2 and "dunning.steps" in bad.stderr
