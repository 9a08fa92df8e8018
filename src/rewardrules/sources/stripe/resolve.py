"""Stage 3, resolve: the facts of all payloads in, the ledger's rows out.

Settles what depends on other payloads: one fact per Stripe object (the
earliest); a charge that paid an invoice is the invoice's payment (by a
link, or matched by customer, currency and amount in time); a refund or a
dispute that took money names the ledger id of the payment it reverses,
and a refund seen both as an object and as a rise of the charge's
``amount_refunded`` is written once; a referee's referral by a referrer is
written once. Subscription rows come from :mod:`.mrr`. Payloads that
disagree where no rule decides are problems, not guesses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

from ...core.formatting import quoted
from ...core.timeutil import NS_PER_SECOND, format_timestamp
from .facts import _Facts, _Money, _Referral, _RefundedState
from .mrr import _subscription_rows
from .public import Problem, Report
from .rows import _money_text, _Row, _row, _unreadable

# Dispute states in which Stripe has taken the money back from the merchant.
# `warning_*` states are inquiries: no money moves.
WITHDRAWN_DISPUTE_STATUSES: Final = frozenset({"needs_response", "under_review", "lost"})


# A charge without any invoice link (API versions from 2025-03-31 no longer
# carry `charge.invoice`) is taken as an invoice's payment when customer,
# currency and amount match and it was made this close to the payment.
MATCH_WINDOW_SECONDS: Final = 3600


def _resolve(facts: _Facts, report: Report, problems: list[Problem]) -> list[dict[str, str]]:
    payments = _Payments(facts, report, problems)
    rows = payments.rows()
    rows += _refund_rows(facts, payments, report)
    rows += _dispute_rows(facts, payments, report)
    rows += _referral_rows(facts, report, problems)
    rows += _subscription_rows(facts, problems)
    rows.sort(key=lambda r: (r.at, r.id))
    problems.extend(problem for problem in map(_unreadable, rows) if problem is not None)
    return [r.fields for r in rows]


def _earliest(items: Iterable[_Money], report: Report, problems: list[Problem] | None = None) -> dict[str, _Money]:
    """One fact per ledger id: the same Stripe object seen in several
    payloads (``invoice.paid`` and ``invoice.payment_succeeded``, a refund in
    ``refund.created`` and in its charge's list) keeps its earliest time.
    Payloads naming different customers for it are a problem: the money
    would go to whichever customer came first."""
    kept: dict[str, _Money] = {}
    for item in sorted(items, key=lambda m: (m.at, m.amount, m.currency, repr(replace(m, source="")), m.source)):
        first = kept.get(item.id)
        if first is None:
            kept[item.id] = item
            continue
        report.duplicates["same object in several payloads"] += 1
        if problems is not None and first.customer and item.customer and first.customer != item.customer:
            a, b = sorted((first, item), key=lambda m: (m.source, m.customer or ""))
            problems.append(
                Problem(
                    b.source,
                    f"{quoted(item.id)}",
                    "customer",
                    f"names customer {quoted(b.customer)}, and {a.source} names {quoted(a.customer)} for the same object; "
                    "an object has one customer: remove the payload that is wrong",
                )
            )
        if (first.amount, first.currency) != (item.amount, item.currency):
            report.warnings.append(
                f"{quoted(item.id)}: payloads disagree on the amount "
                f"({first.amount} and {item.amount} minor units); kept the earliest (the smaller, at the same second)"
            )
    return kept


# -- payments


class _Payments:
    """Payments, and the ledger id that stands for each charge's money."""

    def __init__(self, facts: _Facts, report: Report, problems: list[Problem]) -> None:
        self.facts = facts
        self.invoices = _earliest(facts.invoice_payments, report, problems)
        self.charges: dict[str, _Money] = {}
        self.by_terms: dict[tuple[str | None, str, int], list[_Money]] = {}
        for payment in self.invoices.values():
            self.by_terms.setdefault((payment.customer, payment.currency, payment.amount), []).append(payment)
        claimed = {
            f"stripe:{i}:payment" for i in [*facts.invoice_of_charge.values(), *facts.invoice_of_intent.values()]
        }
        for charge in sorted(_earliest(facts.charge_payments, report, problems).values(), key=lambda m: (m.at, m.id)):
            assert charge.charge is not None
            invoice = self.invoice_of(charge.charge, charge.payment_intent)
            if invoice in self.invoices:
                report.duplicates["charge of a paid invoice"] += 1
                continue
            if invoice is None and not facts.charges[charge.charge].has_invoice_field:
                match = self._match(charge, claimed)
                if match is not None:
                    claimed.add(match)
                    # the charge had no link, so this adds one and overwrites none
                    facts.invoice_of_charge[charge.charge] = match.removeprefix("stripe:").removesuffix(":payment")
                    report.duplicates["charge of a paid invoice (matched by amount and time)"] += 1
                    continue
            self.charges[charge.charge] = charge

    def invoice_of(self, charge: str | None, intent: str | None) -> str | None:
        """The ledger id of the invoice payment a charge made, if it is in the ledger."""
        invoice = self.facts.invoice_of_charge.get(charge or "")
        if invoice is None and intent is not None:
            invoice = self.facts.invoice_of_intent.get(intent)
        if invoice is None and charge is not None and charge in self.facts.charges:
            known_intent = self.facts.charges[charge].payment_intent
            invoice = self.facts.invoice_of_intent.get(known_intent or "")
        return f"stripe:{invoice}:payment" if invoice is not None else None

    def _match(self, charge: _Money, claimed: set[str]) -> str | None:
        """The unclaimed invoice payment of the same customer, currency and
        amount nearest in time (within the window), ties by id."""
        candidates = [
            (abs(p.match_at - charge.match_at), p.id)
            for p in self.by_terms.get((charge.customer, charge.currency, charge.amount), [])
            if p.id not in claimed and abs(p.match_at - charge.match_at) <= MATCH_WINDOW_SECONDS
        ]
        return min(candidates)[1] if candidates else None

    def reversed_by(self, money: _Money) -> tuple[str, str] | None:
        """(payment ledger id, customer) of the payment a refund or dispute reverses."""
        charge = money.charge or _charge_of_intent(self.facts, money.payment_intent)
        invoice = self.invoice_of(charge, money.payment_intent)
        customer = self.facts.charges[charge].customer if charge in self.facts.charges else None
        if invoice in self.invoices:
            return invoice, customer or self.invoices[invoice].customer or ""
        if charge is not None and customer is not None:
            return f"stripe:{charge}:payment", customer
        return None

    def rows(self) -> list[_Row]:
        return [
            _row(
                m.id,
                m.at,
                "payment",
                m.customer or "",
                origin=m.source,
                amount=_money_text(m.amount, m.currency),
                currency=m.currency,
            )
            for m in [*self.invoices.values(), *self.charges.values()]
        ]


def _charge_of_intent(facts: _Facts, intent: str | None) -> str | None:
    """The charge that took a payment intent's money: its only charge, or
    its only successful one (failed attempts before it are charges too).
    None when that is not one charge: the refund is then not attributed."""
    charges = sorted(facts.charges_of_intent.get(intent or "", ()))
    if len(charges) > 1:
        charges = [c for c in charges if facts.charges[c].paid]
    return charges[0] if len(charges) == 1 else None


# -- refunds and disputes


def _refund_rows(facts: _Facts, payments: _Payments, report: Report) -> list[_Row]:
    failed = {m.id for m in facts.refunds if m.status in ("failed", "canceled")}
    refunds = {k: m for k, m in _earliest(facts.refunds, report).items() if k not in failed}
    facts.unused["refund failed or canceled"] += len(failed)
    rows = []
    for refund in sorted(refunds.values(), key=lambda m: (m.at, m.id)):
        row = _reversal_row(refund, payments, facts, {})
        if row is not None:
            rows.append(row)
    rows += _cumulative_refund_rows(facts, payments, list(refunds.values()), report)
    return rows


def _reversal_row(money: _Money, payments: _Payments, facts: _Facts, extra: dict[str, str]) -> _Row | None:
    target = payments.reversed_by(money)
    if target is None:
        facts.unused["refund whose customer is unknown"] += 1
        facts.warnings.append(
            f"{quoted(money.id)}: its customer is unknown: charge {quoted(money.charge or money.payment_intent)} is not in "
            "the input or has no customer; include the charge's events"
        )
        return None
    payment, customer = target
    return _row(
        money.id,
        money.at,
        "refund",
        customer,
        origin=money.source,
        amount=_money_text(money.amount, money.currency),
        currency=money.currency,
        payment=payment,
        **extra,
    )


def _cumulative_refund_rows(facts: _Facts, payments: _Payments, refunds: list[_Money], report: Report) -> list[_Row]:
    """Refunds seen only as a rise of a charge's ``amount_refunded``. A rise
    that refund objects of the charge account for is those refunds: first a
    refund of exactly that amount, else refunds in time order up to it. Any
    rest is a refund of its own, with an id from the cumulative amount."""
    left = {m.id: m.amount for m in refunds}
    of_charge: dict[str, list[_Money]] = {}
    for refund in sorted(refunds, key=lambda m: (m.at, m.id)):
        charge = refund.charge or _charge_of_intent(facts, refund.payment_intent)
        if charge is not None:
            of_charge.setdefault(charge, []).append(refund)
    rows = []
    for charge, steps in sorted(_refund_steps(facts, report).items()):
        mine = of_charge.get(charge, [])
        unexplained = []
        for step in steps:
            twin = next((m for m in mine if left[m.id] == m.amount == step.delta), None)
            if twin is None:
                unexplained.append(step)
                continue
            left[twin.id] = 0
            report.duplicates["refund seen as a refund object and as amount_refunded"] += 1
        for step in unexplained:
            rest = step.delta
            for known in mine:
                take = min(left[known.id], rest)
                left[known.id] -= take
                rest -= take
            if rest < step.delta:
                report.duplicates["refund seen as a refund object and as amount_refunded"] += 1
            if rest > 0:
                money = _Money(
                    f"stripe:{charge}:refund:{step.after}",
                    step.at,
                    rest,
                    step.currency,
                    charge=charge,
                    source=step.source,
                )
                row = _reversal_row(money, payments, facts, {})
                if row is not None:
                    rows.append(row)
    return rows


@dataclass(frozen=True, slots=True)
class _Step:
    """A rise of a charge's ``amount_refunded`` to ``after``, by ``delta``."""

    after: int
    delta: int
    at: int
    currency: str
    source: str = ""


def _refund_steps(facts: _Facts, report: Report) -> dict[str, list[_Step]]:
    """Per charge, the rises of ``amount_refunded`` that no complete refunds
    list explains. The amount before a rise is ``previous_attributes``, else
    the charge's previous known state, else 0."""
    states: dict[str, dict[int, _RefundedState]] = {}
    for state in sorted(facts.refunded_states, key=lambda s: (s.at, s.after, not s.listed, repr(s))):
        seen = states.setdefault(state.charge, {})
        first = seen.get(state.after)
        if first is None:
            seen[state.after] = state
            continue
        report.duplicates["same object in several payloads"] += 1
        if state.listed and not first.listed:
            seen[state.after] = replace(first, listed=True)
    steps: dict[str, list[_Step]] = {}
    for charge, by_after in states.items():
        previous = 0
        for after in sorted(by_after):
            state = by_after[after]
            before = state.before if state.before is not None else previous
            previous = after
            if after > before and not state.listed:
                steps.setdefault(charge, []).append(
                    _Step(after, after - before, state.at, state.currency, state.source)
                )
    return steps


def _dispute_rows(facts: _Facts, payments: _Payments, report: Report) -> list[_Row]:
    """One refund per dispute that took money and was not won, at the
    earliest time it was seen taking it."""
    won = {m.id for m, reinstated in facts.disputes if reinstated or m.status == "won"}
    withdrawn = [m for m, _ in facts.disputes if m.status in WITHDRAWN_DISPUTE_STATUSES and m.id not in won]
    other = {m.id for m, _ in facts.disputes} - won - {m.id for m in withdrawn}
    facts.unused["dispute won by the merchant"] += len(won)
    facts.unused["dispute inquiry (no money taken)"] += len(other)
    rows = []
    for dispute in sorted(_earliest(withdrawn, report).values(), key=lambda m: (m.at, m.id)):
        row = _reversal_row(dispute, payments, facts, {"reason": "dispute"})
        if row is not None:
            rows.append(row)
    return rows


# -- referrals


def _referral_rows(facts: _Facts, report: Report, problems: list[Problem]) -> list[_Row]:
    """One referral per Stripe object (the earliest), and per referee only
    the first naming each referrer: a checkout session and the customer's
    metadata naming the same referrer are one referral, not a duplicate the
    engine would report. Different referrers are all kept: the engine's
    first-referral rule decides. Payloads of one object at the same second
    that disagree on its referrer or referral attributes are an error
    naming both (`_referral_conflict`): no time tells which is current."""
    kept: dict[str, _Referral] = {}
    for referral in sorted(facts.referrals, key=lambda r: (r.at, r.id, r.referrer, r.attributes, r.source)):
        first = kept.get(referral.id)
        if first is None:
            kept[referral.id] = referral
        else:
            report.duplicates["same object in several payloads"] += 1
            if first.at == referral.at and (first.referrer, first.attributes) != (
                referral.referrer,
                referral.attributes,
            ):
                problems.append(_referral_conflict(first, referral))
            elif first.referrer != referral.referrer:
                report.warnings.append(
                    f"{quoted(referral.id)}: the referrer changed from {quoted(first.referrer)} to "
                    f"{quoted(referral.referrer)}; the first referral stands"
                )
    rows, pairs = [], set()
    for referral in sorted(kept.values(), key=lambda r: (r.at, r.id)):
        if (referral.referee, referral.referrer) in pairs:
            report.duplicates["repeated referral"] += 1
            continue
        pairs.add((referral.referee, referral.referrer))
        fields = {
            "id": referral.id,
            "at": format_timestamp(referral.at * NS_PER_SECOND),
            "type": "referral",
            "referrer": referral.referrer,
            "referee": referral.referee,
            **dict(referral.attributes),
        }
        rows.append(_Row(referral.at, referral.id, fields, referral.source))
    return rows


def _referral_conflict(one: _Referral, other: _Referral) -> Problem:
    """Two payloads that give one object's referral different referrers or
    attributes at the same second. Keeping either (the first read, the first
    in name order) would decide who is paid by something other than the
    data: the pair is named in source order, as the other conflicts are."""
    a, b = sorted((one, other), key=lambda r: (r.source, r.referrer, r.attributes))
    if a.referrer != b.referrer:
        what = f"the referrer {quoted(b.referrer)}, and {a.source} names {quoted(a.referrer)}"
    else:
        name = next(n for n in sorted({*dict(a.attributes), *dict(b.attributes)}) if _attr(a, n) != _attr(b, n))
        what = f"referral attribute {quoted(name)} as {_attr(b, name)}, and {a.source} as {_attr(a, name)}"
    return Problem(
        b.source,
        b.where,
        None,
        f"{b.what} names {what}, at the same second: which one is current cannot be told; "
        "remove the payload that is out of date",
    )


def _attr(referral: _Referral, name: str) -> str:
    value = dict(referral.attributes).get(name)
    return "none" if value is None else quoted(value)
