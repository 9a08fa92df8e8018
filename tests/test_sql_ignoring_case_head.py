"""`ignoring case` of an event's `id`, `referee` and `referrer` (docs/sql.md,
"Ignoring case"), refused before: each is read from a folded column of its
own (`"payment.referee casefold"`), as a declared text field is, which the
Python reader's loader fills with `str.casefold()` (`Straße` is `strasse`)
and the direct reader with `LOWER` (exact for its printable ASCII). Byte
for byte the Python engine's result, explained too, in eligibility, an
aggregate's `where`, a milestone's condition and a `void` condition; on
both loaders, on random ledgers, and on Spark."""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules.sql.compile import compile_query
from rewardrules.sql.diagnose import refusals
from rewardrules.sql.spark import Spark

from .test_review_rev1_drawn import same_explained
from .test_spark_reading import spark_json as spark_file_json
from .test_sql_backend import python_json
from .test_sql_reading import direct_json
from .test_sql_voids_metrics import same

HEADS = """\
ruleset heads

event referral { source: optional text }
event payment { amount: money USD }

eligible when not (referral.referrer == referral.referee ignoring case)

metric vip = count payment where payment.referee in ["STRASSE", "\ufb01sh"] ignoring case

milestone paid {
  first payment where payment.id != "P-SKIP" ignoring case
  reward referrer cash 10 USD
}

milestone vip_paid {
  when vip >= 1 and referral.referrer == "ANN" ignoring case
  reward referee credit 1 USD
  void if payment where payment.id == "void" ignoring case
}
"""


@cache
def program() -> rewardrules.Program:
    return rewardrules.compile(HEADS, "heads.rules")


def test_it_compiles_and_check_reports_nothing() -> None:
    compile_query(program().compiled, explain=True)
    assert refusals(program().compiled) == []


def _event(n: int, kind: str, event_id: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "at": f"2026-01-{n:02d}T00:00:00Z", "type": kind, "referee": referee, **fields}


#: ann refers Strasse and herself (as ANN); bob refers FISH
ASCII = [
    _event(1, "referral", "r1", "Strasse", referrer="Ann"),
    _event(1, "referral", "r2", "ANN", referrer="ann"),
    _event(1, "referral", "r3", "FISH", referrer="bob"),
    _event(2, "payment", "p-skip", "Strasse", amount="10.00"),
    _event(3, "payment", "p2", "Strasse", amount="10.00"),
    _event(3, "payment", "p3", "FISH", amount="10.00"),
    _event(4, "payment", "VOID", "Strasse", amount="10.00"),
]


def test_the_direct_reader_folds_as_the_python_engine(tmp_path: Path) -> None:
    """ANN's referral is ann's own, ignoring case: ineligible. Strasse's
    first payment `p-skip` is skipped; `vip_paid` is taken back by `VOID`."""
    ledger = tmp_path / "ledger.jsonl"
    lines = [json.dumps(e, separators=(",", ":")) for e in ASCII]
    ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = direct_json(program(), ledger, None)
    assert got is not None  # read by DuckDB, not left to the Python reader
    assert got == python_json(program(), lines, None)
    result = json.loads(got)
    assert [(a["milestone"], a["referee"], a["at"][5:10]) for a in result["awards"]] == [
        ("vip_paid", "Strasse", "01-02"),
        ("paid", "Strasse", "01-03"),
        ("paid", "FISH", "01-03"),
    ]
    assert [r["referee"] for r in result["rejected"]] == ["ANN"]
    assert [r["milestone"] for r in result["reversals"]] == ["vip_paid"]


def test_the_python_readers_loader_folds_unicode() -> None:
    """`Straße` folds to `strasse`, `ﬁsh` to `fish`, `İ` to `i̇`: DuckDB's
    LOWER would not (the loader folds in Python)."""
    events = [
        _event(1, "referral", "r1", "Straße", referrer="ANN"),
        _event(1, "referral", "r2", "fish", referrer="ann"),
        _event(1, "referral", "r3", "i\u0307x", referrer="İX"),
        _event(2, "payment", "p1", "Straße", amount="10.00"),
        _event(2, "payment", "p2", "fish", amount="10.00"),
        _event(2, "payment", "p3", "i\u0307x", amount="10.00"),
    ]
    result = same(program(), events)
    assert [(a["milestone"], a["referee"]) for a in result["awards"]] == [
        ("paid", "Straße"),
        ("vip_paid", "Straße"),
        ("paid", "fish"),
        ("vip_paid", "fish"),
    ]
    assert [r["referee"] for r in result["rejected"]] == ["i\u0307x"]  # İX folds to its referee
    same_explained(program(), events)


def _random(rng: random.Random) -> list[dict[str, Any]]:
    names = ["ann", "ANN", "Ann", "Straße", "STRASSE", "fish", "ﬁsh", "bob"]
    events = []
    for n in range(rng.randint(1, 25)):
        day, referee = rng.randint(1, 9), rng.choice(names)
        if rng.random() < 0.45:
            events.append(_event(day, "referral", f"e{n:02d}", referee, referrer=rng.choice(names)))
        else:
            event_id = rng.choice([f"e{n:02d}", "P-SKIP", "p-skip", "Void", "VOID"]) + f"{n}" * (n % 2)
            events.append(_event(day, "payment", event_id, referee, amount="10.00"))
    unique = {e["id"]: e for e in events}  # one event per id
    return list(unique.values())


@pytest.mark.parametrize("seed", range(4))
def test_random_ledgers_give_the_same_awards(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(5):
        events = _random(rng)
        same(program(), events)
        same_explained(program(), events)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_the_same_on_spark_reading_the_file_itself(spark: Spark, tmp_path: Path) -> None:
    """The query written in Spark's dialect, the ledger read by Spark's own
    strict reader (printable ASCII: its `lower` is the folding)."""
    ledger = tmp_path / "ledger.jsonl"
    lines = [json.dumps(e, separators=(",", ":")) for e in ASCII]
    ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert spark_file_json(spark, program(), ledger) == python_json(program(), lines, None)
