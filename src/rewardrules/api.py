"""The public Python API: load -> check -> compile -> score.

program = rewardrules.load("rulesets/saas_milestones.rules")
result = program.score(events)          # dicts, LedgerEvent models or JSON lines
for award in result.awards: ...

session = program.session()             # incremental, for apps
new_awards = session.add(event)
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import getcontext, localcontext, setcontext
from pathlib import Path
from typing import IO, Any

from .check import check_text
from .compiler import CompiledRuleset, compile_ruleset
from .diagnostics import Diagnostic, RuleError, has_errors
from .engine import Engine, IssuedAward, run
from .ledger import (
    Event,
    EventReader,
    IdLog,
    LedgerError,
    LedgerProblem,
    Record,
    conflict,
    decode_line,
    iter_lines,
    same_content,
)
from .models import Award
from .parse import paused_gc
from .report import Reporter
from .runtime import CONTEXT
from .timeutil import TimestampError, parse_timestamp


def check_source(text: str, path: str = "<rules>") -> list[Diagnostic]:
    """Every problem in a rule file's text (empty when it is fine)."""
    return check_text(text, path)[1]


def compile(text: str, path: str = "<rules>") -> Program:
    """Parse, check and compile rule-file text; raise RuleError on errors."""
    checked, diagnostics = check_text(text, path)
    if checked is None or has_errors(diagnostics):
        raise RuleError(diagnostics)
    return Program(compile_ruleset(checked))


def load(path: str | Path) -> Program:
    """Load a `.rules` file; raise RuleError (with every problem) if invalid."""
    p = Path(path)
    return compile(p.read_text(encoding="utf-8"), str(path))


def parse_as_of(value: str | int | None) -> int | None:
    """An as-of argument: RFC 3339 text, epoch nanoseconds, or None."""
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_timestamp(value)
    except TimestampError as error:
        raise LedgerError([LedgerProblem(0, "as_of", str(error))], "--as-of") from None


@dataclass(slots=True)
class ScoreResult:
    """What scoring returns: the result record and typed awards."""

    data: dict[str, Any]

    @property
    def awards(self) -> list[Award]:
        return [Award.model_validate(a) for a in self.data["awards"]]

    def to_json(self) -> str:
        """Deterministic JSON: the same bytes for the same inputs."""
        return json.dumps(self.data, ensure_ascii=False, indent=2) + "\n"

    def write_json(self, out: IO[bytes]) -> None:
        """The bytes of `to_json()` in UTF-8, written piece by piece: a
        result of millions of awards never sits in memory as one string."""
        pieces: list[str] = []
        for piece in _ENCODER.iterencode(self.data):
            pieces.append(piece)
            if len(pieces) >= 16384:
                out.write("".join(pieces).encode("utf-8"))
                pieces.clear()
        pieces.append("\n")
        out.write("".join(pieces).encode("utf-8"))


_ENCODER = json.JSONEncoder(ensure_ascii=False, indent=2)


class Program:
    """A compiled rule file, ready to score ledgers."""

    def __init__(self, compiled: CompiledRuleset) -> None:
        self.compiled = compiled
        self.name = compiled.name
        self._ledger_reader: EventReader | None = None

    def _reader(self) -> EventReader:
        """The ledger reader of this rule file's events (it generates code:
        made once, on first use, and shared; it keeps no state of a read)."""
        if self._ledger_reader is None:
            self._ledger_reader = EventReader(self.compiled.checked, self.compiled.used_types)
        return self._ledger_reader

    def _read(self, events: Iterable[Any], path: str) -> tuple[list[Record], int | None]:
        """Validate events (dicts, models, or JSON text lines): the events of
        used types, unordered, and the latest instant of the ledger."""
        items = iter(events)
        try:
            first = next(items)
        except StopIteration:
            return [], None
        chain = itertools.chain([first], items)
        try:
            if isinstance(first, (str, bytes)):
                lines = ((n, obj if problem is None else problem) for n, obj, problem in iter_lines(chain))  # type: ignore[arg-type]
                return self._reader().read_all(lines)
            return self._reader().read_all(enumerate(chain, start=1), _plain)
        except LedgerError as error:
            raise LedgerError(error.problems, path) from None

    def score(
        self, events: Iterable[Any], as_of: str | int | None = None, explain: bool = True, path: str = "<ledger>"
    ) -> ScoreResult:
        """Score a whole ledger. Input order does not matter."""
        limit = parse_as_of(as_of)
        with paused_gc():
            return ScoreResult(self._score(events, limit, explain, path))

    def _score(self, events: Iterable[Any], limit: int | None, explain: bool, path: str) -> dict[str, Any]:
        """The work of `score`, in a function of its own so that the ledger
        and the engine are freed before the collector resumes (see
        `paused_gc`); only the result outlives it."""
        ordered, latest = self._read(events, path)
        if limit is None:
            limit = latest if latest is not None else 0
        elif latest is not None and limit < latest:
            ordered = [item for item in ordered if item[0] <= limit]
        ordered.sort()  # ledger order (see ledger.Record)
        engine = Engine(self.compiled)
        run(engine, ordered)
        return Reporter(engine, limit).build(explain)

    def score_stream(
        self, lines: Iterable[str | bytes], as_of: str | int | None = None, explain: bool = True, path: str = "<ledger>"
    ) -> ScoreResult:
        """Score a ledger that is already in order, holding state per
        referral rather than the ledger: memory does not grow with the
        number of events. Out-of-order input is an error (use `score`).
        Every id goes to a temporary SQLite file, to refuse ids used again
        (see `ledger.IdLog`; `ledger.ScratchError` if it cannot be written)."""
        limit = parse_as_of(as_of)
        with paused_gc():
            return ScoreResult(self._stream(lines, limit, explain, path))

    def _stream(self, lines: Iterable[str | bytes], limit: int | None, explain: bool, path: str) -> dict[str, Any]:
        """The work of `score_stream` (a function of its own: see `_score`)."""
        reader = self._reader()
        fast, slow, used = reader.fast, reader.event, reader.kinds
        engine = Engine(self.compiled)
        process = engine.process
        problems: list[LedgerProblem] = []
        last: tuple[int, str] | None = None
        same_instant: dict[str, Event] = {}  # duplicates sort next to each other
        latest: int | None = None
        unordered = False
        ids = IdLog()  # ids used again at a later instant, found at the end
        with contextlib.closing(ids), localcontext(CONTEXT):
            for line, obj, problem in iter_lines(lines):
                if problem is not None:
                    problems.append(problem)
                    continue
                event = fast(obj, line) or slow(obj, line, problems)
                if event is None:
                    continue
                key = (event.at, event.id)
                previous = same_instant.get(event.id) if last is not None and event.at == last[0] else None
                if previous is not None:
                    if not same_content(previous.raw, obj):
                        problems.append(conflict(line, event.id, previous.line))
                    continue
                if last is not None and key < last:
                    if not unordered:  # one report is enough: the rest follows
                        problems.append(_out_of_order(event))
                        unordered = True
                    continue
                if last is None or event.at != last[0]:
                    same_instant.clear()
                same_instant[event.id] = event
                ids.add(line, event.id)
                last = key
                latest = event.at
                if not problems and event.type in used and (limit is None or event.at <= limit):
                    process(event.record)
            problems.extend(conflict(*found) for found in ids.reused())
        if problems:
            problems.sort(key=lambda p: p.line)  # reused ids are found at the end
            raise LedgerError(problems, path)
        if limit is None:
            limit = latest if latest is not None else 0
        return Reporter(engine, limit).build(explain)

    def session(self) -> Session:
        return Session(self)

    def restore(self, snapshot: bytes | str) -> Session:
        """A session restored from `Session.snapshot()` bytes of this same
        rule file; raises `rewardrules.snapshot.SnapshotError` otherwise."""
        from .snapshot import load

        return load(self, snapshot)


def _out_of_order(event: Event) -> LedgerProblem:
    return LedgerProblem(
        event.line,
        "at",
        f"event `{event.id}` comes before the line above it in (at, id) order",
        "streaming needs a ledger sorted by instant, then id; sort it, or score without --stream",
    )


def _plain(event: Any) -> Any:
    if type(event) is dict:
        return event  # read, never changed: no copy needed
    if hasattr(event, "model_dump"):
        return event.model_dump(exclude_none=True)
    if isinstance(event, Mapping):
        return dict(event)
    return event


class Session:
    """Incremental scoring for apps: add events as they happen.

    Events must arrive in ledger order, by (instant, id); an exact repeat of
    an event already added is ignored. Fed the same events, a session ends
    with the same awards as a batch score.
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        self.engine = Engine(program.compiled)
        self._reader = program._reader()
        self._seen: dict[str, Any] = {}
        self._last: tuple[int, str] | None = None
        self._latest: int | None = None
        self._count = 0
        #: this session's own copy of the scoring context, set around each
        #: event: `localcontext` would copy the context every time, which
        #: cost as much as a tenth of an event
        self._context = CONTEXT.copy()

    def add(self, event: Any) -> list[Award]:
        """Add one event; return the awards it issued (status as of its instant)."""
        self._count += 1
        obj = _plain(event)
        if isinstance(obj, (str, bytes)):
            obj = decode_line(obj)
        problems: list[LedgerProblem] = []
        parsed = self._reader.fast(obj, self._count) or self._reader.event(obj, self._count, problems)
        if parsed is None:
            raise LedgerError(problems, "<session>")
        previous = self._seen.get(parsed.id)
        if previous is not None:
            if not same_content(previous, obj):
                raise LedgerError(
                    [LedgerProblem(self._count, "id", f"id `{parsed.id}` was already added with different content")],
                    "<session>",
                )
            return []
        key = parsed.key
        if self._last is not None and key < self._last:
            raise LedgerError(
                [
                    LedgerProblem(
                        self._count,
                        "at",
                        f"event `{parsed.id}` comes before the last event added",
                        "a session takes events in order of (at, id); use score() for unordered ledgers",
                    )
                ],
                "<session>",
            )
        self._seen[parsed.id] = obj
        self._last = key
        self._latest = parsed.at
        if parsed.type not in self._reader.kinds:
            return []
        outer = getcontext()
        setcontext(self._context)
        try:
            issued = self.engine.process(parsed.record)
            return self._awards(issued, parsed.at) if issued else []
        finally:
            setcontext(outer)

    def snapshot(self) -> bytes:
        """The whole state as bytes (JSON), to stop and resume later with
        `Program.restore(data)`: the restored session gives the same awards
        as one that never stopped."""
        from .snapshot import dump

        return dump(self)

    def _awards(self, issued: list[IssuedAward], as_of: int) -> list[Award]:
        """The records of awards just issued (call in the scoring context)."""
        reporter = Reporter(self.engine, as_of)
        return [Award.model_validate(reporter.award(a)) for a in issued]

    def result(self, as_of: str | int | None = None, explain: bool = True) -> ScoreResult:
        """The result so far, as of an instant (default: the last event)."""
        limit = parse_as_of(as_of)
        if limit is None:
            limit = self._latest if self._latest is not None else 0
        elif self._latest is not None and limit < self._latest:
            # The state already holds later events: metrics and progress
            # would not be those of that instant. Refuse rather than mislead.
            raise LedgerError(
                [
                    LedgerProblem(
                        0,
                        "as_of",
                        "a session reports as of its last event or later",
                        "use Program.score(events, as_of=...) for an earlier instant",
                    )
                ],
                "<session>",
            )
        return ScoreResult(Reporter(self.engine, limit).build(explain))


__all__ = ["LedgerError", "Program", "RuleError", "ScoreResult", "Session", "check_source", "compile", "load"]
