"""Stage 6, report: results in, explanations and reports out.

Takes every stage below. Gives explanations (``explain``, ``trace``), the
HTML report (``html``), result and ledger diffs (``diff``), SARIF for code
scanning (``sarif``) and rule tests (``testing``).

Until the next release, ``rewardrules.report`` also answers for the names of
the old ``rewardrules/report.py`` module, the result record (now
``rewardrules.score.result``).
"""

from ..core.compat import old_names

__getattr__ = old_names(__name__, "rewardrules.score.result")
