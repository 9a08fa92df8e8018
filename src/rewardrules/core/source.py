"""Source stage: rule-file text and the spans that point into it.

Every AST node carries a :class:`Span`, so any later stage can report a
problem at its line and column without having to pass the text around: the
span keeps a reference to its :class:`Source`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

#: The byte order mark some editors write at the start of a UTF-8 file.
BOM = "\ufeff"
_NEWLINE = re.compile("\n")


@dataclass(frozen=True, slots=True, eq=False)
class Source:
    """The text of one rule file and the path it was read from."""

    path: str
    text: str
    _line_starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.text.startswith(BOM):
            # Editors that save UTF-8 "with signature" put a BOM first; it is
            # not part of the text, and dropping it here keeps every offset,
            # line and column what an editor shows.
            object.__setattr__(self, "text", self.text[len(BOM) :])
        self._line_starts.append(0)
        self._line_starts.extend(match.end() for match in _NEWLINE.finditer(self.text))

    def position(self, offset: int) -> tuple[int, int]:
        """Return the 1-based (line, column) of a character offset."""
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def line_text(self, line: int) -> str:
        """Return the text of a 1-based line, without its newline."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def span(self, start: int, end: int) -> Span:
        """A span over the characters ``start`` (inclusive) to ``end``."""
        return Span(self, start, max(end, start))

    def whole(self) -> Span:
        return Span(self, 0, 0)


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node came from: a range of characters in a :class:`Source`."""

    source: Source = field(compare=False, repr=False)
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.source.position(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.position(self.start)[1]

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of ``other``."""
        return Span(self.source, self.start, max(self.end, other.end))
