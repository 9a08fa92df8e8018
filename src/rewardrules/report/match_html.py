"""`rewardrules report` for matching files: a matching run as one HTML page.

What a program manager asks of a matching run: how many referrals each
partner received and what it did with them, who accepts fewer than the
rules ask (per country, per quarter, with the counts), which parts were
declined and who took them next, what went to the fallback or to nobody,
and for every assignment the why. The figures are `match --format json`'s
(`MatchResult.to_dict`), the why is the one the matcher recorded, told as
`explain` tells it (`match_explain.explain_record`).

Partner, customer and request names come from the ledger: untrusted. The
page is rendered as the scoring report is (`report.html`): autoescaped
templates, the package's own stylesheet allowed by its hash, no script at
all, nothing loaded.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from ..core.formatting import printable
from ..match.api import MatchResult
from .html import _csp_hash, _environment, _load_template
from .match_explain import explain_record, why_lines


def build_match_view(result: MatchResult, ledger: str | None = None) -> dict[str, Any]:
    """Everything the page shows, in plain values: the template only lays it out."""
    data = result.to_dict()
    records = data["assignments"]
    replaced_by = {r["replaces"]: r for r in records if r["replaces"]}
    report = data["acceptance"]
    rows = report["rows"] if report is not None else []
    return {
        "title": result.rules.title or result.rules.name,
        "matching": result.rules.name,
        "ledger": ledger,
        "as_of": data["as_of"],
        "assignment_count": len(records),
        "request_count": len({r["request"] for r in records}),
        "partners": _per_partner(records),
        "acceptance": report,
        "acceptance_rows": rows,
        "below": [row for row in rows if row["below"]],
        "declines": [_decline(r, replaced_by.get(r["id"])) for r in records if r["status"] == "declined"],
        "elsewhere": [r for r in records if r["kind"] != "partner"],
        "assignments": [_with_why(r) for r in records],
    }


def _per_partner(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per partner (and the fallback, and nobody): the parts received and
    what became of them, by partner id."""
    table: dict[tuple[int, str], dict[str, Any]] = {}
    for record in records:
        order = {"partner": 0, "fallback": 1, "none": 2}[record["kind"]]
        name = record["partner"] if record["partner"] is not None else "(unmatched)"
        row = table.setdefault(
            (order, name),
            {"partner": name, "kind": record["kind"], "received": 0, "accepted": 0, "declined": 0, "pending": 0},
        )
        row["received"] += 1
        if record["status"] in ("accepted", "declined", "pending"):
            row[record["status"]] += 1
    return [table[key] for key in sorted(table)]


def _decline(record: dict[str, Any], replacement: dict[str, Any] | None) -> dict[str, Any]:
    """A declined part and who holds it next (the assignment that replaces it)."""
    then = None
    if replacement is not None:
        then = replacement["partner"] or "nobody (unmatched)"
    return {**record, "then": then}


def _with_why(record: dict[str, Any]) -> dict[str, Any]:
    """An assignment with its why as `explain` tells it, a line each."""
    return {**record, "why_lines": [printable(line) for line in why_lines(explain_record(record))]}


def render_match_html(result: MatchResult, ledger: str | None = None) -> str:
    """The report page of a matching result (`MatchResult`, not narrowed to a request)."""
    from .. import __version__

    style = _load_template("report.css")
    view = build_match_view(result, ledger)
    return (
        _environment()
        .get_template("match_report.html.j2")
        .render(
            **view,
            version=__version__,
            style=Markup(style),
            csp=(
                "default-src 'none'; img-src data:; "
                f"style-src {_csp_hash(style)}; script-src 'none'; "
                "base-uri 'none'; form-action 'none'"
            ),
        )
    )
