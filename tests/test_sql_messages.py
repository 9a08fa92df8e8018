"""Messages with the SQL back end (docs/sql.md, "Messages"): the values a
template reads computed by the query for the awards only, the message the
Python engine's, byte for byte; values whose text could differ are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules

from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_backend import GOLDEN, duckdb_json, python_json

#: over partner_and_customer's events: metrics (money, counts, per referrer),
#: the triggering event's fields, award fields, filters, `if`, a cap's cut
MESSAGES = """\
ruleset msgs

event referral { source: optional text }
event payment { amount: money USD }
event refund { payment: text }

metric paid = sum payment.amount
metric payments = count payment
metric conversions = count referrals where paid > 0

milestone first_paid "The first payment" {
  first payment where payment.amount > 0
  reward referrer cash 10% of payment.amount
  reward referee credit 5 USD
  hold 7 days
  void if refund where refund.payment == payment.id within 7 days
  message "{{ beneficiary }} earns {{ amount }} {{ unit }} for {{ referee | upper }}: paid {{ paid }}, {{ payments }} payment(s), {{ conversions }} conversion(s), first {{ payment.amount }} ({{ payment.id }}, {{ payment.referee }}) at {{ at }}{% if item == none %} no item{% endif %}"
}

milestone big {
  when paid >= 100 USD
  reward referee credit 5 USD
  message "{{ title }} / {{ milestone }} / {{ program }} / {{ ruleset }}: {{ paid }} {{ kind }} {{ role }} {{ referrer | title }}"
}

milestone each_pay {
  each payment
  reward referrer cash 1 USD
  cap referrer 2.5 USD
  message "{{ payment.amount }} {{ amount }} plain"
}

milestone no_message {
  first refund
  reward referrer cash 1 USD
}
"""


def written(factory: pytest.TempPathFactory, name: str, text: str) -> rewardrules.Program:
    """The program of a rule file's text, written to a file of its own."""
    path = factory.mktemp(name) / f"{name}.rules"
    path.write_text(text, encoding="utf-8")
    return rewardrules.load(path)


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> rewardrules.Program:
    return written(tmp_path_factory, "msgs", MESSAGES)


@pytest.mark.parametrize("ledger", sorted((GOLDEN / "partner_and_customer").glob("*.jsonl")), ids=lambda p: p.stem)
def test_golden_ledgers_give_the_same_messages(prog: rewardrules.Program, ledger: Path) -> None:
    lines = ledger.read_text(encoding="utf-8").splitlines()
    sql = duckdb_json(prog, lines, None)
    assert sql == python_json(prog, lines, None)
    messages = [a["message"] for a in json.loads(sql)["awards"]]
    assert any(m and "payment(s)" in m for m in messages)  # not vacuous


@DIFFERENTIAL
@given(data=st.data())
def test_generated_ledgers_give_the_same_messages(prog: rewardrules.Program, data: st.DataObject) -> None:
    events = data.draw(ledgers("partner_and_customer"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


def test_a_cut_amount_is_in_the_message(prog: rewardrules.Program) -> None:
    events = [{"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}]
    events += [
        {"id": f"p{n}", "at": f"2026-01-0{n + 2}T00:00:00Z", "type": "payment", "referee": "bob", "amount": "0"}
        for n in range(3)
    ]
    sql = json.loads(duckdb_json(prog, events, None))
    assert [a["message"] for a in sql["awards"]] == ["0.00 1.00 plain", "0.00 1.00 plain", "0.00 0.50 plain"]
    assert json.dumps(sql, indent=2) + "\n" == python_json(prog, events, None)
