"""`dslc lsp`: the language server, over stdio (pygls 2).

Every opened or changed document is compiled at once (the front end takes
milliseconds and never runs XLA) into an `Analysis`; its diagnostics are published and
hover, definition, completion and symbols are answered from it (`features.py`). Each
handler catches its own failures, logs them (window/logMessage) and answers empty, so
that no document, however broken, ends the session; a request whose parameters do not
fit is answered with an error, and input that is not framed as the protocol says ends
the session with status 1, for the editor to start a new server (`framing.py`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import threading
import traceback

from lsprotocol import types
from pygls.io_ import StdinAsyncReader, StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from .... import __version__
from . import features
from .analysis import Analysis
from .framing import FramingError, serve_messages

log = logging.getLogger(__name__)


class DslcServer(LanguageServer):
    def __init__(self):
        super().__init__("dslc", __version__,
                         text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.analyses: dict[str, Analysis] = {}
        self.framing_error: str | None = None

    def _start_io_async(self, stdin=None, stdout=None):
        """pygls' stdio server, reading with `framing.serve_messages`."""
        self._stop_event = threading.Event()
        reader = StdinAsyncReader(stdin or sys.stdin.buffer, self.thread_pool)
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(serve_messages(self.protocol, self._stop_event, reader))
        except FramingError as error:
            self.framing_error = str(error)
        except (BrokenPipeError, KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    def report(self, message: str, kind=types.MessageType.Error) -> None:
        try:
            self.window_log_message(types.LogMessageParams(kind, message))
        except Exception:  # noqa: BLE001 - the log itself may fail on a closing stream
            log.exception("could not log: %s", message)

    @property
    def encoding(self) -> str:
        encoding = self.workspace.position_encoding
        return str(getattr(encoding, "value", encoding) or "utf-16")

    def analyse(self, uri: str) -> Analysis:
        document = self.workspace.get_text_document(uri)
        path = to_fs_path(uri) or uri
        analysis = Analysis(uri, path, document.source, self.encoding,
                            previous=self.analyses.get(uri), log=self.report)
        self.analyses[uri] = analysis
        return analysis

    def analysis(self, uri: str) -> Analysis | None:
        """The analysis of the document's current text (made now if it is missing)."""
        analysis = self.analyses.get(uri)
        if analysis is None or analysis.text != self.workspace.get_text_document(uri).source:
            analysis = self.analyse(uri)
        return analysis

    def markdown(self, feature: str) -> bool:
        """Whether the client shows Markdown in hovers (`hover`) or completion docs."""
        try:
            document = self.client_capabilities.text_document
            if feature == "hover":
                formats = document.hover.content_format
            else:
                formats = document.completion.completion_item.documentation_format
        except AttributeError:
            return False
        return types.MarkupKind.Markdown in (formats or [])

    def read_text(self, path: str) -> str | None:
        """An imported file's text: the editor's version if it is open, else the disk's."""
        uri = from_fs_path(path)
        if uri in self.workspace.text_documents:
            return self.workspace.text_documents[uri].source
        return features._read_disk(path)


def guarded(empty=None):
    """Runs a handler so that any failure is logged and answered with `empty`."""
    def wrap(handler):
        @functools.wraps(handler)
        def run(ls: DslcServer, params):
            try:
                return handler(ls, params)
            except Exception as error:  # noqa: BLE001 - see the module docstring
                ls.report(f"dslc lsp: {handler.__name__} failed: {type(error).__name__}: "
                          f"{error}\n{traceback.format_exc(limit=8)}")
                return empty() if callable(empty) else empty
        return run
    return wrap


def build() -> DslcServer:
    ls = DslcServer()

    def publish(ls: DslcServer, uri: str) -> None:
        analysis = ls.analyse(uri)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri, analysis.lsp_diagnostics(),
            version=ls.workspace.get_text_document(uri).version))

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @guarded()
    def did_open(ls: DslcServer, params: types.DidOpenTextDocumentParams):
        publish(ls, params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guarded()
    def did_change(ls: DslcServer, params: types.DidChangeTextDocumentParams):
        publish(ls, params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_SAVE)
    @guarded()
    def did_save(ls: DslcServer, params: types.DidSaveTextDocumentParams):
        publish(ls, params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @guarded()
    def did_close(ls: DslcServer, params: types.DidCloseTextDocumentParams):
        ls.analyses.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(params.text_document.uri, []))

    def offset(ls: DslcServer, params) -> tuple[Analysis | None, int]:
        analysis = ls.analysis(params.text_document.uri)
        return analysis, analysis.lines.offset(params.position)

    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    @guarded()
    def hover(ls: DslcServer, params: types.HoverParams):
        analysis, at = offset(ls, params)
        return features.hover(analysis, at, ls.markdown("hover"))

    @ls.feature(types.TEXT_DOCUMENT_DEFINITION)
    @guarded(list)
    def definition(ls: DslcServer, params: types.DefinitionParams):
        analysis, at = offset(ls, params)
        return features.definition(analysis, at, ls.read_text)

    @ls.feature(types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionOptions(trigger_characters=["."]))
    @guarded(lambda: types.CompletionList(is_incomplete=False, items=[]))
    def completion(ls: DslcServer, params: types.CompletionParams):
        analysis, at = offset(ls, params)
        return types.CompletionList(is_incomplete=False,
                                    items=features.completion(analysis, at, ls.read_text,
                                                              ls.markdown("completion")))

    @ls.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @guarded(list)
    def document_symbol(ls: DslcServer, params: types.DocumentSymbolParams):
        return features.symbols(ls.analysis(params.text_document.uri))

    return ls


def serve() -> int:
    """Serves over stdin/stdout until the client says `exit` or the input ends: exit
    status 0; or until the input is not framed as the protocol says: status 1 (the
    editor starts a new server)."""
    server = build()
    server.start_io()
    if server.framing_error:
        print(f"dslc lsp: closing the connection: {server.framing_error}", file=sys.stderr)
        return 1
    return 0
