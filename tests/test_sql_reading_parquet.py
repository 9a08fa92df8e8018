"""`score --engine duckdb` reads a Parquet ledger (`.parquet`) with DuckDB:
its rows give the result the same events give as JSON Lines; a row the
Python reader would refuse is refused with its number as the line; a
column of binary floats is refused, never read as an amount."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from .test_sql_backend import golden_cases
from .test_sql_reading import BASE, ROOT, SAAS, _run, _sub


def _parquet(jsonl: Path, target: Path, mrr: str = "VARCHAR") -> None:
    """The JSON Lines ledger as Parquet, every column text (`mrr` of the
    given type), rows in file order."""
    db = duckdb.connect()
    columns = "{id: 'VARCHAR', \"at\": 'VARCHAR', type: 'VARCHAR', referrer: 'VARCHAR', referee: 'VARCHAR', mrr: 'VARCHAR', amount: 'VARCHAR', source: 'VARCHAR', country: 'VARCHAR', plan: 'VARCHAR'}"
    db.execute(
        f"COPY (SELECT * REPLACE (CAST(mrr AS {mrr}) AS mrr) FROM read_json('{jsonl}', format = 'newline_delimited', "
        f"columns = {columns})) TO '{target}' (FORMAT parquet)"
    )


#: programs whose fields `_parquet`'s column list holds
TEXT_FIELDS = [
    case for case in golden_cases() if case[0] not in ("fasttrack_cpor", "partner_and_customer", "referral_fraud")
]


@pytest.mark.parametrize(("name", "ledger"), TEXT_FIELDS[:12], ids=lambda v: getattr(v, "stem", v))
def test_a_parquet_ledger_gives_the_json_lines_result(
    name: str, ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = str(ROOT / "rulesets" / f"{name}.rules")
    parquet = tmp_path / "ledger.parquet"
    _parquet(ledger, parquet)
    python = _run(capsys, "--no-explain", "--format", "json", rules, str(ledger))
    assert _run(capsys, "--engine", "duckdb", "--no-explain", "--format", "json", rules, str(parquet)) == python


def test_a_bad_row_is_refused_with_its_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl = tmp_path / "ledger.jsonl"
    jsonl.write_text("\n".join([*BASE, _sub('"abc"')]) + "\n")
    parquet = tmp_path / "ledger.parquet"
    _parquet(jsonl, parquet)
    code, out, err = _run(capsys, "--engine", "duckdb", "--format", "json", SAAS, str(parquet))
    assert (code, out) == (2, "")
    python = _run(capsys, "--no-explain", "--format", "json", SAAS, str(jsonl))
    assert err == python[2].replace(str(jsonl), str(parquet))
    assert f"{parquet}:6: error: field `mrr`" in err


def test_a_column_of_binary_floats_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl = tmp_path / "ledger.jsonl"
    jsonl.write_text("\n".join(BASE) + "\n")
    parquet = tmp_path / "ledger.parquet"
    _parquet(jsonl, parquet, mrr="DOUBLE")
    code, out, err = _run(capsys, "--engine", "duckdb", "--format", "json", SAAS, str(parquet))
    assert (code, out) == (2, "")
    assert "column `mrr` of the Parquet ledger holds binary floats (DOUBLE)" in err


#: a number and a money field written by a message, with their decimals
WRITTEN = """\
ruleset written
event usage { seats: number, price: money USD }
milestone each_use {
  each usage
  reward referrer cash 1 USD
  message "{{ usage.seats }} {{ usage.price }}"
}
"""

#: the same events as JSON Lines: each number with the decimals the
#: Parquet column's scale gives it (trailing zeros, and none for scale 0)
WRITTEN_LINES = [
    '{"id":"r1","type":"referral","at":"2026-01-01T00:00:00Z","referrer":"ann","referee":"bob"}',
    '{"id":"u1","type":"usage","at":"2026-01-02T00:00:00Z","referee":"bob","seats":"1.50","price":"2.50"}',
    '{"id":"u2","type":"usage","at":"2026-01-03T00:00:00Z","referee":"bob","seats":"100.00","price":"-0.10"}',
]


@pytest.mark.parametrize("width", [5, 10, 15, 16, 38])
def test_a_decimal_column_keeps_its_trailing_zeros(
    width: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DECIMAL column of 15 digits or fewer went through DuckDB's
    `to_json` as a binary double: 1.50 written `1.5` in a message, where the
    JSON Lines ledger gives `1.50` (found by review, 2026-12-05). Now the
    same messages from Parquet (`--engine duckdb`), and the same rows for
    the Python reader (`read.parquet_lines`, which `--engine duckdb` falls
    back to where a row is outside the strict form). Spark:
    test_spark_reading.py."""
    from rewardrules.sql.read import parquet_lines

    rules, jsonl, parquet = _written_files(tmp_path, f"DECIMAL({width}, 2)")
    expected = _run(capsys, "--format", "json", str(rules), str(jsonl))
    assert '"1.50 2.50"' in expected[1]  # not vacuous: 1.5 before
    assert _run(capsys, "--engine", "duckdb", "--format", "json", str(rules), str(parquet)) == expected
    rows = list(parquet_lines(duckdb.connect(), str(parquet)))
    assert '"seats":1.50,"price":2.50' in rows[1] and '"seats":100.00,"price":-0.10' in rows[2]


def _written_files(root: Path, kind: str) -> tuple[Path, Path, Path]:
    """`WRITTEN`'s rule file, `WRITTEN_LINES` as JSON Lines, and as Parquet
    whose `seats` and `price` are columns of type `kind`."""
    rules, jsonl, parquet = root / "written.rules", root / "ledger.jsonl", root / "ledger.parquet"
    rules.write_text(WRITTEN, encoding="utf-8")
    jsonl.write_text("\n".join(WRITTEN_LINES) + "\n", encoding="utf-8")
    columns = "{id: 'VARCHAR', \"at\": 'VARCHAR', type: 'VARCHAR', referrer: 'VARCHAR', referee: 'VARCHAR', seats: 'VARCHAR', price: 'VARCHAR'}"
    db = duckdb.connect()
    db.execute(
        f"COPY (SELECT * REPLACE (CAST(seats AS {kind}) AS seats, CAST(price AS {kind}) AS price) "
        f"FROM read_json('{jsonl}', format = 'newline_delimited', columns = {columns})) TO '{parquet}' (FORMAT parquet)"
    )
    db.close()
    return rules, jsonl, parquet


def test_a_folder_named_like_a_field_is_no_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Parquet ledger in a folder `seats=7/` (and JSON Lines in
    `line=x/`): DuckDB reads such folders as Hive partitions by default,
    and `seats` was 7 in every row, silently (found by review). The
    file's own values now, as the same events in JSON Lines give."""
    rules, jsonl, parquet = _written_files(tmp_path, "DECIMAL(10, 2)")
    expected = _run(capsys, "--format", "json", str(rules), str(jsonl))
    folder = tmp_path / "seats=7"
    folder.mkdir()
    moved = folder / "ledger.parquet"
    parquet.rename(moved)
    assert _run(capsys, "--engine", "duckdb", "--format", "json", str(rules), str(moved)) == expected
    lines = tmp_path / "line=x"
    lines.mkdir()
    (lines / "ledger.jsonl").write_bytes(jsonl.read_bytes())
    db = duckdb.connect()
    from rewardrules.sql.read import lines_sql

    read = [line for (line,) in db.execute(f"SELECT line FROM {lines_sql(str(lines / 'ledger.jsonl'))}").fetchall()]
    assert read == WRITTEN_LINES


@pytest.mark.parametrize("name", ["p", "row0", "ROW0"])
def test_a_column_named_like_the_row_is_a_column(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A column named as the row's alias in the statement that writes each
    row as JSON (`p` until 2026-12-06) was written in the row's place:
    every row refused as no JSON object (found by review). Now an extra
    key of every row, ignored as in JSON Lines."""
    from rewardrules.sql.read import parquet_lines

    rules, jsonl, parquet = _written_files(tmp_path, "DECIMAL(10, 2)")
    expected = _run(capsys, "--format", "json", str(rules), str(jsonl))
    extra = tmp_path / "extra.parquet"
    db = duckdb.connect()
    db.execute(f"COPY (SELECT *, 'x' AS \"{name}\" FROM read_parquet('{parquet}')) TO '{extra}' (FORMAT parquet)")
    assert _run(capsys, "--engine", "duckdb", "--format", "json", str(rules), str(extra)) == expected
    assert all(f'"{name}":"x"' in line for line in parquet_lines(duckdb.connect(), str(extra)))


def test_the_python_engine_says_a_parquet_file_is_not_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`score` without `--engine duckdb` reads JSON Lines: a Parquet file's
    first problem says what it is and which engine reads it (it was "the
    line is not UTF-8")."""
    rules, _, parquet = _written_files(tmp_path, "DECIMAL(10, 2)")
    code, out, err = _run(capsys, "--format", "json", str(rules), str(parquet))
    assert (code, out) == (2, "")
    assert err.startswith(f"{parquet}:1: error: a Parquet file, not JSON Lines\n")
    assert "`score --engine duckdb` (or spark) reads a Parquet ledger" in err


def _with_columns(target: Path, columns: list[tuple[str, list[str | None]]]) -> None:
    """A Parquet file of text columns named exactly so, which DuckDB's own
    writer cannot make of names that are the same but for case (it renames
    one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [pa.array(values, pa.string()) for _, values in columns]
    pq.write_table(pa.Table.from_arrays(arrays, names=[name for name, _ in columns]), target)


@pytest.mark.parametrize("second", ["MRR", "mrr"])
def test_columns_named_alike_but_for_case_are_refused(
    second: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DuckDB read the second of `mrr` and `MRR` as `MRR_1`: the row lost
    its `MRR`, and a program reading that field scored it as missing
    (Spark refuses the file as ambiguous). Refused on DuckDB too, by the
    file's own names, and by the reader that gives the Python engine the
    rows (`parquet_lines`)."""
    from rewardrules.sql.read import parquet_lines
    from rewardrules.sql.run import EngineError

    parquet = tmp_path / "ledger.parquet"
    _with_columns(
        parquet,
        [
            ("id", ["r1", "s1"]),
            ("at", ["2026-01-05T09:00:00Z", "2026-01-10T09:00:00Z"]),
            ("type", ["referral", "subscription"]),
            ("referrer", ["alice", None]),
            ("referee", ["bob", "bob"]),
            ("mrr", [None, "300"]),
            (second, [None, "900"]),
        ],
    )
    code, out, err = _run(capsys, "--engine", "duckdb", "--format", "json", SAAS, str(parquet))
    assert (code, out) == (2, "")
    assert f"columns `mrr` and `{second}` of the Parquet ledger have the same name, or the same but for case" in err
    with pytest.raises(EngineError, match="the same but for case"):
        list(parquet_lines(duckdb.connect(), str(parquet)))


def test_a_nested_field_named_like_a_column_is_no_second_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a file's own columns are compared: a struct column's field
    named `MRR` beside the column `mrr` reads as before (an extra key,
    ignored as in JSON Lines)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    jsonl = tmp_path / "ledger.jsonl"
    jsonl.write_text("\n".join(BASE[:2]) + "\n")
    parquet = tmp_path / "ledger.parquet"
    _parquet(jsonl, parquet)
    table = pq.read_table(parquet)
    nested = pa.array([{"MRR": "1"}] * table.num_rows)
    pq.write_table(table.append_column("extra", nested), parquet)
    expected = _run(capsys, "--format", "json", SAAS, str(jsonl))
    assert _run(capsys, "--engine", "duckdb", "--format", "json", SAAS, str(parquet)) == expected


def test_fields_of_a_struct_named_alike_but_for_case_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DuckDB read a struct's fields `a` and `A` as `a` and `A_1`, where
    Spark refuses them at any depth: refused here too (found by review)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    jsonl = tmp_path / "ledger.jsonl"
    jsonl.write_text("\n".join(BASE[:2]) + "\n")
    parquet = tmp_path / "ledger.parquet"
    _parquet(jsonl, parquet)
    table = pq.read_table(parquet)
    kind = pa.struct([("a", pa.string()), ("A", pa.string())])
    nested = pa.array([{"a": "1", "A": "2"}] * table.num_rows, kind)
    pq.write_table(table.append_column("extra", nested), parquet)
    code, out, err = _run(capsys, "--engine", "duckdb", "--format", "json", SAAS, str(parquet))
    assert (code, out) == (2, "")
    assert "columns `a` and `A` of the Parquet ledger have the same name, or the same but for case" in err
