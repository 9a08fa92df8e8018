"""Bounds on rule files and ledgers.

Rule files are untrusted input: each limit keeps parsing, checking and
scoring bounded in time and memory, and each has its own clear error.
"""

#: Largest rule file, in characters.
MAX_RULE_FILE_CHARS = 1_000_000
#: Largest rule test file (`NAME.test.toml`), in characters.
MAX_TEST_FILE_CHARS = 10_000_000
#: Deepest nesting of an expression (operators and parentheses).
MAX_EXPRESSION_DEPTH = 64
#: Most digits in a number literal (before and after the point).
MAX_LITERAL_DIGITS = 30
#: Longest string literal or message template, in characters.
MAX_STRING_CHARS = 10_000
#: Most milestones in one rule file.
MAX_MILESTONES = 10_000
#: Most items in an ``in [...]`` list.
MAX_LIST_ITEMS = 1_000
#: Largest Stripe payload file (one JSON value, array or JSON Lines), in bytes.
MAX_PAYLOAD_FILE_BYTES = 100_000_000
#: Longest ledger line, in bytes (in characters for text given as `str`).
MAX_LEDGER_LINE_BYTES = 1_000_000
#: Most digits in a ledger number (before and after the point).
MAX_LEDGER_DIGITS = 30
#: Largest exponent of ten a ledger number may carry.
MAX_LEDGER_EXPONENT = 30
#: Deepest JSON nesting in a ledger line.
MAX_LEDGER_NESTING = 32
#: Longest rendered message, in characters.
MAX_MESSAGE_CHARS = 2_000
