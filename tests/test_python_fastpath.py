"""The Python path's faster pieces give exactly what the pieces before
them give: the result written in runs of items (`core.jsonout`) is the
bytes of `json.dumps(indent=2)`, records are put in ledger order as one
sort of the tuples puts them, and a whole score, with msgspec and without
it (the playground: Pyodide has none, so every line is decoded by `json`
and the result written by `json`), gives the same bytes or the same
problems, on the golden ledgers, odd lines and generated ledgers.

Correctness only: no timing here (the figures are in docs/performance.md).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules import LedgerError
from rewardrules.core import jsonout
from rewardrules.ledger import decode
from rewardrules.ledger.events import sort_records

from .conftest import GOLDEN, RULESETS

CASES = sorted(GOLDEN.glob("*/*.jsonl"))


@cache
def program(name: str) -> rewardrules.Program:
    """A golden folder's program: its own rule file, or the reference one."""
    own = GOLDEN / name / f"{name}.rules"
    return rewardrules.load(own if own.exists() else RULESETS / f"{name}.rules")


@contextmanager
def without_msgspec(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As in the playground: no msgspec at all (decoding and writing)."""
    with monkeypatch.context() as patch:
        patch.setattr(decode, "_FAST_DECODE", None)
        patch.setattr(jsonout, "_ENCODE", None)
        patch.setattr(jsonout, "_FORMAT", None)
        yield


def outcome(prog: rewardrules.Program, lines: list[Any]) -> Any:
    """What reading `lines` gives: (records, latest), or the problems."""
    try:
        return prog._read(lines, "<ledger>")
    except LedgerError as error:
        return [(p.line, p.field, p.message, p.hint) for p in error.problems], str(error)


def scored_bytes(prog: rewardrules.Program, lines: list[bytes], as_of: Any = None, **options: Any) -> Any:
    """The bytes `score --format json` writes for `lines`, or the error."""
    try:
        result = prog.score(lines, as_of=as_of, **options)
    except LedgerError as error:
        return str(error)
    out = io.BytesIO()
    result.write_json(out)
    return out.getvalue()


def _lines(path: Path) -> list[bytes]:
    return [line + b"\n" for line in path.read_bytes().split(b"\n") if line]


@pytest.mark.parametrize("ledger", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_a_golden_ledger_scores_to_the_same_bytes_without_msgspec(
    ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prog = program(ledger.parent.name)
    as_of = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())["as_of"]
    lines = _lines(ledger)
    fast = scored_bytes(prog, lines, as_of)
    brief = scored_bytes(prog, lines, as_of, explain=False)
    assert isinstance(fast, bytes) and b'"awards"' in fast
    with without_msgspec(monkeypatch):
        assert scored_bytes(prog, lines, as_of) == fast
        assert scored_bytes(prog, lines, as_of, explain=False) == brief


#: lines of every kind msgspec and `json` might decide apart: each is read
#: after a valid referral, before it, and first with a byte order mark
ODD_LINES = [
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "10.00", '
    '"note": 1e9999999999999999999}',  # an exponent Decimal refuses, in a field no rule reads
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "10.00", '
    '"n": ' + "7" * 5000 + "}",  # past Python's digits for an int, in a skipped field
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "10.00", '
    '"n": 123456789012345678901234567890}',  # past 64 bits: accepted by both
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "10.00", '
    '"note": "\\ud800"}',  # an unpaired surrogate where no rule reads
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "10.00", '
    '"note": "caf\u00e9"}',
    '{"i\\u0064": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "1.00"}',
    '{"id": "s1", "id": 5, "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "1"}',
    '{"id": 5, "id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "1"}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": 1e3}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": 12.5}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": 99999999999}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "1e3"}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob"}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "", "mrr": "1"}',
    '{"id": "", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "1"}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02", "referee": "bob", "mrr": "1"}',
    '{"id": "s1", "type": "subscription", "at": 5, "referee": "bob", "mrr": "1"}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": 7, "mrr": "1"}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "1", '
    '"currency": "EUR"}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "1", '
    '"currency": "usd"}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "1", '
    '"currency": "USD"}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": [1]}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "1", "x": '
    + "[" * 40
    + "]" * 40
    + "}",
    '{"id": "r1", "type": "referral", "at": "2026-01-01T00:00:00Z", "referrer": "ann", "referee": "bob"}',  # a repeat
    '{"id": "r1", "type": "referral", "at": "2026-01-01T00:00:00Z", "referrer": "ann", "referee": "cat"}',  # conflict
    '{"id": "x1", "type": "unknown", "at": "2026-01-02T00:00:00Z"}',
    '{"id": "x1", "type": "payment", "at": "2026-01-02T00:00:00Z", "referee": "bob", "amount": {"a": 1}}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "1",}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": NaN}',
    '{"id": "s1", "type": "subscription", "at": "2026-01-02T00:00:00Z", "referee": "bob", "mrr": "1"} x',
    "",
    "   ",
    "not json",
    "[]",
    "null",
]

REFERRAL = '{"id": "r1", "type": "referral", "at": "2026-01-01T00:00:00Z", "referrer": "ann", "referee": "bob"}'


@pytest.mark.parametrize("line", ODD_LINES)
def test_an_odd_line_reads_the_same_without_msgspec(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    prog = program("saas_milestones")
    for lines in ([REFERRAL, line], [line, REFERRAL], ["\ufeff" + line, REFERRAL]):
        encoded = [text.encode("utf-8", "surrogatepass") + b"\n" for text in lines]
        fast = outcome(prog, encoded)
        with without_msgspec(monkeypatch):
            assert outcome(prog, encoded) == fast


def test_a_number_no_rule_reads_is_still_refused() -> None:
    """A line's every number is decoded, read by a rule or not."""
    prog = program("saas_milestones")
    for line, message in (
        (ODD_LINES[0], "invalid JSON: the number 1e999999999999999999... is out of range"),
        (ODD_LINES[1], "invalid JSON: a number has too many digits"),
    ):
        problems, _ = outcome(prog, [REFERRAL.encode(), line.encode()])
        assert [(p[0], p[2]) for p in problems] == [(2, message)]


# -- Hypothesis: generated ledgers ------------------------------------------

ids = st.sampled_from(["r1", "r2", "s1", "s2", "p1", "caf\u00e9", "", "x" * 3])
people = st.sampled_from(["ann", "bob", "cat", "b\u00f6b", ""])
stamps = st.sampled_from(
    ["2026-01-01T00:00:00Z", "2026-01-02T10:00:00.5Z", "2026-01-03T00:00:00+02:00", "2026-02-30T00:00:00Z", "x"]
)
amounts = st.one_of(
    st.sampled_from(['"10.00"', '"1e3"', '"-1"', "12.5", "7", "1E+2", "null", '"abc"', "[1]", "1e9999999999999999999"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(lambda d: json.dumps(str(d))),
    st.integers(-(10**25), 10**25).map(str),
)
extras = st.sampled_from(
    ["", ', "note": "hi"', ', "note": "\\ud800"', ', "currency": "EUR"', ', "currency": "USD"', ', "n": 1e5', "x"]
)


@st.composite
def ledger_line(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["referral", "subscription", "payment", "refund", "other"]))
    parts = [f'"id": {json.dumps(draw(ids), ensure_ascii=draw(st.booleans()))}', f'"type": "{kind}"']
    parts.append(f'"at": "{draw(stamps)}"')
    if draw(st.booleans()):
        parts.append(f'"referee": {json.dumps(draw(people), ensure_ascii=draw(st.booleans()))}')
    if kind == "referral" or draw(st.integers(0, 4)) == 0:
        parts.append(f'"referrer": {json.dumps(draw(people))}')
    if kind in ("subscription", "payment", "refund"):
        parts.append(f'"{"mrr" if kind == "subscription" else "amount"}": {draw(amounts)}')
    order = draw(st.permutations(parts))
    text = "{" + ", ".join(order) + draw(extras) + "}"
    return text.encode("utf-8", "surrogatepass") + draw(st.sampled_from([b"\n", b"", b"\r\n"]))


ledgers = st.lists(st.one_of(ledger_line(), st.sampled_from([b"\n", b"not json\n", b"[1]\n"])), max_size=10)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=ledgers, name=st.sampled_from(["saas_milestones", "referral_milestones", "partner_and_customer"]))
def test_a_generated_ledger_scores_to_the_same_bytes_without_msgspec(lines: list[bytes], name: str) -> None:
    prog = program(name)
    fast = scored_bytes(prog, lines)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(decode, "_FAST_DECODE", None)
        patch.setattr(jsonout, "_ENCODE", None)
        patch.setattr(jsonout, "_FORMAT", None)
        assert scored_bytes(prog, lines) == fast


# -- the result written in runs of items -------------------------------------

records = st.dictionaries(
    st.sampled_from(["id", "at", "\u00e9", "why", ""]),
    st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(["", "a\nb", "\u00e9\u001f"]), st.just([])),
    max_size=3,
)
results = st.dictionaries(
    st.sampled_from(["awards", "totals", "ruleset", "referrals"]),
    st.one_of(st.lists(records, max_size=7), st.just("name"), st.just([])),
)


@settings(max_examples=30, deadline=None)
@given(value=results, run=st.integers(1, 4))
def test_a_result_written_in_runs_of_items_is_json_dumps_bytes(value: dict[str, Any], run: int) -> None:
    expected = (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jsonout, "_ITEMS", run)
        pieces: list[bytes] = []
        jsonout.write_pretty(value, pieces.append)
        assert b"".join(pieces) == expected
        patch.setattr(jsonout, "_ENCODE", None)
        patch.setattr(jsonout, "_FORMAT", None)
        pieces.clear()
        jsonout.write_pretty(value, pieces.append)
        assert b"".join(pieces) == expected


def test_a_list_longer_than_a_run_is_written_whole() -> None:
    value = {"awards": [{"id": f"aw_{n}", "n": n, "why": {"values": {}}} for n in range(1000)], "totals": []}
    pieces: list[bytes] = []
    jsonout.write_pretty(value, pieces.append)
    assert b"".join(pieces) == (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode()


# -- ledger order --------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-(2**62), 2**62), st.text(max_size=3), st.integers()), unique_by=lambda r: r[1]
    ).flatmap(st.permutations)
)
def test_records_are_sorted_by_instant_then_id_as_tuples_sort(records: list[tuple[int, str, int]]) -> None:
    """Two sorts on one key each give the order of one sort of the tuples
    (ids are unique, so the tuples never compare past the id)."""
    got = list(records)
    sort_records(got)
    assert got == sorted(records)
