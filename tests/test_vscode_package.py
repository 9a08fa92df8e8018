"""The VS Code extension as it ships: `vsce package` (the standard tool,
pinned in editors/vscode/package-lock.json, installed by `npm ci`) accepts
the manifest offline, and the .vsix holds the extension and its runtime
dependencies, nothing else; its client (extension.js), loaded from the
unpacked .vsix with a fake `vscode`, starts and stops the server as it
should (editors/vscode/test/client.test.js); every snippet, its
placeholders filled with their defaults, is what `rewardrules check` and
`rewardrules test` accept."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_vscode_extension import HEADER  # the declarations a snippet is typed after

EXTENSION = ROOT / "editors" / "vscode"
MANIFEST = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
LOCK = json.loads((EXTENSION / "package-lock.json").read_text(encoding="utf-8"))


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found is not None, f"{name} is needed for the extension's tests (.ci/run installs nodejs and npm)"
    assert (EXTENSION / "node_modules" / "@vscode" / "vsce").is_dir(), "run `npm ci` in editors/vscode (.ci/run does)"
    return found


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The .vsix `vsce package` makes, and what it printed. Offline: no
    repository is named (the project has no public one yet), so nothing is
    looked up; `--no` keeps npx from fetching anything."""
    out = tmp_path_factory.mktemp("vsix") / "rewardrules.vsix"
    result = subprocess.run(
        [_tool("npx"), "--no", "vsce", "package", "--allow-missing-repository", "--out", str(out)],
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "npm_config_offline": "true", "NO_UPDATE_NOTIFIER": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result.stdout + result.stderr


def _runtime_packages() -> set[str]:
    """The packages npm installs for the extension to run (not `dev`)."""
    return {
        path.removeprefix("node_modules/")
        for path, entry in LOCK["packages"].items()
        if path.startswith("node_modules/") and not entry.get("dev") and "/node_modules/" not in path
    }


def test_vsce_accepts_the_manifest_with_no_warning_but_bundling(packaged: tuple[Path, str]) -> None:
    """The one warning left is vsce's advice to bundle with a bundler, a
    matter of load time: the client library ships as npm installs it."""
    _, printed = packaged
    warnings = [line for line in printed.splitlines() if "WARNING" in line]
    assert all("you should bundle your extension" in line for line in warnings), printed
    assert "DONE" in printed


def test_the_vsix_holds_the_extension_and_nothing_stray(packaged: tuple[Path, str]) -> None:
    vsix, _ = packaged
    names = zipfile.ZipFile(vsix).namelist()
    own = {name.removeprefix("extension/") for name in names if not name.startswith("extension/node_modules/")}
    contributes = MANIFEST["contributes"]
    files = {
        MANIFEST["main"],
        *(grammar["path"] for grammar in contributes["grammars"]),
        *(snippet["path"] for snippet in contributes["snippets"]),
        *(language["configuration"] for language in contributes["languages"]),
    }
    expected = {path.removeprefix("./") for path in files}
    expected |= {"package.json", "readme.md", "LICENSE.txt", "extension.vsixmanifest", "[Content_Types].xml"}
    assert own == expected
    shipped = {name.split("/")[2] for name in names if name.startswith("extension/node_modules/")}
    scoped = {"/".join(name.split("/")[2:4]) for name in names if name.startswith("extension/node_modules/@")}
    assert {*(p for p in shipped if not p.startswith("@")), *scoped} == _runtime_packages()
    assert "vscode-languageclient" in shipped
    assert not [name for name in names if name.endswith((".d.ts", ".map", ".rules", ".py"))]


def test_the_vsix_files_are_the_repository_files(packaged: tuple[Path, str]) -> None:
    vsix, _ = packaged
    with zipfile.ZipFile(vsix) as archive:
        for name in ("extension.js", "syntaxes/rewardrules.tmLanguage.json", "language-configuration.json"):
            assert archive.read("extension/" + name) == (EXTENSION / name).read_bytes(), name
        manifest = archive.read("extension.vsixmanifest").decode()
    assert f'Version="{MANIFEST["version"]}"' in manifest
    assert 'Publisher="rewardrules"' in manifest


def test_the_packaged_client_starts_and_stops_the_server(packaged: tuple[Path, str], tmp_path: Path) -> None:
    """The client's tests (node:test, a fake `vscode`) run against the
    extension unpacked from the .vsix: what extension.js requires is in it."""
    vsix, _ = packaged
    zipfile.ZipFile(vsix).extractall(tmp_path)
    result = subprocess.run(
        [_tool("node"), "--test", str(EXTENSION / "test" / "client.test.js")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "REWARDRULES_EXTENSION": str(tmp_path / "extension")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^# pass (\d+)$", result.stdout, re.M) is not None
    assert re.search(r"^# fail 0$", result.stdout, re.M) is not None


# -- snippets -----------------------------------------------------------------


def expand(body: str) -> str:
    """A snippet as VS Code inserts it when every placeholder keeps its
    default: `${1:x}` is x (placeholders nest), `${1|a,b|}` is a, `$1` and
    `${1}` repeat tab stop 1's text, `\\$`, `\\}` and `\\\\` are the
    characters. A variable ($TM_FILENAME ...) is refused: the snippets
    use none, and its text would depend on the editor."""
    defaults: dict[str, str] = {}

    def walk(index: int, inside: bool) -> tuple[str, int]:
        out: list[str] = []
        while index < len(body):
            char = body[index]
            if char == "\\" and index + 1 < len(body) and body[index + 1] in "$}\\":
                out.append(body[index + 1])
                index += 2
            elif inside and char == "}":
                return "".join(out), index
            elif char == "$" and (mirror := re.match(r"\$(\d+)|\$\{(\d+)\}", body[index:])):
                out.append(f"\0{mirror.group(1) or mirror.group(2)}\0")
                index += mirror.end()
            elif char == "$" and (choice := re.match(r"\$\{(\d+)\|((?:[^,|\\]|\\.)*)", body[index:])):
                defaults[choice.group(1)] = re.sub(r"\\(.)", r"\1", choice.group(2))
                out.append(defaults[choice.group(1)])
                index = body.index("|}", index + choice.end()) + 2
            elif char == "$" and (start := re.match(r"\$\{(\d+):", body[index:])):
                text, index = walk(index + start.end(), inside=True)
                defaults.setdefault(start.group(1), text)
                out.append(text)
                index += 1
            else:
                assert not re.match(r"\$\{?[A-Za-z_]", body[index:]), f"a variable in a snippet: {body[index:]!r}"
                out.append(char)
                index += 1
        assert not inside, f"an unclosed placeholder in {body!r}"
        return "".join(out), index

    text, _ = walk(0, inside=False)
    return re.sub(r"\0(\d+)\0", lambda mirror: defaults.get(mirror.group(1), ""), text)


def test_expand_fills_placeholders_as_vscode_does() -> None:
    body = "a ${1:x ${2:y}} ${3|p,q|} $2 ${1} \\$9 \\} $0"
    assert expand(body) == "a x y p y x y $9 } "


def _snippets(language: str) -> list[tuple[str, str]]:
    """(name, text) of every snippet the manifest contributes for a language."""
    found: list[tuple[str, str]] = []
    for entry in MANIFEST["contributes"]["snippets"]:
        if entry["language"] == language:
            snippets = json.loads((EXTENSION / entry["path"]).read_text(encoding="utf-8"))
            for name, snippet in snippets.items():
                body = snippet["body"]
                found.append((name, expand("\n".join(body) if isinstance(body, list) else body)))
    return found


def _cli(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rewardrules", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )


def test_every_rule_file_snippet_checks_clean(tmp_path: Path) -> None:
    snippets = _snippets("rewardrules")
    assert {name for name, _ in snippets} >= {"Milestone", "Program"}
    for name, text in snippets:
        path = tmp_path / f"{name.lower()}.rules"
        path.write_text(HEADER + text + "\n", encoding="utf-8")
        result = _cli("check", "--strict", path)
        assert result.returncode == 0, f"{name}:\n{path.read_text()}\n{result.stdout}{result.stderr}"


def test_every_rule_test_snippet_is_a_rule_test_that_runs(tmp_path: Path) -> None:
    """`rewardrules test` reads the case (exit 2 would be an invalid test
    file, or an expectation naming a milestone the rule file lacks) and
    scores its events against the rule file of the `program` snippet, whose
    milestone it names; the program's example eligibility (a referral's
    `source`) is not met by the case's events, so the award is missing."""
    snippets = _snippets("toml")
    assert [name for name, _ in snippets] == ["Rule test case"]
    program = dict(_snippets("rewardrules"))["Program"]
    (tmp_path / "demo.rules").write_text(HEADER + program + "\n", encoding="utf-8")
    for _, text in snippets:
        (tmp_path / "demo.test.toml").write_text(text + "\n", encoding="utf-8")
        result = _cli("test", "--format", "json", tmp_path / "demo.test.toml")
        assert result.returncode == 1, result.stdout + result.stderr
        [case] = json.loads(result.stdout)["files"][0]["cases"]
        assert case["name"] == "what it shows" and case["error"] is None
        assert [m["expected"]["milestone"] for m in case["missing"]] == ["first_payment"]
