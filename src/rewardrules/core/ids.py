"""Ids of the records a result holds: awards, reversals, reissued awards.

An id is a hash of what its record is for, never of positions in the
ledger. The fields are strings that come from rule files and ledgers, so
they may hold any character: they are encoded so that no two different
tuples of fields give the same bytes (each field length-prefixed, as a
netstring), then hashed with SHA-256. The recipe is simple enough to run
in SQL (docs/semantics.md, "Award ids"):

    bytes  = for each field: <UTF-8 byte length in decimal> ":" <UTF-8 bytes> ","
    id     = prefix + the first 32 lowercase hex digits of SHA-256(bytes)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

#: hex digits of the digest kept in an id (128 bits); ids of earlier
#: releases had 24, so an old id is never taken for a new one
DIGITS = 32


def field_bytes(field: str) -> bytes:
    """One field as a netstring: its UTF-8 byte length, `:`, the bytes, `,`."""
    data = field.encode("utf-8")
    return b"%d:%s," % (len(data), data)


def encode(fields: Iterable[str]) -> bytes:
    """The fields as one byte string, read back unambiguously: every field
    says its own length, so no content can shift a boundary."""
    return b"".join(field_bytes(field) for field in fields)


def make_id(prefix: str, fields: Iterable[str]) -> str:
    """`prefix` and the first `DIGITS` hex digits of SHA-256 of `encode(fields)`."""
    return prefix + hashlib.sha256(encode(fields)).hexdigest()[:DIGITS]


def award_head(ruleset: str, program: str, milestone: str) -> hashlib._Hash:
    """The award-id hash with its first fields already fed (`award`, the
    ruleset, program and milestone names): copied for each award, a quarter
    cheaper than hashing every field each time (see `award_id`)."""
    return hashlib.sha256(encode(("award", ruleset, program, milestone)))


def award_id(
    head: hashlib._Hash, referrer: str, referee: str, occurrence: str, role: str, beneficiary: str, rank: int = 1
) -> str:
    """An award's id: `aw_` and the hash of ("award", ruleset, program,
    milestone, referrer, referee, occurrence, role, beneficiary), the first
    four fed to `head` already. A per-referrer milestone's referee and an
    award without occurrence give "" (the milestone decides which applies).
    `rank`: the reward's place among its milestone's rewards of that role
    (1 for the first); from the second on, it is a tenth field, so that two
    rewards of one role (a discount and a credit to the friend) never share
    an id, and the first keeps the id it always had."""
    digest = head.copy()
    if rank > 1:
        digest.update(encode((referrer, referee, occurrence, role, beneficiary, str(rank))))
        return "aw_" + digest.hexdigest()[:DIGITS]
    # the common case in one step: lengths in characters, which are the
    # UTF-8 lengths when the whole text is ASCII (then so is every field),
    # so the bytes are `encode`'s, without a call per field
    text = (
        f"{len(referrer)}:{referrer},{len(referee)}:{referee},{len(occurrence)}:{occurrence},"
        f"{len(role)}:{role},{len(beneficiary)}:{beneficiary},"
    )
    if text.isascii():
        digest.update(text.encode("ascii"))
    else:
        digest.update(encode((referrer, referee, occurrence, role, beneficiary)))
    return "aw_" + digest.hexdigest()[:DIGITS]


def reversal_id(award: str) -> str:
    """The id of the reversal that takes an award back: it depends on the
    award's id only, so whichever event turns out to take it back, and
    whatever events arrive later, an app claws it back once."""
    return make_id("rv_", ("reversal", award))


def partial_reversal_id(award: str, event: str) -> str:
    """The id of the reversal that takes part of an award back, at one
    event of a partial `void` (a partial refund): the award's id and that
    event's id, so each refund is clawed back once, whatever arrives later.
    Three fields, never the two of `reversal_id`: the ids cannot meet."""
    return make_id("rv_", ("reversal", award, event))


def reissue_id(award: str, amount: str, unit: str, attempt: int) -> str:
    """The id of an award paid again at another amount after a settled
    award was reversed (see `settle`): the original id, the new amount and
    unit, and which attempt (1, then 2 if that id was reversed in turn)."""
    return make_id("aw_", ("reissue", award, amount, unit, str(attempt)))
