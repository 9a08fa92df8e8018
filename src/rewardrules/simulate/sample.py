"""A backtest on a sample of a real ledger: some referrers, all they did.

`simulate --ledger L --sample SIZE` scores the lines of a sample of the
ledger's referrers instead of the whole ledger: a quick answer on a large
history. What is sampled is referrers, never lines: a referrer in the
sample keeps every line that names them (`referrer`) and every line of a
referee one of those lines names (`referee`: its payments, refunds,
subscriptions), so each sampled referrer's caps, tiers and milestones are
scored on their whole history, exactly. Lines that name neither a
referrer nor a referee are kept; the other lines are dropped.

The sample is the same for a seed whatever the ledger's line order:
referrers are ranked by a hash of the seed and their name (ties by name),
and the first SIZE taken. Dropped lines are given to the scorer as blank
lines, so a problem in the ledger names its line in the file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ..core import limits
from ..core.timeutil import TimestampError, parse_timestamp
from ..ledger.decode import decode_line


@dataclass(frozen=True)
class Sample:
    """What was sampled: `size` of the ledger's `of` referrers, for `seed`."""

    size: int
    of: int
    seed: int
    #: the whole ledger's latest instant (ns), the sample's as-of: an award
    #: of a sampled referrer is held or confirmed as in the whole ledger
    latest: int | None = None

    def record(self) -> dict[str, Any]:
        """The report's `sample`: figures are of the sample, not scaled."""
        return {"referrers": self.size, "of": self.of, "seed": self.seed, "scaled": False}


def sample_size(text: str) -> Decimal | int:
    """`--sample`: a share of the referrers (a decimal number above 0 and
    below 1, `0.1`) or a number of them (a whole number, `500`).
    ValueError for anything else."""
    if text.isascii() and text.isdecimal() and len(text) <= 9 and int(text) >= 1:
        return int(text)
    if text.isascii() and text.startswith("0.") and text[2:].isdecimal() and len(text) <= 12:
        share = Decimal(text)
        if 0 < share < 1:
            return share
    raise ValueError(
        f"expected a share of the referrers above 0 and below 1 (0.1) or a number of them (500), not {text!r}"
    )


def _rank(seed: int, referrer: str) -> bytes:
    """The referrer's place for `seed`. A name may hold a lone surrogate
    (a JSON escape `\\ud800`): it is ranked by its code points all the same,
    and the scorer reports it if it is sampled."""
    text = f"rewardrules-sample/1:{seed}:{referrer}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def sample_lines(lines: list[Any], size: Decimal | int, seed: int) -> tuple[list[Any], Sample]:
    """The ledger's `lines` with those of referrers out of the sample
    blanked, and what was sampled. A line that is not a JSON object is
    kept, for the scorer to report."""
    events = _events(lines)
    referrers = sorted({event["referrer"] for event in events if event is not None and _named(event, "referrer")})
    count = min(size, len(referrers)) if isinstance(size, int) else _share(size, len(referrers))
    chosen = set(sorted(referrers, key=lambda name: (_rank(seed, name), name))[:count])
    referees = {
        event["referee"]
        for event in events
        if event is not None and event.get("referrer") in chosen and _named(event, "referee")
    }
    kept = [line if _kept(event, chosen, referees) else b"" for line, event in zip(lines, events, strict=True)]
    return kept, Sample(count, len(referrers), seed, _latest(events))


def _latest(events: list[dict[str, Any] | None]) -> int | None:
    """The latest valid `at` of the events (a line's bad `at` is the
    scorer's to report)."""
    instants = []
    for event in events:
        if event is not None and isinstance(event.get("at"), str):
            try:
                instants.append(parse_timestamp(event["at"]))
            except TimestampError:
                continue
    return max(instants, default=None)


def _share(share: Decimal, total: int) -> int:
    """`share` of `total`, to the nearest whole (half to even), at least one
    when there is any: a sample of 0.001 of 100 referrers is 1 of them."""
    if not total:
        return 0
    return max(1, int((share * total).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)))


def _events(lines: list[Any]) -> list[dict[str, Any] | None]:
    """Each line's object, or None (blank, too long, not JSON, nested too
    deep to read, not an object): such a line is kept, for the scorer to
    report. Decoded by the ledger's decoder (`decode.decode_line`: numbers
    exact, a line longer than the ledger's limit not decoded at all); a
    name with an unpaired surrogate is kept, sampled as any other, for the
    scorer to report where it is."""
    return [_event(line, first=number == 0) for number, line in enumerate(lines)]


def _event(line: Any, first: bool = False) -> dict[str, Any] | None:
    if not isinstance(line, (str, bytes)) or len(line) > limits.MAX_LEDGER_LINE_BYTES or not line.strip():
        return None
    if first:  # the byte order mark some tools write, as the scorer drops it
        line = line.removeprefix(b"\xef\xbb\xbf") if isinstance(line, bytes) else line.removeprefix("\ufeff")
    try:
        value = decode_line(line)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _named(event: dict[str, Any], field: str) -> bool:
    return isinstance(event.get(field), str)


def _kept(event: dict[str, Any] | None, chosen: set[str], referees: set[str]) -> bool:
    """Whether a line is in the sample: it names a sampled referrer, or
    (naming no referrer) a referee of one, or neither."""
    if event is None:
        return True
    if _named(event, "referrer"):
        return event["referrer"] in chosen
    if _named(event, "referee"):
        return event["referee"] in referees
    return True
