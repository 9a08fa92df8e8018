"""Tier hits: how many referrers (or referrals) each rate table's row holds.

A rate table (`metric rate = tiers of conversions { 1 to 4: 10% ... }`,
or `graduated tiers of`) puts each referrer, or each referral for a table
over a per-referral metric, in the row that holds its metric's value. At
the horizon of a run, each row's count says how many reached that tier
(and stayed in it: a metric that falls, a revenue less refunds, can move
one down); those in no row (below the first, in a gap, or with no value)
are counted apart. The row is found as the engine finds it
(`runtime.n_tier` with the compiled table's limits, `check.tables.row_limits`),
from the metric's value as the result record writes it (money to its minor
unit).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..check.program import CheckedRuleset
from ..check.tables import row_limits
from ..core.runtime import n_tier
from ..syntax import nodes as ast

#: the label of the count of those in no row
NO_ROW = "in no row"


@dataclass(frozen=True)
class Table:
    """One program's rate table: what the tier counts need of it."""

    program: str
    #: the table's metric, and the metric its rows are ranges of
    name: str
    metric: str
    #: what one count is: "referrers" (a per-referrer metric) or "referrals"
    counts: str
    #: each row as written: `1 to 4: 10%`
    rows: tuple[str, ...]
    lows: tuple[Decimal, ...]
    highs: tuple[tuple[Decimal, bool] | None, ...]

    def row(self, value: Any) -> int | None:
        """The index of the row that holds `value` (its text, as results
        write it), or None: no value, or in no row."""
        if value is None:
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        found = n_tier(number, self.lows, self.highs, tuple(range(len(self.rows))))
        return found if isinstance(found, int) else None

    def row_keys(self) -> list[tuple[str, str, int, str, str]]:
        """The figure keys of its rows, in order, then of `NO_ROW`."""
        labels = [*self.rows, NO_ROW]
        return [(self.program, self.name, index + 1, label, self.counts) for index, label in enumerate(labels)]


def rate_tables(checked: CheckedRuleset) -> list[Table]:
    """Each program's rate tables, in file order (a shared table once per
    program that reads it)."""
    found = []
    for program in checked.programs:
        for info in program.metrics.values():
            body = info.decl.body
            binding = checked.bindings.get(body.metric) if isinstance(body, ast.Tiers) else None
            if not isinstance(body, ast.Tiers) or binding is None or binding.metric is None:
                continue
            over = binding.metric
            found.append(
                Table(
                    program=program.name,
                    name=info.name,
                    metric=over.name,
                    counts="referrers" if over.level == "referrer" else "referrals",
                    rows=tuple(_row(body, index) for index in range(len(body.lows))),
                    lows=tuple(low.value for low in body.lows),
                    highs=row_limits(checked, body),
                )
            )
    return found


def _row(body: ast.Tiers, index: int) -> str:
    """A row as the rule file writes it: `1 to 4: 10%`, `10 or more: 20%`."""
    low, high, value = body.lows[index], body.highs[index], body.values[index]
    bounds = f"{_text(low)} or more" if high is None else f"{_text(low)} to {_text(high)}"
    return f"{bounds}: {value.span.text if value.span is not None else '?'}"


def _text(node: ast.Number | ast.Quantity) -> str:
    if node.span is not None:
        return node.span.text
    text = format(node.value, "f")
    return f"{text} {node.unit.text}" if isinstance(node, ast.Quantity) else text


def tier_counts(result: dict[str, Any], tables: list[Table]) -> dict[tuple[str, str, int, str, str], int]:
    """Per table row (and `NO_ROW`): the referrers or referrals it holds at
    the result's as-of, every row present (0 when none): a tier nobody
    reached is a figure too. Read from the result's `referrals` (each
    referral's metrics per program it counts in)."""
    counts = {key: 0 for table in tables for key in table.row_keys()}
    if not tables:
        return counts
    keys = {table: table.row_keys() for table in tables}
    seen: set[tuple[str, str, str]] = set()
    for referral in result.get("referrals", []):
        for entry in referral["programs"]:
            if not entry["eligible"]:
                continue
            for table in tables:
                if table.program != entry["program"]:
                    continue
                if table.counts == "referrers":
                    who = (table.program, table.name, referral["referrer"])
                    if who in seen:
                        continue
                    seen.add(who)
                index = table.row(entry["metrics"].get(table.metric))
                counts[keys[table][len(table.rows) if index is None else index]] += 1
    return counts
