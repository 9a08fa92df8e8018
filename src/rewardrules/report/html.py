"""Report stage, for people: a scoring result -> one self-contained HTML page.

`rewardrules report` writes what `score --format json` computes as a page a
program manager can open offline: totals per unit and status, awards over
time (inline SVG drawn here, no chart library, no CDN), a funnel of
referrals per milestone, top referrers, and every award with its
explanation, searchable.

Award fields, names and messages come from ledgers and rule files:
untrusted. The templates autoescape every value; the page's only script and
stylesheet are files of this package, allowed by a Content-Security-Policy
that names their hashes, so nothing a ledger smuggles in can run. Geometry
is computed here in plain numbers; the markup is in the templates.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, localcontext
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FunctionLoader, StrictUndefined
from markupsafe import Markup

from ..core.formatting import printable
from ..core.runtime import CONTEXT, in_context
from ..core.units import is_additive, is_currency
from ..score.arguments import expect, expect_program, path_name

if TYPE_CHECKING:
    from ..score.api import Program

__all__ = ["render_html"]

STATUSES = ("confirmed", "pending", "void")
#: Statuses in totals: those of awards, and `reversed` for reversals (a
#: confirmed award taken back by a later event).
TOTAL_STATUSES = (*STATUSES, "reversed")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: Most bars one chart draws before it groups by a longer period.
MAX_BARS = 40
TOP_REFERRERS = 10
#: Award rows shown at once: a browser lays out tens of thousands of table
#: rows slowly, so the rest wait behind the filter and "Show more".
PAGE_SIZE = 500


# -- amounts ---------------------------------------------------------------
def display_amount(amount: str | Decimal, unit: str) -> str:
    """`2167.50` USD -> `2,167.50 USD`: thousands separated, every decimal
    kept (the figures are the JSON output's, only grouped)."""
    value = Decimal(amount)
    text = f"{value:,f}"
    if unit == "percent":
        return f"{text}%"
    if unit == "item":
        return f"{text} item" + ("" if value == 1 else "s")
    return f"{text} {unit.replace('_', ' ')}"


def measure(award: dict[str, Any]) -> Decimal:
    """What an award adds to a sum in its unit: its amount, one for an
    item, and one (an award counted) in a unit that does not add up
    (percent: see `units.is_additive`)."""
    if award["unit"] == "item" or not is_additive(award["unit"]):
        return Decimal(1)
    return Decimal(award["amount"])


def display_measure(value: Decimal, unit: str) -> str:
    """A sum of `measure`s: an amount, or a number of awards for percent."""
    if is_additive(unit):
        return display_amount(value, unit)
    return f"{value:,f} award" + ("" if value == 1 else "s")


def display_total(total: dict[str, Any]) -> str:
    """A line of `totals`: its sum, or `5 × 20%` for a unit that does not
    add up (count and rate)."""
    if total.get("each"):
        return f"{total['count']:,} × {display_amount(total['amount'], total['unit'])}"
    return display_amount(total["amount"], total["unit"])


def _reward_text(award: dict[str, Any]) -> str:
    """What an award (or a withheld reward) pays: `cash 2,167.50 USD`,
    `discount 20%`, an item's name; `cash (USD, no amount)` for a withheld
    reward whose amount has no value."""
    kind = award["kind"].replace("_", " ")
    if award["kind"] == "item":
        return str(award["item"])
    if award.get("amount") is None:
        return f"{kind} ({award['unit'].replace('_', ' ')}, no amount)"
    return f"{kind} {display_amount(award['amount'], award['unit'])}"


# -- awards over time ------------------------------------------------------
@dataclass(slots=True)
class Segment:
    status: str
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(slots=True)
class Tick:
    value: float
    label: str


@dataclass(slots=True)
class Chart:
    """A stacked bar chart of one unit's awards per period, in SVG units."""

    unit: str
    period: str
    width: int
    height: int
    left: int
    top: int
    plot_width: float
    plot_height: float
    segments: list[Segment] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_labels: list[Tick] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # the same figures as a table
    summary: str = ""


_PERIODS = ("day", "week", "month", "quarter", "year")


def _period_start(day: date, period: str) -> date:
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def _next_period(start: date, period: str) -> date:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _period_label(start: date, period: str) -> str:
    if period in ("day", "week"):
        return f"{_MONTHS[start.month - 1]} {start.day}"
    if period == "month":
        return f"{_MONTHS[start.month - 1]} {start.year}"
    if period == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return str(start.year)


def _periods(first: date, last: date) -> tuple[str, list[date]]:
    """The shortest period that draws the range in at most MAX_BARS bars."""
    for period in _PERIODS:
        starts = [_period_start(first, period)]
        while _next_period(starts[-1], period) <= last and len(starts) <= MAX_BARS:
            starts.append(_next_period(starts[-1], period))
        if len(starts) <= MAX_BARS:
            return period, starts
    return "year", starts  # pragma: no cover - only past 40 years of awards


#: the round steps of the y axis, times a power of ten
_STEP_FACTORS = tuple(Decimal(f) for f in ("0.1", "0.2", "0.25", "0.5", "1", "2", "2.5", "5", "10"))


def _nice_step(top: Decimal | int | float) -> Decimal:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving <= 5 ticks.
    Exact: the labels are amounts of money, and a binary float would write
    a 25-digit total's ticks as approximations."""
    top = Decimal(top)
    if top <= 0:
        return Decimal(1)
    magnitude = Decimal(1).scaleb(top.adjusted())
    for factor in _STEP_FACTORS:
        step = factor * magnitude
        if top <= 5 * step:
            return step
    return 10 * magnitude  # pragma: no cover


def _tick_label(value: Decimal, step: Decimal) -> str:
    """An axis label, exactly: grouped thousands, and as many decimals as
    the step has (0.25 steps: 0.00, 0.25, ...; whole steps: none)."""
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # a step is finite: never NaN's "n" or infinity's "F"
    places = max(0, -exponent)
    return f"{value:,.{places}f}"


def awards_chart(awards: list[dict[str, Any]], unit: str) -> Chart:
    """Bars per period (day, week, month, ...) of one unit's awards by the
    date they were earned, stacked by status. Sums and axis labels are
    exact, in the scoring context: the caller's cannot round them."""
    with localcontext(CONTEXT):
        return _awards_chart(awards, unit)


def _awards_chart(awards: list[dict[str, Any]], unit: str) -> Chart:
    mine = [a for a in awards if a["unit"] == unit]
    days = [date.fromisoformat(a["at"][:10]) for a in mine]
    period, starts = _periods(min(days), max(days))
    index = {start: i for i, start in enumerate(starts)}
    sums = [dict.fromkeys(STATUSES, Decimal(0)) for _ in starts]
    counts = [Counter[str]() for _ in starts]
    for award, day in zip(mine, days, strict=True):
        slot = index[_period_start(day, period)]
        sums[slot][award["status"]] += measure(award)
        counts[slot][award["status"]] += 1
    chart = Chart(unit, period, width=720, height=260, left=72, top=16, plot_width=632, plot_height=200)
    highest = max(sum(s.values()) for s in sums)
    step = _nice_step(highest)
    whole, rest = divmod(highest, step)
    steps = max(1, int(whole) + (1 if rest else 0))
    top = float(step * steps)  # geometry from here: positions, not amounts
    chart.y_ticks = [
        Tick(round(chart.plot_height * (1 - i / steps), 2), _tick_label(i * step, step)) for i in range(steps + 1)
    ]
    slot_width = chart.plot_width / len(starts)
    bar_width = min(48.0, max(1.0, slot_width * 0.72))
    every = -(-len(starts) // 10)  # at most about ten labels under the axis
    for i, start in enumerate(starts):
        x = i * slot_width + (slot_width - bar_width) / 2
        base = chart.plot_height
        label = _period_label(start, period)
        for status in STATUSES:
            amount = sums[i][status]
            if not amount:
                continue
            height = chart.plot_height * float(amount) / top
            base -= height
            chart.segments.append(
                Segment(
                    status,
                    round(x, 2),
                    round(base, 2),
                    round(bar_width, 2),
                    round(height, 2),
                    f"{_period_title(start, period)}: {display_measure(amount, unit)} {status}"
                    f" ({counts[i][status]} award{'s' if counts[i][status] != 1 else ''})",
                )
            )
        if i % every == 0:
            chart.x_labels.append(Tick(round(i * slot_width + slot_width / 2, 2), label))
        if any(sums[i].values()):
            chart.rows.append(
                {
                    "period": _period_title(start, period),
                    **{s: display_measure(sums[i][s], unit) if sums[i][s] else "" for s in STATUSES},
                }
            )
    total = sum((measure(a) for a in mine), Decimal(0))
    in_all = f", {display_amount(total, unit)} in all" if is_additive(unit) else ""
    chart.summary = (
        f"{len(mine)} award{'s' if len(mine) != 1 else ''} in {unit}{in_all}, "
        f"from {_period_title(starts[0], period)} to {_period_title(starts[-1], period)}, by {period}."
    )
    return chart


def _period_title(start: date, period: str) -> str:
    if period == "day":
        return start.isoformat()
    if period == "week":
        return f"week of {start.isoformat()}"
    return _period_label(start, period)


# -- funnel ----------------------------------------------------------------
def _funnels(program: Program, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Per program: referrals -> eligible -> each milestone reached (per
    referral), then per-referrer milestones out of the referrers."""
    referrals = data.get("referrals", [])
    referrers = data.get("referrers", [])
    checked = program.compiled.checked
    out = []
    for info in checked.programs:
        entries = [p for r in referrals for p in r["programs"] if p["program"] == info.name]
        eligible = [p for p in entries if p["eligible"]]
        reached: Counter[str] = Counter()
        for entry in eligible:
            for milestone in entry["milestones"]:
                if milestone["reached"]:
                    reached[milestone["milestone"]] += 1
        steps = [_step("Referrals", len(referrals), len(referrals))]
        if info.eligible:
            steps.append(_step("Eligible", len(eligible), len(referrals)))
        per_referrer = []
        mine = [r for r in referrers if r["program"] == info.name]
        # Referrers with at least one eligible referral in this program.
        active = len(
            {r["referrer"] for r in referrals for p in r["programs"] if p["program"] == info.name and p["eligible"]}
        )
        for milestone in info.milestones:
            title = milestone.title or milestone.name
            if milestone.level == "referral":
                steps.append(_step(title, reached[milestone.name], len(referrals), milestone.name))
            else:
                count = sum(
                    1 for r in mine for m in r["milestones"] if m["milestone"] == milestone.name and m["reached"]
                )
                per_referrer.append(_step(title, count, active, milestone.name))
        out.append(
            {
                "name": info.name,
                "title": info.title or (checked.title if len(checked.programs) == 1 else None) or info.name,
                "steps": steps,
                "per_referrer": per_referrer,
                "referrers": active,
            }
        )
    return out


def _step(label: str, count: int, of: int, milestone: str | None = None) -> dict[str, Any]:
    share = count / of if of else 0.0
    return {
        "label": label,
        "milestone": milestone,
        "count": count,
        "of": of,
        "percent": f"{share:.0%}",
        "bar": round(100 * share, 2),
    }


# -- referrers -------------------------------------------------------------
def _top_referrers(data: dict[str, Any]) -> dict[str, Any]:
    """Referrers ranked by what they earned (not void) in the currency most
    of their awards are in (else the unit), then by number of awards."""
    earned: dict[str, dict[str, Decimal]] = {}
    awards: Counter[str] = Counter()
    units: Counter[str] = Counter()
    for award in data["awards"]:
        if award["role"] != "referrer" or award["status"] == "void":
            continue
        who = award["beneficiary"]
        amount = measure(award)
        per_unit = earned.setdefault(who, {})
        per_unit[award["unit"]] = per_unit.get(award["unit"], Decimal(0)) + amount
        awards[who] += 1
        units[award["unit"]] += 1
    referred = Counter(r["referrer"] for r in data.get("referrals", []))
    main = min(units, key=lambda u: (not is_currency(u), -units[u], u)) if units else None
    ranked = sorted(
        earned,
        key=lambda who: (-(earned[who].get(main, Decimal(0)) if main else Decimal(0)), -awards[who], who),
    )
    rows = [
        {
            "referrer": who,
            "referrals": referred.get(who, 0),
            "awards": awards[who],
            "earned": [
                display_measure(v, u) + ("" if is_additive(u) else f" in {u}")
                for u, v in sorted(earned[who].items(), key=lambda kv: (kv[0] != main, kv[0]))
            ],
        }
        for who in ranked[:TOP_REFERRERS]
    ]
    return {"rows": rows, "count": len(earned), "main_unit": main}


# -- the page --------------------------------------------------------------
def _award_row(award: dict[str, Any], titles: dict[tuple[str, str], str], programs: int) -> dict[str, Any]:
    why = award.get("why") or {}  # a settled award listed as told may have none
    values = [f"{name} = {value}" for name, value in why.get("values", {}).items()]
    milestone = titles.get((award["program"], award["milestone"]), award["milestone"])
    return {
        "id": award["id"],
        "at": award["at"],
        "day": award["at"][:10],
        "milestone": award["milestone"],
        "milestone_title": milestone,
        "program": award["program"] if programs > 1 else None,
        "role": award["role"],
        "beneficiary": award["beneficiary"],
        "referrer": award["referrer"],
        "referee": award["referee"],
        "reward": _reward_text(award),
        "amount": award["amount"],
        "unit": award["unit"],
        "status": award["status"],
        "event": why.get("event"),
        "why_values": values,
        "occurrence": why.get("occurrence"),
        "capped": bool(why.get("capped")),
        "uncapped": why.get("uncapped") if why.get("capped") else None,
        "message": award.get("message"),
    }


def _unit_summaries(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One card per unit: how much in each status, how many awards and
    reversals."""
    cards: dict[str, dict[str, Any]] = {}
    for total in data["totals"]:
        card = cards.setdefault(total["unit"], {"awards": 0, "reversals": 0, "by_status": {}})
        card["reversals" if total["status"] == "reversed" else "awards"] += total["count"]
        # a unit that does not add up keeps one line per rate: `5 × 20%`
        card["by_status"].setdefault(total["status"], []).append(total)
    out = []
    for unit in sorted(cards, key=lambda u: (not is_currency(u), -cards[u]["awards"], u)):
        card = cards[unit]
        count = _plural(card["awards"], "award") + (
            f", {_plural(card['reversals'], 'reversal')}" if card["reversals"] else ""
        )
        out.append(
            {
                "unit": unit,
                "count": count,
                "statuses": [
                    {"status": s, "amount": _status_amount(card["by_status"][s], unit)}
                    for s in TOTAL_STATUSES
                    if s in card["by_status"]
                ],
            }
        )
    return out


def _status_amount(totals: list[dict[str, Any]], unit: str) -> str:
    """The amount of one status on a unit's card: the sum of its totals
    (one per kind), or their counts per rate for a unit that does not add up."""
    if is_additive(unit):
        return display_amount(sum((Decimal(t["amount"]) for t in totals), Decimal(0)), unit)
    rates: dict[Decimal, int] = {}
    for t in totals:
        rates[Decimal(t["amount"])] = rates.get(Decimal(t["amount"]), 0) + t["count"]
    return ", ".join(f"{n:,} × {display_amount(rate, unit)}" for rate, n in sorted(rates.items()))


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@in_context
def build_view(program: Program, data: dict[str, Any], ledger: str | None = None) -> dict[str, Any]:
    """Everything the template shows, computed from the result record."""
    checked = program.compiled.checked
    if data.get("ruleset") != checked.name:
        raise ValueError(
            f"the result is of ruleset `{data.get('ruleset')}`, not of the program's `{checked.name}`: "
            "pass the program that scored it"
        )
    titles = {(p.name, m.name): m.title or m.name for p in checked.programs for m in p.milestones}
    awards = data["awards"]
    counts = Counter(a["unit"] for a in awards)
    units = sorted(counts, key=lambda u: (not is_currency(u), -counts[u], u))  # money first
    rejected = Counter(r["reason"] for r in data.get("rejected", []))
    return {
        "ruleset": data["ruleset"],
        "title": checked.title or data["ruleset"],
        "as_of": data["as_of"],
        "ledger": ledger,
        "award_count": len(awards),
        "referral_count": len(data.get("referrals", [])),
        "referrer_count": len({r["referrer"] for r in data.get("referrals", [])}),
        "totals": [{**t, "display": display_total(t)} for t in data["totals"]],
        "cards": _unit_summaries(data),
        "charts": [awards_chart(awards, unit) for unit in units],
        "funnels": _funnels(program, data),
        "top": _top_referrers(data),
        "awards": [_award_row(a, titles, len(checked.programs)) for a in awards],
        "withheld": [
            {**w, "milestone_title": _title_of(titles, w["milestone"]), "reward": _reward_text(w)}
            for w in data.get("withheld", [])
        ],
        "rejected": data.get("rejected", []),
        "reversals": [
            {
                **r,
                "milestone_title": titles.get((r["program"], r["milestone"]), r["milestone"]),
                "reward": _reward_text(r),
            }
            for r in data.get("reversals", [])
        ],
        "rejected_summary": ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in sorted(rejected.items())),
        "statuses": STATUSES,
        "page_size": PAGE_SIZE,
    }


def _title_of(titles: dict[tuple[str, str], str], milestone: str) -> str:
    for (_program, name), title in titles.items():
        if name == milestone:
            return title
    return milestone


def _load_template(name: str) -> str:
    return (resources.files("rewardrules") / "templates_html" / name).read_text(encoding="utf-8")


@cache
def _environment() -> Environment:
    # Autoescape on for every template, whatever its name: every value shown
    # may come from a ledger; and each written as text outputs write it.
    return Environment(
        loader=FunctionLoader(_load_template),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_as_text,
    )


def _as_text(value: Any) -> Any:
    """Every value a template writes, as the text outputs write it: its
    control, format and bidi characters as escapes (`printable`), line by
    line (a `<pre>` keeps its lines). A referrer `\u202e...` reversed how
    the rest of its cell read (review, 2026-12-08). The page's own
    stylesheet and script (`Markup`) are written as they are."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return "\n".join(map(printable, value.split("\n")))
    return value


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


@in_context
def render_html(program: Program, data: dict[str, Any], ledger: str | os.PathLike[str] | None = None) -> str:
    """The report page for one scoring result (`ScoreResult.data`, scored
    with explanations) of `program`: ValueError for a result of another
    ruleset, whose funnel and titles would be drawn from the wrong rules."""
    from .. import __version__

    expect_program(program)
    expect(data, dict, "data", "pass the result's data (ScoreResult.data)")
    ledger = None if ledger is None else path_name(ledger, "ledger")

    # The page's own stylesheet and script: package files, trusted, inlined
    # verbatim and allowed by hash; nothing else may run or style the page.
    style = _load_template("report.css")
    script = _load_template("report.js")
    view = build_view(program, data, ledger)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            **view,
            version=__version__,
            style=Markup(style),
            script=Markup(script),
            csp=(
                "default-src 'none'; img-src data:; "
                f"style-src {_csp_hash(style)}; script-src {_csp_hash(script)}; "
                "base-uri 'none'; form-action 'none'"
            ),
        )
    )
