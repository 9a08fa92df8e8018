"""Shared fixtures: paths of the repository's rule sets and golden cases."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULESETS = ROOT / "rulesets"
GOLDEN = ROOT / "tests" / "golden"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
