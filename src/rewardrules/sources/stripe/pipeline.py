"""The Stripe adapter's entry points: payloads in, an
:class:`~.public.Ingested` ledger out (or a :class:`~.public.StripeError`).

:func:`ingest` runs the stages over the whole input: envelopes (dropping
webhook retries and repeated payloads), in an order of their own, not the
input's; facts; the current version of each discount and coupon; resolve.
:func:`to_ledger` is the same with keyword options, and gives the ledger
only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ...core.formatting import quoted
from ...core.runtime import in_context
from .. import Payload
from .envelopes import _CONTENT, _Envelope, _envelope, _Unreadable
from .facts import _HANDLERS, _Facts
from .fields import _Malformed
from .mrr import _settle_versions
from .public import Ingested, Options, Problem, Report, StripeError
from .resolve import _resolve


@in_context
def to_ledger(
    events: Iterable[Mapping[str, Any] | Payload],
    *,
    referrer_key: str = "referrer",
    use_client_reference_id: bool = True,
    referral_attributes: Mapping[str, str] | None = None,
    currency: str | None = None,
    live_only: bool = False,
) -> list[dict[str, str]]:
    """Stripe events (webhook payloads as dicts) -> ledger events.

    Pass every event you have, not one at a time: a refund's customer, the
    invoice a charge paid and a customer's total MRR come from other events.
    The result is a function of the set of events, so re-running it on a
    growing store of webhooks is safe. Raises :class:`StripeError`.
    """
    options = Options(
        referrer_key=referrer_key,
        use_client_reference_id=use_client_reference_id,
        referral_attributes=Options().referral_attributes if referral_attributes is None else referral_attributes,
        currency=currency,
        live_only=live_only,
    )
    return ingest(events, options).ledger


@in_context
def ingest(events: Iterable[Mapping[str, Any] | Payload], options: Options | None = None) -> Ingested:
    """Like :func:`to_ledger`, with the :class:`Report` of what was skipped."""
    options = options or Options()
    report = Report()
    facts = _Facts()
    problems: list[Problem] = []
    seen: dict[str, _Envelope] = {}
    position: dict[str, int] = {}
    for payload in _payloads(events):
        report.payloads += 1
        position.setdefault(payload.source, len(position))
        try:
            envelope = _envelope(payload)
        except _Unreadable as bad:
            problems.append(bad.problem)
            continue
        first = seen.get(envelope.key)
        if first is not None:
            if first.content != envelope.content:
                problems.append(_retry_conflict(first, envelope))
            else:
                report.duplicates["webhook retry" if envelope.event_id else "repeated payload"] += 1
            if envelope.source < first.source:
                seen[envelope.key] = envelope
            continue
        seen[envelope.key] = envelope
    for envelope in sorted(seen.values(), key=_rank):
        _dispatch(envelope, facts, options, report, problems)
    ledger: list[dict[str, str]] = []
    _settle_versions(facts, problems)
    if not problems:
        ledger = _resolve(facts, report, problems)
    if problems:
        # reported in input order, whatever order the payloads were read in
        problems.sort(key=lambda p: position.get(p.source, len(position)))
        raise StripeError(problems)
    for row in ledger:
        report.written[row["type"]] += 1
    report.unused.update(+facts.unused)
    report.warnings.extend(facts.warnings)
    return Ingested(ledger, report)


def _rank(envelope: _Envelope) -> tuple[int, str, str]:
    """The order payloads are read in: by event time, then event id, then
    content digest, whatever order the input had. Every "first one seen"
    in the later steps is thus a function of the set of payloads; where the
    first is not the right one, the rule that decides is explicit (latest
    version of a discount, one invoice per charge, ...)."""
    created = -1 if envelope.created is None else envelope.created
    return created, envelope.event_id or "", envelope.key


def _retry_conflict(a: _Envelope, b: _Envelope) -> Problem:
    """Two payloads with one event id that say different things. A webhook
    retry repeats an event exactly; which one is true cannot be told, and
    keeping whichever came first would make the ledger depend on input
    order. The pair is named in source order, whichever came first."""
    a, b = sorted((a, b), key=lambda e: e.source)
    differs = next((key for key, x, y in zip(_CONTENT, a.content, b.content, strict=False) if x != y), None)
    return Problem(
        b.source,
        b.where,
        differs,
        f"event id {quoted(b.event_id)} is also in {a.source}, with different content; "
        "a webhook retry repeats an event exactly: keep the payload that is right and remove the other",
    )


def _payloads(events: Iterable[Mapping[str, Any] | Payload]) -> Iterable[Payload]:
    for index, event in enumerate(events):
        yield event if isinstance(event, Payload) else Payload(f"<events>[{index}]", event)


def _dispatch(envelope: _Envelope, facts: _Facts, options: Options, report: Report, problems: list[Problem]) -> None:
    if options.live_only and envelope.livemode is False:
        facts.unused["test mode"] += 1
        return
    handler = _HANDLERS.get(envelope.type)
    if handler is None:
        report.skipped[envelope.type] += 1
        return
    try:
        handler(envelope, facts, options)
    except _Malformed as bad:
        problems.append(Problem(envelope.source, envelope.where, bad.field, bad.message))
