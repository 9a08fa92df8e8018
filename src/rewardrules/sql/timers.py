"""`after D [from EVENT] [if C]` in SQL: a timer that fires up to the as-of.

The Python engine (docs/semantics.md, "Timers") starts the timer at the
referral (or at the referral's first EVENT) in each program the referral is
eligible for, and when it is due, at or before the as-of, awards the
milestone once if C holds with the metrics after every event up to and
including its instant. Here, per milestone `k`:

- `s{k}`: per referral, the timer's instant (`due`) and the event that
  started it;
- `h{k}`: the referral's last row of `totals` at or before `due` (its
  metrics then), kept when `due` is at or before the as-of and C holds.

A timer's awards are listed at its instant after the awards of the events
at or before it (`late` = 1), timers of one instant by milestone, then
referee (`scope`): the columns the award rows are ordered and capped by.

Not compiled yet: `when C for D`, a timer in a file with per-referrer
metrics (the referrer's value at the instant is not the referral's row's),
and `void` clauses on a timer milestone (its awards have no triggering
event to read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..compiler.generate import CompiledMilestone
from ..core.datatypes import DURATION_UNITS
from ..syntax import nodes as ast
from . import compile as sql  # not `from .compile import`: compile.py imports this module
from . import messages

if TYPE_CHECKING:
    from .compile import _Compiler

AS_OF = '(SELECT "at" FROM as_of)'


def is_timer(milestone: CompiledMilestone) -> bool:
    return isinstance(milestone.info.trigger, ast.AfterTrigger)


def milestone_ctes(compiler: _Compiler, milestone: CompiledMilestone) -> str:
    """The CTEs `s{k}` and `h{k}` of an `after` milestone."""
    info = milestone.info
    trigger = info.trigger
    assert isinstance(trigger, ast.AfterTrigger)
    _refuse(compiler, milestone)
    k, p = info.index, milestone.program
    delay = int(trigger.delay.value * DURATION_UNITS[trigger.delay.unit.text])
    compiler.types.add("referral")  # a referral without other events has its own row
    if trigger.anchor is None:
        starts = f"SELECT rid AS srid, rat + {delay} AS due, rid AS start FROM accepted WHERE e{p}"
    else:
        event = trigger.anchor.text
        compiler.types.add(event)
        first = 'ROW_NUMBER() OVER (PARTITION BY rid ORDER BY "at", id) AS n'
        starts = (
            f'SELECT rid AS srid, "at" + {delay} AS due, id AS start FROM (SELECT rid, "at", id, {first} '
            f"FROM seen WHERE e{p} AND type = {sql.literal(event)}) AS f WHERE n = 1"
        )
    test = compiler.expr(trigger.condition) if trigger.condition is not None else "TRUE"
    computed = compiler.amounts(milestone)
    amounts = "".join(f", {expr} AS a{r}" for r, expr in computed)
    amounts += messages.hit_column(compiler, milestone)
    last = 'ROW_NUMBER() OVER (PARTITION BY t.rid ORDER BY t."at" DESC, t.id DESC) AS n'
    return (
        f"s{k} AS ({starts}),\n"
        f"h{k} AS (SELECT rid, referrer, referee, due AS \"at\", '' AS event, '' AS occurrence{amounts} FROM "
        f'(SELECT t.*, s.due, {last} FROM s{k} AS s JOIN totals AS t ON t.rid = s.srid AND t."at" <= s.due) AS x '
        f"WHERE n = 1 AND due <= {AS_OF} AND {test})"
    )


def _refuse(compiler: _Compiler, milestone: CompiledMilestone) -> None:
    info = milestone.info
    if info.voids:
        raise compiler.refuse("`void if` on a timer milestone", info.voids[0].decl)
    if info.level != "referral":
        raise compiler.refuse(f"the per-referrer timer `{info.name}`", info.trigger)
    for program in compiler.checked.programs:
        for metric in program.metrics.values():
            if metric.level != "referral":
                raise compiler.refuse(f"`after D` beside the per-referrer metric `{metric.name}`", info.trigger)


def order_values(milestone: CompiledMilestone) -> dict[str, str]:
    """The columns award rows are ordered by besides instant, event,
    milestone and reward: `late` (a timer's after its instant's events)
    and `scope` (timers of one instant by referee)."""
    if is_timer(milestone):
        return {"late": "1", "scope": "referee"}
    return {"late": "0", "scope": "''"}
