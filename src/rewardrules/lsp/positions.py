"""Offsets in a document and the editor's positions.

The protocol counts a line's characters in UTF-16 code units (a character
outside the Basic Multilingual Plane, such as an emoji in a title, is two),
where `core.source` counts Python characters. These two functions are the
only conversion, so a caret under an emoji lands where `check` puts it.
"""

from __future__ import annotations

from lsprotocol import types

from ..core.source import Source, Span


def _units(text: str) -> int:
    """How many UTF-16 code units `text` is."""
    return len(text) + sum(ord(ch) > 0xFFFF for ch in text)


def position(source: Source, offset: int) -> types.Position:
    """The editor's position of a character offset."""
    line, column = source.position(min(max(offset, 0), len(source.text)))
    return types.Position(line=line - 1, character=_units(source.line_text(line)[: column - 1]))


def offset(source: Source, where: types.Position) -> int:
    """The character offset of an editor's position (clamped to its line,
    and to the document: a client may send any numbers)."""
    lines = source.text.split("\n")
    if where.line >= len(lines):
        return len(source.text)
    start = sum(len(line) + 1 for line in lines[: max(where.line, 0)])
    text = lines[max(where.line, 0)]
    units = 0
    for index, ch in enumerate(text):
        if units >= where.character:
            return start + index
        units += 2 if ord(ch) > 0xFFFF else 1
    return start + len(text)


def span_range(span: Span) -> types.Range:
    """The editor's range of a span (at least one character wide when the
    text has one there, so an empty span still shows a squiggle)."""
    end = span.end if span.end > span.start else min(span.start + 1, len(span.source.text))
    if span.source.text[span.start : end] == "\n":
        end = span.start
    return types.Range(start=position(span.source, span.start), end=position(span.source, end))
