"""A text's lines as the ledger reader and an editor count them.

The ledger reader (`ledger.reading.read_lines`) ends a line at `\\n` only,
and the line numbers of a file (a rule file's `core.source`, a TOML
error's `at line N`) count `\\n` only. `str.splitlines` also ends a line at
`\\r` alone, `\\v`, `\\f`, `\\x1c`-`\\x1e`, U+0085, U+2028 and U+2029, which
a JSON string or a TOML string may hold raw: splitting JSON Lines with it
cuts a line in two, and numbering a file's lines with it counts lines that
no editor shows. Every split of a user's text into lines goes through
:func:`split_lines`.
"""

from __future__ import annotations

__all__ = ["split_lines"]


def split_lines(text: str) -> list[str]:
    """The lines of `text`, each ended by `\\n` only, without it: the `\\r`
    of a `\\r\\n` is dropped too (a line a Windows editor wrote; JSON and
    TOML read it as the line's end), a `\\r` anywhere else is kept. As
    `str.splitlines`, no empty line after a final line break, and none at
    all for an empty text: line `n` of a file is `split_lines(text)[n - 1]`."""
    lines = text.split("\n")
    last = lines.pop()
    ended = [line[:-1] if line.endswith("\r") else line for line in lines]
    if last:
        ended.append(last)
    return ended
