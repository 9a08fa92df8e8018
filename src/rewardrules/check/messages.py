"""The texts pass: every string of the file must be writable as UTF-8, and a
message template may only name what its award has (the template checks
themselves are in :mod:`.templates`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..core import limits
from ..core.source import Span
from ..syntax import nodes as ast
from . import templates
from .expressions import Expressions
from .program import (
    EventInfo,
)


class Messages(Expressions):
    """Texts and message templates."""

    def _unicode(self) -> None:
        """RR002 for text with an unpaired surrogate (a string's `\\ud800`
        escape): it cannot be written as UTF-8, so an award message, an item
        or a title holding it would fail only when the output is written."""
        for text, span in _texts(self.file):
            lone = _lone_surrogate(text)
            if lone is not None:
                self.error(
                    "RR002",
                    f"string has an unpaired surrogate escape `\\u{ord(lone):04x}`",
                    span,
                    "escape a character outside the BMP as a surrogate pair, or write it as UTF-8",
                )

    def _template(
        self, message: ast.Message, scope: Mapping[str, ast.MetricDecl], trigger_event: EventInfo | None
    ) -> None:
        if len(message.template) > limits.MAX_STRING_CHARS:
            self.error(
                "RR401", f"message is too long (the limit is {limits.MAX_STRING_CHARS} characters)", message.span
            )
            return
        names = set(templates.AWARD_NAMES) | set(scope)
        fields: dict[str, list[str]] = {}
        if trigger_event is not None:
            names.add(trigger_event.name)
            fields[trigger_event.name] = list(trigger_event.fields)
        for problem in templates.check(message.template, names, fields):
            self.error(problem.code, problem.message, _template_span(message, problem.at), problem.help)


#: a string literal as the grammar has it (STRING), to the end of the text
_STRING_LITERAL = re.compile(r'"(\\.|[^"\\\n])*"\Z')
#: an escape of a string literal: a surrogate pair, another `\\uXXXX`, or `\\` and one character
_ESCAPE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\.")


def _template_span(message: ast.Message, at: tuple[int, int] | None) -> Span | None:
    """Where a problem of a message template is in the rule file: the name
    at ``at`` (offset and length in the template text) inside the string
    literal, else the whole `message` clause.

    The literal is the clause's last token, on its last line; each escape
    in it (`\\"`, `\\u00e9`, a surrogate pair) is several characters of the
    file for one of the template, so offsets are mapped through them. If
    the literal cannot be read back to the template, the clause is shown."""
    span = message.span
    if at is None or span is None:
        return span
    text = span.text
    line_start = text.rfind("\n") + 1
    quote = text.find('"', line_start)
    if quote < 0 or not _STRING_LITERAL.match(text, quote):
        return span
    starts = _char_starts(text[quote + 1 : -1], message.template)
    offset, length = at
    if starts is None or offset + length >= len(starts):
        return span
    base = span.start + quote + 1
    return Span(span.source, base + starts[offset], base + starts[offset + length])


def _char_starts(body: str, value: str) -> list[int] | None:
    """For each character of ``value`` (and its end), where it starts in
    ``body``, the text of a string literal that reads as ``value``; None
    when the characters do not add up to ``value``'s length."""
    from ..syntax.parser import _unquote

    if _unquote(f'"{body}"') == body:  # no escapes, or one JSON does not know: kept as written
        return list(range(len(body) + 1)) if body == value else None
    starts: list[int] = []
    index = 0
    while index < len(body):
        starts.append(index)
        escape = _ESCAPE.match(body, index)
        index = escape.end() if escape else index + 1
    starts.append(len(body))
    return starts if len(starts) == len(value) + 1 else None


def _texts(file: ast.RuleFile) -> Iterator[tuple[str, Span | None]]:
    """Every text of a rule file (strings, titles, messages, names), with
    the span of the node that holds it; iterative, like :func:`ast.walk`."""
    stack: list[Any] = [file]
    while stack:
        node = stack.pop()
        for name in getattr(node, "__slots__", ()):
            if name == "span":
                continue
            value = getattr(node, name)
            if isinstance(value, str):
                yield value, node.span
            elif isinstance(value, tuple):
                stack.extend(v for v in value if hasattr(v, "__slots__"))
            elif hasattr(value, "__slots__"):
                stack.append(value)


def _lone_surrogate(text: str) -> str | None:
    """The first unpaired surrogate of a text (UTF-8 cannot hold one), or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return text[error.start]
    return None
