"""Each award's explanation (`why`) computed by the SQL query (docs/sql.md,
"Explanations"): `score --engine duckdb` writes the awards and reversals
of the Python engine's explained result byte for byte, on every reference
and golden program's ledgers, through both of its paths (DuckDB writing
the records' text, and records built from the query's rows); what does
not compile yet is refused only when explaining, and reported by `check
--engine sql` too."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import localcontext
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules.cli.sql import direct_result, duckdb_result
from rewardrules.core.runtime import CONTEXT
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals
from rewardrules.sql.run import Limits
from rewardrules.sql.sections import compile_explained
from rewardrules.sql.write import Written, write_result

from .test_sql_backend import GOLDEN, ROOT

#: the programs whose ledgers are compared: every reference program and
#: every golden program (besides the reference ones), with their folders
PROGRAMS = [
    *sorted((ROOT / "rulesets").glob("*.rules")),
    *sorted(path for path in GOLDEN.glob("**/*.rules")),
]


def ledgers_of(rules: Path) -> list[Path]:
    """A program's golden ledgers: `tests/golden/NAME/*.jsonl` for a
    reference program, its own folder (or `ledgers/` below it) otherwise."""
    found = [
        *(GOLDEN / rules.stem).glob("*.jsonl"),
        *rules.parent.glob("*.jsonl"),
        *rules.parent.glob("ledgers/*.jsonl"),
    ]
    return sorted(set(found))


def as_of_of(ledger: Path) -> str | None:
    expected = ledger.with_suffix("").with_suffix(".expected.json")
    return json.loads(expected.read_text(encoding="utf-8")).get("as_of") if expected.exists() else None


CASES = [(rules, ledger) for rules in PROGRAMS for ledger in ledgers_of(rules)]


def compiles(prog: rewardrules.Program) -> bool:
    """Whether the program compiles at all (without explanations): the
    others are refused by `compile_query` whatever is asked."""
    try:
        compile_query(prog.compiled)
    except Unsupported:
        return False
    return True


def section(result: bytes) -> bytes:
    """The `awards` and `reversals` of a written result, as bytes."""
    start, end = result.index(b'\n  "awards": '), result.index(b'\n  "totals": ')
    return result[start:end]


def written(prog: rewardrules.Program, path: Path, as_of: str | None) -> tuple[bytes, Any]:
    """What `score --engine duckdb --format json` writes (the ledger read by
    DuckDB, or by the Python reader when it is not in the strict form), and
    the result's `awards` value (`Written` when DuckDB wrote the records'
    text)."""
    with localcontext(CONTEXT):
        query = compile_query(prog.compiled, explain=True)
        data = direct_result(prog, query, str(path), parse_as_of(as_of), True, Limits(threads=1), explain=True)
        if data is None:
            lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line]  # not at U+2028
            data = duckdb_result(prog, query, lines, parse_as_of(as_of), str(path), explain=True)
        out: list[bytes] = []
        write_result(data, out.append)
    return b"".join(out), data["awards"]


def built(prog: rewardrules.Program, lines: list[Any], as_of: str | None) -> dict[str, Any]:
    """The result record with the awards built from the query's rows (the
    Python reader's path: records from rows, `why` parsed from its text)."""
    query = compile_query(prog.compiled, explain=True)
    return duckdb_result(prog, query, lines, parse_as_of(as_of), "<ledger>", explain=True)


def python_bytes(prog: rewardrules.Program, lines: list[Any], as_of: str | None) -> bytes:
    return prog.score(lines, as_of=as_of).to_json().encode("utf-8")


@pytest.mark.parametrize(("rules", "ledger"), CASES, ids=[f"{r.stem}/{ledger.stem}" for r, ledger in CASES])
def test_golden_ledgers_give_the_explained_awards(rules: Path, ledger: Path) -> None:
    prog = rewardrules.load(rules)
    if not compiles(prog):  # refused with or without explanations (docs/sql.md)
        with pytest.raises(Unsupported):
            compile_query(prog.compiled, explain=True)
        return
    as_of = as_of_of(ledger)
    lines = ledger.read_text(encoding="utf-8").splitlines()
    expected = python_bytes(prog, lines, as_of)
    got, awards = written(prog, ledger, as_of)
    assert section(got) == section(expected)  # awards and reversals, byte for byte
    if not isinstance(awards, Written):  # the records were built from the rows already
        return
    data = built(prog, lines, as_of)
    python = json.loads(expected)
    for key in ("awards", "reversals"):  # each record, from the rows
        dumped = [json.dumps(record, ensure_ascii=False, indent=2) for record in data[key]]
        assert dumped == [json.dumps(record, ensure_ascii=False, indent=2) for record in python[key]]
    assert all("why" in award for award in data["awards"])


def test_every_reference_program_explains_in_sql() -> None:
    """No reference or golden program that compiles is refused for its
    awards' explanations (the goal: none); `check --engine sql` reports
    only what the explained sections refuse (docs/sql.md, "The explained
    output": an attribution that moves, timers per referrer, several caps)."""
    for rules in PROGRAMS:
        prog = rewardrules.load(rules)
        if compiles(prog):
            compile_query(prog.compiled, explain=True)
            found = refusals(prog.compiled, explain=True)
            assert all("the explained output of" in refusal.construct for refusal in found), rules


def test_duckdb_writes_the_explained_records_text() -> None:
    """Without messages, DuckDB writes each award's text, `why` included
    (re-indented at the award's depth), not Python."""
    rules = ROOT / "rulesets" / "partner_and_customer.rules"
    ledger = GOLDEN / "partner_and_customer" / "hold_asof_later.jsonl"
    prog = rewardrules.load(rules)
    got, awards = written(prog, ledger, as_of_of(ledger))
    assert isinstance(awards, Written)
    expected = python_bytes(prog, ledger.read_text(encoding="utf-8").splitlines(), as_of_of(ledger))
    assert section(got) == section(expected)
    assert b'"voided_by": {\n          "event": "rfc3"' in got


#: names of every kind JSON escapes, and some it does not
NAMES = ['q"uote', "back\\slash", "tab\there", "new\nline", "bell\x07", "del\x7f", "ünï", "sep\u2028", "€"]


@pytest.mark.parametrize("name", NAMES)
def test_texts_are_escaped_as_json_escapes_them(name: str, tmp_path: Path) -> None:
    """Event ids and text values in `why` are untrusted: written as
    `json.dumps` writes them, on both paths."""
    rules = """ruleset escapes
event referral {}
event payment { amount: money USD, note: optional text, flag: optional boolean }
program p {
  milestone paid {
    each payment where payment.amount > 0 or payment.note == "x" or payment.flag == true
    reward referrer cash 5 USD
  }
}
"""
    prog = rewardrules.compile(rules)
    events = [
        {"id": f"r-{name}", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": f"p-{name}", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "1.00"},
        {"id": "p2", "at": "2026-01-03T00:00:00Z", "type": "payment", "referee": "bob", "amount": "1.00", "note": name},
    ]
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    expected = python_bytes(prog, events, None)
    assert section(written(prog, path, None)[0]) == section(expected)
    assert built(prog, events, None)["awards"] == json.loads(expected)["awards"]
    whys = [award["why"] for award in json.loads(expected)["awards"]]
    values = {"payment.amount": "1.00", "payment.note": None, "payment.flag": None}
    assert whys[0] == {"event": f"p-{name}", "values": values, "occurrence": f"p-{name}"}
    assert whys[1]["values"] == {**values, "payment.note": name}


#: a missing boolean field, compared and tested
BOOLEANS = """ruleset flags
event referral {}
event payment { amount: money USD, flag: optional boolean }
program p {
  milestone unequal { each payment where payment.flag != true
    reward referrer cash 1 USD }
  milestone equal { each payment where payment.flag == false
    reward referrer cash 2 USD }
  milestone listed { each payment where payment.flag in [false]
    reward referrer cash 3 USD }
  milestone set { each payment where payment.flag is set
    reward referrer cash 4 USD }
  milestone unset { each payment where payment.flag is not set
    reward referrer cash 5 USD }
  milestone read { each payment where not payment.flag
    reward referrer cash 6 USD }
}
"""


def test_a_missing_boolean_field_is_compared_as_the_python_engine_does() -> None:
    """The query read a missing boolean field as false everywhere: `!=
    true`, `== false` and `in [false]` held where the Python engine's
    comparisons with no value are false, and `is set` always held."""
    prog = rewardrules.compile(BOOLEANS)
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "1.00"},
        {
            "id": "p2",
            "at": "2026-01-03T00:00:00Z",
            "type": "payment",
            "referee": "bob",
            "amount": "1.00",
            "flag": False,
        },
    ]
    expected = json.loads(python_bytes(prog, events, None))["awards"]
    assert [(a["milestone"], a["why"]["event"]) for a in expected] == [
        ("unset", "p1"),
        ("read", "p1"),
        ("unequal", "p2"),
        ("equal", "p2"),
        ("listed", "p2"),
        ("set", "p2"),
        ("read", "p2"),
    ]
    assert built(prog, events, None)["awards"] == expected
    quiet = duckdb_result(prog, compile_query(prog.compiled), events, None, "<ledger>")
    assert quiet["awards"] == prog.score(events, explain=False).data["awards"]


def test_a_timer_names_the_event_that_started_its_clock() -> None:
    """A timer's award has no triggering event: its `why.event` is the
    event that started the clock (the referral, or the run of a held
    condition)."""
    rules = """ruleset timers
event referral {}
event payment { amount: money USD }
program p {
  metric paid = sum payment.amount
  milestone later { after 10 days if paid >= 1 USD
    reward referrer cash 1 USD }
  milestone anchored { after 3 days from payment
    reward referrer cash 2 USD }
  milestone held { when paid >= 5 USD for 2 days
    reward referrer cash 3 USD }
}
"""
    prog = rewardrules.compile(rules)
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "2.00"},
        {"id": "p2", "at": "2026-01-03T00:00:00Z", "type": "payment", "referee": "bob", "amount": "4.50"},
        {"id": "p3", "at": "2026-01-20T00:00:00Z", "type": "payment", "referee": "bob", "amount": "1.00"},
    ]
    expected = json.loads(python_bytes(prog, events, None))["awards"]
    assert [(a["milestone"], a["why"]["event"]) for a in expected] == [
        ("anchored", "p1"),
        ("held", "p2"),
        ("later", "r1"),
    ]
    assert built(prog, events, None)["awards"] == expected


#: the explained output of a per-referrer milestone in a program after the
#: first (the `referrers` section reads the first program's referrers:
#: sql/sections.py), which only an explained score writes
SECOND = """ruleset second
event referral {}
event payment { amount: money USD, seats: number }
program p {
  metric paid = sum payment.amount
  milestone first_sale {
    when paid >= 1 USD
    reward referrer cash 5 USD
  }
}
program q {
  metric friends = count referrals
  milestone many {
    when friends >= 1
    reward referrer cash 5 USD
  }
}
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rewardrules", *args], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_an_explanation_not_compiled_is_refused_only_when_explaining(tmp_path: Path) -> None:
    rules = tmp_path / "second.rules"
    rules.write_text(SECOND, encoding="utf-8")
    ledger = tmp_path / "ledger.jsonl"
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "1.00", "seats": "4"},
    ]
    ledger.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    prog = rewardrules.load(rules)
    compile_query(prog.compiled)  # without explanations: compiled
    with pytest.raises(Unsupported) as refused:
        compile_explained(prog.compiled)
    assert refused.value.construct.startswith("the explained output of per-referrer milestones in a program after")
    assert refused.value.span is not None and refused.value.span.line == 14  # the milestone's trigger
    found = [(r.construct, r.span) for r in refusals(prog.compiled, explain=True)]
    assert (refused.value.construct, refused.value.span) in found
    assert refusals(prog.compiled) == []
    check = cli("check", "--engine", "sql", "--format", "json", str(rules))
    assert check.returncode == 1
    assert [(d["code"], d["line"]) for d in json.loads(check.stdout)["diagnostics"]] == [("RR450", 14)]
    score = cli("score", str(rules), str(ledger), "--engine", "duckdb", "--format", "json")
    assert score.returncode == 1 and f"{rules}:14:" in score.stderr and "`--no-explain` leaves it out" in score.stderr
    quiet = cli("score", str(rules), str(ledger), "--engine", "duckdb", "--format", "json", "--no-explain")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == cli("score", str(rules), str(ledger), "--format", "json", "--no-explain").stdout


def test_the_sql_command_prints_the_why_column_unless_told_not_to() -> None:
    rules = str(ROOT / "rulesets" / "saas_milestones.rules")
    explained, quiet = cli("sql", rules), cli("sql", "--no-explain", rules)
    assert explained.returncode == 0 and quiet.returncode == 0
    assert " AS why FROM " in explained.stdout and "why" not in quiet.stdout
    assert quiet.stdout == compile_query(rewardrules.load(rules).compiled).text()


def test_the_postgres_query_escapes_no_nul_and_formats_instants_exactly() -> None:
    """Postgres refuses `CHR(0)` (its texts hold no NUL, so the escape of
    one is left out), and sqlglot writes `MAKE_TIMESTAMP` as a
    floating-point `TO_TIMESTAMP` in the session's time zone: the epoch
    plus whole microseconds instead (run on PostgreSQL 15 by
    `benchmarks/warehouse_check.py --explain`)."""
    from rewardrules.sql.dialect import to_dialect

    query = compile_query(rewardrules.load(ROOT / "rulesets" / "partner_and_customer.rules").compiled, explain=True)
    duckdb = query.awards
    assert "CHR(0)" in duckdb and "MAKE_TIMESTAMP(" in duckdb
    postgres = to_dialect(duckdb, "postgres", [column.name for column in query.columns]).upper()
    assert "CHR(0)" not in postgres and "TO_TIMESTAMP" not in postgres
    assert "CAST('1970-01-01 00:00:00' AS TIMESTAMP) + " in postgres and "CHR(31)" in postgres
