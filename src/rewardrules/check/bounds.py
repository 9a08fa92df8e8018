"""Payout bounds: the most one referral and one referrer can earn, from the rules alone.

Part of the lint stage: reads only the checked model (``check --bounds``).
For each program, each role and each unit (an item counts per item name):

* **per referral**: what one referral earns its referrer, or its referee,
  from the program's per-referral milestones. A referee belongs to one
  referral, so the referee's figure also counts the per-referrer milestones
  that pay the referee whose event reached them.
* **per referrer**: what one referrer earns from the program over all their
  referrals, per-referrer milestones included.

One milestone's share is the most one award pays (a fixed amount, rounded
like the engine rounds money; a computed amount such as
`15% of payment.amount` has no upper bound) times the most awards it gives
(`when` and `first`: one; `each`, `whenever`, `every`: no limit). Caps then
bound it: a lifetime cap of the same role and unit (in the milestone or the
program) bounds it for life, a per-period cap bounds it per period. Since a
capped award is cut to what remains, a per-period cap P also bounds the
whole: by k x P when at most k awards are given, and by n x P when every
award falls in a `within` window (of `each`, or of the metric of
`whenever`) that spans at most n calendar periods.
Per referrer, a per-referral milestone repeats for every referral, and the
number of referrals has no limit. Shares add up per role and unit, and the
program's caps bound the sum.

A unit that does not add up (percent: see `units.is_additive`) is not
summed: its bound is the most awards of each rate (`at most 2 award(s) of
10 percent`), the way totals count such awards. A lifetime cap C in that
unit (the engine counts rates against it, cutting the last award) allows at
most ceil(C / R) awards of rate R; a per-period cap bounds no count for life.
A rate computed from the ledger has no upper bound unless a lifetime cap
cuts each award to it, and no cap bounds the number of such awards. Its
``total`` is the largest rate of one award, None when some count has no
limit or a computed rate no upper bound.

Every bound is an upper bound that holds for every ledger; every
"unbounded" comes with the reasons.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

from ..core.datatypes import DURATION_UNITS, PERIODS
from ..core.runtime import in_context
from ..core.units import format_amount, is_additive
from ..syntax import nodes as ast
from ..syntax.formatter import written
from .lint import Unknown, applicable_caps, constant_amount, how_often, table_most
from .program import CapInfo, CheckedRuleset, MetricInfo, MilestoneInfo, ProgramInfo, RewardInfo

ZERO = Decimal(0)
#: a rate: a fixed one, or the text of a computed amount
_Rate = TypeVar("_Rate", Decimal, str)
_DAY_NS = DURATION_UNITS["day"]
_FIXED_PERIODS = {"day": _DAY_NS, "week": 7 * _DAY_NS}
_MONTHS_PER_PERIOD = {"month": 1, "quarter": 3, "year": 12}
_CYCLE_DAYS = 146097  # the Gregorian calendar repeats every 400 years
#: In a time zone, periods start at local midnight, and the real time between
#: two starts is the wall-clock time less the change of UTC offset between
#: them. Offsets span at most 26 hours (UTC-12 to UTC+14), so a real window
#: W touches no more local periods than a wall-clock window of W + 26 hours.
_ZONE_SLACK_NS = 26 * 3600 * 10**9


@dataclass(slots=True)
class Bound:
    """The most a beneficiary can receive in one unit (or of one item)."""

    unit: str
    item: str | None = None
    #: for life; None when nothing in the rules bounds it
    total: Decimal | None = ZERO
    #: per calendar period (from caps), only where tighter than ``total``
    per_period: dict[str, Decimal] = field(default_factory=dict)
    #: why ``total`` is None
    reasons: list[str] = field(default_factory=list)
    #: per-referral milestones unbounded for a referrer only because the
    #: number of referrals has no limit: (name, the reason for it alone)
    every_referral: list[tuple[str, str]] = field(default_factory=list)
    #: a unit that does not add up: rate -> the most awards of that rate
    #: (None: no limit); None for a unit that adds up
    counts: dict[Decimal, int | None] | None = None
    #: a unit that does not add up: rates computed from the ledger, by the
    #: text of their amount -> the most awards (None: no limit)
    computed: dict[str, int | None] = field(default_factory=dict)
    #: the lifetime cap that bounds each computed rate (None: no bound)
    computed_limit: Decimal | None = None

    def label(self) -> str:
        return f'item "{self.item}"' if self.item is not None else self.unit

    def amount(self, value: Decimal) -> str:
        return f"{format_amount(value, self.unit if self.item is None else 'item')} {self.label()}"

    def describe(self) -> str:
        """For people: `25000.00 USD, and 5000.00 USD per quarter`, or
        `unbounded USD: <reasons>`; percent by count and rate."""
        if self.counts is not None:
            return self._describe_counts()
        parts = [self.amount(self.total)] if self.total is not None else []
        parts += [f"{self.amount(value)} per {period}" for period, value in self.per_period.items()]
        text = ", and ".join(parts)
        if self.total is None:
            text = f"{text}; no limit for life" if parts else f"unbounded {self.label()}"
            text += ": " + "; ".join(self.why())
        return text

    def _describe_counts(self) -> str:
        """`at most 1 award(s) of 20 percent, and any number of awards of
        5 percent: <reasons>`: a unit that does not add up is not summed."""
        each = f"at most {self.amount(self.computed_limit)} each" if self.computed_limit else "no upper bound"
        rates = [(self.amount(rate), count) for rate, count in _by_rate(self.counts or {})]
        rates += [(f"`{text}` ({each})", count) for text, count in sorted(self.computed.items())]
        parts = [
            f"any number of awards of {rate}" if count is None else f"at most {count} award(s) of {rate}"
            for rate, count in rates
        ]
        text = ", and ".join(parts) if parts else self.amount(ZERO)
        if self.total is None:
            text += ": " + "; ".join(self.why())
        return text

    def why(self) -> list[str]:
        """Every reason ``total`` is None, one sentence each."""
        if len(self.every_referral) <= 1:
            return self.reasons + [reason for _, reason in self.every_referral]
        names = [f"`{name}`" for name, _ in self.every_referral]
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        no_cap = "with no lifetime cap" if self.per_period else "with no cap"
        merged = f"{listed} pay for every referral {no_cap}, and the number of referrals has no limit"
        return [*self.reasons, merged]

    def to_dict(self) -> dict[str, object]:
        unit = self.unit if self.item is None else "item"
        entry: dict[str, object] = {
            "unit": self.unit,
            "item": self.item,
            "max": None if self.total is None else format_amount(self.total, unit),
            "per_period": {period: format_amount(value, unit) for period, value in self.per_period.items()},
            "unbounded_because": self.why() if self.total is None else [],
        }
        if self.counts is not None:
            limit = None if self.computed_limit is None else format_amount(self.computed_limit, unit)
            entry["each"] = True
            entry["awards"] = [
                *({"rate": format_amount(rate, unit), "count": count} for rate, count in _by_rate(self.counts)),
                *(
                    {"rate": None, "amount": text, "at_most": limit, "count": n}
                    for text, n in sorted(self.computed.items())
                ),
            ]
        return entry


def _by_rate(counts: dict[Decimal, int | None]) -> list[tuple[Decimal, int | None]]:
    """Rates from the largest, each once (20 and 20.0 are one rate)."""
    return sorted(counts.items(), key=lambda kv: kv[0], reverse=True)


@dataclass(slots=True)
class ProgramBounds:
    program: str
    #: (role, bound) for one referral
    per_referral: list[tuple[str, Bound]]
    #: the referrer's bounds over all their referrals
    per_referrer: list[Bound]
    #: the program's `attribution` line when a later referral can take a
    #: referee: one referee then yields one referral's bound per referral
    #: that takes it (before it converts)
    attribution: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "program": self.program,
            "per_referral": [{"role": role, **bound.to_dict()} for role, bound in self.per_referral],
            "per_referrer": [bound.to_dict() for bound in self.per_referrer],
            "attribution": self.attribution,
        }


@dataclass(slots=True)
class RulesetBounds:
    ruleset: str
    path: str
    programs: list[ProgramBounds]

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "ruleset": self.ruleset, "programs": [p.to_dict() for p in self.programs]}

    def render(self) -> str:
        """The bounds for people, one line per role and unit."""
        lines = [f"{self.path}: payout bounds of `{self.ruleset}`"]
        for program in self.programs:
            lines.append(f"  program `{program.program}`")
            for role, bound in program.per_referral:
                lines.append(f"    per referral, to the {role}: {bound.describe()}")
            for bound in program.per_referrer:
                lines.append(f"    per referrer: {bound.describe()}")
            if not program.per_referral and not program.per_referrer:
                lines.append("    pays nothing")
            elif program.attribution is not None:
                lines.append(
                    "    per referee: the bounds per referral, once for each referral that takes it "
                    f"before it converts (`{program.attribution}`)"
                )
        return "\n".join(lines)


@in_context
def bounds(checked: CheckedRuleset) -> RulesetBounds:
    """The payout bounds of every program of a checked ruleset."""
    slack = 0 if checked.timezone in (None, "UTC", "Etc/UTC") else _ZONE_SLACK_NS
    programs = [program_bounds(p, slack) for p in checked.programs]
    return RulesetBounds(checked.name, checked.source.path, programs)


def program_bounds(program: ProgramInfo, zone_slack_ns: int = 0) -> ProgramBounds:
    """The bounds of one program. ``zone_slack_ns`` widens windows when
    calendar periods follow a time zone (see :data:`_ZONE_SLACK_NS`)."""
    referral: dict[tuple[str, str, str | None], Bound] = {}
    referrer: dict[tuple[str, str | None], Bound] = {}
    metrics = program.metrics
    for milestone in program.milestones:
        for (role, unit, item), rewards in _grouped(milestone.rewards).items():
            caps = applicable_caps(program, milestone, rewards[0])
            if milestone.level == "referral":
                window = award_window(program, milestone)
                window = None if window is None else window + zone_slack_ns
                key = (role, unit, item)
                referral[key] = _add(
                    referral.get(key), milestone_bound(milestone, rewards, caps, window, metrics=metrics)
                )
                if role == "referrer":
                    every = milestone_bound(milestone, rewards, caps, None, every_referral=True, metrics=metrics)
                    referrer[(unit, item)] = _add(referrer.get((unit, item)), every)
            elif role == "referrer":
                referrer[(unit, item)] = _add(
                    referrer.get((unit, item)), milestone_bound(milestone, rewards, caps, metrics=metrics)
                )
            else:  # paid to the one referee whose event reached a per-referrer milestone
                key = (role, unit, item)
                referral[key] = _add(referral.get(key), milestone_bound(milestone, rewards, caps, metrics=metrics))
    per_referral = [
        (role, _capped(bound, _program_caps(program, role, unit), None, None))
        for (role, unit, _), bound in sorted(referral.items(), key=lambda kv: kv[0][0] == "referee")
    ]
    _velocity_bounds(program, referral, referrer, zone_slack_ns)
    per_referrer = [
        _capped(bound, _program_caps(program, "referrer", unit), None, None) for (unit, _), bound in referrer.items()
    ]
    decl = program.attribution.decl
    moves = decl.span.text if program.attribution.moves and decl is not None and decl.span is not None else None
    return ProgramBounds(program.name, per_referral, per_referrer, moves)


def _velocity_bounds(
    program: ProgramInfo,
    referral: dict[tuple[str, str, str | None], Bound],
    referrer: dict[tuple[str, str | None], Bound],
    zone_slack_ns: int,
) -> None:
    """Bound the referrer's figures per period by the program's velocity
    rule (`_velocity`), in each unit paid only per referral and within a
    known time of it (`_latest_award`)."""
    velocity = _velocity(program)
    if velocity is None:
        return
    per_referrer_only = {
        (r.unit, r.item) for m in program.milestones if m.level != "referral" for r in m.rewards if r.role == "referrer"
    }
    for (unit, item), bound in referrer.items():
        share = referral.get(("referrer", unit, item))
        late = _latest_award(program, unit, item)
        if share is not None and late is not None and (unit, item) not in per_referrer_only:
            referrer[(unit, item)] = _at_velocity(bound, share, velocity, late + zone_slack_ns)


#: the longest calendar periods, for the most velocity windows one can hold
_LONGEST_DAYS = {"day": 1, "week": 7, "month": 31, "quarter": 92, "year": 366}


def _velocity(program: ProgramInfo) -> tuple[int, int, str] | None:
    """A velocity rule of the program: an `eligible when` line (or a part
    of it joined by `and`) that reads `M < N` (or `M <= N - 1`) where M is
    `count earlier referrals within D` with no filter. Every referral event
    of the referrer counts, so in any D at most N of their referrals are
    eligible (the last eligible one has fewer than N before it within D).
    Returns (N, D in nanoseconds, the rule as written), the tightest found."""
    found: list[tuple[int, int, str]] = []
    for clause in program.eligible:
        for part in ast.conjuncts(clause):
            if not isinstance(part, ast.Compare) or part.op not in ("<", "<=", ">", ">="):
                continue
            metric_side, number_side, op = part.left, part.right, part.op
            if isinstance(part.right, ast.Ref):
                metric_side, number_side, op = part.right, part.left, {">": "<", ">=": "<="}.get(part.op, "")
            if op not in ("<", "<=") or not isinstance(metric_side, ast.Ref) or metric_side.attr is not None:
                continue
            metric = program.metrics.get(metric_side.head.text)
            agg = metric.aggregate if metric is not None else None
            window = _duration_ns(agg.within) if agg is not None and agg.earlier and agg.where is None else None
            if window is None or not isinstance(number_side, ast.Number):
                continue
            most = math.ceil(number_side.value) if op == "<" else math.floor(number_side.value) + 1
            found.append((max(most, 0), window, written(part)))
    return min(found, key=lambda f: Fraction(f[0], f[1])) if found else None


def _latest_award(program: ProgramInfo, unit: str, item: str | None) -> int | None:
    """How long after its referral a per-referral milestone can pay the
    referrer in this unit, the longest over them (see `award_window`; a
    `when` reached only at referral events pays at the referral), or None
    when one has no limit."""
    longest = 0
    for milestone in program.milestones:
        if milestone.level != "referral" or not any(
            r.role == "referrer" and r.unit == unit and r.item == item for r in milestone.rewards
        ):
            continue
        at_referral = isinstance(milestone.trigger, ast.WhenTrigger) and milestone.events <= {"referral"}
        window = 0 if at_referral else award_window(program, milestone)
        if window is None:
            return None
        longest = max(longest, window)
    return longest


def _at_velocity(bound: Bound, share: Bound, velocity: tuple[int, int, str], late_ns: int) -> Bound:
    """A referrer's bound when a velocity rule lets at most N referrals in
    any window D be eligible: the awards of a calendar period come from
    referrals made in it or at most `late_ns` before it, a span that N x
    (the windows D it needs) referrals can fill, each paying its referrer
    at most what one referral pays."""
    most, window, _ = velocity
    if share.total is None or share.counts is not None:
        return bound
    for period, days in _LONGEST_DAYS.items():
        windows = -(-(days * _DAY_NS + late_ns) // window)
        value = share.total * most * windows
        current = bound.per_period.get(period)
        bound.per_period[period] = value if current is None else min(current, value)
    return _normal(bound)


def _grouped(rewards: list[RewardInfo]) -> dict[tuple[str, str, str | None], list[RewardInfo]]:
    groups: dict[tuple[str, str, str | None], list[RewardInfo]] = {}
    for reward in rewards:
        groups.setdefault((reward.role, reward.unit, reward.item), []).append(reward)
    return groups


def _program_caps(program: ProgramInfo, role: str, unit: str) -> list[CapInfo]:
    """The caps on a program's total in one unit: its own and the shared
    allowances it draws from (which it may share with others: a bound still)."""
    return [c for c in [*program.caps, *program.allowances] if c.role == role and c.unit == unit]


def _most_awards(caps: list[CapInfo], awards: int | None) -> int | None:
    """The most awards of one reward group, under the lifetime caps on the
    number of rewards (`cap referrer 3 rewards`): each counts every award."""
    for cap in caps:
        if cap.counts_rewards and cap.period is None:
            most = int(cap.limit)
            awards = most if awards is None else min(awards, most)
    return awards


def _in_amounts(caps: list[CapInfo], per_award: Decimal | None, unit: str) -> list[CapInfo]:
    """``caps`` with each per-period cap on the number of rewards (P per
    month) as what it lets through in ``unit``: P awards of at most
    ``per_award`` (lifetime ones bound the count, see `_most_awards`). With
    no upper bound on one award, a count bounds no amount."""
    found = [c for c in caps if not c.counts_rewards]
    if per_award is not None:
        found += [
            CapInfo(c.role, unit, c.limit * per_award, c.period, c.decl, c.allowance)
            for c in caps
            if c.counts_rewards and c.period is not None
        ]
    return found


def milestone_bound(
    milestone: MilestoneInfo,
    rewards: list[RewardInfo],
    caps: list[CapInfo],
    window_ns: int | None = None,
    every_referral: bool = False,
    metrics: Mapping[str, MetricInfo] | None = None,
) -> Bound:
    """What one milestone pays one beneficiary in one unit (rewards of the
    same role and unit), under the caps that count it: per referral, per
    referrer for a per-referrer milestone, or (``every_referral``) over all
    of a referrer's referrals. A reward that is a table of fixed amounts
    (`reward referrer cash bonus`, ``metrics`` naming `bonus`) pays at most
    its largest row."""
    first = rewards[0]
    if first.item is None and not is_additive(first.unit):
        return _rates_bound(milestone, rewards, caps, every_referral)
    bound = Bound(first.unit, first.item)
    per_award: Decimal | None = ZERO
    computed: list[str] = []
    for reward in rewards:
        value = constant_amount(reward)
        if isinstance(value, Unknown) and metrics is not None:
            value = table_most(reward, metrics)
        if isinstance(value, Unknown):
            computed.append(f"`{written(reward.decl.amount)}` (no upper bound)")
        elif value is not None and value > 0 and per_award is not None:
            per_award += value
    if computed:
        per_award = None
    often = how_often(milestone.trigger)
    awards = _most_awards(caps, None if often or every_referral else 1)
    if per_award == 0:
        return bound
    bound.total = per_award * awards if per_award is not None and awards is not None else None
    bound = _capped(bound, _in_amounts(caps, per_award, first.unit), awards, window_ns)
    if bound.total is None:
        what = " and ".join(computed) if computed else bound.amount(per_award or ZERO)
        _explain_unbounded(bound, milestone, what, bool(caps), every_referral)
    return bound


def _explain_unbounded(bound: Bound, milestone: MilestoneInfo, what: str, capped: bool, every_referral: bool) -> None:
    """Why ``bound`` has no limit: the milestone pays ``what`` (repeatedly,
    or for every referral) and no cap (no lifetime cap) counts it."""
    often = how_often(milestone.trigger)
    no_cap = "with no lifetime cap" if capped else "with no cap"
    if every_referral:
        once = f" {often}" if often else ""
        reason = f"pays {what}{once} for every referral {no_cap}, and the number of referrals has no limit"
        bound.every_referral = [(milestone.name, f"`{milestone.name}` {reason}")]
    else:
        bound.reasons = [f"`{milestone.name}` pays {what} {often or 'once'} {no_cap}"]


def _rates_bound(
    milestone: MilestoneInfo, rewards: list[RewardInfo], caps: list[CapInfo], every_referral: bool
) -> Bound:
    """:func:`milestone_bound` for a unit that does not add up: the most
    awards of each rate, not their sum."""
    counts: dict[Decimal, int | None] = {}
    bound = Bound(rewards[0].unit, None, counts=counts)
    awards = _most_awards(caps, None if how_often(milestone.trigger) or every_referral else 1)
    rates: list[str] = []
    for reward in rewards:
        value = constant_amount(reward)
        if isinstance(value, Unknown):
            text = written(reward.decl.amount)
            _count(bound.computed, text, awards)
            rates.append(f"`{text}`")
        elif value is not None and value > 0:
            _count(counts, value, awards)
            rates.append(bound.amount(value))
    if not rates:
        return bound
    bound = _capped(bound, [c for c in caps if not c.counts_rewards], awards, None)
    if bound.total is None:
        what = " and ".join(rates)
        if bound.computed_limit is not None:
            # a lifetime cap bounds each computed rate, and their sum, but
            # not how many awards of a small rate it lets through
            often = how_often(milestone.trigger)
            pays = f"pays {what}{f' {often}' if often else ''}" + (" for every referral" if every_referral else "")
            reason = f"`{milestone.name}` {pays}: a cap in {bound.unit} bounds the sum of the rates, not the number of awards"
            bound.reasons = [reason]
        else:
            if bound.computed:
                what = " and ".join(f"{r} (no upper bound)" if r.startswith("`") else r for r in rates)
            _explain_unbounded(bound, milestone, what, bool(caps), every_referral)
    return bound


def _count(counts: dict[_Rate, int | None], rate: _Rate, awards: int | None) -> None:
    """``awards`` more awards of ``rate`` (None: no limit)."""
    known = counts.get(rate, 0)
    counts[rate] = None if known is None or awards is None else known + awards


def _rates_total(bound: Bound) -> Decimal | None:
    """The largest rate of one award, None when some count has no limit
    or a computed rate has no upper bound."""
    counts = [*(bound.counts or {}).values(), *bound.computed.values()]
    if any(count is None for count in counts) or (bound.computed and bound.computed_limit is None):
        return None
    rates = [*(bound.counts or {}), *([bound.computed_limit] if bound.computed_limit is not None else [])]
    return max(rates, default=ZERO)


def _add(a: Bound | None, b: Bound) -> Bound:
    if a is None:
        return b
    if a.counts is not None and b.counts is not None:
        counts: dict[Decimal, int | None] = {}
        merged = Bound(a.unit, a.item, None, {}, a.reasons + b.reasons, a.every_referral + b.every_referral, counts)
        for part in (a, b):
            for rate, count in (part.counts or {}).items():
                _count(counts, rate, count)
            for text, count in part.computed.items():
                _count(merged.computed, text, count)
        limits = [part.computed_limit for part in (a, b) if part.computed]
        merged.computed_limit = None if not limits or None in limits else max(x for x in limits if x is not None)
        merged.total = _rates_total(merged)
        return _normal(merged)
    total = a.total + b.total if a.total is not None and b.total is not None else None
    per_period = {}
    for period in PERIODS:
        if period in a.per_period or period in b.per_period:
            left, right = a.per_period.get(period, a.total), b.per_period.get(period, b.total)
            if left is not None and right is not None:
                per_period[period] = left + right
    merged = Bound(a.unit, a.item, total, per_period, a.reasons + b.reasons, a.every_referral + b.every_referral)
    return _normal(merged)


def _capped(bound: Bound, caps: list[CapInfo], awards: int | None, window_ns: int | None) -> Bound:
    """``bound`` under ``caps``; a per-period cap P also bounds the total by
    (most awards) x P, or by P x (most periods the award window spans)."""
    if bound.counts is not None:
        return _capped_counts(bound, caps)
    total, per_period = bound.total, dict(bound.per_period)
    for cap in caps:
        if cap.period is None:
            total = cap.limit if total is None else min(total, cap.limit)
        else:
            current = per_period.get(cap.period, total)
            per_period[cap.period] = cap.limit if current is None else min(current, cap.limit)
    if total is None and per_period:
        options = [awards * min(per_period.values())] if awards is not None else []
        if window_ns is not None:
            options += [value * periods_spanned(window_ns, period) for period, value in per_period.items()]
        if options:
            total = min(options)
    return _normal(Bound(bound.unit, bound.item, total, per_period, list(bound.reasons), list(bound.every_referral)))


def _capped_counts(bound: Bound, caps: list[CapInfo]) -> Bound:
    """A unit that does not add up, under ``caps``: the engine counts rates
    against a cap and cuts the award that passes it, so a lifetime cap C
    allows at most ceil(C / R) awards of rate R. A per-period cap bounds
    no count for life."""
    counts = dict(bound.counts or {})
    limit = bound.computed_limit
    for cap in caps:
        if cap.period is None:
            for rate, count in counts.items():
                most = math.ceil(Fraction(cap.limit) / Fraction(rate))  # exact, whatever the decimal context
                counts[rate] = most if count is None else min(count, most)
            if bound.computed:  # a computed award is cut to the cap
                limit = cap.limit if limit is None else min(limit, cap.limit)
    capped = Bound(bound.unit, bound.item, None, {}, list(bound.reasons), list(bound.every_referral), counts)
    capped.computed, capped.computed_limit = dict(bound.computed), limit
    capped.total = _rates_total(capped)
    return _normal(capped)


def _normal(bound: Bound) -> Bound:
    """Periods in calendar order, only where tighter than the total; no
    reasons on a bounded total."""
    bound.per_period = {
        p: bound.per_period[p]
        for p in PERIODS
        if p in bound.per_period and (bound.total is None or bound.per_period[p] < bound.total)
    }
    if bound.total is not None:
        bound.reasons, bound.every_referral = [], []
    return bound


# -- windows ---------------------------------------------------------------------


def award_window(program: ProgramInfo, milestone: MilestoneInfo) -> int | None:
    """How long after the referral a per-referral milestone can still pay
    (nanoseconds), when its trigger says: `each E within D`, or `whenever M
    increases` on a metric whose events all lie within a window. Not
    `every` (left unbounded here: a safe over-estimate)."""
    trigger = milestone.trigger
    if milestone.level != "referral":
        return None
    if isinstance(trigger, ast.EventTrigger):
        return _duration_ns(trigger.within)
    if isinstance(trigger, ast.IncreaseTrigger):
        metric = program.metrics.get(trigger.metric.text)
        return metric_window(program, metric, ()) if metric is not None else None
    return None


def metric_window(program: ProgramInfo, metric: MetricInfo, seen: tuple[str, ...]) -> int | None:
    """After how long from the referral a metric stops changing, or None."""
    agg = metric.aggregate
    if agg is not None:
        return _duration_ns(agg.within) if agg.source.text != "referrals" else None
    if metric.level != "referral" or metric.name in seen:
        return None
    windows = []
    for name in metric.deps:
        dep = program.metrics.get(name)
        windows.append(metric_window(program, dep, (*seen, metric.name)) if dep is not None else None)
    if any(w is None for w in windows):
        return None
    return max((w for w in windows if w is not None), default=0)


def _duration_ns(node: ast.Duration | None) -> int | None:
    if node is None or node.unit.text not in DURATION_UNITS:
        return None
    return int(node.value * DURATION_UNITS[node.unit.text])


def periods_spanned(window_ns: int, period: str) -> int:
    """The most calendar periods (UTC) that a closed interval of
    ``window_ns`` can touch: 5 quarters for 365 days, 2 days for 1 day."""
    fixed = _FIXED_PERIODS.get(period)
    if fixed is not None:
        return -(-window_ns // fixed) + 1
    cycle = _CYCLE_DAYS * _DAY_NS
    if window_ns >= cycle:  # each whole 400-year cycle holds the same number of periods
        whole, rest = divmod(window_ns, cycle)
        return whole * (4800 // _MONTHS_PER_PERIOD[period]) + periods_spanned(rest, period)
    # The most period starts in [b, b + window), over every start b of a
    # 400-year cycle: k of them fit where some k in a row lie less than the
    # window apart, first to last (`_span`, which grows with k); an
    # interval opening just before b touches one more.
    most, high = 0, len(_period_starts(period)) // 2
    while most < high:
        count = (most + high + 1) // 2
        if _span(period, count) < window_ns:
            most = count
        else:
            high = count - 1
    return most + 1


@functools.cache
def _span(period: str, count: int) -> int:
    """The least time from the first to the last of `count` periods in a row
    (their starts), the first starting in a 400-year cycle. A call of
    `periods_spanned` reads a dozen of these, each kept (an int; 6,800 at
    most in a process), where reading every start of the cycle for each
    window took 2 ms a call (made for each cap when its program is
    checked)."""
    starts = _period_starts(period)
    in_cycle = len(starts) // 2
    gaps: map[int] = map(operator.sub, starts[count - 1 : count - 1 + in_cycle], starts[:in_cycle])
    return min(gaps)


@functools.cache
def _period_starts(period: str) -> tuple[int, ...]:
    """Starts of the periods of two 400-year cycles, in nanoseconds from day 1."""
    step = _MONTHS_PER_PERIOD[period]
    return tuple(date(2000 + m // 12, m % 12 + 1, 1).toordinal() * _DAY_NS for m in range(0, 2 * 400 * 12, step))
