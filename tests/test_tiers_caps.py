"""Rate tables (`tiers of`), caps on the number of rewards and allowances
shared by programs (issue 17, "Tiers and caps as one construct each"): the
checker's errors and warnings, `fmt`, `check --bounds`, `explain`, and
scoring, each ledger worked out by hand in the comments."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.check.bounds import bounds
from rewardrules.check.checker import check_text
from rewardrules.check.lint import lint
from rewardrules.cli import main
from rewardrules.syntax.formatter import format_text
from rewardrules.timeutil import parse_timestamp

from .conftest import GOLDEN, examples
from .strategies import tiers_caps_files
from .test_generated_programs import test_valid_programs_score_valid_ledgers_the_same_every_way as same_every_way

PAYMENT = "event payment { amount: money USD }\n"

RATE_TABLE = (
    PAYMENT
    + """
metric paid = count payment
metric conversions "Converted referrals" = count referrals where paid >= 1
metric rate "Commission rate" = tiers of conversions {
  1 to 4: 10%
  5 to 9: 15%
  10 or more: 20%
}
milestone commission {
  each payment
  reward referrer cash rate of payment.amount
  cap referrer 1000 USD per month
}
"""
)


def ref(i: str, day: int, referrer: str, referee: str, **extra: object) -> dict[str, Any]:
    at = f"2026-01-{day:02d}T00:00:00Z"
    return {"id": i, "at": at, "type": "referral", "referrer": referrer, "referee": referee, **extra}


def pay(i: str, at: str, referee: str, amount: object) -> dict[str, Any]:
    return {"id": i, "at": at, "type": "payment", "referee": referee, "amount": amount}


def score(text: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    return rewardrules.compile(text, "case.rules").score([json.dumps(e) for e in events]).data


def codes(text: str, strict: bool = False) -> list[str]:
    checked, found = check_text(text, "case.rules")
    if strict and checked is not None and not found:
        found = lint(checked)
    return [d.code for d in found]


def format_source(text: str) -> str:
    formatted, found = format_text(text)
    assert formatted is not None, found
    return formatted


def messages(text: str) -> list[str]:
    _, found = check_text(text, "case.rules")
    return [f"{d.code} {d.message} | {d.help}" for d in found]


# -- rate tables -----------------------------------------------------------------


def test_a_rate_table_pays_the_whole_amount_at_the_rate_of_the_tier_reached() -> None:
    # ann's six referees each pay 100 USD, one a day: after the k-th payment
    # ann has k conversions, so payments 1-4 pay 10% (10.00) and 5-6 pay 15%
    # (15.00); c0 pays 200 more on day 9, still at 6 conversions: 15% = 30.00
    events = [ref(f"r{i}", 1, "ann", f"c{i}") for i in range(6)]
    events += [pay(f"p{i}", f"2026-01-{2 + i:02d}T00:00:00Z", f"c{i}", 100) for i in range(6)]
    events.append(pay("p9", "2026-01-09T00:00:00Z", "c0", 200))
    data = score(RATE_TABLE, events)
    assert [a["amount"] for a in data["awards"]] == ["10.00"] * 4 + ["15.00", "15.00", "30.00"]
    # the award says at which rate: the table's value, among the values read
    assert data["awards"][4]["why"]["values"]["rate"] == "15"


def test_a_value_in_no_row_gives_no_value_and_the_reward_is_withheld() -> None:
    text = RATE_TABLE.replace("1 to 4: 10%", "2 to 4: 10%")  # one conversion: no row
    data = score(text, [ref("r0", 1, "ann", "c0"), pay("p0", "2026-01-02T00:00:00Z", "c0", 100)])
    assert data["awards"] == []
    assert [w["reason"] for w in data["withheld"]] == ["the amount has no value (a field is missing)"]


MONEY_TABLE = PAYMENT + (
    "metric spent = sum payment.amount\n"
    "metric bonus = tiers of spent { 0 USD to 999.99 USD: 10 USD  1000 USD or more: 50 USD }\n"
    "milestone m { first payment  reward referrer cash bonus  cap referrer 50 USD }\n"
)


def test_rows_that_meet_leave_no_hole_between_them() -> None:
    # a ledger amount may have more decimals than the currency: 999.995 USD
    # is above 999.99 and below 1000, and belongs to the lower row, since the
    # rows meet (the next starts one cent after); with a gap it has no row
    def bonus(text: str, amount: str) -> list[str]:
        data = score(text, [ref("r0", 1, "ann", "c0"), pay("p0", "2026-01-02T00:00:00Z", "c0", amount)])
        return [a["amount"] for a in data["awards"]]

    assert bonus(MONEY_TABLE, "999.995") == ["10.00"]
    assert bonus(MONEY_TABLE, "1000") == ["50.00"]
    assert bonus(MONEY_TABLE, "999.99") == ["10.00"]
    gap = MONEY_TABLE.replace("999.99 USD", "999.98 USD")
    assert bonus(gap, "999.985") == []
    assert bonus(gap, "999.98") == ["10.00"]


def test_rows_of_the_wrong_unit_are_refused() -> None:
    bad_bound = RATE_TABLE.replace("5 to 9: 15%", "5 USD to 9: 15%")
    assert codes(bad_bound) == ["RR212"]
    bad_value = RATE_TABLE.replace("5 to 9: 15%", "5 to 9: 15 USD")
    assert messages(bad_value) == [
        "RR213 this row gives money (USD), but the rows above give quantity (percent)"
        " | every row of a table gives the same unit (all percent, or all USD)"
    ]
    text_metric = PAYMENT + (
        "event referral { source: optional text }\n"
        "metric src = referral.source\n"
        "metric rate = tiers of src { 1 to 4: 10% }\n"
        "milestone m { each payment  reward referrer cash rate of payment.amount }\n"
    )
    assert codes(text_metric) == ["RR212"]


def test_unsorted_or_ambiguous_rows_are_refused() -> None:
    unsorted = RATE_TABLE.replace("5 to 9: 15%", "0 to 0: 15%")
    assert codes(unsorted) == ["RR319"]
    reversed_row = RATE_TABLE.replace("5 to 9: 15%", "9 to 5: 15%")
    assert codes(reversed_row) == ["RR320"]
    same_start = RATE_TABLE.replace("5 to 9: 15%", "1 to 9: 15%")
    assert codes(same_start) == ["RR320"]
    open_not_last = RATE_TABLE.replace("1 to 4: 10%", "1 or more: 10%")
    assert "RR320" in codes(open_not_last)


def test_the_table_metric_name_gets_a_did_you_mean() -> None:
    typo = RATE_TABLE.replace("tiers of conversions", "tiers of conversion")
    assert any(m.startswith("RR103") and "did you mean `conversions`?" in m for m in messages(typo))


def test_rate_of_needs_a_rate_in_percent() -> None:
    text = RATE_TABLE.replace("10%", "10 USD").replace("15%", "15 USD").replace("20%", "20 USD")
    assert codes(text) == ["RR201"]


def test_strict_finds_gaps_and_overlaps_between_rows() -> None:
    clean = codes(RATE_TABLE, strict=True)
    assert clean == []
    gap = RATE_TABLE.replace("5 to 9: 15%", "6 to 9: 15%")
    assert codes(gap, strict=True) == ["RR617"]
    overlap = RATE_TABLE.replace("5 to 9: 15%", "4 to 9: 15%")
    assert codes(overlap, strict=True) == ["RR618"]
    # money rows meet at the cent: 999.99 then 1000 is no gap, 999.98 then 1000 is
    money = MONEY_TABLE
    assert codes(money, strict=True) == []
    assert codes(money.replace("999.99", "999.98"), strict=True) == ["RR617"]


def test_fmt_writes_one_row_per_line_and_parses_back_the_same() -> None:
    squeezed = RATE_TABLE.replace(
        "\n  1 to 4: 10%\n  5 to 9: 15%\n  10 or more: 20%\n", " 1 to 4 : 10% , 5 to 9:15% 10 or more:20% "
    )
    formatted = format_source(squeezed)
    assert (
        'metric rate "Commission rate" = tiers of conversions {\n  1 to 4: 10%\n  5 to 9: 15%\n  10 or more: 20%\n}'
        in formatted
    )
    assert format_source(formatted) == formatted


# -- caps on the number of rewards -----------------------------------------------

COUNT_CAP = (
    PAYMENT
    + """
cap referrer 2 rewards per month
milestone per_payment { each payment where payment.amount > 0  reward referrer cash 10 USD }
"""
)


def test_a_cap_on_the_number_of_rewards_withholds_the_next_one_until_the_period_ends() -> None:
    # January: two rewards, the third withheld; February starts a new count
    events = [ref("r0", 1, "ann", "c0")]
    events += [pay(f"p{d}", f"2026-01-{d:02d}T00:00:00Z", "c0", 5) for d in (2, 3, 4)]
    events.append(pay("p32", "2026-02-01T00:00:00Z", "c0", 5))
    data = score(COUNT_CAP, events)
    assert [(a["at"][:10], a["amount"]) for a in data["awards"]] == [
        ("2026-01-02", "10.00"),
        ("2026-01-03", "10.00"),
        ("2026-02-01", "10.00"),
    ]
    assert [(w["at"][:10], w["reason"], w["amount"]) for w in data["withheld"]] == [
        ("2026-01-04", "cap of 2 rewards per month reached", "10.00")
    ]


def test_a_count_cap_is_a_whole_number_of_rewards() -> None:
    assert codes(COUNT_CAP.replace("2 rewards", "2.5 rewards")) == ["RR321"]
    assert codes(COUNT_CAP.replace("2 rewards", "0 rewards")) == ["RR321"]
    assert codes("unit rewards\n" + COUNT_CAP) == ["RR110"]


def test_bounds_count_a_cap_on_rewards() -> None:
    # 10 USD a payment, at most 2 rewards a month: 20 USD a month; for life, 3 rewards: 30 USD
    checked, found = check_text(COUNT_CAP, "case.rules")
    assert checked is not None and not found
    text = bounds(checked).render()
    assert "20.00 USD per month" in text, text
    lifetime = COUNT_CAP.replace("cap referrer 2 rewards per month", "cap referrer 3 rewards")
    checked, _ = check_text(lifetime, "case.rules")
    assert checked is not None
    assert "per referral, to the referrer: 30.00 USD\n" in bounds(checked).render()


def test_a_count_cap_silences_unbounded_liability_for_fixed_amounts_only() -> None:
    assert codes(COUNT_CAP, strict=True) == []
    computed = COUNT_CAP.replace("cash 10 USD", "cash 10% of payment.amount")
    assert codes(computed, strict=True) == ["RR605"]


# -- allowances shared by programs ------------------------------------------------

SHARED = """
event referral { source: optional text }
event payment { amount: money USD }

allowance referrer_budget "One budget per referrer" referrer 100 USD per month

program customers {
  eligible when referral.source == "customer"
  draw from referrer_budget
  milestone customer_paid { first payment where payment.amount > 0  reward referrer cash 60 USD }
}

program partners {
  eligible when referral.source == "partner"
  draw from referrer_budget
  milestone partner_paid { first payment where payment.amount > 0  reward referrer cash 60 USD }
}
"""


def partner_then_customer() -> list[dict[str, Any]]:
    """ann refers c1 (customer) and p1 (partner); p1 pays on the 2nd, c1 on the 3rd."""
    return [
        ref("r1", 1, "ann", "c1", source="customer"),
        ref("r2", 1, "ann", "p1", source="partner"),
        pay("x1", "2026-01-02T00:00:00Z", "p1", 10),
        pay("x2", "2026-01-03T00:00:00Z", "c1", 10),
    ]


def test_programs_draw_from_a_shared_allowance_in_event_order() -> None:
    # p1 (partner) pays first: 60 of ann's 100; c1 (customer) pays next day:
    # 40 remain, the customer award is cut from 60.00 to 40.00
    events = partner_then_customer()
    data = score(SHARED, events)
    got = [(a["program"], a["amount"], a["why"].get("uncapped")) for a in data["awards"]]
    assert got == [("partners", "60.00", None), ("customers", "40.00", "60.00")]


def test_one_event_draws_from_an_allowance_in_file_order() -> None:
    # one referral in both programs: one payment reaches both milestones;
    # customers (first in the file) takes 60, partners the 40 left
    text = SHARED.replace('eligible when referral.source == "customer"', "").replace(
        'eligible when referral.source == "partner"', ""
    )
    data = score(text, [ref("r1", 1, "ann", "c1"), pay("x1", "2026-01-02T00:00:00Z", "c1", 10)])
    assert [(a["program"], a["amount"]) for a in data["awards"]] == [("customers", "60.00"), ("partners", "40.00")]
    # a second payment gives nothing more (first payment only); a new referee
    # in February draws from a fresh month
    events = [ref("r1", 1, "ann", "c1"), ref("r2", 1, "ann", "c2")]
    events += [pay("x1", "2026-01-02T00:00:00Z", "c1", 10), pay("x2", "2026-01-20T00:00:00Z", "c2", 10)]
    data = score(text, events)
    assert [(a["program"], a["amount"]) for a in data["awards"]] == [("customers", "60.00"), ("partners", "40.00")]
    assert [(w["milestone"], w["reason"]) for w in data["withheld"]] == [
        ("customer_paid", "allowance `referrer_budget` of 100 USD per month reached"),
        ("partner_paid", "allowance `referrer_budget` of 100 USD per month reached"),
    ]


def test_an_allowance_of_rewards_across_programs() -> None:
    text = SHARED.replace("referrer 100 USD per month", "referrer 1 rewards")
    events = [
        ref("r1", 1, "ann", "c1", source="customer"),
        ref("r2", 1, "ann", "p1", source="partner"),
        pay("x1", "2026-01-02T00:00:00Z", "c1", 10),
        pay("x2", "2026-01-03T00:00:00Z", "p1", 10),
    ]
    data = score(text, events)
    assert [(a["program"], a["amount"]) for a in data["awards"]] == [("customers", "60.00")]
    assert [w["reason"] for w in data["withheld"]] == ["allowance `referrer_budget` of 1 rewards reached"]


def test_allowance_names_are_checked() -> None:
    typo = SHARED.replace(
        "draw from referrer_budget\n  milestone partner", "draw from referer_budget\n  milestone partner"
    )
    assert messages(typo) == ["RR115 unknown allowance `referer_budget` | did you mean `referrer_budget`?"]
    twice = SHARED.replace(
        "allowance referrer_budget", "allowance referrer_budget referrer 5 USD\nallowance referrer_budget", 1
    )
    assert codes(twice) == ["RR104"]
    drawn_twice = SHARED.replace("draw from referrer_budget", "draw from referrer_budget draw from referrer_budget", 1)
    assert codes(drawn_twice) == ["RR306"]
    unused = SHARED.replace("draw from referrer_budget", "")
    assert codes(unused, strict=True) == ["RR619"]


def test_fmt_keeps_allowances_and_draws() -> None:
    formatted = format_source(SHARED)
    assert 'allowance referrer_budget "One budget per referrer" referrer 100 USD per month' in formatted
    assert "  draw from referrer_budget\n" in formatted
    assert format_source(formatted) == formatted


def test_bounds_count_the_allowance_in_a_programs_total() -> None:
    text = SHARED.replace("first payment", "each payment")
    checked, _ = check_text(text, "case.rules")
    assert checked is not None
    assert "per referrer: 100.00 USD per month; no limit for life" in bounds(checked).render()


def test_explain_names_the_allowance_that_cut_an_award() -> None:
    from rewardrules.report.explain import explain_ledger

    events = partner_then_customer()
    program = rewardrules.compile(SHARED, "case.rules")
    text = explain_ledger(program, [json.dumps(e) for e in events], referee="c1")
    assert "cut by a cap from 60.00 USD to 40.00 USD (20.00 USD withheld)" in text
    assert "allowance referrer_budget" in text


# -- batch = stream = session, and a snapshot keeps what was drawn ---------------------


def test_a_restored_session_remembers_what_was_drawn_from_an_allowance() -> None:
    events = partner_then_customer()
    program = rewardrules.compile(SHARED, "case.rules")
    session = program.session()
    for event in events[:3]:
        session.add(event)
    restored = program.restore(session.snapshot())
    restored.add(events[3])
    batch = program.score([json.dumps(e) for e in events]).to_json()
    assert restored.result().to_json() == batch
    assert json.loads(batch)["awards"][1]["amount"] == "40.00"


def test_a_snapshot_naming_no_allowance_is_refused() -> None:
    program = rewardrules.compile(SHARED, "case.rules")
    session = program.session()
    for event in [ref("r2", 1, "ann", "p1", source="partner"), pay("x1", "2026-01-02T00:00:00Z", "p1", 10)]:
        session.add(event)
    data = json.loads(session.snapshot())
    state = data.get("state", data)
    row = state["cap_used"][0]
    assert row[0][:3] == ["allowance", 0, 0]
    row[0][1] = 5
    with_bad = json.dumps(data).encode()
    try:
        program.restore(with_bad)
    except rewardrules.SnapshotError as error:
        assert "cap_used[0][0][1]" in str(error)
    else:
        raise AssertionError("a snapshot naming an allowance the rules lack was restored")


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=tiers_caps_files(), seed=st.integers(0, 10**6), size=st.integers(0, 40))
def test_generated_tables_and_caps_score_the_same_every_way(text: str, seed: int, size: int) -> None:
    # batch = shuffled = stream = session, as for every generated program
    same_every_way.hypothesis.inner_test(text=text, seed=seed, size=size)  # type: ignore[attr-defined]
    assert format_source(format_source(text)) == format_source(text)


def test_the_golden_rule_file_passes_its_rule_tests_and_is_formatted(capsys: pytest.CaptureFixture[str]) -> None:
    folder = GOLDEN / "features" / "tiers_and_caps"
    assert main(["test", str(folder)]) == 0
    assert "2 cases: 2 passed" in capsys.readouterr().out
    assert main(["fmt", "--check", str(folder / "tiers_and_caps.rules")]) == 0
    assert main(["check", "--strict", str(folder / "tiers_and_caps.rules")]) == 0


@pytest.mark.parametrize(
    ("name", "case"),
    [("tiers_and_caps", "basic"), ("tiers_and_caps", "shared_allowance"), ("graduated_tiers", "basic")],
)
def test_golden_ledgers_score_the_same_in_batch_stream_and_a_restored_session(name: str, case: str) -> None:
    folder = GOLDEN / "features" / name
    program = rewardrules.load(folder / f"{name}.rules")
    lines = (folder / f"{case}.jsonl").read_text().splitlines()
    batch = program.score(lines).to_json()
    events = sorted((json.loads(line) for line in lines), key=lambda e: (parse_timestamp(e["at"]), e["id"]))
    assert program.score_stream([json.dumps(e) for e in events]).to_json() == batch
    half = len(events) // 2
    session = program.session()
    for event in events[:half]:
        session.add(event)
    restored = program.restore(session.snapshot())
    for event in events[half:]:
        restored.add(event)
    assert restored.result().to_json() == batch


def test_bounds_of_a_table_of_fixed_amounts_is_its_largest_row() -> None:
    # `first payment` pays once per referral, at most the 50 USD row; a
    # rate (`rate of payment.amount`) has no upper bound
    checked, _ = check_text(MONEY_TABLE.replace("  cap referrer 50 USD", ""), "case.rules")
    assert checked is not None
    assert "per referral, to the referrer: 50.00 USD\n" in bounds(checked).render()
    checked, _ = check_text(RATE_TABLE, "case.rules")
    assert checked is not None
    assert "`rate of payment.amount` (no upper bound)" in bounds(checked).render()


def test_explain_says_which_cap_on_rewards_withheld_a_reward() -> None:
    from rewardrules.report.explain import explain_ledger

    events = [ref("r0", 1, "ann", "c0")]
    events += [pay(f"p{d}", f"2026-01-{d:02d}T00:00:00Z", "c0", 5) for d in (2, 3, 4)]
    text = explain_ledger(rewardrules.compile(COUNT_CAP, "case.rules"), [json.dumps(e) for e in events])
    assert (
        "2026-01-04T00:00:00Z not issued: cash 10.00 USD to ann (referrer) for `per_payment`: "
        "cap of 2 rewards per month reached"
    ) in text


GRADUATED = PAYMENT + (
    "metric revenue = sum payment.amount where payment.amount > 0\n"
    "metric owed = graduated tiers of revenue { 0 USD to 999.99 USD: 10%  1000 USD or more: 15% }\n"
    "milestone commission { whenever owed increases  reward referrer cash increase  cap referrer 5000 USD }\n"
)


def test_a_graduated_table_pays_each_slice_at_its_own_rate() -> None:
    # 600 then 600 more: 10% of 600 = 60.00, then 10% of 400 + 15% of 200 = 70.00;
    # the same rows as a plain table would pay 15% of the whole 1200 at once
    events = [ref("r0", 1, "ann", "c0"), pay("p1", "2026-01-02T00:00:00Z", "c0", 600)]
    events.append(pay("p2", "2026-01-03T00:00:00Z", "c0", 600))
    assert [a["amount"] for a in score(GRADUATED, events)["awards"]] == ["60.00", "70.00"]


def test_a_graduated_table_has_rates_in_percent_and_keeps_its_keyword_in_fmt() -> None:
    assert codes(GRADUATED.replace("15%", "15 USD")) == ["RR213"]
    formatted = format_source(GRADUATED)
    assert "metric owed = graduated tiers of revenue {\n  0 USD to 999.99 USD: 10%\n" in formatted
    assert format_source(formatted) == formatted
    assert codes(GRADUATED, strict=True) == []


def test_fmt_keeps_a_comment_on_its_row() -> None:
    text = RATE_TABLE.replace("  5 to 9: 15%\n", "  # the middle tier\n  5 to 9: 15%  # most partners\n")
    formatted = format_source(text)
    assert "  1 to 4: 10%\n  # the middle tier\n  5 to 9: 15%  # most partners\n  10 or more: 20%\n}" in formatted
    assert format_source(formatted) == formatted
