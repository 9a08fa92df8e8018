"""The typed fast path: ledger lines decoded by msgspec straight into one
`Struct` per rule file, and checked by code generated as `fast.read_all`'s.

Decoding a line into a dict and then reading its fields with `dict.get`
was most of reading a ledger. Here msgspec (C) decodes a line into a
`Struct` with only the fields the rules read (`id`, `type`, `at`,
`referee`, `referrer`, `currency` and each declared field), checking on
the way that the head fields are text, and the generated checks read
attributes: what is left of an event's cost is its timestamp, its numbers
and keeping its record.

It takes only lines it can decide exactly as the general path does (see
`_fast_source`: it may only accept what that path accepts, with the same
record). Skipping the fields no rule reads, msgspec checks their JSON but
not all of what decoding them would check, so a line is tried only when
what a skipped field could hide cannot be in it:

* it is ASCII and has no backslash: no invalid UTF-8, no escaped
  surrogate, no escaped key (`"i\\u0064"` is `id`);
* no run of 17 digits: decoding a number runs `decode.exact_decimal`,
  which refuses an exponent past Decimal's range (18 digits at least),
  and an integer past 64 bits is decoded again by the exact decoder, where
  4,300 digits are refused;
* within the line's length limit, and no more `{` and `[` than the
  nesting limit (as `decode.kept_lines`).

Any other line, one the `Struct` refuses (a head field of another type, a
missing one, anything not JSON) and any event the checks do not take goes
to `slow`, the dict path at its own line number, which decides it exactly
as before: its value, problem or repeat (`tests/test_python_fastpath.py`
holds both paths to the same records and errors). Without msgspec
(Pyodide, where the playground runs) there is no typed path at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..compiler.codegen import filename as source_filename
from ..core import limits
from .decode import exact_decimal
from .events import Record
from .fast import _fast_function, _fast_namespace, _skipped, _taken

msgspec: Any
try:
    import msgspec
except ImportError:  # pragma: no cover - msgspec is a dependency of the CLI
    msgspec = None

#: The head fields as the `Struct` has them (see `_struct`): `id`, `type`
#: and `at` required text, `referee` and `referrer` text or null.
_HEAD_FIELDS: list[tuple[str, Any] | tuple[str, Any, Any]] = [
    ("id", str),
    ("type", str),
    ("at", str),
    ("referee", str | None, None),
    ("referrer", str | None, None),
]

#: what a line is looked at through, one `translate` for every test of
#: the module docstring: each digit as `0` (a run of digits is then a run
#: of zeros, found by one `in`), `[` as `{` (one count of openings), a
#: backslash as NUL (which a JSON text never holds raw), other bytes as
#: they are
_GUARD = bytes.maketrans(b"0123456789[\\", b"0000000000{\x00")

#: the shortest run of digits the typed path leaves to the dict path (see
#: the module docstring)
_LONG_RUN = b"0" * 17

#: the reader of a whole ledger's lines: (lines, seen, firsts, slow) ->
#: (records, latest instant), `slow(line, raw)` giving the same for one line
TypedReader = Callable[
    [Iterable[Any], dict[str, Any], Any, Callable[[int, Any], tuple[list[Record], int]]], tuple[list[Record], int]
]


def typed_reader(
    kinds: dict[str, list[tuple[str, str, bool]]], currencies: Mapping[str, str | None]
) -> TypedReader | None:
    """The typed reader of these event types (see the module docstring), or
    None without msgspec."""
    if msgspec is None:
        return None
    attributes = _attributes(kinds)
    namespace = _fast_namespace()
    namespace["__builtins__"] = {**namespace["__builtins__"], "bytes": bytes, "Exception": Exception}
    namespace.update(
        decode=msgspec.json.Decoder(_struct(attributes), float_hook=exact_decimal).decode,
        LONGEST=limits.MAX_LEDGER_LINE_BYTES,
        NESTING=limits.MAX_LEDGER_NESTING,
        GUARD=_GUARD,
        OPEN=b"{",
        ESCAPE=b"\x00",
        LONG_RUN=_LONG_RUN,
    )
    source = _typed_source(kinds, currencies, attributes)
    exec(compile(source, source_filename("typed-ledger-reader", source), "exec"), namespace)
    reader: TypedReader = namespace["read_typed"]
    return reader


def _attributes(kinds: dict[str, list[tuple[str, str, bool]]]) -> dict[str, str]:
    """Each declared field's name (and `currency`) -> the attribute the
    `Struct` holds it in: `f0`, `f1`, ..., names made here, so no name
    from a rule file is ever an attribute or code."""
    attributes: dict[str, str] = {}
    for fields in kinds.values():
        for field, _, _ in fields:
            attributes.setdefault(field, f"f{len(attributes)}")
    attributes.setdefault("currency", f"f{len(attributes)}")
    return attributes


def _struct(attributes: dict[str, str]) -> Any:
    """The `Struct` a line is decoded into: the head fields typed, each
    other field any JSON value (its numbers through `exact_decimal`, as the
    dict path decodes them), absent or null as None."""
    fields = [*_HEAD_FIELDS, *((attribute, Any, None) for attribute in attributes.values())]
    rename = {attribute: name for name, attribute in attributes.items()}
    return msgspec.defstruct("LedgerLine", fields, rename=rename, gc=False)


def _typed_source(
    kinds: dict[str, list[tuple[str, str, bool]]], currencies: Mapping[str, str | None], attributes: dict[str, str]
) -> str:
    """Python source of `read_typed(lines, seen, firsts, slow)`: the checks
    of `fast.read_all`, on the `Struct` of each line that may take it."""
    return _fast_function(
        kinds,
        currencies,
        "def read_typed(lines, seen, firsts, slow):",
        [
            "    events = []",
            "    append = events.append",
            "    first = firsts.append",
            "    one = {}.setdefault",
            "    latest = LOW",
            "    line = 0",
            "    for kept in lines:",
            "        line += 1",
            "        if type(kept) is bytes and len(kept) <= LONGEST and kept.isascii():",
            "            seen_as = kept.translate(GUARD)",
            "            if seen_as.count(OPEN) <= NESTING and ESCAPE not in seen_as and LONG_RUN not in seen_as:",
            "                try:",
            "                    obj = decode(kept)",
            "                except Exception:  # decided by the dict path",
            "                    obj = None",
            "            else:",
            "                obj = None",
            "            if obj is not None:",
        ],
        "                ",
        " and i not in seen",
        _taken,
        _skipped,
        [
            "        found, last = slow(line, kept)",
            "        events += found",
            "        if last > latest:",
            "            latest = last",
            "    return events, latest",
        ],
        head=_struct_head,
        fetch=lambda field: f"obj.{attributes[field]}",
    )


def _struct_head(unseen: str) -> list[str]:
    """The head of `read_typed`'s checks (see `fast._fast_function`): the
    `Struct` made the head fields text or None, and the line is ASCII."""
    return [
        "i = obj.id; t = obj.type; a = obj.at; ee = obj.referee; er = obj.referrer",
        f"if i and t and (ee is None or ee) and (er is None or er){unseen}:",
    ]
