"""Stage 2, check: a syntax tree in, a checked program (or diagnostics) out.

Takes ``core`` and ``syntax``. Gives the checker (``checker``, which runs
its passes in order: ``declarations``; ``expressions`` and metrics;
``programs``, milestones and rewards; ``messages``, the texts and message
templates; all on the shared state of ``scope``), the checked program it
hands on (``program``), lint warnings (``lint``), award bounds (``bounds``)
and the checks of message templates (``templates``).

Until the next release, ``rewardrules.check`` also answers for the names of
the old ``rewardrules/check.py`` module (now ``checker`` and the modules of
its passes).
"""

from ..core.compat import old_names

__getattr__ = old_names(
    __name__,
    "rewardrules.check.checker",
    "rewardrules.check.scope",
    "rewardrules.check.declarations",
    "rewardrules.check.expressions",
    "rewardrules.check.messages",
    "rewardrules.check.programs",
)
