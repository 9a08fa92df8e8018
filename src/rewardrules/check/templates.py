"""Award messages: jinja2 templates written in rule files.

Rule files are untrusted, so templates run in jinja2's immutable sandbox
*and* are restricted at ``check`` time to a small subset: names, constants,
``{% if %}``, ``==`` / ``!=``, ``~`` concatenation and a few text filters,
and of attributes only the declared fields of the triggering event. No
loops, calls, arithmetic, item access or imports, so nothing can reach
Python internals.

The promise ``check`` makes is that a template it passes renders, the same
bytes on every run, in bounded time. Every value a message sees is text
(or no value), so only comparisons that hold for any text are allowed; the
size of the template is bounded by the rule file's string limit, and its
shape by the limits below, which are checked on the token stream *before*
jinja2's recursive parser and compiler see the text.
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from jinja2 import Template, TemplateSyntaxError, Undefined, nodes
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..core import limits
from ..core.award import PAYOUT_FIELDS
from ..core.diagnostics import did_you_mean

#: Names every message can use, besides the program's metrics and the
#: triggering event (for `first` / `each` milestones).
AWARD_NAMES = ("ruleset", "program", "title", *PAYOUT_FIELDS, "at")

#: Deepest nesting of blocks (``{% if %}``) in one message template: jinja2
#: compiles each to a nested Python block, and Python allows 20.
MAX_TEMPLATE_NESTING = 8
#: Most filters in one ``{{ ... }}`` or ``{% ... %}`` tag.
MAX_TEMPLATE_FILTERS = 8
#: Most tokens (names, operators, constants) in one tag: bounds the length,
#: and so the depth, of its expression.
MAX_TEMPLATE_TAG_TOKENS = 64

_FILTERS = ("upper", "lower", "title", "capitalize", "trim", "default")
#: How many arguments each filter may take (`default("none")`, and its
#: second, `boolean`, argument); the others take none.
_FILTER_ARGS = {"default": 2}
#: Comparisons (jinja2's names of `==` and `!=`) that hold for any two
#: values of a message, text or none; `<` and `in` raise for some.
_COMPARISONS = frozenset({"eq", "ne"})
#: Block tags that open a block closed by `end...` (`set` only without `=`).
_BLOCKS = frozenset({"if", "for", "macro", "call", "filter", "block", "with", "autoescape", "set", "trans"})

_ALLOWED = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.If,
    nodes.CondExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Concat,
    nodes.Getattr,
    nodes.Filter,
)


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, where `x.y` reads only the item `y` of a mapping.

    jinja2 looks up a Python attribute first, so a field named `items` or
    `keys` would render a method's repr, with a heap address that differs
    at every run. An event is a mapping of its fields, and nothing else in
    a message has attributes, so anything but an item is undefined."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and isinstance(attribute, str) and attribute in obj:
            return obj[attribute]
        return self.undefined(obj=obj, name=attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        return self.getattr(obj, argument)


class _NoValue:
    """What a message reads where a value has none (a `latest` of an event
    that never came, an optional field not set): empty text wherever it
    is written, in `{{ }}`, through a filter and in `~` alike (jinja2 would
    write Python's `None`), false, equal to `none` (`== none`), and what
    `default` replaces."""

    __slots__ = ()

    def __str__(self) -> str:
        return ""

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return other is None or other is self

    def __hash__(self) -> int:
        return hash(None)

    def __repr__(self) -> str:  # never an address, should anything write its repr
        return ""


NO_VALUE: Any = _NoValue()


def _default(value: object, default_value: object = "", boolean: bool = False) -> object:
    """`default`: `default_value` for no value too (jinja2's replaces only
    a name that is not defined, and with `boolean`, anything false)."""
    if value is NO_VALUE or isinstance(value, Undefined) or (boolean and not value):
        return default_value
    return value


def _shown(value: object) -> object:
    """A context value as a message reads it: no value as `NO_VALUE`, in
    the triggering event's fields too."""
    if value is None:
        return NO_VALUE
    if isinstance(value, Mapping):
        return {name: _shown(field) for name, field in value.items()}
    return value


def _written(value: object) -> object:
    """What `{{ ... }}` writes: no value as empty text, whichever it is."""
    return "" if value is None else value


@functools.lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    # `{{ none }}`, `{{ x or none }}`: the literal no value, written as `NO_VALUE` is
    env = _Environment(autoescape=False, keep_trailing_newline=True, finalize=_written)
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in _FILTERS}
    env.filters["default"] = _default
    env.tests = {name: env.tests[name] for name in ("defined", "undefined", "none", "number", "string")}
    return env


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """One problem of a template, with the diagnostic code ``check`` gives
    it (decided where the problem is found, never from the message)."""

    code: str
    message: str
    help: str | None = None
    #: where in the template text the problem is: (offset, length), when
    #: it is one name (`check` points at it inside the message's literal)
    at: tuple[int, int] | None = None
    #: the tokens that locate it (`_locate`), such as ("payment", ".", "amout")
    tokens: tuple[str, ...] = ()


def _syntax(message: str) -> TemplateProblem:
    return TemplateProblem("RR501", f"message template: {message}", "templates use `{{ name }}` and `{% if %}`")


def check(text: str, names: Iterable[str], fields: Mapping[str, Iterable[str]] | None = None) -> list[TemplateProblem]:
    """Every problem with a message template, for ``check`` to report.

    ``names`` are the names the message may use; ``fields`` the fields of
    each of them that is an event (the triggering event of the milestone).
    """
    known = set(names)
    event_fields = {name: set(found) for name, found in (fields or {}).items()}
    env = environment()
    try:
        problems = _shape(text)
    except TemplateSyntaxError as error:
        return [_syntax(error.message or "invalid syntax")]
    if problems:
        return _located(problems, text)  # the recursive parser must not see this text
    try:
        tree = env.parse(text)
    except TemplateSyntaxError as error:
        return [_syntax(error.message or "invalid syntax")]
    except RecursionError:  # a safety net: `_shape` keeps the parser well within the limit
        return [TemplateProblem("RR401", "message template is nested too deeply")]
    problems = list(_nodes(tree, known, event_fields))
    if not problems:
        # Every name must be one we provide: jinja2's own (`self`, `loop`,
        # `caller`...) are not "undeclared" to it, but must not be reachable.
        used = {n.name for n in tree.find_all(nodes.Name)} | find_undeclared_variables(tree)
        for name in sorted(used - known):
            problems.append(
                TemplateProblem(
                    "RR502",
                    f"unknown name `{name}` in message template",
                    did_you_mean(name, known, "known names: " + ", ".join(sorted(known))),
                    tokens=(name,),
                )
            )
    if problems:
        return [_locate(problem, text) for problem in problems]
    try:
        _compiled(text)  # compiled once here, so scoring reuses it
    except (RecursionError, SyntaxError):
        # a safety net: the limits above keep jinja2 and Python's compiler well within theirs
        return [TemplateProblem("RR401", "message template is too complex to compile")]
    return []


def _locate(problem: TemplateProblem, text: str, skip: int = 0) -> TemplateProblem:
    """``problem`` with the place of its name in ``text`` (`at`): the last
    of its ``tokens`` where they first appear in a row inside a tag (a lone
    name not after `.` or `|`, which would make it a field or a filter),
    past the first ``skip`` such places (the same name said again)."""
    if not problem.tokens:
        return problem
    want = list(problem.tokens)
    found = [(offset, value) for offset, kind, value in _token_offsets(text) if kind != "whitespace"]
    for i in range(len(found) - len(want) + 1):
        if [value for _, value in found[i : i + len(want)]] != want:
            continue
        if len(want) == 1 and i > 0 and found[i - 1][1] in (".", "|"):
            continue
        if skip:
            skip -= 1
            continue
        offset, value = found[i + len(want) - 1]
        return TemplateProblem(problem.code, problem.message, problem.help, (offset, len(value)), problem.tokens)
    return problem


def _located(problems: list[TemplateProblem], text: str) -> list[TemplateProblem]:
    """Each problem `_locate`d, the n-th problem of the same tokens at their
    n-th place (`{{ 2.5 }} then {{ 2.5 }}`: two columns, not one twice)."""
    seen: dict[tuple[str, ...], int] = {}
    out = []
    for problem in problems:
        key = tuple(problem.tokens)
        out.append(_locate(problem, text, seen.get(key, 0)))
        seen[key] = seen.get(key, 0) + 1
    return out


def _token_offsets(text: str) -> Iterator[tuple[int, str, str]]:
    """Each token of the template with its offset in ``text``. jinja2's
    lexer gives lines, not offsets, but each token is a piece of the text,
    in order (only whitespace around `-` is dropped), so each is found from
    where the last one ended; inside tags only (data is not a name)."""
    cursor = 0
    inside = False
    for _, kind, value in environment().lex(text):
        offset = text.find(value, cursor)
        if offset < 0:
            return
        cursor = offset + len(value)
        if kind in ("block_begin", "variable_begin"):
            inside = True
        elif kind in ("block_end", "variable_end"):
            inside = False
        elif inside:
            yield offset, kind, value


def _shape(text: str) -> list[TemplateProblem]:
    """Problems of the template's shape, from its tokens alone: nesting of
    blocks, filters and tokens per tag, digits of numbers. jinja2's parser
    and compiler recurse over the tree, so they only see bounded shapes."""
    problems: list[TemplateProblem] = []
    depth = 0
    for tag, block in _tags(text):
        if block and _opens_block(tag):
            depth += 1
            if depth == MAX_TEMPLATE_NESTING + 1:
                problems.append(
                    TemplateProblem(
                        "RR401",
                        f"message template nests blocks more than {MAX_TEMPLATE_NESTING} deep",
                        "combine conditions with `and` / `or`, or use `{% elif %}`",
                    )
                )
        elif block and tag and tag[0][0] == "name" and tag[0][1].startswith("end"):
            depth = max(0, depth - 1)
        problems.extend(_tag_problems(tag))
    return problems


def _opens_block(tag: list[tuple[str, str]]) -> bool:
    """Whether a `{% ... %}` tag opens a block (a `set` without `=` does)."""
    if not tag or tag[0][0] != "name" or tag[0][1] not in _BLOCKS:
        return False
    return tag[0][1] != "set" or ("operator", "=") not in tag


def _tags(text: str) -> Iterator[tuple[list[tuple[str, str]], bool]]:
    """The tokens of each tag, without whitespace, and whether it is a
    `{% %}` block tag (else a `{{ }}` output)."""
    tag: list[tuple[str, str]] | None = None
    for _, kind, value in environment().lex(text):
        if kind in ("block_begin", "variable_begin"):
            tag = []
        elif kind in ("block_end", "variable_end"):
            yield tag or [], kind == "block_end"
            tag = None
        elif tag is not None and kind != "whitespace":
            tag.append((kind, value))


def _tag_problems(tag: list[tuple[str, str]]) -> Iterator[TemplateProblem]:
    """The limits of one tag; a long filter chain is named as such, not as
    a long tag as well."""
    filters = tag.count(("operator", "|"))
    if filters > MAX_TEMPLATE_FILTERS:
        yield TemplateProblem(
            "RR401",
            f"a tag of the message template has {filters} filters (the limit is {MAX_TEMPLATE_FILTERS})",
            "each filter is needed once at most: `{{ name | trim | upper }}`",
        )
    elif len(tag) > MAX_TEMPLATE_TAG_TOKENS:
        yield TemplateProblem(
            "RR401",
            f"a tag of the message template has {len(tag)} parts (the limit is {MAX_TEMPLATE_TAG_TOKENS})",
            "split it into several `{{ }}` or `{% if %}`",
        )
    for kind, value in tag:
        digits = sum(ch.isdigit() for ch in value)
        if kind in ("integer", "float") and digits > limits.MAX_LITERAL_DIGITS:
            yield TemplateProblem(
                "RR401",
                f"number in message template has {digits} digits (the limit is {limits.MAX_LITERAL_DIGITS})",
                "write it as text, in quotes",
            )
        elif kind == "float":
            # jinja2 reads `0.1` and `1e999` as Python floats, which both
            # engines would write as `0.1`... or `1.2345678901234567e+19` and
            # `inf`: no amount is ever a binary float, so such a constant is
            # refused, where it is
            yield TemplateProblem(
                "RR501",
                f"message template has the number `{value}`, with a fraction or an exponent: "
                "a template reads it as a binary float, not as the exact decimal written",
                f"write it as plain text outside the `{{{{ }}}}`, or as a string (`'{value}'`); "
                "a value to compute belongs in a metric, named in the template",
                tokens=(value,),
            )


def _nodes(tree: nodes.Template, known: set[str], fields: Mapping[str, set[str]]) -> Iterator[TemplateProblem]:
    """Problems of the parsed template's constructs (without recursion)."""
    stack: list[nodes.Node] = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, _ALLOWED):
            what = type(node).__name__.lower()
            yield TemplateProblem(
                "RR501",
                f"message templates cannot use `{what}`",
                "messages may use `{{ name }}`, `{{ name | upper }}`, `{% if ... %}` and `~`",
            )
            continue
        if isinstance(node, nodes.Filter):
            yield from _filter_problems(node)
        if isinstance(node, nodes.Operand) and node.op not in _COMPARISONS:
            yield TemplateProblem(
                "RR501",
                "message templates compare only with `==` and `!=`",
                "every value in a message is text (or no value); compare numbers in the milestone's condition",
            )
        if isinstance(node, nodes.Getattr):
            problem = _getattr_problem(node, known, fields)
            if problem is not None:
                yield problem
            continue  # a field of an event: its name is read for the field
        if isinstance(node, nodes.Name) and node.name in fields:
            example = f"{node.name}.{min(fields[node.name])}" if fields[node.name] else f"{node.name}.field"
            yield TemplateProblem(
                "RR501",
                f"message templates read the event `{node.name}` field by field, such as `{{{{ {example} }}}}`",
                "the event alone would be written as a Python mapping, which the SQL engines do not write",
                tokens=(node.name,),
            )
        stack.extend(node.iter_child_nodes())


def _filter_problems(node: nodes.Filter) -> Iterator[TemplateProblem]:
    if node.name not in _FILTERS:
        yield TemplateProblem(
            "RR501",
            f"unknown filter `{node.name}` in message template",
            did_you_mean(node.name, _FILTERS, "filters: " + ", ".join(_FILTERS)),
            tokens=("|", node.name),
        )
        return
    most = _FILTER_ARGS.get(node.name, 0)
    if len(node.args) > most or node.kwargs or node.dyn_args or node.dyn_kwargs:
        takes = "no arguments" if most == 0 else 'a value and `true` at most, as in `{{ item | default("none") }}`'
        yield TemplateProblem("RR501", f"the filter `{node.name}` takes {takes}")


def _getattr_problem(node: nodes.Getattr, known: set[str], fields: Mapping[str, set[str]]) -> TemplateProblem | None:
    """`x.y` is a field `y` of an event `x`: anything else, a method of a
    text (`referee.upper`) or a field the event does not declare, is refused."""
    only_fields = "message templates may only read a field of an event, such as `{{ payment.amount }}`"
    if not isinstance(node.node, nodes.Name) or node.attr.startswith("_"):
        return TemplateProblem("RR501", only_fields)
    name = node.node.name
    if name in fields:
        if node.attr in fields[name]:
            return None
        return TemplateProblem(
            "RR502",
            f"event `{name}` has no field `{node.attr}` in message template",
            did_you_mean(node.attr, fields[name], "fields: " + ", ".join(sorted(fields[name]))),
            tokens=(name, ".", node.attr),
        )
    if name not in known:
        return None  # reported as an unknown name
    hint = f"`{name}` has no fields"
    if node.attr in _FILTERS:
        hint += f"; for the filter, write `{{{{ {name} | {node.attr} }}}}`"
    return TemplateProblem("RR501", only_fields, hint)


@functools.lru_cache(maxsize=512)
def _compiled(text: str) -> Template:
    return environment().from_string(text)


def render(text: str, context: Mapping[str, object]) -> str:
    """Render a checked template; output longer than the limit is cut.

    The output is taken piece by piece and rendering stops once it passes
    the limit: a 10,000-character template that repeats a long value would
    otherwise build hundreds of megabytes per award before the cut. The
    pieces before the cut are exactly those of a full render, so the
    message is the same; one piece is at most one tag's output, which
    `MAX_TEMPLATE_TAG_TOKENS` bounds."""
    pieces: list[str] = []
    size = 0
    # Template.generate is a generator function, though jinja2 annotates it Iterator: it has close().
    shown = {name: _shown(value) for name, value in context.items()}
    generator = cast(Generator[str, None, None], _compiled(text).generate(shown))
    try:
        for piece in generator:
            pieces.append(piece)
            size += len(piece)
            if size > limits.MAX_MESSAGE_CHARS:
                break
    finally:
        generator.close()
    out = "".join(pieces)
    if len(out) > limits.MAX_MESSAGE_CHARS:
        out = out[: limits.MAX_MESSAGE_CHARS - 1] + "…"
    return out
