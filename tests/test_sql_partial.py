"""Partial voids (`void PART of WHOLE if ...`) with the SQL back end
(docs/sql.md, "Partial voids"): the query gives each award's void events
with their parts and wholes, and the statuses and reversals are computed
from them by the Python engine's arithmetic, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import Unsupported, compile_query

from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_backend import GOLDEN, duckdb_json, python_json
from .test_sql_messages import written
from .test_sql_timers2 import loaded

CLAWBACKS = GOLDEN / "clawbacks"

#: on partner_and_customer's generated events: each payment's commission is
#: taken back in parts by the later payments (a share of 1,000 USD each,
#: the payment itself included), or whole by a refund of it; a reward with
#: a partial void of its own, held; a computed amount under a cap
GENERATED = """\
ruleset partial_generated

event referral { source: optional text }
event payment { amount: money USD }
event refund { payment: text }

milestone commission {
  each payment where payment.amount > 0
  reward referrer cash 10% of payment.amount
  cap referrer 5000 USD
  hold 14 days
  void payment.amount of 1000 USD if payment within 30 days
  void if refund where refund.payment == payment.id within 90 days
}

milestone thanks {
  first payment where payment.amount > 0
  reward referrer cash 100 USD
  reward referee credit 25 USD { hold 7 days  void 3 * payment.amount of 20000 USD if payment }
}
"""

#: shares whose product with the amount is a half-cent tie exactly, which
#: the Python engine's rounded share (100 significant digits) breaks
TIES = """\
ruleset ties

event payment { amount: money USD }
event refund { amount: money USD }

milestone fee {
  each payment
  reward referrer cash 1% of payment.amount
  void refund.amount of payment.amount if refund
}
"""


@pytest.mark.parametrize("ledger", sorted((CLAWBACKS / "ledgers").glob("*.jsonl")), ids=lambda p: p.stem)
def test_golden_ledgers_give_the_same_bytes(ledger: Path) -> None:
    prog = rewardrules.load(CLAWBACKS / "clawbacks.rules")
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    lines = ledger.read_text(encoding="utf-8").splitlines()
    sql = duckdb_json(prog, lines, expected["as_of"])
    assert sql == python_json(prog, lines, expected["as_of"])
    got = [(r["at"], r["amount"], r["why"]["event"], r["why"].get("taken")) for r in json.loads(sql)["reversals"]]
    hand = [(r["at"], r["amount"], r["event"], r.get("taken")) for r in expected["reversals"]]
    assert sorted(got, key=str) == sorted(hand, key=str)  # the hand-worked answer


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> rewardrules.Program:
    return written(tmp_path_factory, "partial", GENERATED)


@DIFFERENTIAL
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(generated: rewardrules.Program, data: st.DataObject) -> None:
    events = data.draw(ledgers("partner_and_customer"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert duckdb_json(generated, events, as_of) == python_json(generated, events, as_of)


def event(event_id: str, at: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "at": at, "type": kind, "referee": "bob", **fields}


def test_a_half_cent_tie_is_rounded_as_the_python_engine_rounds_it(tmp_path_factory: pytest.TempPathFactory) -> None:
    """1% of 3.00 USD is 0.03 USD; a refund of 0.50 of 3.00 takes a share
    of 1/6: exactly 0.005 USD, which half to even would make 0.00, but the
    engine's share is rounded up at its 100th digit, so it takes 0.01."""
    prog = written(tmp_path_factory, "ties", TIES)
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        event("p1", "2026-01-02T00:00:00Z", "payment", amount="3.00"),
        event("f1", "2026-01-03T00:00:00Z", "refund", amount="0.50"),
        event("f2", "2026-01-04T00:00:00Z", "refund", amount="0.50"),
        event("f3", "2026-01-05T00:00:00Z", "refund", amount="2.00"),
    ]
    sql = json.loads(duckdb_json(prog, events, None))
    assert [(r["amount"], r["why"]) for r in sql["reversals"]] == [
        ("0.01", {"event": "f1", "taken": "0.01"}),
        ("0.02", {"event": "f3", "taken": "0.03"}),  # f2: 1/3 of 0.03 is 0.01, taken already
    ]
    assert json.dumps(sql, indent=2) + "\n" == python_json(prog, events, None)


def test_shares_during_the_hold_come_back_at_the_confirmation() -> None:
    """A refund during the hold is clawed back when the award is confirmed;
    one that completes the share during the hold voids the award."""
    prog = rewardrules.load(CLAWBACKS / "clawbacks.rules")
    head = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        event("p1", "2026-01-02T00:00:00Z", "payment", amount="100.00"),
        event("f1", "2026-01-03T00:00:00Z", "refund", payment="p1", amount="25.00"),
    ]
    sql = json.loads(duckdb_json(prog, head, "2026-03-01T00:00:00Z"))
    assert [(r["at"], r["amount"]) for r in sql["reversals"]] == [("2026-01-16T00:00:00Z", "2.50")]
    assert json.dumps(sql, indent=2) + "\n" == python_json(prog, head, "2026-03-01T00:00:00Z")
    whole = [*head, event("f2", "2026-01-04T00:00:00Z", "refund", payment="p1", amount="75.00")]
    sql = json.loads(duckdb_json(prog, whole, "2026-03-01T00:00:00Z"))
    assert [a["status"] for a in sql["awards"]] == ["void"] and sql["reversals"] == []
    assert json.dumps(sql, indent=2) + "\n" == python_json(prog, whole, "2026-03-01T00:00:00Z")


def test_a_share_read_through_a_division_is_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    text = TIES.replace("void refund.amount of", "void refund.amount / 2 of")
    with pytest.raises(Unsupported, match="a division in a partial void's share"):
        compile_query(written(tmp_path_factory, "divided", text).compiled)


#: a timer's award taken back in parts: no triggering event, the shares
#: read the void event alone
TIMED = """\
ruleset timed_partial

event subscription { mrr: money USD }

metric mrr = latest subscription.mrr otherwise 0 USD

milestone held {
  when mrr >= 1000 USD for 30 days
  reward referrer cash 90 USD
  hold 10 days
  void subscription.mrr of 3000 USD if subscription where subscription.mrr < 1000 USD
}
"""


@DIFFERENTIAL
@given(data=st.data())
def test_a_timers_partial_voids_on_generated_ledgers(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    prog = loaded(tmp_path_factory, TIMED)
    events = data.draw(ledgers("subscription_loyalty"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


def test_a_timers_award_is_taken_back_in_parts(tmp_path_factory: pytest.TempPathFactory) -> None:
    prog = loaded(tmp_path_factory, TIMED)
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "s1", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": "1000.00"},
        {"id": "s2", "at": "2026-02-05T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": "500.00"},
        {"id": "s3", "at": "2026-03-01T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": "100.00"},
    ]
    sql = json.loads(duckdb_json(prog, events, None))
    assert [(r["at"], r["amount"], r["why"]) for r in sql["reversals"]] == [
        ("2026-02-11T00:00:00Z", "15.00", {"event": "s2", "taken": "15.00"}),  # during the hold: at the confirmation
        ("2026-03-01T00:00:00Z", "3.00", {"event": "s3", "taken": "18.00"}),
    ]
    assert json.dumps(sql, indent=2) + "\n" == python_json(prog, events, None)
