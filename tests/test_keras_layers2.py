"""Embedding and the merge layers of the prelude against Keras 3 itself (on JAX): the
same weights and inputs give the same output and the same gradients of
`<output, cotangent>` with respect to every float input and every weight (dslc's IR
gradient, `vjp_function`, against `jax.vjp` of Keras' `layer.stateless_call`), to a
normwise relative error of 1e-5 in f32."""

from __future__ import annotations

import numpy as np
import pytest

import dslc
from keras_oracle import check_against_keras, compile_layer

keras = pytest.importorskip("keras")
assert keras.backend.backend() == "jax", "set KERAS_BACKEND=jax before importing keras"

L = keras.layers
def test_embedding_matches_keras_take_and_its_scatter_add_gradient():
    rng = np.random.default_rng(1)
    indices = rng.integers(0, 7, size=(4, 6)).astype(np.int32)
    indices[0, :3] = 2  # repeated indices: their cotangents must add up
    layer = L.Embedding(7, 5)
    layer.build((4, 6))
    run, names = compile_layer("x: i32[N, T]", "x |> Embedding(7, 5)")
    assert names == ["embedding/embeddings"]
    check_against_keras(layer, names, run, [indices], lambda l, w, a, m:
                        l.stateless_call(w, [], a[0])[0], rng)


def test_embedding_initializer_is_keras_uniform_005():
    program = dslc.compile("model M(x: i32[N]) -> f32 {\n    return x |> Embedding(50, 40)\n}\n")
    table = np.asarray(program.init(0)["embedding/embeddings"])
    assert table.shape == (50, 40)
    assert -0.05 <= table.min() < -0.045 and 0.045 < table.max() < 0.05


MERGES = [
    ("Add()", L.Add, 3), ("Subtract()", L.Subtract, 2), ("Multiply()", L.Multiply, 3),
    ("Average()", L.Average, 3), ("Maximum()", L.Maximum, 2), ("Minimum()", L.Minimum, 3),
    ("Concatenate()", L.Concatenate, 3), ("Concatenate(axis=1)", lambda: L.Concatenate(1), 2),
]


@pytest.mark.parametrize("expression, make, count", MERGES, ids=[m[0] for m in MERGES])
def test_merge_layer_matches_keras(expression, make, count):
    rng = np.random.default_rng(count)
    arrays = [rng.standard_normal((3, 4, 5)).astype(np.float32) for _ in range(count)]
    names = ", ".join(f"x{i}: f32[N, 4, 5]" for i in range(count))
    listed = ", ".join(f"x{i}" for i in range(count))
    run, params = compile_layer(names, f"{expression}([{listed}])")
    layer = make()
    layer.build([a.shape for a in arrays])
    check_against_keras(layer, params, run, arrays,
                        lambda l, w, a, m: l.stateless_call(w, [], a)[0], rng)


@pytest.mark.parametrize("source, where, message, hint", [
    ("model M(x: f32[N, 4], y: f32[N, 5, 2]) -> f32 {\n    return Concatenate()([x, y])\n}\n",
     "bad.nn:2:12", "`concat` operands have different ranks",
     "help: the tensors joined must have the same rank"),
    ("model M(x: f32[N, 4], y: f32[N, 5]) -> f32 {\n    return Concatenate(axis=0)([x, y])\n}\n",
     "bad.nn:2:12", "`concat` operands differ outside axis 0",
     "help: the tensors joined must have the same rank"),
    ("model M(x: f32[N, 4]) -> f32 {\n    return Subtract()([x, x, x])\n}\n",
     "bad.nn:2:12", "cannot unpack 3 value(s) into 2 names", "in this call to `Subtract`"),
])
def test_mismatched_merge_is_a_diagnostic_at_the_call(tmp_path, source, where, message, hint):
    from conftest import run_dslc

    (tmp_path / "bad.nn").write_text(source)
    process = run_dslc(str(tmp_path / "bad.nn"))
    assert process.returncode == 1
    assert "Traceback" not in process.stderr + process.stdout
    assert where in process.stderr and message in process.stderr and hint in process.stderr
