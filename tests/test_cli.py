"""The command line (PROGRAMS.md section 4): output formats and exit codes.

Most tests run `rewardrules.cli.main([...])` in-process with capsys; a few
run the real program in a subprocess to prove the exit codes and the absence
of tracebacks end to end. Exit codes: 0 success, 1 findings (invalid rules),
2 bad invocation or bad input.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.core.formatting import quoted

from .conftest import GOLDEN, ROOT, RULESETS

FIXTURES = ROOT / "tests" / "fixtures" / "cli"
TWO_ERRORS = FIXTURES / "two_errors.rules"
SYNTAX_ERROR = FIXTURES / "syntax_error.rules"
PREZI = RULESETS / "prezi.rules"
PREZI_BASIC = GOLDEN / "prezi" / "basic.jsonl"
FIELDS = ("at", "milestone", "role", "beneficiary", "referrer", "referee", "kind", "amount", "unit", "item", "status")
CASES = sorted(GOLDEN.glob("*/*.jsonl"))
HEADER = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>RR\d{3})\]: (?P<message>.+)$")
GITHUB = re.compile(
    r"^::error file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),title=(?P<code>RR\d{3})::(?P<message>.+)$"
)

REFERRAL = '{"id":"r1","at":"2026-02-01T00:00:00Z","type":"referral","referrer":"alice","referee":"bob"}\n'
PAYMENT = '{"id":"p1","at":"2026-02-02T00:00:00Z","type":"payment","referee":"bob","amount":"15"}\n'


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def expected_of(case: Path) -> dict[str, object]:
    return json.loads(case.with_suffix("").with_suffix(".expected.json").read_text())


def _key(award: dict[str, object]) -> tuple[str, ...]:
    return tuple(str(award[f]) for f in FIELDS)


# ---------------------------------------------------------------------------
# check


def test_check_rulesets_folder_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "check", RULESETS)
    assert code == 0
    assert out == ""
    assert f"checked {len(list(RULESETS.rglob('*.rules')))} files: 0 errors" in err
    assert "Traceback" not in err


def test_check_single_files(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "check", PREZI, RULESETS / "tesla.rules")
    assert code == 0
    assert "checked 2 files: 0 errors" in err


def test_check_errors_are_rendered_with_source_caret_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "check", TWO_ERRORS)
    assert code == 1
    assert "checked 1 file: 2 errors" in err
    lines = out.splitlines()
    headers = [(i, HEADER.match(text)) for i, text in enumerate(lines) if HEADER.match(text)]
    assert [(m["path"], int(m["line"]), int(m["col"]), m["code"]) for _, m in headers] == [
        (str(TWO_ERRORS), 9, 31, "RR102"),
        (str(TWO_ERRORS), 14, 9, "RR101"),
    ]
    source = TWO_ERRORS.read_text().splitlines()
    for index, match in headers:
        line, col = int(match["line"]), int(match["col"])
        gutter, caret, help_line = lines[index + 1], lines[index + 2], lines[index + 3]
        # the source line, with its number in the gutter
        assert gutter == f"{line:>4} | {source[line - 1]}"
        # the caret sits under the column
        bar = caret.index("| ")
        assert caret[bar + 2 :].index("^") == col - 1
        assert help_line.startswith("     = help: ")
    assert "`amout`" in out and "did you mean `amount`?" in out
    assert "unknown event `purchase`" in out


def test_check_syntax_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "check", SYNTAX_ERROR)
    assert code == 1
    match = HEADER.match(out.splitlines()[0])
    assert match is not None and match["code"] == "RR001"
    assert (int(match["line"]), int(match["col"])) == (6, 1)


def test_check_folder_with_errors_reports_every_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "check", FIXTURES, RULESETS)
    assert code == 1
    assert f"checked {len(list(RULESETS.rglob('*.rules'))) + 2} files: 3 errors" in err
    codes = [m["code"] for m in map(HEADER.match, out.splitlines()) if m]
    assert sorted(codes) == ["RR001", "RR101", "RR102"]


def test_check_missing_path_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.rules"
    code, _, err = run_cli(capsys, "check", missing)
    assert code == 2
    assert f"{quoted(missing)} does not exist" in err  # cut when tmp_path is long
    # a missing path among good files is still a bad invocation
    code, _, err = run_cli(capsys, "check", PREZI, missing)
    assert code == 2
    assert "does not exist" in err


def test_check_folder_without_rules_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "check", tmp_path)
    assert code == 2
    assert "no .rules files found" in err


def test_check_file_not_utf8_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "latin1.rules"
    bad.write_bytes(b'# caf\xe9\nruleset x "x"\n')
    code, _, err = run_cli(capsys, "check", bad)
    assert code == 2
    assert "not UTF-8" in err and "Traceback" not in err


def test_check_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "check", "--format", "json", TWO_ERRORS)
    assert code == 1
    payload = json.loads(out)
    assert payload["errors"] == 2 and payload["files"] == [str(TWO_ERRORS)]
    diagnostics = payload["diagnostics"]
    for d in diagnostics:
        assert {"path", "line", "column", "code", "message", "help", "severity"} <= d.keys()
        assert d["severity"] == "error"
        assert re.fullmatch(r"RR\d{3}", d["code"])
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in diagnostics] == [
        (str(TWO_ERRORS), 9, 31, "RR102"),
        (str(TWO_ERRORS), 14, 9, "RR101"),
    ]
    assert diagnostics[0]["help"] == "did you mean `amount`?"

    code, out, _ = run_cli(capsys, "check", "--format", "json", RULESETS)
    assert code == 0
    clean = json.loads(out)
    assert (
        clean["diagnostics"] == []
        and clean["errors"] == 0
        and len(clean["files"]) == len(list(RULESETS.rglob("*.rules")))
    )


def test_check_github_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "check", "--format", "github", TWO_ERRORS)
    assert code == 1
    matches = [GITHUB.match(text) for text in out.splitlines()]
    assert all(matches), out
    assert [(m["file"], m["line"], m["col"], m["code"]) for m in matches if m] == [
        (str(TWO_ERRORS), "9", "31", "RR102"),
        (str(TWO_ERRORS), "14", "9", "RR101"),
    ]
    assert "%0A" not in out  # one annotation per line, no stray newlines


def test_check_github_format_escapes_the_file_property(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`,` and `:` separate workflow-command properties, so a path holding
    them must be escaped (%2C, %3A), or GitHub misreads the annotation."""
    odd = tmp_path / "a,b:c.rules"
    shutil.copy(TWO_ERRORS, odd)
    code, out, _ = run_cli(capsys, "check", "--format", "github", odd)
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"::error file={str(odd).replace(':', '%3A').replace(',', '%2C')},line=9,col=31,")


# ---------------------------------------------------------------------------
# score


@pytest.mark.parametrize("case", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_score_json_matches_golden(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    expected = expected_of(case)
    argv: list[str | Path] = ["score", RULESETS / f"{case.parent.name}.rules", case, "--format", "json"]
    if expected["as_of"] is not None:
        argv += ["--as-of", str(expected["as_of"])]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    data = json.loads(out)
    assert data["ruleset"] == case.parent.name
    got = sorted(_key(a) for a in data["awards"])
    want = sorted(_key(a) for a in expected["awards"])  # type: ignore[union-attr]
    assert got == want, expected["notes"]


def test_score_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "score", PREZI, PREZI_BASIC)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "prezi: 2 award(s) as of 2026-03-04T00:00:00Z"
    rows = [text.split() for text in lines if text.startswith("2026-")]
    assert rows == [
        ["2026-02-03T19:30:00Z", "paid_upgrade", "referrer", "alice", "bob", "upgrade", "3", "months", "confirmed"],
        ["2026-02-05T00:00:00Z", "paid_upgrade", "referrer", "alice", "carol", "upgrade", "3", "months", "confirmed"],
    ]
    assert "upgrade confirmed: 6 months in 2 award(s)" in out


def test_score_json_has_award_records(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "score", PREZI, PREZI_BASIC, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["as_of"] == "2026-03-04T00:00:00Z"
    for award in data["awards"]:
        assert set(FIELDS) | {"id"} <= award.keys()
        assert award["id"]
    # --no-explain gives the same awards, without their explanations
    code, quiet, _ = run_cli(capsys, "score", PREZI, PREZI_BASIC, "--format", "json", "--no-explain")
    assert code == 0
    brief = json.loads(quiet)
    assert all("why" in a for a in data["awards"])
    assert brief["awards"] == [{k: v for k, v in a.items() if k != "why"} for a in data["awards"]]
    assert "referrals" not in brief and "referrers" not in brief and "withheld" not in brief
    assert brief["totals"] == data["totals"]
    jsonschema.Draft202012Validator(rewardrules.json_schema("result")).validate(brief)


@pytest.mark.parametrize(
    ("as_of", "shown", "count"),
    [
        ("2026-02-04T01:00:00+05:30", "2026-02-03T19:30:00Z", 1),  # exactly bob's first paying instant
        ("2026-02-04T00:59:59+05:30", "2026-02-03T19:29:59Z", 0),  # one second earlier
        ("2026-02-04T19:00:00-05:00", "2026-02-05T00:00:00Z", 2),  # exactly carol's payment
        ("2026-02-05T00:00:00Z", "2026-02-05T00:00:00Z", 2),
        ("2030-01-01T00:00:00.000000001Z", "2030-01-01T00:00:00.000000001Z", 2),
    ],
    ids=["ist-at-boundary", "ist-before", "est", "utc", "far-future-ns"],
)
def test_score_as_of_with_offsets(capsys: pytest.CaptureFixture[str], as_of: str, shown: str, count: int) -> None:
    code, out, err = run_cli(capsys, "score", PREZI, PREZI_BASIC, "--format", "json", "--as-of", as_of)
    assert code == 0, err
    data = json.loads(out)
    assert data["as_of"] == shown
    assert len(data["awards"]) == count


@pytest.mark.parametrize(
    "as_of",
    ["bogus", "2026-02-04T01:00:00", "2026-02-30T00:00:00Z", "2026-02-04", ""],
    ids=["words", "no-offset", "feb-30", "date-only", "empty"],
)
def test_score_invalid_as_of_is_exit_2(capsys: pytest.CaptureFixture[str], as_of: str) -> None:
    code, out, err = run_cli(capsys, "score", PREZI, PREZI_BASIC, "--as-of", as_of)
    assert code == 2
    assert out == ""
    assert "--as-of" in err
    assert "Traceback" not in err
    # the ledger is fine: the message must not blame it
    assert "ledger has" not in err


def test_score_ledger_from_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = PREZI_BASIC.read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    code, from_stdin, err = run_cli(capsys, "score", PREZI, "-", "--format", "json")
    assert code == 0, err
    code, from_file, _ = run_cli(capsys, "score", PREZI, PREZI_BASIC, "--format", "json")
    assert from_stdin == from_file


def test_score_invalid_ledger_from_stdin_is_named_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (REFERRAL + '{"id":"p1","at":"2026-02-02T00:00:00Z","type":"payment","referee":"bob"}\n').encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    code, out, err = run_cli(capsys, "score", PREZI, "-")
    assert code == 2
    assert out == ""
    assert "<stdin>:2: error: field `amount`" in err


def test_score_missing_or_unreadable_ledger_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    code, out, err = run_cli(capsys, "score", PREZI, missing)
    assert (code, out) == (2, "")
    assert f"cannot read {quoted(missing)}" in err
    code, out, err = run_cli(capsys, "score", PREZI, tmp_path)  # a directory
    assert (code, out) == (2, "")
    assert "cannot read" in err


def test_score_ledger_without_permission_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests may run as root, who reads any file: simulate the refusal instead,
    # wherever the ledger file is opened
    import builtins

    real_open = builtins.open

    def refuse(path: object, *args: object, **kwargs: object) -> object:
        if str(path).endswith("locked.jsonl"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", refuse)
    locked = tmp_path / "locked.jsonl"
    locked.write_text(REFERRAL)
    code, _, err = run_cli(capsys, "score", PREZI, locked)
    assert code == 2
    assert "permission denied" in err


def test_score_missing_ruleset_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "score", tmp_path / "nope.rules", PREZI_BASIC)
    assert (code, out) == (2, "")
    assert "cannot read" in err


def test_score_ruleset_with_errors_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "score", TWO_ERRORS, PREZI_BASIC)
    assert code == 1
    assert out == ""
    codes = [m["code"] for m in map(HEADER.match, err.splitlines()) if m]
    assert codes == ["RR102", "RR101"]


def test_score_invalid_ledger_is_exit_2_naming_line_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(
        REFERRAL
        + "\n"
        + '{"id":"p1","at":"2026-02-02T00:00:00Z","type":"payment","referee":"bob","amount":"abc"}\n'
        + '{"id":"p2","at":"2026-02-02T00:00:00","type":"payment","referee":"bob","amount":1}\n'
    )
    code, out, err = run_cli(capsys, "score", PREZI, ledger, "--format", "json")
    assert code == 2
    assert out == ""  # nothing scored
    assert f"{ledger}:3: error: field `amount`" in err
    assert f"{ledger}:4: error: field `at`" in err and "no offset" in err
    assert "2 problem(s); nothing was scored" in err
    assert "Traceback" not in err


def test_score_output_is_byte_identical_across_runs(capsys: pytest.CaptureFixture[str]) -> None:
    case = GOLDEN / "partner_and_customer" / "commission_cap.jsonl"
    ruleset = RULESETS / "partner_and_customer.rules"
    for fmt in ("json", "text"):
        first = run_cli(capsys, "score", ruleset, case, "--format", fmt)
        second = run_cli(capsys, "score", ruleset, case, "--format", fmt)
        assert first[0] == 0
        assert first == second


# ---------------------------------------------------------------------------
# schema


@pytest.mark.parametrize("name", ["ledger", "award", "result"])
def test_schema_is_valid_json_schema(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, _ = run_cli(capsys, "schema", name)
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema == rewardrules.json_schema(name)


def _schema(capsys: pytest.CaptureFixture[str], name: str) -> jsonschema.Draft202012Validator:
    code, out, _ = run_cli(capsys, "schema", name)
    assert code == 0
    return jsonschema.Draft202012Validator(json.loads(out))


def test_golden_ledgers_match_the_ledger_schema(capsys: pytest.CaptureFixture[str]) -> None:
    validator = _schema(capsys, "ledger")
    checked = 0
    for case in CASES:
        for number, text in enumerate(case.read_text().splitlines(), start=1):
            if text.strip():
                errors = list(validator.iter_errors(json.loads(text)))
                assert not errors, f"{case}:{number}: {errors[0].message}"
                checked += 1
    assert checked > 100
    # and the schema rejects what the reader rejects
    assert not validator.is_valid({"id": "a", "at": "2026-02-01T00:00:00", "type": "x"})
    assert not validator.is_valid({"id": "", "at": "2026-02-01T00:00:00Z", "type": "x"})
    assert not validator.is_valid({"at": "2026-02-01T00:00:00Z", "type": "x"})


@pytest.mark.parametrize(
    "case",
    [
        GOLDEN / "referral_milestones" / "ten_conversions.jsonl",
        GOLDEN / "partner_and_customer" / "hold_refunds.jsonl",
        GOLDEN / "microsoft_referral" / "rounding.jsonl",
    ],
    ids=["items", "holds", "credit"],
)
def test_scored_awards_match_the_award_schema(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    award_schema = _schema(capsys, "award")
    result_schema = _schema(capsys, "result")
    code, out, _ = run_cli(capsys, "score", RULESETS / f"{case.parent.name}.rules", case, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["awards"]
    for award in data["awards"]:
        errors = list(award_schema.iter_errors(award))
        assert not errors, errors[0].message
    errors = list(result_schema.iter_errors(data))
    assert not errors, errors[0].message


# ---------------------------------------------------------------------------
# invocation


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"rewardrules {rewardrules.__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["score"],
        ["score", str(PREZI)],
        ["check"],
        ["schema", "nope"],
        ["score", str(PREZI), str(PREZI_BASIC), "--format", "xml"],
    ],
    ids=[
        "no-subcommand",
        "unknown-subcommand",
        "score-no-args",
        "score-no-ledger",
        "check-no-path",
        "schema-unknown",
        "bad-format",
    ],
)
def test_bad_invocation_is_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "usage: rewardrules" in err


# ---------------------------------------------------------------------------
# end to end, in a subprocess (started together: interpreter start-up dominates)

SCRIPT = Path(sys.executable).parent / "rewardrules"
MODULE = [sys.executable, "-m", "rewardrules"]
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else MODULE


def run_processes(
    *runs: tuple[list[str | Path], bytes | None, dict[str, str] | None],
) -> list[subprocess.CompletedProcess[bytes]]:
    """Run (argv, stdin, extra env) commands, a few at a time; return them in order."""

    def one(run: tuple[list[str | Path], bytes | None, dict[str, str] | None]) -> subprocess.CompletedProcess[bytes]:
        argv, stdin, env = run
        environment = {**os.environ, **(env or {})}
        environment.pop("NO_COLOR", None)
        return subprocess.run(
            [str(a) for a in argv],
            input=stdin or b"",
            capture_output=True,
            cwd=ROOT,
            env=environment,
            timeout=120,
            check=False,
        )

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(one, runs))


def _no_traceback(process: subprocess.CompletedProcess[bytes]) -> None:
    assert b"Traceback" not in process.stderr and b"Traceback" not in process.stdout, process.stderr.decode()


def test_process_exit_codes(tmp_path: Path) -> None:
    bad_ledger = tmp_path / "bad.jsonl"
    bad_ledger.write_text(REFERRAL + '{"id":"p1","at":"2026-02-02","type":"payment","referee":"bob","amount":true}\n')
    surrogate = tmp_path / "surrogate.jsonl"
    # JSON "\ud800" decodes to a string that cannot be written as UTF-8; it
    # used to crash `--format json` with UnicodeEncodeError (exit 1, traceback).
    surrogate.write_text(REFERRAL.replace('"bob"', '"\\ud800"') + PAYMENT.replace('"bob"', '"\\ud800"'))
    table: list[tuple[list[str | Path], int]] = [
        ([*COMMAND, "score", PREZI, PREZI_BASIC, "--format", "json"], 0),
        ([*COMMAND, "check", TWO_ERRORS], 1),
        ([*MODULE, "check", TWO_ERRORS], 1),
        ([*COMMAND, "score", PREZI, bad_ledger], 2),
        ([*COMMAND, "score", PREZI, surrogate, "--format", "json"], 2),
        ([*COMMAND, "score", PREZI, PREZI_BASIC, "--as-of", "not-a-time"], 2),
        ([*COMMAND, "score", PREZI, tmp_path / "missing.jsonl"], 2),
        (COMMAND, 2),
        ([*MODULE, "--version"], 0),
    ]
    results = run_processes(*((argv, None, None) for argv, _ in table))
    for (argv, code), process in zip(table, results, strict=True):
        assert process.returncode == code, (argv, process.stderr.decode())
        _no_traceback(process)
        if code:
            assert process.stderr, argv
    ok, findings, findings_module, invalid, surrogate_run = results[:5]
    assert len(json.loads(ok.stdout)["awards"]) == 2
    for process in (findings, findings_module):
        assert b"error[RR102]" in process.stdout and b"error[RR101]" in process.stdout
    assert f"{bad_ledger}:2: error: field `at`".encode() in invalid.stderr
    assert f"{bad_ledger}:2: error: field `amount`".encode() in invalid.stderr
    assert invalid.stdout == b""
    assert f"{surrogate}:1: error: field `referee`".encode() in surrogate_run.stderr
    assert results[-1].stdout.decode().strip() == f"rewardrules {rewardrules.__version__}"


def test_process_ledger_from_stdin() -> None:
    piped, bad, empty = run_processes(
        ([*COMMAND, "score", PREZI, "-", "--format", "json"], PREZI_BASIC.read_bytes(), None),
        ([*COMMAND, "score", PREZI, "-"], (REFERRAL + "{oops\n").encode(), None),
        ([*COMMAND, "score", PREZI, "-", "--format", "json"], b"", None),
    )
    assert piped.returncode == 0, piped.stderr.decode()
    assert piped.stdout.decode() == rewardrules.load(PREZI).score(PREZI_BASIC.read_text().splitlines()).to_json()
    assert len(json.loads(piped.stdout)["awards"]) == 2

    assert bad.returncode == 2
    assert b"<stdin>:2: error: invalid JSON" in bad.stderr
    _no_traceback(bad)

    assert empty.returncode == 0, empty.stderr.decode()
    assert json.loads(empty.stdout)["awards"] == []


def test_process_output_is_identical_across_hash_seeds() -> None:
    case = GOLDEN / "referral_milestones" / "ten_conversions.jsonl"
    ruleset = RULESETS / "referral_milestones.rules"
    seeds = ("0", "4242")
    results = run_processes(
        *(([*COMMAND, "score", ruleset, case, "--format", "json"], None, {"PYTHONHASHSEED": seed}) for seed in seeds)
    )
    for process in results:
        assert process.returncode == 0, process.stderr.decode()
    assert len({process.stdout for process in results}) == 1
    # and the same bytes as in this process (its own hash seed)
    assert results[0].stdout.decode() == rewardrules.load(ruleset).score(case.read_text().splitlines()).to_json()


@pytest.mark.parametrize("stderr", ["", "2>&-"])
def test_a_reader_that_leaves_early_is_no_error(tmp_path: Path, stderr: str) -> None:
    """`rewardrules score ... | head`: exit 0, nothing said. Started with
    standard error closed too (`2>&-`), it raised `AttributeError` on the
    way out and exited with 1 or 120 (found by review, 2026-12-07)."""
    from .test_stop_signals import COMMAND, _ledger

    ledger = tmp_path / "ledger.jsonl"
    _ledger(ledger, 2000)  # its result is past a pipe's 64 KiB: the writer meets the closed end
    words = [*COMMAND, "score", "--format", "json", str(RULESETS / "saas_milestones.rules"), str(ledger)]
    line = f"set -o pipefail; {shlex.join(words)} {stderr} | head -c 10 > /dev/null"
    done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stderr) == (0, "")


def test_a_command_started_with_standard_error_closed_says_nothing_on_standard_output(tmp_path: Path) -> None:
    """`2>&-`: Python gives no `sys.stderr`, and `print(..., file=None)`
    writes to standard output: `check` of a missing file wrote its error
    there, and `score` exited with 1 after writing its result (found
    2026-12-07). What a command says there now goes nowhere."""
    from .test_stop_signals import COMMAND

    missing = [*COMMAND, "check", str(tmp_path / "nowhere.rules")]
    valid = [*COMMAND, "check", str(RULESETS / "saas_milestones.rules")]  # its summary goes to standard error
    checked = subprocess.run(["bash", "-c", f"{shlex.join(valid)} 2>&-"], capture_output=True, text=True, check=False)
    assert (checked.returncode, checked.stdout) == (0, "")
    scored = [
        *COMMAND,
        "score",
        str(RULESETS / "saas_milestones.rules"),
        str(GOLDEN / "saas_milestones" / "basic.jsonl"),
    ]
    closed = subprocess.run(["bash", "-c", f"{shlex.join(missing)} 2>&-"], capture_output=True, text=True, check=False)
    assert (closed.returncode, closed.stdout) == (2, "")
    done = subprocess.run(["bash", "-c", f"{shlex.join(scored)} 2>&-"], capture_output=True, text=True, check=False)
    kept = subprocess.run(scored, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (0, kept.stdout) and kept.stdout


def _buffered_or_not(unbuffered: bool) -> dict[str, str]:
    """The environment with `PYTHONUNBUFFERED` set or not: buffered, a
    failed write shows at a flush; unbuffered (container images often set
    it), at the write itself."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    return {**env, "PYTHONUNBUFFERED": "1"} if unbuffered else env


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize(
    ("tail", "code", "said"),
    [
        ("--version > /dev/full", 2, "rewardrules: error: could not write the output: no space left on device\n"),
        ("--help > /dev/full", 2, "rewardrules: error: could not write the output: no space left on device\n"),
        ("--help | true", 0, ""),
    ],
)
def test_help_and_version_output_is_flushed_as_a_command_s(tail: str, code: int, said: str, unbuffered: bool) -> None:
    """argparse's `SystemExit` skipped `process.end`: Python's own flush
    at the exit printed `Exception ignored ... OSError` and exited with
    120 (found by review, 2026-12-07). Unbuffered, argparse dropped the
    failed write itself, and `--version > /dev/full` exited 0 having
    written nothing (found 2026-12-07)."""
    from .test_stop_signals import COMMAND

    env = _buffered_or_not(unbuffered)
    line = f"set -o pipefail; {shlex.join(COMMAND)} {tail}"
    done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, check=False)
    assert (done.returncode, done.stderr) == (code, said)


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("where", ["full", "gone"])
def test_standard_error_that_cannot_be_written_changes_no_exit_code(
    tmp_path: Path, unbuffered: bool, where: str
) -> None:
    """Standard error on a full disk (`2>/dev/full`) or a pipe whose reader
    left: what a command says there is lost, and it exits with the code it
    decided, its output whole. Until 2026-12-07 a command that said
    anything there exited with 120 (buffered) or 1 (unbuffered) on a full
    disk; with the reader gone, the failed write was taken for standard
    output's reader leaving, and `check` of a missing file exited 1, or 0
    (a success) unbuffered."""
    from .test_stop_signals import COMMAND

    env = _buffered_or_not(unbuffered)
    rules = str(RULESETS / "saas_milestones.rules")
    scored = [*COMMAND, "score", rules, str(GOLDEN / "saas_milestones" / "basic.jsonl")]
    cases = [
        ([*COMMAND, "check", rules], 0),  # its summary goes to standard error
        ([*COMMAND, "check", str(tmp_path / "nowhere.rules")], 2),
        (scored, 0),
    ]
    for words, code in cases:
        if where == "full":
            with open("/dev/full", "wb") as full:
                done = subprocess.run(words, stdout=subprocess.PIPE, stderr=full, env=env, check=False)
        else:
            reader, writer = os.pipe()
            os.close(reader)  # gone before the command says anything
            try:
                done = subprocess.run(words, stdout=subprocess.PIPE, stderr=writer, env=env, check=False)
            finally:
                os.close(writer)
        assert done.returncode == code, words
    kept = subprocess.run(scored, capture_output=True, env=env, check=False)
    assert done.stdout == kept.stdout and kept.stdout  # the result whole


def test_output_and_standard_error_both_on_a_full_disk_exit_2() -> None:
    """The output lost: said where nothing can be read, and the code says it."""
    from .test_stop_signals import COMMAND

    line = f"{shlex.join(COMMAND)} --version > /dev/full 2>/dev/full"
    assert subprocess.run(["bash", "-c", line], check=False).returncode == 2
