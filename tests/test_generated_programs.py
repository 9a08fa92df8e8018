"""Generated programs (tests/strategies.py) scored on generated ledgers:
valid programs and valid ledgers never raise, and the engine gives the same
result batch, in a session, streamed and with the lines shuffled."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.timeutil import format_timestamp, parse_timestamp

from .conftest import examples
from .strategies import EVENT_FIELDS, rule_files

BASE = parse_timestamp("2026-01-01T00:00:00Z")
DAY = 86_400 * 10**9
PEOPLE = ["ann", "bob", "cat", "dan", "eve"]


def _value(kind: list[str], rng: random.Random) -> object:
    if kind[0] in ("money", "quantity", "number"):
        return rng.choice([0, 1, 5, 150, 300, 1000, "12.50", "0.10", "99999.99"])
    if kind[0] == "text":
        return rng.choice(["US", "partner", "p1", "e3", "", "é"])
    if kind[0] == "time":
        return format_timestamp(BASE + rng.randrange(400) * DAY)
    return rng.choice([True, False])


def ledger(seed: int, size: int) -> list[dict[str, object]]:
    """Events of every type the generator declares, with every field set."""
    rng = random.Random(seed)
    events: list[dict[str, object]] = []
    for i in range(size):
        at = format_timestamp(BASE + rng.randrange(400) * DAY + rng.randrange(3) * 3600 * 10**9)
        kind = rng.choice(["referral", "referral", *EVENT_FIELDS])
        event: dict[str, object] = {"id": f"e{i}", "at": at, "type": kind, "referee": rng.choice(PEOPLE)}
        if kind == "referral":
            event["referrer"] = rng.choice(PEOPLE)
            event["country"] = rng.choice(["US", "BR"])
            event["source"] = rng.choice(["partner", "customer"])
        for name, field_kind in EVENT_FIELDS.get(kind, []):
            event[name] = _value(field_kind, rng)
        events.append(event)
    return events


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=rule_files(typed=True), seed=st.integers(0, 10**6), size=st.integers(0, 40))
def test_valid_programs_score_valid_ledgers_the_same_every_way(text: str, seed: int, size: int) -> None:
    diagnostics = rewardrules.check_source(text)
    assert diagnostics == [], diagnostics  # the typed generator writes clean files
    program = rewardrules.compile(text)
    events = ledger(seed, size)
    batch = _outcome(lambda: program.score(events).to_json())
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    assert _outcome(lambda: program.score(shuffled).to_json()) == batch
    ordered = sorted(events, key=lambda e: (parse_timestamp(str(e["at"])), str(e["id"])))
    assert _outcome(lambda: program.score_stream([json.dumps(e) for e in ordered]).to_json()) == batch
    assert _outcome(lambda: _session(program, ordered)) == batch
    if isinstance(batch, str):
        for award in json.loads(batch)["awards"]:
            assert Decimal(award["amount"]) > 0


def _outcome(score: Callable[[], str]) -> str | tuple[str, int]:
    """The result's bytes, or, when the rules and ledger ask for more awards
    at one event than the limit allows (a generated `every` with a small
    step can), the event and limit scoring stopped at: the same every way."""
    try:
        return score()
    except rewardrules.AwardLimitError as error:
        return error.event, error.limit


def _session(program: rewardrules.Program, ordered: list[dict[str, object]]) -> str:
    session = program.session()
    for event in ordered:
        session.add(event)
    return session.result().to_json()
