"""The embedding API against independent references: the linear classifier's and the
MLP's `train_step` against the same step written by hand in JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dslc
from dslc.runtime.data import spirals, two_blobs

from conftest import ROOT


@pytest.fixture(scope="module")
def linear():
    return dslc.compile(ROOT / "examples" / "linear_classifier.nn")


@pytest.fixture(scope="module")
def mlp():
    return dslc.compile(str(ROOT / "examples" / "mlp.nn"))


def test_linear_train_step_matches_hand_written_jax(linear):
    data = two_blobs(per_class=50, seed=3)
    params = linear.init(seed=7)
    assert set(params) == {"W", "b"}
    assert params["W"].shape == (2, 1) and np.all((0 <= params["W"]) & (params["W"] < 1))
    assert np.all(params["b"] == 0)

    def loss_fn(p, x, y):
        return jnp.mean(jnp.square(x @ p["W"] + p["b"] - y))

    loss, grads = jax.value_and_grad(loss_fn)(params, data.x, data.y)
    expected = {k: params[k] - 0.1 * grads[k] for k in params}
    state = linear.init_optimizer()
    assert state == {"optimizer/iterations": 0, "optimizer/learning_rate": np.float32(0.1)}
    new_params, state, dslc_loss, metrics = linear.train_step(params, state, data.x, data.y)
    assert state == {"optimizer/iterations": 1, "optimizer/learning_rate": np.float32(0.1)}
    assert dslc_loss == pytest.approx(float(loss), rel=1e-5)
    for name in params:
        np.testing.assert_allclose(new_params[name], expected[name], rtol=1e-5, atol=1e-6)
    accuracy = np.mean(((data.x @ params["W"] + params["b"]) > 0.5) == data.y)
    assert metrics["binary_accuracy"] == pytest.approx(accuracy)


def test_mlp_train_step_matches_hand_written_jax(mlp):
    data = spirals(classes=3, per_class=20, seed=1)
    params = mlp.init(0)
    state = mlp.init_optimizer()
    assert set(state) == {f"{name}/momentum" for name in params} | {
        "optimizer/iterations", "optimizer/learning_rate"}

    def forward(p, x):
        h = jax.nn.relu(x @ p["simple_dense/W"] + p["simple_dense/b"])
        h = jax.nn.relu(h @ p["simple_dense_1/W"] + p["simple_dense_1/b"])
        return jax.nn.softmax(h @ p["simple_dense_2/W"] + p["simple_dense_2/b"])

    def loss_fn(p, x, y):
        probs = jnp.clip(forward(p, x), 1e-7, 1 - 1e-7)
        return -jnp.mean(jnp.log(probs[jnp.arange(len(y)), y]))

    p, v = dict(params), {k: np.zeros_like(a) for k, a in params.items()}
    for _ in range(3):  # three steps, so momentum matters
        loss, grads = jax.value_and_grad(loss_fn)(p, data.x, data.y)
        v = {k: 0.9 * v[k] - 0.1 * grads[k] for k in p}
        p = {k: p[k] + v[k] for k in p}
        params, state, dslc_loss, _ = mlp.train_step(params, state, data.x, data.y)
        assert dslc_loss == pytest.approx(float(loss), rel=1e-5)
    for name in p:
        np.testing.assert_allclose(params[name], p[name], rtol=1e-4, atol=1e-6)
    predictions = mlp.predict(params, data.x)
    np.testing.assert_allclose(predictions, forward(p, data.x), rtol=1e-4, atol=1e-6)


def test_predict_serves_any_batch_size(linear):
    params = linear.init(0)
    for n in (1, 5, 64):
        assert linear.predict(params, np.zeros((n, 2), np.float32)).shape == (n, 1)


def test_compile_accepts_source_text():
    program = dslc.compile("fn cubes(x: f32[N]) -> f32[] = sum(x ** 3)\n"
                           "fn slopes = grad(cubes)\n")
    assert program.functions == ["cubes", "slopes"]
    x = np.array([1.0, 2.0, -3.0])
    assert float(program.function("cubes")(x)) == pytest.approx(-18.0)
    np.testing.assert_allclose(program.function("slopes")(x), 3 * x ** 2, rtol=1e-6)


def test_grad_of_grad_from_the_api():
    program = dslc.compile(ROOT / "examples" / "falling_apple.nn")
    for t in (0.0, 1.5, 3.0):
        assert float(program.function("acceleration")(t)) == pytest.approx(9.8)
        assert float(program.function("speed")(t)) == pytest.approx(9.8 * t, rel=1e-6)


def test_compile_error_carries_diagnostics():
    with pytest.raises(dslc.CompileError) as raised:
        dslc.compile("model M(x: f32[N, 3]) -> f32[N, 1] {\n"
                     "    param W: f32[2, 1] = zeros\n    return x @ W\n}\n",
                     filename="bad.nn")
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.code == "E0203"
    assert (diagnostic.span.line, diagnostic.span.col) == (3, 12)
    assert "--> bad.nn:3:12" in raised.value.render()


def test_stablehlo_and_export(linear, tmp_path):
    text = linear.stablehlo("train_step")
    assert "stablehlo.dot_general" in text and "func.func public @main" in text
    linear.export(tmp_path / "gpu", target="gpu")
    from dslc.runtime import artifact

    loaded = artifact.load(tmp_path / "gpu")
    assert loaded.manifest["platforms"] == ["cuda"]
