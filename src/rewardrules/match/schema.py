"""JSON Schemas (draft 2020-12) of the matching ledger's events and of the
assignment record: `rewardrules schema match-event|assignment`.

Written by hand from `events.FIELDS` and `evaluate.Assignment.to_dict`;
tests/test_matching.py validates every golden ledger line and every
assignment against them. The schema states the shape; what it cannot say
(a workload the rules do not declare, an instant that does not exist) the
reader reports with the line and the field.
"""

from __future__ import annotations

from typing import Any

from .evaluate import BASES, KINDS, STATUSES
from .events import FIELDS, MAX_NAME_CHARS

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}
_INSTANT: dict[str, Any] = {"type": "string", "description": "an RFC 3339 instant, such as 2026-03-01T09:30:00Z"}
_KINDS: dict[str, dict[str, Any]] = {
    "name": _NAME,
    "text": {"type": "string", "maxLength": 10 * MAX_NAME_CHARS},
    "workloads": {"type": "array", "items": _NAME, "minItems": 1, "uniqueItems": True},
    "endorsements": {
        "type": "object",
        "description": "workload -> the instant its endorsement lapses (null: it does not)",
        "additionalProperties": {"anyOf": [_INSTANT, {"type": "null"}]},
    },
    "lists": {
        "type": "object",
        "description": "attribute -> the values the partner serves",
        "additionalProperties": {"type": "array", "items": {"type": "string", "maxLength": MAX_NAME_CHARS}},
    },
    "values": {"type": "object", "description": "attribute -> the customer's value", "additionalProperties": _NAME},
}


def _field(kind: str, required: bool) -> dict[str, Any]:
    """A field's schema: an optional one may be `null`, which the reader
    takes as absent (`events._event`), as the reward ledger's schema allows
    `null` for its optional fields (`rewardrules schema ledger`)."""
    return _KINDS[kind] if required else {"anyOf": [_KINDS[kind], {"type": "null"}]}


def event_schema() -> dict[str, Any]:
    """One line of a matching ledger: one of the event types (an optional
    field may be given as `null`: absent)."""
    variants = []
    for kind, fields in FIELDS.items():
        properties: dict[str, Any] = {"id": _NAME, "type": {"const": kind}, "at": _INSTANT}
        properties.update({name: _field(what, required) for name, (required, what) in fields.items()})
        required = ["id", "type", "at", *(name for name, (needed, _) in fields.items() if needed)]
        variants.append(
            {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
        )
    return {"$schema": _DIALECT, "title": "matching ledger event", "oneOf": variants}


def assignment_schema() -> dict[str, Any]:
    """One assignment record of `rewardrules match --format json`."""
    nullable_instant = {"anyOf": [_INSTANT, {"type": "null"}]}
    properties = {
        "id": {"type": "string", "pattern": "^ma_[0-9a-f]{32}$"},
        "request": _NAME,
        "customer": _NAME,
        "partner": {"anyOf": [_NAME, {"type": "null"}]},
        "kind": {"enum": list(KINDS)},
        "workloads": _KINDS["workloads"],
        "at": _INSTANT,
        "event": _NAME,
        "basis": {"enum": list(BASES)},
        "status": {"enum": list(STATUSES)},
        "answered_at": nullable_instant,
        "reason": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "replaces": {"anyOf": [{"type": "string", "pattern": "^ma_[0-9a-f]{32}$"}, {"type": "null"}]},
        "why": {"type": "object", "required": ["basis", "counts", "candidates"]},
    }
    return {
        "$schema": _DIALECT,
        "title": "assignment",
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


SCHEMAS = {"match-event": event_schema, "assignment": assignment_schema}
