"""Constants of the simulated Zoho CRM: the OAuth client, scopes, modules, fields, the Deals pipeline."""

from __future__ import annotations

CLIENT_ID = "1000.CRMPAYSANDBOXCLIENT"
CLIENT_SECRET = "crmpay-sandbox-client-secret"
ALL_SCOPES = [
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.modules.READ",
    "ZohoCRM.settings.fields.READ",
    "ZohoCRM.settings.layouts.READ",
    "ZohoCRM.settings.pipeline.READ",
    "ZohoCRM.users.READ",
    "ZohoCRM.coql.READ",
]
MANDATORY = {
    "Leads": ("Last_Name",),
    "Contacts": ("Last_Name",),
    "Accounts": ("Account_Name",),
    "Deals": ("Deal_Name", "Stage"),
    "Tasks": ("Subject",),
    "Calls": ("Subject", "Call_Type", "Call_Start_Time"),
    "Invoices": ("Subject", "Invoiced_Items"),
    "CRMPAY_Mandates": ("Name",),
    "CRMPAY_Payments": ("Name",),
}
# v8 upsert takes Leads, Accounts, Contacts, Deals, … and custom modules, not activities
NOT_UPSERTABLE = frozenset({"Tasks", "Calls", "Events"})
# Upsert matches only on these system duplicate-check fields, or on fields marked unique.
SYSTEM_DUPLICATE_CHECK = {"Leads": ("Email",), "Contacts": ("Email",), "Accounts": ("Account_Name",)}
UNIQUE_FIELDS = (
    "CRMPAY_Mandates.Name",
    "CRMPAY_Payments.Name",
    "Deals.CRMPAY_Call_Id",
    "Tasks.CRMPAY_Call_Id",
    "Calls.CRMPAY_Call_Id",
)
MAX_REFRESH_TOKENS = 20  # per user: the 21st deletes the oldest

FIELDS = {
    "Leads": ["Last_Name", "First_Name", "Company", "Email", "Phone", "Mobile", "Lead_Source", "Lead_Status", "Owner"],
    "Contacts": [
        "Last_Name",
        "First_Name",
        "Email",
        "Phone",
        "Mobile",
        "Home_Phone",
        "Account_Name",
        "Owner",
        "CRMPAY_Active_Mandate",
    ],
    "Accounts": ["Account_Name", "Phone", "Owner"],
    "Deals": [
        "Deal_Name",
        "Stage",
        "Pipeline",
        "Layout",
        "Closing_Date",
        "Account_Name",
        "Contact_Name",
        "Amount",
        "Owner",
        "CRMPAY_Call_Id",
    ],
    "Tasks": [
        "Subject",
        "Due_Date",
        "Status",
        "Priority",
        "Owner",
        "Who_Id",
        "What_Id",
        "Description",
        "CRMPAY_Call_Id",
    ],
    "Calls": [
        "Subject",
        "Call_Type",
        "Call_Start_Time",
        "Call_Duration",
        "Who_Id",
        "What_Id",
        "Caller_ID",
        "Dialled_Number",
        "Owner",
        "Description",
        "CRMPAY_Call_Id",
    ],
    "Invoices": [
        "Subject",
        "Invoice_Number",
        "Invoiced_Items",
        "Account_Name",
        "Contact_Name",
        "Invoice_Date",
        "Due_Date",
        "Status",
        "Grand_Total",
        "Currency",
    ],
    "CRMPAY_Mandates": ["Name", "Provider", "Status", "Reference", "Contact", "Email"],
    "CRMPAY_Payments": ["Name", "Provider", "Status", "Amount", "Currency", "Charge_Date", "Mandate", "Email"],
}
# A new org's Deals layout and its one pipeline, stored as "Standard (Standard)" and shown
# as "Standard", with Zoho's standard stages. Pipelines are read per layout.
DEALS_LAYOUT = {"id": "5725767000000091055", "name": "Standard", "status": "active"}
PIPELINES = {  # actual value -> (display value, stages)
    "Standard (Standard)": (
        "Standard",
        [
            "Qualification",
            "Needs Analysis",
            "Value Proposition",
            "Identify Decision Makers",
            "Proposal/Price Quote",
            "Negotiation/Review",
            "Closed Won",
            "Closed Lost",
            "Closed Lost to Competition",
        ],
    )
}
PHONE_FIELDS = ("Phone", "Mobile", "Home_Phone", "Other_Phone")
FORECASTS = {"Closed Won": ("Closed", "Closed Won"), "Closed Lost": ("Omitted", "Closed Lost")}  # else Pipeline/Open
