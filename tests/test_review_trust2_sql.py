"""Hostile review of the SQL back end (`score --engine duckdb`): the
embedded DuckDB keeps to the run's private directory. By default it spills
to `.tmp` in the working directory (ledger ids and amounts, in files left
behind when the run is killed) and installs extensions from the network."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.cli.sql import duckdb_result
from rewardrules.sql.compile import MAX_REWARDS, Unsupported, compile_query

from .conftest import RULESETS

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ROOT / "tests" / "golden" / "referral_milestones" / "basic.jsonl"

SETTINGS = (
    "temp_directory",
    "autoinstall_known_extensions",
    "autoload_known_extensions",
    "enable_external_access",
    "lock_configuration",
)


class _Spy:
    """A DuckDB connection that notes its settings when the awards query runs."""

    def __init__(self, connection: Any, seen: dict[str, Any]) -> None:
        self.connection = connection
        self.seen = seen

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("WITH") and not self.seen:
            for name in SETTINGS:
                self.seen[name] = self.connection.execute(f"SELECT current_setting('{name}')").fetchone()[0]
            self.seen["read a file"] = _reads(self.connection)
        return self.connection.execute(sql, *args)

    def close(self) -> None:
        self.connection.close()


def _reads(connection: Any) -> bool:
    """Whether a query on this connection can read a file of the machine."""
    try:
        connection.execute(f"SELECT * FROM read_text({str(LEDGER)!r})").fetchall()
    except duckdb.Error:
        return False
    return True


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    found: dict[str, Any] = {}
    connect = duckdb.connect

    def spy(*args: Any, **kwargs: Any) -> _Spy:
        return _Spy(connect(*args, **kwargs), found)

    monkeypatch.setattr(duckdb, "connect", spy)
    return found


def test_duckdb_spills_into_the_private_directory_only(
    seen: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    prog = rewardrules.load(RULESETS / "referral_milestones.rules")
    lines = LEDGER.read_text(encoding="utf-8").splitlines()
    data = duckdb_result(prog, compile_query(prog.compiled), lines, None, "<ledger>")
    assert data["awards"]
    spill = seen["temp_directory"]
    assert os.path.isabs(spill)
    assert os.path.basename(os.path.dirname(spill)).startswith("rewardrules-sql-")
    assert not os.path.exists(os.path.dirname(spill))  # removed with the run
    assert list(tmp_path.iterdir()) == []


def test_duckdb_installs_nothing_and_reads_no_file_while_scoring(seen: dict[str, Any]) -> None:
    prog = rewardrules.load(RULESETS / "referral_milestones.rules")
    lines = LEDGER.read_text(encoding="utf-8").splitlines()
    duckdb_result(prog, compile_query(prog.compiled), lines, None, "<ledger>")
    assert seen["autoinstall_known_extensions"] is False
    assert seen["autoload_known_extensions"] is False
    assert seen["enable_external_access"] is False
    assert seen["lock_configuration"] is True
    assert seen["read a file"] is False


def _many(milestones: int) -> str:
    """Milestones of a computed amount: each keeps its own CTE and branch
    (a file of many plain milestones compiles, tests/test_sql_many_rewards.py)."""
    head = 'ruleset many "Many milestones"\n\nevent payment { amount: money USD }\n\n'
    body = "".join(
        f'milestone m{i} "Paid more than {i}" {{\n  first payment where payment.amount > {i}\n'
        "  reward referrer cash 10% of payment.amount\n}\n\n"
        for i in range(milestones)
    )
    return head + body


def test_a_file_of_more_rewards_than_duckdb_binds_is_refused_at_a_reward() -> None:
    """DuckDB refuses a query nested deeper than 1,000 levels, and each
    reward was one more branch of one UNION ALL chain: 1,100 rewards were
    a DuckDB BinderException (a traceback) at run time."""
    prog = rewardrules.compile(_many(MAX_REWARDS + 1), "many.rules")
    with pytest.raises(Unsupported) as caught:
        compile_query(prog.compiled)
    problem = caught.value.problem()
    assert f"more than {MAX_REWARDS} rewards" in problem.message
    assert problem.location is not None
    assert problem.location.line == 5 + 5 * MAX_REWARDS + 2  # the reward of the first milestone past the limit


def test_a_file_of_the_most_rewards_still_compiles() -> None:
    prog = rewardrules.compile(_many(MAX_REWARDS), "many.rules")
    assert compile_query(prog.compiled).most_per_event == MAX_REWARDS


class _Failing(_Spy):
    """A connection whose awards query fails as DuckDB fails when it runs out
    of memory or disk."""

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("WITH"):
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256.0 KiB")
        return self.connection.execute(sql, *args)


def test_a_duckdb_failure_is_an_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    connect = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: _Failing(connect(*a, **k), {}))
    rules = str(RULESETS / "referral_milestones.rules")
    code = main(["score", rules, str(LEDGER), "--engine", "duckdb"])
    err = capsys.readouterr().err
    assert code == 2
    assert "DuckDB could not run the query: Out of Memory Error" in err
