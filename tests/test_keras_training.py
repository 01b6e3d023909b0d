"""Ten optimizer steps of small Keras stacks in dslc and in Keras 3 (JAX backend), from
the same initial variables: the parameters (and state) after them agree to f32 relative
error 1e-5. Layer-level outputs and gradients are checked in the other test_keras_* files;
this checks that training composes them as Keras' `train_on_batch` does."""

from __future__ import annotations

import numpy as np
import pytest

from keras_oracle import Oracle, errors

TOLERANCE = 1e-5
RNG = np.random.default_rng(11)


def stacks():
    import keras

    L = keras.layers
    return {
        "conv_pool_dense": (
            "model M(x: f32[B, 8, 8, 2]) -> f32[B, 3]",
            "x |> Conv2D(4, 3, activation=relu) |> MaxPooling2D() |> Flatten() |> Dense(3)",
            [L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(), L.Dense(3)],
            (8, 8, 2), (3,)),
        "conv1d_global": (
            "model M(x: f32[B, 10, 3]) -> f32[B, 2]",
            'x |> Conv1D(4, 3, padding="same") |> GlobalAveragePooling1D() |> Dense(2)',
            [L.Conv1D(4, 3, padding="same"), L.GlobalAveragePooling1D(), L.Dense(2)],
            (10, 3), (2,)),
        "lstm": (
            "model M(x: f32[B, 6, 3]) -> f32[B, 2]",
            "x |> LSTM(5) |> Dense(2)",
            [L.LSTM(5, recurrent_initializer="glorot_uniform"), L.Dense(2)], (6, 3), (2,)),
        "gru_sequences": (
            "model M(x: f32[B, 6, 3]) -> f32[B, 6, 2]",
            "x |> GRU(4, return_sequences=true) |> Dense(2)",
            [L.GRU(4, return_sequences=True, recurrent_initializer="glorot_uniform"),
             L.Dense(2)], (6, 3), (6, 2)),
        "batch_norm_conv": (
            "model M(x: f32[B, 6, 6, 2]) -> f32[B, 2]",
            "x |> Conv2D(3, 3, use_bias=false) |> BatchNormalization() |> Flatten() |> Dense(2)",
            [L.Conv2D(3, 3, use_bias=False), L.BatchNormalization(), L.Flatten(), L.Dense(2)],
            (6, 6, 2), (2,)),
    }


@pytest.mark.parametrize("name", ["conv_pool_dense", "conv1d_global", "lstm", "gru_sequences",
                                  "batch_norm_conv"])
def test_ten_adam_steps_match_keras(name):
    import keras

    header, body, layers, x_shape, y_shape = stacks()[name]
    oracle = Oracle(header, body, layers, x_shape, optimizer="Adam(learning_rate=0.01)",
                    keras_optimizer=keras.optimizers.Adam(0.01))
    x = RNG.normal(size=(12, *x_shape)).astype(np.float32)
    y = RNG.normal(size=(12, *y_shape)).astype(np.float32)
    ours, theirs = oracle.train(x, y, steps=10)
    assert max(errors(ours, theirs)) <= TOLERANCE
