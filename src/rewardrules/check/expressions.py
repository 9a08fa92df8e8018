"""The metrics and expressions pass: resolve each metric (and the metrics it
depends on), type every expression and record its type, nullability and
binding in the scope's tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

from ..core import limits
from ..core.datatypes import (
    BOOLEAN,
    DURATION,
    DURATION_UNITS,
    ERROR,
    NUMBER,
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
from ..core.diagnostics import did_you_mean
from ..core.source import Span
from ..core.units import is_currency
from ..syntax import nodes as ast
from .declarations import Declarations
from .program import (
    Binding,
    EventInfo,
    FieldInfo,
    MetricInfo,
)
from .scope import RESERVED_NAMES, _Context

#: the first number literal in a node's text (grammar: NUMBER)
_LITERAL = re.compile(r"[0-9]+(\.[0-9]+)?")


class Expressions(Declarations):
    """Metrics and expressions, checked on demand as programs use them."""

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
        if agg.earlier:
            return self._earlier_aggregate(decl, agg, program)
        if agg.source.text == "referrals":
            return self._referrals_aggregate(decl, agg, scope, program)
        event = self._event(agg.source, over_referrals=agg.fn in ("count", "sum"))
        if event is None:
            return MetricInfo(name, decl, T_ERROR, False, "referral", program=program)
        typ: Type = T_ERROR
        nullable = agg.fn not in ("count", "sum")
        if agg.fn == "count":
            typ = T_NUMBER
            hint = f"write `count {event.name}` and filter with `where`"
            self._refused(agg.field, "`count` counts events, not a field", hint)
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
        if agg.unless is not None:
            self.error(
                "RR318",
                "`unless voided` applies to referrals: `count referrals` and `sum referrals.METRIC`",
                agg.unless.span,
                "count the referrals of a referrer: `count referrals where paid >= 1 unless voided first_paid`",
            )
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
        elif agg.fn == "count":
            self._refused(agg.field, "`count referrals` counts referrals, not a metric", "filter with `where`")
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
        self._refused(
            agg.within, "`within` applies to events, not to referrals", "put the window on the referral metric"
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
        self._refused(agg.otherwise, "a metric over referrals is never empty; `otherwise` is not needed")
        events = frozenset().union(*(m.events for m in used)) if used else frozenset({"referral"})
        if agg.unless is not None:  # the count changes when a void event takes the award back
            events |= self._void_events(agg.unless.text)
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

    def _refused(self, part: ast.Expr | ast.Ident | ast.Duration | None, message: str, hint: str | None = None) -> None:
        """RR205 at a part of an aggregate that its form does not take
        (`count` with a field; `within` or `otherwise` over referrals)."""
        if part is not None:
            self.error("RR205", message, part.span, hint)

    def _void_events(self, milestone: str) -> frozenset[str]:
        """The event types of the `void` clauses (the milestone's and its
        rewards') of the milestones of that name, for `unless voided`; the
        programs pass checks the name (`Clawbacks._unless_voided`)."""
        found: set[str] = set()
        for program in [*self.file.programs, *([self.file.implicit] if self.file.implicit else [])]:
            for decl in program.milestones:
                if decl.name.text == milestone:
                    voids = [*decl.voids, *(v for r in decl.rewards for v in r.voids)]
                    found.update(v.event.text for v in voids if v.event.text in self.events)
        return frozenset(found)

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

    def _event(self, name: ast.Ident, over_referrals: bool = False) -> EventInfo | None:
        """The declared event a name refers to, or None after an RR101."""
        event = self.events.get(name.text)
        if event is None:
            self.error("RR101", f"unknown event `{name.text}`", name.span, self._event_help(name.text, over_referrals))
        return event

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

    # -- expressions -----------------------------------------------------
    def duration(self, node: ast.Duration) -> int | None:
        unit = node.unit.text
        if not self.known("RR109", "duration unit", node.unit, DURATION_UNITS, "use minutes, hours, days or weeks"):
            return None
        self._digits(node.value, node.span)
        if node.value <= 0:
            self.error("RR304", "a duration must be greater than zero", node.span)
            return None
        return self._whole_ns(node.value, unit, node.span)

    def _whole_ns(self, value: Decimal, unit: str, span: Span | None) -> int | None:
        """A duration literal's nanoseconds, or None (and `RR304`) when they
        are not a whole number: every engine counts time in whole
        nanoseconds, so `0.000000000001 minutes` (0.06 ns) would be a window
        of 0 and `0.000000000025 minutes` (1.5 ns) one of 1, neither what is
        written. At most 30 digits times a unit's nanoseconds: exact."""
        ns = value * DURATION_UNITS[unit]
        if ns == ns.to_integral_value():
            return int(ns)
        one = unit.removesuffix("s")
        self.error(
            "RR304",
            f"a duration must be a whole number of nanoseconds, and this is {ns.normalize():f} ns",
            span,
            f"write a duration of at least 1 ns, in whole nanoseconds (1 {one} is {DURATION_UNITS[unit]:,} ns)",
        )
        return None

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
                self._whole_ns(node.value, unit, node.span)
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
        if isinstance(node, ast.RateOf):
            return self._rate_of(node, ctx)
        if isinstance(node, ast.Tiers):
            return self._tiers(node, ctx)
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
            if node.fold:
                self._folded(node, typ)
            return T_BOOLEAN, False
        if isinstance(node, ast.IsSet):
            self._sub(node.operand, ctx)
            return T_BOOLEAN, False
        if isinstance(node, ast.InEarlier):
            return self._in_earlier(node, ctx)
        raise AssertionError(f"unknown node {node!r}")

    def _rate_of(self, node: ast.RateOf, ctx: _Context) -> tuple[Type, bool]:
        """`rate of X`: X scaled by a percent-valued metric (a rate table)."""
        rate, rate_null = self._sub(node.rate, ctx)
        typ, nullable = self._sub(node.operand, ctx)
        if rate.kind == ERROR or typ.kind == ERROR:
            return T_ERROR, nullable or rate_null
        if rate != quantity("percent"):
            self.error(
                "RR201",
                f"`{node.rate.dotted} of ...` needs a rate in percent, but `{node.rate.dotted}` is {rate.describe()}",
                node.rate.span,
                "a rate table gives one: `metric rate = tiers of conversions { 1 to 4: 10%  5 or more: 15% }`",
            )
            return T_ERROR, nullable or rate_null
        if not typ.numeric:
            self.error("RR201", f"a rate applies to a number, but this is {typ.describe()}", node.operand.span)
            return T_ERROR, nullable or rate_null
        return typ, nullable or rate_null

    def _tiers(self, node: ast.Tiers, ctx: _Context) -> tuple[Type, bool]:
        """A rate table: bounds of the metric's unit, values of one type,
        rows in increasing order without reversed or repeated bounds (gaps
        and overlaps between rows are `check --strict`'s, RR617/RR618).
        The value has none outside every row: it is nullable."""
        metric, _ = self._sub(node.metric, ctx)
        if len(node.values) > limits.MAX_LIST_ITEMS:
            self.error(
                "RR401", f"the table has {len(node.values)} rows (the limit is {limits.MAX_LIST_ITEMS})", node.span
            )
        if metric.kind not in (ERROR, NUMBER, QUANTITY):
            self.error(
                "RR212",
                f"a table's rows are ranges of a number or an amount, but `{node.metric.dotted}` is {metric.describe()}",
                node.metric.span,
            )
            metric = T_ERROR
        for bound in (*node.lows, *(h for h in node.highs if h is not None)):
            typ = self.expr(bound, ctx)
            if unify(typ, metric) is None:
                self.error(
                    "RR212",
                    f"this bound is {typ.describe()}, but `{node.metric.dotted}` is {metric.describe()}",
                    bound.span,
                    f"write the bounds in the unit of `{node.metric.dotted}`",
                )
        self._tier_order(node)
        if node.graduated:
            return self._graduated(node, metric, ctx)
        result: Type | None = None
        for value in node.values:
            typ = self.expr(value, ctx)
            common = typ if result is None else unify(result, typ)
            if common is None:
                assert result is not None
                self.error(
                    "RR213",
                    f"this row gives {typ.describe()}, but the rows above give {result.describe()}",
                    value.span,
                    "every row of a table gives the same unit (all percent, or all USD)",
                )
                continue
            result = common
        if result is None or result.kind == ERROR:
            return T_ERROR, True
        return Type(result.kind, result.unit), True

    def _graduated(self, node: ast.Tiers, metric: Type, ctx: _Context) -> tuple[Type, bool]:
        """`graduated tiers of M`: every row is a rate in percent (RR213),
        and the value is a part of M, in M's unit."""
        for value in node.values:
            typ = self.expr(value, ctx)
            if typ.kind != ERROR and typ != quantity("percent"):
                self.error(
                    "RR213",
                    f"a row of a graduated table is a rate in percent, but this is {typ.describe()}",
                    value.span,
                    "write the rate of the slice, such as `10%`",
                )
        if metric.kind == ERROR:
            return T_ERROR, True
        return Type(metric.kind, metric.unit), True

    def _tier_order(self, node: ast.Tiers) -> None:
        """RR319: rows out of order; RR320: bounds that cannot say which row
        a value is in (a row from 9 to 5, two rows from the same bound, an
        open row `N or more` before the last)."""
        for i, (low, high) in enumerate(zip(node.lows, node.highs, strict=True)):
            if high is None and i < len(node.lows) - 1:
                self.error(
                    "RR320",
                    f"the row `{_bound_text(low)} or more` is not the last: the rows below it are in it too",
                    low.span,
                    "make it the last row, or give it an upper bound (`10 to 19`)",
                )
            if high is not None and high.value < low.value:
                self.error(
                    "RR320",
                    f"this row runs from {_bound_text(low)} down to {_bound_text(high)}",
                    high.span,
                    f"write the lower bound first: `{_bound_text(high)} to {_bound_text(low)}`",
                )
            if i == 0:
                continue
            previous = node.lows[i - 1]
            if low.value == previous.value:
                self.error(
                    "RR320",
                    f"two rows start at {_bound_text(low)}: which one a value is in is ambiguous",
                    low.span,
                    "give each row its own range",
                )
            elif low.value < previous.value:
                self.error(
                    "RR319",
                    f"the rows are not in order: this one starts at {_bound_text(low)}, "
                    f"below the row above it ({_bound_text(previous)})",
                    low.span,
                    "list the rows from the lowest bound to the highest",
                )

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
            if ctx.at_referral and info.type.kind != ERROR and not self.known_at_referral(info, ctx.metrics):
                self.error(
                    "RR209",
                    f"`{head}` can change after the referral, so it cannot be used {ctx.where}",
                    node.span,
                    "eligibility is judged once, when the referral is made: it reads the referral's fields and "
                    "metrics over the referrer's earlier referrals (`count earlier referrals within 24 hours`)",
                )
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
        elif node.fold:
            self._folded(node, common)
        return T_BOOLEAN, False

    # -- behaviour: the referrer's earlier referrals -------------------------
    def known_at_referral(self, info: MetricInfo, scope: Mapping[str, ast.MetricDecl] | None) -> bool:
        """Whether a metric's value is settled when its referral is made:
        an aggregate over earlier referrals, or a formula over only such
        metrics and the referral's fields. Eligibility reads only these: it
        is judged once, at the referral, identically in every run."""
        return self._known(info, scope, {})

    def _known(self, info: MetricInfo, scope: Mapping[str, ast.MetricDecl] | None, seen: dict[str, bool]) -> bool:
        """`known_at_referral`, each metric judged once (`seen`): a metric
        in a cycle of formulas (RR307, reported at its declaration) is
        not known, and a diamond of formulas is not walked once per path."""
        agg = info.aggregate
        if agg is not None:
            return agg.earlier
        if scope is None:
            return False
        if info.name in seen:
            return seen[info.name]
        seen[info.name] = False  # while judged: a cycle back to it is not known
        found = all(name in scope and self._known(self._metric(scope[name], scope), scope, seen) for name in info.deps)
        seen[info.name] = found
        return found

    def _earlier_aggregate(self, decl: ast.MetricDecl, agg: ast.Aggregate, program: str | None) -> MetricInfo:
        """`count earlier referrals [where C] [within D]`: how many referral
        events the referrer made before this referral (in processing order,
        at most D before it), whatever became of them. Its value is settled
        at the referral, so eligibility may read it."""
        name = decl.name.text
        typ: Type = T_NUMBER
        if agg.source.text != "referrals":
            self.error(
                "RR113",
                f"`earlier` applies to `referrals`, not to `{agg.source.text}`",
                agg.source.span,
                did_you_mean(agg.source.text, ["referrals"]) or "write `count earlier referrals`",
            )
            typ = T_ERROR
        if agg.fn != "count" or agg.field is not None:
            self.error(
                "RR313",
                f"`{agg.fn} earlier referrals{'.' + agg.field.text if agg.field else ''}` is not supported: "
                "earlier referrals are counted",
                agg.span,
                "write `count earlier referrals [where ...] [within 24 hours]`; to compare a field with "
                "earlier referrals', use `referral.FIELD in earlier referrals.FIELD`",
            )
            typ = T_ERROR
        if agg.otherwise is not None:
            self.error(
                "RR313", "a count of earlier referrals is never empty; `otherwise` is not needed", agg.otherwise.span
            )
        if agg.where is not None:
            # `referral` is the earlier referral counted, as in `count referrals where`
            ctx = _Context("in the filter of earlier referrals", {"referral": (self.events["referral"], "earlier")})
            self.condition(agg.where, ctx)
        if agg.within is not None:
            self.duration(agg.within)
        return MetricInfo(name, decl, typ, False, "referral", (), frozenset({"referral"}), program)

    def _in_earlier(self, node: ast.InEarlier, ctx: _Context) -> tuple[Type, bool]:
        """`X in earlier referrals.F`: whether a referral event the referrer
        made before this referral holds X in its field F. X must be known at
        the referral (its fields, constants, metrics over earlier
        referrals), so the test is settled when the referral is made."""
        referral = self.events["referral"]
        if ctx.events.get("referral", (None, ""))[1] != "referral":
            self.error(
                "RR208",
                f"`earlier referrals` cannot be used {ctx.where}",
                node.span,
                "it compares the referral being judged with the referrer's earlier ones: use it in "
                "`eligible when`, a metric or a milestone",
            )
            return T_ERROR, False
        typ, _ = self._sub(node.operand, ctx)
        finfo = self._field(referral, node.field)
        if finfo is None:
            return T_ERROR, False
        self.bindings[node] = Binding("earlier", event_role="referral", field=finfo, event=referral)
        if self._reads_earlier_test(node.operand):
            self.error(
                "RR208",
                "the value compared with earlier referrals is itself a test of earlier referrals",
                node.operand.span,
                "compare a field of the referral (`referral.ip in earlier referrals.ip`)",
            )
            return T_ERROR, False
        if not self._settled_at_referral(node.operand, ctx):
            self.error(
                "RR208",
                "the value compared with earlier referrals can change after the referral",
                node.operand.span,
                "compare a field of the referral (`referral.ip in earlier referrals.ip`): the test is made "
                "once, when the referral is made",
            )
            return T_ERROR, False
        if typ.kind != ERROR and finfo.type.kind != ERROR and unify(typ, finfo.type) is None:
            self._mismatch(
                node.span,
                f"cannot compare {typ.describe()} with `referral.{finfo.name}`, {finfo.type.describe()}",
                typ,
                finfo.type,
            )
        return T_BOOLEAN, False

    def _settled_at_referral(self, expr: ast.Expr, ctx: _Context) -> bool:
        """Whether every name in an expression is known at the referral."""
        for sub in ast.walk(expr):
            binding = self.bindings.get(sub)
            if binding is None:
                continue
            if binding.kind == "field" and binding.event_role != "referral":
                return False
            if binding.kind == "increase":
                return False
            if (
                binding.kind == "metric"
                and binding.metric is not None
                and not self.known_at_referral(binding.metric, ctx.metrics)
            ):
                return False
        return True

    def _reads_earlier_test(self, expr: ast.Expr | None, seen: tuple[str, ...] = ()) -> bool:
        """Whether an expression holds `in earlier referrals`, directly or
        in the formula of a metric it reads. The tests of a referral are
        settled one after the other, each from values already known, so
        one may not compare the outcome of another."""
        for sub in ast.walk(expr):
            if isinstance(sub, ast.InEarlier):
                return True
            binding = self.bindings.get(sub)
            metric = binding.metric if binding is not None and binding.kind == "metric" else None
            if (
                metric is not None
                and metric.name not in seen
                and self._reads_earlier_test(metric.formula, (*seen, metric.name))
            ):
                return True
        return False

    def _folded(self, node: ast.Compare | ast.InList, typ: Type) -> None:
        """RR214: `ignoring case` compares texts; on numbers, amounts,
        instants or conditions it would mean nothing, so it is refused
        rather than ignored."""
        if typ.kind not in (TEXT, ERROR):
            self.error(
                "RR214",
                f"`ignoring case` compares texts, but this compares {typ.describe()}",
                node.span,
                "remove `ignoring case`, or compare a text field",
            )


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


def _bound_text(bound: ast.Number | ast.Quantity) -> str:
    """A table's bound as written (`5`, `1000 USD`)."""
    text = format(bound.value, "f")
    return f"{text} {bound.unit.text}" if isinstance(bound, ast.Quantity) else text
