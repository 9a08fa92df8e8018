"""`when C for D` in SQL (docs/sql.md, "Timers"): a held condition pays at
the instant it has held for D without a break, a dip restarting the clock,
no event needed; fired up to the as-of after the events of its instant,
byte for byte as the Python engine gives them. And `after` timers in a
file with per-referrer metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import compile_query

from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_backend import duckdb_json, python_json
from .test_sql_messages import written

#: held conditions: one that starts at an event (with a computed amount and
#: a message), one that holds from the referral itself (`mrr` is 0 then),
#: sharing a cap with an event milestone; an `after` timer and a
#: per-referrer count in the same file
HELD = """\
ruleset held_timers

event subscription { mrr: money USD }

metric mrr = latest subscription.mrr otherwise 0 USD
metric subs = count subscription
metric paying = count referrals where mrr > 0 USD

milestone held "MRR of 1,000 USD held for 30 days" {
  when mrr >= 1000 USD for 30 days
  reward referrer cash 10% of mrr
  reward referee credit 5 USD
  message "{{ referee }} held {{ mrr }} over {{ subs }} subscription(s)"
  cap referrer 150 USD
}

milestone low "Under 500 USD for 90 days" {
  when mrr < 500 USD and subs <= 3 for 90 days
  reward referrer cash 20 USD
  cap referrer 150 USD
}

milestone paid {
  first subscription where subscription.mrr > 0
  reward referrer cash 30 USD
  cap referrer 150 USD
}

milestone later {
  after 30 days if mrr > 0 USD
  reward referrer cash 7 USD
}

milestone two_paying {
  when paying >= 2
  reward referrer cash 3 USD
}
"""


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> rewardrules.Program:
    return written(tmp_path_factory, "held", HELD)


def referral(event_id: str, at: str, referee: str = "bob", referrer: str = "ann") -> dict[str, Any]:
    return {"id": event_id, "at": at, "type": "referral", "referrer": referrer, "referee": referee}


def sub(event_id: str, at: str, mrr: str, referee: str = "bob") -> dict[str, Any]:
    return {"id": event_id, "at": at, "type": "subscription", "referee": referee, "mrr": mrr}


def same(prog: rewardrules.Program, events: list[dict[str, Any]], as_of: str | None) -> list[dict[str, Any]]:
    """The SQL result, checked equal to the Python engine's; its awards."""
    sql = duckdb_json(prog, events, as_of)
    assert sql == python_json(prog, events, as_of)
    awards: list[dict[str, Any]] = json.loads(sql)["awards"]
    return awards


def test_a_dip_restarts_the_clock(prog: rewardrules.Program) -> None:
    events = [
        referral("r1", "2026-01-01T00:00:00Z"),
        sub("s1", "2026-01-02T00:00:00Z", "1000.00"),
        sub("s2", "2026-01-20T00:00:00Z", "999.99"),  # a dip: the clock stops
        sub("s3", "2026-01-25T00:00:00Z", "1200.00"),  # and starts again
        sub("s4", "2026-02-10T00:00:00Z", "1500.00"),  # still held: the clock runs on
    ]
    awards = same(prog, events, "2026-03-31T00:00:00Z")
    held = [(a["at"], a["amount"]) for a in awards if a["milestone"] == "held"]
    assert held == [("2026-02-24T00:00:00Z", "150.00"), ("2026-02-24T00:00:00Z", "5.00")]
    message = next(a["message"] for a in awards if a["milestone"] == "held")
    assert message == "bob held 1500.00 over 4 subscription(s)"


def test_a_break_at_the_due_instant_stops_the_timer(prog: rewardrules.Program) -> None:
    """The events of an instant come before its timers: one at exactly the
    end of D that breaks the condition stops the clock; a later one at the
    same instant that holds it again starts a new one from there."""
    start = [referral("r1", "2026-01-01T00:00:00Z"), sub("s1", "2026-01-02T00:00:00Z", "1000.00")]
    broken = [*start, sub("s2", "2026-02-01T00:00:00Z", "10.00")]
    assert [a for a in same(prog, broken, "2026-06-01T00:00:00Z") if a["milestone"] == "held"] == []
    again = [*broken, sub("s3", "2026-02-01T00:00:00Z", "2000.00")]
    held = [a["at"] for a in same(prog, again, "2026-06-01T00:00:00Z") if a["milestone"] == "held"]
    assert held == ["2026-03-03T00:00:00Z", "2026-03-03T00:00:00Z"]
    kept = [*start, sub("s2", "2026-02-01T00:00:00.000000001Z", "10.00")]  # a nanosecond late: paid
    held = [a["at"] for a in same(prog, kept, "2026-06-01T00:00:00Z") if a["milestone"] == "held"]
    assert held == ["2026-02-01T00:00:00Z", "2026-02-01T00:00:00Z"]


def test_a_timer_due_after_the_as_of_pays_nothing_yet(prog: rewardrules.Program) -> None:
    events = [referral("r1", "2026-01-01T00:00:00Z"), sub("s1", "2026-01-02T00:00:00Z", "1000.00")]
    assert [a for a in same(prog, events, "2026-01-31T23:59:59Z") if a["milestone"] == "held"] == []
    assert len([a for a in same(prog, events, "2026-02-01T00:00:00Z") if a["milestone"] == "held"]) == 2


def test_a_condition_true_at_the_referral_starts_there(prog: rewardrules.Program) -> None:
    """`mrr < 500 USD` holds from the referral (0 USD then): due 90 days
    later, in order of milestone then referee with the other timers of
    that instant, and drawing from the cap in that order."""
    events = [
        referral("r1", "2026-01-01T00:00:00Z", "cat"),
        referral("r2", "2026-01-01T00:00:00Z", "bob"),
        sub("s1", "2026-03-01T00:00:00Z", "100.00", "bob"),
        sub("s2", "2026-03-02T00:00:00Z", "100.00", "cat"),
        sub("s3", "2026-01-31T00:00:00Z", "100.00", "amy"),  # before amy's referral: not seen
        referral("r3", "2026-01-31T00:00:00Z", "amy"),
        sub("s4", "2026-02-10T00:00:00Z", "600.00", "amy"),  # amy breaks it
    ]
    awards = same(prog, events, "2026-12-31T00:00:00Z")
    low = [(a["at"], a["referee"]) for a in awards if a["milestone"] == "low"]
    assert low == [("2026-04-01T00:00:00Z", "bob"), ("2026-04-01T00:00:00Z", "cat")]


def test_capped_timer_awards_draw_in_firing_order(prog: rewardrules.Program) -> None:
    """Two referees' held timers due at one instant draw from the cap by
    referee (never by the id of the event that started them): bob's first."""
    events = [
        referral("r1", "2026-01-01T00:00:00Z", "cat"),
        referral("r2", "2026-01-01T00:00:00Z", "bob"),
        sub("s1", "2026-01-10T00:00:00Z", "1000.00", "cat"),
        sub("s2", "2026-01-10T00:00:00Z", "1000.00", "bob"),
    ]
    awards = same(prog, events, "2026-12-31T00:00:00Z")
    held = [
        (a["at"], a["referee"], a["amount"]) for a in awards if a["milestone"] == "held" and a["role"] == "referrer"
    ]
    assert held == [("2026-02-09T00:00:00Z", "bob", "100.00"), ("2026-02-09T00:00:00Z", "cat", "50.00")]


def test_a_held_condition_per_referrer_reading_a_per_referral_metric_compiles(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Refused before (`a per-referrer timer reading the per-referral
    metric`): C reads the value of the referral whose event tests it
    (differential tests in tests/test_sql_constructs3_timers.py)."""
    text = HELD.replace("when paying >= 2\n", "when paying >= 2 and mrr > 0 USD for 10 days\n")
    events = [referral("r1", "2026-01-01T00:00:00Z"), referral("r2", "2026-01-01T00:00:00Z", "cat")]
    events += [sub("s1", "2026-01-02T00:00:00Z", "5.00"), sub("s2", "2026-01-03T00:00:00Z", "5.00", "cat")]
    awards = same(written(tmp_path_factory, "per_referrer", text), events, "2026-02-01T00:00:00Z")
    assert [a["at"] for a in awards if a["milestone"] == "two_paying"] == ["2026-01-13T00:00:00Z"]


def test_a_timer_reading_a_per_referrer_metric_compiles(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Its value at the timer's instant is the referrer's, read on the
    referrer's last row before then (refused before; the differential
    tests are in tests/test_sql_voids_metrics.py)."""
    text = HELD.replace("reward referrer cash 7 USD", "reward referrer cash 7 USD * paying")
    assert "y.yn = 1" in compile_query(written(tmp_path_factory, "reads_paying", text).compiled).awards


#: timers with `void if` clauses (no triggering event: the window starts at
#: the timer's instant), a hold, and a reward with terms of its own
VOIDED = """\
ruleset voided_timers

event subscription { mrr: money USD }

metric mrr = latest subscription.mrr otherwise 0 USD

milestone held {
  when mrr >= 1000 USD for 30 days
  reward referrer cash 100 USD
  reward referee credit 10 USD { hold 10 days  void if subscription where subscription.mrr < 1000 USD }
  hold 20 days
  void if subscription where subscription.mrr == 0 USD within 60 days
}

milestone later {
  after 30 days if mrr > 0 USD
  reward referrer cash 50 USD
  void if subscription where subscription.mrr < 300 USD
}
"""


@pytest.fixture(scope="module")
def voided(tmp_path_factory: pytest.TempPathFactory) -> rewardrules.Program:
    return written(tmp_path_factory, "voided", VOIDED)


def test_a_void_event_at_the_timers_instant_voids_it(voided: rewardrules.Program) -> None:
    """The timer fires after the events of its instant, but its window
    starts at that instant: an event then voids the award, as in the Python
    engine; one later voids or reverses it by its hold."""
    start = [referral("r1", "2026-01-01T00:00:00Z"), sub("s1", "2026-01-01T00:00:00Z", "500.00")]
    events = [*start, sub("s2", "2026-01-31T00:00:00Z", "100.00")]  # at `later`'s instant
    later = [a["status"] for a in same(voided, events, "2026-06-01T00:00:00Z") if a["milestone"] == "later"]
    assert later == ["void"]
    events = [*start, sub("s2", "2026-03-01T00:00:00Z", "100.00")]  # after it: a reversal
    sql = json.loads(duckdb_json(voided, events, "2026-06-01T00:00:00Z"))
    assert [(r["milestone"], r["at"]) for r in sql["reversals"]] == [("later", "2026-03-01T00:00:00Z")]
    assert json.dumps(sql, indent=2) + "\n" == python_json(voided, events, "2026-06-01T00:00:00Z")


def test_held_awards_are_voided_by_their_own_terms(voided: rewardrules.Program) -> None:
    events = [
        referral("r1", "2026-01-01T00:00:00Z"),
        sub("s1", "2026-01-02T00:00:00Z", "1000.00"),
        sub("s2", "2026-02-05T00:00:00Z", "900.00"),  # 4 days after the award: the referee's credit is void
    ]
    held = [(a["role"], a["status"]) for a in same(voided, events, "2026-06-01T00:00:00Z") if a["milestone"] == "held"]
    assert held == [("referrer", "confirmed"), ("referee", "void")]


@pytest.mark.parametrize("text", [HELD, VOIDED], ids=["held", "voided"])
@DIFFERENTIAL
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(
    tmp_path_factory: pytest.TempPathFactory, text: str, data: st.DataObject
) -> None:
    prog = loaded(tmp_path_factory, text)
    events = data.draw(ledgers("subscription_loyalty"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


_LOADED: dict[str, rewardrules.Program] = {}


def loaded(factory: pytest.TempPathFactory, text: str) -> rewardrules.Program:
    """The program of a rule text, loaded once for every example Hypothesis draws."""
    if text not in _LOADED:
        _LOADED[text] = written(factory, "generated", text)
    return _LOADED[text]
