"""Division compiled exactly: a value that involves `/` is carried as a
fraction of two exact decimals, and only compared or rounded at the end.

DuckDB divides DECIMALs through DOUBLE (`1.25 / 3` is a DOUBLE), so `a /
b` is never written as such: it is the pair (numerator, denominator), the
denominator positive, NULL for a division by zero or by no value (the
Python engine's `n_div` gives no value there). Sums, products and
negations of fractions stay fractions; a comparison multiplies across
(`n1 * d2 < n2 * d1`, exact as both denominators are positive); a reward
amount is rounded half to even from the exact integer quotient
(`half_even_ratio`). The Python engine computes the same quotient to 100
significant digits (runtime.CONTEXT): the two agree unless an amount lies
within 10^-60 of a half-cent tie without being on it (docs/sql.md).

Also here: `first` metrics (`first_value`) and `ignoring case`
(`ignoring_case`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ..check.program import MetricInfo
from ..core.datatypes import DURATION, DURATION_UNITS, TEXT
from ..syntax import nodes as ast
from . import referral_fields

if TYPE_CHECKING:
    from .compile import _Compiler

#: the suffix of a folded text column's name: `"referral.source casefold"`
FOLDED = " casefold"
#: the texts of every event that `ignoring case` reads from a folded column
#: like a declared field's (`"payment.referee casefold"`): each loader fills
#: it from the event's own value
FOLDED_HEAD = ("id", "referee", "referrer")

_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass(frozen=True, slots=True)
class Fraction:
    """An exact value `num / den` as SQL; `den` None stands for 1, else it
    is positive, or NULL when the value has none."""

    num: str
    den: str | None = None

    def times(self, other: str | None) -> str:
        """The numerator scaled by another fraction's denominator."""
        return self.num if other is None else f"({self.num} * {other})"


def _mul(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return f"({a} * {b})"


def divides(compiler: _Compiler, node: ast.Expr) -> bool:
    """Whether `node`'s value involves a division, through the formulas of
    the metrics it reads too (they are inlined)."""
    if isinstance(node, ast.Arith):
        quotient = node.op == "/" and not is_duration(compiler, node)  # a duration's is whole (`whole_ns`)
        return quotient or divides(compiler, node.left) or divides(compiler, node.right)
    if isinstance(node, (ast.Neg, ast.PercentOf, ast.IsSet)):
        return divides(compiler, node.operand)
    if isinstance(node, ast.RateOf):
        return divides(compiler, node.operand)
    if isinstance(node, ast.Compare):
        return divides(compiler, node.left) or divides(compiler, node.right)
    if isinstance(node, ast.InList):
        return any(divides(compiler, n) for n in (node.operand, *node.items))
    if isinstance(node, ast.Ref):
        binding = compiler.checked.bindings.get(node)
        metric = binding.metric if binding is not None and binding.kind == "metric" else None
        if metric is not None and metric.formula is not None:  # each formula walked once (a chain: linear)
            found = compiler.divisions.get(metric)
            if found is None:
                found = compiler.divisions[metric] = divides(compiler, metric.formula)
            return found
    return False


def fraction(compiler: _Compiler, node: ast.Expr) -> Fraction:
    """`node`'s exact value as a fraction (a plain value over 1 where no
    division is involved)."""
    if not divides(compiler, node):
        return Fraction(compiler.expr(node))
    if isinstance(node, ast.Arith):
        if is_duration(compiler, node):  # whole ns (`whole_ns`), of a value that divides here
            raise compiler.refuse(_ROUNDED, node)
        _refuse_rounded(compiler, node)
        left, right = fraction(compiler, node.left), fraction(compiler, node.right)
        if node.op == "*":
            return Fraction(f"({left.num} * {right.num})", _mul(left.den, right.den))
        if node.op in "+-":
            return Fraction(f"({left.times(right.den)} {node.op} {right.times(left.den)})", _mul(left.den, right.den))
        # a / b = (na * db) / (da * nb): the sign moves to the numerator,
        # and a zero (or missing) divisor gives a NULL denominator
        num = f"({left.times(right.den)} * SIGN({right.num}))"
        return Fraction(num, f"NULLIF({_mul(left.den, f'ABS({right.num})')}, 0)")
    if isinstance(node, ast.Neg):
        inner = fraction(compiler, node.operand)
        return Fraction(f"(- {inner.num})", inner.den)
    if isinstance(node, ast.PercentOf):
        if not _exact_factor(node.value / 100):
            raise compiler.refuse(_ROUNDED, node)
        inner = fraction(compiler, node.operand)
        from .compile import number

        return Fraction(f"({inner.num} * {number(node.value / 100, node.span, compiler.path)})", inner.den)
    if isinstance(node, ast.RateOf):  # its rate is a table's row: a factor known only per event
        raise compiler.refuse(_ROUNDED, node)
    if isinstance(node, ast.Ref):
        binding = compiler.checked.bindings.get(node)
        assert binding is not None and binding.metric is not None and binding.metric.formula is not None
        return fraction(compiler, binding.metric.formula)
    raise compiler.refuse("division here", node)


def is_duration(compiler: _Compiler, node: ast.Expr) -> bool:
    """Whether `node`'s value is a duration (whole nanoseconds)."""
    kind = compiler.checked.types.get(node)
    return kind is not None and kind.kind == DURATION


def whole_ns(compiler: _Compiler, node: ast.Arith) -> str:
    """A duration over a number (`(payment.at - referral.at) / 3`) as the
    engine has it, `to_ns(n_div(d, n))`: whole nanoseconds toward zero,
    NULL for a divisor of 0 or none. Exact: the duration (whole ns, read
    once: a chain of them stays linear in size) times 10^k over the
    divisor's digits, k its decimals without trailing zeros (a ledger
    column's DECIMAL has every decimal of its widest value: `2` would be
    `2.000...` and the product pass HUGEINT), HUGEINT `//` truncating
    toward zero; an overflow is an error. A divisor that divides is
    refused: the engine rounds it to 100 digits first, and the truncation
    may fall on the other side."""
    if divides(compiler, node.right):
        raise compiler.refuse(_ROUNDED, node.right)
    from .compile import plain_digits

    left, right = compiler.expr(node.left), compiler.expr(node.right)
    trimmed = plain_digits(right)
    top = f"(CAST({left} AS HUGEINT) * SIGN({right}) * {_power(decimals(trimmed))})"
    return f"({top} // NULLIF(ABS({_digits(trimmed)}), 0))"


#: what `_refuse_rounded` refuses
_ROUNDED = "arithmetic on a quotient that the engine rounds to 100 digits first (an exact tie may differ)"


def _refuse_rounded(compiler: _Compiler, node: ast.Arith) -> None:
    """Refuse what the exact fraction may answer otherwise than the engine.
    The engine rounds each quotient to 100 significant digits, then goes
    on: `1 / 3 * 3` is 0.999...9 there, 1 here, so a comparison with 1 or
    a half-cent tie falls on the other side. Only an exact value that ends
    (a bound, a tie) can be crossed, and only through a quotient that does
    not end; so the exact fraction is the engine's answer where that
    cannot happen: a quotient of values without one, compared or rounded
    as it is, plus or minus a value without one, times or over a constant
    that adds no prime factor but 2 and 5 to its numerator, negated."""
    left, right = divides(compiler, node.left), divides(compiler, node.right)
    if not left and not right:
        return
    if node.op == "/":
        if right or not _constant(node.right):
            raise compiler.refuse(_ROUNDED, node)
        return
    if node.op in "+-":
        if left and right:
            raise compiler.refuse(_ROUNDED, node)
        return
    if (left and right) or not _exact_factor(_constant(node.right if left else node.left)):
        raise compiler.refuse(_ROUNDED, node)


def _refuse_two_rounded(compiler: _Compiler, left: ast.Expr, right: ast.Expr) -> None:
    """Refuse comparing two values that both divide unless each is one
    quotient as it is: two equal fractions are two equal numbers in the
    engine only when each is rounded once (`spent / 3 / 4` and `spent /
    12` are equal fractions, but the engine's first has one more rounding:
    `>=` false there; review)."""
    if divides(compiler, left) and divides(compiler, right):
        for side in (left, right):
            if not one_quotient(compiler, side):
                raise compiler.refuse(_ROUNDED, side)


def one_quotient(compiler: _Compiler, node: ast.Expr) -> bool:
    """Whether `node` is a quotient of values without one (through the
    metrics it names), negated or not: the engine rounds it once."""
    if isinstance(node, ast.Neg):
        return one_quotient(compiler, node.operand)
    if isinstance(node, ast.Ref):
        binding = compiler.checked.bindings.get(node)
        metric = binding.metric if binding is not None and binding.kind == "metric" else None
        return metric is not None and metric.formula is not None and one_quotient(compiler, metric.formula)
    return (
        isinstance(node, ast.Arith)
        and node.op == "/"
        and not divides(compiler, node.left)
        and not divides(compiler, node.right)
    )


def _constant(node: ast.Expr) -> Decimal | None:
    """A number literal's value (`3`, `2.5 USD`, `10%`), or None."""
    if isinstance(node, (ast.Number, ast.Quantity, ast.Percent)) and not (
        isinstance(node, ast.Quantity) and node.unit.text in DURATION_UNITS
    ):
        return node.value
    return None


def _exact_factor(value: Decimal | None) -> bool:
    """Whether multiplying by `value` can make no quotient that does not
    end one that does: its numerator in lowest terms has no prime factor
    but 2 and 5."""
    if value is None:  # not a constant
        return False
    if value == 0:
        return True
    numerator = abs(value.as_integer_ratio()[0])
    for prime in (2, 5):
        while numerator % prime == 0:
            numerator //= prime
    return numerator == 1


def condition(compiler: _Compiler, node: ast.Compare | ast.InList | ast.IsSet) -> str:
    """A comparison, `in [...]` or `is set` of values that involve a
    division, exactly: false where a side has no value (as `n_ge`)."""
    if isinstance(node, ast.IsSet):
        value = fraction(compiler, node.operand)
        test = f"({value.num} IS NOT NULL AND {value.den or 'TRUE'} IS NOT NULL)"
        return f"(NOT {test})" if node.negated else test
    if isinstance(node, ast.Compare):
        if node.fold:
            raise compiler.refuse("a comparison ignoring case", node)
        _refuse_two_rounded(compiler, node.left, node.right)
        return _compare(fraction(compiler, node.left), _COMPARE[node.op], fraction(compiler, node.right))
    if node.fold:
        raise compiler.refuse("`in` ignoring case", node)
    for item in node.items:
        _refuse_two_rounded(compiler, node.operand, item)
    operand = fraction(compiler, node.operand)
    found = " OR ".join(_compare(operand, "=", fraction(compiler, item)) for item in node.items)
    known = f"({operand.num} IS NOT NULL AND {operand.den or 'TRUE'} IS NOT NULL)"
    return f"({known} AND {'NOT ' if node.negated else ''}({found}))"


def _compare(left: Fraction, op: str, right: Fraction) -> str:
    """`left op right` multiplied across by the (positive) denominators."""
    return f"COALESCE(({left.times(right.den)} {op} {right.times(left.den)}), FALSE)"


def half_even_ratio(num: str, den: str, places: int, let: Callable[[str], str] = str) -> str:
    """`num / den` (exact decimals, `den` positive) rounded half to even to
    `places` decimals, as the integer count of those units; NULL for NULL.

    Both are made integers from their exact text (DuckDB writes a DECIMAL
    with all its decimals, never in exponent form): N / 10^sn and D / 10^sd,
    so the units are N * 10^(places + sd) / (D * 10^sn) (`_integers`
    cancels the powers both share), an integer quotient and remainder
    (HUGEINT: an overflow is an error, never a rounded value). Truncation
    toward zero only matters below zero, where the result is 0 or less
    either way (such a reward is withheld). `let` names a part that is
    read more than once (`Lets.name`: a column of the hit row)."""
    top, bottom = (let(part) for part in _integers(num, den, places))
    whole = let(f"({top} // {bottom})")
    rest = let(f"({top} % {bottom})")
    # the rest against the half as the sign of `rest - (bottom - rest)` (no product to overflow): one
    # test, not two comparisons that wrote the rest four times
    up = f"CASE SIGN({rest} - ({bottom} - {rest})) WHEN 1 THEN 1 WHEN 0 THEN {whole} % 2 ELSE 0 END"
    return f"({whole} + {up})"


def truncated_ratio(num: str, den: str, places: int) -> str:
    """`num / den` (exact decimals, `den` positive) in units of
    10^-`places`, truncated toward zero (as `half_even_ratio`, without the
    rounding): HUGEINT `//` truncates toward zero."""
    top, bottom = _integers(num, den, places)
    return f"({top} // {bottom})"


def _integers(num: str, den: str, places: int) -> tuple[str, str]:
    """Integers (HUGEINT) whose quotient is `num / den` in units of
    10^-`places`: N * 10^(places + sd) and D * 10^sn, for num = N / 10^sn
    and den = D / 10^sd, with the powers of ten the two share cancelled
    (only the difference `places + sd - sn` multiplies one side): a
    numerator of 38 digits and 36 decimals over 3 was N * 10^2 (past
    HUGEINT) over 3 * 10^36, and is N over 3 * 10^34. The decimals are
    those of the value's text, which in DuckDB has every decimal of its
    column's scale (trailing zeros too, not cancelled)."""
    shift = f"({places} + {decimals(den)} - {decimals(num)})"
    top = f"({_digits(num)} * {_power(f'GREATEST({shift}, 0)')})"
    bottom = f"({_digits(den)} * {_power(f'GREATEST(-{shift}, 0)')})"
    return top, bottom


def _digits(value: str) -> str:
    """An exact decimal's digits as an integer (`-1.2500` -> -12500)."""
    return f"CAST(REPLACE(CAST({value} AS VARCHAR), '.', '') AS HUGEINT)"


def decimals(value: str) -> str:
    """How many decimals an exact decimal's text has."""
    return f"GREATEST(STRPOS(REVERSE(CAST({value} AS VARCHAR)), '.') - 1, 0)"


def _power(exponent: str) -> str:
    """10 to a whole exponent of 0 or more, exactly (POW goes through DOUBLE)."""
    return f"CAST(RPAD('1', CAST({exponent} AS INTEGER) + 1, '0') AS HUGEINT)"


def first_value(test: str, value: str) -> str:
    """A `first` metric: the field of the first event that meets `test`
    (NULL when that event has none, even if a later one has it, as the
    Python engine keeps it), so a struct carries the value: a struct is not
    NULL even when its field is, and IGNORE NULLS skips the other events."""
    window = '(PARTITION BY rid ORDER BY "at", id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)'
    picked = f"FIRST_VALUE(CASE WHEN {test} THEN STRUCT_PACK(v := {value}) END IGNORE NULLS) OVER {window}"
    return f"STRUCT_EXTRACT({picked}, 'v')"


def ignoring_case(compiler: _Compiler, node: ast.Compare | ast.InList) -> str:
    """`==`, `!=`, `in [...]`, `not in [...]` `ignoring case`: the texts'
    Unicode case foldings compared (false where a side has no value).
    SQL has no full case folding (DuckDB's LOWER leaves `ß`, which folds to
    `ss`), so a literal is folded here and a field is read from its own
    folded column, which the loader fills with Python's `str.casefold()`."""
    if isinstance(node, ast.Compare):
        return f"COALESCE(({_folded(compiler, node.left)} {_COMPARE[node.op]} {_folded(compiler, node.right)}), FALSE)"
    operand = _folded(compiler, node.operand)
    found = " OR ".join(f"COALESCE({operand} = {_folded(compiler, item)}, FALSE)" for item in node.items)
    return f"({operand} IS NOT NULL AND {'NOT ' if node.negated else ''}({found}))"


def _folded(compiler: _Compiler, node: ast.Expr) -> str:
    """A text operand's case folding: a literal folded now, a text field
    from its folded column; anything else is refused at its place."""
    from .compile import Column, ident, literal

    if isinstance(node, ast.String):
        return literal(node.value.casefold())
    binding = compiler.checked.bindings.get(node) if isinstance(node, ast.Ref) else None
    info = binding.field if binding is not None and binding.kind == "field" else None
    head = info is not None and info.builtin and info.name in FOLDED_HEAD  # `referee`: a column of its own too
    if (
        binding is None
        or binding.event is None
        or info is None
        or info.type.kind != TEXT
        or (info.builtin and not head)
    ):
        raise compiler.refuse("`ignoring case` of a value that is not a text field or a text", node)
    compiler.expr(node)  # the same checks as the field unfolded (where it may be read)
    column = Column(binding.event.name, info.name, "text", folded=True)
    if referral_fields.is_carried(compiler, binding):
        return referral_fields.carried(compiler, column)  # the referral's own, on each of its rows
    compiler.columns.setdefault(column.name, column)
    # in a `void` condition, the void event's or the triggering event's row
    alias = compiler.aliases.get(binding.event_role or "")
    return (f"{alias}." if alias else "") + ident(column.name)


def otherwise(compiler: _Compiler, value: str, info: MetricInfo) -> str:
    """An aggregate with `otherwise X`: X where the aggregate has no value.
    Written with arithmetic, not COALESCE(value, X): DuckDB gives COALESCE
    of DECIMAL(38, 1) and DECIMAL(38, 2) the type DECIMAL(38, 1), rounding
    X. So X must be a constant (never NULL): `value`, or 0, plus X where
    `value` is NULL."""
    from .compile import number

    agg = info.aggregate
    if agg is None or agg.otherwise is None:
        return value
    fallback = agg.otherwise
    if not isinstance(fallback, (ast.Number, ast.Quantity)) or (
        isinstance(fallback, ast.Quantity) and fallback.unit.text in DURATION_UNITS
    ):
        raise compiler.refuse("an `otherwise` that is not a constant number or amount", fallback)
    constant = number(fallback.value, fallback.span, compiler.path)
    return f"(COALESCE({value}, 0) + CASE WHEN {value} IS NULL THEN 1 ELSE 0 END * {constant})"
