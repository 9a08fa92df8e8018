"""The explained sections (`referrals`) of timers in programs whose
attribution moves (docs/sql.md, "The explained output"), refused before:
the engine keeps one clock per referee and milestone, and its report
reads that clock for each referral of the referee (whether an `after`
timer rang: `closed`), the clock of the last referral that took the
referee unless its lapse released it since. Byte for byte the Python
engine's sections, on hand-made and random ledgers of the three moving
programs of tests/test_sql_constructs3_attribution.py."""

from __future__ import annotations

import random
from typing import Any

import pytest

from .test_sql_constructs3_attribution import _prog, pay, referral
from .test_sql_explain_drawn import reported_as_compiled
from .test_sql_sections_lifted import same_sections


def milestones(got: dict[str, Any], n: int) -> list[tuple[str, str | None, bool | None]]:
    """(milestone, progress, closed) of the first program of referral `n`."""
    found = got["referrals"][n]["programs"][0]["milestones"]
    return [(m["milestone"], m.get("progress"), m.get("closed")) for m in found]


def test_it_compiles_explained() -> None:
    assert reported_as_compiled(_prog())


NO_TIMER = "no timer: the referral no longer holds the referee in the program"


@pytest.mark.parametrize("released", [False, True])
def test_a_lapse_releases_the_clock_at_the_referees_next_event(released: bool) -> None:
    """ann's `anchored` timer (5 days from bob's payment on 01-28) is due
    02-02, after her 30-day lapse: it rings unpaid and stays anchored
    (`closed`), unless an event of bob's past the lapse (01-31) released
    her referral first, dropping its clock."""
    events = [referral("r1", "01-01", "ann"), pay("p1", "01-28T00:00:00", "0.50")]
    events += [pay("p2", "01-31T00:00:01", "0.50")] if released else []
    got = same_sections(_prog(), events, "2026-02-03T00:00:00Z")
    assert milestones(got, 0)[1] == ("anchored", NO_TIMER, None if released else True)


def test_an_earlier_referral_reads_the_holders_clock() -> None:
    """cat takes bob from ann on 01-08; cat's `anchored` timer (from bob's
    payment on 01-09) is pending at the as-of: ann's row, whose own timer
    rang on 01-10, is not `closed` (the engine reads the referee's clock)."""
    events = [
        referral("r1", "01-01", "ann"),
        pay("p1", "01-05T00:00:00", "150.00"),
        referral("r2", "01-08T00:00:00", "cat"),
        pay("p2", "01-09T00:00:00", "100.00"),
    ]
    got = same_sections(_prog(), events, "2026-01-12T00:00:00Z")
    assert milestones(got, 0)[1] == ("anchored", NO_TIMER, None)
    assert milestones(got, 1)[1][0] == "anchored" and "pays at 2026-01-14" in str(milestones(got, 1)[1][1])


@pytest.mark.parametrize("seed", range(2))
def test_random_ledgers_give_the_same_sections(seed: int) -> None:
    rng = random.Random(seed)
    days = ["01-01", "01-02", "01-05", "01-08", "01-12", "01-20", "02-01", "02-15"]
    for _ in range(4):
        events = []
        for n in range(rng.randint(1, 12)):
            day, referee = rng.choice(days) + "T00:00:00", rng.choice("bd")
            if rng.random() < 0.5:
                events.append(referral(f"r{n}", day, rng.choice(["ann", "cat", "eve"]), referee))
            else:
                events.append(pay(f"p{n}", day, rng.choice(["5.00", "150.00", "2000.00", "-1.00"]), referee))
        for as_of in ["2026-01-10T00:00:00Z", "2026-02-10T00:00:00Z", None]:
            same_sections(_prog(), events, as_of)
