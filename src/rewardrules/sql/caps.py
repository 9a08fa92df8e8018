"""Caps compiled to SQL: on an amount or on a number of rewards, for life or
per calendar period (in the program's time zone), and allowances shared by
programs (docs/semantics.md, "Amounts, rounding, caps").

Awards draw from a cap in the order they are issued. Each reward counted
by one cap only (several caps on one reward are refused: one cap's cut
changes what the next one sees, a sequential fold), what the cap has
granted after an award is the smaller of what was asked so far and the
limit, as every amount asked is positive. So, per cap, beneficiary and
period, in issue order:

- on an amount, an award gets `min(W, L) - min(W - a, L)` (W: the amounts
  asked so far, its own `a` included), the one that reaches the limit cut
  to what remains;
- on a number of rewards, an award is issued while its rank (1, 2, ...) is
  at most N, and withheld after.

A withheld award (cut to nothing) is left out, as in `--no-explain`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..check.program import CapInfo

if TYPE_CHECKING:
    from .compile import _Compiler

#: nanoseconds in a day; an instant's UTC day is its floor division by it
_DAY = 86_400_000_000_000

#: DuckDB's DATE_TRUNC unit of each calendar period (`week` starts on a
#: Monday, as an ISO week does)
_TRUNC = {"week": "week", "month": "month", "quarter": "quarter", "year": "year"}


def local_date(timezone: str | None) -> str:
    """The calendar date of an award's instant (`"at"`, ns since the epoch)
    in the program's time zone, as a DATE. In UTC from exact integer
    arithmetic (floor division, right for instants before 1970 too); in a
    zone with DuckDB's `timezone()` (its ICU time-zone data, built in)."""
    if timezone is None:
        days = f'("at" // {_DAY} - CASE WHEN "at" % {_DAY} < 0 THEN 1 ELSE 0 END)'
        return f"(DATE '1970-01-01' + CAST({days} AS INTEGER))"
    from .compile import literal

    micros = '(("at" - (("at" % 1000) + 1000) % 1000) // 1000)'  # floor: whole microseconds
    return f"CAST(TIMEZONE({literal(timezone)}, MAKE_TIMESTAMPTZ({micros})) AS DATE)"


def period(cap: CapInfo, timezone: str | None) -> str:
    """The key of the calendar period of an award's instant for `cap`: the
    period's first day as text ('' for a cap without period). Any key that
    names the period once will do: the rows are only grouped by it."""
    if cap.period is None:
        return "''"
    date = local_date(timezone)
    if cap.period == "day":
        return f"CAST({date} AS VARCHAR)"
    return f"CAST(CAST(DATE_TRUNC('{_TRUNC[cap.period]}', {date}) AS DATE) AS VARCHAR)"


def capped(compiler: _Compiler, body: str) -> str:
    """The award rows (`body`: their `cap` key, `beneficiary`, `wanted`
    amount) with their caps applied, the cut amount written as the Python
    engine writes it."""
    from .compile import MAX_DIGITS, _plain_text, number

    if not compiler.caps:
        return f"SELECT *, wanted AS granted FROM (\n{body}\n) AS wanted"
    wide = f"DECIMAL({MAX_DIGITS}, {compiler.scale})"
    timezone = compiler.checked.timezone
    texts, limits, periods, counted = [], [], [], []
    for n, cap in compiler.caps.values():
        limits.append(f"WHEN 'c{n}' THEN CAST({number(cap.limit, None, compiler.path)} AS {wide})")
        periods.append(f"WHEN 'c{n}' THEN {period(cap, timezone)}")
        if cap.counts_rewards:
            counted.append(f"'c{n}'")
        else:
            texts.append(f"WHEN 'c{n}' THEN {_plain_text('granted', cap.unit)}")
    counts = f"cap IN ({', '.join(counted)})" if counted else "FALSE"
    each = f"CASE WHEN {counts} THEN CAST(1 AS {wide}) ELSE wanted END"  # what an award asks of its cap
    so_far = (
        f'SUM({each}) OVER (PARTITION BY cap, beneficiary, period ORDER BY "at", late, event, milestone_index, '
        "scope, reward_index ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )
    limit = f"CASE cap {' '.join(limits)} END"
    granted = (
        f"CASE WHEN cap IS NULL THEN wanted WHEN {counts} THEN wanted * CASE WHEN used <= {limit} THEN 1 ELSE 0 END "
        f"ELSE CAST(LEAST(used, {limit}) - LEAST(used - wanted, {limit}) AS {wide}) END"
    )
    cut = f"CASE cap {' '.join(texts)} END" if texts else "amount"
    keyed = f"SELECT *, CASE cap {' '.join(periods)} ELSE '' END AS period FROM (\n{body}\n) AS wanted"
    return (
        f"SELECT * EXCLUDE (period, used) REPLACE (CASE WHEN granted = wanted THEN amount ELSE {cut} END AS amount) "
        f"FROM (SELECT *, CAST({granted} AS {wide}) AS granted FROM (SELECT *, {so_far} AS used FROM ({keyed}) AS p) AS u) AS g "
        "WHERE granted > 0"
    )
