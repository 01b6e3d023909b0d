"""Unit tests of the language server's pieces that need no server: position conversion
(UTF-16 units), the tolerant outline, and the front end's observer hook."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from dslc.compiler.frontend.trace import Observer
from dslc.compiler.editor.lsp.analysis import Analysis
from dslc.compiler.editor.lsp.outline import Outline
from dslc.compiler.editor.lsp.positions import LineIndex
from dslc.compiler.pipeline import compile_text

ROOT = Path(__file__).resolve().parent.parent
MLP = (ROOT / "examples" / "mlp.nn").read_text(encoding="utf-8")


def test_positions_round_trip_in_every_encoding():
    text = "a = 1\nb = \"é😀\" + x\n\nlast"
    for encoding, column in (("utf-16", 10), ("utf-32", 9), ("utf-8", 13)):
        index = LineIndex(text, encoding)
        offset = text.index("+")
        assert index.position(offset) == types.Position(1, column)
        assert index.offset(index.position(offset)) == offset
    index = LineIndex(text)
    assert index.position(len(text)) == types.Position(3, 4)
    assert index.offset(types.Position(1, 999)) == text.index("\n\n")  # clamped to the line
    assert index.offset(types.Position(99, 0)) == len(text)


def test_outline_reads_items_symbols_and_survives_broken_text():
    outline = Outline(MLP)
    assert [(i.kind, i.name) for i in outline.items] == [
        ("layer", "SimpleDense"), ("model", "SpiralMLP"), ("train", "SpiralMLP")]
    layer = outline.items[0]
    assert [(s.name, s.kind) for s in layer.symbols] == [
        ("units", "config"), ("activation", "config"), ("x", "input"), ("B", "dim"),
        ("in", "dim"), ("W", "param"), ("b", "param")]
    assert layer.header.endswith("(x: f32[B, in]) -> f32[B, units]")
    broken = Outline("model M(x: f32[N, 2 {\n  h = x @\n  k, j = h\nlayer L(")
    assert [(i.kind, i.name) for i in broken.items] == [("model", "M"), ("layer", "L")]
    for cut in range(0, len(MLP), 7):
        Outline(MLP[:cut])


class Recording(Observer):
    def __init__(self):
        self.values, self.bindings, self.params, self.layers = [], [], [], []

    def on_value(self, node, value):
        self.values.append((node.span.text, value))

    def on_binding(self, name, span, value):
        self.bindings.append(name)

    def on_param(self, stmt, spec):
        self.params.append(spec.path)

    def on_layer(self, span, instance, record):
        self.layers.append((record.name, record.output, record.params))


def test_the_observer_sees_values_bindings_params_and_layers():
    observer = Recording()
    with_observer = compile_text(MLP, "examples/mlp.nn", observer=observer)
    assert with_observer.ok
    assert observer.layers == [("simple_dense", "f32[B, 64]", 192),
                               ("simple_dense_1", "f32[B, 64]", 4160),
                               ("simple_dense_2", "f32[B, 3]", 195)]
    assert observer.params[:2] == ["simple_dense/W", "simple_dense/b"]
    assert {"x", "units", "activation", "W", "b"} <= set(observer.bindings)
    assert any(text == "x @ W" for text, _ in observer.values)
    without = compile_text(MLP, "examples/mlp.nn")
    assert [f.name for f in without.module] == [f.name for f in with_observer.module]


def test_analysis_of_a_broken_document_keeps_the_types_of_its_intact_items():
    broken = MLP.replace("train SpiralMLP {", "train SpiralMLP { data = (")
    analysis = Analysis("file:///x.nn", str(ROOT / "examples" / "mlp.nn"), broken)
    assert not analysis.complete and analysis.diagnostics
    assert analysis.recorder is not None and analysis.recorder.layers
