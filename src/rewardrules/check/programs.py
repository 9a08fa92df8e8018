"""The programs pass: eligibility, caps, milestones, rewards and voids of
each program, and milestone names across programs.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from ..core import limits
from ..core.award import KINDS, ROLES
from ..core.datatypes import (
    ERROR,
    PERIODS,
    QUANTITY,
    T_ERROR,
    Type,
    quantity,
)
from ..core.units import CURRENCY_EXPONENTS, is_currency
from ..syntax import nodes as ast
from .attribution import Attributions
from .clawbacks import Clawbacks
from .program import (
    COUNT_UNIT,
    CapInfo,
    EventInfo,
    Level,
    MetricInfo,
    MilestoneInfo,
    ProgramInfo,
    RewardInfo,
    VoidInfo,
)
from .scope import _Context


class Programs(Attributions, Clawbacks):
    """Programs, milestones and rewards."""

    # -- programs and milestones ----------------------------------------
    def _program(self, program: ast.Program, shared: Mapping[str, ast.MetricDecl], ruleset: str) -> ProgramInfo:
        name = program.name.text or ruleset
        scope = self._metric_scope(program.metrics, shared, name)
        eligible = []
        for clause in program.eligible:
            ctx = _Context(
                "in an eligibility condition",
                {"referral": (self.events["referral"], "referral")},
                scope,
                at_referral=True,
            )
            self.condition(clause.condition, ctx)
            eligible.append(clause.condition)
        attribution = self._attribution(program)
        caps = [c for c in (self._cap(cap) for cap in program.caps) if c is not None]
        drawn = self._draws(program, self.allowances)
        milestones = [self._milestone(m, scope) for m in program.milestones]
        if not milestones:
            # the file's implicit program (loose caps or eligibility) is the file
            what = f"program `{name}`" if program.name.text else "the rule file"
            self.error(
                "RR306",
                f"{what} has no milestone",
                program.span,
                "add `milestone NAME { ... }` with a trigger and a reward",
            )
        metrics = {}
        for mname, decl in scope.items():
            metrics[mname] = self._metric(decl, scope)
        self._unless_voided(metrics, milestones, name)
        return ProgramInfo(name, program.title, program, eligible, caps, milestones, metrics, drawn, attribution)

    def _check_milestone_names(self, programs: list[ProgramInfo]) -> None:
        seen: dict[str, ast.Milestone] = {}
        count = 0
        for program in programs:
            for milestone in program.milestones:
                milestone.index = count
                count += 1
                first = seen.get(milestone.name)
                if first is not None:
                    self._duplicate(
                        f"milestone `{milestone.name}` is declared twice",
                        milestone.decl.name.span,
                        first.name.span,
                        "milestone names are unique in a file; awards are reported by name",
                    )
                else:
                    seen[milestone.name] = milestone.decl
        if count > limits.MAX_MILESTONES:
            self.error(
                "RR401", f"too many milestones ({count}; the limit is {limits.MAX_MILESTONES})", self.source.whole()
            )
        if not programs:
            self.error(
                "RR306",
                "the rule file has no milestone",
                self.source.whole(),
                "add `milestone NAME { ... }` with a trigger and a reward",
            )

    def _cap(self, cap: ast.Cap) -> CapInfo | None:
        ok = True
        if not self.known("RR106", "role", cap.role, ROLES):
            ok = False
        amount = cap.amount
        if not isinstance(amount, ast.Quantity):
            self.error(
                "RR305", "a cap is an amount with a unit, such as `5000 USD`, or a number of `rewards`", amount.span
            )
            return None
        if amount.unit.text == COUNT_UNIT:
            ok = self._count_cap(amount) and ok
            unit = COUNT_UNIT
        else:
            typ = self.expr(amount, _Context("in a cap"))
            unit = typ.unit or ""
            if typ.kind != QUANTITY:
                ok = False
            elif amount.value <= 0:
                self.error("RR304", "a cap must be greater than zero", amount.span)
                ok = False
        period = None
        if cap.period is not None:
            period = cap.period.text
            if not self.known("RR108", "period", cap.period, PERIODS, "periods are " + ", ".join(PERIODS)):
                ok = False
        if not ok:
            return None
        return CapInfo(cap.role.text, unit, amount.value, period, cap)

    def _count_cap(self, amount: ast.Quantity) -> bool:
        """`cap referrer 3 rewards`: a whole number of rewards, at least 1 (RR321)."""
        self.types[amount] = quantity(COUNT_UNIT)
        self.nullable[amount] = False
        if amount.value < 1 or amount.value != amount.value.to_integral_value():
            self.error(
                "RR321",
                f"a cap on the number of rewards is a whole number of at least 1, not {amount.value}",
                amount.span,
                "for example `cap referrer 3 rewards per month`",
            )
            return False
        return True

    def _allowances(self) -> dict[str, CapInfo]:
        """The file's shared caps (`allowance NAME ROLE AMOUNT [per PERIOD]`)
        by name; a name declared twice is RR104."""
        found: dict[str, CapInfo] = {}
        firsts: dict[str, ast.Allowance] = {}
        for decl in self.file.allowances:
            if not self._first(decl, "allowance", firsts):
                continue
            info = self._cap(decl.cap)
            if info is not None:
                info.allowance = decl.name.text
                found[decl.name.text] = info
        return found

    def _draws(self, program: ast.Program, allowances: Mapping[str, CapInfo]) -> list[CapInfo]:
        """The allowances a program draws from: each named once (RR306), and
        declared (RR115, with the nearest name as a hint)."""
        drawn: list[CapInfo] = []
        names = [d.name.text for d in self.file.allowances]
        seen: set[str] = set()
        for draw in program.draws:
            name = draw.name.text
            if name in seen:
                self.error("RR306", f"the program draws from `{name}` twice", draw.span, "remove this line")
                continue
            seen.add(name)
            info = allowances.get(name)
            if info is not None:
                drawn.append(info)
            else:  # a declared allowance with an error is reported at its declaration
                hint = "declare it at the top of the file: `allowance NAME referrer 1000 USD per month`"
                self.known("RR115", "allowance", draw.name, names, hint)
        return drawn

    def _milestone(self, decl: ast.Milestone, scope: Mapping[str, ast.MetricDecl]) -> MilestoneInfo:
        name = decl.name.text
        if not decl.triggers:
            self.error(
                "RR301",
                f"milestone `{name}` has no trigger",
                decl.name.span,
                "add one of `when ...`, `first EVENT ...`, `each EVENT ...`, `whenever METRIC increases`, `every N METRIC`,"
                " `when ... for D`, `after D`",
            )
        for extra in decl.triggers[1:]:
            self.error(
                "RR302",
                f"milestone `{name}` has more than one trigger",
                extra.span,
                "combine the conditions with `and`, or write two milestones",
            )
        trigger: ast.Trigger = decl.triggers[0] if decl.triggers else ast.WhenTrigger(ast.Bool(False), span=decl.span)
        level: Level = "referral"
        event: str | None = None
        events: frozenset[str] = frozenset()
        increase: Type | None = None
        trigger_event: EventInfo | None = None
        referral = self.events["referral"]
        timer_ns: int | None = None
        anchor: str | None = None
        if isinstance(trigger, ast.WhenTrigger):
            ctx = _Context("in a milestone condition", {"referral": (referral, "referral")}, scope)
            self.condition(trigger.condition, ctx)
            self._thresholds(trigger.condition)
            level, events = self._level(ctx.used_metrics)
            events |= {"referral"}
            if trigger.held is not None:
                timer_ns = self.duration(trigger.held)
        elif isinstance(trigger, ast.AfterTrigger):
            level, events, anchor = self._after(trigger, scope)
            timer_ns = self.duration(trigger.delay)
        elif isinstance(trigger, ast.EventTrigger):
            trigger_event = self._event(trigger.event)
            if trigger_event is not None:
                event = trigger_event.name
                events = frozenset({event})
                if trigger.where is not None:
                    ctx = _Context(
                        "in a milestone filter",
                        {event: (trigger_event, "event"), "referral": (referral, "referral")},
                        scope,
                    )
                    self.condition(trigger.where, ctx)
                    level = self._level(ctx.used_metrics)[0]
            if trigger.within is not None:
                self.duration(trigger.within)
        else:
            found = self._named_metric(trigger.metric, scope)
            if found is not None:
                info = found
                level, events = info.level, info.events
                if not info.type.numeric and info.type.kind != ERROR:
                    self.error(
                        "RR201",
                        f"`{info.name}` is {info.type.describe()}; it must be a number to rise",
                        trigger.metric.span,
                    )
                if isinstance(trigger, ast.IncreaseTrigger):  # `increase` is the rise of `whenever` only
                    increase = Type(info.type.kind, info.type.unit) if info.type.kind != ERROR else T_ERROR
            if isinstance(trigger, ast.EveryTrigger) and trigger.step <= 0:
                self.error("RR304", "the step of `every` must be greater than zero", trigger.span)
            elif isinstance(trigger, ast.EveryTrigger) and found is not None:
                self._every_step(trigger, found)
        rewards = [r for r in (self._reward(r, scope, trigger_event, increase) for r in decl.rewards) if r is not None]
        if not decl.rewards:
            self.error(
                "RR303",
                f"milestone `{name}` has no reward",
                decl.name.span,
                "add a line such as `reward referrer cash 100 USD`",
            )
        hold_ns = None
        for hold in decl.holds[1:]:
            self.error("RR306", "a milestone has at most one `hold`", hold.span)
        if decl.holds:
            hold_ns = self.duration(decl.holds[0].duration)
        voids = self._reward_terms(decl, rewards, hold_ns, [self._void(v, trigger_event) for v in decl.voids])
        for reward in rewards:
            reward.voids = tuple(reward.voids) + tuple(
                self._own_voids(reward, trigger_event, voids) if reward.decl.terms else ()
            )
            self._share_rewards(tuple(voids[i].decl for i in reward.voids), [reward])
        message = None
        message_span = None
        for repeated in decl.messages[1:]:
            self.error("RR306", "a milestone has at most one `message`", repeated.span)
        if decl.messages:
            message = decl.messages[0].template
            message_span = decl.messages[0].span
            self._template(decl.messages[0], scope, trigger_event)
        caps = [c for c in (self._cap(cap) for cap in decl.caps) if c is not None]
        return MilestoneInfo(
            name=name,
            title=decl.title,
            decl=decl,
            trigger=trigger,
            level=level,
            event=event,
            events=events,
            rewards=rewards,
            hold_ns=hold_ns,
            voids=voids,
            message=message,
            message_span=message_span,
            caps=caps,
            timer_ns=timer_ns,
            anchor=anchor,
        )

    def _after(
        self, trigger: ast.AfterTrigger, scope: Mapping[str, ast.MetricDecl]
    ) -> tuple[Level, frozenset[str], str | None]:
        """Check `after D [from EVENT] [if C]`: its level (per referrer when
        C reads a per-referrer metric), the event types that start its timer
        and the anchor event type (None for the referral)."""
        anchor: str | None = None
        if trigger.anchor is not None and trigger.anchor.text != "referral":
            found = self._event(trigger.anchor)
            anchor = found.name if found is not None else None
        level: Level = "referral"
        if trigger.condition is not None:
            ctx = _Context("in the condition of `after`", {"referral": (self.events["referral"], "referral")}, scope)
            self.condition(trigger.condition, ctx)
            self._thresholds(trigger.condition)
            level = self._level(ctx.used_metrics)[0]
        return level, frozenset({anchor or "referral"}), anchor

    def _level(self, used: list[MetricInfo]) -> tuple[Level, frozenset[str]]:
        level: Level = "referrer" if any(m.level == "referrer" for m in used) else "referral"
        events = frozenset().union(*(m.events for m in used)) if used else frozenset()
        return level, events

    def _thresholds(self, expr: ast.Expr) -> None:
        """Counts compared with negative or fractional numbers are mistakes."""
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.And, ast.Or)):
                stack.extend((node.left, node.right))
            elif isinstance(node, ast.Not):
                stack.append(node.operand)
            elif isinstance(node, ast.Compare):
                for side, other in ((node.left, node.right), (node.right, node.left)):
                    binding = self.bindings.get(side) if isinstance(side, ast.Ref) else None
                    metric = binding.metric if binding else None
                    if metric is None or not isinstance(other, ast.Number):
                        continue
                    agg = metric.aggregate
                    if (
                        agg is not None
                        and agg.fn == "count"
                        and (other.value < 0 or other.value != other.value.to_integral_value())
                    ):
                        self.error(
                            "RR304",
                            f"`{metric.name}` counts whole {agg.source.text}; `{other.value}` can never be a count",
                            other.span,
                            "use a whole number of 0 or more",
                        )
                    elif agg is not None and agg.fn in ("count", "sum") and other.value < 0 and node.op in (">=", ">"):
                        pass  # always true, but harmless: left to `check --strict`

    def _reward(
        self,
        reward: ast.Reward,
        scope: Mapping[str, ast.MetricDecl],
        trigger_event: EventInfo | None,
        increase: Type | None,
    ) -> RewardInfo | None:
        ok = True
        role, kind = reward.role.text, reward.kind.text
        if not self.known("RR106", "role", reward.role, ROLES, "the roles are `referrer` and `referee`"):
            ok = False
        if not self.known("RR107", "reward kind", reward.kind, KINDS, "kinds are " + ", ".join(KINDS)):
            return None
        if kind == "item":
            if not isinstance(reward.amount, ast.String):
                self.error(
                    "RR305",
                    "an item reward names the item in quotes",
                    reward.amount.span,
                    'for example `reward referrer item "Trip to Paris"`',
                )
                return None
            self.expr(reward.amount, _Context("in a reward"))
            return RewardInfo(role, kind, "item", reward.amount.value, reward) if ok else None
        events: dict[str, tuple[EventInfo, str]] = {"referral": (self.events["referral"], "referral")}
        if trigger_event is not None:
            events[trigger_event.name] = (trigger_event, "event")
        ctx = _Context("in a reward amount", events, scope, increase=increase)
        typ = self.expr(reward.amount, ctx)
        if typ.kind == ERROR:
            return None
        if typ.kind != QUANTITY:
            self.error(
                "RR305",
                f"a reward amount needs a unit, but this is {typ.describe()}",
                reward.amount.span,
                "write the unit after the number, e.g. `500 USD`, `10 percent`, `500 MB`",
            )
            return None
        unit = typ.unit or ""
        problem = _kind_unit_problem(kind, unit)
        if problem:
            self.error("RR305", problem, reward.amount.span, _rate_help(reward, unit, trigger_event))
            return None
        if _negative_constant(reward.amount):
            self.error(
                "RR305",
                f"the reward amount `{reward.amount.span.text if reward.amount.span else ''}` is less than zero, "
                "so it is never issued",
                reward.amount.span,
                "a reward pays a positive amount; to take an award back, use `void if EVENT`",
            )
            return None
        return RewardInfo(role, kind, unit, None, reward) if ok else None

    def _void(self, void: ast.Void, trigger_event: EventInfo | None) -> VoidInfo | None:
        event = self.events.get(void.event.text)
        if event is None:
            self.error(
                "RR101", f"unknown event `{void.event.text}`", void.event.span, self._event_help(void.event.text)
            )
            return None
        events: dict[str, tuple[EventInfo, str]] = {"referral": (self.events["referral"], "referral")}
        if trigger_event is not None:
            events[trigger_event.name] = (trigger_event, "event")
        events[event.name] = (event, "void")
        if void.where is not None:
            self.condition(void.where, _Context("in a void condition", events))
        self._share(void, _Context("in the share of a partial void", events))
        window = self.duration(void.within) if void.within is not None else None
        return VoidInfo(event.name, window, void)

    def _own_voids(self, reward: RewardInfo, trigger_event: EventInfo | None, voids: list[VoidInfo]) -> list[int]:
        """Check a reward's own voids, append them to the milestone's
        (`voids`) and give their positions there."""
        out = []
        for void in reward.decl.voids:
            info = self._void(void, trigger_event)
            if info is not None:
                out.append(len(voids))
                voids.append(info)
        return out

    def _every_step(self, trigger: ast.EveryTrigger, info: MetricInfo) -> None:
        """RR402: an `every` step below the smallest step its metric takes
        (see `every_floor`). Such a step means no more than the floor does,
        only far more awards: 184 bytes of rules turned a 44 KB ledger into
        500,000 awards."""
        floor, why = every_floor(info)
        if trigger.step < floor:
            self.error(
                "RR402",
                f"the step of `every` is smaller than {floor} ({why})",
                trigger.span,
                f"use a step of at least {floor}; to pay more per step, raise the reward instead",
            )


def _negative_constant(amount: ast.Expr) -> bool:
    """Whether a reward amount is the same negative number at every event
    (`-50 USD`, `0 USD - 5 USD`): the engine withholds every award of it.
    A zero amount is left to `check --strict` (RR608), see `lint.never_issued`."""
    from .lint import fold

    value = fold(amount)
    return isinstance(value, Decimal) and value < 0


def _rate_help(reward: ast.Reward, unit: str, trigger_event: EventInfo | None) -> str | None:
    """The help for a rate in percent paid as an amount (`cash rate`, a
    rate table's; `cash 10%`): a rate pays its part of an amount, of the
    triggering event's first money field when there is one."""
    if unit != "percent" or reward.amount.span is None:
        return None
    money = None
    if trigger_event is not None:
        fields = trigger_event.fields.values()
        money = next((f"{trigger_event.name}.{f.name}" for f in fields if is_currency(f.type.unit or "")), None)
    return f"a rate pays its part of an amount: `{reward.amount.span.text} of {money or 'AMOUNT'}`"


def _kind_unit_problem(kind: str, unit: str) -> str | None:
    money = is_currency(unit)
    if kind in ("cash", "gift_card") and not money:
        return f"a `{kind}` reward is money, but the amount is in `{unit}`"
    if kind == "discount" and not (money or unit == "percent"):
        return f"a discount is in percent or money, but the amount is in `{unit}`"
    if kind in ("storage", "upgrade", "credit") and unit == "percent":
        return f"a `{kind}` reward cannot be in percent"
    if kind in ("storage", "upgrade") and money:
        return f"a `{kind}` reward is not money; use `credit` or `cash` for `{unit}`"
    return None


def every_floor(info: MetricInfo) -> tuple[Decimal, str]:
    """The smallest `every` step on a metric, and why: money's minor unit
    (0.01 USD, 1 JPY), 1 for a count (it only takes whole values), else
    `limits.MIN_EVERY_STEP`."""
    unit = info.type.unit
    if info.type.kind == QUANTITY and unit is not None and is_currency(unit):
        return Decimal(1).scaleb(-CURRENCY_EXPONENTS[unit]), f"the smallest amount of {unit}"
    if info.aggregate is not None and info.aggregate.fn == "count":
        return Decimal(1), f"`{info.name}` is a count"
    return Decimal(limits.MIN_EVERY_STEP), "the smallest step `every` takes"
