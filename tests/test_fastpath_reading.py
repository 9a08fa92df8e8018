"""The fast paths of reading a ledger and of running as a process give
exactly what the general paths give.

- `decode.kept_lines` decodes the common line in one loop and sends every
  other line to `iter_lines` at its number: for any lines (blank, a byte
  order mark, bad JSON, bytes that are not UTF-8, unpaired surrogates, deep
  nesting, too long, objects among text) it must give what `iter_lines`
  gives, with each line's own text kept.
- The batch reader keeps one string per referee and referrer id.
- `rewardrules score` as a process of its own leaves its result to the
  exit (`cli.process`); the bytes and exit codes are those of `main()`
  called in-process, which changes nothing in its caller.
"""

from __future__ import annotations

import gc
import io
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules import LedgerError
from rewardrules.cli import main, process
from rewardrules.core import limits
from rewardrules.ledger import decode
from rewardrules.score.api import load

from .conftest import RULESETS

SRC = str(Path(__file__).resolve().parents[1] / "src")


def reference(lines: list[Any], prepare: Any = None) -> list[tuple[int, Any, Any]]:
    """What `kept_lines` is defined as: `iter_lines`, with the text of the
    line each result came from (the object, for an item that is not text)."""
    current: list[Any] = [None]

    def remember() -> Any:
        for raw in lines:
            current[0] = raw
            yield raw

    out = []
    for number, value, problem in decode.iter_lines(remember(), prepare):
        raw = current[0]
        kept = raw if isinstance(raw, (str, bytes)) else value
        out.append((number, value if problem is None else problem, kept))
    return out


LINES = [
    "",
    "   ",
    "\ufeff" + '{"id": "a"}',
    '{"id": "a", "at": "2026-01-01T00:00:00Z", "type": "t"}',
    '{"n": 1e400, "m": -0.0, "k": 0.1, "big": 123456789012345678901234567890}',
    '{"s": "\\ud800"}',
    '{"s": "\\ud83d\\ude00", "t": "é"}',
    '{"a": [1, 2, {"b": null}]}',
    "[" * 40 + "]" * 40,
    '{"a": ' + "[" * 20 + "]" * 20 + "}",
    '{"a": "' + "{" * 40 + '"}',  # braces in a string: not nesting
    "not json",
    '{"a": 1,}',
    '{"a": 1} {"b": 2}',
    '{"a": NaN}',
    '{"a": 1, "a": 2}',
    "17",
    "null",
]


def variants(line: str) -> st.SearchStrategy[Any]:
    encoded = line.encode("utf-8", "surrogatepass")
    return st.sampled_from([line, encoded, encoded + b"\n", line + "\r\n"])


items = st.one_of(
    st.sampled_from(LINES).flatmap(variants),
    st.binary(max_size=12),
    st.text(max_size=12),
    st.sampled_from([b"\xff\xfe{}", b'{"a": "\xc3"}', {"id": "x"}, ["list"], 5]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(items, max_size=8))
def test_kept_lines_is_iter_lines_with_each_lines_text(lines: list[Any]) -> None:
    assert list(decode.kept_lines(lines)) == reference(lines)


@settings(max_examples=100, deadline=None)
@given(st.lists(items, max_size=6))
def test_kept_lines_prepares_objects_as_iter_lines_does(lines: list[Any]) -> None:
    def prepare(item: Any, line: int) -> Any:
        return {"item": repr(item), "line": line}

    assert list(decode.kept_lines(lines, prepare)) == reference(lines, prepare)


def test_a_line_past_the_length_limit_is_the_problem_iter_lines_gives(monkeypatch: Any) -> None:
    monkeypatch.setattr(limits, "MAX_LEDGER_LINE_BYTES", 20)
    lines = [b'{"a": 1}', b'{"a": "' + b"x" * 30 + b'"}', '{"b": "' + "y" * 30 + '"}']
    got = list(decode.kept_lines(lines))
    assert got == reference(lines)
    assert [n for n, value, _ in got if isinstance(value, decode.LedgerProblem)] == [2, 3]


def test_a_batch_keeps_one_string_per_referee_and_referrer() -> None:
    program = load(RULESETS / "saas_milestones.rules")
    lines = [
        b'{"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}',
        b'{"id": "r2", "at": "2026-01-02T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "cat"}',
        b'{"id": "s1", "at": "2026-01-03T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": "10.00"}',
    ]
    records, _ = program._read(lines, "<ledger>")
    by_id = {record[1]: record for record in records}
    assert by_id["r1"][3] is by_id["s1"][3] == "bob"  # the referee
    assert by_id["r1"][4] is by_id["r2"][4] == "ann"  # the referrer


def _args(ledger: Path, *more: str) -> list[str]:
    return ["score", str(RULESETS / "saas_milestones.rules"), str(ledger), "--format", "json", *more]


def _in_process(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(args)
    return code, out.getvalue()


def _as_process(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rewardrules", *args],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
        check=False,
    )


LEDGER = "\n".join(
    [
        '{"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}',
        '{"id": "s1", "at": "2026-01-03T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": "1500.00"}',
        '{"id": "p1", "at": "2026-01-04T00:00:00Z", "type": "payment", "referee": "bob", "amount": "1500.00"}',
    ]
)


def test_a_command_run_as_a_process_writes_what_main_writes(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(LEDGER + "\n", encoding="utf-8")
    for more in ([], ["--no-explain"], ["--stream"]):
        code, text = _in_process(_args(ledger, *more))
        done = _as_process(_args(ledger, *more))
        assert (done.returncode, done.stdout, done.stderr) == (code, text, "")
        assert code == 0 and '"awards"' in text


def test_a_bad_ledger_as_a_process_exits_as_main_returns(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(LEDGER + "\nnot json\n", encoding="utf-8")
    done = _as_process(_args(ledger))
    assert done.returncode == 2 == _in_process(_args(ledger))[0]
    assert "ledger.jsonl:4: error: invalid JSON" in done.stderr and done.stdout == ""


def test_main_in_process_keeps_nothing_and_leaves_the_collector_on(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(LEDGER + "\n", encoding="utf-8")
    assert gc.isenabled()
    assert _in_process(_args(ledger))[0] == 0
    assert gc.isenabled() and not process.owned() and process._LEFT is None


def test_a_conflict_names_the_line_its_id_was_first_used_on() -> None:
    """Ids come into the duplicate check by the fast path (ASCII) and by
    the exact validator (`é`); each conflict names the first line of its
    own id, an exact repeat is no problem, and problems are in line order."""
    program = load(RULESETS / "saas_milestones.rules")
    head = '"at": "2026-01-01T00:00:00Z", "type": "payment", "referee": "bob", "amount": '
    lines = [
        '{"id": "p1", ' + head + '"1.00"}',
        '{"id": "p\u00e9", ' + head + '"2.00"}',
        '{"id": "p2", ' + head + '"3.00"}',
        '{"id": "p\u00e9", ' + head + '"9.00"}',
        '{"id": "p1", ' + head + '"1.00"}',
        "not json",
        '{"id": "p2", ' + head + '"8.00"}',
        '{"id": "p1", ' + head + '"7.00"}',
    ]
    try:
        program._read(lines, "<ledger>")
    except LedgerError as error:
        found = [(p.line, p.field, p.message) for p in error.problems]
    assert [(line, field) for line, field, _ in found] == [(4, "id"), (6, None), (7, "id"), (8, "id")]
    assert "already used on line 2 " in found[0][2]
    assert "already used on line 3 " in found[2][2]
    assert "already used on line 1 " in found[3][2]
