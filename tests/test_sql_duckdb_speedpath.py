"""The speed path of `score --engine duckdb` (docs/sql.md, "Speed today"):
the strict form checked with cheaper tests (`at` read at its places, a
line's keys counted one by one only when it has keys the query does not
look up), the awards' text fetched while it is written, DuckDB's threads
and memory (`--threads`, `--memory-limit`: past it DuckDB spills), and one
run of the query when the totals must be added award by award. Each gives
the bytes the Python engine gives."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from decimal import localcontext
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli import main
from rewardrules.cli.sql import direct_result
from rewardrules.core.runtime import CONTEXT
from rewardrules.core.timeutil import parse_timestamp
from rewardrules.ledger.validate import _one_currency
from rewardrules.score.api import parse_as_of
from rewardrules.sql import read, write
from rewardrules.sql import run as sql_run
from rewardrules.sql.compile import compile_query
from rewardrules.sql.run import Limits
from rewardrules.sql.write import Written, write_result

from .conftest import examples
from .test_sql_backend import GOLDEN, SUPPORTED, python_json
from .test_sql_speed import WHOLE
from .test_sql_speed import _ledger as payments_ledger

ROOT = Path(__file__).resolve().parents[1]
SAAS = ROOT / "rulesets" / "saas_milestones.rules"
DEFAULT = Limits()


def _written(prog: rewardrules.Program, path: Path, limits: Limits, as_of: str | None = None) -> tuple[str, Any]:
    """The bytes `score --engine duckdb --format json` writes, and the
    awards value of the result record (`Written` when DuckDB wrote them)."""
    with localcontext(CONTEXT):
        data = direct_result(prog, compile_query(prog.compiled), str(path), parse_as_of(as_of), True, limits)
        assert data is not None
        awards = data["awards"]
        out: list[bytes] = []
        write_result(data, out.append)
    return b"".join(out).decode("utf-8"), awards


def _one_ledger_per_program() -> list[tuple[str, Path]]:
    """A golden ledger of four programs (holds and voids, caps, tiers,
    several milestones): every golden ledger is compared in test_sql_speed."""
    names = [
        name
        for name in SUPPORTED
        if name in ("docusign", "fasttrack_cpor", "partner_and_customer", "referral_milestones")
    ]
    return [(name, sorted((GOLDEN / name).glob("*.jsonl"))[-1]) for name in names]


@pytest.mark.parametrize(("name", "ledger"), _one_ledger_per_program(), ids=lambda v: getattr(v, "stem", v))
def test_golden_ledgers_on_one_thread_and_little_memory_give_the_same_bytes(name: str, ledger: Path) -> None:
    prog = rewardrules.load(ROOT / "rulesets" / f"{name}.rules")
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    got, _ = _written(prog, ledger, Limits(threads=1, memory="64MB"), expected["as_of"])
    assert got == python_json(prog, ledger.read_text(encoding="utf-8").splitlines(), expected["as_of"])


def test_the_awards_text_is_fetched_while_it_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The awards' pieces are read from DuckDB one at a time as they are
    written (none is held before), and DuckDB's private directory is gone
    once the last one is written."""
    monkeypatch.setattr(write, "_BATCH", 2)
    folders: list[str] = []
    connect = sql_run.connect

    def spy(folder: str, limits: Limits = DEFAULT, **options: Any) -> Any:
        folders.append(folder)
        return connect(folder, limits, **options)

    monkeypatch.setattr(sql_run, "connect", spy)
    prog = rewardrules.compile(WHOLE)
    path = payments_ledger(tmp_path, ["10.00", "20.00", "30.00", "40.00", "50.00"])
    with localcontext(CONTEXT):
        data = direct_result(prog, compile_query(prog.compiled), str(path), None, True)
    assert data is not None and isinstance(data["awards"], Written)
    assert isinstance(data["awards"].pieces, Iterator)  # not a list: nothing fetched yet
    assert data["awards"].count == 5 and len(folders) == 1 and os.path.isdir(folders[0])
    out: list[bytes] = []
    pieces_seen: list[int] = []
    write_result(data, lambda b: (out.append(b), pieces_seen.append(len(out))))
    assert not os.path.exists(folders[0])  # the session ended with the last piece
    assert b"".join(out).decode("utf-8") == python_json(prog, path.read_text(encoding="utf-8").splitlines(), None)
    assert len([b for b in out if b.startswith(b"{\n      ")]) == 3  # five awards, two a piece


def test_a_sum_that_would_round_takes_the_rows_of_the_same_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the totals must be added award by award, the award rows of the
    one run are taken: the ledger is read by DuckDB once, not twice."""
    loads: list[str] = []
    load = read.load

    def counted(*args: Any, **kwargs: Any) -> Any:
        loads.append(args[1])
        return load(*args, **kwargs)

    monkeypatch.setattr(read, "load", counted)
    prog = rewardrules.compile(WHOLE)
    path = payments_ledger(tmp_path, ["9" * 26 + ".99", "9" * 26 + ".99", "9" * 26 + ".98"])
    monkeypatch.setattr(CONTEXT, "prec", 28)  # the engine's 100 digits round no sum of 30-digit amounts
    with localcontext(CONTEXT):
        data = direct_result(prog, compile_query(prog.compiled), str(path), None, True)
        assert data is not None and isinstance(data["awards"], list)
        out: list[bytes] = []
        write_result(data, out.append)
        rows = direct_result(prog, compile_query(prog.compiled), str(path), None, False)
        assert rows is not None
        expected: list[bytes] = []
        write_result(rows, expected.append)
    assert len(loads) == 2  # one run each
    assert b"".join(out) == b"".join(expected)
    assert b'"amount": "300000000000000000000000000.00"' in b"".join(out)  # added in award order, rounded


def _sized_ledger(path: Path, customers: int) -> None:
    """A referral and a few subscriptions per customer, names long enough
    that DuckDB's tables of it are several times its memory limit below."""
    lines = []
    for n in range(customers):
        name = f"customer-{n:06d}-" + "x" * 40
        day = 1 + n % 28
        lines.append(
            f'{{"id":"r{n}","at":"2026-01-{day:02d}T10:00:00Z","type":"referral","referrer":"ref{n % 97}",'
            f'"referee":"{name}","source":"partner"}}'
        )
        for k, mrr in enumerate((300 + n % 900, 1200 + n % 50)):
            lines.append(
                f'{{"id":"s{n}-{k}","at":"2026-0{2 + k}-{day:02d}T10:00:0{k}.5+01:00","type":"subscription",'
                f'"referee":"{name}","mrr":"{mrr}.00"}}'
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _generated(path: Path, events: int) -> None:
    """The benchmarks' seeded ledger (`benchmarks/generate.py`)."""
    spec = importlib.util.spec_from_file_location("generate", ROOT / "benchmarks" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with path.open("w", encoding="utf-8") as out:
        for event in module.events(events, seed=7):
            out.write(json.dumps(event, separators=(",", ":")) + "\n")


def test_a_ledger_past_the_memory_limit_is_scored_by_spilling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """With `--memory-limit 16MB`, a ledger whose tables in DuckDB are
    larger is read by DuckDB itself (no fallback to the Python reader),
    which spills to its private directory: the same bytes as without."""
    ledger = tmp_path / "ledger.jsonl"
    _generated(ledger, 100_000)
    fallbacks: list[int] = []
    monkeypatch.setattr(sql_run, "run", lambda *a, **k: fallbacks.append(1))
    runs: list[list[tuple[int, int]]] = []
    connect = sql_run.connect

    class Watched:
        """A connection that notes DuckDB's memory and spilled bytes after
        each table is made (the parsed lines, the ledger, the awards' text:
        the most it holds is after one of them), one list a run."""

        def __init__(self, connection: Any) -> None:
            self.connection = connection
            self.held: list[tuple[int, int]] = []
            runs.append(self.held)

        def execute(self, sql: str, *args: Any) -> Any:
            result = self.connection.execute(sql, *args)
            if sql.startswith("CREATE TABLE"):
                found = self.connection.execute(
                    "SELECT sum(memory_usage_bytes), sum(temporary_storage_bytes) FROM duckdb_memory()"
                ).fetchone()
                self.held.append((int(found[0]), int(found[1])))
            return result

        def __getattr__(self, name: str) -> Any:
            return getattr(self.connection, name)

    monkeypatch.setattr(
        sql_run, "connect", lambda folder, limits=DEFAULT, **options: Watched(connect(folder, limits, **options))
    )
    options = ["--engine", "duckdb", "--no-explain", "--format", "json", "--threads", "1"]
    assert main(["score", *options, str(SAAS), str(ledger)]) == 0
    free = capsysbinary.readouterr().out
    code = main(["score", *options, "--memory-limit", "16MB", str(SAAS), str(ledger)])
    limited = capsysbinary.readouterr()
    assert code == 0 and not fallbacks, limited.err
    assert limited.out == free and free.count(b'"milestone"') > 10_000
    free_run, limited_run = runs
    spilled = max(s for _, s in free_run)
    small, spilled_small = max(m for m, _ in limited_run), max(s for _, s in limited_run)
    assert spilled == 0  # held in memory by default
    assert small < 16 * 2**20 and spilled_small > 0  # more than the limit: spilled, under it


def test_the_options_reach_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    connect = sql_run.connect

    def spy(folder: str, limits: Limits = DEFAULT, **options: Any) -> Any:
        connection = connect(folder, limits, **options)
        seen.update(
            threads=connection.execute("SELECT current_setting('threads')").fetchone()[0],
            memory=connection.execute("SELECT current_setting('memory_limit')").fetchone()[0],
        )
        return connection

    monkeypatch.setattr(sql_run, "connect", spy)
    ledger = tmp_path / "ledger.jsonl"
    _sized_ledger(ledger, 3)
    assert (
        main(["score", "--engine", "duckdb", "--threads", "1", "--memory-limit", "300MB", str(SAAS), str(ledger)]) == 0
    )
    assert seen["threads"] == 1 and seen["memory"].replace(" ", "") in ("286.1MiB", "300.0MB")
    assert main(["score", "--engine", "duckdb", str(SAAS), str(ledger)]) == 0
    assert seen["memory"].replace(" ", "") in ("953.6MiB", "1000.0MB")  # 1GB by default, not 80% of RAM


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--engine", "duckdb", "--threads", "0"], "expected a number of threads from 1 to 1024"),
        (["--engine", "duckdb", "--threads", "two"], "expected a number of threads from 1 to 1024"),
        (["--engine", "duckdb", "--memory-limit", "lots"], "--memory-limit: expected a size such as 500MB"),
        (["--engine", "duckdb", "--memory-limit", "1GB'; SET x = '1"], "--memory-limit: expected a size"),
        (["--threads", "2"], "--threads is for --engine duckdb"),
        (["--engine", "spark", "--memory-limit", "1GB"], "--memory-limit is for --engine duckdb"),
    ],
)
def test_a_bad_option_is_exit_2(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    _sized_ledger(ledger, 1)
    try:
        code = main(["score", *options, str(SAAS), str(ledger)])
    except SystemExit as stop:  # argparse's own refusal
        code = int(stop.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err


def test_running_out_of_memory_is_an_error_not_the_python_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """DuckDB out of memory while it reads the ledger is said (exit 2, with
    the option to raise), not taken for a line outside the strict form."""
    fallbacks: list[int] = []
    monkeypatch.setattr(sql_run, "run", lambda *a, **k: fallbacks.append(1))
    ledger = tmp_path / "ledger.jsonl"
    _sized_ledger(ledger, 20_000)
    code = main(["score", "--engine", "duckdb", "--threads", "1", "--memory-limit", "2MB", str(SAAS), str(ledger)])
    err = capsys.readouterr().err
    assert code == 2 and not fallbacks
    assert "DuckDB could not run the query: Out of Memory Error" in err and "--memory-limit" in err


# -- the strict form's `at` and keys, against a model of the docs' rules

_INSTANT = re.compile(read._INSTANT)


def _instant_ok(at: str) -> bool:
    """docs/sql.md: `YYYY-MM-DDTHH:MM:SS[.fraction]` then `Z` or `+HH:MM`,
    a valid date and time between the years 1678 and 2261."""
    if not _INSTANT.fullmatch(at):
        return False
    try:
        datetime.fromisoformat(at[:19])
    except ValueError:
        return False
    zone = "" if at.endswith("Z") else at[-6:]
    return 1678 <= int(at[:4]) <= 2261 and (not zone or (int(zone[1:3]) <= 23 and int(zone[4:]) <= 59))


_AT = st.builds(
    "{}-{}-{}T{}:{}:{}{}{}".format,
    st.sampled_from(["2026", "2024", "2100", "1678", "1677", "2261", "2262", "0999", "20a6"]),
    st.sampled_from(["01", "02", "12", "13", "00", "1"]),
    st.sampled_from(["01", "28", "29", "30", "31", "32", "00"]),
    st.sampled_from(["00", "09", "23", "24"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["00", "59", "60", "5"]),
    st.sampled_from(["", ".0", ".5", ".000000001", ".999999999", ".1234567891", "."]),
    st.sampled_from(["Z", "z", "+00:00", "-00:00", "+01:30", "-12:45", "+23:59", "+24:00", "+00:60", "", "+0100"]),
)

#: keys a line may have besides its own: looked up by the query, or not
_EXTRA = st.lists(
    st.sampled_from(
        ['"source":"partner"', '"amount":"5"', '"mrr":"7"', '"referee":"eve"', '"currency":"USD"', '"zz":1', '"id":"x"']
    ),
    max_size=3,
)


@functools.cache
def _saas_plan() -> tuple[dict[str, list[tuple[str, str, bool]]], dict[str, str | None]]:
    prog = rewardrules.load(SAAS)
    kinds = read.plan(prog.compiled.checked, sorted(prog.compiled.used_types))
    return kinds, dict(_one_currency(prog._reader().money))


@settings(max_examples=examples(15), deadline=None)
@given(st.lists(st.tuples(_AT, _EXTRA), min_size=1, max_size=6), st.sampled_from([(), ("source", "amount", "zz")]))
def test_the_strict_form_takes_at_and_keys_as_the_docs_say(
    lines_spec: list[tuple[str, list[str]]], probes: tuple[str, ...]
) -> None:
    """Each line is taken exactly when its `at` is a valid instant and no
    key is twice, whatever keys are probed (`parse_sql`'s `probes` change
    the speed only); a taken `at` is `parse_timestamp`'s nanoseconds."""
    kinds, currencies = _saas_plan()
    lines = [
        "{"
        + ",".join(
            [f'"id":"s{n}"', f'"at":"{at}"', '"type":"subscription"', '"referee":"bob"', '"mrr":"300.00"', *extra]
        )
        + "}"
        for n, (at, extra) in enumerate(lines_spec)
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "lines.jsonl")
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
        db = duckdb.connect()
        db.execute(read.parse_sql(path, kinds, currencies, probes))
        found = {line: (ok, at) for line, ok, at in db.execute('SELECT line, ok, "at" FROM parsed').fetchall()}
        db.close()
    for line, (at, extra) in zip(lines, lines_spec, strict=True):
        keys = [k.split(":")[0] for k in extra]
        distinct = len(set(keys)) == len(keys) and not {'"mrr"', '"referee"', '"id"'} & set(keys)
        ok, nanos = found[line]
        assert ok == (_instant_ok(at) and distinct), line
        if ok:
            assert nanos == parse_timestamp(at)
