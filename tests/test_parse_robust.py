"""Parser robustness: a missing `}` gets one diagnostic at the block it left
open, a BOM is accepted, syntax recovery does linear work, diagnostics stay
short on megabyte lines, and start-up never unpickles from the cache folder."""

from __future__ import annotations

import ast as pyast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lark.exceptions import UnexpectedInput

import rewardrules
from rewardrules import parse
from rewardrules.diagnostics import ECHO_WIDTH, ELLIPSIS, QUOTE_WIDTH, Diagnostic, render
from rewardrules.sarif import sarif_log
from rewardrules.source import Source

from .conftest import RULESETS

HEAD = "event payment { amount: money USD }\nmetric paid = count payment where payment.amount > 0\n"


def milestone(name: str, threshold: int = 1) -> str:
    return f"milestone {name} {{\n  when paid >= {threshold}\n  reward referrer cash 10 USD\n}}\n"


def unclosed(name: str) -> str:
    """A milestone whose closing `}` is missing."""
    return milestone(name).removesuffix("}\n")


def summary(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.line, d.column) for d in rewardrules.check_source(text, "case.rules")]


# -- a missing `}` ----------------------------------------------------------


def test_missing_brace_mid_file_is_one_diagnostic_at_the_open_block() -> None:
    text = HEAD + unclosed("welcome") + milestone("second", 2) + milestone("third", 3)
    diagnostics = rewardrules.check_source(text, "case.rules")
    assert [(d.code, d.line, d.column) for d in diagnostics] == [("RR001", 3, 1)]
    (diagnostic,) = diagnostics
    assert diagnostic.message == "milestone `welcome` is never closed: `milestone` on line 6 cannot be inside it"
    assert diagnostic.help == "a `}` is probably missing at the end of milestone `welcome`, before line 6"
    lines = render(diagnostic).splitlines()
    assert lines[1] == "   3 | milestone welcome {"
    assert lines[2] == "     | ^^^^^^^^^^^^^^^^^^^"


def test_missing_brace_at_the_end_points_at_the_open_block() -> None:
    text = HEAD + milestone("first") + unclosed("last")
    (diagnostic,) = rewardrules.check_source(text, "case.rules")
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("RR003", 7, 1)
    assert diagnostic.message == "unexpected end of file: milestone `last` is never closed"
    assert diagnostic.help is not None and "is a `}` missing at the end of milestone `last`?" in diagnostic.help


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the innermost open block is the one named, inside a program
        (
            HEAD + "program p {\n" + unclosed("a") + milestone("b") + "}\n",
            [("RR001", 4, 1)],
        ),
        # a program left open, met by the next program
        (
            HEAD + "program p {\n" + milestone("a") + "program q {\n" + milestone("b") + "}\n",
            [("RR001", 3, 1)],
        ),
        # an event block left open, met by a metric
        (
            "event payment { amount: money USD\nmetric paid = count payment\n" + milestone("m"),
            [("RR001", 1, 1)],
        ),
        # two blocks left open in one file: both are found, nothing else
        (
            HEAD + unclosed("a") + milestone("b") + unclosed("c") + milestone("d"),
            [("RR001", 3, 1), ("RR001", 10, 1)],
        ),
    ],
    ids=["inside-program", "program", "event", "two"],
)
def test_every_block_left_open_is_named(text: str, expected: list[tuple[str, int, int]]) -> None:
    found = rewardrules.check_source(text, "case.rules")
    assert [(d.code, d.line, d.column) for d in found] == expected
    assert all("never closed" in d.message for d in found)


def test_recovery_after_a_missing_brace_still_finds_later_errors() -> None:
    broken = milestone("c").replace(">=", "=")
    text = HEAD + unclosed("a") + milestone("b") + broken
    assert summary(text) == [("RR001", 3, 1), ("RR001", 11, 13)]


# -- a byte order mark --------------------------------------------------------


def test_bom_at_the_start_is_accepted_and_columns_do_not_count_it() -> None:
    text = HEAD + milestone("m")
    assert rewardrules.check_source("\ufeff" + text, "bom.rules") == []
    typo = "\ufeffmetric x = sum paymnt.amount\n" + HEAD + milestone("m")
    (diagnostic,) = rewardrules.check_source(typo, "bom.rules")
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("RR101", 1, 16)
    assert render(diagnostic).splitlines()[1] == "   1 | metric x = sum paymnt.amount"
    assert diagnostic.to_dict()["end_column"] == 22


def test_bom_file_read_by_the_cli_checks_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rewardrules.cli import main

    path = tmp_path / "bom.rules"
    path.write_bytes(b"\xef\xbb\xbf" + (HEAD + milestone("m")).encode())
    assert main(["check", str(path)]) == 0
    assert "unexpected character" not in capsys.readouterr().out


def test_a_bom_inside_the_text_is_still_an_error() -> None:
    (diagnostic,) = rewardrules.check_source(HEAD + "\ufeff" + milestone("m"), "case.rules")
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("RR002", 3, 1)


# -- recovery does linear work ------------------------------------------------


class _Scanned(str):
    """Text that counts the characters its `count`, `find` and `index` scan."""

    scanned = 0

    def count(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        _Scanned.scanned += (len(self) if end is None else end) - (start or 0)
        return super().count(sub, start, end)

    def find(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        _Scanned.scanned += (len(self) if end is None else end) - (start or 0)
        return super().find(sub, start, end)


def test_recovery_scans_the_text_a_bounded_number_of_times() -> None:
    # an early error in a file of many small declarations: the old recovery
    # counted line breaks from the error to every later declaration
    text = "metric = 1\n" + "".join(f"metric m{i} = {i}\n" for i in range(3000))
    _Scanned.scanned = 0
    source = Source("many.rules", _Scanned(text))
    with pytest.raises(UnexpectedInput) as info:
        parse._parser().parse(source.text)
    diagnostics = parse._syntax_errors(source, info.value)
    assert [d.line for d in diagnostics] == [1]
    assert _Scanned.scanned <= 2 * len(text)


def test_recovery_parses_once_per_error_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    real = parse._parser()
    calls: list[int] = []

    class Counting:
        def parse(self, text: str) -> object:
            calls.append(len(text))
            return real.parse(text)

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    monkeypatch.setattr(parse, "_parser", lambda: Counting())
    broken = [milestone(f"m{i}", i + 1).replace(">=", "=") for i in range(30)]
    tree, diagnostics = parse.parse(Source("many.rules", HEAD + "".join(broken)))
    assert tree is None
    assert len(diagnostics) == parse.MAX_SYNTAX_ERRORS
    assert len(calls) == parse.MAX_SYNTAX_ERRORS  # the first parse and one per error after it


# -- long lines ---------------------------------------------------------------


def _long_line_error() -> tuple[str, Diagnostic]:
    """A line of 10,000 values (89 KB), its error at the end: far past any
    width a renderer cuts to (50,000 took the file 16.5 s, 10,000 6.2 s)."""
    items = ", ".join(f'"v{i}"' for i in range(10_000))
    text = HEAD.replace("\n", " ") + f"metric x = count payment where payment.amount in [{items}] ="
    (diagnostic,) = rewardrules.check_source(text, "long.rules")
    return text, diagnostic


def test_long_source_line_is_cut_around_the_column() -> None:
    text, diagnostic = _long_line_error()
    assert diagnostic.column == len(text)
    lines = render(diagnostic).splitlines()
    echoed, caret = lines[1], lines[2]
    assert echoed.startswith("   1 | " + ELLIPSIS) and echoed.endswith('"v9999"] =')
    assert len(echoed) <= len("   1 | ") + ECHO_WIDTH + 2 * len(ELLIPSIS)
    assert caret.index("^") == echoed.rindex("=") and caret.count("^") == 1
    assert sum(len(line) for line in lines) < 1000


def test_long_line_cut_on_both_sides_keeps_the_caret_under_the_span() -> None:
    name = "x" * 3000
    text = HEAD + f"metric {name} = sum payment.amout # {'y' * 3000}\n" + milestone("m")
    (diagnostic,) = [d for d in rewardrules.check_source(text, "case.rules") if d.code == "RR102"]
    echoed, caret = render(diagnostic).splitlines()[1:3]
    assert echoed.startswith("   3 | " + ELLIPSIS) and echoed.endswith(ELLIPSIS)
    start = caret.index("^")
    assert echoed[start : start + len("amout")] == "amout" and caret.count("^") == len("amout")


def test_long_names_in_messages_are_shortened_in_every_format() -> None:
    name = "p" * 100_000
    text = HEAD + f"metric y = sum {name}.amount\n" + milestone("m")
    (diagnostic,) = rewardrules.check_source(text, "case.rules")
    assert diagnostic.code == "RR101"
    rendered = render(diagnostic)
    assert len(rendered) < 1000 and f"`{'p' * (QUOTE_WIDTH // 2)}{ELLIPSIS}" in diagnostic.message
    assert len(json.dumps(diagnostic.to_dict())) < 1000
    # the log lists every code's rule whatever it reports: bound what the diagnostic adds
    empty = len(json.dumps(sarif_log([("case.rules", [])])))
    assert len(json.dumps(sarif_log([("case.rules", [diagnostic])]))) - empty < 2_000


def test_long_line_in_the_cli_json_github_and_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rewardrules.cli import main

    path = tmp_path / "long.rules"
    text = _long_line_error()[0]
    path.write_text(text)
    # a SARIF log describes every code whatever it reports: its size for a
    # clean file is not the diagnostic's
    clean = tmp_path / "clean.rules"
    clean.write_text("event payment { amount: money USD }\nmilestone m { first payment  reward referrer cash 1 USD }\n")
    assert main(["check", "--format", "sarif", str(clean)]) == 0
    base = {"sarif": len(capsys.readouterr().out)}
    for form in ("text", "json", "github", "sarif"):
        assert main(["check", "--format", form, str(path)]) == 1
        out = capsys.readouterr().out
        assert '"v5000"' not in out and len(out) - base.get(form, 0) < len(text) // 10, form


# -- the parser is never loaded from the cache folder ---------------------------


def test_planted_pickle_in_the_cache_folder_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    # Lark's cache file: a line with a digest, then pickles; this one runs
    # os.system("touch MARKER") when unpickled (pickle protocol 0)
    payload = b"0\ncos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    folder = tmp_path / "cache" / "rewardrules"
    folder.mkdir(parents=True)
    import hashlib

    import lark

    digest = hashlib.sha256(parse.grammar_text().encode()).hexdigest()
    for name in (f"grammar-{digest[:16]}-lark-{lark.__version__}.cache", "anything.cache"):
        (folder / name).write_bytes(payload)
    rules = tmp_path / "ok.rules"
    rules.write_text(HEAD + milestone("m"))
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), HOME=str(tmp_path))
    run = subprocess.run(
        [sys.executable, "-m", "rewardrules", "check", str(rules)], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert not marker.exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"grammar-{digest[:16]}-lark-{lark.__version__}.cache", "anything.cache"]
    )


def test_shipped_tables_are_plain_data_for_this_grammar() -> None:
    import lark

    from rewardrules import _grammar_tables as tables

    assert parse._grammar_digest(parse.grammar_text()) == tables.GRAMMAR_SHA256, "run `python -m rewardrules.parse`"
    assert lark.__version__ == tables.LARK_VERSION, "run `python -m rewardrules.parse`"
    module = pyast.parse(Path(tables.__file__).read_text(encoding="utf-8"))
    for node in module.body:
        if isinstance(node, (pyast.Assign, pyast.AnnAssign)) and node.value is not None:
            pyast.literal_eval(node.value)  # raises on anything but literals: no code runs on import
    assert parse._shipped_parser(parse.grammar_text()) is not None


def test_shipped_tables_parse_like_the_grammar() -> None:
    from lark import Lark

    built = Lark(parse.grammar_text(), **parse._OPTIONS)
    shipped = parse._shipped_parser(parse.grammar_text())
    assert shipped is not None
    for path in sorted(RULESETS.glob("*.rules")):
        text = path.read_text(encoding="utf-8")
        assert shipped.parse(text) == built.parse(text), path.name


def test_tables_for_another_grammar_are_not_used() -> None:
    assert parse._shipped_parser(parse.grammar_text() + "\n// changed\n") is None


def test_tables_module_is_reproducible_from_the_grammar() -> None:
    from lark import Lark

    values = {}
    for node in pyast.parse(parse.tables_module()).body:
        if isinstance(node, (pyast.Assign, pyast.AnnAssign)) and node.value is not None:
            target = node.targets[0] if isinstance(node, pyast.Assign) else node.target
            assert isinstance(target, pyast.Name)
            values[target.id] = pyast.literal_eval(node.value)
    assert values["GRAMMAR_SHA256"] == parse._grammar_digest(parse.grammar_text())
    regenerated = Lark._load_from_dict(values["DATA"], values["MEMO"])
    text = (RULESETS / "partner_and_customer.rules").read_text(encoding="utf-8")
    assert regenerated.parse(text) == parse._parser().parse(text)


@pytest.mark.parametrize(
    "text",
    ["event e {\n  unit text\n}\n", "event e {\n  unit\n  paid: text\n}\n", HEAD + "milestone m { when paid = 1 }\n"],
    ids=["field-without-colon", "field-alone", "closed-block"],
)
def test_other_syntax_errors_are_not_blamed_on_a_missing_brace(text: str) -> None:
    (diagnostic,) = rewardrules.check_source(text, "case.rules")
    assert diagnostic.code == "RR001" and diagnostic.message.startswith("unexpected ")


def test_eligible_read_as_a_field_name_is_a_missing_brace() -> None:
    text = "event purchase { amount: money USD\neligible when purchase.amount > 0\n" + milestone("m")
    (diagnostic,) = rewardrules.check_source(text, "case.rules")
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("RR001", 1, 1)
    assert diagnostic.message == "event `purchase` is never closed: `eligible` on line 2 cannot be inside it"
    assert render(diagnostic).splitlines()[2] == "     | " + "^" * len("event purchase { amount: money USD")


# -- the garbage collector is paused while checking, and only then -------------


def test_check_leaves_the_garbage_collector_as_it_found_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from rewardrules.check import checker as check_module  # patched: the module itself, not the stage package

    seen: list[bool] = []
    real = check_module.check

    def spy(*args: object) -> object:
        seen.append(gc.isenabled())
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(check_module, "check", spy)
    assert gc.isenabled()
    for text in (HEAD + milestone("m"), HEAD + unclosed("m")):
        check_module.check_text(text)
        assert gc.isenabled()
    assert seen == [False]  # paused while checking
    gc.disable()
    try:
        check_module.check_text(HEAD + milestone("m"))
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()

    def boom(*args: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(check_module, "check", boom)
    with pytest.raises(RuntimeError):
        check_module.check_text(HEAD + milestone("m"))
    assert gc.isenabled()
