"""The award records' JSON text as DuckDB builds it (`sql/write.py`,
`record_sql`): one `concat` of the pieces, which leaves out a NULL where
`||` gave NULL. The one piece that may be NULL, an instant before 1970
(`_instant`), must still make the whole record NULL, so that the result is
built in Python: the same bytes either way."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import rewardrules
from rewardrules.core.jsonout import pretty
from rewardrules.sql.write import record_sql

from .test_sql_backend import python_json
from .test_sql_speed import written

ROOT = Path(__file__).resolve().parents[1]

KEYS = ("id", "at", "amount", "paid", "count")
TYPES = {"id": "VARCHAR", "at": "BIGINT", "amount": "VARCHAR", "paid": "BOOLEAN", "count": "BIGINT"}


def _record(at: int | None, amount: str | None = "5.00", paid: bool | None = True) -> str | None:
    sql = record_sql(KEYS, TYPES)
    assert sql is not None
    row = (
        duckdb.connect()
        .execute(
            f"SELECT {sql} FROM (SELECT 'aw_1' AS id, CAST(? AS BIGINT) AS \"at\", CAST(? AS VARCHAR) AS amount, "
            "CAST(? AS BOOLEAN) AS paid, CAST(7 AS BIGINT) AS count)",
            [at, amount, paid],
        )
        .fetchone()
    )
    assert row is not None
    text: str | None = row[0]
    return text


def test_a_record_is_the_text_the_python_writer_gives() -> None:
    record = {"id": "aw_1", "at": "2026-01-05T09:00:00.5Z", "amount": None, "paid": False, "count": 7}
    expected = pretty({"awards": [record]}).decode("utf-8").split("[\n    ", 1)[1].rsplit("\n  ]", 1)[0]
    assert _record(1767603600_500000000, None, False) == expected


@pytest.mark.parametrize("at", [None, -1, -86_400_000_000_000])
def test_an_instant_it_does_not_write_makes_the_record_null(at: int | None) -> None:
    assert _record(at) is None


def test_an_award_before_1970_is_written_in_python_with_the_same_bytes(tmp_path: Path) -> None:
    prog = rewardrules.load(ROOT / "rulesets" / "saas_milestones.rules")
    lines = [
        '{"id":"r1","at":"1969-06-01T09:00:00Z","type":"referral","referrer":"alice","referee":"bob"}',
        '{"id":"s1","at":"1969-07-01T09:00:00Z","type":"subscription","referee":"bob","mrr":"1000.00"}',
        '{"id":"s2","at":"1970-02-01T09:00:00Z","type":"subscription","referee":"bob","mrr":"2000.00"}',
    ]
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    got, by_duckdb = written(prog, path, None)
    assert got == python_json(prog, lines, None)
    assert not by_duckdb  # an award at 1969: its record is NULL, the result built in Python
    assert '"at": "1969-07-01T09:00:00Z"' in got
