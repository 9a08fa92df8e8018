"""The simulation report as text for people (JSON is the record itself)."""

from __future__ import annotations

from typing import Any

from ..core.formatting import printable

_P = ("p50", "p90", "p99")


def _table(rows: list[list[str]]) -> list[str]:
    """Rows in columns: the first left-aligned, the rest right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  "
        + "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _cells(spread: dict[str, Any]) -> list[str]:
    return [spread.get(p, "-") for p in _P]


def text(report: dict[str, Any]) -> str:
    """The report: header, totals, conversion, milestones, caps, months,
    top earners and, with `--compare`, the paired difference."""
    lines = [printable(_title(report)), "percentiles over runs: P50, P90, P99 (nearest rank); amounts exact", ""]
    lines += _section(report, report["currency"])
    compare = report.get("compare")
    if compare is not None:
        lines += ["", printable(f"compared with {compare['ruleset']} on the same runs (paired):"), ""]
        lines += _section(compare, report["currency"])
        lines += ["", "difference (compared less first ruleset, per run):"]
        rows = [["", "P50", "P90", "P99"]]
        difference = compare["difference"]
        for unit, spread in difference["payouts"].items():
            rows.append([f"payouts {unit}", *_cells(spread)])
        for unit, spread in difference["pending"].items():
            rows.append([f"pending {unit}", *_cells(spread)])
        lines += _table(rows) if len(rows) > 1 else ["  no awards under either"]
        lines.append(f"  runs that differ: {difference['runs_differ']} of {report['runs']}")
    return "\n".join(lines) + "\n"


def _title(report: dict[str, Any]) -> str:
    months = report["months_simulated"]
    span = f"{months[0]} to {months[-1]} ({len(months)} months)" if months else "no months"
    source = report.get("scenario") or {}
    what = f"scenario {source.get('name', '')!r}" if source else f"ledger {report.get('ledger', '')}"
    what += sampled(report)
    return f"{report['ruleset']}: {what}, {report['runs']} run(s), seed {report.get('seed') if report.get('seed') is not None else '-'}, {span}, {report['currency']}"


def sampled(report: dict[str, Any]) -> str:
    """What a backtest on a sample says of it in its title: its figures are
    the sample's, not scaled to the whole ledger."""
    sample = report.get("sample")
    if sample is None:
        return ""
    return f" (a sample: {sample['referrers']:,} of its {sample['of']:,} referrers; figures not scaled)"


def _section(report: dict[str, Any], unit: str) -> list[str]:
    """One rule file's tables; `unit` (the currency) is the one of the
    cost columns, whatever other units the rules pay."""
    rows = [["", "P50", "P90", "P99"]]
    for paid, spread in report["payouts"].items():
        rows.append([f"payouts {paid}", *_cells(spread)])
    for held, spread in report["pending"].items():
        rows.append([f"pending (held) {held}", *_cells(spread)])
    rows.append(["revenue attributed", *_cells(report["revenue"])])
    rows.append(["customers", *_cells(report["customers"])])
    rows.append(["cost per customer", *_cells(report["cost_per_customer"])])
    rows.append(["ROI", *_cells(report["roi"])])
    lines = _table(rows)
    lines += ["", "conversion (all runs):"]
    rows = [["source", "sales", "leads", "customers", "rate"]]
    for entry in report["conversion"]:
        rows.append(
            [
                entry["source"] or "-",
                "yes" if entry["sales_involved"] else "no",
                str(entry["leads"]),
                str(entry["customers"]),
                entry["rate"],
            ]
        )
    lines += _table(rows) if len(rows) > 1 else ["  no leads"]
    lines += ["", "milestones:"]
    rows = [["milestone", "runs hit", "awards P50", "P90", "P99", f"cost {unit} P50", "P90", "P99"]]
    for entry in report["milestones"]:
        rows.append(
            [
                f"{entry['program']}.{entry['milestone']}",
                str(entry["runs_hit"]),
                *_cells(entry["awards"]),
                *_cells(entry["cost"]),
            ]
        )
    lines += _table(rows) if len(rows) > 1 else ["  none reached"]
    lines += ["", "caps reached (awards cut to what a cap left):"]
    rows = [["milestone", "runs hit", "cut P50", "P90", "P99"]]
    for entry in report["capped"]:
        rows.append([f"{entry['program']}.{entry['milestone']}", str(entry["runs_hit"]), *_cells(entry["awards"])])
    lines += _table(rows) if len(rows) > 1 else ["  none"]
    lines += ["", "rewards withheld (a cap full, or no amount):"]
    rows = [["milestone", "reason", "runs hit", "withheld P50", "P90", "P99"]]
    for entry in report["withheld"]:
        rows.append([entry["milestone"], entry["reason"], str(entry["runs_hit"]), *_cells(entry["rewards"])])
    lines += _table(rows) if len(rows) > 1 else ["  none"]
    lines += ["", "tiers reached at the horizon (referrers or referrals in each row of a rate table):"]
    lines += _tiers(report)
    lines += ["", "by month (payouts in the month, paid so far, revenue):"]
    lines += _months(report, unit)
    lines += ["", "top earners:"]
    rows = [["referrer", "mean", "P50", "P90", "P99"]]
    for entry in report["top_earners"]:
        rows.append([entry["referrer"], entry["mean"], *_cells(entry["per_run"])])
    lines += _table(rows) if len(rows) > 1 else ["  none"]
    return [printable(line) for line in lines]


def _tiers(report: dict[str, Any]) -> list[str]:
    rows = [["table", "tier", "counts", "runs hit", "P50", "P90", "P99"]]
    for entry in report["tiers"]:
        rows.append(
            [
                f"{entry['program']}.{entry['table']}",
                entry["tier"],
                entry["counts"],
                str(entry["runs_hit"]),
                *_cells(entry["reached"]),
            ]
        )
    return _table(rows) if len(rows) > 1 else ["  no rate table"]


def _months(report: dict[str, Any], unit: str) -> list[str]:
    rows = [["month", f"paid {unit} P50", "P90", "P99", "so far P50", "P90", "P99", "revenue P50"]]
    for month in report["months"]:
        paid = month["payouts"].get(unit, {})
        so_far = month["cumulative_payouts"].get(unit, {})
        rows.append([month["month"], *_cells(paid), *_cells(so_far), month["revenue"].get("p50", "-")])
    return _table(rows)
