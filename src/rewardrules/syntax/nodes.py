"""The rule language's syntax tree: frozen, slotted dataclasses.

Built by the parser's Lark transformer; nothing after the parser sees a Lark
tree. Every node carries a ``span`` that equality ignores, so two parses of
differently formatted text compare equal.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from ..core.source import Span

_span = field(compare=False, repr=False, default=None)


@dataclass(frozen=True, slots=True)
class Ident:
    """A name as written, with its own span (for "unknown name" carets)."""

    text: str
    span: Span | None = _span


# -- expressions -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Number:
    value: Decimal
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with a unit: ``500 USD``, ``10 percent``, ``30 days``."""

    value: Decimal
    unit: Ident
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Percent:
    """``15%`` on its own: a quantity in the unit ``percent``."""

    value: Decimal
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class PercentOf:
    """``15% of payment.amount``: the operand scaled by value / 100."""

    value: Decimal
    operand: Expr
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class String:
    value: str
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Ref:
    """A name (``mrr``) or a field of an event (``payment.amount``)."""

    head: Ident
    attr: Ident | None = None
    span: Span | None = _span

    @property
    def dotted(self) -> str:
        return self.head.text if self.attr is None else f"{self.head.text}.{self.attr.text}"


@dataclass(frozen=True, slots=True)
class Arith:
    op: str  # one of + - * /
    left: Expr
    right: Expr
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # one of == != < <= > >=
    left: Expr
    right: Expr
    #: `ignoring case`: texts compared by their Unicode case folding
    fold: bool = False
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class And:
    left: Expr
    right: Expr
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Or:
    left: Expr
    right: Expr
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class InList:
    operand: Expr
    items: tuple[Expr, ...]
    negated: bool = False
    #: `ignoring case`: texts compared by their Unicode case folding
    fold: bool = False
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class InEarlier:
    """``referral.ip in earlier referrals.ip``: whether one of the
    referrer's referral events before this referral holds the value in
    that field (a test of behaviour, for eligibility: docs/language.md)."""

    operand: Expr
    field: Ident
    negated: bool = False
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class IsSet:
    operand: Expr
    negated: bool = False
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class RateOf:
    """``rate of payment.amount``: the operand scaled by a percent-valued
    metric (a rate table's value) / 100, as ``15% of`` does with a constant."""

    rate: Ref
    operand: Expr
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Tiers:
    """``tiers of conversions { 1 to 4: 10%  5 to 9: 15%  10 or more: 20% }``:
    the value of the first row whose bounds (inclusive) hold the metric's
    value; no value below, between or above the rows. Kept as parallel
    tuples (``highs[i]`` is None for the open row, ``N or more``) so that
    `walk` sees bounds and values as plain expressions."""

    metric: Ref
    lows: tuple[Number | Quantity, ...]
    highs: tuple[Number | Quantity | None, ...]
    values: tuple[Expr, ...]
    span: Span | None = _span
    #: `graduated tiers of`: each slice of the metric's value at its own
    #: row's rate (percent), summed; else the value of the row it is in
    graduated: bool = False


Expr = (
    Number
    | Quantity
    | Percent
    | PercentOf
    | RateOf
    | Tiers
    | String
    | Bool
    | Ref
    | Arith
    | Neg
    | Compare
    | And
    | Or
    | Not
    | InList
    | InEarlier
    | IsSet
)


# -- declarations ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Duration:
    value: Decimal
    unit: Ident
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A declared field type: ``money USD``, ``number``, ``text`` ..."""

    kind: str  # money | quantity | number | text | time | boolean
    unit: Ident | None = None
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class FieldDecl:
    name: Ident
    type: TypeRef
    optional: bool = False
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class EventDecl:
    name: Ident
    title: str | None
    fields: tuple[FieldDecl, ...]
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class UnitDecl:
    name: Ident
    title: str | None
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class RulesetDecl:
    name: Ident
    title: str | None
    #: IANA zone of calendar periods (`cap ... per month`); None means UTC
    timezone: String | None = None
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``sum payment.amount where ... within 30 days otherwise 0``."""

    fn: str  # latest | sum | count | max | min | first
    source: Ident  # an event type, or ``referrals``
    field: Ident | None
    where: Expr | None = None
    within: Duration | None = None
    otherwise: Expr | None = None
    span: Span | None = _span
    #: ``count earlier referrals``: over the referrer's referral events
    #: before the referral, known when it is made (source is ``referrals``)
    earlier: bool = False
    #: ``unless voided MILESTONE`` (over referrals): a referral whose award
    #: of that milestone was taken back does not count
    unless: Ident | None = None


@dataclass(frozen=True, slots=True)
class MetricDecl:
    name: Ident
    title: str | None
    body: Aggregate | Expr
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Eligible:
    condition: Expr
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Conversion:
    """``first payment where payment.amount > 0``: what converts a referee
    for a program's attribution (its first such event)."""

    event: Ident
    where: Expr | None = None
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Attribution:
    """``attribution last referral before first payment``: which referral
    of a referee a program credits (see docs/semantics.md, Attribution)."""

    model: Ident  # first | last
    subject: Ident  # the word `referral`
    lapse: Duration | None = None
    conversion: Conversion | None = None
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Cap:
    """``cap referrer 5000 USD per quarter``: a ceiling per beneficiary."""

    role: Ident
    amount: Expr
    period: Ident | None = None
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Allowance:
    """``allowance partner_budget referrer 1000 USD per month``: one cap,
    declared at the top of the file, that every program which names it
    (`draw from partner_budget`) draws from."""

    name: Ident
    title: str | None
    cap: Cap
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Draw:
    """``draw from partner_budget``: the program's rewards count against
    that allowance."""

    name: Ident
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class WhenTrigger:
    """Awarded once, at the first event where the condition holds; with
    ``held`` (``when C for 60 days``), at the instant the condition has held
    that long without a break (a timer: no event needed then)."""

    condition: Expr
    span: Span | None = _span
    held: Duration | None = None


@dataclass(frozen=True, slots=True)
class EventTrigger:
    """``first payment where ...`` (once) or ``each payment ...`` (every time)."""

    each: bool
    event: Ident
    where: Expr | None = None
    within: Duration | None = None
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class IncreaseTrigger:
    """``whenever paid_licenses increases``: at every rise, ``increase`` is the rise."""

    metric: Ident
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class EveryTrigger:
    """``every 5 conversions``: once per multiple of the step reached."""

    step: Decimal
    metric: Ident
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class AfterTrigger:
    """``after 30 days [from EVENT] [if C]``: a timer set at the referral (or
    at its first EVENT), awarded at its instant if the condition holds then."""

    delay: Duration
    anchor: Ident | None = None
    condition: Expr | None = None
    span: Span | None = _span


Trigger = WhenTrigger | EventTrigger | IncreaseTrigger | EveryTrigger | AfterTrigger


def timer_of(trigger: Trigger) -> Duration | None:
    """The duration of a trigger that awards at a timer's instant rather
    than at an event (`when C for D`, `after D`); None for the others."""
    if isinstance(trigger, WhenTrigger):
        return trigger.held
    if isinstance(trigger, AfterTrigger):
        return trigger.delay
    return None


@dataclass(frozen=True, slots=True)
class Reward:
    """``reward ROLE KIND AMOUNT``, optionally with terms of its own,
    ``{ hold 30 days  void if refund ... }``: then it is held and voided by
    those only, not by the milestone's (`terms`: whether it has them)."""

    role: Ident
    kind: Ident
    amount: Expr
    span: Span | None = _span
    holds: tuple[Hold, ...] = ()
    voids: tuple[Void, ...] = ()
    terms: bool = False


@dataclass(frozen=True, slots=True)
class Hold:
    duration: Duration
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Void:
    """``void if refund where ... within 30 days`` (after the award's event);
    with a share, ``void refund.amount of payment.amount if refund ...``
    takes back that part of the award at each such event (a partial
    clawback: `part` of `whole`, see docs/semantics.md)."""

    event: Ident
    where: Expr | None = None
    within: Duration | None = None
    span: Span | None = _span
    part: Expr | None = None
    whole: Expr | None = None


@dataclass(frozen=True, slots=True)
class Message:
    template: str
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Milestone:
    name: Ident
    title: str | None
    triggers: tuple[Trigger, ...]
    rewards: tuple[Reward, ...]
    holds: tuple[Hold, ...] = ()
    voids: tuple[Void, ...] = ()
    messages: tuple[Message, ...] = ()
    caps: tuple[Cap, ...] = ()
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Program:
    name: Ident
    title: str | None
    metrics: tuple[MetricDecl, ...] = ()
    eligible: tuple[Eligible, ...] = ()
    caps: tuple[Cap, ...] = ()
    milestones: tuple[Milestone, ...] = ()
    attributions: tuple[Attribution, ...] = ()
    span: Span | None = _span
    #: the shared allowances it draws from (`draw from NAME`), in file order
    draws: tuple[Draw, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleFile:
    """A whole rule file. Top-level metrics are shared by every program;
    top-level milestones, caps and eligibility form the file's implicit
    program (allowed only when there is no ``program`` block)."""

    rulesets: tuple[RulesetDecl, ...]
    units: tuple[UnitDecl, ...]
    events: tuple[EventDecl, ...]
    metrics: tuple[MetricDecl, ...]
    programs: tuple[Program, ...]
    implicit: Program | None
    span: Span | None = _span
    #: caps shared by programs (`allowance NAME ...`), in file order
    allowances: tuple[Allowance, ...] = ()


# -- walking -----------------------------------------------------------------


def walk(expr: Expr | None) -> Iterator[Expr]:
    """Every node of an expression, without recursion (expressions may be
    64 levels deep; later stages must not depend on the recursion limit)."""
    if expr is None:
        return
    stack: list[Any] = [expr]
    while stack:
        node = stack.pop()
        yield node
        for name in getattr(node, "__slots__", ()):
            if name == "span":
                continue
            value = getattr(node, name)
            if isinstance(value, tuple):
                stack.extend(v for v in value if hasattr(v, "__slots__") and not isinstance(v, Ident))
            elif hasattr(value, "__slots__") and not isinstance(value, (Ident, Duration)):
                stack.append(value)


def conjuncts(expr: Expr) -> list[Expr]:
    """The parts of a condition joined by `and`, in source order."""
    out: list[Expr] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, And):
            stack.extend((node.right, node.left))
        else:
            out.append(node)
    return out


class Threshold(NamedTuple):
    """A part of a condition that reads `metric >= N` or `metric > N`."""

    metric: str
    op: str
    target: Number | Quantity


def threshold(node: Expr, metrics: Container[str]) -> Threshold | None:
    """`node` as a threshold on one of `metrics` (`mrr >= 1000 USD`), else
    None: the one test of what progress texts (score, explain) measure a
    metric's distance to."""
    if (
        isinstance(node, Compare)
        and node.op in (">=", ">")
        and isinstance(node.left, Ref)
        and node.left.attr is None
        and node.left.head.text in metrics
        and isinstance(node.right, (Number, Quantity))
    ):
        return Threshold(node.left.head.text, node.op, node.right)
    return None
