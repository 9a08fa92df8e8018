"""A checked program compiled to SQL (DuckDB's dialect), or `Unsupported`.

The query reads two tables the caller provides:

- `ledger`: one row per validated event, `at` (BIGINT, nanoseconds since
  the epoch, UTC), `id`, `type`, `referee`, `referrer`, then one column per
  event field the rules read, named `"TYPE.FIELD"` (numbers as DECIMAL,
  text as VARCHAR, booleans as BOOLEAN);
- `as_of`: one row, one column `at` (BIGINT): events after it are not seen.

It gives the awards (`Query.awards`) and the referral events that create no
referral (`Query.rejected`), in the Python engine's order, with the same
ids (docs/semantics.md, "Award ids"). Every construct the compiler does not
know yet raises `Unsupported` naming it and its rule line, so a program is
either compiled whole or refused: never run half-compiled (docs/sql.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from ..check.program import Binding, CapInfo, CheckedRuleset, MetricInfo, MilestoneInfo
from ..compiler.generate import CompiledMilestone, CompiledRuleset
from ..core.datatypes import DURATION_UNITS, TIME
from ..core.ids import encode
from ..core.limits import MAX_AWARDS_PER_EVENT
from ..core.problem import Location, Problem, Severity
from ..core.runtime import in_context
from ..core.source import Span
from ..core.units import is_currency, minor_exponent
from ..syntax import nodes as ast
from . import (
    amounts,
    attribution,
    caps,
    every,
    explain,
    exponents,
    expressions,
    messages,
    referral_fields,
    reversals,
    signs,
    tables,
    timers,
    triggers,
)
from . import grouped as table_driven
from . import history as earlier
from . import voided as unless_voided
from .history import History
from .lets import Lets, Scope
from .voided import Followed

#: the widest exact number DuckDB holds (DECIMAL(38, s))
MAX_DIGITS = 38

#: the most branches the award rows' UNION ALL may have: each reward of a
#: milestone with its own CTE, and each group of the table of plain
#: milestones (sql/grouped.py). Set when DuckDB refused 1,100 rewards of
#: the query's shape then for its `max_expression_depth` of 1,000; since
#: the shape of 2026-12-06 DuckDB ran 2,000 without that error, but other
#: engines have not been run past 500 (docs/sql.md, "Files of many rewards")
MAX_REWARDS = 500

#: from how many milestones with CTEs of their own (outside the table of
#: plain milestones) DuckDB runs the query without two of its optimizers
#: (`Query.optimizers_off`, `MANY_OWN_OFF`); below it (every reference
#: program) they stay on: without the CTE filter pusher,
#: `partner_and_customer` at 1M events took 1.18 times as long
#: (docs/sql.md, "Files of many rewards")
MANY_OWN = 64

#: the optimizers a query of `MANY_OWN` milestones runs without: the CTE
#: filter pusher ORs the filter of every such milestone into the
#: prelude's CTEs they all read, and projection pull-up walks every
#: milestone's projections, each in time that grows faster than the
#: square of their number
MANY_OWN_OFF = ("cte_filter_pusher", "projection_pullup")

#: the order awards are issued in (and drawn from caps): instant, a
#: timer's after its instant's events, event, milestone, a timer's
#: referee, an `every` milestone's multiple, reward
ISSUE_ORDER = '"at", late, event, milestone_index, scope, nth, reward_index'

#: the table a runner keeps the award rows (after caps, `Staged.rows`) in
STAGED_TABLE = "issued_awards"

#: the window over a referral's events so far, in processing order
_SO_FAR = '(PARTITION BY rid ORDER BY "at", id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)'

_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_HEAD = {"id": "id", "at": "at", "referee": "referee", "referrer": "referrer"}


class Unsupported(Exception):
    """A construct the SQL back end does not compile yet, at its rule line."""

    def __init__(self, construct: str, span: Span | None, path: str) -> None:
        self.construct = construct
        self.span = span
        self.path = path
        super().__init__(self.problem().message)

    def problem(self) -> Problem:
        """The refusal as a rule-file problem: file, line, column, hint."""
        line = self.span.line if self.span is not None else None
        column = self.span.column if self.span is not None else None
        return Problem(
            Severity.ERROR,
            None,
            f"the SQL engine cannot compile {self.construct} yet",
            Location(self.path, line, column),
            "score it with the Python engine (the default), or see docs/sql.md for what compiles",
        )


@dataclass(frozen=True, slots=True)
class Column:
    """A field column of the `ledger` table: `"TYPE.FIELD"`."""

    event: str
    field: str
    kind: str  # number | text | boolean | time | exponent (a number's, sql/exponents.py) | sign (sql/signs.py)
    #: the text's case folding (`str.casefold`), for `ignoring case`:
    #: a column of its own, `"TYPE.FIELD casefold"` (see sql/expressions.py)
    folded: bool = False

    @property
    def name(self) -> str:
        return (
            f"{self.event}.{self.field}"
            + (expressions.FOLDED if self.folded else "")
            + (exponents.SUFFIX if self.kind == "exponent" else "")
            + (signs.SUFFIX if self.kind == "sign" else "")
        )


def unrolled(sql: str, folds: Sequence[tuple[str, str]]) -> str:
    """A statement with each recursive CTE of `folds` replaced by the CTEs
    that give its rows without recursion (see `Query.folds`)."""
    for recursive, plain in folds:
        sql = sql.replace(recursive, plain)
    return sql


@dataclass(frozen=True, slots=True)
class Staged:
    """The award rows (after caps), to be kept as the table `STAGED_TABLE`
    of the session (`rows`), and the statements that read that table where
    `Query`'s each compute the rows again: for a program with `void`
    clauses, whose award rows its awards, its reversals and (with partial
    voids) their void events each read. The statements give the same rows
    as `Query`'s; a runner that can keep a table (DuckDB) runs these, so
    the rows are computed once, and each milestone's joins are not held
    again in a second plan (a file of 300 milestones with `void` clauses
    ran the reversals statement out of 1 GB)."""

    rows: str
    awards: str
    reversals: str
    clawbacks: str = ""


@dataclass(frozen=True, slots=True)
class Query:
    """The compiled program: its queries and the columns `ledger` needs."""

    awards: str
    rejected: str
    columns: tuple[Column, ...]
    #: the hits one event can give at most without `every` (each milestone
    #: an event can reach, reached at once; each hit gives its rewards)
    most_per_event: int
    #: the reversals of confirmed awards that a `void if` event takes back
    reversals: str = ""
    #: the void events of awards with partial voids, from which their
    #: statuses and reversals are computed (sql/reversals.py)
    clawbacks: str = ""
    #: the statement that finds the first event past the per-event award
    #: limit, before and after where the limit goes (`volume_sql`)
    volume: tuple[str, str] = ("", "")
    #: the milestones' names, by index (for the limit's error)
    names: tuple[str, ...] = ()
    #: the per-event award limit the runners enforce (`--max-awards-per-event`)
    most: int = MAX_AWARDS_PER_EVENT
    #: whether a milestone is `every` (one event may reach it many times)
    repeats: bool = False
    #: whether an award's `why` gives a number as its inputs, computed
    #: after the query (`explain.computed`): DuckDB does not write its text
    why_inputs: bool = False
    #: each recursive CTE with the CTEs that give its rows without
    #: recursion, for an engine that has no recursive CTE (Spark SQL 4.0):
    #: the attribution fold (`attribution._unrolled`)
    folds: tuple[tuple[str, str], ...] = ()
    #: DuckDB optimizers the runner turns off for this query's session
    #: (`MANY_OWN`); the results are the same with them on or off
    optimizers_off: tuple[str, ...] = ()
    #: the statements over the award rows computed once (`Staged`), or
    #: None where only the awards statement reads them
    staged: Staged | None = None

    def without_recursion(self) -> Query:
        """The query with each fold written without recursion (`unrolled`)."""
        staged = self.staged
        if staged is not None:
            staged = replace(
                staged, rows=unrolled(staged.rows, self.folds), clawbacks=unrolled(staged.clawbacks, self.folds)
            )
        return replace(
            self,
            staged=staged,
            awards=unrolled(self.awards, self.folds),
            rejected=unrolled(self.rejected, self.folds),
            reversals=unrolled(self.reversals, self.folds),
            clawbacks=unrolled(self.clawbacks, self.folds),
            volume=(unrolled(self.volume[0], self.folds), self.volume[1]),
        )

    def volume_sql(self) -> str | None:
        """The `volume` statement with the limit written in; None when no
        event can pass it (no `every` milestone, and no more milestones an
        event can reach than the limit)."""
        head, tail = self.volume
        if not head or (self.most >= self.most_per_event and not self.repeats):
            return None
        return f"{head}{int(self.most)}{tail}"

    def statements(self) -> list[tuple[str, str]]:
        """The statements `rewardrules sql` prints, each with its title."""
        found = [("awards", self.awards), ("rejected referral events", self.rejected)]
        found += [("reversals", self.reversals)] if self.reversals else []
        found += [("void events of partial voids", self.clawbacks)] if self.clawbacks else []
        volume = self.volume_sql() if self.repeats else None
        if volume is not None:  # to run first: the awards query puts no bound on an `every` jump
            found.append(
                (f"events past the award limit ({self.most} at one event; run it first: no row is wanted)", volume)
            )
        return found

    def text(self) -> str:
        """The queries, as `rewardrules sql` prints them."""
        return printed(self.statements(), self.optimizers_off)


def printed(statements: list[tuple[str, str]], optimizers_off: tuple[str, ...]) -> str:
    """Statements as `rewardrules sql` prints them for DuckDB, each with
    its title: first the `SET` of the optimizers the query runs without
    (`Query.optimizers_off`), so that the text run as it is runs as
    `score --engine duckdb` runs it."""
    head = (
        f"-- DuckDB's settings for these statements\nSET disabled_optimizers = {literal(','.join(optimizers_off))};\n\n"
        if optimizers_off
        else ""
    )
    return head + "\n".join(f"-- {title}\n{sql};\n" for title, sql in statements)


#: the most SQL a formula written out where it is read may take (`_Compiler.beside_formula`)
MOST_WRITTEN_OUT = 1_000_000

#: a formula column's name in SQL (`_Compiler.beside_formula`)
_FORMULA_COLUMN = re.compile(r"\bfm(\d+)\b")


def literal(text: str) -> str:
    """A SQL string literal: the one way outside text enters a query."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier (names come from rule files)."""
    return '"' + name.replace('"', '""') + '"'


def number(value: Decimal, span: Span | None, path: str) -> str:
    """An exact decimal literal, never in exponent form."""
    text = format(value, "f")
    if len(text.replace("-", "").replace(".", "").lstrip("0")) > MAX_DIGITS:
        raise Unsupported(f"a number of more than {MAX_DIGITS} digits ({text})", span, path)
    return f"CAST({literal(text)} AS DECIMAL({MAX_DIGITS}, {_scale(value)}))"


#: an event's instant column
AT = '"at"'


def gap(later: str, earlier: str) -> str:
    """SQL: the nanoseconds from instant `earlier` to `later` (BIGINTs), in
    HUGEINT: two instants BIGINT holds (1677 to 2262) may lie more than
    2^63 ns (292 years) apart, which a BIGINT difference refuses."""
    return f"(CAST({later} AS HUGEINT) - {earlier})"


def later_by(at: str, ns: int | None) -> str:
    """SQL: the instant `ns` nanoseconds after instant `at` (a BIGINT), in
    HUGEINT, for comparing with other instants (an award's confirmation
    after its hold): it may pass the last instant a BIGINT holds."""
    return at if ns is None else f"(CAST({at} AS HUGEINT) + {int(ns)})"


def nanoseconds(column: str) -> str:
    """An event's instant (BIGINT nanoseconds) read as a value: an exact
    DECIMAL, as the engine's int, since a difference of two instants may
    pass BIGINT's range (years 1678 to 2261 span 1.8e19 ns)."""
    return f"CAST({column} AS DECIMAL({MAX_DIGITS}, 0))"


def _scale(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def half_even_units(value: str, places: int) -> str:
    """A positive exact decimal `value` rounded half to even to `places`
    decimals, as the integer count of those units (cents for USD); NULL for
    NULL. Built from exact DECIMAL arithmetic: DuckDB's ROUND rounds half
    away from zero and `round_even` goes through DOUBLE. For a value of 0
    or less it gives a number of 0 or less (such a reward is withheld)."""
    scaled = f"({value} * CAST('1{'0' * places}' AS DECIMAL({MAX_DIGITS}, 0)))"
    whole = f"TRUNC({scaled})"
    rest = f"({scaled} - {whole})"
    up = f"CASE WHEN {rest} > 0.5 THEN 1 WHEN {rest} = 0.5 THEN CAST({whole} AS HUGEINT) % 2 ELSE 0 END"
    return f"(CAST({whole} AS HUGEINT) + {up})"


def money_text(units: str, places: int) -> str:
    """An amount in minor units written as the Python engine writes money:
    every decimal of the currency (`105.00`; `105` for a currency without
    minor unit). Called for positive amounts only."""
    if places == 0:
        return f"CAST({units} AS VARCHAR)"
    step = "1" + "0" * places
    return f"CAST({units} // {step} AS VARCHAR) || '.' || LPAD(CAST({units} % {step} AS VARCHAR), {places}, '0')"


def netstring(sql: str) -> str:
    """A field of an award id as SQL: its UTF-8 length, `:`, it, `,`."""
    return f"CAST(STRLEN({sql}) AS VARCHAR) || ':' || {sql} || ','"


def id_fields(milestone: CompiledMilestone, index: int) -> tuple[str, str, str]:
    """The constant fields of a reward's award ids, as SQL literals: the
    head (`award`, ruleset, program, milestone), the role, and the reward's
    place among its milestone's rewards of that role (`''` for the first)."""
    role = milestone.rewards[index].info.role
    head = literal(encode(("award", *milestone.id_head)).decode("utf-8"))
    rank = 1 + sum(r.info.role == role for r in milestone.rewards[:index])
    # a second reward of one role: its place is a tenth field (docs/semantics.md)
    place = literal(encode((str(rank),)).decode("utf-8")) if rank > 1 else "''"
    return head, literal(encode((role,)).decode("utf-8")), place


def award_id(head: str, referee: str, role: str, beneficiary: str, rank: str) -> str:
    """An award's id (docs/semantics.md, "Award ids") from `id_fields` and
    the hit's columns: `referee` is `''` for a milestone counted per referrer."""
    parts = (
        head,
        netstring("referrer"),
        netstring(referee),
        netstring("occurrence"),
        role,
        netstring(beneficiary),
        *([] if rank == "''" else [rank]),
    )
    return f"'aw_' || SUBSTR(SHA256({' || '.join(parts)}), 1, 32)"


@dataclass(slots=True)
class _Compiler:
    compiled: CompiledRuleset
    checked: CheckedRuleset = field(init=False)
    path: str = field(init=False)
    metrics: dict[MetricInfo, str] = field(default_factory=dict)
    metric_sql: list[str] = field(default_factory=list)
    #: per-referral formula metrics' values, exponents and signs, each a
    #: column `fm{n}` computed once after the aggregates (`beside_formula`),
    #: by (kind, metric); their SQL in `formula_sql`
    formulas: dict[tuple[str, MetricInfo], str] = field(default_factory=dict)
    formula_sql: list[tuple[int, str]] = field(default_factory=list)
    #: whether a formula metric's value involves a division (`expressions.divides`)
    divisions: dict[MetricInfo, bool] = field(default_factory=dict)
    columns: dict[str, Column] = field(default_factory=dict)
    types: set[str] = field(default_factory=set)
    #: whether the expression being compiled may read metrics
    in_aggregate: bool = False
    #: the column `increase` reads (sql/triggers.py); None where it has
    #: none: the rise of a quotient, which the engine takes between two
    #: values each rounded to 100 digits
    rise: str | None = "inc"
    #: whether it is an `eligible when` clause, read on the referral event
    in_eligibility: bool = False
    #: per-referrer metrics (`count referrals ...`): column names, and each
    #: referral's contribution to them (see `referrer_metric`)
    #: by (metric, program): each program keeps its own referrers' values
    referrer_metrics: dict[tuple[MetricInfo, int], str] = field(default_factory=dict)
    #: the program of the milestone being compiled (its per-referrer values)
    program: int = 0
    #: the referral's own fields read on its rows: column name -> alias (sql/referral_fields.py)
    referral_columns: dict[str, str] = field(default_factory=dict)
    contributions: list[str] = field(default_factory=list)
    #: per per-referrer `sum` (its number n, of `R{n}`): the exponent of the
    #: value a referral contributes, on its rows (sql/exponents.py: `RX{n}`)
    referrer_exponents: dict[int, str] = field(default_factory=dict)
    #: the caps the rewards draw from, by identity: (number, cap)
    caps: dict[str, tuple[int, CapInfo]] = field(default_factory=dict)
    #: the unit an award's amount is written in after a cap cut it, by
    #: its `cap` key (see `cap_of`)
    cap_units: dict[str, str] = field(default_factory=dict)
    #: the decimals of every amount and cap limit (see `widest`)
    scale: int = 0
    #: while compiling a `void` condition: the table alias of each event
    #: role its fields are read from (`void`: the void event, `event`: the
    #: award's triggering event; see `reversals`)
    aliases: dict[str, str] = field(default_factory=dict)
    #: the rewards whose amount is a fraction (milestone, reward): their
    #: hits carry the numerator `aR` and the denominator `bR`
    ratios: set[tuple[int, int]] = field(default_factory=set)
    #: the referrer's earlier referrals, as `eligible when` reads them (sql/history.py)
    history: History = field(default_factory=History)
    #: the hit rows' repeated subexpressions, computed once (sql/lets.py)
    lets: Lets = field(default_factory=Lets)
    #: whether it is the `where` of `count earlier referrals`: `referral.F`
    #: is then the earlier referral's field, a column of its history row
    in_history: bool = False
    #: the exponent columns of metrics, as the Python engine's Decimals
    #: have them (sql/exponents.py: messages and explanations write them)
    exponents: dict[MetricInfo, str] = field(default_factory=dict)
    #: the milestones counts `unless voided` follow (sql/voided.py)
    voided: Followed = field(default_factory=Followed)
    #: the sign columns of metrics (sql/signs.py: a zero may be negative)
    signs: dict[MetricInfo, str] = field(default_factory=dict)
    #: the plain milestones of a file of many, computed together (sql/grouped.py)
    table: table_driven.Table = field(default_factory=table_driven.Table)
    #: whether award rows explain themselves (a `why` column, sql/explain.py)
    explain: bool = False
    #: whether a `why` gives a number as its inputs (`Query.why_inputs`)
    why_inputs: bool = False
    #: compiling for the explained sections (sql/sections.py): award rows
    #: carry `raw`, a reward's amount before caps as text (what a withheld
    #: reward would have paid); and `query` keeps its pieces below
    explaining: bool = False
    #: after `query`: the CTEs up to the hits, and the award rows with their caps
    prelude: str = ""
    issued: str = ""
    #: the CTEs of each milestone (by index) that no count `unless voided`
    #: follows: they go with the SELECTs that read them (`reading`,
    #: `scoped`), not in the prelude
    local: dict[int, str] = field(default_factory=dict)
    #: columns of `refs` that `accepted` carries too (sql/sections.py:
    #: `count earlier referrals`, settled at the referral)
    carried: list[str] = field(default_factory=list)
    #: the recursive CTEs with their replacement for an engine that has
    #: none (`Query.folds`)
    folds: list[tuple[str, str]] = field(default_factory=list)

    def widest(self) -> int:
        """The decimals that hold every reward amount and cap limit: amounts
        of different rewards meet in one column, and DuckDB gives a UNION of
        DECIMAL(38, 2) and DECIMAL(38, 0) the type DECIMAL(38, 0), rounding
        1.50 to 2: so every amount is cast to this one type first."""
        scale = 0
        for milestone in self.compiled.milestones:
            for reward in milestone.rewards:
                for value in (reward.constant, reward.quantum, *(c.limit for c in reward.caps)):
                    if value is not None:
                        scale = max(scale, _scale(value))
        return scale

    def __post_init__(self) -> None:
        self.checked = self.compiled.checked
        self.path = self.checked.source.path
        unless_voided.prepare(self)

    def refuse(self, construct: str, node: object) -> Unsupported:
        return Unsupported(construct, getattr(node, "span", None), self.path)

    # -- the program as a whole --------------------------------------------
    def check_program(self) -> None:
        """Refuse what applies to a whole file or program (nothing now: an
        `attribution` line compiles, sql/attribution.py)."""

    def eligibility(self) -> list[str]:
        """Per program, whether a referral (a row of `refs`) is eligible:
        every `eligible when` clause true (TRUE for a program without)."""
        found = []
        self.in_eligibility = True
        try:
            for program in self.checked.programs:
                clauses = [self.expr(clause) for clause in program.eligible]
                found.append(" AND ".join(f"({c})" for c in clauses) if clauses else "TRUE")
        finally:
            self.in_eligibility = False
        return found

    # -- expressions -------------------------------------------------------
    def expr(self, node: ast.Expr) -> str:
        """An expression as SQL over one row of `metered`; NULL where the
        Python engine has None, comparisons false on NULL (as `n_ge`)."""
        if isinstance(node, ast.IsSet) and self.always_set(node.operand):  # an event's `at`
            return "FALSE" if node.negated else "TRUE"
        if isinstance(node, (ast.Compare, ast.InList, ast.IsSet)) and expressions.divides(self, node):
            return expressions.condition(self, node)
        if isinstance(node, (ast.Compare, ast.InList)) and node.fold:
            return expressions.ignoring_case(self, node)
        if isinstance(node, ast.InEarlier):
            return earlier.in_earlier(self, node)
        if isinstance(node, ast.RateOf):
            return tables.rate_of(self, node)
        if isinstance(node, ast.Tiers):
            return tables.tiers(self, node)
        if isinstance(node, ast.Quantity) and node.unit.text in DURATION_UNITS:  # nanoseconds, as the engine's
            return number(Decimal(_duration(node)), node.span, self.path)
        if isinstance(node, (ast.Number, ast.Quantity, ast.Percent)):
            return number(node.value, node.span, self.path)
        if isinstance(node, ast.String):
            return literal(node.value)
        if isinstance(node, ast.Bool):
            return "TRUE" if node.value else "FALSE"
        if isinstance(node, ast.Ref):
            return self.ref(node)
        if isinstance(node, ast.Arith):
            duration = expressions.is_duration(self, node)
            if node.op == "/" and duration:  # whole ns toward zero, as `to_ns`
                return expressions.whole_ns(self, node)
            if node.op == "/":
                raise self.refuse("a division outside a condition or a reward amount", node)
            found = f"({self.expr(node.left)} {node.op} {self.expr(node.right)})"
            if node.op == "*" and duration:  # whole ns toward zero, as `to_ns`
                return f"TRUNC{found}"
            return found
        if isinstance(node, ast.PercentOf):
            return f"({self.expr(node.operand)} * {number(node.value / 100, node.span, self.path)})"
        if isinstance(node, ast.Neg):
            return f"(- {self.expr(node.operand)})"
        if isinstance(node, ast.Compare) and not node.fold:
            return f"COALESCE(({self.operand(node.left)} {_COMPARE[node.op]} {self.operand(node.right)}), FALSE)"
        if isinstance(node, ast.And):
            return f"({self.expr(node.left)} AND {self.expr(node.right)})"
        if isinstance(node, ast.Or):
            return f"({self.expr(node.left)} OR {self.expr(node.right)})"
        if isinstance(node, ast.Not):
            return f"(NOT {self.expr(node.operand)})"
        if isinstance(node, ast.InList) and not node.fold:
            items = ", ".join(self.expr(item) for item in node.items)
            return f"COALESCE(({self.operand(node.operand)} {'NOT IN' if node.negated else 'IN'} ({items})), FALSE)"
        if isinstance(node, ast.IsSet):
            return f"({self.operand(node.operand)} IS {'' if node.negated else 'NOT '}NULL)"
        raise self.refuse(_construct(node), node)

    def always_set(self, node: ast.Expr) -> bool:
        """Whether an operand of `is set` is an event's instant (`usage.at`):
        every event has one (the Python engine tests `ev["at"] is not
        None`), whereas `at` read as a value is refused (`field_ref`)."""
        binding = self.checked.bindings.get(node) if isinstance(node, ast.Ref) else None
        info = binding.field if binding is not None and binding.kind == "field" else None
        return info is not None and info.builtin and info.name == "at"

    def operand(self, node: ast.Expr) -> str:
        """An operand of a comparison, `in` or `is set`: a boolean field as
        the event has it (NULL when missing, so that a comparison is false
        and `is set` too, as `runtime.n_eq` and the Python engine's `is
        not None`), where `expr` reads it as a condition (missing: false)."""
        found = self.expr(node)
        binding = self.checked.bindings.get(node) if isinstance(node, ast.Ref) else None
        field = binding.field if binding is not None and binding.kind == "field" else None
        if field is not None and field.type.kind == "boolean" and not field.builtin:
            return found.removeprefix("COALESCE(").removesuffix(", FALSE)")
        return found

    def ref(self, node: ast.Ref) -> str:
        binding = self.checked.bindings.get(node)
        if binding is None:
            raise self.refuse(f"the name `{_ref_text(node)}` here", node)
        if binding.kind == "field" and binding.event_role in self.aliases:
            return self.field_ref(binding, node, self.aliases[binding.event_role])
        if self.aliases:
            raise self.refuse(f"`{_ref_text(node)}` in a `void` condition", node)
        if binding.kind == "increase":  # the rise of a `whenever` milestone (sql/triggers.py)
            if self.rise is None:
                raise self.refuse("`increase` of a value that involves a division", node)
            return self.rise
        if binding.kind == "metric" and binding.metric is not None:
            if self.in_aggregate:
                raise self.refuse("a metric inside an aggregate's `where`", node)
            if self.in_eligibility:
                agg = binding.metric.aggregate
                if agg is not None and agg.earlier:
                    return earlier.earlier_count(self, binding.metric, node)
                if binding.metric.formula is None:  # the checker lets none through (RR209)
                    raise self.refuse("a metric in `eligible when`", node)
            # in `eligible when`, a formula over earlier counts and the referral's fields (RR209)
            return self.metric(binding.metric, node)
        role = "referral" if self.in_eligibility else "event"
        if binding.kind == "field" and binding.event_role in (role, "earlier" if self.in_history else role):
            return self.field_ref(binding, node)
        if binding.kind == "field" and binding.event_role == "referral" and not self.in_history:
            return referral_fields.value(self, binding, node)  # on every row of the referral
        raise self.refuse(f"`{_ref_text(node)}` (a {binding.event_role or binding.kind} value)", node)

    def field_ref(self, binding: Binding, node: ast.Ref, alias: str = "") -> str:
        info, event = binding.field, binding.event
        dot = f"{alias}." if alias else ""
        if info is None or event is None:
            raise self.refuse(f"`{_ref_text(node)}`", node)
        if info.builtin:
            if info.name == "at":
                return nanoseconds(f'{dot}"at"')
            if info.name not in _HEAD:
                raise self.refuse(f"the field `{info.name}`", node)
            return dot + _HEAD[info.name]
        kind = info.type.kind
        kind = "number" if info.type.numeric else kind
        if kind not in ("number", "text", "boolean", TIME):
            raise self.refuse(f"a field of type {info.type.describe()}", node)
        column = Column(event.name, info.name, kind)
        self.columns.setdefault(column.name, column)
        if not self.in_eligibility and binding.event_role != "referral":  # a referral's own fields are read in `refs`
            self.types.add(event.name)
        value = dot + ident(column.name)
        if kind == TIME:  # the text of its nanoseconds (the Python reader's record): an instant
            return nanoseconds(value)
        return f"COALESCE({value}, FALSE)" if kind == "boolean" else value

    # -- metrics -----------------------------------------------------------
    def metric(self, info: MetricInfo, node: object) -> str:
        formula = info.formula
        if info.aggregate is not None and info.aggregate.earlier and not self.in_eligibility:
            # settled at the referral, on each of its rows (sql/history.py)
            return earlier.settled(self, lambda: earlier.earlier_count(self, info, node), node)
        if info.level != "referral" and formula is None:
            return self.referrer_metric(info)
        if formula is not None:
            return self.formula(info, formula)
        found = self.metrics.get(info)
        if found is None:
            found = f"m{len(self.metrics)}"
            self.metric_sql.append(f"{expressions.otherwise(self, self.aggregate(info), info)} AS {found}")
            self.metrics[info] = found
        return found

    def formula(self, info: MetricInfo, formula: ast.Expr) -> str:
        """A formula metric's value (see `beside_formula`)."""
        return self.beside_formula("value", info, lambda: f"({self.expr(formula)})")

    def _written_out(self, info: MetricInfo, sql: str) -> str:
        """A formula's SQL (its value's, exponent's or sign's) written out
        where it is read, where it is no column (`beside_formula`): refused
        past `MOST_WRITTEN_OUT` characters, before a chain of formulas naming
        the one before twice grows it further (each link doubles it: the time
        to build it stays in proportion to the limit)."""
        if len(sql) > MOST_WRITTEN_OUT:
            raise self.refuse(
                f"the formula metric `{info.name}` written out where it is read ({len(sql):,} characters of SQL; "
                "a formula that reads a per-referrer metric, or one in `eligible when`, is written out at each name)",
                info.decl,
            )
        return sql

    def beside_formula(self, kind: str, info: MetricInfo, make: Callable[[], str]) -> str:
        """What a per-referral formula metric carries (`kind`: its `value`,
        its `exponent`, its `sign`), `make` its SQL: a column `fm{n}` of
        `metered` added once, after the columns that SQL reads (`metered`);
        where metrics are read off other rows (`eligible when`, a history's
        or a `void`'s condition) or the formula reads a per-referrer value,
        the SQL itself, written out where it is read (`_written_out`). A
        formula named twice, by a formula named twice, ... was written out
        each time (15 lines of rules made a 10 MB query)."""
        if info.level != "referral" or self.in_eligibility or self.in_history or self.aliases or self.in_aggregate:
            return self._written_out(info, make())
        found = self.formulas.get((kind, info))
        if found is None:
            sql = make()  # the formula columns it reads are added first
            found = f"fm{len(self.formula_sql)}"
            # one more than the deepest column it names (a name in a quoted
            # text only puts it later: never too early)
            read = [self.formula_sql[int(n)][0] for n in _FORMULA_COLUMN.findall(sql) if int(n) < len(self.formula_sql)]
            self.formula_sql.append((max(read, default=0) + 1, f"{sql} AS {found}"))
            self.formulas[(kind, info)] = found
        return found

    def metered(self, aggregates: str) -> list[str]:
        """The CTEs that add the metrics to each row of `seen`, ending with
        `metered`: the aggregates, then the formula columns by level (a
        column's is one more than the deepest it reads), one CTE per level:
        as many as the longest chain of formulas, not one per formula (Spark
        resolves at most about 30 CTEs in a row, ClickHouse nests 100)."""
        if not self.formula_sql:
            return [f"metered AS (SELECT *{aggregates} FROM seen)"]
        deepest = max(level for level, _ in self.formula_sql)
        names = [f"formulas{k}" for k in range(1, deepest)] + ["metered"]
        ctes = [f"aggregates AS (SELECT *{aggregates} FROM seen)"]
        for level, (source, name) in enumerate(zip(["aggregates", *names], names, strict=False), start=1):
            columns = ", ".join(sql for at, sql in self.formula_sql if at == level)
            ctes.append(f"{name} AS (SELECT *, {columns} FROM {source})")
        return ctes

    def referrer_metric(self, info: MetricInfo) -> str:
        """`count referrals [where C]`: each referral counts 1 while C holds
        after its own latest event (its contribution); the referrer's value
        at an event is the sum of its referrals' contributions then, a
        running sum of their changes over the referrer's events."""
        agg = info.aggregate
        unless_voided.guard(self, info.decl)
        if agg is None or agg.source.text != "referrals" or agg.fn not in ("count", "sum") or agg.earlier or agg.within:
            raise self.refuse(f"the per-referrer metric `{info.name}`", info.decl)
        if agg.otherwise is not None:
            raise self.refuse(f"the per-referrer metric `{info.name}`", info.decl)
        found = self.referrer_metrics.get((info, self.program))
        if found is None:
            n = len(self.referrer_metrics)
            test = self.expr(agg.where) if agg.where is not None else "TRUE"
            taken = unless_voided.taken(self, info, agg) if agg.unless is not None else None
            if taken is not None:  # not while an award of the milestone is taken back
                test = f"{test} AND NOT {taken}"
            flag = f"CASE WHEN {attribution.counted(self, self.program)} AND {test} THEN 1 ELSE 0 END"
            if agg.fn == "sum":  # `sum referrals.M`: M (0 without a value) while C holds
                flag = f"COALESCE({self.referral_value(info, agg)}, 0) * {flag}"
            flag = attribution.contribution(self, self.program, flag, taken)
            self.contributions.append(f"{flag} AS c{n}")
            found = f"R{n}"
            self.referrer_metrics[(info, self.program)] = found
            self.types.add("referral")  # a referral counts from its own event on
        return found

    def referral_value(self, info: MetricInfo, agg: ast.Aggregate) -> str:
        """The per-referral metric M that `sum referrals.M` adds up."""
        target = self.checked.programs[self.program].metrics.get(agg.field.text) if agg.field is not None else None
        if target is None or target.level != "referral":
            raise self.refuse(f"the per-referrer metric `{info.name}`", info.decl)
        return self.metric(target, agg)

    def aggregate(self, info: MetricInfo) -> str:
        agg = info.aggregate
        assert agg is not None
        if agg.earlier or agg.unless is not None:
            raise self.refuse(f"the aggregate of metric `{info.name}`", agg)
        source = agg.source.text
        if source not in self.checked.events or source == "referral":
            raise self.refuse(f"an aggregate over `{source}`", agg)
        test = self.aggregate_test(agg)
        if agg.fn == "count":
            return f"COALESCE(SUM(CASE WHEN {test} THEN 1 ELSE 0 END) OVER {_SO_FAR}, 0)"
        assert agg.field is not None
        value = self._value_column(source, agg.field.text, agg)
        if agg.fn == "sum":
            return f"COALESCE(SUM(CASE WHEN {test} THEN {value} END) OVER {_SO_FAR}, 0)"
        if agg.fn == "first":
            return expressions.first_value(test, value)
        if agg.fn == "latest":
            return f"LAST_VALUE(CASE WHEN {test} THEN {value} END IGNORE NULLS) OVER {_SO_FAR}"
        if agg.fn in ("max", "min"):
            return f"{agg.fn.upper()}(CASE WHEN {test} THEN {value} END) OVER {_SO_FAR}"
        raise self.refuse(f"the aggregate `{agg.fn}`", agg)

    def aggregate_test(self, agg: ast.Aggregate) -> str:
        """Whether a row counts for an aggregate: its event type, `where`
        and `within` (shared with `sql.exponents`)."""
        source = agg.source.text
        self.types.add(source)
        tests = [f"type = {literal(source)}"] + (["live"] if attribution.moving(self) else [])
        if agg.where is not None:
            self.in_aggregate = True
            try:
                tests.append(self.expr(agg.where))
            finally:
                self.in_aggregate = False
        if agg.within is not None:
            tests.append(f"{gap(AT, 'rat')} <= {_duration(agg.within)}")
        return " AND ".join(tests)

    def _value_column(self, event: str, name: str, node: object) -> str:
        if name == "at":  # `latest payment.at`: the event's instant
            return nanoseconds('"at"')
        info = self.checked.events[event].fields.get(name)
        if info is None or info.builtin or not (info.type.numeric or info.type.kind == TIME):
            raise self.refuse(f"an aggregate of `{event}.{name}`", node)
        column = Column(event, name, "number" if info.type.numeric else TIME)
        self.columns.setdefault(column.name, column)
        return ident(column.name) if info.type.numeric else nanoseconds(ident(column.name))

    # -- milestones --------------------------------------------------------
    def milestone(self, compiled: CompiledMilestone) -> tuple[str, list[str]]:
        """The CTE of a milestone's hits (one row per time it is reached)
        and its award rows (one SELECT per reward)."""
        info = compiled.info
        self.voided.current = info.index
        self.program = compiled.program  # the program whose referrers its per-referrer values are
        reversals.refuse_unsupported(self, compiled)
        if timers.is_timer(compiled):
            return timers.milestone_ctes(self, compiled), [
                self.reward_row(compiled, r) for r in range(len(compiled.rewards))
            ]
        trigger = info.trigger
        if isinstance(trigger, ast.IncreaseTrigger):
            return triggers.increases(self, compiled)
        if isinstance(trigger, ast.EveryTrigger):
            return every.every(self, compiled)
        tests, once, occurrence = self.trigger_tests(info)
        amounts, kept, lets = self.hit_values(compiled)
        scope = "rid" if info.level == "referral" else "referrer"
        ranked = f'ROW_NUMBER() OVER (PARTITION BY {scope} ORDER BY "at", id) AS n, {occurrence} AS occurrence{amounts}'
        tested = Lets.under(lets, f"{self.voided.source(info)} WHERE e{compiled.program} AND {' AND '.join(tests)}")
        hits = (
            f'{self.hits_head(compiled)} (SELECT rid, referrer, referee, "at", id AS event, occurrence{kept} FROM '
            f'(SELECT rid, referrer, referee, "at", id, {ranked} FROM {tested}) AS t'
            + (" WHERE n = 1)" if once else ")")
        )
        hits = ",\n".join([hits, *reversals.void_ctes(self, compiled)])
        return hits, [self.reward_row(compiled, r) for r in range(len(compiled.rewards))]

    def hits_head(self, milestone: CompiledMilestone) -> str:
        """`h{k} AS`, the head of a milestone's hits CTE; `h{k} AS NOT
        MATERIALIZED` in a query of many milestones (`many_own`) when its
        `void` clauses read the hits as well as its award rows. DuckDB keeps
        a CTE read twice as a table for the whole query: 300 such
        milestones on a ledger of 2,240 lines ran the awards statement out
        of its default 1 GB, where computing each one's hits for each
        reader runs within it, in about the same time at 100 and 200
        (docs/sql.md, "Files of many rewards")."""
        k = milestone.info.index
        return f"h{k} AS NOT MATERIALIZED" if milestone.info.voids and self.many_own() else f"h{k} AS"

    def trigger_tests(self, info: MilestoneInfo) -> tuple[list[str], bool, str]:
        """What a row must pass to be a hit of a `when C` or `EVENT` milestone
        (besides its program's eligibility), whether only its first hit counts,
        and its occurrence (`''`, or the event's `id` for `each`)."""
        trigger = info.trigger
        if isinstance(trigger, ast.WhenTrigger) and trigger.held is None:
            tests = [f"type IN ({', '.join(literal(t) for t in sorted(info.events))})", self.expr(trigger.condition)]
            self.types.update(info.events)
            return tests, True, "''"
        if isinstance(trigger, ast.EventTrigger):
            event = trigger.event.text
            self.types.add(event)
            tests = [f"type = {literal(event)}"]
            if trigger.where is not None:
                tests.append(self.expr(trigger.where))
            if trigger.within is not None:
                tests.append(f"{gap(AT, 'rat')} <= {_duration(trigger.within)}")
            return tests, not trigger.each, ("''" if not trigger.each else "id")
        raise self.refuse(f"{_trigger_name(trigger)} (milestone `{info.name}`)", trigger)

    def hit_values(self, compiled: CompiledMilestone) -> tuple[str, str, Scope]:
        """What a milestone's hit row computes, `, X AS a0, ...[, msg][,
        why_values]` (each reward's amount, the values its message reads and
        those its explanation gives, at the triggering event); the columns
        the hits keep of it (`, a0[, b0], ...`: `b{r}`, the denominator of an
        amount that divides); and the lets they share, which `Lets.under`
        writes under the SELECT that computes them (sql/lets.py)."""
        with self.lets.scope() as lets:
            computed = self.amounts(compiled)
            message = messages.hit_column(self, compiled)
            why = explain.hit_column(self, compiled)
        k = compiled.info.index
        kept = "".join(f", a{r}" + (f", b{r}" if (k, r) in self.ratios else "") for r, _ in computed)
        kept += (", msg" if message else "") + (", why_values" if why else "")
        return "".join(f", {sql} AS a{r}" for r, sql in computed) + message + why, kept, lets

    def amounts(self, milestone: CompiledMilestone) -> list[tuple[int, str]]:
        """The exact amount of each reward computed at its event (`15% of
        payment.amount`), before rounding: (reward, SQL) for those that are
        not constants."""
        found = []
        for r, reward in enumerate(milestone.rewards):
            if reward.constant is not None:
                continue
            if reward.quantum is None:  # exact, in points or credits (sql/amounts.py)
                found.append((r, amounts.exact(self, reward)))
                continue
            amount = reward.info.decl.amount
            if expressions.divides(self, amount):  # exact: numerator and denominator
                value = expressions.fraction(self, amount)
                self.ratios.add((milestone.info.index, r))
                found.append((r, f"{value.den or 1} AS b{r}, {value.num}"))
            else:
                found.append((r, self.expr(amount)))
        return found

    def cents(self, milestone: CompiledMilestone, index: int) -> str:
        """A computed amount (a hit's `a{index}`, over `b{index}` for a
        fraction) rounded half to even to its currency's minor units."""
        places = minor_exponent(milestone.rewards[index].info.unit)
        if (milestone.info.index, index) in self.ratios:
            return self.lets.name(expressions.half_even_ratio(f"a{index}", f"b{index}", places, self.lets.name))
        return half_even_units(f"a{index}", places)

    def signed_cents(self, milestone: CompiledMilestone, index: int) -> str:
        """`cents` of the amount's magnitude, with its sign (`cents` is the
        engine's only above 0): what a withheld reward below 0 asked, as
        the engine's `quantize` rounds it (half to even, symmetric)."""
        places = minor_exponent(milestone.rewards[index].info.unit)
        value = f"a{index}"
        if (milestone.info.index, index) in self.ratios:
            magnitude = self.lets.name(
                expressions.half_even_ratio(f"ABS({value})", f"b{index}", places, self.lets.name)
            )
        else:
            magnitude = half_even_units(f"ABS({value})", places)
        return f"CASE WHEN {value} < 0 THEN - {magnitude} ELSE {magnitude} END"

    def reward_row(self, milestone: CompiledMilestone, index: int, keep: bool = True) -> str:
        """A reward's award rows from its milestone's hits; with `keep`
        false, the hits it gives nothing for instead (an amount of 0 or
        less, or without a value: withheld, sql/sections.py)."""
        with self.lets.scope() as lets:  # a rounded amount, read by several columns and the WHERE
            values, where = self.award_values(milestone, index, keep)
        selected = ", ".join(f"{sql} AS {name}" for name, sql in values.items())
        hits = Lets.under(lets, f"h{milestone.info.index}")  # its lets read the hit's own columns
        return (
            f'SELECT "at", event, {milestone.info.index} AS milestone_index, {index} AS reward_index, '
            f"referrer, referee, {selected} FROM {hits}{reversals.reward_join(milestone, index)}{where}"
        )

    def award_values(self, milestone: CompiledMilestone, index: int, keep: bool = True) -> tuple[dict[str, str], str]:
        """A reward's award row over its milestone's hits: each column's
        SQL, by name, in the order of the query's award rows; and the
        `WHERE` that withholds a computed amount of nothing or less (with
        `keep` false, the one that keeps only those)."""
        reward = milestone.rewards[index]
        info = reward.info
        where = ""
        wide = f"DECIMAL({MAX_DIGITS}, {self.scale})"
        if reward.constant is None and reward.quantum is None:  # exact (sql/amounts.py)
            amount, where = amounts.text(f"a{index}", info.unit), amounts.where(f"a{index}")
            wanted = f"CAST(1 AS {wide})"  # only a cap on a number of rewards counts it
        elif reward.constant is None:
            assert reward.quantum is not None  # see `amounts`
            places = minor_exponent(info.unit)
            cents = self.cents(milestone, index)
            amount = money_text(cents, places)
            wanted = (
                f"CAST(CAST({cents} AS DECIMAL({MAX_DIGITS}, 0)) * {number(reward.quantum, None, self.path)} AS {wide})"
            )
            where = f" WHERE {cents} > 0"  # nothing or less: withheld, as the Python engine does
        elif reward.constant_text is None or reward.constant <= 0:
            raise self.refuse("a reward whose amount is not positive", info.decl.amount)
        else:
            amount = literal(reward.constant_text)
            wanted = f"CAST({number(reward.constant, None, self.path)} AS {wide})"
        raw = f"a{index}" if reward.constant is None and reward.quantum is None else wanted
        if self.explaining and reward.constant is None and reward.quantum is not None:  # below 0 too
            signed = f"CAST({self.signed_cents(milestone, index)} AS DECIMAL({MAX_DIGITS}, 0))"
            raw = f"CAST({signed} * {number(reward.quantum, None, self.path)} AS {wide})"
        if not keep:
            where = f" WHERE NOT COALESCE(({where.removeprefix(' WHERE ')}), FALSE)" if where else " WHERE FALSE"
        cap = self.cap_of(milestone, index)
        beneficiary = "referrer" if info.role == "referrer" else "referee"
        head, role, rank = id_fields(milestone, index)
        referee = "referee" if milestone.info.level == "referral" else "''"
        values = {
            "id": award_id(head, referee, role, beneficiary, rank),
            "milestone": literal(milestone.info.name),
            "role": literal(info.role),
            "beneficiary": beneficiary,
            "kind": literal(info.kind),
            "amount": amount,
            "unit": literal(info.unit),
            "item": "CAST(NULL AS VARCHAR)" if info.item is None else literal(info.item),
            **reversals.reward_values(milestone, index),
            "program": literal(milestone.id_head[1]),
            "message": "CAST(NULL AS VARCHAR)",
            "msg": messages.row_value(milestone),
            **timers.order_values(milestone),
            **every.order_values(milestone),
            "wanted": wanted,
            "cap": "CAST(NULL AS VARCHAR)" if cap is None else literal(cap),
            **explain.row_values(self, milestone, index, amount if cap is not None else None),
            **({"raw": f"CAST({raw} AS VARCHAR)"} if self.explaining else {}),
        }
        return values, where

    def totals(self) -> list[str]:
        """The CTEs from `metered` to `totals`: the rows with every
        per-referrer metric (contributions, their changes per referral,
        the running sum per referrer in processing order)."""
        # computed once for many milestones (`MANY_OWN`): DuckDB would write
        # a CTE without a window into each milestone that reads it, and a
        # join in it (`seen`) would build one hash table each (300
        # milestones: 1.2 GB, past the default memory limit)
        kept = " MATERIALIZED" if self.many_own() else ""
        if not self.referrer_metrics:
            return [f"totals AS{kept} (SELECT * FROM metered)"]
        n = range(len(self.contributions))
        so_far = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
        changes = ", ".join(
            f'c{k} - COALESCE(LAG(c{k}) OVER (PARTITION BY rid ORDER BY "at", id), 0) AS d{k}' for k in n
        )
        sums = ", ".join(f'SUM(d{k}) OVER (PARTITION BY referrer ORDER BY "at", id {so_far}) AS R{k}' for k in n)
        changes += "".join(f", {exponents.contributed(k, sql)}" for k, sql in self.referrer_exponents.items())
        sums += "".join(f", {exponents.referrer_sum(k)}" for k in self.referrer_exponents)
        return [
            f"contributed AS (SELECT *, {', '.join(self.contributions)} FROM {self.voided.rows()})",
            f"changed AS (SELECT *, {changes} FROM contributed)",
            f"totals AS{kept} (SELECT *, {sums} FROM changed)",
        ]

    def cap_of(self, milestone: CompiledMilestone, index: int) -> str | None:
        """The key of the caps that count a reward, or None: `c0` for the
        first cap (or allowance) the file's rewards draw from, ` c0 c2 `
        for a reward counted by several (sql/caps.py, `folded`)."""
        reward = milestone.rewards[index]
        numbers = []
        for cap in reward.caps:
            key = f"cap{id(cap)}"
            if key not in self.caps:
                self.caps[key] = (len(self.caps), cap)
            numbers.append(self.caps[key][0])
        if not numbers:
            return None
        key = f"c{numbers[0]}" if len(numbers) == 1 else "".join(f" c{n}" for n in numbers) + " "
        cut = [cap.unit for cap in reward.caps if not cap.counts_rewards]
        if cut:  # a cap on an amount may cut it: written in its unit
            self.cap_units[key] = cut[0]
        return key

    def capped(self, body: str) -> str:
        """The award rows with their caps applied (sql/caps.py): in closed
        form when every reward is counted by one cap at most, else by the
        fold."""
        if any(len(r.caps) > 1 for m in self.compiled.milestones for r in m.rewards):
            return caps.folded(self, body)
        return caps.capped(self, body)

    def reading(self, index: int, selects: list[str]) -> list[str]:
        """`selects`, which read milestone `index`'s hits, as they go into
        a statement: with the CTEs of those hits when they are not the
        prelude's (`local`, `scoped`)."""
        ctes = self.local.get(index)
        return selects if ctes is None or not selects else [scoped(ctes, selects)]

    def _refuse_too_many_rewards(self) -> None:
        """Refuse, at its declaration, the first reward past `MAX_REWARDS`
        branches of the award rows' `UNION ALL`: each reward of a milestone
        with its own CTE, and the first reward of each group of the table
        of plain milestones (sql/grouped.py)."""
        firsts = set(self.table.firsts.values())
        rewards = [
            reward
            for m in self.compiled.milestones
            for r, reward in enumerate(m.rewards)
            if m.info.index not in self.table.indexes or (m.info.index, r) in firsts
        ]
        if len(rewards) > MAX_REWARDS:
            construct = f"more than {MAX_REWARDS} rewards outside the table of plain milestones in one file"
            raise self.refuse(construct, rewards[MAX_REWARDS].info.decl)

    # -- the query -----------------------------------------------------------
    def query(self) -> Query:
        self.check_program()
        self.scale = self.widest()
        eligible = self.eligibility()
        rows: list[str] = []
        self.table = table_driven.Table.of(self)
        for milestone in self.compiled.milestones:
            if milestone.info.index in self.table.indexes:
                self.table.add(self, milestone)
                continue
            cte, selects = self.milestone(milestone)
            if milestone.info.index in self.voided.indexes:  # before the counts that follow it
                self.voided.hits[milestone.info.index] = cte
                rows.extend(selects)
            else:
                self.local[milestone.info.index] = cte
                rows.extend(self.reading(milestone.info.index, selects))
        # after the milestones: they may read earlier referrals, carried from `refs` (sql/history.py)
        flags = "".join(f", {sql} AS e{p}" for p, sql in enumerate(eligible)) + "".join(f", {c}" for c in self.carried)
        carried = "".join(f", a.e{p}" for p in range(len(eligible)))
        moves = bool(attribution.moving(self))
        if moves:  # per row: whether the referral still holds its referee there
            carried = attribution.held(self)
        carried += "".join(f", a.{c}" for c in self.history.seen)
        others = ", ".join(literal(t) for t in sorted(self.types - {"referral"})) or "NULL"
        own = "(e.type = 'referral' AND e.id = a.rid) OR " if "referral" in self.types else ""
        metrics = "".join(f", {m}" for m in self.metric_sql)
        base = [
            'WITH scored AS (SELECT * FROM ledger WHERE "at" <= (SELECT "at" FROM as_of))',
            *self.history.ctes(),
            "refs AS (SELECT *, "
            'ROW_NUMBER() OVER (PARTITION BY referee ORDER BY "at", id) AS n '
            f"FROM {self.history.source()} AND referrer <> referee)",
            *(
                attribution.ctes(self, flags)
                if moves
                else [f'accepted AS (SELECT id AS rid, "at" AS rat, referrer, referee{flags} FROM refs WHERE n = 1)']
            ),
        ]
        prelude = ",\n".join(
            [
                *base,
                # the events each accepted referral sees: its own, then its
                # referee's from it on in processing order
                f"seen AS (SELECT a.rid, a.rat, a.referrer, a.referee{carried}, e.* EXCLUDE (referrer, referee)"
                f"{referral_fields.columns(self)} "
                f"FROM scored AS e JOIN accepted AS a ON e.referee = a.referee WHERE {own}"
                f'(e.type IN ({others}) AND (e."at" > a.rat OR (e."at" = a.rat AND e.id > a.rid))))',
                *self.metered(metrics),
                *unless_voided.ctes(self),
                *self.totals(),
                *self.table.hits(),
            ]
        )
        if not rows and not self.table.groups:  # the checker asks for a milestone with a reward: never so
            raise self.refuse("a rule file without rewards", self.checked.file)
        self._refuse_too_many_rewards()
        body = "\nUNION ALL\n".join([*self.table.rows(), *rows])
        issued = self.capped(body)
        self.prelude, self.issued = prelude, issued
        raw = ("raw",) if self.explaining else ()
        hidden = ", ".join(("wanted", "cap", "granted", "paid", *reversals.COLUMNS, "late", "scope", "nth", *raw))
        hidden += "".join(f", {name}" for name in explain.COLUMNS) if self.explain else ""
        why = explain.final(self)

        def final(rows: str) -> str:  # the awards statement's SELECT over its rows
            return f"SELECT * EXCLUDE ({hidden}){why} FROM ({rows}) AS awards\nORDER BY {ISSUE_ORDER}"

        awards = f"{prelude}\n{final(issued)}"
        voided = any(m.info.voids for m in self.compiled.milestones)
        taken = f"{prelude}\n{reversals.reversals_select(issued)}" if voided else ""
        claws = reversals.clawbacks_select(self, issued)
        staged = self._staged(final, claws) if voided else None
        duplicates = (
            attribution.duplicates()
            if moves
            else "SELECT r.id, r.\"at\", r.referrer, r.referee, 'duplicate_referral', "
            "'`' || r.referee || '` was already referred by `' || a.referrer || '` (event `' || a.rid || '`)' "
            "FROM refs AS r JOIN accepted AS a ON r.referee = a.referee WHERE r.n > 1"
        )
        rejected = (
            ",\n".join(base) + "\nSELECT * FROM (\n"
            "SELECT id AS event, \"at\", referrer, referee, 'self_referral' AS reason, CAST(NULL AS VARCHAR) AS detail "
            f"FROM scored WHERE type = 'referral' AND referrer = referee\nUNION ALL\n{duplicates}\nUNION ALL\n"
            # eligible for no program: it still claims its referee (docs/semantics.md)
            "SELECT rid, rat, referrer, referee, 'ineligible', CAST(NULL AS VARCHAR) FROM accepted "
            f"WHERE NOT ({' OR '.join(f'e{p}' for p in range(len(eligible)))})\n"
            ') AS rejected\nORDER BY "at", event'
        )
        # the most hits one event gives without `every` (one per milestone
        # an event can reach; a timer's are at its instant, not at an event)
        most = sum(not timers.is_timer(m) for m in self.compiled.milestones)
        volume = every.volume(self, prelude)
        names = tuple(m.info.name for m in self.compiled.milestones)
        repeats = any(every.is_every(m) for m in self.compiled.milestones)
        columns = tuple(self.columns.values())
        self._refuse_folded(columns)
        return Query(
            awards,
            rejected,
            columns,
            most,
            taken,
            clawbacks=f"{prelude}\n{claws}" if claws else "",
            volume=volume,
            names=names,
            repeats=repeats,
            why_inputs=self.why_inputs,
            folds=tuple(self.folds),
            optimizers_off=self._optimizers_off(),
            staged=staged,
        )

    def _staged(self, final: Callable[[str], str], claws: str) -> Staged:
        """`Staged` of the query just built (`prelude`, `issued`): `final`
        writes the awards statement's last SELECT over the given rows."""
        rows = f"SELECT * FROM {STAGED_TABLE}"
        return Staged(
            rows=f"{self.prelude}\nSELECT * FROM ({self.issued}) AS issued",
            awards=final(rows),
            reversals=reversals.reversals_select(rows),
            clawbacks=f"{self.prelude}\n{reversals.clawbacks_select(self, rows)}" if claws else "",
        )

    def many_own(self) -> bool:
        """Whether `MANY_OWN` or more milestones have CTEs of their own
        (the others are rows of the table, read by one CTE)."""
        # (constant time: `hits_head` asks once per milestone, of up to 10,000)
        own = len(self.compiled.milestones) - len(self.table.indexes)
        return own >= MANY_OWN

    def _optimizers_off(self) -> tuple[str, ...]:
        """`MANY_OWN_OFF` for a query of many milestones (`many_own`)."""
        return MANY_OWN_OFF if self.many_own() else ()

    def _refuse_folded(self, columns: tuple[Column, ...]) -> None:
        """Refuse two field columns whose names differ only in case
        (`purchase.amount` and `purchase.Amount`, or event types `Purchase`
        and `purchase`): DuckDB folds the case of quoted names too (as
        Spark, BigQuery do), so the query would read one for both and
        score silently otherwise. Refused at the second field's line."""
        seen: dict[str, Column] = {}
        for column in columns:
            other = seen.setdefault(column.name.lower(), column)
            if other.name != column.name:
                pair = f"`{other.event}.{other.field}` and `{column.event}.{column.field}`"
                raise self.refuse(f"the fields {pair} (names that differ only in case)", self._declared(column))

    def _declared(self, column: Column) -> object:
        """The declaration of a column's field (its event's, for a field
        without one), for a refusal's place."""
        event = self.checked.events.get(column.event)
        decl = event.decl if event is not None else None
        found = [f for f in decl.fields if f.name.text == column.field] if decl is not None else []
        return found[0] if found else decl


def scoped(ctes: str, selects: list[str]) -> str:
    """One SELECT of `selects` (a milestone's rows, or what else reads its
    hits) with the CTEs they read (`ctes`: the milestone's hits) in a WITH
    of its own, not the query's: DuckDB plans a query in time that grows
    with about the cube of the CTEs of one WITH that it reads (300 read by
    one UNION ALL: 37 s in DuckDB 2.0.1; the same 300 each in a WITH of
    its own: 0.7 s). The union sits in a subquery so that the WITH belongs
    to one SELECT, however a dialect scopes a WITH before a UNION."""
    union = "\nUNION ALL\n".join(selects)
    return f"SELECT * FROM (WITH {ctes}\nSELECT * FROM (\n{union}\n) AS u) AS m"


def _plain_text(value: str, unit: str) -> str:
    """A positive exact amount as the Python engine writes it in `unit`:
    a currency with every decimal of its minor unit, another unit in plain
    digits without trailing zeros."""
    if is_currency(unit):
        return f"CAST(CAST({value} AS DECIMAL({MAX_DIGITS}, {minor_exponent(unit)})) AS VARCHAR)"
    return plain_digits(value)


def plain_digits(value: str) -> str:
    """SQL: an exact value's text without trailing zeros (`2.500` is `2.5`,
    `2.000` is `2`): a DECIMAL's text has every decimal of its scale."""
    text = f"CAST({value} AS VARCHAR)"
    return f"(CASE WHEN CONTAINS({text}, '.') THEN RTRIM(RTRIM({text}, '0'), '.') ELSE {text} END)"


def _duration(duration: ast.Duration | ast.Quantity) -> int:
    """A duration's whole nanoseconds, as the Python engine has it."""
    return int(duration.value * DURATION_UNITS[duration.unit.text])


def _trigger_name(trigger: object) -> str:
    """How a refusal names a trigger not compiled yet."""
    if isinstance(trigger, ast.WhenTrigger):
        return "`when ... for D` (a timer)"
    names = {"IncreaseTrigger": "`whenever ... increases`", "EveryTrigger": "`every`", "AfterTrigger": "`after D`"}
    return names.get(type(trigger).__name__, "this trigger")


def _ref_text(node: ast.Ref) -> str:
    return node.head.text + (f".{node.attr.text}" if node.attr is not None else "")


def _construct(node: object) -> str:
    """How a refusal names an expression not compiled yet (`ast.RateOf`: "a rate table")."""
    names = {
        "Percent": "a percentage",
        "RateOf": "a rate table",
        "Tiers": "tiers",
        "InEarlier": "`in earlier referrals`",
        "Compare": "a comparison ignoring case",
        "InList": "`in` ignoring case",
    }
    kind = type(node).__name__
    return names.get(kind, f"the expression `{kind}`")


@in_context
def compile_query(compiled: CompiledRuleset, explain: bool = False) -> Query:
    """The program as SQL, or `Unsupported` naming the first construct that
    does not compile yet (nothing partial is ever returned). `explain`: each
    award row has its `why` (sql/explain.py), and a construct whose
    explanation does not compile yet is refused."""
    return _Compiler(compiled, explain=explain).query()
