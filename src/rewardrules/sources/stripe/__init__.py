"""Ingest stage, Stripe: billing events -> ledger events.

Referral programs are scored from a ledger (PROGRAMS.md section 1); SaaS
teams keep the underlying facts in Stripe. This package maps Stripe webhook
events (or bare API objects) to the ledger vocabulary of the reference
programs: ``referral``, ``subscription`` (``mrr``), ``payment`` (``amount``)
and ``refund`` (``amount``, ``payment``). docs/stripe.md states every rule
and why; the shape of the code follows the rules, one module per step,
each importing only the ones above it in this list:

- ``public``: what the adapter takes and gives (:class:`Options`,
  :class:`Ingested` with its :class:`Report`, :class:`StripeError` with a
  :class:`Problem` per bad payload, :data:`STRIPE_EXPONENTS`).
- ``fields``: reading a payload's fields, each with its path, so that every
  error names the exact field.

1. ``envelopes``: each payload (a full event, an event's ``data``, or a bare
   object) becomes one envelope with an event type (inferred for bare
   objects); webhook retries (the same event id twice) are dropped.
2. ``facts``: one handler per event type reads what it needs into the
   facts, and nothing else: a field the mapping does not use is never
   validated, so old and new API versions both pass.
3. *resolve*: facts that need other payloads are settled across the whole
   input. ``rows`` is the ledger row and money as text; ``mrr`` gives the
   subscription rows (a customer's MRR sums its subscriptions, after the
   discounts in effect); ``resolve`` the rest (a charge that paid an
   invoice is the invoice's payment, a refund names the ledger id of the
   payment it reverses) and all the rows in order.

- ``pipeline``: :func:`ingest` and :func:`to_ledger`, which run the steps.

Everything is a pure function of the payloads: the same events, in any
order, give the same ledger. Money stays exact: Stripe's integer minor units
(and ``*_decimal`` strings) are handled as integers and fractions, and the
only rounding (MRR to the minor unit, half to even) is explicit.
"""

from .pipeline import ingest, to_ledger
from .public import STRIPE_EXPONENTS, Ingested, Options, Problem, Report, StripeError

__all__ = [
    "STRIPE_EXPONENTS",
    "Ingested",
    "Options",
    "Problem",
    "Report",
    "StripeError",
    "ingest",
    "to_ledger",
]
