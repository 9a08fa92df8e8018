"""The text form of a matching result, for people.

Every value shown comes from the ledger or the rules, so every line goes
through `formatting.printable`: a partner's name cannot forge a line or
drive a terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.formatting import printable

if TYPE_CHECKING:
    from .api import MatchResult


#: Where a matching run's instant is named, what a run over a ledger with no
#: events (and no `--as-of`) says: it has no instant, and `-` said nothing.
NO_EVENTS = "with no events"


def as_of_text(as_of: str | None) -> str:
    """`as of INSTANT`, or `with no events` when the run has no instant."""
    return NO_EVENTS if as_of is None else f"as of {as_of}"


def render_result(result: MatchResult) -> str:
    """Each assignment with its why, then the acceptance report."""
    data = result.to_dict()
    count = len(data["assignments"])
    lines = [f"matching {data['matching']} {as_of_text(data['as_of'])}: {count} assignment{'s' * (count != 1)}"]
    #: what became of each record, for "replaces ID (declined)" (or superseded)
    statuses = {record["id"]: record["status"] for record in data["assignments"]}
    for record in data["assignments"]:
        lines.append("")
        lines.extend(_assignment(record, statuses))
    report = data["acceptance"]
    if report is not None:
        lines.append("")
        lines.extend(_acceptance(report))
    return "".join(printable(line) + "\n" for line in lines)


def _assignment(record: dict[str, Any], statuses: dict[str, str]) -> list[str]:
    who = record["partner"] or "nobody"
    head = (
        f"{record['id']}  request {record['request']} (customer {record['customer']}) at {record['at']}: "
        f"{who} takes {', '.join(record['workloads'])} [{record['basis']}, {record['status']}]"
    )
    lines = [head]
    if record["replaces"]:
        lines.append(f"  replaces {record['replaces']} ({statuses.get(record['replaces'], 'declined')})")
    if record["reason"]:
        lines.append(f"  {record['status']}: {record['reason']}")
    why = record["why"]
    lines.append(f"  counts: {why['counts']}")
    for entry in why["candidates"]:
        lines.append("  " + _candidate(entry))
    for claim in why.get("claims", ()):
        verdict = "counts" if claim["counts"] else f"does not count: {claim['detail']}"
        lines.append(f"  claim of {claim['partner']} {verdict}")
    if "order" in why:
        lines.append(f"  order: {', '.join(why['order'])}; decided by {why['decided_by']}")
    for step in why.get("split", ()):
        order = ", ".join(step["order"])
        lines.append(f"  split {', '.join(step['workloads'])}: order {order}; decided by {step['decided_by']}")
    return lines


def _candidate(entry: dict[str, Any]) -> str:
    if entry["dropped_by"] is not None:
        return f"- {entry['partner']}: dropped by {entry['dropped_by']}: {entry['detail']}"
    last = entry["last_assigned"] or "never"
    return (
        f"- {entry['partner']}: covers {', '.join(entry['covers'])}; count {entry['count']} "
        f"(effective {entry['effective_count']}), last assigned {last}"
    )


def _acceptance(report: dict[str, Any]) -> list[str]:
    by = f" by {report['by']}" if report["by"] else ""
    lines = [f"acceptance at least {report['at_least']}%{by} per {report['period']}:"]
    for row in report["rows"]:
        value = f" {row['value']}" if row["value"] is not None else ""
        state = "BELOW" if row["below"] else "ok"
        state += "" if row["closed"] else " (period open)"
        lines.append(
            f"  {row['period']} {row['partner']}{value}: {row['accepted']} of {row['received']} accepted "
            f"({row['rate']}%), {row['declined']} declined, {row['pending']} pending: {state}"
        )
    return lines
