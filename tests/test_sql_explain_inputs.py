"""Explanations giving a number (not money) that divides, `rate of` or a
graduated table in SQL (docs/sql.md, "Explanations"), refused before: the
query writes `{"inputs": ...}`, the values the formula reads (as for a
message, sql/quotients.py), and `score` puts in its place the number the
Python engine computes from them (100 significant digits, the Decimal's
own exponent). Byte for byte the Python engine's explained awards, on
hand-written ties, a file of many plain milestones (the table shape) and
generated ledgers."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import compile_query
from rewardrules.sql.diagnose import refusals
from rewardrules.sql.write import Written

from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_constructs3_messages import QUOTIENTS, buy, referral
from .test_sql_explain import built, python_bytes, section, written
from .test_sql_explain_drawn import compare

#: every kind of value that was refused (the metrics of the messages'
#: test, then a per-referrer quotient): a quotient in `when`, in `each
#: EVENT where`, of a `latest` (`third`), a formula over a quotient (`blend`:
#: `mix`, of two, is refused in a condition, docs/sql.md "Division"),
#: `rate of`, a graduated table, a table whose rows hold one value with two
#: decimals (read by a reward amount: its `why` gives the rate), a timer's
#: condition, and a per-referrer quotient of a count
EXPLAINED = (
    QUOTIENTS.split("milestone bought")[0]
    + """\
metric friends = count referrals
metric half = friends / 2
metric blend = (per_buy + 1.50) * 2 / 4 - last

milestone average {
  when per_buy > 100
  reward referrer cash 5 USD
}

milestone each_buy {
  each purchase where third > 1 and ratio >= 1 and rated >= 0 and graded >= 0
  reward referee credit 1 USD
}

milestone mixed {
  each purchase where blend > 0
  reward referrer cash same of 100 USD
}

milestone later {
  after 10 days if blend > 1
  reward referrer credit 2 USD
}

milestone team {
  when half >= 1
  reward referrer cash 3 USD
}
"""
)


@cache
def _prog() -> rewardrules.Program:
    return rewardrules.compile(EXPLAINED, "explained.rules")


def explained(events: list[dict[str, Any]], tmp_path: Path, as_of: str | None = None) -> list[dict[str, Any]]:
    """The explained awards, checked byte for byte against the Python
    engine's through both of `score --engine duckdb`'s paths (the ledger
    read by DuckDB, and records built from the Python reader's)."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    expected = python_bytes(_prog(), events, as_of)
    got, awards = written(_prog(), ledger, as_of)
    assert not isinstance(awards, Written)  # computed after the query: the records are built in Python
    assert section(got) == section(expected)
    data = built(_prog(), events, as_of)
    python = json.loads(expected)
    assert [json.dumps(a, indent=2) for a in data["awards"]] == [json.dumps(a, indent=2) for a in python["awards"]]
    return list(python["awards"])


def test_it_compiles_with_explanations_and_check_reports_nothing() -> None:
    query = compile_query(_prog().compiled, explain=True)
    assert query.why_inputs and '{"inputs": "' in query.awards
    assert not compile_query(_prog().compiled).why_inputs  # without explanations: nothing sent
    assert refusals(_prog().compiled, explain=True) == []


def test_quotients_in_explanations_carry_the_engines_digits(tmp_path: Path) -> None:
    """10 / 3 runs to 100 significant digits, 1.50 keeps its decimals,
    `rate of` and the graduated table give the engine's numbers, the rate a
    reward paid is the row's (`12.5`)."""
    events = [referral("r1", "bob"), buy("p1", "02T00:00:00", "bob", "10"), buy("p2", "03T00:00:00", "bob", "1.50")]
    awards = explained(events, tmp_path)
    first = next(a["why"]["values"] for a in awards if a["milestone"] == "each_buy")
    assert first["third"] == "3." + "3" * 99 and first["ratio"] == "1"
    assert any(a["why"]["values"].get("same") == "12.5" for a in awards if a["milestone"] == "mixed")


def test_ties_a_zero_divisor_and_a_timer(tmp_path: Path) -> None:
    """Two purchases at one instant read in id order (`p10` before `p2`), a
    `latest` of 0 (no quotient: `null`, and the milestone not reached), two
    referrals (the per-referrer quotient `half`), a timer due after them."""
    events = [
        referral("r1", "bob"),
        referral("r2", "cat"),
        buy("p2", "02T00:00:00", "bob", "1.5"),
        buy("p10", "02T00:00:00", "bob", "300"),
        buy("p3", "03T00:00:00", "bob", "0"),
        buy("p4", "04T00:00:00", "cat", "250.50"),
        buy("p5", "05T00:00:00", "cat", "7.000"),
    ]
    awards = explained(events, tmp_path, "2026-03-01T00:00:00Z")
    assert {a["milestone"] for a in awards} >= {"average", "each_buy", "later", "team"}
    assert next(a for a in awards if a["milestone"] == "team")["why"]["values"] == {"half": "1"}


def test_a_file_of_many_plain_milestones_explains_its_quotients(tmp_path: Path) -> None:
    """64 plain milestones testing a quotient are rows of the table
    (sql/grouped.py): their explanations are computed alike."""
    lines = [f"milestone m{n} {{\n  when per_buy > {n}\n  reward referrer cash 1 USD\n}}\n" for n in range(64)]
    head = EXPLAINED.split("milestone average")[0]
    prog = rewardrules.compile(head + "\n".join(lines), "many.rules")
    events = [referral("r1", "bob"), buy("p1", "02T00:00:00", "bob", "10"), buy("p2", "03T00:00:00", "bob", "25.5")]
    expected = python_bytes(prog, events, None)
    data = built(prog, events, None)
    python = json.loads(expected)
    assert len(python["awards"]) == 18  # per_buy reaches 17.75
    assert "hg AS (" in compile_query(prog.compiled, explain=True).awards  # the table's shape
    assert [json.dumps(a, indent=2) for a in data["awards"]] == [json.dumps(a, indent=2) for a in python["awards"]]


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 20))
@given(data=st.data())
def test_generated_ledgers_explain_alike(data: st.DataObject) -> None:
    events = data.draw(ledgers("microsoft_referral"), label="ledger")
    compare(EXPLAINED, events, data.draw(as_ofs(events), label="as_of"))
