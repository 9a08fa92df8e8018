"""rewardrules: referral and partner reward programs as rule files.

The pipeline is the layout, one package per stage, each importing only
the ones before it: core (source, diagnostics) -> syntax -> check ->
compiler -> ledger -> score -> report (docs/architecture.md).
:func:`load` and :func:`compile` run the first stages; :meth:`Program.score`
and :meth:`Program.session` run the rest.

Names are imported on first use, so a command that only checks rule files
does not pay for the scoring engine or pydantic at start-up. `__all__` (and
`dir()`) list the public names: the API and every exception it raises.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

__version__ = "0.1.0"

_EXPORTS = {
    "Award": "score.schema",
    "AwardLimitError": "core.limits",
    "Diagnostic": "core.diagnostics",
    "InputError": "ledger.reading",
    "LedgerError": "ledger.events",
    "LedgerEvent": "score.schema",
    "LedgerProblem": "ledger.events",
    "Program": "score.api",
    "Reversal": "score.schema",
    "RuleError": "core.diagnostics",
    "ScoreResult": "score.api",
    "ScratchError": "ledger.idlog",
    "Session": "score.api",
    "SessionStoppedError": "score.api",
    "SnapshotError": "score.snapshot",
    "ValueLimitError": "core.limits",
    "check_source": "score.api",
    "compile": "score.api",
    "json_schema": "score.schema",
    "load": "score.api",
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
    "SessionStoppedError",
    "SnapshotError",
    "ValueLimitError",
    "check_source",
    "compile",
    "json_schema",
    "load",
]

if _typing.TYPE_CHECKING:
    from .core.diagnostics import Diagnostic, RuleError
    from .core.limits import AwardLimitError, ValueLimitError
    from .ledger.events import LedgerError, LedgerProblem
    from .ledger.idlog import ScratchError
    from .ledger.reading import InputError
    from .score.api import Program, ScoreResult, Session, SessionStoppedError, check_source, compile, load
    from .score.schema import Award, LedgerEvent, Reversal, json_schema
    from .score.snapshot import SnapshotError


#: Modules that moved into a stage's package: ``rewardrules.<name>`` is kept
#: for a release (a module aliasing the new one). Before the move such a
#: module was an attribute of the package once anything had imported it
#: (`rewardrules.snapshot.SnapshotError` after `load`); now it is imported
#: on first use.
_MOVED_MODULES = frozenset(
    {
        "_grammar_tables",
        "api",
        "arguments",
        "ast",
        "bounds",
        "codegen",
        "datatypes",
        "diagnostics",
        "diffing",
        "engine",
        "explain",
        "format",
        "formatting",
        "htmlreport",
        "ids",
        "lexer",
        "limits",
        "lint",
        "model",
        "models",
        "parse",
        "reading",
        "runtime",
        "sarif",
        "settle",
        "snapshot",
        "source",
        "templates",
        "testing",
        "timeutil",
        "trace",
        "units",
    }
)


def __getattr__(name: str) -> object:
    if name in _MOVED_MODULES:
        return _importlib.import_module(f".{name}", __name__)
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
