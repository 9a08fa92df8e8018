"""Percents of whole numbers to one decimal (`core.formatting.percent_tenths`):
the acceptance report's rates (`match`) and the rule tests' coverage
(`test --coverage`). Computed on whole numbers, so that a caller's decimal
context changes nothing: they were divided in the caller's context, where a
trapping one (`Inexact`) raised on 2 of 3 and a narrow one could round a
near-tie the other way."""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rewardrules.cli.test import _total_percent
from rewardrules.core.formatting import percent_tenths
from rewardrules.match.acceptance import _percent

from .test_trust_codegen import QUIET, TRAPPING

wholes = st.integers(min_value=1, max_value=10**40)


def _rounded(value: Fraction) -> int:
    """Half to even, on exact fractions: the reference."""
    low = value.numerator // value.denominator
    rest = value - low
    return low + 1 if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and low % 2) else low


@given(data=st.data(), whole=wholes)
def test_tenths_of_a_percent_are_exact(data: st.DataObject, whole: int) -> None:
    part = data.draw(st.integers(min_value=0, max_value=whole))
    tenths = Fraction(1000 * part, whole)
    assert percent_tenths(part, whole) == Decimal(_rounded(tenths)) / 10
    assert percent_tenths(part, whole, down=True) == Decimal(tenths.numerator // tenths.denominator) / 10
    assert str(percent_tenths(part, whole)).count(".") == 1  # one decimal, `100.0`, `0.0`


def test_ties_round_half_to_even_and_coverage_rounds_down() -> None:
    assert [str(percent_tenths(p, 2000)) for p in (1, 3, 5)] == ["0.0", "0.2", "0.2"]  # 0.05, 0.15, 0.25
    assert str(percent_tenths(9996, 10000, down=True)) == "99.9"
    assert str(percent_tenths(9996, 10000)) == "100.0"


def _coverage(covered: int, total: int) -> Any:
    return SimpleNamespace(covered=covered, total=total)


def test_a_callers_context_changes_nothing() -> None:
    """2 of 3 is 66.7% (66.6% of coverage) in any context, and raises in none."""
    expected = (_percent(2, 3), _total_percent([_coverage(2, 3)]))
    assert expected == ("66.7", Decimal("66.6"))
    for context in (TRAPPING, QUIET, decimal.Context(prec=2, rounding=decimal.ROUND_UP)):
        with decimal.localcontext(context):
            assert (_percent(2, 3), _total_percent([_coverage(2, 3)])) == expected


def test_the_acceptance_report_in_a_callers_context() -> None:
    """A partner with 1 of 2 referrals accepted is below `acceptance at
    least 50.5%`: also under a caller's narrow context (where 101 was 100,
    found by review) or a trapping one (where it raised)."""
    import re
    from pathlib import Path

    from rewardrules.match.api import load_text, match

    root = Path(__file__).resolve().parents[1]
    text = (root / "rulesets" / "matching" / "fasttrack_matching.rules").read_text(encoding="utf-8")
    rules = load_text(re.sub(r"acceptance at least \d+%", "acceptance at least 50.5%", text), "m.rules")
    ledger = (root / "tests" / "golden_matching" / "fasttrack_matching" / "decline_and_acceptance.jsonl").read_text()
    declined = '"type":"decline","at":"2026-01-09T09:00:00Z"'
    lines = [line.replace('"type":"accept","at":"2026-01-09T09:00:00Z"', declined) for line in ledger.splitlines()]
    assert any(declined in line for line in lines)

    def rows() -> list[tuple[Any, ...]]:
        found = match(rules, lines).acceptance() or []
        return [(r["partner"], r["received"], r["accepted"], r["rate"], r["below"]) for r in found]

    expected = rows()
    assert ("alpha", 2, 1, "50.0", True) in expected
    for context in (TRAPPING, QUIET, decimal.Context(prec=2, rounding=decimal.ROUND_DOWN)):
        with decimal.localcontext(context):
            assert rows() == expected
