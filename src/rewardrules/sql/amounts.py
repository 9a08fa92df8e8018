"""Computed amounts in units that are not currencies (`points`, `credits`).

The Python engine rounds a computed amount to its currency's minor unit,
and leaves any other unit exact: `1.5 * usage.seats points` of 2.25 seats
is 3.375 points, written plainly without trailing zeros
(`units.format_amount`: `3.375`, `3`). The query computes it exactly (a
DECIMAL product or sum) and writes that text; an amount of 0 or less, or
without a value, gives no award, as in the engine.

Refused: an amount that divides (the engine keeps the quotient to 100
significant digits, which no DECIMAL(38) value holds), and such a reward
under a cap on an amount (what the cap cuts is computed in the program's
one amount type, `DECIMAL(38, s)` with `s` the constants' decimals, which
would round an exact amount with more).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import expressions

if TYPE_CHECKING:
    from ..compiler.generate import CompiledReward
    from .compile import _Compiler


def exact(compiler: _Compiler, reward: CompiledReward) -> str:
    """The exact amount of a reward in a unit that is not a currency, at
    its hit row (before it is written: `text`)."""
    amount = reward.info.decl.amount
    if expressions.divides(compiler, amount):
        raise compiler.refuse("a computed amount that divides, in a unit that is not a currency", amount)
    for cap in reward.caps:
        if not cap.counts_rewards:
            raise compiler.refuse(
                "a computed amount in a unit that is not a currency, under a cap on an amount", amount
            )
    return compiler.expr(amount)


def text(value: str, unit: str) -> str:
    """The amount as the Python engine writes it: plain digits without
    trailing zeros (`units.format_amount`); positive here (see `where`)."""
    from .compile import _plain_text

    return _plain_text(value, unit)


def where(value: str) -> str:
    """Which hit rows give an award: an amount above 0 (NULL: no value)."""
    return f" WHERE {positive(value)}"


def positive(value: str) -> str:
    """SQL: whether an exact amount gives an award (above 0; NULL: none)."""
    return f"{value} > 0"
