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
