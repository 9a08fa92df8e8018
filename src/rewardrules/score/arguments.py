"""The check every public entry point makes of its arguments' types.

An argument of the wrong kind is the caller's programming mistake, not bad
input: it is a `TypeError` naming the parameter, raised at the entry
(docs/embedding.md promises it), rather than an `AttributeError` or a
message from deep inside, or a value quietly taken for another (`"no"` for
`explain=True`)."""

from __future__ import annotations

import os
from typing import Any

NONE = type(None)


def expect(value: Any, types: type | tuple[type, ...], name: str, hint: str = "") -> None:
    """Raise TypeError unless `value` is an instance of `types` (a `bool`
    is no `int` here: `True` is never a number of anything)."""
    kinds = types if isinstance(types, tuple) else (types,)
    if isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool)):
        return
    what = " or ".join("None" if kind is NONE else kind.__name__ for kind in kinds)
    raise TypeError(f"{name} must be {what}, not {type(value).__name__}" + (f": {hint}" if hint else ""))


def expect_program(value: Any, name: str = "program") -> None:
    """A `Program` argument (`rewardrules.load` or `compile` makes one)."""
    from .api import Program  # the API imports this module

    expect(value, Program, name, "load or compile the rule file first")


def path_name(value: Any, name: str = "path") -> str:
    """A file name given for messages (`path=`, `ledger=`): text or any
    `os.PathLike` (a `pathlib.Path`), as `open` takes it; returned as text."""
    expect(value, (str, os.PathLike), name)
    return os.fsdecode(os.fspath(value))
