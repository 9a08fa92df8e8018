"""Review of the Python path's speed-ups (`decode.kept_lines`, `cli.process`):
the fast loop must read what `iter_lines` reads, whatever the items are."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules.ledger import decode
from rewardrules.score.api import load

from .conftest import RULESETS
from .test_fastpath_reading import LINES, reference


class Text(str):
    """A str subclass, as `numpy.str_` is (lines taken from an array)."""


class Raw(bytes):
    """A bytes subclass."""


REFERRAL = '{"id": "r1", "at": "2026-01-05T09:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}'
PAYMENT = '{"id": "s1", "at": "2026-01-10T09:00:00Z", "type": "subscription", "referee": "bob", "mrr": "1500.00"}'


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from([*LINES, REFERRAL]).flatmap(lambda s: st.sampled_from([Text(s), Raw(s.encode())])), max_size=6
    )
)
def test_kept_lines_reads_text_subclasses_as_iter_lines_does(lines: list[Any]) -> None:
    """A line given as a str or bytes subclass is text to `iter_lines`
    (`isinstance`); the fast loop took it for an object and refused it as
    "an event must be a JSON object"."""
    assert list(decode.kept_lines(lines)) == reference(lines)


def test_a_ledger_of_str_subclass_lines_scores_as_its_plain_lines() -> None:
    program = load(RULESETS / "saas_milestones.rules")
    plain = program.score([REFERRAL, PAYMENT], explain=False).to_json()
    assert program.score([Text(REFERRAL), Text(PAYMENT)], explain=False).to_json() == plain
    assert program.score([Raw(REFERRAL.encode()), Raw(PAYMENT.encode())], explain=False).to_json() == plain
    assert '"awards": [\n    {' in plain  # something is scored


# -- output that cannot be written: said, exit 2, never a traceback

SRC = os.environ.get("REVIEW_SRC", str(Path(__file__).resolve().parents[1] / "src"))


def _to_dev_full(*args: str) -> subprocess.CompletedProcess[str]:
    with open("/dev/full", "w") as full:
        return subprocess.run(
            [sys.executable, *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
            check=False,
        )


def test_a_full_disk_for_the_output_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(f"{REFERRAL}\n{PAYMENT}\n", encoding="utf-8")
    rules = str(RULESETS / "saas_milestones.rules")
    for args in (["score", rules, str(ledger)], ["check", "--format", "json", rules], ["sql", rules]):
        done = _to_dev_full("-m", "rewardrules", *args)
        assert (done.returncode, done.stderr) == (2, UNWRITABLE), args


def test_a_closed_standard_output_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    """Started with standard output closed (`>&-`, so `sys.stdout` is
    None): said once, exit 2, for every command; it was an
    `AttributeError` traceback (review)."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(f"{REFERRAL}\n{PAYMENT}\n", encoding="utf-8")
    rules = str(RULESETS / "saas_milestones.rules")
    for args in (["score", rules, str(ledger)], ["check", rules]):
        done = subprocess.run(
            ["bash", "-c", 'exec "$0" -m rewardrules "$@" >&-', sys.executable, *args],
            stderr=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
            check=False,
        )
        assert (done.returncode, done.stderr) == (
            2,
            "rewardrules: error: standard output is closed: nothing can be written\n",
        )


def test_output_left_in_the_buffer_that_cannot_be_flushed_at_the_exit_is_said() -> None:
    """The last flush (`process.end`) fails on a full disk: said, exit 2,
    not Python's `Exception ignored ...` and exit 120 (or the command's 0)."""
    script = (
        "from rewardrules.cli import process\n"
        "process.begin()\n"
        "process.leave_to_exit(object())\n"
        "print('a result')\n"
        "process.end(0)\n"
    )
    done = _to_dev_full("-c", script)
    assert (done.returncode, done.stderr) == (2, UNWRITABLE)


UNWRITABLE = "rewardrules: error: could not write the output: no space left on device\n"


def test_an_unsaid_error_naming_a_file_names_it(monkeypatch: Any, capsys: Any) -> None:
    """An OSError no command handled, with a file name, is said with that
    name (not as the output), exit 2, in-process too: no traceback."""
    import rewardrules.cli.check as check
    from rewardrules.cli import main

    def denied(args: Any) -> int:
        raise PermissionError(13, "Permission denied", "/some/file")

    monkeypatch.setattr(check, "run", denied)
    assert main(["check", str(RULESETS / "saas_milestones.rules")]) == 2
    assert capsys.readouterr().err == "rewardrules: error: `/some/file`: permission denied\n"
