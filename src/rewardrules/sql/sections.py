"""The explained output's sections in SQL: `referrals`, `referrers` and
`withheld` (docs/sql.md, "The explained output").

The default result of `score` explains each referral (its programs, the
metrics at the as-of, each milestone reached or how far it is), each
referrer's per-referrer milestones, and each reward reached but not paid.
The facts come from three statements over the same CTEs as the awards
query (`compile.Query`), compiled by one compiler so that the ledger table
has every column they read:

- `referrals`: one row per accepted referral, in processing order: its
  event, its eligibility flags `e0`, `e1`, ..., whether it has rows in
  `totals` (`has`), each metric's value after its last row as text (`v0`,
  `v1`, ...: money with its sign, another number `VALUE@EXPONENT`, as
  `messages.value_text` writes them for messages; a per-referrer metric
  after its referrer's last row), the awards of each milestone reached for
  it (`reached`: `K RANK ID;K RANK ID`, each award's milestone index, its
  rank in issue order and its id) and the milestones whose every reward
  was withheld (`held`: `K K`);
- `referrers`: per referrer of a program with per-referrer milestones (in
  name order), the same for those;
- `withheld`: the rewards reached but not issued, in issue order: cut to
  nothing by its caps, or an amount of 0 or less or without a value; `raw`
  is the amount asked, as text, `cap` the key of the reward's caps and
  `u{n}` what the beneficiary had drawn from cap `c{n}` before it (the
  engine's reason is replayed from them: `_withheld_rows`).

Under an attribution that moves, each referral row also says, per such
program, whether it holds the referee, whether the referee converted, the
next referral that took it and the last one before it that did (`_chain`:
the engine's chain of the referee's referrals, as its report reads it). A
per-referrer metric reading a per-referral one is computed on the
referral's last row with its referrer's running sums (`_merged`).

The texts (progress lines, ineligibility) are written by the Python
engine's own report from these facts (`cli.sql_sections`), so they are its
words byte for byte. What this module cannot compile yet is refused, for
the explained output only (`--no-explain` is not): a metric whose value
cannot be written exactly (`messages.value_text`). A timer has its clock
at the as-of (`_clock`) in the referral rows, and a held condition
counted per referrer (one clock per referrer) in the referrer rows, which
then carry their first referral's facts as a referral row does: the
engine's report tells a per-referrer timer's progress from that referral.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..check.program import MetricInfo, ProgramInfo
from ..compiler.generate import CompiledMilestone, CompiledRuleset
from ..core.datatypes import BOOLEAN, DURATION, NUMBER, QUANTITY, TEXT, TIME
from ..core.runtime import in_context
from ..syntax import nodes as ast
from . import attribution, caps, messages, timers
from . import history as earlier
from .compile import (
    AT,
    ISSUE_ORDER,
    Column,
    Query,
    Unsupported,
    _Compiler,
    compile_query,
    gap,
    later_by,
    literal,
    printed,
    unrolled,
)


@dataclass(frozen=True, slots=True)
class Sections:
    """The statements of the explained sections (see the module)."""

    referrals: str
    #: "" when no program has a per-referrer milestone
    referrers: str
    withheld: str
    #: per program, the metrics whose values the rows carry, in the order
    #: of the snapshot the Python engine writes (`v0`, `v1`, ... in order
    #: over all programs)
    metrics: tuple[tuple[str, ...], ...]
    #: the metrics settled at the referral (`count earlier referrals`):
    #: their values are in every row, `has` or not
    settled: frozenset[str] = frozenset()
    #: the timer milestones, by index: their clocks are the referral rows'
    #: `since{k}`, `event{k}` and `due{k}` (`_clock`)
    clocks: tuple[int, ...] = ()
    #: the programs whose attribution moves: the referral rows tell, per
    #: such program, who holds the referee (`_chain`)
    moving: tuple[int, ...] = ()
    #: the held conditions counted per referrer, by index: their clocks
    #: (one per referrer) are the referrer rows' `since{k}`, `event{k}`
    #: and `due{k}`; a file with a timer per referrer has its referrer
    #: rows carry their first referral's facts too, as a referral row
    referrer_clocks: tuple[int, ...] = ()

    def without_recursion(self, folds: Sequence[tuple[str, str]]) -> Sections:
        """The statements with the query's folds written without recursion
        (`Query.without_recursion`): they read its CTEs."""
        return replace(
            self,
            referrals=unrolled(self.referrals, folds),
            referrers=unrolled(self.referrers, folds),
            withheld=unrolled(self.withheld, folds),
        )

    def statements(self) -> list[tuple[str, str]]:
        """The statements `rewardrules sql --sections` prints, with titles."""
        found = [("referrals, explained", self.referrals)]
        found += [("referrers, explained", self.referrers)] if self.referrers else []
        return [*found, ("withheld rewards", self.withheld)]


@dataclass(frozen=True, slots=True)
class Explained:
    """The query and its explained sections, as `rewardrules sql --sections`
    prints them: each statement reads the `ledger` and `as_of` tables."""

    query: Query
    sections: Sections

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.query.columns

    def without_recursion(self) -> Explained:
        return Explained(self.query.without_recursion(), self.sections.without_recursion(self.query.folds))

    def statements(self) -> list[tuple[str, str]]:
        return [*self.query.statements(), *self.sections.statements()]

    def text(self) -> str:
        return printed(self.statements(), self.query.optimizers_off)


@in_context
def compile_explained(compiled: CompiledRuleset) -> tuple[Query, Sections]:
    """The program's query and its explained sections, compiled together
    (the query's ledger columns then hold what the sections read); or
    `Unsupported` naming a construct whose explanation does not compile."""
    compile_query(compiled)  # what does not compile at all is refused first, as without explanations
    compile_query(compiled, explain=True)  # then what the awards' `why` cannot give (sql/explain.py)
    compiler = _Compiler(compiled, explain=True)
    compiler.explaining = True
    texts = [_metric_texts(compiler, p, program) for p, program in enumerate(compiled.checked.programs)]
    query = compiler.query()
    return query, _sections(compiler, texts)


def _refusal(construct: str, node: object, compiler: _Compiler) -> Unsupported:
    return compiler.refuse(f"the explained output of {construct} (`--no-explain` leaves it out)", node)


def _refuse_later_referrers(compiler: _Compiler) -> None:
    """The `referrers` section reads the first program's eligibility
    (`_firsts`: `e0`), so a per-referrer milestone of a later program
    would be left out of it (the engine lists each referrer once per
    program with such milestones): refused at the first one."""
    for milestone in compiler.compiled.milestones:
        if milestone.program > 0 and milestone.info.level == "referrer":
            raise _refusal("per-referrer milestones in a program after the first", milestone.info.trigger, compiler)


def _metric_texts(compiler: _Compiler, index: int, program: ProgramInfo) -> list[tuple[MetricInfo, str, bool]]:
    """Each metric of program `index`'s snapshot with its value's text on
    a row of `totals` (registered before the query is built: its columns
    are then in `metered`), or, settled at the referral, of `accepted`
    (then True). A per-referrer metric is the program's own: a metric
    declared outside the programs counts the referrals of each apart."""
    compiler.program = index
    found = []
    for metric in program.metrics.values():
        if metric.type.kind == "error":
            continue
        if metric.type.kind not in (TEXT, BOOLEAN, NUMBER, QUANTITY, TIME, DURATION):
            raise _refusal(f"the metric `{metric.name}` (a {metric.type.kind})", metric.decl, compiler)
        agg = metric.aggregate
        if agg is not None and agg.earlier:  # settled at the referral, as `eligible when` reads it
            found.append((metric, f"CAST(a.{_earlier(compiler, metric)} AS VARCHAR)", True))
            continue

        if agg is not None and agg.fn == "count":  # whole: the engine counts from Decimal(0) in ones
            found.append((metric, f"CAST({compiler.metric(metric, metric.decl)} AS VARCHAR)", False))
            continue

        def refuse(construct: str, metric: MetricInfo = metric) -> Unsupported:
            return _refusal(construct, metric.decl, compiler)

        found.append((metric, messages.value_text(compiler, metric, metric.decl, refuse), False))
    return found


def _earlier(compiler: _Compiler, metric: MetricInfo) -> str:
    """`count earlier referrals ...`: its column of `refs`, carried into
    `accepted` (`history.earlier_count`; under an attribution that moves,
    through its fold: `compiler.carried`)."""
    compiler.in_eligibility = True
    try:
        column = earlier.earlier_count(compiler, metric, metric.decl)
    except Unsupported:
        raise _refusal(f"the metric `{metric.name}`", metric.decl, compiler) from None
    finally:
        compiler.in_eligibility = False
    if column not in compiler.carried:
        compiler.carried.append(column)
    return column


def _reads_referral_metric(
    compiler: _Compiler, metric: MetricInfo, known: dict[MetricInfo, bool] | None = None
) -> bool:
    """Whether a per-referrer formula reads a per-referral metric: its
    value is then at no one row of `totals` (each formula walked once:
    `known`, or a chain of formulas naming the one before twice is
    exponential)."""
    known = {} if known is None else known
    if metric.formula is None:
        return False
    if metric in known:
        return known[metric]
    known[metric] = False
    for node in ast.walk(metric.formula):
        binding = compiler.checked.bindings.get(node) if isinstance(node, ast.Ref) else None
        found = binding.metric if binding is not None and binding.kind == "metric" else None
        if found is not None and (found.level == "referral" or _reads_referral_metric(compiler, found, known)):
            known[metric] = True
            break
    return known[metric]


def _last(key: str) -> str:
    """The rows of `totals` last in processing order per `key` (`rid`: a
    referral's; `referrer`: its referrer's, where the running sums of the
    per-referrer metrics have their value as of the end)."""
    order = 'ORDER BY "at" DESC, id DESC'
    return f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {key} {order}) AS lastn FROM totals) AS t WHERE lastn = 1"


def _sections(compiler: _Compiler, texts: list[list[tuple[MetricInfo, str, bool]]]) -> Sections:
    """The three statements, over the pieces `compiler.query()` kept."""
    checked = compiler.checked
    _refuse_later_referrers(compiler)
    per_referrer = [m.info.index for m in compiler.compiled.milestones if m.info.level == "referrer"]
    listed = ", ".join(map(str, per_referrer))
    scope = f"CASE WHEN milestone_index IN ({listed}) THEN '' ELSE referee END" if per_referrer else "referee"
    withheld = _withheld_rows(compiler)
    mine: list[str] = []  # per referral, after its last row
    theirs: list[str] = []  # per referrer, after its last row
    settled: list[str] = []  # per referral, at its event (in `accepted`)
    mixed: list[str] = []  # per referrer, reading a per-referral one: on `merged` (`_merged`)
    n = 0
    for program_texts in texts:
        for metric, sql, at_referral in program_texts:
            if at_referral:
                found = settled
            elif metric.level == "referrer":
                found = mixed if _reads_referral_metric(compiler, metric) else theirs
            else:
                found = mine
            found.append(f"{sql} AS v{n}")
            n += 1
    moving = attribution.moving(compiler)
    ctes = [
        f"issued AS ({compiler.issued})",
        f"withheld AS ({withheld})",
        # a text, not a list: DuckDB hands a text to Python several times
        # faster; unordered (an ordered aggregate is held in memory whole,
        # never spilled), each award with its rank in issue order; grouped by
        # its columns named (Postgres has no `GROUP BY ALL`)
        "got AS (SELECT referrer, scoped, STRING_AGG(CAST(milestone_index AS VARCHAR) || ' ' || CAST(rank AS VARCHAR) "
        "|| ' ' || id, ';') AS reached "
        f"FROM (SELECT milestone_index, referrer, {scope} AS scoped, id, ROW_NUMBER() OVER (ORDER BY {ISSUE_ORDER}) "
        "AS rank FROM issued) AS g GROUP BY referrer, scoped)",
        "held AS (SELECT referrer, scoped, STRING_AGG(DISTINCT CAST(milestone_index AS VARCHAR), ' ') AS held "
        f"FROM (SELECT milestone_index, referrer, {scope} AS scoped FROM withheld) AS w GROUP BY referrer, scoped)",
        *([f"merged AS ({_merged(compiler)})"] if mixed else []),
        f"mine AS (SELECT rid{''.join(', ' + c for c in [*mine, *mixed])} FROM "
        + ("merged" if mixed else f"({_last('rid')})")
        + " AS l)",
    ]
    if theirs:  # per-referrer metrics: their values after the referrer's last row
        ctes.append(f"theirs AS (SELECT referrer{''.join(', ' + c for c in theirs)} FROM ({_last('referrer')}) AS l)")
    timed_milestones = [m for m in compiler.compiled.milestones if timers.is_timer(m)]
    clocks = [m for m in timed_milestones if not _per_referrer_clock(m)]
    theirs_clocks = [m for m in timed_milestones if _per_referrer_clock(m)]
    ctes += [f"t{m.info.index} AS ({_clock(compiler, m)})" for m in [*clocks, *theirs_clocks]]
    if moving:
        ctes.append(_chain(compiler, moving))
        ctes += [_keeper(compiler, p) for p in sorted({m.program for m in clocks} & set(moving))]
    head = f"{compiler.prelude},\n" + ",\n".join(ctes) + "\n"
    from_accepted = {sql.rpartition(" AS ")[2]: sql for sql in settled}
    values = "".join(f", {from_accepted.get(f'v{k}', f'v{k}')}" for k in range(n))
    flags = "".join(f", a.e{p}" for p in range(len(checked.programs)))
    # a referral's facts its timers' progress reads: its clocks, who holds its referee
    timed = "".join(_clock_columns(clocks)) + "".join(_chain_columns(compiler, moving))
    timed_joins = "".join(_chain_joins(moving)) + "".join(_clock_join(m, moving) for m in clocks)
    referrals = (
        f'{head}SELECT a.rid, a.rat AS "at", a.referrer, a.referee{flags}, mine.rid IS NOT NULL AS has{values}, '
        f"got.reached, held.held{timed}"
        " FROM accepted AS a LEFT JOIN mine ON mine.rid = a.rid "
        + timed_joins
        + ("LEFT JOIN theirs ON theirs.referrer = a.referrer " if theirs else "")
        + "LEFT JOIN got ON got.referrer = a.referrer AND got.scoped = a.referee "
        "LEFT JOIN held ON held.referrer = a.referrer AND held.scoped = a.referee "
        "ORDER BY a.rat, a.rid"
    )
    referrers = ""
    if per_referrer:  # one program (`_Compiler._refuse_terms`)
        own = "".join(", " + c.rpartition(" AS ")[2] for c in [*theirs, *mixed])
        first = ""  # a per-referrer timer's progress reads the referrer's first referral, as a referral row
        if any(m.info.level == "referrer" for m in timed_milestones):
            own += f", a.rid AS first_rid, a.referee AS first_referee{flags}{timed}"
            own += "".join(_clock_columns(theirs_clocks))
            first = "JOIN accepted AS a ON a.rid = r.first_rid " + timed_joins
            first += "".join(f"LEFT JOIN t{k} ON t{k}.referrer = r.referrer " for k in _indexes(theirs_clocks))
        referrers = (
            f"{head}SELECT r.referrer, r.first_at, {'theirs.referrer IS NOT NULL' if theirs else 'FALSE'} AS has{own}, "
            "got.reached, held.held "
            f"FROM ({_firsts(moving)}) AS r "
            + first
            + ("LEFT JOIN theirs ON theirs.referrer = r.referrer " if theirs else "")
            + ("LEFT JOIN mine ON mine.rid = r.first_rid " if mixed else "")
            + "LEFT JOIN got ON got.referrer = r.referrer AND got.scoped = '' "
            "LEFT JOIN held ON held.referrer = r.referrer AND held.scoped = '' "
            "ORDER BY r.referrer"
        )
    drawn = "".join(f", u{n}" for n, _ in compiler.caps.values())
    ordered = (
        f'{compiler.prelude},\nwithheld AS ({withheld})\nSELECT "at", milestone_index, reward_index, role, '
        f"beneficiary, referrer, referee, cap, raw{drawn} FROM withheld ORDER BY {ISSUE_ORDER}"
    )
    names = tuple(tuple(m.name for m, _, _ in program_texts) for program_texts in texts)
    fixed = frozenset(m.name for program_texts in texts for m, _, at_referral in program_texts if at_referral)
    return Sections(
        referrals, referrers, ordered, names, fixed, _indexes(clocks), tuple(moving), _indexes(theirs_clocks)
    )


def _per_referrer_clock(milestone: CompiledMilestone) -> bool:
    """Whether a timer's clock is its referrer's (a held condition counted
    per referrer), not its referee's (`Timer.scope`)."""
    return timers.order_values(milestone)["scope"] == "referrer"


def _indexes(milestones: list[CompiledMilestone]) -> tuple[int, ...]:
    return tuple(m.info.index for m in milestones)


def _clock_columns(milestones: list[CompiledMilestone]) -> list[str]:
    """The columns of each timer's clock (`_clock`): `since{k}`, `event{k}`, `due{k}`."""
    return [f", t{k}.since AS since{k}, t{k}.ev AS event{k}, t{k}.due AS due{k}" for k in _indexes(milestones)]


def _chain(compiler: _Compiler, moving: list[int]) -> str:
    """`chain`: per accepted referral, its referee's first referral (`fi`,
    `fr`, `fa`: the head of the engine's chain of the referee's accepted
    referrals) and, per program `p` whose attribution moves, the last
    referral before it that took the referee there (`oi{p}`, `or{p}`):
    whom `Reporter._not_counted` names."""
    referee = "PARTITION BY referee ORDER BY rat, rid"
    before = f"({referee} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    owners = "".join(
        f", LAST_VALUE(CASE WHEN e{p} THEN {value} END IGNORE NULLS) OVER {before} AS {name}{p}"
        for p in moving
        for name, value in (("oi", "rid"), ("or", "referrer"))
    )
    firsts = "".join(
        f", FIRST_VALUE({value}) OVER ({referee}) AS {name}"
        for name, value in (("fi", "rid"), ("fr", "referrer"), ("fa", "rat"))
    )
    return f"chain AS (SELECT rid{firsts}{owners} FROM accepted)"


def _keeper(compiler: _Compiler, p: int) -> str:
    """`o{p}`: per referee, the referral whose timers in program `p` (whose
    attribution moves) the engine's state keeps at the as-of: the last
    that took the referee there, unless its lapse released it since (at
    the referee's first event past the lapse, unless the referee had
    converted before it: `Engine._attribute`). The engine keeps one clock
    per referee and milestone (`Timer.key`), and its report reads it for
    each referral of the referee (`Reporter._timer_rang`, whether a timer
    rang: `closed`)."""
    last = f"SELECT referee, rid, rat FROM accepted WHERE e{p} AND nx{p} IS NULL"
    lapse = compiler.checked.programs[p].attribution.lapse_ns
    if lapse is None:
        return f"o{p} AS ({last})"
    after = '(e."at" > l.rat OR (e."at" = l.rat AND e.id > l.rid))'
    converted = '(c.referee IS NOT NULL AND (c."at" < e."at" OR (c."at" = e."at" AND c.id < e.id)))'
    released = (
        "EXISTS (SELECT 1 FROM scored AS e WHERE e.referee = l.referee AND e.type <> 'referral' "
        f"AND {after} AND {gap('e.' + AT, 'l.rat')} > {lapse} AND NOT {converted})"
    )
    return (
        f"o{p} AS (SELECT l.referee, l.rid FROM ({last}) AS l "
        f"LEFT JOIN conv{p} AS c ON c.referee = l.referee WHERE NOT {released})"
    )


def _clock_join(milestone: CompiledMilestone, moving: list[int]) -> str:
    """The join of a referral row with a timer's clock (`t{k}`): its own,
    or in a program whose attribution moves, the clock the engine keeps
    for its referee (`_keeper`)."""
    k, p = milestone.info.index, milestone.program
    if p not in moving:
        return f"LEFT JOIN t{k} ON t{k}.rid = a.rid "
    return f"LEFT JOIN o{p} AS ok{k} ON ok{k}.referee = a.referee LEFT JOIN t{k} ON t{k}.rid = ok{k}.rid "


def _chain_columns(compiler: _Compiler, moving: list[int]) -> list[str]:
    """The referral row's columns of an attribution that moves, per such
    program `p`: whether it holds the referee at the as-of (`h{p}`: it took
    it, no later referral took it, and it converted within the lapse or
    the lapse has not passed: `Reporter._holds`), whether the referee
    converted (`cv{p}`), the next referral that took it (`nx{p}`, `ni{p}`,
    `nr{p}`); and `chain`'s columns."""
    found = [", ch.fi, ch.fr"]
    for p in moving:
        lapse = compiler.checked.programs[p].attribution.lapse_ns
        holds = f"a.e{p} AND a.nx{p} IS NULL"
        if lapse is not None:
            holds += f" AND (a.fv{p} OR {gap(f'(SELECT {AT} FROM as_of)', 'a.rat')} <= {lapse})"
        found.append(
            f", COALESCE({holds}, FALSE) AS h{p}, k{p}.referee IS NOT NULL AS cv{p}, a.nx{p}, a.ni{p}, "
            f"n{p}.referrer AS nr{p}, ch.oi{p}, ch.or{p}"
        )
    return found if moving else []


def _chain_joins(moving: list[int]) -> list[str]:
    joins = [
        f"LEFT JOIN conv{p} AS k{p} ON k{p}.referee = a.referee LEFT JOIN accepted AS n{p} ON n{p}.rid = a.ni{p} "
        for p in moving
    ]
    return ["LEFT JOIN chain AS ch ON ch.rid = a.rid ", *joins] if moving else []


def _merged(compiler: _Compiler) -> str:
    """Per referral, its last row of `totals` with the running sums of
    the per-referrer metrics (`R{k}`) its referrer's after the referrer's
    last row: where a per-referrer formula reading a per-referral metric
    has the value the engine's snapshot gives it (the referral's values,
    its referrer's)."""
    sums = [f"R{k}" for k in range(len(compiler.contributions))]
    replaced = ", ".join(f"t.{c} AS {c}" for c in sums)
    ends = f"SELECT referrer{''.join(', ' + c for c in sums)} FROM ({_last('referrer')}) AS e"
    return f"SELECT l.* REPLACE ({replaced}) FROM ({_last('rid')}) AS l JOIN ({ends}) AS t ON t.referrer = l.referrer"


def _firsts(moving: list[int]) -> str:
    """The referrers of the per-referrer milestones (one program: `e0`)
    with the instant and id of the referral the engine's report reads for
    each (`first_at`, `first_rid`): its first in the engine's order of
    referrals (`State.every_referral`: by the referee's first referral,
    then the referee's later ones), which is its earliest unless an
    attribution moves."""
    if moving:
        ranked = (
            "SELECT a.referrer, a.rat, a.rid, a.e0, ROW_NUMBER() OVER (PARTITION BY a.referrer "
            "ORDER BY ch.fa, ch.fi, a.rat, a.rid) AS k FROM accepted AS a JOIN chain AS ch ON ch.rid = a.rid"
        )
    else:
        ranked = "SELECT referrer, rat, rid, e0, ROW_NUMBER() OVER (PARTITION BY referrer ORDER BY rat, rid) AS k FROM accepted"
    return (
        "SELECT referrer, MAX(CASE WHEN k = 1 THEN rat END) AS first_at, MAX(CASE WHEN k = 1 THEN rid END) AS first_rid "
        f"FROM ({ranked}) AS f GROUP BY referrer HAVING bool_or(e0)"
    )


def _clock(compiler: _Compiler, milestone: CompiledMilestone) -> str:
    """Per referral (per referrer for a held condition counted per
    referrer: `timers.held_scope`), the clock of a timer milestone as the
    engine keeps it at the as-of (`Timer`: `since`, its event `ev`,
    `due`): for `after D`, started at the referral or its first EVENT
    (none yet: no row); for `when C for D`, the run of C that holds after
    the last test of C (`timers.held_tests`; C not holding then: no row).
    Whether it is pending (due after the as-of) or rang is told by `due`."""
    info = milestone.info
    trigger = info.trigger
    p = milestone.program
    if isinstance(trigger, ast.AfterTrigger):
        delay = timers._ns(trigger.delay)
        if trigger.anchor is None:
            return f"SELECT rid, rat AS since, rid AS ev, {later_by('rat', delay)} AS due FROM accepted WHERE e{p}"
        first = 'ROW_NUMBER() OVER (PARTITION BY rid ORDER BY "at", id) AS n'
        return (
            f"SELECT rid, {AT} AS since, id AS ev, {later_by(AT, delay)} AS due FROM (SELECT rid, {AT}, id, {first} "
            f"FROM seen WHERE e{p} AND type = {literal(trigger.anchor.text)}) AS f WHERE n = 1"
        )
    assert isinstance(trigger, ast.WhenTrigger) and trigger.held is not None
    # C reads its own program's per-referrer values, as in the awards query
    # (`_Compiler.milestone`): the metrics' texts left the last program's
    compiler.program, compiler.voided.current = p, info.index
    scope = timers.held_scope(milestone)
    so_far = f'(PARTITION BY {scope} ORDER BY "at", id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)'
    starts = (
        f'SELECT {scope}, c, LAST_VALUE(CASE WHEN c AND NOT was THEN "at" END IGNORE NULLS) OVER {so_far} AS since, '
        f"LAST_VALUE(CASE WHEN c AND NOT was THEN id END IGNORE NULLS) OVER {so_far} AS ev, "
        f'ROW_NUMBER() OVER (PARTITION BY {scope} ORDER BY "at" DESC, id DESC) AS lastn '
        f"FROM ({timers.held_tests(compiler, milestone)}) AS b"
    )
    return f"SELECT {scope}, since, ev, {later_by('since', timers._ns(trigger.held))} AS due FROM ({starts}) AS s WHERE lastn = 1 AND c"


def _withheld_rows(compiler: _Compiler) -> str:
    """The rewards reached but not issued, with the columns of the issue
    order: those a cap cut to nothing, and those whose amount is 0 or less
    or has no value; each with its `cap` key (its caps' numbers in the
    reward's order, `c0` or ` c0 c2 `) and, per cap `c{n}`, what its
    beneficiary had drawn from it in the award's period before it (`u{n}`,
    as text): the Python engine's reason is the last of the reward's caps
    that cut it (`Engine._apply_caps`, replayed on these by
    `cli.sql_sections.withheld`), or the amount's when none did."""
    keep = '"at", late, event, milestone_index, scope, nth, reward_index, role, beneficiary, referrer, referee'
    issued = compiler.issued
    parts = []
    if issued.endswith(caps.KEPT):  # a file with caps: every capped row, with what it was granted
        parts.append(f"SELECT {keep}, cap, raw, granted, paid FROM ({issued.removesuffix(caps.KEPT)}) AS capped")
    for milestone in compiler.compiled.milestones:
        own = [compiler.reward_row(milestone, index, keep=False) for index in range(len(milestone.rewards))]
        nothing = [
            f"SELECT {keep}, cap, raw, 0 AS granted, FALSE AS paid FROM ({row}) AS nothing"
            for row in own
            if not row.endswith(" WHERE FALSE")
        ]
        parts.extend(compiler.reading(milestone.info.index, nothing))
    if not parts:
        return (
            'SELECT CAST(NULL AS BIGINT) AS "at", 0 AS late, CAST(NULL AS VARCHAR) AS event, 0 AS milestone_index, '
            "'' AS scope, 0 AS nth, 0 AS reward_index, '' AS role, '' AS beneficiary, '' AS referrer, "
            "'' AS referee, CAST(NULL AS VARCHAR) AS cap, CAST(NULL AS VARCHAR) AS raw WHERE FALSE"
        )
    rows = "\nUNION ALL\n".join(parts)
    drawn = _drawn(compiler)
    used = "".join(f", {sql} AS u{n}" for n, sql in drawn)
    shown = "".join(f", u{n}" for n, _ in drawn)
    if caps.has_periods(cap for _, cap in compiler.caps.values()):
        rows = caps.dated(rows, compiler.checked.timezone)
    return f"SELECT {keep}, cap, raw{shown} FROM (SELECT *{used} FROM ({rows}) AS r) AS u WHERE NOT paid"


def _drawn(compiler: _Compiler) -> list[tuple[int, str]]:
    """Per cap `c{n}`, what a row's beneficiary drew from it in the row's
    period before the row, in issue order (an award granted something
    draws 1 from a cap on a number of rewards, what it was granted from
    one on an amount), as text; NULL when nothing (or the row does not
    draw from it)."""
    found = []
    before = f"ORDER BY {ISSUE_ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    for n, cap in compiler.caps.values():
        member = caps.member(n)
        drew = "1" if cap.counts_rewards else "granted"
        window = f"PARTITION BY beneficiary, {member}, CASE WHEN {member} THEN {caps.period(cap)} END"
        found.append((n, f"CAST(SUM(CASE WHEN granted > 0 THEN {drew} END) OVER ({window} {before}) AS VARCHAR)"))
    return found


#: the rows fetched at a time (as `write._BATCH`)
_BATCH = 20_000

#: the tables `prepare` makes, by section
_TABLES = {"referrals": "explained_referrals", "referrers": "explained_referrers", "withheld": "explained_withheld"}


@dataclass(slots=True)
class Fetched:
    """The sections' rows, each an iterator of dicts read a batch at a time
    when first asked for (after the awards: a query run on the connection
    meanwhile would end the one being read), and the referral events not
    eligible in some program (their lines are read for the explanation)."""

    referrals: Iterable[dict[str, Any]]
    referrers: Iterable[dict[str, Any]]
    withheld: Iterable[dict[str, Any]]
    partial: list[str]
    #: the statements they come from (their metrics, their clocks)
    sections: Sections


def prepare(connection: Any, sections: Sections, programs: int) -> Fetched:
    """Run the statements into tables of the session (kept in their
    order), and return their rows to be read later."""
    for name, table in _TABLES.items():
        sql = getattr(sections, name)
        if sql:
            connection.execute(f"CREATE TABLE {table} AS {sql}")
    every = " AND ".join(f"e{p}" for p in range(programs))
    partial = [
        row[0]
        for row in connection.execute(
            f"SELECT rid FROM {_TABLES['referrals']} WHERE NOT COALESCE({every}, FALSE)"
        ).fetchall()
    ]
    return Fetched(
        _rows(connection, _TABLES["referrals"]),
        _rows(connection, _TABLES["referrers"]) if sections.referrers else iter(()),
        _rows(connection, _TABLES["withheld"]),
        partial,
        sections,
    )


def _rows(connection: Any, table: str) -> Iterator[dict[str, Any]]:
    cursor = connection.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cursor.description]
    while batch := cursor.fetchmany(_BATCH):
        yield from (dict(zip(names, row, strict=True)) for row in batch)


def fetch_all(connection: Any, sections: Sections, programs: int) -> Fetched:
    """`prepare`, every row read now (the Python reader's path, whose
    session ends when the run returns)."""
    fetched = prepare(connection, sections, programs)
    return Fetched(list(fetched.referrals), list(fetched.referrers), list(fetched.withheld), fetched.partial, sections)
