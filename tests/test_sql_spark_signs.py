"""Spark's `ABS` and unary minus round a DECIMAL past 34 significant
digits, so the Spark dialect writes them as products by -1, which Spark
computes exactly, and its `SIGN` gives a DOUBLE, so it is written as an
integer CASE (`sql.warehouses._exact_signs`, docs/sql.md, "Other
dialects"): a ledger's 30-digit amount times a six-digit number has 35
digits, whose last Spark lost in messages, explanations and the
explained sections; a quotient of 20-digit values was compared in
floating point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rewardrules
from rewardrules.cli.sql import spark_direct_result
from rewardrules.sql.compile import compile_query
from rewardrules.sql.dialect import to_dialect
from rewardrules.sql.sections import compile_explained
from rewardrules.sql.spark import Spark
from rewardrules.sql.write import write_result

from .test_sql_backend import duckdb_json, python_json

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")  # py4j's

#: negative money and a negative number of 35 digits, their negations, in
#: a condition, a message and an explanation
WIDE = """\
ruleset wide

event subscription { mrr: money USD, seats: number }

metric mrr = latest subscription.mrr
metric scaled = mrr * 100001
metric negated = -scaled
metric seats = latest subscription.seats
metric count_scaled = seats * 100001
metric flipped = -count_scaled

milestone wide_values {
  when scaled < 1 USD and negated > 1 USD and count_scaled < 0 and flipped > 0
  reward referrer cash 10 USD
  message "{{ scaled }} {{ negated }} {{ count_scaled }} {{ flipped }}"
}
"""

LEDGER = [
    '{"id":"r1","at":"2026-02-01T00:00:00Z","type":"referral","referrer":"alice","referee":"bob"}',
    '{"id":"s1","at":"2026-02-10T00:00:00Z","type":"subscription","referee":"bob",'
    '"mrr":"-1234567890123456789012345678.91","seats":"-1234567890123456789012345.67891"}',
]


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> rewardrules.Program:
    path = tmp_path_factory.mktemp("wide") / "wide.rules"
    path.write_text(WIDE, encoding="utf-8")
    return rewardrules.load(path)


def test_spark_is_written_no_abs_and_no_negation_of_a_value() -> None:
    written = to_dialect("SELECT ABS(a + b) AS x, -(c - d) AS y, -1 AS z, - e AS w, a % -b AS v FROM t", "spark")
    assert written == (
        "SELECT GREATEST(a + b, ((a + b) * -1)) AS x, ((c - d) * -1) AS y, -1 AS z, (e * -1) AS w, "
        "a % (b * -1) AS v FROM t"
    )
    assert to_dialect("SELECT a * SIGN(b) AS x FROM t", "spark") == (
        "SELECT a * (CASE WHEN b > 0 THEN 1 WHEN b < 0 THEN -1 ELSE 0 END) AS x FROM t"
    )
    # the other dialects keep them
    assert "ABS(a + b)" in to_dialect("SELECT ABS(a + b) AS x FROM t", "duckdb")


def test_the_programs_statements_on_spark_have_no_abs(prog: rewardrules.Program) -> None:
    query, sections = compile_explained(prog.compiled)
    assert "ABS(" in query.awards  # not vacuous: the compiler writes them
    spark = [to_dialect(sql, "spark") for _, sql in [*query.statements(), *sections.statements()] if sql]
    assert not any("ABS(" in sql.upper() for sql in spark)


#: a quotient of values of 20 digits: Spark's `SIGN` (a DOUBLE) made the
#: condition's numerator a floating-point number, and the condition false
DIVIDES = """\
ruleset divides

event subscription { mrr: money USD, seats: number }

metric mrr = latest subscription.mrr
metric seats = latest subscription.seats

milestone per_seat {
  when mrr / seats > 1 USD
  reward referrer cash 10 USD
}
"""

QUOTIENT = [
    LEDGER[0],
    '{"id":"s1","at":"2026-02-10T00:00:00Z","type":"subscription","referee":"bob",'
    '"mrr":"10000000000000000000.01","seats":"10000000000000000000"}',
]


def test_a_quotient_of_wide_values_on_spark(spark: Spark, tmp_path: Path) -> None:
    rules = tmp_path / "divides.rules"
    rules.write_text(DIVIDES, encoding="utf-8")
    prog = rewardrules.load(rules)
    expected = python_json(prog, QUOTIENT, None)
    assert len(json.loads(expected)["awards"]) == 1  # not vacuous: 1.000...001 USD a seat
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(line + "\n" for line in QUOTIENT), encoding="utf-8")
    data = spark_direct_result(prog, compile_query(prog.compiled), spark, str(path), None)
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == expected


def test_wide_negative_values_on_spark(prog: rewardrules.Program, spark: Spark, tmp_path: Path) -> None:
    assert duckdb_json(prog, LEDGER, None) == python_json(prog, LEDGER, None)
    expected = prog.score(LEDGER).to_json()  # explained
    award = json.loads(expected)["awards"][0]
    # not vacuous: 35 significant digits, whose last Spark's negation lost
    assert award["message"].split()[1] == "123458023580235802358023580236678.91"
    assert award["why"]["values"]["flipped"] == "123458023580235802358023580236.67891"
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(line + "\n" for line in LEDGER), encoding="utf-8")
    query, sections = compile_explained(prog.compiled)
    data = spark_direct_result(prog, query, spark, str(path), None, True, sections)
    out: list[bytes] = []
    write_result(data, out.append)
    assert b"".join(out).decode("utf-8") == expected
