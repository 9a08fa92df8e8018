"""A ledger file read a block at a time (`again.LedgerFile.digested_blocks`)
and its lines decoded a list at a time (`decode.kept_blocks`) give the
lines, digests, values and problems that reading a line at a time gives;
and the per-milestone reward ranks are the ones counted per award before."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.core import limits
from rewardrules.ledger import again
from rewardrules.ledger.again import LedgerFile
from rewardrules.ledger.decode import kept_blocks, kept_lines
from rewardrules.ledger.reading import InputError, read_lines

from .conftest import RULESETS

#: lines that take every way through decoding: plain events, nested ones,
#: braces in text, blank lines, a byte order mark, invalid JSON and UTF-8,
#: an unpaired surrogate escape, numbers msgspec and `json` read alike
LINES = [
    b'{"id":"a","at":"2026-01-01T00:00:00Z","type":"x"}\n',
    b'{"id":"b","v":{"w":[1,2,{"x":null}]}}\n',
    b'{"id":"c","t":"{{{{[[[["}\n',
    b"\n",
    b"   \n",
    b'\xef\xbb\xbf{"id":"bom"}\n',
    b'{"id": \n',
    b'{"id":"\xff"}\n',
    b'{"id":"\\ud800"}\n',
    b'{"n":1.50,"m":-0.0,"k":123456789012345678901234567890}\n',
    b"[1,2,3]\n",
    b'"text"\n',
    b'{"id":"crlf"}\r\n',
    b"[" * 40 + b"]" * 40 + b"\n",
    b'{"a":' * 33 + b"1" + b"}" * 33 + b"\n",
]


def _one_by_one(lines: list[bytes]) -> list[tuple[int, Any, Any]]:
    return [(n, _plain(v), k) for n, v, k in kept_lines(lines, keep=False)]


def _by_blocks(blocks: list[list[bytes]]) -> list[tuple[int, Any, Any]]:
    return [(n, _plain(v), k) for n, v, k in kept_blocks(blocks)]


def _plain(value: Any) -> Any:
    """A problem as its fields (problems compare by identity)."""
    fields = getattr(value, "__dict__", None)
    return (type(value).__name__, sorted(fields.items())) if fields is not None else value


def _split(lines: list[bytes], cuts: list[int]) -> list[list[bytes]]:
    blocks, start = [], 0
    for cut in sorted({c % (len(lines) + 1) for c in cuts} | {len(lines)}):
        if cut > start:
            blocks.append(lines[start:cut])
            start = cut
    return blocks


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(LINES))), min_size=1, max_size=30),
    st.lists(st.integers(min_value=0, max_value=40), max_size=5),
)
def test_blocks_decode_as_lines_do(picked: list[int], cuts: list[int]) -> None:
    lines = [LINES[k] for k in picked]
    assert _by_blocks(_split(lines, cuts)) == _one_by_one(lines)


def test_a_list_of_flat_events_takes_the_block_path() -> None:
    # each line one object with one `{`: the bound holds for the list
    lines = [b'{"id":"%d","at":"2026-01-01T00:00:00Z"}\n' % n for n in range(100)]
    got = list(kept_blocks([lines]))
    assert [n for n, _, _ in got] == list(range(1, 101))
    assert got[5][1] == {"id": "5", "at": "2026-01-01T00:00:00Z"}


def test_a_deep_line_among_flat_ones_is_still_refused() -> None:
    deep = b'{"a":' * 40 + b"1" + b"}" * 40 + b"\n"
    lines = [b'{"id":"%d"}\n' % n for n in range(50)] + [deep]
    got = _by_blocks([lines])
    assert got == _one_by_one(lines)
    assert "nests deeper" in str(got[-1][1])


def _file_lines(path: Path) -> tuple[list[bytes], list[bytes]]:
    """(lines, digests) read by blocks and read a line at a time."""
    ledger = LedgerFile(path)
    by_blocks = [line for block in ledger.digested_blocks() for line in block]
    assert ledger.rereadable
    digests = [ledger.digests.at(n) for n in range(1, len(by_blocks) + 1)]
    with path.open("rb") as handle:
        expected = list(read_lines(handle))
    assert by_blocks == expected
    return by_blocks, digests


@pytest.mark.parametrize("block", [3, 7, 64, 1 << 20])
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"a\nbb\nccc\n",
        b"a\nbb\nccc",  # no line break at the end
        b"\n\n\n",
        b"a\r\nb\rc\n",
        b"x" * 20 + b"\nshort\n",  # too long at once
        b"ok\n" + b"y" * 10 + b"\nafter\n",  # exactly the limit with its line break: too long
        b"ok\n" + b"y" * 9 + b"\nafter\n",  # within the limit
        b"ok\n" + b"z" * 11,  # too long at the end of the file
        b"ok\n" + b"z" * 10,
    ],
)
def test_blocks_read_the_lines_and_digests_of_read_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, content: bytes
) -> None:
    monkeypatch.setattr(limits, "MAX_LEDGER_LINE_BYTES", 10)
    monkeypatch.setattr(again, "BLOCK_BYTES", block)
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(content)
    lines, digests = _file_lines(path)
    # each digest is the one `digested` keeps of its line (keyed per read:
    # compared through the same read's `of`, which `again` checks with)
    keyed = LedgerFile(path)
    seen = [line for block in keyed.digested_blocks() for line in block]
    assert seen == lines and len(digests) == len(lines)
    assert [keyed.digests.at(n) for n in range(1, len(seen) + 1)] == [keyed.digests.of(line) for line in seen]


def test_an_open_file_is_read_in_lists_of_its_lines() -> None:
    handle = io.BytesIO(b'{"id":"a"}\n{"id":"b"}\n')
    ledger = LedgerFile(handle=handle)
    assert [line for block in ledger.digested_blocks() for line in block] == [b'{"id":"a"}\n', b'{"id":"b"}\n']
    assert ledger.rereadable
    assert ledger.digests.at(2) == ledger.digests.of(b'{"id":"b"}\n')


def test_reward_ranks_count_the_rewards_of_each_role_before() -> None:
    import rewardrules

    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "rulesets").glob("*.rules"))
    assert files
    for rules in files:
        program = rewardrules.load(rules)
        for milestone in program.compiled.milestones:
            roles = [reward.info.role for reward in milestone.rewards]
            expected = tuple(1 + roles[:k].count(role) for k, role in enumerate(roles))
            assert milestone.ranks == expected


@pytest.mark.parametrize(
    "value",
    [
        {"awards": [{"id": "aw_1", "amount": "500.00", "why": {"values": {"mrr": "1000.00"}}}], "n": 3},
        {"big": [2**64, -(2**64) - 1, 10**100], "small": [2**63 - 1, -(2**63)]},
        {1: "int key", "x": {True: 1, None: 2}},
        {"text": "".join(chr(c) for c in range(0x80)) + "\u2028\u2029\ufeff😀", "e": [[], {}, [{}]]},
    ],
)
def test_orjson_msgspec_and_json_write_the_same_bytes(monkeypatch: pytest.MonkeyPatch, value: Any) -> None:
    from rewardrules.core import jsonout

    written = [jsonout.pretty(value, 1)]
    monkeypatch.setattr(jsonout, "_PRETTY", None)
    written.append(jsonout.pretty(value, 1))
    monkeypatch.setattr(jsonout, "_ENCODE", None)
    written.append(jsonout.pretty(value, 1))
    assert written[0] == written[1] == written[2]
    with pytest.raises(UnicodeEncodeError):
        jsonout.pretty({"a": "\ud800"})


@pytest.mark.parametrize("mode", ["rb", "r", "path"])
@pytest.mark.parametrize("block", [40, 1 << 20])
def test_repeats_across_lists_decide_as_a_list_of_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, block: int
) -> None:
    # exact repeats, repeats in other bytes and a conflict, their first
    # lines in other lists (small blocks, 64-line lists of an open file,
    # text read from a file opened for text): decided as the lines are
    monkeypatch.setattr(again, "BLOCK_BYTES", block)
    program = rewardrules.load(RULESETS / "saas_milestones.rules")
    lines = [
        b'{"id":"r%d","at":"2026-01-%02dT00:00:00Z","type":"referral","referrer":"p%d","referee":"c%d"}\n'
        % (n, n % 28 + 1, n % 3, n)
        for n in range(150)
    ]
    lines += [
        b'{"id":"s%d","at":"2026-02-01T00:00:00Z","type":"subscription","referee":"c%d","mrr":"%d.00"}\n'
        % (n, n, 500 + n)
        for n in range(150)
    ]
    reordered = b'{"mrr":"510.00","referee":"c10","type":"subscription","at":"2026-02-01T00:00:00Z","id":"s10"}\n'
    repeated = [*lines, lines[3], lines[160], reordered, lines[299]]
    conflicting = [*repeated, lines[170].replace(b'"520.00"', b'"521.00"')]
    for ledger in (repeated, conflicting):
        path = tmp_path / "ledger.jsonl"
        path.write_bytes(b"".join(ledger))
        try:
            expected: Any = program.score([line.decode() for line in ledger]).to_json()
        except rewardrules.LedgerError as error:
            expected = [(p.line, p.message) for p in error.problems]
        try:
            if mode == "path":
                got: Any = program.score(path).to_json()
            else:
                with path.open(mode) as handle:
                    got = program.score(handle).to_json()
        except rewardrules.LedgerError as error:
            got = [(p.line, p.message) for p in error.problems]
        assert got == expected
    assert isinstance(expected, list) and expected[0][0] == len(conflicting)


def test_a_conflict_in_an_open_file_cut_and_restored_while_read_is_not_a_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by review of a digest per list of lines (withdrawn): `readline`
    # gives a partial line at the end of a file at that moment, so a file
    # that grows and is cut and restored between the readings splits the
    # same bytes into other lines. The conflict of `r1` must be refused
    # (here: the file changed), never dropped as a repeat.
    program = rewardrules.load(RULESETS / "saas_milestones.rules")
    path = tmp_path / "race.jsonl"
    first = b'{"id":"s1","at":"2026-06-10T00:00:00Z","type":"signup","referee":"bob"}\n'
    mine = b'{"id":"r1","at":"2026-06-01T00:00:00Z","type":"referral","referrer":"alice","referee":"bob"}\n'
    theirs = b'{"id":"r1","at":"2026-06-01T00:00:00Z","type":"referral","referrer":"mallory","referee":"bob"}'
    calls = 0

    class Racing(io.FileIO):
        """A real file; before some `readline` calls a writer acts on it."""

        def readline(self, size: int | None = -1) -> bytes:
            nonlocal calls
            calls += 1
            if calls == 4:  # the last line is ended, in a second write
                with path.open("ab") as writer:
                    writer.write(b"\n")
            if calls == 6:  # read again: cut in the middle of line 2 ...
                os.truncate(path, len(first) + len(mine) // 2)
            if calls == 8:  # ... and restored
                path.write_bytes(first + mine + theirs + b"\n")
            return super().readline(size)

    path.write_bytes(first + mine + theirs)
    with Racing(path, "rb") as handle, pytest.raises((rewardrules.LedgerError, InputError)):
        program.score(handle)
    assert calls >= 8  # the file was cut and restored while it was read again
