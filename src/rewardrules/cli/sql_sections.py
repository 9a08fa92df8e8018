"""The explained sections of `score --engine duckdb` (`referrals`,
`referrers`, `withheld`) from the rows of `sql.sections`, written by the
Python engine's own report (`score.result.Reporter`), so that every text
(progress, ineligibility, withheld reasons) is its text byte for byte.

The query gives the facts: per referral its eligibility, each metric's
value at the as-of (as text with its Decimal's exponent or sign), the
awards of each milestone reached for it and the milestones whose rewards
were withheld; `Explainer` is a `Reporter` whose snapshot and withheld
scopes are those facts instead of an engine's state. A referral that is
not eligible in a program is explained from its event's record, replayed
as the engine judged it (`cli.sql.replayed`). The rows are read as they
are written (`sql.sections.Fetched`), a batch at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from ..check.program import CheckedRuleset, ProgramInfo
from ..compiler.generate import CompiledMilestone
from ..core.formatting import format_value
from ..core.runtime import Referral, ReferrerState
from ..core.timeutil import period_key
from ..score.engine import Engine, Timer, Withheld, _no_amount
from ..score.result import Reached, Reporter
from ..sql.messages import metric_value
from ..syntax import nodes as ast

if TYPE_CHECKING:
    from ..score.api import Program
    from ..sql.sections import Fetched, Sections


class Explainer(Reporter):
    """A `Reporter` over the query's facts: `snapshot` gives the current
    row's metric values, `_withheld_scopes` its withheld milestones."""

    def __init__(self, program: Program, as_of: int) -> None:
        super().__init__(Engine(program.compiled), as_of)
        self.values: dict[int, dict[str, Any]] = {}
        self._defaults: dict[int, dict[str, Any]] = {}
        self._nobody = ReferrerState("", [], 0)

    def snapshot(self, program: ProgramInfo, index: int, referral: Referral, referrer: Any) -> dict[str, Any]:
        return self.values[index]

    def defaults(self, index: int) -> dict[str, Any]:
        """A program's metric values for a referral with no event yet (the
        engine's own, from a fresh referral: the query has no row for it)."""
        found = self._defaults.get(index)
        if found is None:
            program = self.checked.programs[index]
            fresh = self.light("", 0, "", "")
            found = self._defaults[index] = Reporter.snapshot(self, program, index, fresh, None)
        return found

    def light(self, event_id: str, at: int, referrer: str, referee: str) -> Referral:
        """A referral with no fields: what `_progress` and `_scope` read."""
        compiled = self.compiled
        slots, count = compiled.referral_slots(), len(compiled.milestones)
        return Referral(event_id, at, referrer, referee, (), compiled.fields["referral"], slots, count)

    def clocks(self, referral: Referral, sections: Sections, row: Mapping[str, Any]) -> None:
        """The engine's state of a referral's timers at the as-of, from
        its row (`sql.sections._clock`): the referral holds its referee in
        its programs, a timer due after the as-of is pending, an `after D
        from EVENT` whose EVENT came is anchored."""
        state = self.engine.state
        state.timers.clear()
        state.anchored.clear()
        for k in sections.clocks:
            since = row[f"since{k}"]
            if since is None:
                continue
            milestone = self.compiled.milestones[k]
            if isinstance(milestone.info.trigger, ast.AfterTrigger):
                state.anchored.add((k, referral.referee))
            if row[f"due{k}"] > self.as_of:
                timer = Timer(row[f"due{k}"], k, referral.referee, referral.referee, row[f"event{k}"], since)
                state.timers[timer.key] = timer

    def chain(self, referral: Referral, sections: Sections, row: Mapping[str, Any]) -> None:
        """The referee's referrals as the engine has them at the as-of, as
        far as its report reads them: the programs where the referral
        counts (`links`: each it took part in, but where an attribution
        moves only while it holds the referee there, row `h{p}`); under an
        attribution that moves, the referee's first referral with the
        programs it converted in (`cv{p}`), the last referral before this
        one that took the referee in each such program (`oi{p}`: whom
        `_not_counted` names) and the next one that took it (`ni{p}`: whom
        `_attribution` names), each as the engine's chain (`next`)."""
        moving = sections.moving
        programs = self.compiled.programs
        referral.links = [(programs[p], self._nobody) for p in referral.programs if p not in moving or row[f"h{p}"]]
        first = referral
        if moving:
            referee = referral.referee
            before: dict[str, Referral] = {}
            if row["fi"] != referral.id:  # the head of the chain, then the last takers before this one
                before[row["fi"]] = self.light(row["fi"], 0, row["fr"], referee)
            after: dict[str, Referral] = {}
            for p in moving:
                if row[f"oi{p}"] is not None:
                    node = self.light(row[f"oi{p}"], 0, row[f"or{p}"], referee)
                    before.setdefault(row[f"oi{p}"], node).programs.append(p)
                if row[f"ni{p}"] is not None:
                    node = self.light(row[f"ni{p}"], row[f"nx{p}"], row[f"nr{p}"], referee)
                    after.setdefault(row[f"ni{p}"], node).programs.append(p)
            nodes = [*before.values(), referral, *after.values()]
            for node, following in pairwise(nodes):
                node.next = following
            first = nodes[0]
            first.converted = [p for p in moving if row[f"cv{p}"]]
        # mutated, not replaced: the engine keeps its own name for it (`Engine._referrals`)
        self.engine.state.referrals.clear()
        self.engine.state.referrals[referral.referee] = first

    def first_referral(self, sections: Sections, row: Mapping[str, Any]) -> Referral:
        """A referrer row's first referral (the one the engine's report
        reads a per-referrer milestone's progress from), with its timers'
        state and who holds its referee, as `referrals` sets a referral
        row's; and the referrer's own clocks (`Sections.referrer_clocks`)."""
        if "first_rid" not in row:  # no timer per referrer: its progress reads no more than this
            return self.light("", row["first_at"], row["referrer"], "")
        referral = self.light(row["first_rid"], row["first_at"], row["referrer"], row["first_referee"])
        referral.programs = [p for p in range(len(self.checked.programs)) if row[f"e{p}"]]
        self.chain(referral, sections, row)
        self.clocks(referral, sections, row)
        for k in sections.referrer_clocks:
            if row[f"since{k}"] is not None and row[f"due{k}"] > self.as_of:
                timer = Timer(row[f"due{k}"], k, row["referrer"], referral.referee, row[f"event{k}"], row[f"since{k}"])
                self.engine.state.timers[timer.key] = timer
        return referral

    def held(self, scopes: set[tuple[int, str, str]]) -> None:
        """The withheld milestones of the row being explained."""
        self._withheld = scopes


def _values(
    checked: CheckedRuleset, program: ProgramInfo, columns: Iterable[tuple[str, int]], row: Mapping[str, Any]
) -> dict[str, Any]:
    """The metric values of a row (each name's column `v{n}`), as the
    report writes them (a computed number from the values it reads:
    `messages.metric_value`)."""
    found = {}
    for name, n in columns:
        metric = program.metrics[name]
        found[name] = format_value(metric_value(checked, metric, row[f"v{n}"]), metric.type)
    return found


def _metrics(
    explainer: Explainer, sections: Sections, index: int, starts: list[int], row: Mapping[str, Any]
) -> dict[str, Any]:
    """Program `index`'s metrics for a referral row: the query's values,
    or without a row in `totals` the engine's defaults, but for those
    settled at the referral (`Sections.settled`)."""
    info = explainer.checked.programs[index]
    columns = _numbered(sections, index, starts)
    if row["has"]:
        return _values(explainer.checked, info, columns, row)
    settled = _values(explainer.checked, info, [(name, n) for name, n in columns if name in sections.settled], row)
    return {**explainer.defaults(index), **settled}


def _reached(row: Mapping[str, Any], referrer: str, referee: str) -> Reached:
    """The awards of each milestone reached for a row, in issue order
    (`K RANK ID;K RANK ID`: in no order, each with its rank)."""
    found: dict[tuple[int, str, str], list[tuple[int, str]]] = {}
    for item in row["reached"].split(";") if row["reached"] else ():
        k, rank, award = item.split(" ")
        found.setdefault((int(k), referrer, referee), []).append((int(rank), award))
    return {scope: [award for _, award in sorted(ranked)] for scope, ranked in found.items()}


def _held(row: Mapping[str, Any], referrer: str, referee: str) -> set[tuple[int, str, str]]:
    """The milestones of a row whose every reward was withheld (`K K`)."""
    return {(int(k), referrer, referee) for k in row["held"].split(" ")} if row["held"] else set()


def referrals(
    program: Program,
    sections: Sections,
    rows: Iterable[Mapping[str, Any]],
    as_of: int,
    records: Mapping[str, tuple[Any, ...]],
    histories: Mapping[str, list[tuple[Any, ...]]],
) -> Iterator[dict[str, Any]]:
    """The `referrals` entries, one per row (processing order). `records`:
    the referral events not eligible in some program (`histories`: their
    referrers' referral events, for `earlier referrals`)."""
    from .sql import replayed

    explainer = Explainer(program, as_of)
    checked = program.compiled.checked
    starts = _starts(sections)
    for row in rows:
        referrer, referee = row["referrer"], row["referee"]
        flags = [bool(row[f"e{p}"]) for p in range(len(checked.programs))]
        if all(flags):
            referral = explainer.light(row["rid"], row["at"], referrer, referee)
        else:  # its ineligibility is told from its fields, as the engine judged them
            engine, referral = replayed(program, records[row["rid"]], histories.get(referrer, ()))
            explainer.engine = engine
        referral.programs = [p for p, flag in enumerate(flags) if flag]
        explainer.chain(referral, sections, row)
        explainer.clocks(referral, sections, row)
        explainer.values = {p: _metrics(explainer, sections, p, starts, row) for p in range(len(checked.programs))}
        explainer.held(_held(row, referrer, referee))
        yield explainer.referral(referral, _reached(row, referrer, referee))


def referrers(
    program: Program, sections: Sections, rows: Iterable[Mapping[str, Any]], as_of: int
) -> Iterator[dict[str, Any]]:
    """The `referrers` entries (one program: a file with per-referrer
    milestones has one), by referrer name, as `Reporter.referrer_progress`
    writes them."""
    explainer = Explainer(program, as_of)
    info = program.compiled.checked.programs[0]
    milestones = [m for m in info.milestones if m.level == "referrer"]
    columns = [
        (name, n) for name, n in _numbered(sections, 0, _starts(sections)) if info.metrics[name].level == "referrer"
    ]
    for row in rows:
        name = row["referrer"]
        if row["has"]:
            values = _values(program.compiled.checked, info, columns, row)
        else:
            values = {k: v for k, v in explainer.defaults(0).items() if info.metrics[k].level == "referrer"}
        referral = explainer.first_referral(sections, row)
        explainer.held(_held(row, name, ""))
        reached = _reached(row, name, "")
        yield {
            "referrer": name,
            "program": info.name,
            "metrics": values,
            "milestones": [explainer._progress(info, m, referral, values, reached) for m in milestones],
        }


def withheld(program: Program, sections: Sections, rows: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """The `withheld` entries, in issue order, as `Reporter.withheld`
    writes them: the reason a cap's (`_cap_reason`), or the amount's
    (`_no_amount`)."""
    milestones = {m.info.index: m for m in program.compiled.milestones}
    engine = Engine(program.compiled)
    for row in rows:
        amount = None if row["raw"] is None else Decimal(row["raw"])
        milestone = milestones[row["milestone_index"]]
        reason = _cap_reason(engine, milestone, row, amount) or _no_amount(amount)
        referral = Referral("", 0, row["referrer"], row["referee"], (), dict, [], 0)
        item = Withheld(
            row["at"], milestone, row["reward_index"], row["role"], row["beneficiary"], referral, reason, amount
        )
        yield Reporter.withheld(item)


def _cap_reason(engine: Engine, milestone: CompiledMilestone, row: Mapping[str, Any], amount: Decimal | None) -> str:
    """Why a cap withheld a reward ("" when none did): the engine's own
    `_apply_caps` on what the beneficiary had drawn from each of the
    reward's caps in the award's period before it (the row's `u{n}` for
    cap `c{n}`, its `cap` key listing them in the reward's order)."""
    reward = milestone.rewards[row["reward_index"]]
    if amount is None or row["cap"] is None:
        return ""
    used = engine.state.cap_used
    used.clear()
    at, beneficiary = row["at"], row["beneficiary"]
    timezone = engine.compiled.checked.timezone
    for cap, key in zip(reward.caps, row["cap"].split(), strict=True):
        drawn = row[f"u{key[1:]}"]
        period = period_key(at, cap.period, timezone) if cap.period else ""
        used[(*engine._cap_keys[id(cap)], beneficiary, period)] = Decimal(drawn) if drawn is not None else Decimal(0)
    _, capped, reason = engine._apply_caps(reward.caps, beneficiary, at, amount)
    return reason if capped else ""


def _numbered(sections: Sections, index: int, starts: list[int]) -> list[tuple[str, int]]:
    """Program `index`'s metrics, each with its value column's number."""
    return [(name, starts[index] + k) for k, name in enumerate(sections.metrics[index])]


def _starts(sections: Sections) -> list[int]:
    """The number of each program's first value column (`v{n}`)."""
    starts, n = [], 0
    for names in sections.metrics:
        starts.append(n)
        n += len(names)
    return starts


def explained(
    program: Program, fetched: Fetched, as_of: int, records: Iterable[tuple[Any, ...]], whole: bool = False
) -> dict[str, Any]:
    """The three sections as the result's values, made while written (as
    lists with `whole`: the text output reads them more than once)."""
    from ..core.jsonout import Items
    from .sql import referral_records

    sections = fetched.sections
    events, histories = referral_records(program, records, as_of, set(fetched.partial))
    made = {
        "referrals": referrals(program, sections, fetched.referrals, as_of, events, histories),
        "referrers": referrers(program, sections, fetched.referrers, as_of),
        "withheld": withheld(program, sections, fetched.withheld),
    }
    return {key: list(items) if whole else Items(items) for key, items in made.items()}
