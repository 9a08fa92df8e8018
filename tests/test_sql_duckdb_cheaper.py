"""`score --engine duckdb`'s strict form made cheaper without changing a
byte (docs/sql.md, "Speed today"): `at` is read by `try_strptime`, which
must give `parse_timestamp`'s nanoseconds up to the ends of the range a
BIGINT of nanoseconds holds, with every zone and fraction; and the table of
parsed lines is dropped before the queries run, while an ineligible
referral's lines are still found for its explanation."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import duckdb
import pytest

import rewardrules
from rewardrules.cli.sql import direct_result
from rewardrules.core.timeutil import parse_timestamp
from rewardrules.ledger.validate import _one_currency
from rewardrules.sql import read
from rewardrules.sql.compile import compile_query

ROOT = Path(__file__).resolve().parents[1]
SAAS = ROOT / "rulesets" / "saas_milestones.rules"


@pytest.mark.parametrize(
    "at",
    [
        "1678-01-01T00:00:00+23:59",
        "1678-01-01T00:00:00.000000001+01:00",
        "2261-12-31T23:59:59.999999999-23:59",
        "2261-12-31T23:59:59.999999999Z",
        "2024-02-29T12:30:45.5+05:30",
        "1970-01-01T00:00:00-00:00",
        "1969-12-31T23:59:59.9Z",
    ],
)
def test_an_instant_at_the_ends_of_the_range_is_parse_timestamps(at: str) -> None:
    prog = rewardrules.load(SAAS)
    kinds = read.plan(prog.compiled.checked, sorted(prog.compiled.used_types))
    currencies = dict(_one_currency(prog._reader().money))
    line = f'{{"id":"s1","at":"{at}","type":"subscription","referee":"bob","mrr":"300.00"}}'
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "lines.jsonl")
        Path(path).write_text(line + "\n", encoding="utf-8")
        db = duckdb.connect()
        db.execute(read.parse_sql(path, kinds, currencies))
        found = db.execute('SELECT ok, "at" FROM parsed').fetchall()
        db.close()
    assert found == [(True, parse_timestamp(at))]


def test_an_ineligible_referral_is_explained_from_the_ledger_table() -> None:
    """Its referrer's referral lines are found in `ledger` once `parsed` is
    gone: the same bytes as the Python engine, read by DuckDB itself."""
    rules = ROOT / "rulesets" / "partner_and_customer.rules"
    ledger = ROOT / "tests" / "golden" / "partner_and_customer" / "basic.jsonl"
    prog = rewardrules.load(rules)
    data = direct_result(prog, compile_query(prog.compiled), str(ledger), None)
    assert data is not None
    assert any(r["reason"] == "ineligible" for r in data["rejected"])
    lines = ledger.read_text(encoding="utf-8").splitlines()
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == prog.score(lines, explain=False).to_json()
