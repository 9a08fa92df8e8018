"""Fixes after the second review:

1. a settled item award must name its item (and no other award has one):
   stored without it, it differed from every run's record and was reversed
   and paid again on each run;
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules.cli import main

from .test_settled_review import AS_OF, MILESTONES, five_conversions

#: the fields docs/embedding.md says a stored award record needs (no `item`)
REQUIRED = ("id", "at", "milestone", "role", "beneficiary", "referrer", "referee", "kind", "amount", "unit", "program")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- 1. a settled item award names its item -----------------------------------------


def _stored(with_item: bool) -> list[dict[str, Any]]:
    """The confirmed awards of a run with an item award, stored as an app
    would: the required fields, and `item` only where asked."""
    paid = rewardrules.compile(MILESTONES).score(five_conversions(), as_of=AS_OF).data
    awards = [a for a in paid["awards"] if a["status"] == "confirmed"]
    assert any(a["kind"] == "item" for a in awards) and any(a["kind"] != "item" for a in awards)
    return [{k: a[k] for k in (*REQUIRED, *(("item",) if with_item else ()))} for a in awards]


@pytest.mark.parametrize("missing", ["left out", "null"])
def test_a_settled_item_award_without_its_item_is_refused_by_entry(missing: str) -> None:
    statement = _stored(with_item=missing == "null")
    entry = next(n for n, a in enumerate(statement, start=1) if a["kind"] == "item")
    statement[entry - 1].pop("item", None)
    if missing == "null":
        statement[entry - 1]["item"] = None
    with pytest.raises(rewardrules.LedgerError, match="expected the item an item award paid") as caught:
        rewardrules.compile(MILESTONES).score(five_conversions(), as_of=AS_OF, settled=statement)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (entry, "item")


def test_a_settled_award_of_another_kind_with_an_item_is_refused() -> None:
    statement = _stored(with_item=True)
    entry = next(n for n, a in enumerate(statement, start=1) if a["kind"] != "item")
    statement[entry - 1]["item"] = "Mug"
    with pytest.raises(rewardrules.LedgerError, match=r"expected null or no `item`: a `\w+` award") as caught:
        rewardrules.compile(MILESTONES).score(five_conversions(), as_of=AS_OF, settled=statement)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (entry, "item")


def test_the_cli_exits_2_for_an_item_award_stored_without_its_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = _write(tmp_path, "m.rules", MILESTONES)
    ledger = _write(tmp_path, "l.jsonl", "".join(json.dumps(e) + "\n" for e in five_conversions()))
    statement = _write(tmp_path, "s.json", json.dumps(_stored(with_item=False)))
    argv = ["score", str(rules), str(ledger), "--as-of", AS_OF, "--format", "json", "--settled", str(statement)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "field `item`: expected the item an item award paid" in err and "Traceback" not in err


def test_a_payout_loop_storing_the_required_fields_and_items_pays_each_award_once() -> None:
    """The loop of the review's reproducer, storing what the docs now ask:
    a replay pays and claws back nothing."""
    program = rewardrules.compile(MILESTONES)
    ledger = five_conversions()
    paid: dict[str, dict[str, Any]] = {}
    for _ in range(3):
        statement = {"ruleset": program.name, "awards": list(paid.values()), "reversals": []}
        result = program.score(ledger, as_of=AS_OF, settled=statement).data
        assert result["reversals"] == []
        new = [a for a in result["awards"] if a["status"] == "confirmed" and a["id"] not in paid]
        assert not (paid and new)
        paid.update((a["id"], {k: a[k] for k in (*REQUIRED, "item")}) for a in new)
    assert any(a["kind"] == "item" for a in paid.values())
