"""Review of the Python path's CPU work (h-py-cpu): the ledger read a block
at a time and decoded a list at a time, the result written by orjson where
it is installed, the reward ranks counted once per milestone, the totals
found by one look-up.

Each test holds the new code to the contract the old one kept, taken from
code this change left alone: reading a line at a time is
`LedgerFile.digested` and `decode.kept_lines` (what `Program._read` read
before), writing is msgspec's bytes (`jsonout.pretty` without orjson), a
rank is the count of the rewards of its role before it, and a total is
`Totals` as it was (copied below)."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.core import jsonout, limits
from rewardrules.core.units import is_additive
from rewardrules.ledger import again, decode
from rewardrules.ledger.again import LedgerFile
from rewardrules.ledger.decode import kept_blocks, kept_lines
from rewardrules.ledger.events import LedgerError
from rewardrules.score.result import Totals

RULES = """\
ruleset review_pycpu "ranks and totals"

event referral { source: optional text }
event payment { amount: money USD }

program first "First" {
  eligible when referral.source == "a"

  milestone paid "Paid" {
    first payment where payment.amount > 0
    reward referrer cash 10 USD
    reward referee credit 5 USD
    reward referrer credit 3 USD
    reward referrer discount 10 percent
    reward referee cash 2 USD
    reward referrer cash 10% of payment.amount
  }
}

program second "Second" {
  eligible when referral.source == "b"

  milestone each "Each payment" {
    each payment within 365 days
    reward referrer cash 1 USD
    reward referrer cash 2 USD
    reward referee discount 5 percent
    reward referee discount 5 percent
  }
}
"""


def _program(tmp_path: Path) -> Any:
    rules = tmp_path / "review.rules"
    rules.write_text(RULES, encoding="utf-8")
    return rewardrules.load(rules)


def _event(n: int, kind: str, **fields: Any) -> bytes:
    hour = 0 if kind == "referral" else 12  # a payment after its referral
    base = {"id": f"{kind[:3]}-{n}", "at": f"2026-01-{1 + n % 28:02d}T{hour:02d}:00:00Z", "type": kind}
    return json.dumps({**base, **fields}).encode() + b"\n"


def _ledger_lines(count: int) -> list[bytes]:
    lines = []
    for n in range(count):
        source = "ab"[n % 2]
        lines.append(_event(n, "referral", referrer=f"r{n % 5}", referee=f"c{n}", source=source))
        lines.append(_event(n, "payment", referee=f"c{n}", amount=f"{n % 7}5.50"))
    return lines


# --- reading: a list of lines decoded as a line at a time decodes them ---


def _plain(value: Any) -> Any:
    fields = getattr(value, "__dict__", None)
    return (type(value).__name__, sorted(fields.items())) if fields is not None else value


def _one_by_one(lines: list[bytes]) -> list[tuple[int, Any, Any]]:
    return [(n, _plain(v), k) for n, v, k in kept_lines(lines, keep=False)]


def _by_list(lines: list[bytes]) -> list[tuple[int, Any, Any]]:
    return [(n, _plain(v), k) for n, v, k in kept_blocks([lines])]


def test_a_list_of_nested_events_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each event has a nested object and a list: three brackets a line, so
    # a list of hundreds is past the whole list's bound (the sum less one
    # per object). Every line is within the limit all the same, and
    # `kept_lines` would decode each once: the list must not decode each
    # line twice (first by the list's `map`, then again line by line), which
    # made reading such a ledger about 1.6 times slower than a line at a time.
    calls = []
    fast = decode._FAST_DECODE
    assert fast is not None

    def counted(raw: bytes) -> Any:
        calls.append(raw)
        return fast(raw)

    lines = [b'{"id":"e%d","meta":{"tags":["a","b"]},"t":"[x]"}\n' % n for n in range(300)]
    expected = _one_by_one(lines)
    monkeypatch.setattr(decode, "_FAST_DECODE", counted)
    assert _by_list(lines) == expected
    assert len(calls) == len(lines)


def test_a_deep_line_among_nested_ones_is_refused_at_its_number() -> None:
    lines = [b'{"id":"e%d","meta":{"tags":["a"]}}\n' % n for n in range(100)]
    lines[57] = b'{"id":"deep","v":' + b"[" * 40 + b"]" * 40 + b"}\n"
    got = _by_list(lines)
    assert got == _one_by_one(lines)
    assert [n for n, v, _ in got if type(v).__name__ == "LedgerProblem"] == [58]


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(alphabet='{[]}ab"\\é', max_size=6),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet="k{[", max_size=3), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_VALUES, min_size=1, max_size=12), st.integers(min_value=1, max_value=6))
def test_drawn_lines_decode_in_a_list_as_one_by_one(values: list[Any], nesting: int) -> None:
    # a small nesting limit, so that lists cross the bound and lines the
    # limit often, with brackets in text and keys and non-object lines
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(limits, "MAX_LEDGER_NESTING", nesting)
        lines = [json.dumps(v, ensure_ascii=False).encode() + b"\n" for v in values]
        assert _by_list(lines) == _one_by_one(lines)


# --- reading a file: `Program._read` against reading a line at a time ---


def _old_read(program: Any, path: Path) -> Any:
    """What `Program._read` did for a file before: `digested` lines, each
    decoded by `kept_lines`, duplicates decided by the digests and the
    lines read again."""
    ledger = LedgerFile(path)
    reader = program._reader()
    try:
        return reader.read_all(kept_lines(ledger.digested(), keep=False), again=(ledger.digests, ledger.again))
    except LedgerError as error:
        return [(p.line, p.field, p.message, p.hint) for p in error.problems]


def _new_read(program: Any, path: Path) -> Any:
    try:
        return program._read(LedgerFile(path), str(path))
    except LedgerError as error:
        return [(p.line, p.field, p.message, p.hint) for p in error.problems]


def _files() -> dict[str, bytes]:
    lines = _ledger_lines(12)
    body = b"".join(lines)
    reordered = json.dumps(dict(reversed(list(json.loads(lines[3]).items())))).encode() + b"\n"
    conflict = lines[5].replace(b"5.50", b"9.50")
    long_line = b'{"id":"long","x":"' + b"q" * 300 + b'"}\n'
    return {
        "plain": body,
        "crlf": b"".join(line[:-1] + b"\r\n" for line in lines),
        "lone_cr": body + b'{"id":"x"}\r{"id":"y"}\n',
        "bom": b"\xef\xbb\xbf" + body,
        "bom_on_line_2": lines[0] + b"\xef\xbb\xbf" + b"".join(lines[1:]),
        "blank_lines": b"\n".join(lines) + b"\n \t\n",
        "no_last_line_break": body[:-1],
        "nul": body + b'{"id":"n\x00"}\n',
        "invalid_utf8": body + b'{"id":"\xe2\x82"}\n' + body,
        "same_bytes_again": body + lines[3] + lines[0],
        "same_content_other_bytes": body + reordered,
        "conflict": body + conflict,
        "too_long_inside": body + long_line + lines[3],
        "too_long_at_the_end": body + long_line[:-1],
        "at_the_limit": body + b'{"id":"w","x":"' + b"q" * 182 + b'"}\n' + lines[0],  # 200 bytes
        "one_past_the_limit": body + b'{"id":"w","x":"' + b"q" * 183 + b'"}\n' + lines[0],
        "deep": body + b'{"id":"d","v":' + b"[" * 40 + b"]" * 40 + b"}\n",
        "empty": b"",
        "blank_only": b"\n\n",
    }


@pytest.mark.parametrize("block", [1, 97, 1 << 20])
@pytest.mark.parametrize("name", sorted(_files()))
def test_a_file_reads_as_a_line_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, name: str
) -> None:
    # small blocks and a small line limit: lines end on, before and after
    # a block's end, and a line past the limit spans blocks
    monkeypatch.setattr(again, "BLOCK_BYTES", block)
    monkeypatch.setattr(limits, "MAX_LEDGER_LINE_BYTES", 200)
    program = _program(tmp_path)
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(_files()[name])
    assert repr(_new_read(program, path)) == repr(_old_read(program, path))


def test_a_file_changed_before_its_lines_are_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a repeated id with other bytes is read again from the file: a file
    # changed meanwhile is refused, as reading a line at a time refused it
    monkeypatch.setattr(again, "BLOCK_BYTES", 64)
    program = _program(tmp_path)
    lines = _ledger_lines(6)
    reordered = json.dumps(dict(reversed(list(json.loads(lines[1]).items())))).encode() + b"\n"
    path = tmp_path / "ledger.jsonl"
    original = again.LedgerFile.again
    errors = []
    for read in (_old_read, _new_read):
        path.write_bytes(b"".join(lines) + reordered)

        def changed(self: LedgerFile, numbers: Any) -> dict[int, Any]:
            path.write_bytes(b"".join(lines[:1]) + b'{"id":"other"}\n' + b"".join(lines[2:]) + reordered)
            return original(self, numbers)

        monkeypatch.setattr(again.LedgerFile, "again", changed)
        with pytest.raises(OSError) as error:
            read(program, path)
        errors.append(str(error.value))
    assert errors[0] == errors[1] and "line 2 is not what it was" in errors[0]


def test_an_open_file_and_a_list_of_lines_score_alike(tmp_path: Path) -> None:
    program = _program(tmp_path)
    data = b"".join(_ledger_lines(30))
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(data)
    by_path = program.score(path).to_json()
    with path.open("rb") as handle:
        by_handle = program.score(handle).to_json()
    assert by_path == by_handle == program.score(data.splitlines()).to_json()


def test_an_open_file_is_handed_on_in_lists_of_bounded_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # a list is decoded whole: sixty-four lines of the line limit each were
    # held and decoded together (1.6 GB for lines of `{}` arrays, where a
    # line at a time took 110 MB); a list holds about a block of text
    monkeypatch.setattr(again, "BLOCK_BYTES", 250)
    lines = [b'{"id":"%03d","x":"%s"}\n' % (n, b"y" * 80) for n in range(40)]
    ledger = LedgerFile(handle=io.BytesIO(b"".join(lines)))
    lists = list(ledger.digested_blocks())
    assert [line for part in lists for line in part] == lines
    assert all(sum(map(len, part[:-1])) < 250 for part in lists)
    assert max(map(len, lists)) == 3


# --- writing: orjson's bytes are msgspec's and `json`'s ---


def _all_writers(value: Any, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    written = [jsonout.pretty(value)]
    with monkeypatch.context() as patch:
        patch.setattr(jsonout, "_PRETTY", None)
        written.append(jsonout.pretty(value))
        patch.setattr(jsonout, "_ENCODE", None)
        written.append(jsonout.pretty(value))
    return written


def test_a_scored_result_is_the_same_bytes_with_or_without_orjson(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = _program(tmp_path)
    names = ["é", "\u2028", "😀", 'q"uote', "back\\slash", "\x01ctl", "\x7f", "\ufeff", "a" * 40]
    lines = []
    for n, name in enumerate(names):
        lines.append(_event(n, "referral", referrer=f"r{name}", referee=f"c{name}", source="ab"[n % 2]))
        lines.append(_event(n, "payment", referee=f"c{name}", amount="1234567890123.45"))
    result = program.score(lines)
    assert result.data["awards"]
    data = result.data
    written = _all_writers(data, monkeypatch)
    assert written[0] == written[1] == written[2]
    streamed = []
    jsonout.write_pretty(data, streamed.append)
    with monkeypatch.context() as patch:
        patch.setattr(jsonout, "_PRETTY", None)
        plain: list[bytes] = []
        jsonout.write_pretty(data, plain.append)
    assert b"".join(streamed) == b"".join(plain) == written[2] + b"\n"


@pytest.mark.parametrize(
    "value",
    [
        {"n": [0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 10**40]},
        {"deep": json.loads("[" * 300 + "]" * 300)},  # past orjson's depth: msgspec writes it
        {"keys": {2: "a", 2.5: "b", True: "c", None: "d"}},
        {"empty": [{}, [], {"a": []}], "text": "".join(map(chr, range(0x20))) + "\u0085\u00a0"},
        # orjson writes `+00:00` where msgspec writes `Z`: left to msgspec
        {"at": [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, 2, 3, 4), date(2026, 1, 2)]},
    ],
)
def test_values_orjson_refuses_or_writes_are_msgspecs_bytes(monkeypatch: pytest.MonkeyPatch, value: Any) -> None:
    if "at" in value:  # (`json` writes no dates)
        orjsons = jsonout.pretty(value)
        monkeypatch.setattr(jsonout, "_PRETTY", None)
        assert orjsons == jsonout.pretty(value)
        return
    written = _all_writers(value, monkeypatch)
    assert written[0] == written[1] == written[2]


# --- ranks and totals ---


def test_each_reward_of_a_role_has_its_rank_and_its_own_id(tmp_path: Path) -> None:
    program = _program(tmp_path)
    ranks = {m.info.name: m.ranks for m in program.compiled.milestones}
    assert ranks == {"paid": (1, 1, 2, 3, 2, 4), "each": (1, 2, 1, 2)}
    result = program.score([line.decode() for line in _ledger_lines(20)])
    ids = [award["id"] for award in result.data["awards"]]
    assert len(ids) == len(set(ids)) == 100
    # the ids the ranks counted per award gave, before this change (award
    # ids are what an app pays by: they never change)
    assert hashlib.sha256("\n".join(ids).encode()).hexdigest() == (
        "0103dade71a138d786f6157cfa8033021ea59f5af8ecf9de60b14bb90f98f3e5"
    )


def _old_totals(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """`Totals` as it was before this change: each amount text parsed once,
    then its sum found by (unit, kind, status, rate)."""
    parsed: dict[str, Decimal] = {}
    sums: dict[tuple[str, str, str, Decimal], list[Any]] = {}
    for award in records:
        text = award["amount"]
        value = parsed.get(text)
        if value is None:
            value = parsed[text] = Decimal(text)
        unit = award["unit"]
        rate = Decimal(0) if is_additive(unit) else value
        entry = sums.setdefault((unit, award["kind"], award["status"], rate), [Decimal(0), 0])
        entry[0] += value
        entry[1] += 1
    return [(*key, str(key[3]), str(total), count) for key, (total, count) in sorted(sums.items())]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["5", "5.0", "5.00", "0.10", "0.1", "1E+1", "10", "-3.5"]),
            st.sampled_from(["USD", "EUR", "percent", "item", "months"]),
            st.sampled_from(["cash", "credit", "discount"]),
            st.sampled_from(["confirmed", "pending", "reversed", "voided"]),
        ),
        max_size=40,
    )
)
def test_totals_add_up_as_before(records: list[tuple[str, str, str, str]]) -> None:
    awards = [{"amount": a, "unit": u, "kind": k, "status": s, "id": str(n)} for n, (a, u, k, s) in enumerate(records)]
    totals = Totals()
    for award in awards:
        totals.add(award)
    got = [(*key, str(key[3]), str(total), count) for key, (total, count) in sorted(totals.sums.items())]
    assert got == _old_totals(awards)


def test_totals_of_one_rate_written_alike() -> None:
    # "5.0" and "5.00" percent are one rate: one entry, counted three times
    totals = Totals()
    for amount in ("5.0", "5.00", "5.0"):
        totals.add({"amount": amount, "unit": "percent", "kind": "discount", "status": "confirmed"})
    assert [e["count"] for e in totals.entries()] == [3]


@pytest.mark.parametrize(
    "run",
    [
        [{}, [], {"a": []}],
        [1, "a", None, {"x": [1, {"y": []}]}, "\u2028é\x01"],
        [2**70, {"k": 1}],  # orjson refuses: msgspec writes it
        [{1: 2}],  # a key that is not text: `json` writes it
        [json.loads("[" * 254 + "]" * 254)],  # at orjson's depth once nested: msgspec writes it
    ],
)
def test_a_run_of_items_is_the_run_indented_at_depth_one(monkeypatch: pytest.MonkeyPatch, run: list[Any]) -> None:
    expected = jsonout.pretty(run, 1)[1 : -jsonout._CLOSE]
    assert expected.startswith(b"\n    ")
    assert jsonout._run_piece(run) == expected
    monkeypatch.setattr(jsonout, "_PRETTY", None)
    assert jsonout._run_piece(run) == expected
