"""Matching: who receives each referred customer, and why.

Events are taken in (instant, id) order, so the line order of the ledger
never matters. Each `request` is matched at its instant; a `decline` takes
the declined workloads back and matches them again, at the decline's
instant, without the partner that declined. Each decision keeps its `why`:
every partner, the gate that dropped it (or its count), the claims and
whether they counted, the order of the eligible partners and the key that
decided between the first two (docs/matching.md, "How a partner is chosen").
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.diagnostics import shorten
from ..core.ids import make_id
from ..core.timeutil import format_timestamp, period_bounds
from ..ledger.events import LedgerError, LedgerProblem
from .check import ENDORSEMENT, WORKLOAD, MatchRules
from .events import MatchEvent

#: Most `_levels` tables kept between decisions (one per criteria and set
#: of eligible partners; each as long as the period's stints).
_LEVELS_KEPT = 64
#: the gates a partner's own state closes (`_gates`): such a partner still
#: levels the stints of others (`_candidates`)
_STATES = frozenset({"left", "paused", "declined"})

#: What an assignment's `partner` is: a partner of the ledger, the rules'
#: fallback, or nobody (no partner and no fallback can take the workloads).
KINDS = ("partner", "fallback", "none")
#: Why a part went where it did (`Assignment.basis`); `kept`: what a
#: partner keeps of a part it declined in part.
BASES = ("claim", "round_robin", "split", "fallback", "unmatched", "kept")
#: What became of a part (`Assignment.status`); `superseded`: matched again
#: by a `rematch`.
STATUSES = ("pending", "accepted", "declined", "fallback", "unmatched", "superseded")
#: The reason of a part declined because its partner left the program.
LEFT_REASON = "the partner left the program"
#: The statuses of a part that no longer holds its workloads: declined by
#: its partner, or matched again (`rematch`) by a record that replaces it.
ENDED = ("declined", "superseded")
#: What made a `rematch`, by the event's type (the reason of the part superseded).
_REMATCH_REASONS = {"partner": "joined or changed", "resume": "resumed"}


@dataclass(slots=True)
class Assignment:
    """One part of a referral given to one partner (or the fallback, or nobody)."""

    id: str
    request: str
    customer: str
    partner: str | None
    kind: str
    workloads: tuple[str, ...]
    at: int
    event: str
    basis: str
    why: dict[str, Any]
    #: the request's attribute values, for counts under the same criteria
    values: dict[str, str]
    replaces: str | None = None
    status: str = "pending"
    answered_at: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The assignment record (docs/matching.md, "The assignment record")."""
        return {
            "id": self.id,
            "request": self.request,
            "customer": self.customer,
            "partner": self.partner,
            "kind": self.kind,
            "workloads": list(self.workloads),
            "at": format_timestamp(self.at),
            "event": self.event,
            "basis": self.basis,
            "status": self.status,
            "answered_at": None if self.answered_at is None else format_timestamp(self.answered_at),
            "reason": self.reason,
            "replaces": self.replaces,
            "why": self.why,
        }


@dataclass(slots=True)
class _Partner:
    """What is known of a partner at the instant being matched."""

    id: str
    joined: int
    #: when it last entered the rotation: declared, rejoined or back from a pause
    entered: int
    endorsements: dict[str, int | None]
    attributes: dict[str, frozenset[str]]
    paused_since: int | None = None
    #: the spans it was in the rotation: [entered, exited), the last open
    #: (None) while it is: whom a partner that enters is levelled against
    stints: list[tuple[int, int | None]] = field(default_factory=list)
    #: the pause ended by the rules' limit, not by a `resume`
    auto_resumed: bool = False
    left: bool = False
    #: when its last pause ended (resumed, ended by the limit, or left while
    #: paused): the next pause comes `pause_gap_ns` after it at the earliest
    pause_ended: int | None = None
    history: list[Assignment] = field(default_factory=list)
    #: the parts it kept when it declined other workloads of them (`kept`):
    #: not new referrals, so not in `history` (counts, longest idle)
    kept: list[Assignment] = field(default_factory=list)
    #: (period start, the criteria's values) -> workloads assigned together -> how often:
    #: the counts of the current period, without reading the history
    tally: dict[tuple[int | None, tuple[str, ...]], dict[frozenset[str], int]] = field(default_factory=dict)
    #: the same key -> (instant, workloads) of each referral, in order: the
    #: counts before an instant, for levelling (`_levels`)
    timed: dict[tuple[int | None, tuple[str, ...]], list[tuple[int, frozenset[str]]]] = field(default_factory=dict)

    def enter(self, at: int) -> None:
        """Back in the rotation from ``at`` (joined, rejoined, or a pause over)."""
        self.entered = at
        if not self.left and self.paused_since is None and (not self.stints or self.stints[-1][1] is not None):
            self.stints.append((at, None))

    def exit(self, at: int) -> None:
        """Out of the rotation from ``at`` (paused or left)."""
        if self.stints and self.stints[-1][1] is None:
            self.stints[-1] = (self.stints[-1][0], at)

    def stint_at(self, instant: int) -> int | None:
        """When the stint that holds ``instant`` began (strictly before it),
        or None when the partner was not in the rotation at that instant."""
        for begun, ended in reversed(self.stints):
            if begun < instant and (ended is None or instant < ended):
                return begun
        return None


@dataclass(slots=True)
class _Request:
    event: MatchEvent
    #: partners that declined it: never matched to it again
    declined: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Candidate:
    """A partner that passed every gate for (some of) the workloads at stake."""

    partner: _Partner
    covers: tuple[str, ...]
    count: int
    effective: int
    key: tuple[Any, ...]


class Matcher:
    """Takes events one at a time (in order) and keeps every assignment made."""

    def __init__(self, rules: MatchRules, strict: bool = True) -> None:
        self.rules = rules
        #: False when replaying history under other rules (`diff`): an
        #: accept or decline of a part the partner does not hold under these
        #: rules was an answer to the other rules' assignment, and is skipped
        self.strict = strict
        #: the ids of the answers skipped so
        self.stale: list[str] = []
        self.by_request: dict[str, list[Assignment]] = {}
        #: `_levels` tables by what they depend on (a pure cache, bounded)
        self._levelled: dict[tuple[Any, ...], dict[tuple[str, int], int]] = {}
        self.partners: dict[str, _Partner] = {}
        self.claims: dict[str, set[str]] = {}
        self.requests: dict[str, _Request] = {}
        self.assignments: list[Assignment] = []
        self.problems: list[LedgerProblem] = []
        #: the ids made so far: a repeated one gets an ordinal (`_new_id`)
        self._ids: set[str] = set()
        #: the fallback and unmatched parts `rematch` may match again, in the order made
        self._open: list[Assignment] = []

    def run(self, events: Iterable[MatchEvent], path: str = "<ledger>") -> list[Assignment]:
        """Match every event (already in order); `LedgerError` if an event contradicts the ledger."""
        for event in events:
            getattr(self, f"_on_{event.type}")(event)
        if self.problems:  # a copy: a session clears its list for the next event
            raise LedgerError(list(self.problems), path)
        return self.assignments

    def _problem(self, event: MatchEvent, field_name: str, message: str, hint: str | None = None) -> None:
        self.problems.append(LedgerProblem(event.line, field_name, message, hint))

    # -- partners ------------------------------------------------------------
    def _on_partner(self, event: MatchEvent) -> None:
        known = self.partners.get(event.partner)
        attributes = dict(event.attributes)
        if known is None:
            joined = _Partner(event.partner, event.at, event.at, dict(event.endorsements), attributes)
            joined.enter(event.at)
            self.partners[event.partner] = joined
        else:
            known.endorsements, known.attributes = dict(event.endorsements), attributes
            if known.left:
                known.left, known.paused_since = False, None
                known.enter(event.at)
        self._rematch(event)

    def _known(self, event: MatchEvent) -> _Partner | None:
        partner = self.partners.get(event.partner)
        if partner is None:
            self._problem(event, "partner", f"no partner `{event.partner}` is declared before this event")
        return partner

    def _on_pause(self, event: MatchEvent) -> None:
        partner = self._known(event)
        if partner is None:
            return
        self._settle(partner, event.at)
        if partner.paused_since is not None:
            since = format_timestamp(partner.paused_since)
            self._problem(event, "partner", f"partner `{partner.id}` is paused already, since {since}")
            return
        if not self._pause_allowed(partner, event):
            return
        partner.exit(event.at)
        partner.paused_since, partner.auto_resumed = event.at, False

    def _on_resume(self, event: MatchEvent) -> None:
        partner = self._known(event)
        if partner is None:
            return
        self._settle(partner, event.at)
        if partner.paused_since is None:
            if not partner.auto_resumed:
                self._problem(event, "partner", f"partner `{partner.id}` is not paused", "a `resume` follows a `pause`")
            return
        partner.paused_since, partner.pause_ended = None, event.at
        partner.enter(event.at)
        self._rematch(event)

    def _pause_allowed(self, partner: _Partner, event: MatchEvent) -> bool:
        """A pause at least `pause_gap_ns` after the end of the last one, or
        a problem at its line: back-to-back pauses are no way round the
        pause limit (three 30-day pauses would keep a partner out 90 days)."""
        gap, ended = self.rules.pause_gap_ns, partner.pause_ended
        if gap is None or ended is None or event.at >= ended + gap:
            return True
        self._problem(
            event,
            "at",
            f"partner `{partner.id}` may pause again from {format_timestamp(ended + gap)}: "
            f"its last pause ended at {format_timestamp(ended)}",
            "the rules keep pauses apart (`pause at most ..., at least ... apart`): "
            "after a pause, a partner receives referrals, or leaves the program",
        )
        return False

    def _on_leave(self, event: MatchEvent) -> None:
        """The partner departs the program: out of the rotation, and each part
        it has not answered is declined for it and matched again at once (a
        customer is not left with a partner that is gone)."""
        partner = self._known(event)
        if partner is None:
            return
        partner.exit(event.at)
        partner.left = True
        if partner.paused_since is not None:
            partner.pause_ended = event.at
        for held in [a for a in (*partner.history, *partner.kept) if a.status == "pending"]:
            self._reassign(held, event, LEFT_REASON)

    def _settle(self, partner: _Partner, at: int) -> None:
        """End a pause that has lasted the longest the rules allow: the
        partner is matched again from that instant (the FAQ: after 30 days
        it resumes receiving referrals, or leaves)."""
        limit = self.rules.pause_max_ns
        if partner.paused_since is not None and limit is not None and at >= partner.paused_since + limit:
            back = partner.paused_since + limit
            partner.paused_since, partner.auto_resumed, partner.pause_ended = None, True, back
            partner.enter(back)

    # -- customers -----------------------------------------------------------
    def _on_claim(self, event: MatchEvent) -> None:
        self.claims.setdefault(event.customer, set()).add(event.partner)

    def _on_request(self, event: MatchEvent) -> None:
        if event.request in self.requests:
            first = self.requests[event.request].event.line
            self._problem(event, "request", f"request `{event.request}` is made twice", f"the first is on line {first}")
            return
        self.requests[event.request] = _Request(event)
        self._match(self.requests[event.request], event.workloads, event.at, event.id, None)

    def _held(self, event: MatchEvent) -> list[Assignment]:
        """The pending parts of the event's request that its partner holds
        (two, when it took a declined part besides its own): an answer is
        the partner's, for every part it holds."""
        mine = [a for a in self.by_request.get(event.request, ()) if a.partner == event.partner]
        pending = [a for a in mine if a.kind == "partner" and a.status == "pending"]
        if not pending and not self.strict:
            self.stale.append(event.id)
        elif not pending:
            state = "holds no assignment" if not mine else "has answered every assignment it holds"
            self._problem(event, "partner", f"partner `{event.partner}` {state} of request `{event.request}`")
        return pending

    def _on_accept(self, event: MatchEvent) -> None:
        for held in self._held(event):
            held.status, held.answered_at = "accepted", event.at

    def _on_decline(self, event: MatchEvent) -> None:
        """Decline the partner's parts of the request: with `workloads`,
        only those workloads (`_decline_some`)."""
        held = self._held(event)
        if event.workloads:
            self._decline_some(held, event)
            return
        for part in held:
            self._reassign(part, event, event.reason or None)

    def _decline_some(self, held: list[Assignment], event: MatchEvent) -> None:
        """A decline of some workloads only: a part holding only declined
        workloads is declined whole; a part holding others too is declined,
        and a `kept` record gives the partner the others again at once (it
        replaces the declined part: nothing is rewritten); the declined
        workloads are matched again without the partner."""
        holding = {w for part in held for w in part.workloads}
        foreign = [w for w in event.workloads if w not in holding]
        if held and foreign:
            self._problem(
                event,
                "workloads",
                f"partner `{event.partner}` holds no pending part of request `{event.request}` "
                f"with {', '.join(foreign)}",
                "decline only workloads of the parts it holds, or leave `workloads` out to decline them all",
            )
            return
        for part in held:
            declined = tuple(w for w in part.workloads if w in event.workloads)
            if not declined:
                continue
            if len(declined) == len(part.workloads):
                self._reassign(part, event, event.reason or None)
                continue
            part.status, part.answered_at, part.reason = "declined", event.at, event.reason or None
            self._keep(part, event)
            request = self.requests[part.request]
            request.declined.add(event.partner)
            self._match(request, declined, event.at, event.id, part.id)

    def _keep(self, part: Assignment, event: MatchEvent) -> None:
        """The partner's part without the workloads it declined: a new record
        (basis `kept`) that replaces the declined one. It is no new referral:
        it does not count in the round robin, nor as received in the
        acceptance rate (the declined part does)."""
        workloads = tuple(w for w in part.workloads if w not in event.workloads)
        fields = ("assignment", self.rules.name, part.request, part.kind, part.partner or "", *workloads)
        kept = Assignment(
            id=self._new_id(fields),
            request=part.request,
            customer=part.customer,
            partner=part.partner,
            kind=part.kind,
            workloads=workloads,
            at=event.at,
            event=event.id,
            basis="kept",
            why={**part.why, "basis": "kept"},
            values=part.values,
            replaces=part.id,
        )
        self._record(kept)
        self.partners[event.partner].kept.append(kept)

    def _rematch(self, event: MatchEvent) -> None:
        """With `rematch`, match the open parts again (the fallback's,
        or the unmatched) now that a partner joined, resumed or changed: a
        part some partner can now take (some of) is superseded by the new
        records, which replace it; a part no one can take stays as it is."""
        if not self.rules.rematch or not self._open:
            return
        why = f"matched again: partner `{event.partner}` {_REMATCH_REASONS[event.type]}"
        for part in list(self._open):
            if part.status not in self.rules.rematch:
                continue
            request = self.requests[part.request]
            candidates, _ = self._candidates(request, part.workloads, event.at)
            if not candidates:
                continue
            self._open.remove(part)
            part.status, part.answered_at, part.reason = "superseded", event.at, why
            self._match(request, part.workloads, event.at, event.id, part.id)

    def _reassign(self, held: Assignment, event: MatchEvent, reason: str | None) -> None:
        """Decline a pending part for its partner and match it again at once,
        without that partner (never again for this request: its id would
        repeat)."""
        held.status, held.answered_at, held.reason = "declined", event.at, reason
        request = self.requests[held.request]
        request.declined.add(event.partner)
        self._match(request, held.workloads, event.at, event.id, held.id)

    # -- matching --------------------------------------------------------------
    def _match(self, request: _Request, workloads: tuple[str, ...], at: int, event: str, replaces: str | None) -> None:
        """Assign ``workloads`` of a request at instant ``at``: a claim
        first, else one partner for all, else a split, else the fallback."""
        values = dict(request.event.attributes)
        candidates, trace = self._candidates(request, workloads, at)
        why: dict[str, Any] = {"counts": self._counts_text(at), "candidates": trace}
        whole = [c for c in candidates if set(workloads) <= set(c.covers)]
        claimed = self._claimed(request.event.customer, whole, trace, why)
        if claimed:
            parts: list[tuple[_Candidate | None, tuple[str, ...], str]] = [
                (self._pick(claimed, why), workloads, "claim")
            ]
        elif whole:
            parts = [(self._pick(whole, why), workloads, "round_robin")]
        else:
            parts = self._split(candidates, workloads, why)
        for candidate, taken, basis in parts:
            self._assign(request, candidate, taken, at, event, basis, why, values, replaces)

    def _candidates(
        self, request: _Request, workloads: tuple[str, ...], at: int
    ) -> tuple[list[_Candidate], list[dict[str, Any]]]:
        """Every partner through the gates: the ones left, and each one's trace."""
        passed: list[tuple[_Partner, tuple[str, ...]]] = []
        #: who levels a stint: the partners through the gates, and those a
        #: state of theirs alone holds out now (left, paused, declined this
        #: request): they were in the rotation when they were, and a level
        #: must not fall when one of them pauses or comes back (`_levels`)
        rivals: list[_Partner] = []
        trace: list[dict[str, Any]] = []
        for name in sorted(self.partners):
            partner = self.partners[name]
            self._settle(partner, at)
            covers, gate, detail = self._gates(partner, request, workloads, at)
            entry: dict[str, Any] = {"partner": name, "dropped_by": gate, "detail": detail}
            trace.append(entry)
            if gate is None:
                passed.append((partner, covers))
            if gate is None or (gate in _STATES and self._rule_gates(partner, request, workloads, at)[1] is None):
                rivals.append(partner)
        start = self._period_start(at)
        #: the levels of the stints, once per set of workloads at stake
        levels: dict[tuple[str, ...], dict[tuple[str, int], int]] = {}
        candidates = [self._candidate(p, covers, rivals, request, start, levels) for p, covers in passed]
        by_name = {c.partner.id: c for c in candidates}
        for entry in trace:
            found = by_name.get(entry["partner"])
            if found is not None:
                last = found.partner.history[-1].at if found.partner.history else None
                entry.update(
                    covers=list(found.covers),
                    count=found.count,
                    effective_count=found.effective,
                    last_assigned=None if last is None else format_timestamp(last),
                )
        return candidates, trace

    def _gates(
        self, partner: _Partner, request: _Request, workloads: tuple[str, ...], at: int
    ) -> tuple[tuple[str, ...], str | None, str | None]:
        """The workloads a partner can take, or the first gate that drops it and why."""
        if partner.left:
            return (), "left", "left the program"
        if partner.paused_since is not None:
            return (), "paused", f"paused since {format_timestamp(partner.paused_since)}"
        if partner.id in request.declined:
            return (), "declined", "declined this referral"
        return self._rule_gates(partner, request, workloads, at)

    def _rule_gates(
        self, partner: _Partner, request: _Request, workloads: tuple[str, ...], at: int
    ) -> tuple[tuple[str, ...], str | None, str | None]:
        """`_gates` past the partner's state: the rules' gates (endorsement,
        attributes) alone."""
        covers = workloads
        for gate in self.rules.gates:
            if gate == ENDORSEMENT:
                covers = tuple(w for w in workloads if _endorsed(partner, w, at))
                if not covers:
                    return (), gate, _not_endorsed(partner, workloads, at)
                continue
            value = request.event.attributes.get(gate, "")
            served = partner.attributes.get(gate, frozenset())
            if value not in served:
                return (), gate, f"{gate} `{value}` is not among the partner's ({_listed(served)})"
        return covers, None, None

    def _period_start(self, at: int) -> int | None:
        period = self.rules.balance_period
        return None if period is None else period_bounds(at, period, self.rules.timezone)[0]

    def _counts_text(self, at: int) -> str:
        """What the counts are, for the `why`: the criteria and since when."""
        criteria = ", ".join(self.rules.balance_by) or "any criteria"
        period = self.rules.balance_period
        start = self._period_start(at)
        since = "ever" if period is None or start is None else f"since {format_timestamp(start)}"
        return f"referrals received with the same {criteria}, {since}"

    def _key(self, values: dict[str, str], start: int | None) -> tuple[int | None, tuple[str, ...]]:
        """The tally key of a period and the criteria's values (`workload` aside)."""
        return start, tuple(values.get(c, "") for c in self.rules.balance_by if c != WORKLOAD)

    def _count(self, partner: _Partner, stake: tuple[str, ...], values: dict[str, str], start: int | None) -> int:
        """Referrals the partner received in the period so far under the same
        criteria (with `workload`: sharing a workload with ``stake``)."""
        tally = partner.tally.get(self._key(values, start), {})
        if WORKLOAD not in self.rules.balance_by:
            return sum(tally.values())
        wanted = set(stake)
        return sum(count for workloads, count in tally.items() if workloads & wanted)

    def _candidate(
        self,
        partner: _Partner,
        covers: tuple[str, ...],
        rivals: list[_Partner],
        request: _Request,
        start: int | None,
        levels: dict[tuple[str, ...], dict[tuple[str, int], int]],
    ) -> _Candidate:
        """A partner's count and its place in the order. A partner that
        entered the rotation (joined, or came back from a pause) during the
        counting period counts at least as many referrals as the fewest any
        partner in the rotation at that instant counted then (levelled
        too), plus those it has received since: no burst for a newcomer or a
        returner (`_levels`)."""
        values = dict(request.event.attributes)
        count = self._count(partner, covers, values, start)
        if covers not in levels:
            levels[covers] = self._levels_of(rivals, covers, values, start)
        offsets = levels[covers]
        effective = count + offsets.get((partner.id, partner.entered), 0)
        return _Candidate(partner, covers, count, effective, (effective, *self._tie_values(partner)))

    def _levels_of(
        self, rivals: list[_Partner], stake: tuple[str, ...], values: dict[str, str], start: int | None
    ) -> dict[tuple[str, int], int]:
        """`_levels`, computed again only when what it depends on changed: the
        criteria, the eligible partners, or a stint of one of them (stints
        only grow at the end, so the last one and their number tell)."""
        key = (stake, self._key(values, start), tuple((p.id, len(p.stints), p.stints[-1]) for p in rivals))
        found = self._levelled.get(key)
        if found is None:
            if len(self._levelled) >= _LEVELS_KEPT:
                self._levelled.clear()
            found = self._levelled[key] = self._levels(rivals, stake, values, start)
        return found

    def _levels(
        self, rivals: list[_Partner], stake: tuple[str, ...], values: dict[str, str], start: int | None
    ) -> dict[tuple[str, int], int]:
        """What each stint in the rotation that began during the period adds
        to its partner's own count: (partner, when it entered) -> the
        referrals it is levelled up by. A partner entering at `e` counts at
        least the fewest effective count, at `e`, of the partners in the
        rotation at `e` (who were there then, whatever they did since: one
        that paused and came back later still levels it) and eligible now;
        a rival's effective count is its own count plus its own stint's
        level, so one newcomer is levelled against another's level, not
        its raw count. Stints are taken in the order they began, so each
        rival's level is known when it is needed (no recursion).

        One sweep over the rivals' stints and referrals in time order, with
        the rivals in the rotation on a heap by effective count: the stints
        and referrals times the log of the partners, not every stint against
        every rival (partners squared: seconds a decision at 500 partners,
        benchmarks/matching_levels.py)."""
        key = self._key(values, start)
        by_workload = WORKLOAD in self.rules.balance_by
        wanted = set(stake)
        #: the timeline: (instant, step, partner, what); at one instant the
        #: stints that end go first (a rival is in the rotation at `e` only
        #: if its stint ends after `e`), then the stints that begin are
        #: levelled against the rivals in before them, then they join,
        #: then the referrals received at that instant count (counts are
        #: of referrals strictly before `e`)
        timeline: list[tuple[int, int, str, int, bool]] = []
        for rival in rivals:
            for begun, ended in rival.stints:
                # a stint that ends where it begins (paused at once) is levelled, never in the rotation
                timeline.append((begun, 1, rival.id, begun, ended != begun))
                if ended is not None and ended != begun:
                    timeline.append((ended, 0, rival.id, begun, False))
            for at, workloads in rival.timed.get(key, ()):
                if not by_workload or workloads & wanted:
                    timeline.append((at, 3, rival.id, 0, False))
        timeline.sort()
        counts = dict.fromkeys((r.id for r in rivals), 0)
        offsets: dict[tuple[str, int], int] = {}
        #: the rivals in the rotation: name -> their stint's offset, and a
        #: heap of (effective count, name, version) with stale entries skipped
        active: dict[str, int] = {}
        version = dict.fromkeys(counts, 0)
        heap: list[tuple[int, str, int]] = []
        for _, group in itertools.groupby(timeline, key=lambda item: item[0]):
            joining = []
            for _, step, name, begun, lasts in group:
                if step == 0 and name in active:
                    del active[name]
                    version[name] += 1
                elif step == 1:
                    if start is None or begun > start:
                        while heap and (heap[0][1] not in active or heap[0][2] != version[heap[0][1]]):
                            heapq.heappop(heap)
                        if heap:
                            offsets[(name, begun)] = max(0, heap[0][0] - counts[name])
                    if lasts:
                        joining.append((name, offsets.get((name, begun), 0)))
                elif step == 3:
                    for joined, offset in joining:  # in before the referrals of the instant count
                        _push(joined, offset, counts, active, version, heap)
                    joining = []
                    counts[name] += 1
                    if name in active:
                        _push(name, active[name], counts, active, version, heap)
            for joined, offset in joining:
                _push(joined, offset, counts, active, version, heap)
        return offsets

    def _tie_values(self, partner: _Partner) -> tuple[Any, ...]:
        values: list[Any] = []
        for key in self.rules.tie_break:
            if key == "longest_idle":
                values.append((0, 0) if not partner.history else (1, partner.history[-1].at))
            elif key == "earliest_joined":
                values.append(partner.joined)
            else:
                values.append(partner.id)
        return tuple(values)

    def _claimed(
        self, customer: str, whole: list[_Candidate], trace: list[dict[str, Any]], why: dict[str, Any]
    ) -> list[_Candidate]:
        """The claim holders that count: endorsed for every workload and through every gate."""
        if not self.rules.claims_first:
            return []
        holders = sorted(self.claims.get(customer, ()))
        eligible = {c.partner.id: c for c in whole}
        reasons = {entry["partner"]: entry for entry in trace}
        notes = []
        for holder in holders:
            entry = reasons.get(holder)
            if holder in eligible:
                notes.append({"partner": holder, "counts": True, "detail": None})
            elif entry is None:
                notes.append({"partner": holder, "counts": False, "detail": "not a partner of the program"})
            else:
                detail = entry["detail"] or "not endorsed for every requested workload"
                notes.append({"partner": holder, "counts": False, "detail": detail})
        why["claims"] = notes
        return [eligible[h] for h in holders if h in eligible]

    def _pick(self, options: list[_Candidate], why: dict[str, Any]) -> _Candidate:
        """The first of the options in the order; its order and deciding key go to the `why`."""
        ordered = sorted(options, key=lambda c: c.key)
        why["order"] = [c.partner.id for c in ordered]
        why["decided_by"] = self._decided_by([c.key for c in ordered], ["count", *self.rules.tie_break])
        return ordered[0]

    @staticmethod
    def _decided_by(keys: list[tuple[Any, ...]], names: list[str]) -> str:
        """The name of the first key part that put the first option before
        the second (`only candidate` when there is one)."""
        if len(keys) < 2:
            return "only candidate"
        return next((n for n, a, b in zip(names, keys[0], keys[1], strict=True) if a != b), names[-1])

    def _split(
        self, candidates: list[_Candidate], workloads: tuple[str, ...], why: dict[str, Any]
    ) -> list[tuple[_Candidate | None, tuple[str, ...], str]]:
        """No partner takes every workload: the partner that covers the most
        of what is left (then the usual order) takes its part, up to `split
        up to N` partners; what no partner covers goes to the fallback."""
        parts: list[tuple[_Candidate | None, tuple[str, ...], str]] = []
        left = list(workloads)
        steps: list[dict[str, Any]] = []
        chosen: set[str] = set()
        while left and self.rules.split_max > 1 and len(parts) < self.rules.split_max:
            options = [
                ((-len(set(c.covers) & set(left)), *c.key), c)
                for c in candidates
                if c.partner.id not in chosen and set(c.covers) & set(left)
            ]
            if not options:
                break
            options.sort(key=lambda pair: pair[0])
            best = options[0][1]
            taken = tuple(w for w in left if w in best.covers)
            steps.append(
                {
                    "workloads": list(taken),
                    "order": [c.partner.id for _, c in options],
                    "decided_by": self._decided_by(
                        [k for k, _ in options], ["coverage", "count", *self.rules.tie_break]
                    ),
                }
            )
            parts.append((best, taken, "split"))
            chosen.add(best.partner.id)
            left = [w for w in left if w not in taken]
        why["split"] = steps
        if left:
            parts.append((None, tuple(left), "fallback" if self.rules.fallback else "unmatched"))
        return parts

    def _assign(
        self,
        request: _Request,
        candidate: _Candidate | None,
        workloads: tuple[str, ...],
        at: int,
        event: str,
        basis: str,
        why: dict[str, Any],
        values: dict[str, str],
        replaces: str | None,
    ) -> None:
        if candidate is not None:
            kind, partner = "partner", candidate.partner.id
        elif self.rules.fallback is not None:
            kind, partner = "fallback", self.rules.fallback
        else:
            kind, partner = "none", None
        fields = ("assignment", self.rules.name, request.event.request, kind, partner or "", *workloads)
        assignment = Assignment(
            id=self._new_id(fields),
            request=request.event.request,
            customer=request.event.customer,
            partner=partner,
            kind=kind,
            workloads=workloads,
            at=at,
            event=event,
            basis=basis,
            why={"basis": basis, **why},
            values=values,
            replaces=replaces,
            status="pending" if kind == "partner" else ("fallback" if kind == "fallback" else "unmatched"),
        )
        self._record(assignment)
        if candidate is None and self.rules.rematch:
            self._open.append(assignment)
        elif candidate is not None:
            candidate.partner.history.append(assignment)
            key = self._key(values, self._period_start(at))
            tally = candidate.partner.tally.setdefault(key, {})
            tally[frozenset(workloads)] = tally.get(frozenset(workloads), 0) + 1
            candidate.partner.timed.setdefault(key, []).append((at, frozenset(workloads)))

    def _new_id(self, fields: tuple[str, ...]) -> str:
        """The record's id: over its fields, as award ids are; when a record
        with the same fields was made before (a workload back with the
        fallback after a `rematch`), with an ordinal too, so ids never
        collide (a workload name never is a number: no clash with it)."""
        made = make_id("ma_", fields)
        again = 0
        while made in self._ids:
            again += 1
            made = make_id("ma_", (*fields, str(again)))
        self._ids.add(made)
        return made

    def _record(self, assignment: Assignment) -> None:
        self.assignments.append(assignment)
        self.by_request.setdefault(assignment.request, []).append(assignment)


def _push(
    name: str,
    offset: int,
    counts: dict[str, int],
    active: dict[str, int],
    version: dict[str, int],
    heap: list[tuple[int, str, int]],
) -> None:
    """A rival in the rotation in `_levels`' sweep, or its count changed:
    its effective count (own count and its stint's offset) on the heap, the
    entries before it made stale."""
    active[name] = offset
    version[name] += 1
    heapq.heappush(heap, (counts[name] + offset, name, version[name]))


def _endorsed(partner: _Partner, workload: str, at: int) -> bool:
    """Endorsed for a workload at an instant: declared, and not lapsed (an
    endorsement lapses at its expiry instant, with the specialization)."""
    if workload not in partner.endorsements:
        return False
    expiry = partner.endorsements[workload]
    return expiry is None or at < expiry


def _not_endorsed(partner: _Partner, workloads: tuple[str, ...], at: int) -> str:
    lapsed = [w for w in workloads if partner.endorsements.get(w) is not None]
    missing = [w for w in workloads if w not in partner.endorsements]
    parts = []
    if missing:
        parts.append("not endorsed for " + ", ".join(missing))
    if lapsed:
        parts.append(
            "endorsement lapsed for "
            + ", ".join(f"{w} at {format_timestamp(partner.endorsements[w] or 0)}" for w in lapsed)
        )
    return "; ".join(parts)


#: Most of a partner's values a `why` lists (a partner may list thousands,
#: and the `why` of every request it is dropped from would repeat them all).
_LISTED = 10


def _listed(served: frozenset[str]) -> str:
    """The values a partner serves, for a `why`: the first `_LISTED` in code
    point order, each cut to its start and end, and how many more."""
    values = sorted(served)
    shown_values = ", ".join(shorten(v) for v in values[:_LISTED]) or "nothing"
    more = len(values) - _LISTED
    return shown_values + (f" and {more} more" if more > 0 else "")
