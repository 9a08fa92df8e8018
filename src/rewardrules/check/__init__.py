"""Stage 2, check: a syntax tree in, a checked program (or diagnostics) out.

Takes ``core`` and ``syntax``. Gives the checker (``checker``), the checked
program it hands on (``program``), lint warnings (``lint``), award bounds
(``bounds``) and the checks of message templates (``templates``).

Until the next release, ``rewardrules.check`` also answers for the names of
the old ``rewardrules/check.py`` module (now ``checker``).
"""

from ..core.compat import old_names

__getattr__ = old_names(__name__, "rewardrules.check.checker")
