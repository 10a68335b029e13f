"""SEPA Direct Debit rules that do not depend on a provider.

- A mandate with no collection for 36 months expires, counted from the last
  collection's due date, or from the signature date if it was never used
  (reference/sepa-and-invoicing.md).
- The debtor is told amount, date, mandate reference and creditor identifier at least
  14 calendar days before the collection, unless a shorter period was agreed.
"""

from __future__ import annotations

import calendar
from datetime import date

EXPIRY_MONTHS = 36
PRENOTIFICATION_DAYS = 14
# The SEPA Direct Debit scheme started on 2 November 2009: no mandate is signed before it.
SCHEME_START = date(2009, 11, 2)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def _day(value: date | str | None) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(value[:10])


def mandate_expires_on(signature_date: date | str | None, last_collection_date: date | str | None) -> date | None:
    """The day a mandate lapses if it is not used again; None when neither date is known."""
    start = _day(last_collection_date) or _day(signature_date)
    return add_months(start, EXPIRY_MONTHS) if start else None


def mandate_expired(signature_date: date | str | None, last_collection_date: date | str | None, *, on: date) -> bool:
    """True when the mandate has lapsed by `on` (a debit on that day would be refused)."""
    expires = mandate_expires_on(signature_date, last_collection_date)
    return expires is not None and expires <= on
