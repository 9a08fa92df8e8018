"""Files of many rewards in SQL (sql/grouped.py, docs/sql.md "Files of many
rewards"): the plain milestones of a file of many are computed together,
as rows of tables, so that a file of more than 500 rewards compiles and
runs. The table shape gives the Python engine's bytes: on a file past the
old limit, on the reference programs and on drawn programs mixing plain
milestones with every other construct (the shape forced on from one plain
milestone, `FROM = 1`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli import main
from rewardrules.cli.sql import duckdb_result, transpiled
from rewardrules.sql import compile as compile_module
from rewardrules.sql import grouped
from rewardrules.sql import run as sql_run
from rewardrules.sql.compile import MANY_OWN, MAX_REWARDS, Unsupported, _Compiler, compile_query

from .conftest import examples
from .test_properties import DIFFERENTIAL, as_ofs, ledgers, program
from .test_review_sql_mix import HEAD, compare, mixed_ledgers, programs
from .test_sql_backend import GOLDEN, ROOT, SUPPORTED, duckdb_json, python_json


@pytest.fixture
def table_from_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table shape for every file with a plain milestone."""
    monkeypatch.setattr(grouped, "FROM", 1)


def many(milestones: int) -> str:
    """A file of plain milestones of every form, one in four with two rewards."""
    forms = [
        "when paid >= {n} USD",
        "first payment where payment.amount >= {n} USD",
        "each payment where payment.amount > {n} USD within 30 days",
        "when converted >= {k}",
    ]
    rewards = [
        "reward referrer cash {m} USD",
        "reward referee credit 2.50 USD\n  reward referrer cash {m} USD",
        'reward referrer item "Trip number {n}"',
        "reward referee discount 10 percent",
    ]
    body = "".join(
        f"milestone m{i} {{\n  {forms[i % 4].format(n=i, k=i % 3 + 1)}\n  {rewards[i // 4 % 4].format(n=i, m=i % 7 + 1)}\n}}\n\n"
        for i in range(milestones)
    )
    metric = "metric converted = count referrals where paid > 0\n\n"
    return HEAD.format(zone="") + metric + body


EVENTS: list[dict[str, Any]] = [
    {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
    {"id": "r2", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "cat"},
    {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "45.00"},
    {"id": "p2", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "cat", "amount": "7.50"},
    {"id": "p3", "at": "2026-03-05T00:00:00Z", "type": "payment", "referee": "bob", "amount": "30.00"},
    {"id": "p4", "at": "2026-03-05T00:00:00Z", "type": "payment", "referee": "cat", "amount": "90.00"},
]


def table_of(rules: str) -> frozenset[int]:
    """The milestones the compiled query computes in the table."""
    compiler = _Compiler(rewardrules.compile(rules, "many.rules").compiled)
    compiler.query()
    return compiler.table.indexes


def test_a_file_of_more_than_500_rewards_gives_the_python_bytes() -> None:
    rules = many(520)
    prog = rewardrules.compile(rules, "many.rules")
    assert sum(len(m.rewards) for m in prog.compiled.milestones) > MAX_REWARDS  # refused before
    query = compile_query(prog.compiled)
    assert "hg AS (" in query.awards and "h0 AS (" not in query.awards
    assert duckdb_json(prog, EVENTS, None) == python_json(prog, EVENTS, None)


def test_score_engine_duckdb_runs_a_file_of_many_rewards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line end to end (the ledger read by DuckDB itself), with
    the 100 awards at one event that the per-event limit allows checked."""
    monkeypatch.chdir(tmp_path)
    Path("many.rules").write_text(many(520), encoding="utf-8")
    lines = [json.dumps(event) for event in EVENTS]
    Path("ledger.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = []
    for engine in ("python", "duckdb"):
        assert (
            main(["score", "many.rules", "ledger.jsonl", "--no-explain", "--format", "json", "--engine", engine]) == 0
        )
        results.append(capsys.readouterr().out)
    assert results[0] == results[1]
    assert '"milestone": "m519"' in results[0]


def test_plain_milestones_are_in_the_table_from_FROM_of_them() -> None:
    assert table_of(many(grouped.FROM - 1)) == frozenset()
    assert table_of(many(grouped.FROM)) == frozenset(range(grouped.FROM))


def test_what_is_not_plain_keeps_its_own_cte(table_from_one: None) -> None:
    rules = many(4) + (
        "milestone computed {\n  first payment\n  reward referrer cash 10% of payment.amount\n}\n\n"
        'milestone told {\n  first payment\n  reward referrer cash 1 USD\n  message "{{ paid }}"\n}\n\n'
        "milestone voided {\n  first payment\n  reward referrer cash 1 USD\n  void if refund\n}\n\n"
        "milestone timed {\n  after 30 days\n  reward referrer cash 1 USD\n}\n\n"
        "milestone rises {\n  whenever paid increases\n  reward referrer cash 1 USD\n}\n\n"
        "milestone steps {\n  every 100 paid\n  reward referrer cash 1 USD\n}\n"
    )
    assert table_of(rules) == frozenset(range(4))


def _limit_file(plain: int, computed: int) -> str:
    """`plain` plain milestones, then `computed` milestones of a computed amount."""
    body = "".join(
        f"milestone c{i} {{\n  first payment where payment.amount > {i} USD\n  reward referrer cash 10% of payment.amount\n}}\n\n"
        for i in range(computed)
    )
    return many(plain) + body


def test_the_limit_counts_the_branches_of_the_award_rows() -> None:
    """Past the table, each reward of a milestone with its own CTE is one
    branch of the award rows' UNION ALL, and the table's group (its
    rewards differ by constants only) one more: 500 in all compile, the
    reward of the 501st branch is refused at its line."""
    head = _limit_file(grouped.FROM, 0).count("\n")
    compile_query(rewardrules.compile(_limit_file(grouped.FROM, MAX_REWARDS - 1), "many.rules").compiled)
    prog = rewardrules.compile(_limit_file(grouped.FROM, MAX_REWARDS), "many.rules")
    with pytest.raises(Unsupported) as caught:
        compile_query(prog.compiled)
    problem = caught.value.problem()
    assert f"more than {MAX_REWARDS} rewards outside the table of plain milestones" in problem.message
    assert problem.location is not None
    assert problem.location.line == head + 5 * (MAX_REWARDS - 1) + 3  # the last milestone's reward


def test_many_milestones_of_their_own_turn_off_two_cte_optimizers() -> None:
    """`MANY_OWN` milestones with CTEs of their own: DuckDB's CTE filter
    pusher and projection pull-up off for their query, and `totals`
    computed once for them all (`AS MATERIALIZED`). A plain milestone
    outside the table (fewer than `grouped.FROM` of them) has a CTE of its
    own and counts; those of the table do not."""

    def off(rules: str) -> tuple[str, ...]:
        query = compile_query(rewardrules.compile(rules, "many.rules").compiled)
        kept = "\ntotals AS MATERIALIZED (" in query.awards
        assert kept == bool(query.optimizers_off) and kept != ("\ntotals AS (" in query.awards)
        return query.optimizers_off

    assert off(_limit_file(0, MANY_OWN)) == ("cte_filter_pusher", "projection_pullup")
    assert off(_limit_file(0, MANY_OWN - 1)) == ()
    assert off(_limit_file(1, MANY_OWN - 1)) == ("cte_filter_pusher", "projection_pullup")
    assert off(_limit_file(grouped.FROM, MANY_OWN - 1)) == ()


@pytest.mark.parametrize(
    "dialect", ["postgres", "snowflake", "bigquery", "spark", "databricks", "redshift", "clickhouse", "trino"]
)
def test_other_dialects_write_materialized_only_for_postgres(monkeypatch: pytest.MonkeyPatch, dialect: str) -> None:
    """`AS MATERIALIZED` is written for DuckDB and PostgreSQL: the other
    dialects get `totals` without the word, which not all of them have
    (sqlglot writes it for each)."""
    monkeypatch.setattr(compile_module, "MANY_OWN", 3)
    prog = rewardrules.compile(_limit_file(0, 3), "many.rules")
    text = transpiled(compile_query(prog.compiled), dialect)
    assert text is not None and "totals AS" in text
    assert ("MATERIALIZED" in text) == (dialect == "postgres")


@pytest.mark.parametrize("name", ["referral_milestones", "partner_and_customer", "fasttrack_cpor"])
def test_reference_programs_with_totals_computed_once(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The path of many milestones (`MANY_OWN` lowered to 1) on reference
    programs, explained: per-referrer metrics (`totals` after `changed`),
    two programs, caps and voids; the Python engine's bytes."""
    from .test_sql_explain import python_bytes, section, written

    monkeypatch.setattr(compile_module, "MANY_OWN", 1)
    prog = program(name)
    assert "\ntotals AS MATERIALIZED (" in compile_query(prog.compiled, explain=True).awards
    ledger = max(sorted((GOLDEN / name).glob("*.jsonl")), key=lambda path: path.stat().st_size)
    lines = ledger.read_text(encoding="utf-8").splitlines()
    got, _ = written(prog, ledger, None)
    assert section(got) == section(python_bytes(prog, lines, None))


def payers(referrals: int, referrers: int) -> list[dict[str, Any]]:
    """`referrals` referred customers (`c{r}`, of `p{r % referrers}`), each
    paying 5 times a day apart, amounts of 0 to 99 USD."""
    events: list[dict[str, Any]] = [
        {
            "id": f"r{r}",
            "at": "2026-01-01T00:00:00Z",
            "type": "referral",
            "referrer": f"p{r % referrers}",
            "referee": f"c{r}",
        }
        for r in range(referrals)
    ]
    events += [
        {
            "id": f"e{r}_{k}",
            "at": f"2026-01-0{k + 2}T00:00:00Z",
            "type": "payment",
            "referee": f"c{r}",
            "amount": f"{(r * 7 + k * 13) % 100}.00",
        }
        for r in range(referrals)
        for k in range(5)
    ]
    return events


def test_the_per_event_limit_of_many_computed_amounts_fits_a_small_memory_limit() -> None:
    """The per-event limit's statement of 120 milestones of a computed
    amount (one event could reach more than the limit of 100 awards), on
    50 referrals: DuckDB copied the prelude's join into each milestone, one
    hash table each (no metric needs a window here, so `totals` is that
    join): 472 MB of its buffers, 1.2 GB at 300 milestones. With `totals`
    computed once, 130 MB: it runs within 300 MB."""
    rules = 'ruleset many "Many"\n\nevent payment { amount: money USD }\n\n' + "".join(
        f"milestone c{i} {{\n  each payment where payment.amount >= {i % 100} USD and payment.amount < {i % 100 + 2} USD\n"
        "  reward referrer cash 10% of payment.amount\n}\n\n"
        for i in range(120)
    )
    events = payers(50, 7)
    prog = rewardrules.compile(rules, "many.rules")
    query = compile_query(prog.compiled)
    assert query.volume_sql() is not None and query.optimizers_off
    lines = [json.dumps(event) for event in events]

    def small(query: Any, checked: Any, records: Any, as_of: int) -> sql_run.Rows:
        return sql_run.run(query, checked, records, as_of, sql_run.Limits(threads=1, memory="300MB"))

    data = duckdb_result(prog, query, lines, None, "<ledger>", runner=small)
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == python_json(prog, lines, None)


@pytest.mark.parametrize(("own", "expected"), [(3, "cte_filter_pusher,projection_pullup"), (2, "")])
def test_both_runners_open_duckdb_with_the_querys_optimizers_off(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    own: int,
    expected: str,
) -> None:
    """`score --engine duckdb` on the ledger file (`run_file`) and on
    records (`run`, as the API's) open their DuckDB session with the
    query's optimizers off, and only then (the threshold lowered to 3 to
    keep the files small); the Python engine's bytes either way."""
    monkeypatch.setattr(compile_module, "MANY_OWN", 3)
    disabled: list[str] = []
    connect, run_file = sql_run.connect, sql_run.run_file
    files: list[str] = []

    def recorded(*args: Any, **options: Any) -> Any:
        connection = connect(*args, **options)
        disabled.append(connection.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0])
        return connection

    def read_by_duckdb(*args: Any, **options: Any) -> Any:
        files.append(args[4])
        return run_file(*args, **options)

    monkeypatch.setattr(sql_run, "connect", recorded)
    monkeypatch.setattr(sql_run, "run_file", read_by_duckdb)
    rules = _limit_file(0, own)
    prog = rewardrules.compile(rules, "many.rules")
    assert duckdb_json(prog, EVENTS, None) == python_json(prog, EVENTS, None)
    assert disabled == [expected]
    monkeypatch.chdir(tmp_path)
    Path("many.rules").write_text(rules, encoding="utf-8")
    Path("ledger.jsonl").write_text("".join(json.dumps(event) + "\n" for event in EVENTS), encoding="utf-8")
    results = []
    for engine in ("python", "duckdb"):
        assert main(["score", "many.rules", "ledger.jsonl", "--format", "json", "--engine", engine]) == 0
        results.append(capsys.readouterr().out)
    assert results[0] == results[1]
    assert '"milestone": "c1"' in results[0]
    assert [Path(path).name for path in files] == ["ledger.jsonl"]
    assert len(disabled) >= 2 and set(disabled) == {expected}


@pytest.mark.parametrize("sections", [False, True])
def test_rewardrules_sql_sets_the_optimizers_first(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sections: bool
) -> None:
    """`rewardrules sql` (DuckDB's) starts with the `SET` of the optimizers
    the query runs without, so that its text runs as `score --engine
    duckdb` runs it; nothing when none."""
    monkeypatch.setattr(compile_module, "MANY_OWN", 3)
    monkeypatch.chdir(tmp_path)
    option = ["--sections"] if sections else []
    for own, head in (
        (
            3,
            "-- DuckDB's settings for these statements\nSET disabled_optimizers = 'cte_filter_pusher,projection_pullup';\n\n-- awards\n",
        ),
        (2, "-- awards\n"),
    ):
        Path("many.rules").write_text(_limit_file(0, own), encoding="utf-8")
        assert main(["sql", "many.rules", *option]) == 0
        assert capsys.readouterr().out.startswith(head)
    connection = duckdb.connect()  # DuckDB takes the SET as printed: the optimizer's name is its own
    connection.execute("SET disabled_optimizers = 'cte_filter_pusher,projection_pullup'")
    found = connection.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    assert found == ("cte_filter_pusher,projection_pullup",)


@pytest.mark.parametrize("name", SUPPORTED)
def test_reference_programs_in_the_table_shape(table_from_one: None, name: str) -> None:
    prog = program(name)
    lines = sorted((GOLDEN / name).glob("*.jsonl"))[0].read_text(encoding="utf-8").splitlines()
    assert duckdb_json(prog, lines, None) == python_json(prog, lines, None)


@DIFFERENTIAL
@given(data=st.data())
def test_reference_programs_on_generated_ledgers_in_the_table_shape(data: st.DataObject) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grouped, "FROM", 1)
        name = data.draw(st.sampled_from(SUPPORTED), label="program")
        events = data.draw(ledgers(name), label="ledger")
        as_of = data.draw(as_ofs(events), label="as_of")
        prog = program(name)
        assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


@settings(DIFFERENTIAL, max_examples=examples(20))
@given(rules=programs(), data=st.data())
def test_mixed_programs_in_the_table_shape(rules: str, data: st.DataObject) -> None:
    """sql/grouped.py's plain milestones among holds, voids, caps, allowances,
    messages, timers and two programs (tests/test_review_sql_mix.py's files)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grouped, "FROM", 1)
        events = data.draw(mixed_ledgers(), label="ledger")
        compare(rules, events, data.draw(as_ofs(events), label="as_of"))


TRIGGERS = [
    "when paid >= 20 USD",
    "when paid >= 100 USD and payments >= 2",
    "first payment where payment.amount > 10 USD",
    "first payment within 30 days",
    "each payment where payment.amount >= 5 USD",
    "first refund",
    "when converted >= 1",
    "when converted >= 2",
]
REWARDS = [
    "reward referrer cash 10 USD",
    "reward referee credit 2.50 USD",
    'reward referrer item "Trip"',
    "reward referee discount 10 percent",
    "reward referrer cash 5 USD { hold 5 days }",
    "reward referrer cash 3 USD\n  reward referrer cash 4 USD",
]


@st.composite
def plain_files(draw: st.DrawFn) -> str:
    """Files of plain milestones of every form (per referral and per
    referrer, `each`, `within`, holds, a cap, two rewards of one role)."""
    parts = [HEAD.format(zone=draw(st.sampled_from(["", ' timezone "America/New_York"'])))]
    parts.append("metric converted = count referrals where paid > 0")
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["cap referrer 30 USD", "cap referrer 2 rewards per week"])))
    for n in range(draw(st.integers(1, 6))):
        trigger = draw(st.sampled_from(TRIGGERS))
        reward = draw(st.sampled_from(REWARDS))
        parts.append(f"milestone m{n} {{\n  {trigger}\n  {reward}\n}}")
    return "\n\n".join(parts) + "\n"


@settings(DIFFERENTIAL, max_examples=examples(20))
@given(rules=plain_files(), data=st.data())
def test_plain_milestones_of_every_form(rules: str, data: st.DataObject) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grouped, "FROM", 1)
        assert table_of(rules)  # the shape under test
        events = data.draw(mixed_ledgers(), label="ledger")
        compare(rules, events, data.draw(as_ofs(events), label="as_of"))


@pytest.mark.parametrize(("dialect", "unnested"), [("spark", "EXPLODE(ARRAY("), ("postgres", "UNNEST(ARRAY[")])
def test_other_dialects_write_the_table(
    table_from_one: None, capsys: pytest.CaptureFixture[str], dialect: str, unnested: str
) -> None:
    query = compile_query(rewardrules.compile(many(8), "many.rules").compiled)
    text = transpiled(query, dialect)
    assert text is not None, capsys.readouterr().err
    assert unnested in text


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_spark_runs_the_table(table_from_one: None, spark: Any) -> None:
    """Spark writes the list of milestones as `LATERAL VIEW EXPLODE` and the
    tables as inline `VALUES`: one file, the Python engine's bytes."""
    prog = rewardrules.compile(many(8), "many.rules")
    data = duckdb_result(prog, compile_query(prog.compiled), EVENTS, None, "<ledger>", spark.run)
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == python_json(prog, EVENTS, None)


def test_the_benchmark_runs() -> None:
    """benchmarks/sql_many_rewards.py keeps working (no timing asserted):
    its smoke run prints rows whose two results are the same bytes."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "sql_many_rewards.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 2 and all(row.endswith("| True |") for row in rows)


def test_the_table_explains_its_awards(tmp_path: Path) -> None:
    """With explanations (`score --engine duckdb`'s default), each award of
    the table has the `why` its milestone's own CTE gives: its values read
    from its row of `totals`, milestones that write them alike sharing one
    branch (a `DuckDB could not run the query: ... why_values` before)."""
    from .test_sql_explain import python_bytes, section, written

    rules = many(grouped.FROM + 6)
    prog = rewardrules.compile(rules, "many.rules")
    ledger = tmp_path / "ledger.jsonl"
    lines = [json.dumps(event) for event in EVENTS]
    ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert "hg AS (" in compile_query(prog.compiled, explain=True).awards
    got, _ = written(prog, ledger, None)
    assert section(got) == section(python_bytes(prog, lines, None))
    assert b'"why": {' in section(got)


def test_capped_constant_rewards_explained_stay_one_group() -> None:
    """With explanations and a cap, a file's constant rewards of different
    amounts are still one group of the table (one branch joined to `hg`),
    each award's uncut amount read from the table's own column: written
    as each reward's amount, they were one group each (100 milestones: a
    statement of 196 KB, not 45 KB; 600 refused past `MAX_REWARDS`; found
    by review), and not as a name of its own select list, which BigQuery
    does not read."""
    from rewardrules.sql.dialect import to_dialect
    from rewardrules.sql.sections import compile_explained

    milestones = "".join(
        f"milestone m{i} {{\n  when paid >= {i} USD\n  reward referrer cash {i + 1} USD\n}}\n" for i in range(100)
    )
    prog = rewardrules.compile(HEAD.format(zone="") + "cap referrer 300 USD\n" + milestones, "many.rules")
    explained, _ = compile_explained(prog.compiled)
    text = "\n".join(sql for _, sql in explained.statements())
    assert text.count("FROM hg AS h JOIN") == 1 and "g.w_amount AS why_uncut" in text
    names = [column.name for column in explained.columns]
    assert "g.w_amount AS why_uncut" in "".join(to_dialect(sql, "bigquery", names) for _, sql in explained.statements())
