"""`score --engine spark` explained (docs/sql.md, "Spark"): each award's
`why` computed by the query in Spark SQL, and the sections `referrals`,
`referrers`, `withheld` by the statements of sql/sections.py run by Spark
(`sql.spark_sections`), give the Python engine's explained result byte for
byte. A few golden ledgers only (Spark is slow to start and to plan):
in the long run, together they have caps cutting awards (`capped`,
withheld rewards), an award voided before it is paid (`voided_by`, its
instant written by Spark), a referral eligible in one program of two,
per-referrer milestones, timers and rejected referrals (a duplicate, a
self-referral); through Spark's own reading (awards written as JSON text
by Spark) and the Python reader's. Spark's own reading runs the first of
`DIRECT` by default, all three in the long run (`engine_cases`): by
default its awards' text written by Spark has no timer, withheld reward,
per-referrer milestone or rejected referral; the explained sections (the
same statements whatever reads the ledger) of a timer and of the
`referrers` section run on Spark by default, through the Python reader
(`Spark.run`), in tests/test_sql_instants.py and
tests/test_sql_rate_table_decimals.py. The command line scores on Spark
without explanations in tests/test_spark_reading.py: the suite's JVM is
warm here, where planning a program's sections costs a cold one a
minute."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

import rewardrules
from rewardrules.cli.sql import duckdb_result, spark_direct_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.sections import compile_explained
from rewardrules.sql.spark import Spark
from rewardrules.sql.write import Written, write_result

from .conftest import engine_cases
from .test_sql_backend import GOLDEN, ROOT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")


def as_of_of(ledger: Path) -> str | None:
    expected = ledger.with_suffix("").with_suffix(".expected.json")
    return json.loads(expected.read_text(encoding="utf-8")).get("as_of") if expected.exists() else None


def python_bytes(prog: rewardrules.Program, ledger: Path) -> str:
    """`score`'s explained result (the default)."""
    lines = ledger.read_text(encoding="utf-8").splitlines()
    return prog.score(lines, as_of=as_of_of(ledger)).to_json()


#: (program, golden ledger): together, what the explained output has
DIRECT = [
    ("partner_and_customer", "hold_asof_later"),  # a void before payment, an as-of, two programs
    ("subscription_loyalty", "basic"),  # timers, a withheld reward
    ("referral_milestones", "duplicate_and_self"),  # per-referrer milestones, rejected referrals
]


@pytest.mark.parametrize(("name", "stem"), engine_cases(DIRECT))
def test_spark_reading_the_ledger_writes_the_explained_result(spark: Spark, name: str, stem: str) -> None:
    prog = rewardrules.load(ROOT / "rulesets" / f"{name}.rules")
    ledger = GOLDEN / name / f"{stem}.jsonl"
    query, sections = compile_explained(prog.compiled)
    data = spark_direct_result(prog, query, spark, str(ledger), parse_as_of(as_of_of(ledger)), True, sections)
    assert isinstance(data["awards"], Written)  # Spark wrote the records' text, `why` included
    out: list[bytes] = []
    write_result(data, out.append)
    assert b"".join(out).decode("utf-8") == python_bytes(prog, ledger)


@pytest.mark.usefixtures("spark_generated")  # with Spark's generated code (tests/conftest.py)
def test_the_python_reader_s_records_give_the_explained_result(spark: Spark) -> None:
    """Records scored by Spark (`Spark.run`): capped awards, rewards a cap
    withheld, each `why` parsed from the query's text."""
    prog = rewardrules.load(ROOT / "rulesets" / "partner_and_customer.rules")
    ledger = GOLDEN / "partner_and_customer" / "commission_cap.jsonl"
    lines = ledger.read_text(encoding="utf-8").splitlines()
    query, sections = compile_explained(prog.compiled)
    runner = partial(spark.run, sections=sections)
    data = duckdb_result(prog, query, lines, parse_as_of(as_of_of(ledger)), "<ledger>", runner, explain=True)
    expected = python_bytes(prog, ledger)
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == expected
    assert any("capped" in award["why"] for award in data["awards"]) and data["withheld"]
