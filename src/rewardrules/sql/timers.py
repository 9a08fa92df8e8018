"""Timers in SQL: `after D [from EVENT] [if C]` and `when C for D`, fired
up to the as-of.

The Python engine (docs/semantics.md, "Timers") starts the timer at the
referral (or at the referral's first EVENT) in each program the referral is
eligible for, and when it is due, at or before the as-of, awards the
milestone once if C holds with the metrics after every event up to and
including its instant. `when C for D` starts its timer at an event after
which C holds and did not hold before (the referral's own event, or one of
a type that can change C), due D later, and stops it at the first such
event after which C no longer holds: a break at the due instant itself
stops it, as the events of an instant come before its timers. Here, per
milestone `k`:

- `s{k}`: per referral, the timer's instant (`due`): for `when C for D`,
  the first run of C (its tested rows from one where C starts to hold up
  to the next where it breaks) that is not broken at or before its start
  plus D (`held_starts`);
- `h{k}`: the referral's last row of `totals` at or before `due` (its
  metrics then), kept when `due` is at or before the as-of and C holds.

A timer's awards are listed at its instant after the awards of the events
at or before it (`late` = 1), timers of one instant by milestone, then
referee (`scope`): the columns the award rows are ordered and capped by.

Its `void` clauses are those of any award (sql/reversals.py), with no
triggering event. A timer reads its own referral's metrics and, for a
per-referrer metric, the referrer's value at the instant: on the
referrer's last row at or before it, of any of its referrals
(`_referrers_at_due`). A held condition counted per referrer has one clock
per referrer, over the rows of all its referrals (`held_starts`), its
referral the one whose event started the run. `after D if C` counted per
referrer keeps one clock per referee, the referrer's first timer at which
C holds paying (sql/after.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..check.program import Binding
from ..compiler.generate import CompiledMilestone
from ..core.datatypes import DURATION_UNITS
from ..syntax import nodes as ast
from . import after, attribution, messages, reversals
from . import compile as sql  # not `from .compile import`: compile.py imports this module
from . import voided as unless_voided
from .lets import Lets

if TYPE_CHECKING:
    from .compile import _Compiler

AS_OF = '(SELECT "at" FROM as_of)'


def is_timer(milestone: CompiledMilestone) -> bool:
    """Whether the milestone awards at a timer's instant (`after D`, `when C for D`)."""
    return ast.timer_of(milestone.info.trigger) is not None


def milestone_ctes(compiler: _Compiler, milestone: CompiledMilestone) -> str:
    """The CTEs `s{k}` and `h{k}` of a timer milestone."""
    info = milestone.info
    trigger = info.trigger
    k = info.index
    compiler.types.add("referral")  # a referral without other events has its own row
    if isinstance(trigger, ast.WhenTrigger):
        starts = held_starts(compiler, milestone)
    else:
        assert isinstance(trigger, ast.AfterTrigger)
        starts = _after_starts(compiler, milestone, trigger)
    if info.level == "referral" or isinstance(trigger, ast.AfterTrigger):  # a clock per referee
        starts = attribution.holding_at_due(compiler, milestone.program, starts)  # an attribution that moves
    test = compiler.expr(trigger.condition) if trigger.condition is not None else "TRUE"
    amounts, _, lets = compiler.hit_values(milestone)
    amounts += ", sev" if compiler.explain else ""  # the event that started the clock (its `why.event`)
    last = 'ROW_NUMBER() OVER (PARTITION BY t.rid ORDER BY t."at" DESC, t.id DESC) AS n'
    voids = "".join(f",\n{cte}" for cte in reversals.void_ctes(compiler, milestone))
    sev = ", s.sev" if compiler.explain else ""
    source = compiler.voided.source(info)  # `metered` when a count `unless voided` follows it
    rows = f'SELECT t.*, s.due{sev}, {last} FROM s{k} AS s JOIN {source} AS t ON t.rid = s.srid AND t."at" <= s.due'
    if info.level != "referral" or _referrer_metric_read(compiler, milestone) is not None:
        rows = _referrers_at_due(compiler, k, rows)
    hits = (
        # `due` is a HUGEINT (`sql.later_by`): past the last BIGINT instant only after the as-of
        f"SELECT rid, referrer, referee, CAST(due AS BIGINT) AS \"at\", '' AS event, '' AS occurrence{amounts} FROM "
        f"{Lets.under(lets, f'({rows}) AS x WHERE n = 1 AND due <= {AS_OF} AND COALESCE({test}, FALSE)')}"
    )
    if info.level != "referral" and isinstance(trigger, ast.AfterTrigger):
        hits = after.first_per_referrer(hits)
    return f"s{k} AS ({starts}),\n{compiler.hits_head(milestone)} ({hits})" + voids


def _referrers_at_due(compiler: _Compiler, k: int, rows: str) -> str:
    """The referral's rows (`rows`) with the per-referrer metrics (`R0`,
    ...) its referrer has at the timer's instant: those of the referrer's
    last row at or before it, of any of its referrals (the referral's own
    last row has them as they were at its own last event)."""
    columns = [f"R{n}" for n in range(len(compiler.referrer_metrics))]
    columns += [f"RX{n}" for n in compiler.referrer_exponents]  # their exponents (sql/exponents.py)
    last = 'ROW_NUMBER() OVER (PARTITION BY s.srid ORDER BY t."at" DESC, t.id DESC) AS yn'
    referrers = (
        f"SELECT s.srid, {', '.join(f't.{c}' for c in columns)}, {last} FROM s{k} AS s "
        'JOIN accepted AS a ON a.rid = s.srid JOIN totals AS t ON t.referrer = a.referrer AND t."at" <= s.due'
    )
    return (
        f"SELECT x.* EXCLUDE ({', '.join(columns)}), {', '.join(f'y.{c}' for c in columns)} FROM ({rows}) AS x "
        f"JOIN ({referrers}) AS y ON y.srid = x.rid AND y.yn = 1"
    )


def _after_starts(compiler: _Compiler, milestone: CompiledMilestone, trigger: ast.AfterTrigger) -> str:
    """Per referral, when its `after D [from EVENT]` timer is due: its
    referral's instant plus D, or its first EVENT's (by instant, then id)."""
    p = milestone.program
    delay = _ns(trigger.delay)
    sev = ", rid AS sev" if compiler.explain else ""  # the event that starts the clock (its `why.event`)
    if trigger.anchor is None:
        return f"SELECT rid AS srid, {sql.later_by('rat', delay)} AS due{sev} FROM accepted WHERE e{p}"
    event = trigger.anchor.text
    compiler.types.add(event)
    anchored = ", id AS sev" if compiler.explain else ""
    first = 'ROW_NUMBER() OVER (PARTITION BY rid ORDER BY "at", id) AS n'
    return (
        f'SELECT rid AS srid, {sql.later_by(sql.AT, delay)} AS due{anchored} FROM (SELECT rid, "at", id, {first} '
        f"FROM seen WHERE e{p} AND type = {sql.literal(event)}) AS f WHERE n = 1"
    )


def held_starts(compiler: _Compiler, milestone: CompiledMilestone) -> str:
    """Per referral, when its `when C for D` timer fires (before the
    as-of or not): C is tested after each event that may start or stop the
    timer (the referral's own, and those of a type that can change C's
    metrics), in processing order; a run starts at a test where C holds
    after one where it did not (or at the first), and is broken by the
    next test where it does not. The first run not broken at or before its
    start plus D is the one that pays: the milestone is awarded once, and
    no later run starts before an earlier one broke."""
    info = milestone.info
    assert isinstance(info.trigger, ast.WhenTrigger) and info.trigger.held is not None
    held = _ns(info.trigger.held)
    scope = held_scope(milestone)
    before = held_tests(compiler, milestone)
    numbered = (
        "SELECT *, SUM(CASE WHEN c AND NOT was THEN 1 ELSE 0 END) OVER "
        f'(PARTITION BY {scope} ORDER BY "at", id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run '
        f"FROM ({before}) AS b"
    )
    start = "rid"
    sev = ", sev" if compiler.explain else ""
    if compiler.explain:  # the event that starts each run (the timer's `why.event`): its first row
        numbered = f'SELECT *, FIRST_VALUE(id) OVER (PARTITION BY {scope}, run ORDER BY "at", id) AS sev FROM ({numbered}) AS v'
    if scope != "rid":  # the referral whose event started the run: the first row of the run
        numbered = f'SELECT *, FIRST_VALUE(rid) OVER (PARTITION BY {scope}, run ORDER BY "at", id) AS sr FROM ({numbered}) AS f'
        start = "sr"
    runs = (
        f'SELECT {scope} AS who, {start} AS sr{sev}, MIN("at") AS since, MIN(CASE WHEN NOT c THEN "at" END) AS broke '
        f"FROM ({numbered}) AS r WHERE run > 0 GROUP BY {scope}, run, {start}{sev}"
    )
    first = "ROW_NUMBER() OVER (PARTITION BY who ORDER BY since) AS n"
    return (
        f"SELECT sr AS srid, due{sev} FROM (SELECT sr{sev}, {sql.later_by('since', held)} AS due, {first} FROM ({runs}) AS u "
        f"WHERE broke IS NULL OR broke > {sql.later_by('since', held)}) AS w WHERE n = 1"
    )


def held_scope(milestone: CompiledMilestone) -> str:
    """The column a held condition's clock is kept by: one per referral
    (`rid`), or per referrer one over the rows of all its referrals."""
    return "rid" if milestone.info.level == "referral" else "referrer"


def held_tests(compiler: _Compiler, milestone: CompiledMilestone) -> str:
    """The tests of a held condition (`when C for D`), in processing order
    per clock (`held_scope`): the rows after which the Python engine tests
    C (`Engine._arm_one`), with whether C holds (`c`) and held at the test
    before (`was`). What `held_starts` runs over and the explained output
    reads the clock at the as-of from (`sections._clock`)."""
    info = milestone.info
    trigger = info.trigger
    assert isinstance(trigger, ast.WhenTrigger)
    attribution.refuse_mixed_held(compiler, milestone)
    compiler.types.update(info.events)
    types = ", ".join(sql.literal(t) for t in sorted(info.events))
    order = f'(PARTITION BY {held_scope(milestone)} ORDER BY "at", id)'
    tested = (
        f'SELECT rid, referrer, "at", id, COALESCE({compiler.expr(trigger.condition)}, FALSE) AS c '
        f"FROM {compiler.voided.source(info)} WHERE {unless_voided.held_rows(compiler, milestone)} AND type IN ({types})"
    )
    return f"SELECT *, COALESCE(LAG(c) OVER {order}, FALSE) AS was FROM ({tested}) AS t"


def _ns(duration: ast.Duration) -> int:
    return int(duration.value * DURATION_UNITS[duration.unit.text])


def _bindings(compiler: _Compiler, exprs: list[ast.Expr]) -> list[Binding]:
    """The bindings of the names the expressions read."""
    found = []
    for expr in exprs:
        for node in ast.walk(expr):
            binding = compiler.checked.bindings.get(node) if isinstance(node, ast.Ref) else None
            if binding is not None:
                found.append(binding)
    return found


def _referrer_metric_read(compiler: _Compiler, milestone: CompiledMilestone) -> str | None:
    """A per-referrer metric the timer's amounts or message read (its
    condition cannot: that makes the milestone per referrer), or None: its
    value at the timer's instant is its referrer's, which the referral's
    last row before then does not hold."""
    program = compiler.checked.programs[milestone.program]
    exprs = [reward.info.decl.amount for reward in milestone.rewards if reward.constant is None]
    for binding in _bindings(compiler, exprs):
        if binding.metric is not None and binding.metric.level != "referral":
            return binding.metric.name
    if milestone.info.message is not None:
        for name in messages.names(milestone.info.message, milestone.info.event)[0]:
            metric = program.metrics.get(name)
            if metric is not None and metric.level != "referral":
                return metric.name
    return None


def order_values(milestone: CompiledMilestone) -> dict[str, str]:
    """The columns award rows are ordered by besides instant, event,
    milestone and reward: `late` (a timer's after its instant's events)
    and `scope` (timers of one instant by referee)."""
    if is_timer(milestone):  # a held condition per referrer: the heap's scope is the referrer
        held = milestone.info.level != "referral" and not isinstance(milestone.info.trigger, ast.AfterTrigger)
        return {"late": "1", "scope": "referrer" if held else "referee"}
    return {"late": "0", "scope": "''"}
