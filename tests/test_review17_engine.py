"""Review of issue 17's constructs together, scoring side: timers in a
program whose attribution moves (docs/semantics.md, "Timers" and
"Attribution"). A referral that lost its referee (taken by a later
referral, or lapsed) earns nothing more from its timers; the referral that
takes the referee starts its own; a held condition counted per referrer
stays its referrer's. Each case is scored batch, shuffled, streamed and
by a session snapshotted and restored after every event, byte for byte."""

from __future__ import annotations

import json
from typing import Any

import pytest

import rewardrules
from rewardrules.snapshot import SnapshotError

from .conftest import every_way as scored_every_way

LAPSING = """\
ruleset t
event payment { amount: money USD }
event subscription { mrr: money USD }
metric mrr = latest subscription.mrr otherwise 0 USD
program p {
  attribution first referral lapses after 20 days unless first payment where payment.amount > 0
  milestone still { after 30 days if mrr > 0 USD  reward referrer cash 50 USD }
  milestone held { when mrr >= 100 USD for 20 days  reward referrer cash 7 USD }
  milestone kept { after 10 days from subscription if mrr > 0 USD  reward referrer cash 3 USD }
}
"""


def ev(event_id: str, at: str, kind: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "at": f"2026-{at}T00:00:00Z", "type": kind, "referee": referee, **fields}


def referral(event_id: str, at: str, referrer: str, referee: str) -> dict[str, Any]:
    return ev(event_id, at, "referral", referee, referrer=referrer)


def every_way(program: rewardrules.Program, events: list[dict[str, Any]], as_of: str) -> dict[str, Any]:
    """The result, asserted the same every way (`conftest.every_way`)."""
    return dict(json.loads(scored_every_way(program, events, as_of)))


def paid(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(a["at"][:10], a["milestone"], a["beneficiary"], a["amount"]) for a in result["awards"]]


@pytest.fixture(scope="module")
def lapsing() -> rewardrules.Program:
    return rewardrules.compile(LAPSING, "t.rules")


def test_a_lapsed_referral_earns_nothing_from_its_timers(lapsing: rewardrules.Program) -> None:
    # alice's referral lapses after 2026-01-21 (no payment); no event comes
    # between then and her timers: they must still not pay her
    events = [referral("r1", "01-01", "alice", "bob"), ev("s1", "01-02", "subscription", "bob", mrr=150)]
    result = every_way(lapsing, events, "2026-03-30T00:00:00Z")
    assert paid(result) == [("2026-01-12", "kept", "alice", "3.00")]  # the one due while she held bob


def test_the_referral_that_takes_the_referee_runs_its_own_timers(lapsing: rewardrules.Program) -> None:
    events = [
        referral("r1", "01-01", "alice", "bob"),
        ev("s1", "01-02", "subscription", "bob", mrr=150),
        referral("r2", "01-25", "carol", "bob"),  # alice lapsed on 01-21: carol takes bob
        ev("p2", "01-26", "payment", "bob", amount=10),  # bob converts: carol's for good
        ev("s2", "01-27", "subscription", "bob", mrr=160),
    ]
    result = every_way(lapsing, events, "2026-03-30T00:00:00Z")
    assert paid(result) == [
        ("2026-01-12", "kept", "alice", "3.00"),
        ("2026-02-06", "kept", "carol", "3.00"),  # 10 days from carol's first subscription
        ("2026-02-16", "held", "carol", "7.00"),  # carol's mrr held 20 days from s2
        ("2026-02-24", "still", "carol", "50.00"),  # 30 days after carol's referral
    ]


def test_a_timer_at_the_lapse_instant_still_pays(lapsing: rewardrules.Program) -> None:
    # a lapse is inclusive: 20 days to the instant still holds (as for `within`)
    program = rewardrules.compile(LAPSING.replace("after 30 days if", "after 20 days if"), "t.rules")
    events = [referral("r1", "01-01", "alice", "bob"), ev("s1", "01-02", "subscription", "bob", mrr=150)]
    result = every_way(program, events, "2026-03-30T00:00:00Z")
    assert ("2026-01-21", "still", "alice", "50.00") in paid(result)


LAST = """\
ruleset t
event payment { amount: money USD }
event visit
metric paid = count payment where payment.amount > 0
metric visits = count visit
metric converted = count referrals where visits >= 1
program p {
  attribution last referral before first payment where payment.amount > 0
  milestone steady { when converted >= 1 for 5 days  reward referrer cash 100 USD }
  milestone month { after 30 days if paid >= 1  reward referrer cash 20 USD }
}
"""


def test_last_referral_a_held_condition_per_referrer_is_the_referrers_who_counted() -> None:
    program = rewardrules.compile(LAST, "t.rules")
    events = [
        referral("r1", "01-01", "alice", "bob"),
        referral("r2", "01-03", "carol", "bob"),  # the last before the payment: carol's
        ev("v1", "01-04", "visit", "bob"),  # counts for carol alone
        ev("p1", "01-05", "payment", "bob", amount=10),
    ]
    result = every_way(program, events, "2026-03-30T00:00:00Z")
    assert paid(result) == [("2026-01-09", "steady", "carol", "100.00"), ("2026-02-02", "month", "carol", "20.00")]


def test_a_restored_timer_of_a_later_referral_is_not_refused() -> None:
    program = rewardrules.compile(LAST, "t.rules")
    session = program.session()
    for event in [referral("r1", "01-01", "alice", "bob"), referral("r2", "01-03", "carol", "bob")]:
        session.add(event)
    session.add(ev("v1", "01-04", "visit", "bob"))
    data = json.loads(session.snapshot())
    assert {row[2] for row in data["timers"]} == {"bob", "carol"}
    restored = program.restore(session.snapshot())
    assert [a.beneficiary for a in restored.advance(to="2026-03-30T00:00:00Z")] == ["carol"]


def test_a_snapshot_timer_no_referral_can_hold_is_refused(lapsing: rewardrules.Program) -> None:
    program = rewardrules.compile(LAST, "t.rules")
    session = program.session()
    session.add(referral("r1", "01-01", "alice", "bob"))
    session.add(ev("v1", "01-04", "visit", "bob"))
    data = json.loads(session.snapshot())
    steady = next(row for row in data["timers"] if row[2] == "alice")
    steady[2] = "mallory"  # a referrer who referred nobody
    with pytest.raises(SnapshotError, match="timers"):
        program.restore(json.dumps(data))


def test_the_report_shows_a_timer_under_the_referral_it_belongs_to(lapsing: rewardrules.Program) -> None:
    events = [
        referral("r1", "01-01", "alice", "bob"),
        ev("s1", "01-02", "subscription", "bob", mrr=150),
        referral("r2", "01-25", "carol", "bob"),
        ev("p2", "01-26", "payment", "bob", amount=10),
    ]
    result = every_way(lapsing, events, "2026-02-10T00:00:00Z")
    rows = {
        r["referrer"]: {m["milestone"]: m.get("progress") for m in r["programs"][0]["milestones"]}
        for r in result["referrals"]
    }
    assert rows["alice"]["still"] == "no timer: the referral no longer holds the referee in the program"
    assert rows["carol"]["still"].startswith("timer started 2026-01-25T00:00:00Z (event r2); pays at 2026-02-24")


VELOCITY = """\
ruleset t
event referral { source: optional text }
event payment { amount: money USD }
metric velocity = count earlier referrals within 7 days
program p {
  eligible when velocity < 2 and referral.source not in earlier referrals.source
  attribution first referral lapses after 20 days unless first payment where payment.amount > 0
  milestone paid { first payment where payment.amount > 0  reward referrer cash 10 USD }
}
"""


def test_a_later_referral_is_judged_on_its_own_earlier_referrals() -> None:
    # carol's referral of bob comes after alice's lapsed: it takes bob when
    # carol's own history allows it (no referral before), and is refused
    # when it does not (two in the week before), with what `check` said
    program = rewardrules.compile(VELOCITY, "t.rules")
    taken = [
        {**referral("r1", "01-01", "alice", "bob"), "source": "a"},
        {**referral("r2", "01-25", "carol", "bob"), "source": "b"},
        ev("p1", "01-26", "payment", "bob", amount=10),
    ]
    result = every_way(program, taken, "2026-03-01T00:00:00Z")
    assert result["rejected"] == []
    assert paid(result) == [("2026-01-26", "paid", "carol", "10.00")]
    busy = [
        {**referral("x1", "01-20", "carol", "dan"), "source": "c"},
        {**referral("x2", "01-21", "carol", "eve"), "source": "d"},
        *taken,
    ]
    result = every_way(program, busy, "2026-03-01T00:00:00Z")
    assert [(r["event"], r["reason"], r["detail"]) for r in result["rejected"]] == [
        (
            "r2",
            "duplicate_referral",
            "`bob` was already referred by `alice` (event `r1`); "
            "program `p`: it is not eligible (`eligible when` is false)",
        )
    ]
    assert paid(result) == []


def test_a_snapshot_text_with_a_lone_surrogate_is_refused(lapsing: rewardrules.Program) -> None:
    session = lapsing.session()
    session.add(referral("r1", "01-01", "alice", "bob"))
    good = session.snapshot()
    for bad in (good.replace(b'"alice"', b'"al\\ud800ice"'), good.replace(b'"alice"', b'"al\xed\xa0\x80ice"')):
        with pytest.raises(SnapshotError, match="unpaired surrogate"):
            lapsing.restore(bad)
    pair = good.replace(b'"alice"', b'"al\\ud83d\\ude00ice"')  # a pair is one character: fine
    restored = json.loads(lapsing.restore(pair).result().to_json())
    assert restored["referrals"][0]["referrer"] == "al\U0001f600ice"


def test_a_snapshot_award_without_the_event_its_voids_read_is_refused() -> None:
    program = rewardrules.compile(
        "event payment { amount: money USD }\n"
        "event refund { payment: text, amount: money USD }\n"
        "milestone paid {\n"
        "  first payment where payment.amount > 0\n"
        "  reward referrer cash 10% of payment.amount\n"
        "  void refund.amount of payment.amount if refund where refund.payment == payment.id\n"
        "}\n",
        "t.rules",
    )
    session = program.session()
    session.add(referral("r1", "01-01", "alice", "bob"))
    session.add(ev("p1", "01-02", "payment", "bob", amount=200))
    data = json.loads(session.snapshot())
    for trigger in (None, data["referrals"][0]["fields"]):  # none, or a referral's fields
        data["awards"][0]["trigger"] = trigger
        with pytest.raises(SnapshotError, match=r"awards\[0\]\.trigger"):
            program.restore(json.dumps(data))


def test_a_timer_awards_why_gives_the_rate_tables_its_rewards_read() -> None:
    program = rewardrules.compile(
        "event payment { amount: money USD }\n"
        "metric revenue = sum payment.amount where payment.amount > 0\n"
        "metric rate = tiers of revenue { 0 USD to 99.99 USD: 10%  100 USD or more: 20% }\n"
        "metric bonus = tiers of revenue { 1 USD to 99.99 USD: 5 USD  100 USD or more: 9 USD }\n"
        "milestone month { after 30 days if revenue > 0 USD  reward referrer cash rate of revenue }\n"
        "milestone held { when revenue >= 50 USD for 3 days  reward referrer cash bonus }\n",
        "t.rules",
    )
    events = [referral("r1", "01-01", "alice", "bob"), ev("p1", "01-02", "payment", "bob", amount=150)]
    result = every_way(program, events, "2026-03-01T00:00:00Z")
    assert [(a["milestone"], a["amount"], a["why"]["values"]) for a in result["awards"]] == [
        ("held", "9.00", {"revenue": "150.00", "bonus": "9.00"}),
        ("month", "30.00", {"revenue": "150.00", "rate": "20"}),
    ]


def test_a_snapshot_timer_already_past_is_refused(lapsing: rewardrules.Program) -> None:
    session = lapsing.session()
    session.add(referral("r1", "01-01", "alice", "bob"))
    session.add(ev("s1", "01-02", "subscription", "bob", mrr=150))
    session.add(ev("x1", "01-05", "payment", "bob", amount=0))
    data = json.loads(session.snapshot())
    assert data["timers"]
    early = json.loads(json.dumps(data))
    early["timers"][0][0] -= 10 * 86_400 * 10**9  # due before the last event: it would fire out of order
    early["timers"][0][5] -= 10 * 86_400 * 10**9
    advanced = json.loads(json.dumps(data))
    advanced["clock"] = data["timers"][-1][0]  # advanced past every timer, which would then have fired
    for damaged in (early, advanced):
        with pytest.raises(SnapshotError, match=r"timers\[\d\]"):
            lapsing.restore(json.dumps(damaged))
    assert lapsing.restore(json.dumps(data)).advance(to="2026-03-01T00:00:00Z") == session.advance(
        to="2026-03-01T00:00:00Z"
    )


def test_a_snapshot_metric_of_another_type_is_refused(lapsing: rewardrules.Program) -> None:
    # `mrr` is the latest subscription's amount: a text there would fail at
    # the next timer test (`mrr > 0 USD`), a TypeError far from the snapshot
    session = lapsing.session()
    session.add(referral("r1", "01-01", "alice", "bob"))
    session.add(ev("s1", "01-02", "subscription", "bob", mrr=150))
    data = json.loads(session.snapshot())
    assert data["referrals"][0]["m"][0] == {"$d": "150"}
    for wrong in ("150", True, 150):
        data["referrals"][0]["m"][0] = wrong
        with pytest.raises(SnapshotError, match=r"referrals\[0\]\.m\[0\]"):
            lapsing.restore(json.dumps(data))


def test_a_referee_that_converts_in_a_later_program_first_snapshots() -> None:
    # two programs whose attribution moves, converting on different events:
    # the second converts first; a snapshot then must restore
    program = rewardrules.compile(
        "event payment { amount: money USD }\n"
        "event signup\n"
        "program sales {\n"
        "  attribution last referral before first payment where payment.amount > 0\n"
        "  milestone sale { first payment where payment.amount > 0  reward referrer cash 10 USD }\n"
        "}\n"
        "program signups {\n"
        "  attribution last referral before first signup\n"
        "  milestone joined { first signup  reward referrer cash 1 USD }\n"
        "}\n",
        "t.rules",
    )
    events = [
        referral("r1", "01-01", "alice", "bob"),
        ev("s1", "01-02", "signup", "bob"),
        referral("r2", "01-03", "carol", "bob"),  # takes bob in sales only: signups converted
        ev("p1", "01-04", "payment", "bob", amount=20),
    ]
    result = every_way(program, events, "2026-02-01T00:00:00Z")
    assert paid(result) == [("2026-01-02", "joined", "alice", "1.00"), ("2026-01-04", "sale", "carol", "10.00")]


def test_the_report_shows_a_per_referrer_timer_started_by_another_referee() -> None:
    program = rewardrules.compile(
        "event payment { amount: money USD }\n"
        "metric paid = count payment where payment.amount > 0\n"
        "metric converted = count referrals where paid >= 1\n"
        "milestone steady { when converted >= 2 for 7 days  reward referrer cash 100 USD }\n",
        "steady.rules",
    )
    events = [
        referral("r1", "01-01", "alice", "bob"),
        referral("r2", "01-01", "alice", "cat"),
        ev("p1", "01-02", "payment", "bob", amount=10),
        ev("p2", "01-03", "payment", "cat", amount=10),  # cat's event starts alice's clock
    ]
    result = every_way(program, events, "2026-01-05T00:00:00Z")
    [row] = result["referrers"]
    assert row["milestones"][0]["progress"] == (
        "held since 2026-01-03T00:00:00Z (event p2); pays at 2026-01-10T00:00:00Z if it still holds"
    )


def test_strict_warns_about_a_timer_set_at_the_referral_under_a_moving_attribution() -> None:
    # each referral that takes the referee sets its own `after D` timer (see
    # the tests above): one counted from the referral, whatever follows,
    # pays again to each referral's referrer, as RR621 says of `first referral`
    from rewardrules.check.checker import check_text
    from rewardrules.check.lint import lint

    checked, problems = check_text(
        "event payment { amount: money USD }\n"
        "metric paid = count payment where payment.amount > 0\n"
        "program p {\n"
        "  attribution last referral before first payment where payment.amount > 0\n"
        "  milestone bare { after 30 days  reward referrer cash 5 USD }\n"
        '  milestone field { after 30 days if referral.referrer != "x"  reward referrer cash 5 USD }\n'
        "  milestone metric { after 30 days if paid >= 1  reward referrer cash 5 USD }\n"
        "  milestone anchored { after 30 days from payment  reward referrer cash 5 USD }\n"
        "}\n",
        "t.rules",
    )
    assert problems == [] and checked is not None
    warned = [d.message.split("`")[1] for d in lint(checked) if d.code == "RR621"]
    assert warned == ["bare", "field"]


def test_a_snapshot_referrer_without_a_referral_is_refused(lapsing: rewardrules.Program) -> None:
    session = lapsing.session()
    session.add(referral("r1", "01-01", "alice", "bob"))
    data = json.loads(session.snapshot())
    data["referrals"] = []  # alice's state stays: a report would look for her referral
    with pytest.raises(SnapshotError, match="referrers"):
        lapsing.restore(json.dumps(data))
