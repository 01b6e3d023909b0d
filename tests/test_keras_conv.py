"""The convolution, pooling and reshaping layers of the prelude against Keras 3 itself
(on JAX): each layer built in dslc and in Keras with the same weights and input gives
the same output, and the same gradients of `<output, cotangent>` with respect to the
input and every weight (`keras_oracle.check_against_keras`), to a normwise relative
error of 1e-5 in f32; Keras runs in training and in inference mode where its layer's
`call` takes a `training` flag."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from keras_oracle import check_against_keras, stacked_layer, stateless

keras = pytest.importorskip("keras")
assert keras.backend.backend() == "jax", "set KERAS_BACKEND=jax before importing keras"

L = keras.layers

# (`.nn` layer, the same Keras layer, input shape without the batch dim)
LAYERS = [
    ("Conv1D(3, 3)", lambda: L.Conv1D(3, 3), (9, 2)),
    ("Conv1D(4, 2, strides=2, padding=\"same\", use_bias=false)",
     lambda: L.Conv1D(4, 2, strides=2, padding="same", use_bias=False), (7, 3)),
    ("Conv1D(2, 3, dilation_rate=2, activation=tanh)",
     lambda: L.Conv1D(2, 3, dilation_rate=2, activation="tanh"), (10, 2)),
    ("Conv2D(4, 3)", lambda: L.Conv2D(4, 3), (7, 6, 3)),
    ("Conv2D(5, [3, 2], strides=[2, 1], padding=\"same\", activation=relu)",
     lambda: L.Conv2D(5, (3, 2), strides=(2, 1), padding="same", activation="relu"),
     (7, 6, 2)),
    ("Conv2D(4, 3, dilation_rate=2, padding=\"same\", use_bias=false)",
     lambda: L.Conv2D(4, 3, dilation_rate=2, padding="same", use_bias=False), (8, 8, 2)),
    ("Conv2D(6, 2, groups=2)", lambda: L.Conv2D(6, 2, groups=2), (5, 5, 4)),
    ("Conv2DTranspose(3, 3, strides=2)", lambda: L.Conv2DTranspose(3, 3, strides=2),
     (4, 3, 2)),
    ("Conv2DTranspose(2, [3, 2], strides=2, padding=\"same\")",
     lambda: L.Conv2DTranspose(2, (3, 2), strides=2, padding="same"), (3, 4, 3)),
    ("Conv2DTranspose(2, 3, strides=[2, 3], output_padding=1, use_bias=false)",
     lambda: L.Conv2DTranspose(2, 3, strides=(2, 3), output_padding=1, use_bias=False),
     (3, 3, 2)),
    ("MaxPooling1D()", lambda: L.MaxPooling1D(), (9, 3)),
    ("MaxPooling1D(3, strides=2, padding=\"same\")",
     lambda: L.MaxPooling1D(3, strides=2, padding="same"), (8, 2)),
    ("MaxPooling2D()", lambda: L.MaxPooling2D(), (6, 7, 2)),
    ("MaxPooling2D([3, 2], strides=[2, 1], padding=\"same\")",
     lambda: L.MaxPooling2D((3, 2), strides=(2, 1), padding="same"), (7, 5, 3)),
    ("AveragePooling1D(3, strides=1, padding=\"same\")",
     lambda: L.AveragePooling1D(3, strides=1, padding="same"), (6, 2)),
    ("AveragePooling2D(2)", lambda: L.AveragePooling2D(2), (6, 7, 2)),
    ("AveragePooling2D(3, strides=2, padding=\"same\")",
     lambda: L.AveragePooling2D(3, strides=2, padding="same"), (8, 7, 3)),
    ("GlobalAveragePooling1D()", lambda: L.GlobalAveragePooling1D(), (5, 3)),
    ("GlobalAveragePooling2D(keepdims=true)",
     lambda: L.GlobalAveragePooling2D(keepdims=True), (4, 5, 3)),
    ("GlobalMaxPooling1D(keepdims=true)", lambda: L.GlobalMaxPooling1D(keepdims=True),
     (5, 3)),
    ("GlobalMaxPooling2D()", lambda: L.GlobalMaxPooling2D(), (4, 5, 3)),
    ("Flatten()", lambda: L.Flatten(), (3, 4, 2)),
    ("Reshape([-1, 2])", lambda: L.Reshape((-1, 2)), (3, 4)),
]

BATCH = 3


def layer_case(expression: str, make, input_shape, batch: int = BATCH):
    """A seeded generator, an input, the built Keras layer, and dslc's `run` and
    parameter names (`stacked_layer`) for the same layer."""
    rng = np.random.default_rng(abs(hash(expression)) % 2**32)
    x = rng.standard_normal((batch, *input_shape)).astype(np.float32)
    layer = make()
    layer.build((batch, *input_shape))
    run, names = stacked_layer(expression, input_shape)
    return rng, x, layer, run, names


def training_modes(layer) -> tuple[dict, ...]:
    """Both modes where the layer's `call` takes a `training` flag, else none."""
    if "training" in inspect.signature(layer.call).parameters:
        return {"training": True}, {"training": False}
    return ({},)


@pytest.mark.parametrize("expression, make, input_shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_keras(expression, make, input_shape):
    rng, x, layer, run, names = layer_case(expression, make, input_shape)
    check_against_keras(layer, names, run, [x], stateless(), rng, training_modes(layer))


def test_conv2d_has_keras_weight_names_and_no_bias_without_use_bias():
    _, names = stacked_layer("Conv2D(4, 3) |> Conv2D(2, 1, use_bias=false)", (5, 5, 3))
    assert names == ["conv2d/kernel", "conv2d/bias", "conv2d_1/kernel"]


def test_wrong_rank_to_conv2d_is_a_diagnostic_at_the_call(tmp_path):
    from conftest import run_dslc

    source = tmp_path / "flat.nn"
    source.write_text("model M(x: f32[N, 784]) -> f32 {\n    return x |> Conv2D(8, 3)\n}\n")
    process = run_dslc(str(source))
    assert process.returncode == 1
    assert "Traceback" not in process.stderr + process.stdout
    assert "flat.nn:2:12" in process.stderr
    assert "help: it takes rank 4" in process.stderr
