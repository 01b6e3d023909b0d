"""The language server's answers, from one `Analysis` of a document: hover (types, layer
calls, builtin docs), go to definition (in the file, across `import`, into the
prelude), completion (names in scope, builtins, keywords, train settings) and document
symbols. Each takes an offset into the document's text and never raises on odd input.
"""

from __future__ import annotations

import os
import re

from lsprotocol import types
from pygls.uris import from_fs_path

from ...frontend.train import SETTINGS
from ...frontend.values import REQUIRED, Builtin, FnRef, LayerRef, ModelRef
from ...source_files import SourceRefused, read_source
from .analysis import Analysis
from .outline import KEYWORDS, Item, Outline
from .positions import LineIndex
from .vocab import (definition_doc, definition_signature, entries, format_default,
                    prelude_definition)

COMPLETION_KINDS = {
    "layer": types.CompletionItemKind.Class, "model": types.CompletionItemKind.Class,
    "fn": types.CompletionItemKind.Function, "function": types.CompletionItemKind.Function,
    "activation": types.CompletionItemKind.Function, "loss": types.CompletionItemKind.Function,
    "metric": types.CompletionItemKind.Function,
    "optimizer": types.CompletionItemKind.Constructor,
    "schedule": types.CompletionItemKind.Constructor,
    "initializer": types.CompletionItemKind.Constructor,
    "data": types.CompletionItemKind.Constructor,
    "callback": types.CompletionItemKind.Constructor, "dtype": types.CompletionItemKind.TypeParameter,
    "input": types.CompletionItemKind.Variable, "binding": types.CompletionItemKind.Variable,
    "config": types.CompletionItemKind.Property, "param": types.CompletionItemKind.Field,
    "dim": types.CompletionItemKind.TypeParameter,
}
SYMBOL_KINDS = {
    "model": types.SymbolKind.Class, "layer": types.SymbolKind.Struct,
    "fn": types.SymbolKind.Function, "train": types.SymbolKind.Event,
    "input": types.SymbolKind.Variable, "binding": types.SymbolKind.Variable,
    "config": types.SymbolKind.Property, "param": types.SymbolKind.Field,
    "dim": types.SymbolKind.TypeParameter, "setting": types.SymbolKind.Property,
}
TENSOR_ATTRIBUTES = {"shape": "the dims, as a list", "dtype": "the element type",
                     "rank": "the number of dims"}
MAX_IMPORT_DEPTH = 16


def _code(text: str) -> str:
    return f"```dslc\n{text}\n```"


def _markdown(sections: list[str], markdown: bool = True) -> types.MarkupContent:
    """The sections as Markdown, or as plain text for clients that cannot show it."""
    text = "\n\n".join(s for s in sections if s)
    if markdown:
        return types.MarkupContent(types.MarkupKind.Markdown, text)
    plain = re.sub(r"```dslc\n|\n```", "", text).replace("*", "")
    return types.MarkupContent(types.MarkupKind.PlainText, plain)


# Hover

def hover(doc: Analysis, offset: int, markdown: bool = True) -> types.Hover | None:
    token = doc.outline.token_at(offset)
    if token is None:
        return None
    sections: list[str] = []
    span = (token.start, token.end)
    if token.kind == "name":
        sections = _hover_name(doc, token.text, token.start, token.end)
    if not sections and doc.recorder is not None:
        entry = doc.recorder.innermost(offset)
        if entry is not None:
            expression = " ".join(doc.text[entry.start:entry.end].split())
            if len(expression) > 60:
                expression = expression[:57] + "..."
            sections = [_code(f"{expression}: {' | '.join(entry.texts)}")]
            span = (entry.start, entry.end)
    if not sections:
        return None
    return types.Hover(_markdown(sections, markdown), doc.lines.range(*span))


def _hover_name(doc: Analysis, name: str, start: int, end: int) -> list[str]:
    recorder, key = doc.recorder, (start, end)
    item = doc.outline.item_at(start)
    if recorder is not None:
        if start in recorder.layers:
            calls = [str(call) for call in recorder.layers[start]]
            layer = recorder.callable_at(start, end)
            return [_code("\n".join(calls))] + (_callable_docs(layer) if layer else [])
        if key in recorder.params:
            return [_code(f"param {line}") for line in recorder.params[key]]
        if key in recorder.bindings:
            return [_code(f"{name}: {' | '.join(recorder.bindings[key].texts)}")]
        if key in recorder.values:
            entry = recorder.values[key]
            if isinstance(entry.value, (Builtin, FnRef, LayerRef, ModelRef)):
                return _callable_docs(entry.value)
            return [_code(f"{name}: {' | '.join(entry.texts)}")]
    for other in doc.outline.items:
        if other.name_start == start and other.kind in ("model", "layer", "fn"):
            return _item_docs(doc.outline, other)
        if other.name_start == start and other.kind == "train":
            target = doc.outline.definition(name)
            return _item_docs(doc.outline, target) if target else []
    if item is not None and item.kind in ("model", "layer", "fn"):
        symbol = item.lookup(name, start)
        if symbol is not None:
            return _symbol_docs(doc, item, symbol)
    target = doc.outline.definition(name)
    if target is not None:
        return _item_docs(doc.outline, target)
    found = _imported_definition(doc, name)
    if found is not None:
        outline, other, _ = found
        return _item_docs(outline, other)
    entry = entries().get(name)
    if entry is not None:
        return [_code(entry.signature), entry.doc, f"*{entry.kind}*"]
    return []


def _callable_docs(value) -> list[str]:
    if isinstance(value, Builtin):
        entry = entries().get(value.name)
        if entry is not None:
            return [_code(entry.signature), entry.doc, f"*{entry.kind}*"]
        return [_code(value.name), value.doc]
    definition = value.definition
    sections = [_code(definition_signature(definition)), definition_doc(definition)]
    entry = entries().get(definition.name)
    if entry is not None and entry.doc and entry.doc not in sections:
        sections.append(entry.doc)
    return sections


def _item_docs(outline: Outline, item: Item) -> list[str]:
    return [_code(item.header), outline.doc_comment(item)]


def _symbol_docs(doc: Analysis, item: Item, symbol) -> list[str]:
    if symbol.kind == "dim":
        values = _dim_values(doc, item, symbol.name)
        if values == [symbol.name]:
            text = f"dim {symbol.name} (symbolic: any size)"
        else:
            text = f"dim {symbol.name}" + (f" = {' | '.join(values)}" if values else "")
        return [_code(text)]
    known = doc.recorder.bindings.get((symbol.start, symbol.end)) if doc.recorder else None
    if known is not None:
        return [_code(f"{symbol.name}: {' | '.join(known.texts)}")]
    stale = doc.by_name.get((item.name, symbol.name))
    if stale:
        return [_code(f"{symbol.name}: {' | '.join(stale)}"), "*(from the last compile)*"]
    if symbol.detail:
        return [_code(f"{symbol.name}: {symbol.detail}")]
    return [_code(f"{symbol.kind} {symbol.name}")]


def _dims(type_text: str) -> list[str]:
    match = re.search(r"\[(.*)\]", type_text)
    return [d.strip() for d in match.group(1).split(",")] if match else []


def _dim_values(doc: Analysis, item: Item, dim: str) -> list[str]:
    """What a signature's dim symbol was bound to, read off the recorded input types."""
    values: list[str] = []
    for symbol in item.symbols:
        if symbol.kind != "input" or dim not in _dims(symbol.detail):
            continue
        index = _dims(symbol.detail).index(dim)
        entry = doc.recorder.bindings.get((symbol.start, symbol.end)) if doc.recorder else None
        for text in entry.texts if entry else doc.by_name.get((item.name, symbol.name), []):
            actual = _dims(text)
            if index < len(actual) and actual[index] not in values:
                values.append(actual[index])
    return values


# Go to definition

def definition(doc: Analysis, offset: int, read_text) -> list[types.Location]:
    """`read_text(path)` gives an imported file's text (open in the editor, or on disk)."""
    token = doc.outline.token_at(offset)
    if token is None:
        return []
    if token.kind == "string":
        item = doc.outline.item_at(offset)
        if item is not None and item.kind == "import" and item.name:
            target = doc.resolve_import(item.name)
            if target is not None and os.path.exists(target):
                start = types.Position(0, 0)
                return [types.Location(from_fs_path(target), types.Range(start, start))]
        return []
    if token.kind != "name":
        return []
    name = token.text
    if doc.recorder is not None and doc.complete:
        value = doc.recorder.callable_at(token.start, token.end)
        if isinstance(value, (FnRef, LayerRef, ModelRef)):
            return [_location_of_span(doc, value.definition.name_span)]
    item = doc.outline.item_at(offset)
    if item is not None and item.kind in ("model", "layer", "fn"):
        symbol = item.lookup(name, token.start)
        if symbol is not None:
            return [types.Location(doc.uri, doc.lines.range(symbol.start, symbol.end))]
    target = doc.outline.definition(name)
    if target is not None:
        return [types.Location(doc.uri, doc.lines.range(target.name_start, target.name_end))]
    found = _imported_definition(doc, name, read_text)
    if found is not None:
        outline, other, path = found
        lines = LineIndex(outline.text, doc.encoding)
        return [types.Location(from_fs_path(path), lines.range(other.name_start, other.name_end))]
    builtin = prelude_definition(name)
    if builtin is not None:
        return [_location_of_span(doc, builtin.name_span)]
    return []


def _location_of_span(doc: Analysis, span) -> types.Location:
    return types.Location(doc.uri_of(span.source.name), doc.range_of(span))


def _read_disk(path: str) -> str | None:
    try:
        return read_source(path)
    except SourceRefused:
        return None


def _imported_outlines(doc: Analysis, read_text):
    """(path, outline) of every file `doc` imports, transitively, breadth first."""
    pending = [(doc.path, doc.outline)]
    seen = {os.path.abspath(doc.path)}
    while pending and len(seen) <= MAX_IMPORT_DEPTH:
        path, outline = pending.pop(0)
        for item in outline.imports():
            target = doc.resolve_import(item.name, path) if item.name else None
            if target is None or target in seen:
                continue
            seen.add(target)
            text = read_text(target)
            if text is None:
                continue
            imported = Outline(text)
            yield target, imported
            pending.append((target, imported))


def _imported_definition(doc: Analysis, name: str, read_text=_read_disk):
    """(outline, item, path) of `name` defined in a file this one imports, transitively."""
    for target, imported in _imported_outlines(doc, read_text):
        found = imported.definition(name)
        if found is not None:
            return imported, found, target
    return None


# Completion

def completion(doc: Analysis, offset: int, read_text=_read_disk,
               markdown: bool = True) -> list[types.CompletionItem]:
    line_start = doc.text.rfind("\n", 0, offset) + 1
    before = doc.text[line_start:offset]
    if _in_comment_or_string(before):
        return []
    prefix = re.search(r"[A-Za-z_0-9]*$", before).group()
    if before[:len(before) - len(prefix)].endswith("."):
        return [types.CompletionItem(name, kind=types.CompletionItemKind.Property,
                                     detail=detail) for name, detail in TENSOR_ATTRIBUTES.items()]
    item = doc.outline.item_at(offset)
    if item is None and doc.outline.items:
        last = doc.outline.items[-1]
        item = last if last.start <= offset and _unclosed(doc.text, last) else None
    if item is not None and item.kind == "train" and re.fullmatch(r"\s*\w*", before) \
            and offset > doc.text.find("{", item.start) >= 0:
        return _setting_items(item)
    out: list[types.CompletionItem] = []
    seen: set[str] = set()

    def add(completion_item: types.CompletionItem) -> None:
        if completion_item.label not in seen:
            seen.add(completion_item.label)
            out.append(completion_item)

    if item is not None and item.kind in ("model", "layer", "fn"):
        for symbol in item.visible(offset - len(prefix)):
            if symbol.start <= offset <= symbol.end:
                continue
            add(types.CompletionItem(symbol.name, kind=COMPLETION_KINDS.get(symbol.kind),
                                     detail=_symbol_detail(doc, item, symbol),
                                     sort_text=f"0{symbol.name}"))
    for other in doc.outline.items:
        if other.kind in ("model", "layer", "fn") and other.name and other is not item:
            add(types.CompletionItem(other.name, kind=COMPLETION_KINDS.get(other.kind),
                                     detail=other.header.split("\n")[0],
                                     documentation=doc.outline.doc_comment(other) or None,
                                     sort_text=f"1{other.name}"))
    for outline, other in _all_imported(doc, read_text):
        add(types.CompletionItem(other.name, kind=COMPLETION_KINDS.get(other.kind),
                                 detail=other.header.split("\n")[0],
                                 documentation=outline.doc_comment(other) or None,
                                 sort_text=f"1{other.name}"))
    for entry in entries().values():
        add(types.CompletionItem(
            entry.name, kind=COMPLETION_KINDS.get(entry.kind, types.CompletionItemKind.Function),
            detail=entry.signature.split("\n")[0],
            documentation=_markdown([_code(entry.signature), entry.doc], markdown)
            if entry.doc else None,
            sort_text=f"2{entry.name}"))
    for keyword in KEYWORDS:
        add(types.CompletionItem(keyword, kind=types.CompletionItemKind.Keyword,
                                 sort_text=f"3{keyword}"))
    return out


def _symbol_detail(doc: Analysis, item: Item, symbol) -> str:
    if doc.recorder is not None:
        known = doc.recorder.bindings.get((symbol.start, symbol.end))
        if known is not None:
            return " | ".join(known.texts)
    stale = doc.by_name.get((item.name, symbol.name))
    if stale:
        return " | ".join(stale)
    return symbol.detail or symbol.kind


def _setting_items(item: Item) -> list[types.CompletionItem]:
    given = {s.name for s in item.symbols}
    out = []
    for name, (default, _) in SETTINGS.items():
        detail = "required" if default is REQUIRED else f"default {format_default(default)}"
        out.append(types.CompletionItem(name, kind=types.CompletionItemKind.Property,
                                        detail=detail, insert_text=f"{name} = ",
                                        sort_text=f"{int(name in given)}{name}"))
    return out


def _all_imported(doc: Analysis, read_text):
    for _, imported in _imported_outlines(doc, read_text):
        for other in imported.items:
            if other.kind in ("model", "layer", "fn") and other.name:
                yield imported, other


def _in_comment_or_string(line: str) -> bool:
    quoted = False
    for index, char in enumerate(line):
        if char == '"' and (index == 0 or line[index - 1] != "\\"):
            quoted = not quoted
        elif char == "#" and not quoted:
            return True
    return quoted


def _unclosed(text: str, item: Item) -> bool:
    return text.count("{", item.start) > text.count("}", item.start)


# Document symbols

def symbols(doc: Analysis) -> list[types.DocumentSymbol]:
    out = []
    for item in doc.outline.items:
        if item.kind == "import" or not item.name:
            continue
        children = [
            types.DocumentSymbol(symbol.name, SYMBOL_KINDS.get(symbol.kind,
                                                               types.SymbolKind.Variable),
                                 doc.lines.range(symbol.start, symbol.end),
                                 doc.lines.range(symbol.start, symbol.end),
                                 detail=symbol.detail or symbol.kind)
            for symbol in item.symbols if item.start <= symbol.start and symbol.end <= item.end]
        out.append(types.DocumentSymbol(
            item.name if item.kind != "train" else f"train {item.name}",
            SYMBOL_KINDS[item.kind], doc.lines.range(item.start, item.end),
            doc.lines.range(item.name_start, item.name_end),
            detail=item.header.split("\n")[0], children=children))
    return out
