"""SimpleRNN, LSTM and GRU of the prelude (a cell stepped by the `scan` op) against
Keras 3 itself (on JAX): the same weights and input give the same output, and the same
gradients of `<output, cotangent>` with respect to the input and every weight (dslc's
own IR gradient, a reverse `scan` over the cell's VJP, against `jax.vjp` of Keras'
`layer.stateless_call`), to a relative error of 1e-5 in f32, with `return_sequences`,
`return_state` (the list concatenated on both sides) and `go_backwards`."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from keras_oracle import check_against_keras, stateless
from test_keras_conv import layer_case

keras = pytest.importorskip("keras")
L = keras.layers

# (`.nn` expression, the same Keras layer, how Keras' result becomes one array)
SINGLE = lambda out: out  # noqa: E731
JOINED = lambda outs: jnp.concatenate(outs, axis=-1)  # noqa: E731
STATE = "|> concat(axis=-1)"
LAYERS = [
    ("SimpleRNN(4)", lambda: L.SimpleRNN(4), SINGLE),
    ("SimpleRNN(3, activation=relu, return_sequences=true, go_backwards=true)",
     lambda: L.SimpleRNN(3, activation="relu", return_sequences=True, go_backwards=True),
     SINGLE),
    ("LSTM(4)", lambda: L.LSTM(4), SINGLE),
    ("LSTM(3, return_sequences=true)", lambda: L.LSTM(3, return_sequences=True), SINGLE),
    (f"LSTM(3, return_state=true, go_backwards=true) {STATE}",
     lambda: L.LSTM(3, return_state=True, go_backwards=True), JOINED),
    ("LSTM(2, use_bias=false, return_sequences=true)",
     lambda: L.LSTM(2, use_bias=False, return_sequences=True), SINGLE),
    ("GRU(4)", lambda: L.GRU(4), SINGLE),
    (f"GRU(3, return_sequences=true, return_state=true) {STATE}",
     lambda: L.GRU(3, return_sequences=False, return_state=True), JOINED),
    ("GRU(3, return_sequences=true, go_backwards=true, activation=relu)",
     lambda: L.GRU(3, return_sequences=True, go_backwards=True, activation="relu"), SINGLE),
]
INPUT_SHAPE = (5, 3)
BATCH = 2
BOTH_MODES = ({"training": True}, {"training": False})


def leaf(path: str) -> str:
    """`lstm/lstm_cell/kernel` -> `kernel`: Keras nests the cell's weights, dslc's
    recurrent layers hold them themselves."""
    return path.rsplit("/", 1)[-1]


@pytest.mark.parametrize("expression, make, join", LAYERS, ids=[c[0] for c in LAYERS])
def test_recurrent_layer_matches_keras(expression, make, join):
    if "return_sequences=true, return_state=true" in expression:
        # Keras' sequence output and states have different ranks: test the states alone.
        expression = expression.replace("return_sequences=true, ", "")
    rng, x, layer, run, names = layer_case(expression, make, INPUT_SHAPE, BATCH)
    # Keras' recurrent layers hold a dropout seed as their non-trainable variable.
    seeds = [v.value for v in layer.non_trainable_variables]
    check_against_keras(layer, names, run, [x], stateless(join, seeds), rng, BOTH_MODES,
                        key=leaf)


BIDIRECTIONAL = [
    ('LSTM(3, return_sequences=true)', "concat",
     lambda: L.Bidirectional(L.LSTM(3, return_sequences=True))),
    ('GRU(3)', "sum", lambda: L.Bidirectional(L.GRU(3), merge_mode="sum")),
    ('SimpleRNN(2, return_sequences=true)', "mul",
     lambda: L.Bidirectional(L.SimpleRNN(2, return_sequences=True), merge_mode="mul")),
    ('LSTM(2)', "ave", lambda: L.Bidirectional(L.LSTM(2), merge_mode="ave")),
]


def direction_and_leaf(path: str) -> str:
    """`bidirectional/forward_lstm/lstm_cell/kernel` -> `forward/kernel` (Keras nests
    the cell; dslc's recurrent layers hold the cell's weights themselves)."""
    parts = path.split("/")
    return f"{parts[-3 if 'cell' in parts[-2] else -2].split('_')[0]}/{parts[-1]}"


@pytest.mark.parametrize("inner, merge_mode, make", BIDIRECTIONAL,
                         ids=[f"{c[0]}-{c[1]}" for c in BIDIRECTIONAL])
def test_bidirectional_matches_keras(inner, merge_mode, make):
    expression = f'Bidirectional({inner}, merge_mode="{merge_mode}")'
    rng, x, layer, run, names = layer_case(expression, make, INPUT_SHAPE, BATCH)
    # Keras' order: the forward layer's weights, then the backward layer's.
    assert [direction_and_leaf(n) for n in names] == [
        direction_and_leaf(v.path) for v in layer.trainable_variables]
    assert all(n.split("/")[1].startswith(("forward_", "backward_")) for n in names)
    seeds = [v.value for v in layer.non_trainable_variables]
    check_against_keras(layer, names, run, [x], stateless(SINGLE, seeds), rng, BOTH_MODES,
                        key=direction_and_leaf)


def test_lstm_on_a_2d_tensor_is_a_diagnostic_at_the_call(tmp_path):
    from conftest import run_dslc

    source = tmp_path / "flat.nn"
    source.write_text("model M(x: f32[N, 8]) -> f32 {\n    return x |> LSTM(4)\n}\n")
    process = run_dslc(str(source))
    assert process.returncode == 1
    assert "Traceback" not in process.stderr + process.stdout
    assert "flat.nn:2:12" in process.stderr
    assert "help:" in process.stderr, process.stderr
