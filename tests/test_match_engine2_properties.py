"""Properties of the matching engine's later behaviours (rematch, declining
some workloads, pauses kept apart, session snapshots): generated ledgers
(`engine2_ledgers`, which also decline some workloads of a part, leave and
declare partners late) keep every property of tests/test_matching_properties.py,
and a session restored from its snapshot at any cut ends as the batch does."""

from __future__ import annotations

import json
import random

from hypothesis import given
from hypothesis import strategies as st

from rewardrules.core.timeutil import parse_timestamp
from rewardrules.match.api import match
from rewardrules.match.check import MatchRules
from rewardrules.match.evaluate import ENDED
from rewardrules.match.session import MatchSession

from .test_matching_properties import (
    PROPERTY,
    RULES,
    RULES_REMATCH,
    RULES_UNMATCHED,
    assert_held_once,
    engine2_ledgers,
    instant,
    ledgers,
    output,
)

BOTH = st.sampled_from([RULES_REMATCH, RULES_UNMATCHED])


def ordered(lines: list[str]) -> list[str]:
    """The lines in the order a session takes them: (at, id)."""
    return sorted(lines, key=lambda text: (parse_timestamp(json.loads(text)["at"]), json.loads(text)["id"]))


@st.composite
def cases(draw: st.DrawFn) -> tuple[MatchRules, list[str]]:
    rules = draw(BOTH)
    return rules, draw(engine2_ledgers(rules))


@PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_the_order_of_the_lines_never_matters(case: tuple[MatchRules, list[str]], rng: random.Random) -> None:
    rules, lines = case
    shuffled = list(lines)
    rng.shuffle(shuffled)
    assert output(match(rules, shuffled)) == output(match(rules, lines))


@PROPERTY
@given(cases(), st.integers(0, 90))
def test_replaying_history_up_to_an_instant_gives_what_was_decided_then(
    case: tuple[MatchRules, list[str]], day: int
) -> None:
    rules, lines = case
    as_of = instant(day, 1)
    known = [line for line in lines if json.loads(line)["at"] <= as_of]
    assert output(match(rules, lines, as_of)) == output(match(rules, known, as_of))


@PROPERTY
@given(cases())
def test_every_workload_is_held_once_ids_never_collide_and_nothing_is_rewritten(
    case: tuple[MatchRules, list[str]],
) -> None:
    """Each requested workload is held by exactly one live record; a record
    that ended (declined, superseded) is replaced by the records naming it,
    which hold exactly its workloads."""
    rules, lines = case
    records = match(rules, lines).to_dict()["assignments"]
    assert_held_once(records, lines)
    for ended in (r for r in records if r["status"] in ENDED):
        successors = [w for r in records if r["replaces"] == ended["id"] for w in r["workloads"]]
        assert sorted(successors) == sorted(ended["workloads"])


@PROPERTY
@given(cases())
def test_a_session_fed_in_order_makes_what_the_batch_makes(case: tuple[MatchRules, list[str]]) -> None:
    rules, lines = case
    session = MatchSession(rules)
    made = [a.id for line in ordered(lines) for a in session.add(line)]
    batch = match(rules, lines)
    assert made == [a.id for a in batch.assignments]
    assert output(session.result()) == output(batch)


def restored_at_every_cut(rules: MatchRules, lines: list[str]) -> tuple[list[str], str]:
    """Feed a session the events in order, snapshotting and restoring it
    before every event: the ids it answered and its result at the end."""
    session = MatchSession(rules)
    made = []
    for line in ordered(lines):
        session = MatchSession.restore(rules, session.snapshot())
        made.extend(a.id for a in session.add(line))
    return made, output(MatchSession.restore(rules, session.snapshot()).result())


@PROPERTY
@given(cases())
def test_a_session_restored_at_any_cut_makes_what_the_batch_makes(case: tuple[MatchRules, list[str]]) -> None:
    rules, lines = case
    made, result = restored_at_every_cut(rules, lines)
    batch = match(rules, lines)
    assert made == [a.id for a in batch.assignments]
    assert result == output(batch)


@PROPERTY
@given(ledgers())
def test_a_session_of_the_first_rules_restored_at_any_cut_makes_what_the_batch_makes(lines: list[str]) -> None:
    made, result = restored_at_every_cut(RULES, lines)
    assert made == [a.id for a in match(RULES, lines).assignments]
    assert result == output(match(RULES, lines))
