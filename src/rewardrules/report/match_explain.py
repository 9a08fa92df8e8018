"""`rewardrules explain` for matching files: each assignment told as a decision.

Per assignment (or for one request or customer): every partner that was
tried, the gate that dropped it and why, the claims and whether they
counted, the counts at that moment (what is counted and since when, each
candidate's own and levelled count and last assignment), the order and the
key that decided between the first two. Everything here is read from the
`why` the matcher recorded when it decided (`match.evaluate`): nothing is
computed again, so the explanation cannot disagree with the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.formatting import printable
from ..match.api import MatchResult
from ..match.text import as_of_text

#: The version of the explanation's JSON form (`format` in it).
EXPLAIN_FORMAT = 1


@dataclass(frozen=True, slots=True)
class MatchExplanation:
    """The explanations of a matching result's assignments (one request's
    or one customer's, when narrowed)."""

    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def text(self) -> str:
        """For people: a paragraph per assignment, every line `printable`
        (partner names and reasons come from the ledger)."""
        data = self.data
        count = len(data["explanations"])
        scope = "".join(f", {k} {data[k]}" for k in ("request", "customer") if data[k] is not None)
        lines = [
            f"matching {data['matching']} {as_of_text(data['as_of'])}{scope}: "
            f"{count} assignment{'s' * (count != 1)} explained"
        ]
        for entry in data["explanations"]:
            lines.append("")
            lines.extend(_text(entry))
        return "".join(printable(line) + "\n" for line in lines)


def explain_matches(result: MatchResult, request: str | None = None, customer: str | None = None) -> MatchExplanation:
    """The explanation of every assignment of ``result``, or of those of one
    ``request`` or ``customer`` (both: of that request of that customer)."""
    records = [
        a.to_dict()
        for a in result.assignments
        if (request is None or a.request == request) and (customer is None or a.customer == customer)
    ]
    data = result.to_dict()
    return MatchExplanation(
        {
            "format": EXPLAIN_FORMAT,
            "matching": data["matching"],
            "as_of": data["as_of"],
            "request": request,
            "customer": customer,
            "explanations": [explain_record(r) for r in records],
        }
    )


def explain_record(record: dict[str, Any]) -> dict[str, Any]:
    """One assignment record's decision, from its `why`: the candidates split
    into those dropped (with the gate) and those eligible (with their
    counts and rank), and each decision with the deciding key and the values
    of that key for the first two options."""
    why = record["why"]
    candidates = {c["partner"]: c for c in why["candidates"]}
    decisions = []
    if "order" in why:
        decisions.append(_decision(record["workloads"], why["order"], why["decided_by"], candidates))
    for step in why.get("split", ()):
        decisions.append(_decision(step["workloads"], step["order"], step["decided_by"], candidates))
    return {
        "id": record["id"],
        "request": record["request"],
        "customer": record["customer"],
        "workloads": record["workloads"],
        "partner": record["partner"],
        "kind": record["kind"],
        "basis": record["basis"],
        "status": record["status"],
        "at": record["at"],
        "event": record["event"],
        "replaces": record["replaces"],
        "reason": record["reason"],
        "counts": why["counts"],
        "dropped": [
            {"partner": c["partner"], "gate": c["dropped_by"], "detail": c["detail"]}
            for c in why["candidates"]
            if c["dropped_by"] is not None
        ],
        "eligible": [
            {k: c[k] for k in ("partner", "covers", "count", "effective_count", "last_assigned")}
            for c in why["candidates"]
            if c["dropped_by"] is None
        ],
        "claims": why.get("claims", []),
        "decisions": decisions,
    }


def _decision(
    workloads: list[str], order: list[str], decided_by: str, candidates: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Who came first for ``workloads`` and by which key; for a count or
    `longest_idle` the recorded values of the first two, so the reader sees
    the comparison that decided."""
    compared = [_shown_value(decided_by, candidates.get(name, {})) for name in order[:2]]
    return {
        "workloads": workloads,
        "order": order,
        "decided_by": decided_by,
        "compared": [{"partner": n, "value": v} for n, v in zip(order[:2], compared, strict=False)]
        if len(order) > 1
        else [],
    }


def _shown_value(key: str, candidate: dict[str, Any]) -> Any:
    """The recorded value of a deciding key for one candidate; None for a key
    the `why` does not record (`earliest_joined`, and `coverage`: a split
    step's open workloads are not in it, and are not worked out again)."""
    if key == "count":
        return candidate.get("effective_count")
    if key == "longest_idle":
        return candidate.get("last_assigned") or "never"
    if key == "partner":
        return candidate.get("partner")
    return None


_KEY_WORDS = {
    "count": "the fewest referrals (effective count)",
    "longest_idle": "the longest since its last assignment",
    "earliest_joined": "joined first",
    "partner": "the partner id, in code point order",
    "coverage": "covers the most of the workloads still open",
}


def _text(entry: dict[str, Any]) -> list[str]:
    who = entry["partner"] or "nobody"
    workloads = ", ".join(entry["workloads"])
    head = (
        f"{entry['id']}: request {entry['request']} (customer {entry['customer']}), {workloads}, "
        f"at {entry['at']} (event {entry['event']}): {who} [{entry['basis']}, {entry['status']}]"
    )
    return [head, *("  " + line for line in why_lines(entry))]


def why_lines(entry: dict[str, Any]) -> list[str]:
    """An explained assignment's why (`explain_record`), a line each, the
    candidates indented under the count of partners tried (the text of
    `explain`, and each assignment's why in the HTML report)."""
    lines = []
    if entry["replaces"]:
        lines.append(f"replaces {entry['replaces']}, which its partner declined")
    if entry["reason"]:
        lines.append(f"declined since: {entry['reason']}")
    lines.append(f"counts: {entry['counts']}")
    tried = len(entry["dropped"]) + len(entry["eligible"])
    lines.append(f"{tried} partner{'s' * (tried != 1)} tried, {len(entry['dropped'])} dropped:")
    for dropped in entry["dropped"]:
        lines.append(f"  {dropped['partner']}: dropped by {dropped['gate']}: {dropped['detail']}")
    for eligible in entry["eligible"]:
        lines.append(
            f"  {eligible['partner']}: eligible for {', '.join(eligible['covers'])}; count {eligible['count']} "
            f"(effective {eligible['effective_count']}), last assigned {eligible['last_assigned'] or 'never'}"
        )
    for claim in entry["claims"]:
        verdict = "counts: claims come first" if claim["counts"] else f"does not count: {claim['detail']}"
        lines.append(f"claim of {claim['partner']} on {entry['customer']} {verdict}")
    for decision in entry["decisions"]:
        lines.append(f"{', '.join(decision['workloads'])}: {_decision_text(decision)}")
    if entry["basis"] in ("fallback", "unmatched") and not entry["decisions"]:
        lines.append(f"no eligible partner: {'the fallback takes it' if entry['kind'] == 'fallback' else 'unmatched'}")
    return lines


def _decision_text(decision: dict[str, Any]) -> str:
    order = decision["order"]
    key = decision["decided_by"]
    if len(order) < 2:
        return f"{order[0]}, the only candidate"
    text = f"{order[0]} before {order[1]}, decided by {key} ({_KEY_WORDS.get(key, key)})"
    compared = [c for c in decision["compared"] if c["value"] is not None]
    if key != "partner" and len(compared) == 2:
        text += f": {compared[0]['value']} against {compared[1]['value']}"
    if len(order) > 2:
        text += f"; order {', '.join(order)}"
    return text
