"""Messages reading a number (not money) that divides, with the SQL back
end.

The Python engine computes such a metric with Decimals in its context
(`runtime.CONTEXT`: 100 significant digits, half to even) and writes the
result with the digits it carries (`formatting.format_value`): `1 / 3` is
`0.333...` to 100 digits, `3 / 2` is `1.5`, `1.50 * 3 / 2` is `2.25`.
No DECIMAL(38) holds such a quotient, and its exponent depends on its
digits past any DECIMAL, so the query does not compute it: it sends the
values the formula reads, its aggregate metrics' (each `VALUE@EXPONENT`,
`sql.exponents`; `~` for no value), and `render` computes the formula
from them with the runtime's own functions (`n_div`, and `n_rate`,
`n_tier`, `n_graduated` for the tables the formula reads too) in the
engine's context, for the awards only. So the message is the engine's
text. In a warehouse, the `msg` column holds those values (`|` between
them, in the order `leaves` gives): a job computes the
formula from them.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from ..check.program import CheckedRuleset, MetricInfo
from ..check.tables import row_limits
from ..core.datatypes import DURATION, DURATION_UNITS, TIME
from ..core.runtime import CONTEXT, n_div, n_graduated, n_mul, n_neg, n_rate, n_tier
from ..syntax import nodes as ast

if TYPE_CHECKING:
    from .compile import _Compiler

#: what separates the values sent, and stands for no value
SEPARATOR, NONE = "|", "~"


def computed(checked: CheckedRuleset, metric: MetricInfo, known: dict[MetricInfo, bool] | None = None) -> bool:
    """Whether a message's metric is computed from the values it reads
    (`render`): a formula that divides, through the formulas of the
    metrics it reads (each decided once: `known`). (`rate of` and rate
    tables alone have exponents the query computes: `sql.exponents`.)"""
    known = {} if known is None else known
    found = known.get(metric)
    if found is None:
        formula = metric.formula
        found = formula is not None and any(_needs(checked, node, known) for node in ast.walk(formula))
        known[metric] = found
    return found


def _needs(checked: CheckedRuleset, node: ast.Expr, known: dict[MetricInfo, bool]) -> bool:
    if isinstance(node, ast.Arith) and node.op == "/":
        kind = checked.types.get(node)
        return kind is None or kind.kind != DURATION  # a duration's is whole nanoseconds, computed by the query
    found = _metric(checked, node)
    return found is not None and computed(checked, found, known)


def _metric(checked: CheckedRuleset, node: ast.Expr) -> MetricInfo | None:
    """The metric a name reads, or None."""
    binding = checked.bindings.get(node) if isinstance(node, ast.Ref) else None
    return binding.metric if binding is not None and binding.kind == "metric" else None


def leaves(
    checked: CheckedRuleset, formula: ast.Expr, known: dict[MetricInfo, list[MetricInfo]] | None = None
) -> list[MetricInfo]:
    """The metrics without a formula that `formula` reads (through the
    formulas of those it reads, each walked once: `known`), each once, in
    the order it names them."""
    known = {} if known is None else known
    found: dict[MetricInfo, None] = {}
    for node in ast.walk(formula):
        metric = _metric(checked, node)
        if metric is None:
            continue
        if metric.formula is None:
            found.setdefault(metric)
            continue
        inner = known.get(metric)
        if inner is None:
            inner = known[metric] = leaves(checked, metric.formula, known)
        found.update(dict.fromkeys(inner))
    return list(found)


def sent(compiler: _Compiler, metric: MetricInfo, exponent: Callable[[MetricInfo], str]) -> str:
    """SQL: the text of the values the metric's formula reads, at the hit
    row (`exponent`: a leaf's exponent, refused at the message)."""
    assert metric.formula is not None
    _refuse_unknown(compiler, metric.formula)
    parts = []
    for leaf in leaves(compiler.checked, metric.formula):
        value = compiler.metric(leaf, leaf.decl)
        text = f"CAST({value} AS VARCHAR) || '@' || CAST({exponent(leaf)} AS VARCHAR)"
        parts.append(f"COALESCE({text}, '{NONE}')")
    return f" || '{SEPARATOR}' || ".join(parts) if parts else f"'{NONE}'"


def _refuse_unknown(compiler: _Compiler, formula: ast.Expr) -> None:
    """Refuse what `value` does not compute (a duration, an instant, a name
    that is not a metric), at its place."""
    for node in ast.walk(formula):
        if isinstance(node, ast.Quantity) and node.unit.text in DURATION_UNITS:
            raise compiler.refuse("a duration in a message's number", node)
        if not isinstance(node, ast.Ref):
            continue
        found = _metric(compiler.checked, node)
        if found is None:
            raise compiler.refuse(f"`{node.dotted}` in a message's number", node)
        if found.type.kind in (TIME, DURATION):  # sent as no `VALUE@EXPONENT`
            raise compiler.refuse(f"`{node.dotted}` (a {found.type.kind}) in a message's number", node)
        if found.formula is not None:
            _refuse_unknown(compiler, found.formula)


def value(checked: CheckedRuleset, metric: MetricInfo, text: str | None) -> Any:
    """The metric's value as the Python engine computes it, from the values
    the query sent (`sent`)."""
    assert metric.formula is not None
    names = leaves(checked, metric.formula)
    texts = (text or "").split(SEPARATOR)
    given = {leaf.name: _number(part) for leaf, part in zip(names, texts, strict=False)}
    with localcontext(CONTEXT):
        return _evaluate(checked, metric.formula, given)


def _number(text: str) -> Decimal | None:
    """`VALUE@EXPONENT` back as the Decimal the engine has (`~`: None)."""
    if text == NONE or not text:
        return None
    digits, _, exponent = text.partition("@")
    return Decimal(digits).quantize(Decimal(1).scaleb(int(exponent or 0), CONTEXT), context=CONTEXT)


def _evaluate(checked: CheckedRuleset, node: ast.Expr, given: dict[str, Decimal | None]) -> Any:
    """`node`'s value as the generated code computes it (`generate.expr`),
    in the current (the engine's) context."""
    if isinstance(node, (ast.Number, ast.Quantity, ast.Percent)):
        return node.value
    if isinstance(node, ast.PercentOf):
        return n_mul(_evaluate(checked, node.operand, given), node.value / 100)
    if isinstance(node, ast.RateOf):
        return n_rate(_evaluate(checked, node.operand, given), _evaluate(checked, node.rate, given))
    if isinstance(node, ast.Tiers):
        lows = tuple(low.value for low in node.lows)
        highs = row_limits(checked, node)
        rows = tuple(_evaluate(checked, row, given) for row in node.values)
        operand = _evaluate(checked, node.metric, given)
        if node.graduated:
            return n_graduated(operand, lows, tuple(None if h is None else h[0] for h in highs), rows)
        return n_tier(operand, lows, highs, rows)
    if isinstance(node, ast.Neg):
        return n_neg(_evaluate(checked, node.operand, given))
    if isinstance(node, ast.Arith):
        left, right = _evaluate(checked, node.left, given), _evaluate(checked, node.right, given)
        if node.op == "/":
            return n_div(left, right)
        if left is None or right is None:
            return None
        return left + right if node.op == "+" else left - right if node.op == "-" else left * right
    metric = _metric(checked, node)
    assert metric is not None  # see `_refuse_unknown`
    if metric.formula is not None:
        return _evaluate(checked, metric.formula, given)
    return given.get(metric.name)
