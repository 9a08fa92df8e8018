"""Compile stage: a checked ruleset -> Python evaluators.

The compiler writes one Python module per ruleset (plain source text, run
through ``compile()``), so the scoring loop calls straight-line functions
and never walks the AST:

* ``step_<N>(r, ev, out)``, one per event type (``ev`` is the event's
  record, a tuple read by position: see ``model.EventInfo.record``): the
  whole of what an event of that type does to its referral, in one call:
  update the per-referral metrics that aggregate it, keep it if a void
  condition will need it, then for each program the referral is in, update
  the referrer's metrics over referrals and test the milestones it can
  reach, appending firings to ``out``.
* one function per reward amount, void condition, eligibility test, and a
  snapshot of all metric values for explanations.

Names in rule files never become Python names: metrics, slots, milestones
and constants are numbered; strings, names and the file's path are written
only through :mod:`rewardrules.codegen` (``lit``: a ``repr``'d constant;
``comment``), and every line is checked to hold no line break; the module's
globals are only the helpers of :mod:`rewardrules.runtime` and constants.
The generated source is registered with ``linecache`` (for as long as the
compiled ruleset lives) so a traceback in it shows the line, and each
generated line maps back to the rule-file span it came from
(`CompiledRuleset.source_line`; the map stays on the Python side): an
exception out of generated code gets a note naming the rule line, like
Jinja does for templates.
"""

from __future__ import annotations

import contextlib
import decimal
import functools
import hashlib
import linecache
import operator
import re
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from ..check.program import (
    RECORD_HEAD,
    CapInfo,
    CheckedRuleset,
    EventInfo,
    MetricInfo,
    MilestoneInfo,
    NodeMap,
    ProgramInfo,
    RewardInfo,
    VoidInfo,
)
from ..check.tables import row_limits
from ..core import runtime
from ..core.award import CONTRACT_FIELDS
from ..core.datatypes import DURATION, DURATION_UNITS, QUANTITY, Type
from ..core.formatting import amount_text, formatter
from ..core.ids import award_head
from ..core.limits import ValueLimitError
from ..core.source import Span
from ..core.units import is_currency, minor_exponent
from ..syntax import nodes as ast
from .codegen import comment, lit
from .codegen import filename as source_filename
from .codegen import line as checked_line

_OPS = {"==": "n_eq", "!=": "n_ne", "<": "n_lt", "<=": "n_le", ">": "n_gt", ">=": "n_ge"}
_ARITH = {"+": "n_add", "-": "n_sub", "*": "n_mul"}


@dataclass(slots=True, eq=False)
class CompiledReward:
    info: RewardInfo
    amount: Callable[..., Any] | None  # (r, R, ev, inc) -> Decimal | None; None for items
    #: the smallest money step (0.01 for USD) or None for other units
    quantum: Decimal | None = None
    #: the caps (program's and milestone's) that count this reward
    caps: list[CapInfo] = field(default_factory=list)
    #: the amount when it is a constant (`500 USD`), already rounded
    constant: Decimal | None = None
    #: that amount as award records write it ("500.00")
    constant_text: str | None = field(init=False, default=None)
    #: what the record of every award of this reward holds, in the
    #: contract's order: the report copies it and fills in the rest (id,
    #: at, beneficiary, referrer, referee; the amount unless constant)
    record: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.constant is not None:
            self.constant_text = amount_text(self.constant, self.quantum, self.info.kind)

    def set_record(self, program: str, milestone: str) -> None:
        """Make `record` (names known only once the milestone is compiled)."""
        info = self.info
        self.record = {
            **dict.fromkeys(CONTRACT_FIELDS),
            "milestone": milestone,
            "role": info.role,
            "kind": info.kind,
            "amount": self.constant_text,
            "unit": info.unit,
            "item": info.item,
            "status": "confirmed",
            "program": program,
            "message": None,
        }


@dataclass(slots=True, eq=False)
class CompiledVoid:
    info: VoidInfo
    test: Callable[..., bool]  # (r, ev, v) -> bool
    #: a partial void's share: (r, ev, v) -> (part, whole), either None
    #: when it has no value; None for a `void if` that takes the whole award
    share: Callable[..., tuple[Any, Any]] | None = None


@dataclass(slots=True, eq=False)
class CompiledMilestone:
    info: MilestoneInfo
    program: int
    rewards: list[CompiledReward]
    voids: list[CompiledVoid]
    caps: list[CapInfo]
    why_names: tuple[str, ...]
    #: the type of each `why` value, to write it (money with its decimals)
    why_types: tuple[Type | None, ...] = ()
    #: the first fields of its award ids: ruleset, program and milestone names
    id_head: tuple[str, str, str] = ("", "", "")
    #: the award-id hash with `id_head` already fed, copied for each award
    #: (see `ids.award_head`)
    id_hash: hashlib._Hash = field(init=False, repr=False)
    #: how to write each `why` value (`formatting.formatter` of its type)
    why_format: tuple[Callable[[Any], Any], ...] = field(init=False, repr=False)
    #: for a timer trigger (`when C for D`, `after D`): (r, R) -> the values
    #: of its condition when it holds, else None (see `_Compiler.timer_fn`)
    timer_test: Callable[..., tuple[Any, ...] | None] | None = None
    #: each reward's place among the rewards of its role, from 1 (part of
    #: its award ids from 2 on: see `engine.reward_rank`), counted once
    #: here rather than for every award issued
    ranks: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.id_hash = award_head(*self.id_head)
        self.why_format = tuple(formatter(typ) for typ in self.why_types)
        roles = [reward.info.role for reward in self.rewards]
        self.ranks = tuple(roles[: k + 1].count(role) for k, role in enumerate(roles))


@dataclass(slots=True, eq=False)
class CompiledProgram:
    index: int
    info: ProgramInfo
    eligible: Callable[[runtime.Referral], bool]
    referrer_slots: Callable[[], list[Any]]
    contrib_size: int
    caps: list[CapInfo]
    snapshot: Callable[..., dict[str, Any]]
    #: (r) -> None when the referral is eligible, else (k, values): the
    #: first `eligible when` clause that is false and the values it read
    why_not: Callable[[runtime.Referral], tuple[int, tuple[Any, ...]] | None] | None = None
    #: the names of those values, per clause (as `CompiledMilestone.why_names`)
    why_not_names: tuple[tuple[str, ...], ...] = ()
    #: (ev) -> whether the event converts the referee for the program's
    #: attribution (`... first payment where ...`); None when it never moves
    converts: Callable[[tuple[Any, ...]], bool] | None = None


class Origin(NamedTuple):
    """Where a generated line came from in the rule file."""

    path: str
    line: int
    column: int
    #: what the line computes, named as the rule file names it
    #: ("condition of milestone `first_sale`")
    what: str

    def note(self) -> str:
        """The note added to an exception raised on that line."""
        return f"in rule file {self.path}:{self.line}:{self.column} ({self.what})"


#: what the writer records for a generated line: the span and its description
_Origin = tuple[Span, str]


@dataclass(slots=True, eq=False, weakref_slot=True)
class CompiledRuleset:
    """Everything the engine needs to score ledgers with one rule file."""

    checked: CheckedRuleset
    #: per event type, the generated step (r, ev, out): metric updates,
    #: kept events and every program's milestone tests, in one call
    steps: dict[str, Callable[..., None]]
    referral_slots: Callable[[], list[Any]]
    programs: list[CompiledProgram]
    milestones: list[CompiledMilestone]
    #: event types that matter at all; others are skipped after validation
    used_types: frozenset[str]
    #: per event type, its record -> the dict of its fields by name
    fields: dict[str, Callable[[tuple[Any, ...]], dict[str, Any]]] = field(default_factory=dict)
    source: str = field(repr=False, default="")
    #: the file name the generated module was compiled under
    filename: str = ""
    #: per generated line (index 0 is line 1), the rule-file span it came
    #: from and what it computes; None for plumbing. Kept here, on the
    #: Python side: the path and names never enter the generated source.
    origins: tuple[_Origin | None, ...] = field(repr=False, default=())
    #: (r, H): settles a new referral's `earlier referrals` values from its
    #: referrer's `runtime.History`, before eligibility; None when unused
    at_referral: Callable[..., None] | None = None
    #: (H, fields, at, id): records a referral event in its referrer's
    #: history, after it was judged; None when no rule reads the history
    remember: Callable[..., None] | None = None
    #: the shape of a `runtime.History`: (count metrics, fields compared)
    history_shape: tuple[int, int] = (0, 0)
    #: referral slot -> the rule-language kind of the value a metric that
    #: starts empty holds there (see `_Compiler._layout`; a snapshot checks it)
    referral_kinds: dict[int, str] = field(default_factory=dict)
    #: per void event type that a metric over referrals `unless voided M`
    #: follows, `follow(r, links)`: after such an event was kept for a
    #: referral, its "taken back" flags and its contributions to those
    #: metrics in the programs of `links` (those it no longer holds its
    #: referee in: a step does the rest, see `Engine._follow`)
    follows: dict[str, Callable[..., None]] = field(default_factory=dict)
    #: what the engine gives the generated code (`taken_back`: whether an
    #: award of a milestone of a referral was taken back, see `score.clawback`)
    hooks: dict[str, Callable[..., Any]] = field(repr=False, default_factory=dict)

    @property
    def name(self) -> str:
        return self.checked.name

    def source_line(self, lineno: int) -> Origin | None:
        """The rule-file line a line of the generated module came from."""
        if not 1 <= lineno <= len(self.origins):
            return None
        origin = self.origins[lineno - 1]
        if origin is None:
            return None
        span, what = origin
        return Origin(span.path, span.line, span.column, what)

    def annotate(self, exc: BaseException, event: str | None = None) -> None:
        """Add a note naming the rule-file line to an exception raised
        inside this ruleset's generated code (the innermost such frame),
        as Jinja's tracebacks name the template line. `check` promises a
        checked program never raises while scoring: this is a safety net
        that makes an engine bug point at the rule that exposed it.

        One exception is the ledger's doing, not a bug: a value past the
        largest number scoring holds (`decimal.Overflow`, from a metric
        that squares itself over and over). That raises `ValueLimitError`
        instead, naming the line and `event` (the id, when the caller
        knows it), as a stop at a limit."""
        lineno = None
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                lineno = tb.tb_lineno
            tb = tb.tb_next
        origin = self.source_line(lineno) if lineno is not None else None
        if isinstance(exc, decimal.Overflow):
            where = f"({origin.what}, {origin.path}:{origin.line}:{origin.column})" if origin is not None else None
            raise ValueLimitError.overflow(where, event, runtime.CONTEXT.Emax) from exc
        if origin is None:
            return
        note = origin.note()
        if note not in getattr(exc, "__notes__", ()):
            exc.add_note(note)


def fields_of(info: EventInfo) -> Callable[[tuple[Any, ...]], dict[str, Any]]:
    """An event's record (see `model.EventInfo.record`) as the dict of its
    fields by name: id, at, referee (and referrer for a referral) and the
    declared fields. Scoring passes records; this is for what outlives the
    event and is read by name (kept events, triggers, messages, snapshots)."""
    builtin = ("id", "at", "referee", "referrer")  # the order results showed before records
    names = (*(n for n in builtin if n in info.fields), *(n for n in info.fields if n not in builtin))
    pick = operator.itemgetter(*(info.record().index(name) for name in names))
    return lambda record: dict(zip(names, pick(record), strict=True))


class _Writer:
    """Accumulates generated source and the constants it refers to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        #: parallel to `lines`: where each came from in the rule file
        self.origins: list[_Origin | None] = []
        self._origin: _Origin | None = None
        self.level = 0
        self.consts: dict[str, Any] = {}
        self._const_names: dict[tuple[str, str], str] = {}

    def line(self, text: str = "") -> None:
        self.lines.append(checked_line("    " * self.level + text if text else ""))
        self.origins.append(self._origin)

    @contextlib.contextmanager
    def origin(self, span: Span | None, what: str) -> Iterator[None]:
        """Record the lines written inside as coming from `span` (kept
        beside the source, see `CompiledRuleset.origins`; never in it)."""
        outer = self._origin
        self._origin = (span, what) if span is not None else outer
        try:
            yield
        finally:
            self._origin = outer

    def const(self, value: Any) -> str:
        key = (type(value).__name__, repr(value))
        name = self._const_names.get(key)
        if name is None:
            name = f"k{len(self._const_names)}"
            self._const_names[key] = name
            self.consts[name] = value
        return name

    def indent(self) -> None:
        self.level += 1

    def dedent(self) -> None:
        self.level -= 1


class _Compiler:
    def __init__(self, checked: CheckedRuleset) -> None:
        self.checked = checked
        self.w = _Writer()
        self.metric_ids: dict[MetricInfo, int] = {}
        self.referral_slot: dict[MetricInfo, int] = {}
        self.referral_init: list[Any] = []
        #: referral slot -> the rule-language kind of the value it holds,
        #: for the slots that start empty (`latest`, `first`, `max`, `min`)
        self.referral_kinds: dict[int, str] = {}
        self.referrer_slot: dict[tuple[int, int], int] = {}  # (program, metric id) -> slot
        self.referrer_init: dict[int, list[Any]] = {}
        self.contrib: dict[tuple[int, int], int] = {}
        #: milestone index -> the referral slot of "an award of it was taken
        #: back", for metrics over referrals `unless voided` it
        self.taken_slot: dict[int, int] = {}
        self._program = 0
        self.fields = {name: fields_of(info) for name, info in checked.events.items()}
        self._roles: dict[str, str] = {}
        self._records: frozenset[str] = frozenset()
        #: `earlier referrals`: count metrics (index in `History.counts`),
        #: fields compared (index in `History.values`), and each test's slot
        self.earlier_counts: list[MetricInfo] = []
        self.earlier_fields: dict[str, int] = {}
        self.earlier_tests: NodeMap[ast.InEarlier, int] = NodeMap()
        self.earlier_list: list[tuple[ast.InEarlier, int]] = []

    # -- layout ----------------------------------------------------------
    def mid(self, info: MetricInfo) -> int:
        if info not in self.metric_ids:
            self.metric_ids[info] = len(self.metric_ids)
        return self.metric_ids[info]

    def _layout(self) -> list[MetricInfo]:
        seen: dict[MetricInfo, None] = {}
        for program in self.checked.programs:
            for info in program.metrics.values():
                seen.setdefault(info)
        ordered = sorted(seen, key=lambda m: m.decl.span.start if m.decl.span else 0)
        for info in ordered:
            self.mid(info)
            agg = info.aggregate
            if agg is None or info.level != "referral" or info.type.kind == "error":
                continue
            self.referral_slot[info] = len(self.referral_init)
            if agg.earlier:
                self.earlier_counts.append(info)
            if agg.fn in ("count", "sum"):
                self.referral_init.append(runtime.ZERO)
            elif agg.fn == "first":
                self.referral_kinds[len(self.referral_init)] = info.type.kind
                self.referral_init.extend([None, False])
            else:
                self.referral_kinds[len(self.referral_init)] = info.type.kind
                self.referral_init.append(None)
        for p, program in enumerate(self.checked.programs):
            init: list[Any] = []
            for info in program.metrics.values():
                if info.level == "referrer" and info.aggregate is not None:
                    self.referrer_slot[(p, self.mid(info))] = len(init)
                    self.contrib[(p, self.mid(info))] = len(init)
                    init.append(runtime.ZERO)
            self.referrer_init[p] = init
        for program in self.checked.programs:
            for milestone in _followed(program).values():
                if milestone.index not in self.taken_slot:
                    self.taken_slot[milestone.index] = len(self.referral_init)
                    self.referral_init.append(False)
        return ordered

    # -- expressions -----------------------------------------------------
    def metrics_in(self, exprs: Iterable[ast.Expr | None]) -> list[MetricInfo]:
        """Metrics an expression reads, with everything they depend on, in
        an order where each comes after its dependencies."""
        return self.with_dependencies(self.direct_metrics(exprs))

    def direct_metrics(self, exprs: Iterable[ast.Expr | None]) -> list[MetricInfo]:
        """The metrics named in these expressions, in order."""
        direct: list[MetricInfo] = []
        for expr in exprs:
            for node in ast.walk(expr):
                binding = self.checked.bindings.get(node)
                if binding is not None and binding.kind == "metric" and binding.metric is not None:
                    direct.append(binding.metric)
        return direct

    def with_dependencies(self, direct: Iterable[MetricInfo]) -> list[MetricInfo]:
        """These metrics and all they depend on, each after its dependencies."""
        ordered: list[MetricInfo] = []
        done: set[MetricInfo] = set()

        def visit(info: MetricInfo) -> None:
            if info in done:
                return
            done.add(info)
            if info.aggregate is None:  # the names it reads (each visit reads its own: linear)
                for dep in self.direct_metrics([info.formula]):
                    visit(dep)
            ordered.append(info)

        for info in direct:
            visit(info)
        return ordered

    def prologue(self, metrics: Iterable[MetricInfo]) -> None:
        """Emit `mvN = ...` for each metric, dependencies first."""
        for info in metrics:
            with self.w.origin(info.decl.span, _metric_what(info)):
                self._metric_value(info)

    def _metric_value(self, info: MetricInfo) -> None:
        """Emit `mvN = ...` for one metric."""
        n = self.mid(info)
        agg = info.aggregate
        if agg is None:
            formula = info.formula
            assert formula is not None  # not an aggregate
            self.w.line(f"mv{n} = {self.expr(formula)}")
        elif info.level == "referrer":
            self.w.line(f"mv{n} = R.m[{self.referrer_slot[(self._program, n)]}]")
        else:
            self.w.line(f"mv{n} = r.m[{self.referral_slot[info]}]")
            if agg.otherwise is not None:
                self.w.line(f"if mv{n} is None:")
                self.w.indent()
                self.w.line(f"mv{n} = {self.expr(agg.otherwise)}")
                self.w.dedent()

    def nullable(self, node: ast.Expr) -> bool:
        return self.checked.nullable.get(node, False)

    def expr(self, node: ast.Expr) -> str:
        w = self.w
        if isinstance(node, ast.Number):
            return w.const(node.value)
        if isinstance(node, ast.Quantity):
            if node.unit.text in DURATION_UNITS:
                return w.const(_ns(node))
            return w.const(node.value)
        if isinstance(node, ast.Percent):
            return w.const(node.value)
        if isinstance(node, ast.PercentOf):
            factor = w.const(node.value / 100)
            inner = self.expr(node.operand)
            return f"n_mul({inner}, {factor})" if self.nullable(node.operand) else f"({inner} * {factor})"
        if isinstance(node, ast.RateOf):
            return f"n_rate({self.expr(node.operand)}, {self.expr(node.rate)})"
        if isinstance(node, ast.Tiers):
            lows = w.const(tuple(low.value for low in node.lows))
            highs = self._tier_highs(node)
            rows = "(" + "".join(f"{self.expr(v)}, " for v in node.values) + ")"
            if node.graduated:  # a slice runs to where the next starts (rows that meet) or to its high
                tops = w.const(tuple(None if high is None else high[0] for high in highs))
                return f"n_graduated({self.expr(node.metric)}, {lows}, {tops}, {rows})"
            return f"n_tier({self.expr(node.metric)}, {lows}, {w.const(highs)}, {rows})"
        if isinstance(node, ast.String):
            return lit(node.value)
        if isinstance(node, ast.Bool):
            return "True" if node.value else "False"
        if isinstance(node, ast.Ref):
            return self.ref(node)
        if isinstance(node, ast.Neg):
            inner = self.expr(node.operand)
            return f"n_neg({inner})" if self.nullable(node.operand) else f"(-{inner})"
        if isinstance(node, ast.Arith):
            left, right = self.expr(node.left), self.expr(node.right)
            result_type = self.checked.types.get(node)
            if node.op == "/":
                text = f"n_div({left}, {right})"
            elif self.nullable(node.left) or self.nullable(node.right):
                text = _null_aware(left, node.op, right, _ARITH[node.op], "None")
            else:
                text = f"({left} {node.op} {right})"
            if result_type is not None and result_type.kind == DURATION and node.op in "*/":
                text = f"to_ns({text})"
            return text
        if isinstance(node, ast.Compare):
            left, right = self.expr(node.left), self.expr(node.right)
            if node.fold:  # `ignoring case`: both sides' case foldings
                left, right = self.folded(node.left, left), self.folded(node.right, right)
            if self.nullable(node.left) or self.nullable(node.right):
                return _null_aware(left, node.op, right, _OPS[node.op], "False")
            return f"({left} {node.op} {right})"
        if isinstance(node, ast.And):
            return f"({self.expr(node.left)} and {self.expr(node.right)})"
        if isinstance(node, ast.Or):
            return f"({self.expr(node.left)} or {self.expr(node.right)})"
        if isinstance(node, ast.Not):
            return f"(not {self.expr(node.operand)})"
        if isinstance(node, ast.InList):
            operand = self.expr(node.operand)
            if node.fold:
                operand = self.folded(node.operand, operand)
            if all(isinstance(i, (ast.Number, ast.String, ast.Quantity, ast.Percent, ast.Bool)) for i in node.items):
                items = w.const(frozenset(_literal(i, node.fold) for i in node.items))
            elif node.fold:
                items = "(" + "".join(f"{self.folded(i, self.expr(i))}, " for i in node.items) + ")"
            else:
                items = "(" + "".join(f"{self.expr(i)}, " for i in node.items) + ")"
            helper = "n_not_in" if node.negated else "n_in"
            return f"{helper}({operand}, {items})"
        if isinstance(node, ast.IsSet):
            return f"({self.expr(node.operand)} is {'' if node.negated else 'not '}None)"
        if isinstance(node, ast.InEarlier):
            # settled at the referral (`at_referral_fn`): None when the
            # operand has no value, False when no earlier referral holds it,
            # else the id of the latest that does
            slot = self._earlier_slot(node)
            return f"(r.m[{slot}] is False)" if node.negated else f"(r.m[{slot}] not in (None, False))"
        raise AssertionError(f"cannot compile {node!r}")

    def _tier_highs(self, node: ast.Tiers) -> tuple[tuple[Decimal, bool] | None, ...]:
        """Each row's upper limit for `runtime.n_tier` (see `row_limits`)."""
        return row_limits(self.checked, node)

    def folded(self, node: ast.Expr, code: str) -> str:
        """The case folding of a text operand of `ignoring case`: a literal
        folded here, once; any other value by `runtime.n_fold` as it runs."""
        if isinstance(node, ast.String):
            return lit(node.value.casefold())
        return f"n_fold({code})"

    def ref(self, node: ast.Ref) -> str:
        binding = self.checked.bindings[node]
        if binding.kind == "increase":
            return "inc"
        if binding.kind == "metric":
            assert binding.metric is not None
            return f"mv{self.mid(binding.metric)}"
        assert binding.field is not None and binding.event is not None
        holder = self._roles[binding.event_role]
        if binding.event_role in self._records:
            return self.field(holder, binding.event.name, binding.field.name)
        return f"{holder}[{lit(binding.field.name)}]"

    def field(self, holder: str, event_type: str, name: str) -> str:
        """A value of an event's record (see `model.EventInfo.record`)."""
        return f"{holder}[{self.checked.events[event_type].record().index(name)}]"

    # -- functions -------------------------------------------------------
    def function(self, name: str, params: str, roles: dict[str, str], records: Iterable[str] = ()) -> None:
        """Start a function. `roles` maps each event role of its rules to
        the Python expression that holds that event: those named in
        `records` hold the event's record, read by position; the others a
        dict of its fields by name (what outlives the event: a referral's
        own fields, kept events, an award's trigger)."""
        self._roles = roles
        self._records = frozenset(records)
        self.w.line()
        self.w.line(f"def {name}({params}):")
        self.w.indent()

    def end(self) -> None:
        self.w.line("return None")
        self.w.dedent()

    def updates_by_type(self, metrics: list[MetricInfo]) -> dict[str, list[MetricInfo]]:
        """The per-referral metrics each event type updates."""
        by_type: dict[str, list[MetricInfo]] = {}
        for info in metrics:
            if info in self.referral_slot:
                agg = info.aggregate
                assert agg is not None
                if agg.earlier:
                    continue  # settled at the referral (`at_referral_fn`)
                by_type.setdefault(agg.source.text, []).append(info)
        return by_type

    def steps(self, updates: dict[str, list[MetricInfo]], kept: frozenset[str]) -> dict[str, str]:
        """One `step_<N>(r, ev, out, most)` per event type that does anything
        (`most`: the most awards the event may give, `Engine.per_event`):
        dispatch, updates and tests in one call, where a loop over separate
        pieces would pay a call and a look-up for each."""
        programs = self.checked.programs
        names: dict[str, str] = {}
        for event_type in sorted(self.checked.events):
            infos = updates.get(event_type, [])
            keep = event_type in kept and event_type != "referral"  # a referral keeps no referral event
            tests = [(p, parts) for p, program in enumerate(programs) if any(parts := _reacting(program, event_type))]
            if not infos and not keep and not tests:
                continue
            fname = f"step_{len(names)}"
            names[event_type] = fname
            self.function(
                fname, "r, ev, out, most", {"event": "ev", "referral": "r.rec"}, records=["event", "referral"]
            )
            if infos:
                self.w.line("m = r.m")
                for info in infos:
                    with self.w.origin(info.decl.span, _metric_what(info)):
                        self._update(info)
            if keep:
                fields = self.w.const(self.fields[event_type])
                self.w.line(f"r.keep({lit(event_type)}, {fields}(ev))")
                self.taken_updates(event_type)
            if tests:
                # the reached flags, bound once: a step reads them for every milestone
                flags = {_done(m) for _, (_, milestones) in tests for m in milestones if _once(m)}
                if "rd" in flags:
                    self.w.line("rd = r.done")
                self.w.line("for P, R in r.links:")
                self.w.indent()
                if "Rd" in flags:
                    self.w.line("Rd = R.done")
                for n, (p, (aggs, milestones)) in enumerate(tests):
                    if len(programs) > 1:  # which program this link is to
                        self.w.line(f"{'if' if n == 0 else 'elif'} P.index == {p}:")
                        self.w.indent()
                    self.program_tests(p, aggs, milestones)
                    if len(programs) > 1:
                        self.w.dedent()
                self.w.dedent()
            self.end()
        return names

    def _update(self, info: MetricInfo) -> None:
        agg = info.aggregate
        assert agg is not None
        slot = self.referral_slot[info]
        w = self.w
        w.line(comment(f"metric {info.name}"))
        tests = []
        if agg.where is not None:
            tests.append(self.expr(agg.where))
        if agg.within is not None:
            tests.append(f"{self.field('ev', agg.source.text, 'at')} - r.at <= {w.const(self._duration(agg.within))}")
        value = self.field("ev", agg.source.text, agg.field.text) if agg.field is not None else None
        if agg.fn == "first":
            tests.insert(0, f"not m[{slot + 1}]")
        elif value is not None:
            tests.insert(0, f"{value} is not None")
        w.line(f"if {' and '.join(tests) or 'True'}:")
        w.indent()
        if agg.fn == "count":
            w.line(f"m[{slot}] += {w.const(Decimal(1))}")
        elif agg.fn == "sum":
            w.line(f"m[{slot}] += {value}")
        elif agg.fn == "latest":
            w.line(f"m[{slot}] = {value}")
        elif agg.fn == "first":
            w.line(f"m[{slot}] = {value}")
            w.line(f"m[{slot + 1}] = True")
        else:
            cmp = ">" if agg.fn == "max" else "<"
            w.line(f"if m[{slot}] is None or {value} {cmp} m[{slot}]:")
            w.indent()
            w.line(f"m[{slot}] = {value}")
            w.dedent()
        w.dedent()

    @staticmethod
    def _duration(duration: ast.Duration) -> int:
        return _ns(duration)

    def taken_updates(self, event_type: str) -> None:
        """After a void event is kept: whether it took back an award of a
        milestone that a metric `unless voided` follows (the engine's
        `taken_back`, through `hooks`), before the metrics are counted."""
        for milestone in self.checked.milestones:
            slot = self.taken_slot.get(milestone.index)
            if slot is not None and any(v.event == event_type for v in milestone.voids):
                self.w.line(f"r.m[{slot}] = hooks['taken_back'](r, {milestone.index})")

    def follows(self, kept: frozenset[str]) -> dict[str, str]:
        """One `follow_<N>(r, links)` per void event type whose void a
        metric over referrals `unless voided` follows: the referral's taken
        back flags, then its contribution to those metrics in each program
        of `links` ((program, referrer state) pairs). For a referral that no
        longer holds its referee in a program, its contribution there stays
        as it was when it lost it (its metrics may go on in a program it
        still holds: they count there only), but a void of its award still
        takes it out of the count. The flags are the step's when the
        referral still counts somewhere (its step set them before the
        event's awards, as for any referral): set again after the awards,
        a program's counts would depend on another's attribution."""
        names: dict[str, str] = {}
        programs = self.checked.programs
        for event_type in sorted(kept - {"referral"}):
            if not any(
                m.index in self.taken_slot and any(v.event == event_type for v in m.voids)
                for m in self.checked.milestones
            ):
                continue
            fname = f"follow_{len(names)}"
            names[event_type] = fname
            self.function(fname, "r, links", {"referral": "r.rec"}, records=["referral"])
            self.w.line("if not r.links:  # else its step set them")
            self.w.indent()
            self.taken_updates(event_type)
            self.w.dedent()
            self.w.line("for P, R in links:")
            self.w.indent()
            self.w.line("pass")
            for p, program in enumerate(programs):
                followed = _followed(program)
                aggs = [info for info in program.metrics.values() if info.name in followed]
                if not aggs:
                    continue
                self._program = p
                self.w.line(f"if P.index == {p}:")
                self.w.indent()
                self.w.line(f"c = r.contrib[{p}]")
                for info in aggs:
                    with self.w.origin(info.decl.span, _metric_what(info)):
                        self._dropped(p, info, followed[info.name])
                self.w.dedent()
            self.w.dedent()
            self.end()
        return names

    def _dropped(self, p: int, info: MetricInfo, followed: MilestoneInfo) -> None:
        """In `follow`: a referral's contribution to `info` in a program where
        it lost its referee, kept as it was, dropped to nothing once an award
        of `followed` is taken back."""
        slot = self.referrer_slot[(p, self.mid(info))]
        w = self.w
        w.line(comment(f"metric {info.name} (over referrals, kept as it was)"))
        w.line(f"if r.m[{self.taken_slot[followed.index]}] and c[{slot}]:")
        w.indent()
        w.line(f"R.m[{slot}] -= c[{slot}]")
        w.line(f"c[{slot}] = {w.const(runtime.ZERO)}")
        w.dedent()

    def program_tests(self, p: int, aggs: list[MetricInfo], milestones: list[MilestoneInfo]) -> None:
        """Within a step's loop over the referral's programs (`P`, `R`):
        program p's referrer metrics over referrals, then the milestones the
        event can reach (see `_reacting`; `continue` ends this program's part)."""
        self._program = p
        if aggs:
            self.w.line(f"c = r.contrib[{p}]")
        for info in aggs:
            with self.w.origin(info.decl.span, _metric_what(info)):
                self._contribution(p, info)
        once = [m for m in milestones if _once(m)]
        if not aggs and once and len(once) == len(milestones):
            # every milestone here is awarded once: when all are, skip the rest
            done = " and ".join(f"{_done(m)}[{m.index}]" for m in once)
            self.w.line(f"if {done}:")
            self.w.indent()
            self.w.line("continue")
            self.w.dedent()
        used = self.with_dependencies(info for m in milestones for info in self._milestone_metrics(m))
        # metrics are read after the referrer's totals were brought up to date
        self.prologue(list(used))
        for milestone in milestones:
            with self.w.origin(milestone.trigger.span, f"condition of milestone `{milestone.name}`"):
                self._milestone(milestone)

    def _milestone_metrics(self, milestone: MilestoneInfo) -> list[MetricInfo]:
        """The metrics a milestone's trigger reads directly (and, for its
        `why`, the rate tables its rewards read)."""
        trigger = milestone.trigger
        rates = self.direct_metrics(self._rate_refs(milestone))
        if isinstance(trigger, ast.WhenTrigger):
            return self.direct_metrics([trigger.condition]) + rates
        if isinstance(trigger, ast.EventTrigger):
            return self.direct_metrics([trigger.where]) + rates
        if isinstance(trigger, ast.AfterTrigger):
            return self.direct_metrics([trigger.condition]) + rates
        return [self.checked.programs[self._program].metrics[trigger.metric.text]]

    def _rate_refs(self, milestone: MilestoneInfo) -> list[ast.Ref]:
        """The names of rate tables (`tiers of`) that the milestone's reward
        amounts read: an award's `why` gives their values, the rate it paid."""
        found = []
        for reward in milestone.rewards:
            for node in ast.walk(reward.decl.amount):
                binding = self.checked.bindings.get(node) if isinstance(node, ast.Ref) else None
                metric = binding.metric if binding is not None else None
                if metric is not None and isinstance(metric.decl.body, ast.Tiers):
                    assert isinstance(node, ast.Ref)
                    found.append(node)
        return found

    def _contribution(self, p: int, info: MetricInfo) -> None:
        agg = info.aggregate
        assert agg is not None
        slot = self.referrer_slot[(p, self.mid(info))]
        w = self.w
        w.line(comment(f"metric {info.name} (over referrals)"))
        exprs: list[ast.Expr | None] = [agg.where]
        target: MetricInfo | None = None
        if agg.fn == "sum" and agg.field is not None:
            target = self.checked.programs[p].metrics[agg.field.text]
        deps = self.metrics_in(exprs) + ([target] if target is not None else [])
        if target is not None and target.aggregate is None:
            deps = self.metrics_in([*exprs, target.formula])
            deps.append(target)
        self.prologue(dict.fromkeys(deps))
        if agg.fn == "count":
            value = w.const(Decimal(1))
        else:
            assert target is not None
            value = f"(mv{self.mid(target)} or {w.const(runtime.ZERO)})"
        if agg.where is not None:
            value = f"({value} if {self.expr(agg.where)} else {w.const(runtime.ZERO)})"
        followed = _followed(self.checked.programs[p]).get(info.name)
        if followed is not None:  # `unless voided M`: not while an award of M is taken back
            value = f"({w.const(runtime.ZERO)} if r.m[{self.taken_slot[followed.index]}] else {value})"
        w.line(f"v = {value}")
        w.line(f"d = v - c[{slot}]")
        w.line("if d:")
        w.indent()
        w.line(f"R.m[{slot}] += d")
        w.line(f"c[{slot}] = v")
        w.dedent()

    def _why(self, expr: ast.Expr | None, index: int, extra: Iterable[ast.Ref] = ()) -> str:
        """Record which values explain an award (names and types, for the
        report) and return the Python tuple that captures them: the
        condition's, then `extra` (the rate tables its rewards read)."""
        names: dict[str, str] = {}
        types: dict[str, Type | None] = {}
        for node in [*ast.walk(expr), *extra]:
            if isinstance(node, ast.Ref) and node in self.checked.bindings:
                names.setdefault(node.dotted, self.ref(node))
                types.setdefault(node.dotted, self.checked.types.get(node))
        self.why[index] = (tuple(names), tuple(types.values()))
        return "(" + "".join(f"{v}, " for v in names.values()) + ")"

    def _milestone(self, milestone: MilestoneInfo) -> None:
        w = self.w
        i = milestone.index
        st = "R" if milestone.level == "referrer" else "r"
        done = _done(milestone)
        trigger = milestone.trigger
        w.line(comment(f"milestone {milestone.name}"))
        if isinstance(trigger, ast.WhenTrigger):
            values = self._why(trigger.condition, i, self._rate_refs(milestone))
            w.line(f"if not {done}[{i}] and {self.expr(trigger.condition)}:")
            w.indent()
            w.line(f"{done}[{i}] = True")
            w.line(f"out.append((P, R, {i}, None, None, {values}))")
            w.dedent()
        elif isinstance(trigger, ast.EventTrigger):
            values = self._why(trigger.where, i, self._rate_refs(milestone))
            tests = [] if trigger.each else [f"not {done}[{i}]"]
            if trigger.where is not None:
                tests.append(self.expr(trigger.where))
            if trigger.within is not None:
                at = self.field("ev", trigger.event.text, "at")
                tests.append(f"{at} - r.at <= {w.const(self._duration(trigger.within))}")
            w.line(f"if {' and '.join(tests) or 'True'}:")
            w.indent()
            if trigger.each:
                w.line(f"out.append((P, R, {i}, {self.field('ev', trigger.event.text, 'id')}, None, {values}))")
            else:
                w.line(f"{done}[{i}] = True")
                w.line(f"out.append((P, R, {i}, None, None, {values}))")
            w.dedent()
        else:
            assert isinstance(trigger, (ast.IncreaseTrigger, ast.EveryTrigger))  # timers: `timer_fn`
            metric = self.checked.programs[self._program].metrics[trigger.metric.text]
            self.why[i] = ((metric.name,), (metric.type,))
            w.line(f"cur = mv{self.mid(metric)}")
            w.line("if cur is not None:")
            w.indent()
            if isinstance(trigger, ast.IncreaseTrigger):
                w.line(f"prev = {st}.prev[{i}]")
                w.line(f"{st}.prev[{i}] = cur")
                w.line("if cur > prev:")
                w.indent()
                w.line(f"out.append((P, R, {i}, ev[{RECORD_HEAD.index('id')}], cur - prev, (cur,)))")
                w.dedent()
            else:
                step = w.const(trigger.step)
                w.line(f"reached = multiples(cur, {step})")
                # all the multiples reached, or an error before any: never some of them
                w.line(f"if reached - {st}.prev[{i}] > most:")
                w.indent()
                w.line(
                    f"too_many({lit(milestone.name)}, reached - {st}.prev[{i}], ev[{RECORD_HEAD.index('id')}], most)"
                )
                w.dedent()
                w.line(f"while {st}.prev[{i}] < reached:")
                w.indent()
                w.line(f"{st}.prev[{i}] += 1")
                w.line(f"out.append((P, R, {i}, occurrence({st}.prev[{i}] * {step}), None, (cur,)))")
                w.dedent()
            w.dedent()

    def reward_fn(self, p: int, milestone: MilestoneInfo, k: int, reward: RewardInfo) -> str | None:
        if reward.kind == "item":
            return None
        self._program = p
        fname = f"amount_{milestone.index}_{k}"
        self.function(fname, "r, R, ev, inc", {"event": "ev", "referral": "r.rec"}, records=["event", "referral"])
        self.prologue(self.metrics_in([reward.decl.amount]))
        with self.w.origin(reward.decl.amount.span, f"amount of a reward of milestone `{milestone.name}`"):
            self.w.line(f"return {self.expr(reward.decl.amount)}")
        self.w.dedent()
        return fname

    def void_fn(self, milestone: MilestoneInfo, k: int, void: VoidInfo) -> str:
        fname = f"void_{milestone.index}_{k}"
        self.function(fname, "r, ev, v", {"event": "ev", "referral": "r.rec", "void": "v"}, records=["referral"])
        where = void.decl.where
        with self.w.origin(void.decl.span, f"void condition of milestone `{milestone.name}`"):
            self.w.line(f"return {self.expr(where) if where is not None else 'True'}")
        self.w.dedent()
        return fname

    def timer_fn(self, p: int, milestone: MilestoneInfo) -> str | None:
        """For a timer trigger, `timer_<i>(r, R)`: the values of its
        condition (its `why`) when the condition holds with the metrics as
        they are, else None; the engine calls it when an event may have
        changed them (`when C for D`) and when the timer is due."""
        trigger = milestone.trigger
        if ast.timer_of(trigger) is None:
            return None
        self._program = p
        condition = trigger.condition if isinstance(trigger, (ast.WhenTrigger, ast.AfterTrigger)) else None
        fname = f"timer_{milestone.index}"
        self.function(fname, "r, R", {"referral": "r.rec"}, records=["referral"])
        rates = self._rate_refs(milestone)  # its `why` gives the rates its rewards read, as an event's does
        self.prologue(self.metrics_in([condition, *rates]))
        values = self._why(condition, milestone.index, rates)
        with self.w.origin(trigger.span, f"condition of milestone `{milestone.name}`"):
            test = self.expr(condition) if condition is not None else "True"
            self.w.line(f"return {values} if {test} else None")
        self.w.dedent()
        return fname

    def share_fn(self, milestone: MilestoneInfo, k: int, void: VoidInfo) -> str | None:
        """The part and the whole of a partial void, or None for a void of
        the whole award (see `CompiledVoid.share`)."""
        part, whole = void.decl.part, void.decl.whole
        if part is None or whole is None:
            return None
        fname = f"share_{milestone.index}_{k}"
        self.function(fname, "r, ev, v", {"event": "ev", "referral": "r.rec", "void": "v"}, records=["referral"])
        with self.w.origin(void.decl.span, f"share of a partial void of milestone `{milestone.name}`"):
            self.w.line(f"return ({self.expr(part)}, {self.expr(whole)})")
        self.w.dedent()
        return fname

    def eligible_fn(self, p: int, program: ProgramInfo) -> str:
        fname = f"p{p}_eligible"
        self._program = p
        self.function(fname, "r", {"referral": "r.rec"}, records=["referral"])
        self.prologue(self.metrics_in(program.eligible))  # only metrics settled at the referral
        tests = [self.expr(e) for e in program.eligible]
        span = program.eligible[0].span if program.eligible else None
        with self.w.origin(span, f"eligibility of program `{program.name}`"):
            self.w.line(f"return {' and '.join(tests) or 'True'}")
        self.w.dedent()
        return fname

    def why_not_fn(self, p: int, program: ProgramInfo) -> tuple[str, tuple[tuple[str, ...], ...]]:
        """`p<N>_why_not(r)`: the first eligibility clause that is false and
        the values it read (fields, metrics, and for `in earlier
        referrals.F` the id of the earlier referral that holds the value),
        so that a rejected referral says which rule rejected it and why."""
        self._program = p
        fname = f"p{p}_why_not"
        self.function(fname, "r", {"referral": "r.rec"}, records=["referral"])
        self.prologue(self.metrics_in(program.eligible))
        names: list[tuple[str, ...]] = []
        for k, clause in enumerate(program.eligible):
            values: dict[str, str] = {}
            for node in sorted(ast.walk(clause), key=_position):  # as the clause reads, left to right
                if isinstance(node, ast.InEarlier):
                    values.setdefault(f"earlier referrals.{node.field.text}", f"r.m[{self._earlier_slot(node)}]")
                elif isinstance(node, ast.Ref) and node in self.checked.bindings:
                    values.setdefault(node.dotted, self.ref(node))
            names.append(tuple(values))
            with self.w.origin(clause.span, f"eligibility of program `{program.name}`"):
                self.w.line(f"if not {self.expr(clause)}:")
                self.w.indent()
                self.w.line(f"return ({k}, (" + "".join(f"{v}, " for v in values.values()) + "))")
                self.w.dedent()
        self.end()
        return fname, tuple(names)

    def _earlier_slot(self, node: ast.InEarlier) -> int:
        """The referral slot that holds a test's outcome (see `expr`)."""
        slot = self.earlier_tests.get(node)
        if slot is None:
            slot = len(self.referral_init)
            self.referral_init.append(None)
            self.earlier_tests[node] = slot
            self.earlier_list.append((node, slot))
            self.earlier_fields.setdefault(node.field.text, len(self.earlier_fields))
        return slot

    def at_referral_fn(self) -> str | None:
        """`at_referral(r, H)`: the values of `earlier referrals` for a new
        referral, from its referrer's history (only events before it): the
        counts first, then the tests, whose operands may read them."""
        if not self.earlier_counts and not self.earlier_list:
            return None
        self.function("at_referral", "r, H", {"referral": "r.rec"}, records=["referral"])
        self.w.line("m = r.m")
        for k, info in enumerate(self.earlier_counts):
            agg = info.aggregate
            assert agg is not None
            with self.w.origin(info.decl.span, _metric_what(info)):
                bound = "None" if agg.within is None else f"r.at - {self.w.const(self._duration(agg.within))}"
                self.w.line(f"m[{self.referral_slot[info]}] = count_since(H.counts[{k}], {bound})")
        tests = list(self.earlier_list)
        self.prologue(self.metrics_in(node.operand for node, _ in tests))
        for node, slot in tests:
            with self.w.origin(node.span, "a test of earlier referrals"):
                self.w.line(f"v = {self.expr(node.operand)}")
                index = self.earlier_fields[node.field.text]
                self.w.line(f"m[{slot}] = None if v is None else H.values[{index}].get(v, False)")
        self.end()
        return "at_referral"

    def remember_fn(self) -> str | None:
        """`remember(H, e, at, eid)`: record a referral event (its fields
        `e`) in its referrer's history, for the referrals after it."""
        if not self.earlier_counts and not self.earlier_fields:
            return None
        self.function("remember", "H, e, at, eid", {"earlier": "e"})
        for k, info in enumerate(self.earlier_counts):
            agg = info.aggregate
            assert agg is not None
            with self.w.origin(info.decl.span, _metric_what(info)):
                test = self.expr(agg.where) if agg.where is not None else "True"
                self.w.line(f"if {test}:")
                self.w.indent()
                self.w.line(f"H.counts[{k}].append(at)")
                self.w.dedent()
        for name, index in self.earlier_fields.items():
            self.w.line(f"v = e[{lit(name)}]")
            self.w.line("if v is not None:")
            self.w.indent()
            self.w.line(f"H.values[{index}][v] = eid")
            self.w.dedent()
        self.end()
        return "remember"

    def converts_fn(self, p: int, program: ProgramInfo) -> str | None:
        """`p<N>_converts(ev)`: whether an event of the attribution's
        conversion type meets its filter (the engine calls it for events
        of that type only); None when the program's attribution never moves."""
        attribution = program.attribution
        if attribution.event is None:
            return None
        fname = f"p{p}_converts"
        self.function(fname, "ev", {"event": "ev"}, records=["event"])
        where = attribution.where
        span = attribution.decl.span if attribution.decl is not None else None
        with self.w.origin(span, f"attribution of program `{program.name}`"):
            self.w.line(f"return {self.expr(where) if where is not None else 'True'}")
        self.w.dedent()
        return fname

    def snapshot_fn(self, p: int, program: ProgramInfo) -> str:
        self._program = p
        fname = f"p{p}_snapshot"
        self.function(fname, "r, R", {"referral": "r.rec"}, records=["referral"])
        infos = [m for m in program.metrics.values() if m.type.kind != "error"]
        self.prologue(self.with_dependencies(infos))
        self.w.line("return {" + "".join(f"{lit(m.name)}: mv{self.mid(m)}, " for m in infos) + "}")
        self.w.dedent()
        return fname

    why: dict[int, tuple[tuple[str, ...], tuple[Type | None, ...]]]


_SIMPLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|'(?:[^'\\]|\\.)*'")


def _null_aware(left: str, op: str, right: str, helper: str, otherwise: str) -> str:
    """`left op right`, or `otherwise` when an operand has no value. With
    plain names (locals, constants) the checks are written inline, which
    spares a call on the hot path; anything else goes through the helper so
    that each operand is evaluated once."""
    if not (_SIMPLE.fullmatch(left) and _SIMPLE.fullmatch(right)):
        return f"{helper}({left}, {right})"
    checks = [f"{name} is None" for name in (left, right) if not name.startswith("k") and not name.startswith("'")]
    if not checks:
        return f"({left} {op} {right})"
    if otherwise == "False":
        guards = " and ".join(c.replace(" is None", " is not None") for c in checks)
        return f"({guards} and {left} {op} {right})"
    return f"({otherwise} if {' or '.join(checks)} else {left} {op} {right})"


def _position(node: ast.Expr) -> tuple[int, int]:
    """Where a node ends in the rule file (so an operand comes before the
    test that holds it), for values listed as the rule reads."""
    span = node.span
    return (span.end, span.start) if span is not None else (0, 0)


def _metric_what(info: MetricInfo) -> str:
    """How a line map names a metric's lines."""
    return f"metric `{info.name}`"


def _reacting(program: ProgramInfo, event_type: str) -> tuple[list[MetricInfo], list[MilestoneInfo]]:
    """What an event of this type touches in the program: its referrer
    metrics over referrals that it updates, and the milestones it can reach."""
    aggs = [
        m
        for m in program.metrics.values()
        if m.level == "referrer" and m.aggregate is not None and event_type in m.events
    ]
    # a timer trigger is tested by the engine, not by the step (`timer_fn`)
    return aggs, [m for m in program.milestones if event_type in m.events and ast.timer_of(m.trigger) is None]


def _followed(program: ProgramInfo) -> dict[str, MilestoneInfo]:
    """Metrics over referrals `unless voided M`, by name, and their M."""
    names = {m.name: m for m in program.milestones}
    out = {}
    for info in program.metrics.values():
        agg = info.aggregate
        if agg is not None and agg.unless is not None and agg.unless.text in names:
            out[info.name] = names[agg.unless.text]
    return out


def _done(milestone: MilestoneInfo) -> str:
    """The local that holds the reached flags of a milestone's level, in a
    step (see `_Compiler.steps`)."""
    return "Rd" if milestone.level == "referrer" else "rd"


def _once(milestone: MilestoneInfo) -> bool:
    """Whether a milestone is awarded at most once (per referral or referrer)."""
    trigger = milestone.trigger
    return isinstance(trigger, ast.WhenTrigger) or (isinstance(trigger, ast.EventTrigger) and not trigger.each)


def _constant(reward: RewardInfo) -> Decimal | None:
    """A reward's amount when the rule writes a number (`500 USD`), rounded
    as issued; None when it is computed at each award."""
    node = reward.decl.amount
    if reward.kind == "item":
        return Decimal(1)
    if not isinstance(node, ast.Quantity):
        return None
    quantum = _quantum(reward.unit)
    return node.value if quantum is None else node.value.quantize(quantum, context=runtime.CONTEXT)


def _quantum(unit: str) -> Decimal | None:
    return Decimal(1).scaleb(-minor_exponent(unit)) if is_currency(unit) else None


def _ns(duration: ast.Duration | ast.Quantity) -> int:
    """A duration's whole nanoseconds (`7 days`, `1.5 hours`)."""
    return int(duration.value * DURATION_UNITS[duration.unit.text])


def _literal(node: ast.Expr, fold: bool = False) -> Any:
    """A constant of an `in [...]` list, as `expr` gives it (a duration in
    whole nanoseconds: `in [1 days]` once meant one nanosecond)."""
    if isinstance(node, ast.Quantity) and node.unit.text in DURATION_UNITS:
        return _ns(node)
    if isinstance(node, (ast.Number, ast.Quantity, ast.Percent)):
        return node.value
    if isinstance(node, ast.String):
        return node.value.casefold() if fold else node.value
    if isinstance(node, ast.Bool):
        return node.value
    raise AssertionError(node)


def compile_ruleset(checked: CheckedRuleset) -> CompiledRuleset:
    """Generate, compile and load the evaluators of a checked ruleset."""
    c = _Compiler(checked)
    c.why = {}
    metrics = c._layout()
    c.w.line(comment(f"generated by rewardrules from {checked.source.path}"))
    updates = c.updates_by_type(metrics)
    kept = frozenset(v.event for m in checked.milestones for v in m.voids)
    step_names = c.steps(updates, kept)
    follow_names = c.follows(kept)
    plan = []
    for p, program in enumerate(checked.programs):
        eligible = c.eligible_fn(p, program)
        snapshot = c.snapshot_fn(p, program)
        why_not = c.why_not_fn(p, program)
        converts = c.converts_fn(p, program)
        rewards = []
        for milestone in program.milestones:
            c._program = p
            amounts = [c.reward_fn(p, milestone, k, reward) for k, reward in enumerate(milestone.rewards)]
            voids = [
                (c.void_fn(milestone, k, void), c.share_fn(milestone, k, void))
                for k, void in enumerate(milestone.voids)
            ]
            rewards.append((milestone, amounts, voids, c.timer_fn(p, milestone)))
        plan.append((program, eligible, snapshot, why_not, converts, rewards))
    # last: every test of earlier referrals has its slot by now
    at_referral = c.at_referral_fn()
    remember = c.remember_fn()
    source = "\n".join(c.w.lines) + "\n"
    filename = source_filename("ruleset", source)
    hooks: dict[str, Callable[..., Any]] = {}
    namespace: dict[str, Any] = {"__builtins__": {}, **runtime.HELPERS, **c.w.consts, "hooks": hooks}
    code = compile(source, filename, "exec")
    exec(code, namespace)
    entry = (len(source), None, source.splitlines(True), filename)
    linecache.cache[filename] = entry
    referral_init = tuple(c.referral_init)
    programs: list[CompiledProgram] = []
    milestones: list[CompiledMilestone] = []
    for p, (program, eligible, snapshot, why_not, converts, rewards) in enumerate(plan):
        init = tuple(c.referrer_init[p])
        for milestone, amounts, voids, timer in rewards:
            compiled = [
                CompiledReward(
                    r,
                    namespace[a] if a else None,
                    _quantum(r.unit),
                    [c for c in [*program.caps, *milestone.caps, *program.allowances] if c.applies(r.role, r.unit)],
                    _constant(r),
                )
                for r, a in zip(milestone.rewards, amounts, strict=True)
            ]
            for reward in compiled:
                reward.set_record(program.name, milestone.name)
            milestones.append(
                CompiledMilestone(
                    info=milestone,
                    program=p,
                    rewards=compiled,
                    voids=[
                        CompiledVoid(v, namespace[f], namespace[share] if share else None)
                        for v, (f, share) in zip(milestone.voids, voids, strict=True)
                    ],
                    caps=list(program.caps) + list(milestone.caps),
                    why_names=c.why.get(milestone.index, ((), ()))[0],
                    why_types=c.why.get(milestone.index, ((), ()))[1],
                    id_head=(checked.name, program.name, milestone.name),
                    timer_test=namespace[timer] if timer else None,
                )
            )
        programs.append(
            CompiledProgram(
                index=p,
                info=program,
                eligible=namespace[eligible],
                referrer_slots=functools.partial(list, init),
                contrib_size=len(init),
                caps=list(program.caps),
                snapshot=namespace[snapshot],
                why_not=namespace[why_not[0]],
                why_not_names=why_not[1],
                converts=namespace[converts] if converts is not None else None,
            )
        )
    # a conversion counts even where no metric or milestone reads its event
    used = set(step_names) | {"referral"} | {p.attribution.event for p in checked.programs if p.attribution.event}
    # what may start or stop a timer (`when C for D`, `after D from EVENT`)
    used.update(kind for m in checked.milestones if ast.timer_of(m.trigger) is not None for kind in m.events)
    result = CompiledRuleset(
        checked=checked,
        steps={t: namespace[f] for t, f in step_names.items()},
        follows={t: namespace[f] for t, f in follow_names.items()},
        referral_slots=functools.partial(list, referral_init),
        referral_kinds=dict(c.referral_kinds),
        programs=programs,
        milestones=sorted(milestones, key=lambda m: m.info.index),
        used_types=frozenset(used),
        source=source,
        fields=c.fields,
        filename=filename,
        origins=tuple(c.w.origins),
        at_referral=namespace[at_referral] if at_referral else None,
        remember=namespace[remember] if remember else None,
        history_shape=(len(c.earlier_counts), len(c.earlier_fields)),
        hooks=hooks,
    )
    # the traceback's view of the source lives as long as the ruleset does
    weakref.finalize(result, _forget_source, filename, entry)
    return result


def _forget_source(filename: str, entry: tuple[Any, ...]) -> None:
    """Drop a freed ruleset's source from `linecache`, unless a later
    compile of the same source registered its own entry since."""
    if linecache.cache.get(filename) is entry:
        del linecache.cache[filename]


__all__ = ["QUANTITY", "CompiledMilestone", "CompiledProgram", "CompiledRuleset", "compile_ruleset"]
