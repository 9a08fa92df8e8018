"""The checker's shared state: the rule file and its source, the diagnostics
found so far, the tables of units and events, and the `NodeMap` tables of
what each expression is (docs/architecture.md).

Each pass of the checker is a layer on :class:`Scope`, one module each
(``declarations``, then ``expressions`` and metrics, ``messages``,
``programs``; ``checker`` runs them): a pass calls only the layers below
it, and every pass reports into the one list, so diagnostics come out in
the order they are found.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.datatypes import (
    T_TEXT,
    T_TIME,
    Type,
)
from ..core.diagnostics import Diagnostic, Related, did_you_mean
from ..core.source import Source, Span
from ..core.units import BUILTIN_UNITS, CURRENCY_EXPONENTS
from ..syntax import nodes as ast
from .program import (
    Binding,
    CapInfo,
    EventInfo,
    FieldInfo,
    MetricInfo,
    NodeMap,
)

#: Names with a fixed meaning that metrics and events may not take.
RESERVED_NAMES = frozenset({"referral", "referrals", "increase", "id", "at", "type", "referrer", "referee"})
_ENVELOPE = ("id", "at", "type", "referrer", "referee")


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
    #: eligibility: only what is known when the referral is made
    at_referral: bool = False
    used_metrics: list[MetricInfo] = field(default_factory=list)


class Scope:
    """The state every pass shares, and how a pass reports a problem."""

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
        #: the file's shared caps by name (`allowance NAME ...`), checked once
        self.allowances: dict[str, CapInfo] = {}

    # -- reporting -------------------------------------------------------
    def error(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help))

    def known(self, code: str, what: str, name: ast.Ident, words: Collection[str], fallback: str | None = None) -> bool:
        """Whether `name` is one of a fixed set of words (roles, reward
        kinds, periods, duration units); if not, `code` says "unknown
        `what`" and points to the nearest word (else to `fallback`)."""
        if name.text in words:
            return True
        self.error(code, f"unknown {what} `{name.text}`", name.span, did_you_mean(name.text, words, fallback))
        return False

    def _first(self, decl: Any, what: str, seen: dict[str, Any]) -> bool:
        """Whether `decl` (anything with a `name`) is the first declaration
        of its name in `seen`, where it is then recorded; a second one is
        RR104, pointing at the first."""
        name = decl.name.text
        first = seen.get(name)
        if first is None:
            seen[name] = decl
            return True
        self._duplicate(f"{what} `{name}` is declared twice", decl.name.span, first.name.span)
        return False

    def _duplicate(self, message: str, span: Span | None, first: Span | None, advice: str | None = None) -> None:
        """RR104 for a second declaration, with where the first one is (a
        duplicate is fixed at one of the two places, so show both)."""
        where = f"the first is declared at line {first.line}, column {first.column}" if first is not None else None
        help_ = "; ".join(part for part in (where, advice) if part) or None
        related = (Related("first declared here", first),) if first is not None else ()
        self.diagnostics.append(Diagnostic("RR104", message, span, help_, related=related))
