"""Shared fixtures: paths of the repository's rule sets and golden cases,
and one check that every way of scoring agrees."""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

import rewardrules
from rewardrules.core.timeutil import parse_timestamp

ROOT = Path(__file__).resolve().parents[1]
RULESETS = ROOT / "rulesets"
GOLDEN = ROOT / "tests" / "golden"

T = TypeVar("T")

#: The long run, `REWARDRULES_LONG_TESTS=1 python -m pytest`: ten times the
#: generated cases of every property and fuzz test, and five minutes of
#: coverage-guided fuzzing a target instead of a fixed count of runs.
LONG = os.environ.get("REWARDRULES_LONG_TESTS", "") not in ("", "0")


def examples(n: int) -> int:
    """How many generated cases a property or fuzz test runs. By default a
    fixed count, never a time budget, so the suite does the same work on a
    quiet machine and on a busy 2-core CI runner; ten times as many in the
    long run."""
    return n * 10 if LONG else n


def engine_cases(cases: Sequence[T], key: Callable[[T], Any] | None = None) -> list[T]:
    """The cases a test runs on an engine besides DuckDB (ClickHouse,
    Postgres, Spark) where DuckDB's own test runs every one: every case in
    the long run; otherwise one, the first (or the largest by `key`). Each
    such engine costs seconds a run however small the ledger (writing the
    statements, planning them), and CI has 15 minutes on a 2-core machine
    for the whole suite (docs/reliability.md, "Property tests and
    differential tests")."""
    if LONG or not cases:
        return list(cases)
    return [max(cases, key=key) if key is not None else cases[0]]


def lines_in(path: Path) -> int:
    """The lines of a file (a golden ledger's events): `engine_cases`' key
    for a run without explanations, the largest golden ledger."""
    return len(path.read_bytes().splitlines())


def as_of_first(path: Path) -> tuple[bool, int]:
    """`engine_cases`' key for an explained run: a golden ledger scored at
    an as-of its expected file gives (what is pending, held or withheld
    then is in the explained output), the largest of them; else the
    largest (then the ledger `lines_in` picks for the run without
    explanations: of the golden programs, 6 have a ledger with an as-of)."""
    expected = path.with_suffix("").with_suffix(".expected.json")
    as_of = expected.exists() and json.loads(expected.read_text(encoding="utf-8")).get("as_of") is not None
    return as_of, lines_in(path)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def ordered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events in ledger order: by instant, ties by id."""
    return sorted(events, key=lambda e: (parse_timestamp(e["at"]), e["id"]))


def every_way(program: rewardrules.Program, events: list[dict[str, Any]], as_of: str | None = None) -> str:
    """The result's bytes, asserted equal by batch (in three input orders),
    stream, and sessions snapshotted and restored before each event (each
    given the events up to the as-of, then advanced to it, if given)."""
    batch = program.score(events, as_of=as_of).to_json()
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    assert program.score(shuffled, as_of=as_of).to_json() == batch
    assert program.score(shuffled[::-1], as_of=as_of).to_json() == batch
    assert program.score_stream([json.dumps(e) for e in ordered(events)], as_of=as_of).to_json() == batch
    limit = parse_timestamp(as_of) if as_of is not None else None
    kept = [e for e in ordered(events) if limit is None or parse_timestamp(e["at"]) <= limit]
    for cut in range(len(kept) + 1):
        session = program.session()
        for i, event in enumerate(kept):
            if i == cut:
                session = program.restore(session.snapshot())
            session.add(event)
        session = program.restore(session.snapshot())
        if as_of is not None:
            session.advance(to=as_of)
        assert session.result(as_of=as_of).to_json() == batch
    return batch


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Without pytest-xdist (`-p no:xdist`, or a virtual environment made
    before the `test` extra had it) the options pyproject.toml's addopts
    give it are accepted and do nothing: the suite runs in this process,
    where it would otherwise stop at "unrecognized arguments"."""
    if not pluginmanager.has_plugin("xdist"):
        group = parser.getgroup("xdist", "without pytest-xdist: accepted, no effect")
        group.addoption("--numprocesses", default=None, help="needs pytest-xdist; ignored without it")
        group.addoption("--dist", default="no", help="needs pytest-xdist; ignored without it")


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say when the addopts' parallel run is off for want of pytest-xdist."""
    if config.pluginmanager.has_plugin("xdist"):
        return None
    return "pytest-xdist not loaded: the tests run in this one process"


#: The one group of tests that uses the Spark session (see `spark`).
SPARK_GROUP = "spark"


def worker_group(item: pytest.Item) -> str | None:
    """The xdist group ``item`` runs in (docs/reliability.md, "Running the test
    suite"): tests of a group run one after another in one worker process,
    all others wherever a worker is free.

    Every test using `spark` is in one group, so the suite starts one Spark
    session (one JVM, `local[2]`), not one a worker. A test using a fixture
    its module shares between its tests (scope module, class or session,
    e.g. a browser, a built playground, a language server) runs with its
    module's other tests that use one, so that set-up is made once, not
    once a worker. A test's own `xdist_group` mark names its group."""
    marked = item.get_closest_marker("xdist_group")
    if marked is not None:  # a group a test names itself
        return str(marked.args[0] if marked.args else marked.kwargs.get("name", "default"))
    if "spark" in item.fixturenames:
        return SPARK_GROUP
    info = getattr(item, "_fixtureinfo", None)  # pytest's; absent on items that are not functions
    definitions = [d for ds in info.name2fixturedefs.values() for d in ds] if info is not None else []
    if any(d.scope != "function" and str(d.baseid).endswith(".py") for d in definitions):
        return item.nodeid.split("::")[0]
    return None


#: where a worker writes the groups of the tests it collected, for the
#: scheduler in the main process (which collects nothing itself)
GROUPS_FILE = "rewardrules_groups"
_GROUPS_FOLDER = pytest.StashKey[Path]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its `worker_group` (as an `xdist_group` mark, for
    `-m`/`--dist loadgroup` readers), and in an xdist worker write the
    groups where `GroupScheduling` reads them. xdist's own `loadgroup`
    is not used: it passes the group by rewriting each test's id, which
    pytest 9.2's structured ids ignore (pytest-xdist issue 1386), and the
    groups were silently lost."""
    groups = {}
    for item in items:
        group = worker_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
            groups[item.nodeid] = group
    where = getattr(config, "workerinput", {}).get(GROUPS_FILE)
    if where is not None:
        Path(where).write_text(json.dumps(groups), encoding="utf-8")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each xdist worker where to write its groups: a file of its own
    in a folder of this run."""
    if _GROUPS_FOLDER not in node.config.stash:
        node.config.stash[_GROUPS_FOLDER] = Path(tempfile.mkdtemp(prefix="rewardrules-groups-"))
    folder = node.config.stash[_GROUPS_FOLDER]
    node.workerinput[GROUPS_FILE] = str(folder / f"{node.gateway.id}.json")


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_GROUPS_FOLDER, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With `--dist load` (the addopts'), tests go one by one to whichever
    worker is free, but a group goes whole to one worker, groups first
    (the largest first), as xdist's `loadgroup` would."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    folder = config.stash[_GROUPS_FOLDER]

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """xdist's scheduler of work units, a unit being a group or a test."""

        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # read once every worker has collected
                self.groups = {}
                for path in folder.glob("*.json"):
                    self.groups.update(json.loads(path.read_text(encoding="utf-8")))
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A scratch PostgreSQL server (tests/postgres.py) for every test that
    runs the query on Postgres: session-scoped here, so that those tests
    spread over the workers (each starts its own in about a second)."""
    from .postgres import Server, binaries

    bindir = binaries()
    assert bindir is not None, "no PostgreSQL server: install Debian's `postgresql` (.ci/run does)"
    server = Server(bindir)
    try:
        yield server
    finally:
        server.stop()


#: Spark's settings for the tests' shared session (`spark`): whole-stage
#: generated code off and its expressions interpreted (`NO_CODEGEN`). On
#: the suite's small ledgers that took less time in all: the tests named
#: for Spark, run alone, took 0.81x the CPU time (docs/reliability.md,
#: "Property tests and differential tests"). The runs of `score --engine
#: spark` in a process of their own keep Spark's defaults, its generated
#: code, and so do the tests given `spark_generated`, and the long run.
SPARK_TEST_SETTINGS = (
    {} if LONG else {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}
)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One Spark session (`local[2]`) for every test that runs the query on
    Spark: starting one takes seconds, so the suite starts it once
    (with `SPARK_TEST_SETTINGS`)."""
    from rewardrules.sql.spark import Spark

    with Spark("local[2]") as session:
        for key, value in SPARK_TEST_SETTINGS.items():
            session.session.conf.set(key, value)
        yield session


@contextmanager
def generated_code(spark: Any) -> Iterator[None]:
    """Spark's own defaults on the shared session while inside, its
    expressions compiled to Java as a user's run compiles them (not
    `SPARK_TEST_SETTINGS`), then the settings it had again."""
    had = {key: spark.session.conf.get(key, None) for key in SPARK_TEST_SETTINGS}
    for key in SPARK_TEST_SETTINGS:
        spark.session.conf.unset(key)
    try:
        yield
    finally:
        for key, value in had.items():
            if value is not None:
                spark.session.conf.set(key, value)


@pytest.fixture
def spark_generated(spark: Any) -> Iterator[Any]:
    """The shared session with Spark's defaults for one test
    (`generated_code`): the reference programs' golden ledgers, an
    explained run, negative zeros and thirty decimals run so."""
    with generated_code(spark):
        yield spark
