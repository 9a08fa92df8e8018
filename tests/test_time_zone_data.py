"""Calendar periods in a time zone come from the project's own time zone
database (the `tzdata` package), never the machine's zone files: the same
rule file and ledger score the same on every machine, and the Python
engine places local midnight where DuckDB does (ICU's data, built in).
With the machine's files first (Debian's 2025b against tzdata 2026f), a
cap per day in Edmonton grouped two payments apart in the Python engine
and together in DuckDB after November 2026, found by review; and 116
zones differed before 1970."""

from __future__ import annotations

import random
import zoneinfo
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

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


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/localtime", "localtime", "America", "America/../UTC", ""])
def test_a_name_that_is_no_zone_is_unknown(name: str) -> None:
    with pytest.raises(timeutil.UnknownTimeZoneError, match="unknown time zone"):
        timeutil._zone(name)


def test_python_and_duckdb_place_local_midnight_alike_in_every_zone() -> None:
    """Every zone of the database, instants from 1678 to 2262 (ns range):
    the local date of each, the engine's against DuckDB's `TIMEZONE`."""
    rng = random.Random(7)
    connection = duckdb.connect(config={"threads": 1})
    differ = []
    for name in sorted(zoneinfo.available_timezones() - {"localtime"}):
        instants = [rng.randint(-9_214_560_000, 9_214_560_000) * NS for _ in range(40)]
        zone = timeutil._resolve_zone(name)
        ours = [timeutil._local_days(instant, zone) for instant in instants]
        micros = "(a - ((a % 1000) + 1000) % 1000) // 1000"
        sql = (
            f"SELECT (CAST(TIMEZONE(?, MAKE_TIMESTAMPTZ({micros})) AS DATE) - DATE '1970-01-01') "
            "FROM (SELECT UNNEST(?::BIGINT[]) AS a, generate_subscripts(?::BIGINT[], 1) AS n) ORDER BY n"
        )
        theirs = [row[0] for row in connection.execute(sql, [name, instants, instants]).fetchall()]
        if ours != theirs:
            differ.append(name)
    assert differ == []


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
