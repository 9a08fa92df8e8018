"""The referral's own fields read outside `eligible when` (`referral.source`
in a milestone's condition, a reward's amount, an aggregate's `where`, a
count over referrals), in SQL.

The Python engine reads them from the referral (`r.fields`: the referral
event's declared fields, its id, referrer and referee) at every event of
the referral. In the query a declared field is a column of the referral
event's own row only (`"referral.source"`), so `seen` carries it on every
row of the referral: the value on its first row in processing order,
which is the referral's own event (the referee's other events come after
it, `seen`'s join), as a column of its own (`rf0`, ...). `referral.id` is
the referral's id (`rid`), `referral.at` its instant (`rat`),
`referral.referrer` and `referral.referee` its own columns. A text
compared `ignoring case` is read from its folded column the same way
(sql/expressions.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..check.program import Binding

if TYPE_CHECKING:
    from .compile import Column, _Compiler

#: the referral's built-in fields, as columns of `seen`
_BUILTIN = {"id": "rid", "referrer": "referrer", "referee": "referee"}


def value(compiler: _Compiler, binding: Binding, node: object) -> str:
    """SQL: the referral's field `binding` on a row of `seen` (or a CTE
    after it)."""
    from .compile import Column, nanoseconds

    info = binding.field
    assert info is not None
    if info.builtin:
        if info.name == "at":  # the referral's instant, as an exact value
            return nanoseconds("rat")
        if info.name not in _BUILTIN:
            raise compiler.refuse(f"the field `referral.{info.name}`", node)
        return _BUILTIN[info.name]
    kind = "number" if info.type.numeric else info.type.kind
    if kind not in ("number", "text", "boolean", "time"):
        raise compiler.refuse(f"a field of type {info.type.describe()}", node)
    alias = carried(compiler, Column("referral", info.name, kind))
    if kind == "time":  # the text of its nanoseconds: an instant
        return nanoseconds(alias)
    return f"COALESCE({alias}, FALSE)" if kind == "boolean" else alias


def is_carried(compiler: _Compiler, binding: Binding) -> bool:
    """Whether the field `binding` is the referral's own, read on another
    row of the referral (`value`, as `_Compiler.ref` decides: not in
    `eligible when`, where the referral's row is at hand, nor in a `void`
    clause, which reads it on its alias's row): then what it carries beside
    its value (its exponent, its sign, its case folding) is carried too,
    from the referral's row (`rf{n}`), or it is NULL on every other row."""
    return (
        binding.event_role == "referral"
        and not compiler.in_eligibility
        and not compiler.in_history
        and not compiler.aliases
    )


def carried(compiler: _Compiler, column: Column) -> str:
    """The alias of a column of the referral event (its value, or its text's
    case folding for `ignoring case`) carried on every row of the referral."""
    compiler.columns.setdefault(column.name, column)
    compiler.types.add("referral")  # the referral's own row, which carries it
    return compiler.referral_columns.setdefault(column.name, f"rf{len(compiler.referral_columns)}")


def columns(compiler: _Compiler) -> str:
    """The columns `seen` adds (`, FIRST_VALUE(...) AS rf0, ...`): each
    field read, from the referral's own row, on every row of the referral."""
    from .compile import ident

    first = 'OVER (PARTITION BY a.rid ORDER BY e."at", e.id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)'
    return "".join(
        f", FIRST_VALUE(e.{ident(name)}) {first} AS {alias}" for name, alias in compiler.referral_columns.items()
    )
