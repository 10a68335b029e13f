"""An invoice that lives in Zoho CRM: fetched by `invoice send`, its Status written back."""

from __future__ import annotations

from datetime import timedelta

import httpx

from crmpay.core.models import NewCustomer, NewMandate
from crmpay.providers.gocardless import GoCardlessProvider
from crmpay.retry import RetryPolicy


def test_zoho_invoice_is_fetched_sent_and_marked(crmpay_env, sandbox):
    creds = sandbox.credentials()
    crmpay_env.env["CRMPAY_GOCARDLESS_ACCESS_TOKEN"] = creds["gocardless"]["access_token"]
    crmpay_env.connect_zoho(sandbox)
    assert crmpay_env.run("connect", "gocardless", "--environment", "local", "--base-url", sandbox.url).code == 0
    gc = GoCardlessProvider(
        creds["gocardless"]["access_token"],
        environment="local",
        base_url=sandbox.url,
        retry_policy=RetryPolicy(attempts=3, base_delay=0.001),
    )
    customer = gc.create_customer(NewCustomer("zoe@example.fr", "Zoé Durand"), idempotency_key="c")
    gc.create_mandate(NewMandate(customer.id, "Zoé Durand", "FR1420041010050500013M02606"), idempotency_key="m")
    assert crmpay_env.run("sync").code == 0
    contact = httpx.post(
        f"{sandbox.url}/__sandbox/zoho/records/Contacts",
        json={"data": [{"Last_Name": "Durand", "First_Name": "Zoé", "Email": "zoe@example.fr"}]},
    ).json()["ids"][0]
    today = sandbox.clock.today()
    due = (today + timedelta(days=15)).isoformat()
    invoice_id = httpx.post(
        f"{sandbox.url}/__sandbox/zoho/records/Invoices",
        json={
            "data": [
                {
                    "Subject": "Abonnement",
                    "Invoice_Number": "INV-42",
                    "Contact_Name": {"id": contact},
                    "Invoice_Date": today.isoformat(),
                    "Due_Date": due,
                    "Currency": "EUR",
                    "Status": "Created",
                    "Invoiced_Items": [
                        {
                            "Product_Name": {"name": "Abonnement annuel"},
                            "Quantity": 2,
                            "List_Price": 50.0,
                            "Discount": 10.0,
                            "Tax": 18.0,
                            "Description": "Abonnement annuel",
                        },
                        {
                            "Product_Name": {"name": "Livre"},
                            "Quantity": 1,
                            "List_Price": 20.0,
                            "Discount": 0,
                            "Tax": 1.1,
                        },
                    ],
                }
            ]
        },
    ).json()["ids"][0]
    sent = crmpay_env.run("invoice", "send", "INV-42", "--no-email", "--json")
    assert sent.code == 0, sent.stderr
    assert "fetched from Zoho CRM" in sent.stderr
    assert sent.json()["amount"] == "129.10"  # (2 x 50 - 10) + 18 + 20 + 1.10
    shown = crmpay_env.run("invoice", "show", "INV-42", "--json").json()
    assert [v["rate"] for v in shown["vat"]] == ["5.5", "20"] and shown["source"] == "zoho"
    service = sandbox.services["zoho"]
    assert service.records["Invoices"][invoice_id]["Status"] == "Sent"
    sandbox.advance(30)
    synced = crmpay_env.run("sync", "--json")
    assert "invoice statuses pushed (1 of 1)" in synced.json()["crm"]
    assert service.records["Invoices"][invoice_id]["Status"] == "Paid"
