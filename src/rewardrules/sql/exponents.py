"""The exponents of numbers, as the Python engine's Decimals have them.

The Python engine writes a number that is not money (in a message, in an
award's explanation) with the decimals its Decimal carries: `1.50` read
from the ledger stays `1.50`, `1.5 + 1` is `2.5`, `1.50 * 2` is `3.00`
(`formatting.format_value`: a whole number is written without them). A
DECIMAL(38, s) column has the decimals of the widest value of the column,
so the query carries, beside such a value, its Decimal's exponent as an
integer, computed by Python's own rules for exact arithmetic:

| value | exponent |
| --- | --- |
| a ledger number | its text's (`"T.F exponent"`, a column filled by the reader: `-2` for `1.50`) |
| a literal | its own |
| `count` | 0 (the engine counts in `Decimal(1)` from `Decimal(0)`) |
| `sum` | the least of 0 and the exponents of the values summed so far |
| `latest`, `first` | that value's |
| `max`, `min` | the first value (in processing order) that holds the maximum (minimum) |
| `a + b`, `a - b` | the least of theirs |
| `a * b`, `N% of a` | their sum (`N%` is the Decimal `N / 100`) |
| `- a` | a's |
| `tiers of M` | the exponent of the constant of the row that holds M |
| `rate of X` | `X * rate / 100`: the product's, or the quotient's where it needs more (`hundredth`) |
| `graduated tiers of M` | the least of 0 and each slice's `(top - low) * rate / 100` (`hundredth`), the slices M is above |
| `sum referrals.M` | the least of 0 and the exponents of the contributions that changed it so far |
| `otherwise X` | X's where the aggregate has no value |

Anything else (a division, a duration) is refused at its place: a
quotient's exponent depends on its digits past any DECIMAL(38).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from ..check.program import MetricInfo
from ..check.tables import row_limits
from ..core.datatypes import DURATION_UNITS
from ..syntax import nodes as ast
from . import referral_fields

if TYPE_CHECKING:
    from .compile import _Compiler

#: the suffix of a number column's exponent column: `"usage.seats exponent"`
SUFFIX = " exponent"

_ROWS = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
_SO_FAR = f'(PARTITION BY rid ORDER BY "at", id {_ROWS})'


def of(value: Decimal) -> int:
    """A Decimal's exponent (finite: validated ledger numbers are)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return exponent


def of_text(text: str) -> str:
    """SQL: the exponent of the Decimal a number's text makes (the strict
    form has no exponent notation: minus its decimals); NULL for NULL."""
    point = f"INSTR({text}, '.')"  # in DuckDB and Spark SQL alike
    return f"CAST(CASE WHEN {point} = 0 THEN 0 ELSE {point} - LENGTH({text}) END AS BIGINT)"


def exponent(compiler: _Compiler, node: ast.Expr) -> str:
    """SQL: the exponent of `node`'s value on a row of `metered` (`totals`),
    as the Python engine's arithmetic gives it; NULL where it has no value."""
    if isinstance(node, (ast.Number, ast.Percent)) or (
        isinstance(node, ast.Quantity) and node.unit.text not in DURATION_UNITS
    ):
        return str(of(node.value))
    if isinstance(node, ast.Neg):
        return exponent(compiler, node.operand)
    if isinstance(node, ast.Arith) and node.op in "+-*":
        left, right = exponent(compiler, node.left), exponent(compiler, node.right)
        return f"({left} + {right})" if node.op == "*" else f"LEAST({left}, {right})"
    if isinstance(node, ast.PercentOf):
        return f"({exponent(compiler, node.operand)} + {of(node.value / 100)})"
    if isinstance(node, ast.Tiers):
        return _graduated(compiler, node) if node.graduated else _tier(compiler, node)
    if isinstance(node, ast.RateOf):  # the engine's `n_rate`: a * rate / 100
        product = f"({exponent(compiler, node.operand)} + {exponent(compiler, node.rate)})"
        return hundredth(compiler.expr(node), product)
    found = of_ref(compiler, node, metric, field) if isinstance(node, ast.Ref) else None
    if found is not None:
        return found
    raise compiler.refuse("the decimals of this value (a division or a duration)", node)


def of_ref(
    compiler: _Compiler,
    node: ast.Ref,
    of_metric: Callable[[_Compiler, MetricInfo, object], str],
    of_field: Callable[[_Compiler, str, str, bool], str],
) -> str | None:
    """What a name carries beside its value (its exponent; its sign,
    `sql.signs`): a metric's (`of_metric`) or a ledger field's
    (`of_field`, after the same checks as its value; carried from the
    referral's row for a field of the referral read on another row,
    `referral_fields.is_carried`); None for another."""
    binding = compiler.checked.bindings.get(node)
    if binding is not None and binding.kind == "metric" and binding.metric is not None:
        return of_metric(compiler, binding.metric, node)
    if binding is not None and binding.kind == "field" and binding.event is not None and binding.field is not None:
        compiler.expr(node)  # the same checks as its value (where it may be read)
        carried = referral_fields.is_carried(compiler, binding)
        return of_field(compiler, binding.event.name, binding.field.name, carried)
    return None


def _tier(compiler: _Compiler, node: ast.Tiers) -> str:
    """A rate table's value is one of its rows' constants: the exponent of
    the row that holds the metric (`10%` and `10.0%` are one value, but
    the engine's Decimal is the row's)."""
    from .tables import by_row

    return by_row(compiler, node, lambda value: str(of(value)))


def _graduated(compiler: _Compiler, node: ast.Tiers) -> str:
    """A graduated table (the engine's `n_graduated`): from `Decimal(0)`,
    each row whose low M is above adds `(top - low) * rate / 100`, its top
    the smaller of M and the row's end (the slices `tables.slices`
    computes): the least of 0 and those slices' exponents; NULL without M."""
    from .compile import number
    from .tables import slices

    value = compiler.expr(node.metric)
    measured = exponent(compiler, node.metric)
    path = compiler.path
    found = []
    rows = zip(node.lows, row_limits(compiler.checked, node), node.values, slices(compiler, node), strict=True)
    for low, high, rate, share in rows:
        assert isinstance(rate, ast.Percent)  # RR213: every row is a rate in percent
        top = measured
        if high is not None:  # M itself below the row's end, else the end (`value < top`)
            top = f"(CASE WHEN {value} < {number(high[0], None, path)} THEN {measured} ELSE {of(high[0])} END)"
        product = f"(LEAST({top}, {of(low.value)}) + {of(rate.value)})"
        found.append(f"CASE WHEN {value} > {number(low.value, None, path)} THEN {hundredth(share, product)} ELSE 0 END")
    return f"(CASE WHEN {value} IS NULL THEN NULL ELSE LEAST(0, {', '.join(found)}) END)"


def hundredth(value: str, product: str) -> str:
    """The exponent of the Decimal `p / 100`, `value` in SQL (exact: a
    hundredth has a finite decimal) and `product` `p`'s exponent. Python's
    exact quotient keeps the ideal exponent, the dividend's (100 has none),
    unless its digits need another: the least of `product` and the
    quotient's own exponent without trailing zeros (`normal`): `150 / 100`
    is `1.5`, `1.50 / 100` is `0.015`, `200 / 100` is `2`, `5E+3 / 100`
    is `5E+1` (a ledger number written `5e3`), `0.00 / 100` is `0.00`."""
    return f"(CASE WHEN {value} IS NULL THEN NULL WHEN {value} = 0 THEN {product} ELSE LEAST({product}, {normal(value)}) END)"


def normal(value: str) -> str:
    """SQL: the exponent of a nonzero exact `value` without trailing zeros,
    from its text (a DECIMAL's text holds every decimal of its scale in
    DuckDB and Spark, none of those zeros in ClickHouse, and no exponent):
    the zeros that end its digits, the point left out, less its decimals
    (`1.50` is `15E-1`, `500.00` is `5E+2`, `0.015` is `15E-3`). The text
    is written three times: the form before 2026-12-07, which cut the zeros
    and then the point, wrote it nine times, and a graduated table's slice
    (some 250 characters) eleven times a row (`hundredth`)."""
    from .expressions import decimals

    digits = f"REPLACE(CAST(ABS({value}) AS VARCHAR), '.', '')"
    return f"CAST(LENGTH({digits}) - LENGTH(RTRIM({digits}, '0')) - {decimals(value)} AS BIGINT)"


def field(compiler: _Compiler, event: str, name: str, carried: bool = False) -> str:
    """The exponent column of a number field of the ledger (`carried`: the
    referral's, on each of its rows)."""
    return beside(compiler, event, name, "exponent", carried)


def beside(compiler: _Compiler, event: str, name: str, kind: str, carried: bool) -> str:
    """A column the ledger gives beside a number field (`kind`: its
    `exponent` or its `sign`), read on the row at hand or, `carried`, the
    referral's on each of its rows."""
    from .compile import Column, ident

    column = Column(event, name, kind)
    if carried:
        return referral_fields.carried(compiler, column)
    compiler.columns.setdefault(column.name, column)
    return ident(column.name)


def metric(compiler: _Compiler, info: MetricInfo, node: object) -> str:
    """The exponent of a metric's value after each event (a column of
    `metered` for an aggregate, added once)."""
    formula = info.formula
    if formula is not None:
        return compiler.beside_formula("exponent", info, lambda: exponent(compiler, formula))
    agg = info.aggregate
    if agg is not None and agg.fn == "count":  # of earlier referrals, `unless voided` too: whole numbers
        compiler.metric(info, node)  # the same checks as its value
        return "0"
    if info.level != "referral" and agg is not None and agg.fn == "sum" and agg.source.text == "referrals":
        return _referrer(compiler, info, agg, node)
    if info.level != "referral" or agg is None:
        raise compiler.refuse(f"the decimals of the metric `{info.name}`", node)
    found = compiler.exponents.get(info)
    if found is None:
        compiler.metric(info, node)  # the same checks as its value
        found = f"x{len(compiler.exponents)}"
        compiler.metric_sql.append(f"{_aggregate(compiler, info)} AS {found}")
        compiler.exponents[info] = found
    return found


def _referrer(compiler: _Compiler, info: MetricInfo, agg: ast.Aggregate, node: object) -> str:
    """`sum referrals.M` per referrer (`RX{n}` beside its `R{n}`): the
    engine adds each change of a referral's contribution `v` (M while the
    `where` holds, else 0; `mv or ZERO`: a zero M is `Decimal(0)`) to a
    sum from `Decimal(0)`, and only a change that is not zero (`if d:`):
    its exponent is the least of 0 and the exponents of the contributions
    that changed it so far, over all the referrer's referrals."""
    value = compiler.metric(info, node)  # `R{n}`, after the same checks as its value
    n = int(value.removeprefix("R"))
    if n not in compiler.referrer_exponents:
        target = compiler.checked.programs[compiler.program].metrics[agg.field.text if agg.field else ""]
        compiler.referrer_exponents[n] = metric(compiler, target, agg)
    return f"RX{n}"


def contributed(n: int, exponent: str) -> str:
    """The exponent of a referral's contribution `c{n}` on its rows (0 for
    none: the engine's `ZERO`), as `ce{n}`."""
    return f"CASE WHEN c{n} <> 0 THEN {exponent} ELSE 0 END AS ce{n}"


def referrer_sum(n: int) -> str:
    """The exponent of the referrer's sum `R{n}` after each of its rows, as
    `RX{n}` (not `X{n}`: DuckDB folds the case of names, and `x{n}` is an
    aggregate's): over the rows where a contribution changed (`d{n}`)."""
    changed = f"MIN(CASE WHEN d{n} <> 0 THEN ce{n} END)"
    return f'LEAST(0, COALESCE({changed} OVER (PARTITION BY referrer ORDER BY "at", id {_ROWS}), 0)) AS RX{n}'


def _aggregate(compiler: _Compiler, info: MetricInfo) -> str:
    """An aggregate's exponent after each event of the referral."""
    agg = info.aggregate
    assert agg is not None and agg.field is not None  # `count` is 0 (see `metric`)
    exp = field(compiler, agg.source.text, agg.field.text)
    if agg.fn == "sum":  # from Decimal(0): never above 0
        test = compiler.aggregate_test(agg)
        found = f"LEAST(0, COALESCE(MIN(CASE WHEN {test} THEN {exp} END) OVER {_SO_FAR}, 0))"
    else:
        found = held(compiler, info, exp)
    fallback = agg.otherwise
    if fallback is not None:  # a constant (see `expressions.otherwise`)
        found = f"COALESCE({found}, {exponent(compiler, fallback)})"
    return found


def held(compiler: _Compiler, info: MetricInfo, exp: str) -> str:
    """A per-event column `exp` beside the field of a `latest`, `first`,
    `max` or `min` (its exponent; its sign, `sql.signs`), of the value the
    aggregate holds after each event of the referral (NULL for none, before
    `otherwise`)."""
    agg = info.aggregate
    assert agg is not None and agg.field is not None
    test = compiler.aggregate_test(agg)
    value = compiler._value_column(agg.source.text, agg.field.text, agg)
    if agg.fn == "latest":
        found = f"LAST_VALUE(CASE WHEN {test} THEN {exp} END IGNORE NULLS) OVER {_SO_FAR}"
    elif agg.fn == "first":
        from .expressions import first_value

        found = first_value(test, exp)
    elif agg.fn in ("max", "min"):
        # the engine keeps the first value that reaches the maximum
        # (`v > m`): the least (-v, at, id) for `max`, (v, at, id) for `min`
        sign = "-" if agg.fn == "max" else ""
        key = f'STRUCT_PACK(v := {sign}{value}, a := "at", i := id, e := {exp})'
        found = f"STRUCT_EXTRACT(MIN(CASE WHEN {test} AND {value} IS NOT NULL THEN {key} END) OVER {_SO_FAR}, 'e')"
    else:
        raise compiler.refuse(f"the decimals of the metric `{info.name}`", agg)
    return found
