"""Types of rule-language values, with units.

A quantity carries its unit in the type (``money USD`` is a quantity in
USD), so ``check`` can refuse USD + MB before anything runs; at run time the
values are plain Decimals. A bare number literal adapts to whatever quantity
it meets (``mrr >= 1000`` compares in the unit of ``mrr``).
"""

from __future__ import annotations

from dataclasses import dataclass

NUMBER = "number"
QUANTITY = "quantity"
TEXT = "text"
TIME = "time"
BOOLEAN = "boolean"
DURATION = "duration"
ERROR = "error"  # the type of an expression that already has a diagnostic

#: Duration units of `within`, `hold` and duration literals, in nanoseconds.
DURATION_UNITS: dict[str, int] = {}
for _names, _ns in (
    (("minute", "minutes"), 60 * 10**9),
    (("hour", "hours"), 3600 * 10**9),
    (("day", "days"), 86400 * 10**9),
    (("week", "weeks"), 7 * 86400 * 10**9),
):
    for _name in _names:
        DURATION_UNITS[_name] = _ns

#: Calendar periods a cap may be counted in.
PERIODS = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True, slots=True)
class Type:
    kind: str
    unit: str | None = None
    literal: bool = False  # a bare number literal: adapts to any quantity

    @property
    def numeric(self) -> bool:
        return self.kind in (NUMBER, QUANTITY)

    def describe(self) -> str:
        """How the type is named in messages."""
        if self.kind == QUANTITY:
            from .units import is_currency

            return f"money ({self.unit})" if is_currency(self.unit or "") else f"quantity ({self.unit})"
        if self.kind == BOOLEAN:
            return "condition"
        return self.kind


T_NUMBER = Type(NUMBER)
T_LITERAL = Type(NUMBER, literal=True)
T_TEXT = Type(TEXT)
T_TIME = Type(TIME)
T_BOOLEAN = Type(BOOLEAN)
T_DURATION = Type(DURATION)
T_ERROR = Type(ERROR)


def quantity(unit: str) -> Type:
    return Type(QUANTITY, unit)


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two operands of + - or a comparison, or None."""
    if a.kind == ERROR or b.kind == ERROR:
        return T_ERROR
    if a.kind == b.kind and a.unit == b.unit:
        return Type(a.kind, a.unit, a.literal and b.literal)
    if a.literal and b.kind == QUANTITY:
        return b
    if b.literal and a.kind == QUANTITY:
        return a
    return None
