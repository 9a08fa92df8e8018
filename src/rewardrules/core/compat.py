"""Old module names that became stage packages, kept for a release.

``rewardrules.check``, ``.compiler``, ``.ledger`` and ``.report`` were
modules; now each is a stage's folder. Each package's ``__getattr__`` (from
:func:`old_names`) still answers for the old module's names, importing that
module on first use, so that importing one module of a stage does not load
the rest of it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

_MISSING = object()


def old_names(package: str, *modules: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that looks names up in
    ``modules`` (absolute, in order), where the names of the module the
    package's name used to be now live. The
    package's own submodules are never looked up there: they are imported
    as usual (and a module of the stage that is still loading is not
    forced to load the old module half-way through)."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__") or importlib.util.find_spec(f"{package}.{name}") is not None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        for module in modules:
            value = getattr(importlib.import_module(module), name, _MISSING)
            if value is not _MISSING:
                return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
