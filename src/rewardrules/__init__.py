"""rewardrules: referral and partner reward programs as rule files.

The pipeline is the layout: source -> parse -> check -> compile -> evaluate
(engine) -> report. :func:`load` and :func:`compile` run the first stages;
:meth:`Program.score` and :meth:`Program.session` run the rest.
"""

from .api import Program, ScoreResult, Session, check_source, compile, load
from .diagnostics import Diagnostic, RuleError
from .ledger import LedgerError
from .models import Award, LedgerEvent, json_schema

__version__ = "0.1.0"

__all__ = [
    "Award",
    "Diagnostic",
    "LedgerError",
    "LedgerEvent",
    "Program",
    "RuleError",
    "ScoreResult",
    "Session",
    "check_source",
    "compile",
    "json_schema",
    "load",
]
