"""The client side of the language server's tests (tests/test_lsp*.py).

pytest-lsp starts `python -m rewardrules lsp` as a subprocess and speaks
LSP to it over stdio: every test goes through the real protocol
(initialize, didOpen/didChange, requests), never calls a handler. Each
test module starts one server (`client`) and opens documents of its own
names in it; none is ever written to disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from rewardrules.report.findings import findings

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")
RULESET = ROOT / "rulesets" / "referral_milestones.rules"

#: the server, from this checkout's sources (an absolute path: the
#: subprocess must not import another copy)
CONFIG = ClientServerConfig(
    server_command=[sys.executable, "-m", "rewardrules", "lsp"],
    server_env={**os.environ, "PYTHONPATH": SRC, "PYTHONHASHSEED": "0"},
)


#: one server for a test module: starting Python and pygls is most of a
#: test's time
ASYNC = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient):  # the fixture of every tests/test_lsp*.py
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=ROOT.as_uri())
    )
    yield
    await lsp_client.shutdown_session()


def uri(name: str = "demo.rules") -> str:
    return (ROOT / "build" / "lsp-tests" / name).as_uri()


async def open_text(client: LanguageClient, text: str, name: str = "demo.rules") -> list[types.Diagnostic]:
    """Open a document (never written to disk) and wait for its diagnostics."""
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri(name), language_id="rewardrules", version=1, text=text)
        )
    )
    return await diagnostics(client, uri(name))


async def change_text(
    client: LanguageClient, text: str, version: int, name: str = "demo.rules"
) -> list[types.Diagnostic]:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri(name), version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    return await diagnostics(client, uri(name))


async def diagnostics(client: LanguageClient, target: str) -> list[types.Diagnostic]:
    """The diagnostics last published for `target`, once the server has
    handled every message sent before: a request is the barrier (the server
    handles messages in order, and publishes before it answers the next
    request), so no notification can be missed or waited for forever."""
    await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=target))
    )
    return list(client.diagnostics.get(target, []))


def at(text: str, needle: str, nth: int = 0, delta: int = 0) -> types.Position:
    """The position of the `nth` occurrence of `needle` (plus `delta`
    characters), as the editor counts it (ASCII texts here)."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += delta
    line = text.count("\n", 0, index)
    return types.Position(line=line, character=index - (text.rfind("\n", 0, index) + 1))


def expected(text: str, strict: bool = True) -> list[tuple[str, str, int, int, int, int]]:
    """What `check --strict` says of `text`: (code, message and help,
    start line, column, end line, column), 0-based as the editor counts."""
    out = []
    for d in findings(str(Path(uri()[len("file://") :])), text, strict)[1]:
        assert d.span is not None
        start = d.span.source.position(d.span.start)
        end = d.span.source.position(max(d.span.end, d.span.start + 1))
        message = d.message + (f"\nhelp: {d.help}" if d.help else "")
        out.append((d.code, message, start[0] - 1, start[1] - 1, end[0] - 1, end[1] - 1))
    return out


def got(diagnostics: list[types.Diagnostic]) -> list[tuple[str, str, int, int, int, int]]:
    return [
        (str(d.code), d.message, d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character)
        for d in diagnostics
    ]
