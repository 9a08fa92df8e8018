"""The batch result written as it is made (`Program.score_written`,
`Reporter.write_json`, `jsonout.Items`): the bytes of the result built
whole, its pieces in order, records made while earlier ones are already
written, and every error as before."""

from __future__ import annotations

import importlib.util
import io
import json
import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.core import jsonout
from rewardrules.core.jsonout import Items, write_fields, write_pretty
from rewardrules.ledger.events import LedgerError
from rewardrules.score.result import Reporter

from .conftest import GOLDEN, RULESETS


def _benchmark_generator() -> Any:
    """`benchmarks/generate.py`'s `events`, loaded under a name of its own."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "generate.py"
    spec = importlib.util.spec_from_file_location("_benchmark_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.events


generated_events = _benchmark_generator()

CASES = sorted(GOLDEN.glob("*/*.jsonl")) + sorted((GOLDEN / "features").glob("*/*.jsonl"))


@cache
def program(folder: Path) -> rewardrules.Program:
    """The golden folder's own rule file, or the reference program it names."""
    own = folder / f"{folder.name}.rules"
    return rewardrules.load(own if own.exists() else RULESETS / f"{folder.name}.rules")


def written(result: Any) -> bytes:
    out = io.BytesIO()
    result.write_json(out)
    return out.getvalue()


def whole(result: rewardrules.ScoreResult) -> bytes:
    """The result built whole, in the bytes `json` gives it."""
    return (json.dumps(result.data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


@pytest.mark.parametrize("ledger", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
@pytest.mark.parametrize("explain", [True, False])
def test_golden_ledgers_give_the_bytes_of_the_whole_result(ledger: Path, explain: bool) -> None:
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    lines = ledger.read_text().splitlines()
    rules = program(ledger.parent)
    built = rules.score(lines, as_of=expected["as_of"], explain=explain)
    made = rules.score_written(lines, as_of=expected["as_of"], explain=explain)
    assert written(made) == written(built) == whole(built)
    assert made.data == built.data


def _generated(count: int, seed: int) -> list[str]:
    return [json.dumps(e) for e in generated_events(count, seed)]


@pytest.mark.parametrize("seed", [7, 11])
def test_generated_ledgers_in_any_order_give_the_same_bytes(seed: int) -> None:
    rules = rewardrules.load(RULESETS / "saas_milestones.rules")
    lines = _generated(600, seed)
    expected = whole(rules.score(lines))
    shuffled = lines[:]
    random.Random(seed).shuffle(shuffled)
    assert b'"aw_' in expected  # the ledger gives awards
    assert written(rules.score_written(shuffled)) == expected
    assert written(rules.score_written(shuffled, stream=True)) == expected


def test_pieces_are_written_in_order_while_records_are_still_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """With runs of two items and a write per run, the pieces joined are the
    whole result, and the first award's bytes are written before the last
    award's record is made: the records are never all held."""
    monkeypatch.setattr(jsonout, "_ITEMS", 2)
    monkeypatch.setattr(jsonout, "_CHUNK", 1)
    rules = rewardrules.load(RULESETS / "saas_milestones.rules")
    lines = _generated(400, 7)
    expected = whole(rules.score(lines))
    events: list[tuple[str, Any]] = []
    made = Reporter.award

    def award(self: Reporter, issued: Any, explain: bool = True) -> dict[str, Any]:
        events.append(("made", issued.id))
        return made(self, issued, explain)

    monkeypatch.setattr(Reporter, "award", award)
    result = rules.score_written(lines)
    pieces: list[bytes] = []

    def write(piece: bytes) -> None:
        pieces.append(piece)
        events.append(("written", piece))

    result._reporter.write_json(True, write)
    assert b"".join(pieces) == expected
    ids = [i for kind, i in events if kind == "made"]
    assert len(ids) > 4
    first_written = next(n for n, (kind, piece) in enumerate(events) if kind == "written" and ids[0].encode() in piece)
    last_made = events.index(("made", ids[-1]))
    assert first_written < last_made


@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 9])
def test_items_are_written_as_the_list(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    monkeypatch.setattr(jsonout, "_ITEMS", 2)
    value = {"a": [{"n": n, "t": "é\n"} for n in range(size)], "b": [], "c": {"d": [1]}, "e": None}
    pieces: list[bytes] = []
    fields = [("a", Items(iter(value["a"]))), ("b", Items([])), ("c", value["c"]), ("e", None)]
    write_fields(fields, pieces.append)
    out = io.BytesIO()
    write_pretty(value, out.write)
    assert b"".join(pieces) == out.getvalue() == (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode()


def test_ledger_errors_are_raised_before_anything_is_written() -> None:
    rules = rewardrules.load(RULESETS / "saas_milestones.rules")
    lines = [*_generated(50, 7), '{"id": "x", "at": "nope", "type": "invoice"}', "{"]
    with pytest.raises(LedgerError) as built:
        rules.score(lines)
    with pytest.raises(LedgerError) as made:
        rules.score_written(lines)
    assert str(made.value) == str(built.value)
    assert [p.line for p in made.value.problems] == [51, 52]


def test_the_command_writes_the_bytes_and_says_the_errors_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = RULESETS / "saas_milestones.rules"
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("\n".join(_generated(300, 11)) + "\n")
    assert main(["score", str(rules), str(ledger), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert out.encode() == whole(rewardrules.load(rules).score(str(ledger)))
    ledger.write_text('{"id": "a", "at": "2026-01-01T00:00:00Z", "type": "referral"}\n{"id": 1}\n')
    assert main(["score", str(rules), str(ledger), "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{ledger}:2: error" in captured.err and "nothing was scored" in captured.err
    assert main(["score", str(rules), str(ledger), "--format", "text"]) == 2  # a result built whole
    assert capsys.readouterr().err == captured.err


def test_a_settled_statement_is_written_as_built() -> None:
    rules = rewardrules.load(RULESETS / "saas_milestones.rules")
    lines = _generated(300, 7)
    first = rules.score(lines[:150])
    expected = whole(rules.score(lines, settled=first.data))
    assert written(rules.score_written(lines, settled=first.data)) == expected
