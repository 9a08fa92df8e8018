"""Repeated subexpressions of a hit row's values computed once, as columns.

An exact quotient rounded half to even (`expressions.half_even_ratio`)
reads its numerator and denominator text several times over, and one
milestone's message and explanation may write the same money quotient
more than once: a 6-milestone program of quotients wrote statements of 62
to 99 KB, which DuckDB took far longer to bind and optimize than to run
(docs/reliability.md). SQL has no `LET`, so while a milestone's hit values
are written (`Lets.scope`), `Lets.name` gives each such subexpression a
column `let0`, `let1`, ... computed by a layer of `SELECT *, ... AS letN`
under the SELECT that reads it (`Lets.under`): a subexpression that reads
another let is computed one layer above it. The layers read the same rows
as that SELECT (its FROM and WHERE move into the first one), so a window
or a value means what it meant inline. Outside a scope `name` gives the
text back: what is written where no layer can go is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

#: a let's column name in a text (a literal that reads `let7` only adds a layer)
_NAME = re.compile(r"\blet(\d+)\b")


@dataclass
class Scope:
    """The lets of one SELECT: layer by layer, each text and its name."""

    layers: list[dict[str, str]] = field(default_factory=list)
    levels: dict[str, int] = field(default_factory=dict)


@dataclass
class Lets:
    """The open scope (one at a time, `scope`) and the names given so far
    (unique in the query: a counter, in the order the compiler writes)."""

    opened: Scope | None = None
    count: int = 0

    @contextmanager
    def scope(self) -> Iterator[Scope]:
        """A scope for the values of one SELECT; `under` writes its layers.
        One at a time: a let of an outer scope is not a column of an inner
        one's layers."""
        if self.opened is not None:
            raise AssertionError("a scope of lets is already open")
        self.opened = Scope()
        try:
            yield self.opened
        finally:
            self.opened = None

    def name(self, text: str) -> str:
        """The column that holds `text` in the open scope (the same column
        for the same text), or `text` itself outside one."""
        scope = self.opened
        if scope is None:
            return text
        level = max((scope.levels.get(f"let{n}", -1) for n in _NAME.findall(text)), default=-1) + 1
        if level < len(scope.layers) and text in scope.layers[level]:
            return scope.layers[level][text]
        while len(scope.layers) <= level:
            scope.layers.append({})
        name = f"let{self.count}"
        self.count += 1
        scope.layers[level][text] = name
        scope.levels[name] = level
        return name

    @staticmethod
    def under(scope: Scope, relation: str) -> str:
        """`relation` (what follows FROM, with its WHERE) with `scope`'s
        layers over it: a relation whose rows carry every let; `relation`
        itself without lets."""
        for depth, layer in enumerate(scope.layers, 1):
            columns = ", ".join(f"{text} AS {name}" for text, name in layer.items())
            relation = f"(SELECT *, {columns} FROM {relation}) AS let_{depth}"
        return relation
