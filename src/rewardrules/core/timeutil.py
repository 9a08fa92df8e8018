"""Timestamps as exact integer instants.

Every instant in ``rewardrules`` is an ``int``: nanoseconds since the Unix
epoch (1970-01-01T00:00:00Z), in UTC.  Why:

* Events are ordered by ``(instant, id)``.  Integers compare exactly, so two
  events a nanosecond apart never tie and two equal instants always do,
  whatever offset each ledger line was written with.
* No ``float`` anywhere: a float second count has only ~microsecond
  resolution for present-day dates and rounds differently from one
  computation to another, which would make awards depend on arithmetic noise.
* Nothing depends on the machine's local time zone or locale.  Offsets come
  from the text itself, and calendar periods are computed in UTC unless an
  explicit IANA zone is named (then through :mod:`zoneinfo`, with the
  zones of the ``tzdata`` package, never the machine's own zone files).

:func:`parse_timestamp` accepts strict RFC 3339 only (an offset is required)
and is on the hot path of reading ledgers, so it avoids ``datetime`` objects:
the general parser validates with one precompiled regular expression and does
integer calendar arithmetic; small bounded caches of already validated dates
(``YYYY-MM-DDT``), minutes and ``:SS<offset>`` suffixes, with exact look-up
tables for the other fields, let the common case skip the regular expression.
The caches never change a result: only text that the general parser accepted
is put in them, and a cache hit still checks every remaining character.

The supported range is 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z
(see :data:`MIN_TIMESTAMP_NS` and :data:`MAX_TIMESTAMP_NS`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "MAX_TIMESTAMP_NS",
    "MIN_TIMESTAMP_NS",
    "NS_PER_DAY",
    "NS_PER_HOUR",
    "NS_PER_MINUTE",
    "NS_PER_SECOND",
    "NS_PER_WEEK",
    "PERIODS",
    "TimestampError",
    "UnknownTimeZoneError",
    "format_deadline",
    "format_timestamp",
    "parse_timestamp",
    "period_bounds",
    "period_key",
]

NS_PER_SECOND: Final = 1_000_000_000
NS_PER_MINUTE: Final = 60 * NS_PER_SECOND
NS_PER_HOUR: Final = 60 * NS_PER_MINUTE
NS_PER_DAY: Final = 24 * NS_PER_HOUR
NS_PER_WEEK: Final = 7 * NS_PER_DAY

PERIODS: Final = ("day", "week", "month", "quarter", "year")
"""The calendar periods known to :func:`period_key` and :func:`period_bounds`."""

_SECONDS_PER_DAY: Final = 86_400


class TimestampError(ValueError):
    """A timestamp that is not strict RFC 3339, or an instant out of range."""


class UnknownTimeZoneError(ValueError):
    """A time zone name that is not a zone of the time zone database."""


class ZoneDataMissing(UnknownTimeZoneError):
    """No time zone database: the `tzdata` package is not installed."""


# --------------------------------------------------------------------------
# Calendar arithmetic (proleptic Gregorian, days counted from 1970-01-01).

_DAYS_BEFORE_MONTH: Final = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_DAYS_IN_MONTH: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and _is_leap(year):
        return 29
    return _DAYS_IN_MONTH[month]


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to the given (valid) date; negative before it."""
    y = year - 1
    days = y * 365 + y // 4 - y // 100 + y // 400 + _DAYS_BEFORE_MONTH[month] + day
    if month > 2 and _is_leap(year):
        days += 1
    return days - 719_163  # 719_163 = that count for 1970-01-01


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Inverse of :func:`_days_from_civil` (H. Hinnant's civil_from_days)."""
    z = days + 719_468  # shift the epoch to 0000-03-01
    era = z // 146_097
    doe = z - era * 146_097  # day of era, [0, 146096]
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # day of year from March 1
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year, month, day


MIN_TIMESTAMP_NS: Final = _days_from_civil(1, 1, 1) * NS_PER_DAY
"""0001-01-01T00:00:00Z, the earliest supported instant."""
MAX_TIMESTAMP_NS: Final = (_days_from_civil(9999, 12, 31) + 1) * NS_PER_DAY - 1
"""9999-12-31T23:59:59.999999999Z, the latest supported instant."""

# --------------------------------------------------------------------------
# Parsing.

# The general (authoritative) grammar.  Field values are range-checked in code
# so that each error can say what is wrong; ASCII digits only.
_GENERAL = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]*))?(.*)",
    re.DOTALL,
)
_OFFSET = re.compile(r"[+-]([0-9]{2}):([0-9]{2})")
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NO_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?:[Zz]|[+-].*)?")
_EXPECTED = "expected rfc 3339 such as `2026-03-01T09:30:00Z` or `2026-03-01T09:30:00.5+01:00`"

# Multiplier turning an n-digit fraction into nanoseconds.
_FRACTION_SCALE: Final[tuple[int, ...]] = tuple(10 ** (9 - n) for n in range(10))

# Exact lookup tables for the fast path: "HH:MM" -> seconds into the day
# (all valid), ":SS." -> seconds, "+HH:MM" -> the number of seconds to add
# to the local wall time to get UTC. Built from two small tables of digits:
# formatting 4,000 keys one by one was a noticeable part of start-up.
_TWO_DIGITS = [f"{n:02d}" for n in range(60)]
_HOUR_MINUTE: Final[dict[str, int]] = {
    hh + ":" + mm: h * 3600 + m * 60 for h, hh in enumerate(_TWO_DIGITS[:24]) for m, mm in enumerate(_TWO_DIGITS)
}
_SECOND_DOT: Final[dict[str, int]] = {":" + ss + ".": s for s, ss in enumerate(_TWO_DIGITS)}
_OFFSET_SECONDS: Final[dict[str, int]] = {
    sign + clock: (-seconds if sign == "+" else seconds) for sign in "+-" for clock, seconds in _HOUR_MINUTE.items()
}

# Bounded caches, filled only with text that the general parser accepted (see
# the module docstring):
# - "YYYY-MM-DDT" (with its separator) -> seconds from the epoch to that date;
# - ":SS<offset>" (no fraction) -> seconds to add to the wall-clock minute.
_DATE_CACHE: dict[str, int] = {}
_TAIL_CACHE: dict[str, int] = {}
_DATE_CACHE_LIMIT: Final = 1 << 12
_TAIL_CACHE_LIMIT: Final = 1 << 12


def _clear_caches() -> None:
    """Forget the parse caches (for tests and benchmarks)."""
    _DATE_CACHE.clear()
    _TAIL_CACHE.clear()


def parse_timestamp(text: str) -> int:
    """Parse a strict RFC 3339 timestamp into integer nanoseconds since the epoch.

    Accepted: ``YYYY-MM-DDTHH:MM:SS[.fraction]`` then ``Z``/``z`` or
    ``+HH:MM``/``-HH:MM``; ``T`` may be ``t`` or a space; the fraction has 1 to 9
    digits and is kept exactly.  A missing offset, an invalid date or time
    (including leap second 60), an offset beyond +/-23:59, a year outside
    0001-9999 or anything else malformed raises :class:`TimestampError`.
    """
    # Fast path: a date already validated, then exact table look-ups for the
    # wall-clock minute and the ":SS<offset>" tail. A non-str either fails to
    # slice or hash (TypeError) or gives a non-str key, never in a table.
    try:
        date = _DATE_CACHE.get(text[:11])
    except TypeError:
        return _parse_general(text)
    if date is not None:
        minute = _HOUR_MINUTE.get(text[11:16])
        if minute is not None:
            rest = text[16:]
            tail = _TAIL_CACHE.get(rest)
            if tail is not None:
                return (date + minute + tail) * NS_PER_SECOND
            second = _SECOND_DOT.get(rest[:4])
            if second is not None:  # ":SS." then the fraction and the offset
                if rest[-1] in "Zz":
                    offset: int | None = 0
                    fraction = rest[4:-1]
                else:
                    offset = _OFFSET_SECONDS.get(rest[-6:])
                    fraction = rest[4:-6]
                n = len(fraction)
                if offset is not None and 0 < n <= 9 and fraction.isascii() and fraction.isdigit():
                    seconds = date + minute + second + offset
                    return seconds * NS_PER_SECOND + int(fraction) * _FRACTION_SCALE[n]
    return _parse_general(text)


def _show(text: str) -> str:
    """The text as quoted in an error message: one line, bounded length."""
    if len(text) > 64:
        text = text[:61] + "..."
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text


def _parse_general(text: object) -> int:
    """The authoritative parser: validates everything, explains any error."""
    if not isinstance(text, str):
        raise TimestampError(f"timestamp must be a string, not {type(text).__name__}")
    match = _GENERAL.fullmatch(text)
    if match is None or text != text.strip():
        raise _malformed(text)
    ys, mos, ds, hs, mis, ss, fraction, tail = match.groups()
    year, month, day = int(ys), int(mos), int(ds)
    hour, minute, second = int(hs), int(mis), int(ss)

    if year == 0:
        raise _invalid("year 0000 is out of range (0001-9999)", text)
    if not 1 <= month <= 12:
        raise _invalid(f"month {mos} is out of range (01-12)", text)
    last_day = _days_in_month(year, month)
    if not 1 <= day <= last_day:
        leap = f", {ys} is not a leap year" if month == 2 and day == 29 else ""
        raise _invalid(f"day {ds} is out of range for {ys}-{mos} (01-{last_day:02d}{leap})", text)
    if hour > 23:
        raise _invalid(f"hour {hs} is out of range (00-23)", text)
    if minute > 59:
        raise _invalid(f"minute {mis} is out of range (00-59)", text)
    if second == 60:
        raise _invalid("second 60 is out of range (00-59; leap seconds are not supported)", text)
    if second > 59:
        raise _invalid(f"second {ss} is out of range (00-59)", text)

    if fraction is None:
        fraction_ns = 0
    elif fraction == "":
        raise _invalid("the `.` after the seconds is not followed by digits", text)
    elif len(fraction) > 9:
        raise _invalid(f"fraction `{_show(fraction)}` has more than 9 digits", text)
    else:
        fraction_ns = int(fraction) * _FRACTION_SCALE[len(fraction)]

    if tail == "":
        raise TimestampError(f"timestamp `{_show(text)}` has no offset: add `Z` for utc or an offset such as `+01:00`")
    if tail == "Z" or tail == "z":
        offset = 0
    else:
        off = _OFFSET.fullmatch(tail)
        if off is None:
            raise _invalid(
                f"offset `{_show(tail)}` is malformed (expected `Z`, `+HH:MM` or `-HH:MM`)",
                text,
            )
        if int(off[1]) > 23 or int(off[2]) > 59:
            raise _invalid(f"offset `{tail}` is out of range (+/-23:59 at most)", text)
        offset = _OFFSET_SECONDS[tail]

    date_seconds = _days_from_civil(year, month, day) * _SECONDS_PER_DAY
    seconds = date_seconds + hour * 3600 + minute * 60 + second + offset
    ns = seconds * NS_PER_SECOND + fraction_ns
    if not MIN_TIMESTAMP_NS <= ns <= MAX_TIMESTAMP_NS:
        raise _invalid("the instant is out of range (utc years 0001-9999)", text)

    # Years 0001 and 9999 are never cached: there an offset can push the
    # instant out of range, which only the general parser checks.
    if 1 < year < 9999:
        if len(_DATE_CACHE) >= _DATE_CACHE_LIMIT:
            _DATE_CACHE.clear()
        _DATE_CACHE[text[:11]] = date_seconds
        if fraction is None:
            if len(_TAIL_CACHE) >= _TAIL_CACHE_LIMIT:
                _TAIL_CACHE.clear()
            _TAIL_CACHE[text[16:]] = second + offset
    return ns


def _invalid(what: str, text: str) -> TimestampError:
    return TimestampError(f"{what} in timestamp `{_show(text)}`")


def _malformed(text: str) -> TimestampError:
    shown = _show(text)
    if text == "":
        return TimestampError("timestamp is empty")
    if text != text.strip():
        return TimestampError(f"timestamp `{shown}` has leading or trailing whitespace")
    if _DATE_ONLY.fullmatch(text):
        return TimestampError(f"timestamp `{shown}` has no time of day and no offset; {_EXPECTED}")
    if _NO_SECONDS.fullmatch(text):
        return TimestampError(f"timestamp `{shown}` has no seconds; {_EXPECTED}")
    return TimestampError(f"timestamp `{shown}` is malformed; {_EXPECTED}")


# --------------------------------------------------------------------------
# Formatting.


def _check_instant(ns: object) -> int:
    if isinstance(ns, bool) or not isinstance(ns, int):
        raise TypeError(f"instant must be an int of nanoseconds, not {type(ns).__name__}")
    if not MIN_TIMESTAMP_NS <= ns <= MAX_TIMESTAMP_NS:
        raise TimestampError(
            f"instant {ns} ns is out of range (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z)"
        )
    return ns


#: "YYYY-MM-DDT" of recent days and "HH:MM:SS" of seconds of the day seen
#: so far: formatting award instants is on the scoring path. Both bounded.
_DAY_TEXT: dict[int, str] = {}
_TIME_TEXT: dict[int, str] = {}


def format_timestamp(ns: int) -> str:
    """Format an instant as RFC 3339 in UTC, e.g. ``2026-03-01T09:30:00Z``.

    A non-zero fraction is written with its trailing zeros removed
    (``...:00.5Z``, ``...:00.000000001Z``), so the text parses back to ``ns``.
    """
    if type(ns) is not int or not MIN_TIMESTAMP_NS <= ns <= MAX_TIMESTAMP_NS:
        _check_instant(ns)  # (its checks inline in the common case: this runs for every award)
    seconds, fraction = divmod(ns, NS_PER_SECOND)
    days, second_of_day = divmod(seconds, _SECONDS_PER_DAY)
    date = _DAY_TEXT.get(days)
    if date is None:
        if len(_DAY_TEXT) >= _DATE_CACHE_LIMIT:
            _DAY_TEXT.clear()
        year, month, day = _civil_from_days(days)
        date = _DAY_TEXT[days] = f"{year:04d}-{month:02d}-{day:02d}T"
    clock = _TIME_TEXT.get(second_of_day)
    if clock is None:
        hour, rest = divmod(second_of_day, 3600)
        clock = _TIME_TEXT[second_of_day] = f"{hour:02d}:{rest // 60:02d}:{rest % 60:02d}"
    text = date + clock
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


def format_deadline(ns: int) -> str:
    """Format an instant computed from a ledger's (an event plus a window or
    a hold), which may fall after the last instant a ledger can hold: such
    a deadline is written as that last instant, since no event can come
    after it."""
    return format_timestamp(min(ns, MAX_TIMESTAMP_NS))


# --------------------------------------------------------------------------
# Calendar periods.

_EPOCH_UTC: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE: Final = datetime(1970, 1, 1)
_ONE_SECOND: Final = timedelta(seconds=1)
_UTC_NAMES: Final = frozenset({"UTC", "Etc/UTC"})


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """The names of the zones of the `tzdata` package (its `zones` list):
    the only names `_zone` opens, so that no other file of the package (a
    module, a folder, a name in another case on a file system that folds
    case) is taken for a zone."""
    from importlib import resources

    try:
        listed = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    except (ImportError, OSError, UnicodeError) as exc:
        raise ZoneDataMissing(
            "no time zone database: the Python package `tzdata`, which rewardrules requires, is not installed"
        ) from exc
    return frozenset(listed.split())


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    """The zone of that IANA name from the `tzdata` package, the project's
    own time zone database, never the machine's: `ZoneInfo(name)` reads
    the system's zone files first, so a machine with older data (Debian's
    2025b against tzdata 2026f, where Edmonton's offset after November 2026
    differs) placed local midnight an hour apart and gave other awards
    under a cap per day: the same rule file and ledger must score the same
    everywhere (with the same tzdata release)."""
    import io

    return ZoneInfo.from_file(io.BytesIO(zone_file(name)), key=name)


def zone_file(name: str) -> bytes:
    """The bytes of that zone's file (TZif) in the `tzdata` package, which
    `_zone` reads and the SQL backend's table of offsets is made from
    (core/zone_offsets.py). Names outside the package's list (`localtime`,
    `posix/...`, a path) are unknown."""
    from importlib import resources

    if name not in zone_names():
        raise UnknownTimeZoneError(f"unknown time zone `{_show(name)}`: not a zone of the time zone database (tzdata)")
    *folders, leaf = name.split("/")
    return resources.files(".".join(["tzdata", "zoneinfo", *folders])).joinpath(leaf).read_bytes()


def _resolve_zone(tz: str | None) -> ZoneInfo | None:
    """None for UTC (plain arithmetic, needs no time zone database)."""
    if tz is None:
        return None
    if not isinstance(tz, str):
        raise TypeError(f"time zone must be a str or None, not {type(tz).__name__}")
    if tz in _UTC_NAMES:
        return None
    return _zone(tz)


def _check_period(period: object) -> str:
    if not isinstance(period, str) or period not in PERIODS:
        raise ValueError(f"unknown period `{period}` (expected day, week, month, quarter or year)")
    return period


def _local_days(ns: int, zone: ZoneInfo | None) -> int:
    """The wall-clock date at instant ``ns`` (in ``zone``), as days since 1970-01-01."""
    if zone is None:
        return ns // NS_PER_DAY
    # Offsets are whole seconds, so flooring to the second keeps the date.
    try:
        local = (_EPOCH_UTC + timedelta(seconds=ns // NS_PER_SECOND)).astimezone(zone)
    except OverflowError as exc:
        raise TimestampError(
            f"instant {ns} ns is too close to the supported range limits for time zone `{zone.key}`"
        ) from exc
    return _days_from_civil(local.year, local.month, local.day)


def _period_start_days(days: int, period: str) -> tuple[int, int]:
    """First day of the period containing local date ``days``, and of the next one."""
    if period == "day":
        return days, days + 1
    if period == "week":
        start = days - (days + 3) % 7  # 1970-01-01 was a Thursday; Monday starts the week
        return start, start + 7
    year, month, _ = _civil_from_days(days)
    if period == "month":
        first, months = month, 1
    elif period == "quarter":
        first, months = month - (month - 1) % 3, 3
    else:
        first, months = 1, 12
    next_year, next_month = divmod(year * 12 + first - 1 + months, 12)
    return _days_from_civil(year, first, 1), _days_from_civil(next_year, next_month + 1, 1)


def _wall_to_seconds(wall: datetime, zone: ZoneInfo, fold: int) -> int:
    offset = wall.replace(tzinfo=zone, fold=fold).utcoffset()
    if offset is None:  # pragma: no cover - a ZoneInfo always has an offset
        raise TypeError(f"time zone `{zone.key}` gave no utc offset")
    return (wall - offset - _EPOCH_NAIVE) // _ONE_SECOND


def _seconds_to_wall(seconds: int, zone: ZoneInfo) -> datetime:
    return (_EPOCH_UTC + timedelta(seconds=seconds)).astimezone(zone).replace(tzinfo=None)


def _local_midnight_ns(days: int, zone: ZoneInfo | None) -> int:
    """The first instant whose wall-clock time in ``zone`` is at or after ``days``.

    That is local midnight (its earlier occurrence if the clocks went back over
    it), or, when a DST change skips midnight, the instant of that change.
    """
    if zone is None:
        return days * NS_PER_DAY
    year, month, day = _civil_from_days(days)
    try:
        wall = datetime(year, month, day)
        candidates = [_wall_to_seconds(wall, zone, fold) for fold in (0, 1)]
        valid = [s for s in candidates if _seconds_to_wall(s, zone) == wall]
        if valid:
            return min(valid) * NS_PER_SECOND
        # Midnight is in a gap: search for the transition between the two
        # readings, where the wall clock jumps from before to after midnight.
        lo, hi = min(candidates), max(candidates)
        if not (_seconds_to_wall(lo, zone) < wall <= _seconds_to_wall(hi, zone)):
            raise AssertionError(f"unexpected transition around {wall} in {zone.key}")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _seconds_to_wall(mid, zone) >= wall:
                hi = mid
            else:
                lo = mid
        return hi * NS_PER_SECOND
    except (OverflowError, ValueError) as exc:
        raise TimestampError(
            f"the period bound {year:04d}-{month:02d}-{day:02d}"
            f" in time zone `{zone.key}` is outside the supported range"
        ) from exc


def period_key(ns: int, period: str, tz: str | None = None) -> str:
    """The key of the calendar period containing instant ``ns``.

    ``period`` is ``day`` (``2026-03-01``), ``week`` (ISO week, ``2026-W09``),
    ``month`` (``2026-03``), ``quarter`` (``2026-Q1``) or ``year`` (``2026``).
    The calendar date is the wall-clock date at that instant in ``tz`` (an IANA
    zone name, DST-aware), or in UTC when ``tz`` is None.
    """
    _check_instant(ns)
    _check_period(period)
    days = _local_days(ns, _resolve_zone(tz))
    if period == "week":
        thursday = days - (days + 3) % 7 + 3  # the ISO year is the Thursday's year
        iso_year = _civil_from_days(thursday)[0]
        week = (thursday - _days_from_civil(iso_year, 1, 1)) // 7 + 1
        return f"{iso_year:04d}-W{week:02d}"
    year, month, day = _civil_from_days(days)
    if period == "day":
        return f"{year:04d}-{month:02d}-{day:02d}"
    if period == "month":
        return f"{year:04d}-{month:02d}"
    if period == "quarter":
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    return f"{year:04d}"


def period_bounds(ns: int, period: str, tz: str | None = None) -> tuple[int, int]:
    """Start (inclusive) and end (exclusive) instants of the period containing ``ns``.

    Periods are as in :func:`period_key`.  In a zone, a period starts at local
    midnight of its first day (the earlier one if clocks went back over
    midnight, or the moment of the DST change if it skipped midnight), so a day
    can last 23 or 25 hours.
    """
    _check_instant(ns)
    _check_period(period)
    zone = _resolve_zone(tz)
    start_days, end_days = _period_start_days(_local_days(ns, zone), period)
    return _local_midnight_ns(start_days, zone), _local_midnight_ns(end_days, zone)
