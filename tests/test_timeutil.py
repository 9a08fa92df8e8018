"""Tests for rewardrules.timeutil: strict RFC 3339 instants and calendar periods."""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules import timeutil
from rewardrules.timeutil import (
    MAX_TIMESTAMP_NS,
    MIN_TIMESTAMP_NS,
    NS_PER_DAY,
    NS_PER_HOUR,
    NS_PER_MINUTE,
    NS_PER_SECOND,
    NS_PER_WEEK,
    PERIODS,
    TimestampError,
    UnknownTimeZoneError,
    format_timestamp,
    parse_timestamp,
    period_bounds,
    period_key,
)

from .conftest import examples

# Deterministic property tests (no example database written to the work tree).
PROPERTY = settings(max_examples=examples(300), derandomize=True, database=None, deadline=None)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def expected_ns(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    ns: int = 0,
    offset_minutes: int = 0,
) -> int:
    """Independent reference: datetime arithmetic, exact to the microsecond."""
    local = datetime(year, month, day, hour, minute, second)
    utc = local - timedelta(minutes=offset_minutes)
    return (utc - datetime(1970, 1, 1)) // _US * 1000 + ns


@pytest.fixture(params=["cold", "warm"])
def cache_state(request: pytest.FixtureRequest) -> str:
    """Run a test with empty parse caches, then with caches full of near misses."""
    timeutil._clear_caches()
    if request.param == "warm":
        for year in (2023, 2024, 2026, 1900, 2000):
            for sep in "Tt ":
                for tail in ("Z", "z", "+01:00", "-05:00", "+00:00", "-00:00"):
                    parse_timestamp(f"{year}-02-28{sep}09:30:00{tail}")
                    parse_timestamp(f"{year}-03-01{sep}09:30:00{tail}")
                    parse_timestamp(f"{year}-03-01{sep}23:59:59{tail}")
    return str(request.param)


# --------------------------------------------------------------------------
# Durations.


def test_duration_constants() -> None:
    assert NS_PER_SECOND == 1_000_000_000
    assert NS_PER_MINUTE == 60 * NS_PER_SECOND
    assert NS_PER_HOUR == 3_600 * NS_PER_SECOND
    assert NS_PER_DAY == 86_400 * NS_PER_SECOND
    assert NS_PER_WEEK == 604_800 * NS_PER_SECOND
    assert all(type(c) is int for c in (NS_PER_SECOND, NS_PER_DAY, NS_PER_WEEK))


def test_timestamp_error_is_a_value_error() -> None:
    assert issubclass(TimestampError, ValueError)
    assert issubclass(UnknownTimeZoneError, ValueError)


# --------------------------------------------------------------------------
# parse_timestamp: valid input.

VALID = [
    # (id, text, expected ns)
    ("utc-Z", "2026-03-01T09:30:00Z", 1_772_357_400 * NS_PER_SECOND),
    ("utc-lower-z", "2026-03-01T09:30:00z", 1_772_357_400 * NS_PER_SECOND),
    ("lower-t", "2026-03-01t09:30:00Z", 1_772_357_400 * NS_PER_SECOND),
    ("space-separator", "2026-03-01 09:30:00Z", 1_772_357_400 * NS_PER_SECOND),
    ("epoch", "1970-01-01T00:00:00Z", 0),
    ("before-epoch", "1969-12-31T23:59:59.999999999Z", -1),
    ("offset-plus-00:00", "2026-03-01T09:30:00+00:00", expected_ns(2026, 3, 1, 9, 30)),
    ("offset-minus-00:00", "2026-03-01T09:30:00-00:00", expected_ns(2026, 3, 1, 9, 30)),
    (
        "offset-plus-01:00",
        "2026-03-01T09:30:00+01:00",
        expected_ns(2026, 3, 1, 9, 30, offset_minutes=60),
    ),
    (
        "offset-minus-05:00",
        "2026-03-01T09:30:00-05:00",
        expected_ns(2026, 3, 1, 9, 30, offset_minutes=-300),
    ),
    (
        "offset-plus-05:30",
        "2026-03-01T09:30:00+05:30",
        expected_ns(2026, 3, 1, 9, 30, offset_minutes=330),
    ),
    (
        "offset-plus-05:45",
        "2026-03-01T09:30:00+05:45",
        expected_ns(2026, 3, 1, 9, 30, offset_minutes=345),
    ),
    (
        "offset-minus-09:30",
        "2026-03-01T09:30:00-09:30",
        expected_ns(2026, 3, 1, 9, 30, offset_minutes=-570),
    ),
    (
        "offset-plus-14:00",
        "2026-03-01T09:30:00+14:00",
        expected_ns(2026, 3, 1, 9, 30, offset_minutes=840),
    ),
    (
        "offset-max-plus-23:59",
        "2026-03-01T09:30:00+23:59",
        expected_ns(2026, 3, 1, 9, 30, offset_minutes=1439),
    ),
    (
        "offset-max-minus-23:59",
        "2026-03-01T09:30:00-23:59",
        expected_ns(2026, 3, 1, 9, 30, offset_minutes=-1439),
    ),
    (
        "offset-crosses-to-previous-year",
        "2026-01-01T00:30:00+01:00",
        expected_ns(2025, 12, 31, 23, 30),
    ),
    (
        "offset-crosses-to-next-day",
        "2026-02-28T23:30:00-01:00",
        expected_ns(2026, 3, 1, 0, 30),
    ),
    ("fraction-1-digit", "2026-03-01T09:30:00.5Z", expected_ns(2026, 3, 1, 9, 30, ns=500_000_000)),
    ("fraction-2-digits", "2026-03-01T09:30:00.05Z", expected_ns(2026, 3, 1, 9, 30, ns=50_000_000)),
    ("fraction-3-digits", "2026-03-01T09:30:00.123Z", expected_ns(2026, 3, 1, 9, 30, ns=123_000_000)),
    ("fraction-6-digits", "2026-03-01T09:30:00.123456Z", expected_ns(2026, 3, 1, 9, 30, ns=123_456_000)),
    ("fraction-9-digits", "2026-03-01T09:30:00.123456789Z", expected_ns(2026, 3, 1, 9, 30, ns=123_456_789)),
    ("fraction-1-ns", "2026-03-01T09:30:00.000000001Z", expected_ns(2026, 3, 1, 9, 30, ns=1)),
    ("fraction-all-9s", "2026-03-01T09:30:59.999999999Z", expected_ns(2026, 3, 1, 9, 30, 59, ns=999_999_999)),
    ("fraction-zero", "2026-03-01T09:30:00.0Z", expected_ns(2026, 3, 1, 9, 30)),
    ("fraction-trailing-zeros", "2026-03-01T09:30:00.500000000Z", expected_ns(2026, 3, 1, 9, 30, ns=500_000_000)),
    (
        "fraction-with-offset",
        "2026-03-01T09:30:00.25-02:00",
        expected_ns(2026, 3, 1, 9, 30, ns=250_000_000, offset_minutes=-120),
    ),
    (
        "fraction-lower-z",
        "2026-03-01T09:30:00.25z",
        expected_ns(2026, 3, 1, 9, 30, ns=250_000_000),
    ),
    ("leap-day-2024", "2024-02-29T12:00:00Z", expected_ns(2024, 2, 29, 12)),
    ("leap-day-2000-div-400", "2000-02-29T00:00:00Z", expected_ns(2000, 2, 29)),
    ("leap-day-1904", "1904-02-29T00:00:00Z", expected_ns(1904, 2, 29)),
    ("feb-28-1900", "1900-02-28T23:59:59Z", expected_ns(1900, 2, 28, 23, 59, 59)),
    ("day-31", "2026-12-31T23:59:59Z", expected_ns(2026, 12, 31, 23, 59, 59)),
    ("second-59", "2026-06-30T23:59:59Z", expected_ns(2026, 6, 30, 23, 59, 59)),
    ("min-instant", "0001-01-01T00:00:00Z", MIN_TIMESTAMP_NS),
    ("max-instant", "9999-12-31T23:59:59.999999999Z", MAX_TIMESTAMP_NS),
    ("year-1-with-minus-offset", "0001-01-01T00:00:00-01:00", MIN_TIMESTAMP_NS + NS_PER_HOUR),
    ("year-9999-with-plus-offset", "9999-12-31T23:59:59+01:00", MAX_TIMESTAMP_NS + 1 - NS_PER_HOUR - NS_PER_SECOND),
]


@pytest.mark.parametrize(("text", "expected"), [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_parse_valid(cache_state: str, text: str, expected: int) -> None:
    assert parse_timestamp(text) == expected
    assert parse_timestamp(text) == expected  # and again, now from the caches
    assert type(parse_timestamp(text)) is int


def test_parse_min_max_constants() -> None:
    assert expected_ns(1, 1, 1) == MIN_TIMESTAMP_NS
    assert expected_ns(9999, 12, 31, 23, 59, 59, ns=999_999_999) == MAX_TIMESTAMP_NS


# --------------------------------------------------------------------------
# parse_timestamp: errors.

INVALID = [
    # (id, text, regex the message must contain)
    ("no-offset", "2026-03-01T09:30:00", r"^timestamp `2026-03-01T09:30:00` has no offset"),
    ("no-offset-with-fraction", "2026-03-01T09:30:00.5", r"has no offset"),
    ("no-offset-space-separator", "2026-03-01 09:30:00", r"has no offset"),
    ("month-13", "2026-13-01T00:00:00Z", r"month 13 is out of range"),
    ("month-00", "2026-00-10T00:00:00Z", r"month 00 is out of range"),
    ("day-00", "2026-03-00T00:00:00Z", r"day 00 is out of range for 2026-03"),
    ("day-32", "2026-01-32T00:00:00Z", r"day 32 is out of range for 2026-01 \(01-31\)"),
    ("april-31", "2026-04-31T00:00:00Z", r"day 31 is out of range for 2026-04 \(01-30\)"),
    ("feb-30-leap-year", "2024-02-30T00:00:00Z", r"day 30 is out of range for 2024-02 \(01-29\)"),
    ("feb-29-2023", "2023-02-29T00:00:00Z", r"day 29 is out of range for 2023-02 .*2023 is not a leap year"),
    ("feb-29-1900-century", "1900-02-29T00:00:00Z", r"1900 is not a leap year"),
    ("feb-29-2100-century", "2100-02-29T00:00:00Z", r"2100 is not a leap year"),
    ("hour-24", "2026-03-01T24:00:00Z", r"hour 24 is out of range"),
    ("minute-60", "2026-03-01T09:60:00Z", r"minute 60 is out of range"),
    ("leap-second-60", "2016-12-31T23:59:60Z", r"second 60 is out of range .*leap seconds are not supported"),
    ("second-61", "2026-03-01T09:30:61Z", r"second 61 is out of range"),
    ("year-0000", "0000-01-01T00:00:00Z", r"year 0000 is out of range"),
    ("before-year-1-in-utc", "0001-01-01T00:00:00+00:01", r"instant is out of range"),
    ("after-year-9999-in-utc", "9999-12-31T23:59:59-00:01", r"instant is out of range"),
    ("five-digit-year", "10000-01-01T00:00:00Z", r"is malformed"),
    ("offset-hour-24", "2026-03-01T09:30:00+24:00", r"offset `\+24:00` is out of range"),
    ("offset-minus-hour-24", "2026-03-01T09:30:00-24:00", r"offset `-24:00` is out of range"),
    ("offset-minute-60", "2026-03-01T09:30:00+01:60", r"offset `\+01:60` is out of range"),
    ("offset-no-colon", "2026-03-01T09:30:00+0100", r"offset `\+0100` is malformed"),
    ("offset-hours-only", "2026-03-01T09:30:00+01", r"offset `\+01` is malformed"),
    ("offset-one-digit-hour", "2026-03-01T09:30:00+1:00", r"offset `\+1:00` is malformed"),
    ("offset-name-utc", "2026-03-01T09:30:00UTC", r"offset `UTC` is malformed"),
    ("offset-with-seconds", "2026-03-01T09:30:00+01:00:00", r"offset `\+01:00:00` is malformed"),
    ("offset-then-garbage", "2026-03-01T09:30:00Zjunk", r"offset `Zjunk` is malformed"),
    ("offset-double-z", "2026-03-01T09:30:00ZZ", r"offset `ZZ` is malformed"),
    ("offset-unicode-minus", "2026-03-01T09:30:00\u221201:00", r"is malformed"),
    ("fraction-10-digits", "2026-03-01T09:30:00.1234567890Z", r"fraction `1234567890` has more than 9 digits"),
    ("fraction-empty", "2026-03-01T09:30:00.Z", r"`\.` after the seconds is not followed by digits"),
    ("fraction-comma", "2026-03-01T09:30:00,5Z", r"is malformed"),
    ("fraction-unicode-digit", "2026-03-01T09:30:00.\u0665Z", r"not followed by digits"),
    ("date-only", "2026-03-01", r"has no time of day and no offset"),
    ("no-seconds", "2026-03-01T09:30Z", r"has no seconds"),
    ("no-seconds-no-offset", "2026-03-01T09:30", r"has no seconds"),
    ("leading-space", " 2026-03-01T09:30:00Z", r"leading or trailing whitespace"),
    ("trailing-newline", "2026-03-01T09:30:00Z\n", r"leading or trailing whitespace"),
    ("empty", "", r"^timestamp is empty$"),
    ("words", "yesterday", r"timestamp `yesterday` is malformed"),
    ("separator-underscore", "2026-03-01_09:30:00Z", r"is malformed"),
    ("two-separators", "2026-03-01TT09:30:00Z", r"is malformed"),
    ("single-digit-month", "2026-3-01T09:30:00Z", r"is malformed"),
    ("single-digit-hour", "2026-03-01T9:30:00Z", r"is malformed"),
    ("basic-format", "20260301T093000Z", r"is malformed"),
    ("slashes", "2026/03/01T09:30:00Z", r"is malformed"),
    ("fullwidth-digits", "\uff12\uff10\uff12\uff16-03-01T09:30:00Z", r"is malformed"),
    ("week-date", "2026-W09-7T09:30:00Z", r"is malformed"),
    ("negative-year", "-2026-03-01T09:30:00Z", r"is malformed"),
]


@pytest.mark.parametrize(("text", "pattern"), [v[1:] for v in INVALID], ids=[v[0] for v in INVALID])
def test_parse_invalid(cache_state: str, text: str, pattern: str) -> None:
    with pytest.raises(TimestampError, match=pattern) as first:
        parse_timestamp(text)
    message = str(first.value)
    assert "\n" not in message
    assert message[:1].islower()
    with pytest.raises(TimestampError) as second:  # same answer from warm caches
        parse_timestamp(text)
    assert str(second.value) == message


@pytest.mark.parametrize(
    "value",
    [None, 1_772_357_400, 1.5, b"2026-03-01T09:30:00Z", ["2026-03-01T09:30:00Z"], {}],
    ids=["none", "int", "float", "bytes", "list", "dict"],
)
def test_parse_non_str(cache_state: str, value: object) -> None:
    with pytest.raises(TimestampError, match=r"timestamp must be a string, not "):
        parse_timestamp(value)  # type: ignore[arg-type]


def test_error_message_is_bounded_and_one_line() -> None:
    text = "2026-03-01T09:30:00" + "x" * 500 + "\n\r"
    with pytest.raises(TimestampError) as info:
        parse_timestamp(text)
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 400


# --------------------------------------------------------------------------
# format_timestamp.

FORMATS = [
    ("epoch", 0, "1970-01-01T00:00:00Z"),
    ("whole-seconds", 1_772_357_400 * NS_PER_SECOND, "2026-03-01T09:30:00Z"),
    ("half-second", 1_772_357_400 * NS_PER_SECOND + 500_000_000, "2026-03-01T09:30:00.5Z"),
    ("one-ns", 1_772_357_400 * NS_PER_SECOND + 1, "2026-03-01T09:30:00.000000001Z"),
    ("milliseconds", 1_772_357_400 * NS_PER_SECOND + 123_000_000, "2026-03-01T09:30:00.123Z"),
    ("microseconds", 1_772_357_400 * NS_PER_SECOND + 120_450_000, "2026-03-01T09:30:00.12045Z"),
    ("all-9s", 1_772_357_400 * NS_PER_SECOND + 999_999_999, "2026-03-01T09:30:00.999999999Z"),
    ("minus-one-ns", -1, "1969-12-31T23:59:59.999999999Z"),
    ("leap-day", expected_ns(2024, 2, 29, 23, 59, 59), "2024-02-29T23:59:59Z"),
    ("min", MIN_TIMESTAMP_NS, "0001-01-01T00:00:00Z"),
    ("max", MAX_TIMESTAMP_NS, "9999-12-31T23:59:59.999999999Z"),
]


@pytest.mark.parametrize(("ns", "text"), [v[1:] for v in FORMATS], ids=[v[0] for v in FORMATS])
def test_format_timestamp(ns: int, text: str) -> None:
    assert format_timestamp(ns) == text
    assert parse_timestamp(text) == ns


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (MIN_TIMESTAMP_NS - 1, TimestampError),
        (MAX_TIMESTAMP_NS + 1, TimestampError),
        (1.0, TypeError),
        (True, TypeError),
        ("0", TypeError),
    ],
    ids=["below-min", "above-max", "float", "bool", "str"],
)
def test_format_timestamp_errors(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"out of range|must be an int"):
        format_timestamp(value)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Periods in UTC.

PERIOD_KEYS_UTC = [
    # (id, instant text, period, key)
    ("day", "2026-03-01T09:30:00Z", "day", "2026-03-01"),
    ("day-last-ns", "2026-03-01T23:59:59.999999999Z", "day", "2026-03-01"),
    ("day-offset-input", "2026-03-01T00:30:00+01:00", "day", "2026-02-28"),
    ("week", "2026-03-01T09:30:00Z", "week", "2026-W09"),
    ("week-monday", "2026-03-02T00:00:00Z", "week", "2026-W10"),
    ("week-53-2020-12-31", "2020-12-31T12:00:00Z", "week", "2020-W53"),
    ("week-53-2021-01-03", "2021-01-03T23:59:59Z", "week", "2020-W53"),
    ("week-1-2021-01-04", "2021-01-04T00:00:00Z", "week", "2021-W01"),
    ("week-1-of-next-year", "2024-12-30T00:00:00Z", "week", "2025-W01"),
    ("week-53-2026", "2027-01-01T00:00:00Z", "week", "2026-W53"),
    ("week-53-2015", "2015-12-31T00:00:00Z", "week", "2015-W53"),
    ("week-53-sunday-2010", "2010-01-03T00:00:00Z", "week", "2009-W53"),
    ("week-year-1", "0001-01-01T00:00:00Z", "week", "0001-W01"),
    ("week-year-9999", "9999-12-31T23:59:59Z", "week", "9999-W52"),
    ("month", "2026-03-01T09:30:00Z", "month", "2026-03"),
    ("month-leap-feb-end", "2024-02-29T23:59:59.999999999Z", "month", "2024-02"),
    ("quarter-1", "2026-03-01T09:30:00Z", "quarter", "2026-Q1"),
    ("quarter-1-last-ns", "2026-03-31T23:59:59.999999999Z", "quarter", "2026-Q1"),
    ("quarter-2-first-ns", "2026-04-01T00:00:00Z", "quarter", "2026-Q2"),
    ("quarter-3", "2026-09-30T23:59:59Z", "quarter", "2026-Q3"),
    ("quarter-4", "2026-10-01T00:00:00Z", "quarter", "2026-Q4"),
    ("year", "2026-03-01T09:30:00Z", "year", "2026"),
    ("year-last-ns", "2025-12-31T23:59:59.999999999Z", "year", "2025"),
    ("year-first-ns", "2026-01-01T00:00:00Z", "year", "2026"),
    ("year-1", "0001-06-01T00:00:00Z", "year", "0001"),
]


@pytest.mark.parametrize(
    ("text", "period", "key"),
    [v[1:] for v in PERIOD_KEYS_UTC],
    ids=[v[0] for v in PERIOD_KEYS_UTC],
)
def test_period_key_utc(text: str, period: str, key: str) -> None:
    ns = parse_timestamp(text)
    assert period_key(ns, period) == key
    assert period_key(ns, period, "UTC") == key
    assert period_key(ns, period, "Etc/UTC") == key


PERIOD_BOUNDS_UTC = [
    # (id, instant, period, start, end)
    ("day", "2026-03-01T09:30:00Z", "day", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"),
    ("week", "2026-03-01T09:30:00Z", "week", "2026-02-23T00:00:00Z", "2026-03-02T00:00:00Z"),
    ("week-53", "2021-01-03T00:00:00Z", "week", "2020-12-28T00:00:00Z", "2021-01-04T00:00:00Z"),
    ("month", "2026-03-01T09:30:00Z", "month", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"),
    ("month-december", "2026-12-31T23:59:59Z", "month", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
    ("month-leap-feb", "2024-02-10T00:00:00Z", "month", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"),
    ("quarter-1", "2026-03-31T23:59:59.999999999Z", "quarter", "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"),
    ("quarter-2", "2026-04-01T00:00:00Z", "quarter", "2026-04-01T00:00:00Z", "2026-07-01T00:00:00Z"),
    ("quarter-4", "2026-11-15T00:00:00Z", "quarter", "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"),
    ("year", "2026-03-01T09:30:00Z", "year", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
    ("year-9999", "9999-12-31T23:59:59Z", "year", "9999-01-01T00:00:00Z", None),
]


@pytest.mark.parametrize(
    ("text", "period", "start", "end"),
    [v[1:] for v in PERIOD_BOUNDS_UTC],
    ids=[v[0] for v in PERIOD_BOUNDS_UTC],
)
def test_period_bounds_utc(text: str, period: str, start: str, end: str | None) -> None:
    ns = parse_timestamp(text)
    lo, hi = period_bounds(ns, period)
    assert lo == parse_timestamp(start)
    assert hi == (MAX_TIMESTAMP_NS + 1 if end is None else parse_timestamp(end))
    assert lo <= ns < hi
    assert period_bounds(ns, period, "UTC") == (lo, hi)


# --------------------------------------------------------------------------
# Periods in a time zone, across DST transitions.

PERIOD_KEYS_ZONED = [
    # (id, instant text, period, zone, key)
    # Europe/Paris: CET (+01) -> CEST (+02) at 2026-03-29T01:00Z, back at 2026-10-25T01:00Z.
    ("paris-utc-day-before", "2026-03-28T23:30:00Z", "day", "Europe/Paris", "2026-03-29"),
    ("paris-spring-gap-before", "2026-03-29T00:59:59Z", "day", "Europe/Paris", "2026-03-29"),
    ("paris-spring-gap-after", "2026-03-29T01:00:00Z", "day", "Europe/Paris", "2026-03-29"),
    ("paris-spring-last-second", "2026-03-29T21:59:59Z", "day", "Europe/Paris", "2026-03-29"),
    ("paris-spring-next-midnight", "2026-03-29T22:00:00Z", "day", "Europe/Paris", "2026-03-30"),
    ("paris-autumn-midnight", "2026-10-24T22:00:00Z", "day", "Europe/Paris", "2026-10-25"),
    ("paris-autumn-repeated-hour-1", "2026-10-25T00:30:00Z", "day", "Europe/Paris", "2026-10-25"),
    ("paris-autumn-repeated-hour-2", "2026-10-25T01:30:00Z", "day", "Europe/Paris", "2026-10-25"),
    ("paris-autumn-last-second", "2026-10-25T22:59:59Z", "day", "Europe/Paris", "2026-10-25"),
    ("paris-autumn-next-midnight", "2026-10-25T23:00:00Z", "day", "Europe/Paris", "2026-10-26"),
    ("paris-month-after-spring", "2026-03-31T22:30:00Z", "month", "Europe/Paris", "2026-04"),
    ("paris-quarter-after-spring", "2026-03-31T22:30:00Z", "quarter", "Europe/Paris", "2026-Q2"),
    ("paris-quarter-before", "2026-03-31T21:59:59Z", "quarter", "Europe/Paris", "2026-Q1"),
    ("paris-new-year", "2025-12-31T23:30:00Z", "year", "Europe/Paris", "2026"),
    ("paris-week-monday", "2026-03-29T22:00:00Z", "week", "Europe/Paris", "2026-W14"),
    ("paris-week-sunday", "2026-03-29T21:59:59Z", "week", "Europe/Paris", "2026-W13"),
    # America/New_York: EST (-05) -> EDT (-04) at 2026-03-08T07:00Z, back at 2026-11-01T06:00Z.
    ("ny-before-spring-midnight", "2026-03-08T04:59:59Z", "day", "America/New_York", "2026-03-07"),
    ("ny-spring-midnight", "2026-03-08T05:00:00Z", "day", "America/New_York", "2026-03-08"),
    ("ny-spring-gap", "2026-03-08T07:00:00Z", "day", "America/New_York", "2026-03-08"),
    ("ny-spring-last-second", "2026-03-09T03:59:59Z", "day", "America/New_York", "2026-03-08"),
    ("ny-spring-next-midnight", "2026-03-09T04:00:00Z", "day", "America/New_York", "2026-03-09"),
    ("ny-autumn-repeated-hour-1", "2026-11-01T05:30:00Z", "day", "America/New_York", "2026-11-01"),
    ("ny-autumn-repeated-hour-2", "2026-11-01T06:30:00Z", "day", "America/New_York", "2026-11-01"),
    ("ny-autumn-last-second", "2026-11-02T04:59:59Z", "day", "America/New_York", "2026-11-01"),
    ("ny-autumn-next-midnight", "2026-11-02T05:00:00Z", "day", "America/New_York", "2026-11-02"),
    ("ny-utc-next-day", "2026-03-01T02:00:00Z", "day", "America/New_York", "2026-02-28"),
    ("ny-month", "2026-03-01T04:59:59Z", "month", "America/New_York", "2026-02"),
    ("ny-week-53", "2021-01-04T04:59:59Z", "week", "America/New_York", "2020-W53"),
    ("ny-week-1", "2021-01-04T05:00:00Z", "week", "America/New_York", "2021-W01"),
    ("ny-year-last-second", "2027-01-01T04:59:59Z", "year", "America/New_York", "2026"),
    ("ny-year-first-second", "2027-01-01T05:00:00Z", "year", "America/New_York", "2027"),
    ("ny-quarter", "2026-07-01T03:59:59Z", "quarter", "America/New_York", "2026-Q2"),
    # Fractional and large offsets.
    ("kathmandu-plus-05:45", "2026-03-01T18:15:00Z", "day", "Asia/Kathmandu", "2026-03-02"),
    ("kiritimati-plus-14", "2026-03-01T10:00:00Z", "day", "Pacific/Kiritimati", "2026-03-02"),
    ("samoa-skipped-day", "2011-12-30T10:00:00Z", "day", "Pacific/Apia", "2011-12-31"),
    ("samoa-before-skip", "2011-12-30T09:59:59Z", "day", "Pacific/Apia", "2011-12-29"),
]


@pytest.mark.parametrize(
    ("text", "period", "zone", "key"),
    [v[1:] for v in PERIOD_KEYS_ZONED],
    ids=[v[0] for v in PERIOD_KEYS_ZONED],
)
def test_period_key_zoned(text: str, period: str, zone: str, key: str) -> None:
    assert period_key(parse_timestamp(text), period, zone) == key


PERIOD_BOUNDS_ZONED = [
    # (id, instant, period, zone, start, end)
    ("paris-23h-day", "2026-03-29T12:00:00Z", "day", "Europe/Paris", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"),
    ("paris-25h-day", "2026-10-25T12:00:00Z", "day", "Europe/Paris", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"),
    (
        "paris-month-march",
        "2026-03-15T12:00:00Z",
        "month",
        "Europe/Paris",
        "2026-02-28T23:00:00Z",
        "2026-03-31T22:00:00Z",
    ),
    (
        "paris-quarter-1",
        "2026-02-01T00:00:00Z",
        "quarter",
        "Europe/Paris",
        "2025-12-31T23:00:00Z",
        "2026-03-31T22:00:00Z",
    ),
    (
        "paris-week-with-spring",
        "2026-03-25T00:00:00Z",
        "week",
        "Europe/Paris",
        "2026-03-22T23:00:00Z",
        "2026-03-29T22:00:00Z",
    ),
    ("paris-year", "2026-06-01T00:00:00Z", "year", "Europe/Paris", "2025-12-31T23:00:00Z", "2026-12-31T23:00:00Z"),
    ("ny-23h-day", "2026-03-08T12:00:00Z", "day", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"),
    ("ny-25h-day", "2026-11-01T12:00:00Z", "day", "America/New_York", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"),
    (
        "ny-week-with-autumn",
        "2026-11-01T12:00:00Z",
        "week",
        "America/New_York",
        "2026-10-26T04:00:00Z",
        "2026-11-02T05:00:00Z",
    ),
    (
        "ny-month-november",
        "2026-11-15T00:00:00Z",
        "month",
        "America/New_York",
        "2026-11-01T04:00:00Z",
        "2026-12-01T05:00:00Z",
    ),
    ("ny-year", "2026-06-01T00:00:00Z", "year", "America/New_York", "2026-01-01T05:00:00Z", "2027-01-01T05:00:00Z"),
    # Midnight skipped by DST: the day starts at the transition.
    (
        "sao-paulo-midnight-gap",
        "2018-11-04T12:00:00Z",
        "day",
        "America/Sao_Paulo",
        "2018-11-04T03:00:00Z",
        "2018-11-05T02:00:00Z",
    ),
    (
        "havana-midnight-gap",
        "2024-03-10T12:00:00Z",
        "day",
        "America/Havana",
        "2024-03-10T05:00:00Z",
        "2024-03-11T04:00:00Z",
    ),
    (
        "santiago-midnight-gap",
        "2024-09-08T12:00:00Z",
        "day",
        "America/Santiago",
        "2024-09-08T04:00:00Z",
        "2024-09-09T03:00:00Z",
    ),
    # Midnight repeated (clocks back from 01:00 to 00:00): the earlier one.
    (
        "havana-midnight-twice",
        "2024-11-03T12:00:00Z",
        "day",
        "America/Havana",
        "2024-11-03T04:00:00Z",
        "2024-11-04T05:00:00Z",
    ),
    # Clocks back from 24:00 to 23:00: the day before lasts 25 hours.
    (
        "asuncion-25h-day",
        "2024-03-23T12:00:00Z",
        "day",
        "America/Asuncion",
        "2024-03-23T03:00:00Z",
        "2024-03-24T04:00:00Z",
    ),
    # A whole day skipped (Samoa crossed the date line).
    (
        "samoa-day-before-skip",
        "2011-12-29T12:00:00Z",
        "day",
        "Pacific/Apia",
        "2011-12-29T10:00:00Z",
        "2011-12-30T10:00:00Z",
    ),
    (
        "samoa-day-after-skip",
        "2011-12-30T12:00:00Z",
        "day",
        "Pacific/Apia",
        "2011-12-30T10:00:00Z",
        "2011-12-31T10:00:00Z",
    ),
]


@pytest.mark.parametrize(
    ("text", "period", "zone", "start", "end"),
    [v[1:] for v in PERIOD_BOUNDS_ZONED],
    ids=[v[0] for v in PERIOD_BOUNDS_ZONED],
)
def test_period_bounds_zoned(text: str, period: str, zone: str, start: str, end: str) -> None:
    ns = parse_timestamp(text)
    lo, hi = period_bounds(ns, period, zone)
    assert (format_timestamp(lo), format_timestamp(hi)) == (
        format_timestamp(parse_timestamp(start)),
        format_timestamp(parse_timestamp(end)),
    )
    assert lo <= ns < hi


def test_paris_day_lengths() -> None:
    spring = period_bounds(parse_timestamp("2026-03-29T12:00:00Z"), "day", "Europe/Paris")
    autumn = period_bounds(parse_timestamp("2026-10-25T12:00:00Z"), "day", "Europe/Paris")
    assert spring[1] - spring[0] == 23 * NS_PER_HOUR
    assert autumn[1] - autumn[0] == 25 * NS_PER_HOUR


@pytest.mark.parametrize(
    "zone",
    ["Mars/Olympus_Mons", "", "europe/paris-typo", "../etc/passwd", "/etc/localtime", "Europe/"],
    ids=["unknown", "empty", "typo", "relative-path", "absolute-path", "trailing-slash"],
)
def test_unknown_time_zone(zone: str) -> None:
    with pytest.raises(UnknownTimeZoneError, match=r"^unknown time zone `"):
        period_key(0, "day", zone)
    with pytest.raises(UnknownTimeZoneError, match=r"^unknown time zone `"):
        period_bounds(0, "day", zone)


@pytest.mark.parametrize(
    "period",
    ["fortnight", "Day", "days", "", "hour"],
    ids=["fortnight", "capitalised", "plural", "empty", "hour"],
)
def test_unknown_period(period: str) -> None:
    with pytest.raises(ValueError, match=r"^unknown period `"):
        period_key(0, period)
    with pytest.raises(ValueError, match=r"^unknown period `"):
        period_bounds(0, period, "Europe/Paris")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: period_key(1.0, "day"), TypeError),  # type: ignore[arg-type]
        (lambda: period_key(True, "day"), TypeError),
        (lambda: period_key(0, "day", 5), TypeError),  # type: ignore[arg-type]
        (lambda: period_bounds(MAX_TIMESTAMP_NS + 1, "day"), TimestampError),
        (lambda: period_key(MIN_TIMESTAMP_NS - 1, "day"), TimestampError),
    ],
    ids=["float-instant", "bool-instant", "int-zone", "above-max", "below-min"],
)
def test_period_argument_errors(call: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()  # type: ignore[operator]


def test_periods_constant() -> None:
    assert PERIODS == ("day", "week", "month", "quarter", "year")


# --------------------------------------------------------------------------
# Properties.

OFFSETS = st.one_of(
    st.just("Z"),
    st.tuples(st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59)).map(
        lambda t: f"{t[0]}{t[1]:02d}:{t[2]:02d}"
    ),
)


@st.composite
def rfc3339_microseconds(draw: st.DrawFn) -> str:
    """Timestamps that both parse_timestamp and datetime.fromisoformat accept."""
    day = draw(st.dates(min_value=date(2, 1, 1), max_value=date(9998, 12, 31)))
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    text = f"{day.isoformat()}{draw(st.sampled_from('T '))}{hour:02d}:{minute:02d}:{second:02d}"
    digits = draw(st.integers(0, 6))
    if digits:
        text += "." + "".join(draw(st.lists(st.sampled_from(string.digits), min_size=digits, max_size=digits)))
    return text + draw(OFFSETS)


@PROPERTY
@given(rfc3339_microseconds())
def test_property_matches_fromisoformat(text: str) -> None:
    reference = datetime.fromisoformat(text)
    assert reference.tzinfo is not None
    assert parse_timestamp(text) == (reference - _EPOCH) // _US * 1000


@PROPERTY
@given(st.integers(MIN_TIMESTAMP_NS, MAX_TIMESTAMP_NS))
def test_property_format_parse_round_trip(ns: int) -> None:
    text = format_timestamp(ns)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*[1-9])?Z", text)
    assert parse_timestamp(text) == ns


@PROPERTY
@given(st.integers(-(10**19), 10**19))
def test_property_format_matches_datetime(ns: int) -> None:
    seconds, fraction = divmod(ns, NS_PER_SECOND)
    expected = (_EPOCH + timedelta(seconds=seconds)).replace(tzinfo=None).isoformat()
    if fraction:
        expected += "." + f"{fraction:09d}".rstrip("0")
    assert format_timestamp(ns) == expected + "Z"


@st.composite
def near_timestamps(draw: st.DrawFn) -> str:
    """Valid timestamps and small mutations of them (to probe the fast path)."""
    text = draw(rfc3339_microseconds())
    if draw(st.booleans()):
        text = text.replace("Z", draw(st.sampled_from(["Z", "z", "", "ZZ", "+00:00"])))
    if draw(st.booleans()):
        position = draw(st.integers(0, len(text)))
        text = text[:position] + draw(st.sampled_from(list("0123456789:.+-Zz T5\u0665"))) + text[position:]
    if draw(st.booleans()):
        position = draw(st.integers(0, len(text) - 1))
        text = text[:position] + text[position + 1 :]
    return text


@PROPERTY
@given(near_timestamps(), st.booleans())
def test_property_fast_path_agrees_with_general_parser(text: str, clear: bool) -> None:
    if clear:
        timeutil._clear_caches()

    def outcome(parse: object) -> object:
        try:
            return parse(text)  # type: ignore[operator]
        except TimestampError as exc:
            return ("error", str(exc))

    general = outcome(timeutil._parse_general)
    assert outcome(parse_timestamp) == general
    assert outcome(parse_timestamp) == general


@PROPERTY
@given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)), st.integers(0, NS_PER_DAY - 1))
def test_property_utc_periods_match_datetime(day: date, time_of_day: int) -> None:
    ns = (day - date(1970, 1, 1)).days * NS_PER_DAY + time_of_day
    iso = day.isocalendar()
    assert period_key(ns, "day") == day.isoformat()
    assert period_key(ns, "week") == f"{iso.year:04d}-W{iso.week:02d}"
    assert period_key(ns, "month") == day.isoformat()[:7]
    assert period_key(ns, "quarter") == f"{day.year:04d}-Q{(day.month + 2) // 3}"
    assert period_key(ns, "year") == f"{day.year:04d}"


ZONES = [
    "Europe/Paris",
    "America/New_York",
    "America/Sao_Paulo",
    "America/Havana",
    "America/Asuncion",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Apia",
    "Pacific/Chatham",
    "Africa/Casablanca",
]


@settings(max_examples=examples(400), derandomize=True, database=None, deadline=None)
@given(
    st.integers(expected_ns(1970, 1, 1), expected_ns(2037, 12, 31)),
    st.sampled_from(PERIODS),
    st.sampled_from(ZONES),
)
def test_property_zoned_bounds_contain_instant(ns: int, period: str, zone: str) -> None:
    key = period_key(ns, period, zone)
    start, end = period_bounds(ns, period, zone)
    assert start <= ns < end
    assert period_key(start, period, zone) == key
    assert period_key(end - 1, period, zone) == key
    assert period_key(start - 1, period, zone) != key
    assert period_key(end, period, zone) != key
    assert period_bounds(start, period, zone) == (start, end)


@PROPERTY
@given(st.integers(expected_ns(1900, 1, 1), expected_ns(2100, 1, 1)), st.sampled_from(ZONES))
def test_property_zoned_day_is_wall_clock_date(ns: int, zone: str) -> None:
    from zoneinfo import ZoneInfo

    local = (_EPOCH + timedelta(seconds=ns // NS_PER_SECOND)).astimezone(ZoneInfo(zone))
    assert period_key(ns, "day", zone) == local.date().isoformat()


@PROPERTY
@given(
    st.integers(expected_ns(1, 1, 2), expected_ns(9999, 12, 30)),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
def test_property_offsets_name_the_same_instant(ns: int, offset_minutes: int) -> None:
    ns -= ns % NS_PER_SECOND
    local = (_EPOCH + timedelta(seconds=ns // NS_PER_SECOND)).astimezone(timezone(timedelta(minutes=offset_minutes)))
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = f"{local.replace(tzinfo=None).isoformat()}{sign}{hours:02d}:{minutes:02d}"
    assert parse_timestamp(text) == ns
