"""Rate tables compiled to SQL: `tiers of M { ... }`, `graduated tiers of
M { ... }` and `rate of X` (docs/semantics.md, "Rate tables").

Every value here is exact DECIMAL arithmetic. A CASE never chooses
between DECIMALs of different scales: DuckDB gives `CASE WHEN c THEN 1.5
ELSE 2 END` the type DECIMAL(38, 0) and rounds 1.5 to 2. A table's row
values are therefore cast to one scale (the most decimals of any row), and
a graduated table takes the smaller of two values by arithmetic
(`m - (m - top) * [m > top]`), never with LEAST or CASE.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from ..check.tables import row_limits
from ..core.datatypes import DURATION_UNITS
from ..syntax import nodes as ast

if TYPE_CHECKING:
    from .compile import _Compiler

#: the exact 1/100 of `rate of X` (X x rate / 100)
HUNDREDTH = "CAST('0.01' AS DECIMAL(38, 2))"


def rate_of(compiler: _Compiler, node: ast.RateOf) -> str:
    """`rate of X`: X x rate / 100, NULL when either has no value."""
    return f"({compiler.expr(node.operand)} * {compiler.expr(node.rate)} * {HUNDREDTH})"


def tiers(compiler: _Compiler, node: ast.Tiers) -> str:
    """A rate table's value after each event: the first row that holds the
    metric (its upper limit exclusive where the next row meets it, as
    `runtime.n_tier`), NULL when none does or the metric has no value; a
    graduated table's exact sum of slices."""
    from .compile import MAX_DIGITS, _scale, number

    if node.graduated:
        return "(" + " + ".join(slices(compiler, node)) + ")"
    wide = f"DECIMAL({MAX_DIGITS}, {max(_scale(v) for v in _rows(compiler, node))})"
    return by_row(compiler, node, lambda value: f"CAST({number(value, None, compiler.path)} AS {wide})")


def by_row(compiler: _Compiler, node: ast.Tiers, write: Callable[[Decimal], str]) -> str:
    """SQL: `write(value)` of the row that holds the metric (the first:
    `runtime.n_tier`), NULL where none does: the row's value, or what goes
    with it (its exponent, `sql.exponents`)."""
    from .compile import number

    values = _rows(compiler, node)
    metric = compiler.expr(node.metric)
    path = compiler.path
    cases = []
    for low, high, value in zip(node.lows, row_limits(compiler.checked, node), values, strict=True):
        tests = [f"{metric} >= {number(low.value, None, path)}"]
        if high is not None:
            tests.append(f"{metric} {'<=' if high[1] else '<'} {number(high[0], None, path)}")
        cases.append(f"WHEN {' AND '.join(tests)} THEN {write(value)}")
    return f"(CASE {' '.join(cases)} END)"


def slices(compiler: _Compiler, node: ast.Tiers) -> list[str]:
    """A graduated table's slices, one per row: `(top - low) * rate / 100`
    where the metric is above the row's low (top: the smaller of the
    metric and the row's end), else 0; their sum is the table's value."""
    from .compile import number

    rates = _rows(compiler, node)
    metric = compiler.expr(node.metric)
    path = compiler.path

    def flag(bound: Decimal) -> str:
        """1 where the metric is above `bound`, else 0 (an integer: no scale to merge)."""
        return f"(CASE WHEN {metric} > {number(bound, None, path)} THEN 1 ELSE 0 END)"

    terms = []
    for low, high, rate in zip(node.lows, row_limits(compiler.checked, node), rates, strict=True):
        top = metric  # the smaller of the metric and the row's top
        if high is not None:
            top = f"({metric} - ({metric} - {number(high[0], None, path)}) * {flag(high[0])})"
        share = number(rate / 100, low.span, path)
        terms.append(f"(({top} - {number(low.value, None, path)}) * {flag(low.value)} * {share})")
    return terms


def _rows(compiler: _Compiler, node: ast.Tiers) -> list[Decimal]:
    """The rows' constant values, after refusing what does not compile: a
    table of a value that divides or of durations, a row not a constant."""
    from .expressions import divides

    if divides(compiler, node.metric):
        raise compiler.refuse("a rate table of a value that involves a division", node.metric)
    for bound in (*node.lows, *(h for h in node.highs if h is not None)):
        if isinstance(bound, ast.Quantity) and bound.unit.text in DURATION_UNITS:
            raise compiler.refuse("a rate table of durations", bound)
    values: list[Decimal] = []
    for value in node.values:
        if not isinstance(value, (ast.Number, ast.Quantity, ast.Percent)):
            raise compiler.refuse("a rate table row whose value is not a constant", value)
        values.append(value.value)
    return values
