"""Ledger input: JSON Lines events, validated against the program's events.

This is the edge where other systems' data comes in, so every mistake is
collected (with its line and field) before anything is scored, and numbers
never pass through binary floats: JSON decimals are parsed as Decimals and
decimal strings ("99.90") are accepted.

Only event types the program uses are checked field by field; every line
must still be a JSON object with a valid ``id``, ``at`` and ``type``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ..check.program import CheckedRuleset
from ..compiler.codegen import filename as source_filename
from ..compiler.codegen import line as checked_line
from ..compiler.codegen import lit
from ..core import limits
from ..core.datatypes import BOOLEAN, NUMBER, QUANTITY, TEXT, TIME
from ..core.diagnostics import suggest
from ..core.formatting import printable, quoted
from ..core.timeutil import MIN_TIMESTAMP_NS, TimestampError, format_timestamp, parse_timestamp
from ..core.units import is_currency

_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_NUMERIC = (NUMBER, QUANTITY)


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """One mistake in a ledger: where it is and what to do about it."""

    line: int
    field: str | None
    message: str
    hint: str | None = None

    def render(self, path: str) -> str:
        """The problem as text, each of its lines `printable`: the path
        is the caller's and the message quotes values from the ledger (each
        already cut by `formatting.quoted`), and neither may forge a line or
        drive a terminal."""
        where = f"{path}:{self.line}: error: " if self.line else f"{path}: error: "  # 0: not on a line
        field = f"field {quoted(self.field)}: " if self.field else ""
        text = printable(f"{where}{field}{self.message}")
        return text + (f"\n     = help: {printable(self.hint)}" if self.hint else "")

    def to_dict(self, path: str) -> dict[str, Any]:
        return {"path": path, "line": self.line, "field": self.field, "message": self.message, "help": self.hint}


class LedgerError(Exception):
    """A ledger that cannot be scored; carries every problem found."""

    def __init__(self, problems: list[LedgerProblem], path: str = "<ledger>") -> None:
        self.problems = problems
        self.path = path
        shown = problems[:50]
        text = "\n".join(p.render(path) for p in shown)
        if len(problems) > len(shown):
            text += f"\n... and {len(problems) - len(shown)} more"
        super().__init__(text)


class Event:
    """A validated ledger event. ``record`` is what rules see: the event's
    values as a tuple laid out by `model.EventInfo.record` (instant in ns
    since the epoch, id, type, referee, referrer, then the declared fields,
    converted; None when an optional one is absent)."""

    __slots__ = ("at", "id", "line", "raw", "record", "referee", "referrer", "type")

    def __init__(
        self,
        id: str,
        at: int,
        type: str,
        referrer: str | None,
        referee: str | None,
        record: Record,
        line: int,
        raw: Mapping[str, Any],
    ) -> None:
        self.id = id
        self.at = at
        self.type = type
        self.referrer = referrer
        self.referee = referee
        self.record = record
        self.line = line
        self.raw = raw

    @property
    def key(self) -> tuple[int, str]:
        """The processing order: instant, then id."""
        return (self.at, self.id)

    @property
    def timestamp(self) -> str:
        return format_timestamp(self.at)


#: An event's values, laid out by `model.EventInfo.record`: (instant, id,
#: type, referee, referrer, declared fields...). Ids are unique, so sorting
#: records is ledger order and never compares past the id.
Record = tuple[Any, ...]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"`{name}` is not a number")


def exact_decimal(text: str) -> Decimal:
    """A JSON or TOML number as an exact Decimal. Decimal refuses some
    (`1E888888888888888888`) with an ArithmeticError: say it as the
    ValueError every reader of input already handles. A number longer
    than any valid one is not parsed at all (its length is unbounded up to
    the line's): it reads as `OVERLONG`, which every limit refuses."""
    if len(text) > limits.MAX_NUMBER_CHARS:
        # never parsed (`1E+000…0025` is short in value, long as written):
        # a value past every limit, reported as out of range at its field
        return OVERLONG
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ValueError(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is out of range") from None


#: what `exact_decimal` reads a number longer than `limits.MAX_NUMBER_CHARS` as
OVERLONG = Decimal("1E+999")


_DECODER = json.JSONDecoder(parse_float=exact_decimal, parse_constant=_reject_constant)


def decode_line(text: str | bytes) -> Any:
    """Parse one JSON line exactly (decimals as Decimal)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return _DECODER.decode(text)


def _head(event_id: str, at: int, event_type: str, referee: str | None, referrer: str | None) -> Record:
    """The first values of every record (`model.RECORD_HEAD`), and the
    whole record of an event whose type no rule uses."""
    return (at, event_id, event_type, referee, referrer)


class EventReader:
    """Validates ledger objects against the events a ruleset declares."""

    def __init__(self, checked: CheckedRuleset, used_types: Iterable[str] | None = None) -> None:
        used = set(used_types) if used_types is not None else set(checked.events)
        self.kinds: dict[str, list[tuple[str, str, bool]]] = {}
        for name, info in checked.events.items():
            if name not in used:
                continue
            self.kinds[name] = [(f.name, f.type.kind, f.optional) for f in info.fields.values() if not f.builtin]
        self.money = _money_fields(checked, self.kinds)

        # The fast path, generated for these event types (see `_fast_source`):
        # `fast` checks one object; `read_all` a whole ledger in one loop.
        namespace = _fast_namespace()
        source = _fast_source(self.kinds)
        exec(compile(source, source_filename("ledger-reader", source), "exec"), namespace)
        self.fast: Callable[[Any, int], Event | None] = namespace["fast"]
        if self.money:
            self.fast = _currency_checked(namespace["fast"], self.money)
        self._read_all = namespace["read_all"]

    def read_all(
        self, items: Iterable[tuple[int, Any]], plain: Callable[[Any], Any] = lambda obj: obj
    ) -> tuple[list[Record], int | None]:
        """Validate a ledger's objects, given as (line number, object), drop
        exact duplicates, and return the records of the events of used types
        (sorting that list puts them in ledger order, with no key function)
        and the latest instant seen in the ledger. An item may be a
        `LedgerProblem` (a line that did not decode); objects other than
        dicts go through `plain` first.

        Raises :class:`LedgerError` with every problem if any line is bad.
        """
        problems: list[LedgerProblem] = []
        seen: dict[str, tuple[int, Any]] = {}

        def general(line: int, obj: Any) -> Event | None:
            # Anything the fast path did not take: a line that did not
            # decode, an object to make plain, a problem, a repeated id.
            if type(obj) is LedgerProblem:
                problems.append(obj)
                return None
            if type(obj) is not dict:
                obj = plain(obj)
            event = self.fast(obj, line) or self.event(obj, line, problems)
            if event is None:
                return None
            previous = seen.get(event.id)
            if previous is not None:
                if not same_content(previous[1], obj):
                    problems.append(conflict(line, event.id, previous[0]))
                return None
            seen[event.id] = (line, obj)
            return event

        events, latest = self._read_all(items, seen, general)
        if self.money:  # the generated loop does not look at `currency`
            usual = _usual_currency(self.money)
            for line, obj in seen.values():
                code = obj.get("currency")
                if code is not None and usual.get(obj["type"]) != code:
                    problems.extend(currency_problems(obj, line, self.money))
        if problems:
            problems.sort(key=lambda p: p.line)
            raise LedgerError(problems)
        return events, (latest if seen else None)

    def event(self, obj: Any, line: int, problems: list[LedgerProblem]) -> Event | None:
        """Validate one decoded object; append problems and return None if bad."""
        if not isinstance(obj, dict):
            problems.append(
                LedgerProblem(line, None, "an event must be a JSON object", '{"id": ..., "at": ..., "type": ...}')
            )
            return None
        start = len(problems)
        event_id = _text(obj, "id", line, problems)
        event_type = _text(obj, "type", line, problems)
        at = _instant(obj, "at", line, problems, required=True)
        referrer = _text(obj, "referrer", line, problems, required=False)
        referee = _text(obj, "referee", line, problems, required=False)
        schema = self.kinds.get(event_type or "")
        values: list[Any] = []
        if schema is not None:
            # `obj.get(...) is None`: absent or null (an ill-typed value was already reported).
            known = (*_HEAD, *(name for name, _, _ in schema))
            if event_type == "referral" and referrer is None and obj.get("referrer") is None:
                problems.append(_missing(obj, known, line, "referrer", "a referral needs a `referrer`"))
            if referee is None and obj.get("referee") is None:
                problems.append(
                    _missing(
                        obj,
                        known,
                        line,
                        "referee",
                        f"a `{event_type}` event needs a `referee`",
                        "name the referred person it concerns",
                    )
                )
            for name, kind, optional in schema:
                value = obj.get(name)
                if value is None:
                    if not optional:
                        problems.append(
                            _missing(obj, known, line, name, f"`{event_type}` events need `{name}`", _example(kind))
                        )
                    values.append(None)
                    continue
                values.append(_convert(value, kind, name, line, problems))
        if schema is not None and event_type in self.money:
            problems.extend(currency_problems(obj, line, self.money))
        if len(problems) > start:
            return None
        assert event_id is not None and event_type is not None and at is not None
        head = _head(event_id, at, event_type, referee, referrer if event_type == "referral" else None)
        return Event(event_id, at, event_type, referrer, referee, head + tuple(values), line, obj)


_BAD = object()
_BIG = 10**limits.MAX_LEDGER_DIGITS


def _fast_namespace() -> dict[str, Any]:
    """All that generated reader code can reach."""
    return {
        "__builtins__": {"type": type, "len": len, "dict": dict, "str": str, "KeyError": KeyError},
        "TimestampError": TimestampError,
        "Event": Event,
        "head": _head,
        "parse": parse_timestamp,
        "D": Decimal,
        "NUMBER_TEXT": _DECIMAL_TEXT.fullmatch,
        "DIGITS": limits.MAX_LEDGER_DIGITS,
        "BAD": _BAD,
        "LOW": MIN_TIMESTAMP_NS - 1,  # before any valid instant
        **{f"convert_{n}": convert for n, convert in enumerate(_FAST.values())},
    }


def _fast_source(kinds: dict[str, list[tuple[str, str, bool]]]) -> str:
    """Python source of the fast path for these event types: `fast(obj,
    line)`, the common case of one object (a plain, valid event: returns
    it, or None for anything unusual, which the exact validator `event`
    then decides and reports; so it may only accept what `event` accepts,
    never more), and `read_all(items, seen, general)`, the same check in a
    loop over a whole ledger that hands everything else to `general`.

    Generated rather than written once because per event type the fields
    and their conversions are known: straight-line code with no loop over a
    schema. Event and field names come from the rule file: each is written
    only as a `codegen.lit` constant, every Python name is made up here
    (`v0`, `convert_1`), and what differs between the two functions is
    passed as code, never spliced into text that holds a name."""
    fast = _fast_function(
        kinds,
        "def fast(obj, line):",
        ["    if type(obj) is not dict:", "        return None"],
        "    ",
        "",
        lambda record: [f"return Event(i, at, t, er, ee, {record}, line, obj)"],
        lambda record: [f"return Event(i, at, t, er, ee, {record}, line, obj)"],
        ["    return None"],
    )
    read_all = _fast_function(
        kinds,
        "def read_all(items, seen, general):",
        [
            "    events = []",
            "    append = events.append",
            "    latest = LOW",
            "    for line, obj in items:",
            "        if type(obj) is dict:",
        ],
        "            ",
        " and i not in seen",
        lambda record: ["seen[i] = (line, obj)", "if at > latest:", "    latest = at", f"append({record})", "continue"],
        lambda record: ["seen[i] = (line, obj)", "if at > latest:", "    latest = at", "continue"],
        [
            "        event = general(line, obj)",
            "        if event is not None:",
            "            if event.at > latest:",
            "                latest = event.at",
            f"            if event.type in {lit(tuple(kinds))}:",
            "                append(event.record)",
            "    return events, latest",
        ],
    )
    return fast + "\n" + read_all


def _fast_function(
    kinds: dict[str, list[tuple[str, str, bool]]],
    signature: str,
    start: list[str],
    indent: str,
    unseen: str,
    accept: Callable[[str], list[str]],
    unused: Callable[[str], list[str]],
    end: list[str],
) -> str:
    """One function of the fast path (see `_fast_source`): `start`, then
    the checks of one object at `indent`, where `unseen` adds a test to the
    first (code, not text from outside) and `accept` / `unused` give the
    lines that take the record of a valid event of a used / other type."""
    lines = [
        "get = obj.get",
        "try:",  # subscripts, cheaper than get(); a missing key leaves it to the exact validator
        "    i = obj['id']; t = obj['type']; a = obj['at']",
        "except KeyError:",
        "    i = None",
        "ee = get('referee'); er = get('referrer')",
        "if (type(i) is str and type(t) is str and i and t and i.isascii() and t.isascii()",
        "        and (ee is None or (type(ee) is str and ee and ee.isascii()))",
        f"        and (er is None or (type(er) is str and er and er.isascii())){unseen}):",
        "    try:",
        "        at = parse(a)",
        "    except TimestampError:",
        "        at = None",
        "    if at is not None:",
    ]
    for n, (name, fields) in enumerate(kinds.items()):
        needs = "ee is not None" + (" and er is not None" if name == "referral" else "")
        lines.append(f"        {'if' if n == 0 else 'elif'} t == {lit(name)}:")
        lines.append(f"            if {needs}:")
        body, made = _fast_fields(fields, "er" if name == "referral" else "None")
        lines += ["            " + code for code in body]
        lines += ["                    " + code for code in accept(f"({', '.join(made)})")]
    if kinds:
        lines.append("        else:")
    lines += [("            " if kinds else "        ") + code for code in unused("head(i, at, t, ee, None)")]
    return "\n".join(checked_line(code) for code in [signature, *start, *(indent + c for c in lines), *end]) + "\n"


def _fast_fields(fields: list[tuple[str, str, bool]], referrer: str) -> tuple[list[str], list[str]]:
    """The lines that read and convert an event's declared fields into
    `v0`, `v1`, ... (`BAD` when one is wrong), ending with the `if` that
    all are good; and the names of the record's values in order."""
    body: list[str] = []
    made = ["at", "i", "t", "ee", referrer]  # see model.EventInfo.record
    tests = []
    for k, (field, kind, optional) in enumerate(fields):
        body.append(f"    v{k} = get({lit(field)})")
        missing = "None" if optional else "BAD"
        convert = f"convert_{_FAST_INDEX[kind]}"
        if kind in _NUMERIC:  # the common case inline: a decimal string
            body += [
                f"    if type(v{k}) is str:",
                f"        v{k} = D(v{k}) if len(v{k}) <= DIGITS and NUMBER_TEXT(v{k}) else BAD",
                f"    elif v{k} is None:",
                f"        v{k} = {missing}",
                "    else:",
                f"        v{k} = {convert}(v{k})",
            ]
        else:
            body.append(f"    v{k} = {missing} if v{k} is None else {convert}(v{k})")
        tests.append(f"v{k} is not BAD")
        made.append(f"v{k}")
    body.append(f"    if {' and '.join(tests) or 'True'}:")
    return body, made


def _fast_number(value: Any) -> Any:
    kind = type(value)
    if kind is Decimal:
        text = str(value)
        return value if len(text) <= limits.MAX_LEDGER_DIGITS and "E" not in text and value.is_finite() else _BAD
    if kind is int:
        return Decimal(value) if -_BIG < value < _BIG else _BAD
    if kind is str and len(value) <= limits.MAX_LEDGER_DIGITS and _DECIMAL_TEXT.fullmatch(value):
        return Decimal(value)
    return _BAD


def _fast_text(value: Any) -> Any:
    return value if type(value) is str and value.isascii() else _BAD


def _fast_time(value: Any) -> Any:
    try:
        return parse_timestamp(value)
    except TimestampError:
        return _BAD


def _fast_boolean(value: Any) -> Any:
    return value if type(value) is bool else _BAD


_FAST = {
    NUMBER: _fast_number,
    QUANTITY: _fast_number,
    TEXT: _fast_text,
    TIME: _fast_time,
    BOOLEAN: _fast_boolean,
}
#: The generated name of each converter: `convert_<n>`, never a kind's text.
_FAST_INDEX = {kind: n for n, kind in enumerate(_FAST)}


def _example(kind: str) -> str:
    return {
        NUMBER: 'a number such as 3 or "3"',
        QUANTITY: 'an amount such as 99.90 or "99.90"',
        TEXT: "a string",
        TIME: 'an RFC 3339 timestamp such as "2026-03-01T09:30:00Z"',
        BOOLEAN: "true or false",
    }.get(kind, "a value")


def _text(
    obj: Mapping[str, Any], name: str, line: int, problems: list[LedgerProblem], required: bool = True
) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            problems.append(
                _missing(obj, _HEAD, line, name, f"missing `{name}`", "every event has `id`, `at` and `type`")
            )
        return None
    if not isinstance(value, str) or not value:
        problems.append(LedgerProblem(line, name, f"`{name}` must be a non-empty string, not {_show(value)}"))
        return None
    if not _unicode(value):
        problems.append(_surrogate_problem(line, name))
        return None
    return value


def surrogate_free(text: str) -> bool:
    """False for a string with an unpaired surrogate (JSON `"\\ud800"`),
    which could not be written out as UTF-8 (a settled statement's texts
    are checked with it too)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_unicode = surrogate_free


def _surrogate_problem(line: int, name: str) -> LedgerProblem:
    return LedgerProblem(
        line,
        name,
        f"`{name}` is not valid Unicode text (it has an unpaired surrogate escape such as \\ud800)",
        "escape a character outside the BMP as a surrogate pair, or write it as UTF-8",
    )


#: values with no text in them
_ATOMS = frozenset({int, bool, type(None)})


def surrogate_problem(obj: Any, line: int) -> LedgerProblem | None:
    """The problem of an event with a value anywhere in it (a name or a
    value, however nested) that is no JSON value, or None: a string that is
    not valid Unicode cannot be written out as UTF-8 (a snapshot, a report),
    and a number that is not finite (a `Decimal` or `float` NaN or infinity,
    given through the API: JSON text has none) can be neither written in a
    snapshot nor compared with a repeat. Refused where it comes in, with
    the field it is in."""
    if not isinstance(obj, dict):
        return None
    for key, value in obj.items():
        if (
            (
                type(value) in _ATOMS
                or (type(value) is str and value.isascii())
                or (type(value) is Decimal and value.is_finite())
            )
            and type(key) is str
            and key.isascii()
        ):
            continue  # the common case, at a glance
        if isinstance(key, str) and not _unicode(key):
            return LedgerProblem(
                line,
                None,
                "a field name is not valid Unicode text (it has an unpaired surrogate escape such as \\ud800)",
            )
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                if not _unicode(item):
                    return _surrogate_problem(line, str(key))
            elif isinstance(item, float):
                if not math.isfinite(item):
                    return _float_problem(line, str(key), item)
            elif isinstance(item, Decimal):
                if not item.is_finite():
                    return LedgerProblem(
                        line,
                        str(key),
                        f"`{key}` holds {item}, which is no JSON number",
                        "give finite numbers only (an event is JSON data)",
                    )
            elif isinstance(item, dict):
                stack.extend(k for k in item if isinstance(k, str))
                stack.extend(item.values())
            elif isinstance(item, (list, tuple)):
                stack.extend(item)
    return None


def _float_problem(line: int, name: str, value: float) -> LedgerProblem:
    """A Python float given for a number: binary, so not an exact amount."""
    return LedgerProblem(
        line,
        name,
        f"`{name}` is a binary float ({value!r}), which is not an exact amount",
        'pass a Decimal or a decimal string such as "99.90" (JSON decimals are read exactly)',
    )


def _instant(obj: Mapping[str, Any], name: str, line: int, problems: list[LedgerProblem], required: bool) -> int | None:
    value = obj.get(name)
    if value is None:
        if required:
            problems.append(
                _missing(
                    obj,
                    _HEAD,
                    line,
                    name,
                    f"missing `{name}`",
                    'an RFC 3339 timestamp with an offset, e.g. "2026-03-01T09:30:00Z"',
                )
            )
        return None
    try:
        return parse_timestamp(value)
    except TimestampError as error:
        hint = 'write it with an offset, e.g. "2026-03-01T09:30:00Z" or "...+02:00"'
        problems.append(LedgerProblem(line, name, str(error), _as_text(value, hint)))
        return None


#: the fields every event may have, whatever its type
_HEAD = ("id", "at", "type", "referrer", "referee", "currency")
#: how many of an event's keys, and how long a key, a "did you mean" looks
#: at: an event is untrusted, and the hint must stay cheap
_MAX_HINT_KEYS = 256
_MAX_HINT_KEY_CHARS = 64


def _missing(
    obj: Mapping[str, Any], known: Iterable[str], line: int, name: str, message: str, hint: str | None = None
) -> LedgerProblem:
    """A required field that is absent (or null). When a key the event has,
    and no event field of its type, is near the name (`amout` for `amount`),
    the hint names it: a misspelled key is the usual cause. Only on the
    error path: the fast path never comes here."""
    known = set(known)
    keys = [
        key
        for key in itertools.islice(obj, _MAX_HINT_KEYS)
        if isinstance(key, str) and key not in known and len(key) <= _MAX_HINT_KEY_CHARS
    ]
    near = suggest(name, keys)
    if near is not None:
        hint = f"the event has `{near}`: did you mean `{name}`?" + (f" ({hint})" if hint else "")
    return LedgerProblem(line, name, message, hint)


def _as_text(value: Any, hint: str) -> str:
    """The hint for an instant that is not text: a Python `datetime` (or
    `date`) in a dict event is refused, since an event is JSON data (the
    session keeps it, a snapshot writes it), so the hint says how to write it."""
    if isinstance(value, date):
        return "an event is JSON data: give the instant as text, e.g. `value.isoformat()` of an aware datetime"
    return hint


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _convert(value: Any, kind: str, name: str, line: int, problems: list[LedgerProblem]) -> Any:
    if kind in _NUMERIC:
        number = _number(value)
        if number is None and isinstance(value, float):
            problems.append(_float_problem(line, name, value))
        elif number is None:
            problems.append(LedgerProblem(line, name, f"`{name}` must be a number, not {_show(value)}", _example(kind)))
        elif not _bounded(number):
            problems.append(
                LedgerProblem(line, name, f"`{name}` is out of range (at most {limits.MAX_LEDGER_DIGITS} digits)")
            )
            return None
        return number
    if kind == TEXT:
        if not isinstance(value, str):
            problems.append(LedgerProblem(line, name, f"`{name}` must be a string, not {_show(value)}"))
        elif not _unicode(value):
            problems.append(_surrogate_problem(line, name))
        return value
    if kind == TIME:
        try:
            return parse_timestamp(value)
        except TimestampError as error:
            problems.append(LedgerProblem(line, name, str(error), _as_text(value, _example(TIME))))
            return None
    if kind == BOOLEAN:
        if not isinstance(value, bool):
            problems.append(LedgerProblem(line, name, f"`{name}` must be true or false, not {_show(value)}"))
        return value
    return value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        if abs(value) >= 10**limits.MAX_LEDGER_DIGITS:
            return Decimal(10) ** (limits.MAX_LEDGER_DIGITS + 1)  # reported as out of range
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        if limits.written_digits(value) > limits.MAX_LEDGER_DIGITS:  # leading zeros too
            return Decimal(10) ** (limits.MAX_LEDGER_DIGITS + 1)  # reported as out of range
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None  # floats too: a binary float is not an exact amount


def _bounded(number: Decimal) -> bool:
    _sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    return (
        len(digits) <= limits.MAX_LEDGER_DIGITS
        and abs(exponent) <= limits.MAX_LEDGER_EXPONENT
        and (len(digits) + exponent <= limits.MAX_LEDGER_DIGITS)
    )


def iter_lines(
    lines: Iterable[Any], prepare: Callable[[Any, int], Any] | None = None
) -> Iterator[tuple[int, Any, LedgerProblem | None]]:
    """Decode JSON lines: (line number, object, problem). Blank lines skipped.

    The common case (a well-formed line) costs one decode; blank lines and
    a byte order mark are only looked for when decoding fails. An item that
    is not text (an API caller's dict among lines) is given as it is, or as
    `prepare(item, line)` returns it.
    """
    decode = _DECODER.decode
    nesting = limits.MAX_LEDGER_NESTING
    for number, raw in enumerate(lines, start=1):
        if not isinstance(raw, (str, bytes)):
            yield number, (raw if prepare is None else prepare(raw, number)), None
            continue
        if len(raw) > limits.MAX_LEDGER_LINE_BYTES:
            yield number, None, LedgerProblem(number, None, f"line is longer than {limits.MAX_LEDGER_LINE_BYTES} bytes")
            continue
        try:
            text: str = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            value = decode(text)
        except (ValueError, RecursionError) as error:
            problem = _undecodable(number, raw, error)
            if problem is not None:
                yield number, None, problem
            elif number == 1 and _strip_bom(raw) is not None:
                yield from iter_lines([_strip_bom(raw)])  # type: ignore[list-item]
            continue
        if text.count("{") + text.count("[") > nesting and _depth(value, nesting):
            yield number, None, LedgerProblem(number, None, f"JSON nests deeper than {nesting} levels")
            continue
        if "\\u" in text or not text.isascii():  # where an unpaired surrogate can come from
            problem = surrogate_problem(value, number)
            if problem is not None:
                yield number, None, problem
                continue
        yield number, value, None


def _strip_bom(raw: str | bytes) -> str | None:
    """The first line without the byte order mark some tools write, if any."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text[1:] if text.startswith("\ufeff") else None


def _undecodable(number: int, raw: str | bytes, error: Exception) -> LedgerProblem | None:
    """Why a line did not decode, or None for a blank line or a BOM."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if not text.strip() or (number == 1 and text.startswith("\ufeff")):
        return None
    message = "nested too deeply" if isinstance(error, RecursionError) else _json_message(error)
    return LedgerProblem(number, None, f"invalid JSON: {message}", "each line is one JSON object")


def _json_message(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} (column {error.colno})"
    if isinstance(error, UnicodeDecodeError):
        return "the line is not UTF-8"
    if "digits" in str(error):
        return "a number has too many digits"
    return str(error)


def conflict(line: int, event_id: str, previous_line: int) -> LedgerProblem:
    """Two lines with one id and different content."""
    return LedgerProblem(
        line,
        "id",
        f"id {quoted(event_id)} is already used on line {previous_line} with different content",
        "ids are unique; an exact duplicate line is fine",
    )


class ScratchError(OSError):
    """Streaming could not keep the ledger's ids on disk (see `IdLog`)."""


class IdLog:
    """Every id of a ledger read in one pass, with its line, to find ids
    used again at a later instant (a repeat at the same instant sorts next
    to the first and is checked there: see `Program._stream`).

    Finding every reused id takes every id, so they go to a private
    temporary SQLite database, which SQLite keeps in a small page cache and
    spills to a file it deletes itself: the process's memory stays flat
    however long the ledger. Ids are appended in batches, expanded from one
    JSON array by SQLite (a row at a time from Python cost about twice as
    much), and grouped once at the end. An id is stored under its position
    in the log; its line is the position plus the shift in force there (a
    blank line or a skipped repeat changes the shift), so that gaps in the
    lines do not cut batches short.

    SQLite's errors (no room for its file, no JSON functions) are raised
    as `ScratchError`, saying where SQLite writes.
    """

    #: ids appended at once, at most; and at most this many characters of
    #: them (an id may be as long as a line)
    BATCH = 10_000
    BATCH_CHARS = 1_000_000

    def __init__(self) -> None:
        try:
            import sqlite3  # here: `check` imports this module and never needs it
        except ImportError as error:  # a Python built without it
            raise ScratchError(f"{_SCRATCH}: this Python has no sqlite3 module") from error
        self._error = sqlite3.Error
        with self._scratch():
            self._db = sqlite3.connect("", isolation_level=None)
            for statement in (
                "PRAGMA journal_mode = OFF",  # a scratch file: nothing to recover
                "PRAGMA synchronous = OFF",
                "CREATE TABLE ids (n INTEGER PRIMARY KEY, id TEXT NOT NULL)",
                "CREATE TABLE shifts (n INTEGER PRIMARY KEY, shift INTEGER NOT NULL)",
            ):
                self._db.execute(statement)
        self._count = 0  # ids logged
        self._ids: list[str] = []  # the last ones, not written yet
        self._chars = 0
        self._shift: int | None = None  # line minus position, of the last id
        self._shifts: list[tuple[int, int]] = []  # (from position, shift), not written yet

    def add(self, line: int, event_id: str) -> None:
        """Log the id of a line (lines in increasing order, gaps allowed)."""
        self._count += 1
        shift = line - self._count
        if shift != self._shift:
            self._shift = shift
            self._shifts.append((self._count, shift))
        self._ids.append(event_id)
        self._chars += len(event_id)
        if len(self._ids) >= self.BATCH or self._chars >= self.BATCH_CHARS:
            self._write()

    def reused(self) -> list[tuple[int, str, int]]:
        """(line, id, first line) of each line whose id an earlier line has,
        in line order. Call it once, when the ledger has ended."""
        self._write()
        db = self._db
        with self._scratch():
            # grouping is about twice as fast as a window over every id; the
            # ids are joined again only when some id was reused
            db.execute("CREATE TABLE reused (id TEXT PRIMARY KEY, first INTEGER NOT NULL) WITHOUT ROWID")
            db.execute("INSERT INTO reused SELECT id, MIN(n) FROM ids GROUP BY id HAVING COUNT(*) > 1")
            if db.execute("SELECT 1 FROM reused LIMIT 1").fetchone() is None:
                return []
            rows = db.execute(
                "SELECT ids.n, ids.id, reused.first FROM ids JOIN reused ON ids.id = reused.id"
                " WHERE ids.n != reused.first ORDER BY ids.n"
            ).fetchall()
            return [(self._line(n), event_id, self._line(first)) for n, event_id, first in rows]

    def close(self) -> None:
        """Drop the database (SQLite deletes its file)."""
        self._db.close()

    def _write(self) -> None:
        ids, db = self._ids, self._db
        with self._scratch():
            if ids:
                first = self._count - len(ids) + 1
                text = json.dumps(ids)
                if "\\u0000" in text:  # SQLite's JSON functions end a string at NUL: bind each id
                    db.executemany("INSERT INTO ids VALUES (?, ?)", enumerate(ids, first))
                else:
                    db.execute("INSERT INTO ids SELECT ?1 + key, value FROM json_each(?2)", (first, text))
            db.executemany("INSERT INTO shifts VALUES (?, ?)", self._shifts)
        ids.clear()
        self._chars = 0
        self._shifts.clear()

    def _line(self, n: int) -> int:
        """The line of the id at position n."""
        (shift,) = self._db.execute("SELECT shift FROM shifts WHERE n <= ? ORDER BY n DESC LIMIT 1", (n,)).fetchone()
        return int(n + shift)

    @contextlib.contextmanager
    def _scratch(self) -> Iterator[None]:
        """SQLite's errors as `ScratchError`."""
        try:
            yield
        except self._error as error:
            raise ScratchError(f"{_SCRATCH}: {error}") from error


#: what an `IdLog` error says first
_SCRATCH = (
    "cannot keep the ledger's ids in a temporary SQLite database (SQLite writes it in SQLITE_TMPDIR, "
    "TMPDIR, /var/tmp, /usr/tmp, /tmp or the current directory, the first it can use)"
)


def same_content(a: Any, b: Any) -> bool:
    """JSON equality: numbers compare by value (15 == 15.0), but a boolean is
    never a number and a string never a number, unlike Python's `==`."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if isinstance(x, bool) or isinstance(y, bool):
            if type(x) is not type(y) or x != y:
                return False
        elif isinstance(x, dict):
            if not isinstance(y, dict) or x.keys() != y.keys():
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if not isinstance(y, list) or len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif isinstance(x, (int, Decimal)) and isinstance(y, (int, Decimal)):
            if x != y:
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True


def _depth(value: Any, limit: int) -> bool:
    """True when a decoded value nests deeper than ``limit`` (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return False


# -- money and currencies (see `EventReader.money`)


#: per event type, its fields declared as money: (field, currency code)
MoneyFields = dict[str, tuple[tuple[str, str], ...]]


def _money_fields(checked: CheckedRuleset, kinds: Mapping[str, Any]) -> MoneyFields:
    """The fields of each used event type that the rule file declares as
    money in a currency (``amount: money USD``)."""
    found: MoneyFields = {}
    for name in kinds:
        fields = checked.events[name].fields.values()
        money = tuple(
            (f.name, f.type.unit)
            for f in fields
            if f.type.kind == QUANTITY and f.type.unit and is_currency(f.type.unit)
        )
        if money:
            found[name] = money
    return found


def currency_problems(obj: Mapping[str, Any], line: int, money: MoneyFields) -> list[LedgerProblem]:
    """An amount is in the currency its event's `currency` names: scoring a
    JPY 1,000,000 payment as 1,000,000 USD would pay real money for nothing.
    So a `currency` other than the declared one of a money field the event
    carries is an error; nothing here converts (a rate belongs to whoever
    writes the ledger). Objects of types without money fields pass."""
    kind = obj.get("type")
    fields = money.get(kind) if isinstance(kind, str) else None
    code = obj.get("currency")
    if fields is None or code is None:
        return []
    if not isinstance(code, str) or not code:
        return [LedgerProblem(line, "currency", f'`currency` must be a currency code such as "USD", not {_show(code)}')]
    named = code.upper()
    return [
        LedgerProblem(
            line,
            name,
            f"`{name}` is in {_show(code)} (field `currency`), but the rule file declares it as money {unit}",
            f"convert it to {unit} before scoring: amounts are never converted or reinterpreted",
        )
        for name, unit in fields
        if named != unit and obj.get(name) is not None
    ]


def _usual_currency(money: MoneyFields) -> dict[str, str]:
    """Per event type whose money fields share one currency, its code as
    written most often: an event naming it needs no closer look."""
    return {kind: fields[0][1] for kind, fields in money.items() if len({unit for _, unit in fields}) == 1}


def _currency_checked(
    fast: Callable[[Any, int], Event | None], money: MoneyFields
) -> Callable[[Any, int], Event | None]:
    """The generated `fast` check, leaving an event whose `currency` differs
    from its money fields' to the exact validator, which reports it."""

    usual = _usual_currency(money)

    def checked(obj: Any, line: int) -> Event | None:
        event = fast(obj, line)
        if event is None or usual.get(event.type) == obj.get("currency", usual.get(event.type)):
            return event
        return None if currency_problems(obj, line, money) else event

    return checked
