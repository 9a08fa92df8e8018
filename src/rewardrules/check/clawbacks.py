"""The clawbacks pass: the share of a partial `void` (``void refund.amount
of payment.amount if refund ...``), a layer between the messages pass and
the programs pass, which calls it for each `void` of a milestone.

A partial void takes back, at each matching event, the award's amount times
`part / whole` (see docs/semantics.md, "Partial clawbacks"). Both sides are
amounts in one unit (or plain numbers), so the share is a plain ratio; the
whole is the award's base, fixed for the award: it may read the triggering
event and the referral, never the void event, whose every occurrence would
otherwise divide by another base and the shares would not add up.
"""

from __future__ import annotations

from ..core.datatypes import ERROR, NUMBER, QUANTITY, Type
from ..core.diagnostics import did_you_mean
from ..core.source import Span
from ..core.units import is_additive
from ..syntax import nodes as ast
from .messages import Messages
from .program import MetricInfo, MilestoneInfo, RewardInfo, VoidInfo
from .scope import _Context


class Clawbacks(Messages):
    """The share of each partial `void`."""

    def _share(self, void: ast.Void, ctx: _Context) -> None:
        """RR210 (a part and a whole that are not amounts of one unit) and
        RR211 (a whole that reads the void event), after typing both."""
        if void.part is None or void.whole is None:
            return
        part = self.expr(void.part, ctx)
        whole = self.expr(void.whole, ctx)
        if ERROR in (part.kind, whole.kind):
            return
        if not _amount(part) or not _amount(whole) or not _same_unit(part, whole):
            self.error(
                "RR210",
                f"a partial void takes back `part of whole`, two amounts in one unit, "
                f"but this is {part.describe()} of {whole.describe()}",
                _joined(void.part, void.whole),
                "e.g. `void refund.amount of payment.amount if refund where refund.payment == payment.id`",
            )
            return
        event = void.event.text
        for node in ast.walk(void.whole):
            if isinstance(node, ast.Ref) and node.head.text == event and node.attr is not None:
                self.error(
                    "RR211",
                    f"the whole of a partial void cannot read the void event `{event}` "
                    f"(`{node.head.text}.{node.attr.text}`): it is the award's base, the same at every `{event}`",
                    node.span,
                    "divide by the triggering event's amount (`of payment.amount`) or a constant (`of 200 USD`)",
                )
                return

    def _share_rewards(self, voids: tuple[ast.Void, ...], rewards: list[RewardInfo]) -> None:
        """RR316: a partial void in a milestone with a reward that has no
        part to take back: an item, or a percentage (a 10 percent discount
        is a rate, not an amount; half of it is not half the discount)."""
        partial = [v for v in voids if v.part is not None]
        if not partial:
            return
        for reward in rewards:
            if reward.kind == "item" or not is_additive(reward.unit):
                what = "an item" if reward.kind == "item" else f"a rate in {reward.unit}"
                self.error(
                    "RR316",
                    f"a partial void takes back part of each reward, but `reward {reward.role} "
                    f"{reward.kind}` is {what}, which has no part",
                    partial[0].span,
                    "move that reward to a milestone of its own, with `void if` to take it back whole",
                )

    def _reward_terms(
        self,
        decl: ast.Milestone,
        rewards: list[RewardInfo],
        hold_ns: int | None,
        voids: list[VoidInfo | None],
    ) -> list[VoidInfo]:
        """Each reward's hold: the milestone's, or its own (`reward ... {
        hold 30 days }`); each reward without terms of its own gets the
        milestone's voids (the positions in the list returned; the programs
        pass appends each reward's own). RR306: two holds in one reward's
        terms; RR317: a milestone `hold` or `void` that no reward takes,
        every reward having terms of its own."""
        shared = [v for v in voids if v is not None]
        for reward in rewards:
            terms = reward.decl
            if not terms.terms:
                reward.hold_ns, reward.voids = hold_ns, tuple(range(len(shared)))
                continue
            for extra in terms.holds[1:]:
                self.error("RR306", "a reward has at most one `hold`", extra.span)
            reward.hold_ns = self.duration(terms.holds[0].duration) if terms.holds else None
        if rewards and all(r.decl.terms for r in rewards):
            clauses: list[ast.Hold | ast.Void] = [*decl.holds, *decl.voids]
            for clause in clauses:
                what = "hold" if isinstance(clause, ast.Hold) else "void"
                self.error(
                    "RR317",
                    f"the milestone's `{what}` applies to no reward: each reward has terms of its own (`{{ ... }}`)",
                    clause.span,
                    f"move the `{what}` into the terms of the rewards it is for",
                )
        return shared

    def _unless_voided(self, metrics: dict[str, MetricInfo], milestones: list[MilestoneInfo], program: str) -> None:
        """RR114: `unless voided M` names no milestone of the program (the
        metric counts the program's referrals, and only its milestones give
        them awards); RR318: M is counted per referrer (its awards are the
        referrer's, not one referral's)."""
        names = {m.name: m for m in milestones}
        for metric in metrics.values():
            agg = metric.aggregate
            if agg is None or agg.unless is None or agg.source.text != "referrals":
                continue
            found = names.get(agg.unless.text)
            if found is None:
                where = f"program `{program}`" if program else "the rule file"
                self.error(
                    "RR114",
                    f"unknown milestone `{agg.unless.text}` in {where}",
                    agg.unless.span,
                    did_you_mean(agg.unless.text, sorted(names), "name a milestone of the program"),
                )
            elif found.level == "referrer":
                self.error(
                    "RR318",
                    f"`unless voided {found.name}`: milestone `{found.name}` is counted per referrer, "
                    "so its awards are no single referral's",
                    agg.unless.span,
                    "name a milestone counted per referral, such as the one that rewards the conversion",
                )


def _amount(typ: Type) -> bool:
    return typ.kind in (NUMBER, QUANTITY)


def _same_unit(part: Type, whole: Type) -> bool:
    """Whether two amounts divide into a plain ratio: the same unit, or a
    bare number against anything numeric (it takes the other's unit)."""
    if part.literal or whole.literal:
        return True
    return part.kind == whole.kind and part.unit == whole.unit


def _joined(part: ast.Expr, whole: ast.Expr) -> Span | None:
    """The span from the part to the whole, for the caret."""
    if part.span is None or whole.span is None:
        return part.span
    return part.span.source.span(part.span.start, whole.span.end)
