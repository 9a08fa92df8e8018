"""Stage 4, ledger: JSON Lines in, validated events out.

Takes ``core``, ``check`` (the events a program uses) and ``compiler``
(the fast path's generated decoder). Gives bounded reading of every input
file (``reading``); the events and problems it hands on (``events``);
decoding of JSON lines (``decode``), validation against a program's events
(``validate``), the generated fast path (``fast``), the id log that finds
repeated ids (``idlog``), and the reader that runs them (``reader``).

Until the next release, ``rewardrules.ledger`` also answers for the names of
the old ``rewardrules/ledger.py`` module (now split into the modules above).
"""

from ..core.compat import old_names

__getattr__ = old_names(
    __name__,
    *(f"{__name__}.{module}" for module in ("reader", "events", "decode", "validate", "fast", "idlog")),
)
