"""A batch's records kept sorted on disk a run at a time
(`ledger.order.SortedRecords`): whatever the size of a run, the bytes of
the result are those of the records sorted in memory; the as-of, the
duplicate-id refusal and bad-line errors hold as before; the scratch file
is gone afterwards; a scratch file that cannot be made is said as such."""

from __future__ import annotations

import io
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules.ledger import order
from rewardrules.ledger.events import LedgerError, sort_records
from rewardrules.ledger.idlog import ScratchError
from rewardrules.ledger.order import SortedRecords

from .conftest import GOLDEN, RULESETS
from .test_python_memory_path import generated_events, program


def _bytes(rules: rewardrules.Program, ledger: Any, **options: Any) -> bytes:
    out = io.BytesIO()
    rules.score_written(ledger, **options).write_json(out)
    return out.getvalue()


def _lines(count: int, seed: int) -> list[str]:
    lines = [json.dumps(event) for event in generated_events(count, seed)]
    random.Random(seed).shuffle(lines)  # out of ledger order, as a writer may leave them
    return lines


def _file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "ledger.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("run", [1, 7, 256, 1000])
@pytest.mark.parametrize("seed", [3, 11])
def test_runs_on_disk_give_the_bytes_of_one_sort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: int, seed: int
) -> None:
    rules = rewardrules.load(RULESETS / "saas_milestones.rules")
    path = _file(tmp_path, _lines(3000, seed))
    in_memory = _bytes(rules, path)
    as_of = "2026-05-01T00:00:00Z"
    in_memory_as_of = _bytes(rules, path, as_of=as_of)
    monkeypatch.setattr(order, "RECORD_RUN", run)
    assert _bytes(rules, path) == in_memory
    assert _bytes(rules, path, as_of=as_of) == in_memory_as_of
    assert _bytes(rules, [line.encode() for line in path.read_text().splitlines()]) == in_memory


@pytest.mark.parametrize("ledger", sorted(GOLDEN.glob("*/*.jsonl"))[:40], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden_ledgers_in_runs_of_two(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = program(ledger.parent)
    try:
        expected = _bytes(rules, ledger)
    except (LedgerError, rewardrules.AwardLimitError) as error:
        monkeypatch.setattr(order, "RECORD_RUN", 2)
        with pytest.raises(type(error)) as again:
            _bytes(rules, ledger)
        assert str(again.value) == str(error)
        return
    monkeypatch.setattr(order, "RECORD_RUN", 2)
    assert _bytes(rules, ledger) == expected


def test_the_records_come_back_in_ledger_order_and_the_scratch_file_goes() -> None:
    rng = random.Random(5)
    records = [(rng.randrange(50), f"e{n}", "t", "x", None) for n in range(2000)]
    made: list[Any] = []
    real = tempfile.TemporaryFile

    def watched(*args: Any, **kwargs: Any) -> Any:
        made.append(real(*args, **kwargs))
        return made[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "TemporaryFile", watched)
        with SortedRecords(run=300) as kept:
            for record in records:
                kept.append(record)
            got = list(kept.ordered())
        limited = SortedRecords(run=300)
        for record in records:
            limited.append(record)
        up_to = list(limited.ordered(limit=20))
        limited.close()
    expected = list(records)
    sort_records(expected)
    assert got == expected
    assert up_to == [record for record in expected if record[0] <= 20]
    assert len(made) == 2 and all(handle.closed for handle in made)


def test_one_run_never_touches_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no scratch file for one run")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    kept = SortedRecords(run=10)
    for n in range(10 - 1):
        kept.append((9 - n, f"e{n}"))
    assert kept.ordered() == sorted((9 - n, f"e{n}") for n in range(9))


def test_a_repeated_id_and_a_bad_line_are_refused_as_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = rewardrules.load(RULESETS / "saas_milestones.rules")
    lines = _lines(400, 2)
    first = json.loads(lines[10])
    other = dict(first, at="2026-12-01T00:00:00Z")  # the id again, other content
    lines.insert(300, json.dumps(other))
    lines.insert(350, json.dumps(first))  # an exact repeat: dropped
    lines.insert(120, '{"id": "x1", "at": "not a time", "type": "subscription", "referee": "c"}')
    path = _file(tmp_path, lines)
    with pytest.raises(LedgerError) as in_memory:
        _bytes(rules, path)
    monkeypatch.setattr(order, "RECORD_RUN", 5)
    with pytest.raises(LedgerError) as in_runs:
        _bytes(rules, path)
    assert str(in_runs.value) == str(in_memory.value)
    assert [(p.line, p.field) for p in in_runs.value.problems] == [(121, "at"), (121, "mrr"), (302, "id")]


def test_a_scratch_file_that_cannot_be_made_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    rules = rewardrules.load(RULESETS / "saas_milestones.rules")
    path = _file(tmp_path, _lines(100, 4))
    monkeypatch.setattr(order, "RECORD_RUN", 10)
    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    with pytest.raises(ScratchError, match=r"cannot make a scratch file.*No space left"):
        _bytes(rules, path)


def test_awards_share_equal_values_and_keep_each_exponent() -> None:
    rules = rewardrules.compile(
        'ruleset shared "values shared"\n'
        'event subscription "s" { mrr: money USD }\n'
        'metric mrr "m" = latest subscription.mrr\n'
        'milestone big "big" {\n  when mrr >= 1000 USD\n  reward referrer cash 5 USD\n}\n'
    )
    lines = []
    for n, mrr in enumerate(["1200.00", "1200.00", "1200", "1300.50"]):
        lines.append(
            json.dumps(
                {
                    "id": f"r{n}",
                    "at": "2026-01-01T00:00:00Z",
                    "type": "referral",
                    "referrer": f"a{n}",
                    "referee": f"c{n}",
                }
            )
        )
        lines.append(
            json.dumps(
                {"id": f"s{n}", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": f"c{n}", "mrr": mrr}
            )
        )
    result = rules.score(lines)
    values = [award["why"]["values"]["mrr"] for award in result.data["awards"]]
    assert values == ["1200.00", "1200.00", "1200.00", "1300.50"]  # money is written to the cent
    session = rules.session()
    session.add_many(lines)
    issued = session.engine.state.awards
    assert issued[0].values is issued[1].values  # one tuple for equal values
    assert issued[2].values is not issued[0].values and str(issued[2].values[0]) == "1200"


def test_records_are_merged_whole_and_stop_comparing_at_their_distinct_ids() -> None:
    # Runs merged with no key compare records as tuples: an instant shared
    # by several records, and what follows the id (None beside text, a dict)
    # that could not be compared, are decided by the ids, which never tie.
    records = [(5, f"e{n:02d}", None if n % 2 else "x", {"n": n}) for n in range(40)]
    records += [(n % 3, f"f{n:02d}", None, None) for n in range(40)]
    random.Random(5).shuffle(records)
    with SortedRecords(run=6) as kept:
        for record in records:
            kept.append(record)
        assert list(kept.ordered()) == sorted(records, key=lambda r: (r[0], r[1]))


def test_the_run_left_in_memory_is_dropped_as_it_is_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    # `_drained` gives a list's items in order and drops them a few at a
    # time, so the last run of a batch is not held whole beside the state.
    monkeypatch.setattr(order, "_DRAIN", 2)
    items = list(range(5))
    drained = order._drained(items)
    assert next(drained) == 0
    assert len(items) == 3  # the first two taken off the list
    assert list(drained) == [1, 2, 3, 4]
    assert items == []
