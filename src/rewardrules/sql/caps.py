"""Caps compiled to SQL: on an amount or on a number of rewards, for life or
per calendar period (in the program's time zone), and allowances shared by
programs (docs/semantics.md, "Amounts, rounding, caps").

Awards draw from a cap in the order they are issued. Each reward counted
by one cap only, what the cap has granted after an award is the smaller
of what was asked so far and the limit, as every amount asked is
positive. So, per cap, beneficiary and period, in issue order (`capped`):

- on an amount, an award gets `min(W, L) - min(W - a, L)` (W: the amounts
  asked so far, its own `a` included), the one that reaches the limit cut
  to what remains;
- on a number of rewards, an award is issued while its rank (1, 2, ...) is
  at most N, and withheld after.

A withheld award (cut to nothing) is left out, as in `--no-explain`. A
file with a reward counted by several caps is folded instead (`folded`,
below): one cap's cut changes what the others see after.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..check.program import CapInfo
from ..core.timeutil import NS_PER_SECOND
from ..core.units import is_currency, minor_exponent
from ..core.zone_offsets import offset_steps

if TYPE_CHECKING:
    from .compile import _Compiler

#: the filter that ends `capped` and `folded`: an award cut to nothing, or
#: to less than half its currency's minor unit (`paid`: the engine rounds
#: what a cap leaves, then withholds 0), is withheld (the explained
#: sections read the others, sql/sections.py)
KEPT = "WHERE paid"

#: nanoseconds in a day; an instant's UTC day is its floor division by it
_DAY = 86_400_000_000_000

#: DuckDB's DATE_TRUNC unit of each calendar period (`week` starts on a
#: Monday, as an ISO week does)
_TRUNC = {"week": "week", "month": "month", "quarter": "quarter", "year": "year"}


def dated(rows: str, timezone: str | None) -> str:
    """`rows` (with their instant, `"at"`, ns since the epoch) and the
    calendar date of that instant in the program's time zone (`local_day`,
    a DATE) that `period` reads, from exact integer arithmetic alone: the
    instant's UTC day and time of day (floor division, right for instants
    before 1970 too), the zone's offset added to the time of day, a day
    before or after where that crosses midnight (an offset is less than a
    day). The offset comes from the query itself (`_offset`), never from
    the engine's own time zone database, which differs from engine to
    engine (core/zone_offsets.py); in a column of its own, so that it is
    computed once a row (written twice in one expression, as Spark's
    rewrite of `//` would, its table would be planned and run twice)."""
    days = f'("at" // {_DAY} - CASE WHEN "at" % {_DAY} < 0 THEN 1 ELSE 0 END)'
    if timezone is None:
        return f"SELECT *, (DATE '1970-01-01' + CAST({days} AS INTEGER)) AS local_day FROM ({rows}) AS z"
    offset = f"SELECT *, CAST({_offset(offset_steps(timezone))} AS BIGINT) AS zone_offset FROM ({rows}) AS z"
    rest = f'(CASE WHEN "at" % {_DAY} < 0 THEN "at" % {_DAY} + {_DAY} ELSE "at" % {_DAY} END)'
    wall = f"({rest} + zone_offset * {NS_PER_SECOND} + {_DAY})"  # a day more: positive, so `//` floors
    local = f"({days} + {wall} // {_DAY} - 1)"
    return f"SELECT * EXCLUDE (zone_offset), (DATE '1970-01-01' + CAST({local} AS INTEGER)) AS local_day FROM ({offset}) AS o"


def _offset(steps: tuple[tuple[int, int], ...]) -> str:
    """The UTC offset in seconds at `"at"` of a zone's steps
    (`core.zone_offsets`), as a binary search of nested CASEs: a handful of
    comparisons a row for the zone's hundreds of steps from 1677 to 2262."""
    if len(steps) == 1:
        return str(steps[0][1])
    middle = len(steps) // 2
    start = steps[middle][0] * NS_PER_SECOND
    return f'CASE WHEN "at" < {start} THEN {_offset(steps[:middle])} ELSE {_offset(steps[middle:])} END'


def has_periods(caps: Iterable[CapInfo]) -> bool:
    """Whether one of `caps` is per calendar period: its rows need `dated`."""
    return any(cap.period is not None for cap in caps)


def period(cap: CapInfo) -> str:
    """The key of the calendar period of an award's instant for `cap`: the
    period's first day as text ('' for a cap without period), of the rows'
    `local_day` (`dated`). Any key that names the period once will do: the
    rows are only grouped by it."""
    if cap.period is None:
        return "''"
    if cap.period == "day":
        return "CAST(local_day AS VARCHAR)"
    return f"CAST(CAST(DATE_TRUNC('{_TRUNC[cap.period]}', local_day) AS DATE) AS VARCHAR)"


def capped(compiler: _Compiler, body: str) -> str:
    """The award rows (`body`: their `cap` key, `beneficiary`, `wanted`
    amount) with their caps applied, the cut amount written as the Python
    engine writes it."""
    from .compile import ISSUE_ORDER, MAX_DIGITS, number

    if not compiler.caps:
        return f"SELECT *, wanted AS granted, TRUE AS paid FROM (\n{body}\n) AS wanted"
    wide = f"DECIMAL({MAX_DIGITS}, {compiler.scale})"
    limits, periods, counted = [], [], []
    for n, cap in compiler.caps.values():
        limits.append(f"WHEN 'c{n}' THEN CAST({number(cap.limit, None, compiler.path)} AS {wide})")
        periods.append(f"WHEN 'c{n}' THEN {period(cap)}")
        if cap.counts_rewards:
            counted.append(f"'c{n}'")
    units = [(f"c{n}", cap.unit) for n, cap in compiler.caps.values() if not cap.counts_rewards]
    counts = f"cap IN ({', '.join(counted)})" if counted else "FALSE"
    each = f"CASE WHEN {counts} THEN CAST(1 AS {wide}) ELSE wanted END"  # what an award asks of its cap
    so_far = (
        f"SUM({each}) OVER (PARTITION BY cap, beneficiary, period ORDER BY {ISSUE_ORDER} "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )
    limit = f"CASE cap {' '.join(limits)} END"
    granted = (
        f"CASE WHEN cap IS NULL THEN wanted WHEN {counts} THEN wanted * CASE WHEN used <= {limit} THEN 1 ELSE 0 END "
        f"ELSE CAST(LEAST(used, {limit}) - LEAST(used - wanted, {limit}) AS {wide}) END"
    )
    hidden = "period, used"
    if has_periods(cap for _, cap in compiler.caps.values()):
        body, hidden = dated(body, compiler.checked.timezone), "period, used, local_day"
    keyed = f"SELECT *, CASE cap {' '.join(periods)} ELSE '' END AS period FROM (\n{body}\n) AS wanted"
    rows = f"SELECT *, CAST({granted} AS {wide}) AS granted FROM (SELECT *, {so_far} AS used FROM ({keyed}) AS p) AS u"
    return (
        f"SELECT * EXCLUDE ({hidden}) REPLACE (CASE WHEN granted = wanted THEN amount ELSE {_cut_text(units)} END AS amount) "
        f"FROM (SELECT *, {_paid(units)} AS paid FROM ({rows}) AS g) AS k " + KEPT
    )


# -- several caps on one reward: the fold -------------------------------------
# A reward counted by several caps (a program's and a milestone's, or a cap
# and an allowance) takes, at its turn, the least of what every one of them
# has left; what one cap cuts changes what the others see after. That is a
# fold over a beneficiary's capped awards in issue order, which `folded`
# computes with a recursive CTE. Its state is, per cap, the period of the
# beneficiary's last award drawing from it and what was drawn in it, and
# the period before that one with its use: in a time zone whose clocks go
# back over midnight, an award's local date can return to the day before
# (never further), and the Python engine then draws again from that day's
# use (its keys are periods), as the second slot does here.


def member(n: int) -> str:
    """Whether an award row draws from cap `c{n}` (its `cap` key: `c{n}`
    for one cap, ` c{n} c{m} ` for several)."""
    return f"(cap = 'c{n}' OR cap LIKE '% c{n} %')"


def folded(compiler: _Compiler, body: str) -> str:
    """The award rows with every cap applied by the fold (see above), the
    cut amount written as the Python engine writes it; those cut to
    nothing left out."""
    from .compile import ISSUE_ORDER, MAX_DIGITS

    wide = f"DECIMAL({MAX_DIGITS}, {compiler.scale})"
    drawn = list(compiler.caps.values())
    keys = "".join(f", CASE WHEN {member(n)} THEN {period(cap)} END AS q{n}" for n, cap in drawn)
    hidden = ", ".join(("seq", *(f"q{n}" for n, _ in drawn)))
    if has_periods(cap for _, cap in drawn):
        body, hidden = dated(body, compiler.checked.timezone), hidden + ", local_day"
    seq = f"ROW_NUMBER() OVER (PARTITION BY beneficiary, cap IS NULL ORDER BY {ISSUE_ORDER})"
    ordered = f"SELECT *{keys}, CASE WHEN cap IS NOT NULL THEN {seq} END AS seq FROM (\n{body}\n) AS w"
    start = ", ".join(
        f"CAST(NULL AS VARCHAR) AS sp{n}, CAST(0 AS {wide}) AS su{n}, CAST(NULL AS VARCHAR) AS sr{n}, CAST(0 AS {wide}) AS sv{n}"
        for n, _ in drawn
    )
    carried = ", ".join(f"f.p{n} AS sp{n}, f.u{n} AS su{n}, f.r{n} AS sr{n}, f.v{n} AS sv{n}" for n, _ in drawn)
    first = f"SELECT o.*, {start} FROM ordered AS o WHERE o.seq = 1"
    then = (
        f"SELECT o.*, {carried} FROM fold AS f JOIN ordered AS o ON o.beneficiary = f.beneficiary AND o.seq = f.seq + 1"
    )
    fold = f"fold AS (\n{_fold_step(drawn, wide, first)}\nUNION ALL\n{_fold_step(drawn, wide, then)}\n)"
    granted = "SELECT o.*, COALESCE(f.granted, o.wanted) AS granted FROM ordered AS o LEFT JOIN fold AS f USING (beneficiary, seq)"
    units = sorted(compiler.cap_units.items())
    return (
        f"WITH RECURSIVE ordered AS ({ordered}),\n{fold}\n"
        f"SELECT * EXCLUDE ({hidden}) REPLACE (CASE WHEN granted = wanted THEN amount ELSE {_cut_text(units)} END AS amount) "
        f"FROM (SELECT *, {_paid(units)} AS paid FROM ({granted}) AS g) AS k " + KEPT
    )


def _fold_step(drawn: list[tuple[int, CapInfo]], wide: str, source: str) -> str:
    """One step of the fold over the rows of `source` (an award and the
    state before it, `sp`/`su`/`sr`/`sv`): what it is granted (`Engine.
    _apply_caps`: nothing when a cap on a number of rewards is full, else
    the least of the amount and what each cap on an amount has left) and
    the state after it."""
    from .compile import number

    lefts, full = [], []
    for n, cap in drawn:
        used = f"(CASE WHEN q{n} = sp{n} THEN su{n} WHEN q{n} = sr{n} THEN sv{n} ELSE CAST(0 AS {wide}) END)"
        left = f"(CAST({number(cap.limit, None, '')} AS {wide}) - {used})"
        if cap.counts_rewards:
            full.append(f"(q{n} IS NOT NULL AND {left} < 1)")
        else:
            lefts.append(f"CASE WHEN q{n} IS NOT NULL AND {left} < wanted THEN {left} ELSE wanted END")
    least = f"LEAST(wanted, {', '.join(lefts)})" if lefts else "wanted"
    granted = f"CAST(CASE WHEN {' OR '.join(full) or 'FALSE'} THEN 0 ELSE {least} END AS {wide})"
    states = []
    for n, cap in drawn:
        used = f"(CASE WHEN q{n} = sr{n} THEN sv{n} ELSE CAST(0 AS {wide}) END)"  # a period before: kept, or new
        drew = f"CASE WHEN g > 0 THEN {'1' if cap.counts_rewards else 'g'} ELSE 0 END"
        stays = f"(q{n} IS NULL OR q{n} = sp{n})"
        states.append(
            f"CASE WHEN {stays} THEN sp{n} ELSE q{n} END AS p{n}, "
            f"CAST(CASE WHEN q{n} IS NULL THEN su{n} WHEN q{n} = sp{n} THEN su{n} + {drew} ELSE {used} + {drew} END AS {wide}) AS u{n}, "
            f"CASE WHEN {stays} THEN sr{n} ELSE sp{n} END AS r{n}, "
            f"CAST(CASE WHEN {stays} THEN sv{n} ELSE su{n} END AS {wide}) AS v{n}"
        )
    return f"SELECT beneficiary, seq, g AS granted, {', '.join(states)} FROM (SELECT *, {granted} AS g FROM ({source}) AS s) AS x"


def _cut_text(units: list[tuple[str, str]]) -> str:
    """An award's amount after a cap cut it, written in its unit (`units`:
    each `cap` key of a reward under a cap on an amount, with that unit,
    the reward's own): in a currency rounded half to even to its minor
    unit, as the engine quantizes what a cap leaves (a cap's limit may
    have more decimals); in another unit exact."""
    from .compile import literal

    texts = [f"WHEN {literal(key)} THEN {_issued_text(unit)}" for key, unit in units]
    return f"CASE cap {' '.join(texts)} END" if texts else "amount"


def _issued_text(unit: str) -> str:
    from .compile import _plain_text, half_even_units, money_text

    if is_currency(unit):
        return money_text(half_even_units("granted", minor_exponent(unit)), minor_exponent(unit))
    return _plain_text("granted", unit)


def _paid(units: list[tuple[str, str]]) -> str:
    """Whether an award row is issued: what the caps left of it is above 0
    once rounded as issued (`_cut_text`); the engine rounds, then withholds
    0, though the cap counted what it left (`granted`, kept as drawn)."""
    from .compile import half_even_units, literal

    rounded = [
        f"WHEN {literal(key)} THEN {half_even_units('granted', minor_exponent(unit))} > 0"
        for key, unit in units
        if is_currency(unit)
    ]
    return f"CASE cap {' '.join(rounded)} ELSE granted > 0 END" if rounded else "granted > 0"
