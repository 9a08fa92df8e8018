"""What a warehouse the tests run (tests/clickhouse.py, tests/postgres.py)
does with the compiled statements once the ledger is loaded: each run by
a `fetch` of that warehouse, in the order `score --engine duckdb` runs
them, the rows made into the `Rows` that `cli.sql.duckdb_result` reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rewardrules.check.program import CheckedRuleset
from rewardrules.sql.compile import Query
from rewardrules.sql.every import check_volume
from rewardrules.sql.run import Rows
from rewardrules.sql.sections import Fetched, Sections


def fetched_rows(
    fetch: Callable[[str], list[dict[str, Any]]], query: Query, checked: CheckedRuleset, sections: Sections | None
) -> Rows:
    """The award volume checked, then the awards, rejections, reversals and
    clawbacks; with `sections`, the explained output's sections too (as
    `sql.spark_sections` fetches them: a referral not eligible in every
    program is `partial`)."""
    volume = query.volume_sql()
    check_volume(fetch(volume) if volume is not None else [], query.names, query.most)
    taken = fetch(query.reversals) if query.reversals else []
    claws = fetch(query.clawbacks) if query.clawbacks else []
    awards, rejected = fetch(query.awards), fetch(query.rejected)
    if sections is None:
        return Rows(awards, rejected, taken, claws)
    referrals = fetch(sections.referrals)
    programs = len(checked.programs)
    partial = [row["rid"] for row in referrals if not all(row[f"e{p}"] for p in range(programs))]
    referrers = fetch(sections.referrers) if sections.referrers else []
    fetched = Fetched(iter(referrals), iter(referrers), iter(fetch(sections.withheld)), partial, sections)
    return Rows(awards, rejected, taken, claws, sections=fetched)
