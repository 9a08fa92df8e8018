"""`every N M` compiled to SQL (docs/semantics.md, "Metrics and milestones").

The Python engine tests the milestone at every event of a type that can
change M, where M has a value: `reached = M // N` (the multiples of N that M
is past, truncated toward zero), and when `reached` is above the last
multiple it awarded (`prev`, 0 at first), it awards each multiple in
between at that event, in ascending order, the threshold reached
(`occurrence(multiple * N)`: a plain decimal) the award's occurrence. An
event that would give more than the per-event limit stops scoring first.

Here, per milestone `k`:

- `j{k}`: the tested rows, in processing order per referral (per referrer
  for a per-referrer milestone), with `reached` computed exactly (M scaled
  by the step's decimals, truncated, then an integer division: never a
  division through DOUBLE), `prev` the most any earlier row reached (0 at
  least), kept where `jump = reached - prev` is positive;
- `h{k}`: one row per multiple, `nth` = 1 .. jump (`UNNEST` of a series),
  whose threshold `(prev + nth) * N` is written as the Python engine writes
  it, from exact integer arithmetic.

`nth` orders an event's awards of one milestone (and what caps they draw
from) as the engine issues them: by threshold, then reward. As a jump has
no bound in the query itself, the per-event limit is checked first by
`volume` (`Query.volume`), a statement run before the awards: the
`score --engine duckdb` runner raises the Python engine's own
`AwardLimitError` from its rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..compiler.generate import CompiledMilestone
from ..core.limits import AwardLimitError
from ..syntax import nodes as ast
from . import compile as sql  # not `from .compile import`: compile.py imports this module
from . import expressions, reversals, triggers
from .lets import Lets

if TYPE_CHECKING:
    from .compile import _Compiler


def is_every(milestone: CompiledMilestone) -> bool:
    return isinstance(milestone.info.trigger, ast.EveryTrigger)


def _step(step: Decimal) -> tuple[int, int]:
    """The step as an integer `S` of units of 10^-d, and `d`: N = S / 10^d."""
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # a checked step is a finite positive number
    places = max(0, -exponent)
    return int(step.scaleb(places)), places


def _plain(units: str, places: int) -> str:
    """A positive integer count of 10^-places written as a plain decimal
    without trailing zeros or a point for a whole number (`150` of 10^-2:
    `1.5`), as `runtime.occurrence` writes a threshold."""
    if places == 0:
        return f"CAST({units} AS VARCHAR)"
    scale = _ten_to(places, "HUGEINT")
    fraction = f"RTRIM(LPAD(CAST({units} % {scale} AS VARCHAR), {places}, '0'), '0')"
    whole = f"CAST({units} // {scale} AS VARCHAR)"
    return f"CASE WHEN {units} % {scale} = 0 THEN {whole} ELSE {whole} || '.' || {fraction} END"


def _in_units(value: str, places: int) -> str:
    """An exact decimal in units of 10^-places, truncated toward zero, as
    a HUGEINT: its whole part times 10^places plus its fraction's units.
    Scaling the fraction alone (below 1, so below 10^places once scaled)
    keeps the DECIMAL within 38 digits wherever the decimals of the
    value's type (not of the value) and the step's add up to 38 at most,
    and the whole part times 10^places within HUGEINT (docs/sql.md,
    "`every N M`"): `value * 10^places` whole overflowed
    DECIMAL(38) for 2.0000000000000000002 by a step of 19 decimals (the
    engine scores it). Numbers only: no value's text is read (a text of
    more than 38 digits is NULL as a DECIMAL(38) in ClickHouse)."""
    whole = f"CAST(TRUNC({value}) AS HUGEINT)"
    if places == 0:
        return whole
    fraction = f"({value} - TRUNC({value})) * {_ten_to(places, f'DECIMAL({sql.MAX_DIGITS}, 0)')}"
    return f"({whole} * {_ten_to(places, 'HUGEINT')} + CAST(TRUNC({fraction}) AS HUGEINT))"


def _ten_to(places: int, kind: str) -> str:
    """10^places as an exact constant of type `kind` (a bare literal past
    64 bits is a Float64 in ClickHouse)."""
    return f"CAST('1{'0' * places}' AS {kind})"


def every(compiler: _Compiler, compiled: CompiledMilestone) -> tuple[str, list[str]]:
    """The CTEs `j{k}` and `h{k}` of an `every` milestone and its award rows."""
    info = compiled.info
    trigger = info.trigger
    assert isinstance(trigger, ast.EveryTrigger)
    k = info.index
    whole, places = _step(trigger.step)
    # an exact literal: a bare one past 64 bits is a Float64 in ClickHouse (the occurrence was rounded)
    units = f"CAST({sql.literal(str(whole))} AS HUGEINT)"
    quotient = triggers.tested_quotient(compiler, compiled, trigger, "every")
    if quotient is None:
        current = f"{triggers.tested_metric(compiler, compiled, trigger, 'every')} AS cur"
        reached, valued = f"{_in_units('cur', places)} // {units}", "cur IS NOT NULL"
    else:  # one quotient: its fraction in units of the step's decimals, exactly
        current = f"{quotient.num} AS cn, {quotient.den or 1} AS cd"
        reached = f"{expressions.truncated_ratio('cn', 'cd', places)} // {units}"
        valued = "cn IS NOT NULL AND cd IS NOT NULL"
    scope = "rid" if info.level == "referral" else "referrer"
    before = f'PARTITION BY {scope} ORDER BY "at", id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING'
    amounts, kept, lets = compiler.hit_values(compiled)
    types = ", ".join(sql.literal(t) for t in sorted(info.events))
    tested = f"SELECT *, {current} FROM {compiler.voided.source(compiled.info)} WHERE e{compiled.program} AND type IN ({types})"
    reaching = f"SELECT *, {reached} AS reached FROM ({tested}) AS c WHERE {valued}"
    prior = f"SELECT *, COALESCE(MAX(reached) OVER ({before}), 0) AS most FROM ({reaching}) AS r"
    jumps = (
        f'j{k} AS (SELECT rid, referrer, referee, "at", id AS event, prev, reached - prev AS jump{amounts} '
        f"FROM {Lets.under(lets, f'(SELECT *, CASE WHEN most > 0 THEN most ELSE 0 END AS prev FROM ({prior}) AS m) AS p WHERE reached > prev')})"
    )
    threshold = f"(prev + nth) * {units}"
    hits = (
        f'{compiler.hits_head(compiled)} (SELECT rid, referrer, referee, "at", event, {_plain(threshold, places)} AS occurrence, '
        f"nth{kept} FROM (SELECT *, UNNEST(GENERATE_SERIES(1, CAST(jump AS BIGINT))) AS nth FROM j{k}) AS s)"
    )
    ctes = ",\n".join([jumps, hits, *reversals.void_ctes(compiler, compiled)])  # `void if`: per event, as others
    return ctes, [compiler.reward_row(compiled, r) for r in range(len(compiled.rewards))]


def order_values(milestone: CompiledMilestone) -> dict[str, str]:
    """`nth`: an `every` award's place among its milestone's multiples
    reached at its event (0 for other milestones)."""
    return {"nth": "nth" if is_every(milestone) else "CAST(0 AS BIGINT)"}


def volume(compiler: _Compiler, prelude: str) -> tuple[str, str]:
    """The statement that finds the first event (in processing order)
    giving more awards than the per-event limit, around where the limit
    goes (`Query.volume_sql` writes it in): that event's hits per milestone,
    `jump` for an `every` milestone (its multiples reached), 1 for another
    (a timer's hits are at its instant, one each, never at an event), and
    `total`, the event's hits, as the Python engine counts them (each hit
    gives its rewards: `Engine._within_limits` counts hits)."""
    counts = []
    if compiler.table.indexes:  # the plain milestones' hits (sql/grouped.py)
        counts.append('SELECT "at", event, milestone_index, 1 AS jump FROM hg')
    for milestone in compiler.compiled.milestones:
        k = milestone.info.index
        if k in compiler.table.indexes:
            continue
        if is_every(milestone):
            count = f'SELECT "at", event, {k} AS milestone_index, jump FROM j{k}'
        elif ast.timer_of(milestone.info.trigger) is None:
            count = f'SELECT "at", event, {k} AS milestone_index, 1 AS jump FROM h{k}'
        else:
            continue
        counts.extend(compiler.reading(k, [count]))
    if not counts:
        return "", ""
    union = "\nUNION ALL\n".join(counts)
    per_event = f"SELECT *, SUM(jump) OVER (PARTITION BY event) AS total FROM (\n{union}\n) AS c"
    head = f'{prelude}\nSELECT "at", event, milestone_index, jump, total FROM ({per_event}) AS v WHERE total > '
    return head, f' ORDER BY "at", event, milestone_index LIMIT {len(compiler.compiled.milestones)}'


def check_volume(rows: list[dict[str, Any]], names: tuple[str, ...], most: int) -> None:
    """Raise the Python engine's `AwardLimitError` from `volume`'s rows: at
    the first event past the limit, the first `every` milestone whose
    multiples alone pass it (`runtime.too_many`), else the event's total."""
    if not rows:
        return
    first = [row for row in rows if row["event"] == rows[0]["event"]]
    for row in first:
        if int(row["jump"]) > most:
            name = names[int(row["milestone_index"])]
            raise AwardLimitError.at_event(str(row["event"]), int(row["jump"]), f" of milestone `{name}`", most, name)
    raise AwardLimitError.at_event(str(first[0]["event"]), int(first[0]["total"]), "", most)
