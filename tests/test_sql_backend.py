"""The SQL back end (docs/sql.md) gives the Python engine's result, byte
for byte: on every golden ledger and on generated ledgers of each reference
program it compiles; every other program is refused at a rule line."""

from __future__ import annotations

import decimal
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import Unsupported, compile_query

from .conftest import RULESETS
from .test_properties import DIFFERENTIAL, as_ofs, ledgers, program

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"

#: the reference programs the first slice compiles (docs/sql.md)
SUPPORTED = (
    "affiliate_attribution",
    "docusign",
    "dropbox",
    "fasttrack_cpor",
    "hubspot",
    "microsoft_referral",
    "partner_and_customer",
    "prezi",
    "referral_fraud",
    "referral_milestones",
    "saas_milestones",
    "salesforce",
    "subscription_loyalty",
    "tesla",
    "zoom",
)


def python_json(prog: rewardrules.Program, events: Any, as_of: str | None) -> str:
    return prog.score(events, as_of=as_of, explain=False).to_json()


def duckdb_json(prog: rewardrules.Program, events: Any, as_of: str | None) -> str:
    data = duckdb_result(prog, compile_query(prog.compiled), events, parse_as_of(as_of), "<ledger>")
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def golden_cases() -> list[tuple[str, Path]]:
    return [(name, path) for name in SUPPORTED for path in sorted((GOLDEN / name).glob("*.jsonl"))]


def golden_programs() -> list[tuple[str, Path, list[Path]]]:
    """Each rule file with golden ledgers that compiles to SQL, with them:
    the reference programs (`rulesets/NAME.rules`, `tests/golden/NAME/`)
    and the golden folders' own rule files (`tests/golden/**/NAME.rules`,
    with ledgers beside it or in `ledgers/`); for a warehouse's run
    (tests/test_sql_clickhouse.py, benchmarks/warehouse_check.py)."""
    found = [(p.stem, p, sorted((GOLDEN / p.stem).glob("*.jsonl"))) for p in (ROOT / "rulesets").glob("*.rules")]
    for path in GOLDEN.rglob("*.rules"):
        found.append((path.stem, path, sorted([*path.parent.glob("*.jsonl"), *path.parent.glob("ledgers/*.jsonl")])))
    kept = []
    for name, path, files in sorted(found):
        try:
            if files:
                compile_query(rewardrules.load(path).compiled)
                kept.append((name, path, files))
        except Unsupported:
            continue
    return kept


def test_the_supported_list_is_what_compiles() -> None:
    """SUPPORTED is exactly the reference programs that compile: a program
    that starts to compile joins the differential tests below."""
    compiled = set()
    for path in sorted(RULESETS.glob("*.rules")):
        try:
            compile_query(rewardrules.load(path).compiled)
        except Unsupported:
            continue
        compiled.add(path.stem)
    assert compiled == set(SUPPORTED)


@pytest.mark.parametrize(("name", "ledger"), golden_cases(), ids=lambda v: getattr(v, "stem", v))
def test_golden_ledgers_give_the_same_bytes(name: str, ledger: Path) -> None:
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    prog = program(name)
    lines = ledger.read_text(encoding="utf-8").splitlines()
    as_of = expected["as_of"]
    sql = duckdb_json(prog, lines, as_of)
    assert sql == python_json(prog, lines, as_of)
    keys = ("at", "milestone", "role", "beneficiary", "referrer", "referee", "kind", "amount", "unit", "item", "status")
    got = [{k: a[k] for k in keys} for a in json.loads(sql)["awards"]]
    assert sorted(got, key=json.dumps) == sorted(expected["awards"], key=json.dumps)  # the hand-worked answer


@pytest.mark.parametrize("name", SUPPORTED)
@DIFFERENTIAL
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(name: str, data: st.DataObject) -> None:
    events = data.draw(ledgers(name), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    prog = program(name)
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


def test_ids_hash_utf8_bytes_and_names_are_data() -> None:
    """Names with non-ASCII characters (the netstring length is in UTF-8
    bytes, not characters) and SQL quotes give the Python engine's ids: a
    name is a value in the ledger table, never text in the query."""
    names = ["zoë", "日本", "o'brien", "x'); DROP TABLE ledger; --", '"at"']
    events: list[dict[str, Any]] = []
    for n, referee in enumerate(names[1:]):
        events.append(
            {
                "id": f"r{n}",
                "at": f"2026-01-0{n + 1}T00:00:00Z",
                "type": "referral",
                "referrer": names[0],
                "referee": referee,
            }
        )
        events.append(
            {
                "id": f"s{n}",
                "at": f"2026-02-0{n + 1}T00:00:00Z",
                "type": "subscription",
                "referee": referee,
                "mrr": "1000.00",
            }
        )
    prog = program("saas_milestones")
    sql = duckdb_json(prog, events, None)
    assert sql == python_json(prog, events, None)
    assert len(json.loads(sql)["awards"]) == 3 * 4


def test_duplicate_and_self_referrals_are_rejected_alike() -> None:
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "r0", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "cat", "referee": "bob"},
        {"id": "r2", "at": "2026-01-02T00:00:00Z", "type": "referral", "referrer": "dan", "referee": "dan"},
        {"id": "s1", "at": "2026-01-03T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": 2000},
    ]
    prog = program("saas_milestones")
    sql = json.loads(duckdb_json(prog, events, None))
    assert [(r["event"], r["reason"]) for r in sql["rejected"]] == [
        ("r1", "duplicate_referral"),
        ("r2", "self_referral"),
    ]
    assert {a["referrer"] for a in sql["awards"]} == {"cat"}
    assert json.dumps(sql, ensure_ascii=False, indent=2) + "\n" == python_json(prog, events, None)


def test_a_number_too_wide_for_duckdb_is_refused_not_rounded() -> None:
    from rewardrules.sql.run import TooWide

    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        # each fits the ledger's 30 digits; one DECIMAL(38, s) column cannot hold both
        {"id": "s1", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": "1" * 28 + ".5"},
        {
            "id": "s2",
            "at": "2026-01-03T00:00:00Z",
            "type": "subscription",
            "referee": "bob",
            "mrr": "0." + "0" * 20 + "1",
        },
    ]
    with pytest.raises(TooWide, match=r"subscription\.mrr"):
        duckdb_json(program("saas_milestones"), events, None)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "rewardrules", *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )


def test_a_construct_not_compiled_is_refused_at_its_line() -> None:
    """`sql` and `score --engine duckdb` name the construct and its line
    (file:line:col), exit 1, print no query and no traceback."""
    rules = "examples/sql/per_seat.rules"
    for args in (
        ("sql", rules),
        ("score", "--engine", "duckdb", rules, "examples/sql/per_seat.jsonl"),
    ):
        done = cli(*args)
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        assert f"{rules}:18:16: error: the SQL engine cannot compile a division outside a condition" in done.stderr
        assert "Traceback" not in done.stderr


def test_score_engine_duckdb_prints_the_python_result() -> None:
    ledger = "tests/golden/saas_milestones/basic.jsonl"
    rules = "rulesets/saas_milestones.rules"
    duck = cli("score", "--engine", "duckdb", "--no-explain", "--format", "json", rules, ledger)
    python = cli("score", "--no-explain", "--format", "json", rules, ledger)
    assert duck.returncode == 0, duck.stderr
    assert duck.stdout == python.stdout
    text = cli("score", "--engine", "duckdb", rules, ledger)
    assert text.stdout == cli("score", "--no-explain", rules, ledger).stdout


def test_sql_prints_a_query_duckdb_runs(tmp_path: Path) -> None:
    """The printed query runs as printed over a `ledger` and an `as_of` table."""
    import duckdb

    done = cli("sql", "rulesets/saas_milestones.rules")
    assert done.returncode == 0, done.stderr
    awards = done.stdout.split(";\n")[0]
    db = duckdb.connect()
    db.execute(
        "CREATE TABLE ledger AS SELECT * FROM (VALUES (0::BIGINT, 'r1', 'referral', 'bob', 'ann', NULL::DECIMAL(38,2), "
        "NULL::BOOLEAN), (1::BIGINT, 's1', 'subscription', 'bob', NULL, 1000.00::DECIMAL(38,2), FALSE)) "
        't("at", id, type, referee, referrer, "subscription.mrr", "subscription.mrr sign")'  # its `why` writes money
    )
    db.execute('CREATE TABLE as_of AS SELECT 1::BIGINT AS "at"')
    rows = db.execute(awards).fetchall()
    assert [row[7] for row in rows] == ["mrr_1k", "arr_5k", "arr_10k"]


def test_other_dialects_are_written_or_refused() -> None:
    """sqlglot writes the query for Spark, and for Postgres with what it
    lacks rewritten (no `* EXCEPT`, no IGNORE NULLS: docs/sql.md, "Other
    dialects"); where a dialect cannot say a construct, the command refuses
    (tests/test_sql_dialects_more.py)."""
    spark = cli("sql", "--dialect", "spark", "rulesets/saas_milestones.rules")
    assert spark.returncode == 0, spark.stderr
    assert "SHA2(" in spark.stdout
    assert "OCTET_LENGTH(referee)" in spark.stdout  # an id's lengths are in UTF-8 bytes there too
    assert "STRLEN" not in spark.stdout
    postgres = cli("sql", "--dialect", "postgres", "rulesets/saas_milestones.rules")
    assert postgres.returncode == 0, postgres.stderr
    assert "ARRAY_AGG(" in postgres.stdout and "IGNORE NULLS" not in postgres.stdout
    assert "EXCEPT (" not in postgres.stdout


#: computed amounts, rounded half to even to the cent (docs/sql.md, "Exact numbers")
COMMISSION = """ruleset commission "Commission"

event payment { amount: money USD }

milestone commission "Commission" {
  each payment within 365 days
  reward referrer cash 15% of payment.amount
}

milestone bonus "Bonus" {
  first payment where payment.amount > 0
  reward referee cash 12.5% of payment.amount
  reward referrer cash 1.5 * payment.amount - 100 USD
  hold 30 days
}
"""


def test_computed_amounts_round_half_to_even() -> None:
    """Ties go to the even cent (0.015 -> 0.02, 0.045 -> 0.04, 0.105 ->
    0.10), a sub-cent amount rounds to nothing and is withheld, as in the
    Python engine; DuckDB's ROUND would give 0.05 and 0.11."""
    events = [{"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}]
    for n, amount in enumerate(["0.10", "0.30", "0.70", "-10", "0.01", "33333.33"]):
        events.append(
            {"id": f"p{n}", "at": f"2026-01-0{n + 2}T00:00:00Z", "type": "payment", "referee": "bob", "amount": amount}
        )
    prog = rewardrules.compile(COMMISSION)
    sql = duckdb_json(prog, events, None)
    assert sql == python_json(prog, events, None)
    commission = [a["amount"] for a in json.loads(sql)["awards"] if a["milestone"] == "commission"]
    assert commission == ["0.02", "0.04", "0.10", "5000.00"]
    bonus = [a["status"] for a in json.loads(sql)["awards"] if a["milestone"] == "bonus"]
    assert bonus == ["pending"]  # held 30 days from 2026-01-02, scored as of 2026-01-07


@pytest.mark.parametrize("precision", [28, 5])
def test_totals_past_the_caller_s_precision_are_exact(precision: int) -> None:
    """A total of 30 digits is the Python engine's whatever the caller's
    decimal context (the default keeps 28 digits): `duckdb_result` is
    called by apps and tests, not only inside the command line's context
    (until 2026-12-05 it added the totals in the caller's)."""
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "9" * 29},
    ]
    prog = rewardrules.compile(COMMISSION)
    expected = python_json(prog, events, None)
    assert "149999999999999999999999999898.50" in expected
    with decimal.localcontext(decimal.Context(prec=precision)):
        assert duckdb_json(prog, events, None) == expected


EVERY_STEP = """\
ruleset r
event payment { amount: money USD }
metric total = sum payment.amount
milestone t { every 1234567890123456789012345.6789 total reward referrer cash 1 USD }
milestone k { each payment within 30 days reward referee cash 2 USD }
"""


def test_the_query_is_compiled_in_the_engine_s_context_whatever_the_caller_s() -> None:
    """`compile_query` and `compile_explained` are public and compute
    constants (an `every` step's digits, `30 days` in nanoseconds): under a
    caller's 28 digits the step was rounded (no award), under `prec=3`
    the window was 2.59 x 10^15 ns, and a trapped `Rounded` raised (found
    by review, 2026-12-05)."""
    from rewardrules.sql.sections import compile_explained

    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob"}
        | {"amount": "1234567890123456789012345.6789"},
    ]
    prog = rewardrules.compile(EVERY_STEP)
    expected = python_json(prog, events, None)
    assert [award["milestone"] for award in json.loads(expected)["awards"]] == ["t", "k"]
    reference = (compile_query(prog.compiled), compile_explained(prog.compiled)[0])
    for context in (decimal.Context(), decimal.Context(prec=3, traps=[decimal.Rounded, decimal.Inexact])):
        with decimal.localcontext(context):
            assert (compile_query(prog.compiled), compile_explained(prog.compiled)[0]) == reference
            assert duckdb_json(prog, events, None) == expected


@pytest.mark.parametrize(
    ("as_of", "status"), [("2026-02-01T00:00:00Z", "confirmed"), ("2026-01-31T23:59:59.999999999Z", "pending")]
)
def test_a_hold_ends_at_its_instant(as_of: str, status: str) -> None:
    """`hold 30 days` from 2026-01-02: pending until 2026-02-01, confirmed
    from that instant on, as in the Python engine."""
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "80.00"},
        {"id": "x", "at": "2026-03-01T00:00:00Z", "type": "page_view", "referee": "bob"},
    ]
    prog = rewardrules.compile(COMMISSION)
    sql = duckdb_json(prog, events, as_of)
    assert sql == python_json(prog, events, as_of)
    assert [a["status"] for a in json.loads(sql)["awards"] if a["milestone"] == "bonus"] == [status, status]


@DIFFERENTIAL
@given(data=st.data())
def test_computed_amounts_on_generated_ledgers(data: st.DataObject) -> None:
    events = data.draw(ledgers("prezi"), label="ledger")  # payments of -50 to 40000 USD, ties included
    as_of = data.draw(as_ofs(events), label="as_of")
    prog = rewardrules.compile(COMMISSION)
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


def refused_programs() -> list[Path]:
    """The reference, golden and example programs the SQL back end refuses
    (every reference and golden program compiles now: examples/sql keeps
    the test fed)."""
    found = []
    for path in sorted(
        [*RULESETS.glob("*.rules"), *GOLDEN.glob("**/*.rules"), *(ROOT / "examples").glob("**/*.rules")]
    ):
        try:
            compile_query(rewardrules.load(path).compiled)
        except Unsupported:
            found.append(path)
    return found


@pytest.mark.parametrize("path", refused_programs(), ids=lambda p: p.stem)
def test_every_refusal_names_a_construct_at_a_line(path: Path) -> None:
    """Each program not compiled yet is refused with a construct and a
    place in the file: the line and column of the construct."""
    with pytest.raises(Unsupported) as refused:
        compile_query(rewardrules.load(path).compiled)
    refusal = refused.value
    assert refusal.span is not None
    text = path.read_text(encoding="utf-8")
    assert text[refusal.span.start : refusal.span.end].strip(), "the span covers the construct's text"
    location = refusal.problem().location
    assert (location.path, location.line, location.column) == (str(path), refusal.span.line, refusal.span.column)
    assert refusal.construct in refusal.problem().message


def test_rule_texts_enter_the_query_as_literals() -> None:
    """A rule file's text with SQL quotes is a string literal in the query
    (quotes doubled): it compares as the Python engine compares it."""
    rules = """ruleset quotes "Quotes"

event referral { source: optional text }
event payment { amount: money USD }

eligible when referral.source in ["o'brien", "x'); DROP TABLE ledger; --"]

milestone paid "Paid" {
  first payment where payment.amount > 0
  reward referrer item "Mug 'n' tea"
}
"""
    events = [
        {
            "id": "r1",
            "at": "2026-01-01T00:00:00Z",
            "type": "referral",
            "referrer": "ann",
            "referee": "bob",
            "source": "o'brien",
        },
        {
            "id": "r2",
            "at": "2026-01-01T00:00:00Z",
            "type": "referral",
            "referrer": "ann",
            "referee": "cat",
            "source": "obrien",
        },
        {
            "id": "r3",
            "at": "2026-01-01T00:00:00Z",
            "type": "referral",
            "referrer": "ann",
            "referee": "dan",
            "source": "x'); DROP TABLE ledger; --",
        },
        {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": 5},
        {"id": "p2", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "cat", "amount": 5},
        {"id": "p3", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "dan", "amount": 5},
    ]
    prog = rewardrules.compile(rules)
    sql = duckdb_json(prog, events, None)
    assert sql == python_json(prog, events, None)
    data = json.loads(sql)
    assert [(a["referee"], a["item"]) for a in data["awards"]] == [("bob", "Mug 'n' tea"), ("dan", "Mug 'n' tea")]
    assert [(r["event"], r["reason"]) for r in data["rejected"]] == [("r2", "ineligible")]


#: caps that cut awards part-way, in a currency and in another unit
CAPPED = """ruleset capped "Capped"

event payment { amount: money USD }

cap referrer 100.50 USD

milestone commission "Commission" {
  each payment
  reward referrer cash 15% of payment.amount
}

milestone welcome "Welcome" {
  first payment
  reward referrer credit 500 points
  cap referrer 1250.5 points
}
"""


def test_a_cap_cuts_the_award_that_reaches_it() -> None:
    """Awards draw from a cap in issue order: the one that reaches it is
    cut to what remains (written as the Python engine writes it), the
    later ones are withheld; across referrals of one referrer."""
    events = []
    for n, referee in enumerate(["bob", "cat", "dan"]):
        events.append(
            {
                "id": f"r{n}",
                "at": f"2026-01-0{n + 1}T00:00:00Z",
                "type": "referral",
                "referrer": "ann",
                "referee": referee,
            }
        )
        events.append(
            {
                "id": f"p{n}",
                "at": f"2026-02-0{n + 1}T00:00:00Z",
                "type": "payment",
                "referee": referee,
                "amount": "400.01",
            }
        )
    prog = rewardrules.compile(CAPPED)
    sql = duckdb_json(prog, events, None)
    assert sql == python_json(prog, events, None)
    cash = [a["amount"] for a in json.loads(sql)["awards"] if a["kind"] == "cash"]
    assert cash == ["60.00", "40.50"]  # 60.0015 rounds to 60.00; the cap leaves 40.50; the third is withheld
    points = [a["amount"] for a in json.loads(sql)["awards"] if a["unit"] == "points"]
    assert points == ["500", "500", "250.5"]


@DIFFERENTIAL
@given(data=st.data())
def test_caps_on_generated_ledgers(data: st.DataObject) -> None:
    events = data.draw(ledgers("prezi"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    prog = rewardrules.compile(CAPPED)
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)
