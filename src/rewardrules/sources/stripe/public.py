"""The Stripe adapter's public types: what ``ingest`` takes and gives.

:class:`Options` in (what the mapping cannot know by itself); an
:class:`Ingested` out (the ledger, and the :class:`Report` of what became
of each payload), or a :class:`StripeError` carrying a :class:`Problem` for
each payload that cannot be mapped. :data:`STRIPE_EXPONENTS` are the
minor-unit exponents Stripe's amounts are written in. Imports none of the
adapter's modules: the others build on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ...core.formatting import shown
from ...core.problem import Location, Severity
from ...core.problem import Problem as CoreProblem
from ...core.render import text as render_text
from ...core.units import CURRENCY_EXPONENTS

# Stripe's minor-unit exponents are ISO 4217's except where Stripe's API
# keeps its own for backward compatibility: ISK amounts are two-decimal in the
# API (100 = 1 kr) though ISO says 0, and MGA is zero-decimal in the API
# though ISO says 2. Three-decimal currencies (KWD, BHD, ...) match ISO.
STRIPE_EXPONENTS: Final[dict[str, int]] = {**CURRENCY_EXPONENTS, "ISK": 2, "MGA": 0}


@dataclass(frozen=True, slots=True)
class Options:
    """What the mapping cannot know by itself.

    ``referrer_key``: the metadata key (on checkout sessions and customers)
    naming the referrer. ``use_client_reference_id``: take a checkout
    session's ``client_reference_id`` as the referrer when the metadata key
    is absent; turn it off when your app puts its own user id there.
    ``referral_attributes``: referral attribute -> metadata key, copied onto
    referral events (``source`` for partner_and_customer). ``currency``: when
    set, money in any other currency is an error rather than scored as if it
    were this one. ``live_only``: drop test-mode payloads.
    """

    referrer_key: str = "referrer"
    use_client_reference_id: bool = True
    referral_attributes: Mapping[str, str] = field(default_factory=lambda: {"source": "referral_source"})
    currency: str | None = None
    live_only: bool = False


@dataclass(frozen=True, slots=True)
class Problem:
    """A payload that cannot be mapped: where it is, which field, and why."""

    source: str
    where: str
    field: str | None
    message: str

    def to_problem(self) -> CoreProblem:
        """The problem, for the shared renderer: the payload file, the
        event or object in it (`item`) and the field, no line."""
        where = Location(self.source, field=self.field, item=self.where)
        return CoreProblem(Severity.ERROR, None, self.message, where)

    def render(self) -> str:
        """One line (`render.text`), `printable`: the source is a file name
        and the message quotes payload values (each already cut by
        `formatting.quoted`). No `error:`: the lines are listed under the
        CLI's error line, or are its text."""
        return render_text(self.to_problem(), label=False)


class StripeError(ValueError):
    """Malformed payloads; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))


@dataclass
class Report:
    """What happened to each payload, for the summary a user reads."""

    payloads: int = 0
    written: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    unused: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary, one line per topic, counts in a stable order."""
        out = [
            f"read {self.payloads} payload(s); wrote {sum(self.written.values())} ledger event(s)"
            + _counts(self.written)
        ]
        if self.skipped:
            out.append(
                f"skipped {sum(self.skipped.values())} payload(s) of types the mapping does not read"
                + _counts(self.skipped)
            )
        if self.unused:
            out.append(f"{sum(self.unused.values())} payload(s) gave no ledger event" + _counts(self.unused))
        if self.duplicates:
            out.append(f"dropped {sum(self.duplicates.values())} duplicate(s)" + _counts(self.duplicates))
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


def _counts(counter: Counter[str]) -> str:
    # a key can be a payload's own `type`: shown escaped and cut, as in messages
    return ": " + ", ".join(f"{shown(key)} {n}" for key, n in sorted(counter.items()))


@dataclass(frozen=True, slots=True)
class Ingested:
    """The ledger (sorted by ``at``, then ``id``) and the report."""

    ledger: list[dict[str, str]]
    report: Report
