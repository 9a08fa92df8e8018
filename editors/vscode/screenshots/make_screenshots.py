"""The two pictures of docs/editor.md, made from the real thing (VS Code
itself is not needed, nor downloaded):

- docs/assets/editor-highlighting.png: a reference rule set coloured by the
  extension's own TextMate grammar, tokenised by vscode-textmate and
  vscode-oniguruma (the libraries VS Code uses; `highlight.js`);
- docs/assets/editor-lsp.png: what `rewardrules lsp` answers, over stdio as
  an editor drives it, for the same rule set with a mistake in it: the
  diagnostics (a squiggle under their range, the message and its help),
  the hover of a milestone and the completion after `reward referrer `,
  drawn as an editor draws them.

Each page is written as HTML and photographed by headless Chromium. Run from
a checkout, after `npm ci` in editors/vscode:

    python editors/vscode/screenshots/make_screenshots.py [OUT_DIR [PAGES_DIR]]

(OUT_DIR defaults to docs/assets; the HTML pages are kept in PAGES_DIR if
it is given; the environment must have rewardrules
with its `lsp` extra, or the checkout's `src` is used.)
"""

from __future__ import annotations

import html
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXTENSION = HERE.parent
ROOT = EXTENSION.parents[1]
RULESET = ROOT / "rulesets" / "referral_milestones.rules"
#: the Chromium that photographs the pages (the one tests/test_report_browser.py uses)
CHROMIUM = os.environ.get("REWARDRULES_CHROMIUM", "/usr/bin/chromium")
#: a photograph of a local page: no sandbox (a container), no GPU, nothing fetched
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--disable-background-networking",
]
#: the mistake the language server picture shows: a tier copied and not
#: changed (the warning RR603 of `check --strict`; the file still checks, so
#: the hover has the milestone's rewards and payout bound)
MISTAKE = ("when conversions >= 10", "when conversions >= 5")
#: where the picture hovers (a milestone's name) and completes (after the
#: role of the last reward)
HOVER_AT = "first_referral"
COMPLETE_AFTER = "reward referrer "
LINE_HEIGHT = 20
CHAR_WIDTH = 8.43  # DejaVu Sans Mono at 14px
TIMEOUT = 60


def screenshot(page: Path, out: Path, width: int, height: int) -> None:
    """Photograph an HTML page with headless Chromium."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=TIMEOUT,
        )


# -- highlighting ---------------------------------------------------------------


def _highlight(*args: str | Path) -> None:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is needed (the grammar is run by vscode-textmate)")
    subprocess.run([node, str(HERE / "highlight.js"), *map(str, args)], check=True, timeout=TIMEOUT)


def coloured_lines(text: str, work: Path) -> list[str]:
    """The lines of a rule file as HTML, coloured by the extension's grammar."""
    source, out = work / "coloured.rules", work / "coloured.json"
    source.write_text(text + "\n", encoding="utf-8")
    _highlight("--lines", source, out)
    lines: list[str] = json.loads(out.read_text(encoding="utf-8"))
    return lines


def highlighting(out: Path, work: Path) -> None:
    page = work / "highlighting.html"
    _highlight(RULESET, page)
    lines = RULESET.read_text(encoding="utf-8").rstrip("\n").count("\n") + 1
    screenshot(page, out, 900, 35 + 16 + lines * LINE_HEIGHT + 22 + 12)


# -- the language server ----------------------------------------------------------


class Server:
    """`rewardrules lsp` as a subprocess, spoken to in JSON-RPC over stdio."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONHASHSEED": "0"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rewardrules", "lsp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.next_id = 0
        self.notifications: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        length = 0
        while (line := self.process.stdout.readline().strip()) != b"":
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if length == 0:
            raise SystemExit("rewardrules lsp stopped (is the `lsp` extra installed?)")
        message: dict[str, Any] = json.loads(self.process.stdout.read(length))
        return message

    def request(self, method: str, params: dict[str, Any]) -> Any:
        """Send a request and wait for its answer (notifications on the way are kept)."""
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == self.next_id and "method" not in message:
                if "error" in message:
                    raise SystemExit(f"{method}: {message['error']}")
                return message.get("result")
            if "method" in message:
                self.notifications.append(message)

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send({"method": method, "params": params})

    def close(self) -> None:
        self.request("shutdown", {})
        self.notify("exit", {})
        self.process.wait(timeout=TIMEOUT)

    def stop(self) -> None:
        """End the process if it is still there, and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def _position(text: str, needle: str, after: bool = False) -> dict[str, int]:
    """Where `needle` starts (or ends) in text; its last place if it ends."""
    index = text.rindex(needle) + len(needle) if after else text.index(needle)
    line = text.count("\n", 0, index)
    return {"line": line, "character": index - (text.rfind("\n", 0, index) + 1)}


def ask_the_server(text: str, uri: str) -> dict[str, Any]:
    """Open `text` in a real server; its diagnostics, a hover and a completion."""
    server = Server()
    try:
        server.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": ROOT.as_uri(),
                "capabilities": {"textDocument": {"hover": {"contentFormat": ["markdown", "plaintext"]}}},
            },
        )
        server.notify("initialized", {})
        document = {"uri": uri}
        server.notify(
            "textDocument/didOpen",
            {"textDocument": {**document, "languageId": "rewardrules", "version": 1, "text": text}},
        )
        # a request is the barrier: the server publishes before it answers the next one
        server.request("textDocument/documentSymbol", {"textDocument": document})
        published = [n["params"] for n in server.notifications if n["method"] == "textDocument/publishDiagnostics"]
        hover_at = _position(text, HOVER_AT)
        hover = server.request("textDocument/hover", {"textDocument": document, "position": hover_at})
        complete_at = _position(text, COMPLETE_AFTER, after=True)
        completion = server.request("textDocument/completion", {"textDocument": document, "position": complete_at})
        server.close()
    finally:
        server.stop()
    diagnostics = [d for p in published if p["uri"] == uri for d in p["diagnostics"]]
    items = completion["items"] if isinstance(completion, dict) else completion
    return {
        "diagnostics": diagnostics,
        "hover": hover,
        "hover_at": hover_at,
        "completion": items,
        "complete_at": complete_at,
    }


def _code_line(line: str, coloured: str, number: int, squiggles: list[tuple[int, int, str]]) -> str:
    """One line of code as coloured HTML; over it, the same text in
    transparent ink with the ranges of its diagnostics underlined, so the
    squiggles fall under their characters whatever the font."""
    cuts = sorted({0, len(line), *(c for start, end, _ in squiggles for c in (start, end))})
    parts = []
    for start, end in itertools.pairwise(cuts):
        kinds = [kind for s, e, kind in squiggles if s <= start and end <= e]
        piece = html.escape(line[start:end])
        parts.append(f'<span class="squiggle {kinds[0]}">{piece}</span>' if kinds else piece)
    overlay = f'<span class="overlay">{"".join(parts)}</span>' if squiggles else ""
    return f'<div class="row"><span class="no">{number}</span><span class="code">{coloured}{overlay}</span></div>'


SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}


def _box(top: float, left: float, inner: str, kind: str) -> str:
    return f'<div class="box {kind}" style="top:{top:.0f}px;left:{left:.0f}px">{inner}</div>'


def _markdown(value: str) -> str:
    """The little markdown a hover has: fenced code, `code`, paragraphs."""
    out, code = [], False
    for line in value.splitlines():
        if line.startswith("```"):
            out.append("</pre>" if code else '<pre class="hovercode">')
            code = not code
        elif code:
            out.append(html.escape(line) + "\n")
        elif line.strip() in ("", "---"):
            out.append("<hr>" if line.strip() == "---" else "")
        else:
            item = line.startswith("- ")
            parts = html.escape(line.removeprefix("- ")).split("`")
            inline = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
            out.append(f'<p class="li">• {inline}</p>' if item else f"<p>{inline}</p>")
    return "".join(out)


def lsp_page(text: str, coloured: list[str], name: str, answers: dict[str, Any]) -> str:
    lines = text.split("\n")
    squiggles: dict[int, list[tuple[int, int, str]]] = {}
    for diagnostic in answers["diagnostics"]:
        start, end = diagnostic["range"]["start"], diagnostic["range"]["end"]
        for line in range(start["line"], end["line"] + 1):
            first = start["character"] if line == start["line"] else 0
            last = end["character"] if line == end["line"] else len(lines[line])
            squiggles.setdefault(line, []).append((first, last, SEVERITY.get(diagnostic.get("severity", 1), "error")))
    rows = "\n".join(_code_line(line, coloured[i], i + 1, squiggles.get(i, [])) for i, line in enumerate(lines))
    top0, left0 = 35 + 8, 72
    boxes = []
    for diagnostic in answers["diagnostics"][:1]:
        start = diagnostic["range"]["start"]
        message = html.escape(diagnostic["message"]).replace("\n", "<br>")
        code = html.escape(str(diagnostic.get("code", "")))
        inner = f'<div>{message}</div><div class="source">{html.escape(diagnostic.get("source", ""))}({code})</div>'
        top = top0 + start["line"] * LINE_HEIGHT - 2
        severity = SEVERITY.get(diagnostic.get("severity", 1), "error")
        boxes.append(_box(top, left0 + start["character"] * CHAR_WIDTH, inner, f"diag {severity} up"))
    hover = answers["hover"]
    if hover:
        contents = hover["contents"]
        value = contents["value"] if isinstance(contents, dict) else str(contents)
        at = answers["hover_at"]
        boxes.append(
            _box(top0 + at["line"] * LINE_HEIGHT, left0 + at["character"] * CHAR_WIDTH, _markdown(value), "hover up")
        )
    items = answers["completion"][:8]
    if items:
        at = answers["complete_at"]
        rows_html = "".join(
            f'<div class="item"><span class="label">{html.escape(i["label"])}</span>'
            f'<span class="detail">{html.escape(i.get("detail") or "")}</span></div>'
            for i in items
        )
        boxes.append(
            _box(top0 + (at["line"] + 1) * LINE_HEIGHT, left0 + at["character"] * CHAR_WIDTH, rows_html, "suggest")
        )
    problems = "".join(
        f'<div class="problem"><span class="icon {SEVERITY.get(d.get("severity", 1), "error")}">●</span> '
        f'{html.escape(d["message"].splitlines()[0])} <span class="source">{html.escape(d.get("source", ""))}({html.escape(str(d.get("code", "")))})'
        f" [Ln {d['range']['start']['line'] + 1}, Col {d['range']['start']['character'] + 1}]</span></div>"
        for d in answers["diagnostics"]
    )
    return f"""<!doctype html>
<meta charset="utf-8">
<title>{html.escape(name)}</title>
<style>
  body {{ margin: 0; background: #1E1E1E; font: 14px/20px "DejaVu Sans Mono", monospace; color: #D4D4D4; }}
  .tabs {{ background: #252526; height: 35px; display: flex; font: 13px/35px "DejaVu Sans", sans-serif; }}
  .tab {{ background: #1E1E1E; color: #FFF; padding: 0 16px; border-top: 1px solid #0078D4; }}
  .editor {{ padding: 8px 0 {LINE_HEIGHT * 9}px; position: relative; }}
  .row {{ white-space: pre; height: {LINE_HEIGHT}px; }}
  .no {{ display: inline-block; width: 48px; padding-right: 24px; text-align: right; color: #6E7681; }}
  .code {{ position: relative; }}
  .overlay {{ position: absolute; left: 0; top: 0; color: transparent; }}
  .squiggle.error {{ text-decoration: underline wavy #F14C4C; text-underline-offset: 3px; }}
  .squiggle.warning {{ text-decoration: underline wavy #CCA700; text-underline-offset: 3px; }}
  .squiggle.info, .squiggle.hint {{ text-decoration: underline wavy #3794FF; text-underline-offset: 3px; }}
  .box {{ position: absolute; background: #252526; border: 1px solid #454545; box-shadow: 0 2px 8px #000A;
         font: 13px/18px "DejaVu Sans", sans-serif; padding: 6px 10px; max-width: 560px; }}
  .box.up {{ transform: translateY(-100%); }}
  .box .source {{ color: #8B949E; }}
  .box.diag.error {{ border-left: 3px solid #F14C4C; }}
  .box.diag.warning {{ border-left: 3px solid #CCA700; }}
  .box.diag.info, .box.diag.hint {{ border-left: 3px solid #3794FF; }}
  .hovercode {{ font: 13px/18px "DejaVu Sans Mono", monospace; margin: 2px 0; white-space: pre-wrap; color: #DCDCAA; }}
  .box p {{ margin: 4px 0; }}
  .box p.li {{ margin: 2px 0 2px 12px; }}
  .box code {{ font-family: "DejaVu Sans Mono", monospace; color: #CE9178; }}
  .box hr {{ border: 0; border-top: 1px solid #454545; }}
  .suggest {{ padding: 2px 0; min-width: 320px; }}
  .item {{ padding: 0 8px; display: flex; justify-content: space-between; gap: 24px; }}
  .item:first-child {{ background: #04395E; }}
  .item .detail {{ color: #8B949E; }}
  .panel {{ border-top: 1px solid #454545; font: 13px/22px "DejaVu Sans", sans-serif; padding: 4px 16px 30px; background: #1E1E1E; }}
  .panel h2 {{ font-size: 11px; letter-spacing: 0.5px; margin: 0; color: #E7E7E7; font-weight: normal; }}
  .icon.error {{ color: #F14C4C; }} .icon.warning {{ color: #CCA700; }} .icon.info, .icon.hint {{ color: #3794FF; }}
  .problem .source {{ color: #8B949E; }}
  .status {{ position: fixed; bottom: 0; left: 0; right: 0; height: 22px; background: #007ACC; color: #FFF;
            font: 12px/22px "DejaVu Sans", sans-serif; padding: 0 10px; text-align: right; }}
</style>
<div class="tabs"><div class="tab">{html.escape(name)}</div></div>
<div class="editor">
{rows}
</div>
{"".join(boxes)}
<div class="panel"><h2>PROBLEMS</h2>{problems}</div>
<div class="status">answers of rewardrules lsp, over stdio</div>
"""


def language_server_page(work: Path) -> tuple[Path, dict[str, Any]]:
    """The page of the server's answers for the rule set with the mistake."""
    text = RULESET.read_text(encoding="utf-8").rstrip("\n")
    assert MISTAKE[0] in text, "the rule set changed: pick another MISTAKE"
    text = text.replace(*MISTAKE)
    uri = (ROOT / "build" / RULESET.name).as_uri()  # never written: the server reads no file
    answers = ask_the_server(text, uri)
    page = work / "lsp.html"
    page.write_text(lsp_page(text, coloured_lines(text, work), RULESET.name, answers), encoding="utf-8")
    return page, answers


def language_server(out: Path, work: Path) -> None:
    page, answers = language_server_page(work)
    lines = RULESET.read_text(encoding="utf-8").rstrip("\n").count("\n") + 1
    problems = max(1, len(answers["diagnostics"]))
    screenshot(page, out, 900, 35 + 16 + (lines + 9) * LINE_HEIGHT + 30 + problems * 22 + 34 + 22)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "assets"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(argv[1]) if len(argv) > 1 else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        highlighting(out / "editor-highlighting.png", work)
        language_server(out / "editor-lsp.png", work)
    print(f"wrote {out / 'editor-highlighting.png'} and {out / 'editor-lsp.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
