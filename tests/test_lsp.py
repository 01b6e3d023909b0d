"""End-to-end tests of `dslc lsp`: the real server over stdio, driven by pytest-lsp.

One server serves the whole module (as an editor's session would): diagnostics at exact
0-based ranges (UTF-16 columns), hover types, go to definition across imports,
completion, document symbols, and a stream of broken edits that must never kill it.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.asyncio(loop_scope="module")

SHAPE_ERROR = """\
model M(x: f32[N, 3]) -> f32[N, 1] {
    param W: f32[2, 1] = zeros
    return x @ W
}
"""

LINEAR = """\
model LinearClassifier(x: f32[N, 2]) -> f32[N, 1] {
    param W: f32[2, 1] = uniform(0, 1)
    param b: f32[1] = zeros
    h = x @ W
    return relu(h + b)
}
"""


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "dslc.compiler.cli", "lsp"]),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    markdown = [types.MarkupKind.Markdown, types.MarkupKind.PlainText]
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(
            general=types.GeneralClientCapabilities(
                position_encodings=[types.PositionEncodingKind.Utf16]),
            text_document=types.TextDocumentClientCapabilities(
                hover=types.HoverClientCapabilities(content_format=markdown),
                completion=types.CompletionClientCapabilities(
                    completion_item=types.ClientCompletionItemOptions(
                        documentation_format=markdown))))))
    yield
    await lsp_client.shutdown_session()


async def open_file(client: LanguageClient, path: Path, text: str) -> str:
    """Writes `text` to `path`, opens it and waits for its diagnostics; returns its URI."""
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri, "dslc", 1, text)))
    while True:
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if uri in client.diagnostics:
            return uri


def position_of(text: str, needle: str, delta: int = 0) -> types.Position:
    """The 0-based position of `needle` in `text` (ASCII lines: characters = units)."""
    offset = text.index(needle) + delta
    line = text.count("\n", 0, offset)
    return types.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


async def hover_text(client: LanguageClient, uri: str, position: types.Position) -> str:
    result = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), position))
    return result.contents.value if result is not None else ""


async def test_shape_error_has_one_diagnostic_at_the_exact_range(client, tmp_path):
    uri = await open_file(client, tmp_path / "shape.nn", SHAPE_ERROR)
    (diagnostic,) = client.diagnostics[uri]
    assert diagnostic.code == "E0203"
    assert diagnostic.source == "dslc"
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    start = position_of(SHAPE_ERROR, "x @ W")
    assert diagnostic.range == types.Range(start, types.Position(start.line,
                                                                 start.character + 5))
    assert "inner dimensions differ" in diagnostic.message
    assert "help:" in diagnostic.message
    (related,) = diagnostic.related_information
    assert related.location.uri == uri
    assert related.location.range.start == position_of(SHAPE_ERROR, "param W")
    assert "f32[2, 1]" in related.message


async def test_positions_count_utf16_code_units(client, tmp_path):
    text = 'fn f(t: f32[]) -> f32[] = "é😀" + t\n'
    uri = await open_file(client, tmp_path / "utf16.nn", text)
    (diagnostic,) = client.diagnostics[uri]
    # `"é😀"` starts at character 26 and spans 5 UTF-16 units (the emoji takes two).
    assert diagnostic.range == types.Range(types.Position(0, 26), types.Position(0, 31))
    result = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri), types.Position(0, 34)))
    assert result is not None and "t: f32[]" in result.contents.value
    assert result.range.start == types.Position(0, 34)


async def test_fixing_the_error_clears_the_diagnostics(client, tmp_path):
    uri = await open_file(client, tmp_path / "fixed.nn", SHAPE_ERROR)
    assert len(client.diagnostics[uri]) == 1
    fixed = SHAPE_ERROR.replace("f32[2, 1]", "f32[3, 1]")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(version=2, uri=uri),
        [types.TextDocumentContentChangeWholeDocument(fixed)]))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []


async def test_syntax_and_name_errors_are_reported(client, tmp_path):
    uri = await open_file(client, tmp_path / "names.nn", LINEAR.replace("relu(h", "rleu(h"))
    (diagnostic,) = client.diagnostics[uri]
    assert diagnostic.code == "E0101"
    assert "relu" in diagnostic.message  # the did-you-mean help
    uri = await open_file(client, tmp_path / "syntax.nn", "model M(x: f32[N]) { h = x + }\n")
    codes = [d.code for d in client.diagnostics[uri]]
    assert codes and codes[0].startswith("E000")


async def test_hover_shows_shapes_layer_calls_and_docs(client, tmp_path):
    uri = await open_file(client, tmp_path / "linear.nn", LINEAR)
    assert "W: f32[2, 1]" in await hover_text(client, uri, position_of(LINEAR, "W: f32"))
    assert "h: f32[N, 1]" in await hover_text(client, uri, position_of(LINEAR, "h = x"))
    assert "x: f32[N, 2]" in await hover_text(client, uri, position_of(LINEAR, "x @ W"))
    assert "x @ W: f32[N, 1]" in await hover_text(client, uri, position_of(LINEAR, "@ W"))
    relu = await hover_text(client, uri, position_of(LINEAR, "relu"))
    assert "relu(x, negative_slope: float = 0.0" in relu and "Keras' relu" in relu

    mlp = (ROOT / "examples" / "mlp.nn").read_text(encoding="utf-8")
    uri = await open_file(client, tmp_path / "mlp.nn", mlp)
    layer = await hover_text(client, uri, position_of(mlp, "SimpleDense(64"))
    assert "simple_dense (SimpleDense) → f32[B, 64] — 192 params" in layer
    last = await hover_text(client, uri, position_of(mlp, "SimpleDense(3"))
    assert "simple_dense_2 (SimpleDense) → f32[B, 3] — 195 params" in last
    dim = await hover_text(client, uri, position_of(mlp, "in, units]"))
    assert "dim in = 2 | 64" in dim
    user_layer = await hover_text(client, uri, position_of(mlp, "SimpleDense(units"))
    assert "layer SimpleDense(units: int, activation = identity)" in user_layer
    softmax = await hover_text(client, uri, position_of(mlp, "softmax)"))
    assert "softmax(" in softmax


async def test_go_to_definition_in_the_file_and_across_imports(client, tmp_path):
    mlp = (ROOT / "examples" / "mlp.nn").read_text(encoding="utf-8")
    uri = await open_file(client, tmp_path / "mlp.nn", mlp)

    async def definition(text, doc_uri, needle):
        result = await client.text_document_definition_async(types.DefinitionParams(
            types.TextDocumentIdentifier(doc_uri), position_of(text, needle)))
        return result

    (target,) = await definition(mlp, uri, "SimpleDense(64")
    assert target.uri == uri and target.range.start == position_of(mlp, "SimpleDense(units")
    (target,) = await definition(mlp, uri, "W + b")
    assert target.range.start == position_of(mlp, "W: f32")
    (target,) = await definition(mlp, uri, "units]")
    assert target.range.start == position_of(mlp, "units: int")

    library = "layer Affine(units: int) {\n    (x: f32[B, in]) -> f32[B, units]\n" \
              "    param W: f32[in, units] = zeros\n    return x @ W\n}\n"
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "layers.nn").write_text(library, encoding="utf-8")
    main = 'import "lib/layers.nn"\n\nmodel M(x: f32[N, 4]) -> f32[N, 2] {\n' \
           '    h = x |> Affine(2)\n    return h\n}\n'
    main_uri = await open_file(client, tmp_path / "main.nn", main)
    assert list(client.diagnostics[main_uri]) == []
    (target,) = await definition(main, main_uri, "Affine(2)")
    assert target.uri == (tmp_path / "lib" / "layers.nn").as_uri()
    assert target.range.start == position_of(library, "Affine")
    (target,) = await definition(main, main_uri, "h\n")
    assert target.uri == main_uri and target.range.start == position_of(main, "h = x")
    (target,) = await definition(mlp, uri, "softmax)")
    assert target.uri.endswith("compiler/prelude/activations.nn")


async def test_completion_offers_names_in_scope_and_builtins(client, tmp_path):
    # The person has typed `return ` over a body that compiled a moment ago.
    uri = await open_file(client, tmp_path / "complete.nn", LINEAR)
    text = LINEAR.replace("    return relu(h + b)", "    return ")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(version=2, uri=uri),
        [types.TextDocumentContentChangeWholeDocument(text)]))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert client.diagnostics[uri]  # the body does not parse now
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri), position_of(text, "return ", 7)))
    items = {item.label: item for item in result.items}
    assert {"h", "x", "W", "b", "N", "Dense", "relu", "mean_squared_error", "model"} <= set(items)
    assert items["h"].detail == "f32[N, 1]"  # from the last compile that parsed
    assert items["x"].detail == "f32[N, 2]"
    assert items["Dense"].detail.startswith("Dense(units")
    assert items["relu"].detail.startswith("relu(x, negative_slope: float = 0.0")
    assert "mean_squared_error(" in items["mean_squared_error"].detail
    assert items["Dense"].documentation is not None

    train = "train M {\n    lo\n}\n"
    uri = await open_file(client, tmp_path / "settings.nn", SHAPE_ERROR + train)
    full = SHAPE_ERROR + train
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri), position_of(full, "lo", 2)))
    labels = [item.label for item in result.items]
    assert "loss" in labels and "optimizer" in labels and "relu" not in labels


async def test_document_symbols(client, tmp_path):
    mlp = (ROOT / "examples" / "mlp.nn").read_text(encoding="utf-8")
    uri = await open_file(client, tmp_path / "mlp.nn", mlp)
    result = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(types.TextDocumentIdentifier(uri)))
    names = [(symbol.name, symbol.kind) for symbol in result]
    assert names == [("SimpleDense", types.SymbolKind.Struct),
                     ("SpiralMLP", types.SymbolKind.Class),
                     ("train SpiralMLP", types.SymbolKind.Event)]
    assert {"units", "x", "W", "b"} <= {child.name for child in result[0].children}


async def test_a_stream_of_broken_edits_never_kills_the_server(client, tmp_path):
    mlp = (ROOT / "examples" / "mlp.nn").read_text(encoding="utf-8")
    uri = await open_file(client, tmp_path / "stream.nn", "")
    rng = random.Random(0)
    versions = [mlp[:end] for end in range(0, len(mlp) + 1, 6)]
    for _ in range(40):
        cut = rng.randrange(len(mlp))
        versions.append(mlp[:cut] + mlp[cut + rng.randrange(1, 40):])
    versions += ["\x00\x01\xff\ufffd" * 50 + "model", "((((" * 2500 + "))))" * 2500,
                 "model M(x: f32[N]) { return " + "(" * 10000 + "x" + ")" * 10000 + " }",
                 "layer { } fn = = train { param } import", "😀\n" * 100, mlp]
    for version, text in enumerate(versions, start=2):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [types.TextDocumentContentChangeWholeDocument(text)]))
        lines = text.split("\n")
        line = rng.randrange(len(lines))
        position = types.Position(line, rng.randrange(len(lines[line]) + 2))
        document = types.TextDocumentIdentifier(uri)
        await client.text_document_hover_async(types.HoverParams(document, position))
        await client.text_document_completion_async(types.CompletionParams(document, position))
        if version % 10 == 0:
            await client.text_document_definition_async(
                types.DefinitionParams(document, position))
            await client.text_document_document_symbol_async(
                types.DocumentSymbolParams(document))
    assert not [m for m in client.log_messages if m.type == types.MessageType.Error]
    layer = await hover_text(client, uri, position_of(mlp, "SimpleDense(64"))
    assert "→ f32[B, 64]" in layer
