"""Session snapshots are untrusted input: any ledger content round-trips,
a damaged snapshot raises `SnapshotError` (never another exception), and a
snapshot signed with the app's key cannot be changed unnoticed."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.snapshot import SnapshotError
from rewardrules.timeutil import parse_timestamp

from .conftest import GOLDEN, RULESETS

PROGRAM = rewardrules.load(RULESETS / "partner_and_customer.rules")
KEY = b"app secret"


def _referral(**extra: Any) -> dict[str, Any]:
    return {
        "id": "r1",
        "at": "2026-01-01T00:00:00Z",
        "type": "referral",
        "referrer": "acme",
        "referee": "c1",
        "source": "partner",
        **extra,
    }


def _payment(id_: str = "p1", amount: str = "100.00", **extra: Any) -> dict[str, Any]:
    return {"id": id_, "at": "2026-01-05T00:00:00Z", "type": "payment", "referee": "c1", "amount": amount, **extra}


def _session(**extra: Any) -> rewardrules.Session:
    session = PROGRAM.session()
    session.add(_referral(**extra))
    session.add(_payment(**extra))
    return session


# -- free attributes that look like the snapshot's own tags ------------------


@pytest.mark.parametrize(
    "meta",
    [{"$d": "abc"}, {"$d": "1.50"}, {"$o": {"$d": "1"}}, {"$d": {"$d": "2"}}, [{"$d": "NaN"}], {"$o": 3}],
    ids=["bad-decimal", "decimal", "object-tag", "nested", "list", "object-tag-scalar"],
)
def test_attributes_shaped_like_tags_round_trip(meta: Any) -> None:
    session = _session(meta=meta)
    data = session.snapshot()
    restored = PROGRAM.restore(data)
    assert restored.snapshot() == data
    assert restored.add(_payment(meta=meta)) == []  # an exact repeat is still a repeat
    assert restored.result().to_json() == session.result().to_json()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["$d", "$o", "a", "", "$"]) | st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)
ATTRIBUTES = st.dictionaries(st.sampled_from(["meta", "note", "$d", "$o", "extra"]), JSON_VALUES, max_size=3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ATTRIBUTES)
def test_any_free_attributes_round_trip(attributes: dict[str, Any]) -> None:
    session = _session(**attributes)
    data = session.snapshot()
    restored = PROGRAM.restore(data)
    assert restored.snapshot() == data
    assert restored.add(_payment(**attributes)) == []
    assert restored.result().to_json() == session.result().to_json()


# -- damaged snapshots ----------------------------------------------------------


def _data() -> dict[str, Any]:
    return json.loads(_session().snapshot())


def _restore(data: dict[str, Any] | bytes) -> rewardrules.Session:
    blob = data if isinstance(data, bytes) else json.dumps(data).encode()
    return PROGRAM.restore(blob)


def _set(path: list[Any], value: Any) -> dict[str, Any]:
    data = _data()
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return data


DAMAGE = {
    "decimal-text": (["awards", 0, "amount"], {"$d": "abc"}, "awards\\[0\\].amount"),
    "huge-exponent": (["referrals", 0, "prev", 0], {"$d": "1E999999999"}, "referrals\\[0\\].prev\\[0\\]"),
    "nan": (["cap_used", 0, 1], {"$d": "NaN"}, "cap_used\\[0\\]\\[1\\]"),
    "untagged-object": (["referrals", 0, "fields"], {"source": "partner"}, "referrals\\[0\\].fields"),
    "milestone-index": (["awards", 0, "milestone"], 99, "awards\\[0\\].milestone"),
    "negative-index": (["awards", 0, "reward"], -1, "awards\\[0\\].reward"),
    "bool-as-int": (["referrals", 0, "at"], True, "referrals\\[0\\].at"),
    "slots": (["referrals", 0, "prev"], [], "referrals\\[0\\].prev"),
    "unknown-referee": (["awards", 0, "referee"], "nobody", "awards\\[0\\].referee"),
    "program-number": (["referrals", 0, "programs"], [7], "referrals\\[0\\].programs\\[0\\]"),
    "reason": (["rejected"], [["e", 1, "a", "b", "because", ""]], "rejected\\[0\\]\\[4\\]"),
    "cap-kind": (["cap_used", 0, 0, 0], "galaxy", "cap_used\\[0\\]\\[0\\]\\[0\\]"),
    "extra-key": (["awards", 0, "bonus"], 1, "awards\\[0\\]"),
    "count": (["count"], "many", "count"),
}


@pytest.mark.parametrize("case", DAMAGE.values(), ids=list(DAMAGE))
def test_damaged_fields_are_named(case: tuple[list[Any], Any, str]) -> None:
    path, value, where = case
    with pytest.raises(SnapshotError, match=f"damaged session snapshot: `{where}`"):
        _restore(_set(path, value))


def _kept_session() -> rewardrules.Session:
    session = PROGRAM.session()
    session.add(_referral(source="customer"))
    session.add(_payment())
    session.add({"id": "z1", "at": "2026-01-06T00:00:00Z", "type": "refund", "referee": "c1", "payment": "p1"})
    return session


KEPT = {
    "missing field": ({"id": "z1", "at": 1767657600000000000, "referee": "c1"}, "kept.refund\\[0\\]"),
    "wrong type": (
        {"id": "z1", "at": 1767657600000000000, "referee": "c1", "payment": {"$d": "1"}},
        "kept.refund\\[0\\].payment",
    ),
    "time as bool": ({"id": "z1", "at": True, "referee": "c1", "payment": "p1"}, "kept.refund\\[0\\].at"),
}


@pytest.mark.parametrize("case", KEPT.values(), ids=list(KEPT))
def test_kept_events_are_checked_against_their_type(case: tuple[dict[str, Any], str]) -> None:
    event, where = case
    data = json.loads(_kept_session().snapshot())
    data["referrals"][0]["kept"] = {"$o": {"refund": [{"$o": event}]}}
    with pytest.raises(SnapshotError, match=f"`referrals\\[0\\].{where}"):
        _restore(data)
    data["referrals"][0]["kept"] = {"$o": {"chargeback": []}}
    with pytest.raises(SnapshotError, match="no such event type"):
        _restore(data)


def test_referral_fields_triggers_and_message_values_are_checked() -> None:
    data = _data()
    data["referrals"][0]["fields"]["$o"]["source"] = 3
    with pytest.raises(SnapshotError, match=r"`referrals\[0\]\.fields\.source`: expected a text value"):
        _restore(data)
    data = _data()
    data["awards"][0]["trigger"] = {"$o": {"id": "p1"}}
    with pytest.raises(SnapshotError, match=r"`awards\[0\]\.trigger`"):
        _restore(data)
    data = _data()
    data["awards"][0]["snapshot"] = {"$o": {"nonesuch": 1}}
    with pytest.raises(SnapshotError, match=r"`awards\[0\]\.snapshot\.nonesuch`"):
        _restore(data)
    data = _data()
    data["referrers"][0]["prev"][1] = "text"
    with pytest.raises(SnapshotError, match=r"`referrers\[0\]\.prev\[1\]`: expected a number"):
        _restore(data)


def test_an_edited_beneficiary_is_refused_even_unsigned() -> None:
    data = _data()
    data["awards"][0]["beneficiary"] = "mallory"
    with pytest.raises(SnapshotError, match=r"awards\[0\]"):
        _restore(data)
    data = _data()  # the id says whose award it is: moving it to another referral is seen
    data["referrals"][0]["referrer"] = "mallory"
    data["referrers"][0]["referrer"] = "mallory"
    data["awards"][0]["beneficiary"] = "mallory"
    with pytest.raises(SnapshotError, match=r"awards\[0\]\.id"):
        _restore(data)


def test_deep_nesting_is_refused() -> None:
    deep: Any = "x"
    for _ in range(100):
        deep = [deep]
    with pytest.raises(SnapshotError, match="nest"):
        _restore(_set(["referrals", 0, "prev", 0], deep))
    text = _session().snapshot().replace(b'"latest":', b'"latest":' + b"[" * 200_000 + b"]" * 200_000 + b',"x":')
    with pytest.raises(SnapshotError):
        _restore(text)


def _golden_session(ruleset: str, case: str) -> tuple[rewardrules.Program, bytes]:
    program = rewardrules.load(RULESETS / f"{ruleset}.rules")
    session = program.session()
    lines = (GOLDEN / ruleset / f"{case}.jsonl").read_text().splitlines()
    events = [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]
    for event in sorted(events, key=lambda e: (parse_timestamp(e["at"]), e["id"])):
        session.add(event)
    return program, session.snapshot()


#: snapshots with kept events, metric slots, referrer states, caps, rejections
BASES = [
    (PROGRAM, _kept_session().snapshot()),
    (PROGRAM, _session().snapshot()),
    _golden_session("saas_milestones", "basic"),
    _golden_session("referral_milestones", "ten_conversions"),
    _golden_session("partner_and_customer", "commission_cap"),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_damage_gives_a_snapshot_error_or_a_session(data: st.DataObject) -> None:
    program, blob = data.draw(st.sampled_from(BASES))
    snapshot = json.loads(blob)
    target: Any = snapshot
    while isinstance(target, (dict, list)) and target:
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        key = data.draw(st.sampled_from(keys))
        if not isinstance(target[key], (dict, list)) or not target[key] or data.draw(st.booleans()):
            target[key] = data.draw(JSON_VALUES | st.builds(lambda t: {"$d": t}, st.text(max_size=12)))
            break
        target = target[key]
    with contextlib.suppress(SnapshotError):  # anything else fails the test
        session = program.restore(json.dumps(snapshot))
        session.result()  # what is restored scores ...
        for event in LATER.get(program.name, []):  # ... and goes on scoring
            with contextlib.suppress(rewardrules.LedgerError):
                session.add(event)
        session.result()


#: events a restored session of each base gets next
LATER = {
    "partner_and_customer": [
        _payment("p8", "50.00") | {"at": "2027-03-01T00:00:00Z"},
        {"id": "z8", "at": "2027-03-02T00:00:00Z", "type": "refund", "referee": "c1", "payment": "p1"},
    ],
    "saas_milestones": [
        {"id": "s9", "at": "2027-01-01T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": "5000"}
    ],
}


# -- signed snapshots -------------------------------------------------------------


def test_a_signed_snapshot_restores_with_its_key() -> None:
    session = _session()
    data = session.snapshot(key=KEY)
    assert data != session.snapshot()
    restored = PROGRAM.restore(data, key=KEY)
    assert restored.result().to_json() == session.result().to_json()
    assert PROGRAM.restore(session.snapshot(key="text key"), key="text key").result().to_json() == (
        session.result().to_json()
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.replace(b'"$d":"15.00"', b'"$d":"1500.00"'),
        lambda b: b.replace(b'"source":"partner"', b'"source":"partnex"'),
        lambda b: b.replace(b'"count":2', b'"count":3'),
    ],
    ids=["amount", "attribute", "count"],
)
def test_any_edit_of_a_signed_snapshot_is_detected(edit: Any) -> None:
    data = _session().snapshot(key=KEY)
    edited = edit(data)
    assert edited != data
    with pytest.raises(SnapshotError, match="signature does not match"):
        PROGRAM.restore(edited, key=KEY)


def test_keys_and_signatures_must_match() -> None:
    session = _session()
    with pytest.raises(SnapshotError, match="signature does not match"):
        PROGRAM.restore(session.snapshot(key=KEY), key=b"other key")
    with pytest.raises(SnapshotError, match="not signed"):
        PROGRAM.restore(session.snapshot(), key=KEY)
    with pytest.raises(SnapshotError, match="signed: restore it with its key"):
        PROGRAM.restore(session.snapshot(key=KEY))
    with pytest.raises(SnapshotError, match="non-empty"):
        session.snapshot(key=b"")


def test_amounts_stay_exact_decimals() -> None:
    restored = PROGRAM.restore(_session().snapshot())
    (award,) = restored.result().awards
    assert award.amount == "15.00" and isinstance(restored.engine.state.awards[0].amount, Decimal)


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"])
def test_instants_at_the_ends_of_the_ledger_range_round_trip(at: str) -> None:
    """A ledger may hold any instant from year 1 to 9999, which in
    nanoseconds is wider than 64 bits: a snapshot of such a session is
    restored, not refused as damaged (found by fuzzing `Session.add`)."""
    program = rewardrules.load(RULESETS / "saas_milestones.rules")
    session = program.session()
    session.add({"id": "r", "at": at, "type": "referral", "referrer": "ann", "referee": "bo"})
    restored = program.restore(session.snapshot())
    assert restored.snapshot() == session.snapshot()
