"""`unless voided M` in SQL: counts over referrals that follow reversals.

`count referrals [where C] unless voided M` (and `sum referrals.X ...`)
leaves a referral out of its referrer's count once an award of milestone M
for it is taken back whole (docs/language.md, "Counts that follow
reversals"). The Python engine keeps, per referral, a flag "an award of M
was taken back" (`score.clawback.taken_back`), computed again each time an
event of a type that M's `void` clauses name is kept for the referral,
before the referrer's counts are brought up to date at that event: it
looks at the awards of M issued before that event and the void events kept
up to it (that event included). So the flag turns true at the first event
`u` of such a type with, for some award `a` of M and a void event `v` that
takes `a` back: `v <= u` and `a` issued before `u` (by instant, then id).
When `v` comes after `a`'s event, `u` is `v`; when `v` is `a`'s own event
or one at its instant with a smaller id (processed before `a` was issued),
`u` is the next event of those types after `a`'s.

The query computes, per followed milestone M (index k):

- M's hits `h{k}` and void matches `v{k}`, `f{k}_{s}` (sql/reversals.py)
  read `metered`, not `totals`, and come before the counts (`contributed`)
  that read them: M is counted per referral, so its trigger reads no
  per-referrer metric; its rewards and message may not either (refused);
- `w{k}`: per referral, the first event `u` as above, over the first void
  event of each award of each reward of M with `void` clauses;
- `followed`: the rows of `metered` with a flag `tb{k}` per M, true from
  `w{k}`'s event on; a count `unless voided M` counts a referral's
  contribution as 0 while it is true.

M may be a timer counted per referral: its hits then read `metered` too,
and its award, issued after the events of its instant, is taken back from
the first event `u` after that instant (one at the instant, the void event
itself included, is processed before the award exists).

An award of a computed amount is issued only when it rounds to more than
nothing (`cents > 0`, as the award rows). A reward with a partial void is
taken back whole at the first void event where its parts, rounded as
`score.clawback.take` rounds them, reach the whole award (`g{k}_{r}`,
`_whole`). What is refused, at its line: M's rewards with caps (a
capped-out award is not issued, which depends on the awards of every
milestone, those that read the count among them) or with two partial voids
or more (their quotients, each rounded to 100 digits, add up to what an
exact sum may put on the other side of a half-unit tie).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..check.program import MetricInfo, MilestoneInfo
from ..compiler.generate import CompiledMilestone
from ..core.units import minor_exponent
from ..syntax import nodes as ast
from . import amounts, attribution, reversals
from . import compile as sql  # not `from .compile import`: compile.py imports this module

if TYPE_CHECKING:
    from .compile import _Compiler


@dataclass(slots=True)
class Followed:
    """The milestones counts `unless voided` follow, and their flags."""

    #: the indexes of the milestones a metric of the file follows (known
    #: before any milestone is compiled: their hits read `metered`)
    indexes: frozenset[int] = frozenset()
    #: the milestone being compiled (see `guard`)
    current: int | None = None
    #: the flags the counts read, by milestone index: `tb{k}`
    flags: dict[int, str] = field(default_factory=dict)
    #: the CTEs of the followed milestones' hits and voids, by index
    hits: dict[int, str] = field(default_factory=dict)

    def source(self, info: MilestoneInfo) -> str:
        """The CTE a milestone's hits read: `metered` for a followed one."""
        return "metered" if info.index in self.indexes else "totals"

    def rows(self) -> str:
        """The CTE the counts over referrals read (`contributed`'s source)."""
        return "followed" if self.flags else "metered"


def prepare(compiler: _Compiler) -> None:
    """Find the milestones a metric `unless voided` follows, in each
    program (a referral's flag is its own; its contribution is counted in
    each program that holds it, `attribution.counted`)."""
    found = set()
    for program in compiler.checked.programs:
        names = {m.name: m for m in program.milestones}
        for info in program.metrics.values():
            agg = info.aggregate
            if agg is not None and agg.unless is not None and agg.unless.text in names:
                found.add(names[agg.unless.text].index)
    compiler.voided.indexes = frozenset(found)


def guard(compiler: _Compiler, node: object) -> None:
    """Refuse a per-referrer metric read by a followed milestone (its
    reward or message): its hits come before the referrer's counts."""
    current = compiler.voided.current
    if current is not None and current in compiler.voided.indexes:
        name = compiler.compiled.milestones[current].info.name
        raise compiler.refuse(f"a per-referrer value in milestone `{name}`, which `unless voided` follows", node)


def followed_read(compiler: _Compiler, expr: ast.Expr) -> MetricInfo | None:
    """A count `unless voided` that `expr` reads, directly or through
    formulas, or None."""
    return attribution.metric_read(compiler, expr, lambda m: m.aggregate is not None and m.aggregate.unless is not None)


def held_rows(compiler: _Compiler, milestone: CompiledMilestone) -> str:
    """The rows of program p on which a held condition (`when C for D`) is
    tested: those that hold the referee there (`e{p}`); for one per
    referrer whose C reads a count `unless voided` in a program whose
    attribution moves, also those of a referral that lost its referee
    there, of a type a followed milestone voids on: the Python engine
    tests C again at such an event, after the void took the referral out
    of its referrer's count (`Engine._follow`), and a break stops the
    clock (docs/semantics.md, "Counts that follow reversals")."""
    info, p = milestone.info, milestone.program
    trigger = info.trigger
    if (
        info.level == "referral"
        or not isinstance(trigger, ast.WhenTrigger)
        or p not in attribution.moving(compiler)
        or followed_read(compiler, trigger.condition) is None
    ):
        return f"e{p}"
    follows = sorted(set(compiler.compiled.follows) & info.events)
    if not follows:
        return f"e{p}"
    return f"(e{p} OR (took{p} AND type IN ({', '.join(sql.literal(t) for t in follows)})))"


def taken(compiler: _Compiler, info: MetricInfo, agg: ast.Aggregate) -> str:
    """The flag of the rows of `followed` on which the referral is out of
    `info`'s count (an award of its milestone taken back whole)."""
    assert agg.unless is not None
    # M of the program whose referrers are counted (each program's names are its own)
    program = compiler.checked.programs[compiler.program]
    index = next(m.index for m in program.milestones if m.name == agg.unless.text)
    milestone = next(m for m in compiler.compiled.milestones if m.info.index == index)
    _refuse(compiler, milestone, agg.unless)
    k = milestone.info.index
    if k not in compiler.voided.flags:
        compiler.voided.flags[k] = f"tb{k}"
    return compiler.voided.flags[k]


def _refuse(compiler: _Compiler, milestone: CompiledMilestone, node: object) -> None:
    info = milestone.info
    what = f"`unless voided {info.name}`"
    for index, reward in enumerate(milestone.rewards):
        if reward.caps:
            raise compiler.refuse(f"{what} of a milestone whose reward has a cap", node)
        if len(_partial_clauses(milestone, index)) > 1:
            raise compiler.refuse(f"{what} of a reward with more than one partial void", node)


def _partial_clauses(milestone: CompiledMilestone, index: int) -> list[int]:
    """The partial `void` clauses of a reward (positions in its milestone)."""
    return [j for j in milestone.rewards[index].info.voids if milestone.voids[j].share is not None]


def ctes(compiler: _Compiler) -> list[str]:
    """The followed milestones' hits and voids, each first void event per
    referral (`w{k}`) and the rows with their flags (`followed`)."""
    found = [compiler.voided.hits[k] for k in sorted(compiler.voided.hits)]
    if not compiler.voided.flags:
        return found
    joins, flags = [], []
    for k, flag in sorted(compiler.voided.flags.items()):
        milestone = compiler.compiled.milestones[k]
        first = _first_void(compiler, milestone)
        if first is None:  # no reward of it has a `void`: never taken back
            flags.append(f"FALSE AS {flag}")
            continue
        found.append(first)
        joins.append(f" LEFT JOIN w{k} ON w{k}.rid = m.rid")
        flags.append(f'COALESCE(m."at" > w{k}.wat OR (m."at" = w{k}.wat AND m.id >= w{k}.wid), FALSE) AS {flag}')
    found.append(f"followed AS (SELECT m.*, {', '.join(flags)} FROM metered AS m{''.join(joins)})")
    return found


def _first_void(compiler: _Compiler, milestone: CompiledMilestone) -> str | None:
    """`w{k}`: per referral, the first event at which the Python engine
    finds an award of the milestone taken back (see the module's docstring)."""
    k = milestone.info.index
    # the types whose events the engine keeps and looks again at (a referral event is never kept)
    kept = sorted({v.event for v in milestone.info.voids} - {"referral"})
    # each reward with voids, the CTE of its awards' first void events that
    # take them back whole (`f{k}_{s}`, or `g{k}_{r}` for partial voids),
    # and whether an award of it is issued
    firsts = {r: _firsts(compiler, milestone, r) for r in range(len(milestone.rewards))}
    rewards = [(r, cte) for r, cte in firsts.items() if cte is not None]
    issued = {r: _issued(compiler, milestone, r) for r in range(len(milestone.rewards))}
    if not kept or not rewards:
        return None
    types = ", ".join(sql.literal(t) for t in kept)
    # a timer's award comes after the events of its instant (`h.event` is '')
    after = 'u."at" > h."at"' if ast.timer_of(milestone.info.trigger) is not None else _AFTER_EVENT
    # u: an event of those types after the award's event, at or after its first void event
    branches = [
        f'SELECT f.rid, u."at" AS wat, u.id AS wid FROM {cte} AS f JOIN h{k} AS h '
        f"ON h.rid = f.rid AND h.event = f.event{issued[r]} JOIN seen AS u ON u.rid = f.rid AND u.type IN ({types}) "
        f"AND ({after}) "
        f'AND (u."at" > f.vat OR (u."at" = f.vat AND u.id >= f.vid))'
        for r, cte in rewards
    ]
    ranked = "ROW_NUMBER() OVER (PARTITION BY rid ORDER BY wat, wid) AS n"
    union = "\nUNION ALL\n".join(branches)
    wholes = [_whole(compiler, milestone, r) for r, cte in rewards if cte.startswith("g")]
    first = f"w{k} AS (SELECT rid, wat, wid FROM (SELECT *, {ranked} FROM (\n{union}\n) AS c) AS r WHERE n = 1)"
    return ",\n".join([*wholes, first])


def _firsts(compiler: _Compiler, milestone: CompiledMilestone, index: int) -> str | None:
    """The CTE of the first void event of each award of a reward that takes
    it back whole: `f{k}_{s}` (sql/reversals.py) for `void if` clauses,
    `g{k}_{r}` (`_whole`) for a reward with a partial void; None for a
    reward without voids."""
    k = milestone.info.index
    if _partial_clauses(milestone, index):
        return f"g{k}_{index}"
    s = reversals.void_set(milestone, index)
    return None if s is None else f"f{k}_{s}"


def _whole(compiler: _Compiler, milestone: CompiledMilestone, index: int) -> str:
    """`g{k}_{r}`: per award of a reward with one partial void (and maybe
    `void if` clauses), the first void event after which the Python
    engine's `score.clawback.take` has taken it back whole.

    Each void event counts once, for the first of the reward's clauses it
    meets (as `p{k}_{s}`). A `void if` event takes the whole award. The
    partial clause's events add up their parts P (those with a part and a
    whole above 0; the whole W reads the triggering event, the referral or
    constants, so it is the same at each event), and the award of A units
    (cents: the amount over its rounding step, `clawback.amount_scale`) is
    taken back whole at the first event where A * P / W, rounded half to
    even, is A: 2AP > (2A - 1)W, or equal with A even. Exact: the engine
    rounds P / W to 100 digits first, which moves a product off that tie
    only for shares no ledger number (at most 30 digits) can make, and
    cannot move it across (docs/sql.md, "Counts that follow reversals")."""
    k = milestone.info.index
    clauses = tuple(milestone.rewards[index].info.voids)
    (j,) = _partial_clauses(milestone, index)
    chosen = ", ".join(str(n) for n in clauses)
    counted = f'x."rule" = {j} AND x.pn{j} > 0 AND x.wn{j} > 0'
    so_far = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    parts = (
        f"SELECT x.*, SUM(CASE WHEN {counted} THEN x.pn{j} END) OVER (PARTITION BY x.rid, x.event "
        f"ORDER BY x.vat, x.vid {so_far}) AS pc FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY rid, event, vid "
        f'ORDER BY "rule") AS o FROM v{k} WHERE "rule" IN ({chosen})) AS x WHERE x.o = 1'
    )
    units = f"(SELECT rid, event, {_units(compiler, milestone, index)} AS units FROM h{k})"
    twice, less = "(2 * h.units * y.pc)", f"((2 * h.units - 1) * y.wn{j})"
    whole = f"({twice} > {less} OR ({twice} = {less} AND h.units % 2 = 0))"
    taken = f'y."rule" <> {j} OR ({counted.replace("x.", "y.")} AND {whole})'
    ranked = "ROW_NUMBER() OVER (PARTITION BY y.rid, y.event ORDER BY y.vat, y.vid) AS n"
    return (
        f"g{k}_{index} AS (SELECT rid, event, vat, vid FROM (SELECT y.rid, y.event, y.vat, y.vid, {ranked} "
        f"FROM ({parts}) AS y JOIN {units} AS h ON h.rid = y.rid AND h.event = y.event WHERE {taken}) AS z "
        "WHERE n = 1)"
    )


def _units(compiler: _Compiler, milestone: CompiledMilestone, index: int) -> str:
    """An award's amount in units of the step a partial void rounds to
    (`clawback.amount_scale`): cents of money in a currency, else the last
    decimal of the constant (only a constant is voided in part there,
    sql/reversals.py), as an integer."""
    reward = milestone.rewards[index]
    if reward.constant is None:
        return compiler.cents(milestone, index)
    # the constant's digits: a currency's is quantized to its minor unit
    exponent = reward.constant.as_tuple().exponent
    places = minor_exponent(reward.info.unit) if reward.quantum is not None else -min(int(exponent), 0)
    return f"CAST({int(reward.constant.scaleb(places))} AS HUGEINT)"


#: an event after the award's triggering event, in processing order
_AFTER_EVENT = 'u."at" > h."at" OR (u."at" = h."at" AND u.id > h.event)'


def _issued(compiler: _Compiler, milestone: CompiledMilestone, index: int) -> str:
    """The test that a hit of reward `index` gives an award, as its award
    rows test it: a constant always does, a computed amount in a currency
    when it rounds to more than nothing, one in another unit (`points`,
    exact: sql/amounts.py) when it is above 0."""
    reward = milestone.rewards[index]
    if reward.constant is not None:
        return ""
    if reward.quantum is None:
        return f" AND {amounts.positive(f'a{index}')}"
    return f" AND {compiler.cents(milestone, index)} > 0"
