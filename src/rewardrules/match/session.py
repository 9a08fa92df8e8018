"""A matching session: assign referrals as the events arrive.

An app that matches as requests come in gives the session each event as it
happens; the session answers with the assignments that event made (a
request's, or a decline's reassignment). Events must come in (instant, id)
order: an assignment the app was told is never rewritten, so an event older
than one already taken is refused, never slipped in before it. Given the
same events, a session makes exactly the assignments `api.match` makes from
the whole ledger (tests/test_matching_properties.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..core.timeutil import format_timestamp
from ..ledger.events import LedgerError, LedgerProblem
from .api import MatchResult
from .check import MatchRules
from .evaluate import Assignment, Matcher
from .events import event_record, read_events


class MatchSession:
    """Events in, assignments out, one event at a time."""

    def __init__(self, rules: MatchRules, path: str = "<session>") -> None:
        self.rules = rules
        self.path = path
        self._matcher = Matcher(rules)
        self._last: tuple[int, str] | None = None
        self._ids: set[str] = set()
        #: every event taken, as a ledger line: what a snapshot keeps
        self._taken: list[dict[str, Any]] = []

    def add(self, event: str | bytes | dict[str, Any]) -> list[Assignment]:
        """Take one event (a ledger line, or its JSON object); return the
        assignments it made. `LedgerError` (and nothing changes) for an
        invalid event, a repeated id, or one older than the last taken."""
        line = len(self._ids) + 1
        (taken,) = read_events([event], self.rules, self.path)
        taken = replace(taken, line=line)
        if taken.id in self._ids:
            raise LedgerError([LedgerProblem(line, "id", f"id `{taken.id}` is taken already")], self.path)
        if self._last is not None and taken.order() <= self._last:
            last = format_timestamp(self._last[0])
            message = f"event `{taken.id}` is older than the last event taken (`{self._last[1]}` at {last})"
            hint = "a session takes events in (at, id) order; match the whole ledger again to replay history"
            raise LedgerError([LedgerProblem(line, "at", message, hint)], self.path)
        before = len(self._matcher.assignments)
        try:
            self._matcher.run([taken], self.path)
        finally:
            # an event the matcher refuses changes nothing (it is checked before any change)
            self._matcher.problems.clear()
        self._ids.add(taken.id)
        self._last = taken.order()
        self._taken.append(event_record(taken))
        return self._matcher.assignments[before:]

    def snapshot(self) -> bytes:
        """The session as bytes to keep across a restart (`match.snapshot`):
        `MatchSession.restore(rules, blob)` gives it back."""
        from .snapshot import dump

        return dump(self)

    @classmethod
    def restore(cls, rules: MatchRules, blob: bytes | str, path: str = "<session>") -> MatchSession:
        """A session from `snapshot()`'s bytes, or `MatchSnapshotError`: the
        bytes are untrusted (bounded, checked, replayed through the ledger's
        checks), and refused for other rules than they were taken under."""
        from .snapshot import load

        return load(rules, blob, path)

    def result(self) -> MatchResult:
        """Every assignment so far, as of the last event taken."""
        as_of = None if self._last is None else self._last[0]
        return MatchResult(self.rules, as_of, tuple(self._matcher.assignments))
