"""Payments: cancelling one while the bank has not got it."""
