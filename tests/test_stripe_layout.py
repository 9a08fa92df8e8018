"""The Stripe adapter's layout (docs/architecture.md): one module per step of
its mapping, each importing only the modules below it, and the package
giving the names that ``rewardrules.sources.stripe`` always gave.

Imports are read from the source (as tests/test_architecture.py reads them:
at the top, inside functions, under TYPE_CHECKING), not by importing."""

from __future__ import annotations

import ast
import importlib

import rewardrules.sources.stripe as stripe

from .test_architecture import PACKAGE, imported, module_name

FOLDER = PACKAGE / "sources" / "stripe"
PREFIX = "rewardrules.sources.stripe."

#: The adapter's modules, bottom first: each may import only those before it.
ORDER = ("public", "fields", "envelopes", "facts", "rows", "mrr", "resolve", "pipeline")

#: What the single module ``sources/stripe.py`` exported (its ``__all__``).
PUBLIC = ["STRIPE_EXPONENTS", "Ingested", "Options", "Problem", "Report", "StripeError", "ingest", "to_ledger"]


def test_the_adapter_is_the_modules_of_its_steps() -> None:
    found = sorted(path.stem for path in FOLDER.glob("*.py") if path.stem != "__init__")
    assert found == sorted(ORDER), "a new module of the adapter goes into ORDER (and docs/architecture.md)"


def test_each_module_imports_only_the_ones_below_it() -> None:
    wrong = []
    for rank, name in enumerate(ORDER):
        path = FOLDER / f"{name}.py"
        for line, target in imported(module_name(path), path):
            if not target.startswith(PREFIX):
                continue
            other = target.removeprefix(PREFIX).split(".")[0]
            if other not in ORDER[:rank]:
                wrong.append(f"{name}.py:{line} imports {other}, which is not below it")
    assert not wrong, "\n".join(wrong)


def test_each_module_says_what_it_takes_and_gives() -> None:
    for path in sorted(FOLDER.glob("*.py")):
        assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), f"{path.name} has no docstring"


def test_the_package_gives_the_names_the_module_gave() -> None:
    assert stripe.__all__ == PUBLIC
    for name in PUBLIC:
        value = getattr(stripe, name)
        home = importlib.import_module(f"{PREFIX}{'pipeline' if name in ('ingest', 'to_ledger') else 'public'}")
        assert value is getattr(home, name), name
