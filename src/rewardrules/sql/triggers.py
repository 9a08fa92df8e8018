"""`whenever M increases` compiled to SQL (docs/semantics.md, "Metrics and
milestones"): the milestone is tested at every event of a type that can
change M, where M has a value; each test compares M with its value at the
previous test (0 before the first) and gives an award, `increase` being
the rise, whenever it went up. So the tested rows, in processing order
per referral (per referrer for a per-referrer milestone), take `inc = M -
LAG(M)` (0 for the first), and the award rows are those with `inc > 0`:
one per event, the event's id its occurrence, as the Python engine's.

M may be one quotient (`paid / orders`): the rows carry its fraction
(`cn`, `cd`: sql/expressions.py) and rise where it is above the last one
multiplied across; `increase` of it is refused (see `tested_quotient`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..compiler.generate import CompiledMilestone
from ..syntax import nodes as ast
from . import reversals
from .expressions import Fraction, divides, fraction, one_quotient
from .lets import Lets

if TYPE_CHECKING:
    from .compile import _Compiler


def increases(compiler: _Compiler, compiled: CompiledMilestone) -> tuple[str, list[str]]:
    """The hits CTE of a `whenever` milestone and its award rows."""
    from .compile import literal

    info = compiled.info
    trigger = info.trigger
    assert isinstance(trigger, ast.IncreaseTrigger)
    scope = "rid" if info.level == "referral" else "referrer"
    window = f'OVER (PARTITION BY {scope} ORDER BY "at", id)'
    quotient = tested_quotient(compiler, compiled, trigger, "whenever")
    if quotient is None:
        current = f"{tested_metric(compiler, compiled, trigger, 'whenever')} AS cur"
        valued, rise, risen = "cur IS NOT NULL", f"cur - COALESCE(LAG(cur) {window}, 0) AS inc", "inc > 0"
    else:
        # a quotient rises when it is above the last one multiplied across
        # (both denominators positive), or above 0 at the first test: the
        # first row by its number, not by `LAG(cn) IS NULL`, which is never
        # true in ClickHouse (its `lag` of a column that is not Nullable is
        # the type's default, 0: the first rise was lost there)
        current = f"{quotient.num} AS cn, {quotient.den or 1} AS cd"
        valued, risen = "cn IS NOT NULL AND cd IS NOT NULL", "up"
        first = f"ROW_NUMBER() {window} = 1"
        rise = f"CASE WHEN {first} THEN cn > 0 ELSE cn * LAG(cd) {window} > LAG(cn) {window} * cd END AS up"
    compiler.rise = "inc" if quotient is None else None  # `increase` of a quotient: refused
    try:
        amounts, _, lets = compiler.hit_values(compiled)  # they may read `increase`: `inc`, below
    finally:
        compiler.rise = "inc"
    types = ", ".join(literal(t) for t in sorted(info.events))
    tested = f"SELECT *, {current} FROM {compiler.voided.source(compiled.info)} WHERE e{compiled.program} AND type IN ({types})"
    rises = f"SELECT *, {rise} FROM ({tested}) AS c WHERE {valued}"
    hits = (
        f'{compiler.hits_head(compiled)} (SELECT rid, referrer, referee, "at", id AS event, id AS occurrence{amounts} '
        f"FROM {Lets.under(lets, f'({rises}) AS d WHERE {risen}')})"
    )
    hits = ",\n".join([hits, *reversals.void_ctes(compiler, compiled)])
    return hits, [compiler.reward_row(compiled, r) for r in range(len(compiled.rewards))]


def tested_quotient(
    compiler: _Compiler, compiled: CompiledMilestone, trigger: ast.IncreaseTrigger | ast.EveryTrigger, word: str
) -> Fraction | None:
    """The exact value a `whenever` or `every` milestone tests when it
    involves a division (None: it does not). It must be one quotient of
    values without one, negated or not: the engine rounds it once to 100
    digits, and such a quotient of DECIMAL(38) numbers is on the same side
    of another, or of a multiple of the step, rounded or not
    (`expressions.one_quotient`)."""
    metric = compiler.checked.programs[compiled.program].metrics.get(trigger.metric.text)
    if metric is None or metric.formula is None or not divides(compiler, metric.formula):
        return None
    if not one_quotient(compiler, metric.formula):
        raise compiler.refuse(
            f"`{word}` of `{metric.name}` (arithmetic on a quotient, which the engine rounds to 100 digits first)",
            trigger,
        )
    compiler.types.update(compiled.info.events)
    return fraction(compiler, metric.formula)


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
