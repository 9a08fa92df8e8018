"""Review of the playground's build (playground/build.py, docs/playground.md):
it writes only where it was asked to and packs only the files the browser
needs. `--out` names a folder the build empties: one that is not an earlier
build (a checkout, a home folder) is refused, not deleted. A dependency's
RECORD is its own text: a path in it that is absolute or climbs out of
site-packages names a file of the machine, which is never packed."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from .test_playground_browser import _build_module


def test_a_folder_that_is_not_a_build_is_not_emptied(tmp_path: Path) -> None:
    build = _build_module()
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "work.rules").write_text("# a day's work\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="not empty and not a playground build"):
        build.build(checkout)
    assert (checkout / "work.rules").read_text(encoding="utf-8") == "# a day's work\n"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("notes\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="not a playground build"):
        build.build(a_file)
    assert a_file.read_text(encoding="utf-8") == "notes\n"


def test_a_dependencys_record_never_packs_a_file_outside_site_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = _build_module()
    secret = tmp_path / "secret.txt"
    secret.write_text("a token\n", encoding="utf-8")
    site = tmp_path / "a" / "b" / "site-packages"
    (site / "toypkg").mkdir(parents=True)
    (site / "toypkg" / "__init__.py").write_text("VALUE = 1\n", encoding="utf-8")
    info = site / "toypkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toypkg\nVersion: 1.0\n", encoding="utf-8")
    record = [
        "toypkg/__init__.py,,",
        "toypkg-1.0.dist-info/METADATA,,",
        "toypkg/../../../../secret.txt,,",  # climbs out from inside
        "../../../secret.txt,,",
        f"{secret},,",  # absolute
    ]
    (info / "RECORD").write_text("\n".join(record) + "\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(build, "DEPENDENCIES", ("toypkg",))
    packed = tmp_path / "dependencies.zip"
    build._zip_dependencies(packed)
    with zipfile.ZipFile(packed) as archive:
        names = archive.namelist()
        contents = [archive.read(name) for name in names]
    assert sorted(names) == ["toypkg-1.0.dist-info/METADATA", "toypkg/__init__.py"]
    assert b"a token\n" not in contents
    assert "toypkg" not in sys.modules
