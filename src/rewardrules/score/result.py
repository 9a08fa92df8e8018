"""Report stage: engine state -> the result record (awards, explanations).

Statuses of held awards are decided here, against the as-of instant, so the
same engine state can be reported at several instants. Everything a result
holds is built in a fixed order from ordered data, so the JSON is
byte-identical from run to run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal, localcontext
from operator import attrgetter
from typing import Any, NamedTuple

from ..check import templates
from ..check.program import AttributionInfo, MilestoneInfo, ProgramInfo
from ..core.datatypes import Type
from ..core.formatting import amount_text, format_value, formatter, plain, with_unit
from ..core.ids import partial_reversal_id, reversal_id
from ..core.jsonout import Items, write_fields
from ..core.runtime import CONTEXT, Referral, ReferrerState, next_multiple
from ..core.timeutil import format_deadline, format_timestamp, parse_timestamp
from ..core.units import format_amount, is_additive
from ..syntax import nodes as ast
from .clawback import Taking, clawback, confirmed_at
from .engine import Engine, IssuedAward, Rejected, Withheld, timer_referral
from .settle import Settled, Settlement


def void_event(award: IssuedAward, as_of: int) -> tuple[dict[str, Any], int] | None:
    """The event, at or before as-of, that takes the award back whole (a
    `void if` event, or the partial void's event that completes the share),
    with the position of its `void` in the milestone; or None. See
    `clawback` for what each event takes."""
    claw = clawback(award, as_of, confirmed_at(award))
    if claw.voided is not None:
        return claw.voided.event, claw.voided.rule
    for taking in claw.takings:
        if taking.taken == award.amount:
            return taking.event, taking.rule
    return None


def voided_by(award: IssuedAward, as_of: int) -> dict[str, Any] | None:
    """The event of `void_event`, or None."""
    found = void_event(award, as_of)
    return found[0] if found is not None else None


def status(award: IssuedAward, as_of: int) -> str:
    """`void` if void events took the whole award back before (or as) it
    was confirmed; `pending` during a hold; otherwise `confirmed`. A void
    event after confirmation does not rewrite the award: it gives a
    reversal entry (see `Reporter.reversals`), and so does a partial one."""
    if clawback(award, as_of, confirmed_at(award)).voided is not None:
        return "void"
    if as_of < confirmed_at(award):
        return "pending"
    return "confirmed"


class Reporter:
    """Builds the result record of one engine at one as-of instant."""

    def __init__(self, engine: Engine, as_of: int, settled: Settled | None = None) -> None:
        self.engine = engine
        self.compiled = engine.compiled
        self.checked = engine.compiled.checked
        self.as_of = as_of
        self._withheld: set[tuple[int, str, str]] | None = None
        #: what the app already paid and clawed back (see `settle`)
        self.settled = settled
        #: decided once per report, not per referral explained: each
        #: program's metric writers (`snapshot`) and milestones counted per
        #: referral (`_per_referral`), each condition's parts (`_condition_parts`)
        self._writers: dict[int, dict[str, Callable[[Any], Any]]] = {}
        self._milestones: dict[int, list[MilestoneInfo]] = {}
        self._parts: dict[tuple[int, int], list[_Part]] = {}

    # -- types of names, for formatting ----------------------------------
    def _type(self, program: ProgramInfo, name: str) -> Type | None:
        if "." in name:
            event, _, field = name.partition(".")
            info = self.checked.events.get(event)
            f = info.fields.get(field) if info else None
            return f.type if f else None
        metric = program.metrics.get(name)
        return metric.type if metric else None

    def _values(self, program: ProgramInfo, values: dict[str, Any]) -> dict[str, Any]:
        return {k: format_value(v, self._type(program, k)) for k, v in values.items()}

    # -- awards ----------------------------------------------------------
    def award(self, award: IssuedAward, explain: bool = True) -> dict[str, Any]:
        """The award's record as the contract writes it, with its status as
        of the report's instant and, when explaining, its `why`. Built here
        rather than when issued: the engine keeps only what the record needs."""
        milestone = award.milestone
        record = self._record(award)
        if explain:
            record["why"] = self._why(award)
        reward = milestone.rewards[award.reward_index].info
        if reward.voids or reward.hold_ns is not None:
            record["status"] = status(award, self.as_of)
            if explain and record["status"] == "void":
                record["why"]["voided_by"] = self._voided_by(award)
        if milestone.info.message is not None:
            record["message"] = self._message(award, record, self.checked.programs[milestone.program])
        return record

    @staticmethod
    def _record(award: IssuedAward) -> dict[str, Any]:
        """The award's fields, status `confirmed` (see `award`): its
        reward's record with what differs from award to award filled in."""
        reward = award.milestone.rewards[award.reward_index]
        record = reward.record.copy()
        record["id"] = award.id
        record["at"] = format_timestamp(award.at)
        record["beneficiary"] = award.beneficiary
        record["referrer"] = award.referral.referrer
        record["referee"] = award.referral.referee
        if reward.constant_text is None or award.amount is not reward.constant:
            record["amount"] = amount_text(award.amount, reward.quantum, reward.info.kind)
        return record

    @staticmethod
    def _why(award: IssuedAward) -> dict[str, Any]:
        """What triggered an award: its event, the values the milestone
        tested (as they were then), its occurrence and whether a cap cut it
        (`capped`) from what amount (`uncapped`)."""
        milestone = award.milestone
        why: dict[str, Any] = {
            "event": award.event,
            "values": {
                name: write(value)
                for name, value, write in zip(milestone.why_names, award.values, milestone.why_format, strict=False)
            },
        }
        if award.occurrence is not None:
            why["occurrence"] = award.occurrence
        if award.capped:
            why["capped"] = True
            if award.uncapped is not None:
                reward = milestone.rewards[award.reward_index]
                why["uncapped"] = amount_text(award.uncapped, reward.quantum, reward.info.kind)
        return why

    def _message(self, award: IssuedAward, record: dict[str, Any], program: ProgramInfo) -> str:
        info = award.milestone.info
        context: dict[str, Any] = {
            "ruleset": self.checked.name,
            "program": program.name,
            "milestone": info.name,
            "title": info.title or info.name,
            "at": record["at"],
            **{k: record[k] for k in ("role", "beneficiary", "referrer", "referee", "kind", "amount", "unit", "item")},
        }
        for name, value in (award.snapshot or {}).items():
            context[name] = format_value(value, program.metrics[name].type)
        if info.event is not None:
            event = self.checked.events[info.event]
            context[info.event] = {
                k: format_value(v, event.fields[k].type if k in event.fields else None)
                for k, v in (award.trigger or {}).items()
            }
        return templates.render(info.message or "", context)

    def snapshot(
        self, program: ProgramInfo, index: int, referral: Referral, referrer: ReferrerState | None
    ) -> dict[str, Any]:
        compiled = self.compiled.programs[index]
        if referrer is None:
            referrer = ReferrerState(referral.referrer, compiled.referrer_slots(), len(self.compiled.milestones))
        with localcontext(CONTEXT):
            values = compiled.snapshot(referral, referrer)
        writers = self._writers.get(index)
        if writers is None:
            writers = self._writers[index] = {k: formatter(m.type) for k, m in program.metrics.items()}
        return {k: writers[k](v) for k, v in values.items()}

    # -- explanations ----------------------------------------------------
    def referral(self, referral: Referral, reached: Reached) -> dict[str, Any]:
        programs = []
        for index, program in enumerate(self.checked.programs):
            eligible = index in referral.programs
            entry: dict[str, Any] = {"program": program.name, "eligible": eligible}
            if not eligible:
                rejection = self.rejection(index, referral)
                if rejection is not None:
                    entry["why"] = "not eligible: " + rejection_text(rejection)
                    entry["rule"] = rejection["rule"]
                    entry["values"] = rejection["values"]
                else:  # eligible, but its referee is another referral's there
                    entry["why"] = self._not_counted(index, program, referral)
            else:
                if program.attribution.moves:
                    entry["holds"] = self._holds(index, program, referral)
                    entry["attribution"] = self._attribution(index, program, referral)
                referrer = self.engine.state.referrers[index].get(referral.referrer)
                values = self.snapshot(program, index, referral, referrer)
                entry["metrics"] = values
                entry["milestones"] = [
                    self._progress(program, m, referral, values, reached) for m in self._per_referral(index)
                ]
            programs.append(entry)
        return {
            "referrer": referral.referrer,
            "referee": referral.referee,
            "at": format_timestamp(referral.at),
            "event": referral.id,
            "programs": programs,
        }

    def _per_referral(self, index: int) -> list[MilestoneInfo]:
        """Program `index`'s milestones counted per referral, in order."""
        found = self._milestones.get(index)
        if found is None:
            found = self._milestones[index] = [
                m for m in self.checked.programs[index].milestones if m.level == "referral"
            ]
        return found

    def rejection(self, index: int, referral: Referral) -> dict[str, Any] | None:
        """The `eligible when` clause of program `index` that is false for
        a referral, and the values it read, as results write them (fields
        and metrics by name; for `X in earlier referrals.F`, the id of the
        earlier referral event that holds X, or null); None if it is
        eligible. Every value is settled at the referral, so the answer is
        the one the engine had when it judged it."""
        compiled = self.compiled.programs[index]
        if compiled.why_not is None:
            return None
        with localcontext(CONTEXT):
            found = compiled.why_not(referral)
        if found is None:
            return None
        k, raw = found
        program = self.checked.programs[index]
        clause = program.eligible[k]
        types = _value_types(clause, self.checked.types)
        names = compiled.why_not_names[k]
        values = {
            name: (value or None) if name.startswith(EARLIER) else format_value(value, types.get(name))
            for name, value in zip(names, raw, strict=True)
        }
        return {"program": program.name, "rule": clause.span.text if clause.span else "", "values": values}

    def _not_counted(self, index: int, program: ProgramInfo, referral: Referral) -> str:
        """Why a referral does not count in a program: it is not eligible,
        or (a later referral of its referee, eligible) the referee was
        another referral's there (see `Engine._claim`)."""
        first = self.engine.state.referrals.get(referral.referee)
        if first is None or first is referral or not self.engine.compiled.programs[index].eligible(referral):
            return self._ineligible(program, referral)
        owner = first
        node: Referral | None = first
        while node is not None and node is not referral:  # the referee's referrals before this one
            if index in node.programs:
                owner = node
            node = node.next
        return (
            f"not counted: `{referral.referee}` was already referred by `{owner.referrer}` (event `{owner.id}`) "
            "in this program"
        )

    def _holds(self, index: int, program: ProgramInfo, referral: Referral) -> bool:
        """Whether a referral holds its referee in a program as of the
        report: it still counts there, and has not lapsed by then."""
        if not any(p.index == index for p, _ in referral.links):
            return False
        lapse = program.attribution.lapse_ns
        converted = index in self.engine.state.referrals[referral.referee].converted
        return converted or lapse is None or self.as_of - referral.at <= lapse

    def _attribution(self, index: int, program: ProgramInfo, referral: Referral) -> str:
        """Who a referral holds its referee for, in a program whose
        attribution lets it move: still, since it converted, until another
        referral took it, or until it lapsed."""
        attribution = program.attribution
        conversion = f"`first {attribution.event}`"
        converted = index in self.engine.state.referrals[referral.referee].converted
        lapse = attribution.lapse_ns
        if self._holds(index, program, referral):
            if converted:
                return f"holds `{referral.referee}` for good: it converted ({conversion})"
            until = f", at the latest by {format_timestamp(referral.at + lapse)}" if lapse is not None else ""
            return f"holds `{referral.referee}` until it converts ({conversion}){until}"
        node = referral.next
        while node is not None and index not in node.programs:
            node = node.next
        if node is not None and (lapse is None or node.at - referral.at <= lapse or attribution.model == "last"):
            return (
                f"`{node.referrer}` took `{referral.referee}` with event `{node.id}` at {format_timestamp(node.at)} "
                f"({_model(attribution)}); what this referral earned before stays"
            )
        end = format_timestamp(referral.at + lapse) if lapse is not None else "?"
        return f"lapsed at {end}: `{referral.referee}` had not converted ({conversion}) by then"

    def _ineligible(self, program: ProgramInfo, referral: Referral) -> str:
        conditions = [c.span.text if c.span else "" for c in program.eligible]
        fields = sorted({n.attr.text for c in program.eligible for n in _refs(c) if n.attr is not None})
        shown = ", ".join(
            f"{f} = {json.dumps(format_value(referral.fields.get(f), None))}"
            if referral.fields.get(f) is not None
            else f"{f} is not set"
            for f in fields
        )
        return f"not eligible: `{' and '.join(conditions)}` is false" + (f" ({shown})" if shown else "")

    def _progress(
        self,
        program: ProgramInfo,
        milestone: MilestoneInfo,
        referral: Referral,
        values: dict[str, Any],
        reached: Reached,
    ) -> dict[str, Any]:
        scope = _scope(milestone, referral)
        ids = _award_ids(reached.get(scope))
        entry: dict[str, Any] = {"milestone": milestone.name, "reached": bool(ids), "awards": ids}
        trigger = milestone.trigger
        repeating = isinstance(trigger, (ast.IncreaseTrigger, ast.EveryTrigger)) or (
            isinstance(trigger, ast.EventTrigger) and trigger.each
        )
        if ids and not repeating:
            return entry
        if not ids and not repeating and scope in self._withheld_scopes():
            # reached, but every reward was withheld (a cap): nothing is to come
            entry["withheld"] = True
            return entry
        entry["progress"] = self._describe(program, milestone, referral, values)
        closes = self._window_end(milestone, referral)
        if (closes is not None and self.as_of > closes) or self._timer_rang(milestone, referral):
            entry["closed"] = True  # what explain reads: never the progress text
        return entry

    def _timer_rang(self, milestone: MilestoneInfo, referral: Referral) -> bool:
        """Whether an `after` milestone's timer rang for the referral and
        paid nothing (its condition did not hold then): it never pays later."""
        if not isinstance(milestone.trigger, ast.AfterTrigger):
            return False
        timer = self.engine.state.timers.get((milestone.index, referral.referee))
        if timer is not None and timer.at > self.as_of:
            return False
        return (milestone.index, referral.referee) in self.engine.state.anchored or milestone.anchor is None

    @staticmethod
    def _window_end(milestone: MilestoneInfo, referral: Referral) -> int | None:
        """When an event milestone's `within` window closes for a referral
        (None: the milestone has no window)."""
        trigger = milestone.trigger
        if not isinstance(trigger, ast.EventTrigger) or trigger.within is None:
            return None
        return referral.at + int(trigger.within.value * _duration_ns(trigger.within))

    def _withheld_scopes(self) -> set[tuple[int, str, str]]:
        """(milestone, referee or referrer) of the rewards withheld as of
        the report's instant, computed once per report."""
        if self._withheld is None:
            self._withheld = set()
            for item in self.engine.state.withheld:
                if item.at <= self.as_of:
                    info = item.milestone.info
                    self._withheld.add(_scope(info, item.referral))
        return self._withheld

    def _describe(
        self, program: ProgramInfo, milestone: MilestoneInfo, referral: Referral, values: dict[str, Any]
    ) -> str:
        """A milestone's progress in words; values and thresholds with
        their units (`` `mrr` is 900.00 USD of 1000 USD``)."""
        trigger = milestone.trigger
        if ast.timer_of(trigger) is not None:
            return self._timer_progress(program, milestone, referral, values)
        if isinstance(trigger, ast.WhenTrigger):
            return _condition_progress(self._condition_parts(program, trigger.condition), values)
        if isinstance(trigger, ast.EventTrigger):
            what = f"`{trigger.event.text}`" + (
                f" where `{trigger.where.span.text}`" if trigger.where and trigger.where.span else ""
            )
            closes = self._window_end(milestone, referral)
            if closes is not None:
                if self.as_of > closes:
                    return f"window closed at {format_deadline(closes)}" + (
                        "" if trigger.each else f" without a {what}"
                    )
                return f"{'each' if trigger.each else 'waiting for a'} {what} until {format_deadline(closes)}"
            return f"{'each' if trigger.each else 'waiting for a'} {what}"
        assert isinstance(trigger, (ast.IncreaseTrigger, ast.EveryTrigger))  # timers: `_timer_progress`
        name = trigger.metric.text
        current = values.get(name)
        typ = self._type(program, name)
        if current is None:
            rewarded = (
                "each rise is rewarded"
                if isinstance(trigger, ast.IncreaseTrigger)
                else f"rewarded every {with_unit(plain(trigger.step), typ)}"
            )
            return f"no `{name}` yet; {rewarded}"
        if isinstance(trigger, ast.IncreaseTrigger):
            return f"`{name}` is {with_unit(str(current), typ)}; each rise is rewarded"
        step = trigger.step
        nxt = next_multiple(Decimal(str(current)), step)
        return f"`{name}` is {with_unit(str(current), typ)}; next reward at {with_unit(plain(nxt), typ)}"

    def _condition_parts(self, program: ProgramInfo, condition: ast.Expr) -> list[_Part]:
        """`condition`'s parts as `_condition_progress` writes them, made
        once per program and condition (a progress text is written for
        most referrals explained, a condition's shape never changes)."""
        key = (id(program), id(condition))
        parts = self._parts.get(key)
        if parts is None:
            parts = self._parts[key] = _parts(condition, lambda name: self._type(program, name))
        return parts

    def _timer_progress(
        self, program: ProgramInfo, milestone: MilestoneInfo, referral: Referral, values: dict[str, Any]
    ) -> str:
        """A timer milestone's progress: when its pending timer is due, or
        what starts it (`when C for D`: C becoming true; `after D`: its
        event), or that it rang and its condition did not hold."""
        trigger = milestone.trigger
        after = isinstance(trigger, ast.AfterTrigger)
        scope = referral.referrer if milestone.level == "referrer" and not after else referral.referee
        timer = self.engine.state.timers.get((milestone.index, scope))
        compiled = self.engine.compiled.milestones[milestone.index]
        mine = (
            timer is None or scope != referral.referee or timer_referral(self.engine.state, compiled, timer) is referral
        )
        if not mine:
            timer = None  # the referral's that took the referee: never this one's
        if scope == referral.referee and not self.engine.holds(
            referral, self.engine.compiled.programs[compiled.program], self.as_of
        ):
            return "no timer: the referral no longer holds the referee in the program"
        condition = trigger.condition if isinstance(trigger, (ast.WhenTrigger, ast.AfterTrigger)) else None
        if timer is not None and timer.at > self.as_of:
            since = format_deadline(timer.since)
            if not after:
                return (
                    f"held since {since} (event {timer.event}); pays at {format_deadline(timer.at)} if it still holds"
                )
            tail = f" if `{_span_text(condition)}` then" if condition is not None else ""
            return f"timer started {since} (event {timer.event}); pays at {format_deadline(timer.at)}{tail}"
        if after:
            if self._timer_rang(milestone, referral):
                return f"the timer rang and `{_span_text(condition)}` did not hold then: nothing to pay"
            return f"waiting for a `{milestone.anchor}` to start the timer"
        assert isinstance(trigger, ast.WhenTrigger) and condition is not None
        shown = _condition_progress(self._condition_parts(program, condition), values)
        return f"not held: {shown}; it pays once it holds for {_span_text(trigger.held)}"

    def referrer_progress(self) -> list[dict[str, Any]]:
        """Milestones counted per referrer (e.g. number of conversions)."""
        out = []
        reached = self._reached()
        for index, program in enumerate(self.checked.programs):
            milestones = [m for m in program.milestones if m.level == "referrer"]
            if not milestones:
                continue
            first: dict[str, Referral] = {}
            for r in self.engine.state.every_referral():
                first.setdefault(r.referrer, r)
            for name in sorted(self.engine.state.referrers[index]):
                state = self.engine.state.referrers[index][name]
                referral = first[name]
                values = self.snapshot(program, index, referral, state)
                values = {k: v for k, v in values.items() if program.metrics[k].level == "referrer"}
                out.append(
                    {
                        "referrer": name,
                        "program": program.name,
                        "metrics": values,
                        "milestones": [self._progress(program, m, referral, values, reached) for m in milestones],
                    }
                )
        return out

    def _voided_by(self, award: IssuedAward) -> dict[str, Any]:
        """Which event voided an award and by which `void if` (its position
        in the milestone, from 0): explanations and test coverage say so."""
        found = void_event(award, self.as_of)
        assert found is not None
        event, index = found
        return {
            "event": event["id"],
            "type": award.milestone.voids[index].info.event,
            "at": format_timestamp(event["at"]),
            "rule": index,
        }

    @staticmethod
    def withheld(item: Withheld) -> dict[str, Any]:
        """A reward reached but not issued, with why, and what it would
        have paid: its `kind`, `amount` (null when it has no value or is
        too large to round), `unit` and `item`, written as an award's."""
        reward = item.milestone.rewards[item.reward_index]
        amount = item.amount
        return {
            "at": format_timestamp(item.at),
            "milestone": item.milestone.info.name,
            "role": item.role,
            "beneficiary": item.beneficiary,
            "referrer": item.referral.referrer,
            "referee": item.referral.referee,
            "reason": item.reason,
            "kind": reward.record["kind"],
            "amount": None if amount is None else withheld_amount(amount, reward.record["unit"], reward.info.kind),
            "unit": reward.record["unit"],
            "item": reward.record["item"],
        }

    def rejected(self, rejected: Rejected) -> dict[str, Any]:
        """A referral event not counted, as results list it: an ineligible
        one also names, per program, the `eligible when` clause that is
        false and the values it read (`rules`, see `rejection`)."""
        entry: dict[str, Any] = {
            "event": rejected.event,
            "at": format_timestamp(rejected.at),
            "referrer": rejected.referrer,
            "referee": rejected.referee,
            "reason": rejected.reason,
        }
        referral = self.engine.state.referrals.get(rejected.referee or "")
        rules = []
        if rejected.reason == "ineligible" and referral is not None and referral.id == rejected.event:
            rules = [r for r in (self.rejection(i, referral) for i in range(len(self.checked.programs))) if r]
        detail = rejected.detail or "; ".join(
            (f"program `{r['program']}`: " if len(rules) > 1 else "") + rejection_text(r) for r in rules
        )
        if detail:
            entry["detail"] = detail
        if rules:
            entry["rules"] = rules
        return entry

    def reversals(self) -> list[dict[str, Any]]:
        """Compensating entries for confirmed awards that a later event takes
        back (a refund after the hold): the award stays as it was paid, and
        this entry, linked by `reverses`, says how much comes back and why.
        A partial void gives one entry per event, each with its own id; one
        during the hold is dated when the award is confirmed (paid)."""
        out = []
        for award in self.engine.state.awards:
            if not award.milestone.rewards[award.reward_index].info.voids or award.at > self.as_of:
                continue
            confirmed = confirmed_at(award)
            if confirmed > self.as_of:
                continue
            record = self._record(award)
            quantum = award.milestone.rewards[award.reward_index].quantum
            for taking in clawback(award, self.as_of, confirmed).takings:
                out.append(reversal_entry(award.id, record, taking, confirmed, quantum))
        out.sort(key=reversal_order)
        return out

    def _reached(self) -> Reached:
        """The ids of the awards of per-referrer milestones issued by the
        as-of, by milestone and referrer (see `Reached`): what
        `referrer_progress` reads. A referral's explanation reads its own
        (`_reached_for`): an index of every award, a tuple key each, was
        about 250 MB at 10M events."""
        if not any(m.level == "referrer" for p in self.checked.programs for m in p.milestones):
            return {}
        return _by_scope((a for a in self.engine.state.awards if a.milestone.info.level == "referrer"), self.as_of)

    def _reached_for(self, referral: Referral) -> Reached:
        """`Reached` for a referral's explanation (which reads its
        per-referral milestones only): a referee has one referral per
        referrer, so the awards of its scope are those issued for it."""
        return _by_scope((a for a in referral.issued if a.milestone.info.level == "referral"), self.as_of)

    def build(self, explain: bool = True) -> dict[str, Any]:
        """The whole result record, computed in the scoring decimal context
        (totals are sums: the caller's context must not round them)."""
        with localcontext(CONTEXT):
            try:
                return self._build(explain)
            except Exception as exc:  # an engine bug in generated code: name the rule line
                self.compiled.annotate(exc)
                raise

    def _build(self, explain: bool) -> dict[str, Any]:
        state = self.engine.state
        awards = [self.award(a, explain) for a in state.awards if a.at <= self.as_of]
        reversals = self.reversals()
        if self.settled is not None:
            issued = {a.id: a for a in state.awards}
            settlement = Settlement(self.settled, issued, self.as_of, lambda a: voided_by(a, self.as_of), explain)
            awards, reversals = settlement.apply(awards, reversals)
        result: dict[str, Any] = {
            "ruleset": self.checked.name,
            "as_of": format_timestamp(self.as_of),
            "awards": awards,
            "reversals": reversals,
            "totals": _totals(awards, reversals),
        }
        if explain:
            result["referrals"] = [self.referral(r, self._reached_for(r)) for r in self._referrals()]
            result["referrers"] = self.referrer_progress()
            result["withheld"] = [self.withheld(w) for w in state.withheld if w.at <= self.as_of]
        result["rejected"] = [self.rejected(r) for r in state.rejected if r.at <= self.as_of]
        return result

    def _referrals(self) -> list[Referral]:
        """The referrals a result explains, in ledger order (instant, id):
        sorted by id, then stably by instant, so the keys are the
        referrals' own values rather than a new (instant, id) tuple each
        (64 bytes a referral, computed, not measured apart)."""
        referrals = sorted(self.engine.state.every_referral(), key=attrgetter("id"))
        referrals.sort(key=attrgetter("at"))
        return referrals

    def write_json(self, explain: bool, write: Callable[[bytes], object]) -> None:
        """Write `build(explain)` as `core.jsonout.write_pretty` would,
        making each award, referral, withheld reward and rejection as it is
        written, in the scoring decimal context: no list of them is held
        whole (the batch's memory at scale). With a settled statement the
        result is built whole first (settling reads every award)."""
        self.write(explain, lambda fields: write_fields(fields, write))

    def write(self, explain: bool, writer: Callable[[Iterable[tuple[str, Any]]], None]) -> None:
        """Run `writer` on the (key, value) pairs of `build(explain)`, in
        its order and in the scoring decimal context: `_fields` (made while
        they are read), or, with a settled statement, the pairs of the
        result built whole (settling reads every award). How the JSON and
        the text report (`report.score.write_text`) are written: `writer`
        reads each value whole before it takes the next pair (the totals
        are summed as the awards are read)."""
        with localcontext(CONTEXT):
            try:
                writer(self._fields(explain) if self.settled is None else iter(self._build(explain).items()))
            except Exception as exc:  # an engine bug in generated code: name the rule line
                self.compiled.annotate(exc)
                raise

    def _fields(self, explain: bool) -> Iterator[tuple[str, Any]]:
        """The keys and values of `_build` (without a settled statement) in
        its order; the lists as `Items` made while they are written. The
        totals are summed as the awards go by, in the same order."""
        state = self.engine.state
        totals = Totals()
        yield "ruleset", self.checked.name
        yield "as_of", format_timestamp(self.as_of)
        yield "awards", Items(totals.counted(self.award(a, explain) for a in state.awards if a.at <= self.as_of))
        reversals = self.reversals()
        yield "reversals", reversals
        for reversal in reversals:
            totals.add({**reversal, "status": "reversed"})
        yield "totals", totals.entries()
        if explain:
            yield "referrals", Items(self.referral(r, self._reached_for(r)) for r in self._referrals())
            yield "referrers", self.referrer_progress()
            yield "withheld", Items(self.withheld(w) for w in state.withheld if w.at <= self.as_of)
        yield "rejected", Items(self.rejected(r) for r in state.rejected if r.at <= self.as_of)


#: how `rejection` names the outcome of a test of earlier referrals
EARLIER = "earlier referrals."


def rejection_text(rejection: dict[str, Any]) -> str:
    """A rejection for people: "`recent < 5` is false (recent = 5)"."""
    parts = []
    for name, value in rejection["values"].items():
        if name.startswith(EARLIER):
            field = name.removeprefix(EARLIER)
            parts.append(
                f"earlier referral {value} has the same {field}" if value else f"no earlier referral has this {field}"
            )
        else:
            field = name.startswith("referral.")
            shown = name.removeprefix("referral.")
            written = json.dumps(value) if field else value
            parts.append(f"{shown} is not set" if value is None else f"{shown} = {written}")
    return f"`{rejection['rule']}` is false" + (f" ({', '.join(parts)})" if parts else "")


def _value_types(clause: ast.Expr, types: Any) -> dict[str, Type | None]:
    """The type of each name a clause reads, to write its value."""
    found: dict[str, Type | None] = {}
    for node in ast.walk(clause):
        if isinstance(node, ast.Ref):
            found.setdefault(node.dotted, types.get(node))
    return found


#: The awards reached, by `_scope` (milestone index, referrer, referee): one award's id as
#: itself, several as a list. Most scopes reach one award, and a list of
#: one cost about 80 bytes more (180 MB of a result's writing at 10M events).
Reached = dict[tuple[int, str, str], str | list[str]]


def _award_ids(found: str | list[str] | None) -> list[str]:
    """The award ids of one entry of `Reached` (None: none), as a list."""
    if found is None:
        return []
    return [found] if type(found) is str else list(found)


def _by_scope(awards: Iterable[IssuedAward], as_of: int) -> Reached:
    """The ids of `awards` issued by `as_of`, by milestone and scope (see
    `Reached`), in the order given."""
    reached: Reached = {}
    for award in awards:
        if award.at > as_of:
            continue
        info = award.milestone.info
        key = _scope(info, award.referral)
        found = reached.get(key)
        if found is None:
            reached[key] = award.id
        elif isinstance(found, str):
            reached[key] = [found, award.id]
        else:
            found.append(award.id)
    return reached


def _scope(milestone: MilestoneInfo, referral: Referral) -> tuple[int, str, str]:
    """What a milestone is reached for, as a key of `Reached`: the
    milestone and the referral (its referrer and referee: one referee may
    have several referrals, see `Engine._claim`), or the referrer alone for
    a per-referrer milestone."""
    return (milestone.index, referral.referrer, referral.referee if milestone.level == "referral" else "")


def _model(attribution: AttributionInfo) -> str:
    """The attribution model, as the rule writes it."""
    if attribution.decl is not None and attribution.decl.span is not None:
        return f"`{attribution.decl.span.text}`"
    return "`attribution first referral`"


def reversal_entry(
    award_id: str, record: dict[str, Any], taking: Taking, confirmed: int, quantum: Decimal | None
) -> dict[str, Any]:
    """The reversal entry of one void event's taking from an award (its
    `record`, confirmed at `confirmed`): for the Python engine's report and
    the SQL back end's partial voids alike."""
    kind = record["kind"]
    why: dict[str, Any] = {"event": taking.event["id"]}
    if taking.partial:
        why["taken"] = amount_text(taking.taken, quantum, kind)
    rid = partial_reversal_id(award_id, taking.event["id"]) if taking.partial else reversal_id(award_id)
    return {
        "id": rid,
        "reverses": award_id,
        "at": format_timestamp(max(taking.event["at"], confirmed)),
        **{k: record[k] for k in ("milestone", "role", "beneficiary", "referrer", "referee")},
        "kind": kind,
        "amount": amount_text(taking.amount, quantum, kind),
        **{k: record[k] for k in ("unit", "item", "program")},
        "why": why,
    }


def reversal_order(entry: dict[str, Any]) -> tuple[int, str, str]:
    """The order reversals are listed in: instant (not its text:
    `...:00.5Z` sorts before `...:00Z` as text), event, award reversed."""
    return (parse_timestamp(entry["at"]), entry["why"]["event"], entry["reverses"])


def withheld_amount(amount: Decimal, unit: str, kind: str) -> str:
    """What a withheld reward would have paid, written as an award's
    amount: money with its currency's decimals, other units plainly, an
    item as one."""
    return "1" if kind == "item" else format_amount(amount, unit)


def _duration_ns(duration: ast.Duration) -> int:
    from ..core.datatypes import DURATION_UNITS

    return DURATION_UNITS[duration.unit.text]


def _refs(expr: ast.Expr) -> list[ast.Ref]:
    return [n for n in ast.walk(expr) if isinstance(n, ast.Ref)]


def _threshold(node: ast.Number | ast.Quantity, typ: Type | None) -> str:
    """A threshold with its unit: as the rule writes it (`1000 USD`,
    `30 days`), or a bare number with the metric's unit."""
    if isinstance(node, ast.Quantity):
        return f"{plain(node.value)} {node.unit.text}"
    return with_unit(plain(node.value), typ)


class _Part(NamedTuple):
    """A part of a condition joined by `and`, as progress texts write it,
    with what depends only on the rule file decided once (see
    `_condition_progress`)."""

    #: the metric of a part that reads as a threshold (`mrr >= 1000 USD`),
    #: written so when `values` holds it; else None
    metric: str | None
    #: `more than ...` or the target, with the metric's unit (`1000 USD`)
    needs: str
    #: the target alone, with its unit
    target: str
    #: the metric's unit after a value (`" USD"`), or ""
    unit: str
    #: the names the part reads, sorted, each with its unit (as `unit`)
    names: tuple[tuple[str, str], ...]
    #: the part as the rule writes it
    text: str


def _unit(typ: Type | None) -> str:
    """What `with_unit` adds after a value of `typ`."""
    return with_unit("", typ)


def _parts(condition: ast.Expr, type_of: Callable[[str], Type | None]) -> list[_Part]:
    """The parts of `condition` for `_condition_progress`."""
    parts = []
    for node in ast.conjuncts(condition):
        names = tuple((n, _unit(type_of(n))) for n in sorted({n.head.text for n in _refs(node)}))
        text = node.span.text if node.span else "condition"
        shape = ast.threshold(node, _Every())
        if shape is None:
            parts.append(_Part(None, "", "", "", names, text))
            continue
        typ = type_of(shape.metric)
        target = _threshold(shape.target, typ)
        needs = f"more than {target}" if shape.op == ">" else target
        parts.append(_Part(shape.metric, needs, target, _unit(typ), names, text))
    return parts


class _Every:
    """A container of every name: `ast.threshold`'s shape test alone (the
    metric is tested against the values where they are known)."""

    def __contains__(self, name: object) -> bool:
        return True


def _condition_progress(parts: list[_Part], values: dict[str, Any]) -> str:
    """ "`mrr` is 800.00 USD of 1000 USD" for a threshold (a value and its
    target with the metric's unit); else the condition and the current
    values of the metrics it reads."""
    out = []
    for part in parts:
        name = part.metric
        if name is not None and name in values:
            current = values[name]
            if current is None:
                out.append(f"no `{name}` yet (needs {part.needs})")
            else:
                out.append(f"`{name}` is {current}{part.unit} of {part.target}")
        else:
            shown = ", ".join(
                f"{n} = {values[n]}{unit}" if values[n] is not None else f"no {n} yet"
                for n, unit in part.names
                if n in values
            )
            out.append(f"`{part.text}` is not met" + (f" ({shown})" if shown else ""))
    return "; ".join(out)


def _totals(awards: list[dict[str, Any]], reversals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Count and amount per unit, kind and status; reversals count under
    the status `reversed` (amounts taken back). A unit that does not add up
    (percent: see `units.is_additive`) is not summed: it has one entry per
    rate, whose `amount` is each award's and `each` is true. Added in award
    order: an amount of 100 digits (a division) makes the sum round, and
    the result must not depend on how the awards are grouped."""
    totals = Totals()
    for award in [*awards, *({**r, "status": "reversed"} for r in reversals)]:
        totals.add(award)
    return totals.entries()


class Totals:
    """The sums of `_totals`, added one award (or reversal) at a time."""

    def __init__(self) -> None:
        # Awards of a program mostly share a few amounts: each (amount,
        # unit, kind, status) is parsed and looked up once, then its
        # running sum and the amount's value are found in one step.
        self.known: dict[tuple[str, str, str, str], tuple[list[Any], Decimal]] = {}
        self.sums: dict[tuple[str, str, str, Decimal], list[Any]] = {}

    def add(self, award: dict[str, Any]) -> None:
        """Count one record (an award's, or a reversal's with its status)."""
        key = (award["amount"], award["unit"], award["kind"], award["status"])
        found = self.known.get(key)
        if found is None:
            found = self.known[key] = self._entry(*key)
        entry, value = found
        entry[0] += value
        entry[1] += 1

    def _entry(self, text: str, unit: str, kind: str, status: str) -> tuple[list[Any], Decimal]:
        """The running [sum, count] of the total an award of this amount
        text, unit, kind and status adds to, and the amount's value."""
        value = Decimal(text)
        rate = Decimal(0) if is_additive(unit) else value
        return self.sums.setdefault((unit, kind, status, rate), [Decimal(0), 0]), value

    def counted(self, awards: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """`awards`, each added as it goes by."""
        for award in awards:
            self.add(award)
            yield award

    def entries(self) -> list[dict[str, Any]]:
        """The entries of `totals`, in their order."""
        return [
            _total(unit, kind, status, rate, total, count)
            for (unit, kind, status, rate), (total, count) in sorted(self.sums.items())
        ]


def _total(unit: str, kind: str, status: str, rate: Decimal, total: Decimal, count: int) -> dict[str, Any]:
    """One entry of `totals`: the sum of an additive unit (items count one
    each), or the rate and count of awards in a unit that does not add up."""
    entry: dict[str, Any] = {"unit": unit, "kind": kind, "status": status, "count": count}
    if not is_additive(unit):
        entry["amount"] = format_amount(rate, unit)
        entry["each"] = True
    else:
        entry["amount"] = format_amount(total, unit) if unit != "item" else str(count)
    return entry


def _span_text(node: Any) -> str:
    """A node's source text on one line ("?" without a span)."""
    span = getattr(node, "span", None)
    return " ".join(span.text.split()) if span is not None else "?"
