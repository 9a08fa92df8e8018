"""Differential test of the expression compiler: the Python that
compiler.py generates for a metric must compute what the expression means.

Hypothesis writes expressions in the subset that the rule language and Python
share (decimal literals, metric names, `+ - * /`, unary `-`, parentheses,
`== != < <= > >=`, `and`, `or`, `not`), with as few parentheses as the
precedence rules allow (plus some redundant ones), so that precedence and
associativity are checked too. The rule language has the same precedence as
Python for this subset; it has no chained comparisons, so a comparison of
two comparisons is always parenthesised. Expressions are well-typed: numeric
expressions, and boolean expressions whose comparisons compare numbers (or
two parenthesised booleans).

Each expression becomes a metric of a small rule file; the engine's value is
read through the public API (`referrals[*].programs[*].metrics` of a score
result) and compared with an independent evaluation of the same text by
`simpleeval`, whose operators are given the rule language's semantics of
missing values: division by zero gives no value (None), arithmetic with None
gives None, and a comparison with None is false. The reference evaluates in
`rewardrules.runtime.CONTEXT`, the decimal context that the contract says
scoring uses, and numbers are compared exactly.
"""

from __future__ import annotations

import ast
import decimal
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from simpleeval import SimpleEval

import rewardrules
from rewardrules import runtime

from .conftest import examples

# ---------------------------------------------------------------------------
# The rule file each expression is embedded in.

RULES = """\
ruleset differential
event tick {{ a: number, b: number, c: number }}
event tock {{ d: number }}
metric a = latest tick.a
metric b = latest tick.b
metric c = latest tick.c
metric n = latest tock.d
metric number_probe = {number}
metric boolean_probe = {boolean}
milestone m {{
  first tick
  reward referrer cash 1 USD
}}
"""

#: `n` is never set (no `tock` event): a name whose value is missing
NAMES = ("a", "b", "c", "n")
LITERALS = ("0", "1", "2", "3", "12", "0.1", "2.5", "7.0", "100.25", "0.003", "1000000")


def engine_values(number: str, boolean: str, values: dict[str, Decimal]) -> dict[str, Any]:
    """Compile the two probes and score one referral with one `tick`: the
    metrics as the score result shows them."""
    program = rewardrules.compile(RULES.format(number=number, boolean=boolean))
    ledger = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {
            "id": "t1",
            "at": "2026-01-02T00:00:00Z",
            "type": "tick",
            "referee": "bob",
            **{name: format(value, "f") for name, value in values.items()},
        },
    ]
    (referral,) = program.score(ledger).data["referrals"]
    (entry,) = referral["programs"]
    return entry["metrics"]


# ---------------------------------------------------------------------------
# The reference: simpleeval with null-aware Decimal operators.


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda x, y: None if x is None or y is None else op(x, y)


def _divide(x: Any, y: Any) -> Any:
    return None if x is None or y is None or y == 0 else x / y


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda x, y: x is not None and y is not None and op(x, y)


OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: _arith(operator.add),
    ast.Sub: _arith(operator.sub),
    ast.Mult: _arith(operator.mul),
    ast.Div: _divide,
    ast.USub: lambda x: None if x is None else -x,
    ast.Eq: _compare(operator.eq),
    ast.NotEq: _compare(operator.ne),
    ast.Lt: _compare(operator.lt),
    ast.LtE: _compare(operator.le),
    ast.Gt: _compare(operator.gt),
    ast.GtE: _compare(operator.ge),
    ast.Not: operator.not_,
}


class DecimalEval(SimpleEval):  # type: ignore[misc]
    """simpleeval that reads a numeric literal as the exact Decimal of its
    text (Python would make `2.5` a float)."""

    def __init__(self, names: dict[str, Any]) -> None:
        super().__init__(operators=OPERATORS, functions={}, names=names)

    def _eval_constant(self, node: ast.Constant) -> Any:
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise AssertionError(f"unexpected constant {node.value!r}")
        return Decimal(self.expr[node.col_offset : node.end_col_offset])


def reference(text: str, values: dict[str, Decimal]) -> Any:
    names: dict[str, Any] = {**values, "n": None}
    with decimal.localcontext(runtime.CONTEXT):
        return DecimalEval(names).eval(text)


# ---------------------------------------------------------------------------
# Expressions, as trees rendered with the fewest parentheses.
#
# A tree is ("lit", text) | ("name", name) | ("neg", x) | ("paren", x) |
# ("arith", op, x, y) | ("cmp", op, x, y) | ("beq", op, p, q) |
# ("and", p, q) | ("or", p, q) | ("not", p). Binding strength, loosest first:
# or 1, and 2, not 3, comparison 4, + - 5, * / 6, unary - 7, atom 8.

STRENGTH = {"or": 1, "and": 2, "not": 3, "cmp": 4, "beq": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7}


def render(tree: tuple[Any, ...]) -> str:
    return _render(tree)[0]


def _render(tree: tuple[Any, ...]) -> tuple[str, int]:
    """Text and binding strength of a tree."""
    kind = tree[0]
    if kind in ("lit", "name"):
        return tree[1], 8
    if kind == "paren":
        return f"({render(tree[1])})", 8
    if kind == "neg":
        inner = _at_least(tree[1], 7)
        return "-" + (" " if inner.startswith("-") else "") + inner, 7
    if kind == "not":
        return "not " + _at_least(tree[1], 3), 3
    if kind in ("and", "or"):
        s = STRENGTH[kind]
        return f"{_at_least(tree[1], s)} {kind} {_at_least(tree[2], s + 1)}", s
    if kind == "arith":
        s = STRENGTH[tree[1]]  # left-associative: the right operand binds tighter
        return f"{_at_least(tree[2], s)} {tree[1]} {_at_least(tree[3], s + 1)}", s
    if kind == "cmp":
        return f"{_at_least(tree[2], 5)} {tree[1]} {_at_least(tree[3], 5)}", 4
    if kind == "beq":  # booleans compared: always parenthesised (no chained comparisons)
        return f"{_at_least(tree[2], 8)} {tree[1]} {_at_least(tree[3], 8)}", 4
    raise AssertionError(tree)


def _at_least(tree: tuple[Any, ...], strength: int) -> str:
    text, s = _render(tree)
    return text if s >= strength else f"({text})"


numbers = st.recursive(
    st.one_of(st.sampled_from(LITERALS).map(lambda t: ("lit", t)), st.sampled_from(NAMES).map(lambda n: ("name", n))),
    lambda inner: st.one_of(
        st.tuples(st.just("arith"), st.sampled_from("+-*/"), inner, inner),
        st.tuples(st.just("neg"), inner),
        st.tuples(st.just("paren"), inner),
    ),
    max_leaves=12,
)

comparisons = st.tuples(st.just("cmp"), st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), numbers, numbers)

booleans = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.tuples(st.just("and"), inner, inner),
        st.tuples(st.just("or"), inner, inner),
        st.tuples(st.just("not"), inner),
        st.tuples(st.just("paren"), inner),
        st.tuples(st.just("beq"), st.sampled_from(["==", "!="]), inner, inner),
    ),
    max_leaves=6,
)

decimals = st.one_of(
    st.sampled_from([Decimal("0"), Decimal("0.00"), Decimal("-0"), Decimal("1"), Decimal("2.5"), Decimal("-3")]),
    st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False),
    st.integers(-1000, 1000).map(Decimal),
)
tick_values = st.fixed_dictionaries({"a": decimals, "b": decimals, "c": decimals})


def same_number(shown: Any, expected: Any) -> bool:
    """The printed value equals the reference exactly (both None, or the
    string parses back to an equal Decimal)."""
    if expected is None or shown is None:
        return shown is None and expected is None
    return isinstance(shown, str) and Decimal(shown) == expected


# ---------------------------------------------------------------------------
# The test.


def test_the_renderer_and_reference_agree_on_a_known_case() -> None:
    """The test's own machinery: precedence, associativity and null rules."""
    tree = ("arith", "-", ("lit", "1"), ("arith", "-", ("name", "a"), ("neg", ("neg", ("lit", "2.5")))))
    assert render(tree) == "1 - (a - - -2.5)"
    assert reference(render(tree), {"a": Decimal(4)}) == Decimal("-0.5")
    assert reference("a / (b - b) + 1", {"a": Decimal(1), "b": Decimal(2)}) is None
    assert reference("not n < 1 and 1 / 0 != 2", {}) is False
    assert reference("not (n < 1)", {}) is True


@settings(max_examples=examples(300), deadline=None)
@given(number=numbers, boolean=booleans, values=tick_values)
@example(
    number=("arith", "/", ("name", "a"), ("arith", "-", ("name", "c"), ("name", "c"))),
    boolean=("not", ("cmp", "<", ("name", "n"), ("lit", "1"))),
    values={"a": Decimal(1), "b": Decimal(2), "c": Decimal(3)},
)
@example(
    number=("arith", "/", ("lit", "1"), ("lit", "3")),  # an inexact quotient, to 100 digits
    boolean=("beq", "==", ("cmp", "<", ("lit", "1"), ("lit", "0")), ("cmp", ">", ("name", "n"), ("lit", "0"))),
    values={"a": Decimal(0), "b": Decimal(0), "c": Decimal(0)},
)
def test_compiled_expressions_match_the_reference(
    number: tuple[Any, ...], boolean: tuple[Any, ...], values: dict[str, Decimal]
) -> None:
    """A metric's compiled value equals the reference evaluation of its
    text: numbers exactly (None when there is no value), booleans exactly."""
    number_text, boolean_text = render(number), render(boolean)
    shown = engine_values(number_text, boolean_text, values)
    context = f"values {values}, number `{number_text}`, boolean `{boolean_text}`, engine shows {shown}"
    expected_number = reference(number_text, values)
    assert same_number(shown["number_probe"], expected_number), f"{context}; reference number {expected_number}"
    expected_boolean = reference(boolean_text, values)
    assert shown["boolean_probe"] is expected_boolean, f"{context}; reference boolean {expected_boolean}"
