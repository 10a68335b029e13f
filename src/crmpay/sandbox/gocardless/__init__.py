"""The GoCardless Pro API, simulated: served at the root, as the SDK drops path prefixes.

Shapes follow GoCardless's own response fixtures (`tests/fixtures/gocardless`: every key
is present), rules follow the GoCardless API reference (sources in `docs/fidelity.md`):
envelopes by resource name, newest-first lists with `meta.cursors`, `limit` <= 500,
error bodies with typed `errors`, `RateLimit-*` headers on every answer, `Idempotency-Key` conflicts answered 409 with
`conflicting_resource_id`, 401 for a wrong or missing bearer token.

Lifecycles move when the sandbox clock advances, in working days:
- mandates: pending_submission -> submitted the next working day -> active two working
  days later; `next_possible_charge_date` is computed when a mandate is read;
- payments: pending_submission -> submitted two working days before the charge date ->
  confirmed on the charge date -> paid_out two working days after it;
- mandate imports: submitted -> processed on the next advance.
Every change emits an event. Scenario simulators force the other outcomes, and
`/__sandbox/gocardless/flow/{id}` is the page a customer fills in to fulfil a billing
request.

Built for 100,000 payments: objects live in creation order with a position map, links
that lists filter on (customer, mandate, ...) have an index of ids in creation order, and
the clock only visits objects that are due (a heap of due dates), so a page or a day
costs what it returns, not the size of the tables.
"""

from crmpay.sandbox.gocardless.constants import TOKEN
from crmpay.sandbox.gocardless.service import GoCardlessService

__all__ = ["TOKEN", "GoCardlessService"]
