"""Review of the playground's build (playground/build.py, docs/playground.md):
it writes only where it was asked to and packs only the files the browser
needs. `--out` names a folder the build empties: one that is not an earlier
build (a checkout, a home folder) is refused, not deleted. A dependency's
RECORD is its own text: a path in it that is absolute or climbs out of
site-packages names a file of the machine, which is never packed."""

from __future__ import annotations

import http.server
import sys
import threading
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .test_playground_browser import LOAD_MS, PLAYGROUND, Playground, _build_module, _share_fragment
from .test_report_browser import browser as browser  # the module's Chromium (re-exported as a fixture)


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


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The playground built and served as `build.py --serve` serves it."""
    build = _build_module()
    out = build.build(tmp_path_factory.mktemp("playground") / "site")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), build.handler_for(out))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_worker_keeps_the_pages_policy_and_reaches_nothing_outside(browser: Any, served: str) -> None:
    """A worker served over http has only its own response's policy, not
    the page's meta tag: served without the header, worker.js (where Python
    runs the rule file) could fetch any address. `--serve` sends the page's
    policy as a header with every file, so the worker is held to it too."""
    policy = _build_module().content_security_policy(PLAYGROUND)
    assert "connect-src 'self'" in policy
    for name in ("worker.js", "index.html", "pyodide/pyodide.js"):
        with urllib.request.urlopen(served + name) as response:
            assert response.headers["Content-Security-Policy"] == policy, name
    page = Playground(browser, served, wait=False)
    try:
        page.settle(LOAD_MS * 2)
        assert page.status == "ready"
        page.assert_clean()
        attempt = "fetch('http://example.com/x').then(() => 'fetched', (error) => 'refused')"
        assert page.page.workers[0].evaluate(attempt) == "refused"
        assert page.page.evaluate(attempt) == "refused"
        assert page.outside == []  # refused by the policy, never asked of the network
    finally:
        page.context.close()


def test_a_share_link_with_a_lone_surrogate_is_refused_as_it_is_read(browser: Any, served: str) -> None:
    """JSON's `\\ud800` is a lone surrogate, which no UTF-8 file holds: the
    page once handed it to Python, whose write failed, and showed that
    traceback instead of starting. It is refused with the other bad links,
    in a field of text and in a field of the link's settings (each page
    load starts Python anew: the link's fields share one check), and the
    page opens on the first example."""
    first = _build_module().reference_examples()[0]["rules"]
    for field in ("ledger", "as_of"):
        content = {"v": 1, "rules": "# fine\n", "ledger": ""}
        content[field] = "# a lone \ud800 surrogate\n"
        refused = Playground(browser, served + _share_fragment(content), wait=False)
        try:
            refused.page.locator('body[data-busy="false"]').wait_for(state="attached", timeout=LOAD_MS * 2)
            assert refused.status.startswith(f"the shared link could not be read: the link's {field} is not valid")
            assert "Traceback" not in refused.status
            assert refused.text("#rules") == first
            refused.assert_clean()
        finally:
            refused.context.close()


def test_a_build_stopped_half_way_is_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first build that stops (no `npm ci` yet) leaves a folder the next
    build may empty: the refusal above is for folders no build made."""
    build = _build_module()
    out = tmp_path / "site"

    def no_runtime(target: Path) -> None:
        raise SystemExit("build.py: no Pyodide")

    with monkeypatch.context() as patch:
        patch.setattr(build, "_copy_runtime", no_runtime)
        with pytest.raises(SystemExit, match="no Pyodide"):
            build.build(out)
    assert (out / "index.html").is_file() and not (out / "manifest.json").exists()
    assert build.build(out) == out
    assert (out / "manifest.json").is_file() and (out / "pyodide" / "pyodide.asm.wasm").is_file()
    with pytest.raises(SystemExit, match="not a playground build"):
        build.build(tmp_path)  # holds the build, but was not made by one
