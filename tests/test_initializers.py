"""Initializers' laws on the values `init` draws: `orthogonal`'s rows or columns are
orthonormal (times `gain`) after Keras' flattening, a pinned seed repeats its draw, a
vector is a diagnostic at its `param` line; `unit_forget_bias` is Keras' LSTM bias."""

from __future__ import annotations

import numpy as np
import pytest

import dslc

ORTHOGONAL = """
model M(x: f32[B, 4]) -> f32[B, 4] {
    param tall: f32[7, 4] = orthogonal
    param wide: f32[3, 10] = orthogonal(gain=2.5)
    param square: f32[6, 6] = Orthogonal(seed=11)
    param kernel: f32[3, 2, 5] = orthogonal
    param same_seed: f32[6, 6] = orthogonal(seed=11)
    return x
}
"""


@pytest.fixture(scope="module")
def drawn():
    return {k: np.asarray(v) for k, v in dslc.compile(ORTHOGONAL).init(3).items()}


@pytest.mark.parametrize("name, gain", [("tall", 1.0), ("wide", 2.5), ("square", 1.0),
                                        ("kernel", 1.0)])
def test_orthogonal_is_orthonormal_times_gain(drawn, name, gain):
    # Keras flattens every dim but the last into rows: a [3, 2, 5] kernel is [6, 5].
    w = drawn[name].reshape(-1, drawn[name].shape[-1]).astype(np.float64)
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(len(gram)), atol=4e-6 * gain ** 2)


def test_orthogonal_is_random_and_a_pinned_seed_repeats(drawn):
    np.testing.assert_array_equal(drawn["square"], drawn["same_seed"])
    other = dslc.compile(ORTHOGONAL).init(4)
    assert not np.allclose(np.asarray(other["tall"]), drawn["tall"])


def test_orthogonal_of_a_vector_is_a_diagnostic():
    source = "model M(x: f32[B, 4]) -> f32[B, 4] {\n    param v: f32[4] = orthogonal\n" \
             "    return x + v\n}\n"
    with pytest.raises(dslc.CompileError) as error:
        dslc.compile(source, filename="vector.nn").init(0)
    rendered = error.value.render()
    assert "error[E0304]" in rendered and "rank 2 or more" in rendered
    assert "vector.nn:2:" in rendered and "^" in rendered


def test_lstm_starts_as_keras_does():
    """Keras' LSTM defaults: an orthogonal `recurrent_kernel` and, with
    `unit_forget_bias`, a bias of zeros but ones for the forget gate (`i, f, c, o`)."""
    source = """
model M(x: f32[B, 5, 3]) -> f32[B, 4] {
    a = x |> LSTM(4, name="lstm")
    b = x |> LSTM(4, unit_forget_bias=false, name="plain")
    return a + b
}
"""
    drawn = {k: np.asarray(v) for k, v in dslc.compile(source).init(0).items()}
    np.testing.assert_array_equal(drawn["lstm/bias"], [0] * 4 + [1] * 4 + [0] * 8)
    np.testing.assert_array_equal(drawn["plain/bias"], np.zeros(16))
    recurrent = drawn["lstm/recurrent_kernel"].astype(np.float64)
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(4), atol=4e-6)
