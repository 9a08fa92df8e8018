"""Levelling by one sweep (`Matcher._levels`) gives the levels of the
definition, computed the direct way: every stint that began in the period
against every rival in the rotation at that instant (the pairwise code the
sweep replaced, kept here as the reference)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rewardrules.match.check import WORKLOAD
from rewardrules.match.evaluate import Assignment, Matcher, _Partner
from rewardrules.match.events import read_events

from .test_matching_properties import (
    PROPERTY,
    RULES,
    RULES_REMATCH,
    RULES_UNMATCHED,
    engine2_ledgers,
    ledgers,
    staggered_ledgers,
)


class Pairwise(Matcher):
    """The matcher with the direct levelling: partners squared a decision."""

    def _levels(
        self, rivals: list[_Partner], stake: tuple[str, ...], values: dict[str, str], start: int | None
    ) -> dict[tuple[str, int], int]:
        stints = sorted((s, p.id, p) for p in rivals for s, _ in p.stints if start is None or s > start)
        offsets: dict[tuple[str, int], int] = {}
        for entered, name, partner in stints:
            levels = []
            for rival in rivals:
                begun = None if rival is partner else rival.stint_at(entered)
                if begun is not None:
                    before = self._before(rival, stake, values, start, entered)
                    levels.append(before + offsets.get((rival.id, begun), 0))
            if levels:
                own = self._before(partner, stake, values, start, entered)
                offsets[(name, entered)] = max(0, min(levels) - own)
        return offsets

    def _before(self, partner: _Partner, stake: tuple[str, ...], values: dict[str, str], start: Any, end: int) -> int:
        return sum(
            1
            for a in partner.history
            if (start is None or a.at >= start) and a.at < end and self._same(a, stake, values)
        )

    def _same(self, past: Assignment, stake: tuple[str, ...], values: dict[str, str]) -> bool:
        for criterion in self.rules.balance_by:
            if criterion == WORKLOAD:
                if not set(past.workloads) & set(stake):
                    return False
            elif past.values.get(criterion) != values.get(criterion):
                return False
        return True


def records(matcher: Matcher, lines: list[str]) -> list[dict[str, Any]]:
    return [a.to_dict() for a in matcher.run(read_events(lines, matcher.rules))]


@st.composite
def cases(draw: st.DrawFn) -> tuple[Any, list[str]]:
    rules = draw(st.sampled_from([RULES, RULES_REMATCH, RULES_UNMATCHED]))
    mixed = ledgers() if rules is RULES else engine2_ledgers(rules)
    return rules, draw(st.one_of(mixed, staggered_ledgers(rules)))


@PROPERTY
@given(cases())
def test_the_sweep_levels_as_the_definition_does(case: tuple[Any, list[str]]) -> None:
    rules, lines = case
    assert records(Matcher(rules), lines) == records(Pairwise(rules), lines)
