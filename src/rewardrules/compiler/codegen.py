"""The one way text from outside enters generated Python source.

Two places write Python source at run time: the compiler (one module per
ruleset) and the ledger reader's fast path. Rule files, their paths, event
and field names, strings and units are untrusted, so none of it may be
pasted into that source as code: a value from outside is written only as
the `repr()` of a constant (:func:`lit`), a Python name is only ever one
the generator made up (``mv3``, ``step_0``), and each finished line is
checked to hold no character that could start a new line (:func:`line`),
so a mistake in a generator fails loudly instead of running text as code.
"""

from __future__ import annotations

import hashlib
from typing import Any

#: What `lit` writes: each has a `repr` that evaluates to an equal value
#: with no name in scope (Decimal's needs `Decimal`: pass those as named
#: constants instead, see `compiler._Writer.const`).
_LITERAL_TYPES = (str, int, bool, type(None))


class UnsafeSourceError(AssertionError):
    """A generator was about to write something other than its own code
    and `repr`'d constants: a bug in rewardrules, never the user's input."""


def lit(value: Any) -> str:
    """A Python literal for `value` (a str, int, bool, None, or a tuple of
    those): its `repr`, which escapes every quote, backslash and line
    break, so the result is one token on one line whatever the text."""
    if isinstance(value, tuple):
        return "(" + "".join(f"{lit(item)}, " for item in value) + ")"
    if isinstance(value, str):
        value = str.__str__(value)  # a plain str: a subclass's own __repr__ (lark's Token) is never used
    if type(value) not in _LITERAL_TYPES:
        raise UnsafeSourceError(f"only str, int, bool and None are written as literals, not {type(value).__name__}")
    text = repr(value)
    return line(text)


def comment(text: str) -> str:
    """A comment naming something from outside (a metric, a milestone, a
    path), written with `lit` so that it can never end early."""
    return "# " + lit(text)


def line(text: str) -> str:
    """`text` if it holds only printable characters (so no line break of
    any kind: `\\n`, `\\r`, form feed, NUL, U+0085, U+2028, U+2029);
    raises otherwise. Every generated line goes through here."""
    if not text.isprintable():
        raise UnsafeSourceError(f"generated source would hold a control character: {text[:80]!r}")
    return text


def filename(kind: str, source: str) -> str:
    """The file name given to `compile()` for generated source: a constant
    and a digest of the source, never a path or name from outside (they
    would show in tracebacks, and two rulesets with one name would share a
    `linecache` entry)."""
    digest = hashlib.blake2b(source.encode(), digest_size=6).hexdigest()
    return f"<rewardrules {kind} {digest}>"


__all__ = ["UnsafeSourceError", "comment", "filename", "line", "lit"]
