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
from typing import Any

import duckdb
import pytest

import rewardrules
from rewardrules.cli.sql import direct_result
from rewardrules.core.timeutil import parse_timestamp
from rewardrules.ledger.validate import _one_currency
from rewardrules.sql import read
from rewardrules.sql.compile import compile_query
from rewardrules.sql.sections import compile_explained

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


def test_ineligible_referrals_are_explained_from_lines_found_by_their_ids(tmp_path: Path) -> None:
    """The ids of the referrals to explain go to DuckDB as one list
    parameter (every referral of a 1M ledger is one there): ids and
    referrers holding quotes and `%` find their lines, the same bytes as
    the Python engine's explained result, read by DuckDB itself."""
    rules = ROOT / "rulesets" / "partner_and_customer.rules"
    events = []
    for n, (rid, referrer, source) in enumerate(
        [("r'1", "o'brien", "partner"), ("r%2", "o'brien", "web"), ("r 3", "100%", "customer"), ("r'4", "100%", None)]
    ):
        events.append(
            {
                "id": rid,
                "at": f"2026-01-0{n + 1}T00:00:00Z",
                "type": "referral",
                "referrer": referrer,
                "referee": f"c{n}",
            }
        )
        if source is not None:
            events[-1]["source"] = source
        events.append(
            {
                "id": f"p{n}",
                "at": f"2026-02-0{n + 1}T00:00:00Z",
                "type": "payment",
                "referee": f"c{n}",
                "amount": "120.00",
            }
        )
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    prog = rewardrules.load(rules)
    query, sections = compile_explained(prog.compiled)
    data = direct_result(prog, query, str(ledger), None, explain=True, sections=sections)
    assert data is not None  # read by DuckDB, not handed to the Python reader
    ineligible = {r["event"] for r in data["rejected"] if r["reason"] == "ineligible"}
    partly = {r["event"] for r in data["referrals"] if not all(p["eligible"] for p in r["programs"])}
    assert {"r%2", "r'4"} <= ineligible | partly and {"r'1", "r 3"} <= partly
    expected = prog.score(ledger.read_text(encoding="utf-8").splitlines(), explain=True).to_json()
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == expected


def test_an_ineligible_referrals_referrer_has_its_other_referral_lines_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list parameter is read twice: for the ids, and for their
    referrers' other referral events (an eligible one too, which the
    explanation of `earlier referrals` replays), a referrer holding `'`."""
    rules = tmp_path / "one.rules"
    rules.write_text(
        'ruleset one "One"\n\nevent referral { source: optional text }\nevent payment { amount: money USD }\n\n'
        'program partners {\n  eligible when referral.source == "partner"\n\n'
        "  milestone paid {\n    first payment\n    reward referrer cash 5 USD\n  }\n}\n",
        encoding="utf-8",
    )
    events = [
        {
            "id": "r'1",
            "at": "2026-01-01T00:00:00Z",
            "type": "referral",
            "referrer": "o'b",
            "referee": "c1",
            "source": "partner",
        },
        {
            "id": "r'2",
            "at": "2026-01-02T00:00:00Z",
            "type": "referral",
            "referrer": "o'b",
            "referee": "c2",
            "source": "web",
        },
        {
            "id": "r3",
            "at": "2026-01-03T00:00:00Z",
            "type": "referral",
            "referrer": "ann",
            "referee": "c3",
            "source": "partner",
        },
        {"id": "p1", "at": "2026-02-01T00:00:00Z", "type": "payment", "referee": "c1", "amount": "10.00"},
    ]
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    found: list[list[str]] = []
    lines_of = read.lines_of

    def spied(connection: Any, path: str, ids: Any) -> list[str]:
        found.append(lines_of(connection, path, ids))
        return found[-1]

    monkeypatch.setattr(read, "lines_of", spied)
    prog = rewardrules.load(rules)
    query, sections = compile_explained(prog.compiled)
    data = direct_result(prog, query, str(ledger), None, explain=True, sections=sections)
    assert data is not None and len(found) == 1
    assert sorted(json.loads(line)["id"] for line in found[0]) == ["r'1", "r'2"]  # r'1 by its referrer, not its id
    expected = prog.score(ledger.read_text(encoding="utf-8").splitlines(), explain=True).to_json()
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == expected
