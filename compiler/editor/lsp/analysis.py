"""One analysed version of a document: the compiler's diagnostics and the types it
recorded (`Recorder`), with the tolerant `Outline` of the text, from which the server's
features are answered (see `features.py`).

A document with syntax errors does not parse, so no type is known in it; to still show
types while a person types, the items holding syntax errors are blanked out (spaces, so
offsets stay put) and the rest is compiled for its types alone.
"""

from __future__ import annotations

import re
import time

from lsprotocol import types
from pygls.uris import from_fs_path

from ....dsl import Diagnostic
from ...pipeline import compile_text
from ...source_files import MAX_SOURCE_BYTES, SourceRefused, import_target, root_of
from .outline import Outline
from .positions import LineIndex
from .recorder import Recorder
from .vocab import source_path

SEVERITIES = {"error": types.DiagnosticSeverity.Error,
              "warning": types.DiagnosticSeverity.Warning,
              "note": types.DiagnosticSeverity.Information}
SYNTAX_CODES = ("E0001", "E0002", "E0003", "E0004")
MAX_REPAIRS = 3


class Analysis:
    """`log(message)` reports the compiler's own failures (the server logs them)."""

    def __init__(self, uri: str, path: str, text: str, encoding: str = "utf-16",
                 previous: Analysis | None = None, log=lambda message: None):
        self.uri, self.path, self.text = uri, path, text
        self.encoding = encoding
        self.log = log
        started = time.perf_counter()
        self.lines = LineIndex(text, encoding)
        self.diagnostics: list[Diagnostic] = []
        self.internal_error: str | None = None
        self.skipped: str | None = None
        if len(text) > MAX_SOURCE_BYTES:
            # Work stays bounded: a document larger than any file `import` reads is
            # not analysed, and says so.
            self.outline, self.recorder, self.complete, self.by_name = Outline(""), None, False, {}
            self.skipped = (f"this file is larger than {MAX_SOURCE_BYTES // 1024} KiB; dslc "
                            "analyses files up to that size")
            self.elapsed = time.perf_counter() - started
            return
        self.outline = Outline(text)
        self.recorder, parsed = self._compile(text, keep_diagnostics=True)
        self.complete = parsed  # the recorder saw this very text, parsed as a whole
        if not parsed and self.diagnostics:
            self.recorder = self._repaired()
        # Types by (item name, binding name), from the last analysis that parsed: what a
        # hover can still say about a name while its item is broken.
        self.by_name = self._by_name() if parsed else (previous.by_name if previous else {})
        self.elapsed = time.perf_counter() - started

    # Compilation

    def _compile(self, text: str, keep_diagnostics: bool) -> tuple[Recorder | None, bool]:
        recorder = Recorder(self.path)
        try:
            compilation = compile_text(text, self.path, observer=recorder)
        except Exception as error:  # noqa: BLE001 - a compiler bug must not end the session
            self.log(f"dslc: internal compiler error on {self.path}: "
                     f"{type(error).__name__}: {error}")
            if keep_diagnostics:
                self.internal_error = f"internal compiler error: {type(error).__name__}: {error}"
            return None, False
        if keep_diagnostics:
            self.diagnostics = list(compilation.diagnostics)
        return recorder, compilation.ast is not None

    def _repaired(self) -> Recorder | None:
        """Compiles the text with its syntactically broken items blanked out."""
        text = self.text
        broken = [d.span.start for d in self.diagnostics
                  if d.code in SYNTAX_CODES and d.span.source.name == self.path]
        for _ in range(MAX_REPAIRS):
            text = _blank_items(text, broken) if broken else None
            if text is None:
                return None
            recorder = Recorder(self.path)
            try:
                compilation = compile_text(text, self.path, observer=recorder)
            except Exception:  # noqa: BLE001 - only types are wanted here
                return None
            if compilation.ast is not None:
                return recorder
            broken = [d.span.start for d in compilation.diagnostics if d.code in SYNTAX_CODES]
        return None

    def _by_name(self) -> dict[tuple[str, str], list[str]]:
        table: dict[tuple[str, str], list[str]] = {}
        if self.recorder is None:
            return table
        for (start, end), entry in self.recorder.bindings.items():
            item = self.outline.item_at(start)
            if item is not None:
                table.setdefault((item.name, self.text[start:end]), entry.texts)
        for (start, end), lines in self.recorder.params.items():
            item = self.outline.item_at(start)
            if item is not None:
                table.setdefault((item.name, self.text[start:end]), lines)
        return table

    # Diagnostics

    def uri_of(self, source_name: str) -> str:
        if source_name == self.path:
            return self.uri
        return from_fs_path(source_path(source_name)) or source_name

    def range_of(self, span) -> types.Range:
        if span.source.name == self.path:
            return self.lines.range(span.start, span.end)
        return LineIndex(span.source.text, self.encoding).range(span.start, span.end)

    def import_range(self, source_name: str) -> types.Range:
        """The `import` line through which another file's problem reaches this one."""
        target = source_path(source_name)
        imports = self.outline.imports()
        for item in imports:
            if item.name and self.resolve_import(item.name) == target:
                return self.lines.range(item.start, item.end)
        if imports:
            return self.lines.range(imports[0].start, imports[0].end)
        return self.lines.range(0, 0)

    def resolve_import(self, relative: str, importer: str | None = None) -> str | None:
        """The file `import "relative"` names in `importer` (this document by default),
        or None where the compiler would refuse to read it (`source_files`)."""
        try:
            return import_target(root_of(self.path), importer or self.path, relative)
        except SourceRefused:
            return None

    def lsp_diagnostics(self) -> list[types.Diagnostic]:
        out = []
        if self.internal_error:
            out.append(types.Diagnostic(self.lines.range(0, 0), self.internal_error,
                                        types.DiagnosticSeverity.Error, code="E0900",
                                        source="dslc"))
        if self.skipped:
            out.append(types.Diagnostic(self.lines.range(0, 0), self.skipped,
                                        types.DiagnosticSeverity.Warning, source="dslc"))
        for diag in self.diagnostics:
            try:
                out.append(self._convert(diag))
            except Exception as error:  # noqa: BLE001 - one odd span must not hide the rest
                self.log(f"dslc: could not convert a diagnostic: {error}")
        return out

    def _convert(self, diag: Diagnostic) -> types.Diagnostic:
        related = []
        message = diag.message
        if diag.span.source.name == self.path:
            where = self.range_of(diag.span)
        else:
            where = self.import_range(diag.span.source.name)
            message = f"in `{diag.span.source.name}`: {message}"
            related.append(types.DiagnosticRelatedInformation(
                types.Location(self.uri_of(diag.span.source.name), self.range_of(diag.span)),
                diag.label or diag.message))
        if diag.label and diag.span.source.name == self.path:
            message += f" ({diag.label})" if diag.label.lower() not in message.lower() else ""
        for note in diag.notes:
            message += f"\nnote: {note}"
        if diag.help:
            message += f"\nhelp: {diag.help}"
        for label in diag.secondary:
            related.append(types.DiagnosticRelatedInformation(
                types.Location(self.uri_of(label.span.source.name), self.range_of(label.span)),
                label.message or "related"))
        return types.Diagnostic(where, message, SEVERITIES.get(diag.severity,
                                                               types.DiagnosticSeverity.Error),
                                code=diag.code, source="dslc",
                                related_information=related or None)


def _blank_items(text: str, offsets: list[int]) -> str | None:
    """`text` with the items holding `offsets` replaced by spaces (line breaks kept);
    None when no offset falls in an item."""
    outline = Outline(text)
    chars = list(text)
    blanked = False
    for offset in offsets:
        item = outline.item_at(offset) or _item_before(outline, offset)
        if item is None:
            continue
        following = [i.start for i in outline.items if i.start > item.start]
        for index in range(item.start, following[0] if following else len(text)):
            if chars[index] not in "\r\n":
                chars[index] = " "
        blanked = True
    return "".join(chars) if blanked else None


def _item_before(outline: Outline, offset: int):
    before = [item for item in outline.items if item.start <= offset]
    return before[-1] if before else None


def word_before(text: str, offset: int) -> str:
    match = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", text[max(0, offset - 200):offset])
    return match.group() if match else ""
