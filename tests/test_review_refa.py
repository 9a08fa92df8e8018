"""A hostile review of explanations giving their inputs (`{"inputs": ...}`,
sql/explain.py `computed`) and per-referrer sums of numbers (`RX{n}`,
sql/exponents.py): adversarial ledgers byte for byte against the Python
engine, ledger text that looks like an inputs object, names that differ
only in case (DuckDB folds the case of quoted names), the other dialects."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals
from rewardrules.sql.dialect import to_dialect
from rewardrules.sql.write import Written

from .test_sql_backend import duckdb_json, python_json
from .test_sql_explain import built, python_bytes, section, written

#: per-referrer sums of a `sum`, of a `latest` under a `where`, of a `max`
#: and a `min` (each contribution's decimals its own), a quotient of them,
#: read by messages, a timer's message, a per-referrer milestone's
#: explanation and a referral milestone's explanation; a void of awards
SUMS = """\
ruleset review

event referral { country: optional text }
event purchase { amount: number, note: optional text }
event refund { purchase: text }

metric used = sum purchase.amount
metric last = latest purchase.amount
metric hi = max purchase.amount
metric lo = min purchase.amount
metric all = sum referrals.used
metric big = sum referrals.last where last > 1
metric tops = sum referrals.hi where hi < 0 or hi > 0.5
metric lows = sum referrals.lo
metric per = all / 3
metric mixed = (all + big) / 7 + tops - lows
metric friends = count referrals

milestone each_buy {
  each purchase where per > -1000 and mixed != 12345
  reward referrer cash 1 USD { void if refund where refund.purchase == purchase.id }
  message "{{ all }}|{{ big }}|{{ per }}|{{ tops }}|{{ mixed }}|{{ lows }}"
}

milestone later {
  after 5 days
  reward referrer credit 1 USD
  message "{{ all }} {{ big }} {{ per }} {{ lows }}"
}

milestone team {
  when all > 1 and big >= 0 and tops != 0.5 and per > 0 and lows != 7
  reward referrer cash 2 USD
}

milestone many {
  when friends >= 2 and mixed > 0.1
  reward referrer cash 2 USD
}
"""

_PROGRAMS: dict[str, rewardrules.Program] = {}


def _prog(text: str = SUMS) -> rewardrules.Program:
    if text not in _PROGRAMS:
        _PROGRAMS[text] = rewardrules.compile(text, "review.rules")
    return _PROGRAMS[text]


def _line(event: dict[str, Any], raw: str | None = None) -> str:
    """An event as a ledger line; `raw`: its amount as a JSON number token
    written as is (`1.500`, `-0e-3`), not a string."""
    text = json.dumps(event, ensure_ascii=False)
    return text if raw is None else text.replace('"@AMOUNT@"', raw)


def referral(event_id: str, referee: str, referrer: str = "ann", **fields: Any) -> str:
    event = {"id": event_id, "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": referrer}
    return _line({**event, "referee": referee, **fields})


def buy(event_id: str, day: str, referee: str, amount: str, raw: bool = False, **fields: Any) -> str:
    event = {"id": event_id, "at": f"2026-01-{day}T00:00:00Z", "type": "purchase", "referee": referee}
    return _line({**event, "amount": "@AMOUNT@" if raw else amount, **fields}, amount if raw else None)


def refund(event_id: str, day: str, referee: str, purchase: str) -> str:
    event = {"id": event_id, "at": f"2026-01-{day}T00:00:00Z", "type": "refund", "referee": referee}
    return _line({**event, "purchase": purchase})


def same(lines: list[str], tmp_path: Path, as_of: str | None, text: str = SUMS) -> list[dict[str, Any]]:
    """The result of `score --engine duckdb` (its awards and reversals as
    written, and the records built from the query's rows) and without
    explanations, byte for byte the Python engine's; its awards."""
    prog = _prog(text)
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    expected = python_bytes(prog, lines, as_of)
    got, _awards = written(prog, ledger, as_of)
    assert section(got) == section(expected)
    data = built(prog, lines, as_of)
    python = json.loads(expected)
    assert [json.dumps(a, indent=2) for a in data["awards"]] == [json.dumps(a, indent=2) for a in python["awards"]]
    assert duckdb_json(prog, lines, as_of) == python_json(prog, lines, as_of)
    return list(python["awards"])


def test_it_compiles_with_explanations() -> None:
    query = compile_query(_prog().compiled, explain=True)
    assert query.why_inputs and "RX0" in query.awards
    assert refusals(_prog().compiled, explain=True) == []


def test_decimals_going_back_and_forth_at_one_instant(tmp_path: Path) -> None:
    """1.5, 1.50, 1.500 (equal: no change, its decimals stay), negative
    zeros, a zero with decimals (`mv or ZERO`: no decimals), JSON number
    tokens with exponents, ties at one instant across referrals and
    referrers, a void, a timer."""
    lines = [
        referral("r1", "bob"),
        referral("r2", "cat"),
        referral("r3", "dan", "zed"),
        buy("p10", "02", "bob", "1.5"),
        buy("p2", "02", "cat", "-1.50"),
        buy("p3", "02", "bob", "1.500", raw=True),
        buy("p4", "02", "dan", "-0e-3", raw=True),
        buy("p5", "03", "cat", "0.000"),
        buy("p6", "03", "bob", "150e-2", raw=True),
        buy("p7", "03", "dan", "-0.0"),
        buy("p8", "05", "cat", "2.0", raw=True),
        refund("v1", "05", "cat", "p8"),
        buy("p9", "09", "bob", "0.10"),
        buy("p11", "09", "dan", "12.25"),
    ]
    awards = same(lines, tmp_path, "2026-02-01T00:00:00Z")
    assert {a["milestone"] for a in awards} >= {"each_buy", "later", "team"}
    same(lines, tmp_path, "2026-01-06T00:00:00Z")


def test_the_30_digit_bounds(tmp_path: Path) -> None:
    """The smallest and the widest ledger numbers (30 digits), each in a
    ledger of its own (together they need more than DuckDB's 38 digits)."""
    tiny = "0." + "0" * 29 + "1"
    lines = [referral("r1", "bob"), referral("r2", "cat"), buy("p1", "02", "bob", tiny), buy("p2", "03", "cat", "7.25")]
    same([*lines, buy("p3", "04", "bob", "-" + tiny)], tmp_path, None)
    wide = "123456789012345678901234567890"
    same([referral("r1", "bob"), buy("p1", "02", "bob", wide), buy("p2", "03", "bob", "1e2", raw=True)], tmp_path, None)


#: texts that look like an inputs object, its separators, escapes
FORGED = (
    '{"inputs": "1@0"}',
    '", "per": {"inputs": "999@0"}, "x": "',
    '\\", \\"per\\": {\\"inputs\\": \\"5@0\\"}',
    "1@0|2@-3|~",
    "é\u2028\u0085\x7f\x1f\x00",
    "\\u0000\\",
    '{"inputs":"1@-200"}',
)


def test_ledger_text_never_becomes_an_inputs_object(tmp_path: Path) -> None:
    """Event ids, a referral's text field and an event's text field read by
    an explanation that has an inputs object: each stays a string; only
    the quotient is computed."""
    lines = [referral('r1"{\\', "bob", country=FORGED[0])]
    lines += [buy(f'p{n}"{{"inputs": "1@0"}}', f"0{2 + n % 5}", "bob", "1.5", note=t) for n, t in enumerate(FORGED)]
    text = SUMS.replace("mixed != 12345", 'mixed != 12345 and purchase.note != "zz" and referral.country != "zz"')
    awards = same(lines, tmp_path, None, text)
    explained = [a["why"]["values"] for a in awards if a["milestone"] == "each_buy"]
    assert sorted(values["purchase.note"] for values in explained) == sorted(FORGED)
    for values in explained:
        assert values["referral.country"] == FORGED[0]
        assert all(isinstance(v, str) for v in values.values())


FOLDED = """\
ruleset folded
event referral {}
event purchase { amount: number, Amount: number }
metric a = sum purchase.amount
metric b = sum purchase.Amount
milestone m {
  each purchase where a > b
  reward referrer cash 1 USD
}
"""


def test_fields_whose_names_differ_only_in_case_are_refused() -> None:
    """DuckDB (as Spark and BigQuery) folds the case of quoted names: the
    columns `"purchase.amount"` and `"purchase.Amount"` were one, `b`
    read `amount`, and `score --engine duckdb` gave no award where the
    Python engine gives one. Refused at the second field's declaration."""
    lines = [
        '{"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}',
        '{"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "purchase", "referee": "bob", "amount": "5", "Amount": "1"}',
    ]
    prog = rewardrules.compile(FOLDED, "folded.rules")
    assert json.loads(prog.score(lines).to_json())["awards"]  # the Python engine pays
    with pytest.raises(Unsupported) as refused:
        compile_query(prog.compiled)
    assert "`purchase.amount` and `purchase.Amount`" in refused.value.construct
    assert refused.value.span is not None and refused.value.span.line == 3
    assert refusals(prog.compiled)  # `check --engine sql` reports it


def test_event_types_whose_names_differ_only_in_case_are_refused() -> None:
    text = FOLDED.replace("Amount: number }", "}\nevent Purchase { amount: number }").replace(
        "sum purchase.Amount", "sum Purchase.amount"
    )
    prog = rewardrules.compile(text, "folded.rules")
    with pytest.raises(Unsupported) as refused:
        compile_query(prog.compiled)
    assert "`purchase.amount` and `Purchase.amount`" in refused.value.construct


def test_a_metric_named_as_the_querys_columns_is_data() -> None:
    """Metric names never become column names: `RX0`, `ce0`, `R0`, `x0`,
    `X0` (DuckDB folds case) name the referrer's sums and a quotient."""
    text = """\
ruleset named
event referral {}
event purchase { amount: number }
metric x0 = latest purchase.amount
metric RX0 = sum referrals.x0
metric ce0 = sum referrals.x0 where x0 > 1
metric R0 = count referrals
metric X0 = (RX0 + ce0) / R0
milestone m {
  each purchase where X0 > 0 and RX0 > 0 and ce0 >= 0
  reward referrer cash 1 USD
  message "{{ RX0 }} {{ ce0 }} {{ X0 }}"
}
"""
    query = compile_query(_prog(text).compiled, explain=True)
    assert query.why_inputs and "RX0" in query.awards


@pytest.mark.parametrize("dialect", ["postgres", "bigquery"])
def test_other_dialects_write_both_constructs(dialect: str) -> None:
    """The query of a file with both constructs, in each dialect: sqlglot
    reads back what it wrote; the inputs object and the exponents are
    there."""
    query = compile_query(_prog().compiled, explain=True)
    text = to_dialect(query.awards, dialect, [c.name for c in query.columns])
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        assert sqlglot.parse_one(text, read=dialect) is not None
    finally:
        sys.setrecursionlimit(limit)
    assert "inputs" in text and "RX0" in text


AMOUNTS = ("1.5", "1.50", "1.500", "-0", "-0.0", "0.0", "0", "0.000", "2", "-1.5", "-1.50", "0.5", "12.25", "0.10")


@st.composite
def _ledgers(draw: st.DrawFn) -> list[str]:
    """Referrals of two referrers, purchases at few instants (ties) with
    amounts of many decimals (some as JSON number tokens), refunds."""
    referees = [f"e{n}" for n in range(draw(st.integers(1, 4)))]
    lines = [referral(f"r{n}", e, draw(st.sampled_from(["ann", "zed"]))) for n, e in enumerate(referees)]
    for n in range(draw(st.integers(1, 10))):
        amount, raw = draw(st.sampled_from(AMOUNTS)), draw(st.booleans())
        day = draw(st.sampled_from(["02", "03", "05", "09"]))
        lines.append(buy(f"p{draw(st.integers(0, 9))}{n}", day, draw(st.sampled_from(referees)), amount, raw))
        if draw(st.integers(0, 6)) == 0:
            lines.append(refund(f"v{n}", draw(st.sampled_from(["03", "05"])), referees[0], f"p{n}"))
    return lines


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(lines=_ledgers(), as_of=st.sampled_from([None, "2026-01-06T00:00:00Z", "2026-02-01T00:00:00Z"]))
def test_drawn_ledgers_give_the_same_bytes(lines: list[str], as_of: str | None, tmp_path: Path) -> None:
    same(lines, tmp_path, as_of)


def test_the_inputs_are_written_by_python_not_duckdb(tmp_path: Path) -> None:
    lines = [referral("r1", "bob"), buy("p1", "02", "bob", "10")]
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    _got, awards = written(_prog(), ledger, None)
    assert not isinstance(awards, Written)
