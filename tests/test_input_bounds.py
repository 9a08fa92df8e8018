"""Every input is read in bounded size and time (docs/cli.md, docs/ledger.md,
docs/embedding.md): `/dev/zero` as a ledger, a rule file, a test file or a
Stripe payload ends in a clear error, and a FIFO given as a rule file is
refused instead of waiting for a writer.

Whatever might hang or fill memory runs in a child process with a timeout
and a cap on its address space, so a regression fails here instead of
taking the machine down; the limits are lowered in the child where the
real ones would make the test read more than it needs."""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import rewardrules
from rewardrules import limits
from rewardrules.core.formatting import quoted
from rewardrules.reading import InputError, read_bytes, read_lines, read_text

from .conftest import ROOT, RULESETS

RULES = RULESETS / "saas_milestones.rules"
ZERO = "/dev/zero"
MEMORY = 1 << 31  # the child's address space: far more than it needs, far less than /dev/zero


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _python(code: str, *argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """Run `code` in a child Python (the sources of this tree first)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.run(
        [sys.executable, "-c", code, *argv],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        preexec_fn=_cap_memory,
        check=False,
    )
    return subprocess.CompletedProcess(
        process.args, process.returncode, process.stdout.decode(), process.stderr.decode("utf-8", "replace")
    )


#: the command line, with some limits lowered first: `_cli("NAME=N", ..., "--", args...)`
CLI = """
import sys
from rewardrules import limits
from rewardrules.cli import main
at = sys.argv.index("--")
for setting in sys.argv[1:at]:
    name, value = setting.split("=")
    setattr(limits, name, int(value))
sys.exit(main(sys.argv[at + 1:]))
"""


def _cli(*argv: str, stdin: bytes = b"", lowered: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    process = _python(CLI, *lowered, "--", *argv, stdin=stdin)
    assert "Traceback" not in process.stderr, process.stderr
    return process


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.rules"
    os.mkfifo(path)
    return path


# -- rule files ----------------------------------------------------------------


def test_check_refuses_a_fifo_instead_of_waiting_for_a_writer(fifo: Path) -> None:
    process = _cli("check", str(fifo))
    assert process.returncode == 2
    assert f"cannot read {quoted(fifo)}: it is a fifo, not a regular file" in process.stderr


@pytest.mark.parametrize("command", [["check"], ["fmt", "--check"]], ids=["check", "fmt"])
def test_a_device_as_a_rule_file_is_refused(command: list[str]) -> None:
    process = _cli(*command, ZERO)
    assert process.returncode == 2
    assert f"cannot read `{ZERO}`: it is a device, not a regular file" in process.stderr


def test_load_refuses_a_fifo_and_a_device(fifo: Path) -> None:
    code = "import sys, rewardrules\ntry:\n    rewardrules.load(sys.argv[1])\nexcept OSError as e:\n    print(e)"
    for path in (str(fifo), ZERO):
        process = _python(code, path)
        assert process.returncode == 0, process.stderr
        assert "not a regular file" in process.stdout


def test_score_refuses_a_fifo_as_its_rule_file(fifo: Path) -> None:
    process = _cli("score", str(fifo), str(ROOT / "examples" / "tiny.jsonl"))
    assert process.returncode == 2 and "it is a fifo, not a regular file" in process.stderr


def test_a_rule_file_over_the_limit_is_refused_before_it_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = RULES.read_text(encoding="utf-8")
    big = tmp_path / "big.rules"
    big.write_text(text + "# é\n", encoding="utf-8")
    monkeypatch.setattr(limits, "MAX_RULE_FILE_CHARS", len(text) + 3)  # characters, not bytes
    with pytest.raises(InputError, match=f"larger than {len(text) + 3} characters, the limit for a rule file"):
        rewardrules.load(big)
    monkeypatch.setattr(limits, "MAX_RULE_FILE_CHARS", len(text) + 4)
    assert rewardrules.load(big).name == "saas_milestones"


def test_check_reports_a_rule_file_over_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.rules"
    big.write_text(RULES.read_text(encoding="utf-8"), encoding="utf-8")
    process = _cli("check", str(big), lowered=("MAX_RULE_FILE_CHARS=100",))
    assert process.returncode == 2
    assert "larger than 100 characters, the limit for a rule file" in process.stderr


def test_checks_summary_does_not_count_a_file_it_could_not_read(tmp_path: Path) -> None:
    """`checked 1 file: 0 errors` followed the `cannot read` error of a file
    over the limit until 2026-12-08: the summary counts the files checked,
    and says how many could not be read."""
    big = tmp_path / "big.rules"
    big.write_text(RULES.read_text(encoding="utf-8"), encoding="utf-8")
    process = _cli("check", str(big), lowered=("MAX_RULE_FILE_CHARS=100",))
    assert process.returncode == 2
    assert process.stderr.splitlines()[-1] == "checked 0 files: 0 errors, 0 warnings; 1 file could not be read"
    process = _cli("check", str(big), str(RULESETS / "zoom.rules"), lowered=("MAX_RULE_FILE_CHARS=300",))
    assert process.returncode == 2
    assert process.stderr.splitlines()[-1] == "checked 1 file: 0 errors, 0 warnings; 1 file could not be read"
    # a path that does not exist is not read either (review): said, and counted
    missing = str(tmp_path / "nothere.rules")
    process = _cli("check", str(big), str(RULESETS / "zoom.rules"), missing, lowered=("MAX_RULE_FILE_CHARS=300",))
    assert process.returncode == 2
    assert process.stderr.splitlines()[-1] == "checked 1 file: 0 errors, 0 warnings; 2 files could not be read"
    process = _cli("check", "--format", "json", str(big), missing, lowered=("MAX_RULE_FILE_CHARS=100",))
    payload = json.loads(process.stdout)
    assert process.returncode == 2
    assert payload["files"] == [] and payload["unread"] == [missing, str(big)]


def test_a_test_file_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    pipe = tmp_path / "x.test.toml"
    os.mkfifo(pipe)
    process = _cli("test", str(pipe))
    assert process.returncode == 2
    assert "it is a fifo, not a regular file (a test file is read from a regular file only)" in process.stderr


# -- ledgers ---------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["score", "stream"])
def test_dev_zero_as_a_ledger_ends_at_the_line_limit(stream: bool) -> None:
    process = _cli("score", str(RULES), ZERO, *(["--stream"] if stream else []))
    assert process.returncode == 2
    assert f"{ZERO}:1: error: line is longer than {limits.MAX_LEDGER_LINE_BYTES} bytes" in process.stderr


def test_endless_standard_input_ends_at_the_line_limit() -> None:
    process = _cli("score", str(RULES), "-", stdin=b"\0" * 3000, lowered=("MAX_LEDGER_LINE_BYTES=1000",))
    assert process.returncode == 2
    assert "<stdin>:1: error: line is longer than 1000 bytes" in process.stderr


@pytest.mark.parametrize("how", ["path", "binary file", "text file"])
def test_the_api_reads_dev_zero_in_bounded_lines(how: str) -> None:
    code = f"""
import rewardrules
from rewardrules import limits
limits.MAX_LEDGER_LINE_BYTES = 1000
program = rewardrules.load({str(RULES)!r})
ledger = {{"path": "{ZERO}", "binary file": open("{ZERO}", "rb"), "text file": open("{ZERO}")}}[{how!r}]
for score in (program.score, program.score_stream, program.session().add_many):
    try:
        score(ledger)
    except rewardrules.LedgerError as error:
        print([(p.line, p.message) for p in error.problems])
"""
    process = _python(code)
    assert process.returncode == 0, process.stderr
    assert process.stdout.splitlines() == ["[(1, 'line is longer than 1000 bytes')]"] * 3


def test_a_line_over_the_limit_ends_the_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_LEDGER_LINE_BYTES", 50)
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(b"{}\n" + b"x" * 80 + b"\n{not json\n")
    with pytest.raises(rewardrules.LedgerError) as caught:
        rewardrules.load(RULES).score(ledger)
    problems = caught.value.problems
    assert {p.line for p in problems} == {1, 2}  # line 3 is never read
    assert [p.message for p in problems if p.line == 2] == ["line is longer than 50 bytes"]


def test_read_lines_keeps_each_line_whole_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "lines"
    path.write_bytes(b"abc\n" + b"d" * 10 + b"\n" + b"e" * 11 + b"\nnever read\n")
    with open(path, "rb") as handle:
        assert list(read_lines(handle, 11)) == [b"abc\n", b"d" * 10 + b"\n", b"e" * 11 + b"\n"]
    with open(path, "rb") as handle:
        assert list(read_lines(handle, 10)) == [b"abc\n", b"d" * 10 + b"\n"]


# -- Stripe payloads ---------------------------------------------------------------


def test_dev_zero_as_a_stripe_payload_ends_at_the_limit() -> None:
    process = _cli("ingest", "stripe", ZERO, lowered=("MAX_PAYLOAD_FILE_BYTES=100000",))
    assert process.returncode == 2
    assert f"{ZERO}: larger than 100,000 bytes; split it into several files" in process.stderr


def test_a_payload_file_up_to_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"[]")
    assert read_bytes(path, 2) == b"[]"
    with pytest.raises(InputError, match="larger than 1 bytes"):
        read_bytes(path, 1)


# -- the reader itself -------------------------------------------------------------


def test_read_text_refuses_what_is_not_a_regular_file(fifo: Path, tmp_path: Path) -> None:
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    with pytest.raises(InputError, match="it is a fifo, not a regular file"):
        read_text(fifo, 10)  # stat first: never opened, so never waits
    with pytest.raises(IsADirectoryError):
        read_text(tmp_path, 10)
    with pytest.raises(FileNotFoundError):
        read_text(tmp_path / "missing", 10)
    (tmp_path / "bad").write_bytes(b"\xff")
    with pytest.raises(UnicodeDecodeError):
        read_text(tmp_path / "bad", 10)
