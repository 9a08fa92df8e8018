"""How values are written in results: amounts, metric values, instants.

Shared by the engine (which writes an award's record once, when it is
issued) and the report (explanations, messages). Money is written with
exactly its currency's decimals; other numbers plainly, never in scientific
notation up to 10**1000 (`PLAIN_EXPONENT`); instants in UTC with `Z`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from .datatypes import DURATION, QUANTITY, TIME, Type
from .runtime import CONTEXT, wide
from .timeutil import NS_PER_DAY, NS_PER_HOUR, NS_PER_MINUTE, NS_PER_SECOND, format_timestamp
from .units import format_amount, is_currency, minor_exponent

#: The largest power of ten (and the smallest, negated) a number is written
#: out in full for: past it, with its exponent (`1.2E+5000`). A rule file
#: of 581 bytes that squared a ledger's 2 twenty times wrote 95 MB of
#: digits for 100 referrals (review, 2026-12-08); no money nor count of a
#: real program comes near 10**1000, and a value has at most 100
#: significant digits (`runtime.CONTEXT`) however it is written.
PLAIN_EXPONENT = 1000


def written(value: Decimal) -> str:
    """A decimal as `format(value, "f")` writes it (no exponent), or, past
    `PLAIN_EXPONENT`, as `str` writes it (with one): at most about a
    thousand characters either way."""
    if -PLAIN_EXPONENT <= value.adjusted() <= PLAIN_EXPONENT:
        return format(value, "f")
    return str(value) if value else "0"  # (an underflow's `0E-1000098`: not a million zeros)


def plain(value: Decimal) -> str:
    """A decimal without exponent notation (up to `PLAIN_EXPONENT`) or a
    negative zero."""
    if not value:
        return "0"
    return written(value)


def percent_tenths(part: int, whole: int, *, down: bool = False) -> Decimal:
    """`part` of `whole` (whole numbers, `whole` > 0) in percent to one
    decimal, rounded half to even (or down: a coverage of 99.96% must not
    read 100.0%). Whole-number arithmetic, so no decimal context (a
    caller's, narrower or trapping) can round it otherwise or raise."""
    tenths, rest = divmod(1000 * part, whole)
    if not down and (2 * rest > whole or (2 * rest == whole and tenths % 2)):
        tenths += 1
    return Decimal(f"{tenths // 10}.{tenths % 10}")


#: the parts a duration whose days do not end is written in (`duration_text`)
_PARTS = ((NS_PER_DAY, "day"), (NS_PER_HOUR, "hour"), (NS_PER_MINUTE, "minute"))


def duration_text(ns: int) -> str:
    """A duration (nanoseconds) as explanations and messages write it,
    exactly: in days (`3.5 days`, `-2 days`, `0.25 days`), as thresholds
    are compared in days, where their decimals end; else in days, hours,
    minutes and seconds, each part with the duration's sign (`8 hours`,
    `1 day 7 hours`, `-8 hours -20 seconds`), where days would go on for
    ever: a third of a day (31 hours are 1.291666... days) was written to
    100 significant digits. The decimals of days end when NS_PER_DAY
    (2^16 x 3^3 x 5^11) divides ns x 10^16. Whole numbers only, so no
    decimal context changes the bytes; the SQL engines write durations
    with this too."""
    sign, left = ("-" if ns < 0 else ""), abs(ns)
    if left * 10**16 % NS_PER_DAY == 0:
        whole, rest = divmod(left * 10**16 // NS_PER_DAY, 10**16)
        return f"{sign if ns else ''}{whole}{f'.{rest:016d}'.rstrip('0').rstrip('.')} days"
    parts = []
    for size, name in _PARTS:
        count, left = divmod(left, size)
        if count:
            parts.append(f"{sign}{count} {name}{'' if count == 1 else 's'}")
    if left:
        seconds, rest = divmod(left, NS_PER_SECOND)
        fraction = f".{rest:09d}".rstrip("0").rstrip(".")
        parts.append(f"{sign}{seconds}{fraction} second{'' if seconds == 1 and not rest else 's'}")
    return " ".join(parts)


_UNIT_NS = {"day": NS_PER_DAY, "hour": NS_PER_HOUR, "minute": NS_PER_MINUTE, "second": NS_PER_SECOND}
_WRITTEN_PART = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))? (day|hour|minute|second)s?")


def duration_ns(text: str) -> int | None:
    """The nanoseconds a duration written by `duration_text` says (the sum
    of its parts, each `-`? digits, decimals and a unit); None for other
    text or a part below a nanosecond. Whole-number arithmetic: reports
    that read a duration back (`explain`) compute with it in no context."""
    total = 0
    words = text.split(" ")
    if len(words) % 2:
        return None
    for number, unit in zip(words[::2], words[1::2], strict=True):
        found = _WRITTEN_PART.fullmatch(f"{number} {unit}")
        if found is None:
            return None
        sign, whole, decimals, name = found.groups(default="")
        scale = 10 ** len(decimals)
        ns, rest = divmod(int(whole + decimals) * _UNIT_NS[name], scale)
        if rest:
            return None
        total += -ns if sign else ns
    return total


def format_value(value: Any, typ: Type | None) -> Any:
    """How a metric or field value appears in explanations and messages."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if typ is not None and typ.kind == TIME and isinstance(value, int):
        return format_timestamp(value)
    if typ is not None and typ.kind == DURATION and isinstance(value, int):
        return duration_text(value)
    if isinstance(value, Decimal):
        quantum = money_quantum(typ)
        if quantum is not None:
            return written(to_quantum(value, quantum))
        return plain(value.normalize(CONTEXT)) if value == value.to_integral_value() else plain(value)
    return str(value)


def with_unit(text: str, typ: Type | None) -> str:
    """A value or threshold written by `format_value` (or as in the rule
    file), followed by its unit when it has one: `900.00 USD`, `500 MB`,
    `20 seats`. A count has none; a duration already says `days`. Progress
    says the unit of both sides: `` `mrr` is 900.00 USD of 1000 USD``."""
    unit = typ.unit if typ is not None and typ.kind == QUANTITY else None
    return f"{text} {unit}" if unit else text


def formatter(typ: Type | None) -> Callable[[Any], Any]:
    """`format_value` for values of one type, with what depends on the type
    decided once (for an award's explanation: the compiler knows the type
    of each value it records)."""
    quantum = money_quantum(typ)
    exponent = quantum.as_tuple().exponent if quantum is not None else None
    # Rounded to an exponent from -6 to 0 (every currency's), a decimal's
    # `str` is in plain notation, as `format(value, "f")` writes it, at a
    # third of the cost.
    if quantum is None or not isinstance(exponent, int) or not -6 <= exponent <= 0:
        return functools.partial(format_value, typ=typ)

    def money(value: Any) -> Any:
        if type(value) is Decimal:
            try:
                # the context by position: by keyword it costs 0.2 us more
                return str(value.quantize(quantum, None, CONTEXT))
            except InvalidOperation:  # more digits than the context holds
                return written(to_quantum(value, quantum))
        return format_value(value, typ)

    return money


def to_quantum(value: Decimal, quantum: Decimal) -> Decimal:
    """`value` rounded half to even to `quantum` (0.01 for cents), exactly,
    however many digits that takes. Scoring's context holds 100 digits: a
    metric of ledger numbers multiplied together (`price * seats * seats`)
    may have more whole digits than that leaves for the cents, and its
    value is still written, in full (up to `PLAIN_EXPONENT`, past which
    it is returned normalized, to be written with its exponent), rather
    than stop the run."""
    try:
        return value.quantize(quantum, None, CONTEXT)  # the context by position: by keyword it costs 0.2 us more
    except InvalidOperation:
        if value.adjusted() > PLAIN_EXPONENT:
            # written with its exponent (`written`), the same however it was
            # computed (`8E+1024`, not `8.000…0E+1024` with some zeros or more)
            return value.normalize(CONTEXT)
        exponent = quantum.as_tuple().exponent
        assert isinstance(exponent, int)  # (a quantum is finite)
        # the whole digits, the decimals, and one for a carry (9.999 to 10.00)
        return value.quantize(quantum, None, wide(max(value.adjusted(), 0) + 1 - exponent + 1, rounds=True))


def money_quantum(typ: Type | None) -> Decimal | None:
    """The minor unit of a money type (0.01 for USD), None for other types."""
    return None if typ is None or not typ.unit else _unit_quantum(typ.unit)


@functools.lru_cache(maxsize=64)
def _unit_quantum(unit: str) -> Decimal | None:
    # cached by the unit's name: hashing a `Type` (a dataclass) cost more
    # than the rest of writing a value in an explanation
    return Decimal(1).scaleb(-minor_exponent(unit)) if is_currency(unit) else None


def amount_text(amount: Decimal, quantum: Decimal | None, kind: str) -> str:
    """Money is already rounded to its quantum: print every decimal of it;
    other units print plainly; items are one item."""
    if kind == "item":
        return "1"
    if quantum is not None:
        return format(amount, "f")
    return format_amount(amount, "item")


#: The Unicode categories of characters that must not reach a terminal or a
#: text table as they are: controls (Cc: C0, C1 and DEL; a newline forges a
#: row, ESC starts an ANSI sequence), format characters (Cf: the bidi
#: controls that make text read in another order than it is stored, and the
#: invisible ones such as U+200B, U+FEFF and U+061C), the line and paragraph
#: separators (Zl, Zp) and lone surrogates (Cs). Chosen by category, not by a
#: list, so that every such character is covered, including ones a later
#: Unicode adds. Private-use (Co) and unassigned characters pass: a font
#: draws them (at worst as a box), and they move nothing.
ESCAPED_CATEGORIES: frozenset[str] = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

#: Format characters that are part of ordinary text and move nothing, so
#: they pass: the zero-width non-joiner and joiner (Persian and Indic
#: words, emoji sequences such as a family) and the emoji tag characters
#: (flags of regions). Escaping them made names unreadable and a `fmt`
#: diff of such a file no longer applied.
_TEXT_FORMAT_CHARS = frozenset({"\u200c", "\u200d"} | {chr(c) for c in range(0xE0020, 0xE0080)})

#: The characters worth a look: all but printable ASCII (the category of
#: each is checked then).
_CANDIDATE = re.compile("[^ -~]")

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _TEXT_FORMAT_CHARS or unicodedata.category(char) not in ESCAPED_CATEGORIES:
        return char
    return _escape(char)


def printable(text: str) -> str:
    """Text for people, safe to print: names and values come from ledgers
    and rule files, so every control, format or separator character (see
    :data:`ESCAPED_CATEGORIES`) is written as an escape (`\\n`, `\\x1b`,
    `\\u202e`, `\\ufeff`) and one value stays on one line. Every text
    output (score, explain, diff, check, test, error messages) writes its
    lines through here."""
    if text.isprintable():
        return text  # the common case, in C: no character of those categories
    return _CANDIDATE.sub(_escape_char, text)


def _escape_but_tab(match: re.Match[str]) -> str:
    return match.group() if match.group() == "\t" else _escape_char(match)


def printable_patch_line(line: str) -> str:
    """A line of a unified diff, safe to print and still a patch: control
    characters escaped as by `printable`, except a tab (rule files may hold
    tabs, and the patch must match them) and the line's own ending (`\\n`,
    or `\\r\\n` in a file with Windows line endings). Ordinary text passes
    unchanged, so the diff of it applies; a line with an escaped character
    shows the escape instead."""
    ending = "\r\n" if line.endswith("\r\n") else "\n" if line.endswith("\n") else ""
    body = line[: len(line) - len(ending)]
    return _CANDIDATE.sub(_escape_but_tab, body) + ending


def shown(value: object) -> str:
    """A value from outside (an id, a path, a name from a payload) as an
    error message shows it: `printable`, and cut to its start and end when
    longer than `diagnostics.QUOTE_WIDTH` (an id can be as long as a ledger
    line: a megabyte). Every such value in a message goes through here, or
    through `quoted`."""
    from .diagnostics import shorten

    return printable(shorten(value if isinstance(value, str) else str(value)))


def quoted(value: object) -> str:
    """A value from outside in backticks, as messages quote it: `shown`."""
    return f"`{shown(value)}`"


def printable_lines(lines: Iterable[str]) -> str:
    """Lines of a text output, each made `printable`, each ending in a newline."""
    return "".join(printable(line) + "\n" for line in lines)


#: The ASCII punctuation that Markdown (CommonMark, and GitHub's
#: extensions: tables, strikethrough, autolinks, math) reads as markup
#: somewhere in a line: each is written backslash-escaped, which CommonMark
#: guarantees is the character itself. `<`, `>` and `&` (HTML, entities)
#: are written as entities. The rest of ASCII punctuation (`,;'"/=?%`)
#: opens nothing by itself: it means something only inside a link, an
#: autolink or HTML, whose openers are escaped.
_MARKDOWN_ESCAPES = {
    **{char: "\\" + char for char in "\\`*_{}[]()#+-.!|~:@$^"},
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
}
_MARKDOWN_SPECIAL = re.compile("[" + re.escape("".join(_MARKDOWN_ESCAPES)) + "]")


def markdown_text(text: str) -> str:
    """Untrusted text (a referrer id, a name, a message) made inert in
    Markdown: `printable`, then every character of `_MARKDOWN_ESCAPES`
    escaped, so that `[x](https://…)`, `<img …>`, `**bold**`, a backtick
    or `|` show as written and a name cannot add a link, HTML, emphasis,
    code or a table column. The same text in a table cell (`|` escaped) or
    a paragraph."""
    return _MARKDOWN_SPECIAL.sub(lambda m: _MARKDOWN_ESCAPES[m.group()], printable(text))


def markdown_code(text: str, *, in_table: bool = False) -> str:
    """`printable` text as a Markdown code span, where nothing is markup:
    fenced by one backtick more than the longest run of them in it, and
    padded with a space when it starts or ends with a backtick or a space
    (which the span would otherwise take as part of its fence, or strip).
    `in_table`: `|` escaped too, since a table splits its cells at `|`
    even inside a code span (GitHub then shows it as written)."""
    shown_text = printable(text)
    longest = max((len(run) for run in re.findall("`+", shown_text)), default=0)
    fence = "`" * (longest + 1)
    if not shown_text or shown_text[0] in "` " or shown_text[-1] in "` ":
        shown_text = f" {shown_text} "
    if in_table:
        shown_text = shown_text.replace("|", "\\|")
    return f"{fence}{shown_text}{fence}"
