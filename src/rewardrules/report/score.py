"""Report stage, for people: the text `rewardrules score` prints (its
default `--format text`), written in bounded memory.

The report reads the result's keys and values in the result's order
(`WrittenResult.write`: its long lists are iterators, each record made as
it is read), so a result of millions of awards is never built whole. The
text needs what comes late first (the head counts the withheld rewards,
listed after the referrals; the table's columns are as wide as their
widest cell), so what it reads is kept on disk until the last pair is
read: the table's rows in sorted runs (`ledger.order.SortedRecords`, the
batch's own external sort), the progress and rejection lines in spooled
files. Memory holds one run of rows, never the awards.

    text_report(result.data)                                    # the text, whole
    written.write(lambda pairs: write_text(pairs, out.write))   # the same, in pieces
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import IO, Any

from ..core.formatting import printable
from ..core.jsonout import Items
from ..core.timeutil import parse_timestamp
from ..ledger.idlog import ScratchError
from ..ledger.order import SortedRecords

#: the table's columns
HEADER = ("at", "milestone", "role", "beneficiary", "referee", "amount", "status")

#: table rows sorted in memory at once (about 30 MB of them)
ROW_RUN = 1 << 17

#: progress or rejection text held in memory before it goes to disk
_SPOOL = 1 << 22

#: text gathered before it is written
_CHUNK = 1 << 16

#: a row's place: its instant, then an award before a withheld reward, then
#: its place in its list (`_place`): one int, never a tie
_PLACE = itemgetter(0)

#: what `_place` shifts an instant and a kind by: room for 2**40 rows a kind
_KIND = 1 << 40

#: what separates a row's cells on disk (`printable` escapes it in a cell)
_CELL = "\x00"

#: what a scratch file's error says it is for
_PURPOSE = "the report's rows in order"


def text_report(data: dict[str, Any]) -> str:
    """A plain table of awards and totals, for people, from the result
    record whole. Rewards reached but withheld (a cap) are rows too, marked
    `withheld: REASON` in the status column and left out of the totals:
    nothing is paid for them. An award a cap cut is marked `(cut by cap
    from AMOUNT)` when its `why` says so (not with --no-explain). Names come
    from ledgers: every line goes through `printable`."""
    out: list[str] = []
    write_text(data.items(), out.append)
    return "".join(out)


def write_text(fields: Iterable[tuple[str, Any]], write: Callable[[str], object]) -> None:
    """Write `text_report` of the result whose (key, value) pairs `fields`
    gives, in the result's order, through `write` in pieces. A list may be
    an iterator or `Items`, made as it is read: each is read whole before
    the next pair is taken (the totals are summed as the awards go by)."""
    with _Report() as report:
        for key, value in fields:
            report.take(key, value)
        report.write(write)


class _Report:
    """What the text needs of a result, gathered pair by pair (`take`),
    then written (`write`). A context manager: leaving it drops its
    scratch files."""

    def __init__(self) -> None:
        self.name = ""
        self.as_of = ""
        self.awards = self.cut = self.withheld = 0
        self.rows = SortedRecords(ROW_RUN, key=_PLACE, purpose=_PURPOSE)
        self.widths = [len(name) for name in HEADER]
        self.reissued: list[str] = []
        self.reversals: list[dict[str, Any]] = []
        self.totals: list[dict[str, Any]] = []
        self.progress = _Lines()
        self.rejected = _Lines()

    def __enter__(self) -> _Report:
        return self

    def __exit__(self, *_: object) -> None:
        self.rows.close()
        self.progress.close()
        self.rejected.close()

    def take(self, key: str, value: Any) -> None:
        """Read one pair of the result (a key the text does not show is
        left unread)."""
        if key == "ruleset":
            self.name = str(value)
        elif key == "as_of":
            self.as_of = str(value)
        elif key == "awards":
            self._awards(_each(value))
        elif key == "withheld":
            for n, held in enumerate(_each(value)):
                self._row(held, 1, n, f"withheld: {held['reason']}")
                self.withheld += 1
        elif key == "reversals":
            self.reversals = list(_each(value))
        elif key == "totals":
            self.totals = list(_each(value))
        elif key == "referrals":
            for referral in _each(value):
                self.progress.extend(referral_progress(referral))
        elif key == "referrers":
            for referrer in _each(value):
                self.progress.extend(referrer_progress(referrer))
        elif key == "rejected":
            self.rejected.extend(
                f"  event {r['event']}: {r['referrer']} -> {r['referee']}: {r['reason'].replace('_', ' ')}"
                for r in _each(value)
            )

    def _awards(self, awards: Iterator[dict[str, Any]]) -> None:
        for n, award in enumerate(awards):
            if _uncapped(award) is not None:
                self.cut += 1
            self._row(award, 0, n, _status(award))
            reissues = (award.get("why") or {}).get("reissues")
            if reissues:
                self.reissued.append(f"  {award['id']} reissues {reissues}: {award['beneficiary']} {_reward(award)}")
            self.awards += 1

    def _row(self, record: dict[str, Any], kind: int, n: int, status: str) -> None:
        """Keep one row of the table, in its place (`_place`)."""
        cells = [
            printable(str(v))
            for v in (
                record["at"],
                record["milestone"],
                record["role"],
                record["beneficiary"],
                record["referee"],
                _reward(record),
                status,
            )
        ]
        widths = self.widths
        for i, cell in enumerate(cells):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
        self.rows.append((_place(parse_timestamp(record["at"]), kind, n), _CELL.join(cells)))

    def write(self, write: Callable[[str], object]) -> None:
        """Write the report: head, table, totals, reversals and reissued
        awards, progress, rejected referrals; a blank line between two
        sections."""
        out = _Out(write)
        head = f"{self.name}: {self.awards} award(s)"
        if self.cut:
            head += f" ({self.cut} cut by a cap)"
        if self.withheld:
            head += f", {self.withheld} withheld"
        out.section([f"{head} as of {self.as_of}"])
        out.section(self._table())
        if self.totals:
            title = "totals" + (" (withheld rewards are not in them):" if self.withheld else ":")
            out.section([title, *(f"  {total_text(t)}" for t in self.totals)])
        if self.reversals:
            out.section(
                ["reversals (take back what the award paid):", *(f"  {_reversal_text(r)}" for r in self.reversals)]
            )
        if self.reissued:
            out.section(["reissued awards (each replaces an award reversed):", *self.reissued])
        if self.progress:
            out.section(_titled("progress:", self.progress.lines()))
        if self.rejected:
            out.section(_titled("referrals not counted:", self.rejected.lines()))
        out.flush()

    def _table(self) -> Iterator[str]:
        """The table's lines, in the order of the rows' instants (an award
        before a withheld reward of the same instant); none without rows."""
        rows = iter(self.rows.ordered())
        first = next(rows, None)
        if first is None:
            return
        widths = self.widths
        yield _line(HEADER, widths)
        yield _line(first[1].split(_CELL), widths)
        for _, cells in rows:
            yield _line(cells.split(_CELL), widths)


def _line(cells: Iterable[str], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def _titled(title: str, lines: Iterator[str]) -> Iterator[str]:
    yield title
    yield from lines


def _place(instant: int, kind: int, n: int) -> int:
    """A row's sort key as one int: (instant, kind, n) in that order for
    any instant (negative too), with kind 0 or 1 and n under 2**40."""
    return (instant * 2 + kind) * _KIND + n


def _each(value: Any) -> Iterator[Any]:
    """The records of a list of the result: a list, `Items` or an iterator."""
    return iter(value.items) if isinstance(value, Items) else iter(value)


class _Out:
    """Lines written in pieces of about 64 KiB, a blank line between two
    sections (none after the last)."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self._write = write
        self._pieces: list[str] = []
        self._size = 0
        self._started = False

    def section(self, lines: Iterable[str]) -> None:
        """Write a section's lines (a section with none writes nothing)."""
        for n, line in enumerate(lines):
            if n == 0 and self._started:
                self._add("\n")
            self._add(printable(line) + "\n")
            self._started = True

    def _add(self, text: str) -> None:
        self._pieces.append(text)
        self._size += len(text)
        if self._size >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self._pieces:
            self._write("".join(self._pieces))
            self._pieces.clear()
            self._size = 0


class _Lines:
    """Lines kept in order for later: in memory up to `_SPOOL` bytes, then
    in a private scratch file (`tempfile.SpooledTemporaryFile`)."""

    def __init__(self) -> None:
        self._file: IO[str] | None = None
        self._count = 0

    def __bool__(self) -> bool:
        return self._count > 0

    def extend(self, lines: Iterable[str]) -> None:
        for line in lines:
            if self._file is None:
                self._file = tempfile.SpooledTemporaryFile(_SPOOL, mode="w+", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed by `close`
            try:
                self._file.write(printable(line) + "\n")
            except OSError as error:
                raise ScratchError(f"cannot write the scratch file that keeps the report's lines: {error}") from error
            self._count += 1

    def lines(self) -> Iterator[str]:
        """The lines kept, in order (each once: read them once)."""
        if self._file is None:
            return
        try:
            self._file.seek(0)
            for line in self._file:
                yield line[:-1]
        except OSError as error:
            raise ScratchError(f"cannot read the scratch file that keeps the report's lines: {error}") from error

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


def referral_progress(referral: dict[str, Any]) -> Iterator[str]:
    """A referral's progress lines: one per milestone not reached yet,
    saying why; or why it does not count."""
    who = f"  {referral['referee']} (referred by {referral['referrer']})"
    for program in referral["programs"]:
        if not program["eligible"]:
            if len(referral["programs"]) == 1:
                yield f"{who}: {program['why']}"
            continue
        if program.get("holds") is False:  # another referral took the referee, or it lapsed
            yield f"{who}: {program['attribution']}"
            continue
        for milestone in program["milestones"]:
            if not milestone["reached"] and milestone.get("progress"):
                yield f"{who}: {milestone['milestone']}: {milestone['progress']}"


def referrer_progress(referrer: dict[str, Any]) -> Iterator[str]:
    """A referrer's progress lines: one per per-referrer milestone not
    reached yet."""
    for milestone in referrer["milestones"]:
        if not milestone["reached"] and milestone.get("progress"):
            yield f"  {referrer['referrer']}: {milestone['milestone']}: {milestone['progress']}"


def _reversal_text(reversal: dict[str, Any]) -> str:
    """One reversal: `ID reverses AWARD: BENEFICIARY REWARD at AT: WHY`: a
    reversal is money to claw back, as an award is money to pay, so text
    output lists each one, with the award it reverses, what it takes back
    and why."""
    why = reversal["why"]
    cause = why.get("reason") or ("partly voided" if why.get("taken") is not None else "voided")
    if why.get("event") is not None:
        cause += f" by event {why['event']}"
    if why.get("taken") is not None:  # a partial void's: the total taken back after it
        cause += f" ({why['taken']} {reversal['unit']} taken back so far)"
    head = f"{reversal['id']} reverses {reversal['reverses']}"
    return f"{head}: {reversal['beneficiary']} {_reward(reversal)} at {reversal['at']}: {cause}"


def total_text(total: dict[str, Any]) -> str:
    """One line of totals: a sum (`cash confirmed: 250.00 USD in 5
    award(s)`), or, for a unit that does not add up, a count of awards of
    one rate (`discount confirmed: 5 award(s) of 20 percent`)."""
    what = f"{total['kind']} {total['status']}"
    if total.get("each"):
        return f"{what}: {total['count']} award(s) of {total['amount']} {total['unit']}"
    return f"{what}: {total['amount']} {total['unit']} in {total['count']} award(s)"


def _reward(record: dict[str, Any]) -> str:
    if record["kind"] == "item":
        return str(record["item"])
    if record.get("amount") is None:
        return f"{record['kind']} ({record['unit']}, no amount)"
    return f"{record['kind']} {record['amount']} {record['unit']}"


def _uncapped(award: dict[str, Any]) -> str | None:
    """The amount before the cap of an award a cap cut, or None."""
    why = award.get("why") or {}
    return why.get("uncapped") if why.get("capped") else None


def _status(award: dict[str, Any]) -> str:
    """An award's status column: its status, and the cut if a cap made one."""
    uncapped = _uncapped(award)
    if uncapped is None:
        return str(award["status"])
    return f"{award['status']} (cut by cap from {uncapped})"
