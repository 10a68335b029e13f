"""Schema migrations: an ordered list of small named steps, each recorded once applied.

Never edit or reorder a step that has shipped: add a new one, in a module of this
package imported below in order. A database that records a step this crmpay does not
know was written by a newer crmpay and is left untouched.
"""

from __future__ import annotations

from crmpay.store.migrations import (  # noqa: F401  (registers, in this order)
    m001_first_wave,
    m010_webhooks_billing_invoices,
    m040_refunds,
    m050_invoice_mentions,
)
from crmpay.store.migrations._steps import MIGRATIONS, migration, run_script

__all__ = ["MIGRATIONS", "migration", "run_script"]
