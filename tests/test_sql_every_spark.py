"""`every N M` and the per-event award limit on Apache Spark (local mode):
the Python engine's result and error (docs/sql.md, "`every N M`"); a
reward counted by several caps fails there rather than differ."""

from __future__ import annotations

from dataclasses import replace

import pytest

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.core.limits import AwardLimitError
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import compile_query
from rewardrules.sql.run import EngineError
from rewardrules.sql.spark import Spark

from .test_sql_caps2 import LAYERED
from .test_sql_every import EVERY
from .test_sql_exprs import payments, referral
from .test_sql_spark import spark_json

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")

EVENTS = [referral(), *payments(["1.20", "-0.50", "0.90", "2.40", "3.10"])]


def test_every_on_spark_gives_the_python_engine_s_bytes(spark: Spark) -> None:
    prog = rewardrules.compile(EVERY)
    assert spark_json(spark, prog, EVENTS, None) == prog.score(EVENTS, explain=False).to_json()


def test_the_award_limit_on_spark_is_the_python_engine_s_error(spark: Spark) -> None:
    prog = rewardrules.compile(EVERY)
    with pytest.raises(AwardLimitError) as expected:
        prog.score(EVENTS, explain=False, max_awards_per_event=1)
    query = replace(compile_query(prog.compiled), most=1)
    with pytest.raises(AwardLimitError) as got:
        duckdb_result(prog, query, EVENTS, parse_as_of(None), "<ledger>", spark.run)
    assert str(got.value) == str(expected.value)


def test_several_caps_fail_on_spark_rather_than_differ(spark: Spark) -> None:
    prog = rewardrules.compile(LAYERED)
    with pytest.raises(EngineError, match="Spark could not run the query"):
        spark_json(spark, prog, [referral(), *payments(["1600"])], None)
