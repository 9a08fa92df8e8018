"""`whenever M increases` compiled to SQL (docs/semantics.md, "Metrics and
milestones"): the milestone is tested at every event of a type that can
change M, where M has a value; each test compares M with its value at the
previous test (0 before the first) and gives an award, `increase` being
the rise, whenever it went up. So the tested rows, in processing order
per referral (per referrer for a per-referrer milestone), take `inc = M -
LAG(M)` (0 for the first), and the award rows are those with `inc > 0`:
one per event, the event's id its occurrence, as the Python engine's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..compiler.generate import CompiledMilestone
from ..syntax import nodes as ast
from . import explain, messages, reversals
from .expressions import divides

if TYPE_CHECKING:
    from .compile import _Compiler


def increases(compiler: _Compiler, compiled: CompiledMilestone) -> tuple[str, list[str]]:
    """The hits CTE of a `whenever` milestone and its award rows."""
    from .compile import literal

    info = compiled.info
    trigger = info.trigger
    assert isinstance(trigger, ast.IncreaseTrigger)
    metric = compiler.checked.programs[compiled.program].metrics.get(trigger.metric.text)
    if metric is not None and metric.formula is not None and divides(compiler, metric.formula):
        raise compiler.refuse(f"`whenever` of `{metric.name}`, a value that involves a division", trigger)
    k = info.index
    current = tested_metric(compiler, compiled, trigger, "whenever")
    scope = "rid" if info.level == "referral" else "referrer"
    computed = compiler.amounts(compiled)  # they may read `increase`: `inc`, below
    amounts = "".join(f", {sql} AS a{r}" for r, sql in computed)
    amounts += messages.hit_column(compiler, compiled)  # its message's values at the rise
    amounts += explain.hit_column(compiler, compiled)  # its explanation's
    types = ", ".join(literal(t) for t in sorted(info.events))
    tested = f"SELECT *, {current} AS cur FROM {compiler.voided.source(compiled.info)} WHERE e{compiled.program} AND type IN ({types})"
    rises = (
        f'SELECT *, cur - COALESCE(LAG(cur) OVER (PARTITION BY {scope} ORDER BY "at", id), 0) AS inc '
        f"FROM ({tested}) AS c WHERE cur IS NOT NULL"
    )
    hits = (
        f'h{k} AS (SELECT rid, referrer, referee, "at", id AS event, id AS occurrence{amounts} '
        f"FROM ({rises}) AS d WHERE inc > 0)"
    )
    hits = ",\n".join([hits, *reversals.void_ctes(compiler, compiled)])
    return hits, [compiler.reward_row(compiled, r) for r in range(len(compiled.rewards))]


def tested_metric(
    compiler: _Compiler, compiled: CompiledMilestone, trigger: ast.IncreaseTrigger | ast.EveryTrigger, word: str
) -> str:
    """The metric a `whenever` or `every` milestone tests, as SQL over a row
    of `totals`; the event types that can change it are read."""
    metric = compiler.checked.programs[compiled.program].metrics.get(trigger.metric.text)
    if metric is None:
        raise compiler.refuse(f"`{word}` of `{trigger.metric.text}`", trigger)
    compiler.types.update(compiled.info.events)
    return compiler.metric(metric, trigger)
