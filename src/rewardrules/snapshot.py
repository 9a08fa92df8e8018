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
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .engine import Engine, IssuedAward, Rejected, Withheld
from .runtime import Referral, ReferrerState

if TYPE_CHECKING:
    from .api import Program, Session

FORMAT = "rewardrules-session/2"


class SnapshotError(ValueError):
    """A snapshot that cannot be restored (another ruleset, damaged data)."""


def fingerprint(program: Program) -> str:
    """Which rule file a snapshot belongs to: a hash of its text."""
    return hashlib.sha256(program.compiled.checked.source.text.encode()).hexdigest()


def _enc(value: Any) -> Any:
    """JSON-safe and exact: Decimals tagged, tuples as lists."""
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, dict):
        return {key: _enc(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_enc(item) for item in value]
    return value


def _dec(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {"$d"}:
            return Decimal(value["$d"])
        return {key: _dec(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dec(item) for item in value]
    return value


def dump(session: Session) -> bytes:
    """The session's whole state as JSON bytes."""
    engine = session.engine
    state = engine.state
    referrals = list(state.referrals.values())
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
                "kept": _enc(r.kept),
                "programs": r.programs,
                "contrib": _enc({str(p): c for p, c in r.contrib.items()}),
            }
            for r in referrals
        ],
        "referrers": [
            {"program": p, "referrer": name, "m": _enc(s.m), "done": s.done, "prev": _enc(s.prev)}
            for p, states in enumerate(state.referrers)
            for name, s in states.items()
        ],
        "awards": [_award(a) for a in state.awards],
        "withheld": [
            {
                "at": w.at,
                "milestone": w.milestone.info.index,
                "reward": w.reward_index,
                "role": w.role,
                "beneficiary": w.beneficiary,
                "referee": w.referral.referee,
                "reason": w.reason,
                "amount": _enc(w.amount),
            }
            for w in state.withheld
        ],
        "rejected": [[r.event, r.at, r.referrer, r.referee, r.reason, r.detail] for r in state.rejected],
        "cap_used": [[list(key), _enc(amount)] for key, amount in state.cap_used.items()],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _award(award: IssuedAward) -> dict[str, Any]:
    return {
        "id": award.id,
        "at": award.at,
        "milestone": award.milestone.info.index,
        "reward": award.reward_index,
        "role": award.role,
        "beneficiary": award.beneficiary,
        "referee": award.referral.referee,
        "amount": _enc(award.amount),
        "event": award.event,
        "trigger": _enc(award.trigger),
        "occurrence": award.occurrence,
        "values": _enc(award.values),
        "capped": award.capped,
        "snapshot": _enc(award.snapshot),
    }


def load(program: Program, blob: bytes | str) -> Session:
    """A session restored from `dump` output, for the same rule file."""
    from .api import Session

    try:
        data = json.loads(blob)
    except ValueError as error:
        raise SnapshotError(f"not a session snapshot: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SnapshotError(f"not a session snapshot (expected format `{FORMAT}`)")
    if data.get("fingerprint") != fingerprint(program):
        raise SnapshotError(
            f"the snapshot belongs to another version of the rules (ruleset `{data.get('ruleset')}`); "
            "restore it with the rule file it was taken with"
        )
    try:
        return _restore(Session(program), data)
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise SnapshotError(f"damaged session snapshot: {error!r}") from None


def _restore(session: Session, data: dict[str, Any]) -> Session:
    engine: Engine = session.engine
    compiled = engine.compiled
    state = engine.state
    count = len(compiled.milestones)
    session._seen = _dec(data["seen"])
    session._last = (data["last"][0], data["last"][1]) if data["last"] is not None else None
    session._latest = data["latest"]
    session._count = data["count"]
    for item in data["referrers"]:
        referrer = ReferrerState(item["referrer"], _dec(item["m"]), count)
        referrer.done = item["done"]
        referrer.prev = _dec(item["prev"])
        state.referrers[item["program"]][item["referrer"]] = referrer
    for item in data["referrals"]:
        referral = Referral(
            item["id"], item["at"], item["referrer"], item["referee"], _dec(item["fields"]), _dec(item["m"]), count
        )
        referral.done = item["done"]
        referral.prev = _dec(item["prev"])
        referral.kept = _dec(item["kept"])
        referral.programs = item["programs"]
        referral.contrib = {int(p): c for p, c in _dec(item["contrib"]).items()}
        for p in referral.programs:
            referral.links.append((compiled.programs[p], state.referrers[p][referral.referrer]))
        state.referrals[referral.referee] = referral
    for item in data["awards"]:
        milestone = compiled.milestones[item["milestone"]]
        state.awards.append(
            IssuedAward(
                item["id"],
                item["at"],
                milestone,
                item["reward"],
                item["role"],
                item["beneficiary"],
                state.referrals[item["referee"]],
                _dec(item["amount"]),
                item["event"],
                _dec(item["trigger"]),
                item["occurrence"],
                tuple(_dec(item["values"])),
                item["capped"],
                _dec(item["snapshot"]),
            )
        )
    for item in data["withheld"]:
        state.withheld.append(
            Withheld(
                item["at"],
                compiled.milestones[item["milestone"]],
                item["reward"],
                item["role"],
                item["beneficiary"],
                state.referrals[item["referee"]],
                item["reason"],
                _dec(item.get("amount")),  # absent from snapshots written before withheld amounts
            )
        )
    state.rejected.extend(Rejected(*row) for row in data["rejected"])
    state.cap_used = {tuple(key): _dec(amount) for key, amount in data["cap_used"]}
    return session
