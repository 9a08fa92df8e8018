"""Review of a batch's records kept sorted on disk in runs
(`ledger.order.SortedRecords`) and of shared Decimals: every input route
and an as-of on an event's very instant give the bytes of one sort in
memory; values of `str` and `Decimal` subclasses (an app's own types)
reach the runs as plain values; a full disk is told as the scratch file's
failure, not as the ledger's, by the API and by the command line (for
`--stream` too); the scratch file never has a name and is closed on any
error; read-back Decimals keep their exact text; the bytes do not depend
on the hash seed."""

from __future__ import annotations

import decimal
import errno
import io
import json
import os
import pickle
import pickletools
import random
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules.ledger import order
from rewardrules.ledger.idlog import ScratchError
from rewardrules.ledger.order import SortedRecords
from rewardrules.score import engine as engine_module

from .conftest import RULESETS
from .test_python_memory_path import generated_events

SRC = Path(rewardrules.__file__).resolve().parent.parent
RULES = RULESETS / "saas_milestones.rules"


def _bytes(rules: rewardrules.Program, ledger: Any, **options: Any) -> bytes:
    out = io.BytesIO()
    rules.score_written(ledger, **options).write_json(out)
    return out.getvalue()


def _events(count: int = 400, seed: int = 9) -> list[dict[str, Any]]:
    events = [dict(event) for event in generated_events(count, seed)]
    random.Random(seed).shuffle(events)
    return events


def _route(route: str, events: list[dict[str, Any]], tmp_path: Path) -> Any:
    """The same ledger by one of the routes `score` takes (made fresh for
    each call: an open file and an iterator are read once)."""
    lines = [json.dumps(event) for event in events]
    path = tmp_path / "ledger.jsonl"
    path.write_text("\n".join(lines) + "\n")
    if route == "path":
        return path
    if route == "open binary file":
        return path.open("rb")
    if route == "open text file":
        return path.open("r", encoding="utf-8")
    if route == "str lines":
        return lines
    if route == "bytes lines":
        return [line.encode() for line in lines]
    if route == "dicts":
        return [dict(event) for event in events]
    if route == "models":
        return [rewardrules.LedgerEvent(**event) for event in events]
    return iter([dict(event) for event in events])


def _scored(
    rules: rewardrules.Program, route: str, events: list[dict[str, Any]], tmp_path: Path, **options: Any
) -> bytes:
    ledger = _route(route, events, tmp_path)
    try:
        return _bytes(rules, ledger, **options)
    finally:
        if hasattr(ledger, "close"):
            ledger.close()


ROUTES = ["path", "open binary file", "open text file", "str lines", "bytes lines", "dicts", "models", "iterator"]


@pytest.mark.parametrize("run", [1, 3, 64])
@pytest.mark.parametrize("route", ROUTES)
def test_every_route_in_runs_gives_the_bytes_of_one_sort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str, run: int
) -> None:
    rules = rewardrules.load(RULES)
    events = _events()
    instants = sorted({event["at"] for event in events})
    as_ofs = [None, instants[0], instants[len(instants) // 2], instants[-1]]  # each an event's very instant
    expected = [_scored(rules, route, events, tmp_path, as_of=as_of) for as_of in as_ofs]
    monkeypatch.setattr(order, "RECORD_RUN", run)
    got = [_scored(rules, route, events, tmp_path, as_of=as_of) for as_of in as_ofs]
    assert got == expected
    assert b'"aw_' in expected[0] and expected[2] != expected[0]  # awards, and the as-of cuts some


def test_events_at_one_instant_in_runs_keep_the_order_of_their_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event at one instant: the order is by id alone, across runs."""
    rules = rewardrules.load(RULES)
    events = _events(300, 4)
    for event in events:
        event["at"] = "2026-06-01T00:00:00Z"
    expected = _bytes(rules, events)
    monkeypatch.setattr(order, "RECORD_RUN", 2)
    assert _bytes(rules, events) == expected
    assert _bytes(rules, events[::-1]) == expected


def _subclassed() -> Any:
    """Events whose texts and amounts are of classes defined in a function
    (an app's own id type, a `Decimal` of its own): nothing pickle can
    name."""

    class Id(str):
        pass

    class Amount(Decimal):
        pass

    def made(event: dict[str, Any]) -> dict[str, Any]:
        event = dict(event)
        for name in ("id", "type", "referee", "referrer", "source", "country"):
            if name in event:
                event[name] = Id(event[name])
        if "mrr" in event:
            event["mrr"] = Amount(str(event["mrr"]))
        return event

    return made


def test_values_of_an_apps_own_classes_are_kept_as_plain_values_in_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: `AttributeError: Can't pickle local object` once a ledger of
    dicts held more than a run, where a smaller one scored."""
    rules = rewardrules.load(RULES)
    events = _events()
    expected = _bytes(rules, events)
    made = _subclassed()
    assert _bytes(rules, [made(event) for event in events]) == expected
    monkeypatch.setattr(order, "RECORD_RUN", 5)
    assert _bytes(rules, [made(event) for event in events]) == expected


class _Full(io.FileIO):
    """A scratch file on a disk that fills after `room` bytes."""

    room = 0

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


@pytest.mark.parametrize("room", [0, 5_000])
def test_a_full_disk_while_spilling_is_a_scratch_error_and_the_file_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, room: int
) -> None:
    """Was: the `ScratchError` replaced by the `OSError` of closing the
    file (its buffer flushed to the full disk), which the command line
    told as `cannot read LEDGER`."""
    made: list[Any] = []

    def full(*args: Any, **kwargs: Any) -> Any:
        handle, name = tempfile.mkstemp(dir=tmp_path)
        os.unlink(name)
        raw = _Full(handle, "r+b")
        raw.room = room
        made.append(io.BufferedRandom(raw))
        return made[-1]

    rules = rewardrules.load(RULES)
    events = _events(600, 2)
    monkeypatch.setattr(order, "RECORD_RUN", 50)
    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    with pytest.raises(ScratchError, match=r"cannot write the scratch file.*No space left"):
        _bytes(rules, events)
    monkeypatch.setattr(order, "RUN", 50)
    with pytest.raises(ScratchError, match=r"cannot write the scratch file.*No space left"):
        _bytes(rules, [json.dumps(event) for event in events], stream=True)
    assert len(made) == 2 and all(handle.closed and handle.raw.closed for handle in made)


_CLI = """
import resource, sys
from rewardrules.ledger import order
order.RECORD_RUN = order.RUN = 20
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # Python ignores SIGXFSZ: writes fail with EFBIG
from rewardrules.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _cli(limit: int, *args: str, stdin: bytes | None = None, seed: str = "0") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONHASHSEED": seed}
    return subprocess.run(
        [sys.executable, "-c", _CLI, str(limit), *args], input=stdin, capture_output=True, env=env, timeout=120
    )


@pytest.mark.parametrize("stream", [False, True])
def test_the_command_line_tells_a_scratch_file_past_the_size_limit(tmp_path: Path, stream: bool) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in _events(300, 1)))
    done = _cli(3_000, "score", str(RULES), str(path), *(["--stream"] if stream else []))
    assert done.returncode != 0 and done.stdout == b""
    assert b"cannot write the scratch file that puts the ledger in order" in done.stderr
    assert b"Traceback" not in done.stderr and b"cannot read" not in done.stderr


def test_stdin_in_runs_under_two_hash_seeds_gives_the_bytes_of_a_path(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in _events(300, 6)))
    expected = _bytes(rewardrules.load(RULES), path)
    for seed in ("0", "1"):
        done = _cli(0, "score", str(RULES), "-", "--format", "json", stdin=path.read_bytes(), seed=seed)
        assert done.returncode == 0, done.stderr
        assert done.stdout == expected


def test_the_scratch_file_has_no_name_and_is_closed_when_the_engine_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing in the temporary directory while it is used (so a SIGTERM
    or a kill leaves nothing behind), and the file closed on an error
    raised inside the engine."""
    made: list[Any] = []
    real = tempfile.TemporaryFile

    def watched(*args: Any, **kwargs: Any) -> Any:
        made.append(real(*args, **kwargs))
        return made[-1]

    seen: list[list[str]] = []
    plain = engine_module.Engine._event

    def failing(self: Any, ev: Any) -> Any:
        seen.append(os.listdir(tmp_path))
        if len(seen) == 100:
            raise RuntimeError("inside the engine")
        return plain(self, ev)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(tempfile, "TemporaryFile", watched)
    monkeypatch.setattr(engine_module.Engine, "_event", failing)
    monkeypatch.setattr(engine_module.Engine, "process", failing)
    monkeypatch.setattr(order, "RECORD_RUN", 30)
    with pytest.raises(RuntimeError, match="inside the engine"):
        rewardrules.load(RULES).score(_events(300, 3))
    assert len(made) == 1 and made[0].closed
    assert seen and all(listing == [] for listing in seen)


TEXTS = ["0", "-0", "0.00", "-0.00", "1.0", "1.00", "1E+2", "100", "-1.50", "0E-30", "1E+30", "9" * 30, "0." + "1" * 29]


def test_decimals_read_back_keep_their_exact_text_whatever_the_context(tmp_path: Path) -> None:
    records = [(n, f"e{n}", "t", "x", None, Decimal(text)) for n, text in enumerate(TEXTS * 2)]
    with decimal.localcontext() as context:
        context.prec = 3
        context.capitals = 0  # str() then writes 1e+2: read back, the same value and exponent
        context.traps[decimal.Inexact] = True
        with SortedRecords(run=4) as kept:
            for record in records:
                kept.append(record)
            got = list(kept.ordered())
    assert [str(record[5]) for record in got] == [str(record[5]) for record in records]
    assert [record[5].as_tuple() for record in got] == [record[5].as_tuple() for record in records]
    assert all(type(record[5]) is Decimal for record in got)


def test_a_run_pickles_only_plain_values() -> None:
    """The scratch runs hold tuples of str, int, bool, None and Decimal (by
    its text through `order._decimal`): nothing else is named in them."""
    scratch = io.BytesIO()
    records = [(1, "e1", "t", "x", None, Decimal("1.50"), True, 7)]
    order._spill(scratch, records, None, order._RECORD_PICKLES)
    names = {arg for opcode, arg, _ in pickletools.genops(scratch.getvalue()) if opcode.name == "SHORT_BINUNICODE"}
    assert {"rewardrules.ledger.order", "_decimal"} <= names
    scratch.seek(0)
    assert pickle.load(scratch) == records


def test_settled_in_runs_gives_the_bytes_of_one_sort(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = rewardrules.load(RULES)
    events = _events(500, 12)
    instants = sorted({event["at"] for event in events})
    paid = rules.score(events, as_of=instants[len(instants) // 2]).data
    expected = _bytes(rules, events, settled=paid)
    monkeypatch.setattr(order, "RECORD_RUN", 7)
    assert _bytes(rules, events, settled=paid) == expected
