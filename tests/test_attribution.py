"""Attribution per program (issue 17): `attribution last referral before
first EVENT`, `... lapses after D unless first EVENT`, and text comparisons
`ignoring case`. The golden ledgers of rulesets/affiliate_attribution.rules
(tests/golden/affiliate_attribution/) were worked out by hand; these tests
pin the finer rules, each against behaviour the old code did not have."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import rewardrules
from rewardrules.explain import explain
from rewardrules.syntax.formatter import format_text
from rewardrules.trace import score_traced

from .conftest import RULESETS

LAST = """
event referral { source: optional text }
event payment { amount: money USD }
event refund { payment: text }

attribution last referral before first payment where payment.amount >= 100

metric paid = count payment

milestone each_payment {
  each payment
  reward referrer cash 10% of payment.amount
  cap referrer 1000 USD
}

milestone two_payments { when paid >= 2  reward referrer cash 7 USD }

milestone held_bonus {
  first payment where payment.amount > 0
  reward referrer cash 5 USD
  hold 30 days
  void if refund where refund.payment == payment.id within 30 days
}
"""

WINDOW = """
event referral { source: optional text }
event payment { amount: money USD }

attribution first referral lapses after 30 days unless first payment where payment.amount > 0

milestone converted { first payment where payment.amount > 0  reward referrer cash 50 USD }
"""


def _referral(event_id: str, at: str, referrer: str, referee: str = "zed", **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "at": at, "type": "referral", "referrer": referrer, "referee": referee, **fields}


def _payment(event_id: str, at: str, amount: str, referee: str = "zed") -> dict[str, Any]:
    return {"id": event_id, "at": at, "type": "payment", "referee": referee, "amount": amount}


def _awards(result: rewardrules.ScoreResult) -> list[tuple[str, str, str, str]]:
    return [(a["milestone"], a["beneficiary"], a["amount"], a["status"]) for a in result.data["awards"]]


def _codes(text: str) -> list[str]:
    return [d.code for d in rewardrules.check_source(text)]


# -- ignoring case --------------------------------------------------------------


CASES = """
event referral { source: optional text }
event payment { amount: money USD }

program eq { eligible when referral.source == "STRASSE" ignoring case
  milestone m_eq { first payment  reward referrer cash 1 USD } }
program ne { eligible when referral.source != "partner" ignoring case
  milestone m_ne { first payment  reward referrer cash 2 USD } }
program inside { eligible when referral.source in ["Partner", "affiliate"] ignoring case
  milestone m_in { first payment  reward referrer cash 3 USD } }
program outside { eligible when referral.source not in ["PARTNER"] ignoring case
  milestone m_out { first payment  reward referrer cash 4 USD } }
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Straße", {"m_eq", "m_ne", "m_out"}),  # ß folds to ss
        ("strasse", {"m_eq", "m_ne", "m_out"}),
        ("pArTnEr", {"m_in"}),
        ("AFFILIATE", {"m_ne", "m_in", "m_out"}),
        ("İstanbul", {"m_ne", "m_out"}),  # no locale: the dotted I is no `i`
        (None, set()),  # a missing value: every comparison is false, `!=` and `not in` too
    ],
)
def test_ignoring_case_compares_case_foldings(source: str | None, expected: set[str]) -> None:
    program = rewardrules.compile(CASES)
    referral = _referral("r1", "2026-01-01T00:00:00Z", "ann", **({"source": source} if source else {}))
    result = program.score([referral, _payment("p1", "2026-01-02T00:00:00Z", "10")])
    assert {a["milestone"] for a in result.data["awards"]} == expected


def test_without_ignoring_case_texts_compare_exactly() -> None:
    program = rewardrules.compile(CASES.replace(" ignoring case", ""))
    referral = _referral("r1", "2026-01-01T00:00:00Z", "ann", source="PARTNER")
    result = program.score([referral, _payment("p1", "2026-01-02T00:00:00Z", "10")])
    assert {a["milestone"] for a in result.data["awards"]} == {"m_ne"}


def test_ignoring_case_on_a_field_on_both_sides() -> None:
    text = """
event referral { source: optional text, campaign: optional text }
event payment { amount: money USD }
eligible when referral.source == referral.campaign ignoring case
milestone m { first payment  reward referrer cash 1 USD }
"""
    program = rewardrules.compile(text)
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "ann", "bob", source="Spring", campaign="SPRING"),
        _referral("r2", "2026-01-01T00:00:00Z", "ann", "cat", source="Spring", campaign="summer"),
        _payment("p1", "2026-01-02T00:00:00Z", "10", "bob"),
        _payment("p2", "2026-01-02T00:00:00Z", "10", "cat"),
    ]
    assert [a["referee"] for a in program.score(events).data["awards"]] == ["bob"]


@pytest.mark.parametrize(
    "condition",
    ["payment.amount == 5 USD ignoring case", "payment.amount in [5 USD] ignoring case", "true == false ignoring case"],
)
def test_ignoring_case_is_refused_on_values_that_are_not_texts(condition: str) -> None:
    text = f"event payment {{ amount: money USD }}\nmilestone m {{ first payment where {condition}  reward referrer cash 1 USD }}"
    assert _codes(text) == ["RR214"]


def test_ignoring_case_is_formatted_and_round_trips() -> None:
    messy = 'event referral { source: optional text }\neligible when referral.source=="a"   ignoring   case or referral.source not in ["b",] ignoring case\nmilestone m { first referral reward referee discount 5 percent }'
    formatted, problems = format_text(messy)
    assert problems == [] and formatted is not None
    assert (
        'eligible when referral.source == "a" ignoring case or referral.source not in ["b"] ignoring case' in formatted
    )
    assert format_text(formatted)[0] == formatted


def test_strict_warns_about_case_variants_in_a_list(tmp_path: Any) -> None:
    from rewardrules.check.checker import check_text
    from rewardrules.check.lint import lint

    text = 'event referral { source: optional text }\neligible when referral.source in ["partner", "PARTNER"]\nmilestone m { first referral reward referee discount 5 percent }'
    checked, _ = check_text(text)
    assert checked is not None
    assert [w.code for w in lint(checked)] == ["RR620"]


# -- attribution: the checker and fmt ------------------------------------------------


@pytest.mark.parametrize(
    ("line", "codes"),
    [
        ("attribution lats referral before first payment", ["RR116"]),
        ("attribution last referrals before first payment", ["RR116"]),
        ("attribution last referral before first referral", ["RR215"]),
        ("attribution last referral before first paymnt", ["RR101"]),
        ("attribution last referral", ["RR323"]),
        ("attribution first referral before first payment", ["RR323"]),
        ("attribution first referral lapses after 30 days", ["RR323"]),
        ("attribution first referral lapses after 0 days unless first payment", ["RR304"]),
        ("attribution first referral lapses after 3 fortnights unless first payment", ["RR109"]),
        ("attribution last referral before first payment where referral.source == 1", ["RR204"]),
        ("attribution first referral\n  attribution last referral before first payment", ["RR322"]),
    ],
)
def test_attribution_mistakes_are_reported(line: str, codes: list[str]) -> None:
    text = f"event referral {{ source: optional text }}\nevent payment {{ amount: money USD }}\n{line}\nmilestone m {{ first payment  reward referrer cash 1 USD }}"
    found = _codes(text)
    assert found[: len(codes)] == codes, found


def test_an_unknown_model_gets_the_nearest_one() -> None:
    text = "event payment { amount: money USD }\nattribution lats referral before first payment\nmilestone m { first payment  reward referrer cash 1 USD }"
    (problem,) = rewardrules.check_source(text)
    assert problem.help == "did you mean `last`?"


@pytest.mark.parametrize(
    "line",
    [
        "attribution first referral",
        "attribution last referral before first payment",
        "attribution last referral before first payment where payment.amount > 0",
        "attribution first referral lapses after 30 days unless first payment where payment.amount > 0",
        "attribution last referral lapses after 2 weeks unless first payment",
    ],
)
def test_every_attribution_form_checks_formats_and_round_trips(line: str) -> None:
    text = f"event payment {{ amount: money USD }}\nprogram p {{\n  {line}\n  milestone m {{ first payment  reward referrer cash 1 USD }}\n}}"
    assert rewardrules.check_source(text) == []
    formatted, _ = format_text(text.replace(" ", "   "))
    assert formatted is not None and f"  {line}\n" in formatted


def test_fmt_writes_the_word_the_model_reads_with() -> None:
    text = "event payment { amount: money USD }\nattribution last referral unless first payment\nmilestone m { first payment  reward referrer cash 1 USD }"
    formatted, _ = format_text(text)
    assert formatted is not None and "attribution last referral before first payment\n" in formatted


# -- attribution: scoring -------------------------------------------------------------


def _last_ledger() -> list[dict[str, Any]]:
    return [
        _referral("r1", "2026-01-01T00:00:00Z", "ann"),
        _payment("p1", "2026-01-02T00:00:00Z", "50"),  # no conversion (below 100): ann still earns on it
        _referral("r2", "2026-01-03T00:00:00Z", "ben"),  # ben takes zed
        _payment("p2", "2026-01-04T00:00:00Z", "60"),
        _payment("p3", "2026-01-05T00:00:00Z", "100"),  # the conversion: ben holds zed for good
        _referral("r3", "2026-01-06T00:00:00Z", "cat"),  # too late: a duplicate
        _payment("p4", "2026-01-07T00:00:00Z", "70"),
    ]


def test_the_last_referral_before_the_conversion_takes_the_referee() -> None:
    result = rewardrules.compile(LAST).score(_last_ledger(), as_of="2026-03-01T00:00:00Z")
    assert _awards(result) == [
        ("each_payment", "ann", "5.00", "confirmed"),  # ann's, before the switch: it stays
        ("held_bonus", "ann", "5.00", "confirmed"),
        ("each_payment", "ben", "6.00", "confirmed"),
        ("held_bonus", "ben", "5.00", "confirmed"),
        ("each_payment", "ben", "10.00", "confirmed"),
        ("two_payments", "ben", "7.00", "confirmed"),  # ben's own second payment: p1 was ann's
        ("each_payment", "ben", "7.00", "confirmed"),
    ]
    assert result.data["reversals"] == []
    ids = [a["id"] for a in result.data["awards"]]
    assert len(set(ids)) == len(ids)
    (rejected,) = result.data["rejected"]
    assert (rejected["event"], rejected["reason"]) == ("r3", "duplicate_referral")
    assert rejected["detail"] == (
        "`zed` was already referred by `ann` (event `r1`), then `ben` (event `r2`); "
        "program `<rules>`: the referee converted (`first payment`)"
    ).replace("<rules>", result.data["ruleset"])


def test_a_void_after_the_switch_still_voids_the_earlier_referrals_held_award() -> None:
    events = [
        *_last_ledger()[:3],
        {"id": "f1", "at": "2026-01-10T00:00:00Z", "type": "refund", "referee": "zed", "payment": "p1"},
    ]
    result = rewardrules.compile(LAST).score(events, as_of="2026-03-01T00:00:00Z")
    statuses = {(a["milestone"], a["beneficiary"]): a["status"] for a in result.data["awards"]}
    assert statuses[("held_bonus", "ann")] == "void"


def test_a_referrer_takes_a_referee_once() -> None:
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "ann"),
        _referral("r2", "2026-01-02T00:00:00Z", "ben"),
        _referral("r3", "2026-01-03T00:00:00Z", "ann"),  # ann again: a duplicate, ben keeps zed
        _payment("p1", "2026-01-04T00:00:00Z", "100"),
    ]
    result = rewardrules.compile(LAST).score(events)
    assert {a["beneficiary"] for a in result.data["awards"]} == {"ben"}
    (rejected,) = result.data["rejected"]
    assert rejected["event"] == "r3" and "`ann` referred `zed` before" in rejected["detail"]


def test_a_lapse_is_inclusive_and_lets_a_later_referral_take_the_referee() -> None:
    program = rewardrules.compile(WINDOW)
    on_time = [_referral("r1", "2026-01-01T00:00:00Z", "ann"), _payment("p1", "2026-01-31T00:00:00Z", "10")]
    assert _awards(program.score(on_time)) == [("converted", "ann", "50.00", "confirmed")]
    late = [_referral("r1", "2026-01-01T00:00:00Z", "ann"), _payment("p1", "2026-01-31T00:00:00.000000001Z", "10")]
    assert _awards(program.score(late)) == []
    taken = [
        _referral("r1", "2026-01-01T00:00:00Z", "ann"),
        _referral("r2", "2026-01-31T00:00:00Z", "ben"),  # exactly 30 days: ann's still holds
        _referral("r3", "2026-01-31T00:00:00.000000001Z", "cat"),  # past it: cat takes zed
        _payment("p1", "2026-02-01T00:00:00Z", "10"),
    ]
    result = program.score(taken)
    assert _awards(result) == [("converted", "cat", "50.00", "confirmed")]
    assert [r["event"] for r in result.data["rejected"]] == ["r2"]


def test_default_attribution_is_unchanged() -> None:
    program = rewardrules.compile(WINDOW.replace("attribution first referral lapses after 30 days unless", "#"))
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "ann"),
        _referral("r2", "2026-03-01T00:00:00Z", "ben"),
        _payment("p1", "2026-03-02T00:00:00Z", "10"),
    ]
    result = program.score(events)
    assert _awards(result) == [("converted", "ann", "50.00", "confirmed")]
    assert result.data["rejected"][0]["detail"] == "`zed` was already referred by `ann` (event `r1`)"


def test_explain_says_who_holds_the_referee_and_why() -> None:
    result = rewardrules.compile(LAST).score(_last_ledger())
    ann, ben = result.data["referrals"]
    (ann_program,) = ann["programs"]
    (ben_program,) = ben["programs"]
    assert ann_program["holds"] is False and ben_program["holds"] is True
    assert ann_program["attribution"].startswith("`ben` took `zed` with event `r2` at 2026-01-03T00:00:00Z")
    assert ben_program["attribution"] == "holds `zed` for good: it converted (`first payment`)"
    assert ann_program["milestones"][0]["awards"] == [result.data["awards"][0]["id"]]


def test_batch_stream_session_snapshots_and_shuffles_agree() -> None:
    program = rewardrules.load(RULESETS / "affiliate_attribution.rules")
    events = [
        _referral("r1", "2026-03-01T00:00:00Z", "a1", "bob", source="partner"),
        _referral("r2", "2026-03-01T00:00:00Z", "f1", "cy", source="friend"),
        _referral("r3", "2026-03-05T00:00:00Z", "a2", "bob", source="AFFILIATE"),
        _referral("r4", "2026-03-06T00:00:00Z", "a3", "cy", source="Partner"),
        _referral("r5", "2026-04-02T00:00:00Z", "f2", "cy", source="Friend"),
        _payment("p1", "2026-04-03T00:00:00Z", "100.00", "bob"),
        _payment("p2", "2026-04-04T00:00:00Z", "100.00", "cy"),
    ]
    batch = program.score(events).to_json()
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    assert program.score(shuffled).to_json() == batch
    assert program.score_stream([json.dumps(e) for e in events]).to_json() == batch
    for split in range(len(events) + 1):
        session = program.session()
        for event in events[:split]:
            session.add(event)
        snapshot = session.snapshot()
        resumed = program.restore(snapshot)
        for event in events[split:]:
            resumed.add(event)
        assert resumed.result().to_json() == batch, f"split at {split}"
    data = json.loads(snapshot)
    assert {"links", "converted"} <= set(data["referrals"][0])
    awarded = {(a["milestone"], a["beneficiary"], a["amount"]) for a in json.loads(batch)["awards"]}
    # bob: a2's click is the last before p1, but p1 is 29 days after it: a2 earns.
    # cy: f1 lapsed (03-31); a3's click takes cy in affiliates, but p2 is 29 days
    # after it; f2 takes cy in friends (after f1's lapse) and p2 converts it.
    assert awarded == {
        ("affiliate_sale", "a2", "20.00"),
        ("affiliate_sale", "a3", "20.00"),
        ("friend_bonus", "f2", "25.00"),
        ("friend_bonus", "cy", "10.00"),
    }


def test_a_snapshot_without_attribution_fields_still_loads() -> None:
    program = rewardrules.compile(LAST)
    session = program.session()
    for event in _last_ledger()[:2]:
        session.add(event)
    data = json.loads(session.snapshot())
    for referral in data["referrals"]:
        del referral["links"], referral["converted"]
    for award in data["awards"]:
        del award["referrer"]
    resumed = program.restore(json.dumps(data))
    for event in _last_ledger()[2:]:
        resumed.add(event)
    assert resumed.result().to_json() == program.score(_last_ledger()).to_json()


def test_bounds_say_a_referee_may_pay_once_per_referral_that_takes_it() -> None:
    from rewardrules.check.bounds import bounds
    from rewardrules.check.checker import check_text

    checked, _ = check_text((RULESETS / "affiliate_attribution.rules").read_text(), "affiliate_attribution.rules")
    assert checked is not None
    found = bounds(checked)
    programs: Any = found.to_dict()["programs"]
    affiliates, friends = programs
    assert affiliates["attribution"].startswith("attribution last referral lapses after 30 days")
    assert friends["attribution"].startswith("attribution first referral lapses after 30 days")
    assert "per referee: the bounds per referral, once for each referral that takes it" in found.render()
    prezi, _ = check_text((RULESETS / "prezi.rules").read_text())
    assert prezi is not None
    default: Any = bounds(prezi).to_dict()["programs"]
    assert default[0]["attribution"] is None
    assert "per referee" not in bounds(prezi).render()


def test_awards_of_one_event_to_two_referrals_are_in_file_order() -> None:
    text = """
event referral { source: optional text }
event payment { amount: money USD }
program first_program {
  attribution last referral before first payment where payment.amount > 100
  eligible when referral.source == "b"
  milestone early { each payment  reward referrer cash 1 USD }
}
program second_program {
  eligible when referral.source == "a"
  milestone late { each payment  reward referrer cash 2 USD }
}
"""
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "ann", source="a"),  # second_program's, for good
        _referral("r2", "2026-01-02T00:00:00Z", "ben", source="b"),  # takes zed in first_program
        _payment("p1", "2026-01-03T00:00:00Z", "10"),
    ]
    program = rewardrules.compile(text)
    batch = program.score(events)
    assert [(a["milestone"], a["beneficiary"]) for a in batch.data["awards"]] == [("early", "ben"), ("late", "ann")]
    session = program.session()
    issued = [a.id for e in events for a in session.add(e)]
    assert issued == [a["id"] for a in batch.data["awards"]]
    assert session.result().to_json() == batch.to_json()


def test_a_later_referral_eligible_where_the_referee_stays_put_says_so() -> None:
    text = """
event payment { amount: money USD }
program moving {
  attribution last referral before first payment
  milestone m1 { first payment  reward referrer cash 1 USD }
}
program staying {
  milestone m2 { first payment  reward referrer cash 2 USD }
}
"""
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "ann"),
        _referral("r2", "2026-01-02T00:00:00Z", "ben"),
        _payment("p1", "2026-01-03T00:00:00Z", "10"),
    ]
    program = rewardrules.compile(text)
    result = program.score(events)
    assert [(a["milestone"], a["beneficiary"]) for a in result.data["awards"]] == [("m1", "ben"), ("m2", "ann")]
    ben = result.data["referrals"][1]
    staying = next(p for p in ben["programs"] if p["program"] == "staying")
    assert staying == {
        "program": "staying",
        "eligible": False,
        "why": "not counted: `zed` was already referred by `ann` (event `r1`) in this program",
    }
    traced = score_traced(program, [json.dumps(e).encode() for e in events], None)
    told = explain(traced.data, program=program, voids=traced.voids, referee="zed")
    assert "    attribution: program `staying`: not counted: `zed` was already referred by `ann`" in told
    assert "    attribution: program `moving`: `ben` took `zed` with event `r2`" in told


def test_a_referee_has_at_most_a_bounded_number_of_referrals() -> None:
    from rewardrules.core.limits import MAX_REFERRALS_PER_REFEREE

    program = rewardrules.compile(LAST)
    events = [
        _referral(f"r{n:04d}", f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z", f"p{n:04d}")
        for n in range(MAX_REFERRALS_PER_REFEREE + 2)
    ]
    events.append(_payment("pay", "2026-01-02T00:00:00Z", "100"))
    result = program.score(events)
    assert len(result.data["referrals"]) == MAX_REFERRALS_PER_REFEREE
    last = f"p{MAX_REFERRALS_PER_REFEREE - 1:04d}"
    assert {a["beneficiary"] for a in result.data["awards"]} == {last}
    rejected = result.data["rejected"]
    assert [r["event"] for r in rejected] == [
        f"r{n:04d}" for n in range(MAX_REFERRALS_PER_REFEREE, MAX_REFERRALS_PER_REFEREE + 2)
    ]
    assert f"it has {MAX_REFERRALS_PER_REFEREE} referrals, the most one referee may have" in rejected[0]["detail"]


def test_a_referral_that_no_longer_holds_its_referee_keeps_its_metrics_as_they_were() -> None:
    result = rewardrules.compile(LAST).score(_last_ledger())
    ann, ben = result.data["referrals"]
    assert ann["programs"][0]["metrics"] == {"paid": "1"}  # p1 only: ben took zed before p2
    assert ben["programs"][0]["metrics"] == {"paid": "3"}


def test_an_attribution_line_after_an_unclosed_milestone_names_the_block() -> None:
    text = "event payment { amount: money USD }\nprogram p {\n  milestone m { first payment reward referrer cash 1 USD\n  attribution last referral before first payment\n}\n"
    (problem,) = rewardrules.check_source(text)
    assert problem.message == "milestone `m` is never closed: `attribution` on line 4 cannot be inside it"
