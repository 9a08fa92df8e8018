"""Scores with the causes of void awards at hand, for explanations and rule
tests: the award record carries them (`why.voided_by`); this module gives
them a typed form keyed by award id."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..score.api import Program


@dataclass(frozen=True, slots=True)
class VoidCause:
    """The event that voided an award, and which `void if` of its milestone it met."""

    award: str
    event: str
    type: str
    at: str
    index: int  # position of the `void if` in the milestone, from 0


@dataclass(slots=True)
class Traced:
    """A result record and, by award id, what voided each void award."""

    data: dict[str, Any]
    voids: dict[str, VoidCause]


def void_causes(data: dict[str, Any]) -> dict[str, VoidCause]:
    """The `why.voided_by` of every void award in a result record."""
    causes = {}
    for award in data["awards"]:
        cause = (award.get("why") or {}).get("voided_by")  # a settled award listed as told may have no why
        if cause is not None:
            causes[award["id"]] = VoidCause(award["id"], cause["event"], cause["type"], cause["at"], cause["rule"])
    return causes


def score_traced(
    program: Program,
    events: Iterable[Any],
    as_of: str | int | None = None,
    path: str = "<ledger>",
    *,
    settled: Any = None,
    max_awards_per_event: int | None = None,
) -> Traced:
    """``program.score(events, as_of, settled=..., max_awards_per_event=...)``
    with explanations, and the cause of every void award. Raises LedgerError
    and AwardLimitError like `score`."""
    limit = max_awards_per_event
    data = program.score(events, as_of=as_of, path=path, settled=settled, max_awards_per_event=limit).data
    return Traced(data, void_causes(data))
