"""What the void events of an award take back: all of it, or part.

A `void if` takes the whole award back; a partial void (``void
refund.amount of payment.amount if refund ...``) takes back, at each of its
events, the award's amount times that event's part of the whole. Events are
taken in ledger order (instant, then id); the shares add up, and at most the
whole award comes back:

- the share taken so far is ``min(1, sum of parts / whole)`` (summed per
  `void` clause, then added; a `void if` makes it 1); a part or whole with
  no value, or not above zero, takes nothing;
- the amount taken so far is the award's amount times that share, rounded
  half-to-even to the currency's minor unit (other units: to the decimals
  of the award's amount); each event takes the difference from what was
  taken before it. So the entries add up to the rounded total, never more
  than the award, and a refund of the whole payment in several parts
  takes back exactly what one full refund does (the last part takes what
  is left);
- during the hold (up to and at the instant the award is confirmed) an
  event that brings the share to 1 voids the award (status `void`, nothing
  to claw back); shares taken during the hold are not: they are clawed
  back at the confirmation, when the award is paid.

Computed at report time, like statuses, from the events kept for `void if`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from ..core.runtime import Referral

if TYPE_CHECKING:
    from .engine import IssuedAward


@dataclass(frozen=True, slots=True)
class Taking:
    """One void event's entry: the event, its `void` clause (position in
    the milestone, from 0), the amount it takes back and the total taken
    after it; `partial` for a partial void's event."""

    event: dict[str, Any]
    rule: int
    amount: Decimal
    taken: Decimal
    partial: bool


@dataclass(frozen=True, slots=True)
class Clawback:
    """An award's void events: `voided` (the event that voided it during
    its hold), else what each event after confirmation takes back."""

    voided: Taking | None
    takings: tuple[Taking, ...]


def matches(award: IssuedAward, as_of: int) -> list[tuple[dict[str, Any], int]]:
    """Each event of the award's referral, at or before as-of, that meets a
    `void` clause of its reward (0 <= delay <= window after the award), with
    the first clause it meets (its position in the milestone's voids); in
    ledger order (instant, then id)."""
    found: dict[tuple[int, str], tuple[dict[str, Any], int]] = {}
    for index in award.milestone.rewards[award.reward_index].info.voids:
        void = award.milestone.voids[index]
        window = void.info.window_ns
        for other in award.referral.kept.get(void.info.event, ()):
            delay = other["at"] - award.at
            if other["at"] > as_of or delay < 0 or (window is not None and delay > window):
                continue
            key = (other["at"], other["id"])
            if key not in found and void.test(award.referral, award.trigger or {}, other):
                found[key] = (other, index)
    return [found[key] for key in sorted(found)]


def clawback(award: IssuedAward, as_of: int, confirmed: int) -> Clawback:
    """What the award's void events take back as of `as_of` (see the
    module's docstring); `confirmed` is when its hold ends."""
    voids = award.milestone.voids

    def shares() -> Iterator[Share]:
        for event, index in matches(award, as_of):
            share_fn = voids[index].share
            share = None if share_fn is None else share_fn(award.referral, award.trigger or {}, event)
            yield event, index, share

    return take(award.amount, _scale(award), confirmed, shares())


#: a void event, its `void` clause, and for a partial void its part and
#: whole (either None when it has no value); None for a `void if`
Share = tuple[dict[str, Any], int, "tuple[Decimal | None, Decimal | None] | None"]


def take(amount: Decimal, scale: Decimal, confirmed: int, shares: Iterable[Share]) -> Clawback:
    """What void events (in ledger order, each once, with its first clause)
    take back of an award of `amount`, rounded to `scale`: the arithmetic of
    `clawback`, apart so that the SQL back end computes a partial void's
    entries with it from its query's rows (sql/reversals.py)."""
    parts: dict[int, Decimal] = {}
    wholes: dict[int, Decimal] = {}
    taken = Decimal(0)
    out: list[Taking] = []
    for event, index, pair in shares:
        if pair is None:
            share = Decimal(1)
        else:
            part, whole = pair
            if part is None or whole is None or part <= 0 or whole <= 0:
                continue
            parts[index] = parts.get(index, Decimal(0)) + part
            wholes[index] = whole
            share = min(Decimal(1), sum((parts[i] / wholes[i] for i in sorted(parts)), Decimal(0)))
        if share >= 1 and event["at"] <= confirmed:
            return Clawback(Taking(event, index, amount, amount, pair is not None), ())
        now = amount if share >= 1 else (amount * share).quantize(scale, rounding=ROUND_HALF_EVEN)
        if now > taken:
            out.append(Taking(event, index, now - taken, now, pair is not None))
            taken = now
        if share >= 1:
            break
    return Clawback(None, tuple(out))


def confirmed_at(award: IssuedAward) -> int:
    """When an award stops being pending: at its event, or after its hold
    (its reward's: the milestone's, or the reward's own)."""
    hold = award.milestone.rewards[award.reward_index].info.hold_ns
    return award.at + hold if hold is not None else award.at


def taken_back(referral: Referral, milestone: int) -> bool:
    """Whether an award of the milestone (by index) for the referral was
    taken back whole, by the events kept so far: void, or reversed in full.
    What a metric over referrals `unless voided` the milestone reads, at
    each void event (the generated code calls it through `hooks`)."""
    for award in referral.issued:
        if award.milestone.info.index != milestone:
            continue
        claw = clawback(award, _LATEST, confirmed_at(award))
        if claw.voided is not None or (claw.takings and claw.takings[-1].taken == award.amount):
            return True
    return False


#: an as-of after every event: events are kept in ledger order, so those
#: kept when `taken_back` runs are those at or before the one being scored
_LATEST = 2**63


def _scale(award: IssuedAward) -> Decimal:
    return amount_scale(award.milestone.rewards[award.reward_index].quantum, award.amount)


def amount_scale(quantum: Decimal | None, amount: Decimal) -> Decimal:
    """The unit an amount taken back is rounded to: the currency's minor
    unit (`quantum`), else the last decimal of the award's amount (whole MB
    for 500 MB)."""
    if quantum is not None:
        return quantum
    exponent = amount.as_tuple().exponent
    return Decimal(1).scaleb(min(exponent, 0) if isinstance(exponent, int) else 0)
