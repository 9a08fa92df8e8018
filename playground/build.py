"""Build the playground: one static folder that runs rewardrules in the browser.

    python playground/build.py [--out DIR] [--serve] [--port P]

The folder holds the page (index.html, app.js, worker.js, style.css,
bridge.py), Pyodide's runtime (copied from `playground/node_modules/pyodide`,
which `npm ci` in `playground/` installs from the npm registry), the project's
wheel (built here with hatchling) and its pure-Python dependencies (lark,
jinja2, markupsafe without its C speedups, tzdata: zipped from the installed
distributions, so the browser runs the versions the CLI runs), and the
reference programs with a golden ledger each. Nothing is fetched from
anywhere else at run time (docs/playground.md).

`--serve` serves the folder on 127.0.0.1 (the page needs http: a browser
fetches no wasm from a file: URL).
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: the page's own files, copied as they are
PAGE = ("index.html", "app.js", "worker.js", "style.css", "bridge.py")
#: Pyodide's runtime: what `loadPyodide` fetches from its index URL
RUNTIME = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
#: The distributions rewardrules imports to check, format and score (the
#: compiled ones it imports elsewhere, pydantic, msgspec and DuckDB, are
#: left out: tests/test_playground_imports.py keeps those paths free of them)
DEPENDENCIES = ("lark", "jinja2", "markupsafe", "tzdata")
#: files of a distribution that a browser cannot load (compiled for this
#: machine) or does not need
_SKIPPED_SUFFIXES = (".so", ".pyd", ".pyc", ".dylib")
#: the file that marks a folder as a build (written first): one that lacks
#: it is not emptied
_MARK = ".playground-build"
#: a fixed date for every zip entry: the same inputs give the same bytes
_EPOCH = (1980, 1, 1, 0, 0, 0)


def build(out: Path) -> Path:
    """Write the playground into `out` (emptied first) and return it."""
    _refuse_foreign(out)
    if out.exists():
        shutil.rmtree(out)
    (out / "pyodide").mkdir(parents=True)
    (out / _MARK).write_text("a playground build: build.py empties this folder\n", encoding="utf-8")
    for name in PAGE:
        shutil.copyfile(HERE / name, out / name)
    _copy_runtime(out / "pyodide")
    wheels = out / "wheels"
    wheels.mkdir()
    wheel = _build_wheel(wheels)
    _zip_dependencies(wheels / "dependencies.zip")
    manifest = {"wheel": f"wheels/{wheel.name}", "dependencies": "wheels/dependencies.zip"}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    examples = reference_examples()
    (out / "examples.json").write_text(json.dumps(examples, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def _refuse_foreign(out: Path) -> None:
    """Stop before emptying a folder that is not an earlier build: `--out .`
    or `--out playground` would otherwise delete a checkout. An earlier build,
    finished or stopped half way, holds the mark this script writes first;
    an empty folder has nothing to lose."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not (out / _MARK).is_file():
        raise SystemExit(f"build.py: {out} is not empty and not a playground build: give --out a new or empty folder")


def _copy_runtime(target: Path) -> None:
    source = HERE / "node_modules" / "pyodide"
    missing = [name for name in RUNTIME if not (source / name).is_file()]
    if missing:
        raise SystemExit(
            f"build.py: no Pyodide in {source}: run `npm ci` in playground/ (missing {', '.join(missing)})"
        )
    for name in RUNTIME:
        shutil.copyfile(source / name, target / name)


def _untracked() -> list[str]:
    """Files under `src/rewardrules` that git does not track and does not
    ignore: hatchling would pack them into the wheel the page serves (a
    stray `.env` would be on the web). Empty outside a git checkout."""
    done = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "--", "src/rewardrules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.splitlines() if done.returncode == 0 else []


def _build_wheel(target: Path) -> Path:
    """The project's wheel, built from this checkout by hatchling (the
    project's build back end) in a fresh process; refused while files the
    repository does not know lie in the package."""
    stray = _untracked()
    if stray:
        listed = "\n  ".join(stray[:10])
        raise SystemExit(f"build.py: untracked files in src/rewardrules would be served in the wheel:\n  {listed}")
    with tempfile.TemporaryDirectory() as scratch:
        code = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
        done = subprocess.run(
            [sys.executable, "-c", code, scratch], cwd=ROOT, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"build.py: building the wheel failed:\n{done.stderr}")
        name = done.stdout.strip().splitlines()[-1]
        return Path(shutil.copyfile(Path(scratch) / name, target / name))


def _zip_dependencies(path: Path) -> None:
    """Every file of the dependencies' installed distributions (their
    modules and metadata) in one zip laid out as site-packages, leaving out
    compiled files: markupsafe then runs its pure-Python escaping."""
    entries: dict[str, Path] = {}
    for name in DEPENDENCIES:
        dist = importlib.metadata.distribution(name)
        base = Path(os.path.normpath(Path(str(dist.locate_file("")))))
        for file in dist.files or ():
            relative = file.as_posix()
            if "__pycache__" in relative or relative.endswith(_SKIPPED_SUFFIXES):
                continue  # caches, compiled code
            located = Path(str(dist.locate_file(file)))
            if _inside(located, base) and located.is_file():
                entries[relative] = located
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in sorted(entries):
            info = zipfile.ZipInfo(relative, _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[relative].read_bytes())


def _inside(located: Path, base: Path) -> bool:
    """Whether a file a distribution's RECORD lists is in its site-packages
    (by its path as written, symbolic links not followed): RECORD is the
    distribution's own text, and a path in it that is absolute or climbs out
    (`../../bin/lark`, `lark/../../../../home/me/.netrc`) names a file of the
    machine, never one the browser needs."""
    return Path(os.path.normpath(located)).is_relative_to(base)


def reference_examples() -> list[dict[str, str]]:
    """The reference programs (rulesets/*.rules), each with its largest
    golden ledger (tests/golden/NAME/*.jsonl): the examples the page offers."""
    examples = []
    for rules in sorted((ROOT / "rulesets").glob("*.rules")):
        ledgers = sorted((ROOT / "tests" / "golden" / rules.stem).glob("*.jsonl"))
        if not ledgers:
            continue
        ledger = max(ledgers, key=lambda p: (len(p.read_bytes().splitlines()), p.name))
        examples.append(
            {
                "name": rules.stem,
                "rules": rules.read_text(encoding="utf-8"),
                "ledger_name": ledger.name,
                "ledger": ledger.read_text(encoding="utf-8"),
            }
        )
    return examples


def content_security_policy(folder: Path) -> str:
    """The policy of the page's meta tag (index.html), which a server must
    also send as a header: a worker served over http keeps no policy of the
    page that starts it, only its own response's, so without the header
    worker.js (where Python runs) could fetch from anywhere."""
    page = (folder / "index.html").read_text(encoding="utf-8")
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    if found is None:
        raise SystemExit(f"build.py: {folder / 'index.html'} declares no Content-Security-Policy")
    return found.group(1)


class PolicyHandler(http.server.SimpleHTTPRequestHandler):
    """A static file handler that sends `policy` as every response's
    Content-Security-Policy header (the worker's only policy)."""

    policy = "default-src 'none'"

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.policy)
        super().end_headers()


def handler_for(folder: Path) -> type[PolicyHandler]:
    """A handler class serving `folder` with the page's policy as a header."""
    policy = content_security_policy(folder)
    directory = str(folder)

    class Handler(PolicyHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=directory, **kwargs)  # type: ignore[arg-type]

    Handler.policy = policy
    return Handler


def serve(folder: Path, port: int) -> None:
    """Serve `folder` on 127.0.0.1 until interrupted."""
    handler = handler_for(folder)
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"playground: http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build (and serve) the rewardrules playground.")
    parser.add_argument("--out", type=Path, default=HERE / "dist", help="the folder to write (default playground/dist)")
    parser.add_argument("--serve", action="store_true", help="serve the folder on 127.0.0.1 after building it")
    parser.add_argument("--port", type=int, default=8000, help="the port to serve on (default 8000; 0: any free one)")
    args = parser.parse_args(argv)
    out = build(args.out.resolve())
    print(f"playground built in {out}", flush=True)
    if args.serve:
        serve(out, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
