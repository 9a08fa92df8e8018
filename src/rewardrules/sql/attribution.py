"""Attribution that moves (`attribution last referral ...`, `... lapses
after D ...`) compiled to SQL (docs/semantics.md, "Attribution that
moves"; docs/sql.md, "Attribution").

Whether a later referral takes its referee in a program depends on what
the referee's earlier referrals did: who holds it there (a `first` model
waits for the holder to lapse), which referrers took it (a referrer takes
a referee once, in any program), how many referrals were accepted (100 at
most). That is a fold over a referee's referral events in processing
order, which `ctes` computes with a recursive CTE (`fold`; for an engine
without one, Spark SQL 4.0, the same rows by `_unrolled`), one step per
referral event: its decision per program (`t{p}`: it takes the referee
there), whether it is accepted (`ok`: it takes it somewhere; the first
referral always is), the `duplicate_referral` detail of one that is not,
and the state after it (the chain's referrers and their text, the number
accepted, per program the instant and referrer of the last that took it).

The conversion does not depend on the fold: it is the referee's first
event of the named type meeting the `where`, after its first referral
(`conv{p}`). From the fold, each accepted referral gets per program the
next referral that took the referee there (`nx{p}`, `ni{p}`) and whether
it converted while holding it (`fv{p}`: it holds it for good). A row of
`seen` then holds the referee in the program (`e{p}`, per row here, where
a file without a moving attribution has the referral's flag) before that
next referral and, under a lapse, unless it converted in time, up to its
instant plus the lapse; and it counts for the referral's metrics
(`live`) while it holds the referee somewhere (or the referral is
eligible nowhere), as `Engine._counts` says. Rows that no longer count
stay in `seen` for the `void if` clauses: a void event of the referee
still voids an award of a referral that no longer holds it. A referral
counts in its referrer's metrics over referrals from its own flag
(`took{p}`, `counted`), as it keeps counting after it lost the referee,
with its contribution as of its last row that held it (`contribution`).
A timer's start is kept while its referral holds the referee at its
instant (`holding_at_due`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..check.program import MetricInfo, ProgramInfo
from ..core.limits import MAX_REFERRALS_PER_REFEREE
from ..syntax import nodes as ast
from . import compile as sql  # not `from .compile import`: compile.py imports this module

if TYPE_CHECKING:
    from ..compiler.generate import CompiledMilestone
    from .compile import _Compiler


def moving(compiler: _Compiler) -> list[int]:
    """The programs whose attribution moves, by index."""
    return [p for p, program in enumerate(compiler.checked.programs) if program.attribution.moves]


def holding_at_due(compiler: _Compiler, p: int, starts: str) -> str:
    """A timer's starts (`starts`: `srid`, `due`, with explanations `sev`) in program `p`, kept when
    its referral still holds the referee there at `due`: the Python engine
    drops a referral's timers when it loses the referee (`Engine._release`:
    at the event of the next referral that takes it, at or before `due`,
    or at the referee's first event after the lapse) and, at the timer's
    instant, pays only while the referral holds it (`Engine.holds`: not
    lapsed then, or converted within the lapse, `fv{p}`). A program whose
    attribution does not move keeps every start."""
    program = compiler.checked.programs[p]
    if p not in moving(compiler):
        return starts
    tests = [f"a.e{p}", f"(a.nx{p} IS NULL OR a.nx{p} > s.due)"]
    lapse = program.attribution.lapse_ns
    if lapse is not None:
        tests.append(f"(a.fv{p} OR {sql.gap('s.due', 'a.rat')} <= {lapse})")
    return f"SELECT s.* FROM ({starts}) AS s JOIN accepted AS a ON a.rid = s.srid WHERE {' AND '.join(tests)}"


def contribution(compiler: _Compiler, p: int, value: str, taken: str | None) -> str:
    """A referral's contribution to its referrer's metric over referrals in
    program `p` on each of its rows, given `value` (what it contributes
    when the engine computes it on a row: the referral took the referee
    there, `took{p}`, and the metric's `where` holds). Without a moving
    attribution, `value` itself. With one, the Python engine computes it
    only while the referral holds the referee in `p` (the row's `e{p}`:
    its step runs there) and keeps it as it was once the referral lost it
    (`Engine._release`), while the referral's metrics go on in a program
    it still holds: the value of its last row that held it. A count
    `unless voided` drops it to nothing from the row where `taken` (the
    flag of its milestone) turns true, held or not (`Engine._follow`)."""
    if not moving(compiler):
        return value
    order = 'PARTITION BY rid ORDER BY "at", id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW'
    kept = f"COALESCE(LAST_VALUE(CASE WHEN e{p} THEN {value} END IGNORE NULLS) OVER ({order}), 0)"
    if taken is None:
        return kept
    compiler.types.update(compiler.compiled.follows)  # their rows in `seen`: the drop is seen there
    return f"CASE WHEN {taken} THEN 0 ELSE {kept} END"


def refuse_mixed_held(compiler: _Compiler, milestone: CompiledMilestone) -> None:
    """Refuse a per-referrer held condition (`when C for D`) whose C reads
    a per-referral metric, in a program whose attribution moves, in a file
    of several programs: a referral that lost its referee there may hold
    it in another, where its metrics go on, on rows where C is not tested
    (they do not hold it in this program); when the clock falls due C may
    no longer hold, and the Python engine then drops the clock and starts
    a new one at the next event where C holds (`Engine._ring`,
    `_arm_one`), where the query's runs of C see no new start (found by
    review). Not followed yet."""
    info, p = milestone.info, milestone.program
    trigger = info.trigger
    if info.level == "referral" or not isinstance(trigger, ast.WhenTrigger) or trigger.held is None:
        return
    if p not in moving(compiler) or len(compiler.checked.programs) < 2:
        return
    read = metric_read(compiler, trigger.condition, lambda m: m.formula is None and m.level == "referral")
    if read is not None:
        raise compiler.refuse(
            f"a per-referrer held condition reading the per-referral metric `{read.name}` in a file of several "
            "programs, one whose attribution moves",
            trigger,
        )


def metric_read(compiler: _Compiler, expr: ast.Expr, wanted: Callable[[MetricInfo], bool]) -> MetricInfo | None:
    """The first metric `expr` reads, directly or through formulas, that
    is `wanted`, or None."""
    todo, seen = [expr], set()
    while todo:
        for node in ast.walk(todo.pop()):
            binding = compiler.checked.bindings.get(node) if isinstance(node, ast.Ref) else None
            metric = binding.metric if binding is not None else None
            if metric is None or metric.name in seen:
                continue
            seen.add(metric.name)
            if wanted(metric):
                return metric
            if metric.formula is not None:
                todo.append(metric.formula)
    return None


def counted(compiler: _Compiler, p: int) -> str:
    """Whether a referral counts in its referrer's metrics over referrals
    in program `p`: it took the referee there (`took{p}`, where the row's
    `e{p}` tells whether it still holds it, see `contribution`)."""
    return f"took{p}" if moving(compiler) else f"e{p}"


def ctes(compiler: _Compiler, flags: str) -> list[str]:
    """The CTEs from `refs` to `accepted` (see the module's docstring);
    `flags`: the eligibility flags `e{p}` as columns of a `refs` row."""
    programs = compiler.checked.programs
    found = [_conversion(compiler, p, programs[p]) for p in moving(compiler)]
    conv = "".join(f', c{p}."at" AS ca{p}, c{p}.id AS ci{p}' for p in moving(compiler))
    joins = "".join(f" LEFT JOIN conv{p} AS c{p} ON c{p}.referee = r.referee" for p in moving(compiler))
    found.append(f'cand0 AS (SELECT id, "at", referrer, referee, n{flags} FROM refs)')
    found.append(f"cand AS (SELECT r.*{conv} FROM cand0 AS r{joins})")
    first = "'`' || referrer || '` (event `' || id || '`)'"
    holders = "".join(
        f', CASE WHEN e{p} THEN "at" END AS ha{p}, CASE WHEN e{p} THEN referrer END AS hr{p}' for p in moving(compiler)
    )
    taken = "".join(f", e{p} AS t{p}" for p in range(len(programs)))
    start = (
        f"SELECT *{taken}, TRUE AS ok, CAST(NULL AS VARCHAR) AS detail, 1 AS cnt, "
        f"[referrer] AS chain, {first} AS owners{holders} FROM cand WHERE n = 1"
    )
    state = "f.cnt AS pc, f.chain AS pchain, f.owners AS powners" + "".join(
        f", f.ha{p} AS pha{p}, f.hr{p} AS phr{p}" for p in moving(compiler)
    )
    step = _step(compiler, f"SELECT c.*, {state} FROM f JOIN cand AS c ON c.referee = f.referee AND c.n = f.n + 1")
    fold = f"fold AS (WITH RECURSIVE f AS (\n{start}\nUNION ALL\n{step}\n) SELECT * FROM f)"
    compiler.folds.append((fold, _unrolled(compiler, start)))
    found.append(fold)
    found.append(_accepted(compiler))
    return found


def _conversion(compiler: _Compiler, p: int, program: ProgramInfo) -> str:
    """`conv{p}`: each referee's conversion in program `p`, its first event
    of the type named after `first` meeting the `where`, after the
    referee's first referral in processing order (`Engine._attribute`)."""
    from .compile import literal

    attribution = program.attribution
    assert attribution.event is not None  # it moves
    tests = [f"type = {literal(attribution.event)}"]
    if attribution.where is not None:
        tests.append(compiler.expr(attribution.where))
    events = f'SELECT referee, "at", id FROM scored WHERE {" AND ".join(tests)}'
    after = '(e."at" > f."at" OR (e."at" = f."at" AND e.id > f.id))'
    ranked = (
        f'SELECT e.referee, e."at", e.id, ROW_NUMBER() OVER (PARTITION BY e.referee ORDER BY e."at", e.id) AS k '
        f"FROM ({events}) AS e JOIN refs AS f ON f.referee = e.referee AND f.n = 1 WHERE {after}"
    )
    return f'conv{p} AS (SELECT referee, "at", id FROM ({ranked}) AS c WHERE k = 1)'


def _step(compiler: _Compiler, joined: str) -> str:
    """One step of the fold: the referee's next referral event judged on
    the state after the one before (`Engine._claim` and `_held`). `joined`:
    the referral events with that state (`pc`, `pchain`, `powners`, and
    per moving program `pha{p}`, `phr{p}`)."""
    programs = compiler.checked.programs
    reasons = "".join(f", {_reason(p, programs[p])} AS w{p}" for p in moving(compiler))
    full = f"pc >= {MAX_REFERRALS_PER_REFEREE}"
    judged = f"SELECT *{reasons} FROM ({joined}) AS j"
    moves = set(moving(compiler))
    takes = [f"(NOT {full} AND w{p} IS NULL)" if p in moves else "FALSE" for p in range(len(programs))]
    decided = f"SELECT *, {', '.join(f'{t} AS t{p}' for p, t in enumerate(takes))} FROM ({judged}) AS w"
    ok = " OR ".join(f"t{p}" for p in range(len(programs)))
    why = " || ".join(f"COALESCE('; ' || w{p}, '')" for p in sorted(moves))
    detail = (
        f"CASE WHEN ({ok}) THEN NULL ELSE '`' || referee || '` was already referred by ' || powners || "
        f"CASE WHEN {full} THEN '; it has ' || CAST(pc AS VARCHAR) || ' referrals, the most one referee may have' "
        f"ELSE {why} END END"
    )
    holders = "".join(
        f', CASE WHEN t{p} THEN "at" ELSE pha{p} END, CASE WHEN t{p} THEN referrer ELSE phr{p} END'
        for p in sorted(moves)
    )
    columns = 'id, "at", referrer, referee, n' + "".join(f", e{p}" for p in range(len(programs)))
    columns += "".join(f", {c}" for c in compiler.carried)  # as `cand0` has them: `flags`
    columns += "".join(f", ca{p}, ci{p}" for p in sorted(moves))
    columns += "".join(f", t{p}" for p in range(len(programs)))
    state = (
        f"CASE WHEN ({ok}) THEN pc + 1 ELSE pc END, "
        f"CASE WHEN ({ok}) THEN LIST_APPEND(pchain, referrer) ELSE pchain END, "
        f"CASE WHEN ({ok}) THEN powners || ', then `' || referrer || '` (event `' || id || '`)' ELSE powners END"
    )
    return f"SELECT {columns}, ({ok}), {detail}, {state}{holders} FROM ({decided}) AS d"


def _reason(p: int, program: ProgramInfo) -> str:
    """Why referral `c` does not take the referee in program `p` (NULL: it
    does), as `Engine._held` and `_claim` say it, checked in their order."""
    return "CASE " + " ".join(f"WHEN {test} THEN {text}" for test, text in _cases(p, program, _plain)) + " END"


def _plain(name: str) -> str:
    """A column of a row of the step (`_cases`' `v`): its own name, `at`
    quoted (a keyword)."""
    return '"at"' if name == "at" else name


def _cases(p: int, program: ProgramInfo, v: Callable[[str], str]) -> list[tuple[str, str]]:
    """`_reason`'s tests and texts, each test reading the referral event's
    columns and the state before it (`pchain`, `pha{p}`, `phr{p}`) through
    `v` (a column's name to its SQL)."""
    from .compile import literal as lit

    attribution = program.attribution
    name = f"program `{program.name}`: "
    at, ca = v("at"), v(f"ca{p}")
    converted = f"({ca} IS NOT NULL AND ({ca} < {at} OR ({ca} = {at} AND {v(f'ci{p}')} < {v('id')})))"
    cases = [
        (converted, lit(f"{name}the referee converted (`first {attribution.event}`)")),
        (
            f"LIST_CONTAINS({v('pchain')}, {v('referrer')})",
            f"{lit(name + '`')} || {v('referrer')} || '` referred `' || {v('referee')} || '` before'",
        ),
    ]
    if attribution.model == "first" and attribution.lapse_ns is not None:
        held = v(f"pha{p}")
        cases.append(
            (
                f"({held} IS NOT NULL AND {sql.gap(at, held)} <= {attribution.lapse_ns})",
                f"{lit(name + 'the referral of `')} || {v(f'phr{p}')} || '` holds it until it lapses'",
            )
        )
    cases.append((f"NOT {v(f'e{p}')}", lit(f"{name}it is not eligible (`eligible when` is false)")))
    return cases


def _unrolled(compiler: _Compiler, start: str) -> str:
    """The fold without a recursive CTE, for an engine that has none
    (Spark SQL 4.0; `Query.without_recursion`): the CTEs that replace
    `fold`, with the same rows. Each referee's referral events, in
    processing order as one list, are folded by `LIST_REDUCE` (Spark's
    `aggregate`) to the accepted ones (`_reduced`); the state after each
    (the count, the chain of referrers and its text, per moving program the
    last holder) is then computed by window functions over those rows, and
    each event judged by `_step`, as in the recursive fold, on the state
    after the last accepted one before it."""
    moves = moving(compiler)
    fields = ["n", "at", "id", "referrer", "referee"] + [f"e{p}" for p in range(len(compiler.checked.programs))]
    fields += [f"{c}{p}" for p in moves for c in ("ca", "ci")]
    element = "{" + ", ".join(f"'{f}': {_plain(f)}" for f in fields) + "}"
    lists = f"fold_lists AS (SELECT referee, LIST_SORT(LIST({element})) AS evs FROM cand GROUP BY referee)"
    taken = f"fold_taken AS (SELECT referee, UNNEST({_reduced(compiler)}.acc) AS st FROM fold_lists)"
    so_far = "OVER (PARTITION BY c.referee ORDER BY c.n ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    text = "'`' || c.referrer || '` (event `' || c.id || '`)'"
    after = {
        "cnt": f"COUNT(*) {so_far}",
        "chain": f"LIST(c.referrer) {so_far}",
        "owners": f"ARRAY_TO_STRING(LIST({text}) {so_far}, ', then ')",
    }
    for p in moves:
        after[f"ha{p}"] = f'LAST_VALUE(CASE WHEN t.st.t{p} THEN c."at" END IGNORE NULLS) {so_far}'
        after[f"hr{p}"] = f"LAST_VALUE(CASE WHEN t.st.t{p} THEN c.referrer END IGNORE NULLS) {so_far}"
    state = "{" + ", ".join(f"'{k}': {v}" for k, v in after.items()) + "}"
    states = (
        f"fold_states AS (SELECT c.referee, c.n, {state} AS st "
        "FROM cand AS c JOIN fold_taken AS t ON t.referee = c.referee AND t.st.n = c.n)"
    )
    ordered = "PARTITION BY c.referee ORDER BY c.n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    priors = (
        f"fold_priors AS (SELECT c.*, LAST_VALUE(s.st IGNORE NULLS) OVER ({ordered}) AS pst "
        "FROM cand AS c LEFT JOIN fold_states AS s ON s.referee = c.referee AND s.n = c.n)"
    )
    state_before = "pst.cnt AS pc, pst.chain AS pchain, pst.owners AS powners" + "".join(
        f", pst.ha{p} AS pha{p}, pst.hr{p} AS phr{p}" for p in moves
    )
    step = _step(compiler, f"SELECT * EXCLUDE (pst), {state_before} FROM fold_priors WHERE n > 1")
    fold = f"fold AS (\n{start}\nUNION ALL\n{step}\n)"
    return ",\n".join([lists, taken, states, priors, fold])


def _reduced(compiler: _Compiler) -> str:
    """`LIST_REDUCE` of a referee's referral events (`evs`, a list of
    structs in processing order) to the accepted ones (`.acc`: `n`, and
    per program `t{p}`, whether it took the referee there), judged by
    `_cases` as `_step` judges them. The state holds only what the tests
    read (the count, the chain of referrers, per moving program the last
    holder's instant), and an event changes it only when accepted, 100
    times at most per referee: the work is the referee's events plus
    100 copies of a list of at most 100 (`acc`, `chain`)."""
    programs = compiler.checked.programs
    moves = moving(compiler)

    def v(name: str) -> str:  # in the lambda: the event `x`, the state before it `s`
        if name == "pchain" or name.startswith(("pha", "phr")):
            return f"s.{name[1:]}"
        return f"x.{_plain(name)}"

    first = "s.cnt = 0"
    full = f"s.cnt >= {MAX_REFERRALS_PER_REFEREE}"
    taken = {}
    for p, program in enumerate(programs):
        later = "FALSE"
        if p in moves:
            tests = [f"NOT COALESCE({test}, FALSE)" for test, _ in _cases(p, program, v)]
            later = " AND ".join([f"NOT {full}", *tests])
        taken[p] = f"(CASE WHEN {first} THEN COALESCE(x.e{p}, FALSE) ELSE {later} END)"
    ok = f"({first} OR {' OR '.join(taken.values())})"
    kinds = {"cnt": "BIGINT", "chain": "VARCHAR[]", **{f"ha{p}": "BIGINT" for p in moves}}
    after = {"cnt": "s.cnt + 1", "chain": "LIST_APPEND(s.chain, x.referrer)"}
    after.update({f"ha{p}": f'CASE WHEN {taken[p]} THEN x."at" ELSE s.ha{p} END' for p in moves})
    flags = {f"t{p}": taken[p] for p in range(len(programs))}
    entry_kind = "STRUCT(n BIGINT" + "".join(f", {k} BOOLEAN" for k in flags) + ")"
    entry = "{'n': CAST(x.n AS BIGINT)" + "".join(f", '{k}': {t}" for k, t in flags.items()) + "}"
    state = "{" + ", ".join(f"'{k}': CAST({after[k]} AS {t})" for k, t in kinds.items())
    state += f", 'acc': LIST_APPEND(s.acc, {entry})}}"
    zeros = {"cnt": "0", "chain": "[]"}
    zero = "{" + ", ".join(f"'{k}': CAST({zeros.get(k, 'NULL')} AS {t})" for k, t in kinds.items())
    zero += f", 'acc': CAST([] AS {entry_kind}[])}}"
    return f"LIST_REDUCE(evs, LAMBDA s, x: CASE WHEN {ok} THEN {state} ELSE s END, {zero})"


def _accepted(compiler: _Compiler) -> str:
    """`accepted`: the referrals the fold accepted, with per program the
    flag `e{p}` (it took the referee there), and per moving program the
    next referral that took it (`nx{p}`, `ni{p}`) and whether it holds it
    for good (`fv{p}`: no next one, and it converted within the lapse)."""
    programs = compiler.checked.programs
    after = "ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING"
    windows = []
    for p in moving(compiler):
        for column, value in (("nx", '"at"'), ("ni", "id")):
            windows.append(
                f"FIRST_VALUE(CASE WHEN t{p} THEN {value} END IGNORE NULLS) "
                f"OVER (PARTITION BY referee ORDER BY n {after}) AS {column}{p}"
            )
    flags = "".join(f", t{p} AS e{p}" for p in range(len(programs))) + "".join(f", {c}" for c in compiler.carried)
    ends = ""
    for p in moving(compiler):
        lapse = programs[p].attribution.lapse_ns
        forever = (
            "TRUE"
            if lapse is None
            else f"(nx{p} IS NULL AND ca{p} IS NOT NULL AND {sql.gap(f'ca{p}', sql.AT)} <= {lapse})"
        )
        ends += f", nx{p}, ni{p}, {forever} AS fv{p}"
    return (
        f'accepted AS (SELECT id AS rid, "at" AS rat, referrer, referee{flags}{ends} '
        f"FROM (SELECT *, {', '.join(windows)} FROM fold) AS x WHERE ok)"
    )


def held(compiler: _Compiler) -> str:
    """The `seen` columns that say, per row, whether the referral holds its
    referee in each program (`e{p}`) and whether the row counts (`live`)."""
    programs = compiler.checked.programs
    moves = set(moving(compiler))
    holds = []
    for p, program in enumerate(programs):
        test = f"a.e{p}"
        if p in moves:
            before = f'(a.nx{p} IS NULL OR e."at" < a.nx{p} OR (e."at" = a.nx{p} AND e.id < a.ni{p}))'
            test = f"({test} AND {before}"
            lapse = program.attribution.lapse_ns
            test += f" AND (a.fv{p} OR {sql.gap('e.' + sql.AT, 'a.rat')} <= {lapse}))" if lapse is not None else ")"
        holds.append(test)
    nowhere = " OR ".join(f"a.e{p}" for p in range(len(programs)))
    live = f"(NOT ({nowhere}) OR {' OR '.join(holds)}) AS live"
    took = "".join(f", a.e{p} AS took{p}" for p in range(len(programs)))  # it took the referee (`counted`)
    return "".join(f", {test} AS e{p}" for p, test in enumerate(holds)) + f", {live}{took}"


def duplicates() -> str:
    """The `duplicate_referral` rows of the rejected statement: the referral
    events the fold judged and did not accept, with the engine's detail."""
    return "SELECT id, \"at\", referrer, referee, 'duplicate_referral', detail FROM fold WHERE NOT ok"
