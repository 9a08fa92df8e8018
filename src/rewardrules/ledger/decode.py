"""Decoding ledger lines: JSON with exact decimals, in bounded depth, with no
lone surrogates; each mistake a problem at its line."""

from __future__ import annotations

import itertools
import json
import math
import operator
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from ..core import limits
from .events import LedgerProblem


def _reject_constant(name: str) -> Any:
    raise ValueError(f"`{name}` is not a number")


def exact_decimal(text: str) -> Decimal:
    """A JSON or TOML number as an exact Decimal. Decimal refuses some
    (`1E888888888888888888`) with an ArithmeticError: say it as the
    ValueError every reader of input already handles. A number longer
    than any valid one is not parsed at all (its length is unbounded up to
    the line's): it reads as `OVERLONG`, which every limit refuses."""
    if len(text) > limits.MAX_NUMBER_CHARS:
        # never parsed (`1E+000…0025` is short in value, long as written):
        # a value past every limit, reported as out of range at its field
        return OVERLONG
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ValueError(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is out of range") from None


#: what `exact_decimal` reads a number longer than `limits.MAX_NUMBER_CHARS` as
OVERLONG = Decimal("1E+999")

_DECODER = json.JSONDecoder(parse_float=exact_decimal, parse_constant=_reject_constant)

#: The fast decoder (msgspec, in C): every JSON number that is not an
#: integer goes through `exact_decimal` from its text, as in `_DECODER`, and
#: integers of any size are Python ints, so no number passes through a
#: binary float. It is stricter than `_DECODER`, never looser: it refuses
#: invalid UTF-8, an unpaired surrogate escape (`"\ud800"`) and anything
#: not JSON. Whatever it refuses, `_DECODER` decodes again, so a line's
#: value or problem is exactly the exact decoder's (`tests/test_fast_json.py`).
#: Without msgspec (Pyodide, where the playground runs, ships none) every
#: text goes to the exact decoder: the same values and problems, slower.
_FAST_DECODE: Callable[[str | bytes], Any] | None = None
try:
    import msgspec
except ImportError:  # pragma: no cover - msgspec is a dependency of the CLI
    pass
else:
    _FAST_DECODE = msgspec.json.Decoder(float_hook=exact_decimal).decode


def fast_decode(text: str | bytes) -> Any:
    """One JSON text decoded by the fast decoder, or `_NOT_FAST` where it
    refuses or there is none (then only the exact decoder may say what the
    text is)."""
    if _FAST_DECODE is None:
        return _NOT_FAST
    try:
        return _FAST_DECODE(text)
    except Exception:  # any refusal is decided again by the exact decoder
        return _NOT_FAST


#: what `fast_decode` returns for a text it leaves to the exact decoder
_NOT_FAST: Any = object()


def decode_line(text: str | bytes) -> Any:
    """Parse one JSON line exactly (decimals as Decimal)."""
    value = fast_decode(text)
    if value is not _NOT_FAST:
        return value
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return _DECODER.decode(text)


def surrogate_free(text: str) -> bool:
    """False for a string with an unpaired surrogate (JSON `"\\ud800"`),
    which could not be written out as UTF-8 (a settled statement's texts
    are checked with it too)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_unicode = surrogate_free


def _surrogate_problem(line: int, name: str) -> LedgerProblem:
    return LedgerProblem(
        line,
        name,
        f"`{name}` is not valid Unicode text (it has an unpaired surrogate escape such as \\ud800)",
        "escape a character outside the BMP as a surrogate pair, or write it as UTF-8",
    )


#: values with no text in them
_ATOMS = frozenset({int, bool, type(None)})


def surrogate_problem(obj: Any, line: int) -> LedgerProblem | None:
    """The problem of an event with a value anywhere in it (a name or a
    value, however nested) that is no JSON value, or None: a string that is
    not valid Unicode cannot be written out as UTF-8 (a snapshot, a report),
    and a number that is not finite (a `Decimal` or `float` NaN or infinity,
    given through the API: JSON text has none) can be neither written in a
    snapshot nor compared with a repeat. Refused where it comes in, with
    the field it is in."""
    if not isinstance(obj, dict):
        return None
    for key, value in obj.items():
        if (
            (
                type(value) in _ATOMS
                or (type(value) is str and value.isascii())
                or (type(value) is Decimal and value.is_finite())
            )
            and type(key) is str
            and key.isascii()
        ):
            continue  # the common case, at a glance
        if isinstance(key, str) and not _unicode(key):
            return LedgerProblem(
                line,
                None,
                "a field name is not valid Unicode text (it has an unpaired surrogate escape such as \\ud800)",
            )
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                if not _unicode(item):
                    return _surrogate_problem(line, str(key))
            elif isinstance(item, float):
                if not math.isfinite(item):
                    return _float_problem(line, str(key), item)
            elif isinstance(item, Decimal):
                if not item.is_finite():
                    return LedgerProblem(
                        line,
                        str(key),
                        f"`{key}` holds {item}, which is no JSON number",
                        "give finite numbers only (an event is JSON data)",
                    )
            elif isinstance(item, dict):
                stack.extend(k for k in item if isinstance(k, str))
                stack.extend(item.values())
            elif isinstance(item, (list, tuple)):
                stack.extend(item)
    return None


def _float_problem(line: int, name: str, value: float) -> LedgerProblem:
    """A Python float given for a number: binary, so not an exact amount."""
    return LedgerProblem(
        line,
        name,
        f"`{name}` is a binary float ({value!r}), which is not an exact amount",
        'pass a Decimal or a decimal string such as "99.90" (JSON decimals are read exactly)',
    )


def iter_lines(
    lines: Iterable[Any], prepare: Callable[[Any, int], Any] | None = None, start: int = 1
) -> Iterator[tuple[int, Any, LedgerProblem | None]]:
    """Decode JSON lines: (line number, object, problem). Blank lines skipped.

    The common case (a well-formed line) costs one decode; blank lines and
    a byte order mark are only looked for when decoding fails. An item that
    is not text (an API caller's dict among lines) is given as it is, or as
    `prepare(item, line)` returns it. `start`: the number of the first line.
    """
    decode = _DECODER.decode
    nesting = limits.MAX_LEDGER_NESTING
    for number, raw in enumerate(lines, start=start):
        if not isinstance(raw, (str, bytes)):
            yield number, (raw if prepare is None else prepare(raw, number)), None
            continue
        if len(raw) > limits.MAX_LEDGER_LINE_BYTES:
            yield number, None, LedgerProblem(number, None, f"line is longer than {limits.MAX_LEDGER_LINE_BYTES} bytes")
            continue
        value = fast_decode(raw)
        if value is not _NOT_FAST:
            # valid UTF-8 with no unpaired surrogate (the fast decoder
            # refuses both) and numbers exact and finite: only the depth is
            # left to check
            if isinstance(raw, bytes):  # (inline: this runs for every line)
                opening = raw.count(b"{") + raw.count(b"[")
            else:
                opening = raw.count("{") + raw.count("[")
            if opening > nesting and _depth(value, nesting):
                yield number, None, LedgerProblem(number, None, f"JSON nests deeper than {nesting} levels")
            else:
                yield number, value, None
            continue
        try:
            text: str = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            value = decode(text)
        except (ValueError, RecursionError) as error:
            problem = _undecodable(number, raw, error)
            if problem is not None:
                yield number, None, problem
            elif number == 1 and _strip_bom(raw) is not None:
                yield from iter_lines([_strip_bom(raw)])
            continue
        if text.count("{") + text.count("[") > nesting and _depth(value, nesting):
            yield number, None, LedgerProblem(number, None, f"JSON nests deeper than {nesting} levels")
            continue
        # where an unpaired surrogate can come from (a backslash first: one
        # character is found with memchr, much faster than two)
        if not text.isascii() or ("\\" in text and "\\u" in text):
            problem = surrogate_problem(value, number)
            if problem is not None:
                yield number, None, problem
                continue
        yield number, value, None


def kept_lines(
    lines: Iterable[Any], prepare: Callable[[Any, int], Any] | None = None, keep: bool = True, first: int = 1
) -> Iterator[tuple[int, Any, Any]]:
    """`iter_lines` as (line, object or problem, kept): `kept` is the line's
    JSON text for a line (the object for an item that is not text), what a
    batch keeps of each event to tell a repeat of its id from a conflict:
    a line of text is a fraction of the size of its decoded object. Not
    `keep`: `kept` is None for a line (a file that can be read again keeps
    each line's digest instead: see `ledger.again`).

    The common line (text within the length limit, nesting no deeper than
    the limit could, that the fast decoder takes) is decoded here in one
    step; any other goes through `iter_lines` at its number, which decides
    it exactly as for the whole ledger (`tests/test_fastpath_reading.py`).
    This loop runs once per line of every ledger: the layers of generators
    it replaces cost about a tenth of reading. `first`: the number of the
    first line."""
    decode = _FAST_DECODE
    longest = limits.MAX_LEDGER_LINE_BYTES
    nesting = limits.MAX_LEDGER_NESTING
    number = first - 1
    for raw in lines:
        number += 1
        kind = type(raw)
        if kind is bytes:
            plain = len(raw) <= longest and raw.count(b"{") + raw.count(b"[") <= nesting
        elif kind is str:
            plain = len(raw) <= longest and raw.count("{") + raw.count("[") <= nesting
        elif isinstance(raw, (str, bytes)):  # a subclass (`numpy.str_`): text all the same, as `iter_lines` reads it
            plain = False
        else:
            value = raw if prepare is None else prepare(raw, number)
            yield number, value, value
            continue
        if plain and decode is not None:  # without msgspec (Pyodide), the exact decoder below
            try:
                value = decode(raw)
            except Exception:  # any refusal is decided again by the exact decoder
                value = _NOT_FAST
            if value is not _NOT_FAST:
                yield number, value, (raw if keep else None)
                continue
        for _, value, problem in iter_lines((raw,), prepare, number):
            yield number, (value if problem is None else problem), (raw if keep else None)


def kept_blocks(blocks: Iterable[list[Any]]) -> Iterator[tuple[int, Any, None]]:
    """`kept_lines(lines, keep=False)` of lines given a list at a time
    (`again.LedgerFile.digested_blocks`), with the same numbers, values
    and problems. A list of lines of bytes that are all plain (within the
    length limit, decoded by the fast decoder, and nesting no deeper than
    the limit could: see `_plain_block`) is decoded by one `map` and given
    on by one `zip`, with no step of Python per line; any other list goes
    through `kept_lines` line by line, which decides each line as always."""
    number = 0
    for lines in blocks:
        values = _plain_block(lines)
        if values is None:
            yield from kept_lines(lines, keep=False, first=number + 1)
        else:
            yield from zip(itertools.count(number + 1), values, itertools.repeat(None))
        number += len(lines)


def _plain_block(lines: list[Any]) -> list[Any] | None:
    """The fast decoder's values of a list of lines of bytes, or None when
    one of them is not for it (text, too long, refused) or the list may
    hold a line with more `{` and `[` than the nesting limit.

    The nesting is bounded for the whole list at once: a line that decodes
    to an object has at least one `{`, so no line of a list with D objects
    and T brackets in all has more than T - (D - 1) (the others have at
    least D - 1 between them); at most the limit, no line can nest deeper.
    Counted over the list's bytes, as `kept_lines` counts a line's: a `{`
    within a string counts too. Past that bound (events with a nested
    object or list, or brackets in text, pass it in a list of thousands),
    each line's brackets are counted as `kept_lines` counts them, still
    with no step of Python per line: the values just decoded are kept
    unless a line has more than the limit, rather than every line of the
    list decoded a second time."""
    decode = _FAST_DECODE
    if decode is None or type(lines[0]) is not bytes or max(map(len, lines)) > limits.MAX_LEDGER_LINE_BYTES:
        return None
    try:
        text = b"".join(lines)  # a TypeError for a line that is not bytes
        values = list(map(decode, lines))
    except Exception:  # any refusal is decided line by line, as `kept_lines` decides it
        return None
    nesting = limits.MAX_LEDGER_NESTING
    objects = list(map(type, values)).count(dict)
    if text.count(b"{") + text.count(b"[") - (objects - 1) <= nesting:
        return values
    braces = map(bytes.count, lines, itertools.repeat(b"{"))
    brackets = map(bytes.count, lines, itertools.repeat(b"["))
    return values if max(map(operator.add, braces, brackets)) <= nesting else None


def kept_content(kept: Any) -> Any:
    """The object of what `kept_lines` kept (a line's text decoded again,
    a byte order mark on it dropped, as it was when it was first read)."""
    if not isinstance(kept, (str, bytes)):
        return kept
    for _, value, _ in iter_lines([kept]):
        return value
    return None


def _strip_bom(raw: str | bytes) -> str | None:
    """The first line without the byte order mark some tools write, if any."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text[1:] if text.startswith("\ufeff") else None


#: the first bytes of a Parquet file
_PARQUET_MAGIC = "PAR1"


def _undecodable(number: int, raw: str | bytes, error: Exception) -> LedgerProblem | None:
    """Why a line did not decode, or None for a blank line or a BOM."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if not text.strip() or (number == 1 and text.startswith("\ufeff")):
        return None
    if number == 1 and text.startswith(_PARQUET_MAGIC):  # a Parquet file given where JSON Lines are read
        return LedgerProblem(
            number, None, "a Parquet file, not JSON Lines", "`score --engine duckdb` (or spark) reads a Parquet ledger"
        )
    message = "nested too deeply" if isinstance(error, RecursionError) else _json_message(error)
    return LedgerProblem(number, None, f"invalid JSON: {message}", "each line is one JSON object")


def _json_message(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} (column {error.colno})"
    if isinstance(error, UnicodeDecodeError):
        return "the line is not UTF-8"
    if "digits" in str(error):
        return "a number has too many digits"
    return str(error)


def _depth(value: Any, limit: int) -> bool:
    """True when a decoded value nests deeper than ``limit`` (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return False
