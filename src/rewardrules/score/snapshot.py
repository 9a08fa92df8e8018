"""Session snapshots: stop an app's incremental scoring and resume it later.

A snapshot is JSON (UTF-8 bytes): the session's engine state (referrals and
their metric slots, referrers, caps used, awards issued) and what it needs
to keep refusing duplicates and out-of-order events. Values are tagged so
they come back exactly: decimals as text, never floats. A snapshot names the
rule file it belongs to (a hash of its text) and is refused by another.

Restoring gives a session that ends with the same awards, ids and bytes as
one that never stopped (tests/test_snapshot.py checks it at every split
point of the golden ledgers).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from ..core.datatypes import BOOLEAN, DURATION, NUMBER, QUANTITY, TEXT, TIME
from ..core.formatting import quoted
from ..core.ids import award_id
from ..core.limits import MAX_NUMBER_CHARS, MAX_SNAPSHOT_BYTES, MAX_SNAPSHOT_NESTING
from ..core.runtime import CONTEXT, History, Referral, ReferrerState
from ..core.timeutil import MAX_TIMESTAMP_NS, MIN_TIMESTAMP_NS
from ..syntax import nodes as ast
from .engine import Engine, IssuedAward, Rejected, Timer, Withheld, reward_rank, timer_referral

if TYPE_CHECKING:
    from ..check.program import EventInfo
    from ..compiler.generate import CompiledMilestone
    from .api import Program, Session

FORMAT = "rewardrules-session/4"
#: formats this version restores: /3 (before timers, referrer histories,
#: moving attribution and the referrer of each award) lacks only keys that
#: rules it could compile never needed (`_TOP_ADDED`, `_AWARD_ADDED`)
READABLE = frozenset({"rewardrules-session/3", FORMAT})

#: the trailer a signed snapshot ends with: `,"mac":"<64 hex digits>"}`
_MAC = re.compile(rb',"mac":"([0-9a-f]{64})"\}\Z')


class SnapshotError(ValueError):
    """A snapshot that cannot be restored (another ruleset, damaged data)."""


def fingerprint(program: Program) -> str:
    """Which rule file a snapshot belongs to: a hash of its text."""
    return hashlib.sha256(program.compiled.checked.source.text.encode()).hexdigest()


# -- values -------------------------------------------------------------------
#
# Every JSON object in a snapshot's values is a tag: {"$d": text} a decimal,
# {"$o": object} a dict. A dict from a ledger is always wrapped, so its own
# keys (even "$d") are never read as tags.


def _enc(value: Any) -> Any:
    """JSON-safe and exact: Decimals and dicts tagged, tuples as lists."""
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, dict):
        return {"$o": {key: _enc(item) for key, item in value.items()}}
    if isinstance(value, (list, tuple)):
        return [_enc(item) for item in value]
    return value


#: a decimal as `str(Decimal)` writes it, finite
_MAX_DECIMAL_CHARS = 2 * CONTEXT.prec + 20
#: the largest exponent of ten the scoring context can produce
_MAX_EXPONENT = CONTEXT.Emax
#: the widest integer a value of the ledger holds (Python's JSON reader
#: takes 4,300 digits at most), which a snapshot gives back as it was: an
#: undeclared field of 20 digits was refused on restore, where only an
#: instant's range was allowed (found by the fuzz test of sessions)
_MAX_PLAIN_INT = 10**4300
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?(E[+-]?[0-9]+)?\Z")


#: the largest exponent of a number a ledger line may hold in a field the
#: rules do not read (kept as it was, for telling a repeat from a conflict:
#: `seen`): any a number of `MAX_NUMBER_CHARS` characters can write
#: (`1e999999999`), past scoring's range. A session took such an event,
#: and its snapshot was refused on restore (found in review, 2026-12-08)
_MAX_LEDGER_EXPONENT = 10**MAX_NUMBER_CHARS


def _decimal(text: Any, where: str, exponent: int = _MAX_EXPONENT) -> Decimal:
    """A tagged decimal, checked before Decimal() sees it: finite, with no
    more digits than the scoring context holds and an exponent of at most
    `exponent` (a huge one would make formatting it allocate without
    limit: a value the rules read is within scoring's range)."""
    if not isinstance(text, str) or len(text) > _MAX_DECIMAL_CHARS or not _DECIMAL.match(text):
        raise _damaged(where, "expected a decimal number as text")
    try:
        value = Decimal(text)
    except ArithmeticError:  # an exponent past what Decimal takes at all
        raise _damaged(where, "the decimal number is out of range") from None
    # the low end: an underflow (`1 / a / a` of a huge `a`) keeps its
    # digits down to `Etiny`, the prec - 1 places past -Emax
    low = -exponent - (CONTEXT.prec - 1)
    if len(value.as_tuple().digits) > CONTEXT.prec or not low <= value.adjusted() <= exponent:
        raise _damaged(where, "the decimal number is out of range")
    return value


def _dec(value: Any, where: str, depth: int = 0, exponent: int = _MAX_EXPONENT) -> Any:
    """A value back from its tagged JSON, checked: only JSON scalars, lists
    and the two tags, nested at most `MAX_SNAPSHOT_NESTING` deep; its
    decimals' exponents at most `exponent`."""
    if depth > MAX_SNAPSHOT_NESTING:
        raise _damaged(where, f"values nest more than {MAX_SNAPSHOT_NESTING} deep")
    if value is None or isinstance(value, (bool, str)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, int):  # a value as the ledger had it: an undeclared field keeps any JSON integer
        return _int(value, where, -_MAX_PLAIN_INT, _MAX_PLAIN_INT)
    if isinstance(value, list):
        return [_dec(item, f"{where}[{i}]", depth + 1, exponent) for i, item in enumerate(value)]
    if isinstance(value, dict) and len(value) == 1:
        if "$d" in value:
            return _decimal(value["$d"], where, exponent)
        inner = value.get("$o")
        if isinstance(inner, dict):
            return {key: _dec(item, f"{where}.{key}", depth + 1, exponent) for key, item in inner.items()}
    raise _damaged(where, "expected a value (an untagged object)")


def _damaged(where: str, problem: str) -> SnapshotError:
    return SnapshotError(f"damaged session snapshot: {quoted(where)}: {problem}")


def _int(value: Any, where: str, low: int = MIN_TIMESTAMP_NS, high: int = MAX_TIMESTAMP_NS) -> int:
    """A whole number within bounds; by default those of an instant in
    nanoseconds (years 1 to 9999, wider than 64 bits), the largest whole
    number a session holds."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _damaged(where, f"expected a whole number from {low} to {high}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _damaged(where, "expected text")
    return value


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _damaged(where, "expected true or false")
    return value


def _list(value: Any, where: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise _damaged(where, "expected a list")
    if length is not None and len(value) != length:
        raise _damaged(where, f"expected {length} item(s), found {len(value)}")
    return value


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _damaged(where, "expected an object")
    return value


def _values(value: Any, where: str, length: int) -> list[Any]:
    """A list of `length` values (metric slots, their previous values)."""
    values: list[Any] = _dec(_list(value, where, length), where)  # a list comes back a list
    return values


def _object(value: Any, where: str, exponent: int = _MAX_EXPONENT) -> dict[str, Any]:
    """A tagged dict (event fields, a kept event, a raw ledger event)."""
    decoded = _dec(value, where, exponent=exponent)
    if not isinstance(decoded, dict):
        raise _damaged(where, "expected an object")
    return decoded


def _opt_object(value: Any, where: str) -> dict[str, Any] | None:
    return None if value is None else _object(value, where)


def _flags(value: Any, where: str, length: int) -> list[bool]:
    return [_bool(item, f"{where}[{i}]") for i, item in enumerate(_list(value, where, length))]


#: the Python type of a value of each kind of the rule language
_KINDS: dict[str, tuple[type, ...]] = {
    NUMBER: (Decimal,),
    QUANTITY: (Decimal,),
    TEXT: (str,),
    TIME: (int,),
    BOOLEAN: (bool,),
    DURATION: (int,),
}


def _typed(value: Any, kind: str, nullable: bool, where: str) -> None:
    """A value of a rule-language type (None if it may be absent), as the
    generated evaluators expect it: a bool is not a time, a str not a number."""
    if value is None and nullable:
        return
    if type(value) not in _KINDS.get(kind, ()):
        raise _damaged(where, f"expected a {kind} value")


def _event(info: EventInfo, event: Any, where: str) -> dict[str, Any]:
    """An event as scoring keeps it (see `compiler.fields_of`): exactly its
    type's fields, each of its declared type."""
    if not isinstance(event, dict) or set(event) != set(info.fields):
        raise _damaged(where, f"expected the fields of a `{info.name}` event: {', '.join(info.fields)}")
    for name, field_info in info.fields.items():
        _typed(event[name], field_info.type.kind, field_info.optional, f"{where}.{name}")
    return event


def _event_record(info: EventInfo, fields: dict[str, Any]) -> tuple[Any, ...]:
    """An event's record (`EventInfo.record`) from its fields by name
    (`_event`: every one is there)."""
    return tuple(info.name if name == "type" else fields[name] for name in info.record())


#: what metric slots may hold: any plain value; a number (sums, counts);
#: a number or nothing (the value a milestone last saw, for `every` and
#: `whenever ... increases`)
_PLAIN = (Decimal, int, str, bool, type(None))
_NUMBER = (Decimal,)
_LAST_SEEN = (Decimal, type(None))


def _slots(values: list[Any], init: list[Any], where: str, kinds: dict[int, str] | None = None) -> list[Any]:
    """A referral's metric slots: a slot that starts as a number (a sum, a
    count) or a flag holds one; one that starts empty holds a plain value,
    of its metric's type when `kinds` gives it (a text where an amount is
    compared would fail at the next test, far from the cause)."""
    for i, (value, start) in enumerate(zip(values, init, strict=True)):
        kind = (kinds or {}).get(i)
        if start is None and kind is not None:
            _typed(value, kind, True, f"{where}[{i}]")
            continue
        allowed = _PLAIN if start is None else (type(start),)
        if type(value) not in allowed:
            raise _damaged(f"{where}[{i}]", f"expected a {'plain value' if start is None else type(start).__name__}")
    return values


def _scalars(values: list[Any], where: str, allowed: tuple[type, ...] = _PLAIN) -> list[Any]:
    """Metric slots, each of a type scoring puts there."""
    for i, value in enumerate(values):
        if type(value) not in allowed:
            raise _damaged(f"{where}[{i}]", "expected a plain value" if allowed is _PLAIN else "expected a number")
    return values


def _index(value: Any, where: str, count: int) -> int:
    if count == 0:
        raise _damaged(where, "refers to an item the rules do not have")
    return _int(value, where, 0, count - 1)


def _record(value: Any, where: str, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with exactly these keys, and those of `optional` or not
    (fields added since the format was set: an older snapshot lacks them)."""
    record = _dict(value, where)
    if not set(keys) <= set(record) <= set(keys) | set(optional):
        missing = sorted(set(keys) - set(record))
        extra = sorted(set(record) - set(keys))
        raise _damaged(
            where,
            f"expected the keys {', '.join(keys)}"
            + (f" (missing {', '.join(missing)})" if missing else "")
            + (f" (unknown {', '.join(extra)})" if extra else ""),
        )
    return record


# -- dump -----------------------------------------------------------------------


def dump(session: Session, key: bytes | str | None = None) -> bytes:
    """The session's whole state as JSON bytes; signed with HMAC-SHA256
    under `key` when given (see `load`)."""
    engine = session.engine
    state = engine.state
    referrals = list(state.every_referral())
    data = {
        "format": FORMAT,
        "ruleset": session.program.name,
        "fingerprint": fingerprint(session.program),
        "seen": _enc(session._seen),
        "last": list(session._last) if session._last is not None else None,
        "latest": session._latest,
        "count": session._count,
        "referrals": [
            {
                "id": r.id,
                "at": r.at,
                "referrer": r.referrer,
                "referee": r.referee,
                "fields": _enc(r.fields),
                "m": _enc(r.m),
                "done": r.done,
                "prev": _enc(r.prev),
                "kept": _enc(r.kept or {}),  # {} for the shared empty one
                "programs": r.programs,
                "contrib": _enc({str(p): r.contrib.get(p, []) for p in r.programs}),  # [] where none is held
                "links": [p.index for p, _ in r.links],
                "converted": r.converted,
            }
            for r in referrals
        ],
        "referrers": [
            {"program": p, "referrer": name, "m": _enc(s.m), "done": s.done, "prev": _enc(s.prev)}
            for p, states in enumerate(state.referrers)
            for name, s in states.items()
        ],
        "awards": [_award(a) for a in state.awards],
        "withheld": [{**_reached(w), "reason": w.reason, "amount": _enc(w.amount)} for w in state.withheld],
        "rejected": [[r.event, r.at, r.referrer, r.referee, r.reason, r.detail] for r in state.rejected],
        "cap_used": [[list(key), _enc(amount)] for key, amount in state.cap_used.items()],
        "clock": session._clock,
        "timers": [
            [t.at, t.milestone, t.scope, t.referee, t.event, t.since]
            for t in sorted(state.timers.values(), key=lambda t: (t.at, t.milestone, t.scope))
        ],
        "anchored": [list(key) for key in sorted(state.anchored)],
        "history": [_history(name, history) for name, history in state.history.items()],
    }
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    if key is None:
        return body
    return body[:-1] + b',"mac":"' + _mac(_key(key), body).encode() + b'"}'


def _history(referrer: str, history: History) -> dict[str, Any]:
    """A referrer's history of referral events (`runtime.History`)."""
    return {
        "referrer": referrer,
        "counts": history.counts,
        "values": [[[_enc(value), event] for value, event in seen.items()] for seen in history.values],
    }


def _key(key: bytes | str) -> bytes:
    """The app's signing key as bytes (text as UTF-8); never empty."""
    raw = key.encode("utf-8") if isinstance(key, str) else key
    if not isinstance(raw, bytes) or not raw:
        raise SnapshotError("a snapshot key must be non-empty bytes or text")
    return raw


def _mac(key: bytes, body: bytes) -> str:
    """HMAC-SHA256 of the snapshot's bytes without the `mac` member."""
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _award(award: IssuedAward) -> dict[str, Any]:
    return {
        "id": award.id,
        **_reached(award),
        "amount": _enc(award.amount),
        "event": award.event,
        "trigger": _enc(award.trigger),
        "occurrence": award.occurrence,
        "values": _enc(award.values),
        "capped": award.capped,
        "snapshot": _enc(award.snapshot),
        "uncapped": _enc(award.uncapped),
    }


def _reached(reward: IssuedAward | Withheld) -> dict[str, Any]:
    """The members an award and a withheld reward share (`_REACHED`, in
    that order), written once for both; `_reward_of` reads them back."""
    return {
        "at": reward.at,
        "milestone": reward.milestone.info.index,
        "reward": reward.reward_index,
        "role": reward.role,
        "beneficiary": reward.beneficiary,
        "referee": reward.referral.referee,
        "referrer": reward.referral.referrer,
    }


# -- load -----------------------------------------------------------------------


def load(program: Program, blob: bytes | str, key: bytes | str | None = None) -> Session:
    """A session restored from `dump` output, for the same rule file. With
    `key`, the snapshot must carry a valid signature under it; a signed
    snapshot is refused without its key. Every field is checked: a damaged
    snapshot raises `SnapshotError`, never another error."""
    from .api import Session

    raw = blob.encode("utf-8") if isinstance(blob, str) else blob
    if not isinstance(raw, (bytes, bytearray)):
        raise SnapshotError("not a session snapshot: expected bytes or text")
    if len(raw) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(f"the snapshot is larger than {MAX_SNAPSHOT_BYTES} bytes")
    raw = _verified(bytes(raw), key)
    try:
        data = json.loads(raw)
    except RecursionError:
        raise SnapshotError("not a session snapshot: JSON nested too deep") from None
    except ValueError as error:
        raise SnapshotError(f"not a session snapshot: {error}") from None
    _unicode_only(raw, data)
    if not isinstance(data, dict) or not isinstance(data.get("format"), str) or data["format"] not in READABLE:
        raise SnapshotError(f"not a session snapshot (expected format `{FORMAT}`; take it again with this version)")
    if data.get("fingerprint") != fingerprint(program):
        raise SnapshotError(
            f"the snapshot belongs to another version of the rules (ruleset {quoted(str(data.get('ruleset')))}); "
            "restore it with the rule file it was taken with"
        )
    _record(data, "snapshot", _TOP, _TOP_ADDED)
    _needed(program, data)
    with localcontext(CONTEXT):
        return _restore(Session(program), data)


def _needed(program: Program, data: dict[str, Any]) -> None:
    """Refuse a snapshot that lacks a key these rules need (`_TOP_ADDED`):
    one taken before the key was added was taken with rules that had no
    use for it (no timers, no earlier referrals read), so for rules that
    have one, the key was deleted, and a pending award or a count with
    it. A `/3` snapshot lacks them all."""
    compiled = program.compiled
    needs = {"history": compiled.remember is not None or compiled.at_referral is not None}
    timers = any(m.timer_test is not None for m in compiled.milestones)
    needs.update(clock=timers, timers=timers, anchored=timers)
    missing = [key for key in _TOP_ADDED if needs[key] and key not in data]
    if missing:
        raise _damaged(
            "snapshot",
            f"it lacks {', '.join(f'`{key}`' for key in missing)}, which these rules need "
            "(a snapshot taken with them has it)",
        )


#: what may give a lone surrogate: a JSON escape of one, or its UTF-8-like
#: bytes (which `json.loads` lets through from bytes)
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _unicode_only(raw: bytes, data: Any) -> None:
    """Refuse a snapshot holding a text with an unpaired surrogate (JSON
    `"\\ud800"`): no ledger may give one (`ledger.decode.surrogate_free`),
    and a session restored with one would fail at its next snapshot or
    award id, far from the cause. The full check runs only when the bytes
    may hold one."""
    if _SURROGATE.search(raw) is None:
        return
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise _damaged(
            "snapshot", "a text has an unpaired surrogate (such as \\ud800), which no event may hold"
        ) from None


def _verified(raw: bytes, key: bytes | str | None) -> bytes:
    """The snapshot's bytes without its signature, checked against `key`."""
    found = _MAC.search(raw)
    if key is None:
        if found is not None:
            raise SnapshotError("the snapshot is signed: restore it with its key")
        return raw
    if found is None:
        raise SnapshotError("the snapshot is not signed, but a key was given: it may have been replaced")
    body = raw[: found.start()] + b"}"
    if not hmac.compare_digest(_mac(_key(key), body).encode(), found.group(1)):
        raise SnapshotError("the snapshot's signature does not match: it was changed, or taken with another key")
    return body


_TOP = (
    "format", "ruleset", "fingerprint", "seen", "last", "latest", "count",
    "referrals", "referrers", "awards", "withheld", "rejected", "cap_used",
)  # fmt: skip
#: top-level keys a snapshot of this format may lack (taken before they
#: were added): an older snapshot has no timers pending and no history
_TOP_ADDED = ("clock", "timers", "anchored", "history")
_HISTORY = ("referrer", "counts", "values")
_REFERRAL = ("id", "at", "referrer", "referee", "fields", "m", "done", "prev", "kept", "programs", "contrib")
#: referral fields of attribution (the programs it still counts in, those
#: its referee converted in): an older snapshot lacks them
_REFERRAL_ADDED = ("links", "converted")
_REFERRER = ("program", "referrer", "m", "done", "prev")
#: what an award and a withheld reward share (see `_reached`)
_REACHED = ("at", "milestone", "reward", "role", "beneficiary", "referee")
_AWARD = ("id", *_REACHED, "amount", "event", "trigger", "occurrence", "values", "capped", "snapshot")
#: award fields a snapshot of this format may lack (taken by an older version)
_AWARD_ADDED = ("uncapped", "referrer")
_WITHHELD = (*_REACHED, "reason", "amount")
_REASONS = ("self_referral", "duplicate_referral", "ineligible")


def _restore(session: Session, data: dict[str, Any]) -> Session:
    """Fill a new session from checked snapshot data (see `load`)."""
    engine: Engine = session.engine
    state = engine.state
    seen = _object(data["seen"], "seen", _MAX_LEDGER_EXPONENT)
    for event_id, event in seen.items():
        if not isinstance(event, dict):
            raise _damaged(f"seen.{event_id}", "expected an event (an object)")
    session._seen = seen
    last = data["last"]
    if last is not None:
        last = _list(last, "last", 2)
        session._last = (_int(last[0], "last[0]"), _str(last[1], "last[1]"))
    session._latest = None if data["latest"] is None else _int(data["latest"], "latest")
    session._count = _int(data["count"], "count", 0)
    for i, item in enumerate(_list(data["referrers"], "referrers")):
        _referrer(engine, _record(item, f"referrers[{i}]", _REFERRER), f"referrers[{i}]")
    for i, item in enumerate(_list(data["referrals"], "referrals")):
        _referral(engine, _record(item, f"referrals[{i}]", _REFERRAL, _REFERRAL_ADDED), f"referrals[{i}]")
    _referrers_referred(engine)
    ids: set[str] = set()
    for i, item in enumerate(_list(data["awards"], "awards")):
        award = _issued(engine, _record(item, f"awards[{i}]", _AWARD, _AWARD_ADDED), f"awards[{i}]")
        if award.id in ids:  # paid twice, reversed twice
            raise _damaged(f"awards[{i}]", "the same award is listed twice")
        ids.add(award.id)
        state.awards.append(award)
        award.referral.issued.append(award)
    _reached_as_awarded(engine)
    for i, item in enumerate(_list(data["withheld"], "withheld")):
        state.withheld.append(
            _withheld(engine, _record(item, f"withheld[{i}]", _WITHHELD, ("referrer",)), f"withheld[{i}]")
        )
    for i, row in enumerate(_list(data["rejected"], "rejected")):
        state.rejected.append(_rejected(row, f"rejected[{i}]"))
    for i, item in enumerate(_list(data.get("history", []), "history")):
        _restore_history(engine, _record(item, f"history[{i}]", _HISTORY), f"history[{i}]")
    for i, row in enumerate(_list(data["cap_used"], "cap_used")):
        key, amount = _cap(engine, row, f"cap_used[{i}]")
        if key in state.cap_used:
            raise _damaged(f"cap_used[{i}]", "the same cap is listed twice")
        state.cap_used[key] = amount
    clock = data.get("clock")
    session._clock = None if clock is None else _int(clock, "clock")
    timers = [_timer(engine, row, f"timers[{i}]") for i, row in enumerate(_list(data.get("timers", []), "timers"))]
    if len({t.key for t in timers}) != len(timers):
        raise _damaged("timers", "the same timer is listed twice")
    _timers_pending(session, timers)
    anchored = {
        _anchor(engine, row, f"anchored[{i}]") for i, row in enumerate(_list(data.get("anchored", []), "anchored"))
    }
    engine.restore_timers(timers, anchored)
    return session


def _reached_as_awarded(engine: Engine) -> None:
    """Each award's milestone is marked reached where the engine marks it
    when it issues one: a milestone reached once (`when`, `first`, a timer)
    done for its referral (or referrer), an `every` milestone past the
    multiple awarded. A snapshot edited otherwise (one flag) made the next
    event issue the same award, the same id, again (review, 2026-12-08)."""
    for n, award in enumerate(engine.state.awards):
        milestone = award.milestone
        info = milestone.info
        trigger = info.trigger
        if isinstance(trigger, ast.IncreaseTrigger) or (isinstance(trigger, ast.EventTrigger) and trigger.each):
            continue  # one award an event: its id names the event, which is never taken twice
        if info.level == "referrer":
            scope: Referral | ReferrerState | None = engine.state.referrers[milestone.program].get(
                award.referral.referrer
            )
        else:
            scope = award.referral
        if isinstance(trigger, ast.EveryTrigger):
            reached = scope is not None and Decimal(award.occurrence or "0") / trigger.step <= scope.prev[info.index]
        else:
            reached = scope is not None and bool(scope.done[info.index])
        if not reached:
            raise _damaged(
                f"awards[{n}]", "its milestone is not marked reached: the next event would issue the same award again"
            )


def _referrers_referred(engine: Engine) -> None:
    """Every referrer with a state in a program made a referral that took
    part in it (the engine makes a state only then): reports list each
    such referrer beside their first referral, which must be there."""
    taking = {(p, r.referrer) for r in engine.state.every_referral() for p in r.programs}
    for p, states in enumerate(engine.state.referrers):
        for name in states:
            if (p, name) not in taking:
                raise _damaged("referrers", f"referrer {quoted(name)} has a state in program {p} but no referral there")


def _timers_pending(session: Session, timers: list[Timer]) -> None:
    """Pending timers are those not yet due where the session is: started
    by its last event or earlier, due at or after that event (a timer due
    at an event's instant fires after it, at the next event or `advance`)
    and after the instant it was advanced to (which fired those due by
    then). A timer already past would fire out of order, after later
    awards, and give another result than a session that never stopped."""
    latest, clock = session._latest, session._clock
    for i, timer in enumerate(timers):
        if latest is None or timer.since > latest or timer.at < latest:
            raise _damaged(f"timers[{i}]", "the timer is not pending at the session's last event")
        if clock is not None and timer.at <= clock:
            raise _damaged(f"timers[{i}]", "the timer was due by the instant the session was advanced to")


def _timer(engine: Engine, row: Any, where: str) -> Timer:
    """A pending timer, checked against the rules and the referrals: a
    timer milestone's, of a referral the snapshot holds, its scope that
    referral's referee (or referrer, for a held condition per referrer)."""
    at, index, scope, referee, event, since = _list(row, where, 6)
    milestone = engine.compiled.milestones[_index(index, f"{where}[1]", len(engine.compiled.milestones))]
    info = milestone.info
    if milestone.timer_test is None or info.timer_ns is None:
        raise _damaged(f"{where}[1]", "the milestone sets no timer")
    first = _referral_of(engine, referee, None, f"{where}[3]")
    per_referrer = info.level == "referrer" and not isinstance(info.trigger, ast.AfterTrigger)
    scope = _str(scope, f"{where}[2]")
    if scope == first.referee if per_referrer else scope != first.referee:
        raise _damaged(f"{where}[2]", "the timer's scope is not its referral's")
    since = _int(since, f"{where}[5]")
    if _int(at, f"{where}[0]", MIN_TIMESTAMP_NS, MAX_TIMESTAMP_NS + info.timer_ns) != since + info.timer_ns:
        raise _damaged(f"{where}[0]", "the timer's instant is not its start plus the milestone's duration")
    timer = Timer(at, index, scope, first.referee, _str(event, f"{where}[4]"), since)
    if timer_referral(engine.state, milestone, timer) is None:
        # per referrer: a referral of the referee by that referrer; else one that holds it in the program
        raise _damaged(f"{where}[2]", "no referral of the snapshot the timer can belong to")
    return timer


def _anchor(engine: Engine, row: Any, where: str) -> tuple[int, str]:
    """An `after D from EVENT` timer already started: (milestone, referee)."""
    index, referee = _list(row, where, 2)
    count = len(engine.compiled.milestones)
    return (_index(index, f"{where}[0]", count), _referral_of(engine, referee, None, f"{where}[1]").referee)


def _restore_history(engine: Engine, item: dict[str, Any], where: str) -> None:
    """A referrer's history, checked: the shape the rules give it, instants
    in processing order (counting them relies on it), and each value with
    the id of the event that held it."""
    name = _str(item["referrer"], f"{where}.referrer")
    if name in engine.state.history:
        raise _damaged(where, f"referrer {quoted(name)} is listed twice")
    counts, fields = engine.compiled.history_shape
    history = History(counts, fields)
    for k, instants in enumerate(_list(item["counts"], f"{where}.counts", counts)):
        at = f"{where}.counts[{k}]"
        history.counts[k] = [_int(value, f"{at}[{j}]") for j, value in enumerate(_list(instants, at))]
        if history.counts[k] != sorted(history.counts[k]):
            raise _damaged(at, "expected instants in increasing order")
    for k, seen in enumerate(_list(item["values"], f"{where}.values", fields)):
        for j, pair in enumerate(_list(seen, f"{where}.values[{k}]")):
            at = f"{where}.values[{k}][{j}]"
            value, event = _list(pair, at, 2)
            value = _dec(value, f"{at}[0]")
            if value is None or type(value) not in _PLAIN:
                raise _damaged(f"{at}[0]", "expected a field's value")
            history.values[k][value] = _str(event, f"{at}[1]")
    engine.state.history[name] = history


def _referrer(engine: Engine, item: dict[str, Any], where: str) -> None:
    compiled = engine.compiled
    count = len(compiled.milestones)
    index = _index(item["program"], f"{where}.program", len(compiled.programs))
    program = compiled.programs[index]
    name = _str(item["referrer"], f"{where}.referrer")
    states = engine.state.referrers[index]
    if name in states:
        raise _damaged(where, f"referrer {quoted(name)} is listed twice in one program")
    slots = _scalars(_values(item["m"], f"{where}.m", len(program.referrer_slots())), f"{where}.m", _NUMBER)
    referrer = ReferrerState(name, slots, count)
    referrer.done = _flags(item["done"], f"{where}.done", count)
    referrer.prev = _scalars(_values(item["prev"], f"{where}.prev", count), f"{where}.prev", _LAST_SEEN)
    states[name] = referrer


def _referral(engine: Engine, item: dict[str, Any], where: str) -> None:
    compiled = engine.compiled
    events = compiled.checked.events
    state = engine.state
    count = len(compiled.milestones)
    init = compiled.referral_slots()
    referee = _str(item["referee"], f"{where}.referee")
    referral = Referral(
        _str(item["id"], f"{where}.id"),
        _int(item["at"], f"{where}.at"),
        _str(item["referrer"], f"{where}.referrer"),
        referee,
        _event_record(
            events["referral"],
            _event(events["referral"], _object(item["fields"], f"{where}.fields"), f"{where}.fields"),
        ),
        compiled.fields["referral"],
        _slots(_values(item["m"], f"{where}.m", len(init)), init, f"{where}.m", compiled.referral_kinds),
        count,
    )
    referral.done = _flags(item["done"], f"{where}.done", count)
    referral.prev = _scalars(_values(item["prev"], f"{where}.prev", count), f"{where}.prev", _LAST_SEEN)
    kept = _object(item["kept"], f"{where}.kept")
    for kind, kept_events in kept.items():
        if kind not in events:
            raise _damaged(f"{where}.kept.{kind}", "the rules declare no such event type")
        for j, event in enumerate(_list(kept_events, f"{where}.kept.{kind}")):
            _event(events[kind], event, f"{where}.kept.{kind}[{j}]")
            referral.keep(kind, event)
    programs = [
        _index(p, f"{where}.programs[{j}]", len(compiled.programs))
        for j, p in enumerate(_list(item["programs"], f"{where}.programs"))
    ]
    if programs != sorted(set(programs)):
        raise _damaged(f"{where}.programs", "expected program numbers in increasing order, each once")
    referral.programs = programs
    contrib = _object(item["contrib"], f"{where}.contrib")
    if sorted(contrib) != sorted(str(p) for p in programs):
        raise _damaged(f"{where}.contrib", "expected one entry per program of the referral")
    for p in programs:
        size = compiled.programs[p].contrib_size
        used = _list(contrib[str(p)], f"{where}.contrib.{p}", size)
        referral.count_in(p, _scalars(used, f"{where}.contrib.{p}", _NUMBER))
        states = state.referrers[p]
        if referral.referrer not in states:
            raise _damaged(where, f"referrer {quoted(referral.referrer)} has no state in program {p}")
        referral.links.append((compiled.programs[p], states[referral.referrer]))
    _attribution(engine, referral, item, where)


def _attribution(engine: Engine, referral: Referral, item: dict[str, Any], where: str) -> None:
    """A referral's attribution state (the programs it still counts in, the
    programs its referee converted in), and its place: a referee's first
    referral, or a later one that took the referee (`Engine._claim`),
    after the referrals of that referee listed before it."""
    state = engine.state
    count = len(engine.compiled.programs)
    if "links" in item:
        live = _programs(item["links"], f"{where}.links", count)
        if not set(live) <= set(referral.programs):
            raise _damaged(f"{where}.links", "expected programs of the referral")
        referral.links = [link for link in referral.links if link[0].index in live]
    converted = _programs(item.get("converted", []), f"{where}.converted", count)
    first = state.referrals.get(referral.referee)
    if first is None:
        if converted:  # else the shared empty one
            referral.converted = converted
        state.referrals[referral.referee] = referral
        return
    if converted:
        raise _damaged(f"{where}.converted", "expected none on a referee's later referral")
    last = first
    while True:
        if last.referrer == referral.referrer:
            raise _damaged(where, f"referee {quoted(referral.referee)} is listed twice with one referrer")
        if last.next is None:
            break
        last = last.next
    last.next = referral


def _programs(value: Any, where: str, count: int) -> list[int]:
    """Program numbers, in increasing order, each once."""
    programs = [_index(p, f"{where}[{j}]", count) for j, p in enumerate(_list(value, where))]
    if programs != sorted(set(programs)):
        raise _damaged(where, "expected program numbers in increasing order, each once")
    return programs


def _issued(engine: Engine, item: dict[str, Any], where: str) -> IssuedAward:
    """An award, checked against the rules and its referral: its role and
    beneficiary must be those of its reward, and its id the one they give."""
    reached = _reward_of(engine, item, where)
    _, milestone, index, role, beneficiary, referral = reached
    amount = _decimal(_dict(item["amount"], f"{where}.amount").get("$d"), f"{where}.amount")
    reward = milestone.rewards[index]
    constant = reward.constant
    capped = _bool(item["capped"], f"{where}.capped")
    if amount <= 0 or (constant is not None and (amount > constant or (amount != constant and not capped))):
        raise _damaged(f"{where}.amount", "the amount is not one the award's reward gives")
    _in_steps(amount, reward.quantum, f"{where}.amount")
    uncapped = _uncapped(item.get("uncapped"), amount, capped, constant, f"{where}.uncapped")
    if uncapped is not None:
        _in_steps(uncapped, reward.quantum, f"{where}.uncapped")
    occurrence = _opt_str(item["occurrence"], f"{where}.occurrence")
    referee = "" if milestone.info.level == "referrer" else referral.referee
    rank = reward_rank(milestone, index)
    expected = award_id(milestone.id_hash, referral.referrer, referee, occurrence or "", role, beneficiary, rank)
    if item["id"] != expected:
        raise _damaged(f"{where}.id", "the id is not the one the award's fields give")
    return IssuedAward(
        expected,
        *reached,
        amount,
        _str(item["event"], f"{where}.event"),
        _trigger(engine, milestone, _opt_object(item["trigger"], f"{where}.trigger"), f"{where}.trigger"),
        occurrence,
        tuple(_list(_dec(item["values"], f"{where}.values"), f"{where}.values", len(milestone.why_names))),
        capped,
        _metrics(engine, milestone.program, _opt_object(item["snapshot"], f"{where}.snapshot"), f"{where}.snapshot"),
        uncapped,
    )


def _in_steps(amount: Decimal, quantum: Decimal | None, where: str) -> None:
    """An award's amount in money is written with its currency's decimals
    (`100.00` USD, never `1.0E+2` or `100`): the engine rounds it to them."""
    if quantum is not None and amount.as_tuple().exponent != quantum.as_tuple().exponent:
        raise _damaged(where, f"the amount is not written in steps of {quantum}, as the award's currency is paid")


def _uncapped(value: Any, amount: Decimal, capped: bool, constant: Decimal | None, where: str) -> Decimal | None:
    """An award's amount before a cap cut it: None for an award no cap cut
    (or one from a snapshot taken before it was kept); else more than the
    amount paid, and the reward's own amount when it is a constant."""
    if value is None:
        return None
    uncapped = _decimal(_dict(value, where).get("$d"), where)
    if not capped or uncapped <= amount or (constant is not None and uncapped != constant):
        raise _damaged(where, "the amount before the cap is not one the award's reward and its cut give")
    return uncapped


def _trigger(
    engine: Engine, milestone: CompiledMilestone, trigger: dict[str, Any] | None, where: str
) -> dict[str, Any] | None:
    """The fields of the event that issued an award: those of an event type
    that can reach its milestone. An award of an event milestone with a
    `void` or a `message` has them (what those read, see `Engine._award`);
    a timer's award has none (no event issued it)."""
    timer = milestone.timer_test is not None
    if trigger is None:
        if not timer and (milestone.voids or milestone.info.message is not None):
            raise _damaged(where, "expected the fields of the event that issued the award (its voids read them)")
        return None
    if not timer:
        for name in sorted(milestone.info.events):
            info = engine.compiled.checked.events[name]
            if set(trigger) == set(info.fields):
                return _event(info, trigger, where)
    raise _damaged(where, "expected the fields of an event type that reaches the award's milestone")


def _metrics(engine: Engine, program: int, values: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
    """Metric values kept for an award's message: metrics of its program,
    each of its type."""
    if values is None:
        return None
    metrics = engine.compiled.checked.programs[program].metrics
    for name, value in values.items():
        info = metrics.get(name)
        if info is None:
            raise _damaged(f"{where}.{name}", "the program has no such metric")
        _typed(value, info.type.kind, True, f"{where}.{name}")
    return values


def _reward_of(
    engine: Engine, item: dict[str, Any], where: str
) -> tuple[int, CompiledMilestone, int, str, str, Referral]:
    """What an award and a withheld reward share (`_REACHED`), in the order
    both records take it: the instant, the milestone, the reward's index,
    the role, the beneficiary and the referral, checked against each other:
    the role and the beneficiary must be those the rules and the referral
    give."""
    compiled = engine.compiled
    milestone = compiled.milestones[_index(item["milestone"], f"{where}.milestone", len(compiled.milestones))]
    index = _index(item["reward"], f"{where}.reward", len(milestone.rewards))
    referral = _referral_of(engine, item["referee"], item.get("referrer"), f"{where}.referee")
    if milestone.program not in referral.programs:
        raise _damaged(where, "the referral is not in the milestone's program")
    role = milestone.rewards[index].info.role
    beneficiary = referral.referrer if role == "referrer" else referral.referee
    if item["role"] != role or item["beneficiary"] != beneficiary:
        raise _damaged(where, f"expected the {role} {quoted(beneficiary)} of the reward and referral")
    return _int(item["at"], f"{where}.at"), milestone, index, role, beneficiary, referral


def _referral_of(engine: Engine, referee: Any, referrer: Any, where: str) -> Referral:
    """The referral of a referee, by its referrer when the record names one
    and the referee has several (see `Engine._claim`); else its only one
    (whose award ids `_issued` checks against the referrer it names)."""
    found = engine.state.referrals.get(_str(referee, where))
    if referrer is not None and found is not None and found.next is not None:
        name = _str(referrer, where.replace("referee", "referrer"))
        while found is not None and found.referrer != name:
            found = found.next
    if found is None:
        raise _damaged(where, f"no referral of {quoted(referee)} in the snapshot")
    return found


def _withheld(engine: Engine, item: dict[str, Any], where: str) -> Withheld:
    return Withheld(
        *_reward_of(engine, item, where),
        _str(item["reason"], f"{where}.reason"),
        _withheld_amount(item["amount"], f"{where}.amount"),
    )


def _withheld_amount(value: Any, where: str) -> Decimal | None:
    """What a withheld reward would have paid: a decimal, or None when the
    reward's amount had no value."""
    if value is None:
        return None
    return _decimal(_dict(value, where).get("$d"), where)


def _rejected(row: Any, where: str) -> Rejected:
    event, at, referrer, referee, reason, detail = _list(row, where, 6)
    if reason not in _REASONS:
        raise _damaged(f"{where}[4]", f"expected one of {', '.join(_REASONS)}")
    return Rejected(
        _str(event, f"{where}[0]"),
        _int(at, f"{where}[1]"),
        _opt_str(referrer, f"{where}[2]"),
        _opt_str(referee, f"{where}[3]"),
        reason,
        _str(detail, f"{where}[5]"),
    )


def _cap(engine: Engine, row: Any, where: str) -> tuple[tuple[Any, ...], Decimal]:
    """One cap's use: (program, milestone or allowance, its index, the cap's
    position, beneficiary, period) and the amount used (the number of
    rewards, for a cap on rewards), which must name a real cap."""
    key, amount = _list(row, where, 2)
    scope, owner, position, beneficiary, period = _list(key, f"{where}[0]", 5)
    compiled = engine.compiled
    if scope == "program":
        caps = compiled.programs[_index(owner, f"{where}[0][1]", len(compiled.programs))].caps
    elif scope == "milestone":
        caps = compiled.milestones[_index(owner, f"{where}[0][1]", len(compiled.milestones))].info.caps
    elif scope == "allowance":  # a shared cap: one position, its own
        allowances = compiled.checked.allowances
        caps = [allowances[_index(owner, f"{where}[0][1]", len(allowances))]]
    else:
        raise _damaged(f"{where}[0][0]", "expected `program`, `milestone` or `allowance`")
    cap = caps[_index(position, f"{where}[0][2]", len(caps))]
    used = _decimal(_dict(amount, f"{where}[1]").get("$d"), f"{where}[1]")
    if used < 0:
        raise _damaged(f"{where}[1]", "a cap's use cannot be negative")
    if cap.counts_rewards and used != used.to_integral_value():
        raise _damaged(f"{where}[1]", "a cap on rewards counts whole rewards")
    return (scope, owner, position, _str(beneficiary, f"{where}[0][3]"), _str(period, f"{where}[0][4]")), used
