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
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import getcontext, localcontext, setcontext
from typing import IO, TYPE_CHECKING, Any, TypeAlias, cast

from ..check.checker import check_text
from ..compiler.generate import CompiledRuleset, Origin, compile_ruleset
from ..core import limits
from ..core.diagnostics import Diagnostic, RuleError, has_errors
from ..core.formatting import quoted
from ..core.jsonout import pretty, write_pretty
from ..core.runtime import CONTEXT, in_context
from ..core.timeutil import MAX_TIMESTAMP_NS, MIN_TIMESTAMP_NS, TimestampError, format_timestamp, parse_timestamp
from ..ledger.again import LedgerFile
from ..ledger.decode import iter_lines, kept_blocks, kept_lines, surrogate_problem
from ..ledger.events import Event, LedgerError, LedgerProblem, Record, conflict
from ..ledger.idlog import IdLog
from ..ledger.order import SortedRecords, in_ledger_order
from ..ledger.reader import EventReader
from ..ledger.reading import read_text
from ..ledger.validate import same_content
from ..syntax.parser import paused_gc
from .arguments import NONE, expect, path_name
from .engine import Engine, IssuedAward, run
from .result import Reporter
from .settle import Settled, check_ruleset, read_settled

if TYPE_CHECKING:
    # pydantic's models are imported where typed records are asked for:
    # scoring itself needs no pydantic (nor its compiled core, which Pyodide
    # does not ship: the playground runs this module in the browser)
    from .schema import Award

#: What the scoring entry points take as a ledger: a path (`str` or
#: `os.PathLike`) of a JSON Lines file, an open file, or an iterable of
#: events (JSON text lines, dicts, `LedgerEvent` models, mixed or not).
Ledger: TypeAlias = "str | os.PathLike[str] | IO[Any] | Iterable[Any]"
#: An instant: RFC 3339 text with an offset, nanoseconds since the epoch
#: (UTC), or a timezone-aware `datetime`.
Instant: TypeAlias = "str | int | datetime"


@in_context
def check_source(text: str, path: str | os.PathLike[str] = "<rules>") -> list[Diagnostic]:
    """Every problem in a rule file's text (empty when it is fine)."""
    path = _expect_rules(text, path)
    return check_text(text, path)[1]


@in_context
def compile(text: str, path: str | os.PathLike[str] = "<rules>") -> Program:
    """Parse, check and compile rule-file text; raise RuleError on errors."""
    path = _expect_rules(text, path)
    checked, diagnostics = check_text(text, path)
    if checked is None or has_errors(diagnostics):
        raise RuleError(diagnostics)
    return Program(compile_ruleset(checked))


def _expect_rules(text: Any, path: Any) -> str:
    """The arguments of `compile` and `check_source`: text, never bytes
    (their encoding is the caller's to know), and a name (text or a
    `Path`), returned as text."""
    expect(text, str, "text", "decode bytes first, e.g. data.decode('utf-8')" if isinstance(text, bytes) else "")
    return path_name(path)


@in_context
def load(path: str | os.PathLike[str]) -> Program:
    """Load a `.rules` file; raise RuleError (with every problem) if invalid.

    The file must be a regular file of at most `limits.MAX_RULE_FILE_CHARS`
    characters (`reading.InputError`, an OSError, otherwise): a FIFO or a
    device is refused before it is opened, a larger file before it is read
    whole."""
    expect(path, (str, bytes, os.PathLike), "path")  # what `open` takes
    return compile(read_text(path, limits.MAX_RULE_FILE_CHARS), os.fsdecode(path))


def parse_as_of(value: Instant | None) -> int | None:
    """An as-of argument as nanoseconds since the epoch (UTC), or None.

    Takes RFC 3339 text with an offset, an `int` of nanoseconds or an aware
    `datetime`; a value out of range, malformed text or a naive datetime is
    a `LedgerError` with field `as_of` (and no line: it is no ledger line);
    a value of another type is a `TypeError`."""
    if value is None:
        return None
    try:
        return _instant(value)
    except TimestampError as error:
        raise LedgerError([LedgerProblem(0, "as_of", str(error), _AS_OF_HINT)], "<arguments>") from None


_AS_OF_HINT = 'RFC 3339 text such as "2026-03-31T23:59:59Z", nanoseconds since 1970, or an aware datetime'


def _instant(value: Any) -> int:
    """An instant as nanoseconds (see `parse_as_of`); TimestampError if bad."""
    if isinstance(value, str):
        return parse_timestamp(value)
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset is None:
            raise TimestampError(f"datetime `{value.isoformat()}` has no time zone: give it one, e.g. tzinfo=UTC")
        value = (value.replace(tzinfo=None) - _EPOCH - offset) // _MICROSECOND * 1000
    elif isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"as_of must be RFC 3339 text, an int of nanoseconds or an aware datetime, not {type(value).__name__}"
        )
    if not MIN_TIMESTAMP_NS <= value <= MAX_TIMESTAMP_NS:
        raise TimestampError(f"instant {value} ns is out of range (utc years 0001-9999)")
    return int(value)


_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = _EPOCH.resolution


@contextlib.contextmanager
def _opened(events: Ledger, path: str) -> Iterator[tuple[Iterable[Any], str]]:
    """The events of a ledger argument, and the name to report it by.

    A `str` is always a path, never a JSON line (one line goes in a list);
    a file, opened here or given open, is read a bounded line at a time
    (`reading.read_lines`). A single event or bytes are refused with a
    `TypeError` that says what to pass instead: iterating them would read
    keys or characters as lines."""
    if isinstance(events, str) and events.lstrip().startswith("{"):
        raise TypeError("a str ledger is the path of a file, not a JSON line: pass [line]")
    if isinstance(events, (str, os.PathLike)):
        name = os.fsdecode(events)
        yield LedgerFile(events), (name if path == _LEDGER else path)
        return
    if isinstance(events, (bytes, bytearray, memoryview)):
        raise TypeError('a ledger is a path, a file or an iterable of events, not bytes: pass data.split(b"\\n")')
    if isinstance(events, Mapping) or hasattr(events, "model_dump"):
        raise TypeError("a ledger is an iterable of events, not one event: pass [event]")
    if hasattr(events, "readline"):
        yield LedgerFile(handle=cast(IO[Any], events)), path
        return
    if not isinstance(events, Iterable):
        raise TypeError(
            f"a ledger is a path, a file or an iterable of events (JSON lines, dicts, LedgerEvent), "
            f"not {type(events).__name__}"
        )
    yield events, path


_LEDGER = "<ledger>"


def ledger_events(events: Ledger, path: str = _LEDGER) -> tuple[list[Any], str]:
    """A ledger argument's events as a list (a file read in bounded lines),
    and its name: for a function that reads them more than once."""
    with _opened(events, path) as (items, name):
        return list(items), name


@dataclass(slots=True)
class ScoreResult:
    """What scoring returns: the result record and typed awards."""

    data: dict[str, Any]

    @property
    @in_context
    def awards(self) -> list[Award]:
        from .schema import Award

        return [Award.model_validate(a) for a in self.data["awards"]]

    @in_context
    def to_json(self) -> str:
        """Deterministic JSON: the same bytes for the same inputs (those of
        `json.dumps(data, ensure_ascii=False, indent=2)`, see `core.jsonout`)."""
        return (pretty(self.data) + b"\n").decode("utf-8")

    @in_context
    def write_json(self, out: IO[bytes]) -> None:
        """The bytes of `to_json()` in UTF-8, written piece by piece: a
        result of millions of awards never sits in memory as one string."""
        write_pretty(self.data, out.write)


class WrittenResult:
    """A scored ledger whose result is made while it is written
    (`Program.score_written`): it keeps the engine, not the result's
    records, which at millions of events were most of a batch's memory.
    The engine outlives the paused collector: a command that is the whole
    process pauses it for good (`cli.process`)."""

    __slots__ = ("_explain", "_reporter")

    def __init__(self, reporter: Reporter, explain: bool) -> None:
        self._reporter = reporter
        self._explain = explain

    @property
    @in_context
    def data(self) -> dict[str, Any]:
        """The result record, built whole (as `ScoreResult.data`)."""
        return self._reporter.build(self._explain)

    @in_context
    def write_json(self, out: IO[bytes]) -> None:
        """The bytes `ScoreResult.write_json` writes, each record made as
        it is written."""
        self._reporter.write_json(self._explain, out.write)

    @in_context
    def write(self, writer: Callable[[Iterable[tuple[str, Any]]], None]) -> None:
        """Run `writer` on the result's (key, value) pairs in its order,
        each record made as it is read (`Reporter.write`): `score`'s text
        is written so (`report.score.write_text`). A list of records comes
        as an iterator (or `core.jsonout.Items`) that `writer` must read
        whole, in order, before it takes the next pair: the totals are
        summed as the awards go by (read early, they are not all there)."""
        self._reporter.write(self._explain, writer)


class Program:
    """A compiled rule file, ready to score ledgers."""

    def __init__(self, compiled: CompiledRuleset) -> None:
        self.compiled = compiled
        self.name = compiled.name
        self._ledger_reader: EventReader | None = None

    def source_line(self, lineno: int) -> Origin | None:
        """Where line `lineno` of the generated evaluator (`compiled.source`)
        came from in the rule file: path, line, column and what it computes;
        None for lines of plumbing. For debugging the engine: an exception
        raised in generated code while scoring carries this as a note."""
        return self.compiled.source_line(lineno)

    def _reader(self) -> EventReader:
        """The ledger reader of this rule file's events (it generates code:
        made once, on first use, and shared; it keeps no state of a read)."""
        if self._ledger_reader is None:
            self._ledger_reader = EventReader(self.compiled.checked, self.compiled.used_types)
        return self._ledger_reader

    def _read(
        self, events: Iterable[Any], path: str, into: SortedRecords | None = None
    ) -> tuple[list[Record], int | None]:
        """Validate events (dicts, models, or JSON text lines): the events of
        used types, unordered (or `into`, given back: see
        `EventReader.read_all`), and the latest instant of the ledger."""
        if isinstance(events, LedgerFile):
            blocks = events.digested_blocks()  # lines a list at a time (see `decode.kept_blocks`)
            opening = next(blocks, None)
            if opening is None:
                return [], None
            if events.rereadable:  # each line's digest kept, not its text
                try:
                    reading = kept_blocks(itertools.chain([opening], blocks))
                    return self._reader().read_all(reading, again=(events.digests, events.again), into=into)
                except LedgerError as error:
                    raise LedgerError(error.problems, path) from None
                finally:
                    events.forget()  # the digests, not needed while scoring
            items: Iterator[Any] = itertools.chain.from_iterable(itertools.chain([opening], blocks))
        else:
            items = iter(events)
        try:
            first = next(items)
        except StopIteration:
            return [], None
        chain = itertools.chain([first], items)
        try:
            if isinstance(first, (str, bytes)):
                return self._reader().read_all(kept_lines(chain, _object), into=into)
            return self._reader().read_all(_objects(chain), into=into)
        except LedgerError as error:
            raise LedgerError(error.problems, path) from None

    @in_context
    def score(
        self,
        events: Ledger,
        as_of: Instant | None = None,
        explain: bool = True,
        path: str | os.PathLike[str] = _LEDGER,
        settled: Any = None,
        max_awards_per_event: int | None = None,
    ) -> ScoreResult:
        """Score a whole ledger (a path, a file, or events: see `Ledger`).
        Input order does not matter. `settled`: what the app already paid (a
        previous result, or a list of award records; see `settle`): those
        awards are never rewritten, only reversed. A statement of another
        ruleset is refused (LedgerError), before the ledger is read.
        `max_awards_per_event` raises (or lowers) `limits.MAX_AWARDS_PER_EVENT`."""
        return cast(ScoreResult, self._run(self._score, events, as_of, explain, path, settled, max_awards_per_event))

    def _run(
        self,
        feed: Callable[[Engine, Iterable[Any], int | None, str], int | None],
        events: Ledger,
        as_of: Instant | None,
        explain: bool,
        path: str | os.PathLike[str],
        settled: Any,
        max_awards_per_event: int | None,
        written: bool = False,
    ) -> ScoreResult | WrittenResult:
        """What `score`, `score_stream` and `score_written` share: every
        argument checked (a settled statement of another ruleset, a bad
        limit or as-of are refused before the ledger is opened), then
        `feed` on the opened ledger with the garbage collector paused;
        `written`: a `WrittenResult` rather than a built one."""
        path = _expect_scoring(explain, path)
        limit = parse_as_of(as_of)
        paid = settled_statement(settled, self.compiled)
        most = limits.per_event_limit(max_awards_per_event)
        with _opened(events, path) as (items, name), paused_gc():
            if written:  # the engine outlives the block: see `WrittenResult`
                return WrittenResult(self._scored(feed, most, items, limit, name, paid), explain)
            return ScoreResult(self._scored(feed, most, items, limit, name, paid).build(explain))

    def _scored(
        self,
        feed: Callable[[Engine, Iterable[Any], int | None, str], int | None],
        most: int,
        events: Iterable[Any],
        limit: int | None,
        path: str,
        settled: Settled | None,
    ) -> Reporter:
        """An engine (`most`: its awards per event) fed by `feed` (`_score`
        or `_stream`, which gives the ledger's latest instant: the as-of
        when none is given), and its reporter.
        A function of its own so that the ledger is freed before the
        collector resumes (see `paused_gc`), and the engine too once the
        caller built the result in the same expression. So the engine is
        made here, not by the caller, whose frame would keep it alive into
        the collector's first pass."""
        engine = Engine(self.compiled, most)
        latest = feed(engine, events, limit, path)
        if limit is None:
            limit = latest if latest is not None else 0
        with localcontext(CONTEXT):
            engine.fire(limit)  # the timers due by the as-of
        return Reporter(engine, limit, settled)

    def _score(self, engine: Engine, events: Iterable[Any], limit: int | None, path: str) -> int | None:
        """The feed of `score`: the whole ledger read, then run in ledger
        order up to the as-of `limit` (None: all of it). The records are
        kept sorted a run at a time on disk past a run's size
        (`ledger.order.SortedRecords`): the same order, in bounded memory."""
        with SortedRecords() as records:
            latest = self._read(events, path, records)[1]
            run(engine, records.ordered(limit if limit is not None and latest is not None and limit < latest else None))
        return latest

    @in_context
    def score_stream(
        self,
        lines: Ledger,
        as_of: Instant | None = None,
        explain: bool = True,
        path: str | os.PathLike[str] = _LEDGER,
        settled: Any = None,
        max_awards_per_event: int | None = None,
    ) -> ScoreResult:
        """Score a ledger holding state per referral rather than the
        ledger. Lines in any order are put in ledger order in bounded
        memory: sorted a run at a time into a private scratch file and
        merged back (see `ledger.order`); a ledger of one run is sorted in
        memory. Every id goes to a temporary SQLite file, to refuse ids used
        again (see `ledger.IdLog`). `ledger.ScratchError` if either scratch
        file cannot be written.
        `max_awards_per_event`: as for `score`."""
        return cast(ScoreResult, self._run(self._stream, lines, as_of, explain, path, settled, max_awards_per_event))

    @in_context
    def score_written(
        self,
        events: Ledger,
        as_of: Instant | None = None,
        explain: bool = True,
        path: str | os.PathLike[str] = _LEDGER,
        settled: Any = None,
        max_awards_per_event: int | None = None,
        stream: bool = False,
    ) -> WrittenResult:
        """`score` (or, with `stream`, `score_stream`) for a result that is
        to be written once, as JSON or as `score`'s text: its records are
        made as they are written (`WrittenResult.write_json`,
        `WrittenResult.write`), never held all at once. The bytes are those
        of `score(...).write_json`; every ledger problem is raised here,
        before anything is written."""
        feed = self._stream if stream else self._score
        found = self._run(feed, events, as_of, explain, path, settled, max_awards_per_event, written=True)
        return cast(WrittenResult, found)

    def _stream(self, engine: Engine, lines: Iterable[Any], limit: int | None, path: str) -> int | None:
        """The feed of `score_stream`: the lines put in ledger order in
        bounded memory (`ledger.order`), then each event checked and run if
        it is not after the as-of `limit` (None: all of them)."""
        reader = self._reader()
        fast, slow, used = reader.fast, reader.event, reader.kinds
        process = engine.process
        problems: list[LedgerProblem] = []
        last_at: int | None = None
        same_instant: dict[str, Event] = {}  # duplicates sort next to each other
        latest: int | None = None
        ids = IdLog()  # ids used again at a later instant, found at the end

        def key(obj: Any, line: int) -> tuple[int, str] | None:
            event = fast(obj, line) or slow(obj, line, [])  # its problems are reported below
            return None if event is None else (event.at, event.id)

        with contextlib.closing(ids), localcontext(CONTEXT):
            for line, obj, problem in in_ledger_order(iter_lines(lines, _object), key):
                if problem is not None or type(obj) is LedgerProblem:
                    problems.append(problem or obj)
                    continue
                event = fast(obj, line) or slow(obj, line, problems)
                if event is None:
                    continue
                if event.at == last_at:
                    previous = same_instant.get(event.id)
                    if previous is not None:
                        if not same_content(previous.raw, obj):
                            problems.append(conflict(line, event.id, previous.line))
                        continue
                else:
                    same_instant.clear()
                same_instant[event.id] = event
                ids.add(line, event.id)
                last_at = latest = event.at
                if not problems and event.type in used and (limit is None or event.at <= limit):
                    process(event.record)
            problems.extend(conflict(*found) for found in ids.reused())
        if problems:
            problems.sort(key=lambda p: p.line)  # reused ids are found at the end
            raise LedgerError(problems, path)
        return latest

    @in_context
    def session(self, max_awards_per_event: int | None = None) -> Session:
        """A new session; `max_awards_per_event`: as for `score`."""
        return Session(self, max_awards_per_event)

    @in_context
    def restore(
        self, snapshot: bytes | str, key: bytes | str | None = None, max_awards_per_event: int | None = None
    ) -> Session:
        """A session restored from `Session.snapshot()` bytes of this same
        rule file, signed with `key` if given; raises
        `rewardrules.SnapshotError` otherwise. The snapshot does not keep
        `max_awards_per_event`: pass it again (as for `score`)."""
        from .snapshot import load

        expect(snapshot, (bytes, bytearray, str), "snapshot")
        expect(key, (bytes, str, NONE), "key")
        limit = limits.per_event_limit(max_awards_per_event)  # refused before the snapshot is read
        session = load(self, snapshot, key)
        session.engine.per_event = limit
        return session


def _expect_scoring(explain: Any, path: Any) -> str:
    """The flags of a scoring call: `explain` a bool (a string such as
    `"no"` would count as true), `path` the name errors give the ledger
    (text or a `Path`, returned as text)."""
    expect(explain, bool, "explain")
    return path_name(path)


def settled_statement(settled: Any, compiled: CompiledRuleset) -> Settled | None:
    """A `settled` argument: None, a read statement, a previous
    `ScoreResult`, or JSON data (a result's object or a list of awards):
    data, like a ledger's, so anything else is a `LedgerError` that says
    what a statement is, as the CLI gives for its `--settled` file; refused
    (LedgerError) too when it is another ruleset's (see
    `settle.check_ruleset`). The CLI calls it before scoring, to tell a
    statement's problem from a ledger's."""
    if settled is None:
        return None
    if isinstance(settled, ScoreResult):
        settled = settled.data
    paid = settled if isinstance(settled, Settled) else read_settled(settled)
    milestones = {p.name: {m.name for m in p.milestones} for p in compiled.checked.programs}
    check_ruleset(paid, compiled.name, milestones)
    return paid


_SESSION = "<session>"


def _out_of_order(event: Event, after: str, hint: str) -> LedgerProblem:
    """An event earlier in ledger order than one taken before it."""
    return LedgerProblem(event.line, "at", f"event {quoted(event.id)} comes before {after}", hint)


def _plain(event: Any) -> Any:
    if type(event) is dict:
        return event  # read, never changed: no copy needed
    if hasattr(event, "model_dump"):
        return event.model_dump(exclude_none=True)
    if isinstance(event, Mapping):
        return dict(event)
    return event


def _object(event: Any, line: int) -> Any:
    """An event given as an object, made plain, or the problem of a string
    in it that is not valid Unicode (JSON text is checked as it is decoded:
    see `ledger.iter_lines`)."""
    obj = _plain(event)
    return surrogate_problem(obj, line) or obj


def _objects(events: Iterable[Any]) -> Iterator[tuple[int, Any, Any]]:
    """(line, object or problem, object) of events given as objects; a JSON
    line among them is decoded (a blank one skipped, as in a ledger)."""
    for line, item in enumerate(events, start=1):
        if type(item) is dict:  # the common case: no call to make it plain
            obj = surrogate_problem(item, line) or item
        elif isinstance(item, (str, bytes)):
            for _, obj, problem in iter_lines([item]):
                obj = obj if problem is None else replace(problem, line=line)
                yield line, obj, obj
            continue
        else:
            obj = _object(item, line)
        yield line, obj, obj


def _decode(text: str | bytes, line: int) -> Any:
    """One JSON line as an object, or the problem with it (also for a blank
    line, which is no event)."""
    for _, obj, problem in iter_lines([text]):
        return obj if problem is None else replace(problem, line=line)
    return LedgerProblem(line, None, "a blank line is not an event", '{"id": ..., "at": ..., "type": ...}')


_ONE_EVENT = "`add` takes one event (a dict or one JSON line); for a file use `add_many(path)`"


def _names_a_file(text: Any) -> bool:
    """Whether text given as one event, and no JSON, looks like the path
    of a ledger (`add` where `add_many` was meant): no `{`, and it names an
    existing file or ends in `.jsonl` or `.json`. Only on the error path."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str) or "{" in text or not text.strip() or len(text) > 4096:
        return False
    name = text.strip()
    return name.endswith((".jsonl", ".json")) or os.path.isfile(name)


class SessionStoppedError(RuntimeError):
    """A session that raised while scoring an event (an `AwardLimitError`,
    or anything else from the engine) may hold part of that event: every
    later call raises this, naming the event, rather than add to, report
    or snapshot a state no batch run would give. Restore the session from
    its last snapshot (`Program.restore`)."""


class Session:
    """Incremental scoring for apps: add events as they happen.

    Events must arrive in ledger order, by (instant, id); an exact repeat of
    an event already added is ignored. Fed the same events, a session ends
    with the same awards as a batch score.
    """

    def __init__(self, program: Program, max_awards_per_event: int | None = None) -> None:
        self.program = program
        self.engine = Engine(program.compiled, max_awards_per_event)
        self._reader = program._reader()
        self._seen: dict[str, Any] = {}
        self._last: tuple[int, str] | None = None
        self._latest: int | None = None
        #: the instant `advance` brought the session to (None: never);
        #: an event at or before it is late (its timers may have fired)
        self._clock: int | None = None
        self._count = 0
        #: this session's own copy of the scoring context, set around each
        #: event: `localcontext` would copy the context every time, which
        #: cost as much as a tenth of an event
        self._context = CONTEXT.copy()
        #: why the session stopped (see `SessionStoppedError`); None: running
        self._stopped: str | None = None

    def add(self, event: Any) -> list[Award]:
        """Add one event; return the awards it issued (status as of its instant).

        The event is a dict, a `LedgerEvent` or one JSON text line; anything
        wrong with it (JSON, fields, order) is a `LedgerError`, and the
        session is then as it was."""
        self._running()
        self._count += 1
        parsed, obj = self._parse(event, self._count)
        if self._known(parsed, obj):
            return []
        if self._last is not None and parsed.key < self._last:
            raise LedgerError([self._late(parsed)], _SESSION)
        if self._before_clock(parsed):
            raise LedgerError([self._advanced_past(parsed)], _SESSION)
        return self._apply(parsed, obj)

    def add_many(self, events: Ledger) -> list[Award]:
        """Add a batch of events in any order (a path, a file or an
        iterable, as `Program.score` takes); return the awards they issued,
        in ledger order, each with its status as of its own event.

        The batch is put in (instant, id) order and checked whole before any
        of it is added: an invalid event, an id given twice with different
        content, or a new event earlier than the last one already added (a
        late event) is a `LedgerError` listing every such problem, and
        nothing of the batch is added. Exact repeats (in the batch, or of
        events already added) are ignored, however late. Problems name the
        position of each event in the session's input (`add` counts one)."""
        self._running()
        with _opened(events, _SESSION) as (items, _):
            batch = self._batch(items)
        awards: list[Award] = []
        entered = False
        try:
            for parsed, obj in batch:
                entered = True
                awards.extend(self._apply(parsed, obj))
        except BaseException as error:
            # a stop between two events (Ctrl-C): those added issued awards the app is never given
            if self._stopped is None and entered:
                self._stop(error, "part way through a batch (add_many)")
            raise
        return awards

    def _batch(self, items: Iterable[Any]) -> list[tuple[Event, Any]]:
        """The new events of a batch, sorted; LedgerError with every problem."""
        problems: list[LedgerProblem] = []
        fresh: dict[str, tuple[Event, Any]] = {}
        start = count = self._count
        for line, obj, problem in iter_lines(items, _object):
            count = start + line
            if problem is not None or type(obj) is LedgerProblem:
                problems.append(replace(problem or obj, line=count))
                continue
            parsed = self._reader.fast(obj, count) or self._reader.event(obj, count, problems)
            if parsed is None:
                continue
            previous = fresh.get(parsed.id)
            if previous is not None:
                if not same_content(previous[1], obj):
                    problems.append(conflict(parsed.line, parsed.id, previous[0].line))
                continue
            try:
                if self._known(parsed, obj):
                    continue
            except LedgerError as error:
                problems.extend(error.problems)
                continue
            if self._last is not None and parsed.key < self._last:
                problems.append(self._late(parsed))
                continue
            if self._before_clock(parsed):
                problems.append(self._advanced_past(parsed))
                continue
            fresh[parsed.id] = (parsed, obj)
        self._count = count
        if problems:
            problems.sort(key=lambda p: p.line)
            raise LedgerError(problems, _SESSION)
        return sorted(fresh.values(), key=lambda item: item[0].key)

    def _parse(self, event: Any, line: int) -> tuple[Event, Any]:
        """One event validated: (event, its plain object); LedgerError if not."""
        obj = _decode(event, line) if isinstance(event, (str, bytes)) else _object(event, line)
        if type(obj) is LedgerProblem:
            if _names_a_file(event):
                obj = replace(obj, hint=_ONE_EVENT)
            raise LedgerError([obj], _SESSION)
        problems: list[LedgerProblem] = []
        parsed = self._reader.fast(obj, line) or self._reader.event(obj, line, problems)
        if parsed is None:
            raise LedgerError(problems, _SESSION)
        return parsed, obj

    def _known(self, parsed: Event, obj: Any) -> bool:
        """True for an exact repeat of an event already added; LedgerError
        for its id with other content."""
        previous = self._seen.get(parsed.id)
        if previous is None:
            return False
        if not same_content(previous, obj):
            raise LedgerError(
                [LedgerProblem(parsed.line, "id", f"id {quoted(parsed.id)} was already added with different content")],
                _SESSION,
            )
        return True

    @staticmethod
    def _late(parsed: Event) -> LedgerProblem:
        return _out_of_order(
            parsed,
            "the last event added",
            "a session takes events in order of (at, id); add a batch with add_many, or use score()",
        )

    def _before_clock(self, parsed: Event) -> bool:
        """Whether an event comes at or before the instant the session was
        advanced to: the timers due then have fired without it."""
        return self._clock is not None and parsed.at <= self._clock

    def _advanced_past(self, parsed: Event) -> LedgerProblem:
        assert self._clock is not None
        return LedgerProblem(
            parsed.line,
            "at",
            f"event {quoted(parsed.id)} is not after {format_timestamp(self._clock)}, "
            "the instant the session was advanced to",
            "advance(to=...) says every event up to that instant was added; add events before advancing",
        )

    @in_context
    def advance(self, to: Instant) -> list[Award]:
        """Tell the session that time has come to `to` (RFC 3339 text, an
        int of nanoseconds or an aware datetime) and every event up to it
        was added; return the awards of the timers due by then (`when C
        for D`, `after D`), each with its status as of `to`. A session
        never reads the wall clock: time moves only by events and by this.
        An event at or before `to` is refused after it (LedgerError);
        `to` before the last event or an earlier `advance` is refused too."""
        self._running()
        if to is None:
            raise TypeError("advance needs `to`: RFC 3339 text, an int of nanoseconds or an aware datetime")
        limit = parse_as_of(to)
        assert limit is not None
        current = max(t for t in (self._latest, self._clock, limit) if t is not None)
        if limit < current:
            raise LedgerError(
                [
                    LedgerProblem(
                        0,
                        "to",
                        f"the session is already at {format_timestamp(current)}",
                        "a session's time only moves forward",
                    )
                ],
                _SESSION,
            )
        outer = getcontext()
        try:  # (from the first change: a stop part way stops the session)
            self._clock = limit
            setcontext(self._context)
            issued = self.engine.fire(limit)
            return self._awards(issued, limit) if issued else []
        except BaseException as error:
            self._stop(error, f"advancing to {format_timestamp(limit)}")
            raise
        finally:
            setcontext(outer)

    def _apply(self, parsed: Event, obj: Any) -> list[Award]:
        """Take a valid new event in order: the awards it issues."""
        outer = getcontext()
        try:  # (from the first change: a stop part way stops the session)
            self._seen[parsed.id] = obj
            self._last = parsed.key
            self._latest = parsed.at
            used = parsed.type in self._reader.kinds
            if not used and self.engine.next_due() >= parsed.at:
                return []
            setcontext(self._context)
            # an event of a type the rules do not use still tells the time
            issued = self.engine.process(parsed.record) if used else self.engine.fire(parsed.at - 1)
            return self._awards(issued, parsed.at) if issued else []
        except BaseException as error:
            self._stop(error, f"at event {quoted(parsed.id)}")
            raise
        finally:
            setcontext(outer)

    def _stop(self, error: BaseException, where: str) -> None:
        """Note that scoring raised `error` part way (`where`): the state
        may hold part of that step, so the session takes nothing more (an
        app that caught the error and went on would be told of no award
        the step issued, or be paid twice after a retry)."""
        reason = str(error).partition("\n")[0]
        said = f"{type(error).__name__}: {reason}" if reason else type(error).__name__
        self._stopped = (
            f"this session stopped {where} ({said}); "
            "it may hold part of that step: restore it from its last snapshot (Program.restore)"
        )

    def _running(self) -> None:
        """Raise `SessionStoppedError` if the session stopped (see `_stop`)."""
        if self._stopped is not None:
            raise SessionStoppedError(self._stopped)

    @in_context
    def snapshot(self, key: bytes | str | None = None) -> bytes:
        """The whole state as bytes (JSON), to stop and resume later with
        `Program.restore(data)`: the restored session gives the same awards
        as one that never stopped. With `key` (the app's secret), the bytes
        carry an HMAC-SHA256 signature that `restore(data, key=key)` checks."""
        from .snapshot import dump

        self._running()
        expect(key, (bytes, str, NONE), "key")
        return dump(self, key)

    def _awards(self, issued: list[IssuedAward], as_of: int) -> list[Award]:
        """The records of awards just issued (call in the scoring context)."""
        from .schema import Award

        reporter = Reporter(self.engine, as_of)
        return [Award.model_validate(reporter.award(a)) for a in issued]

    @in_context
    def result(self, as_of: Instant | None = None, explain: bool = True, settled: Any = None) -> ScoreResult:
        """The result so far, as of an instant (default: the last event);
        `settled` as for `Program.score`."""
        self._running()
        expect(explain, bool, "explain")
        limit = parse_as_of(as_of)
        paid = settled_statement(settled, self.program.compiled)
        now = max((t for t in (self._latest, self._clock) if t is not None), default=None)
        if limit is None:
            limit = now if now is not None else 0
        elif now is not None and limit < now:
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
                _SESSION,
            )
        return ScoreResult(Reporter(self._engine_at(limit), limit, paid).build(explain))

    def _engine_at(self, limit: int) -> Engine:
        """The engine as of `limit`: this session's, or, when timers are due
        by then that have not fired (no event or `advance` reached them), a
        copy with them fired, as batch scoring fires them up to its as-of.
        A result is a report: it never moves the session's own clock."""
        due = self.engine.next_timer()
        if due is None or due > limit:
            return self.engine
        from .snapshot import dump, load

        engine = load(self.program, dump(self)).engine
        with localcontext(CONTEXT):
            engine.fire(limit)
        return engine


__all__ = [
    "LedgerError",
    "Program",
    "RuleError",
    "ScoreResult",
    "Session",
    "SessionStoppedError",
    "check_source",
    "compile",
    "load",
]
