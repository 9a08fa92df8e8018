"""The fast path: a reader generated per rule file (through ``codegen``),
straight-line checks of each event type's fields; anything unusual falls back
to the full validation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from ..compiler.codegen import line as checked_line
from ..compiler.codegen import lit
from ..core import limits
from ..core.datatypes import BOOLEAN, NUMBER, QUANTITY, TEXT, TIME
from ..core.timeutil import MIN_TIMESTAMP_NS, TimestampError, parse_timestamp
from .events import Event, _head
from .validate import _DECIMAL_TEXT, _NUMERIC

_BAD = object()

_BIG = 10**limits.MAX_LEDGER_DIGITS


#: how many decimal texts one reader remembers the value of (see `_numbers`)
KNOWN_NUMBERS = 4096


def _numbers() -> tuple[Callable[[str], Decimal | None], Callable[[str], Any]]:
    """The value of a decimal text as the fast path reads it (`BAD` for
    one it does not take), and a look-up of the texts already read: a
    reader remembers the values of the first `KNOWN_NUMBERS` texts it takes,
    so the events that repeat an amount (plans' prices, a subscription's
    MRR) share one `Decimal` (about 100 bytes an event fewer in a batch's
    records) and skip the check and the conversion. Keyed by the exact
    text, so `"5.0"` and `"5"` keep their own exponents; a Decimal is
    immutable, and nothing compares them by identity."""
    known: dict[str, Decimal] = {}
    digits = limits.MAX_LEDGER_DIGITS  # as the reader is made, as for the rest of its code
    fullmatch = _DECIMAL_TEXT.fullmatch

    def number(text: str) -> Any:
        if len(text) <= digits and fullmatch(text):
            value = Decimal(text)
            if len(known) < KNOWN_NUMBERS:
                known[text] = value
            return value
        return _BAD

    return known.get, number


def _fast_namespace() -> dict[str, Any]:
    """All that generated reader code can reach."""
    known, number = _numbers()
    return {
        "KNOWN": known,
        "NUMBER": number,
        "__builtins__": {"type": type, "len": len, "dict": dict, "str": str, "KeyError": KeyError},
        "TimestampError": TimestampError,
        "Event": Event,
        "head": _head,
        "parse": parse_timestamp,
        "BAD": _BAD,
        "LOW": MIN_TIMESTAMP_NS - 1,  # before any valid instant
        **{f"convert_{n}": convert for n, convert in enumerate(_FAST.values())},
    }


def _fast_source(
    kinds: dict[str, list[tuple[str, str, bool]]], currencies: Mapping[str, str | None] | None = None
) -> str:
    """Python source of the fast path for these event types: `fast(obj,
    line)`, the common case of one object (a plain, valid event: returns
    it, or None for anything unusual, which the exact validator `event`
    then decides and reports; so it may only accept what `event` accepts,
    never more), and `read_all(items, seen, firsts, general, events)`, the
    same check in a loop over a whole ledger (items: (line, object, what the
    duplicate check keeps of it)) that hands everything else to `general`
    and appends each record to `events` (a list, or `order.SortedRecords`);
    each new id goes into `seen` (id: what is kept) with its line appended
    to `firsts`, so the n-th id of `seen` was first used on line
    `firsts[n]` (no tuple and no line object kept per event).

    Generated rather than written once because per event type the fields
    and their conversions are known: straight-line code with no loop over a
    schema. Event and field names come from the rule file: each is written
    only as a `codegen.lit` constant, every Python name is made up here
    (`v0`, `convert_1`), and what differs between the two functions is
    passed as code, never spliced into text that holds a name.

    `currencies`: per event type with money fields, the one currency they
    are declared in (None when they are in several): an event of that type
    is taken only when its `currency` is absent or that code as written;
    any other goes to the exact validator, which refuses another currency
    (`validate.currency_problems`) and accepts the code in other case.

    `read_all` keeps one string object per referee and referrer id in the
    records it makes (the first one read): a person's events share it, so
    a batch holds each id once, and the engine's look-ups by referee find
    the very key they stored (equal strings, so nothing else changes)."""
    currencies = currencies or {}
    fast = _fast_function(
        kinds,
        currencies,
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
        currencies,
        "def read_all(items, seen, firsts, general, events):",
        [
            "    append = events.append",
            "    first = firsts.append",
            "    one = {}.setdefault",  # one string per referee or referrer id (see `_fast_source`)
            "    latest = LOW",
            "    for line, obj, kept in items:",
            "        if type(obj) is dict:",
        ],
        "            ",
        " and i not in seen",
        lambda record: [
            "seen[i] = kept",
            "first(line)",
            "if at > latest:",
            "    latest = at",
            "ee = one(ee, ee)",
            "if er is not None:",
            "    er = one(er, er)",
            f"append({record})",
            "continue",
        ],
        lambda record: ["seen[i] = kept", "first(line)", "if at > latest:", "    latest = at", "continue"],
        [
            "        event = general(line, obj, kept)",
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
    currencies: Mapping[str, str | None],
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
        body, made = _fast_fields(fields, "er" if name == "referral" else "None", currencies, name)
        lines += ["            " + code for code in body]
        lines += ["                    " + code for code in accept(f"({', '.join(made)})")]
    if kinds:
        lines.append("        else:")
    lines += [("            " if kinds else "        ") + code for code in unused("head(i, at, t, ee, None)")]
    return "\n".join(checked_line(code) for code in [signature, *start, *(indent + c for c in lines), *end]) + "\n"


def _fast_fields(
    fields: list[tuple[str, str, bool]], referrer: str, currencies: Mapping[str, str | None], kind_name: str
) -> tuple[list[str], list[str]]:
    """The lines that read and convert an event's declared fields into
    `v0`, `v1`, ... (`BAD` when one is wrong), ending with the `if` that
    all are good (and, for a type with money fields, that its `currency`
    is absent or theirs); and the names of the record's values in order."""
    body: list[str] = []
    # see model.EventInfo.record; the type as the one constant its test
    # compared it with, not the line's copy: one string for every event
    made = ["at", "i", lit(kind_name), "ee", referrer]
    tests = []
    if kind_name in currencies:
        code = currencies[kind_name]
        tests.append("get('currency') is None" if code is None else f"get('currency') in (None, {lit(code)})")
    for k, (field, kind, optional) in enumerate(fields):
        body.append(f"    v{k} = get({lit(field)})")
        missing = "None" if optional else "BAD"
        convert = f"convert_{_FAST_INDEX[kind]}"
        if kind in _NUMERIC:  # the common case inline: a decimal string, often one read before
            body += [
                f"    if type(v{k}) is str:",
                f"        w = KNOWN(v{k})",
                f"        v{k} = NUMBER(v{k}) if w is None else w",
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
