"""The matching engine's later behaviours, one by one: session snapshots
read as untrusted input, pauses kept apart, a decline of some workloads, the
fallback's name refused as a partner's, `rematch` (checked and formatted)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rewardrules.core.diagnostics import Severity
from rewardrules.ledger.events import LedgerError
from rewardrules.match.api import load, load_text, match
from rewardrules.match.check import check_text
from rewardrules.match.format import format_text
from rewardrules.match.session import MatchSession
from rewardrules.match.snapshot import FORMAT, MatchSnapshotError

from .conftest import ROOT, RULESETS

FASTTRACK = load(RULESETS / "matching" / "fasttrack_matching.rules")
EXAMPLE = (ROOT / "examples" / "matching" / "partners.jsonl").read_text(encoding="utf-8").splitlines()
ATTRIBUTES = {"location": ["US"], "language": ["en"], "customer_size": ["smb"], "industry": ["retail"]}
VALUES = {"location": "US", "language": "en", "customer_size": "smb", "industry": "retail"}


def partner(id_: str, at: str, name: str, *workloads: str) -> dict[str, Any]:
    endorsements = dict.fromkeys(workloads)
    return {
        "id": id_,
        "type": "partner",
        "at": at,
        "partner": name,
        "endorsements": endorsements,
        "attributes": ATTRIBUTES,
    }


def request(id_: str, at: str, name: str, *workloads: str) -> dict[str, Any]:
    fields = {"request": name, "customer": "c-" + name, "workloads": list(workloads), "attributes": VALUES}
    return {"id": id_, "type": "request", "at": at, **fields}


def lines(*events: dict[str, Any]) -> list[str]:
    return [json.dumps(e) for e in events]


def problems(rules: Any, *events: dict[str, Any]) -> list[tuple[int, str | None, str]]:
    with pytest.raises(LedgerError) as raised:
        match(rules, lines(*events))
    return [(p.line, p.field, p.message) for p in raised.value.problems]


# -- snapshots -----------------------------------------------------------------
def session_of(rules: Any, taken: list[str]) -> MatchSession:
    session = MatchSession(rules)
    for line in taken:
        session.add(line)
    return session


def test_a_restored_session_goes_on_as_one_that_never_stopped() -> None:
    whole = session_of(FASTTRACK, EXAMPLE)
    restored = MatchSession.restore(FASTTRACK, session_of(FASTTRACK, EXAMPLE[:6]).snapshot())
    made = [a.id for line in EXAMPLE[6:] for a in restored.add(line)]
    assert made == [a.id for a in whole.result().assignments][3:]
    assert restored.result().to_json() == whole.result().to_json()
    assert restored.snapshot() == whole.snapshot()


def test_a_restored_session_still_refuses_a_taken_id_and_an_older_event() -> None:
    restored = MatchSession.restore(FASTTRACK, session_of(FASTTRACK, EXAMPLE).snapshot())
    with pytest.raises(LedgerError, match="is taken already"):
        restored.add(EXAMPLE[-1].replace("2026-01-14", "2026-02-14"))
    with pytest.raises(LedgerError, match="older than the last event taken"):
        restored.add(request("late", "2026-01-01T00:00:00Z", "R9", "teams"))


def damaged(blob: bytes) -> str:
    with pytest.raises(MatchSnapshotError) as raised:
        MatchSession.restore(FASTTRACK, blob)
    return str(raised.value)


def snapshot_with(**changes: Any) -> bytes:
    data = json.loads(session_of(FASTTRACK, EXAMPLE).snapshot())
    data.update(changes)
    return json.dumps(data).encode()


def test_a_snapshot_is_refused_clearly_when_damaged_or_foreign() -> None:
    assert damaged(b"\xff\xfe") == "the snapshot is not JSON in UTF-8"
    assert damaged(b"[" * 100_000) == "the snapshot is not JSON in UTF-8"
    assert "expected format, rules, events" in damaged(b'{"format": 1}')
    assert f"not a matching session snapshot of format {FORMAT} (format: `rewardrules-session/4`)" in damaged(
        snapshot_with(format="rewardrules-session/4")
    )
    assert "taken under other matching rules" in damaged(snapshot_with(rules="0" * 64))
    assert damaged(snapshot_with(events={})).endswith("`events`: expected a list")
    assert damaged(snapshot_with(events=[1])).endswith("`events[0]`: expected an event (an object)")
    events = json.loads(session_of(FASTTRACK, EXAMPLE).snapshot())["events"]
    events[4]["workloads"] = ["teems"]
    assert "`events[4].workloads`: the rules declare no workload `teems`" in damaged(snapshot_with(events=events))
    events = json.loads(session_of(FASTTRACK, EXAMPLE).snapshot())["events"]
    events[0], events[1] = events[1], events[0]
    assert "`events[1].at`: event `e1` is older" in damaged(snapshot_with(events=events))


def test_a_session_refusing_an_event_says_why() -> None:
    """The matcher's problems reach the session's error (they were cleared
    with the matcher's list before: an error with no problem)."""
    session = session_of(FASTTRACK, EXAMPLE[:3])
    with pytest.raises(LedgerError) as raised:
        session.add(EXAMPLE[-1])
    assert [p.message for p in raised.value.problems] == ["partner `contoso` holds no assignment of request `RFA-2`"]


def test_a_snapshot_is_refused_under_other_rules() -> None:
    other = load_text(
        (RULESETS / "matching" / "fasttrack_matching.rules").read_text(encoding="utf-8").replace("80%", "75%")
    )
    with pytest.raises(MatchSnapshotError, match="other matching rules"):
        MatchSession.restore(other, session_of(FASTTRACK, EXAMPLE).snapshot())


def test_a_snapshot_keeps_instants_to_the_nanosecond() -> None:
    first = partner("p1", "2026-01-01T00:00:00.000000001Z", "alpha", "teams")
    first["endorsements"] = {"teams": "2026-01-02T00:00:00.5Z"}
    session = session_of(FASTTRACK, lines(first))
    restored = MatchSession.restore(FASTTRACK, session.snapshot())
    made = restored.add(request("r1", "2026-01-02T00:00:00.4Z", "R1", "teams"))
    assert [a.partner for a in made] == ["alpha"]  # the endorsement still holds, 0.1 s before it lapses


# -- pauses kept apart --------------------------------------------------------------
TEAMS = (partner("p1", "2026-01-01T00:00:00Z", "alpha", "teams"),)


def pause(id_: str, at: str, kind: str = "pause") -> dict[str, Any]:
    return {"id": id_, "type": kind, "at": at, "partner": "alpha"}


def test_a_pause_too_soon_after_the_last_is_refused_at_its_line() -> None:
    found = problems(
        FASTTRACK,
        *TEAMS,
        pause("pa1", "2026-01-05T00:00:00Z"),
        pause("re1", "2026-01-15T00:00:00Z", "resume"),
        pause("pa2", "2026-02-13T23:59:59Z"),
    )
    assert found == [
        (
            4,
            "at",
            "partner `alpha` may pause again from 2026-02-14T00:00:00Z: its last pause ended at 2026-01-15T00:00:00Z",
        )
    ]


def test_a_pause_ended_by_the_limit_or_by_leaving_counts_as_ended() -> None:
    by_limit = problems(FASTTRACK, *TEAMS, pause("pa1", "2026-01-01T00:00:00Z"), pause("pa2", "2026-02-20T00:00:00Z"))
    assert by_limit[0][2].endswith("its last pause ended at 2026-01-31T00:00:00Z")
    rejoined = partner("p2", "2026-01-10T00:00:00Z", "alpha", "teams")
    left = problems(
        FASTTRACK,
        *TEAMS,
        pause("pa1", "2026-01-01T00:00:00Z"),
        pause("l1", "2026-01-05T00:00:00Z", "leave"),
        rejoined,
        pause("pa2", "2026-01-20T00:00:00Z"),
    )
    assert left[0][2].endswith("its last pause ended at 2026-01-05T00:00:00Z")


def test_pauses_apart_can_be_stated_and_zero_allows_back_to_back_pauses() -> None:
    text = (RULESETS / "matching" / "fasttrack_matching.rules").read_text(encoding="utf-8")
    chained = (pause("pa1", "2026-01-01T00:00:00Z"), pause("pa2", "2026-01-31T00:00:00Z"))
    zero = load_text(text.replace("pause at most 30 days", "pause at most 30 days, at least 0 days apart"))
    assert match(zero, lines(*TEAMS, *chained)).assignments == ()
    week = load_text(text.replace("pause at most 30 days", "pause at most 30 days, at least 1 weeks apart"))
    assert problems(week, *TEAMS, *chained)[0][2].startswith("partner `alpha` may pause again from 2026-02-07")


# -- declining some workloads ----------------------------------------------------
SPLIT = (
    partner("p1", "2026-01-01T00:00:00Z", "alpha", "teams", "exchange"),
    request("r1", "2026-01-10T00:00:00Z", "R1", "teams", "exchange"),
)


def decline(id_: str, at: str, *workloads: str) -> dict[str, Any]:
    return {"id": id_, "type": "decline", "at": at, "request": "R1", "partner": "alpha", "workloads": list(workloads)}


def test_declining_a_workload_the_partner_does_not_hold_is_refused() -> None:
    found = problems(FASTTRACK, *SPLIT, decline("d1", "2026-01-11T00:00:00Z", "teams", "security"))
    assert found == [(3, "workloads", "partner `alpha` holds no pending part of request `R1` with security")]


def test_declining_every_workload_by_name_is_a_whole_decline() -> None:
    records = match(FASTTRACK, lines(*SPLIT, decline("d1", "2026-01-11T00:00:00Z", "exchange", "teams"))).assignments
    assert [(a.partner, a.workloads, a.basis, a.status) for a in records] == [
        ("alpha", ("teams", "exchange"), "round_robin", "declined"),
        ("ftc", ("teams", "exchange"), "fallback", "fallback"),
    ]


def test_a_kept_part_is_matched_again_when_its_partner_leaves() -> None:
    leave = {"id": "l1", "type": "leave", "at": "2026-01-12T00:00:00Z", "partner": "alpha"}
    records = match(FASTTRACK, lines(*SPLIT, decline("d1", "2026-01-11T00:00:00Z", "exchange"), leave)).assignments
    assert [(a.partner, a.workloads, a.basis, a.status) for a in records] == [
        ("alpha", ("teams", "exchange"), "round_robin", "declined"),
        ("alpha", ("teams",), "kept", "declined"),
        ("ftc", ("exchange",), "fallback", "fallback"),
        ("ftc", ("teams",), "fallback", "fallback"),
    ]
    assert records[1].reason == "the partner left the program"


# -- the fallback's name ---------------------------------------------------------------
def test_a_partner_named_as_the_fallback_is_refused() -> None:
    found = problems(FASTTRACK, partner("p1", "2026-01-01T00:00:00Z", "ftc", "teams"))
    assert found == [(1, "partner", "`ftc` is the rules' fallback (`fallback ftc`), not a partner")]


# -- rematch ---------------------------------------------------------------------------
UNMATCHED = load_text(
    "matching m\nworkload teams\nworkload security\nrequire endorsement\ntie break partner\n"
    "split up to 2\nrematch unmatched\npause at most 10 days\n"
)


def test_an_unmatched_part_is_matched_again_when_a_partner_resumes_or_joins() -> None:
    events = (
        {**partner("p1", "2026-01-01T00:00:00Z", "alpha", "teams"), "attributes": {}},
        {**partner("p2", "2026-01-01T00:00:00Z", "bravo", "security"), "attributes": {}},
        {"id": "pa", "type": "pause", "at": "2026-01-02T00:00:00Z", "partner": "bravo"},
        {**request("r1", "2026-01-03T00:00:00Z", "R1", "teams", "security"), "attributes": {}},
        {"id": "re", "type": "resume", "at": "2026-01-04T00:00:00Z", "partner": "bravo"},
    )
    session = MatchSession(UNMATCHED)
    made = [[(a.partner, a.workloads, a.status) for a in session.add(e)] for e in events]
    assert made[3] == [("alpha", ("teams",), "pending"), (None, ("security",), "unmatched")]
    assert made[4] == [("bravo", ("security",), "pending")]
    none, bravo = session.result().assignments[1:]
    assert (none.reason, bravo.replaces, bravo.event) == ("matched again: partner `bravo` resumed", none.id, "re")


def test_without_rematch_a_fallback_part_stays() -> None:
    events = (
        partner("p1", "2026-01-01T00:00:00Z", "alpha", "teams"),
        request("r1", "2026-01-03T00:00:00Z", "R1", "security"),
        partner("p2", "2026-01-04T00:00:00Z", "bravo", "security"),
    )
    assert [a.status for a in match(FASTTRACK, lines(*events)).assignments] == ["fallback"]


@pytest.mark.parametrize(
    ("clause", "code", "severity", "message"),
    [
        ("rematch unmached", "RR830", Severity.ERROR, "unknown rematch kind `unmached`"),
        ("rematch fallback\nfallback ftc", "RR831", Severity.WARNING, None),
        ("rematch unmatched\nfallback ftc", "RR831", Severity.WARNING, None),
        (
            "rematch fallback",
            "RR831",
            Severity.WARNING,
            "`rematch fallback` never applies: the file has no `fallback` clause",
        ),
        ("rematch unmatched\nrematch unmatched", "RR803", Severity.ERROR, "a second `rematch` clause"),
        ("pause at most 3 days, at least 2.5 days apart", "RR808", Severity.ERROR, None),
        ("pause at most 3 days, at least 2 dayz apart", "RR809", Severity.ERROR, "unknown duration unit `dayz`"),
    ],
)
def test_rematch_and_pauses_apart_are_checked(clause: str, code: str, severity: Severity, message: str | None) -> None:
    _, found = check_text(f"matching m\nworkload teams\ntie break partner\n{clause}\n", "m.rules")
    mine = [d for d in found if d.code == code]
    if code == "RR831" and "fallback ftc" in clause and clause.startswith("rematch fallback"):
        assert mine == []  # `rematch fallback` with a fallback applies
        return
    assert [d.severity for d in mine] == [severity]
    if message is not None:
        assert mine[0].message == message


def test_the_new_clauses_are_formatted() -> None:
    text = "matching m workload teams tie break partner\npause  at most 3 days ,at least 0 weeks apart\nrematch   unmatched\n"
    formatted, _ = format_text(text)
    assert formatted == (
        "matching m\nworkload teams\ntie break partner\npause at most 3 days, at least 0 weeks apart\nrematch unmatched\n"
    )
    assert format_text(formatted or "")[0] == formatted
    assert check_text(formatted or "")[0] is not None
