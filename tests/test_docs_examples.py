"""The docs run: every command, Python snippet and rule file they show is
executed, so a doc that stops matching the code fails CI.

Conventions in docs/*.md and README.md:

- A ```console block holds `$ rewardrules ...` lines, each followed by its
  expected output (standard output, then standard error). A line `...`
  stands for any number of lines. A command must exit with 0, unless it
  ends with `; echo $?`: then the exit code is the last output line.
- ```python blocks run in order, in one namespace per page, on the pages
  for apps (docs/embedding.md, README.md) and on any page that says
  `<!-- docs-test: run python -->`. A ```text block right after one,
  marked `<!-- output -->`, is its exact output.
- `<!-- file: PATH -->` right before a block names a file: a file of the
  repository (a reference program) must be identical to the block; any
  other path is created with the block's text, for the commands after it
  (the tutorial builds its program this way, step by step).

Each page runs in a fresh folder that links to the repository's top-level
entries, so `rulesets/...` and `examples/...` work as from the repository's
root, and nothing a page writes lands in the repository.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import re
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from rewardrules.cli import main

from .conftest import ROOT

PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
PYTHON_PAGES = {ROOT / "docs" / "embedding.md", ROOT / "README.md"}
RUN_PYTHON = "<!-- docs-test: run python -->"
FENCE = re.compile(r"^```(\w*)\s*$")
MARK = re.compile(r"^<!--\s*(file:\s*(?P<file>\S+)|output)\s*-->\s*$")


@dataclass(slots=True)
class Block:
    lang: str
    text: str
    line: int
    file: str | None = None  # from a `<!-- file: PATH -->` mark
    output: bool = False  # marked `<!-- output -->`


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a page (top level, in order) with their marks."""
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    mark: re.Match[str] | None = None
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            found = MARK.match(lines[i])
            mark = found if found else (mark if not lines[i].strip() else None)
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i] != "```":
            body.append(lines[i])
            i += 1
        i += 1
        text = "\n".join(body) + "\n"
        block = Block(fence.group(1), text, start + 1)
        if mark is not None:
            block.file = mark.group("file")
            block.output = mark.group("file") is None
        out.append(block)
        mark = None
    return out


def _workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    for entry in ROOT.iterdir():
        if not entry.name.startswith("."):
            (work / entry.name).symlink_to(entry)
    return work


def _expected_matches(expected: str, actual: str) -> bool:
    """Exact, but a line `...` matches any lines (none included)."""
    parts = []
    for line in expected.splitlines():
        parts.append(r"(?:.*\n)*?" if line == "..." else re.escape(line) + r"\n")
    return re.fullmatch("".join(parts), actual) is not None


def run_console(block: Block, where: str, capsys: pytest.CaptureFixture[str]) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            assert commands, f"{where}: output before the first `$ ` line"
            commands[-1][1].append(line)
    assert commands, f"{where}: a console block without a command"
    for command, expected_lines in commands:
        show_code = command.endswith("; echo $?")
        argv = shlex.split(command.removesuffix("; echo $?"))
        assert argv[0] == "rewardrules", f"{where}: console blocks run `rewardrules` only, not `{argv[0]}`"
        capsys.readouterr()
        try:
            code = main(argv[1:])
        except SystemExit as exit:  # argparse's own errors (usage, --help)
            code = exit.code if isinstance(exit.code, int) else 2
        captured = capsys.readouterr()
        actual = captured.out + captured.err
        if show_code:
            actual += f"{code}\n"
        else:
            assert code == 0, f"{where}: `{command}` exited with {code} (add `; echo $?` to show it)\n{actual}"
        expected = "\n".join(expected_lines) + "\n" if expected_lines else ""
        assert _expected_matches(expected, actual), (
            f"{where}: the output of `{command}` differs\n--- the page says:\n{expected}--- the command printed:\n{actual}"
        )


def run_page(path: Path, work: Path, capsys: pytest.CaptureFixture[str]) -> int:
    """Run one page's blocks in order; return how many were run or checked."""
    namespace: dict[str, object] = {"__name__": "__docs__"}
    python = path in PYTHON_PAGES or RUN_PYTHON in path.read_text(encoding="utf-8")
    last_python_output: str | None = None
    done = 0
    for block in blocks(path):
        where = f"{path.relative_to(ROOT)}:{block.line}"
        if block.file is not None:
            target = ROOT / block.file
            if target.exists():
                assert block.text == target.read_text(encoding="utf-8"), f"{where}: differs from {block.file}"
            else:
                created = work / block.file
                assert created.resolve().is_relative_to(work.resolve()), f"{where}: {block.file} is outside the page"
                created.parent.mkdir(parents=True, exist_ok=True)
                created.write_text(block.text, encoding="utf-8")
            done += 1
        if block.lang == "console":
            run_console(block, where, capsys)
            done += 1
        elif block.lang == "python" and python:
            last_python_output = _run_python(block, where, namespace, capsys)
            done += 1
            continue
        elif block.output:
            assert last_python_output is not None, f"{where}: `<!-- output -->` without a python block before it"
            assert block.text == last_python_output, (
                f"{where}: the snippet printed\n{last_python_output}\nbut the page says\n{block.text}"
            )
            done += 1
        last_python_output = None
    return done


def _run_python(block: Block, where: str, namespace: dict[str, object], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        # A short example may leave a file to the garbage collector.
        warnings.simplefilter("ignore", ResourceWarning)
        exec(compile(block.text, where, "exec"), namespace)
        gc.collect()
    return out.getvalue()


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_page_runs(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = _workdir(tmp_path)
    old = Path.cwd()
    os.chdir(work)
    try:
        run_page(path, work, capsys)
    finally:
        os.chdir(old)


def test_every_reference_program_is_in_the_cookbook_verbatim() -> None:
    named = {b.file for b in blocks(ROOT / "docs" / "cookbook.md") if b.file}
    programs = {f"rulesets/{p.name}" for p in (ROOT / "rulesets").glob("*.rules")}
    assert programs - named == set()


def test_the_runner_finds_commands_and_snippets() -> None:
    kinds = [b.lang for page in PAGES for b in blocks(page)]
    assert kinds.count("console") >= 8
    assert kinds.count("python") >= 3


@pytest.mark.parametrize(
    ("expected", "actual", "matches"),
    [
        ("a\nb\n", "a\nb\n", True),
        ("a\n...\nd\n", "a\nb\nc\nd\n", True),
        ("a\n...\nd\n", "a\nd\n", True),
        ("a\n...\n", "a\nb\n", True),
        ("a\nb\n", "a\nc\n", False),
        ("a\n", "a\nb\n", False),
        ("a.c\n", "abc\n", False),
    ],
    ids=["exact", "elided", "elided-none", "elided-tail", "differs", "more-output", "no-regex"],
)
def test_elision(expected: str, actual: str, matches: bool) -> None:
    assert _expected_matches(expected, actual) is matches
