"""Explanations in SQL on the drawn rule files of tests/strategies.py
(`rule_files(typed=True)`: every construct the generator writes, one
program or several, timers, attribution, caps, rate tables), which no
differential test ran on DuckDB before: where `compile_query(...,
explain=True)` compiles a file, the awards and reversals are the Python
engine's explained ones, record by record, and `score --engine duckdb`'s
written bytes (DuckDB writing the records' text) are the Python engine's;
in the CTE shape and the table shape (sql/grouped.py, `FROM = 1`). The
ledgers crowd events onto four instants (ties broken by id), and give
numbers negative zeros and texts the characters JSON escapes (quotes,
backslashes, control characters, U+2028)."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.core.diagnostics import RuleError
from rewardrules.sql import grouped
from rewardrules.sql.run import TooWide

from .conftest import examples
from .strategies import EVENT_FIELDS, rule_files
from .test_generated_programs import ledger
from .test_properties import to_line
from .test_sql_explain import built, section, written
from .test_sql_explain_drawn import reported_as_compiled, scored_or_stopped

#: the instants events are crowded onto: ties at one instant, a fraction
INSTANTS = ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5Z", "2026-01-08T00:00:00Z", "2026-02-01T00:00:00Z"]
#: numbers whose Decimal keeps a sign or decimals the writer must keep
NUMBERS = ["-0.00", "-0", "0.000", "-12.50", "1.5", "7"]
#: texts with what `json` escapes, and what it does not (U+2028, U+007F, É)
TEXTS = ['x"y', "\u2028\x00\x1f\\", "É", "\x7f", "PARTNER"]


def crowded(seed: int, size: int) -> list[dict[str, Any]]:
    """tests/test_generated_programs.py's ledger (every declared field
    set), its events moved onto `INSTANTS`, some numbers and texts
    replaced by those above."""
    rng = random.Random(seed)
    events = ledger(seed, size)
    for event in events:
        event["at"] = rng.choice(INSTANTS)
        fields = [("source", ["text"])] if event["type"] == "referral" else EVENT_FIELDS.get(str(event["type"]), [])
        for name, kind in fields:
            if rng.random() < 0.4 and kind[0] in ("money", "quantity", "number"):
                event[name] = rng.choice(NUMBERS)
            elif rng.random() < 0.4 and kind[0] == "text":
                event[name] = rng.choice(TEXTS)
    return events


def records(data: dict[str, Any], key: str) -> list[str]:
    return [json.dumps(record, ensure_ascii=False, indent=2) for record in data[key]]


def same_explained(prog: rewardrules.Program, events: list[dict[str, Any]], *, too_wide: bool = True) -> None:
    """Both of `score --engine duckdb`'s paths give the Python engine's
    explained awards and reversals (or both stop at the award limits);
    with `too_wide` False, DuckDB's failing to compute a value exactly is
    a failure too."""
    python = scored_or_stopped(prog, events, None, lambda: built(prog, events, None))
    if python is None:
        return
    try:
        data = built(prog, events, None)
    except TooWide:  # a product past DECIMAL(38) (`123456789012345678.90 * 123456789012345678.90`): exit 2, said
        if not too_wide:
            raise
        return
    for key in ("awards", "reversals"):
        assert records(data, key) == records(python.data, key)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.jsonl"
        path.write_text("".join(to_line(event) + "\n" for event in events), encoding="utf-8")
        got, _ = written(prog, path, None)
    assert section(got) == section(python.to_json().encode("utf-8"))


@settings(
    max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(text=rule_files(typed=True), seed=st.integers(0, 10**6), size=st.integers(0, 24), table=st.booleans())
def test_drawn_rule_files_explain_their_awards_alike(text: str, seed: int, size: int, table: bool) -> None:
    try:
        prog = rewardrules.compile(text)
    except RuleError:  # the generator's files are meant to check clean; a few do not
        return
    with pytest.MonkeyPatch.context() as patch:
        if table:
            patch.setattr(grouped, "FROM", 1)
        if not reported_as_compiled(prog):  # `check --engine sql` says so, at its place
            return
        same_explained(prog, crowded(seed, size))
