"""`fmt` for matching files: one clause a line, in the file's order, with
single spaces and `, ` between names; every comment kept.

A comment on its own line stays above the clause after it; a comment after
a clause on the same line stays there (two spaces before it); a comment
written inside a clause moves above it. One blank line is kept where the
file had one or more. Titles and numbers are kept as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..core.diagnostics import Diagnostic
from ..core.source import Source
from .parse import Clause, parse

#: A string or a comment: strings first, so a `#` inside a title is no comment.
_TOKENS = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*')


@dataclass(slots=True)
class _Item:
    """A line of the output: a clause (with its trailing comment) or a comment."""

    start: int
    end: int
    text: str
    trailing: list[str] = field(default_factory=list)
    blank_before: bool = False


def format_text(text: str, path: str = "<rules>") -> tuple[str | None, list[Diagnostic]]:
    """The canonical form of a matching file, or None and the syntax diagnostics."""
    source = Source(path, text)
    clauses, diagnostics = parse(source)
    if clauses is None:
        return None, diagnostics
    items = [_Item(c.span.start, c.span.end, render(c)) for c in clauses]
    for comment in (m for m in _TOKENS.finditer(source.text) if m.group().startswith("#")):
        _place(source, items, comment.start(), comment.group().rstrip())
    items.sort(key=lambda item: item.start)
    previous = 0
    for item in items:
        item.blank_before = (
            previous > 0 and re.search(r"\n[ \t\r\f\v]*\n", source.text[previous : item.start]) is not None
        )
        previous = max(previous, item.end)
    lines: list[str] = []
    for item in items:
        if item.blank_before:
            lines.append("")
        lines.extend(item.trailing[:-1])
        lines.append(item.text + ("  " + item.trailing[-1] if item.trailing else ""))
    return "".join(line + "\n" for line in lines), []


def _place(source: Source, items: list[_Item], offset: int, comment: str) -> None:
    """Attach a comment: after a clause on its line, else as a line of its own
    (a comment inside a clause goes just above it)."""
    line = source.position(offset)[0]
    clauses = [i for i in items if not i.text.startswith("#")]
    before = [i for i in clauses if i.end <= offset]
    inside = next((i for i in clauses if i.start < offset < i.end), None)
    if inside is None and before and source.position(before[-1].end)[0] == line:
        before[-1].trailing.append(comment)
        return
    start = inside.start - 1 if inside is not None else offset
    items.append(_Item(start, offset + len(comment), comment))


def render(clause: Clause) -> str:
    """One clause in its canonical form."""
    names = ", ".join(n.text for n in clause.names)
    title = f" {clause.title_span.text}" if clause.title_span is not None else ""
    number = clause.number_span.text if clause.number_span is not None else ""
    period = f" per {clause.period.text}" if clause.period is not None else ""
    by = f" by {names}" if names else ""
    if clause.kind in ("matching", "workload", "attribute", "fallback"):
        zone = f" timezone {clause.zone_span.text}" if clause.zone_span is not None else ""
        return f"{clause.kind} {clause.names[0].text}{title}{zone}"
    unit = clause.unit.text if clause.unit is not None else ""
    texts = {
        "require": f"require {names}",
        "claims": "claims first",
        "balance": f"round robin{by}{period}",
        "tiebreak": f"tie break {names}",
        "split": f"split up to {number}",
        "pause": f"pause at most {number} {unit}{_apart(clause)}",
        "acceptance": f"acceptance at least {number}%{by}{period}",
        "rematch": f"rematch {names}",
    }
    return texts[clause.kind]


def _apart(clause: Clause) -> str:
    """`, at least N UNIT apart` of a `pause` clause, as written, or nothing."""
    if clause.gap_span is None or clause.gap_unit is None:
        return ""
    return f", at least {clause.gap_span.text} {clause.gap_unit.text} apart"
