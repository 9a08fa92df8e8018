"""Snapshots of a matching session: an app that assigns as requests arrive
stops, and resumes later with the same assignments to come.

A snapshot is JSON (UTF-8 bytes): the format, a fingerprint of the checked
rules it was taken under, and every event the session took, as ledger lines
(`events.event_record`). Restoring replays them through a new session, so
the matcher's state is only ever what the matcher itself builds from checked
events: a snapshot cannot smuggle in a count, a pause or an assignment that
no ledger could make. It is read as untrusted input: bounded in size, every
event checked as a ledger line is (with its place in the snapshot in the
message), and any problem is a `MatchSnapshotError`, never a traceback.

The cost is a replay: restoring takes as long as matching the events again
(the snapshot's size is bounded by `MAX_SNAPSHOT_BYTES`). A restored session
makes exactly what one that never stopped makes
(tests/test_match_engine2_snapshot.py checks it at every cut).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from ..core.formatting import quoted
from ..core.limits import MAX_SNAPSHOT_BYTES
from ..ledger.events import LedgerError
from .check import MatchRules

if TYPE_CHECKING:
    from .session import MatchSession

FORMAT = "rewardrules-match-session/1"
_KEYS = ("format", "rules", "events")


class MatchSnapshotError(ValueError):
    """A snapshot that cannot be restored (other rules, damaged data)."""


def fingerprint(rules: MatchRules) -> str:
    """Which rules a snapshot belongs to: a hash of the checked rules (the
    same whatever the file's layout and comments; another clause, another
    hash)."""
    return hashlib.sha256(repr(rules).encode("utf-8")).hexdigest()


def dump(session: MatchSession) -> bytes:
    """The session's snapshot: sorted keys, UTF-8, no spaces."""
    data = {"format": FORMAT, "rules": fingerprint(session.rules), "events": session._taken}
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def load(rules: MatchRules, blob: bytes | str, path: str = "<session>") -> MatchSession:
    """A session from a snapshot, or `MatchSnapshotError` saying what is wrong."""
    from .session import MatchSession

    raw = blob.encode("utf-8", "surrogatepass") if isinstance(blob, str) else blob
    if not isinstance(raw, bytes):
        raise MatchSnapshotError("a snapshot is bytes (or text), as `MatchSession.snapshot()` returns it")
    if len(raw) > MAX_SNAPSHOT_BYTES:
        raise MatchSnapshotError(f"the snapshot is larger than {MAX_SNAPSHOT_BYTES} bytes")
    data = _decoded(raw)
    if data.get("format") != FORMAT:
        found = data.get("format")
        what = quoted(found) if isinstance(found, str) else "none"
        raise MatchSnapshotError(f"not a matching session snapshot of format {FORMAT} (format: {what})")
    if data.get("rules") != fingerprint(rules):
        raise MatchSnapshotError(
            "the snapshot was taken under other matching rules; restore it with the rules it was taken under"
        )
    events = data.get("events")
    if not isinstance(events, list):
        raise _damaged("events", "expected a list")
    session = MatchSession(rules, path)
    for number, event in enumerate(events):
        if not isinstance(event, dict):
            raise _damaged(f"events[{number}]", "expected an event (an object)")
        try:
            session.add(event)
        except LedgerError as error:
            problem = error.problems[0]
            where = f"events[{number}]" + (f".{problem.field}" if problem.field else "")
            raise _damaged(where, problem.message) from None
    return session


def _decoded(raw: bytes) -> dict[str, Any]:
    """The snapshot's JSON object with exactly its keys, or `MatchSnapshotError`."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MatchSnapshotError("the snapshot is not JSON in UTF-8") from None
    if not isinstance(data, dict) or set(data) != set(_KEYS):
        raise MatchSnapshotError("the snapshot is not a matching session snapshot: expected " + ", ".join(_KEYS))
    return data


def _damaged(where: str, problem: str) -> MatchSnapshotError:
    return MatchSnapshotError(f"damaged matching session snapshot: {quoted(where)}: {problem}")
