"""Forward values of the JAX lowering against NumPy, and the lowering of symbolic
dims: a function built once runs at several batch sizes, under `jax.jit` and as a
shape-polymorphic `jax.export` artifact."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dslc.compiler.backends.jax_lower import LoweringError, lower_function
from dslc.compiler.builder import Builder
from dslc.compiler.ir import DTYPES, UNKNOWN_LOC, Function, TensorType


def run_op(name, *inputs, **attrs):
    """Applies op `name` to NumPy `inputs` through a one-node IR function."""
    function = Function(name)
    args = [function.add_arg(TensorType(dtype_name(x), x.shape), f"x{i}")
            for i, x in enumerate(inputs)]
    function.results = [Builder(function, UNKNOWN_LOC).emit(name, *args, **attrs)]
    (out,) = lower_function(function)(*inputs)
    assert str(TensorType(dtype_name(out), out.shape)) == str(function.results[0].type)
    return np.asarray(out)


def dtype_name(array):
    return {np.dtype(v): k for k, v in DTYPES.items()}[np.dtype(array.dtype)]


rng = np.random.default_rng(0)


def floats(*shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("x_shape, y_shape", [
    ((3, 4), (4, 2)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((2, 3, 4), (4, 5)),
    ((2, 1, 3, 4), (3, 4, 2)), ((3, 4), (2, 4, 5)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)),
])
def test_matmul_has_numpy_semantics(x_shape, y_shape):
    x, y = floats(*x_shape), floats(*y_shape)
    np.testing.assert_allclose(run_op("matmul", x, y), x @ y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, reference", [
    ("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.divide),
    ("maximum", np.maximum), ("minimum", np.minimum), ("lt", np.less),
    ("ge", np.greater_equal), ("eq", np.equal),
])
def test_binary_ops_broadcast_like_numpy(name, reference):
    x, y = floats(3, 1), floats(1, 4) + 0.1
    np.testing.assert_allclose(run_op(name, x, y), reference(x, y), rtol=1e-6)


@pytest.mark.parametrize("name, reference", [
    ("sqrt", np.sqrt), ("rsqrt", lambda x: 1 / np.sqrt(x)), ("log", np.log),
    ("log1p", np.log1p), ("exp", np.exp), ("expm1", np.expm1), ("tanh", np.tanh),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x))), ("softplus", lambda x: np.log1p(np.exp(x))),
    ("relu", lambda x: np.maximum(x, 0)), ("abs", np.abs), ("sign", np.sign),
    ("square", np.square), ("neg", np.negative), ("sin", np.sin), ("cos", np.cos),
    ("floor", np.floor),
])
def test_unary_ops(name, reference):
    x = np.abs(floats(3, 4)) + 0.1 if name in ("sqrt", "rsqrt", "log", "log1p") else floats(3, 4)
    np.testing.assert_allclose(run_op(name, x), reference(x), rtol=1e-5, atol=1e-6)


def test_pow_takes_two_tensors():
    x, y = np.abs(floats(3, 4)) + 0.5, floats(4)
    np.testing.assert_allclose(run_op("pow", x, y), x ** y, rtol=1e-5)


@pytest.mark.parametrize("name, reference", [
    ("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min)])
@pytest.mark.parametrize("axes, keepdims", [(None, False), ((1,), True), ((-1, 0), False)])
def test_reductions(name, reference, axes, keepdims):
    x = floats(2, 3, 4)
    want = reference(x, axis=None if axes is None else tuple(axes), keepdims=keepdims)
    np.testing.assert_allclose(run_op(name, x, axes=axes, keepdims=keepdims), want, rtol=1e-5)


def test_layout_ops_match_numpy():
    x = floats(4, 6)
    np.testing.assert_array_equal(run_op("transpose", x), x.T)
    np.testing.assert_array_equal(run_op("reshape", x, shape=(3, -1)), x.reshape(3, 8))
    np.testing.assert_array_equal(run_op("broadcast", x[0], shape=(2, 6)),
                                  np.broadcast_to(x[0], (2, 6)))
    np.testing.assert_array_equal(run_op("concat", x, x[:1], axis=0),
                                  np.concatenate([x, x[:1]]))
    np.testing.assert_array_equal(run_op("slice", x, start=(1, 0), limit=(4, 6), stride=(2, 4)),
                                  x[1:4:2, 0:6:4])
    padded = np.zeros((7, 8), np.float32)
    padded[1:7:2, 1:7] = x[:3]
    np.testing.assert_array_equal(
        run_op("pad", x[:3], low=(1, 1), high=(1, 1), interior=(1, 0)), padded)


def test_index_ops():
    logits = floats(5, 3)
    labels = np.array([0, 2, 1, 2, 3], np.int32)
    np.testing.assert_array_equal(run_op("argmax", logits), logits.argmax(-1))
    np.testing.assert_array_equal(run_op("argmax", logits, axis=0, keepdims=True),
                                  logits.argmax(0)[None])
    np.testing.assert_array_equal(run_op("one_hot", labels, depth=3),
                                  np.eye(4, 3, dtype=np.float32)[labels])
    cond = logits > 0
    np.testing.assert_array_equal(run_op("select", cond, logits, np.zeros((), np.float32)),
                                  np.where(cond, logits, 0))
    np.testing.assert_array_equal(run_op("convert", labels, dtype="f32"),
                                  labels.astype(np.float32))


def test_random_ops_are_seeded_by_stream():
    seed = np.int32(7)
    first = run_op("random_uniform", seed, shape=(1000,), low=2.0, high=3.0, stream=1)
    again = run_op("random_uniform", seed, shape=(1000,), low=2.0, high=3.0, stream=1)
    other = run_op("random_uniform", seed, shape=(1000,), low=2.0, high=3.0, stream=2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert 2.0 <= first.min() and first.max() < 3.0
    key = jax.random.fold_in(jax.random.key(7), 1)
    np.testing.assert_array_equal(first, jax.random.uniform(key, (1000,), jnp.float32, 2.0, 3.0))
    normal = run_op("random_normal", seed, shape=(4000,), mean=1.0, stddev=2.0)
    assert abs(normal.mean() - 1.0) < 0.15 and abs(normal.std() - 2.0) < 0.15
    truncated = run_op("truncated_normal", seed, shape=(4000,), mean=1.0, stddev=0.5)
    assert truncated.min() >= 0.0 and truncated.max() <= 2.0


def mlp_function():
    """`mean(relu(x @ W + b)) / size(x)`-like: symbols in matmul, reductions, size."""
    function = Function("mlp")
    x = function.add_arg(TensorType("f32", ("N", 3)), "x")
    w = function.add_arg(TensorType("f32", (3, 2)), "w")
    b = Builder(function, UNKNOWN_LOC)
    hidden = b.relu(b.add(b.matmul(x, w), b.constant(value=0.5, shape=("N", 1))))
    rows = b.slice(hidden, start=(0, 1), limit=("N", 2))
    function.results = [b.mean(hidden), b.size(x, axes=(0,)), rows,
                        b.reshape(hidden, shape=("N", 2, 1))]
    return function


def mlp_reference(x, w):
    hidden = np.maximum(x @ w + 0.5, 0)
    return hidden.mean(), np.float32(len(x)), hidden[:, 1:2], hidden[..., None]


def test_symbolic_function_runs_at_several_batch_sizes_under_jit():
    run = jax.jit(lower_function(mlp_function()))
    w = floats(3, 2)
    for n in (1, 4, 9):
        x = floats(n, 3)
        for got, want in zip(run(x, w), mlp_reference(x, w)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_symbolic_dims_export_shape_polymorphic():
    (n,) = jax.export.symbolic_shape("N")
    exported = jax.export.export(jax.jit(lower_function(mlp_function())))(
        jax.ShapeDtypeStruct((n, 3), jnp.float32), jax.ShapeDtypeStruct((3, 2), jnp.float32))
    assert [str(a.shape) for a in exported.out_avals] == ["()", "()", "(N, 1)", "(N, 2, 1)"]
    w = floats(3, 2)
    for size in (2, 6):
        x = floats(size, 3)
        for got, want in zip(exported.call(x, w), mlp_reference(x, w)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_arguments_must_match_the_signature():
    run = lower_function(mlp_function())
    with pytest.raises(LoweringError, match=r"argument `w` of `mlp` must be `f32\[3, 2\]`"):
        run(floats(4, 3), floats(2, 2))
    with pytest.raises(LoweringError, match="takes 2 arguments, got 1"):
        run(floats(4, 3))
