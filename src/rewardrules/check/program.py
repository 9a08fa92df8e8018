"""The checked program: what ``check`` hands to the compiler.

Plain dataclasses that resolve every name of the AST: which event a field
belongs to, which metric a name means, the type of every expression. The
compiler reads only this (and the AST nodes it points to).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, Literal, TypeVar, overload

from ..core.datatypes import Type
from ..core.source import Source
from ..syntax import nodes as ast

Level = Literal["referral", "referrer"]

_K = TypeVar("_K")
_V = TypeVar("_V")


class NodeMap(Generic[_K, _V]):
    """A table keyed by the identity of its keys (syntax nodes, declarations),
    owned by whoever owns the nodes: the checked program, or one checker
    run. Each entry holds its key, so an `id()` is never reused while the
    table lives, and nothing outlives the table (no module-level list to
    keep nodes alive). The nodes themselves are frozen dataclasses whose
    equality compares values, so two equal nodes at one span are still two
    entries here."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, tuple[_K, _V]] = {}

    def __setitem__(self, key: _K, value: _V) -> None:
        self._entries[id(key)] = (key, value)

    def __getitem__(self, key: _K) -> _V:
        return self._entries[id(key)][1]

    def __contains__(self, key: object) -> bool:
        return id(key) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def get(self, key: _K) -> _V | None: ...

    @overload
    def get(self, key: _K, default: _V) -> _V: ...

    def get(self, key: _K, default: _V | None = None) -> _V | None:
        """The value for `key` (this very object), or `default`."""
        entry = self._entries.get(id(key))
        return default if entry is None else entry[1]

    def values(self) -> Iterator[_V]:
        return (value for _, value in self._entries.values())


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

    kind: Literal["metric", "field", "increase", "earlier"]
    metric: MetricInfo | None = None
    #: "event" (trigger/aggregated event), "referral", "void", "earlier" (an
    #: earlier referral, in `count earlier referrals where`)
    event_role: str = ""
    field: FieldInfo | None = None
    #: the event type the field belongs to
    event: EventInfo | None = None


#: the unit of a cap on the number of rewards (`cap referrer 3 rewards per month`)
COUNT_UNIT = "rewards"


@dataclass(slots=True, eq=False)
class CapInfo:
    role: str
    #: the unit it counts; `COUNT_UNIT` for a cap on the number of rewards
    unit: str
    limit: Decimal
    period: str | None
    decl: ast.Cap
    #: the allowance's name, for a cap shared by programs (`allowance NAME ...`)
    allowance: str | None = None

    @property
    def counts_rewards(self) -> bool:
        """Whether it caps the number of rewards (each counts 1, whatever its unit)."""
        return self.unit == COUNT_UNIT

    def applies(self, role: str, unit: str) -> bool:
        """Whether a reward of this role and unit counts against the cap:
        same role, and the same unit unless the cap counts rewards."""
        return self.role == role and (self.counts_rewards or self.unit == unit)

    def describe(self) -> str:
        """The cap in words, as `withheld` reasons and reports name it."""
        per = f" per {self.period}" if self.period else ""
        name = f"allowance `{self.allowance}` " if self.allowance else "cap "
        return f"{name}of {self.limit} {self.unit}{per}"


@dataclass(slots=True, eq=False)
class RewardInfo:
    role: str
    kind: str
    unit: str
    item: str | None
    decl: ast.Reward
    #: its hold: the milestone's, or its own (`reward ... { hold 30 days }`)
    hold_ns: int | None = None
    #: its voids: positions in the milestone's `voids` (the milestone's own
    #: for a reward without terms of its own, else those of its terms)
    voids: tuple[int, ...] = ()


@dataclass(slots=True, eq=False)
class VoidInfo:
    event: str
    window_ns: int | None
    decl: ast.Void


@dataclass(slots=True, eq=False)
class AttributionInfo:
    """Which referral of a referee a program credits (`attribution ...`).

    `first` without a lapse is the default (the first valid referral holds
    for good); `last` lets each later referral take the referee until it
    converts; `first` with `lapse_ns` lets a later referral take it once
    the holding referral is more than `lapse_ns` old without converting."""

    model: str  # first | last
    #: how long a referral holds an unconverted referee; None: for good
    lapse_ns: int | None
    #: the event type whose first event (meeting `where`) converts the referee
    event: str | None
    where: ast.Expr | None
    decl: ast.Attribution | None = None

    @property
    def moves(self) -> bool:
        """Whether a later referral can ever take the referee (not the default)."""
        return self.event is not None


#: the default: the first valid referral holds the referee for good
FIRST_REFERRAL = AttributionInfo("first", None, None, None)


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
    #: the milestone's voids, then each reward's own (see `RewardInfo.voids`)
    voids: list[VoidInfo]
    message: str | None
    message_span: object | None
    caps: list[CapInfo]
    index: int = 0  # position in the whole file, for stable ordering
    #: for a timer trigger (`when C for D`, `after D`): D in nanoseconds
    timer_ns: int | None = None
    #: for `after D from EVENT`: the event type whose first event starts
    #: the timer (None: the referral starts it)
    anchor: str | None = None


@dataclass(slots=True, eq=False)
class ProgramInfo:
    name: str
    title: str | None
    decl: ast.Program
    eligible: list[ast.Expr]
    caps: list[CapInfo]
    milestones: list[MilestoneInfo]
    metrics: dict[str, MetricInfo]  # visible metrics: shared + the program's own
    #: the shared allowances it draws from (`draw from NAME`), in file order
    allowances: list[CapInfo] = field(default_factory=list)
    attribution: AttributionInfo = FIRST_REFERRAL


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
    #: caps shared by programs (`allowance NAME ...`), in file order
    allowances: list[CapInfo] = field(default_factory=list)
    #: type and nullability of every expression node, by node
    types: NodeMap[ast.Expr, Type] = field(default_factory=NodeMap)
    nullable: NodeMap[ast.Expr, bool] = field(default_factory=NodeMap)
    #: what every Ref node resolves to, by node
    bindings: NodeMap[ast.Expr, Binding] = field(default_factory=NodeMap)

    @property
    def milestones(self) -> list[MilestoneInfo]:
        return [m for p in self.programs for m in p.milestones]
