"""Parse a matching rule file (``grammar/matching.lark``) into its clauses.

The tree is shallow (a list of clauses, each a keyword and a few names), so
it is walked directly: nothing in a matching file nests. A syntax error
becomes one RR801 diagnostic with what was expected.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..core import limits
from ..core.diagnostics import Diagnostic, did_you_mean
from ..core.source import Source, Span
from ..syntax.parser import foreign_file
from ..syntax.tables import load_tables, tables_source

GRAMMAR = "matching.lark"
#: A matching file's first word, after comments and blank space.
_MATCHING_FILE = re.compile(r"\A\ufeff?(?:\s|#[^\n]*)*matching\b")


def is_matching_file(text: str) -> bool:
    """Whether a rule file is a matching file: its first word is `matching`
    (a reward rule file never starts so: `matching` is no keyword of it)."""
    return _MATCHING_FILE.match(text) is not None


@dataclass(frozen=True, slots=True)
class Name:
    """A name as written, with where it was written."""

    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Clause:
    """One clause of a matching file: its keyword (the grammar rule without
    `_decl`), the names it lists, an optional number, title and period."""

    kind: str
    span: Span
    names: tuple[Name, ...] = ()
    number: Decimal | None = None
    number_span: Span | None = None
    title: str | None = None
    #: the title as written, quotes and escapes included (for `fmt`)
    title_span: Span | None = None
    period: Name | None = None
    unit: Name | None = None
    #: `timezone "..."` of the `matching` line: the zone and where it is written
    zone: str | None = None
    zone_span: Span | None = None
    #: `pause at most D, at least N UNIT apart`: the gap and its unit
    gap: Decimal | None = None
    gap_span: Span | None = None
    gap_unit: Name | None = None


@functools.lru_cache(maxsize=1)
def grammar_text() -> str:
    """The grammar, as package data, or from the source checkout's `grammar/`."""
    packaged = resources.files("rewardrules").joinpath(f"grammar/{GRAMMAR}")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[3] / "grammar" / GRAMMAR).read_text(encoding="utf-8")


class _WholeWords:
    """Every lexer state reads a name, so a word is always read whole (see
    `syntax.parser._WholeWords`, whose reason holds here too)."""

    always_accept = ("NAME",)

    def process(self, stream: object) -> object:
        return stream


#: How the parser is built; the shipped tables (:mod:`._grammar_tables`) record them too.
_OPTIONS: dict[str, Any] = {"parser": "lalr", "propagate_positions": True}


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    """The LALR parser: from the analysed grammar shipped in the package
    (:mod:`._grammar_tables`, plain data) when it matches the grammar, the
    installed Lark and the options, else built from the grammar, as the
    reward language's parser does (`syntax.tables`)."""
    text = grammar_text()
    shipped = _shipped_parser(text)
    return shipped if shipped is not None else Lark(text, **_OPTIONS, postlex=_WholeWords())


def _shipped_parser(grammar: str) -> Lark | None:
    """The parser from :mod:`._grammar_tables`, or None (other grammar, Lark or options)."""
    try:
        from . import _grammar_tables as tables
    except ImportError:  # a copy of the package without the generated module
        return None
    return load_tables(grammar, tables, _OPTIONS, _WholeWords())


def tables_module(grammar: str | None = None) -> str:
    """The source of :mod:`._grammar_tables` for ``grammar`` (the packaged
    one by default); regenerate it with ``python -m rewardrules.match.parse``
    after a change to grammar/matching.lark or to Lark's version."""
    text = grammar_text() if grammar is None else grammar
    return tables_source(
        text, _OPTIONS, "grammar/matching.lark", "python -m rewardrules.match.parse", "match.parse._parser"
    )


def write_tables() -> None:
    """Regenerate ``_grammar_tables.py`` beside this module."""
    Path(__file__).with_name("_grammar_tables.py").write_text(tables_module(), encoding="utf-8")


def parse(source: Source) -> tuple[list[Clause] | None, list[Diagnostic]]:
    """The clauses of a matching file in their order, or None and the diagnostics."""
    if len(source.text) > limits.MAX_RULE_FILE_CHARS:
        message = f"rule file is too large ({len(source.text)} characters; the limit is {limits.MAX_RULE_FILE_CHARS})"
        return None, [Diagnostic("RR801", message, source.whole(), "split the matching rules into several files")]
    try:
        tree = _parser().parse(source.text)
    except UnexpectedInput as error:
        found = _syntax_error(source, error)
        foreign = foreign_file(source, found)  # a ledger given as the matching file: say so
        return None, [found if foreign is None else dataclasses.replace(found, help=foreign)]
    return [_clause(source, item) for item in tree.children if isinstance(item, Tree)], []


def _span(source: Source, node: Tree[Token] | Token) -> Span:
    if isinstance(node, Token):
        return source.span(node.start_pos or 0, node.end_pos or 0)
    meta = node.meta
    return source.span(meta.start_pos, meta.end_pos) if not meta.empty else source.whole()


def _clause(source: Source, item: Tree[Token]) -> Clause:
    """A clause from its subtree: the names (a `names` list or one NAME),
    the number, the title, the `per` period and the duration's unit."""
    kind = str(item.data).removesuffix("_decl")
    names: list[Name] = []
    found: dict[str, object] = {}
    for child in item.children:
        if isinstance(child, Token) and child.type == "NAME":
            names.append(Name(str(child), _span(source, child)))
        elif isinstance(child, Token) and child.type == "NUMBER":
            found["number"], found["number_span"] = Decimal(str(child)), _span(source, child)
        elif isinstance(child, Tree):
            _part(source, child, names, found)
    return Clause(kind, _span(source, item), tuple(names), **found)  # type: ignore[arg-type]


def _part(source: Source, child: Tree[Token], names: list[Name], found: dict[str, object]) -> None:
    """Read one part of a clause (`title`, `names`, `by`, `period`, `duration`) into ``names``/``found``."""
    tokens = list(child.scan_values(lambda v: isinstance(v, Token)))
    if child.data == "title":
        found["title"], found["title_span"] = _unquote(str(tokens[0])), _span(source, tokens[0])
    elif child.data in ("names", "by"):
        names.extend(Name(str(t), _span(source, t)) for t in tokens)
    elif child.data == "timezone":
        found["zone"], found["zone_span"] = _unquote(str(tokens[0])), _span(source, tokens[0])
    elif child.data == "period":
        found["period"] = Name(str(tokens[0]), _span(source, tokens[0]))
    elif child.data == "apart":
        found["gap"], found["gap_span"] = Decimal(str(tokens[0])), _span(source, tokens[0])
        found["gap_unit"] = Name(str(tokens[1]), _span(source, tokens[1]))
    elif child.data == "duration":
        found["number"], found["number_span"] = Decimal(str(tokens[0])), _span(source, tokens[0])
        found["unit"] = Name(str(tokens[1]), _span(source, tokens[1]))


def _unquote(text: str) -> str:
    import json

    try:
        return str(json.loads(text))
    except ValueError:
        return text[1:-1]


def _syntax_error(source: Source, error: UnexpectedInput) -> Diagnostic:
    """One RR801 diagnostic for a syntax error: where, what, and what was expected."""
    pos = getattr(error, "pos_in_stream", None) or 0
    if isinstance(error, UnexpectedCharacters):
        char = source.text[pos : pos + 1]
        return Diagnostic("RR801", f"unexpected character `{char}`", source.span(pos, pos + 1), _START_HELP)
    expected = sorted(getattr(error, "expected", None) or ())
    if isinstance(error, UnexpectedEOF) or (isinstance(error, UnexpectedToken) and error.token.type == "$END"):
        end = len(source.text)
        return Diagnostic("RR801", "unexpected end of file", source.span(max(0, end - 1), end), _expected(expected))
    assert isinstance(error, UnexpectedToken)
    token = error.token
    span = source.span(token.start_pos or 0, token.end_pos or (token.start_pos or 0) + 1)
    # what the parser accepts here (the lexer's list also holds the name every state reads)
    parser = error.interactive_parser
    accepts: Callable[[], set[str]] | None = getattr(parser, "accepts", None)  # Lark leaves it untyped
    accepted = sorted(accepts()) if accepts is not None else expected
    keywords = [_literal(t).strip("`") for t in accepted if _literal(t).startswith("`")]
    hint = did_you_mean(str(token), keywords) if token.type == "NAME" else None
    if token.type == "NAME" and str(token) == "ruleset":
        hint = _REWARD_FILE  # `match RULES` given a reward rule file
    return Diagnostic("RR801", f"unexpected `{token}`", span, hint or _expected(accepted))


#: The hint for a reward rule file given where a matching file is read.
_REWARD_FILE = (
    "this is a reward rule file (it starts with `ruleset`); a matching file starts with `matching NAME` "
    "(docs/matching.md): score reward rules with `rewardrules score`"
)


_START_HELP = "each clause starts with a keyword (`matching`, `workload`, `require`, ...); `#` starts a comment"

#: What the grammar's pattern terminals are, for "expected ..." hints.
_TERMINALS = {"NAME": "a name", "NUMBER": "a number", "STRING": "a quoted string", "$END": "the end of the file"}


def _expected(terms: list[str]) -> str:
    """`expected a, b or c`, each terminal as people write it."""
    words = sorted({_TERMINALS.get(t) or _literal(t) for t in terms})
    if not words:
        return _START_HELP
    if len(words) > 8:
        return _START_HELP
    return "expected " + ", ".join(words)


def _literal(term: str) -> str:
    try:
        pattern = _parser().get_terminal(term).pattern
    except KeyError:
        return term.lower()
    return f"`{pattern.value}`" if pattern.type == "str" else term.lower()


if __name__ == "__main__":
    write_tables()
