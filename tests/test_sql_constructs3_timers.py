"""Timers counted per referrer in SQL (docs/sql.md, "Timers"), refused
before: `after D [from EVENT] if C` on a per-referrer count (one clock per
referee, the referrer's award once: the first due timer at which C holds,
timers of one instant by referee), and per-referrer timers (`after` and
`when C for D`) that also read a per-referral metric (the timer's own
referral's value, the referrer's count). Byte for byte the Python engine's
`--no-explain` result, on hand-written ties and generated ledgers, and
written for Postgres."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import Query, compile_query
from rewardrules.sql.diagnose import refusals
from rewardrules.sql.dialect import to_dialect

from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_backend import duckdb_json, python_json
from .test_sql_dialects_more import expanded

#: `after` per referrer (from the referral, and from the referee's first
#: subscription, reading the referral's own `mrr` too), and a held
#: condition per referrer that reads a per-referral metric
AFTER = """\
ruleset after_per_referrer

event subscription { mrr: money USD }

metric mrr = latest subscription.mrr otherwise 0 USD
metric paying = count referrals where mrr > 0 USD

milestone two_paying {
  after 10 days if paying >= 2
  reward referrer cash 3 USD * paying
  reward referee credit 1 USD
  message "{{ referee }}: {{ paying }} paying, {{ mrr }}"
  cap referrer 10 USD
}

milestone anchored {
  after 5 days from subscription if paying >= 1 and mrr > 0 USD
  reward referrer cash 4 USD + mrr
  cap referrer 10 USD
}

milestone held {
  when paying >= 2 and mrr > 5 USD for 3 days
  reward referrer cash 2 USD * paying
  message "{{ mrr }} of {{ paying }}"
}
"""


@cache
def _after() -> rewardrules.Program:
    return rewardrules.compile(AFTER, "after_per_referrer.rules")


def event(event_id: str, at: str, kind: str, referee: str, **fields: Any) -> dict[str, Any]:
    """An event on 2026-`at` (`01-05` or `01-05T10:00:00`)."""
    when = f"2026-{at}" + ("" if "T" in at else "T00:00:00") + "Z"
    return {"id": event_id, "at": when, "type": kind, "referee": referee, **fields}


def referral(event_id: str, at: str, referee: str, referrer: str = "ann") -> dict[str, Any]:
    return event(event_id, at, "referral", referee, referrer=referrer)


def sub(event_id: str, at: str, referee: str, mrr: str) -> dict[str, Any]:
    return event(event_id, at, "subscription", referee, mrr=mrr)


def same(prog: rewardrules.Program, events: list[dict[str, Any]], as_of: str) -> list[dict[str, Any]]:
    """The SQL result, checked equal to the Python engine's; its awards."""
    sql = duckdb_json(prog, events, as_of)
    assert sql == python_json(prog, events, as_of)
    awards: list[dict[str, Any]] = json.loads(sql)["awards"]
    return awards


def paid(awards: list[dict[str, Any]], milestone: str) -> list[tuple[str, str, str, str]]:
    return [(a["at"][5:10], a["role"], a["referee"], a["amount"]) for a in awards if a["milestone"] == milestone]


def test_these_timers_compile_and_check_reports_nothing() -> None:
    """Refused before (`the per-referrer timer`, `a per-referrer timer
    reading the per-referral metric`): `check --engine sql` reports
    exactly what `compile_query` refuses."""
    compile_query(_after().compiled)
    assert refusals(_after().compiled) == []


def test_timers_of_one_instant_go_by_referee_not_by_event_id() -> None:
    """Two referrals at one instant: their timers are due together; the
    referrer's award is the one of the referee that sorts first (`a`),
    though `b`'s referral event has the smaller id; `cat`, another
    referrer's, pays nothing (one paying referral)."""
    events = [
        referral("r2", "01-01", "b"),
        referral("r9", "01-01", "a"),
        referral("r3", "01-01", "cat", referrer="bo"),
        sub("s1", "01-03", "a", "10.00"),
        sub("s2", "01-03", "b", "20.00"),
        sub("s3", "01-03", "cat", "20.00"),
    ]
    awards = same(_after(), events, "2026-03-01T00:00:00Z")
    assert paid(awards, "two_paying") == [("01-11", "referrer", "a", "6.00"), ("01-11", "referee", "a", "1.00")]
    assert awards[[a["milestone"] for a in awards].index("two_paying")]["message"] == "a: 2 paying, 10.00"


def test_a_timer_whose_condition_is_false_leaves_the_award_to_a_later_one() -> None:
    """a's timer is due on 01-11 with one paying referral: nothing, and
    nothing set; b's, due on 01-15, sees b's payment of that instant (the
    events of an instant come before its timers) and pays, with b's
    referee reward and b's `mrr` in the message; c's later timer nothing
    (the referrer has its award)."""
    events = [
        referral("r1", "01-01", "a"),
        referral("r2", "01-05", "b"),
        referral("r3", "01-06", "c"),
        sub("s1", "01-02", "a", "10.00"),
        sub("s2", "01-15", "b", "30.00"),
        sub("s3", "01-15T00:00:01", "c", "5.00"),
    ]
    awards = same(_after(), events, "2026-03-01T00:00:00Z")
    assert paid(awards, "two_paying") == [("01-15", "referrer", "b", "6.00"), ("01-15", "referee", "b", "1.00")]
    before = same(_after(), events, "2026-01-14T23:59:59Z")  # b's timer not due yet
    assert paid(before, "two_paying") == []
    late = [*events[:4], sub("s2", "01-15T00:00:00.000000001", "b", "30.00"), events[5]]  # a nanosecond late
    assert paid(same(_after(), late, "2026-03-01T00:00:00Z"), "two_paying") == [
        ("01-16", "referrer", "c", "9.00"),
        ("01-16", "referee", "c", "1.00"),
    ]


def test_a_timer_from_the_referees_first_event_reads_its_own_referrals_value() -> None:
    """`anchored` starts at each referee's first subscription; it reads the
    referrer's count and the timer's own referral's `mrr` (not the
    referral of the referrer's latest event). The two timers of 01-08
    draw from the cap by referee: a first (14.00 USD, cut to 10.00)."""
    events = [
        referral("r1", "01-01", "b"),
        referral("r2", "01-01", "a"),
        sub("s1", "01-03", "b", "1.00"),
        sub("s0", "01-03", "a", "10.00"),
        sub("s2", "01-08", "b", "2.00"),  # b's value at the due instant
        sub("s3", "01-09", "b", "50.00"),
    ]
    awards = same(_after(), events, "2026-03-01T00:00:00Z")
    assert paid(awards, "anchored") == [("01-08", "referrer", "a", "10.00")]


def test_a_held_condition_per_referrer_reads_the_referral_whose_event_started_it() -> None:
    """`held`'s clock is the referrer's; C reads the count and the `mrr` of
    the referral whose event tests it: b's payment of 2.00 on 01-06 breaks
    it (a still pays 10.00); a's event of 01-07 starts it again, paid on
    01-10 with a's `mrr` in the message."""
    events = [
        referral("r1", "01-01", "a"),
        referral("r2", "01-01", "b"),
        sub("s1", "01-02", "a", "10.00"),
        sub("s2", "01-04", "b", "20.00"),
        sub("s3", "01-06", "b", "2.00"),
        sub("s4", "01-07", "a", "12.00"),
    ]
    awards = same(_after(), events, "2026-03-01T00:00:00Z")
    assert paid(awards, "held") == [("01-10", "referrer", "a", "4.00")]
    assert [a["message"] for a in awards if a["milestone"] == "held"] == ["12.00 of 2"]


def written_for_postgres(q: Query) -> None:
    """Every statement of `q` is written in Postgres's dialect, its stars
    as column lists (sqlglot raises on what it cannot write), and in
    Spark's with its folds written without recursion (Spark 4.0 has no
    recursive CTE)."""
    ledger = [column.name for column in q.columns]
    for _, sql in q.statements():
        assert "EXCLUDE" not in to_dialect(sql, "postgres", ledger)
    for _, sql in q.without_recursion().statements():
        to_dialect(sql, "spark", ledger)


def test_the_query_is_written_for_postgres_and_its_columns_give_the_same_bytes() -> None:
    """Postgres gets column lists for the stars (the new `EXCLUDE` too):
    written without error, and the expanded query gives the same bytes."""
    prog = _after()
    q = compile_query(prog.compiled)
    written_for_postgres(q)
    events = [
        referral("r2", "01-01", "b"),
        referral("r9", "01-01", "a"),
        sub("s1", "01-03", "a", "10.00"),
        sub("s2", "01-03", "b", "20.00"),
    ]
    data = duckdb_result(prog, expanded(q), events, parse_as_of("2026-03-01T00:00:00Z"), "<ledger>")
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == python_json(prog, events, "2026-03-01T00:00:00Z")


def same_on_generated(prog: rewardrules.Program, ruleset: str, data: st.DataObject) -> None:
    """A ledger of a reference ruleset's strategy and an as-of drawn: the
    SQL result is the Python engine's, byte for byte."""
    events = data.draw(ledgers(ruleset), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 25))
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(data: st.DataObject) -> None:
    same_on_generated(_after(), "subscription_loyalty", data)


@pytest.mark.parametrize(
    ("trigger", "owner"), [("when paying >= 2 for 10 days", "b"), ("after 10 days if paying >= 2", "a")]
)
def test_the_award_is_taken_back_by_its_own_referrals_events(trigger: str, owner: str) -> None:
    """The award of a per-referrer timer belongs to the referral whose
    event started its clock (b's, the second paying, for the held
    condition) or whose timer paid (a's, for `after`): a's refund on 01-20
    reverses the `after` award only."""
    text = AFTER.replace("after 10 days if paying >= 2", trigger).replace(
        "  cap referrer 10 USD\n}\n\nmilestone anchored",
        "  void if subscription where subscription.mrr < 5 USD within 40 days\n}\n\nmilestone anchored",
    )
    prog = rewardrules.compile(text, "voided.rules")
    events = [
        referral("r1", "01-01", "a"),
        referral("r2", "01-02", "b"),
        sub("s1", "01-02", "a", "10.00"),
        sub("s2", "01-03", "b", "20.00"),
        sub("s3", "01-20", "a", "1.00"),
    ]
    awards = same(prog, events, "2026-03-01T00:00:00Z")
    assert {a["referee"] for a in awards if a["milestone"] == "two_paying"} == {owner}
    reversals = json.loads(python_json(prog, events, "2026-03-01T00:00:00Z"))["reversals"]
    assert [r["milestone"] for r in reversals] == (["two_paying", "two_paying"] if owner == "a" else [])
