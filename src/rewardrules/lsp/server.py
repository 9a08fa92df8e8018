"""The language server: pygls over stdio, wired to `documents` and `features`.

Every handler runs under `_guarded`: a document is untrusted, and whatever
goes wrong while answering about it (a bug of ours included) becomes one
line in the editor's log naming the request and the kind of error, never a
traceback, and the server keeps serving. The server reads no file: it
knows only the text the editor sends (`didOpen`, `didChange`).

Options (`initializationOptions`): `{"strict": false}` leaves out the
warnings of `check --strict` (RR6xx), which are on by default.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from .. import __version__
from ..core.runtime import in_context
from ..core.source import Source
from . import features, runs
from .documents import Document, analyse, note, path_of

_T = TypeVar("_T")


class RulesServer(LanguageServer):
    """The documents as last analysed, by URI, and the options."""

    def __init__(self) -> None:
        super().__init__("rewardrules", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.documents: dict[str, Document] = {}
        self.strict = True
        #: whether the editor asked the server to shut down (`shutdown`)
        #: before it ended: the exit code says so (`serve`)
        self.shut_down = False

    def report_server_error(self, error: Exception, source: Any) -> None:
        """An error outside a request: one line, no details of ours."""
        self.window_log_message(
            types.LogMessageParams(type=types.MessageType.Error, message=f"rewardrules: {type(error).__name__}")
        )

    def by_path(self, path: str) -> Document | None:
        return next((d for d in self.documents.values() if d.path == path), None)


server = RulesServer()


def _guarded(method: str) -> Callable[[Callable[..., _T]], Callable[..., _T | None]]:
    """Answer nothing (and log one line) when a handler fails."""

    def wrap(handler: Callable[..., _T]) -> Callable[..., _T | None]:
        @functools.wraps(handler)
        def guarded(ls: RulesServer, params: Any) -> _T | None:
            try:
                return in_context(handler)(ls, params)
            except JsonRpcInvalidParams:
                raise  # a refusal the editor shows (a rename to a keyword)
            except Exception as error:
                message = f"rewardrules: {method} failed ({type(error).__name__}); please report it"
                ls.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=message))
                return None

        return guarded

    return wrap


def _options(ls: RulesServer, params: types.InitializeParams) -> None:
    options = params.initialization_options
    if isinstance(options, dict) and isinstance(options.get("strict"), bool):
        ls.strict = options["strict"]


@server.feature(types.INITIALIZE)
@_guarded("initialize")
def initialize(ls: RulesServer, params: types.InitializeParams) -> None:
    _options(ls, params)


def _refresh(ls: RulesServer, uri: str) -> None:
    """Analyse a document's current text and publish its diagnostics; the
    open test files are analysed again too (their rule file may be this)."""
    text = ls.workspace.get_text_document(uri).source
    document = _analysed(ls, uri, text)
    if not document.is_test:
        for other in list(ls.documents.values()):
            if other.is_test:
                _analysed(ls, other.uri, other.text)


def _analysed(ls: RulesServer, uri: str, text: str) -> Document:
    try:
        document = in_context(analyse)(uri, text, ls.strict, ls.by_path, ls.documents.get(uri))
    except Exception as error:
        said = f"rewardrules could not check this document ({type(error).__name__}); please report it"
        document = Document(uri, path_of(uri), text, Source(path_of(uri), text), diagnostics=[note(said)])
    ls.documents[uri] = document
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=document.diagnostics))
    return document


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
@_guarded("didOpen")
def did_open(ls: RulesServer, params: types.DidOpenTextDocumentParams) -> None:
    _refresh(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
@_guarded("didChange")
def did_change(ls: RulesServer, params: types.DidChangeTextDocumentParams) -> None:
    _refresh(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
@_guarded("didClose")
def did_close(ls: RulesServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.documents.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


def _on_document(method: str) -> Callable[[Callable[[Document, Any], _T]], Callable[..., _T | None]]:
    """A request about one open document: answered from its analysis
    (nothing for a document the editor has not opened), under `_guarded`."""

    def wrap(handler: Callable[[Document, Any], _T]) -> Callable[..., _T | None]:
        @_guarded(method)
        def answer(ls: RulesServer, params: Any) -> _T | None:  # pygls passes the server by this signature
            document = ls.documents.get(params.text_document.uri)
            return None if document is None else handler(document, params)

        return answer

    return wrap


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
@_on_document("formatting")
def formatting(document: Document, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    return features.formatting(document)


@server.feature(types.TEXT_DOCUMENT_HOVER)
@_on_document("hover")
def hover(document: Document, params: types.HoverParams) -> types.Hover | None:
    return features.hover(document, params.position)


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."]))
@_on_document("completion")
def completion(document: Document, params: types.CompletionParams) -> list[types.CompletionItem] | None:
    return None if document.is_test else features.completion(document, params.position)


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
@_on_document("definition")
def definition(document: Document, params: types.DefinitionParams) -> types.Location | None:
    return features.definition(document, params.position)


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
@_on_document("references")
def references(document: Document, params: types.ReferenceParams) -> list[types.Location] | None:
    return features.references(document, params.position, params.context.include_declaration)


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@_on_document("documentSymbol")
def document_symbol(document: Document, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    return features.symbols(document)


@server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
@_on_document("prepareRename")
def prepare_rename(document: Document, params: types.PrepareRenameParams) -> types.Range | None:
    return features.prepare_rename(document, params.position)


@server.feature(types.TEXT_DOCUMENT_RENAME)
@_on_document("rename")
def rename(document: Document, params: types.RenameParams) -> types.WorkspaceEdit | None:
    try:
        return features.rename(document, params.position, params.new_name)
    except ValueError as refused:
        raise JsonRpcInvalidParams(str(refused)) from None


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix])
)
@_on_document("codeAction")
def code_action(document: Document, params: types.CodeActionParams) -> list[types.CodeAction]:
    return features.code_actions(document, list(params.context.diagnostics))


@server.feature(types.TEXT_DOCUMENT_CODE_LENS)
@_guarded("codeLens")
def code_lens(ls: RulesServer, params: types.CodeLensParams) -> list[types.CodeLens] | None:
    document = ls.documents.get(params.text_document.uri)
    return None if document is None else runs.lenses(document, ls.by_path)


@server.command(runs.COMMAND)
def run_tests(ls: RulesServer, uri: str) -> str:
    """Run a rule test's cases: its failures become its diagnostics, and
    the summary is shown (and returned)."""
    document = ls.documents.get(uri)
    if document is None:
        return "the test file is not open"
    try:
        found, summary = in_context(runs.run)(document, ls.by_path)
    except Exception as error:  # the guard of `_guarded`, for a command's own signature
        summary = f"rewardrules: running the tests failed ({type(error).__name__}); please report it"
        ls.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=summary))
        return summary
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=found))
    ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=f"rule tests: {summary}"))
    return summary


@server.feature(types.SHUTDOWN)
def shutdown(ls: RulesServer, params: Any) -> None:
    """Note the request: the protocol's exit code depends on it."""
    ls.shut_down = True


def serve() -> int:
    """Speak LSP over stdin and stdout until the editor says exit, and give
    the exit code the protocol asks for: 0 if the editor asked to shut
    down first, else 1 (an `exit` without `shutdown`, or standard input
    ended: the editor went away). pygls decides the same code but its
    `start_io` drops it (`SystemExit`); until 2026-12-07 the command
    always exited 0. Nothing pygls logs (a malformed message's traceback)
    goes anywhere: stderr is the editor's log."""
    quiet = logging.getLogger("pygls")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    server.start_io()
    return 0 if server.shut_down else 1
