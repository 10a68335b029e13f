"""`PaymentProvider.refund` against the sandbox: a refund is made once, found again by its
metadata when the provider no longer answers for the key, and what is not ours is refused."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from crmpay.core.errors import OperationFailed
from crmpay.core.models import NewCustomer, NewMandate, NewPayment
from crmpay.core.money import Money
from crmpay.providers.base import NewRefund, PaymentProvider
from crmpay.providers.gocardless import GoCardlessProvider
from crmpay.providers.mollie import MollieProvider
from crmpay.retry import RetryPolicy

IBAN = "FR1420041010050500013M02606"
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)


def _eur(value: str) -> Money:
    return Money(Decimal(value), "EUR")


def _refund(payment_id: str, amount: str, total: str, note: str = "AV-1") -> NewRefund:
    return NewRefund(payment_id, _eur(amount), _eur(total), f"Avoir {note}", {"invoice": "INV-1", "credit_note": note})


def _collected(sandbox, provider: PaymentProvider) -> str:
    customer = provider.create_customer(NewCustomer("ann@example.fr", "Ann Lee"), idempotency_key="c")
    mandate = provider.create_mandate(
        NewMandate(customer.id, "Ann Lee", IBAN, signature_date=sandbox.clock.today()), idempotency_key="m"
    )
    payment = provider.create_payment(
        NewPayment(mandate.id, _eur("100.00"), "INV-1", customer_id=customer.id), idempotency_key="p"
    )
    if provider.name == "gocardless":
        assert payment.charge_date is not None
        sandbox.advance_to(payment.charge_date)
    else:
        forced = httpx.post(f"{sandbox.url}/__sandbox/mollie/payments/{payment.id}/status", json={"status": "paid"})
        assert forced.status_code == 200
    assert provider.get_payment(payment.id).status in ("confirmed", "paid")
    return payment.id


def test_gocardless_refund_is_found_by_its_metadata_when_the_key_is_not_known(sandbox):
    gc = GoCardlessProvider(
        sandbox.credentials()["gocardless"]["access_token"],
        environment="local",
        base_url=sandbox.url,
        retry_policy=FAST,
    )
    payment_id = _collected(sandbox, gc)
    made = gc.refund(_refund(payment_id, "30.00", "30.00"), idempotency_key="key-1")
    assert (made.provider, made.payment_id, made.amount, made.status) == (
        "gocardless",
        payment_id,
        _eur("30.00"),
        "created",
    )
    assert made.metadata == {"invoice": "INV-1", "credit_note": "AV-1"}
    assert gc.refund(_refund(payment_id, "30.00", "30.00"), idempotency_key="key-1").id == made.id  # 409, then read
    # a key GoCardless does not know: the confirmation is refused, and the refund is found
    assert gc.refund(_refund(payment_id, "30.00", "30.00"), idempotency_key="key-2").id == made.id
    with pytest.raises(OperationFailed, match="total_amount_confirmation_invalid"):
        gc.refund(_refund(payment_id, "10.00", "10.00", note="AV-2"), idempotency_key="key-3")
    assert len(sandbox.services["gocardless"].objects["refunds"]) == 1


def test_mollie_refund_is_looked_for_first_and_a_duplicate_not_ours_is_refused(sandbox):
    mollie = MollieProvider(
        sandbox.credentials()["mollie"]["api_key"], environment="local", base_url=sandbox.url, retry_policy=FAST
    )
    payment_id = _collected(sandbox, mollie)
    made = mollie.refund(_refund(payment_id, "30.00", "30.00"), idempotency_key="key-1")
    assert (made.provider, made.payment_id, made.amount, made.status) == (
        "mollie",
        payment_id,
        _eur("30.00"),
        "pending",
    )
    assert mollie.refund(_refund(payment_id, "30.00", "30.00"), idempotency_key="key-2").id == made.id
    # the same amount again within the hour, for another credit note: Mollie's duplicate rule
    with pytest.raises(OperationFailed, match="duplicate refund"):
        mollie.refund(_refund(payment_id, "30.00", "60.00", note="AV-2"), idempotency_key="key-3")
    sandbox.advance(2 / 24)
    later = mollie.refund(_refund(payment_id, "30.00", "60.00", note="AV-2"), idempotency_key="key-3")
    assert later.id != made.id and len(sandbox.services["mollie"].objects["refunds"]) == 2
