"""Award messages: jinja2 templates written in rule files.

Rule files are untrusted, so templates run in jinja2's immutable sandbox
*and* are restricted at ``check`` time to a small subset: names, constants,
``{% if %}``, comparisons, ``~`` concatenation and a few text filters. No
loops, calls, arithmetic, item access or imports, so rendering is bounded by
the template's length and nothing can reach Python internals.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, nodes
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import limits

#: Names every message can use, besides the program's metrics and the
#: triggering event (for `first` / `each` milestones).
AWARD_NAMES = (
    "ruleset",
    "program",
    "milestone",
    "title",
    "role",
    "beneficiary",
    "referrer",
    "referee",
    "kind",
    "amount",
    "unit",
    "item",
    "at",
)

_FILTERS = ("upper", "lower", "title", "capitalize", "trim", "default")

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


@functools.lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in _FILTERS}
    env.tests = {name: env.tests[name] for name in ("defined", "undefined", "none", "number", "string")}
    return env


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    message: str
    help: str | None = None
    unknown_name: str | None = None


def check(text: str, names: Iterable[str]) -> list[TemplateProblem]:
    """Every problem with a message template, for ``check`` to report."""
    known = set(names)
    env = environment()
    try:
        tree = env.parse(text)
    except TemplateSyntaxError as error:
        return [TemplateProblem(f"message template: {error.message}", "templates use `{{ name }}` and `{% if %}`")]
    except RecursionError:
        return [TemplateProblem("message template is nested too deeply")]
    problems: list[TemplateProblem] = []
    stack: list[nodes.Node] = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, _ALLOWED):
            what = type(node).__name__.lower()
            problems.append(
                TemplateProblem(
                    f"message templates cannot use `{what}`",
                    "messages may use `{{ name }}`, `{{ name | upper }}`, `{% if ... %}` and `~`",
                )
            )
            continue
        if isinstance(node, nodes.Filter) and node.name not in _FILTERS:
            problems.append(
                TemplateProblem(f"unknown filter `{node.name}` in message template", "filters: " + ", ".join(_FILTERS))
            )
        if isinstance(node, nodes.Getattr) and (not isinstance(node.node, nodes.Name) or node.attr.startswith("_")):
            problems.append(
                TemplateProblem("message templates may only read a field of an event, such as `{{ payment.amount }}`")
            )
            continue
        stack.extend(node.iter_child_nodes())
    if not problems:
        # Every name must be one we provide: jinja2's own (`self`, `loop`,
        # `caller`...) are not "undeclared" to it, but must not be reachable.
        names = {n.name for n in tree.find_all(nodes.Name)} | find_undeclared_variables(tree)
        for name in sorted(names - known):
            problems.append(TemplateProblem(f"unknown name `{name}` in message template", unknown_name=name))
    return problems


@functools.lru_cache(maxsize=512)
def _compiled(text: str):  # type: ignore[no-untyped-def]
    return environment().from_string(text)


def render(text: str, context: Mapping[str, object]) -> str:
    """Render a checked template; output longer than the limit is cut."""
    out = _compiled(text).render(dict(context))
    if len(out) > limits.MAX_MESSAGE_CHARS:
        out = out[: limits.MAX_MESSAGE_CHARS - 1] + "…"
    return out
