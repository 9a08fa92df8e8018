"""Pydantic models at the edges: ledger events in, award records out.

They define the public JSON contract and export its JSON Schemas
(``rewardrules schema ledger|award|result``). Scoring itself works on plain
slotted objects; these models are for apps that embed the engine and want
typed records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..core import award


class LedgerEvent(BaseModel):
    """One line of a ledger (JSON Lines). Fields beyond these are free
    attributes; the rule file declares which ones each event type needs."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1, description="unique within the ledger")
    at: str = Field(
        min_length=1,
        description="RFC 3339 timestamp with an offset, e.g. 2026-03-01T09:30:00Z",
        pattern=r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$",
    )
    type: str = Field(min_length=1, description="event type, e.g. referral, payment")
    referrer: str | None = Field(default=None, min_length=1, description="required on referral events")
    referee: str | None = Field(default=None, min_length=1, description="the referred person the event concerns")


class Why(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    event: str = Field(description="id of the event that reached the milestone")
    values: dict[str, Any] = Field(description="values that met the condition (metrics and event fields)")
    occurrence: str | None = None
    capped: bool | None = Field(default=None, description="true when a cap cut the amount (or part of it)")
    uncapped: str | None = Field(
        default=None,
        description="for an award a cap cut: the amount before the cut, written as `amount`; "
        "the cap withheld the difference",
    )
    voided_by: dict[str, Any] | None = Field(
        default=None, description="for a void award: the `event` (id, `type`, `at`) and the `rule` (which `void if`)"
    )


#: The fields of an award record as the contract (PROGRAMS.md section 2)
#: names them, in its order: written once, in :mod:`rewardrules.core.award`,
#: for the checker and the compiler too.
CONTRACT_FIELDS = award.CONTRACT_FIELDS


class _Typed:
    """Typed readings of a record's `amount` and `at`, which the JSON
    contract keeps as strings (exact decimal text, RFC 3339 text). Plain
    properties, not fields: `model_dump()` and the JSON output stay as
    they are."""

    # No annotations of `amount` and `at` here: pydantic would take them
    # for fields of its own and change the order of the dump.

    @property
    def amount_decimal(self) -> Decimal:
        """`amount` as an exact Decimal (never a float)."""
        return Decimal(getattr(self, "amount"))  # noqa: B009 (see above)

    @property
    def at_ns(self) -> int:
        """`at` as nanoseconds since 1970-01-01 UTC, exactly."""
        from ..core.timeutil import parse_timestamp

        return parse_timestamp(getattr(self, "at"))  # noqa: B009

    @property
    def at_datetime(self) -> datetime:
        """`at` as an aware datetime in UTC; a datetime holds microseconds,
        so a fraction of a microsecond is dropped (`at_ns` keeps it)."""
        return _EPOCH + timedelta(microseconds=self.at_ns // 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Award(_Typed, BaseModel):
    """An award record, as in the contract (PROGRAMS.md section 2), plus the
    program, the rendered message and the explanation."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="stable across runs and unrelated ledger changes; de-duplicate payouts by it")
    at: str = Field(description="instant of the triggering event, UTC with Z")
    milestone: str
    role: award.Role
    beneficiary: str
    referrer: str
    referee: str
    kind: award.Kind
    amount: str = Field(description="exact decimal string; money rounded half-to-even to the minor unit")
    unit: str
    item: str | None
    status: award.Status
    program: str
    message: str | None = None
    why: Why | None = Field(default=None, description="the explanation; left out by explain=False (--no-explain)")


class ReversalWhy(BaseModel):
    """Why a reversal takes an award back."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event: str | None = Field(
        description="the id of the event that takes the award back; null when no single event does "
        "(an amount changed, or the run no longer gives the award): `reason` then says what changed"
    )
    reason: str | None = Field(
        default=None,
        description="what changed, in words: `voided after it was paid`, `its amount changed after it was paid`, "
        "`its reward changed after it was paid` (kind, unit or item), `paid, but this run no longer gives it`, "
        "`taken back earlier`",
    )
    taken: str | None = Field(
        default=None,
        description="a partial void's reversal only: the amount taken back of the award so far, this entry "
        "included (the award's amount at the last one)",
    )


class Reversal(_Typed, BaseModel):
    """A compensating entry: a confirmed award that a later event (a refund
    after the hold, a chargeback) takes back, or, given what an app settled,
    a paid award that a later run voids, changes or drops. The award itself
    is never rewritten; pay this entry back against the award it `reverses`."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="stable id of the reversal (rv_...)")
    reverses: str = Field(description="the id of the award taken back")
    at: str = Field(
        description="instant of the event that takes it back, UTC with Z; the run's as-of when no single event does"
    )
    milestone: str
    role: award.Role
    beneficiary: str
    referrer: str
    referee: str
    kind: str
    amount: str = Field(
        description="the amount taken back (the award's amount as paid, positive; for a partial void, "
        "the part this event takes back)"
    )
    unit: str
    item: str | None
    program: str
    why: ReversalWhy = Field(
        description="`event`: the id of the event that takes the award back, or null when no single event "
        "does (a settled award whose amount changed, or that the run no longer gives); "
        "`reason`: what changed, e.g. `its amount changed after it was paid`"
    )


class Withheld(BaseModel):
    """A reward the rules reached but did not issue: a cap had nothing
    left, or its amount was zero, negative or had no value. Nothing is paid
    for it; `kind`, `amount`, `unit` and `item` say what it would have paid."""

    model_config = ConfigDict(frozen=True)

    at: str = Field(description="instant of the event that reached the milestone, UTC with Z")
    milestone: str
    role: award.Role
    beneficiary: str
    referrer: str
    referee: str
    reason: str = Field(description="why it was not issued, e.g. `cap of 5000 USD per quarter reached`")
    kind: award.Kind
    amount: str | None = Field(
        description="what it would have paid, written as an award's amount (before the cap); "
        "null when the amount has no value or is too large to round"
    )
    unit: str
    item: str | None


class Total(BaseModel):
    """One line of `totals`: per unit, kind and status (`reversed` for
    reversals). Units that add up (money, MB, months, points, items,
    declared units) give the sum; percent does not add up: one line per
    rate, with `each`."""

    model_config = ConfigDict(frozen=True)

    unit: str
    kind: str
    status: Literal["pending", "confirmed", "void", "reversed"]
    count: int = Field(description="how many awards (or reversals)")
    amount: str = Field(description="their sum; with `each`, the amount of each one (the rate); items: the count")
    each: bool | None = Field(default=None, description="true for a unit that does not add up (percent)")


class ScoreOutput(BaseModel):
    """The JSON printed by `rewardrules score --format json`."""

    model_config = ConfigDict(extra="allow")

    ruleset: str
    as_of: str
    awards: list[Award]
    reversals: list[Reversal] = []
    totals: list[Total]
    referrals: list[dict[str, Any]] = []
    referrers: list[dict[str, Any]] = []
    withheld: list[Withheld] = []
    rejected: list[dict[str, Any]] = []


SCHEMAS: dict[str, type[BaseModel]] = {
    "ledger": LedgerEvent,
    "award": Award,
    "reversal": Reversal,
    "result": ScoreOutput,
}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of `ledger` (one event), `award` or `result`."""
    return SCHEMAS[name].model_json_schema()
