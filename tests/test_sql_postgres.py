"""The query in Postgres's dialect run by a real PostgreSQL server (a
scratch cluster of Debian's `postgresql` package, which `.ci/run` installs
where it is missing: tests/postgres.py), against the Python engine, byte
for byte (docs/sql.md, "Other dialects"): golden ledgers of every rule
file that compiles (every one in the long run; by default the largest,
and explained one scored at an as-of where there is one, else the
largest: conftest `engine_cases`), with and without explanations (the
sections `--sections` prints too), and with the plain milestones' table
forced on; the cookbook's programs; drawn programs on drawn ledgers (each
drawn program's statements take sqlglot seconds to write: two examples);
numbers in messages with their decimals, on drawn ledgers too; money with a
negative zero's sign; caps per calendar period in time zones with summer
time and offsets of 30 and 45 minutes; a `max` and a `min` whose kept
value's decimals an explanation and a message write (the row a struct
keeps in DuckDB, which Postgres lacks); `benchmarks/warehouse_check.py` on
the same server, the several-caps fold on random ledgers included; and a
server that fails to start leaves nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.core.limits import AwardLimitError
from rewardrules.score.api import parse_as_of
from rewardrules.sql import compile as compile_module
from rewardrules.sql import grouped
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.sections import compile_explained

from .conftest import as_of_first, engine_cases, examples, lines_in
from .postgres import Postgres, Server, compared, runner
from .test_properties import as_ofs, to_line
from .test_review_sql_mix import cookbook_ledger, cookbook_programs, mixed_ledgers, programs
from .test_sql_backend import ROOT, golden_programs
from .test_sql_clickhouse import ZONES, capped, period_payments
from .test_sql_messages_more import LEDGER, NUMBERS, USAGE_ROWS, drawn_usage
from .test_sql_negative_zero import LEDGER as ZERO_LEDGER
from .test_sql_negative_zero import ZEROS


@pytest.fixture
def pg(postgres_server: Server) -> Postgres:
    """The session's server's client (a test drawn by Hypothesis takes
    `postgres_server` itself: it refuses a fixture made per test)."""
    return postgres_server.client


CASES = golden_programs()


def test_the_server_is_postgres(pg: Postgres) -> None:
    assert pg.script("SELECT version();").startswith("PostgreSQL ")


@pytest.mark.parametrize("explain", [False, True], ids=["awards", "explained"])
@pytest.mark.parametrize(("name", "path", "ledgers"), CASES, ids=[c[0] for c in CASES])
def test_golden_ledgers_give_the_engines_bytes(
    pg: Postgres, name: str, path: Path, ledgers: list[Path], explain: bool
) -> None:
    program = rewardrules.load(path)
    for ledger in engine_cases(ledgers, key=as_of_first if explain else lines_in):
        python, postgres = compared(pg, program, ledger, explain)
        assert postgres == python, f"{name}/{ledger.stem}"


@pytest.mark.parametrize(("name", "path", "ledgers"), CASES, ids=[c[0] for c in CASES])
def test_plain_milestones_as_rows_of_a_table(
    pg: Postgres, monkeypatch: pytest.MonkeyPatch, name: str, path: Path, ledgers: list[Path]
) -> None:
    """The table of plain milestones (docs/sql.md, "Files of many
    rewards": an `ARRAY` unnested in Postgres) forced on from one plain
    milestone: the same bytes."""
    monkeypatch.setattr(grouped, "FROM", 1)
    program = rewardrules.load(path)
    for ledger in engine_cases(ledgers, key=lines_in):
        python, postgres = compared(pg, program, ledger)
        assert postgres == python, f"{name}/{ledger.stem}"


def test_totals_computed_once_for_many_milestones(pg: Postgres, monkeypatch: pytest.MonkeyPatch) -> None:
    """`totals AS MATERIALIZED` (a query of many milestones, docs/sql.md
    "Files of many rewards"; `MANY_OWN` lowered to 1 here), which Postgres
    is given: the same bytes, explained and not, for per-referrer metrics."""
    monkeypatch.setattr(compile_module, "MANY_OWN", 1)
    _, path, ledgers = next(case for case in CASES if case[0] == "referral_milestones")
    program = rewardrules.load(path)
    assert "\ntotals AS MATERIALIZED (" in compile_query(program.compiled).awards
    ledger = max(ledgers, key=lines_in)
    for explain in (False, True):
        python, postgres = compared(pg, program, ledger, explain)
        assert postgres == python


def test_most_golden_programs_have_the_table_forced_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not vacuous: the forced table is in most of those queries."""
    monkeypatch.setattr(grouped, "FROM", 1)
    tabled = [name for name, path, _ in CASES if "UNNEST" in compile_query(rewardrules.load(path).compiled).awards]
    assert len(tabled) >= 12 and "saas_milestones" in tabled


#: a `max` and a `min` whose kept values tie in value but not in decimals:
#: the first line in (at, id) order that reaches the extreme is kept, and
#: its decimals are written (`10.50`, not `10.5`; a whole number is written
#: without them)
EXTREMES = """\
ruleset extremes "Extremes"
event usage { seats: number }
metric most = max usage.seats
metric least = min usage.seats
metric seen = count usage
milestone big "Big" {
  when most >= 10 and least <= 2 and seen >= 8
  reward referrer cash 5 USD
  message "most {{ most }}, least {{ least }}"
}
"""


def _line(event_id: str, at: str, seats: str) -> str:
    return json.dumps({"id": event_id, "at": at, "type": "usage", "referee": "bob", "seats": seats})


def test_a_max_and_a_min_keep_the_first_row_of_the_extreme(pg: Postgres, tmp_path: Path) -> None:
    program = rewardrules.compile(EXTREMES, "extremes.rules")
    referral = {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "alice", "referee": "bob"}
    lines = [
        json.dumps(referral),
        _line("u3", "2026-01-02T00:00:00Z", "10.5"),  # tied on the instant with u2, after it by id
        _line("u2", "2026-01-02T00:00:00Z", "10.50"),  # the first of the maximum
        _line("u1", "2026-01-03T00:00:00Z", "10.500"),
        _line("u4", "2026-01-01T12:00:00Z", "3"),
        _line("u5", "2026-01-04T00:00:00Z", "1.50"),  # the first of the minimum
        _line("u9", "2026-01-04T00:00:00Z", "1.5"),  # tied on the instant with u5, after it by id
        _line("u6", "2026-01-05T00:00:00Z", "1.5"),
        _line("u7", "2026-01-06T00:00:00Z", "1.500"),
    ]
    ledger = tmp_path / "extremes.jsonl"
    ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
    as_of = "2026-02-01T00:00:00Z"
    ledger.with_suffix(".expected.json").write_text(json.dumps({"as_of": as_of}), encoding="utf-8")
    for explain in (False, True):
        python, postgres = compared(pg, program, ledger, explain)
        assert postgres == python
    award = json.loads(python)["awards"][0]
    assert award["message"] == "most 10.50, least 1.50"  # what the engine keeps, as a check of the ledger
    assert award["why"]["values"] == {"most": "10.50", "least": "1.50", "seen": "8"}


def test_the_warehouse_check_runs_on_the_server(postgres_server: Server) -> None:
    """The script data teams run on their own server (docs/sql.md), here
    on one program's ledgers and the several-caps fold's random ones."""
    script = str(ROOT / "benchmarks" / "warehouse_check.py")
    done = subprocess.run(
        [sys.executable, script, "--rounds", "2", "--explain", "--psql", postgres_server.client.psql, "zoom"],
        capture_output=True,
        text=True,
        env=postgres_server.client.env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "all the same" in done.stdout
    assert done.stdout.count(": same") >= 3 + 3 * 2


def _same(pg: Postgres, text: str, lines: list[str], as_of: str | None = None) -> str:
    """Score with Postgres, explained (the sections too) and not: assert
    the Python engine's bytes; return those of the awards alone."""
    program = rewardrules.compile(text)
    at = parse_as_of(as_of)
    data = duckdb_result(program, compile_query(program.compiled), lines, at, "<ledger>", runner(pg))
    expected = program.score(lines, as_of=as_of, explain=False).to_json()
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == expected
    query, sections = compile_explained(program.compiled)
    full = duckdb_result(program, query, lines, at, "<ledger>", runner(pg, sections), explain=True)
    assert json.dumps(full, ensure_ascii=False, indent=2) + "\n" == program.score(lines, as_of=as_of).to_json()
    return expected


def _alike(pg: Postgres, text: str, lines: list[str] | None, as_of: str | None = None) -> bool:
    """`_same`, for a file that compiles, explained and not, and a ledger
    the Python engine scores within its award limits; whether it ran."""
    program = rewardrules.compile(text)
    try:
        compile_explained(program.compiled)
    except Unsupported:  # reported by `check --engine sql` (tests/test_sql_explain_drawn.py)
        return False
    try:
        program.score(lines or [], as_of=as_of)
    except AwardLimitError:  # both engines stop alike (tests/test_sql_explain_drawn.py)
        return False
    if lines is None:
        return False
    _same(pg, text, lines, as_of)
    return True


def test_money_with_its_sign_in_messages(pg: Postgres) -> None:
    """Money a message writes keeps a negative zero's sign (`-0.00`): a
    `max` and a `min ... otherwise` keep the BOOLEAN sign column of the
    row they hold (tests/test_sql_negative_zero.py)."""
    messages = [award["message"] for award in json.loads(_same(pg, ZEROS, ZERO_LEDGER))["awards"]]
    assert any("-0.00" in message for message in messages)


def test_numbers_in_messages_keep_their_decimals(pg: Postgres) -> None:
    """`max`, `min` (the first value to reach it, with its decimals),
    `first` (NULL or not), `latest`, `otherwise`, sums and quotients."""
    messages = [award["message"] for award in json.loads(_same(pg, NUMBERS, LEDGER))["awards"]]
    assert messages[1].startswith("1.5  3.00 | 1.5 1.50 2 3 2 3 2 |")  # 1.50 kept as the maximum after 1.5


@settings(max_examples=examples(10), deadline=None)
@given(rows=USAGE_ROWS)
def test_drawn_ledgers_give_the_same_messages(
    postgres_server: Server, rows: list[tuple[str, str | None, str, int]]
) -> None:
    """Ties of instants (ordered by id), maxima reached again with other
    decimals, a `first` size missing or not (`drawn_usage`)."""
    _same(postgres_server.client, NUMBERS, drawn_usage(rows))


@pytest.mark.parametrize(("zone", "period"), ZONES)
def test_caps_per_period_in_a_time_zone(pg: Postgres, zone: str, period: str) -> None:
    """A calendar period in the program's zone (`caps.dated`: the query's
    own table of the zone's offsets): payments at every hour of a year,
    zones with 30- and 45-minute offsets and summer time."""
    awards = json.loads(_same(pg, capped(zone, period), period_payments(zone, period)))["awards"]
    assert any(award["amount"] != "10.00" for award in awards)  # the cap cut some


@settings(max_examples=examples(2), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=programs(), data=st.data())
def test_drawn_programs_give_the_engines_bytes(postgres_server: Server, rules: str, data: st.DataObject) -> None:
    """The mixed programs of tests/test_review_sql_mix.py (triggers,
    timers, computed amounts, holds, voids, caps, allowances, messages,
    earlier referrals, two programs) on drawn ledgers and as-ofs."""
    events = data.draw(mixed_ledgers(), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    _alike(postgres_server.client, rules, [to_line(event) for event in events], as_of)


COOKBOOK = cookbook_programs()


@pytest.mark.parametrize(("name", "text"), COOKBOOK, ids=[name for name, _ in COOKBOOK])
def test_cookbook_programs_give_the_engines_bytes(pg: Postgres, name: str, text: str) -> None:
    _alike(pg, text, cookbook_ledger(name))


def test_most_cookbook_programs_run() -> None:
    """Not vacuous: most cookbook programs compile, explained, and have a
    ledger (`_alike` runs those on Postgres)."""
    ran = []
    for name, text in COOKBOOK:
        try:
            compile_explained(rewardrules.compile(text).compiled)
        except Unsupported:
            continue
        if cookbook_ledger(name) is not None:
            ran.append(name)
    assert len(ran) >= 5


def test_a_server_that_fails_to_start_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its folder is removed and what the program said is raised."""
    import tempfile

    from . import postgres

    made: list[str] = []
    real = tempfile.mkdtemp

    def mkdtemp(*args: Any, **kwargs: Any) -> str:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(postgres.tempfile, "mkdtemp", mkdtemp)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "initdb").write_text("#!/bin/sh\necho no cluster >&2\nexit 1\n", encoding="utf-8")
    (fake / "initdb").chmod(0o755)
    with pytest.raises(RuntimeError, match=r"^initdb: "):
        postgres.Server(fake)
    assert len(made) == 1 and not Path(made[0]).exists()
