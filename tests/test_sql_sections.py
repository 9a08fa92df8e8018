"""The explained sections of `score --engine duckdb` (docs/sql.md, "The
explained output"): `referrals`, `referrers` and `withheld` are the Python
engine's, byte for byte and in its order, on every golden ledger of every
program whose explanation compiles, on generated ledgers, read by DuckDB
itself or by the Python reader (tests/test_sql_explain.py: a construct
whose explanation does not compile yet is refused only when explaining)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli import main
from rewardrules.cli.sql import direct_result, duckdb_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import Unsupported
from rewardrules.sql.run import run as run_query
from rewardrules.sql.sections import compile_explained
from rewardrules.sql.write import write_result

from .conftest import RULESETS, examples
from .test_properties import as_ofs, ledgers, program

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"

#: the keys the explained output adds, and the one after them
SECTIONS = ("referrals", "referrers", "withheld", "rejected")

#: golden programs that are not reference programs: their rule file and ledgers
OWN = ("clawbacks", "counts_voided", "features/graduated_tiers", "features/tiers_and_caps", "reward_holds")


def cases() -> list[tuple[Path, Path]]:
    """Every rule file in rulesets/ on its golden ledgers, and every golden
    program on its own."""
    found = [
        (rules, ledger)
        for rules in sorted(RULESETS.glob("*.rules"))
        for ledger in sorted((GOLDEN / rules.stem).glob("*.jsonl"))
    ]
    for folder in OWN:
        for rules in sorted((GOLDEN / folder).rglob("*.rules")):
            found += [(rules, ledger) for ledger in sorted((GOLDEN / folder).rglob("*.jsonl"))]
    return found


def python_sections(prog: rewardrules.Program, lines: list[str], as_of: str | None) -> dict[str, Any]:
    return json.loads(prog.score(lines, as_of=as_of).to_json())


def written(data: dict[str, Any]) -> dict[str, Any]:
    """The result as `score --format json` writes it (its sections made
    while written), read back."""
    out: list[bytes] = []
    write_result(data, out.append)
    return json.loads(b"".join(out))


def assert_same_sections(got: dict[str, Any], want: dict[str, Any]) -> None:
    """The same keys in the same order, and each section the same bytes
    (the awards' `why` is another part's: sql/sections.py writes none)."""
    assert list(got) == list(want)
    for key in SECTIONS:
        assert json.dumps(got[key], ensure_ascii=False, indent=2) == json.dumps(want[key], ensure_ascii=False, indent=2)


@pytest.mark.parametrize(("rules", "ledger"), cases(), ids=lambda v: v.stem)
def test_golden_ledgers_give_the_python_sections(rules: Path, ledger: Path) -> None:
    prog = rewardrules.load(rules)
    lines = ledger.read_text(encoding="utf-8").splitlines()
    try:
        query, sections = compile_explained(prog.compiled)
    except Unsupported:
        return  # refused up front, at its line: see the tests below
    want = python_sections(prog, lines, None)
    direct = direct_result(prog, query, str(ledger), None, as_json=True, sections=sections)
    assert direct is not None  # golden ledgers are in the strict form
    assert_same_sections(written(direct), want)
    if ledger == min(ledger.parent.glob("*.jsonl")):  # the Python reader's path (and the generated ledgers below)
        runner = partial(run_query, sections=sections)
        assert_same_sections(written(duckdb_result(prog, query, lines, None, "<ledger>", runner)), want)


def test_the_sections_compile_for_every_reference_program() -> None:
    """Every reference program's explanation compiles (an attribution
    that moves too): the differential above covers them."""
    compiled = set()
    for path in sorted(RULESETS.glob("*.rules")):
        try:
            compile_explained(rewardrules.load(path).compiled)
        except Unsupported:
            continue
        compiled.add(path.stem)
    assert {"partner_and_customer", "referral_fraud", "referral_milestones", "subscription_loyalty"} <= compiled
    assert compiled == {path.stem for path in RULESETS.glob("*.rules")}


#: programs whose golden ledgers do not reach every shape: generated ones do
GENERATED = (
    "saas_milestones",
    "referral_milestones",
    "partner_and_customer",
    "microsoft_referral",
    "referral_fraud",
    "subscription_loyalty",
)


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_ledgers_give_the_python_sections(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(GENERATED), label="program")
    events = data.draw(ledgers(name), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    prog = program(name)
    query, sections = compile_explained(prog.compiled)
    runner = partial(run_query, sections=sections)
    got = duckdb_result(prog, query, events, parse_as_of(as_of), "<ledger>", runner)
    assert_same_sections(written(got), json.loads(prog.score(events, as_of=as_of).to_json()))


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["score", *args])
    out, err = capsys.readouterr()
    return code, out, err


#: a timer counted per referrer: its explained sections are refused
REFERRER_TIMER = """ruleset referrer_timer "A timer per referrer"

event payment { amount: money USD }

metric spent = sum payment.amount
metric paying = count referrals where spent > 0 USD

milestone later { after 30 days if paying >= 1  reward referrer cash 5 USD }
"""


def test_a_per_referrer_timer_is_explained_from_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A per-referrer timer's progress (refused once: the explained output
    only, `--no-explain` scored it) is the Python engine's, the whole
    result byte for byte (tests/test_sql_sections_referrer_timers.py)."""
    rules = str(tmp_path / "referrer_timer.rules")
    Path(rules).write_text(REFERRER_TIMER, encoding="utf-8")
    ledger = str(GOLDEN / "affiliate_attribution" / "last_click.jsonl")
    as_of = ["--as-of", "2026-03-15T00:00:00Z"]  # the timers are pending then
    for shown in (["--format", "json"], ["--format", "json", "--no-explain"], ["--format", "text"]):
        duck = _cli(capsys, "--engine", "duckdb", *as_of, *shown, rules, ledger)
        assert duck == _cli(capsys, *as_of, *shown, rules, ledger)
        assert duck[0] == 0
        if shown == ["--format", "json"]:
            assert '"progress": "timer started 2026-03-01' in duck[1]


def test_a_construct_that_does_not_compile_at_all_is_named_first(tmp_path: Path) -> None:
    """A file the query itself refuses is refused for that, as without
    explanations (not for an explanation of something later in it)."""
    rules = ROOT / "examples" / "sql" / "per_seat.rules"  # the example of a refused construct (docs/sql.md)
    prog = rewardrules.load(rules)
    with pytest.raises(Unsupported) as explained:
        compile_explained(prog.compiled)
    from rewardrules.sql.compile import compile_query

    with pytest.raises(Unsupported) as plain:
        compile_query(prog.compiled)
    assert explained.value.problem() == plain.value.problem()


@pytest.mark.parametrize(("name", "ledger"), [("dropbox", "cap"), ("referral_milestones", "ten_conversions")])
def test_the_text_output_shows_the_same_progress_and_withheld_rewards(
    name: str, ledger: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--format text` lists withheld rewards and each referral's and
    referrer's progress from the sections: the Python engine's lines."""
    rules = str(RULESETS / f"{name}.rules")
    path = str(GOLDEN / name / f"{ledger}.jsonl")
    code, duck, _ = _cli(capsys, "--engine", "duckdb", "--format", "text", rules, path)
    python = _cli(capsys, "--format", "text", rules, path)[1]
    assert code == 0
    withheld = [line for line in python.splitlines() if "withheld: " in line]  # a row each (the header counts cuts too)
    assert all(line in duck.splitlines() for line in withheld)
    assert "progress:" in python
    assert duck[duck.index("progress:") :] == python[python.index("progress:") :]


def test_no_explain_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    rules = str(RULESETS / "referral_milestones.rules")
    ledger = str(GOLDEN / "referral_milestones" / "basic.jsonl")
    duck = _cli(capsys, "--engine", "duckdb", "--no-explain", "--format", "json", rules, ledger)
    assert duck == _cli(capsys, "--no-explain", "--format", "json", rules, ledger)
    assert not set(SECTIONS[:3]) & set(json.loads(duck[1]))


def test_sql_explain_prints_the_statements_score_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """`rewardrules sql --sections` prints the sections' statements after
    the others: the very texts `score --engine duckdb` runs (tested above)."""
    rules = RULESETS / "referral_milestones.rules"
    assert main(["sql", str(rules)]) == 0
    plain = capsys.readouterr().out
    assert main(["sql", "--sections", str(rules)]) == 0
    explained = capsys.readouterr().out
    _, sections = compile_explained(rewardrules.load(rules).compiled)
    for title, sql in sections.statements():
        assert f"-- {title}\n{sql};\n" in explained and f"-- {title}\n" not in plain
    assert [t for t, _ in sections.statements()] == ["referrals, explained", "referrers, explained", "withheld rewards"]
    assert main(["sql", "--sections", "--dialect", "postgres", str(rules)]) == 0
    assert "-- withheld rewards\n" in capsys.readouterr().out


def test_a_failure_while_the_sections_are_read_is_said_and_ends_the_session() -> None:
    """DuckDB failing while a section's rows are fetched (a full disk,
    memory) is an error, never a traceback, and DuckDB's session (its
    connection, its private directory) ends then, not at exit."""
    import duckdb

    from rewardrules.sql.run import EngineError, _guarded

    closed: list[int] = []
    session = ExitStack()
    session.callback(lambda: closed.append(1))

    def failing() -> Iterator[int]:
        yield 1
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")

    items = _guarded(session, failing())
    assert next(items) == 1 and not closed
    with pytest.raises(EngineError, match="give it more with --memory-limit"):
        next(items)
    assert closed == [1]


@pytest.mark.parametrize(("paid", "reason"), [("-0.04", "negative"), ("-0.02", "zero"), ("0.02", "zero")])
def test_a_withheld_amount_is_rounded_as_the_engine_rounds_it(paid: str, reason: str) -> None:
    """15% of -0.04 USD is -0.006, which the engine rounds half to even to
    -0.01 (withheld: negative); of -0.02, -0.003 rounds to a zero (as of
    0.02): the withheld entry says so, with the amount the engine has."""
    events = [
        {"id": "r", "at": "2025-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bo"},
        {"id": "p", "at": "2025-01-02T00:00:00Z", "type": "payment", "referee": "bo", "amount": paid},
    ]
    events[0]["source"] = "partner"
    prog = program("partner_and_customer")
    query, sections = compile_explained(prog.compiled)
    got = written(duckdb_result(prog, query, events, None, "<ledger>", partial(run_query, sections=sections)))
    want = json.loads(prog.score(events).to_json())
    assert_same_sections(got, want)
    assert [w["reason"] for w in got["withheld"]] == [f"the amount is {reason}"]
