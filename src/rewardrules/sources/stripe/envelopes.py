"""Stage 1, envelopes: a payload in, an :class:`_Envelope` out.

A payload is a full event, an event's ``data`` or a bare API object; each
becomes one event type (for a bare object, inferred from its kind and
status: the event Stripe would have sent in that state), a time, the
object (an :class:`~.fields._Obj`) and digests of what it says, by which
the pipeline drops webhook retries. A payload that is not a JSON object,
holds text no UTF-8 line can carry, or lacks an event's own fields raises
:class:`_Unreadable` with its :class:`~.public.Problem`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ...core.formatting import shown
from ...core.timeutil import NS_PER_SECOND, TimestampError, format_timestamp
from .. import Payload
from .fields import _Malformed, _Obj, _show
from .public import Problem

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


#: what an event says, as against how it was delivered
_CONTENT: Final = ("type", "created", "data", "livemode")


class _Unreadable(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.render())
        self.problem = problem


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
