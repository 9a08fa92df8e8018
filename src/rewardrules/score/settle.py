"""Settled awards: what an app already paid, carried from run to run.

An app scores, pays the `confirmed` awards and claws back the reversals.
A later run may see events that arrive late but are dated in the past (a
refund inside the hold, an earlier referral of the same referee): scored
afresh, an award already paid could come out `void`, with another amount,
or not at all. Given the awards settled so far, a run never rewrites them:

- a settled award keeps its record as paid (`confirmed`, the amount paid,
  and the message the app was told, from the statement: never a message
  rendered again with this run's values, which may name the new amount);
- if the run would void it, change its reward (amount, unit, kind or item)
  or drop it, a **reversal**
  (`rv_` and a hash of the award's id, see `ids.reversal_id`) takes the paid
  amount back; a reversal's id depends on the award alone, so an app that
  claws back each reversal id once never claws back twice; the reversal
  takes back what was paid: the statement's kind, amount, unit and item;
- if the run still gives the award but another reward, the new reward is
  a new award, its id a hash of the old id, the amount, unit and attempt
  (`ids.reissue_id`), paid as any other. A reissued id the statement lists
  with another reward (an item changed twice keeps amount and unit) is
  itself kept as paid and reversed, and the next attempt is given.

A statement is of one ruleset: a previous result names it (`ruleset`), and
another ruleset's result is refused, else its awards would all come out as
awards "this run no longer gives" and be clawed back. Award records of a bare
list are refused when they name another ruleset (a `ruleset` field an app
may add) or, naming none, a program or milestone this ruleset does not have
(`check_ruleset`).

Fed a statement of what it acted on (a previous result does), a run adds
only what changed since: replaying it gives no new ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ..core.award import KINDS, PAYOUT_FIELDS
from ..core.formatting import printable
from ..core.ids import partial_reversal_id, reissue_id, reversal_id
from ..core.timeutil import TimestampError, format_timestamp, parse_timestamp
from ..core.units import is_currency, minor_exponent
from ..ledger.decode import surrogate_free
from ..ledger.events import LedgerError, LedgerProblem

if TYPE_CHECKING:
    from .engine import IssuedAward

#: Most entries (awards and reversals) a settled statement may hold.
MAX_SETTLED_ENTRIES = 10_000_000
#: Longest text in a settled entry, in characters.
MAX_SETTLED_TEXT = 10_000

_AWARD_ID = re.compile(r"aw_[0-9a-f]{32}\Z")
_REVERSAL_ID = re.compile(r"rv_[0-9a-f]{32}\Z")
#: Most values in a settled award's `why` (a milestone tests a few).
MAX_WHY_VALUES = 1_000
_AMOUNT = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,40})?\Z")
#: the fields of an award record a settled entry must have (with `id`,
#: `amount`, `item` for an item award and, optionally, `status`): enough to list an award
#: the run no longer gives as the app was told it, and its reversal
_DESCRIBED = ("at", "milestone", "role", "beneficiary", "referrer", "referee", "kind", "unit", "program")
_STATUSES = ("confirmed", "pending", "void")
_ROLES = ("referrer", "referee")
#: the kinds of reward an award record may have (`models.Award.kind`'s,
#: from `core.award`: scoring imports no pydantic, see docs/playground.md)
_KINDS = KINDS


@dataclass(frozen=True, slots=True)
class SettledAward:
    """An award the app paid: its id, amount, its record, and where the
    statement lists it (its entry, from 1: errors name it)."""

    id: str
    amount: Decimal
    record: dict[str, Any]
    entry: int = 0

    def paid_as(self, record: dict[str, Any]) -> bool:
        """Whether an award record gives what was paid: the same kind, unit,
        item and amount (an amount compared as a number: `100` is `100.00`)."""
        mine = self.record
        return (
            record["kind"] == mine["kind"]
            and record["unit"] == mine["unit"]
            and record.get("item") == mine["item"]
            and Decimal(record["amount"]) == self.amount
        )


@dataclass(slots=True)
class Settled:
    """What the app acted on: awards paid (`confirmed` in its statement)
    and the ids of awards it clawed back (the `reverses` of its reversals);
    the ruleset the statement names (a previous result's `ruleset`), and
    each entry that names one itself, for `check_ruleset`."""

    awards: dict[str, SettledAward] = field(default_factory=dict)
    reversed: set[str] = field(default_factory=set)
    ruleset: str | None = None
    path: str = "<settled>"
    #: (entry, ruleset) of each entry with a `ruleset` field
    labels: list[tuple[int, str]] = field(default_factory=list)
    #: the partial reversals clawed back (a partial void's), by id
    partial: dict[str, SettledPartial] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SettledPartial:
    """A partial reversal the app clawed back: its id, the award it takes
    part of, the event, the amount and the entry as the app was told it."""

    id: str
    reverses: str
    event: str
    amount: Decimal
    record: dict[str, Any]
    entry: int = 0


def check_ruleset(settled: Settled, ruleset: str, milestones: dict[str, set[str]]) -> None:
    """Refuse a statement of another ruleset (`milestones`: this ruleset's
    milestone names by program). Its awards are not this run's to settle:
    scored against them, each would be one "this run no longer gives" and be
    clawed back. The statement's `ruleset`, or an entry's, must be this one;
    a paid award named by neither must have a program and milestone of this
    ruleset (a statement that names its ruleset may list awards of a
    milestone removed since: the run reverses them)."""
    path = settled.path
    hint = "hand each run the statement of its own ruleset: keep what you paid per ruleset"
    if settled.ruleset is not None and settled.ruleset != ruleset:
        message = f"the statement is of ruleset `{printable(settled.ruleset)}`, not `{printable(ruleset)}`"
        raise _error(path, 0, "ruleset", message, hint)
    for n, name in settled.labels:
        if name != ruleset:
            raise _error(
                path, n, "ruleset", f"an award of ruleset `{printable(name)}`, not `{printable(ruleset)}`", hint
            )
    if settled.ruleset is not None:
        return
    labelled = {n for n, _ in settled.labels}
    for award in sorted(settled.awards.values(), key=lambda a: a.entry):
        if award.entry in labelled:
            continue
        program, milestone = award.record["program"], award.record["milestone"]
        if program not in milestones:
            message = f"ruleset `{printable(ruleset)}` has no program `{printable(program)}`"
            raise _error(path, award.entry, "program", message, hint + _UNLABELLED)
        if milestone not in milestones[program]:
            message = f"program `{printable(program)}` has no milestone `{printable(milestone)}`"
            raise _error(path, award.entry, "milestone", message, hint + _UNLABELLED)


#: how a statement of this ruleset lists awards of a milestone removed since
_UNLABELLED = (
    "; a milestone removed from this ruleset since it was paid: give the statement's `ruleset` "
    "(a previous result has it) or each record's, and the run reverses the award"
)


def read_settled(data: Any, path: str = "<settled>") -> Settled:
    """A settled statement, checked: a previous result (an object with
    `awards` and, optionally, `ruleset` and `reversals`; other members are
    ignored) or a list of award records. Each award is a record as a result
    gives it: `id`, `at`, `milestone`, `role`, `beneficiary`, `referrer`,
    `referee`, `kind`, `amount`, `unit`, `program`, `item` for an item
    award (null or left out for others), optionally `message` and `why` (as the app was told them), `ruleset` and `status`
    (`confirmed` if left out: only confirmed ones were paid); each reversal
    `id` and `reverses` (and optionally `ruleset`). Which ruleset it is of
    is checked apart, against a rule file (`check_ruleset`). Raises
    LedgerError naming the entry (its position from 1) and field."""
    if isinstance(data, list):
        awards, reversals = data, []
    elif isinstance(data, dict) and isinstance(data.get("awards"), list):
        awards = data["awards"]
        reversals = data.get("reversals", [])
        if not isinstance(reversals, list):
            raise _error(path, 0, "reversals", "expected a list of reversal records")
    else:
        raise _error(path, 0, None, "expected a previous result (an object with `awards`) or a list of awards")
    if len(awards) + len(reversals) > MAX_SETTLED_ENTRIES:
        raise _error(path, 0, None, f"more than {MAX_SETTLED_ENTRIES} entries")
    ruleset = _text(data, "ruleset", path, 0, optional=True) if isinstance(data, dict) else None
    settled = Settled(ruleset=ruleset, path=path)
    for n, entry in enumerate(awards, start=1):
        award = _award(entry, path, n)
        _label(settled, entry, n)
        if award is None:
            continue
        if award.id in settled.awards:
            raise _error(path, n, "id", f"award `{award.id}` is listed twice")
        settled.awards[award.id] = award
    for n, entry in enumerate(reversals, start=len(awards) + 1):
        partial = _partial(entry, path, n)
        if partial is not None:
            if partial.id in settled.partial:  # (the last copy won: clawed back twice, or not at all)
                raise _error(path, n, "id", f"partial reversal `{partial.id}` is listed twice")
            _of_its_award(partial, settled, path)
            settled.partial[partial.id] = partial
        else:
            settled.reversed.add(_reversal(entry, path, n))
        _label(settled, entry, n)
    _within_awards(settled, path)
    return settled


def _of_its_award(partial: SettledPartial, settled: Settled, path: str) -> None:
    """A partial reversal takes back part of its award as it was paid: in
    its kind and unit, when the statement lists the award (an amount in
    EUR or JPY was subtracted from USD)."""
    award = settled.awards.get(partial.reverses)
    if award is not None:  # (else checked against this run's award when applied: `_partials_of`)
        _part_of(partial, award.record, path)


def _part_of(partial: SettledPartial, award: dict[str, Any], path: str) -> None:
    """Refuse a partial reversal in another kind or unit than `award`, the
    record of the award it takes part of."""
    for name in ("kind", "unit"):
        if partial.record[name] != award[name]:
            raise _error(
                path,
                partial.entry,
                name,
                f"expected the {name} of award `{partial.reverses}` it takes part of, `{award[name]}`",
            )


def _within_awards(settled: Settled, path: str) -> None:
    """The partial reversals of a listed award take back at most what was
    paid of it, together: more would claw back money never paid."""
    for award_id, parts in _told(settled).items():
        award = settled.awards.get(award_id)
        if award is not None and sum((p.amount for p in parts), Decimal(0)) > award.amount:
            raise _error(
                path,
                parts[-1].entry,
                "amount",
                f"the partial reversals of award `{award_id}` take back more than its {award.amount} {award.record['unit']}",
            )


def _label(settled: Settled, entry: dict[str, Any], n: int) -> None:
    """Note the ruleset an entry names, if it names one (an optional field:
    an app may store it beside the records it pays)."""
    name = _text(entry, "ruleset", settled.path, n, optional=True)
    if name is not None:
        settled.labels.append((n, name))


def _error(path: str, entry: int, name: str | None, message: str, hint: str | None = None) -> LedgerError:
    return LedgerError([LedgerProblem(entry, name, message, hint)], path)


def _text(
    entry: dict[str, Any], name: str, path: str, n: int, optional: bool = False, field: str | None = None
) -> str | None:
    """``entry[name]`` as bounded text; errors name ``field`` (default: ``name``)."""
    value = entry.get(name)
    if value is None and optional:
        return None
    return _checked_text(value, path, n, field or name)


def _checked_text(value: Any, path: str, n: int, field: str) -> str:
    """Bounded text, refused (as the ledger reader does) with an unpaired
    surrogate escape: a result could not be written with it."""
    if not isinstance(value, str) or len(value) > MAX_SETTLED_TEXT:
        raise _error(path, n, field, f"expected text of at most {MAX_SETTLED_TEXT} characters")
    if not surrogate_free(value):
        raise _error(
            path,
            n,
            field,
            "not valid Unicode text: it has an unpaired surrogate escape such as \\ud800",
            "escape a character outside the BMP as a surrogate pair, or write it as UTF-8",
        )
    return value


def _why(entry: dict[str, Any], path: str, n: int) -> dict[str, Any] | None:
    """The award's `why` as the app was told it (optional), checked field by
    field and rebuilt from the fields a paid award's explanation has:
    `event`, `values` (names to text, true/false or null), `occurrence`,
    `capped`, `uncapped`, `reissues`. A `voided_by` is left out: the record is kept as
    paid, and its reversal says what took it back."""
    why = entry.get("why")
    if why is None:
        return None
    if not isinstance(why, dict):
        raise _error(path, n, "why", "expected the award's explanation (an object), as a result gives it")
    out: dict[str, Any] = {"event": _text(why, "event", path, n, field="why.event")}
    values = why.get("values", {})
    if not isinstance(values, dict) or len(values) > MAX_WHY_VALUES:
        raise _error(path, n, "why.values", f"expected an object of at most {MAX_WHY_VALUES} values")
    out["values"] = {
        _checked_text(name, path, n, "why.values"): value
        if value is None or isinstance(value, bool)
        else _checked_text(value, path, n, f"why.values.{name}")
        for name, value in values.items()
    }
    for name in ("occurrence", "uncapped", "reissues"):
        text = _text(why, name, path, n, optional=True, field=f"why.{name}")
        if text is not None:
            out[name] = text
    if why.get("capped") not in (None, True, False):
        raise _error(path, n, "why.capped", "expected true or false")
    if why.get("capped"):
        out["capped"] = True
    return out


def _award(entry: Any, path: str, n: int) -> SettledAward | None:
    """A settled award entry; None for one the app did not pay (pending, void)."""
    if not isinstance(entry, dict):
        raise _error(path, n, None, "expected an award record (an object)")
    award_id = _text(entry, "id", path, n)
    if award_id is None or not _AWARD_ID.match(award_id):
        raise _error(
            path,
            n,
            "id",
            "expected an award id (`aw_` and 32 hex digits)",
            "ids of earlier releases (24 hex digits) differ: score the previous ledger again for current ids",
        )
    status = entry.get("status", "confirmed")
    if status not in _STATUSES:
        raise _error(path, n, "status", f"expected one of {', '.join(_STATUSES)}")
    amount_text = _text(entry, "amount", path, n)
    try:
        amount = Decimal(amount_text) if amount_text and _AMOUNT.match(amount_text) else None
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        amount = None
    if amount is None or amount <= 0:
        raise _error(path, n, "amount", 'expected a positive decimal number as text, e.g. "15.00"')
    record: dict[str, Any] = {name: _text(entry, name, path, n) for name in _DESCRIBED}
    record["item"] = _text(entry, "item", path, n, optional=True)
    record["message"] = _text(entry, "message", path, n, optional=True)
    record["why"] = _why(entry, path, n)
    for name, allowed in (("role", _ROLES), ("kind", _KINDS)):
        if record[name] not in allowed:
            raise _error(path, n, name, f"expected one of {', '.join(allowed)}")
    _check_item(record, path, n)
    _check_minor_unit(amount, record["unit"], path, n)
    try:
        record["at"] = format_timestamp(parse_timestamp(record["at"] or ""))
    except TimestampError as error:
        raise _error(path, n, "at", str(error)) from None
    if status != "confirmed":
        return None
    return SettledAward(award_id, amount, {**record, "amount": amount_text}, n)


def _check_item(record: dict[str, Any], path: str, n: int) -> None:
    """An item award names its item, and no other award has one: the item
    is part of the reward as paid (`SettledAward.paid_as`), so an item award
    stored without it would differ from every run's record of it, and be
    reversed and paid again on each run."""
    if record["kind"] == "item" and record["item"] is None:
        raise _error(
            path,
            n,
            "item",
            "expected the item an item award paid (text)",
            "store the `item` of each item award you pay",
        )
    if record["kind"] != "item" and record["item"] is not None:
        raise _error(path, n, "item", f"expected null or no `item`: a `{record['kind']}` award has none")


def _check_minor_unit(amount: Decimal, unit: str, path: str, n: int) -> None:
    """A money amount has no more decimals than its currency's minor unit
    (a result writes `100.00` for USD): nothing finer was ever paid."""
    if not is_currency(unit):
        return
    places = minor_exponent(unit)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise _error(
            path, n, "amount", f"expected an amount in {unit} with at most {places} decimal(s), as a result writes it"
        )


def _reversal(entry: Any, path: str, n: int) -> str:
    """The id of the award a settled reversal took back (checked against its own id)."""
    if not isinstance(entry, dict):
        raise _error(path, n, None, "expected a reversal record (an object)")
    reverses = _text(entry, "reverses", path, n)
    if reverses is None or not _AWARD_ID.match(reverses):
        raise _error(path, n, "reverses", "expected an award id (`aw_` and 32 hex digits)")
    own = _text(entry, "id", path, n)
    if own is None or not _REVERSAL_ID.match(own) or own != reversal_id(reverses):
        raise _error(path, n, "id", f"expected the reversal id of `{reverses}`, `{reversal_id(reverses)}`")
    return reverses


def _partial(entry: Any, path: str, n: int) -> SettledPartial | None:
    """A settled partial reversal (its id is `partial_reversal_id` of the
    award and `why.event`), checked as an award's entry is; None for any
    other entry (`_reversal` checks it)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("why"), dict):
        return None
    reverses, own, event = entry.get("reverses"), entry.get("id"), entry["why"].get("event")
    if not isinstance(reverses, str) or not isinstance(event, str) or not isinstance(own, str):
        return None
    if not _AWARD_ID.match(reverses) or own != partial_reversal_id(reverses, event):
        return None
    event = _text(entry["why"], "event", path, n, field="why.event") or ""
    record: dict[str, Any] = {name: _text(entry, name, path, n) for name in _DESCRIBED}
    record["item"] = _text(entry, "item", path, n, optional=True)
    amount_text = _text(entry, "amount", path, n) or ""
    amount = Decimal(amount_text) if _AMOUNT.match(amount_text) else None
    if amount is None or amount <= 0:
        raise _error(path, n, "amount", 'expected a positive decimal number as text, e.g. "5.00"')
    for name, allowed in (("role", _ROLES), ("kind", _KINDS)):  # as an award's entry is checked
        if record[name] not in allowed:
            raise _error(path, n, name, f"expected one of {', '.join(allowed)}")
    _check_item(record, path, n)
    _check_minor_unit(amount, record["unit"], path, n)
    taken = _text(entry["why"], "taken", path, n, optional=True, field="why.taken")
    if taken is not None:
        total = Decimal(taken) if _AMOUNT.match(taken) else None
        if total is None or total < amount:  # `taken`: all of the award taken back with this one
            raise _error(path, n, "why.taken", f"expected a decimal number as text, at least the amount {amount_text}")
    try:
        record["at"] = format_timestamp(parse_timestamp(record["at"] or ""))
    except TimestampError as error:
        raise _error(path, n, "at", str(error)) from None
    why = {"event": event, **({"taken": taken} if taken is not None else {})}
    fields = {"id": own, "reverses": reverses, **record, "amount": amount_text, "why": why}
    return SettledPartial(own, reverses, event, amount, {k: fields[k] for k in REVERSAL_KEYS}, n)


#: the fields of a reversal record, in the order a result writes them
REVERSAL_KEYS = ("id", "reverses", "at", *PAYOUT_FIELDS, "program", "why")


def _as_told(settled: SettledAward, explain: bool) -> dict[str, Any]:
    """A settled award the run no longer gives, as the app was told it
    (with its `why` when the run explains and the statement has one)."""
    record = settled.record
    why = {"why": record["why"]} if explain and record["why"] is not None else {}
    return {
        "id": settled.id,
        **{k: record[k] for k in ("at", "milestone", "role", "beneficiary", "referrer", "referee", "kind")},
        **{k: record[k] for k in ("amount", "unit", "item")},
        "status": "confirmed",
        "program": record["program"],
        **({"message": record["message"]} if record["message"] is not None else {}),
        **why,
    }


def _paid(settled: SettledAward) -> dict[str, Any]:
    """The reward as paid, from the statement: what a record kept as paid
    and every reversal of it carry, whatever this run gives."""
    record = settled.record
    return {"kind": record["kind"], "amount": record["amount"], "unit": record["unit"], "item": record["item"]}


def _changed(settled: SettledAward, fresh: dict[str, Any]) -> str:
    """A reversal's reason when no single event takes the award back."""
    if (fresh["kind"], fresh["unit"], fresh.get("item")) == (
        settled.record["kind"],
        settled.record["unit"],
        settled.record["item"],
    ):
        return "its amount changed after it was paid"
    return "its reward changed after it was paid"


def _as_paid(settled: SettledAward, why: dict[str, Any]) -> dict[str, Any]:
    """The `why` of a record kept as paid: as the app was told it, else this
    run's without what describes this run's amount or status (a cap's cut,
    the void: the reversal says what takes the award back)."""
    told: dict[str, Any] | None = settled.record["why"]
    if told is not None:
        return told
    return {k: v for k, v in why.items() if k not in ("capped", "uncapped", "voided_by")}


@dataclass(eq=False, repr=False)
class Settlement:
    """Applies a settled statement to one run's awards and reversals (see
    the module's docstring); `voider` finds the event that voids an award."""

    settled: Settled
    issued: dict[str, IssuedAward]
    as_of: int
    voider: Any
    explain: bool = True

    def apply(
        self, awards: list[dict[str, Any]], reversals: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The awards and reversals an app should see, given what it
        settled; an award at a new amount follows the award it replaces."""
        _partials_of(self.settled, {a["id"]: a for a in awards})
        partials = [r for r in reversals if _is_partial(r)]
        reversals = [r for r in reversals if not _is_partial(r)]
        reversed_now = {r["reverses"]: r for r in reversals}
        out_awards: list[dict[str, Any]] = []
        out_reversals = list(reversals)
        #: settled awards reversed whole, and the id of the award that
        #: replaces each (None: none does)
        fixed: dict[str, str | None] = {}
        for record in awards:
            out_awards.append(record)
            settled = self.settled.awards.get(record["id"])
            if settled is None:
                continue
            reversal = reversed_now.get(settled.id)
            due = record["status"] != "void" and reversal is None
            if due and settled.paid_as(record) and settled.id not in self.settled.reversed:
                # as paid: `confirmed` (with its message and `why` as told), though
                # this run has it back in a hold (a late event moved its trigger):
                # a statement chained from this result must still count it paid
                if record["status"] != "confirmed":
                    self._keep_as_paid(record, settled)
                continue
            fresh = dict(record)
            self._keep_as_paid(record, settled)
            fixed[settled.id] = None
            if reversal is not None:
                reversal.update(_paid(settled))  # take back what was paid
            else:
                out_reversals.append(self._reversal(settled, record, fresh))
            if due:
                reissued = self._reissue(settled.id, fresh, out_reversals, fixed)
                out_awards.extend(reissued)
                fixed[settled.id] = reissued[-1]["id"]
        issued_ids = {a["id"] for a in out_awards}
        gone = sorted((a for a in self.settled.awards.values() if a.id not in issued_ids), key=lambda a: a.id)
        for settled in gone:  # the run no longer gives it: listed as paid, and taken back
            out_awards.append(_as_told(settled, self.explain))
            out_reversals.append(self._gone(settled))
            fixed[settled.id] = None
        out_reversals = _net_of_partials(out_reversals, self.settled, fixed)
        out_reversals.extend(_settle_partials(partials, self.settled, fixed))
        # by instant, not by its text: `...:00.5Z` sorts before `...:00Z` as text
        out_reversals.sort(key=lambda r: (parse_timestamp(r["at"]), r["why"].get("event") or "", r["reverses"]))
        return out_awards, out_reversals

    def _keep_as_paid(self, record: dict[str, Any], settled: SettledAward) -> None:
        """Rewrite this run's record of a settled award as it was paid: its
        status, reward (kind, amount, unit, item), message and `why`."""
        record.update(status="confirmed", **_paid(settled))
        if "message" in record:  # as told, or none: this run's text may name the new reward
            record["message"] = settled.record["message"]
        if "why" in record:
            record["why"] = _as_paid(settled, record["why"])

    def _reversal(self, settled: SettledAward, record: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
        """Takes back a settled award that this run voids, changes, or that
        the app clawed back already (then the same entry is listed again)."""
        issued = self.issued.get(settled.id)
        event = self.voider(issued) if issued is not None and fresh["status"] == "void" else None
        at = event["at"] if event is not None else self.as_of
        if event is not None:
            why = {"event": event["id"], "reason": "voided after it was paid"}
        elif settled.id in self.settled.reversed:
            why = {"event": None, "reason": "taken back earlier"}
        else:
            why = {"event": None, "reason": _changed(settled, fresh)}
        return self._entry(settled.id, format_timestamp(at), record, why)

    def _gone(self, settled: SettledAward) -> dict[str, Any]:
        why = {"event": None, "reason": "paid, but this run no longer gives it"}
        return self._entry(settled.id, format_timestamp(self.as_of), settled.record, why)

    @staticmethod
    def _entry(award_id: str, at: str, record: dict[str, Any], why: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": reversal_id(award_id),
            "reverses": award_id,
            "at": at,
            **{k: record.get(k) for k in ("milestone", "role", "beneficiary", "referrer", "referee")},
            **{k: record.get(k) for k in ("kind", "amount", "unit", "item", "program")},
            "why": why,
        }

    def _reissue(
        self, original: str, fresh: dict[str, Any], reversals: list[dict[str, Any]], fixed: dict[str, str | None]
    ) -> list[dict[str, Any]]:
        """The award's new reward under a new id: the first attempt whose id
        the app has neither clawed back nor been paid with another reward.
        The id holds the amount and unit but not the kind or item, so an
        award whose item changed twice meets the id of the first change: that
        one, paid, is listed as paid and reversed here (appended to
        `reversals`), before the award under the next attempt's id."""
        out: list[dict[str, Any]] = []
        attempt = 1
        while True:
            new_id = reissue_id(original, fresh["amount"], fresh["unit"], attempt)
            record = {**fresh, "id": new_id}
            if "why" in record:
                record["why"] = {**record["why"], "reissues": original}
            earlier = self.settled.awards.get(new_id)
            if new_id in self.settled.reversed:
                attempt += 1
            elif earlier is not None and not earlier.paid_as(record):
                self._keep_as_paid(record, earlier)
                reversals.append(self._reversal(earlier, record, fresh))
                # reversed whole: less what its partial reversals took (`_net_of_partials`);
                # 22.50 was taken back of a 15.00 award before (review, 2026-12-08)
                fixed[earlier.id] = None
                out.append(record)
                attempt += 1
            else:
                out.append(record)
                return out


# -- partial reversals (a partial void's, see `clawback`) -------------------
#
# Each takes part of an award back, with its own id (`partial_reversal_id`:
# the award and the event). Given what the app clawed back already:
#
# - a partial reversal the statement lists is listed as the app was told it,
#   whatever this run computes for it (a late refund dated earlier may shift
#   a cent of rounding from one entry to the next);
# - the others this run gives take back the rest: together with the told
#   ones they add up to what this run takes back of the award, the last
#   taking what is left;
# - a settled award reversed whole (voided, changed, no longer given) is
#   taken back less what its told partial reversals took; this run's other
#   partial reversals of it are folded into that reversal, and, when the
#   award is paid again under a new id, they take part of the new award.


def _partials_of(settled: Settled, awards: dict[str, dict[str, Any]]) -> None:
    """The statement's partial reversals of awards it does not list are in
    the kind and unit this run gives each award (see `_of_its_award`)."""
    for partial in settled.partial.values():
        award = awards.get(partial.reverses)
        if award is not None and partial.reverses not in settled.awards:
            _part_of(partial, award, settled.path)


def _is_partial(reversal: dict[str, Any]) -> bool:
    """Whether a reversal takes part of its award (not `reversal_id`'s)."""
    return bool(reversal["id"] != reversal_id(reversal["reverses"]))


def _told(settled: Settled) -> dict[str, list[SettledPartial]]:
    """The statement's partial reversals, by the award they take part of."""
    out: dict[str, list[SettledPartial]] = {}
    for partial in sorted(settled.partial.values(), key=lambda p: p.id):
        out.setdefault(partial.reverses, []).append(partial)
    return out


def _net_of_partials(
    reversals: list[dict[str, Any]], settled: Settled, fixed: dict[str, str | None]
) -> list[dict[str, Any]]:
    """A settled award reversed whole comes back less what the app clawed
    back of it in part already; nothing, when that was all of it."""
    told = _told(settled)
    out = []
    for reversal in reversals:
        parts = told.get(reversal["reverses"])
        if parts and reversal["reverses"] in fixed:
            rest = Decimal(reversal["amount"]) - sum((p.amount for p in parts), Decimal(0))
            if rest <= 0:
                continue
            reversal = {**reversal, "amount": format(rest, "f")}
        out.append(reversal)
    return out


def _settle_partials(
    partials: list[dict[str, Any]], settled: Settled, fixed: dict[str, str | None]
) -> list[dict[str, Any]]:
    """This run's partial reversals given the statement's (see above)."""
    run: dict[str, list[dict[str, Any]]] = {}
    for entry in partials:
        award = entry["reverses"]
        if award in fixed:
            replacement = fixed[award]
            if replacement is None:
                continue  # folded into the award's whole reversal
            event = entry["why"]["event"]
            entry = {**entry, "id": partial_reversal_id(replacement, event), "reverses": replacement}
        run.setdefault(entry["reverses"], []).append(entry)
    told = _told(settled)
    out: list[dict[str, Any]] = []
    for award in sorted(set(run) | set(told)):
        parts = told.get(award, [])
        out.extend(dict(p.record) for p in parts)
        out.extend(_rest(run.get(award, []), parts))
    return out


def _rest(run: list[dict[str, Any]], told: list[SettledPartial]) -> list[dict[str, Any]]:
    """The run's partial reversals of one award that the app has not clawed
    back, adjusted so that with the told ones they take back what the run
    does: each at most its own amount, the last what is left."""
    if not told:
        return run
    ids = {p.id for p in told}
    fresh = sorted((r for r in run if r["id"] not in ids), key=lambda r: Decimal(r["why"]["taken"]))
    total = max((Decimal(r["why"]["taken"]) for r in run), default=Decimal(0))
    paid = sum((p.amount for p in told), Decimal(0))
    left = total - paid
    out = []
    for n, entry in enumerate(fresh):
        amount = left if n == len(fresh) - 1 else min(Decimal(entry["amount"]), left)
        if amount <= 0:
            continue
        left -= amount
        why = {**entry["why"], "taken": format(total - left, "f")}
        out.append({**entry, "amount": format(amount, "f"), "why": why})
    return out
