"""Shared fixtures: paths of the repository's rule sets and golden cases."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
