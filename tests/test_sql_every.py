"""`every N M` in the SQL back end (docs/sql.md, "`every`"): the awards of
each multiple reached, their ids, order and caps, and the per-event award
limit, as the Python engine gives them, byte for byte."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules
from rewardrules.core.limits import AwardLimitError

from .test_docs_examples import blocks
from .test_fastpath_reading import _as_process
from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_backend import ROOT, duckdb_json, python_json
from .test_sql_exprs import payments, referral, same

#: multiples of money (a step with decimals: thresholds `0.5`, `1`, ...),
#: of a count, beside a milestone given once; two rewards of one milestone
EVERY = """ruleset every "Every"

event payment { amount: money USD }

metric paid = sum payment.amount
metric payments = count payment
metric largest = max payment.amount

milestone spend "Spend" {
  every 0.50 paid
  reward referrer cash 5 USD
  reward referee credit 2 points
}

milestone thirds {
  every 3 payments
  reward referrer cash 10% of paid
}

milestone high {
  every 1000 largest
  reward referrer cash 1 USD
}

milestone first_pay {
  first payment
  reward referrer cash 3 USD
}
"""

#: `every` beside caps: a milestone's cap on a number of rewards, a
#: program's cap on an amount per month
CAPPED = """ruleset capped_every "Capped every"

event payment { amount: money USD }

metric paid = sum payment.amount

cap referrer 120 USD per month

milestone per_thousand {
  every 1000 paid
  reward referrer cash 50 USD
  cap referrer 5 rewards
}

milestone per_hundred {
  every 100.00 paid
  reward referee cash 1 USD
}
"""

#: per referrer: every third paying friend (the cookbook's), with a hold
#: and a void on a refund of the triggering payment
BY_REFERRER = """ruleset by_referrer_every "Every third"

event payment { amount: money USD }
event refund { payment: text }

metric paying = count payment where payment.amount > 0
metric conversions = count referrals where paying >= 1
metric paid = sum payment.amount

milestone every_third {
  every 3 conversions
  reward referrer gift_card 25 USD
}

milestone per_500 {
  every 500 paid
  hold 30 days
  void if refund within 10 days
  reward referrer cash 7 USD
}
"""


def test_each_multiple_reached_at_one_event_is_an_award() -> None:
    """1.20 USD passes 0.5 and 1 at once: two awards of each reward, in
    the order the Python engine issues them (multiple, then reward), ids
    naming the thresholds `0.5` and `1` (not `0.50`, `1.00`); a fall does
    not pay again what was paid, and a negative value pays nothing."""
    events = [referral(), *payments(["1.20", "-0.50", "-2.00", "0.90", "2.40"])]
    awards = same(EVERY, events)
    spend = [(a["at"][:10], a["role"]) for a in awards if a["milestone"] == "spend"]
    assert (
        spend
        == [("2026-01-02", "referrer"), ("2026-01-02", "referee")] * 2
        + [
            ("2026-01-06", "referrer"),
            ("2026-01-06", "referee"),
        ]
        * 2
    )
    assert len({a["id"] for a in awards}) == len(awards)


def test_thresholds_name_the_awards_whatever_the_step_is_written() -> None:
    """`every 0.50 paid` and `every 0.5 paid` give the same ids (the
    threshold, written plainly, is the occurrence)."""
    events = [referral(), *payments(["1.75"])]
    written = {
        step: [a["id"] for a in same(EVERY.replace("every 0.50 paid", f"every {step} paid"), events)]
        for step in ("0.50", "0.5", "0.500")
    }
    assert written["0.50"] == written["0.5"] == written["0.500"]


def test_every_with_caps_draws_in_issue_order() -> None:
    """2500 USD: two multiples (100 of the month's 120); 3649.99: the
    third, cut to 20; 7650: four more, withheld (the month's cap is
    full); the referee's awards are not capped."""
    events = [referral(), *payments(["2500", "150", "999.99", "0.01", "4000"])]
    awards = same(CAPPED, events)
    assert [a["amount"] for a in awards if a["milestone"] == "per_thousand"] == ["50.00", "50.00", "20.00"]
    assert len([a for a in awards if a["milestone"] == "per_hundred"]) == 76


def test_cookbook_every_third_gives_the_python_engine_s_bytes() -> None:
    """The cookbook's `every 3 conversions` (per referrer) on its ledger."""
    found = {b.file: b.text for b in blocks(ROOT / "docs" / "cookbook.md") if b.file}
    rules, ledger = found["patterns/every_third.rules"], found["patterns/every_third.jsonl"]
    prog = rewardrules.compile(rules, "every_third.rules")
    lines = ledger.splitlines()
    assert duckdb_json(prog, lines, None) == python_json(prog, lines, None)
    assert '"every_third"' in duckdb_json(prog, lines, None)


def outcome(rules: str, events: list[dict[str, Any]], as_of: str | None = None) -> str:
    """The result's JSON, or the award limit's error, from one engine."""
    prog = rewardrules.compile(rules)
    try:
        return python_json(prog, events, as_of)
    except AwardLimitError as error:
        return f"error: {error}"


def sql_outcome(rules: str, events: list[dict[str, Any]], as_of: str | None = None) -> str:
    prog = rewardrules.compile(rules)
    try:
        return duckdb_json(prog, events, as_of)
    except AwardLimitError as error:
        return f"error: {error}"


@pytest.mark.parametrize("rules", [EVERY, CAPPED, BY_REFERRER], ids=["every", "capped", "by_referrer"])
@DIFFERENTIAL
@given(data=st.data())
def test_generated_ledgers(rules: str, data: st.DataObject) -> None:
    """Payments of -50 to 40000 USD (ties, several referrals of one
    referrer): the same result, or the same award-limit error (`every
    0.50 paid` passes a hundred multiples at one large payment)."""
    events = data.draw(ledgers("partner_and_customer"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert sql_outcome(rules, events, as_of) == outcome(rules, events, as_of)


# -- the per-event award limit -------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return _as_process(list(args))


LIMITED = [
    '{"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}',
    '{"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "1.20"}',
    '{"id": "p2", "at": "2026-01-03T00:00:00Z", "type": "payment", "referee": "bob", "amount": "0.40"}',
    '{"id": "p3", "at": "2026-01-04T00:00:00Z", "type": "payment", "referee": "bob", "amount": "0.40"}',
]


@pytest.mark.parametrize("limit", ["1", "2", "3", None])
def test_the_award_limit_stops_where_the_python_engine_stops(tmp_path: Path, limit: str | None) -> None:
    """p1 reaches `spend` twice and `first_pay` once: past a limit of 1,
    the `every` milestone alone (`... 2 awards of milestone `spend``);
    past 2, the event's three awards; 3 scores. `score --engine duckdb`
    says what the Python engine says, with its exit code (the query's
    hits counted before any award is computed); it used to refuse any
    limit below the awards one event could give under the rules."""
    rules, ledger = tmp_path / "every.rules", tmp_path / "every.jsonl"
    rules.write_text(EVERY)
    ledger.write_text("\n".join(LIMITED) + "\n")
    option = ["--max-awards-per-event", limit] if limit is not None else []
    python = cli("score", "--no-explain", "--format", "json", str(rules), str(ledger), *option)
    duck = cli("score", "--engine", "duckdb", "--no-explain", "--format", "json", str(rules), str(ledger), *option)
    assert (duck.returncode, duck.stdout, duck.stderr) == (python.returncode, python.stdout, python.stderr)
    if limit == "1":
        assert "event `p1` would give 2 awards of milestone `spend`" in duck.stderr
    elif limit == "2":
        assert "event `p1` would give 3 awards, more than the limit of 2" in duck.stderr
    else:
        assert duck.returncode == 0


def test_a_huge_jump_is_refused_before_any_award_is_computed() -> None:
    """`every 0.50 paid` over 10^20 USD: about 2 x 10^20 multiples at one
    event; the limit's error, never a query that lists them."""
    events = [referral(), *payments(["100000000000000000000.00"])]
    expected = outcome(EVERY, events)
    assert expected.startswith("error: event `p00` would give about 10^20 awards of milestone `spend`")
    assert sql_outcome(EVERY, events) == expected


#: no `every`: one event reaches both milestones, three rewards in all
TWO_AT_ONCE = """ruleset two "Two at once"

event payment { amount: money USD }

milestone paid {
  first payment
  reward referrer cash 5 USD
  reward referee cash 5 USD
}

milestone paid_well {
  first payment where payment.amount >= 100 USD
  reward referrer cash 10 USD
}
"""


@pytest.mark.parametrize(("amount", "limit"), [("150.00", "1"), ("50.00", "1"), ("150.00", "2")])
def test_the_limit_counts_what_the_python_engine_counts_without_every(tmp_path: Path, amount: str, limit: str) -> None:
    """The engine counts an event's milestones reached (each gives its
    rewards): a payment of 50 reaches one, within a limit of 1, though its
    milestone has two rewards; one of 150 reaches two, past it. The SQL
    engine used to refuse any limit below the file's rewards (3)."""
    rules, ledger = tmp_path / "two.rules", tmp_path / "two.jsonl"
    rules.write_text(TWO_AT_ONCE)
    lines = [LIMITED[0], LIMITED[1].replace('"1.20"', f'"{amount}"')]
    ledger.write_text("\n".join(lines) + "\n")
    option = ["--max-awards-per-event", limit]
    python = cli("score", "--no-explain", "--format", "json", str(rules), str(ledger), *option)
    duck = cli("score", "--engine", "duckdb", "--no-explain", "--format", "json", str(rules), str(ledger), *option)
    assert (duck.returncode, duck.stdout, duck.stderr) == (python.returncode, python.stdout, python.stderr)
    assert duck.returncode == (2 if (amount, limit) == ("150.00", "1") else 0)
