"""Evaluate stage: run compiled evaluators over events, in order.

An :class:`Engine` holds the state of one scoring run: accepted referrals
(first valid referral of each referee wins), per-referral and per-referrer
metric slots, caps used, and the awards issued so far. Batch scoring sorts
the ledger by (instant, id) and feeds it through the same engine as an
app's session does, one event at a time, so both give the same awards.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from ..check.program import CapInfo
from ..compiler.generate import CompiledMilestone, CompiledProgram, CompiledRuleset
from ..core.ids import award_id
from ..core.limits import MAX_AWARDS_PER_RUN, MAX_REFERRALS_PER_REFEREE, AwardLimitError, per_event_limit
from ..core.runtime import CONTEXT, ZERO, History, Referral, ReferrerState
from ..core.timeutil import period_key
from ..ledger.events import Record
from ..syntax import nodes as ast
from .clawback import taken_back

#: how many distinct award values an engine shares (see `Engine._shared`)
SHARED_VALUES = 4096

#: "no awards": shared, never appended to (see Engine.process)
_NONE: list[Any] = []

#: what a step reports for each milestone it reached: (program, referrer
#: state, milestone index, occurrence, increase, values)
Reached = tuple[CompiledProgram, ReferrerState, int, str | None, Any, tuple[Any, ...]]


@dataclass(slots=True, eq=False)
class IssuedAward:
    """An award as the engine issued it; statuses are decided at report time."""

    id: str
    at: int
    milestone: CompiledMilestone
    reward_index: int
    role: str
    beneficiary: str
    referral: Referral
    amount: Decimal
    #: the id of the event that triggered it
    event: str
    #: that event's fields by name, kept only when the report needs them (a
    #: `void if` tests them, a message shows them): awards are most of the state
    trigger: dict[str, Any] | None
    occurrence: str | None
    values: tuple[Any, ...]
    capped: bool = False
    #: every metric's value when the award was issued (only for messages)
    snapshot: dict[str, Any] | None = None
    #: for an award a cap cut: the amount before the cut (None otherwise),
    #: so that a report can say how much the cap withheld
    uncapped: Decimal | None = None


@dataclass(slots=True, eq=False)
class Withheld:
    """A reward the rules reached but did not issue (cap reached, no amount)."""

    at: int
    milestone: CompiledMilestone
    reward_index: int
    role: str
    beneficiary: str
    referral: Referral
    reason: str
    #: what the reward would have paid (before a cap cut it to nothing);
    #: None when it has no value or is too large to round
    amount: Decimal | None = None


@dataclass(slots=True)
class Rejected:
    """A referral event that does not create a referral."""

    event: str
    at: int
    referrer: str | None
    referee: str | None
    reason: str  # self_referral | duplicate_referral | ineligible
    detail: str = ""


@dataclass(slots=True)
class Timer:
    """A deadline and what to test then: the milestone (`when C for D`,
    `after D`) whose condition is tested at `at` and, if it holds, awarded
    at that instant with no event (docs/semantics.md, "Timers")."""

    at: int
    #: the milestone's index (file order)
    milestone: int
    #: the referee, or for a held condition counted per referrer the
    #: referrer: with the milestone, what the timer is unique by and, after
    #: its instant, fired in order of (never the order events arrived in)
    scope: str
    #: the referral it belongs to (per referrer: whose event started it)
    referee: str
    #: the event that started the clock, and its instant
    event: str
    since: int

    @property
    def key(self) -> tuple[int, str]:
        return (self.milestone, self.scope)


@dataclass(slots=True, eq=False)
class State:
    referrals: dict[str, Referral] = field(default_factory=dict)
    referrers: list[dict[str, ReferrerState]] = field(default_factory=list)
    awards: list[IssuedAward] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    cap_used: dict[tuple[Any, ...], Decimal] = field(default_factory=dict)
    #: pending timers by (milestone, referee or referrer): see `Engine.fire`
    timers: dict[tuple[int, str], Timer] = field(default_factory=dict)
    #: `after D from EVENT` timers already started, by the same key: the
    #: first such event starts it, later ones do not
    anchored: set[tuple[int, str]] = field(default_factory=set)
    #: per referrer, their referral events so far as `earlier referrals`
    #: read them (empty unless the rules do)
    history: dict[str, History] = field(default_factory=dict)

    def every_referral(self) -> Iterator[Referral]:
        """Every accepted referral: each referee's first (`referrals`, by
        referee), then the later ones that took that referee in a program."""
        for first in self.referrals.values():
            node: Referral | None = first
            while node is not None:
                yield node
                node = node.next


class Engine:
    """Processes validated events, in (instant, id) order, into awards."""

    def __init__(self, compiled: CompiledRuleset, max_awards_per_event: int | None = None) -> None:
        self.compiled = compiled
        #: the most awards one event may give (`limits.per_event_limit`)
        self.per_event = per_event_limit(max_awards_per_event)
        self.state = State(referrers=[{} for _ in compiled.programs])
        compiled.hooks["taken_back"] = taken_back  # the same function for every engine of the ruleset
        self._milestone_count = len(compiled.milestones)
        self._cap_keys: dict[int, tuple[Any, ...]] = {}
        for program in compiled.programs:
            for j, cap in enumerate(program.caps):
                self._cap_keys[id(cap)] = ("program", program.index, j)
        for milestone in compiled.milestones:
            for j, cap in enumerate(milestone.info.caps):
                self._cap_keys[id(cap)] = ("milestone", milestone.info.index, j)
        for j, cap in enumerate(compiled.checked.allowances):
            # one key for every program that draws from it: the allowance is shared
            self._cap_keys[id(cap)] = ("allowance", j, 0)
        self._timezone = compiled.checked.timezone
        # hot-loop look-ups, bound once
        self._steps = compiled.steps
        self._milestones = compiled.milestones
        self._referrals = self.state.referrals
        self._referral_fields = compiled.fields["referral"]
        #: per event type, the timer milestones an event of it may start,
        #: stop or restart (see `_arm`); empty when the rules have none
        self._timed: dict[str, list[CompiledMilestone]] = _timed(compiled)
        #: the pending timers' (instant, milestone, scope), a heap; an entry
        #: whose timer was stopped or fired is skipped (see `fire`)
        self._due: list[tuple[int, int, str]] = []
        #: the programs whose attribution lets a later referral take a referee
        self._moving = [p for p in compiled.programs if p.info.attribution.moves]
        #: the event types a `void if` names (kept per referral, see `process`)
        self._kept = frozenset(v.event for m in compiled.checked.milestones for v in m.voids)
        #: what a step reports: (program, referrer state, milestone,
        #: occurrence, increase, values) for each milestone reached; one
        #: list, emptied after each event, rather than one per call
        self._fired: list[Reached] = []
        #: one tuple for awards' equal values (see `_shared`)
        self._values: dict[tuple[str, ...], tuple[Any, ...]] = {}
        #: per program, each referrer's link tuple (see `_link_to`)
        self._links: list[dict[str, tuple[CompiledProgram, ReferrerState]]] = [{} for _ in compiled.programs]

    def process(self, ev: Record) -> list[IssuedAward]:
        """Apply one event, given as its record (instant, id, type, referee,
        referrer, fields: see `model.EventInfo.record`); return the awards
        it issued, after those of the timers due before its instant. Call
        in the scoring context, `runtime.CONTEXT` or a copy of it (see
        :func:`run` and `api.Session.add`)."""
        if not self._timed:
            return self._event(ev)
        fired = self.fire(ev[0] - 1) if self._due and self._due[0][0] < ev[0] else _NONE
        issued = self._event(ev)
        self._arm(ev)
        return fired + issued if fired else issued

    def _event(self, ev: Record) -> list[IssuedAward]:
        """What an event does by itself (see `process`)."""
        kind = ev[2]
        if kind == "referral":
            referral = self._refer(ev)
        else:
            referral = self._referrals.get(ev[3])  # None: no referral (yet), earns nothing
            if referral is not None and self._moving:
                self._attribute(referral, ev)
        if referral is None:
            return _NONE
        step = self._steps.get(kind)
        if step is None:
            return _NONE
        follow = self.compiled.follows.get(kind)
        # (`_counts` inline: this runs for every event)
        if kind == "referral" or (
            referral.next is None and (referral.links or not referral.programs) and follow is None
        ):
            return self._step(step, referral, ev)  # a referral event is its own referral's alone
        reached = self._reach_all(step, referral, ev)
        issued = _NONE
        if reached:
            # issued (and drawn from caps and allowances) in the documented
            # order, program then milestone (file order), not the chain's: a
            # stable sort keeps an `every` milestone's multiples in step order
            reached.sort(key=_milestone_order)
            issued = self._issue(reached, ev)
        if follow is not None:
            # after the awards: a follow reads its referral's `issued` (`taken_back`),
            # this event's included, as it did when each referral was issued in turn
            node: Referral | None = referral
            while node is not None:
                self._follow(follow, node, ev)
                node = node.next
        return issued

    def _step(self, step: Any, referral: Referral, ev: Record) -> list[IssuedAward]:
        """Run the step of an event's only referral that counts and issue
        what it reached, in the step's order (program, milestone: file
        order); several referrals: `_reach_all`, then `_issue`."""
        fired = self._fired
        try:
            step(referral, ev, fired, self.per_event)
            if not fired:
                return _NONE
            self._within_limits(ev, len(fired))
            issued: list[IssuedAward] = []
            for program, referrer, index, occurrence, increase, values in fired:
                self._award(
                    program, self._milestones[index], occurrence, increase, values, referral, referrer, ev, issued
                )
            return issued
        except Exception as exc:  # an engine bug: name the rule line it ran (no cost unless raised)
            self.compiled.annotate(exc, ev[1])
            raise
        finally:
            if fired:  # empty for the next event, even after an error
                fired.clear()

    def _reach_all(self, step: Any, first: Referral, ev: Record) -> list[tuple[Referral, Reached]]:
        """Run the step of each referral of a referee (`first` and those
        after it) that counts, and return the milestones they reached,
        issuing nothing yet: their rewards draw from the caps and
        allowances they share in the order of `_issue`, not the chain's
        (docs/language.md, "Allowances"). The limit of awards per event is
        checked once all have run, as SQL's `volume` does (sql/every.py):
        the first `every` milestone in the file whose multiples alone pass
        it, else the hits of them all, whichever referral reached them."""
        kind = ev[2]
        kept = kind in self._kept
        reached: list[tuple[Referral, Reached]] = []
        stopped: AwardLimitError | None = None
        hits = 0
        referral: Referral | None = first
        while referral is not None:  # each referral of the referee, first to last
            if _counts(referral):
                try:
                    hits = self._reach(step, referral, ev, reached, hits)
                except AwardLimitError as exc:  # `runtime.too_many`: the others still run
                    if exc.milestone is None:
                        raise
                    if stopped is None or self._placed(exc) < self._placed(stopped):
                        stopped = exc
            elif kept:  # it counts nowhere now: it keeps only what may void its awards
                referral.keep(kind, self.compiled.fields[kind](ev))
            referral = referral.next
        if stopped is not None:
            raise stopped
        if hits:
            self._within_limits(ev, hits)
        return reached

    def _reach(
        self, step: Any, referral: Referral, ev: Record, reached: list[tuple[Referral, Reached]], hits: int
    ) -> int:
        """Run one referral's step for an event, add the milestones it
        reached to `reached`, and return the event's hits so far (`hits`
        before it): once past the limit per event they are only counted,
        as the event will give nothing (see `_reach_all`)."""
        fired = self._fired
        try:
            step(referral, ev, fired, self.per_event)
            hits += len(fired)
            if hits <= self.per_event:
                reached.extend((referral, item) for item in fired)
            return hits
        except Exception as exc:  # an engine bug: name the rule line it ran (no cost unless raised)
            self.compiled.annotate(exc, ev[1])
            raise
        finally:
            if fired:  # empty for the next event, even after an error
                fired.clear()

    def _placed(self, error: AwardLimitError) -> int:
        """The index (file order) of the milestone an `AwardLimitError` of
        `runtime.too_many` names."""
        return next(m.info.index for m in self._milestones if m.info.name == error.milestone)

    def _issue(self, reached: list[tuple[Referral, Reached]], ev: Record) -> list[IssuedAward]:
        """Issue (or withhold) the rewards of the milestones an event reached
        for several referrals of its referee, in the order given."""
        issued: list[IssuedAward] = []
        try:
            for referral, (program, referrer, index, occurrence, increase, values) in reached:
                self._award(
                    program, self._milestones[index], occurrence, increase, values, referral, referrer, ev, issued
                )
        except Exception as exc:  # an engine bug: name the rule line it ran
            self.compiled.annotate(exc, ev[1])
            raise
        return issued or _NONE

    def _follow(self, follow: Any, referral: Referral, ev: Record) -> None:
        """After a void event was kept for a referral: in the programs where
        it no longer holds its referee (taken, or lapsed), its contribution
        to its referrer's counts `unless voided` stays as it was, but a void
        of its award still takes it out (docs/semantics.md, "Counts that
        follow reversals"), and a held condition per referrer that the drop
        breaks stops. Its flags are set here only when it counts nowhere:
        else its step set them, before the event's awards."""
        if referral.programs == [p.index for p, _ in referral.links]:
            return  # it holds its referee wherever it took part: its step did it all
        linked = {p.index for p, _ in referral.links}
        links = [
            (program, self._referrer(program, referral.referrer))
            for program in self.compiled.programs
            if program.index in referral.programs and program.index not in linked
        ]
        try:
            follow(referral, links)
        except Exception as exc:  # an engine bug: name the rule line it ran
            self.compiled.annotate(exc, ev[1])
            raise
        for milestone in self._timed.get(ev[2], ()):
            if milestone.info.level != "referrer" or isinstance(milestone.info.trigger, ast.AfterTrigger):
                continue
            for program, referrer in links:
                if milestone.program == program.index:
                    self._arm_one(milestone, referral, referrer, ev)

    # -- timers (docs/semantics.md, "Timers") ----------------------------
    def fire(self, to: int) -> list[IssuedAward]:
        """Fire the timers due at or before instant `to`, in order of
        (instant, milestone, referee or referrer); return their awards.
        Events at an instant come before the timers due then: batch scoring
        fires up to the as-of after the last event, `process` those due
        before each event's instant, `Session.advance` up to its `to`."""
        issued: list[IssuedAward] = []
        due, timers = self._due, self.state.timers
        try:
            while due and due[0][0] <= to:
                at, index, scope = heapq.heappop(due)
                timer = timers.get((index, scope))
                if timer is None or timer.at != at:
                    continue  # stopped (the condition broke), or restarted later
                del timers[(index, scope)]
                self._ring(timer, issued)
        except Exception as exc:  # an engine bug: name the rule line it ran
            self.compiled.annotate(exc)
            raise
        return issued

    def next_due(self) -> int | float:
        """The first instant in the heap of timers (a stopped timer's
        included: a cheap bound), or infinity when it is empty."""
        return self._due[0][0] if self._due else math.inf

    def next_timer(self) -> int | None:
        """The instant of the next pending timer, or None (for reports: a
        scan of the pending timers, not of the heap's stale entries)."""
        return min((timer.at for timer in self.state.timers.values()), default=None)

    def _ring(self, timer: Timer, issued: list[IssuedAward]) -> None:
        """A due timer: award its milestone at its instant if its condition
        holds then, the milestone was not awarded since, and (per referee)
        its referral still holds the referee in the program then."""
        milestone = self._milestones[timer.milestone]
        program = self.compiled.programs[milestone.program]
        referral = timer_referral(self.state, milestone, timer)
        if referral is None or (timer.scope == referral.referee and not self.holds(referral, program, timer.at)):
            return  # taken by a later referral, or lapsed: it earns nothing more here
        referrer = self._referrer(program, referral.referrer)
        done = referrer.done if milestone.info.level == "referrer" else referral.done
        if done[timer.milestone]:
            return
        assert milestone.timer_test is not None  # only timer milestones set timers
        values = milestone.timer_test(referral, referrer)
        if values is None:
            return  # `after D if C` and C is false then: nothing, ever
        total = len(self.state.awards) + len(self.state.withheld) + len(milestone.rewards)
        if total > MAX_AWARDS_PER_RUN:
            raise AwardLimitError.in_run(timer.event, total, MAX_AWARDS_PER_RUN)
        done[timer.milestone] = True
        self._award(program, milestone, None, None, values, referral, referrer, None, issued, timer)

    def _arm(self, ev: Record) -> None:
        """After an event: start, stop or restart the timers it concerns.
        `when C for D` starts when C becomes true (at this event), stops
        when it becomes false; `after D` starts at the referral, `after D
        from EVENT` at the referral's first EVENT."""
        milestones = self._timed.get(ev[2])
        if not milestones:
            return
        referral = self._referrals.get(ev[3])
        while referral is not None:  # each referral that holds the referee somewhere
            if ev[2] != "referral" or referral.id == ev[1]:  # a referral event: its own referral's alone
                for program, referrer in referral.links:
                    for milestone in milestones:
                        if milestone.program == program.index:
                            self._arm_one(milestone, referral, referrer, ev)
            referral = referral.next

    def _arm_one(self, milestone: CompiledMilestone, referral: Referral, referrer: ReferrerState, ev: Record) -> None:
        info = milestone.info
        index = info.index
        per_referrer = info.level == "referrer"
        if (referrer.done if per_referrer else referral.done)[index]:
            return
        assert info.timer_ns is not None and milestone.timer_test is not None
        timers = self.state.timers
        if isinstance(info.trigger, ast.AfterTrigger):
            key = (index, referral.referee)
            if key in self.state.anchored:
                return
            self.state.anchored.add(key)
            self._start(Timer(ev[0] + info.timer_ns, index, referral.referee, referral.referee, ev[1], ev[0]))
            return
        key = (index, referral.referrer if per_referrer else referral.referee)
        try:
            holds = milestone.timer_test(referral, referrer) is not None
        except Exception as exc:  # an engine bug: name the rule line it ran
            self.compiled.annotate(exc, ev[1])
            raise
        if holds and key not in timers:
            self._start(Timer(ev[0] + info.timer_ns, index, key[1], referral.referee, ev[1], ev[0]))
        elif not holds and key in timers:
            del timers[key]  # a break restarts the clock; its heap entry is skipped

    def _start(self, timer: Timer) -> None:
        self.state.timers[timer.key] = timer
        heapq.heappush(self._due, (timer.at, timer.milestone, timer.scope))

    def restore_timers(self, timers: list[Timer], anchored: set[tuple[int, str]]) -> None:
        """Set the pending timers (a restored snapshot's)."""
        self.state.anchored = anchored
        for timer in timers:
            self._start(timer)

    def _within_limits(self, ev: Record, fired: int) -> None:
        """Raise `AwardLimitError` before an event issues anything, when it
        would give more awards than `limits` allow, at once or in the run
        (withheld rewards count: each is a record of the result too)."""
        if fired > self.per_event:
            raise AwardLimitError.at_event(ev[1], fired, "", self.per_event)
        total = len(self.state.awards) + len(self.state.withheld) + fired
        if total > MAX_AWARDS_PER_RUN:
            raise AwardLimitError.in_run(ev[1], total, MAX_AWARDS_PER_RUN)

    def _refer(self, ev: Record) -> Referral | None:
        """Judge a referral event; then, when the rules read `earlier
        referrals`, record it in its referrer's history whatever became
        of it, for the referrer's later referrals."""
        try:
            referral = self._judge(ev)
            remember = self.compiled.remember
            if remember is not None:
                remember(self.history(ev[4]), self._referral_fields(ev), ev[0], ev[1])
        except Exception as exc:  # (eligibility and `earlier referrals` are generated code)
            self.compiled.annotate(exc, ev[1])
            raise
        return referral

    def history(self, referrer: str) -> History:
        """A referrer's history (see `runtime.History`), made on first use."""
        found = self.state.history.get(referrer)
        if found is None:
            found = History(*self.compiled.history_shape)
            self.state.history[referrer] = found
        return found

    def _judge(self, ev: Record) -> Referral | None:
        state = self.state
        at, event_id, _, referee, referrer = ev[:5]
        if referrer == referee:
            state.rejected.append(Rejected(event_id, at, referrer, referee, "self_referral"))
            return None
        existing = state.referrals.get(referee)
        referral = Referral(
            event_id,
            at,
            referrer,
            referee,
            ev,
            self._referral_fields,
            self.compiled.referral_slots(),
            self._milestone_count,
        )
        if self.compiled.at_referral is not None:  # before eligibility, for a later referral too
            self.compiled.at_referral(referral, self.history(referrer))
        if existing is not None:
            return self._claim(existing, referral)
        state.referrals[referee] = referral
        for program in self.compiled.programs:
            if program.eligible(referral):
                self._link(referral, program)
        if not referral.programs:
            state.rejected.append(Rejected(event_id, at, referrer, referee, "ineligible"))
        return referral

    def _link(self, referral: Referral, program: CompiledProgram) -> None:
        """Make a referral count in a program (its referrer's state there)."""
        referral.programs.append(program.index)
        referral.count_in(program.index, [ZERO] * program.contrib_size)
        referral.links.append(self._link_to(program, referral.referrer))

    def _claim(self, first: Referral, referral: Referral) -> Referral | None:
        """A later referral of an already referred referee: it takes the
        referee in each program whose attribution lets it (`attribution
        last referral ...`, or a lapse), where it is eligible; elsewhere,
        and when it takes nothing, it is a `duplicate_referral` as always.
        The referral that held the referee keeps what it earned (its awards,
        its events so far) and stops counting in that program."""
        taken = []
        reasons = []
        count = 0
        node: Referral | None = first
        while node is not None:
            count += 1
            node = node.next
        if count >= MAX_REFERRALS_PER_REFEREE:
            reasons.append(f"it has {count} referrals, the most one referee may have")
        for program in self.compiled.programs if count < MAX_REFERRALS_PER_REFEREE else ():
            why = self._held(first, referral, program)
            if why is not None:
                if why:
                    reasons.append(why)
                continue
            if not program.eligible(referral):
                # a fraud rule may be why (velocity, a shared attribute): say so
                reasons.append(f"program `{program.info.name}`: it is not eligible (`eligible when` is false)")
                continue
            holder = _holder(first, program.index)
            if holder is not None:
                self._release(holder, program.index)
            self._link(referral, program)
            taken.append(program.index)
        if not taken:
            owner = _holders_text(first)
            detail = f"`{first.referee}` was already referred by {owner}"
            self.state.rejected.append(
                Rejected(
                    referral.id,
                    referral.at,
                    referral.referrer,
                    referral.referee,
                    "duplicate_referral",
                    "; ".join([detail, *reasons]),
                )
            )
            return None
        last = first
        while last.next is not None:
            last = last.next
        last.next = referral
        return referral

    def _held(self, first: Referral, referral: Referral, program: CompiledProgram) -> str | None:
        """None when the referral may take the referee in the program; else
        why not ("" when the program's attribution never moves)."""
        attribution = program.info.attribution
        if not attribution.moves:
            return ""
        name = program.info.name
        if program.index in first.converted:
            return f"program `{name}`: the referee converted (`first {attribution.event}`)"
        node: Referral | None = first
        while node is not None:
            if node.referrer == referral.referrer:
                return f"program `{name}`: `{referral.referrer}` referred `{referral.referee}` before"
            node = node.next
        if attribution.model == "last":
            return None  # the last referral before the conversion takes it
        holder = _holder(first, program.index)
        lapse = attribution.lapse_ns
        if holder is not None and lapse is not None and referral.at - holder.at <= lapse:
            return f"program `{name}`: the referral of `{holder.referrer}` holds it until it lapses"
        return None

    def _attribute(self, first: Referral, ev: Record) -> None:
        """Before a referee's event counts: a holding referral whose lapse
        passed without conversion stops counting in that program, and an
        event that converts the referee fixes who holds it (for good)."""
        at, kind = ev[0], ev[2]
        for program in self._moving:
            index = program.index
            if index in first.converted:
                continue
            lapse = program.info.attribution.lapse_ns
            holder = _holder(first, index) if lapse is not None else None
            if holder is not None and lapse is not None and at - holder.at > lapse:
                self._release(holder, index)
            if kind == program.info.attribution.event and program.converts is not None and program.converts(ev):
                first.converts_in(index)

    def _release(self, referral: Referral, program: int) -> None:
        """Stop a referral counting in a program (see `_release`), with the
        timers it had there for its referee: its pending ones, and its
        `after D from EVENT` start, so that the referral that takes the
        referee next starts its own clock (its own referral, its own first
        EVENT). A held condition counted per referrer stays: it is its
        referrer's, not the referral's; its clock is kept by the referrer's
        name, which may be the referee's too (someone referred who refers
        others), so it is told by its milestone, never by its key."""
        _release(referral, program)
        for milestone in self._milestones:
            if milestone.program != program or milestone.timer_test is None or _referrers_clock(milestone):
                continue
            key = (milestone.info.index, referral.referee)
            self.state.anchored.discard(key)
            if key in self.state.timers:
                del self.state.timers[key]  # its heap entry is skipped

    def holds(self, referral: Referral, program: CompiledProgram, at: int) -> bool:
        """Whether a referral still holds its referee in a program at instant
        `at`: it is linked there and, under a lapse, it converted or is not
        yet more than the lapse old (the release `_attribute` makes at the
        referee's next event, judged at a timer's instant, which no event
        may tell)."""
        if all(p.index != program.index for p, _ in referral.links):
            return False
        lapse = program.info.attribution.lapse_ns
        if lapse is None or program.index in self._referrals[referral.referee].converted:
            return True
        return at - referral.at <= lapse

    def _link_to(self, program: CompiledProgram, referrer: str) -> tuple[CompiledProgram, ReferrerState]:
        """(program, the referrer's state there), what a referral's `links`
        hold: one tuple per referrer and program, shared by its referrals
        (a tuple each was 64 bytes a referral)."""
        links = self._links[program.index]
        found = links.get(referrer)
        if found is None:
            found = links[referrer] = (program, self._referrer(program, referrer))
        return found

    def _referrer(self, program: CompiledProgram, referrer: str) -> ReferrerState:
        states = self.state.referrers[program.index]
        found = states.get(referrer)
        if found is None:
            found = ReferrerState(referrer, program.referrer_slots(), self._milestone_count)
            states[referrer] = found
        return found

    def _award(
        self,
        program: CompiledProgram,
        milestone: CompiledMilestone,
        occurrence: str | None,
        increase: Any,
        values: tuple[Any, ...],
        referral: Referral,
        referrer: ReferrerState,
        ev: Record | None,
        issued: list[IssuedAward],
        timer: Timer | None = None,
    ) -> None:
        """Issue (or withhold) each reward of a milestone reached at event
        `ev`, or at a due `timer` (then `ev` is None: there is no event)."""
        info = milestone.info
        # the referral of a per-referrer milestone is its referrer alone
        referee = "" if info.level == "referrer" else referral.referee
        snapshot = program.snapshot(referral, referrer) if info.message is not None else None
        if ev is None:
            assert timer is not None
            at, event_id, trigger = timer.at, timer.event, None
        else:
            at, event_id = ev[0], ev[1]
            trigger = self.compiled.fields[ev[2]](ev) if milestone.voids or info.message is not None else None
        awards = self.state.awards
        values = self._shared(values)
        for k, reward in enumerate(milestone.rewards):
            role = reward.info.role
            beneficiary = referral.referrer if role == "referrer" else referral.referee
            amount = reward.constant
            if amount is None:
                assert reward.amount is not None  # not a constant: the compiler wrote its function
                amount = reward.amount(referral, referrer, ev, increase)
                if amount is not None and reward.quantum is not None:
                    try:
                        amount = amount.quantize(reward.quantum)
                    except InvalidOperation:  # more digits than the context holds
                        self.state.withheld.append(Withheld(at, milestone, k, role, beneficiary, referral, _TOO_LARGE))
                        continue
            capped = False
            wanted = amount
            if amount is not None and reward.caps:
                amount, capped, reason = self._apply_caps(reward.caps, beneficiary, at, amount)
                if capped and reward.quantum is not None:
                    amount = amount.quantize(reward.quantum)
            if amount is None or amount <= 0:
                if not capped:
                    reason = _no_amount(amount)
                self.state.withheld.append(Withheld(at, milestone, k, role, beneficiary, referral, reason, wanted))
                continue
            award = IssuedAward(
                award_id(
                    milestone.id_hash,
                    referral.referrer,
                    referee,
                    occurrence or "",
                    role,
                    beneficiary,
                    milestone.ranks[k],
                ),
                at,
                milestone,
                k,
                role,
                beneficiary,
                referral,
                amount,
                event_id,
                trigger,
                occurrence,
                values,
                capped,
                snapshot,
                wanted if capped else None,
            )
            awards.append(award)
            issued.append(award)
            referral.issued.append(award)

    def _shared(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """The tuple of an earlier award with the same values, if any: an
        award keeps the values its milestone tested (for its `why`), and
        most are a few amounts over and over (an ARR reached of 12,000.00),
        each a new `Decimal` and tuple (about 150 bytes an award, 380 MB
        at 10M events). Only values that are all `Decimal`s are shared,
        keyed by their text, so `12000` and `12000.00` keep their own
        exponents; a Decimal and a tuple are immutable, and nothing
        compares them by identity. At most `SHARED_VALUES` are kept."""
        if not all(type(value) is Decimal for value in values):
            return values
        key = tuple(map(str, values))
        found = self._values.get(key)
        if found is not None:
            return found
        if len(self._values) < SHARED_VALUES:
            self._values[key] = values
        return values

    def _apply_caps(
        self, applicable: list[CapInfo], beneficiary: str, at: int, amount: Decimal
    ) -> tuple[Decimal, bool, str]:
        """The amount the caps leave of a reward, whether one cut it, and
        the reason (the last cap that cut it). A cap on an amount cuts the
        reward to what remains; a cap on the number of rewards (each counts
        1) withholds it once full. What is issued counts against them all:
        rewards draw from caps and shared allowances in the order they are
        issued, by event, then program, milestone and reward (file order)."""
        keys = []
        capped = False
        reason = ""
        used = self.state.cap_used
        for cap in applicable:
            period = period_key(at, cap.period, self._timezone) if cap.period else ""
            key = (*self._cap_keys[id(cap)], beneficiary, period)
            keys.append((key, cap.counts_rewards))
            remaining = cap.limit - used.get(key, ZERO)
            if cap.counts_rewards and remaining < 1:
                amount = ZERO
            elif cap.counts_rewards or amount <= remaining:
                continue
            else:
                amount = max(remaining, ZERO)
            capped = True
            reason = f"{cap.describe()} reached"
        if amount > 0:
            for key, counts in keys:
                used[key] = used.get(key, ZERO) + (1 if counts else amount)
        return amount, capped, reason


def reward_rank(milestone: CompiledMilestone, index: int) -> int:
    """A reward's place among its milestone's rewards of the same role, from
    1: part of its award id from 2 on (see `ids.award_id`)."""
    return milestone.ranks[index]


def _milestone_order(item: tuple[Referral, Reached]) -> int:
    """A reached milestone's place in the order rewards are issued at one
    event: its index, programs and milestones in file order."""
    return item[1][2]


def _counts(referral: Referral) -> bool:
    """Whether a referral's events still count: it holds its referee in a
    program, or never took part in any (an ineligible referral, whose
    metrics the report shows). One that held it and no longer does (taken
    or lapsed everywhere) keeps its metrics as they were then."""
    return bool(referral.links) or not referral.programs


def _holder(first: Referral, program: int) -> Referral | None:
    """The referral of a referee (`first` and those after it) that counts in
    a program now, if any."""
    node: Referral | None = first
    while node is not None:
        if any(p.index == program for p, _ in node.links):
            return node
        node = node.next
    return None


def _release(referral: Referral, program: int) -> None:
    """Stop a referral counting in a program (a later referral took its
    referee, or it lapsed): it keeps the program in `programs`, with its
    contributions and awards, and is no longer stepped there."""
    referral.links = [link for link in referral.links if link[0].index != program]


def _referrers_clock(milestone: CompiledMilestone) -> bool:
    """Whether a timer milestone keeps one clock per referrer (a held
    condition counted per referrer: `Timer.scope` is the referrer), not
    one per referee."""
    return milestone.info.level == "referrer" and isinstance(milestone.info.trigger, ast.WhenTrigger)


def timer_referral(state: State, milestone: CompiledMilestone, timer: Timer) -> Referral | None:
    """The referral a timer belongs to: for a held condition counted per
    referrer, that referrer's referral of the referee whose event started
    it; else the referral that holds the referee in the milestone's program
    (a referral that loses it loses its timers with it, see
    `Engine._release`), None when none does."""
    first = state.referrals.get(timer.referee)
    if timer.scope != timer.referee:  # the referrer's (never its referee: no self-referral)
        node = first
        while node is not None and node.referrer != timer.scope:
            node = node.next
        return node
    return _holder(first, milestone.program) if first is not None else None


def _holders_text(first: Referral) -> str:
    """`alice` (event `r1`), and the later referrals that took the referee."""
    texts = []
    node: Referral | None = first
    while node is not None:
        texts.append(f"`{node.referrer}` (event `{node.id}`)")
        node = node.next
    return ", then ".join(texts)


#: why a reward whose amount cannot be rounded to its unit is withheld
_TOO_LARGE = f"the amount is too large (more than {CONTEXT.prec} digits to the unit's smallest step)"


def _no_amount(amount: Decimal | None) -> str:
    """Why a reward that was not capped gives nothing (see `Withheld`)."""
    if amount is None:
        return "the amount has no value (a field is missing)"
    return "the amount is zero" if amount == 0 else "the amount is negative"


def _timed(compiled: CompiledRuleset) -> dict[str, list[CompiledMilestone]]:
    """Per event type, the timer milestones (`when C for D`, `after D`) an
    event of it may start or stop (see `Engine._arm`), in file order."""
    timed: dict[str, list[CompiledMilestone]] = {}
    for milestone in compiled.milestones:
        if milestone.timer_test is None:
            continue
        for kind in sorted(milestone.info.events):
            timed.setdefault(kind, []).append(milestone)
    return timed


#: records `run` takes off its list at a time
_RUN = 4096


def run(engine: Engine, ordered: list[Record] | Iterator[Record], as_of: int | None = None) -> None:
    """Feed events, as records in ledger order, through an engine in the
    scoring context; then fire the timers due at or before `as_of`.
    `ordered`: a list, or an iterator (records merged from disk, each
    dropped once read: `ledger.order.SortedRecords`).

    The list is emptied as it is fed: each record is dropped once processed
    (unless the engine keeps it), so the engine's growing state takes the
    place of the records it has read rather than adding to them (at 10M
    events the records are about as large as the engine's state). From
    the end of the reversed list, a run at a time: a loop as cheap as a
    plain `for`, and a `del` that moves nothing."""
    process = engine.process if engine._timed else engine._event  # the same, one call fewer
    if not isinstance(ordered, list):
        with localcontext(CONTEXT):
            for ev in ordered:
                process(ev)
            if as_of is not None:
                engine.fire(as_of)
        return
    ordered.reverse()
    with localcontext(CONTEXT):
        while ordered:
            taken = ordered[-_RUN:]
            del ordered[-_RUN:]
            for ev in reversed(taken):
                process(ev)
        if as_of is not None:
            engine.fire(as_of)
