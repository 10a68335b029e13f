"""Invoices: the ledger (numbering, creation), manual payments, CSV import, documents,
mail, sending, and invoices that live in Zoho CRM."""
