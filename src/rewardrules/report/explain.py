"""Report stage, for people: a score result told in plain language.

Per referrer and per referral: what was earned, when and why; what was not
and why (not eligible, window closed, cap reached, held, voided); and what
comes next. It reads the result record (`ScoreResult.data`, scored with
explanations). Given the Program, it also uses the rule file: milestone and
metric titles, the trigger and hold of each milestone, and thresholds
("3 more converted referrals"). Given the void causes from
:func:`rewardrules.trace.score_traced`, it names the event that voided an
award.

    from rewardrules.explain import explain, explain_ledger

    print(explain(result.data))                                  # the record alone
    print(explain_ledger(program, events, referrer="alice"))     # everything
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Any

from ..core.datatypes import DURATION_UNITS, QUANTITY
from ..core.formatting import duration_ns, duration_text, printable_lines, to_quantum, written
from ..core.runtime import CONTEXT, in_context, next_multiple
from ..core.timeutil import NS_PER_DAY, NS_PER_HOUR, format_deadline, parse_timestamp
from ..score.arguments import NONE, expect, expect_program
from ..syntax import nodes as ast

if TYPE_CHECKING:
    from ..check.program import MetricInfo, MilestoneInfo, ProgramInfo, RewardInfo
    from ..score.api import Program
    from .trace import VoidCause

#: kinds of notes, in the order a referral's notes are told
KINDS = ("earned", "pending", "void", "withheld", "attribution", "ineligible", "closed", "next")
_LABELS = {
    "earned": "earned",
    "pending": "pending",
    "void": "voided",
    "withheld": "not issued",
    "attribution": "attribution",
    "ineligible": "not eligible",
    "closed": "not earned",
    "next": "next",
    "reached": "reached",
    "not_counted": "not counted",
}


@dataclass(slots=True)
class Note:
    """One statement: an award, a reward not issued, a reason, a next step."""

    kind: str  # earned | pending | void | withheld | attribution | ineligible | closed | next | reached | not_counted
    text: str
    at: str | None = None
    milestone: str | None = None
    award: str | None = None
    details: list[str] = field(default_factory=list)

    def lines(self, indent: str) -> list[str]:
        when = f"{self.at} " if self.at else ""
        out = [f"{indent}{when}{_LABELS[self.kind]}: {self.text}"]
        out.extend(f"{indent}  {d}" for d in self.details)
        return out


@dataclass(slots=True)
class ReferralStory:
    referrer: str
    referee: str
    at: str
    event: str
    notes: list[Note] = field(default_factory=list)


@dataclass(slots=True)
class ReferrerStory:
    referrer: str
    referrals_total: int = 0  # all their counted referrals, shown or not
    #: per-referrer metrics: {"metric": name, "label": title or name, "value": value}
    metrics: list[dict[str, str]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)  # per-referrer milestones
    referrals: list[ReferralStory] = field(default_factory=list)
    not_counted: list[Note] = field(default_factory=list)


@dataclass(slots=True)
class Explanation:
    ruleset: str
    as_of: str
    referrers: list[ReferrerStory]

    @in_context
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @in_context
    def text(self) -> str:
        out = [f"{self.ruleset} as of {self.as_of}"]
        if not self.referrers:
            out += ["", "no referrals"]
        for story in self.referrers:
            out.append("")
            count = story.referrals_total
            head = f"{story.referrer}: {count} referral{'s' if count != 1 else ''}"
            if story.metrics:
                head += " (" + ", ".join(f"{m['label']}: {m['value']}" for m in story.metrics) + ")"
            out.append(head)
            for note in story.notes:
                out.extend(note.lines("  "))
            for referral in story.referrals:
                out.append(f"  {referral.referee}, referred {referral.at} (event {referral.event})")
                for note in referral.notes:
                    out.extend(note.lines("    "))
                if not referral.notes:
                    out.append("    nothing yet")
            for note in story.not_counted:
                out.extend(note.lines("  "))
        return printable_lines(out)


@in_context
def explain(
    data: Mapping[str, Any],
    referrer: str | None = None,
    referee: str | None = None,
    *,
    program: Program | None = None,
    voids: Mapping[str, VoidCause] | None = None,
) -> str:
    """The result in plain language (see :func:`explanation`)."""
    return explanation(data, referrer, referee, program=program, voids=voids).text()


@in_context
def explain_ledger(
    program: Program,
    events: Iterable[Any],
    as_of: str | int | None = None,
    referrer: str | None = None,
    referee: str | None = None,
    *,
    settled: Any = None,
    max_awards_per_event: int | None = None,
) -> str:
    """Score a ledger and explain it with everything the rules say;
    ``settled`` (what the app already paid) and ``max_awards_per_event``:
    as for ``Program.score``."""
    from .trace import score_traced

    expect_program(program)
    expect(referrer, (str, NONE), "referrer")
    expect(referee, (str, NONE), "referee")

    traced = score_traced(program, events, as_of, settled=settled, max_awards_per_event=max_awards_per_event)
    return explain(traced.data, referrer, referee, program=program, voids=traced.voids)


def known_people(data: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(referrers, referees) named by referral events of the result."""
    rows = [*data.get("referrals", []), *data.get("rejected", [])]
    return {r["referrer"] for r in rows if r.get("referrer")}, {r["referee"] for r in rows if r.get("referee")}


@in_context
def explanation(
    data: Mapping[str, Any],
    referrer: str | None = None,
    referee: str | None = None,
    *,
    program: Program | None = None,
    voids: Mapping[str, VoidCause] | None = None,
) -> Explanation:
    """The structured form: per referrer (in order of their first referral),
    their per-referrer milestones and their referrals, each with notes.
    ``referrer`` / ``referee`` keep only the referrals of that person."""
    if "referrals" not in data:
        raise ValueError("the result has no explanations: score with explain=True")
    teller = _Teller(data, program, voids or {})
    return teller.tell(referrer, referee)


class _Teller:
    def __init__(self, data: Mapping[str, Any], program: Program | None, voids: Mapping[str, VoidCause]) -> None:
        self.data = data
        self.voids = voids
        self.as_of = data["as_of"]
        self.checked = program.compiled.checked if program is not None else None
        self.milestones: dict[str, MilestoneInfo] = {}
        self.programs: dict[str, ProgramInfo] = {}
        if self.checked is not None:
            self.programs = {p.name: p for p in self.checked.programs}
            self.milestones = {m.name: m for m in self.checked.milestones}
        self.awards: dict[str, dict[str, Any]] = {a["id"]: a for a in data["awards"]}
        #: compensating entries for confirmed awards taken back later, when the result has them
        self.reversals: dict[str, list[Mapping[str, Any]]] = {}
        for entry in data.get("reversals", []):
            self.reversals.setdefault(entry["reverses"], []).append(entry)

    # -- the whole story ---------------------------------------------------
    def tell(self, referrer: str | None, referee: str | None) -> Explanation:
        stories: dict[str, ReferrerStory] = {}
        totals = Counter(r["referrer"] for r in self.data["referrals"])

        def story(name: str) -> ReferrerStory:
            if name not in stories:
                stories[name] = ReferrerStory(name, totals[name])
            return stories[name]

        rows = sorted(
            [("referral", r) for r in self.data["referrals"]]
            + [("rejected", r) for r in self.data.get("rejected", []) if r["reason"] != "ineligible"],
            key=lambda row: (parse_timestamp(row[1]["at"]), row[1].get("event", "")),
        )
        by_referral = self._awards_by_referral()
        withheld = self._withheld_by_referral()
        placed: set[tuple[str, str]] = set()
        for kind, row in rows:
            if referrer is not None and row.get("referrer") != referrer:
                continue
            if referee is not None and row.get("referee") != referee:
                continue
            owner = story(row.get("referrer") or "(no referrer)")
            if kind == "rejected":
                owner.not_counted.append(self._rejected(row))
                continue
            key = (row["referrer"], row["referee"])
            placed.add(key)
            owner.referrals.append(self._referral(row, by_referral.get(key, []), withheld.get(key, [])))
        unplaced = {key: listed for key, listed in by_referral.items() if key not in placed}
        self._unplaced(unplaced, referrer, referee, story)
        for entry in self.data.get("referrers", []):
            if entry["referrer"] in stories:
                self._referrer(stories[entry["referrer"]], entry)
        return Explanation(self.data["ruleset"], self.as_of, list(stories.values()))

    def _unplaced(
        self,
        awards: dict[tuple[str, str], list[dict[str, Any]]],
        referrer: str | None,
        referee: str | None,
        story: Callable[[str], ReferrerStory],
    ) -> None:
        """Awards of no counted referral: a settled award that this run no
        longer gives (its referral became another referrer's) is listed as
        paid, with its reversal; it is told under its referrer."""
        for (who, whom), listed in awards.items():
            if (referrer is None or who == referrer) and (referee is None or whom == referee):
                story(who).notes.extend(self._award(award) for award in listed)

    def _awards_by_referral(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for award in self.data["awards"]:
            out.setdefault((award["referrer"], award["referee"]), []).append(award)
        return out

    def _withheld_by_referral(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for item in self.data.get("withheld", []):
            out.setdefault((item["referrer"], item["referee"]), []).append(item)
        return out

    # -- one referral ------------------------------------------------------
    def _referral(
        self, row: Mapping[str, Any], awards: list[dict[str, Any]], withheld: list[dict[str, Any]]
    ) -> ReferralStory:
        story = ReferralStory(row["referrer"], row["referee"], row["at"], row["event"])
        dated: list[tuple[int, int, Note]] = []
        for n, award in enumerate(awards):
            dated.append((parse_timestamp(award["at"]), n, self._award(award)))
        for n, item in enumerate(withheld, start=len(awards)):
            dated.append((parse_timestamp(item["at"]), n, self._withheld(item)))
        story.notes.extend(note for _, _, note in sorted(dated, key=lambda d: (d[0], d[1])))
        single = len(row["programs"]) == 1
        undated: list[Note] = []
        for entry in row["programs"]:
            if not entry["eligible"]:
                undated.append(self._ineligible(entry, single))
                continue
            if "attribution" in entry:  # who holds the referee, in a program where it can move
                text = entry["attribution"]
                undated.append(
                    Note("attribution", text if single else f"program {self._program_name(entry['program'])}: {text}")
                )
                if not entry.get("holds", True):
                    continue  # no longer counts there: nothing is to come
            for milestone in entry["milestones"]:
                note = self._progress(milestone, entry.get("metrics", {}), entry["program"])
                if note is not None:
                    undated.append(note)
        story.notes.extend(sorted(undated, key=lambda n: KINDS.index(n.kind)))
        return story

    def _award(self, award: Mapping[str, Any]) -> Note:
        status = award["status"]
        kind = {"confirmed": "earned", "pending": "pending", "void": "void"}.get(status, "earned")
        text = f"{_what(award)} to {award['beneficiary']} ({award['role']}) for {self._name(award['milestone'])}"
        note = Note(kind, text, award["at"], award["milestone"], award["id"])
        note.details.append("why: " + self._why(award))
        why = award.get("why") or {}
        if why.get("capped"):
            note.details.append(_cut(why.get("uncapped"), award) + self._caps(award["milestone"]))
        info = self.milestones.get(award["milestone"])
        if status == "pending":
            reward = _reward_of(info, award) if info is not None else None
            if reward is not None and reward.hold_ns is not None:
                until = format_deadline(parse_timestamp(award["at"]) + reward.hold_ns)
                detail = f"held until {until} ({_duration(reward.hold_ns)} hold)"
            else:
                detail = "held: it is confirmed when the hold is over"
            if info is not None and reward is not None and reward.voids:
                detail += "; " + " or ".join(_void_text(info.voids[i].decl) for i in reward.voids)
            note.details.append(detail)
        elif status == "void":
            cause = self.voids.get(award["id"])
            if cause is not None:
                rule = ""
                if info is not None and cause.index < len(info.voids):
                    rule = f": `{_text(info.voids[cause.index].decl)}`"
                note.details.append(f"voided by {cause.type} {cause.event} at {cause.at}{rule}")
        for entry in self.reversals.get(award["id"], []):
            cause = entry["why"].get("event")  # None: a settled award this run changes (see settle)
            by = f"by event {cause}" if cause is not None else f"({entry['why'].get('reason', 'changed')})"
            so_far = entry["why"].get("taken")  # a partial void's: the total taken back after it
            part = f" ({so_far} {entry['unit']} taken back so far)" if so_far is not None else ""
            note.details.append(f"taken back at {entry['at']} {by}: {_what(entry)} comes back{part}")
        return note

    def _why(self, award: Mapping[str, Any]) -> str:
        why = award.get("why")
        if why is None:  # a settled award listed as told, from a statement that did not say why
            return "paid as the settled statement lists it (it does not say why)"
        values = ", ".join(f"{k} = {v}" for k, v in why.get("values", {}).items())
        info = self.milestones.get(award["milestone"])
        rule = f"`{_trigger_text(info.trigger)}` " if info is not None else ""
        if info is not None and ast.timer_of(info.trigger) is not None:
            return rule + _timer_why(info.trigger, why["event"], award["at"]) + (f" ({values})" if values else "")
        occurrence = why.get("occurrence")
        extra = f", occurrence {occurrence}" if occurrence and occurrence != why["event"] else ""
        return f"{rule}at event {why['event']}" + (f" ({values})" if values else "") + extra

    def _withheld(self, item: Mapping[str, Any]) -> Note:
        """`cash 100.00 USD to carlos (referrer) for `m`: cap ... reached`:
        what would have been paid, when the record says (results written
        before withheld records had amounts do not)."""
        to = f"to {item['beneficiary']} ({item['role']})"
        if item.get("amount") is not None or item.get("kind") == "item":
            text = f"{_what(item)} {to} for {self._name(item['milestone'])}: {item['reason']}"
        else:
            text = f"{self._name(item['milestone'])} {to}: {item['reason']}"
        return Note("withheld", text, item["at"], item["milestone"])

    def _ineligible(self, entry: Mapping[str, Any], single: bool) -> Note:
        why = str(entry.get("why", "")).removeprefix("not eligible: ")
        # eligible, but its referee was another referral's there (`Result._not_counted`)
        kind = "attribution" if why.startswith("not counted: ") else "ineligible"
        if single:
            return Note(kind, why)
        return Note(kind, f"program {self._program_name(entry['program'])}: {why}")

    def _progress(self, milestone: Mapping[str, Any], metrics: Mapping[str, Any], program: str) -> Note | None:
        progress = milestone.get("progress")
        if not progress:
            return None
        name = milestone["milestone"]
        if milestone.get("closed"):
            if milestone["reached"]:
                return None  # a repeating milestone whose window is over: nothing more to come
            return Note("closed", f"{self._name(name)}: {progress}", milestone=name)
        better = self._threshold_text(name, metrics, program)
        return Note("next", f"{self._name(name)}: {better or progress}", milestone=name)

    # -- per referrer ------------------------------------------------------
    def _referrer(self, story: ReferrerStory, entry: Mapping[str, Any]) -> None:
        for name, value in entry.get("metrics", {}).items():
            story.metrics.append({"metric": name, "label": self._metric_label(entry["program"], name), "value": value})
        for milestone in entry["milestones"]:
            name = milestone["milestone"]
            if milestone["reached"]:
                for award_id in milestone["awards"][:1]:
                    award = self.awards.get(award_id)
                    if award is not None and award.get("why") is not None:
                        text = f"{self._name(name)}, with {award['referee']}'s event {award['why']['event']}"
                        story.notes.append(Note("reached", text, award["at"], name))
            note = self._progress(milestone, entry.get("metrics", {}), entry["program"])
            if note is not None:
                story.notes.append(note)

    def _rejected(self, row: Mapping[str, Any]) -> Note:
        reason = str(row["reason"]).replace("_", " ")
        detail = f": {row['detail']}" if row.get("detail") else ""
        return Note(
            "not_counted", f"referral of {row.get('referee')} (event {row['event']}): {reason}{detail}", row["at"]
        )

    # -- the rule file, when we have it -----------------------------------
    def _name(self, milestone: str) -> str:
        info = self.milestones.get(milestone)
        return f"`{milestone}` ({info.title})" if info is not None and info.title else f"`{milestone}`"

    def _program_name(self, program: str) -> str:
        info = self.programs.get(program)
        return f"`{program}` ({info.title})" if info is not None and info.title else f"`{program}`"

    def _metric_label(self, program: str, name: str) -> str:
        metric = self._metric(program, name)
        title = metric.decl.title if metric is not None else None
        return _noun(title) if title else name

    def _metric(self, program: str, name: str) -> MetricInfo | None:
        info = self.programs.get(program)
        return info.metrics.get(name) if info is not None else None

    def _caps(self, milestone: str) -> str:
        info = self.milestones.get(milestone)
        if info is None or self.checked is None:
            return "a cap"
        program = next((p for p in self.checked.programs if info in p.milestones), None)
        caps = [*(program.caps if program else []), *info.caps, *(program.allowances if program else [])]
        return " or ".join(f"`{_text(c.decl)}`" for c in caps) or "a cap"

    def _threshold_text(self, milestone: str, metrics: Mapping[str, Any], program: str) -> str | None:
        """'3 more converted referrals (2 of 5)' or 'monthly recurring revenue
        is 800.00 of 1000 USD, 200.00 USD to go'; None when the trigger is
        not a plain threshold (the record's own progress text is used)."""
        info = self.milestones.get(milestone)
        if info is None:
            return None
        trigger = info.trigger
        if isinstance(trigger, ast.EveryTrigger):
            current = _decimal(metrics.get(trigger.metric.text))
            if current is None:
                return None
            target = next_multiple(current, trigger.step)
            return self._distance(program, trigger.metric.text, current, target, None, ">=")
        if not isinstance(trigger, ast.WhenTrigger) or trigger.held is not None:
            return None  # a held condition: the record's progress says since when
        parts = []
        for node in ast.conjuncts(trigger.condition):
            part = ast.threshold(node, metrics)
            if part is None:
                return None
            name = part.metric
            unit = part.target.unit.text if isinstance(part.target, ast.Quantity) else None
            if unit in DURATION_UNITS and isinstance(part.target, ast.Quantity):  # compared and written in ns
                found = self._duration_distance(program, name, metrics.get(name), part.target, part.op)
                if found is not None:
                    parts.append(found)
                continue
            target = part.target.value
            current = _decimal(metrics.get(name))
            if current is not None and (current > target or (part.op == ">=" and current == target)):
                continue  # this part already holds
            parts.append(self._distance(program, name, current, target, unit, part.op))
        return "; ".join(parts) or None

    def _noun(self, program: str, name: str) -> str:
        """A metric as a sentence names it: its title, else `name`."""
        metric = self._metric(program, name)
        title = metric.decl.title if metric is not None else None
        return _noun(title) if title else f"`{name}`"

    def _duration_distance(self, program: str, name: str, value: Any, target: ast.Quantity, op: str) -> str | None:
        """`_distance` of a duration, as `duration_text` writes durations
        (`` `tenure` is 1 day 7 hours of 2 days, 17 hours to go``); None
        when it already holds."""
        goal = int(CONTEXT.multiply(target.value, DURATION_UNITS[target.unit.text]))
        current = duration_ns(value) if isinstance(value, str) else None
        if current is not None and (current > goal or (op == ">=" and current == goal)):
            return None
        noun, strictly = self._noun(program, name), "more than " if op == ">" else ""
        if current is None:
            return f"{noun} has no value yet (needs {strictly}{duration_text(goal)})"
        to_go = "" if op == ">" else f", {duration_text(goal - current)} to go"
        return f"{noun} is {duration_text(current)} of {strictly}{duration_text(goal)}{to_go}"

    def _distance(
        self, program: str, name: str, current: Decimal | None, target: Decimal, unit: str | None, op: str
    ) -> str:
        metric = self._metric(program, name)
        title = metric.decl.title if metric is not None else None
        noun = self._noun(program, name)
        # a bare number (`when mrr >= 1000`) takes the metric's unit
        unit = unit or (metric.type.unit if metric is not None and metric.type.kind == QUANTITY else None)
        units = f" {unit}" if unit else ""
        strictly = "more than " if op == ">" else ""
        if current is None:
            return f"{noun} has no value yet (needs {strictly}{_plain(target)}{units})"
        counting = metric is not None and metric.type.unit is None and not unit
        if counting and current == current.to_integral_value() and target == target.to_integral_value():
            need = target - current + (1 if op == ">" else 0)
            word = _singular(noun) if need == 1 and title else noun
            return f"{_plain(need)} more {word} ({_plain(current)} of {_plain(target)})"
        remaining = target - current  # keeps the decimals of the current value: 200.00
        to_go = "" if op == ">" else f", {written(remaining)}{units} to go"
        return f"{noun} is {written(current)}{units} of {strictly}{_plain(target)}{units}{to_go}"


# -- small helpers ------------------------------------------------------------


def _cut(uncapped: Any, award: Mapping[str, Any]) -> str:
    """How much a cap cut from an award, from its `why.uncapped` (the amount
    before the cut); a result without it (older, or a settled statement's)
    still says that a cap cut it."""
    try:
        with localcontext(CONTEXT):
            withheld = Decimal(uncapped) - Decimal(award["amount"])
    except (TypeError, ValueError, ArithmeticError):
        return "cut to what remained under "
    unit = award["unit"]
    return f"cut by a cap from {uncapped} {unit} to {award['amount']} {unit} ({withheld} {unit} withheld) under "


def _what(award: Mapping[str, Any]) -> str:
    if award["kind"] == "item":
        return f'item "{award["item"]}"'
    return f"{award['kind'].replace('_', ' ')} {award['amount']} {award['unit']}"


def _text(node: Any) -> str:
    span = getattr(node, "span", None)
    return " ".join(span.text.split()) if span is not None else "?"


def _reward_of(info: MilestoneInfo, award: Mapping[str, Any]) -> RewardInfo | None:
    """The reward of the milestone an award record is of: its role, kind,
    unit and item (the first such, for two rewards alike)."""
    for reward in info.rewards:
        if (reward.role, reward.kind, reward.unit) == (award["role"], award["kind"], award["unit"]) and (
            reward.kind != "item" or reward.item == award.get("item")
        ):
            return reward
    return None


def _void_text(void: ast.Void) -> str:
    """A `void` clause as a pending award's detail: "void if `refund ...`",
    or for a partial void "`refund.amount of payment.amount` back at each
    `refund ...`"."""
    if void.part is None or void.whole is None:
        return f"void if `{_text(void)[len('void if ') :]}`"
    head = f"{_text(void.part)} of {_text(void.whole)}"
    rest = _text(void)
    return f"`{head}` back at each `{rest[rest.find(' if ') + len(' if ') :]}`"


def _trigger_text(trigger: ast.Trigger) -> str:
    return _text(trigger)


def _timer_why(trigger: ast.Trigger, event: str, at: str) -> str:
    """Why a timer's award came at its instant, with no event then: how
    long from which event (the one that started the clock)."""
    duration = ast.timer_of(trigger)
    length = _text(duration)
    if isinstance(trigger, ast.WhenTrigger):
        return f"held without a break from event {event} for {length}, complete at {at}"
    holds = "; the condition held then" if isinstance(trigger, ast.AfterTrigger) and trigger.condition else ""
    return f"{length} after event {event}, at {at}{holds}"


def _duration(ns: int) -> str:
    """A hold's length: `30-day`, `36-hour`, else as `duration_text`
    writes it (`1 hour 40 minutes`: in hours it has no end)."""
    for size, name in ((NS_PER_DAY, "day"), (NS_PER_HOUR, "hour")):
        if ns % size == 0:
            return f"{ns // size}-{name}"
    return duration_text(ns)


def _plain(value: Decimal) -> str:
    if value == value.to_integral_value():
        return written(to_quantum(value, _ONE))  # (past 100 digits too)
    return written(value)


_ONE = Decimal(1)


def _decimal(value: Any) -> Decimal | None:
    """A metric's value as the record writes it, as a number (a duration
    is read by `formatting.duration_ns`)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _noun(title: str) -> str:
    """A title as a noun in a sentence: "Converted referrals" ->
    "converted referrals"; "MRR" stays "MRR"."""
    if len(title) > 1 and title[0].isupper() and title[1].islower():
        return title[0].lower() + title[1:]
    return title


def _singular(noun: str) -> str:
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


__all__ = ["Explanation", "Note", "ReferralStory", "ReferrerStory", "explain", "explain_ledger", "explanation"]
