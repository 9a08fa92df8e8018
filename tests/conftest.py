"""Shared fixtures: paths of the repository's rule sets and golden cases,
and one check that every way of scoring agrees."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules.core.timeutil import parse_timestamp

ROOT = Path(__file__).resolve().parents[1]
RULESETS = ROOT / "rulesets"
GOLDEN = ROOT / "tests" / "golden"

#: The long run, `REWARDRULES_LONG_TESTS=1 python -m pytest`: ten times the
#: generated cases of every property and fuzz test, and five minutes of
#: coverage-guided fuzzing a target instead of a fixed count of runs.
LONG = os.environ.get("REWARDRULES_LONG_TESTS", "") not in ("", "0")


def examples(n: int) -> int:
    """How many generated cases a property or fuzz test runs. By default a
    fixed count, never a time budget, so the suite does the same work on a
    quiet machine and on a busy 2-core CI runner; ten times as many in the
    long run."""
    return n * 10 if LONG else n


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def ordered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events in ledger order: by instant, ties by id."""
    return sorted(events, key=lambda e: (parse_timestamp(e["at"]), e["id"]))


def every_way(program: rewardrules.Program, events: list[dict[str, Any]], as_of: str | None = None) -> str:
    """The result's bytes, asserted equal by batch (in three input orders),
    stream, and sessions snapshotted and restored before each event (each
    given the events up to the as-of, then advanced to it, if given)."""
    batch = program.score(events, as_of=as_of).to_json()
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    assert program.score(shuffled, as_of=as_of).to_json() == batch
    assert program.score(shuffled[::-1], as_of=as_of).to_json() == batch
    assert program.score_stream([json.dumps(e) for e in ordered(events)], as_of=as_of).to_json() == batch
    limit = parse_timestamp(as_of) if as_of is not None else None
    kept = [e for e in ordered(events) if limit is None or parse_timestamp(e["at"]) <= limit]
    for cut in range(len(kept) + 1):
        session = program.session()
        for i, event in enumerate(kept):
            if i == cut:
                session = program.restore(session.snapshot())
            session.add(event)
        session = program.restore(session.snapshot())
        if as_of is not None:
            session.advance(to=as_of)
        assert session.result(as_of=as_of).to_json() == batch
    return batch


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One Spark session (`local[2]`) for every test that runs the query on
    Spark: starting one takes seconds, so the suite starts it once."""
    from rewardrules.sql.spark import Spark

    with Spark("local[2]") as session:
        yield session
