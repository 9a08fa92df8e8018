"""`score --engine spark --format json` with the awards written as JSON
text by Spark's executors and streamed through the driver
(`sql/spark_write.py`): the bytes of `score --no-explain`, whether the text
path is taken or the awards are collected as rows (a value whose JSON is
not plain)."""

from __future__ import annotations

from pathlib import Path

import pytest

import rewardrules
from rewardrules.cli.sql import spark_direct_result
from rewardrules.sql.compile import compile_query
from rewardrules.sql.spark import Spark
from rewardrules.sql.write import Written, write_result

from .test_spark_reading import split
from .test_sql_backend import python_json

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")

#: one referral and subscriptions past both milestones, several referrers
#: and ties on the instant (the order of the awards is the query's)
LINES = [
    '{"id": "r1", "type": "referral", "at": "2026-01-01T00:00:00Z", "referrer": "ann", "referee": "bo"}',
    '{"id": "r2", "type": "referral", "at": "2026-01-01T00:00:00Z", "referrer": "cy", "referee": "di"}',
    '{"id": "s2", "type": "subscription", "at": "2026-01-02T00:00:00.25Z", "referee": "di", "mrr": "50"}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00.25Z", "referee": "bo", "mrr": "12.5"}',
    '{"id": "s3", "type": "subscription", "at": "2026-01-03T00:00:00.000000001Z", "referee": "bo", "mrr": "99"}',
]


def _rules(item: str) -> str:
    return (
        'ruleset gifts "Gifts"\n'
        'event subscription "A change" { mrr: money USD }\n'
        'metric mrr "MRR" = latest subscription.mrr\n'
        'milestone first "MRR 10" {\n  when mrr >= 10 USD\n'
        f"  reward referrer item {item}\n  reward referee cash 5 USD\n}}\n"
        'milestone second "MRR 40" {\n  when mrr >= 40 USD\n  reward referrer credit 2.50 USD\n}\n'
    )


def streamed(spark: Spark, prog: rewardrules.Program, path: Path) -> tuple[str, object]:
    """What `score --engine spark --format json` prints, and the awards
    value of its result record (`Written` when Spark wrote the text)."""
    data = spark_direct_result(prog, compile_query(prog.compiled), spark, str(path), None, as_json=True)
    awards = data["awards"]
    out: list[bytes] = []
    write_result(data, out.append)
    return b"".join(out).decode("utf-8"), awards


def test_the_text_spark_writes_is_the_python_engine_s(spark: Spark, tmp_path: Path) -> None:
    """Items with text outside ASCII, an instant with a fraction, two
    layouts of records (cash and item), several awards at one instant."""
    prog = rewardrules.compile(_rules('"Tasse café ☕"'))
    out, awards = streamed(spark, prog, split(LINES, tmp_path / "parts", 3))
    assert isinstance(awards, Written)
    assert out == python_json(prog, LINES, None)


def test_a_value_json_escapes_is_collected_as_rows(spark: Spark, tmp_path: Path) -> None:
    prog = rewardrules.compile(_rules('"Mug \\"XL\\""'))
    out, awards = streamed(spark, prog, split(LINES, tmp_path / "parts", 4))
    assert isinstance(awards, list)
    assert out == python_json(prog, LINES, None)
