"""Check stage: resolve names, infer types, enforce limits.

Input is the AST of one rule file; output is a :class:`CheckedRuleset` and a
list of diagnostics. The checker never stops at the first problem: each
declaration is checked on its own, and an expression with an error gets the
type ``error`` so that one mistake does not cascade into many.

The guarantee this stage gives the rest of the pipeline: a ruleset with no
error diagnostic compiles, and its evaluators cannot fail at scoring time
because of the rules themselves (types agree, every name resolves, every
division is guarded, every quantity is bounded).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from ..core import limits
from ..core.datatypes import (
    BOOLEAN,
    DURATION,
    DURATION_UNITS,
    ERROR,
    NUMBER,
    PERIODS,
    QUANTITY,
    T_BOOLEAN,
    T_DURATION,
    T_ERROR,
    T_LITERAL,
    T_NUMBER,
    T_TEXT,
    T_TIME,
    TEXT,
    TIME,
    Type,
    quantity,
    unify,
)
from ..core.diagnostics import Diagnostic, Related, did_you_mean
from ..core.runtime import in_context
from ..core.source import Source, Span
from ..core.timeutil import period_key
from ..core.units import BUILTIN_UNITS, CURRENCY_EXPONENTS, currency_for, is_currency
from ..syntax import nodes as ast
from . import templates
from .program import (
    Binding,
    CapInfo,
    CheckedRuleset,
    EventInfo,
    FieldInfo,
    Level,
    MetricInfo,
    MilestoneInfo,
    NodeMap,
    ProgramInfo,
    RewardInfo,
    VoidInfo,
)

ROLES = ("referrer", "referee")
KINDS = ("cash", "credit", "discount", "gift_card", "storage", "upgrade", "item")
#: Names with a fixed meaning that metrics and events may not take.
RESERVED_NAMES = frozenset({"referral", "referrals", "increase", "id", "at", "type", "referrer", "referee"})
_ENVELOPE = ("id", "at", "type", "referrer", "referee")
#: the first number literal in a node's text (grammar: NUMBER)
_LITERAL = re.compile(r"[0-9]+(\.[0-9]+)?")


def builtin_events() -> dict[str, EventInfo]:
    """The `referral` event every program knows, before user declarations."""
    fields = {
        "id": FieldInfo("id", T_TEXT, builtin=True),
        "at": FieldInfo("at", T_TIME, builtin=True),
        "referrer": FieldInfo("referrer", T_TEXT, builtin=True),
        "referee": FieldInfo("referee", T_TEXT, builtin=True),
    }
    return {"referral": EventInfo("referral", fields)}


@dataclass
class _Context:
    """What names an expression may use, and what it used."""

    where: str  # "in a message", for diagnostics
    events: Mapping[str, tuple[EventInfo, str]] = field(default_factory=dict)
    metrics: Mapping[str, ast.MetricDecl] | None = None
    increase: Type | None = None
    referral_level_only: bool = False
    used_metrics: list[MetricInfo] = field(default_factory=list)


class Checker:
    def __init__(self, file: ast.RuleFile, source: Source) -> None:
        self.file = file
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.types: NodeMap[ast.Expr, Type] = NodeMap()
        self.nullable: NodeMap[ast.Expr, bool] = NodeMap()
        self.bindings: NodeMap[ast.Expr, Binding] = NodeMap()
        self.units: set[str] = set(BUILTIN_UNITS) | set(CURRENCY_EXPONENTS)
        self.events: dict[str, EventInfo] = builtin_events()
        self._metric_cache: NodeMap[ast.MetricDecl, MetricInfo] = NodeMap()
        self._resolving: list[ast.MetricDecl] = []
        self._decl_program: NodeMap[ast.MetricDecl, str | None] = NodeMap()

    # -- reporting -------------------------------------------------------
    def error(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help))

    def _duplicate(self, message: str, span: Span | None, first: Span | None, advice: str | None = None) -> None:
        """RR104 for a second declaration, with where the first one is (a
        duplicate is fixed at one of the two places, so show both)."""
        where = f"the first is declared at line {first.line}, column {first.column}" if first is not None else None
        help_ = "; ".join(part for part in (where, advice) if part) or None
        related = (Related("first declared here", first),) if first is not None else ()
        self.diagnostics.append(Diagnostic("RR104", message, span, help_, related=related))

    # -- entry point -----------------------------------------------------
    def run(self) -> CheckedRuleset:
        self._unicode()
        name, title = self._ruleset_name()
        timezone = self._timezone()
        self._declare_units()
        self._declare_events()
        shared = self._metric_scope(self.file.metrics, {}, None)
        programs: list[ProgramInfo] = []
        declared = list(self.file.programs)
        if self.file.implicit is not None:
            if declared:
                self.error(
                    "RR306",
                    "milestones, caps and eligibility must be inside a `program` block when the file has programs",
                    self.file.implicit.span,
                    "move this into one of the file's `program { ... }` blocks",
                )
            else:
                declared.append(self.file.implicit)
        seen_programs: dict[str, ast.Ident] = {}
        for program in declared:
            first_program = seen_programs.get(program.name.text)
            if first_program is not None:
                self._duplicate(
                    f"program `{program.name.text}` is declared twice", program.name.span, first_program.span
                )
            else:
                seen_programs[program.name.text] = program.name
            programs.append(self._program(program, shared, name))
        self._check_milestone_names(programs)
        return CheckedRuleset(
            name=name,
            title=title,
            source=self.source,
            file=self.file,
            events=self.events,
            units=self.units,
            programs=programs,
            timezone=timezone,
            types=self.types,
            nullable=self.nullable,
            bindings=self.bindings,
        )

    def _unicode(self) -> None:
        """RR002 for text with an unpaired surrogate (a string's `\\ud800`
        escape): it cannot be written as UTF-8, so an award message, an item
        or a title holding it would fail only when the output is written."""
        for text, span in _texts(self.file):
            lone = _lone_surrogate(text)
            if lone is not None:
                self.error(
                    "RR002",
                    f"string has an unpaired surrogate escape `\\u{ord(lone):04x}`",
                    span,
                    "escape a character outside the BMP as a surrogate pair, or write it as UTF-8",
                )

    def _ruleset_name(self) -> tuple[str, str | None]:
        decls = self.file.rulesets
        for extra in decls[1:]:
            self._duplicate("a rule file declares one `ruleset`", extra.span, decls[0].span, "remove this line")
        if decls:
            return decls[0].name.text, decls[0].title
        stem = PurePath(self.source.path).stem
        return (re.sub(r"\W", "_", stem) or "ruleset"), None

    def _timezone(self) -> str | None:
        decl = self.file.rulesets[0].timezone if self.file.rulesets else None
        if decl is None:
            return None
        try:
            period_key(0, "day", decl.value)
        except ValueError:
            self.error(
                "RR111",
                f"unknown time zone `{decl.value}`",
                decl.span,
                'use an IANA name such as "Europe/Paris" or "America/New_York"',
            )
            return None
        return decl.value

    def _declare_units(self) -> None:
        declared: dict[str, ast.UnitDecl] = {}
        for decl in self.file.units:
            name = decl.name.text
            first = declared.get(name)
            if first is not None:
                self._duplicate(f"unit `{name}` is declared twice", decl.name.span, first.name.span)
            elif name in self.units or name in DURATION_UNITS:
                self.error("RR104", f"unit `{name}` is already known", decl.name.span, "remove this declaration")
            declared.setdefault(name, decl)
            self.units.add(name)

    def _declare_events(self) -> None:
        for decl in self.file.events:
            name = decl.name.text
            info = self.events.get(name)
            if name in ("referrals", "increase"):
                self.error("RR110", f"`{name}` is a reserved name and cannot name an event", decl.name.span)
                continue
            if info is None:
                info = EventInfo(
                    name,
                    {
                        "id": FieldInfo("id", T_TEXT, builtin=True),
                        "at": FieldInfo("at", T_TIME, builtin=True),
                        "referee": FieldInfo("referee", T_TEXT, builtin=True),
                    },
                    decl,
                )
                self.events[name] = info
            elif info.decl is not None:
                self._duplicate(
                    f"event `{name}` is declared twice",
                    decl.name.span,
                    info.decl.name.span,
                    "merge the two declarations",
                )
                continue
            else:
                info.decl = decl
            seen_fields: dict[str, ast.FieldDecl] = {}
            for fdecl in decl.fields:
                fname = fdecl.name.text
                if fname in _ENVELOPE:
                    self.error(
                        "RR110",
                        f"`{fname}` is a built-in field of every event",
                        fdecl.name.span,
                        "remove this line; `id`, `at`, `type`, `referrer` and `referee` are always there",
                    )
                    continue
                if fname in info.fields:
                    first_field = seen_fields.get(fname)
                    self._duplicate(
                        f"field `{fname}` is declared twice in event `{name}`",
                        fdecl.name.span,
                        first_field.name.span if first_field else None,
                    )
                    continue
                seen_fields[fname] = fdecl
                info.fields[fname] = FieldInfo(fname, self._field_type(fdecl.type), fdecl.optional)

    def _field_type(self, ref: ast.TypeRef) -> Type:
        if ref.kind == "number":
            return T_NUMBER
        if ref.kind == "text":
            return T_TEXT
        if ref.kind == "time":
            return T_TIME
        if ref.kind == "boolean":
            return T_BOOLEAN
        assert ref.unit is not None
        unit = ref.unit.text
        if ref.kind == "money":
            if not is_currency(unit):
                self.error(
                    "RR105",
                    f"`{unit}` is not a currency",
                    ref.unit.span,
                    self._currency_help(unit)
                    or did_you_mean(
                        unit,
                        CURRENCY_EXPONENTS,
                        "money takes an ISO 4217 code such as `USD`; use `quantity` for other units",
                    ),
                )
                return T_ERROR
            return quantity(unit)
        if unit not in self.units:
            self.error("RR105", f"unknown unit `{unit}`", ref.unit.span, self._unit_help(unit))
            return T_ERROR
        return quantity(unit)

    def _unit_help(self, unit: str) -> str:
        return (
            self._currency_help(unit)
            or did_you_mean(unit, list(self.units) + list(DURATION_UNITS))
            or f"declare it with `unit {unit}`"
        )

    @staticmethod
    def _currency_help(unit: str) -> str | None:
        """A money word (`dollars`, `usd`, `€`) points to its ISO 4217 code:
        declaring `unit dollars` would make an amount that is not money."""
        code = currency_for(unit)
        if code is None:
            return None
        return f"did you mean `{code}`? money is written with its ISO 4217 currency code"

    # -- metrics ---------------------------------------------------------
    def _metric_scope(
        self, decls: Iterable[ast.MetricDecl], outer: Mapping[str, ast.MetricDecl], program: str | None
    ) -> dict[str, ast.MetricDecl]:
        scope = dict(outer)
        for decl in decls:
            name = decl.name.text
            self._decl_program[decl] = program
            if name in scope:
                self._duplicate(
                    f"metric `{name}` is declared twice",
                    decl.name.span,
                    scope[name].name.span,
                    "give one of them another name",
                )
                continue
            if name in RESERVED_NAMES or name in self.events:
                self.error(
                    "RR110",
                    f"`{name}` already names {'an event' if name in self.events else 'a built-in value'} and cannot name a metric",
                    decl.name.span,
                )
                continue
            scope[name] = decl
        for decl in scope.values():
            if self._decl_program.get(decl) == program:
                self._metric(decl, scope)
        return scope

    def _metric(self, decl: ast.MetricDecl, scope: Mapping[str, ast.MetricDecl]) -> MetricInfo:
        cached = self._metric_cache.get(decl)
        if cached is not None:
            return cached
        if decl in self._resolving:
            cycle = " -> ".join(d.name.text for d in [*self._resolving[self._resolving.index(decl) :], decl])
            self.error("RR307", f"metric `{decl.name.text}` depends on itself ({cycle})", decl.name.span)
            return MetricInfo(decl.name.text, decl, T_ERROR, False, "referral")
        self._resolving.append(decl)
        try:
            if isinstance(decl.body, ast.Aggregate):
                info = self._aggregate(decl, decl.body, scope)
            else:
                ctx = _Context(
                    f"in metric `{decl.name.text}`", {"referral": (self.events["referral"], "referral")}, scope
                )
                typ = self.expr(decl.body, ctx)
                used = ctx.used_metrics
                info = MetricInfo(
                    decl.name.text,
                    decl,
                    typ,
                    self.nullable.get(decl.body, False),
                    "referrer" if any(m.level == "referrer" for m in used) else "referral",
                    tuple(dict.fromkeys(m.name for m in used)),
                    frozenset().union(*(m.events for m in used)) if used else frozenset({"referral"}),
                    self._decl_program.get(decl),
                )
        finally:
            self._resolving.pop()
        self._metric_cache[decl] = info
        return info

    def _aggregate(self, decl: ast.MetricDecl, agg: ast.Aggregate, scope: Mapping[str, ast.MetricDecl]) -> MetricInfo:
        name = decl.name.text
        program = self._decl_program.get(decl)
        if agg.source.text == "referrals":
            return self._referrals_aggregate(decl, agg, scope, program)
        event = self.events.get(agg.source.text)
        if event is None:
            self.error(
                "RR101",
                f"unknown event `{agg.source.text}`",
                agg.source.span,
                self._event_help(agg.source.text, over_referrals=agg.fn in ("count", "sum")),
            )
            return MetricInfo(name, decl, T_ERROR, False, "referral", program=program)
        typ: Type = T_ERROR
        nullable = agg.fn not in ("count", "sum")
        if agg.fn == "count":
            typ = T_NUMBER
            if agg.field is not None:
                self.error(
                    "RR205",
                    "`count` counts events, not a field",
                    agg.field.span,
                    f"write `count {event.name}` and filter with `where`",
                )
        elif agg.field is None:
            self.error(
                "RR205",
                f"`{agg.fn}` needs a field of `{event.name}`",
                agg.source.span,
                f"for example `{agg.fn} {event.name}.{self._example_field(event)}`",
            )
        else:
            finfo = self._field(event, agg.field)
            if finfo is not None:
                typ = finfo.type
                if agg.fn == "sum" and not typ.numeric and typ.kind != ERROR:
                    self.error(
                        "RR201",
                        f"`sum` needs a number, but `{event.name}.{finfo.name}` is {typ.describe()}",
                        agg.field.span,
                    )
                    typ = T_ERROR
                if agg.fn in ("max", "min") and not (typ.numeric or typ.kind in (TIME, ERROR)):
                    self.error(
                        "RR201",
                        f"`{agg.fn}` needs a number or a time, but `{event.name}.{finfo.name}` is {typ.describe()}",
                        agg.field.span,
                    )
                    typ = T_ERROR
        if agg.where is not None:
            ctx = _Context(
                "in the filter of a metric",
                {event.name: (event, "event"), "referral": (self.events["referral"], "referral")},
                None,
            )
            self.condition(agg.where, ctx)
        if agg.within is not None:
            self.duration(agg.within)
        if agg.otherwise is not None:
            other = self.expr(agg.otherwise, _Context("in `otherwise`"))
            if typ.kind != ERROR and other.kind != ERROR and unify(typ, other) is None:
                self._mismatch(
                    agg.otherwise.span,
                    f"`otherwise` gives {other.describe()}, but the metric is {typ.describe()}",
                    other,
                    typ,
                )
            nullable = False
        return MetricInfo(name, decl, typ, nullable, "referral", (), frozenset({event.name}), program)

    def _referrals_aggregate(
        self, decl: ast.MetricDecl, agg: ast.Aggregate, scope: Mapping[str, ast.MetricDecl], program: str | None
    ) -> MetricInfo:
        name = decl.name.text
        used: list[MetricInfo] = []
        typ: Type = T_NUMBER
        if agg.fn not in ("count", "sum"):
            self.error(
                "RR205",
                f"`{agg.fn} referrals` is not supported",
                agg.span,
                "over referrals, use `count referrals where ...` or `sum referrals.<metric>`",
            )
            typ = T_ERROR
        elif agg.fn == "count" and agg.field is not None:
            self.error(
                "RR205", "`count referrals` counts referrals, not a metric", agg.field.span, "filter with `where`"
            )
        elif agg.fn == "sum":
            if agg.field is None:
                self.error("RR205", "`sum referrals` needs a metric, e.g. `sum referrals.mrr`", agg.source.span)
                typ = T_ERROR
            else:
                found = self._named_metric(agg.field, scope)
                if found is None:
                    typ = T_ERROR
                else:
                    info = found
                    used.append(info)
                    typ = info.type
                    if info.level != "referral":
                        self.error("RR205", f"`{info.name}` is already a metric over referrals", agg.field.span)
                    elif not typ.numeric and typ.kind != ERROR:
                        self.error(
                            "RR201", f"`sum` needs a number, but `{info.name}` is {typ.describe()}", agg.field.span
                        )
                        typ = T_ERROR
        if agg.within is not None:
            self.error(
                "RR205",
                "`within` applies to events, not to referrals",
                agg.within.span,
                "put the window on the referral metric",
            )
        if agg.where is not None:
            ctx = _Context(
                "in the filter of a metric over referrals",
                {"referral": (self.events["referral"], "referral")},
                scope,
                referral_level_only=True,
            )
            self.condition(agg.where, ctx)
            used.extend(ctx.used_metrics)
        if agg.otherwise is not None:
            self.error("RR205", "a metric over referrals is never empty; `otherwise` is not needed", agg.otherwise.span)
        events = frozenset().union(*(m.events for m in used)) if used else frozenset({"referral"})
        return MetricInfo(
            name,
            decl,
            typ,
            False,
            "referrer",
            tuple(dict.fromkeys(m.name for m in used)),
            events | {"referral"},
            program,
        )

    def _named_metric(self, ident: ast.Ident, scope: Mapping[str, ast.MetricDecl]) -> MetricInfo | None:
        """The metric a name refers to, or None after reporting RR103."""
        decl = scope.get(ident.text)
        if decl is None:
            self.error("RR103", f"unknown metric `{ident.text}`", ident.span, did_you_mean(ident.text, scope))
            return None
        return self._metric(decl, scope)

    def _example_field(self, event: EventInfo) -> str:
        own = [f for f in event.fields.values() if not f.builtin]
        return own[0].name if own else "at"

    def _event_help(self, name: str, over_referrals: bool = False) -> str:
        """The help for an unknown event. Where `referrals` may stand in its
        place (`count X`, `sum X.m`), it is a candidate too: `referals`
        means the referrer's `referrals`, and `count referral` would pass
        check and count the referee's own referral event instead."""
        candidates = [*self.events, "referrals"] if over_referrals else list(self.events)
        return did_you_mean(name, candidates) or f"declare it: `event {name} {{ ... }}`"

    def _field(self, event: EventInfo, ident: ast.Ident) -> FieldInfo | None:
        info = event.fields.get(ident.text)
        if info is None:
            self.error(
                "RR102",
                f"event `{event.name}` has no field `{ident.text}`",
                ident.span,
                did_you_mean(ident.text, event.fields, f"declare it in `event {event.name} {{ ... }}`"),
            )
        return info

    # -- programs and milestones ----------------------------------------
    def _program(self, program: ast.Program, shared: Mapping[str, ast.MetricDecl], ruleset: str) -> ProgramInfo:
        name = program.name.text or ruleset
        scope = self._metric_scope(program.metrics, shared, name)
        eligible = []
        for clause in program.eligible:
            ctx = _Context("in an eligibility condition", {"referral": (self.events["referral"], "referral")})
            self.condition(clause.condition, ctx)
            eligible.append(clause.condition)
        caps = [c for c in (self._cap(cap) for cap in program.caps) if c is not None]
        milestones = [self._milestone(m, scope) for m in program.milestones]
        if not milestones:
            # the file's implicit program (loose caps or eligibility) is the file
            what = f"program `{name}`" if program.name.text else "the rule file"
            self.error(
                "RR306",
                f"{what} has no milestone",
                program.span,
                "add `milestone NAME { ... }` with a trigger and a reward",
            )
        metrics = {}
        for mname, decl in scope.items():
            metrics[mname] = self._metric(decl, scope)
        return ProgramInfo(name, program.title, program, eligible, caps, milestones, metrics)

    def _check_milestone_names(self, programs: list[ProgramInfo]) -> None:
        seen: dict[str, ast.Milestone] = {}
        count = 0
        for program in programs:
            for milestone in program.milestones:
                milestone.index = count
                count += 1
                first = seen.get(milestone.name)
                if first is not None:
                    self._duplicate(
                        f"milestone `{milestone.name}` is declared twice",
                        milestone.decl.name.span,
                        first.name.span,
                        "milestone names are unique in a file; awards are reported by name",
                    )
                else:
                    seen[milestone.name] = milestone.decl
        if count > limits.MAX_MILESTONES:
            self.error(
                "RR401", f"too many milestones ({count}; the limit is {limits.MAX_MILESTONES})", self.source.whole()
            )
        if not programs:
            self.error(
                "RR306",
                "the rule file has no milestone",
                self.source.whole(),
                "add `milestone NAME { ... }` with a trigger and a reward",
            )

    def _cap(self, cap: ast.Cap) -> CapInfo | None:
        ok = True
        if cap.role.text not in ROLES:
            self.error("RR106", f"unknown role `{cap.role.text}`", cap.role.span, did_you_mean(cap.role.text, ROLES))
            ok = False
        amount = cap.amount
        if not isinstance(amount, ast.Quantity):
            self.error("RR305", "a cap is an amount with a unit, such as `5000 USD`", amount.span)
            return None
        typ = self.expr(amount, _Context("in a cap"))
        if typ.kind != QUANTITY:
            ok = False
        elif amount.value <= 0:
            self.error("RR304", "a cap must be greater than zero", amount.span)
            ok = False
        period = None
        if cap.period is not None:
            period = cap.period.text
            if period not in PERIODS:
                self.error(
                    "RR108",
                    f"unknown period `{period}`",
                    cap.period.span,
                    did_you_mean(period, PERIODS, "periods are " + ", ".join(PERIODS)),
                )
                ok = False
        if not ok:
            return None
        return CapInfo(cap.role.text, typ.unit or "", amount.value, period, cap)

    def _milestone(self, decl: ast.Milestone, scope: Mapping[str, ast.MetricDecl]) -> MilestoneInfo:
        name = decl.name.text
        if not decl.triggers:
            self.error(
                "RR301",
                f"milestone `{name}` has no trigger",
                decl.name.span,
                "add one of `when ...`, `first EVENT ...`, `each EVENT ...`, `whenever METRIC increases`, `every N METRIC`",
            )
        for extra in decl.triggers[1:]:
            self.error(
                "RR302",
                f"milestone `{name}` has more than one trigger",
                extra.span,
                "combine the conditions with `and`, or write two milestones",
            )
        trigger: ast.Trigger = decl.triggers[0] if decl.triggers else ast.WhenTrigger(ast.Bool(False), span=decl.span)
        level: Level = "referral"
        event: str | None = None
        events: frozenset[str] = frozenset()
        increase: Type | None = None
        trigger_event: EventInfo | None = None
        referral = self.events["referral"]
        if isinstance(trigger, ast.WhenTrigger):
            ctx = _Context("in a milestone condition", {"referral": (referral, "referral")}, scope)
            self.condition(trigger.condition, ctx)
            self._thresholds(trigger.condition)
            level, events = self._level(ctx.used_metrics)
            events |= {"referral"}
        elif isinstance(trigger, ast.EventTrigger):
            trigger_event = self.events.get(trigger.event.text)
            if trigger_event is None:
                self.error(
                    "RR101",
                    f"unknown event `{trigger.event.text}`",
                    trigger.event.span,
                    self._event_help(trigger.event.text),
                )
            else:
                event = trigger_event.name
                events = frozenset({event})
                if trigger.where is not None:
                    ctx = _Context(
                        "in a milestone filter",
                        {event: (trigger_event, "event"), "referral": (referral, "referral")},
                        scope,
                    )
                    self.condition(trigger.where, ctx)
                    level = self._level(ctx.used_metrics)[0]
            if trigger.within is not None:
                self.duration(trigger.within)
        else:
            found = self._named_metric(trigger.metric, scope)
            if found is not None:
                info = found
                level, events = info.level, info.events
                if not info.type.numeric and info.type.kind != ERROR:
                    self.error(
                        "RR201",
                        f"`{info.name}` is {info.type.describe()}; it must be a number to rise",
                        trigger.metric.span,
                    )
                increase = Type(info.type.kind, info.type.unit) if info.type.kind != ERROR else T_ERROR
            if isinstance(trigger, ast.EveryTrigger) and trigger.step <= 0:
                self.error("RR304", "the step of `every` must be greater than zero", trigger.span)
            elif isinstance(trigger, ast.EveryTrigger) and found is not None:
                self._every_step(trigger, found)
        rewards = [r for r in (self._reward(r, scope, trigger_event, increase) for r in decl.rewards) if r is not None]
        if not decl.rewards:
            self.error(
                "RR303",
                f"milestone `{name}` has no reward",
                decl.name.span,
                "add a line such as `reward referrer cash 100 USD`",
            )
        hold_ns = None
        for hold in decl.holds[1:]:
            self.error("RR306", "a milestone has at most one `hold`", hold.span)
        if decl.holds:
            hold_ns = self.duration(decl.holds[0].duration)
        voids = [self._void(v, trigger_event) for v in decl.voids]
        message = None
        message_span = None
        for repeated in decl.messages[1:]:
            self.error("RR306", "a milestone has at most one `message`", repeated.span)
        if decl.messages:
            message = decl.messages[0].template
            message_span = decl.messages[0].span
            self._template(decl.messages[0], scope, trigger_event)
        caps = [c for c in (self._cap(cap) for cap in decl.caps) if c is not None]
        return MilestoneInfo(
            name=name,
            title=decl.title,
            decl=decl,
            trigger=trigger,
            level=level,
            event=event,
            events=events,
            rewards=rewards,
            hold_ns=hold_ns,
            voids=[v for v in voids if v is not None],
            message=message,
            message_span=message_span,
            caps=caps,
        )

    def _level(self, used: list[MetricInfo]) -> tuple[Level, frozenset[str]]:
        level: Level = "referrer" if any(m.level == "referrer" for m in used) else "referral"
        events = frozenset().union(*(m.events for m in used)) if used else frozenset()
        return level, events

    def _thresholds(self, expr: ast.Expr) -> None:
        """Counts compared with negative or fractional numbers are mistakes."""
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.And, ast.Or)):
                stack.extend((node.left, node.right))
            elif isinstance(node, ast.Not):
                stack.append(node.operand)
            elif isinstance(node, ast.Compare):
                for side, other in ((node.left, node.right), (node.right, node.left)):
                    binding = self.bindings.get(side) if isinstance(side, ast.Ref) else None
                    metric = binding.metric if binding else None
                    if metric is None or not isinstance(other, ast.Number):
                        continue
                    agg = metric.aggregate
                    if (
                        agg is not None
                        and agg.fn == "count"
                        and (other.value < 0 or other.value != other.value.to_integral_value())
                    ):
                        self.error(
                            "RR304",
                            f"`{metric.name}` counts whole {agg.source.text}; `{other.value}` can never be a count",
                            other.span,
                            "use a whole number of 0 or more",
                        )
                    elif agg is not None and agg.fn in ("count", "sum") and other.value < 0 and node.op in (">=", ">"):
                        pass  # always true, but harmless: left to `check --strict`

    def _reward(
        self,
        reward: ast.Reward,
        scope: Mapping[str, ast.MetricDecl],
        trigger_event: EventInfo | None,
        increase: Type | None,
    ) -> RewardInfo | None:
        ok = True
        role, kind = reward.role.text, reward.kind.text
        if role not in ROLES:
            self.error(
                "RR106",
                f"unknown role `{role}`",
                reward.role.span,
                did_you_mean(role, ROLES, "the roles are `referrer` and `referee`"),
            )
            ok = False
        if kind not in KINDS:
            self.error(
                "RR107",
                f"unknown reward kind `{kind}`",
                reward.kind.span,
                did_you_mean(kind, KINDS, "kinds are " + ", ".join(KINDS)),
            )
            return None
        if kind == "item":
            if not isinstance(reward.amount, ast.String):
                self.error(
                    "RR305",
                    "an item reward names the item in quotes",
                    reward.amount.span,
                    'for example `reward referrer item "Trip to Paris"`',
                )
                return None
            self.expr(reward.amount, _Context("in a reward"))
            return RewardInfo(role, kind, "item", reward.amount.value, reward) if ok else None
        events: dict[str, tuple[EventInfo, str]] = {"referral": (self.events["referral"], "referral")}
        if trigger_event is not None:
            events[trigger_event.name] = (trigger_event, "event")
        ctx = _Context("in a reward amount", events, scope, increase=increase)
        typ = self.expr(reward.amount, ctx)
        if typ.kind == ERROR:
            return None
        if typ.kind != QUANTITY:
            self.error(
                "RR305",
                f"a reward amount needs a unit, but this is {typ.describe()}",
                reward.amount.span,
                "write the unit after the number, e.g. `500 USD`, `10 percent`, `500 MB`",
            )
            return None
        unit = typ.unit or ""
        problem = _kind_unit_problem(kind, unit)
        if problem:
            self.error("RR305", problem, reward.amount.span)
            return None
        if _negative_constant(reward.amount):
            self.error(
                "RR305",
                f"the reward amount `{reward.amount.span.text if reward.amount.span else ''}` is less than zero, "
                "so it is never issued",
                reward.amount.span,
                "a reward pays a positive amount; to take an award back, use `void if EVENT`",
            )
            return None
        return RewardInfo(role, kind, unit, None, reward) if ok else None

    def _void(self, void: ast.Void, trigger_event: EventInfo | None) -> VoidInfo | None:
        event = self.events.get(void.event.text)
        if event is None:
            self.error(
                "RR101", f"unknown event `{void.event.text}`", void.event.span, self._event_help(void.event.text)
            )
            return None
        events: dict[str, tuple[EventInfo, str]] = {"referral": (self.events["referral"], "referral")}
        if trigger_event is not None:
            events[trigger_event.name] = (trigger_event, "event")
        events[event.name] = (event, "void")
        if void.where is not None:
            self.condition(void.where, _Context("in a void condition", events))
        window = self.duration(void.within) if void.within is not None else None
        return VoidInfo(event.name, window, void)

    def _template(
        self, message: ast.Message, scope: Mapping[str, ast.MetricDecl], trigger_event: EventInfo | None
    ) -> None:
        if len(message.template) > limits.MAX_STRING_CHARS:
            self.error(
                "RR401", f"message is too long (the limit is {limits.MAX_STRING_CHARS} characters)", message.span
            )
            return
        names = set(templates.AWARD_NAMES) | set(scope)
        fields: dict[str, list[str]] = {}
        if trigger_event is not None:
            names.add(trigger_event.name)
            fields[trigger_event.name] = list(trigger_event.fields)
        for problem in templates.check(message.template, names, fields):
            self.error(problem.code, problem.message, _template_span(message, problem.at), problem.help)

    def _every_step(self, trigger: ast.EveryTrigger, info: MetricInfo) -> None:
        """RR402: an `every` step below the smallest step its metric takes
        (see `every_floor`). Such a step means no more than the floor does,
        only far more awards: 184 bytes of rules turned a 44 KB ledger into
        500,000 awards."""
        floor, why = every_floor(info)
        if trigger.step < floor:
            self.error(
                "RR402",
                f"the step of `every` is smaller than {floor} ({why})",
                trigger.span,
                f"use a step of at least {floor}; to pay more per step, raise the reward instead",
            )

    # -- expressions -----------------------------------------------------
    def duration(self, node: ast.Duration) -> int | None:
        unit = node.unit.text
        if unit not in DURATION_UNITS:
            self.error(
                "RR109",
                f"unknown duration unit `{unit}`",
                node.unit.span,
                did_you_mean(unit, DURATION_UNITS, "use minutes, hours, days or weeks"),
            )
            return None
        self._digits(node.value, node.span)
        if node.value <= 0:
            self.error("RR304", "a duration must be greater than zero", node.span)
            return None
        return int(node.value * DURATION_UNITS[unit])

    def condition(self, expr: ast.Expr, ctx: _Context) -> None:
        typ = self.expr(expr, ctx)
        if typ.kind not in (BOOLEAN, ERROR):
            self.error(
                "RR203",
                f"a condition is expected {ctx.where}, but this is {typ.describe()}",
                expr.span,
                "compare it with something, e.g. `>= 1000`",
            )

    def _digits(self, value: Decimal, span: Span | None) -> None:
        # as written (`limits.written_digits`): the value drops leading zeros
        written = _LITERAL.search(span.text) if span is not None else None
        digits = max(len(value.as_tuple().digits), limits.written_digits(written.group()) if written else 0)
        if digits > limits.MAX_LITERAL_DIGITS:
            self.error("RR401", f"number has {digits} digits (the limit is {limits.MAX_LITERAL_DIGITS})", span)

    def _mismatch(self, span: Span | None, message: str, left: Type, right: Type, help: str | None = None) -> None:
        """Report two types that do not agree, with the code of what differs:
        decided from the types themselves, never from the message's text."""
        code = _mismatch_code(left, right)
        self.error(code, message, span, help or (_unit_mismatch_help(left, right) if code == "RR202" else None))

    def expr(self, node: ast.Expr, ctx: _Context) -> Type:
        """Type an expression (and record its type and nullability)."""
        typ, nullable = self._expr(node, ctx)
        self.types[node] = typ
        self.nullable[node] = nullable
        return typ

    def _sub(self, node: ast.Expr, ctx: _Context) -> tuple[Type, bool]:
        typ = self.expr(node, ctx)
        return typ, self.nullable[node]

    def _expr(self, node: ast.Expr, ctx: _Context) -> tuple[Type, bool]:
        if isinstance(node, ast.Number):
            self._digits(node.value, node.span)
            return T_LITERAL, False
        if isinstance(node, ast.Quantity):
            self._digits(node.value, node.span)
            unit = node.unit.text
            if unit in DURATION_UNITS:
                return T_DURATION, False
            if unit not in self.units:
                self.error("RR105", f"unknown unit `{unit}`", node.unit.span, self._unit_help(unit))
                return T_ERROR, False
            return quantity(unit), False
        if isinstance(node, ast.Percent):
            self._digits(node.value, node.span)
            return quantity("percent"), False
        if isinstance(node, ast.PercentOf):
            self._digits(node.value, node.span)
            typ, nullable = self._sub(node.operand, ctx)
            if not typ.numeric and typ.kind != ERROR:
                self.error(
                    "RR201", f"a percentage applies to a number, but this is {typ.describe()}", node.operand.span
                )
                return T_ERROR, nullable
            return typ, nullable
        if isinstance(node, ast.String):
            if len(node.value) > limits.MAX_STRING_CHARS:
                self.error(
                    "RR401", f"string is too long (the limit is {limits.MAX_STRING_CHARS} characters)", node.span
                )
            return T_TEXT, False
        if isinstance(node, ast.Bool):
            return T_BOOLEAN, False
        if isinstance(node, ast.Ref):
            return self._ref(node, ctx)
        if isinstance(node, ast.Neg):
            typ, nullable = self._sub(node.operand, ctx)
            if not (typ.numeric or typ.kind in (DURATION, ERROR)):
                self.error("RR201", f"cannot negate {typ.describe()}", node.span)
                return T_ERROR, nullable
            return typ, nullable
        if isinstance(node, ast.Arith):
            return self._arith(node, ctx)
        if isinstance(node, ast.Compare):
            return self._compare(node, ctx)
        if isinstance(node, (ast.And, ast.Or)):
            for side in (node.left, node.right):
                self.condition(side, ctx)
            return T_BOOLEAN, False
        if isinstance(node, ast.Not):
            self.condition(node.operand, ctx)
            return T_BOOLEAN, False
        if isinstance(node, ast.InList):
            typ, _ = self._sub(node.operand, ctx)
            if len(node.items) > limits.MAX_LIST_ITEMS:
                self.error(
                    "RR401", f"list has {len(node.items)} items (the limit is {limits.MAX_LIST_ITEMS})", node.span
                )
            for item in node.items:
                item_type, _ = self._sub(item, ctx)
                if unify(typ, item_type) is None:
                    self._mismatch(
                        item.span,
                        f"the list holds {item_type.describe()}, but the value is {typ.describe()}",
                        item_type,
                        typ,
                    )
            return T_BOOLEAN, False
        if isinstance(node, ast.IsSet):
            self._sub(node.operand, ctx)
            return T_BOOLEAN, False
        raise AssertionError(f"unknown node {node!r}")

    def _ref(self, node: ast.Ref, ctx: _Context) -> tuple[Type, bool]:
        head = node.head.text
        if head in ctx.events:
            event, role = ctx.events[head]
            if node.attr is None:
                self.error(
                    "RR204",
                    f"`{head}` is an event; name one of its fields",
                    node.span,
                    f"for example `{head}.{self._example_field(event)}`",
                )
                return T_ERROR, False
            finfo = self._field(event, node.attr)
            if finfo is None:
                return T_ERROR, False
            self.bindings[node] = Binding("field", event_role=role, field=finfo, event=event)
            return finfo.type, finfo.optional
        if head == "increase" and ctx.increase is not None and node.attr is None:
            self.bindings[node] = Binding("increase")
            return ctx.increase, False
        if ctx.metrics is not None and head in ctx.metrics:
            info = self._metric(ctx.metrics[head], ctx.metrics)
            if node.attr is not None:
                self.error("RR204", f"`{head}` is a metric and has no fields", node.attr.span)
                return T_ERROR, False
            if ctx.referral_level_only and info.level != "referral":
                self.error("RR204", f"`{head}` is a metric over referrals and cannot be used {ctx.where}", node.span)
                return T_ERROR, False
            ctx.used_metrics.append(info)
            self.bindings[node] = Binding("metric", metric=info)
            return info.type, info.nullable
        if head in self.events:
            where = (
                "only in the filter of a metric over that event, or in a milestone triggered by it (`first` / `each`)"
            )
            self.error(
                "RR204",
                f"fields of `{head}` are not available {ctx.where}",
                node.span,
                f"event fields can be used {where}",
            )
            return T_ERROR, False
        if head == "increase":
            self.error(
                "RR204",
                f"`increase` is not available {ctx.where}",
                node.span,
                "it is the rise of the metric in a `whenever METRIC increases` milestone",
            )
            return T_ERROR, False
        known = list(ctx.events) + list(ctx.metrics or ()) + (["increase"] if ctx.increase else [])
        if ctx.metrics is None and head in self._all_metric_names():
            self.error(
                "RR204",
                f"metrics cannot be used {ctx.where}",
                node.span,
                "a metric's filter sees only the event's and the referral's fields",
            )
            return T_ERROR, False
        self.error("RR103", f"unknown name `{head}` {ctx.where}", node.head.span, self._name_help(head, known, ctx))
        return T_ERROR, False

    def _name_help(self, head: str, known: list[str], ctx: _Context) -> str | None:
        """The help for an unknown bare name: a field of an event in scope
        written without its event (`amount` for `payment.amount`) first,
        then the nearest known name, then a field of any declared event."""
        in_scope = [f"{event}.{head}" for event, (info, _) in ctx.events.items() if head in info.fields]
        if in_scope:
            return "a field is written with its event: did you mean " + " or ".join(f"`{r}`" for r in in_scope) + "?"
        nearest = did_you_mean(head, known)
        if nearest is not None:
            return nearest
        owners = [name for name, info in self.events.items() if head in info.fields and not info.fields[head].builtin]
        if owners:
            written = " or ".join(f"`{owner}.{head}`" for owner in owners)
            return (
                f"`{head}` is a field of event {', '.join(f'`{o}`' for o in owners)}: write {written}, "
                "in a metric over that event or a milestone it triggers (`first` / `each`)"
            )
        return None

    def _all_metric_names(self) -> set[str]:
        names = {m.name.text for m in self.file.metrics}
        for program in self.file.programs:
            names.update(m.name.text for m in program.metrics)
        return names

    def _arith(self, node: ast.Arith, ctx: _Context) -> tuple[Type, bool]:
        left, ln = self._sub(node.left, ctx)
        right, rn = self._sub(node.right, ctx)
        nullable = ln or rn
        if ERROR in (left.kind, right.kind):
            return T_ERROR, nullable
        op = node.op
        result: Type | None = None
        if op in "+-":
            if left.kind == TIME and right.kind == TIME and op == "-":
                result = T_DURATION
            elif (left.kind == TIME and right.kind == DURATION) or (
                left.kind == DURATION and right.kind == TIME and op == "+"
            ):
                result = T_TIME
            elif (left.numeric and right.numeric) or left.kind == right.kind == DURATION:
                result = unify(left, right)
                if result is None:
                    self._mismatch(
                        node.span,
                        f"cannot {'add' if op == '+' else 'subtract'} {right.describe()} "
                        f"{'to' if op == '+' else 'from'} {left.describe()}",
                        left,
                        right,
                    )
                    return T_ERROR, nullable
        elif op == "*":
            if left.kind == NUMBER and right.numeric:
                result = Type(right.kind, right.unit, left.literal and right.literal)
            elif right.kind == NUMBER and left.numeric:
                result = Type(left.kind, left.unit, left.literal and right.literal)
            elif (left.kind == NUMBER and right.kind == DURATION) or (right.kind == NUMBER and left.kind == DURATION):
                result = T_DURATION
            elif left.kind == QUANTITY and right.kind == QUANTITY:
                # never a unit mismatch: no two amounts multiply, whatever their units
                self.error(
                    "RR201",
                    f"cannot multiply {left.describe()} by {right.describe()}",
                    node.span,
                    _percent_of_help(node) or "multiply an amount by a plain number",
                )
                return T_ERROR, nullable
        elif op == "/":
            nullable = True  # division by zero gives no value rather than an error
            if left.numeric and right.kind == NUMBER:
                result = Type(left.kind, left.unit, left.literal and right.literal)
            elif left.kind == QUANTITY and right.kind == QUANTITY:
                if left.unit != right.unit:
                    self._mismatch(node.span, f"cannot divide {left.describe()} by {right.describe()}", left, right)
                    return T_ERROR, nullable
                result = T_NUMBER
            elif left.kind == DURATION and right.kind == NUMBER:
                result = T_DURATION
        if result is None:
            self.error("RR201", f"`{op}` does not apply to {left.describe()} and {right.describe()}", node.span)
            return T_ERROR, nullable
        return result, nullable

    def _compare(self, node: ast.Compare, ctx: _Context) -> tuple[Type, bool]:
        left, _ = self._sub(node.left, ctx)
        right, _ = self._sub(node.right, ctx)
        if ERROR in (left.kind, right.kind):
            return T_BOOLEAN, False
        common = unify(left, right)
        if common is None:
            self._mismatch(node.span, f"cannot compare {left.describe()} with {right.describe()}", left, right)
        elif node.op not in ("==", "!=") and common.kind in (TEXT, BOOLEAN):
            self.error("RR201", f"{common.describe()} can only be compared with `==` and `!=`", node.span)
        return T_BOOLEAN, False


#: a string literal as the grammar has it (STRING), to the end of the text
_STRING_LITERAL = re.compile(r'"(\\.|[^"\\\n])*"\Z')
#: an escape of a string literal: a surrogate pair, another `\\uXXXX`, or `\\` and one character
_ESCAPE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\.")


def _template_span(message: ast.Message, at: tuple[int, int] | None) -> Span | None:
    """Where a problem of a message template is in the rule file: the name
    at ``at`` (offset and length in the template text) inside the string
    literal, else the whole `message` clause.

    The literal is the clause's last token, on its last line; each escape
    in it (`\\"`, `\\u00e9`, a surrogate pair) is several characters of the
    file for one of the template, so offsets are mapped through them. If
    the literal cannot be read back to the template, the clause is shown."""
    span = message.span
    if at is None or span is None:
        return span
    text = span.text
    line_start = text.rfind("\n") + 1
    quote = text.find('"', line_start)
    if quote < 0 or not _STRING_LITERAL.match(text, quote):
        return span
    starts = _char_starts(text[quote + 1 : -1], message.template)
    offset, length = at
    if starts is None or offset + length >= len(starts):
        return span
    base = span.start + quote + 1
    return Span(span.source, base + starts[offset], base + starts[offset + length])


def _char_starts(body: str, value: str) -> list[int] | None:
    """For each character of ``value`` (and its end), where it starts in
    ``body``, the text of a string literal that reads as ``value``; None
    when the characters do not add up to ``value``'s length."""
    from ..syntax.parser import _unquote

    if _unquote(f'"{body}"') == body:  # no escapes, or one JSON does not know: kept as written
        return list(range(len(body) + 1)) if body == value else None
    starts: list[int] = []
    index = 0
    while index < len(body):
        starts.append(index)
        escape = _ESCAPE.match(body, index)
        index = escape.end() if escape else index + 1
    starts.append(len(body))
    return starts if len(starts) == len(value) + 1 else None


def _texts(file: ast.RuleFile) -> Iterator[tuple[str, Span | None]]:
    """Every text of a rule file (strings, titles, messages, names), with
    the span of the node that holds it; iterative, like :func:`ast.walk`."""
    stack: list[Any] = [file]
    while stack:
        node = stack.pop()
        for name in getattr(node, "__slots__", ()):
            if name == "span":
                continue
            value = getattr(node, name)
            if isinstance(value, str):
                yield value, node.span
            elif isinstance(value, tuple):
                stack.extend(v for v in value if hasattr(v, "__slots__"))
            elif hasattr(value, "__slots__"):
                stack.append(value)


def _lone_surrogate(text: str) -> str | None:
    """The first unpaired surrogate of a text (UTF-8 cannot hold one), or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return text[error.start]
    return None


def _mismatch_code(left: Type, right: Type) -> str:
    """RR202 when both sides are quantities in different units (the types
    would agree but for the unit), RR201 for any other disagreement."""
    if left.kind == right.kind == QUANTITY and left.unit != right.unit:
        return "RR202"
    return "RR201"


def _unit_mismatch_help(left: Type, right: Type) -> str:
    """The help of RR202: there is no conversion between units, so the fix
    is to write both sides in one unit."""
    units = f"`{left.unit}` and `{right.unit}`"
    if is_currency(left.unit or "") and is_currency(right.unit or ""):
        return (
            f"{units} are different currencies and rules cannot convert between them "
            "(there is no exchange rate to declare): compare and combine amounts in one currency"
        )
    if "percent" in (left.unit, right.unit):
        return f"{units} are different units; a percentage of an amount is written `10% of AMOUNT`"
    return f"{units} are different units and rules cannot convert between them: use one unit on both sides"


def _percent_of_help(node: ast.Arith) -> str | None:
    """`payment.amount * 10 percent` (or `10% * ...`) means the language's
    `10% of payment.amount`: the hint for a product with a percent side."""
    for side, other in ((node.left, node.right), (node.right, node.left)):
        if not isinstance(side, (ast.Percent, ast.Quantity)) or other.span is None:
            continue
        if isinstance(side, ast.Percent) or side.unit.text == "percent":
            return f"a percentage of an amount is written `{side.value}% of {other.span.text}`"
    return None


def _negative_constant(amount: ast.Expr) -> bool:
    """Whether a reward amount is the same negative number at every event
    (`-50 USD`, `0 USD - 5 USD`): the engine withholds every award of it.
    A zero amount is left to `check --strict` (RR608), see `lint.never_issued`."""
    from .lint import fold

    value = fold(amount)
    return isinstance(value, Decimal) and value < 0


def _kind_unit_problem(kind: str, unit: str) -> str | None:
    money = is_currency(unit)
    if kind in ("cash", "gift_card") and not money:
        return f"a `{kind}` reward is money, but the amount is in `{unit}`"
    if kind == "discount" and not (money or unit == "percent"):
        return f"a discount is in percent or money, but the amount is in `{unit}`"
    if kind in ("storage", "upgrade", "credit") and unit == "percent":
        return f"a `{kind}` reward cannot be in percent"
    if kind in ("storage", "upgrade") and money:
        return f"a `{kind}` reward is not money; use `credit` or `cash` for `{unit}`"
    return None


def every_floor(info: MetricInfo) -> tuple[Decimal, str]:
    """The smallest `every` step on a metric, and why: money's minor unit
    (0.01 USD, 1 JPY), 1 for a count (it only takes whole values), else
    `limits.MIN_EVERY_STEP`."""
    unit = info.type.unit
    if info.type.kind == QUANTITY and unit is not None and is_currency(unit):
        return Decimal(1).scaleb(-CURRENCY_EXPONENTS[unit]), f"the smallest amount of {unit}"
    if info.aggregate is not None and info.aggregate.fn == "count":
        return Decimal(1), f"`{info.name}` is a count"
    return Decimal(limits.MIN_EVERY_STEP), "the smallest step `every` takes"


@in_context
def check_text(text: str, path: str = "<rules>") -> tuple[CheckedRuleset | None, list[Diagnostic]]:
    """Parse and check rule-file text: the checked ruleset (None after a
    syntax error) and every diagnostic, in file order."""
    from ..syntax.parser import parse, paused_gc

    with paused_gc():
        source = Source(path, text)
        tree, diagnostics = parse(source)
        if tree is None:
            return None, diagnostics
        checked, found = check(tree, source)
    return checked, sorted(diagnostics + found, key=Diagnostic.sort_key)


def check(file: ast.RuleFile, source: Source) -> tuple[CheckedRuleset, list[Diagnostic]]:
    """Run the checker over a parsed file."""
    checker = Checker(file, source)
    checked = checker.run()
    return checked, checker.diagnostics
