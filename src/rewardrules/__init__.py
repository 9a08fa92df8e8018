"""rewardrules: referral and partner reward programs as rule files.

The pipeline is the layout: source -> parse -> check -> compile -> evaluate
(engine) -> report. :func:`load` and :func:`compile` run the first stages;
:meth:`Program.score` and :meth:`Program.session` run the rest.

Names are imported on first use, so a command that only checks rule files
does not pay for the scoring engine or pydantic at start-up. `__all__` (and
`dir()`) list the public names: the API and every exception it raises.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

__version__ = "0.1.0"

_EXPORTS = {
    "Award": "models",
    "AwardLimitError": "limits",
    "Diagnostic": "diagnostics",
    "InputError": "reading",
    "LedgerError": "ledger",
    "LedgerEvent": "models",
    "LedgerProblem": "ledger",
    "Program": "api",
    "Reversal": "models",
    "RuleError": "diagnostics",
    "ScoreResult": "api",
    "ScratchError": "ledger",
    "Session": "api",
    "SnapshotError": "snapshot",
    "check_source": "api",
    "compile": "api",
    "json_schema": "models",
    "load": "api",
}

__all__ = [
    "Award",
    "AwardLimitError",
    "Diagnostic",
    "InputError",
    "LedgerError",
    "LedgerEvent",
    "LedgerProblem",
    "Program",
    "Reversal",
    "RuleError",
    "ScoreResult",
    "ScratchError",
    "Session",
    "SnapshotError",
    "check_source",
    "compile",
    "json_schema",
    "load",
]

if _typing.TYPE_CHECKING:
    from .api import Program, ScoreResult, Session, check_source, compile, load
    from .diagnostics import Diagnostic, RuleError
    from .ledger import LedgerError, LedgerProblem, ScratchError
    from .limits import AwardLimitError
    from .models import Award, LedgerEvent, Reversal, json_schema
    from .reading import InputError
    from .snapshot import SnapshotError


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rewardrules' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names only: not the submodules imported so far, nor the
    names this module uses itself."""
    return sorted([*__all__, "__version__"])
