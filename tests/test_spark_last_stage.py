"""The last stage of `score --engine spark --format json`: the driver reads
the sorted awards' text one partition per job (`toLocalIterator`), each
job's partition held whole in the JVM as one task result. Adaptive
execution coalesced that sort's partitions (to two with two cores, each
up to its advisory size in compressed shuffle bytes), so they grew with
the ledger and the JVM ran out of heap fetching one (`TaskResultLost
(result lost from block manager)`, docs/performance.md, "The last stage"). The
award-text query now keeps its sort's partitions as sized from the ledger
(`spark._uncoalesced`); the bytes stay the Python engine's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyspark.sql.classic.dataframe import DataFrame

import rewardrules
from rewardrules.sql import spark as spark_module
from rewardrules.sql.spark import Spark

from .test_spark_reading import split
from .test_spark_scaling_path import _rules, streamed
from .test_sql_backend import python_json

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")

#: referees, each with a referral and two subscriptions past both
#: milestones: three awards each, at distinct instants
REFEREES = 20


def _lines() -> list[str]:
    lines = []
    for n in range(REFEREES):
        day = f"2026-02-{n + 1:02d}"
        lines += [
            f'{{"id": "r{n}", "type": "referral", "at": "{day}T00:00:00Z", "referrer": "p{n % 3}", "referee": "c{n}"}}',
            f'{{"id": "s{n}", "type": "subscription", "at": "{day}T01:00:00Z", "referee": "c{n}", "mrr": "12.5"}}',
            f'{{"id": "t{n}", "type": "subscription", "at": "{day}T02:00:00Z", "referee": "c{n}", "mrr": "50"}}',
        ]
    return lines


def test_the_award_text_is_read_in_partitions_sized_from_the_ledger(
    spark: Spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """60 events at one shuffle partition per 10 events: the driver reads
    the awards' text in 6 partitions (adaptive execution coalesced these
    tiny ones into 1), the coalescing setting is as it was after, and the
    output is the Python engine's, byte for byte."""
    monkeypatch.setattr(spark_module, "EVENTS_PER_PARTITION", 10)
    monkeypatch.setattr(spark, "partitions", 1)
    served: list[int] = []
    original = DataFrame.toLocalIterator

    def counted(self: DataFrame, prefetchPartitions: bool = False) -> Any:
        served.append(self.rdd.getNumPartitions())  # the partitions the driver takes, one job each
        return original(self, prefetchPartitions)

    monkeypatch.setattr(DataFrame, "toLocalIterator", counted)
    prog = rewardrules.compile(_rules('"Mug"'))
    lines = _lines()
    before = spark.session.conf.get("spark.sql.shuffle.partitions")
    try:
        out, _ = streamed(spark, prog, split(lines, tmp_path / "parts", 5))
    finally:
        spark.session.conf.set("spark.sql.shuffle.partitions", before)
    assert served == [len(lines) // 10]
    assert spark.session.conf.get("spark.sql.adaptive.coalescePartitions.enabled") == "true"
    assert spark.session.conf.get("spark.sql.adaptive.enabled") == "true"  # 60 events, past one partition's worth
    assert out == python_json(prog, lines, None)
