"""rewardrules: referral and partner reward programs as rule files.

The pipeline is the layout: source -> parse -> check -> compile -> evaluate
(engine) -> report. :func:`load` and :func:`compile` run the first stages;
:meth:`Program.score` and :meth:`Program.session` run the rest.

Names are imported on first use, so a command that only checks rule files
does not pay for the scoring engine or pydantic at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Award": "models",
    "AwardLimitError": "limits",
    "Diagnostic": "diagnostics",
    "LedgerError": "ledger",
    "LedgerEvent": "models",
    "Program": "api",
    "RuleError": "diagnostics",
    "ScoreResult": "api",
    "Session": "api",
    "check_source": "api",
    "compile": "api",
    "json_schema": "models",
    "load": "api",
}

__all__ = [
    "Award",
    "AwardLimitError",
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

if TYPE_CHECKING:
    from .api import Program, ScoreResult, Session, check_source, compile, load
    from .diagnostics import Diagnostic, RuleError
    from .ledger import LedgerError
    from .limits import AwardLimitError
    from .models import Award, LedgerEvent, json_schema


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rewardrules' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
