"""Bounds on rule files and ledgers.

Rule files are untrusted input: each limit keeps parsing, checking and
scoring bounded in time and memory, and each has its own clear error.
"""

#: Largest rule file, in characters.
MAX_RULE_FILE_CHARS = 1_000_000
#: Deepest nesting of an expression (operators and parentheses).
MAX_EXPRESSION_DEPTH = 64
#: Most digits in a number literal, as written (see `written_digits`).
MAX_LITERAL_DIGITS = 30
#: Longest string literal or message template, in characters.
MAX_STRING_CHARS = 10_000
#: Most milestones in one rule file.
MAX_MILESTONES = 10_000
#: Most items in an ``in [...]`` list.
MAX_LIST_ITEMS = 1_000
#: Longest ledger line, in bytes.
MAX_LEDGER_LINE_BYTES = 1_000_000
#: Most digits in a ledger number (before and after the point), as written
#: for a decimal string (see `written_digits`).
MAX_LEDGER_DIGITS = 30
#: Largest exponent of ten a ledger number may carry.
MAX_LEDGER_EXPONENT = 30
#: Longest number in JSON or TOML text, in characters (sign, point and
#: exponent included): `1E+000…0025` is a small value written at any length.
MAX_NUMBER_CHARS = 40
#: Deepest JSON nesting in a ledger line.
MAX_LEDGER_NESTING = 32
#: Largest payload file `ingest` reads (JSON, a JSON array or JSON Lines), in bytes.
MAX_PAYLOAD_FILE_BYTES = 256 * 1024 * 1024
#: Deepest JSON nesting in a payload (Stripe's objects, expanded, nest about ten).
MAX_PAYLOAD_NESTING = 64
#: Longest rendered message, in characters.
MAX_MESSAGE_CHARS = 2_000


def written_digits(text: str) -> int:
    """The digits of a decimal number as written: leading and trailing zeros
    count, so `0000…0001` is as long as it looks (its value has one digit,
    which is how 40 zeros once passed a 30-digit limit). Only the lone zero
    before the point of a number below one is not a digit of it: `0.05`
    has two, as its value written out does."""
    mantissa = text.lstrip("+-").partition("e")[0].partition("E")[0]
    whole, _, fraction = mantissa.partition(".")
    return (0 if whole == "0" else len(whole)) + len(fraction)
