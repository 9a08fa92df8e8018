"""`after D [from EVENT] [if C]` in SQL (docs/sql.md, "Timers"): timers
fire up to the as-of, their awards at their instant after the awards of
the events at or before it, byte for byte as the Python engine gives them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules

from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_backend import GOLDEN, duckdb_json, python_json
from .test_sql_messages import written

#: subscription_loyalty's `after` milestone (its `when ... for` and its cap
#: per month are left out here), one anchored at the first
#: subscription with a computed amount and a message, and an event
#: milestone sharing instants with them
AFTER = """\
ruleset after_timers

event subscription { mrr: money USD }

metric mrr = latest subscription.mrr
metric subs = count subscription

milestone still_subscribed "Still subscribed 30 days after the referral" {
  after 30 days if mrr > 0 USD
  reward referrer cash 50 USD
  reward referee credit 10 USD
  cap referrer 100 USD
}

milestone anchored {
  after 10 days from subscription
  reward referrer cash 10% of mrr
  message "{{ referee }}: {{ subs }} subscription(s), {{ mrr }} at {{ at }}"
}

milestone now {
  first subscription where subscription.mrr > 0
  reward referrer cash 1 USD
}
"""


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> rewardrules.Program:
    return written(tmp_path_factory, "after", AFTER)


@pytest.mark.parametrize("ledger", sorted((GOLDEN / "subscription_loyalty").glob("*.jsonl")), ids=lambda p: p.stem)
def test_golden_ledgers_give_the_same_bytes(prog: rewardrules.Program, ledger: Path) -> None:
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    lines = ledger.read_text(encoding="utf-8").splitlines()
    sql = duckdb_json(prog, lines, expected["as_of"])
    assert sql == python_json(prog, lines, expected["as_of"])
    assert {a["milestone"] for a in json.loads(sql)["awards"]} >= {"still_subscribed", "anchored"}


@DIFFERENTIAL
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(prog: rewardrules.Program, data: st.DataObject) -> None:
    events = data.draw(ledgers("subscription_loyalty"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


def test_a_timer_comes_after_the_events_of_its_instant(prog: rewardrules.Program) -> None:
    """Due at the instant of a subscription that sorts last by id: the
    event's award first, then the timer's (which sees that subscription)."""
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "r2", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "amy"},
        {"id": "zz", "at": "2026-01-31T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": "5.00"},
        {"id": "s2", "at": "2026-01-31T00:00:00Z", "type": "subscription", "referee": "amy", "mrr": "7.00"},
    ]
    sql = json.loads(duckdb_json(prog, events, "2026-02-28T00:00:00Z"))
    at_30 = [(a["milestone"], a["referee"]) for a in sql["awards"] if a["at"] == "2026-01-31T00:00:00Z"]
    assert at_30 == [
        ("now", "amy"),
        ("now", "bob"),
        ("still_subscribed", "amy"),
        ("still_subscribed", "amy"),
        ("still_subscribed", "bob"),
        ("still_subscribed", "bob"),
    ]
    assert json.dumps(sql, indent=2) + "\n" == python_json(prog, events, "2026-02-28T00:00:00Z")
