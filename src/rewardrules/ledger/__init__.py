"""Stage 4, ledger: JSON Lines in, validated events out.

Takes ``core``, ``check`` (the events a program uses) and ``compiler``
(the fast path's generated decoder). Gives bounded reading of every input
file (``reading``) and the ledger reader: decoding, validation, the fast
path and the id log (``reader``).

Until the next release, ``rewardrules.ledger`` also answers for the names of
the old ``rewardrules/ledger.py`` module (now ``reader``).
"""

from ..core.compat import old_names

__getattr__ = old_names(__name__, "rewardrules.ledger.reader")
