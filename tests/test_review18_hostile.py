"""Review of issue 18: a hostile matching ledger gets short, placed errors
and bounded output.

A name, a key or a type the ledger gives can be as long as its line (a
megabyte): the problems quoted them whole, as the reward ledger's never do
(`formatting.quoted` cuts a value to its start and end). And a partner that
lists thousands of values had every one repeated in the `why` of each
request it was dropped from: one line of the ledger made every assignment
a megabyte long.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rewardrules.ledger.events import LedgerError
from rewardrules.match.api import load_text, match

from .conftest import RULESETS

RULES = load_text((RULESETS / "matching" / "fasttrack_matching.rules").read_text(encoding="utf-8"))
HUGE = 200_000
PARTNER: dict[str, Any] = {
    "id": "p1",
    "type": "partner",
    "at": "2026-01-01T00:00:00Z",
    "partner": "alpha",
    "endorsements": {"teams": None},
    "attributes": {"location": ["US"], "language": ["en"], "customer_size": ["smb"], "industry": ["retail"]},
}
VALUES = {"location": "US", "language": "en", "customer_size": "smb", "industry": "retail"}
REQUEST: dict[str, Any] = {
    "id": "r1",
    "type": "request",
    "at": "2026-01-02T00:00:00Z",
    "request": "R1",
    "customer": "c1",
    "workloads": ["teams"],
    "attributes": VALUES,
}


def refused(lines: list[dict[str, Any]]) -> LedgerError:
    with pytest.raises(LedgerError) as caught:
        match(RULES, [json.dumps(line) for line in lines])
    return caught.value


@pytest.mark.parametrize(
    ("lines", "line", "field"),
    [
        ([PARTNER, {**REQUEST, "workloads": ["w" * HUGE]}], 2, "workloads"),
        ([{**PARTNER, "endorsements": {"e" * HUGE: None}}], 1, "endorsements." + "e" * HUGE),
        ([{**PARTNER, "attributes": {"a" * HUGE: ["US"]}}], 1, "attributes." + "a" * HUGE),
        ([{**PARTNER, "attributes": {"location": "US"}}], 1, "attributes.location"),
        ([{**PARTNER, "k" * HUGE: 1}], 1, "k" * HUGE),
        ([{**PARTNER, "type": "t" * HUGE}], 1, "type"),
        ([{**PARTNER, "type": [1] * HUGE}], 1, "type"),
        ([PARTNER, {**REQUEST, "attributes": {**VALUES, "location": "x" * HUGE}}], 2, "attributes.location"),
        ([{**PARTNER, "endorsements": {"teams": "2026-01-01T00:00:00Z" + "z" * HUGE}}], 1, "endorsements.teams"),
    ],
    ids=[
        "workload",
        "endorsement key",
        "attribute key",
        "attribute not a list",
        "field name",
        "type",
        "type list",
        "value",
        "expiry",
    ],
)
def test_a_huge_value_is_quoted_short_with_its_line_and_field(
    lines: list[dict[str, Any]], line: int, field: str
) -> None:
    error = refused(lines)
    assert [(p.line, p.field) for p in error.problems] == [(line, field)]
    problem = error.problems[0]
    assert len(problem.message) < 300 and len(problem.hint or "") < 300
    assert len(str(error)) < 1_000


def test_a_partner_listing_many_values_does_not_swell_every_why() -> None:
    """A partner that serves 20,000 countries (no US) is dropped from every
    US request: its `why` names ten and how many more, not all of them."""
    many = {**PARTNER, "id": "p2", "partner": "bravo"}
    many["attributes"] = {**PARTNER["attributes"], "location": [f"C{n:05d}" for n in range(20_000)]}
    requests = [
        {**REQUEST, "id": f"r{n}", "request": f"R{n}", "at": f"2026-01-{n + 2:02d}T00:00:00Z"} for n in range(5)
    ]
    result = match(RULES, [json.dumps(line) for line in [PARTNER, many, *requests]])
    assert len(result.assignments) == 5
    for assignment in result.assignments:
        (dropped,) = [c for c in assignment.why["candidates"] if c["partner"] == "bravo"]
        assert dropped["dropped_by"] == "location"
        assert dropped["detail"] == (
            "location `US` is not among the partner's "
            "(C00000, C00001, C00002, C00003, C00004, C00005, C00006, C00007, C00008, C00009 and 19990 more)"
        )
    assert len(result.to_json()) < 50_000
    assert len(result.to_text()) < 20_000
