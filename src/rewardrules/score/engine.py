"""Evaluate stage: run compiled evaluators over events, in order.

An :class:`Engine` holds the state of one scoring run: accepted referrals
(first valid referral of each referee wins), per-referral and per-referrer
metric slots, caps used, and the awards issued so far. Batch scoring sorts
the ledger by (instant, id) and feeds it through the same engine as an
app's session does, one event at a time, so both give the same awards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from ..check.program import CapInfo
from ..compiler.generate import CompiledMilestone, CompiledProgram, CompiledRuleset
from ..core.ids import award_id
from ..core.limits import MAX_AWARDS_PER_RUN, AwardLimitError, per_event_limit
from ..core.runtime import CONTEXT, ZERO, Referral, ReferrerState
from ..core.timeutil import period_key
from ..ledger.events import Record
from .clawback import taken_back

#: "no awards": shared, never appended to (see Engine.process)
_NONE: list[Any] = []


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


@dataclass(slots=True, eq=False)
class State:
    referrals: dict[str, Referral] = field(default_factory=dict)
    referrers: list[dict[str, ReferrerState]] = field(default_factory=list)
    awards: list[IssuedAward] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    cap_used: dict[tuple[Any, ...], Decimal] = field(default_factory=dict)


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
        self._timezone = compiled.checked.timezone
        # hot-loop look-ups, bound once
        self._steps = compiled.steps
        self._milestones = compiled.milestones
        self._referrals = self.state.referrals
        self._referral_fields = compiled.fields["referral"]
        #: what a step reports: (program, referrer state, milestone,
        #: occurrence, increase, values) for each milestone reached; one
        #: list, emptied after each event, rather than one per call
        self._fired: list[tuple[CompiledProgram, ReferrerState, int, str | None, Any, tuple[Any, ...]]] = []

    def process(self, ev: Record) -> list[IssuedAward]:
        """Apply one event, given as its record (instant, id, type, referee,
        referrer, fields: see `model.EventInfo.record`); return the awards
        it issued. Call in the scoring context, `runtime.CONTEXT` or a copy
        of it (see :func:`run` and `api.Session.add`)."""
        kind = ev[2]
        if kind == "referral":
            referral = self._refer(ev)
        else:
            referral = self._referrals.get(ev[3])  # None: no referral (yet), earns nothing
        if referral is None:
            return _NONE
        step = self._steps.get(kind)
        if step is None:
            return _NONE
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
            self.compiled.annotate(exc)
            raise
        finally:
            if fired:  # empty for the next event, even after an error
                fired.clear()

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
        state = self.state
        at, event_id, _, referee, referrer = ev[:5]
        if referrer == referee:
            state.rejected.append(Rejected(event_id, at, referrer, referee, "self_referral"))
            return None
        existing = state.referrals.get(referee)
        if existing is not None:
            state.rejected.append(
                Rejected(
                    event_id,
                    at,
                    referrer,
                    referee,
                    "duplicate_referral",
                    f"`{referee}` was already referred by `{existing.referrer}` (event `{existing.id}`)",
                )
            )
            return None
        referral = Referral(
            event_id,
            at,
            referrer,
            referee,
            self._referral_fields(ev),
            self.compiled.referral_slots(),
            self._milestone_count,
        )
        state.referrals[referee] = referral
        for program in self.compiled.programs:
            if program.eligible(referral):
                referral.programs.append(program.index)
                referral.contrib[program.index] = [ZERO] * program.contrib_size
                referral.links.append((program, self._referrer(program, referrer)))
        if not referral.programs:
            state.rejected.append(Rejected(event_id, at, referrer, referee, "ineligible"))
        return referral

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
        ev: Record,
        issued: list[IssuedAward],
    ) -> None:
        info = milestone.info
        at = ev[0]
        # the referral of a per-referrer milestone is its referrer alone
        referee = "" if info.level == "referrer" else referral.referee
        snapshot = program.snapshot(referral, referrer) if info.message is not None else None
        trigger = self.compiled.fields[ev[2]](ev) if milestone.voids or info.message is not None else None
        awards = self.state.awards
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
                award_id(milestone.id_hash, referral.referrer, referee, occurrence or "", role, beneficiary),
                at,
                milestone,
                k,
                role,
                beneficiary,
                referral,
                amount,
                ev[1],
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

    def _apply_caps(
        self, applicable: list[CapInfo], beneficiary: str, at: int, amount: Decimal
    ) -> tuple[Decimal, bool, str]:
        keys = []
        capped = False
        reason = ""
        for cap in applicable:
            period = period_key(at, cap.period, self._timezone) if cap.period else ""
            key = (*self._cap_keys[id(cap)], beneficiary, period)
            keys.append(key)
            limit = cap.limit
            remaining = limit - self.state.cap_used.get(key, ZERO)
            if amount > remaining:
                amount = max(remaining, ZERO)
                capped = True
                per = f" per {cap.period}" if cap.period else ""
                reason = f"cap of {limit} {cap.unit}{per} reached"
        if amount > 0:
            for key in keys:
                self.state.cap_used[key] = self.state.cap_used.get(key, ZERO) + amount
        return amount, capped, reason


#: why a reward whose amount cannot be rounded to its unit is withheld
_TOO_LARGE = f"the amount is too large (more than {CONTEXT.prec} digits to the unit's smallest step)"


def _no_amount(amount: Decimal | None) -> str:
    """Why a reward that was not capped gives nothing (see `Withheld`)."""
    if amount is None:
        return "the amount has no value (a field is missing)"
    return "the amount is zero" if amount == 0 else "the amount is negative"


def run(engine: Engine, ordered: list[Record]) -> None:
    """Feed events, as records in ledger order, through an engine in the
    scoring context."""
    process = engine.process
    with localcontext(CONTEXT):
        for ev in ordered:
            process(ev)
