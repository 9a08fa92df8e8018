"""The pictures of docs/editor.md are made by a script that anyone can run
again (editors/vscode/screenshots/make_screenshots.py): it runs, writes two
PNGs, and what they show is what the extension's grammar and the real
language server give (not a pixel comparison: fonts differ by machine)."""

from __future__ import annotations

import importlib.util
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from .conftest import ROOT

SCRIPT = ROOT / "editors" / "vscode" / "screenshots" / "make_screenshots.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_script_writes_both_pictures_of_what_the_grammar_and_the_server_gave(tmp_path: Path) -> None:
    """The language server's page is drawn from what `rewardrules lsp`
    answered over stdio for the rule set with the mistake: its warning
    (RR603, under the copied trigger, with its help), the milestone's hover
    with its payout bound, the reward kinds offered after the role."""
    pages = tmp_path / "pages"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), str(pages)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("editor-highlighting.png", "editor-lsp.png"):
        width, height = _png_size(tmp_path / name)
        assert width == 900 and height > 600, (name, width, height)
        assert (ROOT / "docs" / "assets" / name).is_file(), f"docs/assets/{name}: run {SCRIPT.name}"
    drawn = (pages / "lsp.html").read_text(encoding="utf-8")
    assert "milestone `ten_referrals` has the same trigger as `five_referrals`<br>help: both are awarded" in drawn
    assert 'class="squiggle warning">when conversions &gt;= 5</span>' in drawn
    assert "rewardrules(RR603) [Ln 28, Col 3]" in drawn
    assert "payout bound of this milestone:" in drawn and "per referrer: 50.00 USD" in drawn
    labels = re.findall(r'<span class="label">([^<]*)</span>', drawn)
    assert labels[:3] == ["cash", "credit", "discount"]
    highlighted = (pages / "highlighting.html").read_text(encoding="utf-8")
    assert '<span style="color:#569CD6;">milestone</span>' in highlighted


def test_the_highlighting_is_the_grammar_s(tmp_path: Path) -> None:
    """Every line of the rule set is on the page, and its words have the
    theme's colours for the grammar's scopes (a keyword, a name, a string)."""
    script = _script()
    text = script.RULESET.read_text(encoding="utf-8").rstrip("\n")
    lines = script.coloured_lines(text, tmp_path)
    assert len(lines) == text.count("\n") + 1
    assert [re.sub(r"<[^>]+>", "", line).replace("&gt;", ">") for line in lines] == text.split("\n")
    milestone = next(line for line in lines if "first_referral" in line)
    assert '<span style="color:#569CD6;">milestone</span>' in milestone  # storage.type
    assert '<span style="color:#DCDCAA;">first_referral</span>' in milestone  # entity.name.function
    assert '<span style="color:#CE9178;">"First converted referral"</span>' in milestone
