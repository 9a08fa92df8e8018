"""Lint stage: the warnings that ``check --strict`` adds to a checked ruleset.

Runs after ``check``, on a ruleset without errors, and reads only the
checked model. Each analysis is a small pure function that returns warnings
(severity ``warning``, codes RR601-RR621, each with a help line).

Precision over recall: a warning is reported only when the rules alone
prove it, whatever the ledger holds. Where an analysis cannot decide (a
comparison of two fields, an `or` too large to expand, a `not` over a value
that may be missing), it assumes the rule may hold and stays silent.

The reasoning about conditions is a small constraint solver: a condition is
expanded into a disjunction of conjunctions of atoms (`x >= 5`,
`x in [...]`, `x is set`) over fields and metrics; a conjunction is
impossible when the atoms on one value contradict each other or what the
value's definition allows (a count is a whole number of 0 or more; `max
licenses.active where licenses.active > 300 otherwise 0` is 0 or above 300).
Any comparison with a missing value is false, so only `not` needs care: it
is decided only when its operand is a constant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, localcontext
from typing import Any, cast

from jinja2 import nodes

from ..core.datatypes import DURATION_UNITS
from ..core.diagnostics import Diagnostic, Severity
from ..core.runtime import CONTEXT
from ..core.source import Span
from ..core.units import format_amount, is_currency, quantize_money
from ..syntax import nodes as ast
from ..syntax.formatter import written
from . import templates
from .attribution_lint import case_variants, paid_per_claim
from .program import (
    Binding,
    CapInfo,
    CheckedRuleset,
    FieldInfo,
    MetricInfo,
    MilestoneInfo,
    NodeMap,
    ProgramInfo,
    RewardInfo,
    VoidInfo,
)
from .tables import table_gaps, unused_allowances

ZERO = Decimal(0)

# -- constant folding ---------------------------------------------------------


class Unknown:
    """The value of an expression that depends on the ledger."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()
#: A constant: a number (durations in nanoseconds), text, a condition, or
#: None for "no value" (a division by zero).
Value = Decimal | str | bool | None

#: Both sides are of one type (``fold`` checks): two numbers, texts or conditions.
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def fold(expr: ast.Expr) -> Value | Unknown:
    """The value of an expression that reads no field or metric, else UNKNOWN.

    Follows the engine: arithmetic with no value or a division by zero has
    no value, and a comparison with no value is false.
    """
    try:
        with localcontext(CONTEXT):
            return _fold(expr)
    except ArithmeticError:  # a result out of the engine's range: leave it to the engine
        return UNKNOWN


def _fold(expr: ast.Expr) -> Value | Unknown:
    if isinstance(expr, ast.Number | ast.Percent):
        return expr.value
    if isinstance(expr, ast.Quantity):
        unit = expr.unit.text
        return expr.value * DURATION_UNITS[unit] if unit in DURATION_UNITS else expr.value
    if isinstance(expr, ast.String | ast.Bool):
        return expr.value
    if isinstance(expr, ast.PercentOf):
        operand = _fold(expr.operand)
        if not isinstance(operand, Decimal):
            return operand if operand is None or isinstance(operand, Unknown) else UNKNOWN
        return operand * expr.value / 100
    if isinstance(expr, ast.Neg):
        operand = _fold(expr.operand)
        return -operand if isinstance(operand, Decimal) else operand if operand is None else UNKNOWN
    if isinstance(expr, ast.Arith):
        return _fold_arith(expr.op, _fold(expr.left), _fold(expr.right))
    if isinstance(expr, ast.Compare):
        left, right = _fold(expr.left), _fold(expr.right)
        if left is None or right is None:
            return False
        if isinstance(left, Unknown) or isinstance(right, Unknown) or type(left) is not type(right):
            return UNKNOWN
        if expr.fold:
            left, right = _casefold(left), _casefold(right)
        return _COMPARE[expr.op](left, right)
    if isinstance(expr, ast.And | ast.Or):
        sides = (_fold(expr.left), _fold(expr.right))
        decisive = isinstance(expr, ast.Or)  # `true` decides `or`, `false` decides `and`
        if any(side is decisive for side in sides):
            return decisive
        return (not decisive) if all(side is (not decisive) for side in sides) else UNKNOWN
    if isinstance(expr, ast.Not):
        operand = _fold(expr.operand)
        return (not operand) if isinstance(operand, bool) else UNKNOWN
    if isinstance(expr, ast.InList):
        operand = _fold(expr.operand)
        items = [_fold(item) for item in expr.items]
        if operand is None:
            return False
        if isinstance(operand, Unknown) or any(isinstance(item, Unknown) for item in items):
            return UNKNOWN
        if expr.fold:
            return (_casefold(operand) in [_casefold(item) for item in items]) != expr.negated
        return (operand in items) != expr.negated
    if isinstance(expr, ast.IsSet):
        operand = _fold(expr.operand)
        return UNKNOWN if isinstance(operand, Unknown) else (operand is not None) != expr.negated
    return UNKNOWN


def _casefold(value: Value | Unknown) -> Value | Unknown:
    """A value as `ignoring case` compares it: a text case-folded, as
    `runtime.n_fold` does at run time; anything else as it is."""
    return value.casefold() if isinstance(value, str) else value


def _fold_arith(op: str, left: Value | Unknown, right: Value | Unknown) -> Value | Unknown:
    if left is None or right is None:
        return None
    if not (isinstance(left, Decimal) and isinstance(right, Decimal)):
        return UNKNOWN
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    return left / right if right else None


# -- conditions as constraints -------------------------------------------------

#: An atom on one value: ("cmp", op, constant), ("in", constants),
#: ("notin", constants), ("set", is_set) or ("int",) for "a whole number".
Atom = tuple[object, ...]
#: a value a condition reads: ("metric", id of its MetricInfo) or (the
#: event's role, id of its FieldInfo); the objects belong to the checked
#: program, which `Conditions` holds, so an id stays theirs meanwhile
Key = tuple[str, int]
Term = list[tuple[Key, Atom]]
#: What a value's definition allows: alternatives, each a list of atoms;
#: None when anything is possible, [] when it never has a value.
Facts = list[list[Atom]] | None

_MAX_TERMS = 64
_COUNT_FACTS: list[list[Atom]] = [[("int",), ("cmp", ">=", ZERO)]]


class Conditions:
    """Decides, soundly, whether conditions of one checked ruleset can hold."""

    def __init__(self, checked: CheckedRuleset) -> None:
        self.checked = checked
        self._vars: dict[Key, tuple[bool, MetricInfo | None]] = {}
        self._facts: dict[MetricInfo, Facts] = {}

    def never_true(self, expr: ast.Expr) -> bool:
        """True only if the condition is false for every possible ledger."""
        return not any(self.term_possible(term) for term in self.dnf(expr))

    def dnf(self, expr: ast.Expr) -> list[Term]:
        """The condition as alternatives of conjunctions of atoms. A part
        that cannot be expressed counts as "true" (no constraint): sound."""
        value = fold(expr)
        if value is True:
            return [[]]
        if value is False or value is None:
            return []
        if isinstance(expr, ast.And):
            left, right = self.dnf(expr.left), self.dnf(expr.right)
            if len(left) * len(right) > _MAX_TERMS:
                return [[]]
            return [a + b for a in left for b in right]
        if isinstance(expr, ast.Or):
            terms = self.dnf(expr.left) + self.dnf(expr.right)
            return terms if len(terms) <= _MAX_TERMS else [[]]
        return self._atom(expr)

    def _atom(self, expr: ast.Expr) -> list[Term]:
        if isinstance(expr, ast.Compare | ast.InList) and expr.fold:
            return [[]]  # `ignoring case`: the atoms compare exact values; no constraint (sound)
        if isinstance(expr, ast.Compare):
            op, ref, constant = expr.op, expr.left, fold(expr.right)
            if not isinstance(ref, ast.Ref):
                op, ref, constant = _FLIP[expr.op], expr.right, fold(expr.left)
            key = self._key(ref)
            if key is None or isinstance(constant, Unknown):
                return [[]]
            return [] if constant is None else [[(key, ("cmp", op, constant))]]
        if isinstance(expr, ast.InList):
            key = self._key(expr.operand)
            items = [fold(item) for item in expr.items]
            if key is None or any(isinstance(item, Unknown) for item in items):
                return [[]]
            values = frozenset(item for item in items if item is not None)
            return [[(key, ("notin" if expr.negated else "in", values))]]
        if isinstance(expr, ast.IsSet):
            key = self._key(expr.operand)
            return [[]] if key is None else [[(key, ("set", not expr.negated))]]
        key = self._key(expr)  # a condition-valued field or metric on its own
        return [[]] if key is None else [[(key, ("cmp", "==", True))]]

    def _key(self, expr: ast.Expr) -> Key | None:
        binding: Binding | None = self.checked.bindings.get(expr) if isinstance(expr, ast.Ref) else None
        if binding is None:
            return None
        if binding.kind == "metric" and binding.metric is not None:
            key = ("metric", id(binding.metric))
            self._vars[key] = (binding.metric.nullable, binding.metric)
            return key
        if binding.kind == "field" and binding.field is not None:
            key = (binding.event_role, id(binding.field))
            self._vars[key] = (binding.field.optional, None)
            return key
        return None

    def term_possible(self, term: Term) -> bool:
        by_key: dict[Key, list[Atom]] = {}
        for key, atom in term:
            by_key.setdefault(key, []).append(atom)
        for key, atoms in by_key.items():
            nullable, metric = self._vars[key]
            facts = self.metric_facts(metric) if metric is not None else None
            if not _possible(atoms, nullable, facts):
                return False
        return True

    def metric_facts(self, metric: MetricInfo) -> Facts:
        """What values a metric's definition allows (see :data:`Facts`)."""
        if metric not in self._facts:
            self._facts[metric] = self._metric_facts(metric)
        return self._facts[metric]

    def _metric_facts(self, metric: MetricInfo) -> Facts:
        agg = metric.aggregate
        if agg is None:
            return None
        if agg.source.text == "referrals":
            return _COUNT_FACTS if agg.fn == "count" else None
        never = agg.where is not None and self.never_true(agg.where)
        if agg.fn in ("count", "sum"):
            return [[("cmp", "==", ZERO)]] if never else (_COUNT_FACTS if agg.fn == "count" else None)
        alternatives: list[list[Atom]] = []
        if not never:
            event = self.checked.events.get(agg.source.text)
            field = event.fields.get(agg.field.text) if event is not None and agg.field is not None else None
            if agg.where is None or field is None:
                return None
            own_key = ("event", id(field))
            for term in self.dnf(agg.where):
                if self.term_possible(term):
                    own = [atom for key, atom in term if key == own_key and atom[0] != "set"]
                    if not own:
                        return None
                    alternatives.append(own)
        if agg.otherwise is not None:
            value = fold(agg.otherwise)
            if isinstance(value, Unknown):
                return None
            if value is not None:
                alternatives.append([("cmp", "==", value)])
        return alternatives


def _possible(atoms: list[Atom], nullable: bool, facts: Facts) -> bool:
    """Whether one value (missing or not) can satisfy every atom."""
    values = [a for a in atoms if a[0] != "set"]
    if ("set", False) in atoms:
        return nullable and not values and ("set", True) not in atoms
    if facts is None:
        return _value_possible(values)
    return any(_value_possible(values + alternative) for alternative in facts)


def _value_possible(atoms: list[Atom]) -> bool:
    """Whether some value satisfies every atom (atoms on one value)."""
    lower: tuple[Decimal, bool] | None = None
    upper: tuple[Decimal, bool] | None = None
    allowed: set[object] | None = None
    excluded: set[object] = set()
    whole = False
    try:
        for atom in atoms:
            kind = atom[0]
            if kind == "int":
                whole = True
            elif kind == "notin":
                excluded |= cast(frozenset[object], atom[1])
            elif kind == "in":
                members = cast(frozenset[object], atom[1])
                allowed = set(members) if allowed is None else allowed & members
            elif atom[1] == "==":
                allowed = {atom[2]} if allowed is None else allowed & {atom[2]}
            elif atom[1] == "!=":
                excluded.add(atom[2])
            elif isinstance(atom[2], Decimal):
                bound = (atom[2], atom[1] in ("<", ">"))
                if atom[1] in ("<", "<="):
                    upper = bound if upper is None or _tighter_upper(bound, upper) else upper
                else:
                    lower = bound if lower is None or _tighter_lower(bound, lower) else lower
            else:
                return True  # an ordering of text or conditions: the checker refuses it; assume possible
        if allowed is None and any(isinstance(a[2], bool) for a in atoms if len(a) > 2):
            allowed = {True, False}
        if allowed is not None:
            return any(_fits(v, lower, upper, excluded, whole) for v in allowed)
        return _interval_possible(lower, upper, excluded, whole)
    except TypeError:
        return True  # values of different kinds: undecided, so possible


def _tighter_upper(a: tuple[Decimal, bool], b: tuple[Decimal, bool]) -> bool:
    return a[0] < b[0] or (a[0] == b[0] and a[1])


def _tighter_lower(a: tuple[Decimal, bool], b: tuple[Decimal, bool]) -> bool:
    return a[0] > b[0] or (a[0] == b[0] and a[1])


def _fits(
    value: object,
    lower: tuple[Decimal, bool] | None,
    upper: tuple[Decimal, bool] | None,
    excluded: set[object],
    whole: bool,
) -> bool:
    if value in excluded:
        return False
    if lower is None and upper is None and not whole:
        return True
    if not isinstance(value, Decimal) or isinstance(value, bool):
        return True
    if whole and value != value.to_integral_value():
        return False
    if lower is not None and (value < lower[0] or (lower[1] and value == lower[0])):
        return False
    return not (upper is not None and (value > upper[0] or (upper[1] and value == upper[0])))


def _interval_possible(
    lower: tuple[Decimal, bool] | None, upper: tuple[Decimal, bool] | None, excluded: set[object], whole: bool
) -> bool:
    if lower is not None and upper is not None:
        if lower[0] > upper[0]:
            return False
        if lower[0] == upper[0]:
            return _fits(lower[0], lower, upper, excluded, whole)
    if not whole:
        return True  # an interval of positive length: more values than exclusions
    if lower is None or upper is None:
        return True
    first = int(lower[0]) + 1 if lower[1] and lower[0] == math.floor(lower[0]) else math.ceil(lower[0])
    last = int(upper[0]) - 1 if upper[1] and upper[0] == math.floor(upper[0]) else math.floor(upper[0])
    if last < first:
        return False
    if last - first + 1 > len(excluded):
        return True
    return any(Decimal(n) not in excluded for n in range(first, last + 1))


# -- the warnings ---------------------------------------------------------------

_CHECK_NUMBERS = "check the numbers and the comparison signs: a condition no event can meet is usually a slip"


def _warning(code: str, message: str, span: Span | None, help: str) -> Diagnostic:
    return Diagnostic(code, message, span, help, Severity.WARNING)


def lint(checked: CheckedRuleset) -> list[Diagnostic]:
    """Every warning of ``check --strict`` for a ruleset without errors, in file order."""
    conditions = Conditions(checked)
    found: list[Diagnostic] = [
        *never_true(checked, conditions),
        *tiers_out_of_order(checked),
        *duplicate_triggers(checked),
        *unused_declarations(checked),
        *unbounded_liability(checked),
        *void_outlasts_hold(checked),
        *reward_above_cap(checked),
        *never_issued(checked),
        *counts_its_own_referral(checked),
        *held_without_metrics(checked),
        *compared_with_itself(checked),
        *window_on_own_referral(checked),
        *unset_means_ineligible(checked),
        *table_gaps(checked),
        *unused_allowances(checked),
        *case_variants(checked),
        *paid_per_claim(checked),
        *partial_void_unlinked(checked),
        *never_voided(checked),
    ]
    return sorted(found, key=Diagnostic.sort_key)


# RR601 ------------------------------------------------------------------------


def never_true(checked: CheckedRuleset, conditions: Conditions) -> Iterator[Diagnostic]:
    """RR601: a condition that no ledger can make true, and so dead rules.

    Checked: `eligible when`; the `where` of a metric, of `first` / `each`
    and of `void if`; `when`; `every N M` where M's definition keeps it
    below N; `whenever M increases` where M has no value or a fixed value
    of 0 or less.
    """
    seen: set[MetricInfo] = set()
    for program in checked.programs:
        for condition in program.eligible:
            if conditions.never_true(condition):
                yield _warning(
                    "RR601",
                    f"the eligibility condition of program `{program.name}` is never true: no referral takes part",
                    condition.span,
                    _CHECK_NUMBERS,
                )
        for metric in program.metrics.values():
            agg = metric.aggregate
            if agg is None or agg.where is None or agg.source.text == "referrals" or metric in seen:
                continue
            seen.add(metric)
            if conditions.never_true(agg.where):
                yield _warning(
                    "RR601",
                    f"the filter of metric `{metric.name}` is never true: it never counts an event",
                    agg.where.span,
                    _CHECK_NUMBERS,
                )
        for milestone in program.milestones:
            yield from _unreachable(milestone, program, conditions)


def _unreachable(milestone: MilestoneInfo, program: ProgramInfo, conditions: Conditions) -> Iterator[Diagnostic]:
    trigger, name = milestone.trigger, milestone.name
    if isinstance(trigger, ast.WhenTrigger) and conditions.never_true(trigger.condition):
        yield _warning(
            "RR601",
            f"the condition of milestone `{name}` is never true: it is never reached",
            trigger.span,
            _CHECK_NUMBERS,
        )
    elif (
        isinstance(trigger, ast.AfterTrigger)
        and trigger.condition is not None
        and conditions.never_true(trigger.condition)
    ):
        yield _warning(
            "RR601",
            f"the condition of milestone `{name}` is never true: its timer never pays",
            trigger.condition.span,
            _CHECK_NUMBERS,
        )
    elif isinstance(trigger, ast.EventTrigger) and trigger.where is not None and conditions.never_true(trigger.where):
        yield _warning(
            "RR601",
            f"the filter of milestone `{name}` is never true: no `{trigger.event.text}` event reaches it",
            trigger.where.span,
            _CHECK_NUMBERS,
        )
    elif isinstance(trigger, ast.EveryTrigger | ast.IncreaseTrigger):
        metric = program.metrics.get(trigger.metric.text)
        facts = conditions.metric_facts(metric) if metric is not None else None
        if facts is not None and isinstance(trigger, ast.EveryTrigger):
            reach: Atom = ("cmp", ">=", trigger.step)
            if not any(_value_possible([*alternative, reach]) for alternative in facts):
                yield _warning(
                    "RR601",
                    f"`{trigger.metric.text}` never reaches {trigger.step}: milestone `{name}` is never reached",
                    trigger.span,
                    f"by its definition `{trigger.metric.text}` stays below the step; lower the step or widen the metric",
                )
        elif facts is not None and all(_fixed_at_most_zero(alternative) for alternative in facts):
            yield _warning(
                "RR601",
                f"`{trigger.metric.text}` never rises: milestone `{name}` is never reached",
                trigger.span,
                f"by its definition `{trigger.metric.text}` has no value or a fixed value of 0 or less",
            )
    for void in milestone.voids:
        if void.decl.where is not None and conditions.never_true(void.decl.where):
            yield _warning(
                "RR601",
                f"the condition of `void if {void.event}` in milestone `{name}` is never true: it never voids an award",
                void.decl.where.span,
                _CHECK_NUMBERS,
            )


def _fixed_at_most_zero(alternative: list[Atom]) -> bool:
    return any(a[0] == "cmp" and a[1] == "==" and isinstance(a[2], Decimal) and a[2] <= 0 for a in alternative)


# RR602, RR603 -------------------------------------------------------------------


def threshold(checked: CheckedRuleset, trigger: ast.Trigger) -> tuple[MetricInfo, Decimal, bool] | None:
    """For `when M >= T` or `when M > T` (either way round): M, T and whether `>`."""
    if not isinstance(trigger, ast.WhenTrigger) or not isinstance(trigger.condition, ast.Compare):
        return None
    if trigger.held is not None:  # a tier of its own kind: reached later, when held
        return None
    node = trigger.condition
    op, ref, constant = node.op, node.left, fold(node.right)
    if not isinstance(ref, ast.Ref):
        op, ref, constant = _FLIP[node.op], node.right, fold(node.left)
    binding = checked.bindings.get(ref) if isinstance(ref, ast.Ref) else None
    if binding is None or binding.metric is None or op not in (">=", ">") or not isinstance(constant, Decimal):
        return None
    return binding.metric, constant, op == ">"


def tiers_out_of_order(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR602: tiers whose thresholds do not increase.

    Tiers are the milestones of one program whose whole trigger is
    `when M >= T` or `when M > T` on the same metric M. In file order, each
    must be higher than every earlier tier on M (`> T` ranks above `>= T`).
    Exact duplicates are left to RR603.
    """
    for program in checked.programs:
        highest: dict[MetricInfo, tuple[Decimal, bool, MilestoneInfo]] = {}
        for milestone in program.milestones:
            found = threshold(checked, milestone.trigger)
            if found is None:
                continue
            metric, value, strict = found
            before = highest.get(metric)
            if before is None or (value, strict) > before[:2]:
                highest[metric] = (value, strict, milestone)
            elif not _same_trigger(milestone.trigger, before[2].trigger):
                yield _warning(
                    "RR602",
                    f"tier `{milestone.name}` ({_source(milestone.trigger)}) comes after tier "
                    f"`{before[2].name}` ({_source(before[2].trigger)}) but its threshold is not higher",
                    milestone.trigger.span,
                    "list the tiers of a metric from the lowest threshold to the highest, each above the last",
                )


def duplicate_triggers(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR603: two milestones of one program with the same trigger
    (`mrr >= 1000` and `1000 <= mrr` are the same): both pay at the same event."""
    for program in checked.programs:
        first: dict[ast.Trigger, MilestoneInfo] = {}  # AST nodes hash and compare without their spans
        for milestone in program.milestones:
            twin = first.setdefault(_canonical(milestone.trigger), milestone)
            if twin is not milestone:
                yield _warning(
                    "RR603",
                    f"milestone `{milestone.name}` has the same trigger as `{twin.name}`",
                    milestone.trigger.span,
                    f"both are awarded at the same event: move the rewards into `{twin.name}`, or change one trigger",
                )


def _same_trigger(a: ast.Trigger, b: ast.Trigger) -> bool:
    return _canonical(a) == _canonical(b)  # AST equality ignores spans


def _canonical(trigger: ast.Trigger) -> ast.Trigger:
    if isinstance(trigger, ast.WhenTrigger) and isinstance(trigger.condition, ast.Compare):
        node = trigger.condition
        if not isinstance(node.left, ast.Ref) and isinstance(node.right, ast.Ref):
            return ast.WhenTrigger(ast.Compare(_FLIP[node.op], node.right, node.left, node.fold), held=trigger.held)
    return trigger


def _source(trigger: ast.Trigger) -> str:
    node: ast.Trigger | ast.Expr = trigger.condition if isinstance(trigger, ast.WhenTrigger) else trigger
    return f"`{node.span.text}`" if node.span is not None else "its trigger"


# RR604 --------------------------------------------------------------------------


def unused_declarations(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR604: a declared event type that no metric, trigger or `void if`
    names, or a declared field that no condition, amount, metric or message
    reads. (Built-in fields and the `referral` event itself are always used.)"""
    events, fields = _used(checked)
    for name, info in checked.events.items():
        if info.decl is None:
            continue
        if name not in events:
            yield _warning(
                "RR604",
                f"event `{name}` is declared but no rule uses it",
                info.decl.name.span,
                "remove it, or use it in a metric, a milestone or a `void if`",
            )
            continue
        for decl in info.decl.fields:
            field = info.fields.get(decl.name.text)
            if field is not None and not field.builtin and field not in fields:
                yield _warning(
                    "RR604",
                    f"field `{name}.{decl.name.text}` is declared but no rule uses it",
                    decl.name.span,
                    "remove it, or use it in a condition, an amount, a metric or a message",
                )


def _used(checked: CheckedRuleset) -> tuple[set[str], NodeMap[FieldInfo, bool]]:
    """Event types used, and the FieldInfo objects read (by identity)."""
    events = {"referral"}
    fields: NodeMap[FieldInfo, bool] = NodeMap()
    for b in checked.bindings.values():
        if b.kind == "field" and b.field is not None:
            fields[b.field] = True
    for program in checked.programs:
        for metric in program.metrics.values():
            agg = metric.aggregate
            event = checked.events.get(agg.source.text) if agg is not None else None
            if agg is not None and event is not None:
                events.add(event.name)
                if agg.field is not None and agg.field.text in event.fields:
                    fields[event.fields[agg.field.text]] = True
        if program.attribution.event is not None:  # what converts a referee
            events.add(program.attribution.event)
        for milestone in program.milestones:
            if milestone.event is not None:
                events.add(milestone.event)
            if milestone.anchor is not None:
                events.add(milestone.anchor)
            events.update(void.event for void in milestone.voids)
            if milestone.message is not None and milestone.event is not None:
                event_fields = checked.events[milestone.event].fields
                for attr in _template_fields(milestone.message, milestone.event):
                    if attr in event_fields:
                        fields[event_fields[attr]] = True
    return events, fields


def _template_fields(template: str, event: str) -> Iterator[str]:
    """The fields of ``event`` that a (checked) message template reads."""
    for node in templates.environment().parse(template).find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == event:
            yield node.attr


# RR605 --------------------------------------------------------------------------


def constant_amount(reward: RewardInfo) -> Decimal | Unknown | None:
    """What one award of a reward pays when that does not depend on the
    ledger: rounded like the engine rounds money, 1 for an item, None when
    it has no value (never issued); else UNKNOWN."""
    if reward.kind == "item":
        return Decimal(1)
    value = fold(reward.decl.amount)
    if value is None or isinstance(value, Unknown):
        return value
    if not isinstance(value, Decimal):
        return UNKNOWN
    return quantize_money(value, reward.unit) if is_currency(reward.unit) else value


def table_most(reward: RewardInfo, metrics: Mapping[str, MetricInfo]) -> Decimal | Unknown:
    """The most one award pays when its amount is a table of fixed amounts
    (`reward referrer cash bonus`, `bonus = tiers of spent { ... 50 USD }`):
    its largest row, rounded as the engine rounds money; or a rate table of
    a fixed amount (`rate of 200 USD`): that amount at the row that gives
    the most; else UNKNOWN (a row or an operand computed from the ledger,
    or an amount that does more than read the table)."""
    amount, scale = reward.decl.amount, Decimal(1)
    if isinstance(amount, ast.RateOf):  # `rate of 200 USD`: the operand at each row's rate
        operand = fold(amount.operand)
        if not isinstance(operand, Decimal):
            return UNKNOWN
        amount, scale = amount.rate, operand / 100
    info = metrics.get(amount.head.text) if isinstance(amount, ast.Ref) and amount.attr is None else None
    body = info.decl.body if info is not None else None
    if not isinstance(body, ast.Tiers) or body.graduated:  # a graduated table grows with its metric
        return UNKNOWN
    values = [fold(value) for value in body.values]
    if not all(isinstance(v, Decimal) for v in values):
        return UNKNOWN
    most = max(v * scale for v in values if isinstance(v, Decimal))
    return quantize_money(most, reward.unit) if is_currency(reward.unit) else most


def how_often(trigger: ast.Trigger) -> str | None:
    """How a repeating trigger pays ("at every `payment`"); None if at most once."""
    if isinstance(trigger, ast.EventTrigger):
        return f"at every `{trigger.event.text}`" if trigger.each else None
    if isinstance(trigger, ast.IncreaseTrigger):
        return f"at every rise of `{trigger.metric.text}`"
    if isinstance(trigger, ast.EveryTrigger):
        return f"for every {trigger.step} of `{trigger.metric.text}`"
    return None


def applicable_caps(program: ProgramInfo, milestone: MilestoneInfo, reward: RewardInfo) -> list[CapInfo]:
    """The caps that count a reward: the program's, the milestone's and the
    allowances the program draws from, of its role and unit (or on the
    number of rewards: those count every reward of the role)."""
    caps = [*program.caps, *milestone.caps, *program.allowances]
    return [c for c in caps if c.applies(reward.role, reward.unit)]


def unbounded_liability(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR605: a money reward that one referral (one referrer, for a
    per-referrer milestone) can draw without limit, with no cap on it.

    Unlimited means: its amount is computed from the ledger
    (`15% of payment.amount`, `2 USD * increase`), or its milestone repeats
    (`each`, `whenever`, `every`). No cap means: no `cap` of that role and
    currency in the program or the milestone, whatever its period. A fixed
    amount paid once per referral is not reported, although the number of
    referrals has no limit: that is what a referral bounty is (`check
    --bounds` states it).
    """
    for program in checked.programs:
        for milestone in program.milestones:
            often = how_often(milestone.trigger)
            for reward in milestone.rewards:
                computed = isinstance(constant_amount(reward), Unknown)
                # a table of fixed amounts pays at most its largest row
                computed = computed and isinstance(table_most(reward, program.metrics), Unknown)
                # a cap on the number of rewards bounds fixed amounts only
                caps = [c for c in applicable_caps(program, milestone, reward) if not (computed and c.counts_rewards)]
                if not is_currency(reward.unit) or not (computed or often) or caps:
                    continue
                amount = f"`{written(reward.decl.amount)}`" if computed else "a fixed amount"
                yield _warning(
                    "RR605",
                    f"unbounded liability: milestone `{milestone.name}` pays the {reward.role} {amount}"
                    f"{' ' + often if often else ''} with no cap",
                    reward.decl.span,
                    f"add a cap, e.g. `cap {reward.role} 1000 {reward.unit} per month` in the milestone or the program",
                )


# RR606 --------------------------------------------------------------------------


def void_outlasts_hold(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR606: a `void if` whose window is longer than the milestone's hold
    (no hold counts as 0, no `within` as forever). An award is confirmed
    when its hold ends; a void event after that no longer voids it but
    gives a reversal of a confirmed, perhaps paid, award (semantics.md).
    A window equal to the hold is fine: a void event at the hold's very end
    still voids."""
    for program in checked.programs:
        for milestone in program.milestones:
            for hold_ns, holds, voids in _hold_groups(milestone):
                yield from _outlasting(milestone.name, hold_ns, holds, voids)


def _hold_groups(milestone: MilestoneInfo) -> Iterator[tuple[int | None, tuple[ast.Hold, ...], list[VoidInfo]]]:
    """Each hold with the voids it holds off: the milestone's (when a reward
    takes them), then each reward's own terms."""
    shared = [v for v in milestone.voids if any(v.decl is d for d in milestone.decl.voids)]
    if shared and any(not r.decl.terms for r in milestone.rewards):
        yield milestone.hold_ns, milestone.decl.holds, shared
    for reward in milestone.rewards:
        if reward.decl.terms:
            own = [milestone.voids[i] for i in reward.voids]
            yield reward.hold_ns, reward.decl.holds, own


def _outlasting(
    name: str, hold_ns: int | None, holds: tuple[ast.Hold, ...], voids: list[VoidInfo]
) -> Iterator[Diagnostic]:
    hold = hold_ns or 0
    hold_text = (
        f"the hold is {written(holds[0].duration)}: a void event after the hold"
        if holds
        else "there is no hold: every void event"
    )
    for void in voids:
        if void.window_ns is not None and void.window_ns <= hold:
            continue
        if void.decl.part is not None:
            continue  # a partial refund after the award is paid is what a partial void is for
        within = void.decl.within
        window = f"up to {written(within)} after the award" if within is not None else "at any time"
        yield _warning(
            "RR606",
            f"`void if {void.event}` in milestone `{name}` can match {window}, "
            f"but {hold_text} reverses a confirmed award",
            void.decl.span,
            f"hold the award at least as long as the void window (`hold {written(within)}`)"
            if within is not None
            else "give the void a window (`within 30 days`) and hold the award at least that long",
        )


# RR607 --------------------------------------------------------------------------


def reward_above_cap(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR607: a fixed reward larger than a cap that counts it (same role and
    unit, in the program or the milestone, any period): no award of it is
    ever paid in full."""
    for program in checked.programs:
        for milestone in program.milestones:
            for reward in milestone.rewards:
                amount = constant_amount(reward)
                if not isinstance(amount, Decimal):
                    continue
                caps = applicable_caps(program, milestone, reward)
                cap = next((c for c in caps if not c.counts_rewards and amount > c.limit), None)
                if cap is not None:
                    per = f" per {cap.period}" if cap.period else ""
                    yield _warning(
                        "RR607",
                        f"the reward of {format_amount(amount, reward.unit)} {reward.unit} in milestone "
                        f"`{milestone.name}` is more than the {cap.role} cap of {cap.limit} {cap.unit}{per}",
                        reward.decl.span,
                        "every award is cut to the cap: lower the reward or raise the cap",
                    )


# RR608 --------------------------------------------------------------------------


def never_issued(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR608: a reward whose amount is the same at every event and is zero
    (money rounded to its minor unit first: `0.001 USD` is zero) or has
    no value (`5 USD / 0`): every award of it is withheld.

    A warning, not an error like a negative amount (RR305): a zero reward
    is valid rules whose awards are all listed under `withheld`
    (language.md), and a ruleset may hold one on purpose, as a milestone
    whose amount is still to be decided."""
    for program in checked.programs:
        for milestone in program.milestones:
            for reward in milestone.rewards:
                amount = constant_amount(reward)
                if amount is None or (isinstance(amount, Decimal) and amount <= 0):
                    what = (
                        "has no value"
                        if amount is None
                        else "is zero"
                        if fold(reward.decl.amount) == 0
                        else "rounds to zero"
                    )
                    yield _warning(
                        "RR608",
                        f"the reward `{written(reward.decl.amount)}` of milestone `{milestone.name}` {what}: "
                        "it is never issued",
                        reward.decl.span,
                        "give the reward a positive amount, or remove it; every award of it is listed under `withheld`",
                    )


# RR609 --------------------------------------------------------------------------


def counts_its_own_referral(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR609: `count referral` with no filter, or one that is always true.
    A metric over events is per referral, and a referral has one `referral`
    event (later ones are duplicates), at the start of any `within` window,
    so this is 1 for every referral: almost always
    `count referrals` (the referrer's referrals) was meant, and a threshold
    above 1 on it is never reached. A filter that reads a field makes it a
    0-or-1 flag, which is left alone."""
    seen: NodeMap[ast.MetricDecl, bool] = NodeMap()
    for program in checked.programs:
        for metric in program.metrics.values():
            agg = metric.aggregate
            if metric.decl in seen or agg is None:
                continue
            seen[metric.decl] = True
            if agg.fn != "count" or agg.source.text != "referral":
                continue
            if agg.where is None or fold(agg.where) is True:
                window = f" within {written(agg.within)}" if agg.within is not None else ""
                yield _warning(
                    "RR609",
                    f"metric `{metric.name}` counts the referral's own `referral` event: it is 1 for every referral",
                    agg.span,
                    f"to count the referrer's referral events in the {written(agg.within)} before this one, "
                    f"write `count earlier referrals{window}`"
                    if agg.within is not None
                    else "to count the referrer's referrals, write `count referrals`",
                )


# RR610 --------------------------------------------------------------------------


def held_without_metrics(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR610: `when C for D` where C reads no metric: C is fixed from the
    referral on (referral fields and constants), so nothing can break it
    and the clock starts at the referral: that is `after D if C`, which
    says so."""
    for program in checked.programs:
        for milestone in program.milestones:
            trigger = milestone.trigger
            if not isinstance(trigger, ast.WhenTrigger) or trigger.held is None:
                continue
            reads = (checked.bindings.get(node) for node in ast.walk(trigger.condition))
            if any(b is not None and b.kind == "metric" for b in reads):
                continue
            held = trigger.held.span.text if trigger.held.span is not None else "D"
            condition = trigger.condition.span.text if trigger.condition.span is not None else "C"
            yield _warning(
                "RR610",
                f"the condition of milestone `{milestone.name}` reads no metric: it cannot change after the referral",
                trigger.span,
                f"write `after {held} if {condition}`, which says that the timer starts at the referral",
            )


# RR612-RR614: behaviour ---------------------------------------------------------


def _conditions(checked: CheckedRuleset) -> Iterator[ast.Expr]:
    """Every expression of every program that may hold a comparison, once."""
    seen: NodeMap[ast.MetricDecl, bool] = NodeMap()
    for program in checked.programs:
        yield from program.eligible
        for metric in program.metrics.values():
            if metric.decl in seen:
                continue
            seen[metric.decl] = True
            agg = metric.aggregate
            found = agg.where if agg is not None else metric.formula
            if found is not None:
                yield found
        for milestone in program.milestones:
            trigger = milestone.trigger
            if isinstance(trigger, ast.WhenTrigger):
                yield trigger.condition
            elif isinstance(trigger, ast.EventTrigger) and trigger.where is not None:
                yield trigger.where
            yield from (void.decl.where for void in milestone.voids if void.decl.where is not None)


def _offset(expr: ast.Expr) -> tuple[str, Decimal] | None:
    """`X`, `X + c` or `X - c` (c a constant: a number, an amount, a
    duration) as (the name X, c), else None."""
    if isinstance(expr, ast.Ref):
        return expr.dotted, ZERO
    if isinstance(expr, ast.Arith) and expr.op in "+-":
        inner = _offset(expr.left)
        shift = fold(expr.right)
        if inner is not None and isinstance(shift, Decimal):
            return inner[0], inner[1] + shift if expr.op == "+" else inner[1] - shift
    return None


def compared_with_itself(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR612: a comparison of a value with itself moved by a constant
    (`referral.at >= referral.at - 24 hours`): both sides read the same
    value, so it holds for every referral with that value or for none.
    It is what a velocity rule written before `count earlier referrals`
    existed looks like: one referral's own instant is never 24 hours
    before itself."""
    for condition in _conditions(checked):
        for node in ast.walk(condition):
            if not isinstance(node, ast.Compare):
                continue
            left, right = _offset(node.left), _offset(node.right)
            if left is None or right is None or left[0] != right[0]:
                continue
            outcome = "always true" if _COMPARE[node.op](left[1], right[1]) else "never true"
            shifts = [side.right for side in (node.left, node.right) if isinstance(side, ast.Arith)]
            window = written(shifts[0]) if shifts else "24 hours"
            yield _warning(
                "RR612",
                f"`{written(node)}` compares `{left[0]}` with itself: it is {outcome}",
                node.span,
                "to count the referrer's referrals in a window before this one, write a metric "
                f"`count earlier referrals within {window}` and compare it"
                if left[0] == "referral.at"
                else "compare the value with another value, or remove the comparison",
            )


def window_on_own_referral(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR613: `within` on an aggregate over the `referral` event. A
    referral's metrics see its own referral event only (later ones are
    duplicates), at the very start of any window, so the window never
    leaves anything out: it is almost always a velocity rule meant over
    the referrer's earlier referrals."""
    seen: NodeMap[ast.MetricDecl, bool] = NodeMap()
    for program in checked.programs:
        for metric in program.metrics.values():
            agg = metric.aggregate
            if metric.decl in seen or agg is None or agg.earlier:
                continue
            seen[metric.decl] = True
            own = agg.fn == "count" and (agg.where is None or fold(agg.where) is True)  # RR609 says it
            if agg.source.text == "referral" and agg.within is not None and not own:
                yield _warning(
                    "RR613",
                    f"`within {written(agg.within)}` on the referral's own `referral` event leaves nothing out",
                    agg.within.span,
                    f"the referral event starts the window; to count the referrer's referral events in the "
                    f"{written(agg.within)} before this one, write `count earlier referrals within "
                    f"{written(agg.within)}`",
                )


def unset_means_ineligible(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR614: `eligible when referral.F not in earlier referrals.F` on an
    optional field, with no `is not set or`: a comparison with a missing
    value is false, so every referral without the field is ineligible,
    which a check meant to refuse only repeated values rarely intends."""
    for program in checked.programs:
        for clause in program.eligible:
            for part in ast.conjuncts(clause):
                if isinstance(part, ast.InEarlier) and part.negated and checked.nullable.get(part.operand, False):
                    yield _warning(
                        "RR614",
                        f"a referral without `{written(part.operand)}` is not eligible: a comparison with a "
                        "missing value is false",
                        part.span,
                        f"to accept referrals without it, write `{written(part.operand)} is not set or "
                        f"{written(part)}`",
                    )


# RR615 --------------------------------------------------------------------------


def partial_void_unlinked(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR615: a partial void in an `each EVENT` milestone whose condition
    does not read the triggering event. Every award of the milestone is one
    payment's commission, and every void event of the referral takes its
    part of each: a refund of half of one payment takes back half of every
    payment's commission. (A `first` milestone has one award: nothing to
    tell apart.)"""
    for program in checked.programs:
        for milestone in program.milestones:
            trigger = milestone.trigger
            if not isinstance(trigger, ast.EventTrigger) or not trigger.each:
                continue
            event = trigger.event.text
            for void in milestone.voids:
                if void.decl.part is None or (void.event != event and _reads(void.decl.where, event)):
                    continue
                yield _warning(
                    "RR615",
                    f"the partial void of `{void.event}` in milestone `{milestone.name}` does not say which "
                    f"`{event}` it refunds: each `{void.event}` takes its part of every award of the milestone",
                    void.decl.span,
                    f"link it to the triggering event, e.g. `where {void.event}.payment == {event}.id`",
                )


def _reads(expr: ast.Expr | None, event: str) -> bool:
    """Whether an expression reads a field of `event`."""
    return any(isinstance(n, ast.Ref) and n.head.text == event and n.attr is not None for n in ast.walk(expr))


# RR616 --------------------------------------------------------------------------


def never_voided(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR616: `unless voided M` where no `void` clause can take an award of
    M back (neither the milestone's nor a reward's own): the metric counts
    what it would count without it."""
    for program in checked.programs:
        names = {m.name: m for m in program.milestones}
        for metric in program.metrics.values():
            agg = metric.aggregate
            milestone = names.get(agg.unless.text) if agg is not None and agg.unless is not None else None
            if milestone is None or milestone.voids:
                continue
            assert agg is not None and agg.unless is not None
            yield _warning(
                "RR616",
                f"metric `{metric.name}` does not count referrals whose `{milestone.name}` was voided, "
                f"but milestone `{milestone.name}` has no `void`: no award of it is ever taken back",
                agg.unless.span,
                f"add a `void if` to milestone `{milestone.name}`, or remove `unless voided {milestone.name}`",
            )
