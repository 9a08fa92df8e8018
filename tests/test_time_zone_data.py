"""Calendar periods in a time zone come from the project's own time zone
database (the `tzdata` package), never the machine's zone files: the same
rule file and ledger score the same on every machine, and on every SQL
engine, whose query carries the zone's offsets from the same files
(core/zone_offsets.py) rather than reading the engine's own zone data.
With the machine's files first (Debian's 2025b against tzdata 2026f), a
cap per day in Edmonton grouped two payments apart in the Python engine
and together in DuckDB after November 2026, found by review; 116
zones differed in all, most of them before 1970. Spark's JDK (2025a) and
ClickHouse's own data differed from tzdata too, and Postgres reads
Debian's: the caps per day below, run on each, are the Python engine's."""

from __future__ import annotations

import bisect
import datetime
import json
import random
import sys
import zoneinfo
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pytest

import rewardrules
from rewardrules.core import timeutil

from .test_sql_backend import duckdb_json, python_json

NS = 10**9


@pytest.fixture
def forged_machine(tmp_path: Path) -> Iterator[Path]:
    """A machine whose zone files say Edmonton is Tokyo: the search path
    `zoneinfo` reads first, restored (and every cache cleared) after."""
    tokyo = resources.files("tzdata.zoneinfo.Asia").joinpath("Tokyo").read_bytes()
    (tmp_path / "America").mkdir()
    (tmp_path / "America" / "Edmonton").write_bytes(tokyo)
    timeutil._zone.cache_clear()
    zoneinfo.reset_tzpath(to=[str(tmp_path)])
    zoneinfo.ZoneInfo.clear_cache()
    try:
        yield tmp_path
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()
        timeutil._zone.cache_clear()


def test_the_machine_s_zone_files_are_not_read(forged_machine: Path) -> None:
    noon = 1_780_000_000 * NS  # 2026-05-28T20:26:40Z: Tokyo is past midnight, Edmonton is not
    forged = zoneinfo.ZoneInfo("America/Edmonton")
    assert forged.tzname(timeutil._EPOCH_UTC) == "JST"  # not vacuous: `zoneinfo` reads the forged file
    assert timeutil._zone("America/Edmonton").tzname(timeutil._EPOCH_UTC) == "MST"
    assert timeutil.period_key(noon, "day", "America/Edmonton") != timeutil.period_key(noon, "day", "Asia/Tokyo")


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "/etc/localtime",
        "localtime",
        "posix/Europe/Paris",
        "America",
        "America/../UTC",
        "",
        "__init__/Zulu",  # a module of the package, a folder on Python 3.12 (found by review)
        "America/__init__/New_York",
        "america/edmonton",  # a file on a file system that folds case
        "CON",
    ],
)
def test_a_name_that_is_no_zone_is_unknown(name: str) -> None:
    with pytest.raises(timeutil.UnknownTimeZoneError, match="unknown time zone"):
        timeutil._zone(name)


def _probes(zone: datetime.tzinfo, rng: random.Random) -> list[int]:
    """Instants 30 minutes before and 29 after the local midnight of three
    days drawn in each year from 1900 to 2100, and of a day every fourth
    year out to 1678 and 2262: an offset that differs by half an hour or
    more on such a day moves one of them to another date."""
    years = [*range(1680, 1900, 4), *range(1900, 2101), *range(2104, 2262, 4)]
    found = []
    for year in years:
        for _ in range(3 if 1900 <= year <= 2100 else 1):
            day = datetime.date(year, 1, 1) + datetime.timedelta(days=rng.randrange(365))
            midnight = datetime.datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(datetime.UTC)
            seconds = int((midnight - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)).total_seconds())
            found += [(seconds - 1800) * NS, (seconds + 1740) * NS]
    return found


#: zones run through DuckDB besides every tenth one: offsets of 30 and 45
#: minutes, summer time of 30 minutes, changes at midnight, a day skipped
#: (Apia), the zones of the engines' differences
THROUGH_SQL = (
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "America/Nuuk",
    "Africa/Casablanca",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "America/Edmonton",
    "America/Winnipeg",
    "Europe/London",
    "UTC",
)


def test_the_query_places_local_midnight_as_python_does_in_every_zone() -> None:
    """Every zone of the database (tzdata's list, not the machine's): the
    local date of the query's own table of offsets (`caps.dated`) against
    the engine's, around local midnights from 1678 to 2262 (40 random
    instants a zone missed the Canadian zones of a review's finding; these
    catch them), a nanosecond either side of every step of the table, and
    the first and last instants a BIGINT holds. The table is read as the
    query reads it (the last step at or before the instant) in every zone,
    and run by DuckDB, whose own zone data the query no longer reads, in
    every tenth zone and those of `THROUGH_SQL` (DuckDB plans a statement
    holding a table in 0.03 s: all 598 took 20 s of CI)."""
    from rewardrules.core.zone_offsets import offset_steps
    from rewardrules.sql.caps import dated

    rng = random.Random(7)
    connection = duckdb.connect(config={"threads": 1})
    rows = 'SELECT UNNEST(?::BIGINT[]) AS "at", generate_subscripts(?::BIGINT[], 1) AS n'
    differ, ran = [], 0
    for number, name in enumerate(sorted(timeutil.zone_names())):
        zone = timeutil._resolve_zone(name)
        assert zone is not None or name in ("UTC", "Etc/UTC")
        instants = _probes(zone or datetime.UTC, rng)
        instants += [-(2**63), -(2**63) + 1, 2**63 - 2, 2**63 - 1]  # the ends a BIGINT holds
        steps = offset_steps(name) if zone is not None else ((-(2**63), 0),)
        instants += [start * NS + step for start, _ in steps[1:] for step in (-1, 0, 1)]
        ours = [timeutil._local_days(instant, zone) for instant in instants]
        starts = [start * NS for start, _ in steps]
        table = [(at + steps[bisect.bisect_right(starts, at) - 1][1] * NS) // timeutil.NS_PER_DAY for at in instants]
        if table != ours:
            differ.append(name)
        if number % 10 == 0 or name in THROUGH_SQL:
            ran += 1
            sql = f"SELECT local_day - DATE '1970-01-01' FROM ({dated(rows, None if zone is None else name)}) AS d ORDER BY n"
            if [row[0] for row in connection.execute(sql, [instants, instants]).fetchall()] != ours:
                differ.append(f"{name} (SQL)")
    assert differ == [] and ran >= 70


def test_without_the_database_a_zone_is_reported_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `tzdata` package: RR111 says what is missing, not that the name
    is wrong."""
    monkeypatch.setitem(sys.modules, "tzdata", None)
    timeutil.zone_names.cache_clear()
    timeutil._zone.cache_clear()
    try:
        with pytest.raises(rewardrules.RuleError) as raised:
            rewardrules.compile(
                'ruleset tz "T" timezone "Europe/Paris"\nevent payment { amount: money USD }\n'
                "milestone m { each payment reward referrer cash 1 USD }\n"
            )
    finally:
        timeutil.zone_names.cache_clear()
        timeutil._zone.cache_clear()
    assert "RR111" in str(raised.value) and "pip install tzdata" in str(raised.value)


CAPPED = """\
ruleset tzcap timezone "America/Edmonton"
event payment { amount: money USD }
milestone per_payment {
  each payment
  reward referrer cash 10 USD
  cap referrer 1 rewards per day
}
"""


def test_a_cap_per_day_in_edmonton_after_november_2026() -> None:
    """The review's ledger: 06:30Z is 00:30 local at UTC-6 (tzdata 2026f,
    ICU), 23:30 the day before at UTC-7 (the machine's 2025b)."""
    prog = rewardrules.compile(CAPPED)
    events = [
        {"id": "r1", "at": "2026-11-20T12:00:00Z", "type": "referral", "referrer": "alice", "referee": "bob"},
        {"id": "p1", "at": "2026-12-01T06:30:00Z", "type": "payment", "referee": "bob", "amount": "5"},
        {"id": "p2", "at": "2026-12-01T12:00:00Z", "type": "payment", "referee": "bob", "amount": "5"},
    ]
    python = python_json(prog, events, "2026-12-05T00:00:00Z")
    assert python == duckdb_json(prog, events, "2026-12-05T00:00:00Z")
    assert python.count('"milestone": "per_payment"') == 1  # one local day: the cap withholds p2


#: a cap per day in a zone whose rules changed lately, on a day that an
#: engine with older zone data splits at another hour: Edmonton after
#: November 2026 (06:30Z is 00:30 at tzdata 2026f's UTC-6, 23:30 the day
#: before at the UTC-7 of Debian's 2025b and Spark's JDK 17, 2025a), and
#: Winnipeg from 2035 (05:30Z is 00:30 at tzdata's UTC-5, 23:30 the day
#: before in ClickHouse 26.9's data, measured 2026-12-06)
LATE_RULES = {
    "America/Edmonton": ("2026-12-01T06:30:00Z", "2026-12-01T12:00:00Z"),
    "America/Winnipeg": ("2035-01-01T05:30:00Z", "2035-01-01T12:00:00Z"),
}


def _late_rule(zone: str) -> tuple[rewardrules.Program, list[str]]:
    """The capped program in `zone`, and a ledger of two payments on one
    local day there (by tzdata), the first half an hour after midnight."""
    first, second = LATE_RULES[zone]
    prog = rewardrules.compile(CAPPED.replace("America/Edmonton", zone))
    events = [
        {"id": "r1", "at": "2026-11-20T12:00:00Z", "type": "referral", "referrer": "alice", "referee": "bob"},
        {"id": "p1", "at": first, "type": "payment", "referee": "bob", "amount": "5"},
        {"id": "p2", "at": second, "type": "payment", "referee": "bob", "amount": "5"},
    ]
    lines = [json.dumps(event) for event in events]
    assert python_json(prog, events, None).count('"milestone": "per_payment"') == 1  # one local day: p2 withheld
    return prog, lines


def test_clickhouse_places_local_midnight_by_tzdata() -> None:
    """Winnipeg, where ClickHouse's own data differed (Edmonton did not)."""
    from .test_sql_rate_table_decimals import clickhouse_alike

    prog, lines = _late_rule("America/Winnipeg")
    clickhouse_alike(prog, [lines])


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_spark_places_local_midnight_by_tzdata(spark: Any) -> None:
    """Edmonton, where the JDK's data (2025a) differed."""
    from .test_sql_spark import spark_json

    prog, lines = _late_rule("America/Edmonton")
    assert spark_json(spark, prog, lines, None) == python_json(prog, lines, None)


def test_postgres_places_local_midnight_by_tzdata(postgres_server: Any) -> None:
    from rewardrules.cli.sql import duckdb_result
    from rewardrules.sql.compile import compile_query

    from .postgres import runner

    for zone in sorted(LATE_RULES):
        prog, lines = _late_rule(zone)
        data = duckdb_result(
            prog, compile_query(prog.compiled), lines, None, "<ledger>", runner(postgres_server.client)
        )
        assert json.dumps(data, indent=2) + "\n" == python_json(prog, lines, None)


def test_two_changes_less_than_a_week_apart_are_found() -> None:
    """A rule whose summer lasts three days (none in tzdata 2026f does):
    the weekly readings miss some of those summers; each year's are read
    again hourly (`zone_offsets._rule_changes`), and every change is found,
    to the second."""
    from rewardrules.core import zone_offsets

    def start(year: int) -> int:
        return int(datetime.datetime(year, 6, 10, 3, 17, 11, tzinfo=datetime.UTC).timestamp())

    summers = [(start(year), start(year) + 3 * 86_400 - 7) for year in range(2030, 2040)]

    def offset(second: int) -> int:
        return 3_600 if any(begin <= second < end for begin, end in summers) else 0

    begin = start(2029) + 86_400 * 30
    found = zone_offsets._rule_changes(offset, begin, start(2040))
    assert found == [change for summer in summers for change in summer]
    assert zone_offsets._changes(offset, begin, start(2040), 7 * 86_400) != found  # not vacuous


@pytest.mark.parametrize("name", ["America/New_York", "Australia/Lord_Howe", "America/Santiago", "Africa/Casablanca"])
def test_no_step_is_missing(name: str) -> None:
    """Every change of offset from 2015 to 2045 found by reading the zone
    hourly, apart from the table, is a step of it, and no other: a step
    left out would only show where a probe of the test above fell into
    it (found by review). Summer times of 30 minutes (Lord Howe), changes
    at local midnight (Santiago) and Ramadan's (Casablanca, listed)."""
    from rewardrules.core.zone_offsets import _offset, offset_steps

    zone = timeutil._zone(name)
    first = int(datetime.datetime(2015, 1, 1, tzinfo=datetime.UTC).timestamp())
    last = int(datetime.datetime(2045, 1, 1, tzinfo=datetime.UTC).timestamp())
    changes = []
    before = _offset(zone, first)
    for hour in range(first + 3600, last + 1, 3600):
        now = _offset(zone, hour)
        if now != before:
            changes.append(hour)
        before = now
    steps = [start for start, _ in offset_steps(name) if first < start <= last]
    assert len(changes) > 30 and len(steps) == len(changes)
    assert all(hour - 3600 < start <= hour for start, hour in zip(steps, changes, strict=True))


def test_a_footer_rule_is_read_for_its_changes() -> None:
    """The TZ string at a zone file's end: a summer-time rule is probed for
    its changes, a fixed offset, summer time all year and no rule are not
    (each year of those read again hourly took seconds, found by review)."""
    from rewardrules.core import zone_offsets

    data = timeutil.zone_file("America/New_York")
    assert zone_offsets._footer(data) == "EST5EDT,M3.2.0,M11.1.0"
    assert zone_offsets._footer(b"TZif...\n\n") == ""
    assert zone_offsets._changes_yearly("EST5EDT,M3.2.0,M11.1.0")
    assert not zone_offsets._changes_yearly("CST6")
    assert not zone_offsets._changes_yearly("EST5EDT,0/0,J365/25")
    assert not zone_offsets._changes_yearly("")


@pytest.mark.parametrize("name", ["America/New_York", "Australia/Lord_Howe", "America/Santiago", "Europe/London"])
def test_a_change_placed_a_year_on_is_the_one_bisection_finds(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A footer rule's changes, placed where the same change a year before
    puts them (`_year_on`, two reads), are the seconds bisection finds, to
    2262; and most of them are placed so (else the shortcut is vacuous)."""
    from rewardrules.core import zone_offsets

    zone = timeutil._zone(name)
    start = int(datetime.datetime(2040, 1, 1, tzinfo=datetime.UTC).timestamp())
    calls: list[int] = []

    def offset(second: int) -> int:
        calls.append(second)
        return zone_offsets._offset(zone, second)

    placed = zone_offsets._rule_changes(offset, start, zone_offsets.LAST_SECOND)
    reads = len(calls)
    monkeypatch.setattr(zone_offsets, "_YEAR_LATER", ())
    calls.clear()
    assert zone_offsets._rule_changes(offset, start, zone_offsets.LAST_SECOND) == placed
    assert len(placed) > 400 and len(calls) - reads > 15 * len(placed)
