"""A time zone's UTC offsets as a list of steps, from the `tzdata` package.

Why: the SQL backend needs an instant's calendar date in the program's
zone (a cap per day, week, month, ...). Each SQL engine has its own time
zone database (DuckDB ICU's, Spark the JVM's, ClickHouse its own, a
warehouse whatever release it was last given), and they differ: Spark's
JDK 17 (tzdata 2025a) put Edmonton an hour from tzdata 2026f after
November 2026, ClickHouse 26.9 Winnipeg after 2035. So the query does not
ask the engine: it carries the zone's offsets, read here from the same
files the Python engine reads (`timeutil._zone`), and every engine places
local midnight where the Python engine does.

A zone's file (TZif, RFC 8536) lists its transitions up to its last change
of rules, then a rule for every year after (the footer, a POSIX TZ string
such as `EST5EDT,M3.2.0,M11.1.0`). The steps are the offsets Python's
`zoneinfo` gives (the Python engine's reference) at each listed transition
and at each change of the footer's rule, found by reading the offset once
a week after the last listed transition and placing each change to its
second: one year after the same change, where it is, else by bisecting
(`_rule_changes`).
"""

from __future__ import annotations

import bisect
import itertools
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from zoneinfo import ZoneInfo

from .timeutil import _zone, zone_file

#: the instants the SQL backend holds (a BIGINT of nanoseconds, 1677-09-21
#: to 2262-04-11), in whole seconds: steps outside them are never read
FIRST_SECOND = -(2**63) // 1_000_000_000
LAST_SECOND = (2**63 - 1) // 1_000_000_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR = 3_600
_WEEK = 7 * 86_400


@lru_cache(maxsize=16)
def offset_steps(name: str) -> tuple[tuple[int, int], ...]:
    """The zone's offsets as `(first second, offset in seconds)` steps in
    time order: an instant's offset is that of the last step starting at or
    before it; the first step starts at `FIRST_SECOND`. Two steps in a row
    never have the same offset."""
    zone = _zone(name)
    data = zone_file(name)
    listed = [t for t in _transitions(data) if FIRST_SECOND < t <= LAST_SECOND]
    starts = [FIRST_SECOND, *listed]
    if _changes_yearly(_footer(data)):  # a rule with summer time: its changes, year after year
        starts += _rule_changes(partial(_offset, zone), max(starts), LAST_SECOND)
    steps: list[tuple[int, int]] = []
    for start in sorted(set(starts)):
        offset = _offset(zone, start)
        if not steps or steps[-1][1] != offset:
            steps.append((start, offset))
    return tuple(steps)


def _offset(zone: ZoneInfo, second: int) -> int:
    """The zone's UTC offset in seconds at that instant, as the Python
    engine reads it (`timeutil._local_days`)."""
    # what `astimezone` from UTC does, read directly: the UTC wall time
    # given to the zone (not `datetime.fromtimestamp`, which fails before
    # 1970 on Windows)
    offset = zone.fromutc(datetime(1970, 1, 1, tzinfo=zone) + timedelta(seconds=second)).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset // timedelta(seconds=1)


def _rule_changes(offset: Callable[[int], int], start: int, end: int) -> list[int]:
    """The first seconds at which `offset` (of an instant, in seconds)
    changes between `start` and `end`: read once a week, each change placed
    to its second (`_changes`). A rule with summer time changes the offset
    twice a year: a year in which the weekly readings see another number
    of changes (two changes less than a week apart, in no zone of tzdata
    2026f) is read again once an hour."""
    changes = _changes(offset, start, end, _WEEK)
    year = _year_starts(start, end)
    for first, last in itertools.pairwise(year):
        if bisect.bisect_right(changes, last) - bisect.bisect_right(changes, first) != 2:
            changes = sorted([s for s in changes if not first < s <= last] + _changes(offset, first, last, _HOUR))
    return sorted(changes)


def _changes(offset: Callable[[int], int], start: int, end: int, step: int) -> list[int]:
    """The seconds in (`start`, `end`] where the offset changes, read every
    `step` seconds; each change found where the same change a year before
    puts it (`_year_on`), else bisected to the second."""
    changes: list[int] = []
    before, was = start, offset(start)
    for second in range(start + step, end + step, step):
        second = min(second, end)
        now = offset(second)
        if now != was:
            found = _year_on(offset, changes, before, second, was)
            changes.append(found if found is not None else _bisected(offset, before, second, was))
        before, was = second, now
    return changes


#: how long after a change a rule makes it again the next year: on the same
#: date (365 or 366 days), or on the same weekday of the same week of its
#: month (364 or 371 days), at the same local time
_YEAR_LATER = tuple(days * 86_400 for days in (364, 365, 366, 371))


def _year_on(offset: Callable[[int], int], changes: list[int], low: int, high: int, was: int) -> int | None:
    """The second in (`low`, `high`] where the offset stops being `was`, if
    it is one year after a change found before (`_YEAR_LATER`): two reads
    where bisecting takes some twenty (a yearly rule read for 225 years
    took most of the time to compile a zone's steps, and of the suite's
    test of every zone). Else None. Where the range holds one change (in
    every zone of tzdata 2026f), it is the second bisection finds; where it
    holds more (hours apart, which no zone has), either may be missed."""
    for earlier in changes[-3:]:
        for later in _YEAR_LATER:
            second = earlier + later
            if low < second <= high and offset(second - 1) == was != offset(second):
                return second
    return None


def _bisected(offset: Callable[[int], int], low: int, high: int, was: int) -> int:
    """The first second in (`low`, `high`] where the offset is no longer
    `was` (`offset(low) == was`, `offset(high) != was`)."""
    while high - low > 1:
        middle = (low + high) // 2
        if offset(middle) == was:
            low = middle
        else:
            high = middle
    return high


def _year_starts(start: int, end: int) -> list[int]:
    """The UTC starts of the whole calendar years between `start` and `end`
    (seconds)."""
    first = (_EPOCH + timedelta(seconds=start)).year + 1
    last = (_EPOCH + timedelta(seconds=end)).year
    return [int((datetime(year, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds()) for year in range(first, last + 1)]


def _transitions(data: bytes) -> list[int]:
    """The transition instants (seconds) listed in a TZif file's 64-bit
    part (version 2 and later; every file of the tzdata package is)."""
    counts = struct.Struct(">6l")  # a header's six counts, after its first 20 bytes
    skip = 44 + _block_size(counts.unpack_from(data, 20), 4)
    if data[:4] != b"TZif" or data[skip : skip + 4] != b"TZif":
        raise ValueError("not a version 2 TZif file")
    timecnt = counts.unpack_from(data, skip + 20)[3]
    return list(struct.unpack_from(f">{timecnt}q", data, skip + 44))


def _block_size(counts: tuple[int, ...], time_size: int) -> int:
    """The bytes of a TZif data block after its header (RFC 8536, 3.2)."""
    isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt = counts
    return timecnt * (time_size + 1) + typecnt * 6 + charcnt + leapcnt * (time_size + 4) + isstdcnt + isutcnt


def _footer(data: bytes) -> str:
    """The TZ string after the 64-bit part, between the file's last two
    line breaks: the rule for times after the last listed transition
    (empty when none)."""
    end = len(data) - 1
    if end < 1 or data[end:] != b"\n":
        return ""
    return data[data.rindex(b"\n", 0, end) + 1 : end].decode("ascii", "replace")


def _changes_yearly(footer: str) -> bool:
    """Whether a TZ string's rule changes the offset every year: it has
    summer time (a `,start,end` part), and not all year long (RFC 8536,
    3.3.1: `,0/0,J365/25` is summer time from the first day's start to
    past the last day's end, which never changes)."""
    return "," in footer and not footer.endswith(",0/0,J365/25")
