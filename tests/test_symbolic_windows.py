"""Convolutions and pooling on inputs with symbolic spatial dims (`x: f32[B, H, W, C]`):
output sizes by the dims arithmetic (`(H + 1) / 2`), one compiled program run at two
sizes against Keras 3 (outputs and gradients, `keras_oracle.check_against_keras`), an
exported artifact that serves both sizes, and the TF and torch modules at both sizes
against XLA, train step included."""

from __future__ import annotations

import numpy as np
import pytest

import dslc
from conftest import run_dslc
from keras_oracle import check_against_keras, compile_layer, stateless
from test_emit_modules import by_role, call

keras = pytest.importorskip("keras")
L = keras.layers

SIZES = ((2, 9, 11), (3, 16, 12))  # (batch, height, width): odd and even, both ways

# (`.nn` layer on `x: f32[N, H, W, 2]`, its output type, the same Keras layer)
LAYERS = [
    ("Conv2D(3, 3)", "f32[N, H - 2, W - 2, 3]", lambda: L.Conv2D(3, 3)),
    ('Conv2D(3, 3, strides=2, padding="same")', "f32[N, (H + 1) / 2, (W + 1) / 2, 3]",
     lambda: L.Conv2D(3, 3, strides=2, padding="same")),
    ("Conv2D(2, [3, 2], strides=[2, 3])", "f32[N, (H + 1) / 2 - 1, (W + 1) / 3, 2]",
     lambda: L.Conv2D(2, (3, 2), strides=(2, 3))),
    ('Conv2D(2, 3, dilation_rate=2, padding="same", use_bias=false)', "f32[N, H, W, 2]",
     lambda: L.Conv2D(2, 3, dilation_rate=2, padding="same", use_bias=False)),
    ('Conv2D(4, 4, strides=2, padding="same", activation=relu)',
     "f32[N, (H + 1) / 2, (W + 1) / 2, 4]",
     lambda: L.Conv2D(4, 4, strides=2, padding="same", activation="relu")),
    ("MaxPooling2D()", "f32[N, H / 2, W / 2, 2]", lambda: L.MaxPooling2D()),
    ('MaxPooling2D([3, 2], strides=[2, 1], padding="same")', "f32[N, (H + 1) / 2, W, 2]",
     lambda: L.MaxPooling2D((3, 2), strides=(2, 1), padding="same")),
    ('AveragePooling2D(3, strides=2, padding="same")', "f32[N, (H + 1) / 2, (W + 1) / 2, 2]",
     lambda: L.AveragePooling2D(3, strides=2, padding="same")),
    ("AveragePooling2D(2)", "f32[N, H / 2, W / 2, 2]", lambda: L.AveragePooling2D(2)),
]


@pytest.mark.parametrize("expression, result, make", LAYERS, ids=[c[0] for c in LAYERS])
def test_symbolic_window_layer_matches_keras_at_two_sizes(expression, result, make):
    run, names = compile_layer("x: f32[N, H, W, 2]", f"x |> {expression}")
    program = dslc.compile(f"model M(x: f32[N, H, W, 2]) -> {result} {{\n"
                           f"    return x |> {expression}\n}}\n")
    assert str(program.module.functions["predict"].result_types[0]) == result
    layer = make()
    layer.build((None, None, None, 2))
    rng = np.random.default_rng(len(expression))
    for batch, height, width in SIZES:
        x = rng.standard_normal((batch, height, width, 2)).astype(np.float32)
        check_against_keras(layer, names, run, [x], stateless(), rng)


MODEL = """
model M(x: f32[B, H, W, 1]) -> f32[B, 10] {
    return x |> Conv2D(4, 3, strides=2, padding="same", activation=relu)
             |> MaxPooling2D(2, strides=1, padding="same")
             |> Conv2D(6, 2, dilation_rate=2)
             |> AveragePooling2D(2, strides=2, padding="same")
             |> GlobalAveragePooling2D()
             |> Dense(10, activation=softmax)
}

train M {
    data       = digits()
    loss       = sparse_categorical_crossentropy
    optimizer  = SGD(learning_rate=0.1)  # Adam's first step would magnify rounding noise
    batch_size = 64
    epochs     = 1
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    folder = tmp_path_factory.mktemp("symbolic")
    (folder / "sym.nn").write_text(MODEL)
    return dslc.compile(str(folder / "sym.nn")), folder


def batches(rng):
    for batch, height, width in SIZES:
        yield (rng.standard_normal((batch, height, width, 1)).astype(np.float32),
               (np.arange(batch) % 10).astype(np.int32))


def test_artifact_with_symbolic_spatial_dims_serves_two_sizes(program):
    from dslc.runtime.artifact import load

    compiled, folder = program
    result = run_dslc("compile", "sym.nn", "-o", "out", cwd=folder)
    assert result.returncode == 0, result.stderr
    artifact = load(folder / "out")
    assert artifact.function("predict").inputs[-1].shape == ("B", "H", "W", 1)
    variables = compiled.init(0)
    params = [variables[n] for n in compiled.param_names]
    for x, y in batches(np.random.default_rng(0)):
        np.testing.assert_allclose(artifact.function("predict")(*params, x),
                                   compiled.predict(variables, x), rtol=1e-5, atol=1e-6)
        args = by_role(compiled, compiled.module.functions["train_step"], variables, x, y)
        for ours, theirs in zip(artifact.function("train_step")(*args),
                                compiled.function("train_step")(*args)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("target", ["tf", "torch"])
def test_emitted_modules_run_at_two_sizes(program, target):
    compiled, _ = program
    namespace = {"__name__": f"symbolic_{target}"}
    exec(compile(compiled.emit(target), f"<sym.{target}>", "exec"), namespace)
    variables = compiled.init(0)
    for x, y in batches(np.random.default_rng(1)):
        for name in ("predict", "train_step"):
            args = by_role(compiled, compiled.module.functions[name], variables, x,
                           None if name == "predict" else y)
            reference = compiled.function(name)(*args)
            reference = reference if isinstance(reference, tuple) else (reference,)
            for ours, theirs in zip(call(namespace, target, name, args), reference):
                np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_same_padding_that_could_be_negative_needs_an_integer_size():
    with pytest.raises(dslc.CompileError) as error:
        dslc.compile("model M(x: f32[N, H, W, 1]) -> f32 {\n"
                     '    return x |> Conv2D(2, 1, strides=3, padding="same")\n}\n')
    rendered = error.value.render()
    assert "error[E0207]" in rendered and "<source>:2:12" in rendered
    assert "needs an integer size, found `H`" in rendered and "help:" in rendered
