"""Validating decoded events against a program's events: fields, types,
instants and currencies, each mistake a problem at its line and field."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ..check.program import CheckedRuleset
from ..core import limits
from ..core.datatypes import BOOLEAN, NUMBER, QUANTITY, TEXT, TIME
from ..core.diagnostics import suggest
from ..core.timeutil import TimestampError, parse_timestamp
from ..core.units import is_currency
from .decode import _float_problem, _surrogate_problem, _unicode
from .events import LedgerProblem

_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")

_NUMERIC = (NUMBER, QUANTITY)


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
    return _plain_text(value)


def _plain_text(value: str) -> str:
    """The text of a `str` (a subclass's, such as an enum's member or an
    app's own id type, as a plain `str`): a record holds only plain values,
    which a batch pickles into its scratch runs (`order.SortedRecords`),
    where an object of a class defined in a function cannot go."""
    return value if type(value) is str else str.__str__(value)


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
        else:
            return _plain_text(value)
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


def read_amount(value: Any, name: str, line: int, hint: str | None = None) -> Decimal | LedgerProblem:
    """`value` read as an amount exactly as a field declared `money` is
    (a JSON number or a decimal string, finite, within the ledger's digit
    and exponent limits, never a binary float), or the problem at its line
    and field (`hint`, when given, in place of the usual one). For a reader
    of a field the rule file may not declare, which the scorer never
    checked (`simulate --ledger` reads each payment's and refund's `amount`
    as revenue)."""
    problems: list[LedgerProblem] = []
    number = _convert(value, QUANTITY, name, line, problems)
    if problems:
        problem = problems[0]
        return problem if hint is None else LedgerProblem(problem.line, problem.field, problem.message, hint)
    assert isinstance(number, Decimal)
    return number


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):  # a subclass's value as a plain Decimal (see `_plain_text`)
        return (value if type(value) is Decimal else Decimal(value)) if value.is_finite() else None
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


def _one_currency(money: MoneyFields) -> dict[str, str | None]:
    """Per event type with money fields, the one currency they are all
    declared in, or None when they are in several (the fast path then takes
    only events without a `currency`)."""
    return {
        kind: units.pop() if len(units := {unit for _, unit in fields}) == 1 else None for kind, fields in money.items()
    }
