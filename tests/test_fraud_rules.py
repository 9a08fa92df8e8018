"""Eligibility that reads behaviour (issue 17, "Fraud and eligibility that
look at behaviour"): `count earlier referrals [where C] [within D]`, a
metric over the referrer's referral events before a referral, and
`X in / not in earlier referrals.F`, whether one of them held X in F.

The rulesets here are small and the expected values worked out by hand in
the comments; rulesets/referral_fraud.rules and its golden ledgers
(tests/golden/referral_fraud) carry the larger cases, which the golden,
stream, snapshot and property tests run too.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import rewardrules
from rewardrules.check.bounds import bounds
from rewardrules.check.checker import check_text
from rewardrules.report.explain import explain
from rewardrules.snapshot import SnapshotError
from rewardrules.syntax.formatter import format_text

from .conftest import RULESETS

VELOCITY = """
event referral { source: optional text }
metric recent = count earlier referrals within 24 hours
metric partner_recent = count earlier referrals where referral.source == "partner" within 24 hours
eligible when recent < 2
milestone joined { when true  reward referrer cash 5 USD }
"""

SHARES = """
event referral { device: optional text, score: optional number }
eligible when referral.device is not set or referral.device not in earlier referrals.device
milestone joined { when true  reward referrer cash 5 USD }
milestone same_score { when referral.score in earlier referrals.score  reward referee credit 1 USD }
"""


def _referral(event: str, at: str, referrer: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": event, "at": at, "type": "referral", "referrer": referrer, "referee": referee, **fields}


def _awarded(result: Any) -> list[tuple[str, str]]:
    return sorted((a["milestone"], a["referee"]) for a in result.data["awards"])


# -- velocity ---------------------------------------------------------------


def test_velocity_counts_earlier_referrals_of_every_outcome_in_an_inclusive_window() -> None:
    program = rewardrules.compile(VELOCITY)
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "al", "b1"),
        _referral("r2", "2026-01-01T01:00:00Z", "al", "b2"),
        # 2 earlier within 24 h: not below 2, ineligible (and still counted later)
        _referral("r3", "2026-01-01T02:00:00Z", "al", "b3"),
        # window from 2026-01-01T01:00: r2 (exactly 24 h before) and r3 = 2: ineligible
        _referral("r4", "2026-01-02T01:00:00Z", "al", "b4"),
        # window from 2026-01-01T02:00:01: only r4 = 1 (r3 is a second too old): eligible
        _referral("r5", "2026-01-02T02:00:01Z", "al", "b5"),
        # another referrer's burst does not count for al
        _referral("x1", "2026-01-02T02:00:01Z", "zed", "c1"),
        # a duplicate of b1 and a self-referral are al's referral events too: window
        # from 2026-01-01T03:00: r4, r5 = 2 already, so both are rejected, then b6 has 4
        _referral("r6", "2026-01-02T03:00:00Z", "al", "b1"),
        _referral("r7", "2026-01-02T03:00:00Z", "al", "al"),
        _referral("r8", "2026-01-02T03:00:01Z", "al", "b6"),
    ]
    result = program.score(events)
    assert _awarded(result) == [("joined", "b1"), ("joined", "b2"), ("joined", "b5"), ("joined", "c1")]
    rejected = {r["event"]: r for r in result.data["rejected"]}
    assert {e: r["reason"] for e, r in rejected.items()} == {
        "r3": "ineligible",
        "r4": "ineligible",
        "r6": "duplicate_referral",
        "r7": "self_referral",
        "r8": "ineligible",
    }
    assert rejected["r8"]["rules"] == [{"program": "_rules_", "rule": "recent < 2", "values": {"recent": "4"}}]
    assert rejected["r8"]["detail"] == "`recent < 2` is false (recent = 4)"
    assert rejected["r4"]["rules"][0]["values"] == {"recent": "2"}


def test_a_filter_on_earlier_referrals_reads_the_earlier_referral() -> None:
    program = rewardrules.compile(VELOCITY.replace("eligible when recent < 2", "eligible when partner_recent < 1"))
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "al", "b1", source="web"),
        _referral("r2", "2026-01-01T01:00:00Z", "al", "b2", source="partner"),
        # earlier within 24 h from a partner: r2 = 1: ineligible, although b3 is "web"
        _referral("r3", "2026-01-01T02:00:00Z", "al", "b3", source="web"),
    ]
    result = program.score(events)
    assert _awarded(result) == [("joined", "b1"), ("joined", "b2")]
    referral = next(r for r in result.data["referrals"] if r["referee"] == "b3")
    assert referral["programs"][0]["values"] == {"partner_recent": "1"}


def test_velocity_is_order_independent_with_ties_broken_by_id() -> None:
    program = rewardrules.compile(VELOCITY)
    # three referrals at one instant: "r10" < "r2" < "r9" in string order, so r10
    # and r2 are eligible (0 and 1 earlier) and r9 is not (2 earlier)
    events = [
        _referral("r9", "2026-01-01T00:00:00Z", "al", "b9"),
        _referral("r2", "2026-01-01T00:00:00Z", "al", "b2"),
        _referral("r10", "2026-01-01T00:00:00Z", "al", "b10"),
    ]
    expected = program.score(events).to_json()
    assert _awarded(program.score(events)) == [("joined", "b10"), ("joined", "b2")]
    for seed in range(5):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        assert program.score(shuffled).to_json() == expected


# -- shared attributes -------------------------------------------------------


def test_a_shared_device_is_found_per_referrer_and_named_in_the_rejection() -> None:
    program = rewardrules.compile(SHARES)
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "al", "b1", device="d-1"),
        _referral("r2", "2026-01-02T00:00:00Z", "al", "b2"),  # no device: accepted
        _referral("r3", "2026-01-03T00:00:00Z", "al", "b3", device="d-1"),  # as r1: rejected
        _referral("r4", "2026-01-03T00:00:00Z", "zed", "b4", device="d-1"),  # zed's first: accepted
        _referral("r5", "2026-01-04T00:00:00Z", "al", "b5", device="d-1"),  # as r1 and r3: names r3
    ]
    result = program.score(events)
    assert _awarded(result) == [("joined", "b1"), ("joined", "b2"), ("joined", "b4")]
    rejected = {r["event"]: r for r in result.data["rejected"]}
    rule = "referral.device is not set or referral.device not in earlier referrals.device"
    assert rejected["r3"]["rules"] == [
        {"program": "_rules_", "rule": rule, "values": {"referral.device": "d-1", "earlier referrals.device": "r1"}}
    ]
    # the latest earlier referral event that held the value
    assert rejected["r5"]["rules"][0]["values"]["earlier referrals.device"] == "r3"
    assert rejected["r5"]["detail"] == f'`{rule}` is false (device = "d-1", earlier referral r3 has the same device)'


def test_a_test_of_earlier_referrals_in_a_milestone_is_settled_at_the_referral() -> None:
    program = rewardrules.compile(SHARES)
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "al", "b1", score="1.0"),
        # 1 and 1.0 are one number: b2 gets same_score, b3 (score 2) does not
        _referral("r2", "2026-01-02T00:00:00Z", "al", "b2", score=1),
        _referral("r3", "2026-01-03T00:00:00Z", "al", "b3", score=2),
        # b4 has no score: `in` with no value is false
        _referral("r4", "2026-01-04T00:00:00Z", "al", "b4"),
    ]
    result = program.score(events)
    assert [a for a in _awarded(result) if a[0] == "same_score"] == [("same_score", "b2")]
    # a later referral with the same score does not give b1 one: b1's test is settled
    later = program.score([*events, _referral("r5", "2026-01-05T00:00:00Z", "al", "b5", score=1)])
    assert [a for a in _awarded(later) if a[0] == "same_score"] == [("same_score", "b2"), ("same_score", "b5")]


def test_explain_says_which_rule_rejected_a_referral_and_why() -> None:
    program = rewardrules.compile(SHARES)
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "al", "b1", device="d-1"),
        _referral("r2", "2026-01-02T00:00:00Z", "al", "b2", device="d-1"),
    ]
    text = explain(program.score(events).data, program=program)
    assert (
        "  b2, referred 2026-01-02T00:00:00Z (event r2)\n"
        "    not eligible: `referral.device is not set or referral.device not in earlier referrals.device` "
        'is false (device = "d-1", earlier referral r1 has the same device)\n'
    ) in text


def test_each_program_names_its_own_rule_when_all_refuse() -> None:
    program = rewardrules.compile(
        """
        event referral { device: optional text }
        metric recent = count earlier referrals within 1 hours
        program quick { eligible when recent < 1  milestone a { when true  reward referrer cash 5 USD } }
        program careful {
          eligible when referral.device is set
          milestone b { when true  reward referrer cash 5 USD }
        }
        """
    )
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "al", "b1", device="d"),
        _referral("r2", "2026-01-01T00:30:00Z", "al", "b2"),
    ]
    rejected = program.score(events).data["rejected"]
    assert [r["event"] for r in rejected] == ["r2"]
    assert rejected[0]["rules"] == [
        {"program": "quick", "rule": "recent < 1", "values": {"recent": "1"}},
        {"program": "careful", "rule": "referral.device is set", "values": {"referral.device": None}},
    ]
    assert rejected[0]["detail"] == (
        "program `quick`: `recent < 1` is false (recent = 1); "
        "program `careful`: `referral.device is set` is false (device is not set)"
    )


# -- batch, stream, session and snapshots ------------------------------------


BOTH = """
event referral { device: optional text, source: optional text }
metric recent = count earlier referrals where referral.source == "partner" within 12 hours
eligible when recent < 2
eligible when referral.device not in earlier referrals.device
milestone joined { when true  reward referrer cash 5 USD }
milestone again { when referral.source in earlier referrals.source  reward referee credit 1 USD }
"""


def _ledger() -> list[dict[str, Any]]:
    at = [f"2026-02-0{d}T{h:02d}:00:00Z" for d in (1, 2) for h in (0, 6, 12, 18)]
    people = ["al", "al", "zed", "al", "al", "zed", "al", "al"]
    return [
        _referral(f"r{i}", when, who, f"p{i}", device=f"d{i % 3}", source="partner" if i % 2 else "web")
        for i, (when, who) in enumerate(zip(at, people, strict=True))
    ]


def test_batch_stream_and_a_restored_session_agree() -> None:
    program = rewardrules.compile(BOTH)
    events = _ledger()
    batch = program.score(events)
    lines = [json.dumps(e) for e in events]
    assert program.score_stream(lines).to_json() == batch.to_json()
    for split in range(len(events) + 1):
        first = program.session()
        for event in events[:split]:
            first.add(event)
        snapshot = first.snapshot()
        resumed = program.restore(snapshot)
        for event in events[split:]:
            resumed.add(event)
        assert resumed.result().to_json() == batch.to_json(), f"split at {split}"
    assert json.loads(snapshot)["history"]


def test_a_damaged_history_in_a_snapshot_is_refused() -> None:
    program = rewardrules.compile(VELOCITY)
    session = program.session()
    for event in _ledger()[:3]:
        session.add(event)
    data = json.loads(session.snapshot())
    al = next(h for h in data["history"] if h["referrer"] == "al")
    assert len(al["counts"][0]) == 2
    al["counts"][0].reverse()  # out of order: counting in a window relies on the order
    with pytest.raises(SnapshotError, match=r"`history\[\d\]\.counts\[0\]`: expected instants in increasing order"):
        program.restore(json.dumps(data))
    al["counts"] = []
    with pytest.raises(SnapshotError, match=r"expected 2 item\(s\), found 0"):
        program.restore(json.dumps(data))


def test_a_snapshot_without_history_still_restores() -> None:
    """Snapshots taken before `history` existed (of rules that could not
    read it) restore as before."""
    program = rewardrules.load(RULESETS / "prezi.rules")
    session = program.session()
    session.add(_referral("r1", "2026-01-01T00:00:00Z", "al", "b1"))
    data = json.loads(session.snapshot())
    assert data.pop("history") == []
    assert program.restore(json.dumps(data)).result().to_json() == session.result().to_json()


# -- check, fmt --------------------------------------------------------------


def _codes(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in rewardrules.check_source(text) if d.span is not None]


@pytest.mark.parametrize(
    ("line", "code", "column"),
    [
        # `earlier` applies to referrals only
        ("metric x = count earlier referals", "RR113", 26),
        # only counts over earlier referrals
        ("metric x = sum earlier referrals.device", "RR313", 12),
        ("metric x = count earlier referrals otherwise 0", "RR313", 46),
        # eligibility reads only what is settled at the referral
        ("eligible when paid < 1", "RR209", 15),
        ("eligible when twice_recent < 1", "RR209", 0),
        # the value compared must be settled at the referral
        ("metric x = count payment where payment.device in earlier referrals.device", "RR208", 32),
        # no referral is judged inside a filter of earlier referrals
        ("metric x = count earlier referrals where referral.device in earlier referrals.device", "RR208", 42),
        ("eligible when referral.device in earlier referrals.devise", "RR102", 52),
        # one test may not compare the outcome of another (they are settled in turn)
        ("eligible when (referral.device in earlier referrals.device) in earlier referrals.device", "RR208", 0),
        ("eligible when referral.at in earlier referrals.device", "RR201", 15),
    ],
)
def test_mistakes_with_earlier_referrals_are_reported(line: str, code: str, column: int) -> None:
    text = (
        "event referral { device: optional text }\n"
        "event payment { device: text }\n"
        "metric paid = count payment\n"
        "metric twice_recent = 2 * paid\n"
        f"{line}\n"
        "milestone m { when true  reward referrer cash 5 USD }\n"
    )
    found = _codes(text)
    if column:
        assert (code, 5, column) in found, found
    else:
        assert any(c == code and ln == 5 for c, ln, _ in found), found


def test_eligibility_may_read_a_formula_over_earlier_referrals() -> None:
    program = rewardrules.compile(
        """
        metric recent = count earlier referrals within 7 days
        metric allowance = 3 - recent
        eligible when allowance > 0
        milestone m { when true  reward referrer cash 5 USD }
        """
    )
    events = [_referral(f"r{i}", f"2026-01-0{i + 1}T00:00:00Z", "al", f"b{i}") for i in range(5)]
    # 0, 1, 2 earlier: eligible; 3 and 4 earlier: allowance 0 and -1
    assert [a["referee"] for a in program.score(events).data["awards"]] == ["b0", "b1", "b2"]


def test_fmt_writes_the_new_constructs_back_as_they_parse() -> None:
    text = (
        "event referral { ip: optional text }\n"
        'metric recent = count   earlier   referrals where referral.ip == "x"  within 24 hours\n'
        "eligible when not (referral.ip not   in earlier referrals.ip) or referral.ip in earlier  referrals.ip\n"
        "milestone m { when true reward referrer cash 5 USD }\n"
    )
    formatted, problems = format_text(text)
    assert problems == [] and formatted is not None
    assert 'metric recent = count earlier referrals where referral.ip == "x" within 24 hours\n' in formatted
    # `not` binds looser than a comparison: no parentheses needed
    assert (
        "eligible when not referral.ip not in earlier referrals.ip or referral.ip in earlier referrals.ip\n"
    ) in formatted
    assert format_text(formatted)[0] == formatted
    assert rewardrules.check_source(formatted) == []


# -- bounds ----------------------------------------------------------------


def _referrer_bounds(text: str) -> list[dict[str, Any]]:
    checked, problems = check_text(text)
    assert checked is not None and problems == []
    per_referrer: list[dict[str, Any]] = bounds(checked).to_dict()["programs"][0]["per_referrer"]
    return per_referrer


def test_bounds_per_period_follow_a_velocity_rule() -> None:
    # at most 2 eligible referrals in any 12 hours, each paying 5 USD at the
    # referral itself: a day needs 2 windows of 12 hours, so 2 x 2 x 5 = 20;
    # a week 14 windows: 14 x 10 = 140; a month (31 days) 62: 620; a
    # quarter (92 days) 184: 1840; a year (366 days) 732: 7320
    text = """
    metric recent = count earlier referrals within 12 hours
    eligible when 2 > recent
    milestone joined { when true  reward referrer cash 5 USD }
    """
    (usd,) = _referrer_bounds(text)
    assert usd["max"] is None
    assert usd["per_period"] == {
        "day": "20.00",
        "week": "140.00",
        "month": "620.00",
        "quarter": "1840.00",
        "year": "7320.00",
    }


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # a filter: referrals it leaves out are not limited
        ("within 12 hours", 'where referral.source == "x" within 12 hours'),
        # the award may come any time after the referral
        ("when true", "first payment"),
        # `or` lets referrals past the limit through
        ("eligible when 2 > recent", "eligible when 2 > recent or referral.source is set"),
    ],
)
def test_bounds_ignore_what_does_not_limit_a_referrers_awards(old: str, new: str) -> None:
    text = (
        "event referral { source: optional text }\n"
        "event payment\n"
        "metric recent = count earlier referrals within 12 hours\n"
        "eligible when 2 > recent\n"
        "milestone joined { when true  reward referrer cash 5 USD }\n"
    ).replace(old, new)
    (usd,) = _referrer_bounds(text)
    assert usd["max"] is None and usd["per_period"] == {}


# -- the two attempts issue 17 found passing `check` silently ---------------


@pytest.mark.parametrize(
    ("metric", "code"),
    [
        ("count referral where referral.at >= referral.at - 24 hours", "RR612"),
        ("count referral within 24 hours", "RR609"),
    ],
)
def test_meaningless_velocity_attempts_are_warned_with_the_construct_to_use(metric: str, code: str) -> None:
    from rewardrules.check.lint import lint

    checked, problems = check_text(
        f"metric recent = {metric}\nmilestone m {{ when recent < 5  reward referrer cash 5 USD }}\n"
    )
    assert checked is not None and problems == []
    (warning,) = lint(checked)
    assert warning.code == code and warning.line == 1
    assert warning.help is not None and "`count earlier referrals within 24 hours`" in warning.help
