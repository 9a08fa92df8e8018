"""The signs of numbers, as the Python engine's Decimals have them: a zero
may be negative.

The Python engine writes money with its currency's decimals by quantizing
the Decimal it holds, which keeps its sign: a ledger amount written
`-0.00`, or `0.00 * -1`, is written `-0.00` in a message (any other number
is written without a negative zero: `formatting.plain`). A DECIMAL has no
negative zero, so the query carries, beside such a value, its Decimal's
sign (TRUE for a minus) by Python's rules for exact arithmetic (which the
engine's context, half to even, follows):

| value | sign |
| --- | --- |
| a ledger number | its text's (`"T.F sign"`, a column filled by the reader: TRUE for `-0.00`) |
| a literal | its own (never: the language has no signed literal) |
| `count`, `sum`, a graduated table, a per-referrer sum | that of a value below 0 (they add up from `Decimal(0)`: a zero is never negative) |
| `latest`, `first` | that value's |
| `max`, `min` | the first value (in processing order) that holds the maximum (minimum) |
| `a * b`, `a / b`, `N% of a`, `rate of` | either's, not both (a zero too: `-0.00 * 2` is `-0.00`) |
| `a + b` (`a - b`) | a zero's: both (a's and not b's); another value's: below 0 |
| `- a` | a zero's: none (`-Decimal("0.00")` is `0.00`); another value's: not a's |
| `tiers of M` | its row's constant's (never) |
| `otherwise X` | X's where the aggregate has no value |

Only a zero's sign changes a written value (any other value's text says
its sign), so the message writes a `-` before a zero whose sign is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..check.program import MetricInfo
from ..core.datatypes import DURATION_UNITS
from ..syntax import nodes as ast
from .exponents import beside, of_ref

if TYPE_CHECKING:
    from .compile import _Compiler

#: the suffix of a number column's sign column: `"payment.amount sign"`
SUFFIX = " sign"


def of_text(text: str) -> str:
    """SQL: whether a number's text has a minus sign; NULL for NULL (in
    DuckDB and Spark SQL alike)."""
    return f"(SUBSTR({text}, 1, 1) = '-')"


def signed_text(value: str, negative: str) -> str:
    """SQL: an exact value's text with a `-` before it when it is a zero
    whose sign is set (`-0.00`); NULL for NULL."""
    return f"CASE WHEN {value} = 0 AND {negative} THEN '-' ELSE '' END || CAST({value} AS VARCHAR)"


def negative(compiler: _Compiler, node: ast.Expr) -> str:
    """SQL: whether the sign of `node`'s Decimal in the Python engine is set
    (a value below 0, or a negative zero), on a row of `metered`
    (`totals`); may be NULL where the value has none."""
    if isinstance(node, (ast.Number, ast.Percent)) or (
        isinstance(node, ast.Quantity) and node.unit.text not in DURATION_UNITS
    ):
        return "TRUE" if node.value.is_signed() else "FALSE"
    if isinstance(node, ast.Neg):
        return f"({_value(compiler, node.operand)} <> 0 AND NOT {negative(compiler, node.operand)})"
    if isinstance(node, ast.Arith):
        left, right = negative(compiler, node.left), negative(compiler, node.right)
        if node.op in "*/":
            return f"({left} <> {right})"
        if node.op == "-":
            right = f"NOT {right}"
        value = _value(compiler, node)
        return f"(CASE WHEN {value} = 0 THEN {left} AND {right} ELSE {value} < 0 END)"
    if isinstance(node, ast.PercentOf):
        return negative(compiler, node.operand)  # N% is not signed
    if isinstance(node, ast.RateOf):
        return f"({negative(compiler, node.operand)} <> {negative(compiler, node.rate)})"
    if isinstance(node, ast.Tiers):
        return _tier(compiler, node)
    found = of_ref(compiler, node, metric, field) if isinstance(node, ast.Ref) else None
    if found is not None:
        return found
    raise compiler.refuse("the sign of this value (a zero may be negative)", node)


def _value(compiler: _Compiler, node: ast.Expr) -> str:
    """`node`'s value, or the numerator of its exact fraction (of the same
    sign: the denominator is positive) where it divides."""
    from .expressions import fraction

    return fraction(compiler, node).num


def _tier(compiler: _Compiler, node: ast.Tiers) -> str:
    """A rate table's value is the constant of the row that holds the
    metric, with its sign (`-0 USD` too); a graduated one's a sum from 0:
    not signed, but below 0."""
    from .tables import by_row

    if node.graduated:
        return f"({_value(compiler, node)} < 0)"
    return by_row(compiler, node, lambda value: "TRUE" if value.is_signed() else "FALSE")


def field(compiler: _Compiler, event: str, name: str, carried: bool = False) -> str:
    """The sign column of a number field of the ledger (`carried`: the
    referral's, on each of its rows)."""
    return beside(compiler, event, name, "sign", carried)


def metric(compiler: _Compiler, info: MetricInfo, node: object) -> str:
    """The sign of a metric's value after each event (a column of
    `metered` for `latest`, `first`, `max` and `min`, added once)."""
    formula = info.formula
    if formula is not None:
        return compiler.beside_formula("sign", info, lambda: negative(compiler, formula))
    value = compiler.metric(info, node)  # the same checks as its value
    agg = info.aggregate
    if agg is None or agg.fn in ("count", "sum"):  # from Decimal(0): a zero is never negative
        return f"({value} < 0)"
    if info.level != "referral":
        raise compiler.refuse(f"the sign of the metric `{info.name}`", node)
    found = compiler.signs.get(info)
    if found is None:
        found = f"g{len(compiler.signs)}"
        compiler.metric_sql.append(f"{_aggregate(compiler, info)} AS {found}")
        compiler.signs[info] = found
    return found


def _aggregate(compiler: _Compiler, info: MetricInfo) -> str:
    """A `latest`, `first`, `max` or `min`'s sign after each event of the
    referral: that of the value it holds, as `exponents.held` finds it (the
    first that reaches the maximum: `-0.00` then `0.00` stays `-0.00`)."""
    from .exponents import held

    agg = info.aggregate
    assert agg is not None and agg.field is not None  # `count` and `sum`: see `metric`
    if agg.fn not in ("latest", "first", "max", "min"):
        raise compiler.refuse(f"the sign of the metric `{info.name}`", agg)
    found = held(compiler, info, field(compiler, agg.source.text, agg.field.text))
    fallback = agg.otherwise
    if fallback is not None:  # a constant (see `expressions.otherwise`)
        found = f"COALESCE({found}, {negative(compiler, fallback)})"
    return found
