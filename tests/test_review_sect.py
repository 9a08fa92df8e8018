"""A hostile review of the explained sections of `score --engine duckdb`
(sql/sections.py, cli/sql_sections.py): several caps, attributions that
move, per-referrer metrics reading per-referral ones, each compared with
the Python engine's output byte for byte on adversarial ledgers. What
broke is pinned here with its fix; what held is kept as a guard."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.run import run as run_query
from rewardrules.sql.sections import compile_explained

from .test_sql_sections import assert_same_sections, written
from .test_sql_sections_lifted import pay, ref


def same_output(rules: str, events: list[dict[str, Any]], as_of: str | None = None) -> dict[str, Any]:
    """The explained sections and the awards (but their `why`, another
    part's) of `score --engine duckdb` are the Python engine's; return the
    Python engine's result."""
    prog = rewardrules.compile(rules)
    query, sections = compile_explained(prog.compiled)
    runner = partial(run_query, sections=sections)
    got = written(duckdb_result(prog, query, events, parse_as_of(as_of), "<ledger>", runner))
    want = json.loads(prog.score(events, as_of=as_of).to_json())
    assert_same_sections(got, want)
    assert [{k: v for k, v in a.items() if k != "why"} for a in want["awards"]] == got["awards"]
    return want


# -- a cap whose limit has more decimals than its currency ---------------------------

#: a limit of 10.003 USD: after two awards of 5.00, 0.003 is left, which
#: the engine rounds to 0.00 and withholds (the cap counted it as drawn)
FINE = """ruleset fine "A limit finer than a cent"

event payment { amount: money USD }

cap referrer LIMIT USD
CAPS
milestone commission {
  each payment
  reward referrer cash 50% of payment.amount
}
"""


def fine(limit: str, caps: str = "") -> str:
    return FINE.replace("LIMIT", limit).replace("CAPS", caps)


def paid_four(at: str = "2026-02-02T00:00:00Z") -> list[dict[str, Any]]:
    return [ref("r1", "2026-02-01T00:00:00Z", "ann", "bo")] + [pay(f"p{k}", at, "bo", "10.00") for k in range(4)]


@pytest.mark.parametrize("caps", ["", "cap referrer 5 rewards\n"], ids=["one_cap", "two_caps"])
def test_what_a_cap_leaves_below_half_a_cent_is_withheld_not_paid_as_zero(caps: str) -> None:
    """DuckDB issued an award of "0.00" (its filter read what the cap left,
    0.003, not the amount rounded as issued); the engine withholds it."""
    want = same_output(fine("10.003", caps), paid_four())
    assert [a["amount"] for a in want["awards"]] == ["5.00", "5.00"]
    assert [w["reason"] for w in want["withheld"]] == ["cap of 10.003 USD reached"] * 2


def test_what_a_cap_leaves_is_rounded_half_to_even() -> None:
    """0.025 left: the engine pays 0.02 (half to even); DuckDB wrote 0.03
    (a cast to DECIMAL(38, 2) rounds half away from zero)."""
    want = same_output(fine("10.025"), paid_four())
    assert [a["amount"] for a in want["awards"]] == ["5.00", "5.00", "0.02"]


def test_a_withheld_sub_cent_award_still_counts_against_a_cap_on_rewards() -> None:
    """The engine draws what a cap left before rounding it: the 0.003 award
    it then withholds counts 1 against `5 rewards`, so the EUR credit of the
    same event is withheld by that cap (the sections' replayed reason)."""
    rules = (
        fine("10.003", "cap referrer 5 rewards\n") + "milestone euros { each payment  reward referrer credit 1 EUR }\n"
    )
    want = same_output(rules, paid_four())
    assert [w["reason"] for w in want["withheld"]] == ["cap of 10.003 USD reached"] + ["cap of 5 rewards reached"] * 3
