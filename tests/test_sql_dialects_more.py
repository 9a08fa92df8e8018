"""The query in other warehouses' dialects (docs/sql.md, "Other dialects"):
every compiled reference program is written in each dialect `--dialect`
offers; where a dialect has no `SELECT * EXCEPT/REPLACE` the stars become
column lists, and that query gives the same awards on DuckDB; the rewrites
for Postgres and BigQuery compute what DuckDB's constructs compute. (The
Postgres query itself is run on a real server by
tests/test_sql_postgres.py.)"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot

import rewardrules
from rewardrules.cli.sql import DIALECTS, duckdb_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql import explain
from rewardrules.sql.compile import Query, compile_query
from rewardrules.sql.dialect import STAR_MODIFIERS, expand_stars, to_dialect, written
from rewardrules.sql.sections import compile_explained
from rewardrules.sql.warehouses import rewrite

from .test_sql_backend import GOLDEN, SUPPORTED, program, python_json
from .test_sql_caps2 import LAYERED
from .test_sql_clickhouse import REFUSED as CLICKHOUSE_REFUSED
from .test_sql_exprs import payments, referral

#: the dialects whose stars are written as column lists
EXPANDED = tuple(d for d in DIALECTS if d != "duckdb" and d not in STAR_MODIFIERS)


@cache
def query(name: str) -> Query:
    return compile_query(program(name).compiled)


def ledger_names(q: Query) -> list[str]:
    return [column.name for column in q.columns]


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "duckdb"])
def test_every_compiled_program_is_written_in_every_dialect(dialect: str) -> None:
    """No reference program that compiles is refused by a dialect `--dialect`
    offers (Postgres refused every one: `* EXCEPT`, `IGNORE NULLS`; BigQuery
    several: NULLS LAST in a window), but those ClickHouse cannot run, each
    refused with its reason; where stars are expanded, none is left."""
    for name in SUPPORTED:
        # Spark 4.0 has no recursive CTE: the attribution fold written without one
        for tree in trees(name, dialect in EXPANDED, dialect == "spark"):
            assert not any(w.args.get("recursive") for w in tree.find_all(sqlglot.exp.With)) or dialect != "spark"
            if dialect == "clickhouse" and name in CLICKHOUSE_REFUSED:  # said why: tests/test_sql_clickhouse.py
                continue
            text = written(tree.copy(), dialect)
            if dialect in EXPANDED:
                assert "EXCEPT (" not in text and "EXCLUDE (" not in text and "REPLACE (" not in text, name


@cache
def trees(name: str, expand: bool, unrolled: bool = False) -> tuple[Any, ...]:
    """The program's statements parsed, their stars expanded or not (as
    `to_dialect` does, once for all the dialects of the test above), their
    folds written without recursion or not (`Query.without_recursion`)."""
    q = query(name).without_recursion() if unrolled else query(name)
    parsed = [sqlglot.parse_one(sql, read="duckdb") for _, sql in q.statements()]
    return tuple(expand_stars(tree, ledger_names(q)) if expand else tree for tree in parsed)


def expanded(q: Query) -> Query:
    """The query with its stars written as columns, in DuckDB's dialect."""

    def one(sql: str) -> str:
        return expand_stars(sqlglot.parse_one(sql, read="duckdb"), ledger_names(q)).sql("duckdb") if sql else sql

    return replace(
        q, awards=one(q.awards), rejected=one(q.rejected), reversals=one(q.reversals), clawbacks=one(q.clawbacks)
    )


def expanded_statements(name: str) -> Query:
    """`expanded(query(name))` from the trees the first test expanded."""
    q = query(name)
    statements = dict(zip([sql for _, sql in q.statements()], trees(name, True), strict=True))
    texts = {sql: tree.sql("duckdb") for sql, tree in statements.items()}
    return replace(
        q, **{key: texts.get(getattr(q, key), "") for key in ("awards", "rejected", "reversals", "clawbacks")}
    )


@pytest.mark.parametrize("name", SUPPORTED)
def test_expanded_stars_give_the_same_bytes_on_duckdb(name: str) -> None:
    """The column lists stand for what the stars stood for: the Python
    engine's result byte for byte on the program's golden ledgers (the
    two with the most lines: the full set runs in benchmarks/warehouse_check.py
    on Postgres)."""
    prog, q = program(name), expanded_statements(name)
    assert "EXCLUDE" not in q.awards and "REPLACE" not in q.awards
    paths = sorted((GOLDEN / name).glob("*.jsonl"), key=lambda p: (-len(p.read_text().splitlines()), p.name))
    for path in paths[:2]:
        as_of = json.loads(path.with_suffix("").with_suffix(".expected.json").read_text())["as_of"]
        lines = path.read_text(encoding="utf-8").splitlines()
        data = duckdb_result(prog, q, lines, parse_as_of(as_of), str(path))
        assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == python_json(prog, lines, as_of), path.name


def test_field_names_with_dots_capitals_and_quotes_keep_their_quoting() -> None:
    """A field column is named `"TYPE.FIELD"` from the rule file (here with
    a capital): sqlglot reads a dotted name as a path, so the expansion
    renames it and back; quoted where the compiler quoted it, and the
    expanded query runs and gives the Python engine's awards (with the
    several-caps fold, whose CTE is recursive)."""
    rules = LAYERED.replace("event payment { amount: money USD }", "event payment { Amount: money USD }")
    rules = rules.replace("payment.amount", "payment.Amount")
    prog = rewardrules.compile(rules)
    q = expanded(compile_query(prog.compiled))
    assert '"payment.Amount"' in q.awards
    events = [referral(), *payments(["800", "800", "1200", "1200"])]
    lines = [json.dumps({("Amount" if k == "amount" else k): v for k, v in e.items()}) for e in events]
    data = duckdb_result(prog, q, lines, None, "<ledger>")
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == python_json(prog, lines, None)
    assert len(data["awards"]) == 7


#: a referral's events with NULLs among the values, ties on the instant
WINDOW_ROWS = """CREATE TABLE t AS SELECT * FROM (VALUES
  ('r1', 1, 'a', NULL, TRUE), ('r1', 2, 'b', 5.5, FALSE), ('r1', 2, 'c', NULL, TRUE), ('r1', 3, 'd', 7.0, TRUE),
  ('r1', 4, 'e', NULL, FALSE), ('r2', 1, 'a', NULL, FALSE), ('r2', 1, 'b', NULL, TRUE), ('r2', 2, 'c', 1.0, TRUE)
) AS v(rid, "at", id, x, t)"""

WINDOW = '(PARTITION BY rid ORDER BY "at", id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)'


def on_duckdb(select: str, dialect: str) -> tuple[list[Any], list[Any]]:
    """The rows of `select` over WINDOW_ROWS as written, and with
    `dialect`'s rewrites (generated back in DuckDB's dialect)."""
    connection = duckdb.connect()
    connection.execute(WINDOW_ROWS)
    rewritten = rewrite(sqlglot.parse_one(select, read="duckdb"), dialect).sql("duckdb")
    assert rewritten != select
    return connection.execute(select).fetchall(), connection.execute(rewritten).fetchall()


def test_postgres_latest_and_first_without_ignore_nulls() -> None:
    """`latest` (LAST_VALUE ... IGNORE NULLS) and `first` (FIRST_VALUE of a
    struct, IGNORE NULLS: the first row meeting the test, its value NULL or
    not) as Postgres gets them (an array of the frame's values), run on
    DuckDB: the same value at every row."""
    select = (
        f"SELECT rid, id, LAST_VALUE(x IGNORE NULLS) OVER {WINDOW} AS latest, "
        f"STRUCT_EXTRACT(FIRST_VALUE(CASE WHEN t THEN STRUCT_PACK(v := x) END IGNORE NULLS) OVER {WINDOW}, 'v') AS first, "
        f'FIRST_VALUE(x IGNORE NULLS) OVER {WINDOW} AS first_set FROM t ORDER BY rid, "at", id'
    )
    written, rewritten = on_duckdb(select, "postgres")
    assert rewritten == written
    assert [row[2:] for row in written][:5] == [
        (None, None, None),
        (5.5, None, 5.5),
        (5.5, None, 5.5),
        (7.0, None, 5.5),
        (7.0, None, 5.5),
    ]


def test_bigquery_window_order_keeps_nulls_last() -> None:
    """BigQuery refuses NULLS LAST in a window's ORDER BY (DuckDB's default):
    `x IS NULL, x` orders the same."""
    select = "SELECT rid, id, ROW_NUMBER() OVER (PARTITION BY rid ORDER BY x, id) AS n FROM t ORDER BY rid, id"
    written, rewritten = on_duckdb(select, "bigquery")
    assert rewritten == written
    assert [row[2] for row in written if row[0] == "r1"] == [3, 1, 4, 2, 5]
    text = to_dialect(select, "bigquery")
    assert "OVER (PARTITION BY rid ORDER BY (x IS NULL), x, (id IS NULL), id)" in text  # no NULLS LAST inside


@pytest.mark.parametrize("name", ["partner_and_customer", "saas_milestones", "subscription_loyalty"])
def test_bigquery_reads_no_name_its_own_select_list_defines(name: str) -> None:
    """BigQuery sees a `SELECT` list's aliases only in `GROUP BY`, `HAVING`,
    `ORDER BY` and `QUALIFY`, not in the list itself, where DuckDB reads
    such a name as the column (`... AS amount, amount AS why_uncut` did,
    found by reading the statements on 2026-12-07): in the explained
    statements, sections included, no column an explanation adds
    (`explain.COLUMNS`) reads a name another item of its list defines
    (`vat AS vat` only passes the source's column on)."""
    prog = program(name)
    explained, sections = compile_explained(prog.compiled)
    names = ledger_names(explained)
    read_own, seen = [], 0
    for _, sql in [*explained.statements(), *sections.statements()]:
        tree = sqlglot.parse_one(to_dialect(sql, "bigquery", names), read="bigquery")
        for select in tree.find_all(sqlglot.exp.Select):
            items = select.expressions
            defined = {item.alias for item in items if item.alias and item.this.sql() != item.alias}
            for item in (item for item in items if item.alias in explain.COLUMNS):
                seen += 1
                for column in item.find_all(sqlglot.exp.Column):
                    own = column.find_ancestor(sqlglot.exp.Select) is select and not column.table
                    if own and column.name in defined - {item.alias}:
                        read_own.append(f"{column.name} in {item.sql('bigquery')[:60]}")
    assert read_own == [] and seen > 0


def test_bigquery_integer_division_is_div_never_a_float() -> None:
    """An instant's day (`"at" // 86400000000000`) and money texts divide
    whole numbers: `DIV` in BigQuery (exact on INT64 and BIGNUMERIC), where
    `/` on INT64 is FLOAT64 (instants in nanoseconds are past 2^53)."""
    text = to_dialect('SELECT "at" // 86400000000000 AS d, CAST(x AS HUGEINT) // 100 AS u FROM t', "bigquery")
    assert "DIV(`at`, 86400000000000)" in text and "DIV(CAST(x AS " in text
    assert " / " not in text and "FLOAT64" not in text


@pytest.mark.parametrize("dialect", ["spark", "clickhouse", "databricks", "trino"])
def test_a_whole_division_inside_another_s_dividend_is_exact_too(dialect: str) -> None:
    """Money is written from a rounded amount: `TRUNC` (the rounding) or a
    `//` (a rounded quotient) inside the dividend of the text's `//`.
    Every one is exact decimal arithmetic, the inner ones too, where
    sqlglot writes them through a 64-bit integer (Spark's `CAST(x AS
    BIGINT)`, `DIV`): until 2026-12-05 an inner one kept it, an overflow
    error past 9.2 x 10^18 minor units."""
    text = to_dialect("SELECT TRUNC(x) // 100 AS u, (y // 3) // (7 // z) AS v FROM t", dialect)
    tree = sqlglot.parse_one(text, read=dialect)
    assert not list(tree.find_all(sqlglot.exp.IntDiv, sqlglot.exp.Trunc))
    integers = [sqlglot.exp.DataType.Type.BIGINT, sqlglot.exp.DataType.Type.INT]
    assert not [cast for cast in tree.find_all(sqlglot.exp.Cast) if cast.to.this in integers]
    assert "DECIMAL(38, 0)" in text.replace("Nullable(Decimal(38, 0))", "DECIMAL(38, 0)")


def test_spark_refuses_the_several_caps_fold_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Spark 4.0 fails while planning any recursive query (`transpose
    requires all collections have the same size`): the fold's query is
    refused before Spark runs, saying why and what to use instead; Postgres
    runs it (benchmarks/warehouse_check.py)."""
    from rewardrules.cli import main

    path = tmp_path / "layered.rules"
    path.write_text(LAYERED, encoding="utf-8")
    assert main(["sql", "--dialect", "spark", str(path)]) == 1
    assert "Spark 4.0 cannot run a recursive query" in capsys.readouterr().err
    assert main(["sql", "--dialect", "postgres", str(path)]) == 0
    assert "WITH RECURSIVE" in capsys.readouterr().out


#: an award id's recipe (a netstring hashed) and a window inside a message's map
ID_AND_MAP = (
    "SELECT 'aw_' || SUBSTR(SHA256(CAST(STRLEN(x) AS VARCHAR) || x), 1, 32) AS i, CONTAINS(x, '.') AS c, "
    f"MAP(['m'], [CAST(LAST_VALUE(x IGNORE NULLS) OVER {WINDOW} AS VARCHAR)]) AS msg FROM t"
)


@pytest.mark.parametrize(
    ("dialect", "wanted"),
    [
        (
            "postgres",
            ["ENCODE(SHA256(CONVERT_TO(", "JSONB_BUILD_OBJECT('m', CAST((ARRAY_AGG(x)", "(STRPOS(x, '.') > 0)"],
        ),
        ("trino", ["LOWER(TO_HEX(SHA256(TO_UTF8(", "LENGTH(TO_UTF8(x))", "(STRPOS(x, '.') > 0)"]),
        ("bigquery", ["TO_HEX(SHA256(", "(STRPOS(x, '.') > 0)", "JSON_OBJECT('m', CAST(LAST_VALUE(x IGNORE NULLS)"]),
        ("clickhouse", ["LOWER(HEX(SHA256("]),
        ("redshift", ["SHA2(", "(STRPOS(x, '.') > 0)"]),
    ],
)
def test_ids_hash_utf8_text_to_lowercase_hex_in_each_dialect(dialect: str, wanted: list[str]) -> None:
    """DuckDB's `SHA256(text)` is the lowercase hex of the UTF-8 bytes' hash;
    where an engine hashes bytes or gives bytes, the text says so; a
    rewrite inside another (a window inside a message's map) is made too."""
    text = to_dialect(ID_AND_MAP, dialect)
    for piece in wanted:
        assert piece in text, piece
    assert "IGNORE NULLS" not in text or dialect != "postgres"


def test_postgres_null_texts_carry_the_ledgers_collation() -> None:
    """A recursive CTE's column must have one collation in both of its terms
    (PostgreSQL: "column has collation "default" in non-recursive term but
    collation "C" overall"): the ledger's texts are "C", so every NULL text
    is written `COLLATE "C"` (run on PostgreSQL 15 by
    benchmarks/warehouse_check.py: affiliate_attribution's fold)."""
    texts = [written(tree.copy(), "postgres") for tree in trees("affiliate_attribution", True)]
    assert any("WITH RECURSIVE" in text and 'CAST(NULL AS TEXT) COLLATE "C"' in text for text in texts)
    for text in texts:
        assert text.count("CAST(NULL AS TEXT)") == text.count('CAST(NULL AS TEXT) COLLATE "C"')


@pytest.mark.parametrize(
    ("dialect", "kind", "build"),
    [
        ("bigquery", "JSON", "JSON_OBJECT("),
        ("redshift", "SUPER", "OBJECT("),
        ("snowflake", "OBJECT", "OBJECT_CONSTRUCT_KEEP_NULL("),
    ],
)
def test_a_dialect_without_map_has_a_messages_values_as_an_object(dialect: str, kind: str, build: str) -> None:
    """BigQuery and Redshift have no MAP type: a message's values (`MAP` in
    DuckDB, the `msg` column, NULL for a reward without a message) are a
    JSON object in BigQuery and a SUPER object in Redshift, as Postgres's
    are JSONB; every reference program carries the column, so each query
    either was given named a type it lacks. Snowflake's were a structured
    MAP type beside semi-structured objects that drop a NULL value's key:
    an OBJECT, keeping NULLs."""
    assert to_dialect("SELECT CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS msg", dialect) == (
        f"SELECT CAST(NULL AS {kind}) AS msg"
    )
    from .test_sql_messages import MESSAGES

    queries = [query(name) for name in ("saas_milestones", "dropbox", "partner_and_customer")]
    queries.append(compile_query(rewardrules.compile(MESSAGES).compiled))  # rewards with messages
    for q in queries:
        texts = [written(sqlglot.parse_one(sql, read="duckdb"), dialect) for _, sql in q.statements()]
        assert not any("MAP<" in text or "MAP(" in text for text in texts)
        assert any(f"AS {kind})" in text for text in texts)
        for text in texts:
            sqlglot.parse_one(text, read=dialect)
    assert re.search(rf"\b{re.escape(build)}", "".join(texts))  # the messages' values (not JSON_OBJECT for OBJECT)
