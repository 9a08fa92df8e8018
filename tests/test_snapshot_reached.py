"""Snapshots of withheld rewards: what an award and a withheld reward share
(instant, milestone, reward, role, beneficiary, referee) is written and read
back by one piece of code, so both records keep their members, their order
and their checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

import rewardrules
from rewardrules.snapshot import SnapshotError

from .test_api_review import FRIENDS, _friends_ledger

SHARED = ["at", "milestone", "reward", "role", "beneficiary", "referee", "referrer"]


@pytest.fixture(scope="module")
def session_data() -> tuple[rewardrules.Program, bytes]:
    """The friends program after c1..c9: six whole awards, one cut, c8 and
    c9 withheld by the cap."""
    program = rewardrules.compile(FRIENDS, "friends.rules")
    session = program.session()
    session.add_many(_friends_ledger())
    return program, session.snapshot()


def test_withheld_and_awards_keep_their_members_in_order(session_data: tuple[rewardrules.Program, bytes]) -> None:
    _, blob = session_data
    data = json.loads(blob)
    assert [w["referee"] for w in data["withheld"]] == ["c8", "c9"]
    for withheld in data["withheld"]:
        assert list(withheld) == [*SHARED, "reason", "amount"]
        assert (withheld["role"], withheld["beneficiary"]) == ("referrer", "maya")
    for award in data["awards"]:
        assert list(award)[: len(SHARED) + 2] == ["id", *SHARED, "amount"]


def test_a_restored_session_keeps_its_withheld_rewards(session_data: tuple[rewardrules.Program, bytes]) -> None:
    program, blob = session_data
    restored = program.restore(blob)
    assert restored.snapshot() == blob
    straight = program.session()
    straight.add_many(_friends_ledger())
    assert restored.result().to_json() == straight.result().to_json()


def _damaged(blob: bytes, key: str, value: Any) -> bytes:
    data = json.loads(blob)
    data["withheld"][0][key] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("key", "value", "where"),
    [
        ("at", "yesterday", r"`withheld\[0\]\.at`"),
        ("milestone", 7, r"`withheld\[0\]\.milestone`"),
        ("reward", 3, r"`withheld\[0\]\.reward`"),
        ("beneficiary", "c8", r"`withheld\[0\]`: expected the referrer `maya`"),
        ("role", "referee", r"`withheld\[0\]`: expected the referrer `maya`"),
        ("referee", "nobody", r"`withheld\[0\]\.referee`: no referral"),
    ],
)
def test_a_damaged_withheld_record_is_refused_where_it_is_damaged(
    session_data: tuple[rewardrules.Program, bytes], key: str, value: Any, where: str
) -> None:
    program, blob = session_data
    with pytest.raises(SnapshotError, match=where):
        program.restore(_damaged(blob, key, value))
