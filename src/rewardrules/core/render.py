"""The one renderer of problems: text for people, JSON for tools, GitHub
workflow commands and SARIF results, each from a :class:`~.problem.Problem`.

Every value a problem carries may come from an untrusted file (a path, a
name, a quoted value), so every output escapes here, once: the text's
lines are `formatting.printable` (only the color codes below reach a
terminal), a field is `formatting.quoted`, a long source line is cut by
`echo_window`, and a workflow command's values are %-encoded.
"""

from __future__ import annotations

from .formatting import printable, quoted
from .problem import Location, Problem, Severity
from .source import Span

#: Longest source line echoed under a diagnostic, in characters: a longer
#: line (a generated file, a minified one) is cut to a window around the column.
ECHO_WIDTH = 120
#: Characters kept before the column in a cut line.
ECHO_BEFORE = 40
#: What marks the characters left out of a cut line.
ELLIPSIS = "..."

#: The keys of `to_dict`, in their order: the JSON output of `check`.
DIAGNOSTIC_KEYS = (
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "severity",
    "code",
    "message",
    "help",
    "related",
)


# -- text ----------------------------------------------------------------


def where(location: Location) -> str:
    """`path:line:column`, as much of it as is known, then the item
    (`path: event evt_1`); not yet escaped."""
    text = location.path
    text += f":{location.line}" if location.line else ""
    text += f":{location.column}" if location.column else ""
    return text + (f": {location.item}" if location.item else "")


def text(problem: Problem, color: bool = False, label: bool = True) -> str:
    """A problem for people: the header (`path:line:col: error[RR101]:
    message`), the source line with a caret when the location has a span,
    a note for each related place, and the help line.

    ``label=False`` leaves out `error:`, for problems listed under an
    error line of their own (the Stripe adapter's)."""
    loc = problem.location
    place = printable(where(loc))
    message = printable(with_field(problem))
    name = problem.severity.value + (f"[{problem.code}]" if problem.code else "")
    if color:
        tint = "\x1b[1;31m" if problem.severity is Severity.ERROR else "\x1b[1;33m"
        head = f"\x1b[1m{place}:\x1b[0m {tint}{name}\x1b[0m: \x1b[1m{message}\x1b[0m"
    else:
        head = f"{place}: {name}: {message}" if label else f"{place}: {message}"
    lines = [head]
    if loc.span is not None:
        lines.extend(excerpt(loc.span, "^"))
    for related in problem.related:
        lines.append(f"     = note: {printable(related.message)}")
        lines.extend(excerpt(related.span, "-"))
    if problem.help:
        lines.append(f"     = help: {printable(problem.help)}")
    return "\n".join(lines)


def with_field(problem: Problem) -> str:
    """The message, after the field it is about (`field `amount`: ...`)."""
    field = problem.location.field
    return (f"field {quoted(field)}: " if field else "") + problem.message


def excerpt(span: Span, mark: str) -> list[str]:
    """The source line of a span, with the span underlined by ``mark``.

    A long line is cut to a window around the column (`echo_window`); a tab
    shows as one space and other control characters as escapes
    (`printable`), so the line cannot drive a terminal; the underline is
    placed under the escaped text."""
    source_text = span.source.line_text(span.line)
    if not source_text and span.line < 1:
        return []
    gutter = f"{span.line:>4} | "
    end_line, end_col = span.source.position(span.end)
    width = (end_col - span.column) if end_line == span.line else len(source_text) - span.column + 1
    shown, column, room = echo_window(source_text.replace("\t", " "), span.column)
    width = max(1, min(width, room))
    before = printable(shown[: column - 1])
    under = printable(shown[column - 1 : column - 1 + width])
    underline = " " * (len(gutter) - 2) + "| " + " " * len(before) + mark * max(1, len(under))
    return [f"{gutter}{printable(shown)}", underline]


def echo_window(line: str, column: int) -> tuple[str, int, int]:
    """The part of a source line to echo, the 1-based column in it, and how
    many characters of the line it shows from that column on.

    A line of at most :data:`ECHO_WIDTH` characters is echoed whole; a
    longer one is cut to that many characters around ``column``, with
    :data:`ELLIPSIS` where characters were left out, so a diagnostic stays
    a few lines long even when the line is a megabyte."""
    if len(line) <= ECHO_WIDTH:
        return line, column, len(line) - column + 1
    start = min(max(0, column - 1 - ECHO_BEFORE), len(line) - ECHO_WIDTH)
    end = start + ECHO_WIDTH
    head = ELLIPSIS if start > 0 else ""
    tail = ELLIPSIS if end < len(line) else ""
    return f"{head}{line[start:end]}{tail}", column - start + len(head), end - column + 1


# -- JSON ----------------------------------------------------------------


def to_dict(problem: Problem, keys: tuple[str, ...] = DIAGNOSTIC_KEYS) -> dict[str, object]:
    """The JSON form of a problem, with ``keys`` in their order: each
    output keeps the keys it has always had (a ledger's problem has a
    `field`, a rule file's an end and a code). Values are not escaped:
    JSON escapes what it must, and tools want the values as they are."""
    loc = problem.location
    end_line, end_column = loc.end()
    full: dict[str, object] = {
        "path": loc.path,
        "line": loc.line,
        "column": loc.column,
        "end_line": end_line,
        "end_column": end_column,
        "field": loc.field,
        "severity": problem.severity.value,
        "code": problem.code,
        "message": problem.message,
        "help": problem.help,
        "related": [r.to_dict() for r in problem.related],
    }
    return {key: full[key] for key in keys}


# -- GitHub workflow commands --------------------------------------------


def github(problem: Problem) -> str:
    """A workflow command (`::error file=...,line=...::message`) that
    GitHub shows as an annotation; the field leads the message as in the
    text, and the help follows it."""
    loc = problem.location
    level = "error" if problem.severity is Severity.ERROR else "warning"
    message = with_field(problem) + (f" (help: {problem.help})" if problem.help else "")
    props = [f"file={escape_property(loc.path)}"]
    props += [f"line={loc.line}"] if loc.line else []
    props += [f"col={loc.column}"] if loc.column else []
    props += [f"title={problem.code}"] if problem.code else []
    return f"::{level} {','.join(props)}::{escape_data(message)}"


def escape_data(value: str) -> str:
    """A workflow-command value: `printable` (a name from a rule file must
    not reach the log as a control sequence), `%` encoded."""
    return printable(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """A workflow-command property value (`file=...`): `,` and `:` separate properties."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


# -- SARIF ---------------------------------------------------------------


def sarif_result(problem: Problem, uri: str, index: dict[str, int]) -> dict[str, object]:
    """The SARIF 2.1.0 result of a problem with a code, in the file at
    ``uri``; ``index`` maps each code to its rule's index in the run."""
    code = problem.code or ""
    message = problem.message + (f"\nhelp: {problem.help}" if problem.help else "")
    found: dict[str, object] = {
        "ruleId": code,
        "ruleIndex": index[code],
        "level": "error" if problem.severity is Severity.ERROR else "warning",
        "message": {"text": message},
        "locations": [{"physicalLocation": _physical(to_dict(problem), uri)}],
    }
    if problem.related:
        found["relatedLocations"] = [
            {"id": n, "message": {"text": r.message}, "physicalLocation": _physical(r.to_dict(), uri)}
            for n, r in enumerate(problem.related)
        ]
    return found


def _physical(place: dict[str, object], uri: str) -> dict[str, object]:
    """The SARIF physical location of a problem's (or related place's) dict."""
    region = {
        "startLine": place["line"],
        "startColumn": place["column"],
        "endLine": place["end_line"],
        "endColumn": place["end_column"],
    }
    return {"artifactLocation": {"uri": uri}, "region": region}
