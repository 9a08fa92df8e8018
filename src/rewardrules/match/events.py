"""The partner and customer event ledger: JSON Lines in, checked events out.

One JSON object a line, like the reward ledger (docs/matching.md, "The
ledger"): each has an `id`, a `type` and an instant `at`. Every line is
checked against the event's fields and against the matching rules (a
workload or attribute the rules do not declare is a mistake, with the
nearest declared name as the hint). Problems carry their line and field,
every one is reported, and nothing is matched from a ledger that has any.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.diagnostics import did_you_mean
from ..core.formatting import quoted, shown
from ..core.timeutil import TimestampError, format_timestamp, parse_timestamp
from ..ledger.decode import iter_lines
from ..ledger.events import LedgerError, LedgerProblem
from .check import MatchRules

#: Each event type and its fields beyond `id`, `type` and `at`: name -> (required, kind).
FIELDS: dict[str, dict[str, tuple[bool, str]]] = {
    "partner": {"partner": (True, "name"), "endorsements": (True, "endorsements"), "attributes": (False, "lists")},
    "pause": {"partner": (True, "name")},
    "resume": {"partner": (True, "name")},
    "leave": {"partner": (True, "name")},
    "claim": {"partner": (True, "name"), "customer": (True, "name")},
    "request": {
        "request": (True, "name"),
        "customer": (True, "name"),
        "workloads": (True, "workloads"),
        "attributes": (False, "values"),
    },
    "accept": {"request": (True, "name"), "partner": (True, "name")},
    "decline": {
        "request": (True, "name"),
        "partner": (True, "name"),
        "reason": (False, "text"),
        "workloads": (False, "workloads"),
    },
}
_COMMON = ("id", "type", "at")
#: Longest name (an id, a partner, a customer, a value) in characters.
MAX_NAME_CHARS = 200


@dataclass(frozen=True, slots=True)
class MatchEvent:
    """One checked event. Fields an event type does not have are empty."""

    id: str
    type: str
    at: int
    line: int
    partner: str = ""
    customer: str = ""
    request: str = ""
    workloads: tuple[str, ...] = ()
    #: a partner's lists per attribute, or a request's value per attribute
    attributes: Mapping[str, Any] = field(default_factory=dict)
    #: a partner's endorsements: workload -> the instant it lapses (None: never)
    endorsements: Mapping[str, int | None] = field(default_factory=dict)
    reason: str = ""

    def order(self) -> tuple[int, str]:
        """Events are taken by (instant, id), whatever the line order."""
        return (self.at, self.id)


def read_events(lines: Iterable[Any], rules: MatchRules, path: str = "<ledger>") -> list[MatchEvent]:
    """The ledger's events in the order they are taken, or `LedgerError` with every problem."""
    events: list[MatchEvent] = []
    problems: list[LedgerProblem] = []
    seen: dict[str, int] = {}
    for number, value, problem in iter_lines(lines):
        if problem is not None:
            problems.append(problem)
            continue
        event, found = _event(value, number, rules)
        problems.extend(found)
        if event is None:
            continue
        if event.id in seen:
            problems.append(
                LedgerProblem(number, "id", f"id `{event.id}` is used twice", f"the first is on line {seen[event.id]}")
            )
            continue
        seen[event.id] = number
        events.append(event)
    if problems:
        raise LedgerError(problems, path)
    return sorted(events, key=MatchEvent.order)


def _event(value: Any, line: int, rules: MatchRules) -> tuple[MatchEvent | None, list[LedgerProblem]]:
    if not isinstance(value, dict):
        return None, [LedgerProblem(line, None, "a line must be a JSON object", "each line is one event: {...}")]
    problems: list[LedgerProblem] = []
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in FIELDS:  # a list or an object is no type (nor hashable)
        hint = did_you_mean(str(kind), FIELDS, "the types are " + ", ".join(f"`{t}`" for t in FIELDS))
        return None, [LedgerProblem(line, "type", f"unknown event type {_shown(kind)}", hint)]
    known = FIELDS[kind]
    for key in value:
        if key not in known and key not in _COMMON:
            hint = did_you_mean(str(key), (*_COMMON, *known), f"a `{kind}` event has " + _fields(kind))
            problems.append(LedgerProblem(line, str(key), f"a `{kind}` event has no field {_shown(key)}", hint))
    event_id = _name(value.get("id"), line, "id", problems)
    at = _instant(value.get("at"), line, "at", problems)
    found: dict[str, Any] = {}
    for name, (required, what) in known.items():
        raw = value.get(name)
        if raw is None:
            if required:
                problems.append(LedgerProblem(line, name, f"a `{kind}` event needs `{name}`", _fields(kind)))
            continue
        found[name] = _READERS[what](raw, line, name, problems, rules)
    if kind == "request":
        _required_attributes(found.get("attributes") or {}, line, rules, problems)
    if rules.fallback is not None and found.get("partner") == rules.fallback:
        problems.append(
            LedgerProblem(
                line,
                "partner",
                f"`{rules.fallback}` is the rules' fallback (`fallback {rules.fallback}`), not a partner",
                "give the partner another id: an assignment to it could not be told from one to the fallback",
            )
        )
    if problems:
        return None, problems
    return MatchEvent(event_id, kind, at, line, **found), []


def _shown(value: object) -> str:
    """A value from the ledger in a message: quoted and cut to its start and
    end (a key or a type can be as long as the line: a megabyte)."""
    return quoted(value) if isinstance(value, str) else shown(repr(value))


def _fields(kind: str) -> str:
    return ", ".join(f"`{n}`" for n in (*_COMMON, *FIELDS[kind]))


def _name(raw: Any, line: int, name: str, problems: list[LedgerProblem], *_: Any) -> str:
    """A name (an id, a partner, a customer, a value): a short non-empty string."""
    if isinstance(raw, str) and 0 < len(raw) <= MAX_NAME_CHARS:
        return raw
    problems.append(
        LedgerProblem(line, name, f"{quoted(name)} must be a non-empty string of at most {MAX_NAME_CHARS} characters")
    )
    return ""


def _text(raw: Any, line: int, name: str, problems: list[LedgerProblem], *_: Any) -> str:
    if isinstance(raw, str) and len(raw) <= 10 * MAX_NAME_CHARS:
        return raw
    problems.append(
        LedgerProblem(line, name, f"{quoted(name)} must be a string of at most {10 * MAX_NAME_CHARS} characters")
    )
    return ""


def _instant(raw: Any, line: int, name: str, problems: list[LedgerProblem]) -> int:
    if not isinstance(raw, str):
        problems.append(
            LedgerProblem(line, name, f"{quoted(name)} must be an RFC 3339 instant such as `2026-03-01T09:30:00Z`")
        )
        return 0
    try:
        return parse_timestamp(raw)
    except TimestampError as error:
        problems.append(LedgerProblem(line, name, str(error)))
        return 0


def _declared(
    value: str, line: int, name: str, known: tuple[str, ...], what: str, problems: list[LedgerProblem]
) -> None:
    if value not in known:
        hint = did_you_mean(value, known, f"the rules declare {what}s " + ", ".join(f"`{k}`" for k in known))
        problems.append(LedgerProblem(line, name, f"the rules declare no {what} {quoted(value)}", hint))


def _workloads(raw: Any, line: int, name: str, problems: list[LedgerProblem], rules: MatchRules) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(w, str) for w in raw) or len(set(raw)) != len(raw):
        problems.append(LedgerProblem(line, name, "`workloads` must be a non-empty list of distinct workload names"))
        return ()
    for workload in raw:
        _declared(workload, line, name, rules.workloads, "workload", problems)
    return tuple(sorted(raw, key=rules.workloads.index if set(raw) <= set(rules.workloads) else str))


def _endorsements(
    raw: Any, line: int, name: str, problems: list[LedgerProblem], rules: MatchRules
) -> dict[str, int | None]:
    if not isinstance(raw, dict):
        problems.append(
            LedgerProblem(line, name, "`endorsements` must be an object: workload -> the instant it lapses, or null")
        )
        return {}
    found: dict[str, int | None] = {}
    for workload, expiry in raw.items():
        where = f"{name}.{workload}"
        _declared(workload, line, where, rules.workloads, "workload", problems)
        found[workload] = None if expiry is None else _instant(expiry, line, where, problems)
    return found


def _lists(
    raw: Any, line: int, name: str, problems: list[LedgerProblem], rules: MatchRules
) -> dict[str, frozenset[str]]:
    if not isinstance(raw, dict):
        problems.append(LedgerProblem(line, name, "`attributes` must be an object: attribute -> a list of values"))
        return {}
    found: dict[str, frozenset[str]] = {}
    for attribute, values in raw.items():
        where = f"{name}.{attribute}"
        _declared(attribute, line, where, rules.attributes, "attribute", problems)
        if not isinstance(values, list) or not all(isinstance(v, str) and len(v) <= MAX_NAME_CHARS for v in values):
            problems.append(
                LedgerProblem(line, where, f"{quoted(attribute)} must be a list of strings (the values served)")
            )
            continue
        found[attribute] = frozenset(values)
    return found


def _values(raw: Any, line: int, name: str, problems: list[LedgerProblem], rules: MatchRules) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.append(LedgerProblem(line, name, "`attributes` must be an object: attribute -> the customer's value"))
        return {}
    found: dict[str, str] = {}
    for attribute, value in raw.items():
        where = f"{name}.{attribute}"
        _declared(attribute, line, where, rules.attributes, "attribute", problems)
        found[attribute] = _name(value, line, where, problems)
    return found


def _required_attributes(
    values: Mapping[str, str], line: int, rules: MatchRules, problems: list[LedgerProblem]
) -> None:
    """A request names a value for every attribute the rules gate or count by."""
    for attribute in rules.attributes:
        wanted = attribute in rules.gates or attribute in rules.balance_by
        wanted = wanted or (rules.acceptance is not None and rules.acceptance.by == attribute)
        if wanted and attribute not in values:
            problems.append(
                LedgerProblem(
                    line,
                    f"attributes.{attribute}",
                    f"the request gives no `{attribute}`, which the rules match by",
                    f'add it: "attributes": {{"{attribute}": "..."}}',
                )
            )


_READERS: dict[str, Any] = {
    "name": _name,
    "text": _text,
    "workloads": _workloads,
    "endorsements": _endorsements,
    "lists": _lists,
    "values": _values,
}


def event_record(event: MatchEvent) -> dict[str, Any]:
    """The event as a ledger line (a JSON object) that `read_events` reads
    back to the same event: its type's fields only, instants in RFC 3339
    (nanoseconds kept), a partner's values sorted. A session snapshot keeps
    the events it took in this form (`match.snapshot`)."""
    record: dict[str, Any] = {"id": event.id, "type": event.type, "at": format_timestamp(event.at)}
    fields = FIELDS[event.type]
    for name in ("partner", "customer", "request", "reason"):
        if name in fields and getattr(event, name):
            record[name] = getattr(event, name)
    if "workloads" in fields and event.workloads:  # a decline's are optional
        record["workloads"] = list(event.workloads)
    if event.type == "partner":
        record["endorsements"] = {
            w: None if lapse is None else format_timestamp(lapse) for w, lapse in event.endorsements.items()
        }
        record["attributes"] = {a: sorted(values) for a, values in event.attributes.items()}
    elif event.type == "request":
        record["attributes"] = dict(event.attributes)
    return record
