"""Run-time helpers that generated evaluators may call, and scoring state.

The compiler emits plain Python that reads and writes these slotted state
objects and calls only the helpers below (null-aware arithmetic and
comparisons, guarded division). Nothing else is reachable from generated
code: its globals are built from this module's ``HELPERS`` and constants.
"""

from __future__ import annotations

import bisect
import decimal
import functools
from collections.abc import Callable
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ParamSpec, TypeVar

from .limits import AwardLimitError

#: The one decimal context scoring runs in. Enough precision that sums and
#: products of ledger numbers (at most 30 digits) stay exact; a caller who
#: changes the thread's context cannot change results.
CONTEXT = decimal.Context(
    prec=100,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
ZERO = Decimal(0)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def in_context(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `fn` in `CONTEXT`, whatever the caller's decimal context.

    Every public entry (the API's functions and result methods, each CLI
    command, fmt, explain, diff, the HTML report, the Stripe ingest) wears
    this: parsing, checking and compiling compute constants too (`12.345%`
    as 0.12345, `30 days` in nanoseconds), and under a caller's `prec=3`
    or trapped `Inexact` they would change the program or raise. Nested
    entries just set the same context again. Not for generators (the
    context would not hold while they are resumed)."""

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with decimal.localcontext(CONTEXT):
            return fn(*args, **kwargs)

    return run


def n_add(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a + b


def n_sub(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a - b


def n_mul(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a * b


def n_neg(a: Any) -> Any:
    return None if a is None else -a


def n_div(a: Any, b: Any) -> Any:
    """Division; by zero (or by nothing) gives no value, never an error."""
    if a is None or b is None or not b:
        return None
    return a / b


def n_rate(a: Any, rate: Any) -> Any:
    """`rate of a`: a scaled by a rate in percent (10 for 10%); no value
    when either has none."""
    return None if a is None or rate is None else a * rate / 100


def n_tier(value: Any, lows: tuple[Any, ...], highs: tuple[Any, ...], rows: tuple[Any, ...]) -> Any:
    """A rate table: the value of the first row that holds ``value``; none
    when no row does. A row holds ``low <= value`` and ``value <= high``,
    where a high is a pair (bound, inclusive): exclusive up to the next
    row's start when the rows meet (999.995 USD is in `0 USD to 999.99 USD`
    when the next row starts at 1000 USD), None for an open row."""
    if value is None:
        return None
    for low, high, row in zip(lows, highs, rows, strict=True):
        if low <= value and (high is None or value < high[0] or (high[1] and value == high[0])):
            return row
    return None


def n_graduated(value: Any, lows: tuple[Any, ...], tops: tuple[Any, ...], rates: tuple[Any, ...]) -> Any:
    """A graduated table: each row's slice of ``value`` (from its low to its
    top, None for an open row) at the row's rate in percent, summed; none
    when ``value`` has none."""
    if value is None:
        return None
    total = ZERO
    for low, top, rate in zip(lows, tops, rates, strict=True):
        if value > low:
            total += ((value if top is None or value < top else top) - low) * rate / 100
    return total


def n_lt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a < b


def n_le(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a <= b


def n_gt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a > b


def n_ge(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a >= b


def n_eq(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a == b


def n_ne(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a != b


def n_in(a: Any, items: Any) -> bool:
    return a is not None and a in items


def n_not_in(a: Any, items: Any) -> bool:
    return a is not None and a not in items


def n_fold(a: Any) -> Any:
    """A text's Unicode case folding (`str.casefold`: the full default
    folding of CaseFolding.txt, no locale), for `ignoring case`; no value
    stays no value. Deterministic: it reads no locale and no environment."""
    return None if a is None else a.casefold()


def to_ns(value: Any) -> Any:
    """A duration computed with a number (``2 * 30 days``) back to whole ns."""
    return None if value is None else int(value)


def occurrence(multiple: Any) -> str:
    """The occurrence key of an `every` award: the multiple of the step
    reached, written canonically (no exponent, no trailing zeros, no point
    for a whole number), so it names the threshold whatever the spelling of
    the step: `every 10 paid` and `every 10.00 paid` give the same ids."""
    return format(multiple.normalize(CONTEXT), "f")


def multiples(value: Any, step: Decimal) -> Decimal:
    """`value // step`: how many multiples of `step` (positive) an `every`
    milestone's metric has reached (toward zero, as `//` of decimals),
    exactly, however many digits the quotient has. A metric of ledger
    numbers multiplied together may pass 10**100 steps, more digits than
    scoring's context holds (`DivisionImpossible`): then the quotient is
    taken in a context wide enough, and `too_many` says how many awards
    that would be."""
    try:
        return value // step  # type: ignore[no-any-return]
    except decimal.InvalidOperation:
        value = Decimal(value)
        return wide(value.adjusted() - step.adjusted() + 2).divide_int(value, step)


def next_multiple(value: Any, step: Decimal) -> Decimal:
    """The multiple of `step` after the last one `value` reached (where an
    `every` milestone's next award is), exactly: a context as wide as the
    product needs, so it is never rounded."""
    reached = multiples(value, step)
    exact = wide(max(reached.adjusted(), 0) + len(step.as_tuple().digits) + 3)
    return exact.multiply(exact.add(reached, 1), step)


def wide(digits: int, *, rounds: bool = False) -> decimal.Context:
    """Scoring's context (its rounding, range and traps), with at least
    `digits` digits: for a value past its 100. It raises rather than round
    (`Inexact` trapped) unless it `rounds` (a value rounded to cents)."""
    traps = [decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow]
    return decimal.Context(
        max(digits, CONTEXT.prec),
        decimal.ROUND_HALF_EVEN,
        CONTEXT.Emin,
        CONTEXT.Emax,
        1,
        0,
        [],
        traps if rounds else [*traps, decimal.Inexact],
    )


def too_many(milestone: str, count: Any, event: str, limit: int) -> None:
    """Stop scoring: an `every` milestone would give `count` awards at one
    event, more than `limit` (`Engine.per_event`; checked before any)."""
    raise AwardLimitError.at_event(event, int(count), f" of milestone `{milestone}`", limit, milestone)


def count_since(instants: list[int], bound: int | None) -> Decimal:
    """How many of these instants (in processing order, so never
    decreasing) are at or after `bound` (all of them for None): the
    earlier referrals within a window, in O(log n) however many there are."""
    if bound is None:
        return Decimal(len(instants))
    return Decimal(len(instants) - bisect.bisect_left(instants, bound))


HELPERS = {
    name: globals()[name]
    for name in (
        "n_add",
        "n_sub",
        "n_mul",
        "n_neg",
        "n_div",
        "n_rate",
        "n_tier",
        "n_graduated",
        "multiples",
        "n_lt",
        "n_le",
        "n_gt",
        "n_ge",
        "n_eq",
        "n_ne",
        "n_in",
        "n_not_in",
        "n_fold",
        "to_ns",
        "occurrence",
        "too_many",
        "count_since",
    )
}


#: what a referral's `kept` and `contrib` are until one is written: read
#: only, so a write that forgot `Referral.keep` or `count_in` fails loudly
#: rather than filling every referral's
NOTHING_KEPT: Any = MappingProxyType({})
NO_CONTRIBUTIONS: Any = MappingProxyType({})


class Referral:
    """One accepted referral and the state of its per-referral metrics."""

    __slots__ = (
        "at",
        "contrib",
        "converted",
        "done",
        "id",
        "issued",
        "kept",
        "links",
        "m",
        "named",
        "next",
        "prev",
        "programs",
        "rec",
        "referee",
        "referrer",
    )

    def __init__(
        self,
        event_id: str,
        at: int,
        referrer: str,
        referee: str,
        record: tuple[Any, ...],
        named: Callable[[tuple[Any, ...]], dict[str, Any]],
        slots: list[Any],
        milestones: int,
    ) -> None:
        self.id = event_id
        self.at = at
        self.referrer = referrer
        self.referee = referee
        #: the referral event's record (`model.EventInfo.record`), what
        #: the rules read by position; `named` makes `fields` of it (a
        #: dict of them each was about 250 bytes more a referral)
        self.rec = record
        self.named = named
        self.m = slots
        self.done = [False] * milestones
        self.prev: list[Any] = [ZERO] * milestones
        #: the events that may void its awards, by type (`keep`): shared
        #: and read-only until the first is kept, as are `contrib` and
        #: `converted` (most referrals never fill them: one empty dict or
        #: list each was about 400 bytes a referral by `sys.getsizeof`)
        self.kept: dict[str, list[dict[str, Any]]] = NOTHING_KEPT
        #: the awards issued for this referral (the engine's records, for
        #: `unless voided`: whether one was taken back); not in snapshots,
        #: which rebuild it from the awards
        self.issued: list[Any] = []
        self.programs: list[int] = []
        #: its contributions to per-referrer metrics, by program (`count_in`)
        self.contrib: dict[int, list[Any]] = NO_CONTRIBUTIONS
        #: (compiled program, this referrer's state in it) for each program
        #: the referral is eligible for: what the scoring loop walks
        self.links: list[tuple[Any, ReferrerState]] = []
        #: the later referral of the same referee that took it in a program
        #: whose attribution lets a referral move (see `Engine._claim`)
        self.next: Referral | None = None
        #: on a referee's first referral: the programs it converted in
        #: (`attribution ... first EVENT`), after which it no longer moves
        self.converted: list[int] | tuple[()] = ()

    @property
    def fields(self) -> dict[str, Any]:
        """The referral event's fields by name (`compiler.fields_of`): made
        on each call, for what reads them by name (explanations, snapshots);
        empty for a referral with no record."""
        return self.named(self.rec) if self.rec else {}

    def keep(self, kind: str, event: dict[str, Any]) -> None:
        """Keep an event of type `kind` that may void this referral's awards."""
        kept = self.kept
        if kept is NOTHING_KEPT:
            kept = self.kept = {}
        kept.setdefault(kind, []).append(event)

    def count_in(self, program: int, contributions: list[Any]) -> None:
        """Hold this referral's contributions to a program's per-referrer
        metrics (none when the program has no such metric: nothing held)."""
        if not contributions:
            return
        if self.contrib is NO_CONTRIBUTIONS:
            self.contrib = {}
        self.contrib[program] = contributions

    def converts_in(self, program: int) -> None:
        """Record that the referee converted in `program`, in program order
        (as a snapshot lists them)."""
        if not self.converted:
            self.converted = []
        bisect.insort(self.converted, program)


class ReferrerState:
    """A referrer's state within one program: metrics over its referrals."""

    __slots__ = ("done", "m", "prev", "referrer")

    def __init__(self, referrer: str, slots: list[Any], milestones: int) -> None:
        self.referrer = referrer
        self.m = slots
        self.done = [False] * milestones
        self.prev: list[Any] = [ZERO] * milestones


class History:
    """A referrer's referral events so far, in processing order, as the
    rules' `earlier referrals` read them: for each `count earlier
    referrals` metric, the instants of the events it counts; for each field
    a rule compares with `earlier referrals.FIELD`, each value seen and the
    id of the latest event that held it. Every referral event of the
    referrer is recorded, whatever became of it (accepted, ineligible, a
    duplicate, a self-referral): see docs/semantics.md."""

    __slots__ = ("counts", "values")

    def __init__(self, counts: int, fields: int) -> None:
        self.counts: list[list[int]] = [[] for _ in range(counts)]
        self.values: list[dict[Any, str]] = [{} for _ in range(fields)]
