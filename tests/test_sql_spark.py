"""The compiled query on Apache Spark (local mode) gives DuckDB's rows, so
the Python engine's result byte for byte (docs/sql.md, "Spark"): a subset of
the SQL back end's differential tests, as starting Spark and running a
query there takes seconds: one golden ledger of each reference program that
compiles, computed amounts rounded half to even, a number too wide refused
rather than rounded, generated ledgers of one program, and the command line
end to end once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import compile_query
from rewardrules.sql.run import EngineError, TooWide
from rewardrules.sql.spark import EVENTS_PER_PARTITION, Spark, adaptive

from .conftest import SPARK_TEST_SETTINGS, generated_code
from .test_properties import as_ofs, ledgers, program
from .test_sql_backend import COMMISSION, GOLDEN, ROOT, SUPPORTED, python_json

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")


def spark_json(spark: Spark, prog: rewardrules.Program, events: Any, as_of: str | None) -> str:
    data = duckdb_result(prog, compile_query(prog.compiled), events, parse_as_of(as_of), "<ledger>", spark.run)
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def first_golden(name: str) -> Path:
    return sorted((GOLDEN / name).glob("*.jsonl"))[0]


#: compiled programs run on Spark elsewhere: `affiliate_attribution`'s
#: fold, written without recursion for Spark, takes half a minute to plan
#: (test_sql_attribution.py runs it once)
ELSEWHERE = ("affiliate_attribution",)


@pytest.mark.parametrize("name", [name for name in SUPPORTED if name not in ELSEWHERE])
def test_a_golden_ledger_of_each_compiled_program(spark_generated: Spark, name: str) -> None:
    """With Spark's defaults, its generated code (`spark_generated`); the
    other tests' runs on the shared session interpret their expressions."""
    prog = program(name)
    lines = first_golden(name).read_text(encoding="utf-8").splitlines()
    assert spark_json(spark_generated, prog, lines, None) == python_json(prog, lines, None)
    # a small ledger: run without adaptive execution (`spark.adaptive`)
    assert spark_generated.session.conf.get("spark.sql.adaptive.enabled") == "false"


def test_the_shared_session_interprets_and_spark_generated_compiles(spark: Spark) -> None:
    """`SPARK_TEST_SETTINGS` is in force on the shared session (no stage of
    generated code in a plan), and `spark_generated` gives Spark's
    defaults back (whole-stage generated code, `*(n)` in the plan) inside
    `generated_code` only."""
    sql = "SELECT id * 2 AS d FROM RANGE(10) WHERE id > 3"  # no shuffle: no adaptive plan to hide the stages

    def plan() -> str:
        return str(spark.session.sql(sql)._jdf.queryExecution().executedPlan().toString())

    mode = SPARK_TEST_SETTINGS.get("spark.sql.codegen.factoryMode", "FALLBACK")  # none in the long run
    assert ("*(" in plan()) == (mode == "FALLBACK") and spark.session.conf.get("spark.sql.codegen.factoryMode") == mode
    with generated_code(spark):
        assert "*(" in plan() and spark.session.conf.get("spark.sql.codegen.factoryMode") == "FALLBACK"
    assert ("*(" in plan()) == (mode == "FALLBACK") and spark.session.conf.get("spark.sql.codegen.factoryMode") == mode


def test_adaptive_execution_runs_past_one_partition_s_worth_of_events_or_on_a_cluster() -> None:
    """In local mode only past one partition's worth; a cluster's own
    shuffle partitions (200 by default) are what it coalesces, at any size."""
    assert not adaptive(EVENTS_PER_PARTITION) and adaptive(EVENTS_PER_PARTITION + 1)
    for master, small in [("local[2]", "false"), ("spark://head:7077", "true")]:
        settings: dict[str, str] = {}
        session = Spark(master)
        try:
            session.session = SimpleNamespace(conf=SimpleNamespace(set=settings.__setitem__))
            session._size_shuffles(EVENTS_PER_PARTITION)
            assert settings["spark.sql.adaptive.enabled"] == small
            session._size_shuffles(EVENTS_PER_PARTITION + 1)
            assert settings["spark.sql.adaptive.enabled"] == "true"
        finally:
            session.session = None
            session.close()


def test_computed_amounts_round_half_to_even_on_spark(spark: Spark) -> None:
    """Spark's `round` is half up (0.045 -> 0.05): the query never calls it,
    and Spark gives the Python engine's even cents."""
    events = [{"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}]
    for n, amount in enumerate(["0.10", "0.30", "0.70", "-10", "0.01", "33333.33"]):
        events.append(
            {"id": f"p{n}", "at": f"2026-01-0{n + 2}T00:00:00Z", "type": "payment", "referee": "bob", "amount": amount}
        )
    prog = rewardrules.compile(COMMISSION)
    out = spark_json(spark, prog, events, None)
    assert out == python_json(prog, events, None)
    assert [a["amount"] for a in json.loads(out)["awards"] if a["milestone"] == "commission"] == [
        "0.02",
        "0.04",
        "0.10",
        "5000.00",
    ]


def _payment(amount: str) -> list[dict[str, str]]:
    return [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": amount},
    ]


@pytest.mark.usefixtures("spark_generated")  # with Spark's generated code (tests/conftest.py)
def test_thirty_decimals_stay_exact(spark: Spark) -> None:
    """A 30-decimal amount times 12.5%: Spark is set to refuse a decimal
    result it cannot hold rather than round it (by default it drops
    decimals), and gives the Python engine's cents."""
    prog = rewardrules.compile(COMMISSION)
    events = _payment("0." + "1" * 30)
    assert spark_json(spark, prog, events, None) == python_json(prog, events, None)


@pytest.mark.parametrize("amount", ["1" * 20 + ".5", "9" * 28 + ".5", "9" * 29])
def test_past_64_bit_minor_units_spark_gives_the_exact_amount(spark: Spark, amount: str) -> None:
    """1.6 x 10^21 cents and more, up to the ledger's 30 digits: past
    Spark's BIGINT, which sqlglot writes `//` through (`DIV`). Every `//`
    is exact decimal arithmetic, the one inside the money text's dividend
    (a rounded quotient) too: until 2026-12-05 that one stayed `DIV`, an
    overflow error past 9.2 x 10^18 minor units."""
    prog = rewardrules.compile(COMMISSION)
    events = _payment(amount)
    assert spark_json(spark, prog, events, None) == python_json(prog, events, None)


def test_a_column_too_wide_is_refused_before_spark_runs(spark: Spark) -> None:
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "1" * 28 + ".5"},
        {
            "id": "p2",
            "at": "2026-01-03T00:00:00Z",
            "type": "payment",
            "referee": "bob",
            "amount": "0." + "0" * 20 + "1",
        },
    ]
    with pytest.raises(TooWide, match=r"payment\.amount"):
        spark_json(spark, rewardrules.compile(COMMISSION), events, None)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_generated_ledgers_on_spark(spark: Spark, data: st.DataObject) -> None:
    prog = program("saas_milestones")
    events = data.draw(ledgers("saas_milestones"))
    as_of = data.draw(as_ofs(events))
    assert spark_json(spark, prog, events, as_of) == python_json(prog, events, as_of)


def test_spark_master_is_refused_without_engine_spark() -> None:
    rules = ROOT / "rulesets" / "referral_milestones.rules"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "rewardrules",
            "score",
            "--spark-master",
            "local[1]",
            str(rules),
            str(first_golden("referral_milestones")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert "--spark-master is for --engine spark" in out.stderr


def test_without_pyspark_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(EngineError, match=r"pip install 'rewardrules\[spark\]'"), Spark("local[1]"):
        pass


def test_a_run_beside_an_app_ended_early_cancels_its_jobs_not_the_app_s(spark: Spark) -> None:
    """A run beside an app's Spark (the suite's session plays the app's)
    that ends while a job of its own runs (Ctrl-C is a `KeyboardInterrupt`
    in the run's thread; here the job runs in a thread that inherits the
    run's, as pyspark's `InheritableThread`) cancels that job, which would
    run on in the app's Spark; a job of the app's own runs on. Until
    2026-12-07 both ran on."""
    import threading
    import time

    from pyspark import InheritableThread

    app = spark.session
    context = app.sparkContext
    endless = "SELECT sum(id % 7) FROM range(1000000000000000)"  # days, in little memory
    ended: dict[str, str] = {}

    def job(name: str, session: Any) -> None:
        if name == "app":
            context.setJobGroup("the app's", "a job of the app's own")
        try:
            session.sql(endless).collect()
            ended[name] = "finished"
        except Exception as error:
            ended[name] = str(error)

    def running(count: int) -> bool:
        deadline = time.monotonic() + 120
        while len(context.statusTracker().getActiveJobsIds()) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    apps = threading.Thread(target=job, args=("app", app), daemon=True)
    apps.start()
    ours = None
    try:
        assert running(1)
        with pytest.raises(KeyboardInterrupt), Spark("local[1]") as beside:
            assert not beside.owned
            ours = InheritableThread(target=job, args=("ours", beside.session), daemon=True)
            ours.start()
            assert running(2)
            raise KeyboardInterrupt
        ours.join(120)
        assert not ours.is_alive() and "cancel" in ended["ours"].lower(), ended
        time.sleep(1)
        assert apps.is_alive() and "app" not in ended  # the app's job runs on
        assert "rewardrules" not in " ".join(context.getJobTags())  # the tag is off the thread
    finally:
        context.cancelAllJobs()  # the suite's Spark: nothing endless left running, whatever failed
        for thread in (apps, ours):
            if thread is not None:
                thread.join(120)


def test_a_run_beside_an_app_s_session_leaves_it_as_it_was(
    spark: Spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a process that already runs Spark (here the suite's session plays
    the app's), a run, from another thread of the app too, goes in a new
    session of that Spark with the run's own settings: the awards are the
    Python engine's, and the app's session keeps its settings and its cache
    and is not stopped. Before, the run took the app's session itself
    (`getOrCreate`), set its settings, emptied its cache and stopped it."""
    import threading

    from rewardrules.sql import spark as spark_module

    from .conftest import SPARK_TEST_SETTINGS
    from .test_spark_reading import spark_json as spark_path_json

    marker = "spark.sql.rewardrules.test.marker"  # one of the run's settings, which the app's session has not
    settings = spark_module._settings
    monkeypatch.setattr(spark_module, "_settings", lambda folder, master: {**settings(folder, master), marker: "set"})
    app = spark.session
    prog = program("saas_milestones")
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(first_golden("saas_milestones").read_text(encoding="utf-8"), encoding="utf-8")
    found: dict[str, object] = {}

    def run() -> None:  # in a thread of the app's, where no session is active
        try:
            with Spark("local[1]") as beside:
                for key, value in SPARK_TEST_SETTINGS.items():
                    beside.session.conf.set(key, value)
                found["own"] = not beside.session._jsparkSession.equals(app._jsparkSession)
                found["marker"] = beside.session.conf.get(marker, None)
                found["json"] = spark_path_json(beside, prog, ledger)
        except Exception as error:  # said below, in the test's thread
            found["error"] = error

    try:
        app.conf.set("spark.sql.session.timeZone", "America/New_York")
        app.sql("CACHE TABLE app_cached AS SELECT 1 AS x")
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        assert "error" not in found, found.get("error")
        assert found["own"] and found["marker"] == "set"
        assert found["json"] == python_json(prog, ledger.read_text(encoding="utf-8").splitlines(), None)
        assert app.conf.get("spark.sql.session.timeZone") == "America/New_York"
        assert app.conf.get(marker, None) is None
        assert app.catalog.isCached("app_cached")
        assert app.range(3).count() == 3  # still running
    finally:
        app.sql("UNCACHE TABLE IF EXISTS app_cached")
        app.sql("DROP VIEW IF EXISTS app_cached")
        app.conf.set("spark.sql.session.timeZone", "UTC")
