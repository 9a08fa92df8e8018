"""The JSON in C (msgspec) gives exactly what the standard library gave.

Ledger lines are decoded by msgspec with every non-integer number read
from its text as a Decimal (`float_hook`), and whatever it refuses is
decoded again by the exact decoder, the one before it. So for any line,
valid or not, the value or the problem (message, line and field) must be
the exact decoder's: numbers such as 1e400, -0, -0.0, 0.1 and huge
integers, unpaired surrogate escapes, duplicate keys, a byte order mark,
bytes that are not UTF-8. Results are written by msgspec too, and must be
the bytes `json.dumps(ensure_ascii=False, indent=2)` gives.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules import LedgerError
from rewardrules.core.jsonout import pretty, write_pretty
from rewardrules.ledger import decode

from .conftest import RULESETS


def _refuse(text: Any) -> Any:
    raise ValueError("the fast decoder is off")


def typed(value: Any) -> Any:
    """A value with the type of every part in it: `Decimal("1.0")` and
    `Decimal("1.00")`, `1` and `Decimal(1)`, `True` and `1` all differ."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, repr(value))


def read(line: str | bytes, fast: bool) -> list[Any]:
    """What `iter_lines` makes of one line (value and problem), decoded
    with the fast decoder first or with the exact one alone."""
    saved = decode._FAST_DECODE
    if not fast:
        decode._FAST_DECODE = _refuse
    try:
        return [(n, typed(value), problem) for n, value, problem in decode.iter_lines([line])]
    finally:
        decode._FAST_DECODE = saved


NUMBERS = [
    "0",
    "-0",
    "-0.0",
    "0.1",
    "99.90",
    "1e400",
    "-1E-400",
    "1E5",
    "1.5e+10",
    "2.50E-3",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1" + "0" * 60,
    "1" + "0" * 5000,
    "0." + "0" * 50 + "1",
    "1E888888888888888888",
    "01",
    "1.",
    ".5",
    "+1",
    "-",
    "NaN",
    "Infinity",
    "-Infinity",
]

STRINGS = [
    '"plain"',
    '"d\\u00e9j\\u00e0"',
    '"déjà 日本 😀"',
    '"\\ud83d\\ude00"',
    '"\\ud800"',
    '"\\udc00"',
    '"x\\ud800y"',
    '"\\udc00\\ud800"',
    '"\\u0000"',
    '"tab\\tnew\\nline"',
    '"raw\tcontrol"',
    '"\x7f"',
    '"\\"quoted\\\\"',
    '"\\x"',
    '"unterminated',
]


@st.composite
def json_texts(draw: st.DrawFn, depth: int = 2) -> str:
    """JSON texts, most of them valid, with the numbers and strings above,
    text of any Unicode, duplicate keys, odd whitespace and nesting."""
    kind = draw(st.integers(0, 5 if depth > 0 else 3))
    if kind == 0:
        return draw(st.sampled_from(NUMBERS))
    if kind == 1:
        return draw(st.sampled_from(STRINGS))
    if kind == 2:
        text = draw(st.text(max_size=12))
        return json.dumps(text, ensure_ascii=draw(st.booleans()))
    if kind == 3:
        return draw(st.sampled_from(["true", "false", "null", "[]", "{}", "tru", "nul"]))
    if kind == 4:
        items = draw(st.lists(json_texts(depth - 1), max_size=4))
        return "[" + ", ".join(items) + "]"
    keys = draw(st.lists(st.sampled_from(["id", "at", "amount", "a", "é", "\\ud800", "a"]), max_size=5))
    pairs = [f'"{k}":{draw(json_texts(depth - 1))}' for k in keys]
    return "{" + draw(st.sampled_from([",", ", ", " ,\t"])).join(pairs) + "}"


@st.composite
def lines(draw: st.DrawFn) -> str | bytes:
    """One ledger line: an object (or anything), perhaps cut short, with a
    byte order mark, surrounding whitespace or bytes that are not UTF-8."""
    text = draw(json_texts(3))
    if draw(st.booleans()):
        keys = ['"id":"e1"', '"at":"2026-02-01T00:00:00Z"', '"type":"payment"', f'"amount":{text}']
        text = "{" + ",".join(draw(st.permutations(keys))) + "}"
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    text = draw(st.sampled_from(["", " ", "\ufeff", "\t"])) + text + draw(st.sampled_from(["", "\n", " \r\n", "x"]))
    if not draw(st.booleans()):
        return text
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 5)) == 0 and data:
        at = draw(st.integers(0, len(data) - 1))
        data = (
            data[:at] + draw(st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])) + data[at:]
        )
    return data


@settings(max_examples=600, deadline=None)
@given(lines())
def test_the_fast_decoder_reads_every_line_as_the_exact_decoder_does(line: str | bytes) -> None:
    assert read(line, fast=True) == read(line, fast=False)


@pytest.mark.parametrize("number", NUMBERS)
def test_each_number_reads_as_the_exact_decoder_reads_it(number: str) -> None:
    line = '{"id":"e1","at":"2026-02-01T00:00:00Z","type":"payment","amount":' + number + "}"
    for form in (line, line.encode()):
        assert read(form, fast=True) == read(form, fast=False)


def test_decimals_never_pass_through_a_binary_float() -> None:
    (_, value, problem), *_ = decode.iter_lines(
        [b'{"a": 0.1, "b": 1e400, "c": -0.0, "d": 123456789012345678901234567890}']
    )
    assert problem is None
    assert [typed(value[k]) for k in "abcd"] == [
        ("Decimal", "Decimal('0.1')"),
        ("Decimal", "Decimal('1E+400')"),
        ("Decimal", "Decimal('-0.0')"),
        ("int", "123456789012345678901234567890"),
    ]


def test_decode_line_reads_as_the_exact_decoder_does(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ['{"a": 1.10, "a": 2}', '[1E5, -0, "\\udc00"]', b'"\\ud83d\\ude00"', b"[1e400, 0.1]"]
    fast = [typed(decode.decode_line(t)) for t in texts]
    monkeypatch.setattr(decode, "_FAST_DECODE", _refuse)
    assert [typed(decode.decode_line(t)) for t in texts] == fast


BAD_LEDGER = "\n".join(
    [
        '{"id":"r1","at":"2026-02-01T00:00:00Z","type":"referral","referrer":"alice","referee":"bob"}',
        '{"id":"p1","at":"2026-02-02T00:00:00Z","type":"payment","referee":"bob","amount":1e400}',
        '{"id":"p2","at":"2026-02-02T00:00:00Z","type":"payment","referee":"\\ud800","amount":"5"}',
        '{"id":"p3","at":"2026-02-02T00:00:00Z","type":"payment","referee":"bob","amount":NaN}',
        '{"id":"p4","at":"2026-02-02T00:00:00Z","type":"payment","referee":"bob","amount":' + "1" * 5000 + "}",
        '{"id":"p5","at":"2026-02-02T00:00:00Z","type":"payment","referee":"bob","amount":"-0"}',
        '{"id":"p5","at":"2026-02-02T00:00:00Z","type":"payment","referee":"bob","amount":0.1}',
        "[" * 40 + "]" * 40,
    ]
)


def _problems(ledger: str) -> list[tuple[int, str | None, str, str | None]]:
    program = rewardrules.load(RULESETS / "prezi.rules")
    with pytest.raises(LedgerError) as caught:
        program.score(io.BytesIO(ledger.encode("utf-8")))
    return [(p.line, p.field, p.message, p.hint) for p in caught.value.problems]


def test_a_bad_ledger_has_the_same_problems_at_the_same_lines_and_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _problems(BAD_LEDGER)
    monkeypatch.setattr(decode, "_FAST_DECODE", _refuse)
    assert fast == _problems(BAD_LEDGER)
    assert {line for line, *_ in fast} == {2, 3, 4, 5, 7, 8}


def test_a_ledger_scores_to_the_same_bytes_with_either_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    program = rewardrules.load(RULESETS / "prezi.rules")
    ledger = (RULESETS.parent / "examples" / "ledger.jsonl").read_bytes()
    fast = program.score(io.BytesIO(ledger), as_of="2027-01-01T00:00:00Z").to_json()
    monkeypatch.setattr(decode, "_FAST_DECODE", _refuse)
    assert program.score(io.BytesIO(ledger), as_of="2027-01-01T00:00:00Z").to_json() == fast


# -- writing: the bytes of json.dumps(ensure_ascii=False, indent=2)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**80), max_value=10**80) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=30,
)


def standard(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_pretty_is_the_standard_encoders_bytes(value: Any) -> None:
    assert pretty(value) == standard(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values | st.lists(json_values, max_size=5), max_size=5))
def test_written_in_pieces_it_is_the_same_bytes(value: dict[str, Any]) -> None:
    out = io.BytesIO()
    write_pretty(value, out.write)
    assert out.getvalue() == standard(value) + b"\n"


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        {"a": [], "b": {}, "c": [[]], "d": [{}]},
        {1: "int key", "x": {True: 1, None: 2, 2: [3]}},
        {"text": "".join(chr(c) for c in range(0x80)) + "\u2028\u2029\ufeff😀"},
        {"big": [2**64, -(2**64) - 1, 10**100]},
    ],
)
def test_pretty_edge_cases(value: Any) -> None:
    assert pretty(value) == standard(value)
    out = io.BytesIO()
    write_pretty(value, out.write)
    assert out.getvalue() == standard(value) + b"\n"


def test_an_unpaired_surrogate_is_refused_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        pretty({"a": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        standard({"a": "\ud800"})


# -- streaming a ledger whose lines are not in order (ledger.order)

STREAM_LINES = [
    '{"id":"r1","at":"2026-02-01T00:00:00Z","type":"referral","referrer":"alice","referee":"bob"}',
    '{"id":"r2","at":"2026-02-01T00:00:00Z","type":"referral","referrer":"alice","referee":"carol"}',
    '{"id":"p1","at":"2026-02-03T00:00:00Z","type":"payment","referee":"bob","amount":"120.00"}',
    '{"id":"p2","at":"2026-02-04T00:00:00+02:00","type":"payment","referee":"carol","amount":80.5}',
    '{"id":"p3","at":"2026-02-05T00:00:00Z","type":"payment","referee":"carol","amount":"70"}',
    '{"id":"p4","at":"2026-02-06T00:00:00Z","type":"payment","referee":"bob","amount":1E2}',
    '{"id":"p1","at":"2026-02-03T00:00:00Z","type":"payment","referee":"bob","amount":"120.00"}',
    '{"id":"x1","at":"2026-02-02T00:00:00Z","type":"signup","referee":"dave"}',
]


@settings(max_examples=60, deadline=None)
@given(st.permutations(STREAM_LINES), st.integers(1, 4))
def test_a_stream_in_any_order_scores_as_the_batch_does(order: list[str], run: int) -> None:
    """Sorted a run of `run` lines at a time, spilled and merged back: the
    same bytes as the batch, whatever the order of the lines."""
    program = rewardrules.load(RULESETS / "prezi.rules")
    with _small_runs(run):
        stream = program.score_stream(order, as_of="2027-01-01T00:00:00Z").to_json()
    assert stream == program.score(order, as_of="2027-01-01T00:00:00Z").to_json()


class _small_runs:
    """`ledger.order.RUN` set low, so that even a short ledger is spilled."""

    def __init__(self, run: int) -> None:
        self.run = run

    def __enter__(self) -> None:
        from rewardrules.ledger import order

        self.saved = order.RUN
        order.RUN = self.run

    def __exit__(self, *_: object) -> None:
        from rewardrules.ledger import order

        order.RUN = self.saved


@pytest.mark.parametrize("run", [1, 2, 100])
def test_a_stream_out_of_order_reports_what_the_batch_reports(run: int) -> None:
    """Problems keep their lines and fields when the lines are sorted: a
    conflicting repeat (reported at its later line, wherever the sort put
    it), a bad line, a bad amount."""
    program = rewardrules.load(RULESETS / "prezi.rules")
    lines = [
        STREAM_LINES[2],
        '{"id":"p1","at":"2026-02-03T00:00:00Z","type":"payment","referee":"bob","amount":"999"}',
        "{not json",
        STREAM_LINES[0],
        '{"id":"p9","at":"2026-02-01T00:00:00Z","type":"payment","referee":"bob","amount":0.1e}',
        '{"id":"p8","at":"2026-01-01T00:00:00Z","type":"payment","referee":"bob","amount":true}',
        '{"id":"p1","at":"2026-01-30T00:00:00Z","type":"payment","referee":"bob","amount":"120.00"}',
    ]
    with pytest.raises(LedgerError) as batch:
        program.score(lines)
    with _small_runs(run), pytest.raises(LedgerError) as stream:
        program.score_stream(lines)
    found = [(p.line, p.field, p.message) for p in stream.value.problems]
    assert found == [(p.line, p.field, p.message) for p in batch.value.problems]
    assert [line for line, *_ in found] == [2, 3, 5, 6, 7]
