"""Writing a result as JSON: the bytes `json.dumps(value, ensure_ascii=False,
indent=2)` gives, encoded in C (msgspec) and written piece by piece.

The standard encoder with `indent=2` is pure Python: on a million-event
ledger it took a quarter of the run. msgspec's encoder and its `format`
give the same bytes for the values a result holds: keys in insertion
order, `": "` and `","` with two spaces per level, text as UTF-8 with only
`"`, `\\` and control characters escaped (`\\n`, `\\u001f`), integers of any
size, empty containers as `[]` and `{}`. Floats are the exception (`1e16`
where `json` and orjson write `1e+16`, `null` for NaN): a result holds
none (its amounts are decimal strings, its counts ints), and a value
msgspec cannot encode (a key that is not text) is written by `json`
instead, so the bytes stay the same (`tests/test_fast_json.py` compares
the two). orjson, a dependency, writes the same bytes faster (see
`_PRETTY`); msgspec writes them where it is missing (Pyodide).

A raw line break only ever appears between tokens (in text it is escaped),
so a piece formatted alone is indented for its depth by indenting its
line breaks: one award at a time, a result of millions of awards never
sits in memory as one text.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: msgspec's encoder and formatter; None without msgspec (Pyodide, where
#: the playground runs, ships none): then `json` writes the same bytes
_ENCODE: Callable[[Any], bytes] | None = None
_FORMAT: Callable[..., bytes] | None = None
try:
    import msgspec
except ImportError:  # pragma: no cover - msgspec is a dependency of the CLI
    pass
else:
    _ENCODE = msgspec.json.Encoder().encode
    _FORMAT = msgspec.json.format

#: orjson (None where it is missing): the same bytes again, indented as it
#: encodes (msgspec encodes, then formats in a second pass), about twice as
#: fast on a result's runs of records. It refuses what msgspec or `json`
#: then writes: an integer past 64 bits, a key that is not text, text with
#: an unpaired surrogate (each a `TypeError`); and, told to, a date or
#: time, which it would write otherwise than msgspec (`+00:00` for `Z`).
#: Floats are where it differs still (`1e+16` as `json` writes it, where
#: msgspec writes `1e16`): a result holds none (see the module).
_PRETTY: Callable[[Any], bytes] | None = None
try:
    import orjson
except ImportError:  # pragma: no cover - a dependency but in Pyodide: msgspec (or `json`) writes the same bytes
    pass
else:
    _PRETTY = functools.partial(orjson.dumps, option=orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATETIME)

#: how many bytes are gathered before they are written
_CHUNK = 1 << 16

#: how many items of a list are encoded in one call (a call per item was
#: most of writing a result of small records)
_ITEMS = 256

#: the length of what closes a list formatted at depth 1: `\n  ]`
_CLOSE = 4

#: the lengths of what opens and closes a list inside a list: `[\n  [`
#: and `\n  ]\n]` (see `_run_piece`)
_NESTED_OPEN = 5
_NESTED_CLOSE = 6


def pretty(value: Any, depth: int = 0) -> bytes:
    """`json.dumps(value, ensure_ascii=False, indent=2)` in UTF-8, as written
    at `depth` (each line after the first indented by two spaces a level).
    An unpaired surrogate in text raises `UnicodeEncodeError`, as encoding
    `json`'s text to UTF-8 does."""
    try:
        if _PRETTY is None:
            raise TypeError("no orjson")  # msgspec's bytes, as below
        out = _PRETTY(value)
    except TypeError:  # past 64 bits, a key that is not text, a surrogate
        try:
            if _FORMAT is None or _ENCODE is None:
                raise TypeError("no msgspec") from None  # json's bytes, as below
            out = _FORMAT(_ENCODE(value), indent=2)
        except TypeError:  # a key that is not text or a number: json's rules
            out = json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")
    return out.replace(b"\n", b"\n" + b"  " * depth) if depth else out


class Items:
    """A list of a top-level object that `write_pretty` writes as it is
    made: its items are taken `_ITEMS` at a time from an iterator and
    dropped once encoded, so a result of millions of awards never holds
    them all (written as the list of the same items would be)."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


def write_pretty(value: Any, write: Callable[[bytes], object]) -> None:
    """Write `pretty(value)` and a final line break through `write`, in
    pieces: the items of a list that is a value of a top-level object are
    encoded `_ITEMS` at a time, and bytes are written about 64 KiB at a
    time."""
    if not isinstance(value, dict) or not value:
        write(pretty(value) + b"\n")
        return
    write_fields(value.items(), write)


def write_fields(fields: Iterable[tuple[Any, Any]], write: Callable[[bytes], object]) -> None:
    """Write the object of `fields` (key, value pairs, at least one) as
    `write_pretty` writes it; a value may be `Items`. Each pair is taken
    only after the one before it is written, so a value may be made from
    what writing the ones before it gathered."""
    pieces: list[bytes] = []
    for n, (key, item) in enumerate(fields):
        pieces.append((b"{\n  " if n == 0 else b",\n  ") + pretty(key if isinstance(key, str) else _key(key)) + b": ")
        if isinstance(item, Items):
            _write_items(iter(item.items), pieces, write)
        elif isinstance(item, list) and item:
            _write_items(iter(item), pieces, write)
        else:
            pieces.append(pretty(item, 1))
    pieces.append(b"\n}\n")
    write(b"".join(pieces))


def _write_items(items: Iterator[Any], pieces: list[bytes], write: Callable[[bytes], object]) -> None:
    """Append a list of a top-level object to `pieces`, flushing them
    through `write` about every 64 KiB: `[]` when empty, else each item on
    its own line at depth 2."""
    run = list(itertools.islice(items, _ITEMS))
    if not run:
        pieces.append(b"[]")
        return
    pieces.append(b"[")
    size = sum(len(p) for p in pieces)
    first = True
    while run:
        # a run of items formatted as one list at depth 1, less its
        # brackets: each item on its own line at depth 2, as alone
        piece = _run_piece(run)
        pieces.append(piece if first else b"," + piece)
        first = False
        size += len(piece)
        if size >= _CHUNK:
            write(b"".join(pieces))
            pieces.clear()
            size = 0
        run = list(itertools.islice(items, _ITEMS))
    pieces.append(b"\n  ]")


def _run_piece(run: list[Any]) -> bytes:
    """`pretty(run, 1)` less its brackets (`[` and `_CLOSE`): orjson
    writes the run inside a list, each item already indented for depth 2
    (`[\n  [` before, `\n  ]\n]` after), so no pass over the bytes
    indents them (1.4% of a 1M-event explained score in a profile)."""
    if _PRETTY is not None:
        try:
            return _PRETTY([run])[_NESTED_OPEN:-_NESTED_CLOSE]
        except TypeError:  # what orjson refuses: `pretty` writes it
            pass
    return pretty(run, 1)[1:-_CLOSE]


def _key(key: Any) -> str:
    """A key that is not text as `json` writes it (`1`, `true`, `null`):
    `json.dumps` of a one-key object, read back."""
    text: str = next(iter(json.loads(json.dumps({key: None}))))
    return text
