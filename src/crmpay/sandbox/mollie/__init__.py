"""The Mollie API v2, simulated under `/v2`, in the shapes of Mollie's own fixtures (`tests/fixtures/mollie`).

Wire rules (from the Mollie API reference; sources in `docs/fidelity.md`):
- `Authorization: Bearer <key>` with the key `credentials()` gives, else 401;
- amounts are strings with exactly the currency's decimals (`"16.1"` is a 422 on
  `amount.value`);
- HAL lists, newest first unless `sort=asc`, cursor `from` (an object id), `limit` 1-250,
  `_links.next`/`previous` written on the sandbox's own address, `next` null on the last page;
- errors `{status, title, detail, field?, _links}` as `application/hal+json`;
- `Idempotency-Key` on POST/PATCH/DELETE: the same key with the same body replays the first
  answer with `Idempotent-Replayed: true`; with another body it is a 400.
Every key of the fixture bodies is written, `null` where the sandbox has no value.

Lifecycles (on clock advance, in working days: weekends and TARGET2 holidays skipped):
- a recurring SEPA direct debit is `pending` and `isCancelable` until it is sent to the
  bank, one working day after creation; its `details.dueDate` (the debit date) is the
  working day after that, and it turns `paid` three working days after it was sent;
- a one-off or first payment is `open` until the customer pays on the checkout page
  (`_links.checkout.href`, `GET` shows a form, `POST` pays, or cancels with
  `action=cancel`); paying a `first` payment creates a valid `directdebit` mandate for its
  customer from the form's `consumerName`/`consumerAccount`. Unpaid, it expires 12 days
  after creation (`expiresAt`);
- a payment link's page (`_links.paymentLink.href`) creates and pays a payment;
- a refund is `pending`, then `refunded` one working day later.
`POST /__sandbox/mollie/payments/{id}/status` `{"status": "paid"|"failed"|"expired"|
"canceled"|"charged_back"}` forces an outcome; `POST /__sandbox/mollie/payments/{id}/chargeback`
charges a paid payment back (a `chb_…` object, listed under `/v2/chargebacks`; see
`chargebacks.py`); `POST /__sandbox/mollie/idempotency/conflicts` `{"count": N, "key": …}`
makes the next N POSTs with that Idempotency-Key (any, when `key` is null) answer 409
"already being processed" while the first of them is processed (see `wire.py`).

Objects are kept in creation order with a position map, for every listing and for the
listings under a customer or a payment, so a page costs O(page) even with 100,000 payments.
"""

from crmpay.sandbox.mollie.constants import API_KEY
from crmpay.sandbox.mollie.service import MollieService

__all__ = ["API_KEY", "MollieService"]
