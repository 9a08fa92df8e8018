"""Properties of matching: the order of a ledger's lines never matters,
replaying history up to an instant gives what was decided at that instant,
ids never collide and every requested workload is held by exactly one live
assignment, and the output does not depend on the hash seed."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewardrules.core.timeutil import format_timestamp, parse_timestamp
from rewardrules.ledger.events import LedgerError
from rewardrules.match.api import MatchResult, load_text, match
from rewardrules.match.evaluate import ENDED
from rewardrules.match.session import MatchSession

from .conftest import ROOT, examples

RULES_TEXT = """\
matching props
workload teams
workload security
workload exchange
attribute location
require endorsement, location
claims first
round robin by workload, location per month
tie break longest_idle, earliest_joined, partner
split up to 2
fallback center
pause at most 10 days
acceptance at least 80% by location per month
"""
RULES = load_text(RULES_TEXT)
PARTNERS = ("alpha", "bravo", "charlie", "delta")
WORKLOADS = ("teams", "security", "exchange")
PROPERTY = settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def instant(day: int, hour: int) -> str:
    month, day = divmod(day, 28)
    return f"2026-{month + 1:02d}-{day + 1:02d}T{hour:02d}:00:00Z"


@st.composite
def ledgers(draw: st.DrawFn) -> list[str]:
    """A ledger of partners, claims, pauses, requests, accepts and declines
    over three months (many events share an instant), made valid by dropping
    the lines the matcher refuses (an accept of nothing, a second pause)."""
    lines: list[dict[str, Any]] = []
    for n, name in enumerate(draw(st.lists(st.sampled_from(PARTNERS), min_size=1, max_size=4, unique=True))):
        endorsed = draw(st.lists(st.sampled_from(WORKLOADS), min_size=1, max_size=3, unique=True))
        expiry = draw(st.sampled_from([None, instant(30, 0)]))
        lines.append(
            {
                "id": f"p{n}",
                "type": "partner",
                "at": instant(draw(st.integers(0, 40)), 0),
                "partner": name,
                "endorsements": dict.fromkeys(endorsed, expiry),
                "attributes": {"location": draw(st.lists(st.sampled_from(["US", "CA"]), min_size=1, unique=True))},
            }
        )
    for n in range(draw(st.integers(1, 25))):
        at = instant(draw(st.integers(0, 80)), draw(st.integers(0, 2)))
        kind = draw(st.sampled_from(["request", "request", "request", "accept", "decline", "pause", "resume", "claim"]))
        request = f"R{draw(st.integers(0, 8))}"
        partner = draw(st.sampled_from(PARTNERS))
        if kind == "request":
            workloads = draw(st.lists(st.sampled_from(WORKLOADS), min_size=1, max_size=3, unique=True))
            fields: dict[str, Any] = {
                "request": request,
                "customer": f"c{draw(st.integers(0, 3))}",
                "workloads": workloads,
                "attributes": {"location": draw(st.sampled_from(["US", "CA"]))},
            }
        elif kind in ("accept", "decline"):
            fields = {"request": request, "partner": partner}
        elif kind == "claim":
            fields = {"partner": partner, "customer": f"c{draw(st.integers(0, 3))}"}
        else:
            fields = {"partner": partner}
        lines.append({"id": f"e{n}", "type": kind, "at": at, **fields})
    return valid([json.dumps(line, sort_keys=True) for line in lines])


def valid(lines: list[str]) -> list[str]:
    """The lines without those the matcher refuses, dropped until none is."""
    return valid_for(RULES, lines)


def output(result: MatchResult) -> str:
    return result.to_json()


@PROPERTY
@given(ledgers(), st.randoms(use_true_random=False))
def test_the_order_of_the_lines_never_matters(lines: list[str], rng: random.Random) -> None:
    shuffled = list(lines)
    rng.shuffle(shuffled)
    assert output(match(RULES, shuffled)) == output(match(RULES, lines))


@PROPERTY
@given(ledgers(), st.integers(0, 90))
def test_replaying_history_up_to_an_instant_gives_what_was_decided_then(lines: list[str], day: int) -> None:
    """Matching the whole ledger as of an instant equals matching only the
    events up to it: no later event changes an earlier decision."""
    as_of = instant(day, 1)
    known = [line for line in lines if json.loads(line)["at"] <= as_of]
    assert output(match(RULES, lines, as_of)) == output(match(RULES, known, as_of))
    assert output(match(RULES, lines)) == output(match(RULES, lines))


@PROPERTY
@given(ledgers())
def test_every_workload_is_held_once_and_ids_never_collide(lines: list[str]) -> None:
    assert_held_once(match(RULES, lines).to_dict()["assignments"], lines)


def assert_held_once(records: list[dict[str, Any]], lines: list[str]) -> None:
    """Ids never collide, and each requested workload is held by exactly
    one live record (neither declined nor superseded)."""
    assert len({r["id"] for r in records}) == len(records)
    requested = {
        json.loads(line)["request"]: json.loads(line)["workloads"]
        for line in lines
        if json.loads(line)["type"] == "request"
    }
    for request, workloads in requested.items():
        live = [w for r in records if r["request"] == request and r["status"] not in ENDED for w in r["workloads"]]
        assert sorted(live) == sorted(workloads)


def test_the_output_does_not_depend_on_the_hash_seed() -> None:
    ledger = ROOT / "tests" / "golden_matching" / "fasttrack_matching" / "split.jsonl"
    rules = ROOT / "rulesets" / "matching" / "fasttrack_matching.rules"
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT / "src")}
        command = [sys.executable, "-m", "rewardrules", "match", str(rules), str(ledger), "--format", "json"]
        done = subprocess.run(command, capture_output=True, env=env, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1


@PROPERTY
@given(ledgers())
def test_a_session_fed_in_order_makes_what_the_batch_makes(lines: list[str]) -> None:
    """Session = batch: each event's assignments as they are made add up to
    the whole ledger's, byte for byte."""
    session = MatchSession(RULES)
    made = []
    for line in sorted(lines, key=lambda text: (parse_timestamp(json.loads(text)["at"]), json.loads(text)["id"])):
        made.extend(a.id for a in session.add(line))
    batch = match(RULES, lines)
    assert made == [a.id for a in batch.assignments]
    assert output(session.result()) == output(batch)


def test_a_session_refuses_an_older_event_and_changes_nothing() -> None:
    session = MatchSession(RULES)
    partner = {"type": "partner", "partner": "alpha", "endorsements": {"teams": None}}
    session.add({"id": "p1", "at": "2026-01-01T00:00:00Z", **partner, "attributes": {"location": ["US"]}})
    request = {"type": "request", "customer": "c", "workloads": ["teams"], "attributes": {"location": "US"}}
    (made,) = session.add({"id": "r1", "at": "2026-01-02T00:00:00Z", "request": "R1", **request})
    assert made.partner == "alpha"
    with pytest.raises(LedgerError, match="older than the last event taken"):
        session.add({"id": "r0", "at": "2026-01-01T12:00:00Z", "request": "R0", **request})
    with pytest.raises(LedgerError, match="holds no assignment"):
        session.add({"id": "a1", "at": "2026-01-03T00:00:00Z", "type": "accept", "request": "R9", "partner": "alpha"})
    with pytest.raises(LedgerError, match="is taken already"):
        session.add({"id": "r1", "at": "2026-01-04T00:00:00Z", "request": "R2", **request})
    session.add({"id": "a2", "at": "2026-01-05T00:00:00Z", "type": "accept", "request": "R1", "partner": "alpha"})
    assert [a.status for a in session.result().assignments] == ["accepted"]


# -- the engine's later behaviours (tests/test_match_engine2_properties.py) -----
#
# Rules that match the fallback's parts again (and, without a fallback, the
# unmatched ones) and keep pauses apart, and ledgers that also decline some
# workloads of a part, leave, declare partners late (a rematch), change a
# partner's endorsements, and name the fallback as a partner (refused).

RULES_REMATCH = load_text(
    RULES_TEXT.replace("matching props\n", "matching props_rematch\n").replace(
        "pause at most 10 days\n", "rematch fallback\npause at most 10 days, at least 5 days apart\n"
    )
)
RULES_UNMATCHED = load_text(
    """\
matching props_unmatched
workload teams
workload security
workload exchange
attribute location
require endorsement, location
round robin by workload per month
tie break longest_idle, partner
split up to 3
rematch unmatched
pause at most 10 days
"""
)


@st.composite
def engine2_ledgers(draw: st.DrawFn, rules: Any) -> list[str]:
    """`ledgers()` and more: partial declines, leaves, late or changed
    partners (each a rematch), chained pauses and the fallback's name as a
    partner; made valid for ``rules`` as `valid` does."""
    lines = [json.loads(line) for line in draw(ledgers())]
    for n in range(draw(st.integers(1, 15))):
        at = instant(draw(st.integers(0, 80)), draw(st.integers(0, 2)))
        kind = draw(st.sampled_from(["decline_some", "decline_some", "partner", "partner", "leave", "pause", "resume"]))
        partner = draw(st.sampled_from((*PARTNERS, "center")))
        if kind == "decline_some":
            workloads = draw(st.lists(st.sampled_from(WORKLOADS), min_size=1, max_size=2, unique=True))
            fields: dict[str, Any] = {
                "type": "decline",
                "request": f"R{draw(st.integers(0, 8))}",
                "partner": partner,
                "workloads": workloads,
            }
        elif kind == "partner":
            endorsed = draw(st.lists(st.sampled_from(WORKLOADS), min_size=1, max_size=3, unique=True))
            fields = {
                "type": "partner",
                "partner": partner,
                "endorsements": dict.fromkeys(endorsed),
                "attributes": {"location": draw(st.lists(st.sampled_from(["US", "CA"]), min_size=1, unique=True))},
            }
        else:
            fields = {"type": kind, "partner": partner}
        lines.append({"id": f"x{n}", "at": at, **fields})
    lines.extend(draw(declines_of_some(rules, valid_for(rules, [json.dumps(line, sort_keys=True) for line in lines]))))
    return valid_for(rules, [json.dumps(line, sort_keys=True) for line in lines])


@st.composite
def declines_of_some(draw: st.DrawFn, rules: Any, lines: list[str]) -> list[dict[str, Any]]:
    """Declines of one workload of parts that hold several (a random one
    seldom names a workload its partner holds), some time after each part."""
    parts = [a for a in match(rules, lines).assignments if a.kind == "partner" and len(a.workloads) > 1]
    found = []
    for n, part in enumerate(draw(st.lists(st.sampled_from(parts), max_size=3, unique_by=id)) if parts else []):
        declined = draw(st.sampled_from(part.workloads))
        found.append(
            {
                "id": f"y{n}",
                "type": "decline",
                "at": format_timestamp(part.at + draw(st.integers(0, 72)) * 3_600_000_000_000),
                "request": part.request,
                "partner": part.partner,
                "workloads": [declined],
            }
        )
    return found


def valid_for(rules: Any, lines: list[str]) -> list[str]:
    """`valid` under other rules: the lines without those they refuse."""
    while True:
        try:
            match(rules, lines)
        except LedgerError as error:
            wrong = {p.line for p in error.problems}
            lines = [line for number, line in enumerate(lines, 1) if number not in wrong]
            continue
        return lines


@st.composite
def staggered_ledgers(draw: st.DrawFn, rules: Any) -> list[str]:
    """Partners that join (and pause, resume, leave) on different days of
    the month while requests arrive daily: most decisions level someone
    (`Matcher._levels`), which ledgers of partners declared at once seldom do."""
    lines: list[dict[str, Any]] = []
    for n, name in enumerate(PARTNERS):
        endorsed = draw(st.lists(st.sampled_from(WORKLOADS), min_size=1, max_size=3, unique=True))
        lines.append(
            {
                "id": f"p{n}",
                "type": "partner",
                "at": instant(draw(st.integers(0, 20)), draw(st.integers(0, 2))),
                "partner": name,
                "endorsements": dict.fromkeys(endorsed),
                "attributes": {"location": ["US", "CA"]},
            }
        )
    for day in range(draw(st.integers(5, 40))):
        workloads = draw(st.lists(st.sampled_from(WORKLOADS), min_size=1, max_size=2, unique=True))
        fields = {"request": f"R{day}", "customer": f"c{day}", "workloads": workloads, "attributes": {"location": "US"}}
        lines.append({"id": f"r{day}", "type": "request", "at": instant(day, 1), **fields})
    for n in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["pause", "resume", "leave", "partner"]))
        partner = draw(st.sampled_from(PARTNERS))
        at = instant(draw(st.integers(0, 40)), draw(st.integers(0, 2)))
        extra = {"endorsements": {"teams": None}, "attributes": {"location": ["US"]}} if kind == "partner" else {}
        lines.append({"id": f"s{n}", "type": kind, "at": at, "partner": partner, **extra})
    return valid_for(rules, [json.dumps(line, sort_keys=True) for line in lines])
