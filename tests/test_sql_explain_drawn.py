"""Explanations in SQL on drawn programs and ledgers (the mixed programs of
tests/test_review_sql_mix.py: triggers, timers, computed amounts, holds,
voids, caps, allowances, messages) and on the cookbook's programs: each
award and reversal with its `why` as the Python engine writes it, or a
refusal that `check --engine sql` reports too."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.core.limits import AwardLimitError
from rewardrules.score.api import ScoreResult
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals
from rewardrules.sql.sections import compile_explained

from .conftest import examples
from .test_properties import as_ofs
from .test_review_sql_mix import cookbook_ledger, cookbook_programs, mixed_ledgers, programs
from .test_sql_explain import built


def reported_as_compiled(prog: rewardrules.Program) -> bool:
    """Whether the explained query compiles, having checked that `check
    --engine sql` reports what it refuses: its refusal when it does not;
    when it does, nothing but the explained sections' refusal, which
    `score --engine duckdb` writes too."""
    reported = refusals(prog.compiled, explain=True)
    try:
        compile_query(prog.compiled, explain=True)
    except Unsupported as refused:
        assert (refused.construct, refused.span) in {(r.construct, r.span) for r in reported}
        return False
    try:
        compile_explained(prog.compiled)
        assert reported == []
    except Unsupported as refused:
        assert [(r.construct, r.span) for r in reported] == [(refused.construct, refused.span)]
    return True


def scored_or_stopped(
    prog: rewardrules.Program, events: list[Any], as_of: str | None, sql: Callable[[], object]
) -> ScoreResult | None:
    """The Python engine's result; or None when it stops at its award
    limits (a drawn `every 1 M` of a huge M), once the SQL path (`sql`)
    has stopped with the same error: both engines refuse such a ledger
    alike, saying so (the drawn-file tests failed at random on it)."""
    try:
        return prog.score(events, as_of=as_of)
    except AwardLimitError as limit:
        with pytest.raises(AwardLimitError) as also:
            sql()
        assert str(also.value) == str(limit)
        return None


def compare(rules: str, events: list[Any] | None, as_of: str | None) -> None:
    """The explained awards and reversals of both engines, record by
    record, or a refusal `check --engine sql` reports (`reported_as_compiled`)."""
    prog = rewardrules.compile(rules)
    if not reported_as_compiled(prog) or events is None:
        return
    scored = scored_or_stopped(prog, events, as_of, lambda: built(prog, events, as_of))
    if scored is None:
        return
    python = scored.data
    data = built(prog, events, as_of)
    for key in ("awards", "reversals"):
        got = [json.dumps(record, ensure_ascii=False, indent=2) for record in data[key]]
        assert got == [json.dumps(record, ensure_ascii=False, indent=2) for record in python[key]]


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=programs(), data=st.data())
def test_drawn_programs_explain_their_awards_alike(rules: str, data: st.DataObject) -> None:
    events = data.draw(mixed_ledgers(), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    compare(rules, events, as_of)


@pytest.mark.parametrize(("name", "text"), cookbook_programs(), ids=[n for n, _ in cookbook_programs()])
def test_cookbook_programs_explain_their_awards_alike(name: str, text: str) -> None:
    compare(text, cookbook_ledger(name), None)


EVERY_ONE = """ruleset e "E"

event payment { amount: money USD }

metric paid = sum payment.amount

milestone each { every 1 paid  reward referrer cash 1 USD }
"""


def test_both_engines_stop_alike_at_the_award_limits() -> None:
    """A drawn `every 1 M` of a huge M gives more awards at one event than
    the limits allow: the Python engine stops (`AwardLimitError`), and so
    does the query, with the same words; the drawn-file comparisons take
    that as agreement (they failed at random on it before)."""
    from .test_review_rev1_drawn import same_explained
    from .test_sql_sections_lifted import same_sections

    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "1000.00"},
    ]
    prog = rewardrules.compile(EVERY_ONE)
    with pytest.raises(AwardLimitError):
        prog.score(events)
    compare(EVERY_ONE, events, None)
    same_explained(prog, events)
    assert same_sections(prog, events) == {}
