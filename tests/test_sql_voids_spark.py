"""Counts that follow reversals, and a timer reading a per-referrer metric,
on Apache Spark (local mode): the query's new shapes (`followed`'s join,
the referrer's row at a timer's instant) written in Spark's dialect give
the Python engine's result byte for byte. One query each: Spark is slow
to run one (the differential tests are in tests/test_sql_voids_metrics.py)."""

from __future__ import annotations

import pytest

import rewardrules
from rewardrules.sql.spark import Spark

from .test_sql_backend import GOLDEN, python_json
from .test_sql_spark import spark_json
from .test_sql_voids_metrics import TIMED, event, referral

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")


def test_counts_that_follow_reversals_on_spark(spark: Spark) -> None:
    prog = rewardrules.load(GOLDEN / "counts_voided" / "counts_voided.rules")
    lines = (GOLDEN / "counts_voided" / "ledgers" / "basic.jsonl").read_text(encoding="utf-8").splitlines()
    assert spark_json(spark, prog, lines, None) == python_json(prog, lines, None)


def test_a_timer_reading_a_per_referrer_metric_on_spark(spark: Spark) -> None:
    prog = rewardrules.compile(TIMED, "timed.rules")
    events = [
        {**referral("r1", "bob"), "at": "2026-01-01T00:00:00Z"},
        {**referral("r2", "cat"), "at": "2026-01-01T00:00:01Z"},
        event("s1", "01-02", "subscription", "bob", mrr="100.00"),
        event("s2", "01-20", "subscription", "cat", mrr="1500.00"),
    ]
    assert spark_json(spark, prog, events, "2026-04-01T00:00:00Z") == python_json(prog, events, "2026-04-01T00:00:00Z")
