"""A simulation's report as one offline HTML page (`simulate --format html`).

Takes the report record `rewardrules simulate --format json` writes and
gives a self-contained page: the totals' percentiles, a fan chart of the
cumulative cost month by month (the P50 line inside its P90 and P99
bands), each milestone's awards and cost per run with a bar chart of the
cost's distribution over runs, the cap hit table, the tier table
(who is in each row of a rate table) and the top earners. No script; the stylesheet is inline and allowed by its hash, and
nothing else may load (`default-src 'none'`). Every text from outside (rule
file paths, scenario and referrer names) is escaped.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from ..core.runtime import in_context
from ..simulate.render import sampled
from .html import _csp_hash

_P = ("p50", "p90", "p99")
_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 980px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { padding: .2em .7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { color: #555; }
svg text { font-size: 11px; fill: #444; }
"""
#: the fan chart's size and margins, in SVG units
_W, _H, _LEFT, _RIGHT, _BOTTOM, _TOP = 760, 300, 80, 40, 30, 10


@in_context
def render_simulation(report: dict[str, Any]) -> str:
    """The page for a simulation's report record."""
    unit = str(report["currency"])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src {_csp_hash(_STYLE)}">',
        f"<title>{escape(_title(report))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(_title(report))}</h1>",
        '<p class="note">Percentiles over runs: P50, P90, P99 (nearest rank); amounts exact.</p>',
        *_section(report, unit, ""),
    ]
    compare = report.get("compare")
    if compare is not None:
        parts.append(f"<h2>Compared with {escape(str(compare['ruleset']))} on the same runs</h2>")
        parts += _section(compare, unit, "compare-")
        rows = [[f"payouts {u}", *_cells(s)] for u, s in compare["difference"]["payouts"].items()]
        parts.append("<h2>Difference per run (compared less first)</h2>")
        parts.append(_table("difference", ["", "P50", "P90", "P99"], rows))
        parts.append(f"<p>Runs that differ: {compare['difference']['runs_differ']} of {report['runs']}</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _title(report: dict[str, Any]) -> str:
    scenario = report.get("scenario")
    what = f"scenario {scenario['name']}" if scenario else f"ledger {report.get('ledger', '')}"
    what += sampled(report)
    return f"Simulation of {report['ruleset']}: {what}, {report['runs']} run(s)"


def _cells(spread: dict[str, Any]) -> list[str]:
    return [str(spread.get(p, "-")) for p in _P]


def _table(name: str, head: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return f'<p id="{name}" class="note">None.</p>'
    header = "".join(f"<th>{escape(cell)}</th>" for cell in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table id="{name}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _section(report: dict[str, Any], unit: str, prefix: str) -> list[str]:
    """One rule file's tables and chart; `prefix` keeps their ids apart
    from the compared file's."""
    head = ["", "P50", "P90", "P99"]
    totals = [[f"payouts {u}", *_cells(s)] for u, s in report["payouts"].items()]
    totals += [[f"pending (held) {u}", *_cells(s)] for u, s in report["pending"].items()]
    totals += [[label, *_cells(report[key])] for key, label in _FIGURES]
    milestones = [
        [f"{m['program']}.{m['milestone']}", str(m["runs_hit"]), *_cells(m["awards"]), *_cells(m["cost"])]
        for m in report["milestones"]
    ]
    capped = [[f"{c['program']}.{c['milestone']}", str(c["runs_hit"]), *_cells(c["awards"])] for c in report["capped"]]
    withheld = [[w["milestone"], w["reason"], str(w["runs_hit"]), *_cells(w["rewards"])] for w in report["withheld"]]
    earners = [[e["referrer"], e["mean"], *_cells(e["per_run"])] for e in report["top_earners"]]
    tiers = [
        [f"{t['program']}.{t['table']}", t["tier"], t["counts"], str(t["runs_hit"]), *_cells(t["reached"])]
        for t in report.get("tiers", [])
    ]
    return [
        _table(f"{prefix}totals", head, totals),
        f"<h2>Cumulative cost, {escape(unit)}, by month</h2>",
        _fan(report["months"], unit, f"{prefix}fan"),
        "<h2>Milestones: awards and cost per run</h2>",
        _table(
            f"{prefix}milestones",
            ["milestone", "runs hit", "awards P50", "P90", "P99", f"cost {unit} P50", "P90", "P99"],
            milestones,
        ),
        f"<h2>Distributions per milestone: runs by cost, {escape(unit)}</h2>",
        *(_histogram(m, f"{prefix}distribution-{index}") for index, m in enumerate(report["milestones"])),
        "<h2>Caps: awards cut to what a cap left</h2>",
        _table(f"{prefix}capped", ["milestone", "runs hit", "P50", "P90", "P99"], capped),
        "<h2>Tiers: referrers or referrals in each row of a rate table at the horizon</h2>",
        _table(f"{prefix}tiers", ["table", "tier", "counts", "runs hit", "P50", "P90", "P99"], tiers),
        "<h2>Rewards withheld</h2>",
        _table(f"{prefix}withheld", ["milestone", "reason", "runs hit", "P50", "P90", "P99"], withheld),
        "<h2>Top earners</h2>",
        _table(f"{prefix}earners", ["referrer", "mean", "P50", "P90", "P99"], earners),
    ]


_FIGURES = (
    ("revenue", "revenue attributed"),
    ("customers", "customers"),
    ("cost_per_customer", "cost per customer"),
    ("roi", "ROI"),
)


#: a milestone's distribution chart: its size and margins, in SVG units
_HW, _HH, _HBOTTOM, _HTOP = 760, 150, 34, 30


def _histogram(milestone: dict[str, Any], name: str) -> str:
    """An SVG bar chart of a milestone's cost per run: one bar per bin,
    as high as the runs in it, its bounds under it."""
    bins = milestone["distribution"]
    title = f"{milestone['program']}.{milestone['milestone']}"
    most = max((b["runs"] for b in bins), default=0) or 1
    step = (_HW - _LEFT - _RIGHT) / max(len(bins), 1)
    usable = _HH - _HBOTTOM - _HTOP
    bars = []
    for index, b in enumerate(bins):
        height = usable * b["runs"] / most
        x = _LEFT + index * step
        bars.append(
            f'<rect class="bin" x="{x + 1:.1f}" y="{_HTOP + usable - height:.1f}" width="{step - 2:.1f}" '
            f'height="{height:.1f}" fill="#8fb5e6"><title>{escape(b["from"])} to {escape(b["to"])}: '
            f"{b['runs']} run(s)</title></rect>"
            f'<text x="{x + step / 2:.1f}" y="{_HH - _HBOTTOM + 14}" text-anchor="middle">{escape(b["from"])}</text>'
            f'<text x="{x + step / 2:.1f}" y="{_HTOP + usable - height - 3:.1f}" text-anchor="middle">{b["runs"]}</text>'
        )
    return (
        f'<svg id="{name}" class="distribution" viewBox="0 0 {_HW} {_HH}" width="{_HW}" height="{_HH}" role="img" '
        f'aria-label="{escape(title)}: runs by cost">'
        f'<text x="{_LEFT}" y="11">{escape(title)} (bars: runs; under each: the least cost of its bin)</text>'
        f"{''.join(bars)}"
        f'<line x1="{_LEFT}" y1="{_HH - _HBOTTOM}" x2="{_HW - _RIGHT}" y2="{_HH - _HBOTTOM}" stroke="#999"/></svg>'
    )


def _fan(months: list[dict[str, Any]], unit: str, name: str) -> str:
    """An SVG fan chart: P50 of the cost paid so far, inside the P50-P90
    and P90-P99 bands."""
    if not months:
        return '<p class="note">No months.</p>'
    series = {p: [Decimal(m["cumulative_payouts"].get(unit, {}).get(p, "0")) for m in months] for p in _P}
    top = max(series["p99"]) or Decimal(1)
    step = (_W - _LEFT - _RIGHT) / max(len(months) - 1, 1)

    def point(index: int, value: Decimal) -> str:
        y = _TOP + (_H - _TOP - _BOTTOM) * (1 - float(value / top))
        return f"{_LEFT + index * step:.1f},{y:.1f}"

    def line(p: str) -> list[str]:
        return [point(i, v) for i, v in enumerate(series[p])]

    def band(low: str, high: str, fill: str) -> str:
        points = " ".join([*line(high), *reversed(line(low))])
        return f'<polygon class="band" points="{points}" fill="{fill}" stroke="none"/>'

    labels = "".join(
        f'<text x="{_LEFT + i * step:.1f}" y="{_H - 8}" text-anchor="middle">{escape(m["month"])}</text>'
        for i, m in enumerate(months)
    )
    ticks = "".join(
        f'<text x="{_LEFT - 6}" y="{_TOP + (_H - _TOP - _BOTTOM) * (1 - share) + 4:.1f}" text-anchor="end">'
        f"{escape(str((top * Decimal(str(share))).quantize(Decimal(1))))}</text>"
        for share in (0, 0.5, 1)
    )
    return (
        f'<svg id="{name}" class="fan" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
        f'aria-label="cumulative cost by month, P50 with P90 and P99 bands">'
        f"{band('p90', 'p99', '#cfe0f5')}{band('p50', 'p90', '#8fb5e6')}"
        f'<polyline class="p50" points="{" ".join(line("p50"))}" fill="none" stroke="#1f4e8c" stroke-width="2"/>'
        f'<line x1="{_LEFT}" y1="{_H - _BOTTOM}" x2="{_W - _RIGHT}" y2="{_H - _BOTTOM}" stroke="#999"/>'
        f"{labels}{ticks}</svg>"
    )
