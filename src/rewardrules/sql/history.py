"""The referrer's earlier referrals compiled to SQL, for `eligible when`
and outside it (`settled`) (docs/semantics.md, "Behaviour: earlier
referrals"): `count earlier referrals [where C] [within D]` and `X [not]
in earlier referrals.F`.

The history is every referral event of the referrer up to the as-of,
whatever it became (accepted, duplicate, self-referral), in processing
order (instant, then id); a referral's own event is never among its
earlier ones. The `history` CTE has one row per referral event with, per
construct read, a column `refs` (and so `accepted`'s eligibility flags)
reads:

- a count is a window sum of `C`'s flag over the referrer's earlier events
  (`ROWS ... 1 PRECEDING`), less, with `within D`, the sum over those
  before the referral's instant minus D (`RANGE ... D + 1 PRECEDING` on
  the nanoseconds: `at >= referral.at - D` stays);
- `X in earlier referrals.F` is an EXISTS over the referrer's earlier
  events whose F equals X (compared as `==` does); false, for `in` and
  `not in` alike, when X has no value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..check.program import MetricInfo
from ..core.datatypes import DURATION_UNITS
from ..syntax import nodes as ast

if TYPE_CHECKING:
    from .compile import _Compiler


@dataclass(slots=True)
class History:
    """The columns of the `history` CTE, gathered while the eligibility
    clauses compile: per-row flags of the counts' conditions first
    (`flags`), then the counts' windows (`windows`), the operands of `in`
    (`operands`, which may read a count: the engine settles the counts
    first, `at_referral`), and the EXISTS tests over them (`reads`); each a
    CTE over the one before."""

    flags: list[str] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    operands: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    counts: dict[MetricInfo, str] = field(default_factory=dict)
    #: the columns read outside `eligible when`, which `seen` carries from
    #: `accepted` on each row of the referral (see `settled`)
    seen: list[str] = field(default_factory=list)

    def ctes(self) -> list[str]:
        if not self.windows and not self.reads:
            return []
        return [
            f"history0 AS (SELECT *{_more(self.flags)} FROM scored WHERE type = 'referral')",
            f"history1 AS (SELECT *{_more(self.windows)} FROM history0 AS h)",
            f"history2 AS (SELECT *{_more(self.operands)} FROM history1 AS h)",
            f"history AS (SELECT *{_more(self.reads)} FROM history2 AS h)",
        ]

    def source(self) -> str:
        """Where `refs` reads the referral events from."""
        return "history WHERE TRUE" if self.windows or self.reads else "scored WHERE type = 'referral'"

    def number(self) -> int:
        """A new column's number, unique among `f`/`k` and `x`/`i`."""
        return len(self.flags) + len(self.operands)


def _more(columns: list[str]) -> str:
    return "".join(f", {c}" for c in columns)


_EARLIER = '(PARTITION BY h.referrer ORDER BY h."at", h.id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)'


def earlier_count(compiler: _Compiler, info: MetricInfo, node: object) -> str:
    """`count earlier referrals [where C] [within D]` as a column of `history`."""
    agg = info.aggregate
    if agg is None or agg.fn != "count" or agg.unless is not None or agg.otherwise is not None:
        raise compiler.refuse(f"the metric `{info.name}` in `eligible when`", node)
    history = compiler.history
    found = history.counts.get(info)
    if found is not None:
        return found
    n = history.number()
    test = "TRUE"
    if agg.where is not None:
        compiler.in_aggregate = compiler.in_history = True
        try:
            test = compiler.expr(agg.where)  # `referral.F` is the earlier referral's field
        finally:
            compiler.in_aggregate = compiler.in_history = False
    history.flags.append(f"CASE WHEN {test} THEN 1 ELSE 0 END AS f{n}")
    count = f"COALESCE(SUM(h.f{n}) OVER {_EARLIER}, 0)"
    if agg.within is not None:
        span = int(agg.within.value * DURATION_UNITS[agg.within.unit.text])
        older = f'(PARTITION BY h.referrer ORDER BY h."at" RANGE BETWEEN UNBOUNDED PRECEDING AND {span + 1} PRECEDING)'
        count = f"({count} - COALESCE(SUM(h.f{n}) OVER {older}, 0))"
    found = f"k{n}"
    history.windows.append(f"{count} AS {found}")
    history.counts[info] = found
    return found


def in_earlier(compiler: _Compiler, node: ast.InEarlier) -> str:
    """`X [not] in earlier referrals.F` as a column test of `history`."""
    from .compile import Column, ident

    if not compiler.in_eligibility:
        return settled(compiler, lambda: in_earlier(compiler, node), node)
    info = compiler.checked.events["referral"].fields.get(node.field.text)
    if info is None or info.builtin:
        raise compiler.refuse(f"`in earlier referrals.{node.field.text}`", node)
    kind = "number" if info.type.numeric else info.type.kind
    if kind not in ("number", "text", "boolean"):
        raise compiler.refuse(f"`in earlier referrals.{node.field.text}` of type {info.type.describe()}", node)
    column = Column("referral", info.name, kind)
    compiler.columns.setdefault(column.name, column)
    history = compiler.history
    operand = compiler.expr(node.operand)  # may add a count (a window) first
    n = history.number()
    history.operands.append(f"{operand} AS x{n}")
    earlier = '(o."at" < h."at" OR (o."at" = h."at" AND o.id < h.id))'
    match = (
        f"EXISTS (SELECT 1 FROM history0 AS o WHERE o.referrer = h.referrer AND {earlier} "
        f"AND o.{ident(column.name)} = h.x{n})"
    )
    history.reads.append(f"(h.x{n} IS NOT NULL AND {'NOT ' if node.negated else ''}{match}) AS i{n}")
    return f"i{n}"


def settled(compiler: _Compiler, column: Callable[[], str], node: object) -> str:
    """A value of the earlier referrals read outside `eligible when` (a
    milestone's condition or amount, an aggregate's `where`, a message):
    the Python engine settles it once, when the referral is made
    (`at_referral`), so it is the referral's column of `history`, made as
    `eligible when` makes it (`column`, called as there), carried into
    `accepted` and from it onto every row of the referral in `seen`. Also
    in a `void` condition, whose rows are aliased (`reversals.ALIASES`):
    there it is read from the void event's row of `seen` (`v`), a row of
    the same referral, which carries it as each of the referral's rows
    does; the column itself is made unaliased (in `history`)."""
    if compiler.aliases:
        aliases, compiler.aliases = compiler.aliases, {}
        try:
            found = settled(compiler, column, node)
        finally:
            compiler.aliases = aliases
        return f"{aliases['void']}.{found}"
    outside = compiler.in_aggregate, compiler.in_history
    compiler.in_eligibility, compiler.in_aggregate, compiler.in_history = True, False, False
    try:
        found = column()
    finally:
        compiler.in_eligibility = False
        compiler.in_aggregate, compiler.in_history = outside
    if found not in compiler.carried:
        compiler.carried.append(found)
    if found not in compiler.history.seen:
        compiler.history.seen.append(found)
    return found
