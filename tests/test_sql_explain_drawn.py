"""Explanations in SQL on drawn programs and ledgers (the mixed programs of
tests/test_review_sql_mix.py: triggers, timers, computed amounts, holds,
voids, caps, allowances, messages) and on the cookbook's programs: each
award and reversal with its `why` as the Python engine writes it, or a
refusal that `check --engine sql` reports too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
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


def compare(rules: str, events: list[Any] | None, as_of: str | None) -> None:
    """The explained awards and reversals of both engines, record by
    record, or a refusal `check --engine sql` reports (`reported_as_compiled`)."""
    prog = rewardrules.compile(rules)
    if not reported_as_compiled(prog) or events is None:
        return
    python = prog.score(events, as_of=as_of).data
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
