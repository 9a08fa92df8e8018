"""Settled awards: what an app already paid, carried from run to run.

An app scores, pays the `confirmed` awards and claws back the reversals.
A later run may see events that arrive late but are dated in the past (a
refund inside the hold, an earlier referral of the same referee): scored
afresh, an award already paid could come out `void`, with another amount,
or not at all. Given the awards settled so far, a run never rewrites them:

- a settled award keeps its record as paid (`confirmed`, the amount paid,
  and the message the app was told, from the statement: never a message
  rendered again with this run's values, which may name the new amount);
- if the run would void it, change its amount or drop it, a **reversal**
  (`rv_` and a hash of the award's id, see `ids.reversal_id`) takes the paid
  amount back; a reversal's id depends on the award alone, so an app that
  claws back each reversal id once never claws back twice;
- if the run still gives the award but at another amount, the new amount is
  a new award, its id a hash of the old id, the amount and the attempt
  (`ids.reissue_id`), paid as any other.

Fed a statement of what it acted on (a previous result does), a run adds
only what changed since: replaying it gives no new ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, get_args

from .ids import reissue_id, reversal_id
from .ledger import LedgerError, LedgerProblem
from .models import Award
from .timeutil import TimestampError, format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from .engine import IssuedAward

#: Most entries (awards and reversals) a settled statement may hold.
MAX_SETTLED_ENTRIES = 10_000_000
#: Longest text in a settled entry, in characters.
MAX_SETTLED_TEXT = 10_000
#: Largest settled statement, in bytes (the CLI reads no more).
MAX_SETTLED_BYTES = 2_000_000_000

_AWARD_ID = re.compile(r"aw_[0-9a-f]{32}\Z")
_REVERSAL_ID = re.compile(r"rv_[0-9a-f]{32}\Z")
#: Most values in a settled award's `why` (a milestone tests a few).
MAX_WHY_VALUES = 1_000
_AMOUNT = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,40})?\Z")
#: the fields of an award record a settled entry must have (with `id`,
#: `amount` and, optionally, `status` and `item`): enough to list an award
#: the run no longer gives as the app was told it, and its reversal
_DESCRIBED = ("at", "milestone", "role", "beneficiary", "referrer", "referee", "kind", "unit", "program")
_STATUSES = ("confirmed", "pending", "void")
_ROLES = ("referrer", "referee")
#: the kinds of reward an award record may have (`models.Award.kind`)
_KINDS = get_args(Award.model_fields["kind"].annotation)


@dataclass(frozen=True, slots=True)
class SettledAward:
    """An award the app paid: its id, amount and unit, and its record."""

    id: str
    amount: Decimal
    record: dict[str, Any]


@dataclass(slots=True)
class Settled:
    """What the app acted on: awards paid (`confirmed` in its statement)
    and the ids of awards it clawed back (the `reverses` of its reversals)."""

    awards: dict[str, SettledAward] = field(default_factory=dict)
    reversed: set[str] = field(default_factory=set)


def read_settled(data: Any, path: str = "<settled>") -> Settled:
    """A settled statement, checked: a previous result (an object with
    `awards` and, optionally, `reversals`; other members are ignored) or a
    list of award records. Each award is a record as a result gives it: `id`,
    `at`, `milestone`, `role`, `beneficiary`, `referrer`, `referee`, `kind`,
    `amount`, `unit`, `program`, optionally `item`, `message` and `why` (as
    the app was told them) and `status` (`confirmed` if left out: only confirmed ones
    were paid); each reversal `id` and
    `reverses`. Raises LedgerError naming the entry (its position from 1)
    and field."""
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
    settled = Settled()
    for n, entry in enumerate(awards, start=1):
        award = _award(entry, path, n)
        if award is None:
            continue
        if award.id in settled.awards:
            raise _error(path, n, "id", f"award `{award.id}` is listed twice")
        settled.awards[award.id] = award
    for n, entry in enumerate(reversals, start=len(awards) + 1):
        settled.reversed.add(_reversal(entry, path, n))
    return settled


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
    if not isinstance(value, str) or len(value) > MAX_SETTLED_TEXT:
        raise _error(path, n, field, f"expected text of at most {MAX_SETTLED_TEXT} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape: a result could not be written with it
        raise _error(
            path, n, field, "not valid Unicode text: it has an unpaired surrogate escape such as \\ud800"
        ) from None
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
    try:
        record["at"] = format_timestamp(parse_timestamp(record["at"] or ""))
    except TimestampError as error:
        raise _error(path, n, "at", str(error)) from None
    if status != "confirmed":
        return None
    return SettledAward(award_id, amount, {**record, "amount": amount_text})


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


def _as_paid(settled: SettledAward, why: dict[str, Any]) -> dict[str, Any]:
    """The `why` of a record kept as paid: as the app was told it, else this
    run's without what describes this run's amount or status (a cap's cut,
    the void: the reversal says what takes the award back)."""
    if settled.record["why"] is not None:
        return settled.record["why"]
    return {k: v for k, v in why.items() if k not in ("capped", "uncapped", "voided_by")}


class Settlement:
    """Applies a settled statement to one run's awards and reversals (see
    the module's docstring); `void_at` finds the event that voids an award."""

    def __init__(
        self,
        settled: Settled,
        issued: dict[str, IssuedAward],
        as_of: int,
        voider: Any,
        explain: bool = True,
    ) -> None:
        self.settled = settled
        self.explain = explain
        self.issued = issued
        self.as_of = as_of
        self.voider = voider

    def apply(
        self, awards: list[dict[str, Any]], reversals: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The awards and reversals an app should see, given what it
        settled; an award at a new amount follows the award it replaces."""
        reversed_now = {r["reverses"]: r for r in reversals}
        out_awards: list[dict[str, Any]] = []
        out_reversals = list(reversals)
        for record in awards:
            out_awards.append(record)
            settled = self.settled.awards.get(record["id"])
            if settled is None:
                continue
            reversal = reversed_now.get(settled.id)
            due = record["status"] != "void" and reversal is None
            same = Decimal(record["amount"]) == settled.amount and record["unit"] == settled.record["unit"]
            if due and same and settled.id not in self.settled.reversed:
                continue  # as paid
            fresh = dict(record)
            record.update(status="confirmed", amount=settled.record["amount"])  # stays as paid
            if "message" in record:  # as told, or none: this run's text may name the new amount
                record["message"] = settled.record["message"]
            if "why" in record:
                record["why"] = _as_paid(settled, record["why"])
            if reversal is not None:
                reversal["amount"] = settled.record["amount"]  # take back what was paid
            else:
                out_reversals.append(self._reversal(settled, record, fresh))
            if due:
                out_awards.append(self._reissue(settled.id, fresh))
        issued_ids = {a["id"] for a in out_awards}
        gone = sorted((a for a in self.settled.awards.values() if a.id not in issued_ids), key=lambda a: a.id)
        for settled in gone:  # the run no longer gives it: listed as paid, and taken back
            out_awards.append(_as_told(settled, self.explain))
            out_reversals.append(self._gone(settled))
        out_reversals.sort(key=lambda r: (r["at"], r["why"].get("event") or "", r["reverses"]))
        return out_awards, out_reversals

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
            why = {"event": None, "reason": "its amount changed after it was paid"}
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

    def _reissue(self, original: str, fresh: dict[str, Any]) -> dict[str, Any]:
        """The award at its new amount, under a new id: the first attempt
        whose id the app has not clawed back already."""
        attempt = 1
        new_id = reissue_id(original, fresh["amount"], fresh["unit"], attempt)
        while new_id in self.settled.reversed:
            attempt += 1
            new_id = reissue_id(original, fresh["amount"], fresh["unit"], attempt)
        record = {**fresh, "id": new_id}
        if "why" in record:
            record["why"] = {**record["why"], "reissues": original}
        return record
