"""Findings of a newcomer's review of the API and its outputs: a cap's cut
shown everywhere an award is, the HTML report refusing another program's
result, wrong argument types refused at the entry, a path given to
`Session.add`, datetimes in dict events, and misspelled ledger keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

import rewardrules
from rewardrules.cli.score import text_report
from rewardrules.explain import explain_ledger
from rewardrules.models import json_schema
from rewardrules.snapshot import SnapshotError

#: the tutorial's step 6 cut down to its cap: 1000 USD a year, 150 USD per
#: friend whose plan reaches 500 USD a month
FRIENDS = """\
ruleset friends "Friends of Brightdesk"

event referral { country: optional text }
event subscription { mrr: money USD }

cap referrer 1000 USD per year

metric mrr "The friend's monthly revenue" = latest subscription.mrr

milestone big_customer "Your friend's plan reached 500 USD a month" {
  when mrr >= 500 USD
  reward referrer cash 150 USD
}
"""


def _friends_ledger() -> list[dict[str, Any]]:
    """maya refers c1..c9, each reaching 500 USD a month: six whole awards,
    c7's cut from 150.00 to 100.00, c8 and c9 withheld."""
    events: list[dict[str, Any]] = []
    for n in range(1, 10):
        events.append(
            {"id": f"r{n}", "at": f"2026-01-0{n}T00:00:00Z", "type": "referral", "referrer": "maya", "referee": f"c{n}"}
        )
        events.append(
            {"id": f"s{n}", "at": f"2026-02-0{n}T00:00:00Z", "type": "subscription", "referee": f"c{n}", "mrr": "500"}
        )
    return events


@pytest.fixture(scope="module")
def friends() -> rewardrules.Program:
    return rewardrules.compile(FRIENDS, "friends.rules")


def _cut(data: dict[str, Any]) -> dict[str, Any]:
    (award,) = [a for a in data["awards"] if a["referee"] == "c7"]
    return award


# -- 1. a cap's partial cut -----------------------------------------------------


def test_a_cut_award_says_its_amount_before_the_cap(friends: rewardrules.Program) -> None:
    result = friends.score(_friends_ledger())
    award = _cut(result.data)
    assert award["amount"] == "100.00"
    assert award["why"]["capped"] is True
    assert award["why"]["uncapped"] == "150.00"
    assert all("uncapped" not in a["why"] for a in result.data["awards"] if a is not award)
    typed = next(a for a in result.awards if a.referee == "c7")
    assert typed.why is not None and typed.why.uncapped == "150.00"
    assert "uncapped" in json_schema("award")["$defs"]["Why"]["properties"]


def test_the_text_table_marks_the_cut_and_counts_it(friends: rewardrules.Program) -> None:
    text = text_report(friends.score(_friends_ledger()).data)
    assert text.splitlines()[0].startswith("friends: 7 award(s) (1 cut by a cap), 2 withheld as of ")
    (row,) = [line for line in text.splitlines() if " c7 " in line]
    assert row.endswith("cash 100.00 USD  confirmed (cut by cap from 150.00)")
    assert sum("cut by cap" in line for line in text.splitlines()) == 1


def test_explain_says_how_much_the_cap_cut(friends: rewardrules.Program) -> None:
    told = explain_ledger(friends, _friends_ledger(), referee="c7")
    assert (
        "cut by a cap from 150.00 USD to 100.00 USD (50.00 USD withheld) under `cap referrer 1000 USD per year`" in told
    )


def test_a_session_keeps_the_amount_before_the_cap_across_a_snapshot(friends: rewardrules.Program) -> None:
    events = _friends_ledger()
    events.sort(key=lambda e: (e["at"], e["id"]))
    session = friends.session()
    session.add_many(events[:-3])
    restored = friends.restore(session.snapshot())
    restored.add_many(events[-3:])
    whole = friends.score(events).data
    assert restored.result().data == whole
    assert _cut(whole)["why"]["uncapped"] == "150.00"


def _snapshot_with(friends: rewardrules.Program, change: Any) -> bytes:
    session = friends.session()
    session.add_many(_friends_ledger())
    data = json.loads(session.snapshot())
    change(data["awards"])
    return json.dumps(data).encode()


def test_a_snapshot_taken_before_the_field_still_restores(friends: rewardrules.Program) -> None:
    def drop(awards: list[dict[str, Any]]) -> None:
        for award in awards:
            del award["uncapped"]

    restored = friends.restore(_snapshot_with(friends, drop)).result().data
    assert _cut(restored)["why"] == {"event": "s7", "values": {"mrr": "500.00"}, "capped": True}


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (6, {"$d": "100.00"}),  # no more than what was paid
        (6, {"$d": "120.00"}),  # not the reward's constant amount
        (0, {"$d": "150.00"}),  # an award no cap cut
        (6, "150.00"),  # not a tagged decimal
    ],
)
def test_a_damaged_amount_before_the_cap_is_refused(friends: rewardrules.Program, index: int, value: Any) -> None:
    def damage(awards: list[dict[str, Any]]) -> None:
        awards[index]["uncapped"] = value

    with pytest.raises(SnapshotError, match=rf"awards\[{index}\]\.uncapped"):
        friends.restore(_snapshot_with(friends, damage))
