"""The checked program: what ``check`` hands to the compiler.

Plain dataclasses that resolve every name of the AST: which event a field
belongs to, which metric a name means, the type of every expression. The
compiler reads only this (and the AST nodes it points to).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from ..core.datatypes import Type
from ..core.source import Source
from ..syntax import nodes as ast

Level = Literal["referral", "referrer"]


@dataclass(slots=True)
class FieldInfo:
    name: str
    type: Type
    optional: bool = False
    builtin: bool = False


#: The first values of every event's record (see `EventInfo.record`).
RECORD_HEAD = ("at", "id", "type", "referee", "referrer")


@dataclass(slots=True)
class EventInfo:
    name: str
    fields: dict[str, FieldInfo]
    decl: ast.EventDecl | None = None

    def record(self) -> tuple[str, ...]:
        """The names of the values in this event type's *record*, the tuple
        the scoring loop sees: (at, id, type, referee, referrer, then the
        declared fields in order), where referrer is None but for a
        referral. A tuple rather than a dict because scoring makes one per
        event: generated code reads its values by position, and sorting the
        records orders them by (instant, id), as ids are unique."""
        return (*RECORD_HEAD, *(f.name for f in self.fields.values() if not f.builtin))


@dataclass(slots=True, eq=False)
class MetricInfo:
    name: str
    decl: ast.MetricDecl
    type: Type
    nullable: bool
    level: Level
    #: metrics this one reads (derived metrics and `referrals` aggregates)
    deps: tuple[str, ...] = ()
    #: event types whose arrival can change the metric's value
    events: frozenset[str] = frozenset()
    program: str | None = None  # None for a top-level (shared) metric

    @property
    def aggregate(self) -> ast.Aggregate | None:
        body = self.decl.body
        return body if isinstance(body, ast.Aggregate) else None

    @property
    def formula(self) -> ast.Expr | None:
        """The expression of a metric computed from others; None for an aggregate."""
        body = self.decl.body
        return None if isinstance(body, ast.Aggregate) else body


@dataclass(slots=True, eq=False)
class Binding:
    """What a name in an expression resolves to."""

    kind: Literal["metric", "field", "increase"]
    metric: MetricInfo | None = None
    event_role: str = ""  # "event" (trigger/aggregated event), "referral", "void"
    field: FieldInfo | None = None
    #: the event type the field belongs to
    event: EventInfo | None = None


@dataclass(slots=True, eq=False)
class CapInfo:
    role: str
    unit: str
    limit: Decimal
    period: str | None
    decl: ast.Cap


@dataclass(slots=True, eq=False)
class RewardInfo:
    role: str
    kind: str
    unit: str
    item: str | None
    decl: ast.Reward


@dataclass(slots=True, eq=False)
class VoidInfo:
    event: str
    window_ns: int | None
    decl: ast.Void


@dataclass(slots=True, eq=False)
class MilestoneInfo:
    name: str
    title: str | None
    decl: ast.Milestone
    trigger: ast.Trigger
    level: Level
    #: the event type that triggers it (event triggers), else None
    event: str | None
    #: event types at which its trigger must be evaluated
    events: frozenset[str]
    rewards: list[RewardInfo]
    hold_ns: int | None
    voids: list[VoidInfo]
    message: str | None
    message_span: object | None
    caps: list[CapInfo]
    index: int = 0  # position in the whole file, for stable ordering


@dataclass(slots=True, eq=False)
class ProgramInfo:
    name: str
    title: str | None
    decl: ast.Program
    eligible: list[ast.Expr]
    caps: list[CapInfo]
    milestones: list[MilestoneInfo]
    metrics: dict[str, MetricInfo]  # visible metrics: shared + the program's own


@dataclass(slots=True, eq=False)
class CheckedRuleset:
    """A rule file that passed ``check``: safe to compile and run."""

    name: str
    title: str | None
    source: Source
    file: ast.RuleFile
    events: dict[str, EventInfo]
    units: set[str]
    programs: list[ProgramInfo]
    #: IANA zone of calendar periods; None is UTC
    timezone: str | None = None
    #: type and nullability of every expression node, by id()
    types: dict[int, Type] = field(default_factory=dict)
    nullable: dict[int, bool] = field(default_factory=dict)
    #: what every Ref node resolves to, by id()
    bindings: dict[int, Binding] = field(default_factory=dict)

    @property
    def milestones(self) -> list[MilestoneInfo]:
        return [m for p in self.programs for m in p.milestones]
