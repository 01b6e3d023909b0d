"""Each activation of the prelude against Keras 3 itself (JAX backend), on random f32
data: the value, and the gradient (a vector-Jacobian product through `grad` in `.nn`)
against `jax.vjp` of the Keras function, to a relative error of 1e-5. Also strings as
activations (`Dense(3, activation="relu")`) and their diagnostics."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import dslc  # noqa: E402

A = keras.activations
SHAPE = (6, 7)
# (`.nn` call of `x`, the Keras function of the same `x`)
CASES = [
    ("relu(x)", A.relu),
    ("relu(x, negative_slope=0.1)", lambda x: A.relu(x, negative_slope=0.1)),
    ("relu(x, max_value=1.5)", lambda x: A.relu(x, max_value=1.5)),
    ("relu(x, max_value=6)", lambda x: A.relu(x, max_value=6.0)),
    ("relu(x, threshold=0.5)", lambda x: A.relu(x, threshold=0.5)),
    ("relu(x, negative_slope=0.1, max_value=1.5, threshold=-0.3)",
     lambda x: A.relu(x, negative_slope=0.1, max_value=1.5, threshold=-0.3)),
    ("relu6(x)", A.relu6),
    ("leaky_relu(x)", A.leaky_relu),
    ("leaky_relu(x, negative_slope=0.3)", lambda x: A.leaky_relu(x, negative_slope=0.3)),
    ("elu(x)", A.elu),
    ("elu(x, alpha=0.5)", lambda x: A.elu(x, alpha=0.5)),
    ("selu(x)", A.selu),
    ("gelu(x)", A.gelu),
    ("gelu(x, approximate=true)", lambda x: A.gelu(x, approximate=True)),
    ("tanh(x)", A.tanh),
    ("sigmoid(x)", A.sigmoid),
    ("hard_sigmoid(x)", A.hard_sigmoid),
    ("softsign(x)", A.softsign),
    ("exponential(x)", A.exponential),
    ("softplus(x)", A.softplus),
    ("softmax(x)", A.softmax),
    ("softmax(x, axis=0)", lambda x: A.softmax(x, axis=0)),
    ("log_softmax(x)", A.log_softmax),
    ("log_softmax(x, axis=0)", lambda x: A.log_softmax(x, axis=0)),
    ("silu(x)", A.silu),
    ("swish(x)", A.swish),
    ("hard_silu(x)", A.hard_silu),
    ("hard_swish(x)", A.hard_swish),
    ("mish(x)", A.mish),
    ("linear(x)", A.linear),
]
T = f"f32[{SHAPE[0]}, {SHAPE[1]}]"


def assert_close(actual, expected):
    """Relative error 1e-5, element by element; elements that cancel to about 0 are
    held to 1e-6 of the array's largest magnitude instead."""
    expected = np.asarray(expected, np.float64)
    np.testing.assert_allclose(actual, expected, rtol=1e-5,
                               atol=1e-6 * max(np.max(np.abs(expected)), 1e-30))


@pytest.fixture(scope="module")
def program():
    lines = []
    for i, (call, _) in enumerate(CASES):
        lines.append(f"fn act{i}(x: {T}) -> {T} = {call}")
        lines.append(f"fn weighted{i}(x: {T}, ct: {T}) -> f32[] = sum({call} * ct)")
        lines.append(f"fn vjp{i} = grad(weighted{i})")
    return dslc.compile("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    # Wide enough to reach every piece: relu6's and hard_sigmoid's flat parts, gelu's tail.
    x = (3 * rng.standard_normal(SHAPE)).astype(np.float32)
    ct = rng.standard_normal(SHAPE).astype(np.float32)
    return x, ct


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c for c, _ in CASES])
def test_activation_matches_keras(program, data, index):
    call, keras_fn = CASES[index]
    x, ct = data
    assert_close(program.function(f"act{index}")(x), keras_fn(x))
    _, vjp = jax.vjp(keras_fn, jax.numpy.asarray(x))
    (expected,) = vjp(jax.numpy.asarray(ct))
    assert_close(program.function(f"vjp{index}")(x, ct), expected)


def test_default_relu_is_one_op(program):
    """`relu(x)` with Keras' defaults is the `relu` op alone: the other branches of its
    arguments are dropped."""
    ops = [n.op for n in program.module.functions["act0"].nodes]
    assert ops == ["relu"], ops


LAYERED = """
model M(x: f32[B, 4]) -> f32[B, 3] {{
    return x |> Dense(5, activation={first}) |> Dense(3, activation={second})
}}
"""


def test_string_activation_is_the_named_one():
    by_string = dslc.compile(LAYERED.format(first='"gelu"', second='"softmax"'))
    by_name = dslc.compile(LAYERED.format(first="gelu", second="softmax"))
    assert by_string.ir() == by_name.ir()
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    params = by_string.init(0)
    p = {k: np.asarray(v) for k, v in params.items()}
    hidden = A.gelu(x @ p["dense/kernel"] + p["dense/bias"])
    expected = A.softmax(hidden @ p["dense_1/kernel"] + p["dense_1/bias"])
    assert_close(by_string.predict(params, x), expected)


def test_configured_activation():
    """`relu(max_value=6.0)`, a call with keyword arguments only, is relu so configured."""
    program = dslc.compile(LAYERED.format(first="relu(max_value=0.5)", second="linear"))
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32) * 4
    params = program.init(0)
    p = {k: np.asarray(v) for k, v in params.items()}
    hidden = A.relu(x @ p["dense/kernel"] + p["dense/bias"], max_value=0.5)
    assert_close(program.predict(params, x), hidden @ p["dense_1/kernel"] + p["dense_1/bias"])


def diagnostics_of(source):
    with pytest.raises(dslc.CompileError) as caught:
        dslc.compile(source)
    return caught.value.diagnostics


def test_unknown_activation_string_is_a_diagnostic_at_the_string():
    (d,) = diagnostics_of(LAYERED.format(first='"rleu"', second='"softmax"'))
    assert d.code == "E0403" and "`\"rleu\"`" in d.message
    assert (d.span.line, d.span.col) == (3, 37)
    assert "`relu`" in d.help


def test_a_loss_is_not_an_activation_string():
    (d,) = diagnostics_of(LAYERED.format(first='"huber"', second='"softmax"'))
    assert d.code == "E0403" and "activation" in d.message


def test_wrong_kind_of_activation_argument():
    (d,) = diagnostics_of(f'fn f(x: {T}) -> {T} = elu(x, alpha="big")\n')
    assert d.code == "E0304" and "`alpha` should be float" in d.message
