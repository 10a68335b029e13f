"""Zoho CRM, simulated: OAuth (`/oauth/v2/token`) and the records API under `/crm/v8`.

Rules from the Zoho CRM v8 API documentation (sources in `docs/fidelity.md`): a refresh
token mints at most ten access tokens per ten minutes of the sandbox clock; access tokens live an hour; at most 100
records per write, 207 for mixed outcomes, 204 for empty results; search's `equals`
acts like "contains", as in v8, and `phone=` finds a number only as it was typed; 429 once more
requests than `max_concurrency` are in flight.

Modules: Leads, Contacts, Accounts, Deals, Tasks, Calls, Invoices, and two custom
modules crmpay mirrors providers into, `CRMPAY_Mandates` and `CRMPAY_Payments`.
"""

from crmpay.sandbox.zoho.constants import CLIENT_ID, CLIENT_SECRET, DEALS_LAYOUT
from crmpay.sandbox.zoho.service import ZohoService

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "DEALS_LAYOUT", "ZohoService"]
