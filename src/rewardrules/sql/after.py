"""`after D [from EVENT] if C` counted per referrer (C reads a per-referrer
metric), in SQL.

The Python engine (`Engine._arm_one`, `Engine._ring`) keeps one clock per
referee, as for `after D` counted per referral: started at the referral
(or at its first EVENT) in the program, due D later. When one is due, at
or before the as-of, it tests C with that referral's metrics and its
referrer's, after every event up to and including the instant, and
awards the milestone to the referrer once: the first due timer at which
C holds wins, timers of one instant taken by referee (the heap's order,
`Timer.scope`). A timer at which C is false earns nothing and sets
nothing, so a later referee's timer may still pay. The award belongs to
that timer's referral (its referee is the award's and a referee reward's
beneficiary; its events take it back).

So `h{k}` (sql/timers.py) keeps, per referrer, the first of its
referrals' due timers whose C holds, by instant then referee.
"""

from __future__ import annotations


def first_per_referrer(hits: str) -> str:
    """`hits` (one row per referral whose timer is due by the as-of with
    C holding, its instant `"at"`) cut to the first per referrer, by
    instant then referee, as the Python engine fires them."""
    first = 'ROW_NUMBER() OVER (PARTITION BY referrer ORDER BY "at", referee) AS w'
    return f"SELECT * EXCLUDE (w) FROM (SELECT *, {first} FROM ({hits}) AS f) AS g WHERE w = 1"
