"""Each loss of the prelude against Keras 3 itself (JAX backend), on random f32 data:
the value Keras' loss class gives (reduction "sum_over_batch_size"), and its gradient in
y_pred (`grad` in `.nn`) against `jax.grad` of the Keras class, to a relative error of
1e-5, for the function (`huber(y, p, delta=2.0)`), the class (`Huber(delta=2.0)`) and
each argument variant. Also the three spellings of a loss in a train block, and the
diagnostics for an unknown loss string and a wrong argument to a loss class."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import dslc  # noqa: E402

L = keras.losses
B, C = 8, 5
rng = np.random.default_rng(3)


def floats(*shape, low=None, high=None):
    if low is not None:
        return rng.uniform(low, high, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def one_hot(ids, depth=C):
    return np.eye(depth, dtype=np.float32)[ids]


IDS = rng.integers(0, C, B)
DATA = {  # name -> (y_true, y_pred)
    "real": (floats(B, C), floats(B, C)),
    "positive": (floats(B, C, low=0.0, high=3.0), floats(B, C, low=0.1, high=3.0)),
    "binary": (rng.integers(0, 2, (B, C)).astype(np.float32), floats(B, C, low=0.02, high=0.98)),
    "binary_logits": (rng.integers(0, 2, (B, C)).astype(np.float32), 3 * floats(B, C)),
    "onehot": (one_hot(IDS), floats(B, C, low=0.05, high=1.0)),
    "onehot_logits": (one_hot(IDS), 3 * floats(B, C)),
    "signs": (2 * rng.integers(0, 2, (B, C)).astype(np.float32) - 1, floats(B, C)),
    "distributions": (one_hot(IDS) * 0.7 + 0.06, floats(B, C, low=0.05, high=1.0)),
    "ids": (IDS.astype(np.int32), floats(B, C, low=0.05, high=1.0)),
    "ids_column": (IDS.astype(np.int32)[:, None], floats(B, C, low=0.05, high=1.0)),
    "ids_logits": (IDS.astype(np.int32), 3 * floats(B, C)),
}
# (data, `.nn` function call, `.nn` class call, the Keras loss object)
CASES = [
    ("real", "mean_squared_error(y, p)", "MeanSquaredError()", L.MeanSquaredError()),
    ("real", "mean_absolute_error(y, p)", "MeanAbsoluteError()", L.MeanAbsoluteError()),
    ("real", "mean_absolute_percentage_error(y, p)", "MeanAbsolutePercentageError()",
     L.MeanAbsolutePercentageError()),
    ("positive", "mean_squared_logarithmic_error(y, p)", "MeanSquaredLogarithmicError()",
     L.MeanSquaredLogarithmicError()),
    ("binary", "binary_crossentropy(y, p)", "BinaryCrossentropy()", L.BinaryCrossentropy()),
    ("binary", "binary_crossentropy(y, p, label_smoothing=0.2)",
     "BinaryCrossentropy(label_smoothing=0.2)", L.BinaryCrossentropy(label_smoothing=0.2)),
    ("binary", "binary_crossentropy(y, p, axis=0)", "BinaryCrossentropy(axis=0)",
     L.BinaryCrossentropy(axis=0)),
    ("binary_logits", "binary_crossentropy(y, p, from_logits=true)",
     "BinaryCrossentropy(from_logits=true)", L.BinaryCrossentropy(from_logits=True)),
    ("binary_logits", "binary_crossentropy(y, p, from_logits=true, label_smoothing=0.1)",
     "BinaryCrossentropy(from_logits=true, label_smoothing=0.1)",
     L.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)),
    ("onehot", "categorical_crossentropy(y, p)", "CategoricalCrossentropy()",
     L.CategoricalCrossentropy()),
    ("onehot", "categorical_crossentropy(y, p, label_smoothing=0.1)",
     "CategoricalCrossentropy(label_smoothing=0.1)",
     L.CategoricalCrossentropy(label_smoothing=0.1)),
    ("onehot", "categorical_crossentropy(y, p, axis=0)", "CategoricalCrossentropy(axis=0)",
     L.CategoricalCrossentropy(axis=0)),
    ("onehot_logits", "categorical_crossentropy(y, p, from_logits=true, label_smoothing=0.2)",
     "CategoricalCrossentropy(from_logits=true, label_smoothing=0.2)",
     L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)),
    ("onehot_logits", "categorical_crossentropy(y, p, from_logits=true, axis=0)",
     "CategoricalCrossentropy(from_logits=true, axis=0)",
     L.CategoricalCrossentropy(from_logits=True, axis=0)),
    ("ids", "sparse_categorical_crossentropy(y, p)", "SparseCategoricalCrossentropy()",
     L.SparseCategoricalCrossentropy()),
    ("ids_column", "sparse_categorical_crossentropy(y, p)", "SparseCategoricalCrossentropy()",
     L.SparseCategoricalCrossentropy()),
    ("ids_logits", "sparse_categorical_crossentropy(y, p, from_logits=true)",
     "SparseCategoricalCrossentropy(from_logits=true)",
     L.SparseCategoricalCrossentropy(from_logits=True)),
    ("distributions", "kl_divergence(y, p)", "KLDivergence()", L.KLDivergence()),
    ("positive", "poisson(y, p)", "Poisson()", L.Poisson()),
    ("real", "cosine_similarity(y, p)", "CosineSimilarity()", L.CosineSimilarity()),
    ("real", "cosine_similarity(y, p, axis=0)", "CosineSimilarity(axis=0)",
     L.CosineSimilarity(axis=0)),
    ("real", "huber(y, p)", "Huber()", L.Huber()),
    ("real", "huber(y, p, delta=0.5)", "Huber(delta=0.5)", L.Huber(delta=0.5)),
    ("real", "log_cosh(y, p)", "LogCosh()", L.LogCosh()),
    ("binary", "hinge(y, p)", "Hinge()", L.Hinge()),
    ("signs", "hinge(y, p)", "Hinge()", L.Hinge()),
    ("binary", "squared_hinge(y, p)", "SquaredHinge()", L.SquaredHinge()),
    ("signs", "squared_hinge(y, p)", "SquaredHinge()", L.SquaredHinge()),
    ("onehot", "categorical_hinge(y, p)", "CategoricalHinge()", L.CategoricalHinge()),
]


def nn_type(array) -> str:
    dtype = "i32" if array.dtype == np.int32 else "f32"
    return f"{dtype}[{', '.join(map(str, array.shape))}]"


@pytest.fixture(scope="module")
def program():
    lines = []
    for i, (data, function, cls, _) in enumerate(CASES):
        y, p = DATA[data]
        args = f"y: {nn_type(y)}, p: {nn_type(p)}"
        lines.append(f"fn function{i}({args}) -> f32[] = {function}")
        lines.append(f"fn class{i}({args}) -> f32[] = {cls}(y, p)")
        lines.append(f"fn grad{i} = grad(class{i}, argnums=1)")
    return dslc.compile("\n".join(lines) + "\n")


def assert_close(actual, expected):
    expected = np.asarray(expected, np.float64)
    np.testing.assert_allclose(actual, expected, rtol=1e-5,
                               atol=1e-6 * max(np.max(np.abs(expected)), 1e-30))


@pytest.mark.parametrize("index", range(len(CASES)),
                         ids=[f"{c[1]}-{c[0]}" for c in CASES])
def test_loss_matches_keras(program, index):
    data, _, _, keras_loss = CASES[index]
    y, p = DATA[data]
    expected = keras_loss(y, p)
    assert_close(program.function(f"function{index}")(y, p), expected)
    assert_close(program.function(f"class{index}")(y, p), expected)
    expected_grad = jax.grad(lambda pred: keras_loss(y, pred))(jax.numpy.asarray(p))
    assert_close(program.function(f"grad{index}")(y, p), expected_grad)


def test_hinge_leaves_other_labels_alone(program):
    """Labels that are not all 0 or 1 are used as they are (Keras converts only {0, 1})."""
    y = np.array([[0.0, 1.0, 0.5]], np.float32)
    p = floats(1, 3)
    program = dslc.compile("fn f(y: f32[1, 3], p: f32[1, 3]) -> f32[] = hinge(y, p)\n")
    assert_close(program.function("f")(y, p), L.Hinge()(y, p))


TRAIN = """
model Regressor(x: f32[N, 2]) -> f32[N, 1] {{
    param W: f32[2, 1] = uniform(0, 1)
    param b: f32[1] = zeros
    return x @ W + b
}}

train Regressor {{
    data       = two_blobs(per_class=8, seed=0)
    loss       = {loss}
    optimizer  = SGD(learning_rate=0.1)
    batch_size = all
    steps      = 1
}}
"""


@pytest.mark.parametrize("loss, delta", [("Huber(delta=2.0)", 2.0), ("huber", 1.0),
                                         ('"huber"', 1.0), ("Huber", 1.0), ('"Huber"', 1.0)])
def test_train_block_takes_a_loss_class_name_or_string(loss, delta):
    program = dslc.compile(TRAIN.format(loss=loss))
    assert program.compilation.train.loss == "huber"
    params = program.init(0)
    x = floats(6, 2) * 2
    y = floats(6, 1) * 3
    _, _, value, _ = program.train_step(params, program.init_optimizer(), x, y)
    assert_close(value, L.Huber(delta=delta)(y, program.predict(params, x)))


def diagnostics_of(source):
    with pytest.raises(dslc.CompileError) as caught:
        dslc.compile(source)
    return caught.value.diagnostics


def test_unknown_loss_string_suggests_the_nearest():
    (d,) = diagnostics_of(TRAIN.format(loss='"hubber"'))
    assert d.code == "E0403" and "unknown loss `\"hubber\"`" in d.message
    assert (d.span.line, d.span.col) == (10, 18)
    assert "`huber`" in d.help


def test_wrong_argument_to_a_loss_class():
    (d,) = diagnostics_of(TRAIN.format(loss='Huber(delta="x")'))
    assert d.code == "E0304" and "`delta` should be float, found a string" in d.message
    assert (d.span.line, d.span.col) == (10, 30)
    assert "`delta: float`" in d.help


def test_unknown_argument_to_a_loss_class():
    (d,) = diagnostics_of(TRAIN.format(loss="Huber(delt=2.0)"))
    assert d.code == "E0302" and "`delta`" in d.help


def test_a_configured_loss_cannot_be_configured_again():
    (d,) = diagnostics_of("fn f(y: f32[3], p: f32[3]) -> f32[] = "
                          "Huber(delta=2.0)(y, p, delta=1.0)\n")
    assert d.code == "E0301" and "already configured" in d.message
