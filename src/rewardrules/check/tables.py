"""Warnings (`check --strict`) about rate tables and shared allowances.

A rate table (`metric rate = tiers of conversions { 1 to 4: 10% ... }`)
whose rows leave a gap gives no value between them, so the reward of a
referrer who is in the gap is withheld; rows that overlap give the value of
the first row to a value in both, which the second row's author did not
mean. `check` refuses rows out of order or with reversed bounds; these two
are warnings, since a gap may be on purpose (no commission from 5 to 9).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ..core.diagnostics import Diagnostic, Severity
from ..syntax import nodes as ast
from .program import CheckedRuleset, MetricInfo
from .programs import every_floor


def _bound(node: ast.Number | ast.Quantity) -> str:
    text = format(node.value, "f")
    return f"{text} {node.unit.text}" if isinstance(node, ast.Quantity) else text


def tables(checked: CheckedRuleset) -> Iterator[tuple[MetricInfo, ast.Tiers, MetricInfo]]:
    """Each rate table of the file once: its metric, its body and the metric
    its rows are ranges of."""
    seen: set[int] = set()
    for program in checked.programs:
        for info in program.metrics.values():
            body = info.decl.body
            if id(info.decl) in seen or not isinstance(body, ast.Tiers):
                continue
            seen.add(id(info.decl))
            binding = checked.bindings.get(body.metric)
            if binding is not None and binding.metric is not None:
                yield info, body, binding.metric


def row_limits(checked: CheckedRuleset, node: ast.Tiers) -> tuple[tuple[Decimal, bool] | None, ...]:
    """Each row's upper limit for `runtime.n_tier`: (bound, inclusive).
    Where the next row starts within the metric's smallest step (5 after
    4 for a count, 1000 USD after 999.99 USD: no gap, see `every_floor`),
    the row runs up to that start, exclusive, so that no value between
    the two (999.995 USD) falls in neither row. The compiled table and the
    simulation's tier counts both read a value's row from these."""
    binding = checked.bindings.get(node.metric)
    step = every_floor(binding.metric)[0] if binding is not None and binding.metric is not None else None
    highs: list[tuple[Decimal, bool] | None] = []
    for i, high in enumerate(node.highs):
        following = node.lows[i + 1].value if i + 1 < len(node.lows) else None
        if high is None:
            highs.append(None)
        elif step is not None and following is not None and high.value < following <= high.value + step:
            highs.append((following, False))
        else:
            highs.append((high.value, True))
    return tuple(highs)


def table_gaps(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR617: a gap between two rows wider than the smallest step the
    metric takes (a count's 1, a currency's minor unit: see `every_floor`):
    a value in it has no row. RR618: two rows that overlap."""
    for info, body, over in tables(checked):
        step, _ = every_floor(over)
        for i in range(1, len(body.lows)):
            high, low = body.highs[i - 1], body.lows[i]
            if high is None or low.value < body.lows[i - 1].value:
                continue  # an open row before the last, or rows out of order: errors already
            if low.value <= high.value:
                yield Diagnostic(
                    "RR618",
                    f"rows of `{info.name}` overlap: {_bound(low)} to {_bound(high)} is in two rows; "
                    "the first one counts",
                    low.span,
                    f"start this row above {_bound(high)}",
                    Severity.WARNING,
                )
            elif low.value - high.value > step:
                yield Diagnostic(
                    "RR617",
                    f"a gap in `{info.name}`: a value of `{over.name}` above {_bound(high)} and below "
                    f"{_bound(low)} is in no row, and gives no value",
                    low.span,
                    f"start this row at {_bound_after(high, step)}, or add a row for the gap",
                    Severity.WARNING,
                )


def _bound_after(high: ast.Number | ast.Quantity, step: Decimal) -> str:
    """The bound right after ``high`` (by the metric's smallest step)."""
    value = format(high.value + step, "f")
    return f"{value} {high.unit.text}" if isinstance(high, ast.Quantity) else value


def unused_allowances(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR619: an allowance no program draws from limits nothing."""
    drawn = {id(cap) for program in checked.programs for cap in program.allowances}
    for cap in checked.allowances:
        if id(cap) not in drawn:
            decl = next(a for a in checked.file.allowances if a.cap is cap.decl)
            yield Diagnostic(
                "RR619",
                f"no program draws from allowance `{cap.allowance}`: it limits nothing",
                decl.name.span,
                f"add `draw from {cap.allowance}` to the programs it limits, or remove it",
                Severity.WARNING,
            )
