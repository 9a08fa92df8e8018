"""Ingest stage: other systems' data -> ledger events (before parse/score).

A source adapter turns records kept elsewhere (today: Stripe billing events,
:mod:`rewardrules.sources.stripe`) into the ledger of PROGRAMS.md section 1,
so users do not write that mapping by hand. This module holds what every
adapter shares: reading JSON payloads from files and folders, each tagged
with where it came from, so that an adapter's error can name the file (and
the line or array index) a bad payload sits at.

Numbers are read exactly: JSON decimals become :class:`decimal.Decimal`,
never ``float``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import limits
from ..core.formatting import quoted
from ..core.lines import split_lines
from ..ledger.decode import _depth
from ..ledger.decode import decode_line as decode_json
from ..ledger.reading import InputError, read_bytes

__all__ = ["Payload", "SourceError", "read_payloads"]

# Inside a folder, only these files are payloads: a folder of webhook dumps
# often holds a README or a licence beside them.
PAYLOAD_SUFFIXES = (".json", ".jsonl", ".ndjson")


@dataclass(frozen=True, slots=True)
class Payload:
    """One JSON value read from somewhere, and where: ``events.json``,
    ``events.jsonl:3`` (line 3) or ``events.json[2]`` (array item 2)."""

    source: str
    data: Any


class SourceError(Exception):
    """Input that cannot be read at all: a missing file, bad JSON, not UTF-8."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("\n".join(messages))


def read_payloads(paths: Iterable[str | Path]) -> list[Payload]:
    """Every payload in ``paths``: files (one JSON value, a JSON array, or
    JSON Lines) and folders (their ``*.json``/``*.jsonl``/``*.ndjson`` files, recursively,
    in name order so that the result never depends on the file system).

    Raises :class:`SourceError` listing every file that could not be read.
    """
    payloads: list[Payload] = []
    errors: list[str] = []
    for path in paths:
        try:
            files = list(_files(Path(path), errors))
        except OSError as error:
            errors.append(f"cannot read {quoted(str(path))}: {(error.strerror or str(error)).lower()}")
            continue
        for file in files:
            try:
                payloads.extend(_read_file(file))
            except SourceError as error:
                errors.extend(error.messages)
    if errors:
        raise SourceError(errors)
    return payloads


def _files(path: Path, errors: list[str]) -> Iterator[Path]:
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PAYLOAD_SUFFIXES)
        if not found:
            errors.append(f"{path}: the folder has no {_patterns()} files (in it or its subfolders)")
        yield from found
    elif path.exists():
        yield path
    else:
        errors.append(f"cannot read {quoted(str(path))}: no such file or directory")


def _patterns() -> str:
    """The file patterns a folder is read for, as a list: `*.json, *.jsonl or *.ndjson`."""
    patterns = [f"*{suffix}" for suffix in PAYLOAD_SUFFIXES]
    return ", ".join(patterns[:-1]) + " or " + patterns[-1]


def _read_file(file: Path) -> list[Payload]:
    text = _read_text(file)
    if not text.strip():
        raise SourceError([f"{file}: the file is empty"])
    try:
        value = decode_json(text)
    except RecursionError:
        raise SourceError([f"{file}: invalid JSON: nested too deeply"]) from None
    except ValueError as error:
        if _looks_like_json_lines(text):
            return _read_lines(file, text)
        raise SourceError([f"{file}: {_json_problem(error)}"]) from None
    if isinstance(value, list):
        payloads = [Payload(f"{file}[{i}]", item) for i, item in enumerate(value)]
    else:
        payloads = [Payload(str(file), value)]
    _check_nesting(payloads)
    return payloads


def _read_text(file: Path) -> str:
    """A payload file's text, read in bounded size: a file that is larger
    (or a device that never ends) is an error, not all of the memory."""
    limit = limits.MAX_PAYLOAD_FILE_BYTES
    try:
        data = read_bytes(file, limit, "a payload file")
    except InputError:
        raise SourceError(
            [f"{file}: larger than {limit:,} bytes; split it into several files (a folder is read whole)"]
        ) from None
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise SourceError([f"cannot read {quoted(str(file))}: {reason}"]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError([f"{file}: not UTF-8 text"]) from None


def _check_nesting(payloads: list[Payload]) -> None:
    """Refuse payloads nested deeper than any Stripe object: the mapping
    and its digests walk them, and must not run out of stack."""
    deep = [p.source for p in payloads if _depth(p.data, limits.MAX_PAYLOAD_NESTING)]
    if deep:
        raise SourceError([f"{source}: JSON nests deeper than {limits.MAX_PAYLOAD_NESTING} levels" for source in deep])


def _looks_like_json_lines(text: str) -> bool:
    """True when the first non-blank line is a JSON value on its own: a
    pretty-printed file with a typo is then not misread as JSON Lines."""
    first = next(line for line in split_lines(text) if line.strip())
    try:
        decode_json(first)
    except (ValueError, RecursionError):
        return False
    return True


def _read_lines(file: Path, text: str) -> list[Payload]:
    payloads: list[Payload] = []
    errors: list[str] = []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        try:
            payloads.append(Payload(f"{file}:{number}", decode_json(line)))
        except (ValueError, RecursionError) as error:
            errors.append(f"{file}:{number}: {_json_problem(error)}")
    if errors:
        raise SourceError(errors)
    _check_nesting(payloads)
    return payloads


def _json_problem(error: ValueError | RecursionError) -> str:
    if isinstance(error, RecursionError):
        return "invalid JSON: nested too deeply"
    if isinstance(error, json.JSONDecodeError):
        return f"invalid JSON: {error.msg.lower()} (line {error.lineno}, column {error.colno})"
    if "digits" in str(error):  # Python's own limit on integer digits, with advice for programmers
        return "invalid JSON: a number has too many digits"
    return f"invalid JSON: {error}"
