"""A per-referrer `sum referrals.M` of a number (not money) in a message or
an explanation, refused before: the query computes its Decimal's exponent
as the Python engine's sum has it (sql/exponents.py: the least of 0 and the
exponents of the contributions that changed it), so `1.50 + 2` is `3.50`.
Byte for byte the Python engine's result, with and without explanations,
on hand-written ties and generated ledgers (sums of rate tables, graduated
tables and `rate of`: tests/test_sql_rate_table_decimals.py)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import compile_query
from rewardrules.sql.diagnose import refusals

from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_backend import duckdb_json, python_json
from .test_sql_constructs3_messages import buy
from .test_sql_explain import built, python_bytes
from .test_sql_explain_drawn import compare

#: the referrer's sums of a sum (`all`), of a `latest` while it is above 1
#: (`big`: a contribution falls back to 0), a quotient reading one (`per`:
#: computed from the values it reads), read by a message, by a timer's
#: message at its instant, and by a per-referrer milestone's explanation
SUMS = """\
ruleset sums

event referral { country: optional text }
event purchase { amount: number }

metric used = sum purchase.amount
metric last = latest purchase.amount
metric all = sum referrals.used
metric big = sum referrals.last where last > 1
metric per = all / 3

milestone each_buy {
  each purchase
  reward referrer cash 1 USD
  message "{{ all }}|{{ big }}|{{ per }}"
}

milestone later {
  after 5 days
  reward referrer credit 1 USD
  message "{{ all }} {{ big }}"
}

milestone team {
  when all > 10 and big >= 0
  reward referrer cash 2 USD
}
"""


@cache
def _prog() -> rewardrules.Program:
    return rewardrules.compile(SUMS, "sums.rules")


def referral(event_id: str, referee: str, at: str = "01T00:00:00") -> dict[str, Any]:
    return {"id": event_id, "at": f"2026-01-{at}Z", "type": "referral", "referrer": "ann", "referee": referee}


def same(
    events: list[dict[str, Any]], as_of: str | None = None, prog: rewardrules.Program | None = None
) -> list[dict[str, Any]]:
    """The awards, checked equal to the Python engine's without and with
    explanations (the records built from the query's rows), of `prog`
    (this file's by default)."""
    prog = prog or _prog()
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)
    expected = json.loads(python_bytes(prog, events, as_of))
    data = built(prog, events, as_of)
    assert [json.dumps(a, indent=2) for a in data["awards"]] == [json.dumps(a, indent=2) for a in expected["awards"]]
    return list(expected["awards"])


def test_it_compiles_and_check_reports_nothing() -> None:
    compile_query(_prog().compiled, explain=True)
    assert refusals(_prog().compiled, explain=True) == []


def test_the_sum_keeps_the_decimals_of_what_changed_it() -> None:
    """bob's 1.50 and cat's 2 make 3.50; cat's 0.000 leaves `used` at 2.000
    (equal: no change, so not its decimals) and takes cat's `latest` out of
    `big` (below its `where`); bob's 20 makes `all` 23.50 and `big` 20.00,
    written `20` (whole); a timer's message reads the referrer's sums at
    its instant."""
    events = [
        referral("r1", "bob"),
        referral("r2", "cat"),
        buy("p1", "02T00:00:00", "bob", "1.50"),
        buy("p2", "03T00:00:00", "cat", "2"),
        buy("p3", "04T00:00:00", "cat", "0.000"),
        buy("p4", "09T00:00:00", "bob", "20"),
    ]
    awards = same(events, "2026-02-01T00:00:00Z")
    messages = [a["message"] for a in awards if a["milestone"] == "each_buy"]
    assert [m.split("|")[:2] for m in messages] == [
        ["1.50", "1.50"],
        ["3.50", "3.50"],
        ["3.50", "1.50"],
        ["23.50", "20"],
    ]
    assert messages[0].split("|")[2] == "0.50"  # 1.50 / 3, exact
    assert any(a["milestone"] == "later" for a in awards)
    team = next(a for a in awards if a["milestone"] == "team")
    assert team["why"]["values"] == {"all": "23.50", "big": "20"}


def test_ties_and_a_value_changed_back() -> None:
    """Two referrals' purchases at one instant (read in id order), a
    `latest` going 1.5 then 1.50 (equal: no change, its decimals stay), then
    0.5 (below `where`: its contribution goes to 0)."""
    events = [
        referral("r1", "bob"),
        referral("r2", "cat"),
        buy("p10", "02T00:00:00", "bob", "1.5"),
        buy("p2", "02T00:00:00", "cat", "3.25"),
        buy("p3", "03T00:00:00", "bob", "1.50"),
        buy("p4", "04T00:00:00", "bob", "0.5"),
    ]
    same(events, "2026-02-01T00:00:00Z")


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 20))
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(data: st.DataObject) -> None:
    events = data.draw(ledgers("microsoft_referral"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert duckdb_json(_prog(), events, as_of) == python_json(_prog(), events, as_of)
    compare(SUMS, events, as_of)
