"""The Python path's batch memory (issue 19, goal 3): a ledger file's
duplicate-id check keeps a digest of each line, not its text, and decides
exactly as before (`ledger.again`); repeated amounts share one Decimal;
the engine drops each record once processed.

The reference for "as before" is the same ledger given as a list of lines,
whose check still keeps each line (a list holds them anyway)."""

from __future__ import annotations

import io
import json
import os
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules import LedgerError
from rewardrules.ledger.again import DIGEST_BYTES, LedgerFile, LineDigests
from rewardrules.ledger.fast import KNOWN_NUMBERS, _numbers
from rewardrules.score.engine import Engine, run

from .conftest import RULESETS

REFERRAL = (
    '{"id":"r1","at":"2026-01-02T00:00:00Z","type":"referral","referrer":"acme","referee":"corp","source":"partner"}'
)
PAYMENT = '{"id":"c1","at":"2026-02-01T00:00:00Z","type":"payment","referee":"corp","amount":"100.00"}'


@cache
def program() -> rewardrules.Program:
    return rewardrules.load(RULESETS / "partner_and_customer.rules")


def outcome(ledger: Any) -> tuple[str, Any]:
    """What scoring gives: the result's JSON, or the problems and the path."""
    try:
        return "ok", program().score(ledger).to_json()
    except LedgerError as error:
        return "refused", [(p.line, p.field, p.message, p.hint) for p in error.problems]


def written(tmp_path: Path, lines: list[str], name: str = "ledger.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
    return path


def reordered(line: str, separators: tuple[str, str] = (", ", " : ")) -> str:
    """The same JSON object, keys in reverse order and other spacing."""
    return json.dumps(dict(reversed(json.loads(line).items())), separators=separators)


def test_exact_duplicate_lines_of_a_file_count_once(tmp_path: Path) -> None:
    lines = [REFERRAL, PAYMENT, PAYMENT, REFERRAL, PAYMENT]
    assert outcome(written(tmp_path, lines)) == outcome(lines) == outcome([REFERRAL, PAYMENT])


def test_a_repeat_in_other_bytes_with_equal_content_is_a_duplicate(tmp_path: Path) -> None:
    # key order, spacing, 100.00 as a number and as 1.0E2 differ in bytes,
    # not in content: the lines are read again and compared as before
    same = [reordered(PAYMENT), PAYMENT.replace('"100.00"', '"100.00"   ')]
    lines = [REFERRAL, PAYMENT, *same]
    assert outcome(written(tmp_path, lines)) == outcome(lines) == outcome([REFERRAL, PAYMENT])
    numbers = [
        PAYMENT.replace('"100.00"', "15"),
        PAYMENT.replace('"100.00"', "15.0"),
        PAYMENT.replace('"100.00"', "1.5E1"),
    ]
    lines = [REFERRAL, *numbers]
    assert outcome(written(tmp_path, lines, "numbers.jsonl")) == outcome(lines)


def test_a_repeat_with_other_content_is_refused_as_before(tmp_path: Path) -> None:
    other = PAYMENT.replace('"100.00"', '"100.01"')
    lines = [REFERRAL, "", PAYMENT, reordered(other), PAYMENT, other]
    found = outcome(written(tmp_path, lines))
    assert found == outcome(lines)
    assert found[0] == "refused"
    assert [(line, field) for line, field, _, _ in found[1]] == [(4, "id"), (6, "id")]
    assert found[1][0][2] == "id `c1` is already used on line 3 with different content"
    # a number is not a string, nor `true` a number: other content
    for value in ('"15"', "true"):
        lines = [REFERRAL, PAYMENT.replace('"100.00"', "15"), PAYMENT.replace('"100.00"', value)]
        assert outcome(written(tmp_path, lines, "kinds.jsonl")) == outcome(lines)
        assert outcome(lines)[0] == "refused"


def test_an_open_file_and_standard_input_alike(tmp_path: Path) -> None:
    other = PAYMENT.replace('"100.00"', '"100.01"')
    for lines in ([REFERRAL, PAYMENT, reordered(PAYMENT)], [REFERRAL, PAYMENT, other]):
        path = written(tmp_path, lines)
        with open(path, "rb") as handle:
            handle.readline()  # read again from where it was when scoring began
            assert outcome(handle) == outcome(lines[1:])
        assert outcome(io.BytesIO(path.read_bytes())) == outcome(lines)


class _Pipe(io.RawIOBase):
    """A stream that cannot seek, as a pipe: its lines are kept as before."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._data.readinto(buffer)


def test_a_stream_that_cannot_seek_keeps_its_lines(tmp_path: Path) -> None:
    for lines in ([REFERRAL, PAYMENT, reordered(PAYMENT)], [REFERRAL, PAYMENT, PAYMENT.replace("100.00", "1")]):
        pipe = io.BufferedReader(_Pipe(written(tmp_path, lines).read_bytes()))
        assert not LedgerFile(handle=pipe).rereadable
        assert outcome(pipe) == outcome(lines)


class _Changing(io.BytesIO):
    """A file whose bytes are rewritten once it has been read through."""

    def __init__(self, first: bytes, then: bytes) -> None:
        super().__init__(first)
        self._then = then

    def seek(self, offset: int, whence: int = 0) -> int:
        if self.tell() > 0 and self._then:
            self.__init__(self._then, b"")  # type: ignore[misc]
        return super().seek(offset, whence)


def test_a_file_that_changes_between_the_readings_is_refused() -> None:
    # read first, line 3 repeats line 2's id in other bytes; read again, it
    # would be the same content: the digests tell the file changed
    other = PAYMENT.replace('"100.00"', '"100.01"')
    first = "\n".join([REFERRAL, PAYMENT, reordered(other)]).encode()
    then = "\n".join([REFERRAL, PAYMENT, reordered(PAYMENT)]).encode()
    with pytest.raises(OSError, match=r"it changed while it was read \(line 3 is not what it was\)"):
        program().score(_Changing(first, then))
    # a line gone is a change too
    with pytest.raises(OSError, match=r"line 3 is not what it was"):
        program().score(_Changing(first, "\n".join([REFERRAL, PAYMENT, ""]).encode()))


def test_the_command_reports_a_file_changed_while_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rewardrules.cli import main as cli

    other = PAYMENT.replace('"100.00"', '"100.01"')
    path = written(tmp_path, [REFERRAL, PAYMENT, reordered(other)])
    again = LedgerFile.again

    def rewritten(self: LedgerFile, numbers: Any) -> dict[int, Any]:
        path.write_bytes("\n".join([REFERRAL, PAYMENT, reordered(PAYMENT)]).encode())
        return again(self, numbers)

    monkeypatch.setattr(LedgerFile, "again", rewritten)
    ruleset = str(RULESETS / "partner_and_customer.rules")
    assert cli(["score", ruleset, str(path), "--format", "json"]) == 2
    assert "it changed while it was read (line 3 is not what it was)" in capsys.readouterr().err


def test_digests_are_keyed_per_read_and_packed() -> None:
    one, two = LineDigests(), LineDigests()
    lines = [PAYMENT.encode(), PAYMENT.encode() + b" ", PAYMENT]
    for line in lines:
        one.add(line)
        two.add(line)
    assert len(one.of(b"x")) == DIGEST_BYTES
    assert one.at(1) != one.at(2)  # one byte apart
    assert one.at(1) == one.at(3) == one.of(PAYMENT.encode())  # text as its UTF-8 bytes
    assert one.at(1) != two.at(1)  # another key: a writer cannot aim at a collision
    assert one.of({"id": 1}) == bytes(DIGEST_BYTES)


_EVENT = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["c1", "c2", "r1"]),
        "amount": st.sampled_from(['"100.00"', '"100.01"', "100", "100.0", "1E2", '"100"', "true"]),
        "order": st.booleans(),
        "spaced": st.booleans(),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(_EVENT, min_size=1, max_size=8), blank=st.booleans())
def test_a_file_decides_repeats_as_a_list_of_lines(tmp_path: Path, events: list[dict[str, Any]], blank: bool) -> None:
    lines = [REFERRAL] + ([""] if blank else [])
    for event in events:
        line = PAYMENT.replace('"c1"', json.dumps(event["id"])).replace('"100.00"', event["amount"])
        if event["order"]:
            line = reordered(line, (", ", ": ") if event["spaced"] else (",", ":"))
        lines.append(line)
    assert outcome(written(tmp_path, lines, "random.jsonl")) == outcome(lines)


def test_repeated_amounts_share_a_value_and_keep_their_exponent() -> None:
    known, number = _numbers()
    assert number("100.00") == Decimal("100.00") and str(number("100.00")) == "100.00"
    assert str(known("100.00")) == "100.00" and known("100.00") is known("100.00")
    assert str(number("100")) == "100" and known("100.0") is None
    assert not isinstance(number("1e2"), Decimal) and known("1e2") is None  # not a decimal text: left to the rest
    for n in range(KNOWN_NUMBERS + 10):
        assert number(f"{n}.5") == Decimal(n) + Decimal("0.5")
    assert known(f"{KNOWN_NUMBERS + 5}.5") is None  # bounded: past the limit, converted and not kept
    lines = [REFERRAL, PAYMENT, PAYMENT.replace('"c1"', '"c2"').replace('"100.00"', '"100.0"')]
    result = program().score(lines)
    assert [a.amount for a in result.awards if a.milestone == "partner_commission"] == ["15.00", "15.00"]


def test_run_drops_each_record_once_processed() -> None:
    compiled = program().compiled
    records, _ = program()._read([REFERRAL, PAYMENT], "<ledger>")
    engine = Engine(compiled, None)
    run(engine, records)
    assert records == []


def test_a_missing_file_is_still_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        program().score(str(tmp_path / "missing.jsonl"))
    assert not os.path.exists(tmp_path / "missing.jsonl")


def test_only_a_batch_read_digests_its_lines(tmp_path: Path) -> None:
    # a stream reads each line once: it keeps no digest (its memory stays flat)
    lines = [REFERRAL, PAYMENT, reordered(PAYMENT)]
    path = written(tmp_path, lines)
    plain = LedgerFile(path)
    assert len(list(plain)) == 3 and plain.digests.at(1) == b""
    digested = LedgerFile(path)
    assert len(list(digested.digested())) == 3 and digested.rereadable
    assert digested.digests.at(3) == digested.digests.of(path.read_bytes().splitlines(keepends=True)[2])
    assert program().score_stream(str(path)).to_json() == outcome(lines)[1]
