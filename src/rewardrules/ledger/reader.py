"""Ledger input: JSON Lines events, validated against the program's events.

This is the edge where other systems' data comes in, so every mistake is
collected (with its line and field) before anything is scored, and numbers
never pass through binary floats: JSON decimals are parsed as Decimals and
decimal strings ("99.90") are accepted.

Only event types the program uses are checked field by field; every line
must still be a JSON object with a valid ``id``, ``at`` and ``type``.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..check.program import CheckedRuleset
from ..compiler.codegen import filename as source_filename
from .again import LineDigests, changed
from .decode import kept_content
from .events import Event, LedgerError, LedgerProblem, Record, _head, conflict
from .fast import _fast_namespace, _fast_source
from .validate import (
    _HEAD,
    _convert,
    _example,
    _instant,
    _missing,
    _money_fields,
    _one_currency,
    _text,
    currency_problems,
    same_content,
)


class Records(Protocol):
    """What `EventReader.read_all` puts records into: a list will do."""

    def append(self, record: Record, /) -> None: ...


#: a digested ledger's digests, and how to read its lines again (`LedgerFile.again`)
Again = tuple[LineDigests, Callable[[Iterable[int]], dict[int, Any]]]


class EventReader:
    """Validates ledger objects against the events a ruleset declares."""

    def __init__(self, checked: CheckedRuleset, used_types: Iterable[str] | None = None) -> None:
        used = set(used_types) if used_types is not None else set(checked.events)
        self.kinds: dict[str, list[tuple[str, str, bool]]] = {}
        for name, info in checked.events.items():
            if name not in used:
                continue
            self.kinds[name] = [(f.name, f.type.kind, f.optional) for f in info.fields.values() if not f.builtin]
        self.money = _money_fields(checked, self.kinds)

        # The fast path, generated for these event types (see `_fast_source`):
        # `fast` checks one object; `read_all` a whole ledger in one loop.
        namespace = _fast_namespace()
        source = _fast_source(self.kinds, _one_currency(self.money))
        exec(compile(source, source_filename("ledger-reader", source), "exec"), namespace)
        self.fast: Callable[[Any, int], Event | None] = namespace["fast"]
        self._read_all = namespace["read_all"]

    def read_all(
        self,
        items: Iterable[tuple[int, Any, Any]],
        plain: Callable[[Any], Any] = lambda obj: obj,
        again: Again | None = None,
        into: Records | None = None,
    ) -> tuple[Any, int | None]:
        """Validate a ledger's objects, given as (line number, object, kept),
        drop exact duplicates, and return the records of the events of used
        types (sorting that list puts them in ledger order, with no key
        function) and the latest instant seen in the ledger. An item may be
        a `LedgerProblem` (a line that did not decode); objects other than
        dicts go through `plain` first. `kept` is what is kept of each event
        to tell a repeat of its id from a conflict: the line's JSON text
        (a fraction of the size of the decoded object, and decoded again
        only for a repeat) or the object itself; or None for a line whose
        digest `again` holds (`ledger.again`): a repeat of its id is then
        decided once the ledger has been read, by the digests and, where
        they differ, the lines read again.

        `into`: where the records go, by its `append` (a new list unless
        given; `order.SortedRecords` keeps a batch's records sorted on disk
        a run at a time), returned in the list's place.

        Raises :class:`LedgerError` with every problem if any line is bad.
        """
        problems: list[LedgerProblem] = []
        # each id's kept content, and the line each was first used on, in
        # the same order (see `_fast_source`): per event one dict entry
        # and 8 bytes, where a (line, kept) tuple and a line int took 88
        seen: dict[str, Any] = {}
        firsts = array("Q")
        repeats: list[tuple[int, str]] = []  # (line, id) of each conflict
        pending: list[tuple[int, str]] = []  # (line, id) of each repeat of a digested line

        def general(line: int, obj: Any, kept: Any) -> Event | None:
            # Anything the fast path did not take: a line that did not
            # decode, an object to make plain, a problem, a repeated id.
            if type(obj) is LedgerProblem:
                problems.append(obj)
                return None
            if type(obj) is not dict:
                obj = kept = plain(obj)
            event = self.fast(obj, line) or self.event(obj, line, problems)
            if event is None:
                return None
            if event.id in seen:
                first = seen[event.id]
                if first is None:  # a digested line: decided at the end
                    pending.append((line, event.id))
                elif not same_content(kept_content(first), obj):
                    repeats.append((line, event.id))
                return None
            seen[event.id] = kept
            firsts.append(line)
            return event

        events, latest = self._read_all(items, seen, firsts, general, [] if into is None else into)
        if pending:
            assert again is not None, "a line kept as a digest needs the digests"
            repeats += _differing(pending, _first_lines(pending, seen, firsts), again)
        if repeats:
            problems += _conflicts(repeats, seen, firsts)
        if problems:
            problems.sort(key=lambda p: p.line)
            raise LedgerError(problems)
        return events, (latest if seen else None)

    def event(self, obj: Any, line: int, problems: list[LedgerProblem]) -> Event | None:
        """Validate one decoded object; append problems and return None if bad."""
        if not isinstance(obj, dict):
            problems.append(
                LedgerProblem(line, None, "an event must be a JSON object", '{"id": ..., "at": ..., "type": ...}')
            )
            return None
        start = len(problems)
        event_id = _text(obj, "id", line, problems)
        event_type = _text(obj, "type", line, problems)
        at = _instant(obj, "at", line, problems, required=True)
        referrer = _text(obj, "referrer", line, problems, required=False)
        referee = _text(obj, "referee", line, problems, required=False)
        schema = self.kinds.get(event_type or "")
        values: list[Any] = []
        if schema is not None:
            # `obj.get(...) is None`: absent or null (an ill-typed value was already reported).
            known = (*_HEAD, *(name for name, _, _ in schema))
            if event_type == "referral" and referrer is None and obj.get("referrer") is None:
                problems.append(_missing(obj, known, line, "referrer", "a referral needs a `referrer`"))
            if referee is None and obj.get("referee") is None:
                problems.append(
                    _missing(
                        obj,
                        known,
                        line,
                        "referee",
                        f"a `{event_type}` event needs a `referee`",
                        "name the referred person it concerns",
                    )
                )
            for name, kind, optional in schema:
                value = obj.get(name)
                if value is None:
                    if not optional:
                        problems.append(
                            _missing(obj, known, line, name, f"`{event_type}` events need `{name}`", _example(kind))
                        )
                    values.append(None)
                    continue
                values.append(_convert(value, kind, name, line, problems))
        if schema is not None and event_type in self.money:
            problems.extend(currency_problems(obj, line, self.money))
        if len(problems) > start:
            return None
        assert event_id is not None and event_type is not None and at is not None
        head = _head(event_id, at, event_type, referee, referrer if event_type == "referral" else None)
        return Event(event_id, at, event_type, referrer, referee, head + tuple(values), line, obj)


def _conflicts(repeats: list[tuple[int, str]], seen: dict[str, Any], firsts: array[int]) -> list[LedgerProblem]:
    """The problem of each (line, id) that repeats an id with other content,
    naming the line the id was first used on: the n-th id of `seen` was
    first used on line `firsts[n]` (found in one pass, for the ids that
    conflict only: a ledger with conflicts is refused anyway)."""
    first_line = _first_lines(repeats, seen, firsts)
    return [conflict(line, event_id, first_line[event_id]) for line, event_id in repeats]


def _first_lines(repeats: list[tuple[int, str]], seen: dict[str, Any], firsts: array[int]) -> dict[str, int]:
    """The first line of each id of (line, id) pairs (see `_conflicts`)."""
    wanted = {event_id for _, event_id in repeats}
    return {event_id: firsts[n] for n, event_id in enumerate(seen) if event_id in wanted}


def _differing(pending: list[tuple[int, str]], first_line: dict[str, int], again: Again) -> list[tuple[int, str]]:
    """The (line, id) of each repeat of a digested line whose content is
    not its first line's: a line with its first line's digest has its
    bytes (see `ledger.again` for why a digest may stand for them); any
    other pair is read again from the file, each line checked against its
    digest, and compared as `read_all` compares a kept line."""
    digests, lines = again
    unsure = [(line, event_id) for line, event_id in pending if digests.at(line) != digests.at(first_line[event_id])]
    needed = sorted({number for line, event_id in unsure for number in (line, first_line[event_id])})
    found = lines(needed)
    for number in needed:
        if number not in found or digests.of(found[number]) != digests.at(number):
            raise changed(number)
    return [
        (line, event_id)
        for line, event_id in unsure
        if not same_content(kept_content(found[first_line[event_id]]), kept_content(found[line]))
    ]
