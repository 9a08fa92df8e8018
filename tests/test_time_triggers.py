"""Time as a trigger: `when C for D` (a condition held for a duration) and
`after D [from EVENT] [if C]` (an award at an instant with no event), as
engine timers (docs/language.md "Time triggers", docs/semantics.md
"Timers"): checked, formatted, bounded, linted, explained, and scored the
same by batch, `--stream` and a session (which learns the time only from
events and `advance`), across snapshots."""

from __future__ import annotations

import json
from typing import Any

import pytest

import rewardrules
from rewardrules.check.checker import check_text
from rewardrules.check.lint import lint
from rewardrules.cli import main
from rewardrules.core.ids import award_head, award_id
from rewardrules.ledger import LedgerError
from rewardrules.snapshot import SnapshotError
from rewardrules.syntax.formatter import format_text

from .conftest import every_way, ordered

RULES = """\
ruleset loyalty
event subscription { mrr: money USD }
event cancellation
metric mrr = latest subscription.mrr otherwise 0 USD
milestone mrr_held {
  when mrr >= 1000 USD for 60 days
  reward referrer cash 300 USD
}
milestone still_subscribed {
  after 30 days if mrr > 0 USD
  reward referrer cash 50 USD
}
milestone kept_paying {
  after 10 days from subscription if mrr > 0 USD
  reward referee credit 5 USD
}
"""


def ev(event_id: str, at: str, kind: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "at": at, "type": kind, "referee": referee, **fields}


def referral(event_id: str, at: str, referrer: str, referee: str) -> dict[str, Any]:
    return ev(event_id, at, "referral", referee, referrer=referrer)


def sub(event_id: str, at: str, referee: str, mrr: Any) -> dict[str, Any]:
    return ev(event_id, at, "subscription", referee, mrr=mrr)


def awards(result: rewardrules.ScoreResult) -> list[tuple[str, str, str, str]]:
    return [(a.at, a.milestone, a.beneficiary, a.amount) for a in result.awards]


@pytest.fixture(scope="module")
def program() -> rewardrules.Program:
    return rewardrules.compile(RULES, "loyalty.rules")


# -- syntax -------------------------------------------------------------------------


def test_fmt_writes_both_triggers_and_reads_them_back() -> None:
    messy = RULES.replace("when mrr >= 1000 USD for 60 days", "when  mrr>=1000 USD\n for   60 days").replace(
        "after 10 days from subscription if mrr > 0 USD", "after 10 days\nfrom subscription\n  if (mrr > 0 USD)"
    )
    formatted, problems = format_text(messy)
    assert problems == [] and formatted is not None
    assert "  when mrr >= 1000 USD for 60 days\n" in formatted
    assert "  after 10 days from subscription if mrr > 0 USD\n" in formatted
    assert "  after 30 days if mrr > 0 USD\n" in formatted
    assert format_text(formatted) == (formatted, [])
    assert rewardrules.check_source(formatted) == []


# -- a condition held for a duration ----------------------------------------------------


def test_held_condition_pays_at_the_instant_the_duration_is_complete(program: rewardrules.Program) -> None:
    events = [
        referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"),
        sub("s1", "2026-01-02T00:00:00Z", "bob", 1500),
        ev("c1", "2026-06-01T00:00:00Z", "cancellation", "bob"),  # only sets the as-of
    ]
    result = json.loads(every_way(program, events))
    held = [a for a in result["awards"] if a["milestone"] == "mrr_held"]
    # Jan 2 + 60 days = Mar 3; no event happens then
    assert [(a["at"], a["amount"], a["why"]["event"]) for a in held] == [("2026-03-03T00:00:00Z", "300.00", "s1")]


def test_a_dip_restarts_the_clock(program: rewardrules.Program) -> None:
    events = [
        referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"),
        sub("s1", "2026-01-02T00:00:00Z", "bob", 1500),
        sub("s2", "2026-02-01T00:00:00Z", "bob", "999.99"),
        sub("s3", "2026-02-05T00:00:00Z", "bob", 1000),
        ev("c1", "2026-06-01T00:00:00Z", "cancellation", "bob"),
    ]
    held = [a for a in program.score(events).awards if a.milestone == "mrr_held"]
    assert [a.at for a in held] == ["2026-04-06T00:00:00Z"]  # Feb 5 + 60 days, not Mar 3


def test_an_event_at_the_very_end_comes_first_and_can_break_the_condition(program: rewardrules.Program) -> None:
    events = [
        referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"),
        sub("s1", "2026-01-02T00:00:00Z", "bob", 1500),
        sub("s2", "2026-03-03T00:00:00Z", "bob", 10),  # exactly 60 days after s1
        ev("c1", "2026-06-01T00:00:00Z", "cancellation", "bob"),
    ]
    assert "mrr_held" not in {a.milestone for a in program.score(events).awards}
    # one nanosecond later, the 60 days were complete: it pays
    events[2] = sub("s2", "2026-03-03T00:00:00.000000001Z", "bob", 10)
    assert [a.at for a in program.score(events).awards if a.milestone == "mrr_held"] == ["2026-03-03T00:00:00Z"]


def test_a_timer_due_exactly_at_the_as_of_fires_and_one_a_nanosecond_later_does_not(
    program: rewardrules.Program,
) -> None:
    events = [referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"), sub("s1", "2026-01-02T00:00:00Z", "bob", 1500)]
    due = "2026-03-03T00:00:00Z"
    assert "mrr_held" in {a[1] for a in awards(program.score(events, as_of=due))}
    every_way(program, events, as_of=due)
    early = program.score(events, as_of="2026-03-02T23:59:59.999999999Z")
    assert "mrr_held" not in {a[1] for a in awards(early)}
    every_way(program, events, as_of="2026-03-02T23:59:59.999999999Z")


# -- awards at instants without events ------------------------------------------------------


def test_after_pays_if_the_condition_holds_at_its_instant_and_never_later(program: rewardrules.Program) -> None:
    events = [
        referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"),
        referral("r2", "2026-01-01T00:00:00Z", "alice", "cat"),
        sub("s1", "2026-01-05T00:00:00Z", "bob", 100),
        sub("s2", "2026-01-20T00:00:00Z", "cat", 0),
        sub("s3", "2026-02-10T00:00:00Z", "cat", 100),  # after day 30: too late
        ev("c1", "2026-06-01T00:00:00Z", "cancellation", "bob"),
    ]
    result = json.loads(every_way(program, events))
    still = [(a["at"], a["referee"]) for a in result["awards"] if a["milestone"] == "still_subscribed"]
    assert still == [("2026-01-31T00:00:00Z", "bob")]


def test_after_from_an_event_starts_at_its_first_such_event(program: rewardrules.Program) -> None:
    events = [
        referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"),
        sub("s1", "2026-01-05T00:00:00Z", "bob", 100),
        sub("s2", "2026-01-08T00:00:00Z", "bob", 200),  # starts nothing: not the first
        sub("s0", "2025-12-20T00:00:00Z", "bob", 100),  # before the referral: not the referral's
        ev("c1", "2026-06-01T00:00:00Z", "cancellation", "bob"),
    ]
    result = json.loads(every_way(program, events))
    kept = [(a["at"], a["beneficiary"], a["why"]["event"]) for a in result["awards"] if a["milestone"] == "kept_paying"]
    assert kept == [("2026-01-15T00:00:00Z", "bob", "s1")]


def test_timers_due_at_one_instant_fire_by_referee_whatever_the_ids_and_input_order() -> None:
    capped = rewardrules.compile(
        "event subscription { mrr: money USD }\n"
        "metric mrr = latest subscription.mrr otherwise 0 USD\n"
        "milestone day30 { after 30 days if mrr > 0 USD  reward referrer cash 60 USD  cap referrer 100 USD }\n",
        "capped.rules",
    )
    people = ["zed", "amy", "kim"]
    events = [referral(f"r{9 - i}", "2026-01-01T00:00:00Z", "alice", p) for i, p in enumerate(people)]
    events += [sub(f"s{i}", "2026-01-02T00:00:00Z", p, 10) for i, p in enumerate(people)]
    events.append(ev("x1", "2026-03-01T00:00:00Z", "page_view", "amy"))
    result = json.loads(every_way(capped, events))
    # amy, kim, zed in code point order: 60, then the 40 left, then nothing
    assert [(a["referee"], a["amount"]) for a in result["awards"]] == [("amy", "60.00"), ("kim", "40.00")]
    assert [(w["referee"], w["reason"]) for w in result["withheld"]] == [("zed", "cap of 100 USD reached")]


def test_a_condition_over_the_referrers_referrals_holds_for_the_referrer() -> None:
    program = rewardrules.compile(
        "event payment { amount: money USD }\n"
        "metric paid = count payment where payment.amount > 0\n"
        "metric converted = count referrals where paid >= 1\n"
        "milestone steady { when converted >= 2 for 7 days  reward referrer cash 100 USD }\n",
        "steady.rules",
    )
    events = [
        referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"),
        referral("r2", "2026-01-01T00:00:00Z", "alice", "cat"),
        ev("p1", "2026-01-02T00:00:00Z", "payment", "bob", amount=10),
        ev("p2", "2026-01-03T00:00:00Z", "payment", "cat", amount=10),
        referral("r3", "2026-01-04T00:00:00Z", "alice", "dan"),
        ev("p3", "2026-01-05T00:00:00Z", "payment", "dan", amount=10),
        ev("x1", "2026-03-01T00:00:00Z", "page_view", "bob"),
    ]
    result = json.loads(every_way(program, events))
    assert [(a["at"], a["beneficiary"], a["why"]["event"]) for a in result["awards"]] == [
        ("2026-01-10T00:00:00Z", "alice", "p2")  # once for the referrer, 7 days after p2 made it 2
    ]


def test_a_timer_award_has_the_recipe_id_with_no_occurrence_kept_when_a_late_event_moves_it(
    program: rewardrules.Program,
) -> None:
    events = [
        referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"),
        sub("s1", "2026-01-02T00:00:00Z", "bob", 1500),
        ev("c1", "2026-06-01T00:00:00Z", "cancellation", "bob"),
    ]
    first = next(a for a in program.score(events).awards if a.milestone == "mrr_held")
    expected = award_id(award_head("loyalty", "loyalty", "mrr_held"), "alice", "bob", "", "referrer", "alice")
    assert first.id == expected
    late = [*events, sub("s9", "2026-02-01T00:00:00Z", "bob", 10), sub("s10", "2026-02-02T00:00:00Z", "bob", 2000)]
    moved = next(a for a in program.score(late).awards if a.milestone == "mrr_held")
    assert (moved.at, moved.id) == ("2026-04-03T00:00:00Z", expected)
    ids = [a.id for a in program.score(late).awards]
    assert len(ids) == len(set(ids))


def test_a_hold_on_a_timer_award_counts_from_its_instant() -> None:
    held = rewardrules.compile(
        "event subscription { mrr: money USD }\nmetric mrr = latest subscription.mrr otherwise 0 USD\n"
        "milestone day30 { after 30 days if mrr > 0 USD  reward referrer cash 50 USD  hold 14 days }\n",
        "held.rules",
    )
    events = [referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"), sub("s1", "2026-01-02T00:00:00Z", "bob", 5)]
    # at Jan 31 (the timer), confirmed 14 days later, at Feb 14 (inclusive)
    assert [(a.at, a.status) for a in held.score(events, as_of="2026-02-13T23:59:59Z").awards] == [
        ("2026-01-31T00:00:00Z", "pending")
    ]
    assert [a.status for a in held.score(events, as_of="2026-02-14T00:00:00Z").awards] == ["confirmed"]


# -- sessions -------------------------------------------------------------------------------


def test_a_session_learns_the_time_from_advance_and_from_the_next_event(program: rewardrules.Program) -> None:
    session = program.session()
    session.add(referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"))
    session.add(sub("s1", "2026-01-02T00:00:00Z", "bob", 1500))
    assert session.advance(to="2026-01-11T23:59:59Z") == []
    given = session.advance(to="2026-01-31T00:00:00Z")
    assert [(a.milestone, a.at, a.status) for a in given] == [
        ("kept_paying", "2026-01-12T00:00:00Z", "confirmed"),
        ("still_subscribed", "2026-01-31T00:00:00Z", "confirmed"),
    ]
    # the next event fires the timers due before its instant, then its own
    later = session.add(ev("c1", "2026-03-04T00:00:00Z", "cancellation", "bob"))
    assert [(a.milestone, a.at) for a in later] == [("mrr_held", "2026-03-03T00:00:00Z")]


def test_an_event_at_or_before_the_advanced_instant_is_late(program: rewardrules.Program) -> None:
    session = program.session()
    session.add(referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"))
    session.advance(to="2026-01-10T00:00:00Z")
    for problem_event in (sub("s1", "2026-01-10T00:00:00Z", "bob", 5), sub("s0", "2026-01-05T00:00:00Z", "bob", 5)):
        with pytest.raises(LedgerError) as caught:
            session.add(problem_event)
        assert caught.value.problems[0].field == "at"
        assert "advanced to" in caught.value.problems[0].message
        with pytest.raises(LedgerError):
            session.add_many([problem_event])
    session.add(sub("s2", "2026-01-10T00:00:00.000000001Z", "bob", 5))
    with pytest.raises(LedgerError) as caught:
        session.advance(to="2026-01-09T00:00:00Z")
    assert caught.value.problems[0].field == "to"
    with pytest.raises(TypeError):
        session.advance(to=None)  # type: ignore[arg-type]


def test_a_result_as_of_later_holds_the_timers_due_by_then_without_moving_the_session(
    program: rewardrules.Program,
) -> None:
    events = [referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"), sub("s1", "2026-01-02T00:00:00Z", "bob", 1500)]
    session = program.session()
    for event in events:
        session.add(event)
    as_of = "2026-04-01T00:00:00Z"
    report = session.result(as_of=as_of)
    assert report.to_json() == program.score(events, as_of=as_of).to_json()
    assert session.result().awards == []  # nothing fired in the session itself
    # still in time; it fires the timers due before it (the same awards, ids)
    fired = session.add(sub("s2", "2026-02-01T00:00:00Z", "bob", 1500))
    fired += session.advance(to=as_of)
    assert [a.id for a in fired] == [a.id for a in report.awards]


def test_snapshots_keep_pending_timers_anchors_and_the_clock(program: rewardrules.Program) -> None:
    events = ordered(
        [
            referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"),
            sub("s1", "2026-01-02T00:00:00Z", "bob", 1500),
            sub("s2", "2026-01-20T00:00:00Z", "bob", 1200),
            ev("c1", "2026-06-01T00:00:00Z", "cancellation", "bob"),
        ]
    )
    expected = program.score(events).to_json()
    for split in range(len(events) + 1):
        first = program.session()
        for event in events[:split]:
            first.add(event)
        resumed = program.restore(first.snapshot())
        for event in events[split:]:
            resumed.add(event)
        assert resumed.result().to_json() == expected, split
    session = program.session()
    session.add(events[0])
    session.advance(to="2026-01-10T00:00:00Z")
    restored = program.restore(session.snapshot())
    with pytest.raises(LedgerError):
        restored.add(sub("s0", "2026-01-09T00:00:00Z", "bob", 5))


def test_a_damaged_timer_in_a_snapshot_is_refused(program: rewardrules.Program) -> None:
    session = program.session()
    session.add(referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"))
    session.add(sub("s1", "2026-01-02T00:00:00Z", "bob", 1500))
    data = json.loads(session.snapshot())
    assert len(data["timers"]) == 3 and data["anchored"] == [[1, "bob"], [2, "bob"]]
    for change, field in [
        (lambda t: t.__setitem__(0, t[0] - 1), "timers[0][0]"),  # not its start + the duration
        (lambda t: t.__setitem__(3, "nobody"), "timers[0][3]"),
        (lambda t: t.__setitem__(2, "alice"), "timers[0][2]"),
        (lambda t: t.__setitem__(1, 99), "timers[0][1]"),
    ]:
        broken = json.loads(json.dumps(data))
        change(broken["timers"][0])
        with pytest.raises(SnapshotError, match=field.replace("[", r"\[").replace("]", r"\]")):
            program.restore(json.dumps(broken))
    twice = json.loads(json.dumps(data))
    twice["timers"].append(twice["timers"][0])
    with pytest.raises(SnapshotError, match="listed twice"):
        program.restore(json.dumps(twice))


# -- check, lint, bounds, explain -------------------------------------------------------


@pytest.mark.parametrize(
    ("clause", "code", "hint"),
    [
        ("when mrr >= 1 USD for 0 days", "RR304", None),
        ("when mrr >= 1 USD for 3 dais", "RR109", "did you mean `days`?"),
        ("after 3 days from subscriptoin", "RR101", "did you mean `subscription`?"),
        ("after 3 days if mrrr > 0 USD", "RR103", "did you mean `mrr`?"),
        ("after 3 days if mrr", "RR203", None),
        ("when mrr for 3 days", "RR203", None),
        ("after 3 days if mrr > 5 EUR", "RR202", None),
    ],
)
def test_check_reports_mistakes_in_time_triggers(clause: str, code: str, hint: str | None) -> None:
    text = (
        "event subscription { mrr: money USD }\nmetric mrr = latest subscription.mrr otherwise 0 USD\n"
        f"milestone m {{\n  {clause}\n  reward referrer cash 5 USD\n}}\n"
    )
    found = [d for d in rewardrules.check_source(text) if d.code == code]
    assert found, rewardrules.check_source(text)
    assert found[0].span is not None and found[0].span.line == 4
    if hint is not None:
        assert found[0].help == hint


def test_a_timer_reward_cannot_read_an_event_field() -> None:
    text = (
        "event subscription { mrr: money USD }\nmetric mrr = latest subscription.mrr otherwise 0 USD\n"
        "milestone m { after 3 days from subscription  reward referrer cash 10% of subscription.mrr }\n"
    )
    found = [d for d in rewardrules.check_source(text) if d.code == "RR204"]
    assert found and "not available in a reward amount" in found[0].message


def test_lint_tells_held_from_plain_conditions_and_warns_of_an_after_that_never_pays() -> None:
    text = (
        "event subscription { mrr: money USD }\nmetric mrr = latest subscription.mrr otherwise 0 USD\n"
        "milestone plain { when mrr >= 1000 USD  reward referrer cash 5 USD }\n"
        "milestone held { when 1000 USD <= mrr for 30 days  reward referrer cash 5 USD }\n"
        "milestone held_too { when mrr >= 1000 USD for 30 days  reward referrer cash 5 USD }\n"
        "milestone never { after 3 days if 1 > 2  reward referrer cash 5 USD }\n"
        "milestone lower { when mrr >= 500 USD for 30 days  reward referrer cash 5 USD }\n"
    )
    checked, diagnostics = check_text(text, "t.rules")
    assert diagnostics == [] and checked is not None
    found = [(w.code, w.span.line if w.span else 0) for w in lint(checked)]
    # held_too repeats held (RR603), not plain; `never` never pays (RR601); no
    # tier warning between held and plain conditions
    assert sorted(found) == [("RR601", 6), ("RR603", 5)]


def test_bounds_count_a_timer_milestone_once_per_referral(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "loyalty.rules"
    rules.write_text(RULES)
    assert main(["check", "--bounds", str(rules)]) == 0
    out = capsys.readouterr().out
    assert "per referral, to the referrer: 350.00 USD" in out  # 300 held + 50 after, once each
    assert "per referral, to the referee: 5.00 USD" in out


def test_explain_says_why_a_timer_award_came_at_its_instant(
    program: rewardrules.Program, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "loyalty.rules"
    rules.write_text(RULES)
    ledger = tmp_path / "ledger.jsonl"
    events = [
        referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"),
        sub("s1", "2026-01-02T00:00:00Z", "bob", 1500),
        ev("c1", "2026-03-04T00:00:00Z", "cancellation", "bob"),
    ]
    ledger.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert main(["explain", str(rules), str(ledger)]) == 0
    out = capsys.readouterr().out
    assert (
        "why: `when mrr >= 1000 USD for 60 days` held without a break from event s1 for 60 days,"
        " complete at 2026-03-03T00:00:00Z (mrr = 1500.00)" in out
    )
    assert "why: `after 30 days if mrr > 0 USD` 30 days after event r1, at 2026-01-31T00:00:00Z" in out
    assert main(["explain", str(rules), str(ledger), "--as-of", "2026-02-01T00:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "held since 2026-01-02T00:00:00Z (event s1); pays at 2026-03-03T00:00:00Z if it still holds" in out


def test_the_new_keywords_are_still_names_where_no_keyword_is_expected() -> None:
    text = (
        "event transfer { from: text, for: text }\n"
        'metric after = count transfer where transfer.from == "x"\n'
        "milestone m { when after >= 1 for 2 days  reward referrer cash 5 USD }\n"
    )
    assert rewardrules.check_source(text) == []
    program = rewardrules.compile(text, "names.rules")
    events = [
        referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"),
        ev("t1", "2026-01-02T00:00:00Z", "transfer", "bob", **{"from": "x", "for": "y"}),
        ev("t2", "2026-01-09T00:00:00Z", "transfer", "bob", **{"from": "z", "for": "y"}),
    ]
    assert [a.at for a in program.score(events).awards] == ["2026-01-04T00:00:00Z"]


def test_an_event_of_a_type_the_rules_do_not_use_tells_a_session_the_time(program: rewardrules.Program) -> None:
    session = program.session()
    session.add(referral("r1", "2026-01-01T00:00:00Z", "alice", "bob"))
    given = session.add(ev("x1", "2026-02-01T00:00:00Z", "page_view", "bob"))
    assert [(a.milestone, a.at) for a in given] == []  # mrr 0: `after 30 days if mrr > 0 USD` pays nothing
    session.add(sub("s1", "2026-02-02T00:00:00Z", "bob", 1500))
    given = session.add(ev("x2", "2026-02-13T00:00:00Z", "page_view", "bob"))
    assert [(a.milestone, a.at) for a in given] == [("kept_paying", "2026-02-12T00:00:00Z")]
