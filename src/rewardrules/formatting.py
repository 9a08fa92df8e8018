"""How values are written in results: amounts, metric values, instants.

Shared by the engine (which writes an award's record once, when it is
issued) and the report (explanations, messages). Money is written with
exactly its currency's decimals; other numbers plainly, never in scientific
notation; instants in UTC with `Z`.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from .datatypes import DURATION, TIME, Type
from .runtime import CONTEXT
from .timeutil import NS_PER_DAY, format_timestamp
from .units import format_amount, is_currency, minor_exponent


def plain(value: Decimal) -> str:
    """A decimal without exponent notation or a negative zero."""
    if not value:
        return "0"
    text = format(value, "f")
    return text


def format_value(value: Any, typ: Type | None) -> Any:
    """How a metric or field value appears in explanations and messages."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if typ is not None and typ.kind == TIME and isinstance(value, int):
        return format_timestamp(value)
    if typ is not None and typ.kind == DURATION and isinstance(value, int):
        return f"{Decimal(value) / NS_PER_DAY:f} days"
    if isinstance(value, Decimal):
        quantum = money_quantum(typ)
        if quantum is not None:
            return format(value.quantize(quantum, context=CONTEXT), "f")
        return plain(value.normalize(CONTEXT)) if value == value.to_integral_value() else plain(value)
    return str(value)


def money_quantum(typ: Type | None) -> Decimal | None:
    """The minor unit of a money type (0.01 for USD), None for other types."""
    return None if typ is None or not typ.unit else _unit_quantum(typ.unit)


@functools.lru_cache(maxsize=64)
def _unit_quantum(unit: str) -> Decimal | None:
    # cached by the unit's name: hashing a `Type` (a dataclass) cost more
    # than the rest of writing a value in an explanation
    return Decimal(1).scaleb(-minor_exponent(unit)) if is_currency(unit) else None


def amount_text(amount: Decimal, quantum: Decimal | None, kind: str) -> str:
    """Money is already rounded to its quantum: print every decimal of it;
    other units print plainly; items are one item."""
    if kind == "item":
        return "1"
    if quantum is not None:
        return format(amount, "f")
    return format_amount(amount, "item")
