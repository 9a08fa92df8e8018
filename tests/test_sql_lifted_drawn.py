"""The drawn rule files of tests/strategies.py that read what SQL refused
before this change (`unless voided` of a milestone with a partial void or
in a file of several programs, `count earlier referrals` and `in earlier
referrals` outside `eligible when`, an event's `at` under `is set`): where
they compile, both query shapes give the Python engine's awards, explained
too, on tie-heavy ledgers (tests/test_review_rev1_drawn.py's `crowded`)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.core.diagnostics import RuleError
from rewardrules.sql.run import TooWide

from .conftest import examples
from .strategies import rule_files
from .test_review_rev1_drawn import crowded, same_explained
from .test_sql_explain_drawn import reported_as_compiled, scored_or_stopped
from .test_sql_voids_metrics import same

#: what the drawn file must read to be one of these
LIFTED = re.compile(r"unless\s+voided|earlier\s+referrals|\.\s*at\s+is")


@settings(
    max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(text=rule_files(typed=True), seed=st.integers(0, 10**6), size=st.integers(0, 30))
def test_drawn_rule_files_with_the_lifted_constructs(text: str, seed: int, size: int) -> None:
    assume(LIFTED.search(text) is not None)
    try:
        prog = rewardrules.compile(text)
    except RuleError:  # the generator's files are meant to check clean; a few do not
        return
    if not reported_as_compiled(prog):  # still refused: `check --engine sql` says so, at its place
        return
    events = crowded(seed, size)
    if scored_or_stopped(prog, events, None, lambda: same(prog, events)) is None:
        return  # `every 1 M` of a huge M: both engines stop, saying so alike
    try:
        same(prog, events)
    except TooWide as error:  # a product past DECIMAL(38): exit 2, said (docs/sql.md, "Exact numbers")
        if "DECIMAL" not in str(error):  # any other value out of range is not that limit
            raise
        return
    same_explained(prog, events)
