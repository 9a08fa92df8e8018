"""Ingest stage, Stripe: billing events -> ledger events.

Referral programs are scored from a ledger (PROGRAMS.md section 1); SaaS
teams keep the underlying facts in Stripe. This module maps Stripe webhook
events (or bare API objects) to the ledger vocabulary of the reference
programs: ``referral``, ``subscription`` (``mrr``), ``payment`` (``amount``)
and ``refund`` (``amount``, ``payment``). docs/stripe.md states every rule
and why; the shape of the code follows the rules:

1. *envelopes*: each payload (a full event, an event's ``data``, or a bare
   object) becomes one :class:`_Envelope` with an event type (inferred for
   bare objects); webhook retries (the same event id twice) are dropped.
2. *facts*: one handler per event type reads what it needs into
   :class:`_Facts`, and nothing else: a field the mapping does not use is
   never validated, so old and new API versions both pass.
3. *resolve*: facts that need other payloads are settled across the whole
   input: a charge that paid an invoice is the invoice's payment, a refund
   names the ledger id of the payment it reverses, a customer's MRR sums its
   subscriptions.

Everything is a pure function of the payloads: the same events, in any
order, give the same ledger. Money stays exact: Stripe's integer minor units
(and ``*_decimal`` strings) are handled as integers and fractions, and the
only rounding (MRR to the minor unit, half to even) is explicit.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from math import ceil, floor
from typing import Any, Final, NoReturn

from ..core.formatting import quoted, shown
from ..core.problem import Location, Severity
from ..core.problem import Problem as CoreProblem
from ..core.render import text as render_text
from ..core.runtime import in_context
from ..core.timeutil import NS_PER_SECOND, TimestampError, format_timestamp
from ..core.units import CURRENCY_EXPONENTS
from . import Payload

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

# Stripe's minor-unit exponents are ISO 4217's except where Stripe's API
# keeps its own for backward compatibility: ISK amounts are two-decimal in the
# API (100 = 1 kr) though ISO says 0, and MGA is zero-decimal in the API
# though ISO says 2. Three-decimal currencies (KWD, BHD, ...) match ISO.
STRIPE_EXPONENTS: Final[dict[str, int]] = {**CURRENCY_EXPONENTS, "ISK": 2, "MGA": 0}

# Subscription states that bring no recurring revenue now (Stripe's own MRR
# leaves them out too): not started, trial, stopped, or no longer collected.
NO_REVENUE_STATUSES: Final = frozenset({"canceled", "incomplete", "incomplete_expired", "trialing", "paused", "unpaid"})

# Dispute states in which Stripe has taken the money back from the merchant.
# `warning_*` states are inquiries: no money moves.
WITHDRAWN_DISPUTE_STATUSES: Final = frozenset({"needs_response", "under_review", "lost"})

# A charge without any invoice link (API versions from 2025-03-31 no longer
# carry `charge.invoice`) is taken as an invoice's payment when customer,
# currency and amount match and it was made this close to the payment.
MATCH_WINDOW_SECONDS: Final = 3600

# Months per billing interval, as an exact fraction: a year is 12 months and
# 365 days, so a month is 365/12 days and 365/84 weeks.
_MONTHS_PER_INTERVAL: Final = {
    "day": Fraction(12, 365),
    "week": Fraction(84, 365),
    "month": Fraction(1),
    "year": Fraction(12),
}

# How a bare object's kind is told by its id when it has no `object` field
# (some stored payloads drop it). Longest prefix first.
_ID_PREFIXES: Final = (
    ("inpay_", "invoice_payment"),
    ("cus_", "customer"),
    ("sub_", "subscription"),
    ("pyr_", "refund"),
    ("cs_", "checkout.session"),
    ("ch_", "charge"),
    ("py_", "charge"),
    ("in_", "invoice"),
    ("re_", "refund"),
    ("dp_", "dispute"),
    ("du_", "dispute"),
    ("di_", "discount"),
)

_DECIMAL_TEXT: Final = r"[0-9]+(\.[0-9]+)?"


# ---------------------------------------------------------------------------
# Public types.


@dataclass(frozen=True, slots=True)
class Options:
    """What the mapping cannot know by itself.

    ``referrer_key``: the metadata key (on checkout sessions and customers)
    naming the referrer. ``use_client_reference_id``: take a checkout
    session's ``client_reference_id`` as the referrer when the metadata key
    is absent; turn it off when your app puts its own user id there.
    ``referral_attributes``: referral attribute -> metadata key, copied onto
    referral events (``source`` for partner_and_customer). ``currency``: when
    set, money in any other currency is an error rather than scored as if it
    were this one. ``live_only``: drop test-mode payloads.
    """

    referrer_key: str = "referrer"
    use_client_reference_id: bool = True
    referral_attributes: Mapping[str, str] = field(default_factory=lambda: {"source": "referral_source"})
    currency: str | None = None
    live_only: bool = False


@dataclass(frozen=True, slots=True)
class Problem:
    """A payload that cannot be mapped: where it is, which field, and why."""

    source: str
    where: str
    field: str | None
    message: str

    def to_problem(self) -> CoreProblem:
        """The problem, for the shared renderer: the payload file, the
        event or object in it (`item`) and the field, no line."""
        where = Location(self.source, field=self.field, item=self.where)
        return CoreProblem(Severity.ERROR, None, self.message, where)

    def render(self) -> str:
        """One line (`render.text`), `printable`: the source is a file name
        and the message quotes payload values (each already cut by
        `formatting.quoted`). No `error:`: the lines are listed under the
        CLI's error line, or are its text."""
        return render_text(self.to_problem(), label=False)


class StripeError(ValueError):
    """Malformed payloads; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))


@dataclass
class Report:
    """What happened to each payload, for the summary a user reads."""

    payloads: int = 0
    written: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    unused: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary, one line per topic, counts in a stable order."""
        out = [
            f"read {self.payloads} payload(s); wrote {sum(self.written.values())} ledger event(s)"
            + _counts(self.written)
        ]
        if self.skipped:
            out.append(
                f"skipped {sum(self.skipped.values())} payload(s) of types the mapping does not read"
                + _counts(self.skipped)
            )
        if self.unused:
            out.append(f"{sum(self.unused.values())} payload(s) gave no ledger event" + _counts(self.unused))
        if self.duplicates:
            out.append(f"dropped {sum(self.duplicates.values())} duplicate(s)" + _counts(self.duplicates))
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


def _counts(counter: Counter[str]) -> str:
    # a key can be a payload's own `type`: shown escaped and cut, as in messages
    return ": " + ", ".join(f"{shown(key)} {n}" for key, n in sorted(counter.items()))


@dataclass(frozen=True, slots=True)
class Ingested:
    """The ledger (sorted by ``at``, then ``id``) and the report."""

    ledger: list[dict[str, str]]
    report: Report


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


#: what an event says, as against how it was delivered
_CONTENT: Final = ("type", "created", "data", "livemode")


def _rank(envelope: _Envelope) -> tuple[int, str, str]:
    """The order payloads are read in: by event time, then event id, then
    content digest, whatever order the input had. Every "first one seen"
    below is thus a function of the set of payloads; where the first is not
    the right one, the rule that decides is explicit (latest version of a
    discount, one invoice per charge, ...)."""
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


# ---------------------------------------------------------------------------
# Reading fields, with the path of each for error messages.


class _Malformed(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _Unreadable(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.render())
        self.problem = problem


class _Obj:
    """A JSON object inside a payload, with its path (``data.object.items``)
    so that every error names the exact field."""

    __slots__ = ("data", "path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def fail(self, key: str, message: str) -> NoReturn:
        raise _Malformed(self.field(key), message)

    def text(self, key: str) -> str:
        value = self.opt_text(key)
        if not value:
            self.fail(key, "missing; expected a non-empty string")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value
        self.fail(key, f"expected a string, not {_show(value)}")

    def integer(self, key: str) -> int:
        value = self.opt_integer(key)
        if value is None:
            self.fail(key, "missing; expected an integer")
        return value

    def opt_integer(self, key: str) -> int | None:
        """A non-negative integer (amounts in minor units, Unix seconds)."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(key, f"expected a non-negative integer, not {_show(value)}")
        return value

    def ref(self, key: str) -> str | None:
        """An id, whether the field holds it or the expanded object."""
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and value):
            return value
        if isinstance(value, Mapping):
            return _Obj(value, self.field(key)).text("id")
        self.fail(key, f"expected an id or an object, not {_show(value)}")

    def child(self, key: str) -> _Obj | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(key, f"expected an object, not {_show(value)}")
        return _Obj(value, self.field(key))

    def children(self, key: str) -> list[_Obj]:
        """The objects of a Stripe list (``{"object": "list", "data": [...]}``) or of a JSON array."""
        value = self.data.get(key)
        path = self.field(key)
        if value is None:
            return []
        if isinstance(value, Mapping):
            value, path = value.get("data"), f"{path}.data"
        if not isinstance(value, list):
            raise _Malformed(path, f"expected a list, not {_show(value)}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise _Malformed(f"{path}[{i}]", f"expected an object, not {_show(item)}")
            out.append(_Obj(item, f"{path}[{i}]"))
        return out

    def entries(self, key: str) -> list[tuple[str, Any]]:
        """The raw items of a list that may hold ids or objects (``discounts``)."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"expected a list, not {_show(value)}")
        return [(f"{self.field(key)}[{i}]", item) for i, item in enumerate(value)]

    def metadata(self, key: str) -> str | None:
        """A metadata value; Stripe deletes a key by setting it to "", so "" is absent."""
        meta = self.child("metadata")
        if meta is None:
            return None
        value = meta.opt_text(key)
        return value.strip() or None if value is not None else None


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {json.dumps(value)[:40]}"
    return f"a JSON {'array' if isinstance(value, list) else 'object'}"


# ---------------------------------------------------------------------------
# Stage 1: envelopes.


@dataclass(frozen=True, slots=True)
class _Envelope:
    """One payload, whatever its shape, as an event: type, time, object."""

    source: str
    where: str
    key: str
    event_id: str | None
    type: str
    created: int | None
    obj: _Obj
    previous: Mapping[str, Any]
    livemode: bool | None
    #: digests of what the payload says: for an event, of its `type`,
    #: `created` and `data` (not of delivery details that a webhook retry
    #: may change, such as `pending_webhooks`); for a bare object, of it all
    content: tuple[str, ...] = ()


def _envelope(payload: Payload) -> _Envelope:
    """Tell the three shapes apart: a full event (``"object": "event"``),
    an event's ``data`` (``{"object": {...}, "previous_attributes": ...}``)
    and a bare API object."""
    data = payload.data
    if not isinstance(data, Mapping):
        raise _Unreadable(Problem(payload.source, "payload", None, f"expected a JSON object, not {_show(data)}"))
    _check_unicode(payload)
    if data.get("object") == "event" or ("type" in data and isinstance(data.get("data"), Mapping)):
        return _event_envelope(payload, data)
    if isinstance(data.get("object"), Mapping):
        return _bare_envelope(payload, data["object"], "object", data.get("previous_attributes"))
    return _bare_envelope(payload, data, "", None)


def _event_envelope(payload: Payload, data: Mapping[str, Any]) -> _Envelope:
    top = _Obj(data, "")
    event_id = data.get("id")
    where = f"event {shown(event_id)}" if isinstance(event_id, str) and event_id else "event"
    try:
        event_id = top.text("id")
        event_type = top.text("type")
        created = _seconds(top, "created")
        body = top.child("data")
        obj = body.child("object") if body is not None else None
        if body is None or obj is None:
            raise _Malformed("data.object", "missing; an event carries its object in `data.object`")
        previous = body.get("previous_attributes")
    except _Malformed as bad:
        raise _Unreadable(Problem(payload.source, where, bad.field, bad.message)) from None
    return _Envelope(
        payload.source,
        where,
        f"event:{event_id}",
        event_id,
        event_type,
        created,
        obj,
        previous if isinstance(previous, Mapping) else {},
        _livemode(data),
        tuple(_digest(data.get(key)) for key in _CONTENT),
    )


def _bare_envelope(payload: Payload, data: Mapping[str, Any], path: str, previous: Any) -> _Envelope:
    obj = _Obj(data, path)
    object_id = data.get("id")
    where = f"object {shown(object_id)}" if isinstance(object_id, str) and object_id else "object"
    try:
        kind = _kind(obj)
        event_type = _inferred_type(kind, obj)
    except _Malformed as bad:
        raise _Unreadable(Problem(payload.source, where, bad.field, bad.message)) from None
    digest = _digest(data)
    return _Envelope(
        payload.source,
        where,
        f"object:{digest}",
        None,
        event_type,
        None,
        obj,
        previous if isinstance(previous, Mapping) else {},
        _livemode(data),
        (digest,),
    )


def _check_unicode(payload: Payload) -> None:
    """Refuse a payload holding a string (or key) with an unpaired surrogate
    (JSON ``"\\ud800"``): no UTF-8 ledger line could carry it, and hashing
    it would fail. One encode of the whole payload in the common case; the
    walk only finds the field to name."""
    try:
        _canonical(payload.data).encode("utf-8")
        return
    except UnicodeEncodeError:
        pass
    except RecursionError:
        raise _Unreadable(Problem(payload.source, "payload", None, "nested too deeply")) from None
    raise _Unreadable(
        Problem(
            payload.source,
            "payload",
            _surrogate_path(payload.data),
            "not valid Unicode text: it has an unpaired surrogate escape such as \\ud800 "
            "(write a character outside the BMP as a surrogate pair, or as UTF-8)",
        )
    )


def _surrogate_path(data: Any) -> str | None:
    """The path of a string, or key, that UTF-8 cannot encode; the path
    itself is always printable (a bad key is shown escaped)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and not _utf8(value):
            return path or None
        if isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                name = str(key)
                inner = f"{path}.{name}" if path else name
                if not _utf8(name):
                    return inner.encode("utf-8", "backslashreplace").decode("utf-8")
                stack.append((inner, item))
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _livemode(data: Mapping[str, Any]) -> bool | None:
    value = data.get("livemode")
    return value if isinstance(value, bool) else None


def _kind(obj: _Obj) -> str:
    kind = obj.get("object")
    if isinstance(kind, str) and kind:
        return kind
    object_id = obj.get("id")
    if isinstance(object_id, str):
        for prefix, name in _ID_PREFIXES:
            if object_id.startswith(prefix):
                return name
    obj.fail("object", "not a Stripe event or object: no `object` field and no Stripe id")


def _inferred_type(kind: str, obj: _Obj) -> str:
    """The event a bare object stands for, from its kind and status: the
    event Stripe would have sent in that state. States the mapping does not
    read get a descriptive label (``invoice (status open)``) for the report."""
    status = obj.get("status")
    inferred: str | None = None
    if kind == "charge":
        amount_refunded = obj.get("amount_refunded")
        refunded = obj.get("refunded") is True or (isinstance(amount_refunded, int) and amount_refunded > 0)
        inferred = "charge.refunded" if refunded else "charge.succeeded" if status in ("succeeded", "paid") else None
    elif kind in ("invoice", "invoice_payment"):
        inferred = f"{kind}.paid" if status == "paid" else None
    elif kind == "checkout.session":
        inferred = "checkout.session.completed" if status == "complete" else None
    elif kind == "customer":
        inferred = None if obj.get("deleted") is True else "customer.updated"
    else:
        inferred = {
            "subscription": "customer.subscription.updated",
            "refund": "refund.updated",
            "dispute": "charge.dispute.updated",
            "discount": "customer.discount.updated",
            "coupon": "coupon.updated",
        }.get(kind)
    if inferred is not None:
        return inferred
    return f"{kind} (status {status})" if isinstance(status, str) else f"{kind} (object)"


def _digest(data: Any) -> str:
    return hashlib.sha256(_canonical(data).encode()).hexdigest()[:16]


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _seconds(obj: _Obj, key: str) -> int:
    """A Unix time in seconds that the ledger can represent."""
    value = obj.integer(key)
    try:
        format_timestamp(value * NS_PER_SECOND)
    except TimestampError:
        obj.fail(key, f"the time {value} is out of range (years 0001-9999)")
    return value


def _event_time(envelope: _Envelope) -> int:
    """The event's ``created``; a bare object has none, so its own ``created``."""
    if envelope.created is not None:
        return envelope.created
    return _seconds(envelope.obj, "created")


# ---------------------------------------------------------------------------
# Stage 2: facts, one handler per event type.


@dataclass(frozen=True, slots=True)
class _Referral:
    id: str
    at: int
    referrer: str
    referee: str
    attributes: tuple[tuple[str, str], ...]
    #: the object it was read from (`customer cus_1`) and the payload
    what: str = ""
    source: str = ""
    where: str = ""


@dataclass(frozen=True, slots=True)
class _Money:
    """A payment, a refund or a dispute as read from one payload."""

    id: str
    at: int
    amount: int
    currency: str
    customer: str | None = None
    charge: str | None = None
    payment_intent: str | None = None
    status: str | None = None
    match_at: int = 0
    #: the payload it was read from
    source: str = ""


@dataclass(frozen=True, slots=True)
class _RefundedState:
    """A charge's cumulative ``amount_refunded`` as one ``charge.refunded`` showed it."""

    charge: str
    at: int
    after: int
    before: int | None
    currency: str
    listed: bool


@dataclass(frozen=True, slots=True)
class _Charge:
    customer: str | None
    invoice: str | None
    payment_intent: str | None
    has_invoice_field: bool
    #: the payload that named the customer
    customer_source: str | None = None
    #: some payload showed it succeeded (a payment intent has one such charge)
    paid: bool = False


@dataclass(frozen=True, slots=True)
class _Version:
    """One payload's copy of a discount or coupon, and when it was current:
    the event's time (None for a bare object, which has no event time)."""

    obj: _Obj
    at: int | None
    source: str


class _Links(dict[str, str]):
    """Links that hold one value per key (the invoice a charge or a payment
    intent paid), with the payload that told each, so that two payloads
    telling different values are an error naming both rather than settled
    by which one was read last."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self.sources: dict[str, str] = {}

    def note(self, key: str, value: str, source: str, obj: _Obj, field: str) -> None:
        known = self.get(key)
        if known is not None and known != value:
            (one, where_one), (other, where_other) = sorted(((value, source), (known, self.sources[key])))
            obj.fail(
                field,
                f"{self.what} {quoted(key)} paid invoice {quoted(one)} in {where_one} and invoice {quoted(other)} in {where_other}; "
                "a payment pays one invoice: remove the payload that is wrong",
            )
        if known is None or source < self.sources[key]:
            self[key] = value
            self.sources[key] = source


@dataclass(frozen=True, slots=True)
class _SubscriptionState:
    envelope: _Envelope
    at: int
    id: str
    customer: str
    deleted: bool
    status: str
    currency: str


@dataclass
class _Facts:
    referrals: list[_Referral] = field(default_factory=list)
    subscriptions: list[_SubscriptionState] = field(default_factory=list)
    invoice_payments: list[_Money] = field(default_factory=list)
    charge_payments: list[_Money] = field(default_factory=list)
    refunds: list[_Money] = field(default_factory=list)
    refunded_states: list[_RefundedState] = field(default_factory=list)
    disputes: list[tuple[_Money, bool]] = field(default_factory=list)
    charges: dict[str, _Charge] = field(default_factory=dict)
    invoice_of_charge: _Links = field(default_factory=lambda: _Links("charge"))
    invoice_of_intent: _Links = field(default_factory=lambda: _Links("payment intent"))
    #: every charge seen with each payment intent (retries make several)
    charges_of_intent: dict[str, set[str]] = field(default_factory=dict)
    #: every version of each discount and coupon, then (_settle_versions) the current one
    discount_versions: dict[str, list[_Version]] = field(default_factory=dict)
    coupon_versions: dict[str, list[_Version]] = field(default_factory=dict)
    discounts: dict[str, _Obj] = field(default_factory=dict)
    coupons: dict[str, _Obj] = field(default_factory=dict)
    unused: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


Handler = Callable[[_Envelope, _Facts, Options], None]


def _expect(obj: _Obj, kind: str) -> None:
    actual = obj.get("object")
    if isinstance(actual, str) and actual != kind:
        obj.fail("object", f"expected a {quoted(kind)}, not a {quoted(actual)}")


def _currency(obj: _Obj, expected: str | None, key: str = "currency") -> str:
    code = obj.text(key).upper()
    if code not in STRIPE_EXPONENTS:
        obj.fail(key, f"unknown currency {quoted(code)}")
    if expected is not None and code != expected.upper():
        obj.fail(
            key,
            f"the money is in {code}, not in {expected} (--currency); "
            "convert it or leave the option out to keep each event's currency",
        )
    return code


# -- referrals


def _on_checkout_session(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """A completed checkout names the referrer in metadata or client_reference_id.
    The referral happened when the customer arrived, so it is timed at the
    session's ``created``: the session completes after its first invoice is
    paid, and a referral timed at completion would miss that payment."""
    obj = envelope.obj
    _expect(obj, "checkout.session")
    referrer = obj.metadata(options.referrer_key)
    if referrer is None and options.use_client_reference_id:
        referrer = (obj.opt_text("client_reference_id") or "").strip() or None
    if referrer is None:
        facts.unused["checkout session without a referrer"] += 1
        return
    session = obj.text("id")
    customer = obj.ref("customer")
    if customer is None:
        facts.unused["checkout session without a customer"] += 1
        facts.warnings.append(
            f"checkout session {quoted(session)} names referrer {quoted(referrer)} but has no customer "
            "(guest checkout): nothing to attribute"
        )
        return
    created = obj.get("created")
    at = _seconds(obj, "created") if created is not None else _event_time(envelope)
    _add_referral(envelope, facts, options, session, at, referrer, customer, f"checkout session {quoted(session)}")


def _on_customer(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """A customer whose metadata names a referrer was referred by them, from
    the moment the metadata says so (this event)."""
    obj = envelope.obj
    _expect(obj, "customer")
    referrer = obj.metadata(options.referrer_key)
    if referrer is None:
        facts.unused["customer without a referrer"] += 1
        return
    customer = obj.text("id")
    at = _event_time(envelope)
    _add_referral(envelope, facts, options, customer, at, referrer, customer, f"customer {quoted(customer)}")


def _add_referral(
    envelope: _Envelope, facts: _Facts, options: Options, key: str, at: int, referrer: str, customer: str, what: str
) -> None:
    """The referral of `customer` by `referrer` that the object `what` (id
    `key`) names: one record, whichever kind of object named the referrer."""
    facts.referrals.append(
        _Referral(
            f"stripe:{key}:referral",
            at,
            referrer,
            customer,
            _attributes(envelope.obj, options),
            what,
            envelope.source,
            envelope.where,
        )
    )


def _attributes(obj: _Obj, options: Options) -> tuple[tuple[str, str], ...]:
    found = ((name, obj.metadata(key)) for name, key in sorted(options.referral_attributes.items()))
    return tuple((name, value) for name, value in found if value is not None)


# -- subscriptions


def _on_subscription(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """Every subscription event carries the subscription's whole state; its
    MRR is computed at resolve time, once every discount object is known."""
    obj = envelope.obj
    _expect(obj, "subscription")
    customer = obj.ref("customer")
    if customer is None:
        obj.fail("customer", "missing; a subscription belongs to a customer")
    for discount in _embedded_discounts(obj):
        _add_version(facts.discount_versions, discount, envelope)
    facts.subscriptions.append(
        _SubscriptionState(
            envelope,
            _event_time(envelope),
            obj.text("id"),
            customer,
            deleted=envelope.type == "customer.subscription.deleted",
            status=obj.text("status"),
            currency=_subscription_currency(obj, options.currency),
        )
    )


def _on_discount(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """Discount and coupon objects only serve to resolve ids that newer API
    versions put in ``subscription.discounts`` instead of the objects."""
    obj = envelope.obj
    facts.unused["discount or coupon (used for MRR)"] += 1
    versions = facts.coupon_versions if envelope.type.startswith("coupon.") else facts.discount_versions
    _add_version(versions, obj, envelope)


def _add_version(versions: dict[str, list[_Version]], obj: _Obj, envelope: _Envelope) -> None:
    versions.setdefault(obj.text("id"), []).append(_Version(obj, envelope.created, envelope.source))


def _embedded_discounts(obj: _Obj) -> list[_Obj]:
    """Discount objects a subscription shows in full: remembered so that a
    later event listing only their ids can still be resolved."""
    single = obj.child("discount")
    found = [single] if single is not None else []
    for path, item in obj.entries("discounts"):
        if isinstance(item, Mapping):
            found.append(_Obj(item, path))
    return found


# -- payments


def _on_invoice_paid(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """The money an invoice took is ``amount_paid``: after discounts, credit
    notes and customer balance, with tax. A $0 invoice (trial) moved none."""
    obj = envelope.obj
    _expect(obj, "invoice")
    invoice = obj.text("id")
    customer = obj.ref("customer")
    if customer is None:
        obj.fail("customer", "missing; a paid invoice belongs to a customer")
    amount = obj.integer("amount_paid")
    currency = _currency(obj, options.currency)
    _note_invoice_links(obj, invoice, facts, envelope.source)
    if amount == 0:
        facts.unused["invoice paid with no money"] += 1
        return
    at = _event_time(envelope)
    transitions = obj.child("status_transitions")
    paid_at = transitions.opt_integer("paid_at") if transitions is not None else None
    facts.invoice_payments.append(
        _Money(
            f"stripe:{invoice}:payment",
            at,
            amount,
            currency,
            customer=customer,
            match_at=paid_at if paid_at is not None else at,
            source=envelope.source,
        )
    )


def _note_invoice_links(obj: _Obj, invoice: str, facts: _Facts, source: str) -> None:
    """Every way an API version tells which charge paid an invoice."""
    _note_paid_by(obj, invoice, facts, source)
    for item in obj.children("payments"):
        _note_invoice_payment(item, invoice, facts, source)


def _note_invoice_payment(item: _Obj, invoice: str, facts: _Facts, source: str) -> None:
    payment = item.child("payment")
    if payment is not None:
        _note_paid_by(payment, invoice, facts, source)


def _note_paid_by(obj: _Obj, invoice: str, facts: _Facts, source: str) -> None:
    """The charge and payment intent that ``obj`` says paid ``invoice``."""
    charge = obj.ref("charge")
    if charge is not None:
        facts.invoice_of_charge.note(charge, invoice, source, obj, "charge")
    intent = obj.ref("payment_intent")
    if intent is not None:
        facts.invoice_of_intent.note(intent, invoice, source, obj, "payment_intent")


def _on_invoice_payment(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """``invoice_payment`` (API 2025-03-31 and later) only links an invoice
    to the payment intent or charge that paid it; the money is in ``invoice.paid``."""
    obj = envelope.obj
    _expect(obj, "invoice_payment")
    invoice = obj.ref("invoice")
    if invoice is None:
        obj.fail("invoice", "missing; an invoice payment names its invoice")
    _note_invoice_payment(obj, invoice, facts, envelope.source)
    facts.unused["invoice payment (links an invoice to its charge)"] += 1


def _on_charge_paid(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """A captured, successful charge is a payment of ``amount_captured``
    (``amount`` in API versions before it existed). If it paid an invoice
    whose payment is in the ledger, resolve drops it as the same money."""
    obj = envelope.obj
    _expect(obj, "charge")
    charge = obj.text("id")
    info = _note_charge(obj, facts, envelope.source)
    if obj.get("status") not in ("succeeded", "paid") or obj.get("paid") is False:
        facts.unused["charge not paid"] += 1
        return
    if obj.get("captured") is False:
        facts.unused["charge not captured"] += 1
        return
    captured = obj.opt_integer("amount_captured")
    amount = captured if captured is not None else obj.integer("amount")
    currency = _currency(obj, options.currency)
    if info.customer is None:
        facts.unused["charge without a customer"] += 1
        return
    if amount == 0:
        facts.unused["charge of no money"] += 1
        return
    at = _event_time(envelope)
    created = obj.get("created")
    facts.charge_payments.append(
        _Money(
            f"stripe:{charge}:payment",
            at,
            amount,
            currency,
            customer=info.customer,
            charge=charge,
            payment_intent=info.payment_intent,
            match_at=_seconds(obj, "created") if created is not None else at,
            source=envelope.source,
        )
    )


def _note_charge(obj: _Obj, facts: _Facts, source: str) -> _Charge:
    """Remember a charge's customer and links, whichever event showed it.
    Two payloads naming different customers for one charge are an error:
    keeping either would pay (or void) by input order."""
    charge = obj.text("id")
    invoice = obj.ref("invoice")
    intent = obj.ref("payment_intent")
    customer = obj.ref("customer")
    known = facts.charges.get(charge)
    if customer is not None and known is not None and known.customer not in (None, customer):
        (one, where_one), (other, where_other) = sorted(
            ((customer, source), (known.customer, known.customer_source or "?"))
        )
        obj.fail(
            "customer",
            f"charge {quoted(charge)} has two customers: {quoted(one)} in {where_one} and {quoted(other)} in {where_other}; "
            "a charge has one customer: remove the payload that is wrong",
        )
    if intent is not None and known is not None and known.payment_intent not in (None, intent):
        obj.fail(
            "payment_intent",
            f"charge {quoted(charge)} names payment intents {quoted(min(known.payment_intent, intent))} and "
            f"{quoted(max(known.payment_intent, intent))}; "
            "a charge belongs to one payment intent: remove the payload that is wrong",
        )
    known_source = known.customer_source if known else None
    info = _Charge(
        customer=customer or (known.customer if known else None),
        invoice=invoice or (known.invoice if known else None),
        payment_intent=intent or (known.payment_intent if known else None),
        has_invoice_field="invoice" in obj.data or (known is not None and known.has_invoice_field),
        customer_source=min(filter(None, (source if customer else None, known_source)), default=None),
        paid=_succeeded(obj) or (known is not None and known.paid),
    )
    facts.charges[charge] = info
    if invoice is not None:
        facts.invoice_of_charge.note(charge, invoice, source, obj, "invoice")
    if intent is not None:
        facts.charges_of_intent.setdefault(intent, set()).add(charge)
    return info


def _succeeded(charge: _Obj) -> bool:
    return charge.get("status") in ("succeeded", "paid") and charge.get("paid") is not False


def _charge_of_intent(facts: _Facts, intent: str | None) -> str | None:
    """The charge that took a payment intent's money: its only charge, or
    its only successful one (failed attempts before it are charges too).
    None when that is not one charge: the refund is then not attributed."""
    charges = sorted(facts.charges_of_intent.get(intent or "", ()))
    if len(charges) > 1:
        charges = [c for c in charges if facts.charges[c].paid]
    return charges[0] if len(charges) == 1 else None


# -- refunds and disputes


def _on_charge_refunded(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """``charge.refunded`` shows the charge after the refund. Its embedded
    ``refunds`` list (older API versions) gives each refund with its id; the
    cumulative ``amount_refunded`` (minus ``previous_attributes``) covers
    versions without the list. Resolve keeps one refund per real refund."""
    obj = envelope.obj
    _expect(obj, "charge")
    charge = obj.text("id")
    _note_charge(obj, facts, envelope.source)
    at = _event_time(envelope)
    before = envelope.previous.get("amount_refunded")
    facts.refunded_states.append(
        _RefundedState(
            charge,
            at,
            obj.integer("amount_refunded"),
            before if isinstance(before, int) and not isinstance(before, bool) else None,
            _currency(obj, options.currency),
            _complete_list(obj, "refunds"),
        )
    )
    for refund in obj.children("refunds"):
        created = refund.get("created")
        facts.refunds.append(
            _refund(
                refund,
                charge,
                _seconds(refund, "created") if created is not None else at,
                facts,
                options,
                envelope.source,
            )
        )


def _complete_list(obj: _Obj, key: str) -> bool:
    """True when ``key`` holds a list that Stripe did not cut short."""
    value = obj.get(key)
    return isinstance(value, list) or (isinstance(value, Mapping) and value.get("has_more") is not True)


def _on_refund(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    obj = envelope.obj
    _expect(obj, "refund")
    facts.refunds.append(_refund(obj, None, _event_time(envelope), facts, options, envelope.source))


def _refund(obj: _Obj, charge: str | None, at: int, facts: _Facts, options: Options, source: str) -> _Money:
    """A refund object. Inside a charge's list it reverses that charge."""
    expanded = obj.child("charge") if isinstance(obj.get("charge"), Mapping) else None
    if expanded is not None:
        _note_charge(expanded, facts, source)
    return _Money(
        f"stripe:{obj.text('id')}:refund",
        at,
        obj.integer("amount"),
        _currency(obj, options.currency),
        charge=charge or obj.ref("charge"),
        payment_intent=obj.ref("payment_intent"),
        status=obj.opt_text("status"),
    )


def _on_dispute(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """A dispute takes the money back when it opens, and gives it back if the
    merchant wins; resolve turns it into a refund unless it was won."""
    obj = envelope.obj
    _expect(obj, "dispute")
    if isinstance(obj.get("charge"), Mapping):
        _note_charge(_Obj(obj.data["charge"], obj.field("charge")), facts, envelope.source)
    money = _Money(
        f"stripe:{obj.text('id')}:dispute",
        _event_time(envelope),
        obj.integer("amount"),
        _currency(obj, options.currency),
        charge=obj.ref("charge"),
        payment_intent=obj.ref("payment_intent"),
        status=obj.text("status"),
    )
    facts.disputes.append((money, envelope.type == "charge.dispute.funds_reinstated"))


_HANDLERS: Final[dict[str, Handler]] = {
    "checkout.session.completed": _on_checkout_session,
    "customer.created": _on_customer,
    "customer.updated": _on_customer,
    **{
        f"customer.subscription.{name}": _on_subscription
        for name in (
            "created",
            "updated",
            "deleted",
            "paused",
            "resumed",
            "trial_will_end",
            "pending_update_applied",
            "pending_update_expired",
        )
    },
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_succeeded": _on_invoice_paid,
    "invoice_payment.paid": _on_invoice_payment,
    "charge.succeeded": _on_charge_paid,
    "charge.captured": _on_charge_paid,
    "charge.refunded": _on_charge_refunded,
    "refund.created": _on_refund,
    "refund.updated": _on_refund,
    "refund.failed": _on_refund,
    "charge.refund.updated": _on_refund,
    **{
        f"charge.dispute.{name}": _on_dispute
        for name in (
            "created",
            "updated",
            "closed",
            "funds_withdrawn",
            "funds_reinstated",
        )
    },
    **{f"customer.discount.{name}": _on_discount for name in ("created", "updated", "deleted")},
    **{f"coupon.{name}": _on_discount for name in ("created", "updated")},
}


# ---------------------------------------------------------------------------
# Stage 3: resolve across payloads into ledger rows.


@dataclass(frozen=True, slots=True)
class _Row:
    at: int
    id: str
    fields: dict[str, str]


def _row(id: str, at: int, type: str, referee: str, **fields: str) -> _Row:
    return _Row(
        at, id, {"id": id, "at": format_timestamp(at * NS_PER_SECOND), "type": type, "referee": referee, **fields}
    )


def _resolve(facts: _Facts, report: Report, problems: list[Problem]) -> list[dict[str, str]]:
    payments = _Payments(facts, report, problems)
    rows = payments.rows()
    rows += _refund_rows(facts, payments, report)
    rows += _dispute_rows(facts, payments, report)
    rows += _referral_rows(facts, report, problems)
    rows += _subscription_rows(facts, problems)
    rows.sort(key=lambda r: (r.at, r.id))
    return [r.fields for r in rows]


def _earliest(items: Iterable[_Money], report: Report, problems: list[Problem] | None = None) -> dict[str, _Money]:
    """One fact per ledger id: the same Stripe object seen in several
    payloads (``invoice.paid`` and ``invoice.payment_succeeded``, a refund in
    ``refund.created`` and in its charge's list) keeps its earliest time.
    Payloads naming different customers for it are a problem: the money
    would go to whichever customer came first."""
    kept: dict[str, _Money] = {}
    for item in sorted(items, key=lambda m: (m.at, m.amount, m.currency, repr(replace(m, source="")), m.source)):
        first = kept.get(item.id)
        if first is None:
            kept[item.id] = item
            continue
        report.duplicates["same object in several payloads"] += 1
        if problems is not None and first.customer and item.customer and first.customer != item.customer:
            a, b = sorted((first, item), key=lambda m: (m.source, m.customer or ""))
            problems.append(
                Problem(
                    b.source,
                    f"{quoted(item.id)}",
                    "customer",
                    f"names customer {quoted(b.customer)}, and {a.source} names {quoted(a.customer)} for the same object; "
                    "an object has one customer: remove the payload that is wrong",
                )
            )
        if (first.amount, first.currency) != (item.amount, item.currency):
            report.warnings.append(
                f"{quoted(item.id)}: payloads disagree on the amount "
                f"({first.amount} and {item.amount} minor units); kept the earliest (the smaller, at the same second)"
            )
    return kept


class _Payments:
    """Payments, and the ledger id that stands for each charge's money."""

    def __init__(self, facts: _Facts, report: Report, problems: list[Problem]) -> None:
        self.facts = facts
        self.invoices = _earliest(facts.invoice_payments, report, problems)
        self.charges: dict[str, _Money] = {}
        self.by_terms: dict[tuple[str | None, str, int], list[_Money]] = {}
        for payment in self.invoices.values():
            self.by_terms.setdefault((payment.customer, payment.currency, payment.amount), []).append(payment)
        claimed = {
            f"stripe:{i}:payment" for i in [*facts.invoice_of_charge.values(), *facts.invoice_of_intent.values()]
        }
        for charge in sorted(_earliest(facts.charge_payments, report, problems).values(), key=lambda m: (m.at, m.id)):
            assert charge.charge is not None
            invoice = self.invoice_of(charge.charge, charge.payment_intent)
            if invoice in self.invoices:
                report.duplicates["charge of a paid invoice"] += 1
                continue
            if invoice is None and not facts.charges[charge.charge].has_invoice_field:
                match = self._match(charge, claimed)
                if match is not None:
                    claimed.add(match)
                    # the charge had no link, so this adds one and overwrites none
                    facts.invoice_of_charge[charge.charge] = match.removeprefix("stripe:").removesuffix(":payment")
                    report.duplicates["charge of a paid invoice (matched by amount and time)"] += 1
                    continue
            self.charges[charge.charge] = charge

    def invoice_of(self, charge: str | None, intent: str | None) -> str | None:
        """The ledger id of the invoice payment a charge made, if it is in the ledger."""
        invoice = self.facts.invoice_of_charge.get(charge or "")
        if invoice is None and intent is not None:
            invoice = self.facts.invoice_of_intent.get(intent)
        if invoice is None and charge is not None and charge in self.facts.charges:
            known_intent = self.facts.charges[charge].payment_intent
            invoice = self.facts.invoice_of_intent.get(known_intent or "")
        return f"stripe:{invoice}:payment" if invoice is not None else None

    def _match(self, charge: _Money, claimed: set[str]) -> str | None:
        """The unclaimed invoice payment of the same customer, currency and
        amount nearest in time (within the window), ties by id."""
        candidates = [
            (abs(p.match_at - charge.match_at), p.id)
            for p in self.by_terms.get((charge.customer, charge.currency, charge.amount), [])
            if p.id not in claimed and abs(p.match_at - charge.match_at) <= MATCH_WINDOW_SECONDS
        ]
        return min(candidates)[1] if candidates else None

    def reversed_by(self, money: _Money) -> tuple[str, str] | None:
        """(payment ledger id, customer) of the payment a refund or dispute reverses."""
        charge = money.charge or _charge_of_intent(self.facts, money.payment_intent)
        invoice = self.invoice_of(charge, money.payment_intent)
        customer = self.facts.charges[charge].customer if charge in self.facts.charges else None
        if invoice in self.invoices:
            return invoice, customer or self.invoices[invoice].customer or ""
        if charge is not None and customer is not None:
            return f"stripe:{charge}:payment", customer
        return None

    def rows(self) -> list[_Row]:
        return [
            _row(m.id, m.at, "payment", m.customer or "", amount=_money_text(m.amount, m.currency), currency=m.currency)
            for m in [*self.invoices.values(), *self.charges.values()]
        ]


def _refund_rows(facts: _Facts, payments: _Payments, report: Report) -> list[_Row]:
    failed = {m.id for m in facts.refunds if m.status in ("failed", "canceled")}
    refunds = {k: m for k, m in _earliest(facts.refunds, report).items() if k not in failed}
    facts.unused["refund failed or canceled"] += len(failed)
    rows = []
    for refund in sorted(refunds.values(), key=lambda m: (m.at, m.id)):
        row = _reversal_row(refund, payments, facts, {})
        if row is not None:
            rows.append(row)
    rows += _cumulative_refund_rows(facts, payments, list(refunds.values()), report)
    return rows


def _reversal_row(money: _Money, payments: _Payments, facts: _Facts, extra: dict[str, str]) -> _Row | None:
    target = payments.reversed_by(money)
    if target is None:
        facts.unused["refund whose customer is unknown"] += 1
        facts.warnings.append(
            f"{quoted(money.id)}: its customer is unknown: charge {quoted(money.charge or money.payment_intent)} is not in "
            "the input or has no customer; include the charge's events"
        )
        return None
    payment, customer = target
    return _row(
        money.id,
        money.at,
        "refund",
        customer,
        amount=_money_text(money.amount, money.currency),
        currency=money.currency,
        payment=payment,
        **extra,
    )


def _cumulative_refund_rows(facts: _Facts, payments: _Payments, refunds: list[_Money], report: Report) -> list[_Row]:
    """Refunds seen only as a rise of a charge's ``amount_refunded``. A rise
    that refund objects of the charge account for is those refunds: first a
    refund of exactly that amount, else refunds in time order up to it. Any
    rest is a refund of its own, with an id from the cumulative amount."""
    left = {m.id: m.amount for m in refunds}
    of_charge: dict[str, list[_Money]] = {}
    for refund in sorted(refunds, key=lambda m: (m.at, m.id)):
        charge = refund.charge or _charge_of_intent(facts, refund.payment_intent)
        if charge is not None:
            of_charge.setdefault(charge, []).append(refund)
    rows = []
    for charge, steps in sorted(_refund_steps(facts, report).items()):
        mine = of_charge.get(charge, [])
        unexplained = []
        for step in steps:
            twin = next((m for m in mine if left[m.id] == m.amount == step.delta), None)
            if twin is None:
                unexplained.append(step)
                continue
            left[twin.id] = 0
            report.duplicates["refund seen as a refund object and as amount_refunded"] += 1
        for step in unexplained:
            rest = step.delta
            for known in mine:
                take = min(left[known.id], rest)
                left[known.id] -= take
                rest -= take
            if rest < step.delta:
                report.duplicates["refund seen as a refund object and as amount_refunded"] += 1
            if rest > 0:
                money = _Money(f"stripe:{charge}:refund:{step.after}", step.at, rest, step.currency, charge=charge)
                row = _reversal_row(money, payments, facts, {})
                if row is not None:
                    rows.append(row)
    return rows


@dataclass(frozen=True, slots=True)
class _Step:
    """A rise of a charge's ``amount_refunded`` to ``after``, by ``delta``."""

    after: int
    delta: int
    at: int
    currency: str


def _refund_steps(facts: _Facts, report: Report) -> dict[str, list[_Step]]:
    """Per charge, the rises of ``amount_refunded`` that no complete refunds
    list explains. The amount before a rise is ``previous_attributes``, else
    the charge's previous known state, else 0."""
    states: dict[str, dict[int, _RefundedState]] = {}
    for state in sorted(facts.refunded_states, key=lambda s: (s.at, s.after, not s.listed, repr(s))):
        seen = states.setdefault(state.charge, {})
        first = seen.get(state.after)
        if first is None:
            seen[state.after] = state
            continue
        report.duplicates["same object in several payloads"] += 1
        if state.listed and not first.listed:
            seen[state.after] = replace(first, listed=True)
    steps: dict[str, list[_Step]] = {}
    for charge, by_after in states.items():
        previous = 0
        for after in sorted(by_after):
            state = by_after[after]
            before = state.before if state.before is not None else previous
            previous = after
            if after > before and not state.listed:
                steps.setdefault(charge, []).append(_Step(after, after - before, state.at, state.currency))
    return steps


def _dispute_rows(facts: _Facts, payments: _Payments, report: Report) -> list[_Row]:
    """One refund per dispute that took money and was not won, at the
    earliest time it was seen taking it."""
    won = {m.id for m, reinstated in facts.disputes if reinstated or m.status == "won"}
    withdrawn = [m for m, _ in facts.disputes if m.status in WITHDRAWN_DISPUTE_STATUSES and m.id not in won]
    other = {m.id for m, _ in facts.disputes} - won - {m.id for m in withdrawn}
    facts.unused["dispute won by the merchant"] += len(won)
    facts.unused["dispute inquiry (no money taken)"] += len(other)
    rows = []
    for dispute in sorted(_earliest(withdrawn, report).values(), key=lambda m: (m.at, m.id)):
        row = _reversal_row(dispute, payments, facts, {"reason": "dispute"})
        if row is not None:
            rows.append(row)
    return rows


def _referral_rows(facts: _Facts, report: Report, problems: list[Problem]) -> list[_Row]:
    """One referral per Stripe object (the earliest), and per referee only
    the first naming each referrer: a checkout session and the customer's
    metadata naming the same referrer are one referral, not a duplicate the
    engine would report. Different referrers are all kept: the engine's
    first-referral rule decides. Payloads of one object at the same second
    that disagree on its referrer or referral attributes are an error
    naming both (`_referral_conflict`): no time tells which is current."""
    kept: dict[str, _Referral] = {}
    for referral in sorted(facts.referrals, key=lambda r: (r.at, r.id, r.referrer, r.attributes, r.source)):
        first = kept.get(referral.id)
        if first is None:
            kept[referral.id] = referral
        else:
            report.duplicates["same object in several payloads"] += 1
            if first.at == referral.at and (first.referrer, first.attributes) != (
                referral.referrer,
                referral.attributes,
            ):
                problems.append(_referral_conflict(first, referral))
            elif first.referrer != referral.referrer:
                report.warnings.append(
                    f"{quoted(referral.id)}: the referrer changed from {quoted(first.referrer)} to "
                    f"{quoted(referral.referrer)}; the first referral stands"
                )
    rows, pairs = [], set()
    for referral in sorted(kept.values(), key=lambda r: (r.at, r.id)):
        if (referral.referee, referral.referrer) in pairs:
            report.duplicates["repeated referral"] += 1
            continue
        pairs.add((referral.referee, referral.referrer))
        fields = {
            "id": referral.id,
            "at": format_timestamp(referral.at * NS_PER_SECOND),
            "type": "referral",
            "referrer": referral.referrer,
            "referee": referral.referee,
            **dict(referral.attributes),
        }
        rows.append(_Row(referral.at, referral.id, fields))
    return rows


def _referral_conflict(one: _Referral, other: _Referral) -> Problem:
    """Two payloads that give one object's referral different referrers or
    attributes at the same second. Keeping either (the first read, the first
    in name order) would decide who is paid by something other than the
    data: the pair is named in source order, as the other conflicts are."""
    a, b = sorted((one, other), key=lambda r: (r.source, r.referrer, r.attributes))
    if a.referrer != b.referrer:
        what = f"the referrer {quoted(b.referrer)}, and {a.source} names {quoted(a.referrer)}"
    else:
        name = next(n for n in sorted({*dict(a.attributes), *dict(b.attributes)}) if _attr(a, n) != _attr(b, n))
        what = f"referral attribute {quoted(name)} as {_attr(b, name)}, and {a.source} as {_attr(a, name)}"
    return Problem(
        b.source,
        b.where,
        None,
        f"{b.what} names {what}, at the same second: which one is current cannot be told; "
        "remove the payload that is out of date",
    )


def _attr(referral: _Referral, name: str) -> str:
    value = dict(referral.attributes).get(name)
    return "none" if value is None else quoted(value)


# -- subscriptions and MRR


def _subscription_rows(facts: _Facts, problems: list[Problem]) -> list[_Row]:
    """One ``subscription`` row per subscription event. ``mrr`` is the
    customer's MRR (the sum over its subscriptions as of that event), since
    a program reads the latest ``mrr`` of a referee; ``subscription_mrr`` is
    this subscription's share."""
    current: dict[str, dict[str, tuple[int, str]]] = {}
    rows = []
    ordered = sorted(facts.subscriptions, key=lambda s: (s.at, _subscription_id(s)))
    for state in ordered:
        envelope = state.envelope
        try:
            mrr, currency, plan = _subscription_mrr(envelope.obj, state, facts)
            mine = current.setdefault(state.customer, {})
            mine[state.id] = (mrr, currency)
            total = _customer_mrr(envelope.obj, mine)
        except _Malformed as bad:
            problems.append(Problem(envelope.source, envelope.where, bad.field, bad.message))
            continue
        row = _row(
            _subscription_id(state),
            state.at,
            "subscription",
            state.customer,
            mrr=_money_text(total, currency),
            currency=currency,
        )
        if plan:
            row.fields["plan"] = plan
        row.fields.update(subscription=state.id, status=state.status, subscription_mrr=_money_text(mrr, currency))
        rows.append(row)
    return rows


def _subscription_id(state: _SubscriptionState) -> str:
    """One ledger id per change: the event's id, or for a bare object a
    digest of its state (the same state twice is the same change)."""
    if state.envelope.event_id is not None:
        return f"stripe:{state.envelope.event_id}:subscription"
    return f"stripe:{state.id}:subscription:{state.envelope.key.split(':')[1][:12]}"


def _customer_mrr(obj: _Obj, subscriptions: dict[str, tuple[int, str]]) -> int:
    currencies = {currency for mrr, currency in subscriptions.values() if mrr}
    if len(currencies) > 1:
        obj.fail(
            "currency",
            f"the customer's subscriptions are in {' and '.join(sorted(currencies))}; their MRR cannot be added up",
        )
    return sum(mrr for mrr, _ in subscriptions.values())


@dataclass(slots=True)
class _Line:
    """One subscription item's monthly amount, in minor units (exact)."""

    product: str | None
    monthly: Fraction
    months: Fraction


def _subscription_mrr(obj: _Obj, state: _SubscriptionState, facts: _Facts) -> tuple[int, str, str]:
    """(MRR in minor units, currency, plan). Zero when the subscription
    brings no revenue now: canceled, ended, incomplete, trialing, paused,
    unpaid, or its collection paused."""
    currency = state.currency
    priced = _priced_items(obj)
    plan = "+".join(dict.fromkeys(price.text("id") for price, _ in priced if price.get("id")))
    idle = (
        state.deleted
        or state.status in NO_REVENUE_STATUSES
        or obj.get("ended_at") is not None
        or obj.get("pause_collection") is not None
    )
    if idle:
        return 0, currency, plan
    lines = []
    for price, item in priced:
        line = _line(price, item, obj)
        if line is not None:
            lines.append(line)
            if item is not None:
                _discount_lines([line], _discounts(item, facts, state.at), currency)
    _discount_lines(lines, _discounts(obj, facts, state.at), currency)
    return round(max(Fraction(0), sum((x.monthly for x in lines), Fraction(0)))), currency, plan


def _priced_items(obj: _Obj) -> list[tuple[_Obj, _Obj | None]]:
    """(price, item) per subscription item; API versions before items
    (2017) put one ``plan`` and ``quantity`` on the subscription itself."""
    items_list = obj.child("items")
    if items_list is not None and items_list.get("has_more") is True:
        items_list.fail("has_more", "the items list is incomplete; fetch the subscription with all its items")
    items = obj.children("items")
    if not items:
        price = obj.child("price") or obj.child("plan")
        if price is None:
            obj.fail("items", "a subscription needs items (or, in old API versions, a `plan`)")
        return [(price, None)]
    out: list[tuple[_Obj, _Obj | None]] = []
    for item in items:
        price = item.child("price") or item.child("plan")
        if price is None:
            item.fail("price", "missing; a subscription item has a price (or a plan)")
        out.append((price, item))
    return out


def _subscription_currency(obj: _Obj, expected: str | None) -> str:
    if obj.get("currency") is not None:
        return _currency(obj, expected)
    found = {_currency(price, expected) for price, _ in _priced_items(obj)}
    if len(found) != 1:
        obj.fail("currency", "missing, and the prices do not agree on one")
    return found.pop()


def _line(price: _Obj, item: _Obj | None, subscription: _Obj) -> _Line | None:
    """An item's amount per month; None for metered usage, which is not
    known before it is invoiced (Stripe's MRR leaves it out too)."""
    recurring = price.child("recurring") or price
    if (recurring.opt_text("usage_type") or "licensed") == "metered":
        return None
    interval = recurring.text("interval")
    if interval not in _MONTHS_PER_INTERVAL:
        recurring.fail("interval", f"unknown interval {quoted(interval)} (expected day, week, month or year)")
    count = recurring.opt_integer("interval_count") or 1
    months = _MONTHS_PER_INTERVAL[interval] * count
    holder = item if item is not None else subscription
    quantity = holder.opt_integer("quantity")
    quantity = _transform(price, 1 if quantity is None else quantity)
    product = price.ref("product") if isinstance(price.get("product"), (str, Mapping)) else None
    return _Line(product, _period_amount(price, quantity) / months, months)


def _transform(price: _Obj, quantity: int) -> int:
    """``transform_quantity`` (prices) / ``transform_usage`` (plans): bill per package of N."""
    rule = price.child("transform_quantity") or price.child("transform_usage")
    if rule is None:
        return quantity
    divide_by = rule.integer("divide_by")
    if divide_by == 0:
        rule.fail("divide_by", "must be positive")
    return ceil(Fraction(quantity, divide_by)) if rule.get("round") == "up" else floor(Fraction(quantity, divide_by))


def _period_amount(price: _Obj, quantity: int) -> Fraction:
    """What the price bills per period for ``quantity``, in minor units."""
    if price.get("billing_scheme") == "tiered":
        return _tiered(price, quantity)
    return _minor(price, ("unit_amount_decimal", "unit_amount", "amount_decimal", "amount"), required=True) * quantity


def _tiered(price: _Obj, quantity: int) -> Fraction:
    tiers = price.children("tiers")
    if not tiers:
        price.fail(
            "tiers", "a tiered price needs its tiers; fetch the subscription with `items.data.price.tiers` expanded"
        )
    mode = price.text("tiers_mode")
    total, lower = Fraction(0), 0
    for tier in tiers:
        upper = tier.get("up_to")
        upper = None if upper in (None, "inf") else tier.integer("up_to")
        unit = _minor(tier, ("unit_amount_decimal", "unit_amount"))
        flat = _minor(tier, ("flat_amount_decimal", "flat_amount"))
        if mode == "volume":
            if upper is None or quantity <= upper:
                return quantity * unit + flat if quantity else Fraction(0)
            continue
        units = (quantity if upper is None else min(quantity, upper)) - lower
        if units <= 0:
            break
        total += units * unit + flat
        lower = upper if upper is not None else quantity
    if mode == "volume":
        price.fail("tiers", "no tier covers the quantity (the last tier needs `up_to: inf`)")
    return total


def _minor(obj: _Obj, names: tuple[str, ...], required: bool = False) -> Fraction:
    """The first of ``names`` present, as exact minor units: integers, or
    ``*_decimal`` strings that may hold fractions of a minor unit."""
    for name in names:
        value = obj.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            return _decimal_text(obj, name, value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return Fraction(value)
        obj.fail(name, f"expected an amount in minor units, not {_show(value)}")
    if required:
        obj.fail(names[1], "missing; the price has no amount")
    return Fraction(0)


def _decimal_text(obj: _Obj, name: str, value: str) -> Fraction:
    if not re.fullmatch(_DECIMAL_TEXT, value):
        obj.fail(name, f'expected a decimal string such as "12.5", not {_show(value)}')
    return Fraction(Decimal(value))


# -- discounts


@dataclass(frozen=True, slots=True)
class _Coupon:
    percent: Fraction | None
    amount: int | None
    products: frozenset[str] | None


def _discounts(holder: _Obj, facts: _Facts, at: int) -> list[tuple[_Obj, _Coupon]]:
    """The discounts in effect at ``at`` on a subscription or an item, in the
    order Stripe lists them. ``once`` coupons are left out (they cut one
    invoice, not the recurring revenue), and so are discounts that ended."""
    found: dict[str, _Obj] = {}
    single = holder.child("discount")
    if single is not None:
        found[single.text("id")] = single
    for path, item in holder.entries("discounts"):
        discount = _resolve_discount(path, item, facts)
        found.setdefault(discount.text("id"), discount)
    out = []
    for discount in found.values():
        coupon_obj = _coupon_of(discount, facts)
        duration = coupon_obj.opt_text("duration") or "forever"
        end = discount.opt_integer("end")
        if duration == "once" or (end is not None and end <= at):
            continue
        out.append((coupon_obj, _coupon(coupon_obj)))
    return out


# What a discount or coupon says that the MRR reads: two copies that agree on
# these are one version, whatever else (name, metadata, expansion) differs.
_COUPON_TERMS: Final = ("percent_off", "amount_off", "currency", "currency_options", "applies_to", "duration")


def _terms(data: Any) -> Any:
    """The MRR-relevant part of a discount or coupon (a coupon nested in a
    discount, or in its ``source``, reduced to its terms too)."""
    if not isinstance(data, Mapping):
        return data
    if data.get("object") == "coupon" or "percent_off" in data or "amount_off" in data:
        return {key: data.get(key) for key in _COUPON_TERMS}
    source = data.get("source")
    return {
        "coupon": _terms(data.get("coupon")),
        "source": _terms(source.get("coupon")) if isinstance(source, Mapping) else source,
        "end": data.get("end"),
    }


def _settle_versions(facts: _Facts, problems: list[Problem]) -> None:
    """The current version of each discount and coupon that a subscription
    may name by id. Copies that agree on the terms are one version. Of
    versions that differ, the one from the latest event is current; when no
    time tells them apart (the same second, or a bare object, which has no
    event time) that is an error naming both payloads: Stripe's event ids
    carry no order, and taking either would make the MRR depend on the input."""
    for kind, versions, current in (
        ("discount", facts.discount_versions, facts.discounts),
        ("coupon", facts.coupon_versions, facts.coupons),
    ):
        for id, copies in sorted(versions.items()):
            chosen = _current_version(kind, id, copies, problems)
            if chosen is not None:
                current[id] = chosen.obj


def _current_version(kind: str, id: str, copies: list[_Version], problems: list[Problem]) -> _Version | None:
    """The copy standing for the current version, or None (and a problem)."""
    groups: dict[str, list[_Version]] = {}
    for copy in sorted(copies, key=_copy_order):
        groups.setdefault(_digest(_terms(copy.obj.data)), []).append(copy)
    if len(groups) == 1:
        return min(copies, key=_copy_order)
    latest = max((v.at for v in copies if v.at is not None), default=None)
    untimed = [next(v for v in g if v.at is None) for g in groups.values() if any(v.at is None for v in g)]
    current = [next(v for v in g if v.at == latest) for g in groups.values() if any(v.at == latest for v in g)]
    if not untimed and len(current) == 1:
        return current[0]
    if untimed:
        one = min(untimed, key=lambda v: v.source)
        other = min((g[0] for g in groups.values() if one not in g), key=lambda v: v.source)
        why = "one of them is a bare object, with no event time"
    else:
        one, other = sorted(current, key=lambda v: v.source)[:2]
        why = "both are from the same second"
    a, b = sorted((one, other), key=lambda v: v.source)
    problems.append(
        Problem(
            b.source,
            f"{kind} {shown(id)}",
            None,
            f"{kind} {quoted(id)} says something else in {a.source}, and {why}: which one is current cannot be told; "
            "remove the payload that is out of date",
        )
    )
    return None


def _copy_order(version: _Version) -> tuple[str, str, str]:
    """Copies of one version in an order that does not depend on the input's."""
    return _digest(version.obj.data), version.obj.path, version.source


def _resolve_discount(path: str, item: Any, facts: _Facts) -> _Obj:
    if isinstance(item, Mapping):
        return _Obj(item, path)
    if isinstance(item, str) and item in facts.discounts:
        return facts.discounts[item]
    raise _Malformed(
        path,
        f"discount {quoted(item)} is only an id and no `customer.discount.*` event in the input has it; "
        "include those events or fetch the subscription with `discounts` expanded",
    )


def _coupon_of(discount: _Obj, facts: _Facts) -> _Obj:
    """``discount.coupon``, or ``discount.source.coupon`` in newer API versions."""
    holder = discount
    if discount.get("coupon") is None and discount.child("source") is not None:
        holder = discount.child("source") or discount
    value = holder.get("coupon")
    if isinstance(value, Mapping):
        return _Obj(value, holder.field("coupon"))
    if isinstance(value, str) and value in facts.coupons:
        return facts.coupons[value]
    holder.fail(
        "coupon", "the discount's coupon is missing, or only an id that no `coupon.*` event in the input describes"
    )


def _coupon(coupon: _Obj) -> _Coupon:
    percent = coupon.get("percent_off")
    products = None
    applies = coupon.child("applies_to")
    if applies is not None and isinstance(applies.get("products"), list):
        products = frozenset(str(p) for p in applies.get("products"))
    if percent is not None:
        return _Coupon(_percent(coupon, percent), None, products)
    return _Coupon(None, coupon.integer("amount_off"), products)


def _percent(coupon: _Obj, value: Any) -> Fraction:
    try:
        # A float is Stripe's JSON number parsed by someone else: repr gives
        # the shortest decimal that reads back to it, i.e. what Stripe sent.
        exact = Fraction(Decimal(repr(value)) if isinstance(value, float) else Decimal(value))
    except (InvalidOperation, TypeError, ValueError, OverflowError):
        coupon.fail("percent_off", f"expected a number, not {_show(value)}")
    if isinstance(value, bool) or not 0 <= exact <= 100:
        coupon.fail("percent_off", f"expected a percentage from 0 to 100, not {_show(value)}")
    return exact


def _discount_lines(lines: list[_Line], discounts: list[tuple[_Obj, _Coupon]], currency: str) -> None:
    """Apply discounts in order: a percentage cuts each line it applies to;
    an amount (per billing period, so normalised like the lines) is taken
    from those lines in order, never below zero."""
    for coupon_obj, coupon in discounts:
        eligible = [x for x in lines if coupon.products is None or x.product in coupon.products]
        if coupon.percent is not None:
            for line in eligible:
                line.monthly -= line.monthly * coupon.percent / 100
            continue
        if not eligible:
            continue
        left = Fraction(_amount_off(coupon_obj, currency)) / eligible[0].months
        for line in eligible:
            cut = min(left, line.monthly)
            line.monthly -= cut
            left -= cut


def _amount_off(coupon: _Obj, currency: str) -> int:
    options = coupon.child("currency_options")
    if options is not None and options.child(currency.lower()) is not None:
        per_currency = options.child(currency.lower())
        assert per_currency is not None
        return per_currency.integer("amount_off")
    if (coupon.opt_text("currency") or "").upper() != currency:
        coupon.fail("currency", f"an amount-off coupon in {coupon.opt_text('currency')} cannot discount {currency}")
    return coupon.integer("amount_off")


# ---------------------------------------------------------------------------
# Money as text.


def _money_text(minor: int, currency: str) -> str:
    """Minor units as an exact decimal string: Stripe's exponent, padded to
    ISO 4217's when that has more places (MGA ``"500.00"``). Not
    :func:`~rewardrules.units.format_amount`: it rounds to ISO's places, and
    would round away ISK's two API decimals."""
    exponent = STRIPE_EXPONENTS[currency]
    places = max(exponent, CURRENCY_EXPONENTS.get(currency, exponent))
    scaled = minor * 10 ** (places - exponent)
    if places == 0:
        return str(scaled)
    whole, part = divmod(scaled, 10**places)
    return f"{whole}.{part:0{places}d}"
