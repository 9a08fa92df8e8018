"""What a change to a matching file would change: replay one ledger under
two versions and compare who holds each requested workload at the end.

History was answered under one version: under the other, an accept or a
decline may concern a part its partner never held. Those answers are
skipped and listed (`stale`), so the replay shows what the new rules
would have decided, not an error.
"""

from __future__ import annotations

from typing import Any

from ..core.formatting import printable
from ..core.timeutil import format_timestamp
from .api import MatchResult
from .evaluate import ENDED, Assignment


def holders(result: MatchResult) -> dict[tuple[str, str], Assignment]:
    """(request, workload) -> the assignment that holds it at the end (not declined nor superseded)."""
    held: dict[tuple[str, str], Assignment] = {}
    for assignment in result.assignments:
        if assignment.status not in ENDED:
            for workload in assignment.workloads:
                held[(assignment.request, workload)] = assignment
    return held


def diff_matches(old: MatchResult, new: MatchResult) -> dict[str, Any]:
    """The workloads whose holder (partner, basis or status) differs, in request and workload order."""
    before, after = holders(old), holders(new)
    order = {w: n for n, w in enumerate(new.rules.workloads)}
    changed = []
    same = 0
    for key in sorted(set(before) | set(after), key=lambda k: (k[0], order.get(k[1], len(order)), k[1])):
        was, now = _side(before.get(key)), _side(after.get(key))
        if was == now:
            same += 1
            continue
        changed.append({"request": key[0], "workload": key[1], "old": was, "new": now})
    as_of = new.as_of if new.as_of is not None else old.as_of
    return {
        "old": old.rules.name,
        "new": new.rules.name,
        "as_of": None if as_of is None else format_timestamp(as_of),
        "changed": changed,
        "same": same,
        "stale": {"old": list(old.stale), "new": list(new.stale)},
    }


def _side(assignment: Assignment | None) -> dict[str, Any] | None:
    if assignment is None:
        return None
    return {
        "partner": assignment.partner,
        "kind": assignment.kind,
        "basis": assignment.basis,
        "status": assignment.status,
    }


def diff_text(diff: dict[str, Any]) -> str:
    """The diff for people, one changed workload a line."""
    count = len(diff["changed"])
    head = f"matching {diff['old']} -> {diff['new']} as of {diff['as_of'] or '-'}"
    lines = [f"{head}: {count} workload(s) change hands, {diff['same']} unchanged"]
    for change in diff["changed"]:
        lines.append(f"  {change['request']} {change['workload']}: {_who(change['old'])} -> {_who(change['new'])}")
    for side in ("old", "new"):
        if diff["stale"][side]:
            lines.append(f"  answers that do not apply under {side}: {', '.join(diff['stale'][side])}")
    return "".join(printable(line) + "\n" for line in lines)


def _who(side: dict[str, Any] | None) -> str:
    if side is None:
        return "(not requested)"
    return f"{side['partner'] or 'nobody'} ({side['basis']}, {side['status']})"
