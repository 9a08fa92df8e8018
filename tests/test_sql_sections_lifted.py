"""The explained sections of `score --engine duckdb` (`referrals`,
`referrers`, `withheld`) for what they refused before: a reward under
several caps (each withheld reward's reason is the last of its caps that
cut it, the engine's `_apply_caps` replayed on what each cap had drawn),
and an attribution that moves (who holds the referee, since when, who took
it, whom a later referral's program was already referred by). Each is the
Python engine's explained output byte for byte, on hand-made ledgers, on
generated ones crowded onto a few instants (ties broken by id), and on
drawn rule files; what still does not compile is refused at its line."""

from __future__ import annotations

import json
import random
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.core.diagnostics import RuleError
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import Unsupported
from rewardrules.sql.run import TooWide
from rewardrules.sql.run import run as run_query
from rewardrules.sql.sections import compile_explained

from .conftest import RULESETS, examples
from .strategies import rule_files, tiers_caps_files
from .test_properties import as_ofs, ledgers
from .test_review_rev1_drawn import crowded
from .test_sql_caps2 import LAYERED, SHARED
from .test_sql_explain_drawn import reported_as_compiled, scored_or_stopped
from .test_sql_sections import GOLDEN, assert_same_sections, written

TIERS_AND_CAPS = (GOLDEN / "features" / "tiers_and_caps" / "tiers_and_caps.rules").read_text(encoding="utf-8")

#: instants to crowd generated ledgers onto: ties, a period boundary, a lapse of 30 days passed
INSTANTS = ["2026-01-31T23:00:00Z", "2026-02-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-10T00:00:00Z"]


def same_sections(
    prog: rewardrules.Program, events: list[dict[str, Any]], as_of: str | None = None, *, too_wide: bool = True
) -> dict[str, Any]:
    """The sections of `score --engine duckdb` are the Python engine's;
    return them as written ({} when both stop at the award limits, or when
    DuckDB cannot compute a value exactly unless `too_wide` is False)."""
    query, sections = compile_explained(prog.compiled)
    runner = partial(run_query, sections=sections)

    def sql() -> dict[str, Any]:
        return written(duckdb_result(prog, query, events, parse_as_of(as_of), "<ledger>", runner))

    python = scored_or_stopped(prog, events, as_of, sql)
    if python is None:
        return {}
    try:
        got = sql()
    except TooWide:  # a product past DECIMAL(38): exit 2, said (tests/test_review_rev1_drawn.py)
        if not too_wide:
            raise
        return {}
    assert_same_sections(got, json.loads(python.to_json()))
    return got


def crowd(events: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The events moved onto `INSTANTS` (several at one instant)."""
    rng = random.Random(seed)
    for event in events:
        event["at"] = rng.choice(INSTANTS)
    return events


def ref(n: str, at: str, referrer: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": n, "at": at, "type": "referral", "referrer": referrer, "referee": referee, **fields}


def pay(n: str, at: str, referee: str, amount: str) -> dict[str, Any]:
    return {"id": n, "at": at, "type": "payment", "referee": referee, "amount": amount}


# -- several caps ----------------------------------------------------------------


def test_the_golden_rule_file_of_several_caps_compiles_with_its_sections() -> None:
    """tiers_and_caps: the partners' commission draws from an allowance
    on a number of rewards and one on an amount; its sections compile,
    and the golden differential (tests/test_sql_sections.py) covers it."""
    compile_explained(rewardrules.compile(TIERS_AND_CAPS).compiled)
    events = [
        ref("r1", "2026-01-01T00:00:00Z", "ann", "q1", source="partner"),
        *[pay(f"p{k}", f"2026-01-0{k + 2}T00:00:00Z", "q1", "1000.00") for k in range(2)],
        *[pay(f"f{k}", f"2026-02-0{k + 2}T00:00:00Z", "q1", "400.00") for k in range(4)],
    ]
    got = same_sections(rewardrules.compile(TIERS_AND_CAPS), events)
    # January: 10% of 1000 is the 100 USD a month, then nothing is left (the cash allowance);
    # February: 40, 40 and 20 (cut), then both are full: the last of the reward's caps is named
    reasons = [w["reason"] for w in got["withheld"]]
    assert [("monthly_cash" in r, "monthly_rewards" in r) for r in reasons] == [(True, False), (False, True)]


def test_a_withheld_reward_names_the_last_cap_that_cut_it() -> None:
    """A cap on an amount cuts a reward to nothing, then a full cap on a
    number of rewards withholds it too: the engine names the last (in the
    reward's order of caps), and so do the sections."""
    rules = """ruleset two "Two caps"

event payment { amount: money USD }

cap referrer 50 USD

milestone commission {
  each payment where payment.amount > 0
  reward referrer cash 50% of payment.amount
  cap referrer 2 rewards
}
"""
    events = [
        ref("r", "2026-01-01T00:00:00Z", "ann", "bo"),
        *[pay(f"p{k}", "2026-01-02T00:00:00Z", "bo", "60.00") for k in range(4)],
    ]
    got = same_sections(rewardrules.compile(rules), events)
    assert [w["reason"] for w in got["withheld"]] == ["cap of 2 rewards reached"] * 2


def test_a_reward_of_nothing_under_a_full_cap_is_withheld_by_the_cap() -> None:
    """A computed amount of 0 or less still meets its caps first: under a
    full cap on a number of rewards the engine says the cap (the sections
    said "the amount is zero" before)."""
    rules = """ruleset zero "Zero"

event payment { amount: money USD }

milestone commission {
  each payment
  reward referrer cash 10% of payment.amount
  cap referrer 1 rewards
}
"""
    events = [
        ref("r1", "2026-01-01T00:00:00Z", "ann", "bo"),
        pay("p1", "2026-01-02T00:00:00Z", "bo", "100.00"),
        pay("p2", "2026-01-03T00:00:00Z", "bo", "0.00"),
        pay("p3", "2026-01-04T00:00:00Z", "bo", "-5.00"),
    ]
    got = same_sections(rewardrules.compile(rules), events)
    assert [w["reason"] for w in got["withheld"]] == ["cap of 1 rewards reached"] * 2


@pytest.mark.parametrize("rules", [LAYERED, SHARED, TIERS_AND_CAPS], ids=["layered", "shared", "tiers_and_caps"])
@settings(max_examples=examples(4), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_several_caps_on_generated_ledgers(rules: str, data: st.DataObject) -> None:
    events = data.draw(ledgers("prezi"), label="ledger")  # two years, ties and period boundaries
    for event in events:
        if event["type"] == "referral":
            event["source"] = data.draw(st.sampled_from(["partner", "customer"]), label="source")
    if data.draw(st.booleans(), label="crowded"):
        crowd(events, data.draw(st.integers(0, 10**6), label="seed"))
    same_sections(rewardrules.compile(rules), events, data.draw(as_ofs(events), label="as_of"))


@settings(max_examples=examples(4), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=tiers_caps_files(), seed=st.integers(0, 10**6), size=st.integers(0, 30))
def test_drawn_files_of_caps_and_allowances(text: str, seed: int, size: int) -> None:
    """Caps on numbers of rewards and amounts, allowances drawn from by
    one or two programs, a reward under several, on crowded ledgers."""
    prog = rewardrules.compile(text)
    if reported_as_compiled(prog):
        same_sections(prog, crowded(seed, size))


# -- attribution that moves --------------------------------------------------------


def test_the_reference_program_whose_attribution_moves_compiles_with_its_sections() -> None:
    compile_explained(rewardrules.load(RULESETS / "affiliate_attribution.rules").compiled)


@settings(max_examples=examples(6), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_affiliate_attribution_on_generated_ledgers(data: st.DataObject) -> None:
    events = data.draw(ledgers("affiliate_attribution"), label="ledger")
    if data.draw(st.booleans(), label="crowded"):
        crowd(events, data.draw(st.integers(0, 10**6), label="seed"))
    same_sections(
        rewardrules.load(RULESETS / "affiliate_attribution.rules"), events, data.draw(as_ofs(events), label="as_of")
    )


#: a program whose attribution moves beside one whose does not, with
#: per-referrer milestones in a file of one program (`LAST_ONLY`)
MIXED = """ruleset mixed "Mixed"

event referral { source: optional text }
event payment { amount: money USD }

program last "Last" {
  attribution last referral lapses after 10 days unless first payment where payment.amount > 0
  milestone paid_last { first payment where payment.amount > 0  reward referrer cash 5 USD }
}

program plain "Plain" {
  eligible when referral.source is not set or referral.source == "partner"
  milestone paid_plain { each payment reward referrer cash 10% of payment.amount }
}
"""

LAST_ONLY = """ruleset last_only "Last only"

event payment { amount: money USD }

attribution first referral lapses after 3 days unless first payment

metric converted = count referrals where paid >= 1
metric paid = count payment

milestone two { when converted >= 2  reward referrer cash 20 USD }
milestone each_one { first payment within 5 days  reward referrer cash 1 USD }
"""


def test_a_later_referral_that_takes_one_program_is_not_counted_in_the_other() -> None:
    """`bo` takes `cy` in `last`; in `plain` (eligible there) it is not
    counted: `cy` was already referred by `ann` there. `ann`'s referral
    says who took it; `bo`'s holds it until it converts."""
    events = [
        ref("r1", "2026-01-01T00:00:00Z", "ann", "cy"),
        ref("r2", "2026-01-02T00:00:00Z", "bo", "cy", source="partner"),
        ref("r3", "2026-01-02T00:00:00Z", "di", "cy", source="other"),
        pay("p0", "2026-01-03T00:00:00Z", "cy", "0.00"),
    ]
    got = same_sections(rewardrules.compile(MIXED), events)
    texts = [p.get("why") or p.get("attribution") for r in got["referrals"] for p in r["programs"]]
    assert "not counted: `cy` was already referred by `ann` (event `r1`) in this program" in texts
    assert any(t and t.startswith("`di` took `cy` with event `r3`") for t in texts)


@pytest.mark.parametrize("rules", [MIXED, LAST_ONLY], ids=["mixed", "last_only"])
@settings(max_examples=examples(4), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_moving_attributions_on_crowded_ledgers(rules: str, data: st.DataObject) -> None:
    events = data.draw(ledgers("affiliate_attribution"), label="ledger")
    crowd(events, data.draw(st.integers(0, 10**6), label="seed"))
    for event in events:
        if event["type"] == "referral":
            event["source"] = data.draw(st.sampled_from(["partner", "other"]), label="source")
    same_sections(rewardrules.compile(rules), events, data.draw(as_ofs(events), label="as_of"))


# -- a per-referrer metric reading a per-referral one ------------------------------------

#: `score` reads the referrer's `converted` and the referral's `paid`
READING = """ruleset reading "A per-referrer metric reading a per-referral one"

event payment { amount: money USD }

metric paid = count payment where payment.amount > 0
metric converted = count referrals where paid >= 1
metric score "Score" = converted * 10 + paid

milestone two { when converted >= 2  reward referrer cash 5 USD }
milestone first_paid { first payment where payment.amount > 0  reward referee credit 2 USD }
"""


def test_a_per_referrer_metric_reading_a_per_referral_one() -> None:
    """Each referral's `score` is its referrer's `converted` with its own
    `paid`; a referrer's, with its first referral's (the engine's report)."""
    events = [
        ref("r1", "2026-01-01T00:00:00Z", "ann", "bo"),
        ref("r2", "2026-01-01T00:00:00Z", "ann", "cy"),
        ref("r3", "2026-01-02T00:00:00Z", "di", "ed"),
        pay("p1", "2026-01-02T00:00:00Z", "bo", "100.00"),
        pay("p2", "2026-01-03T00:00:00Z", "cy", "10.00"),
        pay("p3", "2026-01-03T00:00:00Z", "bo", "10.00"),
    ]
    got = same_sections(rewardrules.compile(READING), events)
    assert [r["programs"][0]["metrics"]["score"] for r in got["referrals"]] == ["22", "21", "0"]
    assert [r["metrics"]["score"] for r in got["referrers"]] == ["22", "0"]


def test_a_referrer_s_first_referral_is_the_engine_s_under_an_attribution_that_moves() -> None:
    """`yu` referred `bo` at 3 and took `al` at 5 (last referral before the
    first payment): the engine's order of referrals lists `al`'s first
    (its referee was referred first), so `yu`'s `score` reads `al`'s
    `paid` (2), not `bo`'s (0), though `bo`'s referral is earlier."""
    rules = READING.replace("metric paid", "attribution last referral before first payment\n\nmetric paid")
    events = [
        ref("r1", "2026-01-01T00:00:00Z", "xi", "al"),
        ref("r3", "2026-01-03T00:00:00Z", "yu", "bo"),
        ref("r5", "2026-01-05T00:00:00Z", "yu", "al"),
        pay("p6", "2026-01-06T00:00:00Z", "al", "10.00"),
        pay("p7", "2026-01-07T00:00:00Z", "al", "10.00"),
    ]
    got = same_sections(rewardrules.compile(rules), events)
    assert [(r["referrer"], r["metrics"]["score"]) for r in got["referrers"]] == [("xi", "0"), ("yu", "12")]


@pytest.mark.parametrize("moves", [False, True], ids=["first", "moving"])
@settings(max_examples=examples(5), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_per_referrer_metric_reading_a_per_referral_one_on_generated_ledgers(
    moves: bool, data: st.DataObject
) -> None:
    rules = READING
    if moves:  # the referrer's first referral is then its first in the engine's order, not the earliest
        rules = rules.replace("metric paid", "attribution last referral before first payment\n\nmetric paid")
    events = data.draw(ledgers("affiliate_attribution"), label="ledger")
    if data.draw(st.booleans(), label="crowded"):
        crowd(events, data.draw(st.integers(0, 10**6), label="seed"))
    same_sections(rewardrules.compile(rules), events, data.draw(as_ofs(events), label="as_of"))


# -- drawn rule files ------------------------------------------------------------------


@settings(
    max_examples=examples(6), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(text=rule_files(typed=True), seed=st.integers(0, 10**6), size=st.integers(0, 24))
def test_drawn_rule_files_give_the_python_sections(text: str, seed: int, size: int) -> None:
    """Every construct the generator writes (attribution, caps, timers,
    several programs): where the sections compile, the Python engine's;
    where not, `check --engine sql` reports it (`reported_as_compiled`)."""
    try:
        prog = rewardrules.compile(text)
    except RuleError:  # the generator's files are meant to check clean; a few do not
        return
    if not reported_as_compiled(prog):  # `check --engine sql` says so, at its place
        return
    try:
        compile_explained(prog.compiled)
    except Unsupported:  # the sections' refusal alone, reported too (asserted by `reported_as_compiled`)
        return
    same_sections(prog, crowded(seed, size))


# -- `count earlier referrals` under an attribution that moves -------------------------


def test_earlier_referrals_under_an_attribution_that_moves() -> None:
    """A metric settled at the referral (`count earlier referrals`) under
    an attribution that moves: its column is carried through the fold (it
    failed in DuckDB once, "Set operations can only apply to expressions
    with the same number of result columns", on a drawn rule file, and was
    refused at the metric since); each referral's value in `referrals`, on
    crowded ledgers whose later referrals take their referees."""
    rules = """ruleset e "E"

event payment { amount: money USD }

attribution first referral lapses after 30 days unless first payment

metric before = count earlier referrals within 1 days
metric paid = count payment

milestone one { first payment  reward referrer cash 5 USD }
"""
    prog = rewardrules.compile(rules)
    assert reported_as_compiled(prog)
    events = [
        ref("r1", "2026-01-01T00:00:00Z", "bob", "dan"),
        ref("r2", "2026-02-05T00:00:00Z", "ann", "dan"),  # bob's lapsed: ann takes dan
        ref("r3", "2026-02-05T12:00:00Z", "ann", "eve"),  # one earlier within a day: r2
        pay("p1", "2026-02-06T00:00:00Z", "dan", "5.00"),
    ]
    got = same_sections(prog, events)
    assert [r["programs"][0]["metrics"]["before"] for r in got["referrals"]] == ["0", "0", "1"]
    assert [r["programs"][0]["holds"] for r in got["referrals"]] == [False, True, True]
    rng = random.Random(3)
    for _ in range(8):
        events = [
            ref(f"r{n}", rng.choice(INSTANTS), rng.choice(["ann", "bob", "cat"]), rng.choice("abc"))
            if rng.random() < 0.6
            else pay(f"p{n}", rng.choice(INSTANTS), rng.choice("abc"), "1.00")
            for n in range(rng.randint(1, 12))
        ]
        same_sections(prog, events)
