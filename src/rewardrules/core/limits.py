"""Bounds on rule files and ledgers.

Rule files are untrusted input: each limit keeps parsing, checking and
scoring bounded in time and memory, and each has its own clear error.
"""

from __future__ import annotations

from decimal import Decimal

#: Largest rule file, in characters.
MAX_RULE_FILE_CHARS = 1_000_000
#: Largest rule test file (`NAME.test.toml`), in characters.
MAX_TEST_FILE_CHARS = 10_000_000
#: Deepest nesting of an expression's operators (parentheses that only
#: group make no node, so they add no level: docs/language.md).
MAX_EXPRESSION_DEPTH = 64
#: Most digits in a number literal, as written (see `written_digits`).
MAX_LITERAL_DIGITS = 30
#: Longest string literal or message template, in characters.
MAX_STRING_CHARS = 10_000
#: Most milestones in one rule file.
MAX_MILESTONES = 10_000
#: Most items in an ``in [...]`` list.
MAX_LIST_ITEMS = 1_000
#: Longest ledger line, in bytes (in characters for text given as `str`).
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
#: Most accepted referrals of one referee (a program whose attribution
#: moves accepts a later referral that takes the referee): each event of
#: the referee may be looked at for each of them.
MAX_REFERRALS_PER_REFEREE = 100
#: Longest rendered message, in characters.
MAX_MESSAGE_CHARS = 2_000
#: Largest settled statement file (`--settled`), in bytes: 256 MiB, some
#: 300,000 award records of a previous result with explanations, a million
#: without. Parsed, JSON takes several times its size in memory: the bound is
#: what a run holds beside its ledger, not what a disk holds.
MAX_SETTLED_FILE_BYTES = 256 * 1024 * 1024
#: Largest session snapshot restored, in bytes.
MAX_SNAPSHOT_BYTES = 2_000_000_000
#: Deepest nesting of a value in a session snapshot (a ledger's nesting, doubled by tags, and room).
MAX_SNAPSHOT_NESTING = 2 * MAX_LEDGER_NESTING + 8


def written_digits(text: str) -> int:
    """The digits of a decimal number as written: leading and trailing zeros
    count, so `0000…0001` is as long as it looks (its value has one digit,
    which is how 40 zeros once passed a 30-digit limit). Only the lone zero
    before the point of a number below one is not a digit of it: `0.05`
    has two, as its value written out does."""
    mantissa = text.lstrip("+-").partition("e")[0].partition("E")[0]
    whole, _, fraction = mantissa.partition(".")
    return (0 if whole == "0" else len(whole)) + len(fraction)


# -- awards ------------------------------------------------------------------
# A short rule can ask for any number of awards (`every 0.0001 paid`): money
# is never dropped or postponed silently, so past these limits scoring stops
# with an AwardLimitError (exit 2 from the CLI), and `check` refuses an
# `every` step below the smallest step its metric can take (RR402).

#: Most awards (withheld ones included) that one event may give, unless the
#: caller raises it (`max_awards_per_event=`, `--max-awards-per-event`). One
#: payment that pays a hundred separate awards is almost surely a step
#: written too small (`every 0.01 paid` where `every 100 paid` was meant).
MAX_AWARDS_PER_EVENT = 100
#: Most awards (withheld ones included) that one scoring run or session may give.
MAX_AWARDS_PER_RUN = 5_000_000
#: Smallest `every` step on a metric that is neither money (whose floor is
#: its currency's minor unit, 0.01 USD) nor a count (whose floor is 1).
MIN_EVERY_STEP = "0.01"


class AwardLimitError(Exception):
    """Scoring stopped: the rules and ledger ask for more awards than a
    limit above allows. Nothing is issued in part: the run gives no result
    (a session that raised it is to be restored from its last snapshot)."""

    def __init__(self, message: str, hint: str, event: str, limit: int, milestone: str | None = None) -> None:
        super().__init__(f"{message}\n     = help: {hint}")
        self.message = message
        self.hint = hint
        self.event = event
        self.limit = limit
        #: the `every` milestone whose multiples alone pass the limit at one
        #: event, when that is the reason (`runtime.too_many`): an event of
        #: several referrals names the first such milestone in the file, as
        #: SQL's `volume` does, whichever referral's step raised first
        self.milestone = milestone

    def __reduce__(self) -> tuple[type[AwardLimitError], tuple[str, str, str, int, str | None]]:
        """Rebuilt from its fields, not from `args` (the joined text):
        a worker of `simulate --jobs` raises it in another process, and an
        exception that cannot be unpickled breaks the whole pool."""
        return type(self), (self.message, self.hint, self.event, self.limit, self.milestone)

    @classmethod
    def at_event(
        cls, event: str, count: int, what: str, limit: int = MAX_AWARDS_PER_EVENT, milestone: str | None = None
    ) -> AwardLimitError:
        """More than `limit` (`MAX_AWARDS_PER_EVENT`, or the caller's) awards
        from one event; `milestone`: the `every` milestone `what` names, if any."""
        return cls(
            f"event `{event}` would give {_many(count)} awards{what}, more than the limit of "
            f"{limit:,} at one event; scoring stopped",
            "raise the step of `every`, or give one award per event with an amount that grows with the metric; "
            "if so many awards at one event are meant, raise the limit (--max-awards-per-event N; max_awards_per_event= in the API)",
            event,
            limit,
            milestone,
        )

    @classmethod
    def in_run(cls, event: str, count: int, limit: int = MAX_AWARDS_PER_RUN) -> AwardLimitError:
        """More than `limit` (`MAX_AWARDS_PER_RUN`) awards in one run."""
        return cls(
            f"event `{event}` would bring the awards to {count:,}, more than the limit of "
            f"{limit:,} in one run; scoring stopped",
            "look for a milestone that repeats far more often than meant, or score a shorter period (--as-of)",
            event,
            limit,
        )


class ValueLimitError(AwardLimitError):
    """Scoring stopped: a value the rules compute passed the largest number
    scoring holds (10**999999: `runtime.CONTEXT`), as a metric that
    squares itself over and over does. A kind of `AwardLimitError`: the
    same stop (nothing issued for that event, a session to be restored
    from its last snapshot), and what catches one catches both."""

    @classmethod
    def overflow(cls, where: str | None, event: str | None, limit: int) -> ValueLimitError:
        """A value past `10**limit`, computed `where` (the rule file's line
        and what it computes, when known) at `event` (its id, when known)."""
        at = f" at event `{event}`" if event else ""
        return cls(
            f"a value {where or 'the rules compute'}{at} is past the largest number scoring holds "
            f"(10^{limit:,}); scoring stopped",
            "a metric that multiplies itself, or divides by a very small number, grows past any amount: "
            "check that rule (`check --bounds` shows what each referral can earn)",
            event or "",
            limit,
        )


def per_event_limit(value: object) -> int:
    """The most awards one event may give, as a caller set it: None for
    `MAX_AWARDS_PER_EVENT`, else a whole number from 1 to
    `MAX_AWARDS_PER_RUN` (a run never gives more): an int or a subclass of
    it (an `IntEnum`), taken as a plain int; never a bool (`True` is no count)."""
    if value is None:
        return MAX_AWARDS_PER_EVENT
    number = int(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if number is None or not 1 <= number <= MAX_AWARDS_PER_RUN:
        raise ValueError(f"max_awards_per_event must be a whole number from 1 to {MAX_AWARDS_PER_RUN:,}, not {value!r}")
    return number


def _many(count: int) -> str:
    """A count for a message: digits, or its order of magnitude when it is
    huge (`every 0.01 paid` over a 30-digit amount). The magnitude is the
    decimal's, not `len(str(count))`: Python refuses to write an int of
    more than 4,300 digits (`every 1` over a metric squared 14 times)."""
    if count < 10**12:
        return f"{count:,}"
    return f"about 10^{Decimal(count).adjusted()}"
