"""What a change to a matching file would change: replay one ledger under
two versions and compare who holds each requested workload at the end.

History was answered under one version: under the other, an accept or a
decline may concern a part its partner never held. Those answers are
skipped and listed (`stale`), so the replay shows what the new rules
would have decided, not an error.
"""

from __future__ import annotations

from typing import Any

from ..core.formatting import markdown_code, markdown_text, printable
from ..core.timeutil import format_timestamp
from .api import MatchResult
from .evaluate import ENDED, Assignment
from .text import NO_EVENTS, as_of_text

#: rows of the Markdown table at most, as the reward diff's, so a pull-request comment stays readable
MARKDOWN_ROWS = 50


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
    head = f"matching {diff['old']} -> {diff['new']} {as_of_text(diff['as_of'])}"
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


def diff_markdown(diff: dict[str, Any], old_path: str, new_path: str, ledger: str) -> str:
    """The diff for a pull-request comment, in the style of the reward
    diff's Markdown: a title, the files, a summary line and a table of the
    workloads that change hands (at most `MARKDOWN_ROWS`). Every name, id
    and path from outside is a code span or escaped (`markdown_text`): it
    cannot add a link, HTML, emphasis or a column."""
    title = markdown_code(diff["new"])
    if diff["old"] != diff["new"]:
        title = f"{markdown_code(diff['old'])} → {title}"
    out = [f"### rewardrules diff: {title}", ""]
    paths = f"{markdown_code(old_path)} → {markdown_code(new_path)} on {markdown_code(ledger)}"
    when = NO_EVENTS if diff["as_of"] is None else f"as of {markdown_code(diff['as_of'])}"
    out += [f"{paths}, {when}.", ""]
    count, same = len(diff["changed"]), diff["same"]
    if not count:
        out.append(f"**No differences**: {same} workload{'s' * (same != 1)} held the same.")
    else:
        out.append(f"**{count} workload{'s' * (count != 1)} change{'s' * (count == 1)} hands**, {same} unchanged.")
        out += ["", "| request | workload | old | new |", "| --- | --- | --- | --- |"]
        rows = [
            f"| {markdown_text(c['request'])} | {markdown_text(c['workload'])} | {_who_cell(c['old'])} | "
            f"{_who_cell(c['new'])} |"
            for c in diff["changed"]
        ]
        if len(rows) > MARKDOWN_ROWS:
            rows = [*rows[:MARKDOWN_ROWS], f"| ... and {len(rows) - MARKDOWN_ROWS} more |  |  |  |"]
        out += rows
    for side in ("old", "new"):
        if diff["stale"][side]:
            answers = ", ".join(markdown_text(answer) for answer in diff["stale"][side])
            out += ["", f"Answers that do not apply under {side}: {answers}."]
    return "".join(printable(line) + "\n" for line in out)


def _who_cell(side: dict[str, Any] | None) -> str:
    if side is None:
        return "(not requested)"
    partner = markdown_text(side["partner"]) if side["partner"] else "nobody"
    return f"{partner} ({markdown_text(side['basis'])}, {markdown_text(side['status'])})"
