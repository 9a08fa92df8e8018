"""A file a command writes over is whole, old or new, never cut off:
`fmt`'s rule files and `report -o`'s page (`cli.files.write_whole`).
Until 2026-12-07 each was emptied as it was opened, and a write that
failed part way (a full disk; here a file size limit, which fails a write
the same way without needing one) left a rule file ending mid-line. The
file grows first, then its old bytes are overwritten."""

from __future__ import annotations

import errno
import os
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rewardrules.cli import main
from rewardrules.format import format_text

from .conftest import RULESETS

GOLDEN = Path(__file__).parent / "golden" / "saas_milestones" / "basic.jsonl"
COMMAND = [sys.executable, "-m", "rewardrules"]


def _unformatted(path: Path, milestones: int = 600) -> bytes:
    """A valid rule file that `fmt` makes longer (indents every line)."""
    head = 'ruleset big "Big"\nevent subscription "s" { mrr: money USD }\nmetric mrr "m" = latest subscription.mrr\n'
    body = "".join(
        f'milestone m{i} "M {i}" {{\nwhen mrr >= {i + 1} USD\nreward referrer cash 5 USD\n}}\n'
        for i in range(milestones)
    )
    path.write_text(head + body, encoding="utf-8")
    return path.read_bytes()


def _limited(words: list[str], size: int) -> subprocess.CompletedProcess[str]:
    """Run a command whose writes past `size` bytes of any file fail
    (`EFBIG`, as `ENOSPC` fails them on a full disk; Python ignores the
    signal that would otherwise end it)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    return subprocess.run(words, capture_output=True, text=True, env=env, preexec_fn=limit, check=False)


def test_fmt_that_cannot_write_leaves_the_rule_file_as_it_was(tmp_path: Path) -> None:
    rules = tmp_path / "big.rules"
    before = _unformatted(rules)
    os.utime(rules, (1577836800, 1577836800))  # 2020-01-01: its times are put back too
    done = _limited([*COMMAND, "fmt", str(rules)], len(before))  # the longer text cannot be written whole
    assert done.returncode == 2, done.stderr
    assert rules.read_bytes() == before  # was cut at the limit, mid-line
    assert sorted(os.listdir(tmp_path)) == ["big.rules"]
    assert "cannot write" in done.stderr and "file too large (it is as it was)" in done.stderr
    assert done.stderr.endswith("0 files reformatted, 0 files unchanged, 1 file could not be written\n")
    assert rules.stat().st_mtime == 1577836800
    assert done.stdout == ""  # not `reformatted ...`


def test_report_that_cannot_write_leaves_the_page_before_or_none(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    words = [*COMMAND, "report", str(RULESETS / "saas_milestones.rules"), str(GOLDEN), "-o", str(page)]
    made = _limited(words, 1 << 20)
    assert made.returncode == 0, made.stderr
    whole = page.read_bytes()
    page.write_bytes(b"<p>the page of last week</p>")
    over = _limited(words, 1000)
    assert over.returncode == 2 and "cannot write" in over.stderr
    assert page.read_bytes() == b"<p>the page of last week</p>"
    page.unlink()
    new = _limited(words, 1000)
    assert new.returncode == 2 and sorted(os.listdir(tmp_path)) == []  # the part written removed
    assert len(whole) > 1000


def test_fmt_keeps_the_file_itself_its_permissions_and_its_symbolic_link(tmp_path: Path, capsys: Any) -> None:
    """Written in place: the same file (its inode, so its owner, ACLs,
    attributes, a mount of it and its other hard links), not a new one
    renamed over it (review, 2026-12-07)."""
    target = tmp_path / "real.rules"
    before = _unformatted(target, 2)
    target.chmod(0o640)
    inode = target.stat().st_ino
    other = tmp_path / "hard.link"
    os.link(target, other)
    link = tmp_path / "link.rules"
    link.symlink_to(target.name)
    assert main(["fmt", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == "real.rules"
    assert target.read_bytes() != before and main(["fmt", "--check", str(target)]) == 0
    assert target.stat().st_ino == inode and other.read_bytes() == target.read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["hard.link", "link.rules", "real.rules"]
    capsys.readouterr()


@pytest.mark.parametrize("milestones", [3, 0])  # the new text longer (indented), or shorter (blank lines dropped)
def test_a_stop_while_fmt_writes_waits_for_the_file_to_be_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, milestones: int
) -> None:
    """Ctrl-C as the old bytes are being overwritten: it is held back until
    the file is whole (the new text), then stops the command."""
    rules = tmp_path / "big.rules"
    before = _unformatted(rules, milestones) if milestones else _padded(rules)
    formatted = format_text(before.decode())[0]
    real = os.pwrite

    def interrupted(fd: int, data: Any, offset: int) -> int:
        if offset == 0:
            os.kill(os.getpid(), signal.SIGINT)
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", interrupted)
    assert main(["fmt", str(rules)]) == 130
    assert rules.read_text() == formatted and sorted(os.listdir(tmp_path)) == ["big.rules"]
    assert capsys.readouterr().out == f"reformatted {rules}\n"  # said before the stop


@pytest.mark.parametrize("failing", ["pwrite", "ftruncate"])
def test_an_error_as_the_old_bytes_are_overwritten_puts_them_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, failing: str
) -> None:
    """The overwrite, or the cut to the new length after it, fails (a
    copy-on-write file system out of space): the old bytes are put back
    (the cut was outside the step that does so, found by review)."""
    rules = tmp_path / "big.rules"
    before = _padded(rules)  # the new text shorter: cut after the overwrite
    real = getattr(os, failing)
    calls: list[int] = []

    def fails_once(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args)

    monkeypatch.setattr(os, failing, fails_once)
    assert main(["fmt", str(rules)]) == 2
    assert rules.read_bytes() == before
    assert "no space left on device (it is as it was)" in capsys.readouterr().err


def test_old_bytes_that_cannot_be_put_back_are_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """If even putting the old bytes back fails, the error says the file
    may be part old, part new, never that it is as it was."""
    rules = tmp_path / "big.rules"
    _padded(rules)

    def full(fd: int, data: Any, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    assert main(["fmt", str(rules)]) == 2
    said = capsys.readouterr().err
    assert "no space left on device, and its old text could not be put back: it may be part old, part new" in said
    assert "as it was" not in said


def test_a_shorter_text_is_written_exactly(tmp_path: Path, capsys: Any) -> None:
    rules = tmp_path / "padded.rules"
    before = _padded(rules)
    assert main(["fmt", str(rules)]) == 0
    assert rules.read_text() == format_text(before.decode())[0] and len(rules.read_bytes()) < len(before)
    capsys.readouterr()


def _padded(path: Path) -> bytes:
    """A valid rule file that `fmt` makes shorter."""
    path.write_text((RULESETS / "saas_milestones.rules").read_text(encoding="utf-8").replace("\n", "\n\n\n"))
    return path.read_bytes()


def test_report_o_through_a_link_to_no_file_yet_writes_the_file_it_names(tmp_path: Path, capsys: Any) -> None:
    link = tmp_path / "latest.html"
    link.symlink_to("march.html")
    assert main(["report", str(RULESETS / "saas_milestones.rules"), str(GOLDEN), "-o", str(link)]) == 0
    assert link.is_symlink() and (tmp_path / "march.html").read_bytes().startswith(b"<!")
    capsys.readouterr()


def test_report_writes_to_a_device_as_it_is(capsys: Any) -> None:
    """`-o /dev/null` is no regular file: written, not replaced."""
    assert main(["report", str(RULESETS / "saas_milestones.rules"), str(GOLDEN), "-o", os.devnull]) == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    capsys.readouterr()


def test_report_o_never_writes_over_a_ledger_read_from_standard_input(tmp_path: Path) -> None:
    """`report RULES - -o /dev/stdin < ledger.jsonl`: the page would have
    replaced the ledger (found by review, 2026-12-07; the guard against
    naming the ledger skipped `-`)."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(GOLDEN.read_bytes())
    words = [*COMMAND, "report", str(RULESETS / "saas_milestones.rules"), "-", "-o", "/dev/stdin"]
    with ledger.open("rb") as given:
        done = subprocess.run(words, stdin=given, capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "is the LEDGER the report was made from" in done.stderr
    assert ledger.read_bytes() == GOLDEN.read_bytes()


def test_report_o_to_a_device_that_is_also_standard_input_is_no_slip() -> None:
    """`report RULES - -o /dev/null < /dev/null`: the same file, but a
    device holds nothing to lose (refused as the LEDGER once the guard
    took `-` in, found by review)."""
    words = [*COMMAND, "report", str(RULESETS / "saas_milestones.rules"), "-", "-o", os.devnull]
    done = subprocess.run(words, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("into", ["file", "pipe"])
def test_report_o_naming_standard_output_is_dash_o_dash(tmp_path: Path, into: str) -> None:
    """`-o /dev/stdout` is standard output's own file: the page goes
    through it, with no `wrote` line, which was written over the page's
    first bytes (a file opened again at its start) or after the page (a
    pipe) until 2026-12-07 (found by review)."""
    words = [*COMMAND, "report", str(RULESETS / "saas_milestones.rules"), str(GOLDEN), "-o", "/dev/stdout"]
    dashed = subprocess.run([*words[:-1], "-"], capture_output=True, check=False).stdout
    if into == "file":
        page = tmp_path / "page.html"
        with page.open("wb") as out:
            done = subprocess.run(words, stdout=out, stderr=subprocess.PIPE, check=False)
        got = page.read_bytes()
    else:
        done = subprocess.run(words, capture_output=True, check=False)
        got = done.stdout
    assert done.returncode == 0, done.stderr
    assert got == dashed and got.startswith(b"<!DOCTYPE html>") and b"wrote" not in got


def test_a_stop_with_a_failure_says_the_failure_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Ctrl-C as the overwrite fails and the old bytes cannot be put back:
    the error is said, then the stop ends the command (the held stop was
    raised over the error, which nobody said: found by review)."""
    rules = tmp_path / "big.rules"
    _padded(rules)

    def full(fd: int, data: Any, offset: int) -> int:
        os.kill(os.getpid(), signal.SIGINT)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    assert main(["fmt", str(rules)]) == 130
    assert "it may be part old, part new" in capsys.readouterr().err


def test_a_growth_that_cannot_be_undone_keeps_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    rules = tmp_path / "big.rules"
    _unformatted(rules, 3)

    def full(fd: int, data: Any, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def broken(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "pwrite", full)
    monkeypatch.setattr(os, "ftruncate", broken)
    assert main(["fmt", str(rules)]) == 2
    assert "no space left on device, and its old text could not be put back" in capsys.readouterr().err


def test_held_stops_hand_on_every_stop_and_put_the_handlers_back() -> None:
    """Two stops while a file is written: both handed on, the one that
    raises not losing the other, and the handlers as they were (found by
    review, 2026-12-07)."""
    from rewardrules.cli.files import held_stops

    got: list[int] = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    try:
        with pytest.raises(KeyboardInterrupt), held_stops():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            assert got == []  # held
        assert got == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_stop_ends_a_wait_for_a_named_pipe_s_reader(tmp_path: Path) -> None:
    """`report -o FIFO` with no reader waits; Ctrl-C ends the wait (it was
    held back, found by review): stops are held for regular files only."""
    import time

    fifo = tmp_path / "page"
    os.mkfifo(fifo)
    words = [*COMMAND, "report", str(RULESETS / "saas_milestones.rules"), str(GOLDEN), "-o", str(fifo)]
    waiting = subprocess.Popen(words, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wchan = Path(f"/proc/{waiting.pid}/wchan")
        for _ in range(600):  # until it waits for the reader (its start may take seconds on a busy machine)
            if "fifo" in wchan.read_text() or "partner" in wchan.read_text():
                break
            time.sleep(0.05)
        waiting.send_signal(signal.SIGINT)
        assert waiting.wait(timeout=30) == 130
    finally:
        waiting.kill()
        waiting.communicate()


def test_report_o_names_the_ledger_through_standard_output_too(tmp_path: Path) -> None:
    """`report R led.jsonl -o led.jsonl >> led.jsonl`: refused as naming
    the LEDGER, before `-o` is taken for standard output (the page was
    appended to the ledger, found by review)."""
    ledger = tmp_path / "led.jsonl"
    ledger.write_bytes(GOLDEN.read_bytes())
    words = [*COMMAND, "report", str(RULESETS / "saas_milestones.rules"), str(ledger), "-o", str(ledger)]
    with ledger.open("ab") as appended:
        done = subprocess.run(words, stdout=appended, stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == 2 and "is the LEDGER" in done.stderr
    assert ledger.read_bytes() == GOLDEN.read_bytes()


def test_the_page_to_standard_output_is_utf_8_whatever_its_encoding(tmp_path: Path) -> None:
    """`-o -` and `-o /dev/stdout` write the page's bytes, as `-o FILE`
    does: a page that says `charset="utf-8"` had its non-ASCII characters
    escaped on an ASCII terminal (found by review)."""
    page = tmp_path / "page.html"
    words = [*COMMAND, "report", str(RULESETS / "saas_milestones.rules"), str(GOLDEN), "-o"]
    assert subprocess.run([*words, str(page)], capture_output=True, check=False).returncode == 0
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    for name in ("-", "/dev/stdout"):
        done = subprocess.run([*words, name], capture_output=True, env=env, check=False)
        assert done.stdout == page.read_bytes(), name
    assert any(byte > 127 for byte in page.read_bytes())


def test_an_app_s_standard_output_without_a_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """An app's `sys.stdout` with no `fileno`: `report -o FILE` asked it
    for one and raised `AttributeError` out of `main` (found by review)."""

    class Writer:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

        def flush(self) -> None:
            pass

    page = tmp_path / "page.html"
    page.write_text("last week's")
    out = Writer()
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["report", str(RULESETS / "saas_milestones.rules"), str(GOLDEN), "-o", str(page)]) == 0
    assert out.text.startswith("wrote ") and page.read_bytes().startswith(b"<!DOCTYPE html>")


def test_without_fdatasync_the_file_is_flushed_with_fsync(tmp_path: Path) -> None:
    """macOS's Python has no `os.fdatasync`: every write failed with
    `AttributeError` there (found by review)."""
    rules = tmp_path / "mac.rules"
    _unformatted(rules, 2)
    line = "import os, sys; del os.fdatasync; from rewardrules.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", line, "fmt", str(rules)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert main(["fmt", "--check", str(rules)]) == 0
