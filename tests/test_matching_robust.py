"""Untrusted input never ends in a traceback: any text given as a matching
file gets diagnostics with a place in the file, and any line given as a
ledger event is matched or refused with a `LedgerError` (line and field)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules.core.diagnostics import Severity
from rewardrules.ledger.events import LedgerError
from rewardrules.match.api import load_text, match
from rewardrules.match.check import check_text
from rewardrules.match.format import format_text

from .conftest import RULESETS, examples

REFERENCE = (RULESETS / "matching" / "fasttrack_matching.rules").read_text(encoding="utf-8")
WORDS = REFERENCE.split()
RULES = load_text(REFERENCE)
ROBUST = settings(max_examples=examples(150), deadline=None)


@st.composite
def mutated_files(draw: st.DrawFn) -> str:
    """The reference file with words dropped, repeated, swapped or replaced."""
    words = list(WORDS)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(words) - 1))
        action = draw(st.sampled_from(["drop", "repeat", "replace", "insert"]))
        if action == "drop":
            del words[at]
        elif action == "repeat":
            words.insert(at, words[at])
        else:
            word = draw(st.sampled_from(WORDS) | st.text(min_size=1, max_size=8))
            words[at : at + (action == "replace")] = [word]
    return " ".join(words)


@ROBUST
@given(mutated_files())
def test_any_matching_file_gets_placed_diagnostics_never_an_exception(text: str) -> None:
    rules, found = check_text(text, "m.rules")
    assert (rules is None) == any(d.severity is Severity.ERROR for d in found)
    lines = text.count("\n") + 1
    for diagnostic in found:
        assert diagnostic.code.startswith("RR8") and 1 <= diagnostic.line <= lines and diagnostic.help is not None
    formatted, _ = format_text(text, "m.rules")
    assert (formatted is None) == any(d.code == "RR801" for d in found)


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=6)
    | st.sampled_from(["teams", "US", "2026-01-01T00:00:00Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
KEYS = st.sampled_from(
    ["id", "type", "at", "partner", "customer", "request", "workloads", "attributes", "endorsements"]
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = draw(st.dictionaries(KEYS, VALUES, max_size=6))
    if draw(st.booleans()):
        event["type"] = draw(st.sampled_from(["partner", "request", "pause", "accept", "decline", "claim"]))
    return event


@ROBUST
@given(st.lists(events(), max_size=6))
def test_any_ledger_is_matched_or_refused_with_its_lines(lines: list[dict[str, Any]]) -> None:
    text = [json.dumps(line) for line in lines]
    try:
        match(RULES, text)
    except LedgerError as error:
        assert error.problems and all(1 <= p.line <= len(text) for p in error.problems)
