"""The layout is the pipeline: one package per stage, each importing only
the stages before it (docs/architecture.md).

Every module under src/rewardrules is parsed (not imported) and each of its
imports (at the top, inside functions, under TYPE_CHECKING) is resolved to
the stage it reaches. A stage that imports a later one fails here, with the
list of offending imports."""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import rewardrules
import rewardrules.check
import rewardrules.compiler
import rewardrules.ledger
import rewardrules.report

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rewardrules"

#: The stages, bottom first. A module may import its own stage and the ones
#: before it. ``sources`` (payload exports turned into ledger lines) needs
#: only the ledger stage, and so does ``match`` (partner matching); ``lsp`` (the language
#: server) builds on ``report``; the package root (the lazy public API) comes last.
STAGES = (
    "core",
    "syntax",
    "check",
    "compiler",
    "sql",
    "ledger",
    "sources",
    "match",
    "score",
    "simulate",
    "report",
    "lsp",
    "cli",
    "rewardrules",
)
RANK = {stage: rank for rank, stage in enumerate(STAGES)}

#: The version is a constant of the package root, not a stage: the CLI, the
#: HTML report and SARIF print it.
ROOT_CONSTANTS = {"__version__"}


@dataclass(frozen=True)
class Edge:
    module: str
    line: int
    target: str
    problem: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}: {self.problem}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_shim(path: Path) -> bool:
    """A module kept at an old path for a release: a flat module of the
    package root (every stage lives in a folder now)."""
    return path.parent == PACKAGE and path.stem not in ("__init__", "__main__")


def stage_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "rewardrules"
    return parts[1]


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if not is_shim(path)}


def imported(module: str, path: Path) -> list[tuple[int, str]]:
    """Each rewardrules module that ``module`` imports, with its line; a
    name imported from a package (``from .. import limits``) counts as the
    submodule it names, when there is one."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "rewardrules"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "rewardrules":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if target == "rewardrules" and alias.name in ROOT_CONSTANTS:
                    continue
                found.append((node.lineno, sub if _exists(sub) else target))
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def _old_path(module: str) -> bool:
    parts = module.split(".")
    return len(parts) == 2 and is_shim(PACKAGE / f"{parts[1]}.py") and (PACKAGE / f"{parts[1]}.py").is_file()


def problems() -> list[Edge]:
    edges: list[Edge] = []
    for module, path in modules().items():
        stage = stage_of(module)
        for line, target in imported(module, path):
            if _old_path(target):
                edges.append(Edge(module, line, target, "an old path kept for a release; import the stage's module"))
                continue
            reached = stage_of(target)
            if RANK[reached] > RANK[stage]:
                edges.append(Edge(module, line, target, f"{stage} may not import {reached}, a later stage"))
    return edges


def test_every_module_is_in_a_stage() -> None:
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert folders == set(STAGES) - {"rewardrules"}, "a new stage goes into STAGES (and docs/architecture.md)"


def test_stages_import_only_earlier_stages() -> None:
    edges = problems()
    assert not edges, "imports against the pipeline's order:\n" + "\n".join(map(str, edges))


def test_every_stage_says_what_it_takes_and_gives() -> None:
    for stage in STAGES[:-1]:
        tree = ast.parse((PACKAGE / stage / "__init__.py").read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"rewardrules.{stage} has no docstring"


def test_old_paths_are_thin_shims() -> None:
    """A flat module at the root is only an old name kept for a release:
    it re-exports its moved module and holds no code of its own."""
    for path in sorted(PACKAGE.glob("*.py")):
        if not is_shim(path):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree) or ""
        assert doc.startswith("Moved to :mod:`rewardrules."), f"{path.name} is not a shim: put it in a stage"
        assert not any(isinstance(node, ast.FunctionDef | ast.ClassDef) for node in tree.body), path.name


def test_the_check_finds_a_later_stage_imported_inside_a_function(tmp_path: Path) -> None:
    """The check itself: an import of a later stage, even one tucked inside
    a function, is reported with its module and line."""
    bad = tmp_path / "lint.py"
    bad.write_text("def f():\n    from ..score.api import load\n", encoding="utf-8")
    found = imported("rewardrules.check.lint", bad)
    assert found == [(2, "rewardrules.score.api")]
    assert RANK[stage_of(found[0][1])] > RANK[stage_of("rewardrules.check.lint")]


def test_old_module_paths_still_import() -> None:
    """For a release, each old path is the moved module itself (so patches
    and private names reach it), and the old modules that became stage
    folders still answer for their names."""
    for path in sorted(PACKAGE.glob("*.py")):
        if not is_shim(path):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        moved = next(node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.level == 1)
        new = next(
            alias.name
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.level == 1
            for alias in node.names
        )
        old = importlib.import_module(f"rewardrules.{path.stem}")
        assert old is importlib.import_module(f"rewardrules.{moved}.{new}"), path.name
        assert getattr(rewardrules, path.stem) is old
    assert rewardrules.check.check_text is importlib.import_module("rewardrules.check.checker").check_text
    assert (
        rewardrules.compiler.compile_ruleset is importlib.import_module("rewardrules.compiler.generate").compile_ruleset
    )
    assert rewardrules.ledger.LedgerError is rewardrules.LedgerError
    assert rewardrules.ledger.IdLog is importlib.import_module("rewardrules.ledger.idlog").IdLog
    assert rewardrules.report.Reporter is importlib.import_module("rewardrules.score.result").Reporter
