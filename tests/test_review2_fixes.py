"""Fixes after the second review:

1. a settled item award must name its item (and no other award has one):
   stored without it, it differed from every run's record and was reversed
   and paid again on each run;
2. `rewardrules test` (and `run_cases`, `explain_ledger`, `score_traced`)
   take the per-event award limit, and a case past it fails alone;
3. "are the arguments swapped?" only when RULESET is no rule file at all;
4. the limit may be an int subclass (an IntEnum), never a bool.
"""

from __future__ import annotations

import enum
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules import limits
from rewardrules.cli import main

from .test_settled_review import AS_OF, MILESTONES, five_conversions

#: the fields docs/embedding.md says a stored award record needs (no `item`)
REQUIRED = ("id", "at", "milestone", "role", "beneficiary", "referrer", "referee", "kind", "amount", "unit", "program")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- 1. a settled item award names its item -----------------------------------------


def _stored(with_item: bool) -> list[dict[str, Any]]:
    """The confirmed awards of a run with an item award, stored as an app
    would: the required fields, and `item` only where asked."""
    paid = rewardrules.compile(MILESTONES).score(five_conversions(), as_of=AS_OF).data
    awards = [a for a in paid["awards"] if a["status"] == "confirmed"]
    assert any(a["kind"] == "item" for a in awards) and any(a["kind"] != "item" for a in awards)
    return [{k: a[k] for k in (*REQUIRED, *(("item",) if with_item else ()))} for a in awards]


@pytest.mark.parametrize("missing", ["left out", "null"])
def test_a_settled_item_award_without_its_item_is_refused_by_entry(missing: str) -> None:
    statement = _stored(with_item=missing == "null")
    entry = next(n for n, a in enumerate(statement, start=1) if a["kind"] == "item")
    statement[entry - 1].pop("item", None)
    if missing == "null":
        statement[entry - 1]["item"] = None
    with pytest.raises(rewardrules.LedgerError, match="expected the item an item award paid") as caught:
        rewardrules.compile(MILESTONES).score(five_conversions(), as_of=AS_OF, settled=statement)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (entry, "item")


def test_a_settled_award_of_another_kind_with_an_item_is_refused() -> None:
    statement = _stored(with_item=True)
    entry = next(n for n, a in enumerate(statement, start=1) if a["kind"] != "item")
    statement[entry - 1]["item"] = "Mug"
    with pytest.raises(rewardrules.LedgerError, match=r"expected null or no `item`: a `\w+` award") as caught:
        rewardrules.compile(MILESTONES).score(five_conversions(), as_of=AS_OF, settled=statement)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (entry, "item")


def test_the_cli_exits_2_for_an_item_award_stored_without_its_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = _write(tmp_path, "m.rules", MILESTONES)
    ledger = _write(tmp_path, "l.jsonl", "".join(json.dumps(e) + "\n" for e in five_conversions()))
    statement = _write(tmp_path, "s.json", json.dumps(_stored(with_item=False)))
    argv = ["score", str(rules), str(ledger), "--as-of", AS_OF, "--format", "json", "--settled", str(statement)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "field `item`: expected the item an item award paid" in err and "Traceback" not in err


def test_a_payout_loop_storing_the_required_fields_and_items_pays_each_award_once() -> None:
    """The loop of the review's reproducer, storing what the docs now ask:
    a replay pays and claws back nothing."""
    program = rewardrules.compile(MILESTONES)
    ledger = five_conversions()
    paid: dict[str, dict[str, Any]] = {}
    for _ in range(3):
        statement = {"ruleset": program.name, "awards": list(paid.values()), "reversals": []}
        result = program.score(ledger, as_of=AS_OF, settled=statement).data
        assert result["reversals"] == []
        new = [a for a in result["awards"] if a["status"] == "confirmed" and a["id"] not in paid]
        assert not (paid and new)
        paid.update((a["id"], {k: a[k] for k in (*REQUIRED, "item")}) for a in new)
    assert any(a["kind"] == "item" for a in paid.values())


# -- 2. the per-event award limit in rule tests and explanations --------------------

#: a payment of 150 with `every 1 paid`: 150 awards at one event, past the default 100
STEPS = """ruleset e
event payment { amount: money USD }
metric paid = sum payment.amount
milestone step { every 1 paid reward referrer cash 1 USD }
"""
STEP_EVENTS = [
    {"id": "r1", "at": "2026-02-01T09:00:00Z", "type": "referral", "referrer": "a", "referee": "b"},
    {"id": "p1", "at": "2026-02-03T09:00:00Z", "type": "payment", "referee": "b", "amount": "150"},
]
STEP_TESTS = """rules = "e.rules"
[[case]]
name = "big"
events = [
  { id = "r1", at = 2026-02-01T09:00:00Z, type = "referral", referrer = "a", referee = "b" },
  { id = "p1", at = 2026-02-03T09:00:00Z, type = "payment", referee = "b", amount = "150" },
]
expect = [ { milestone = "step", role = "referrer", beneficiary = "a", kind = "cash", amount = "1.00", unit = "USD" } ]

[[case]]
name = "small"
events = [
  { id = "r1", at = 2026-02-01T09:00:00Z, type = "referral", referrer = "a", referee = "b" },
  { id = "p1", at = 2026-02-03T09:00:00Z, type = "payment", referee = "b", amount = "2" },
]
expect = [ { milestone = "step", amount = "1.00" }, { milestone = "step", amount = "1.00" } ]
exact = true
"""
OTHER_TESTS = """rules = "o.rules"
[[case]]
name = "one"
events = [
  { id = "r1", at = 2026-02-01T09:00:00Z, type = "referral", referrer = "a", referee = "b" },
  { id = "p1", at = 2026-02-03T09:00:00Z, type = "payment", referee = "b", amount = "5" },
]
expect = [ { milestone = "first", amount = "5.00" } ]
"""
OTHER = """ruleset o
event payment { amount: money USD }
milestone first { first payment reward referrer cash 5 USD }
"""
LIMIT_MESSAGE = "event `p1` would give 150 awards of milestone `step`, more than the limit of 100 at one event"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two rule files with their tests; `e`'s first case gives 150 awards at one event."""
    for name, text in (
        ("e.rules", STEPS),
        ("e.test.toml", STEP_TESTS),
        ("o.rules", OTHER),
        ("o.test.toml", OTHER_TESTS),
    ):
        _write(tmp_path, name, text)
    return tmp_path


def test_a_case_past_the_award_limit_fails_alone_and_the_run_goes_on(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "e.test.toml: 1 failed, 1 passed" in out and "o.test.toml: 1 passed" in out
    assert "  FAIL  `big` (line 2)\n    " + LIMIT_MESSAGE in out
    assert "2 test files, 3 cases: 1 failed, 2 passed" in out


def test_a_line_separator_in_the_event_id_keeps_the_limit_on_its_line(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(folder, "e.test.toml", STEP_TESTS.replace('id = "p1"', 'id = "p\u20281"'))
    assert main(["test", str(folder / "e.rules")]) == 1
    out = capsys.readouterr().out
    said = LIMIT_MESSAGE.replace("`p1`", "`p\\u20281`")
    assert "  FAIL  `big` (line 2)\n    " + said + "; scoring stopped\n      = help: " in out


def test_test_takes_max_awards_per_event(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(folder / "e.rules"), "--max-awards-per-event", "150"]) == 0
    assert "1 test file, 2 cases: 2 passed" in capsys.readouterr().out
    assert main(["test", str(folder / "e.rules"), "--max-awards-per-event", "149"]) == 1
    assert "more than the limit of 149 at one event" in capsys.readouterr().out


def test_test_refuses_a_bad_limit_as_a_usage_error(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["test", str(folder), "--max-awards-per-event", "0"])
    assert caught.value.code == 2
    assert "--max-awards-per-event: expected a whole number from 1 to 5,000,000" in capsys.readouterr().err


def test_json_gives_the_limit_as_the_cases_error(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(folder / "e.test.toml"), "--format", "json", "--coverage"]) == 1
    payload = json.loads(capsys.readouterr().out)
    big, small = payload["files"][0]["cases"]
    assert big["passed"] is False and big["error"].startswith(LIMIT_MESSAGE)
    assert small["passed"] is True and small["error"] is None
    assert payload["errors"] == [] and payload["summary"]["failed"] == 1
    assert payload["coverage"]["covered"] == payload["coverage"]["total"]  # the small case covers it


def test_run_cases_takes_the_limit_and_reports_a_case_past_it(folder: Path) -> None:
    from rewardrules.testing import coverage, read_test_file, run_cases

    tests = read_test_file(folder / "e.test.toml")
    program = rewardrules.load(tests.rules)
    big, small = run_cases(program, tests)
    assert not big.passed and big.traced is None and big.awards == []
    assert big.error is not None and big.error.startswith(LIMIT_MESSAGE)
    assert small.passed and small.error is None
    assert coverage(program, tests.rules, [big]).covered == 0
    raised = run_cases(program, tests, max_awards_per_event=150)
    assert [r.passed for r in raised] == [True, True] and len(raised[0].awards) == 150
    with pytest.raises(ValueError, match="max_awards_per_event must be a whole number"):
        run_cases(program, tests, max_awards_per_event=0)


def test_explain_ledger_and_score_traced_take_the_limit() -> None:
    from rewardrules.explain import explain_ledger
    from rewardrules.trace import score_traced

    program = rewardrules.compile(STEPS)
    with pytest.raises(rewardrules.AwardLimitError):
        explain_ledger(program, STEP_EVENTS)
    assert "`step`" in explain_ledger(program, STEP_EVENTS, max_awards_per_event=200)
    assert len(score_traced(program, STEP_EVENTS, max_awards_per_event=150).data["awards"]) == 150
    with pytest.raises(rewardrules.AwardLimitError, match="limit of 149"):
        score_traced(program, STEP_EVENTS, max_awards_per_event=149)


# -- 3. "swapped arguments" only when RULESET is no rule file -----------------------

BROKEN = {
    "semantic": "ruleset b\nmilestone m { when x >= 1 reward referrer cash 10 USD }\n",  # RR103
    "syntax at line 1": "evnt payment { amount: money USD }\n",
}


@pytest.mark.parametrize("command", [("score",), ("explain",), ("report", "-o", "out.html")])
@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_rule_file_with_errors_is_not_called_swapped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...], broken: str
) -> None:
    rules = _write(tmp_path, "broken.rules", BROKEN[broken])
    other = _write(tmp_path, "e.rules", STEPS)
    argv = [command[0], str(rules), str(other), *command[1:]]
    if command[0] == "report":
        argv[argv.index("out.html")] = str(tmp_path / "out.html")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "error[RR" in err and "swapped" not in err


@pytest.mark.parametrize("name", ["l.jsonl", "l.json", "ledger.rules", "ledger.txt"])
def test_a_ledger_given_as_ruleset_before_a_rule_file_is_called_swapped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    ledger = _write(tmp_path, name, "".join(json.dumps(e) + "\n" for e in STEP_EVENTS))
    rules = _write(tmp_path, "e.rules", STEPS)
    assert main(["score", str(ledger), str(rules)]) == 2
    err = capsys.readouterr().err
    assert "looks like" in err and "are the arguments swapped? the rule file comes first" in err


# -- 4. the limit as an int subclass ----------------------------------------------


class Level(enum.IntEnum):
    HIGH = 150


class Count(int):
    pass


@pytest.mark.parametrize("value", [Level.HIGH, Count(150)], ids=["IntEnum", "int subclass"])
def test_an_int_subclass_is_taken_as_its_number(value: int) -> None:
    assert limits.per_event_limit(value) == 150 and type(limits.per_event_limit(value)) is int
    program = rewardrules.compile(STEPS)
    assert len(program.score(STEP_EVENTS, max_awards_per_event=value).data["awards"]) == 150
    session = program.session(max_awards_per_event=value)
    session.add_many(STEP_EVENTS)
    assert len(program.restore(session.snapshot(), max_awards_per_event=value).result().data["awards"]) == 150


@pytest.mark.parametrize("value", [True, False, 150.0, "150", Decimal(150), Count(0), Count(5_000_001)])
def test_a_bool_or_a_non_int_is_still_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="max_awards_per_event must be a whole number from 1 to 5,000,000"):
        limits.per_event_limit(value)
