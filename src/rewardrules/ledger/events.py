"""What the ledger stage hands on: events, and the problems of a ledger's lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from ..core.formatting import quoted
from ..core.problem import Location, Problem, Severity
from ..core.render import text as render_text
from ..core.render import to_dict as problem_dict
from ..core.timeutil import format_timestamp


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """One mistake in a ledger: where it is and what to do about it."""

    line: int
    field: str | None
    message: str
    hint: str | None = None

    def to_problem(self, path: str) -> Problem:
        """The problem in the ledger at ``path``, for the shared renderer:
        a line (0: not on a line) and a field, no column."""
        return Problem(Severity.ERROR, None, self.message, Location(path, self.line, field=self.field), self.hint)

    def render(self, path: str) -> str:
        """The problem as text (`render.text`): each of its lines is
        `printable`, since the path is the caller's and the message quotes
        values from the ledger, and neither may forge a line or drive a
        terminal."""
        return render_text(self.to_problem(path))

    def to_dict(self, path: str) -> dict[str, Any]:
        return problem_dict(self.to_problem(path), _KEYS)


#: The keys of a ledger problem's JSON form, in their order.
_KEYS = ("path", "line", "field", "message", "help")


#: How many problems a `LedgerError`'s text tells; the others are counted.
SHOWN_PROBLEMS = 50


class LedgerError(Exception):
    """A ledger that cannot be scored; carries every problem found."""

    def __init__(self, problems: list[LedgerProblem], path: str = "<ledger>") -> None:
        self.problems = problems
        self.path = path
        shown = problems[:SHOWN_PROBLEMS]
        text = "\n".join(p.render(path) for p in shown)
        if len(problems) > len(shown):
            text += f"\n... and {len(problems) - len(shown)} more"
        super().__init__(text)


@dataclass(slots=True, eq=False, repr=False)
class Event:
    """A validated ledger event. ``record`` is what rules see: the event's
    values as a tuple laid out by `model.EventInfo.record` (instant in ns
    since the epoch, id, type, referee, referrer, then the declared fields,
    converted; None when an optional one is absent)."""

    id: str
    at: int
    type: str
    referrer: str | None
    referee: str | None
    record: Record
    line: int
    raw: Mapping[str, Any]

    @property
    def key(self) -> tuple[int, str]:
        """The processing order: instant, then id."""
        return (self.at, self.id)

    @property
    def timestamp(self) -> str:
        return format_timestamp(self.at)


#: An event's values, laid out by `model.EventInfo.record`: (instant, id,
#: type, referee, referrer, declared fields...). Ids are unique, so sorting
#: records is ledger order and never compares past the id.
Record = tuple[Any, ...]


def sort_records(records: list[Record]) -> None:
    """Put records in ledger order, (instant, id), in place: by id, then
    by instant, keeping the id order among equal instants (sorting is
    stable; ids are unique). Two sorts on one key each took about half the
    time of one sort of the tuples (200,000 records), which compares each
    pair's instants, many-digit ints, through the tuples' generic
    comparison."""
    records.sort(key=_ID)
    records.sort(key=_INSTANT)


_ID = itemgetter(1)
_INSTANT = itemgetter(0)


def _head(event_id: str, at: int, event_type: str, referee: str | None, referrer: str | None) -> Record:
    """The first values of every record (`model.RECORD_HEAD`), and the
    whole record of an event whose type no rule uses."""
    return (at, event_id, event_type, referee, referrer)


def conflict(line: int, event_id: str, previous_line: int) -> LedgerProblem:
    """Two lines with one id and different content."""
    return LedgerProblem(
        line,
        "id",
        f"id {quoted(event_id)} is already used on line {previous_line} with different content",
        "ids are unique; an exact duplicate line is fine",
    )
