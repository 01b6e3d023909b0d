"""CNN benchmark: one Adam training step of conv32-pool-conv64-pool-dense10 on 28x28x1
images, batch 128, three ways in this process: dslc's compiled `train_step`, the same
step written by hand in JAX, and Keras 3 (JAX backend) `train_on_batch`; then dslc's
runtime `fit` against Keras' `fit`. All start from dslc's initial weights.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("KERAS_BACKEND", "jax")  # before anything imports Keras

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import dslc
from dslc.compiler.training import initial_carry, initial_metrics, load_data, step_functions
from dslc.runtime.training import fit

from hand_frameworks import ADAM, apply_adam
from hand_steps import softmax, sparse_categorical_crossentropy

BATCH = 128
ROWS = BATCH * 8
CNN = """
model CNN(x: f32[B, 28, 28, 1]) -> f32[B, 10] {
    return x |> Conv2D(32, 3, activation=relu) |> MaxPooling2D(2)
             |> Conv2D(64, 3, activation=relu) |> MaxPooling2D(2)
             |> Flatten() |> Dense(10, activation=softmax)
}

train CNN {
    data       = npz("images.npz")
    loss       = sparse_categorical_crossentropy
    optimizer  = Adam(learning_rate=%(learning_rate)r)
    metrics    = [sparse_categorical_accuracy]
    batch_size = %(batch)d
    epochs     = 1
}
"""
AGREE_RTOL, AGREE_ATOL = 1e-4, 1e-6  # as bench/emit_steps.py, for Adam's first step


def compile_cnn(folder: Path) -> dslc.Program:
    """The program, with MNIST-shaped random images (the step's cost does not depend on
    the pixels) in an `.npz` beside it."""
    rng = np.random.default_rng(0)
    np.savez(folder / "images.npz", x=rng.random((ROWS, 28, 28, 1), dtype=np.float32),
             y=rng.integers(0, 10, ROWS).astype(np.int32))
    path = folder / "cnn.nn"
    path.write_text(CNN % {"learning_rate": ADAM["learning_rate"], "batch": BATCH})
    return dslc.compile(path)


# -- the hand-written JAX step --------------------------------------------------


def conv_relu(x, kernel, bias):
    y = jax.lax.conv_general_dilated(x, kernel, (1, 1), "VALID",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jax.nn.relu(y + bias)


def max_pool(x):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def cnn_loss(params, x, y):
    k1, b1, k2, b2, w, b = params
    hidden = max_pool(conv_relu(max_pool(conv_relu(x, k1, b1)), k2, b2))
    probabilities = softmax(hidden.reshape(hidden.shape[0], -1) @ w + b)
    loss = sparse_categorical_crossentropy(y, probabilities)
    predicted = jnp.argmax(probabilities, axis=1).astype(y.dtype)
    return loss, jnp.mean((predicted == y).astype(jnp.float32))


@jax.jit
def hand_train_step(*arrays):
    """(params..., (m, v, t) per param..., x, y) -> the same, then loss and accuracy."""
    params, slots, (x, y) = arrays[:6], arrays[6:24], arrays[24:]
    (loss, accuracy), grads = jax.value_and_grad(cnn_loss, has_aux=True)(params, x, y)
    return (*apply_adam(params, grads, slots, jnp.sqrt), loss, accuracy)


# -- Keras 3 --------------------------------------------------------------------


def keras_model(program: dslc.Program):
    """The same network in Keras, compiled as the `train` block says, holding dslc's
    initial weights (Keras' layer order and weight shapes are dslc's)."""
    import keras

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(**ADAM),
                  loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    model.set_weights([np.asarray(a) for a in program.init(0).values()])
    return model


# -- timing -----------------------------------------------------------------------


def chained_seconds(step: Callable, state: tuple, x, y, steps: int) -> float:
    """Wall time of `steps` steps fed each other's state; waits for the last one."""
    start = time.perf_counter()
    for _ in range(steps):
        results = step(*state, x, y)
        state = results[:len(state)]
    jax.block_until_ready(results)
    return time.perf_counter() - start


def keras_seconds(model, x, y, steps: int) -> float:
    """`train_on_batch` returns the loss as a host number, so each call waits for its step."""
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return time.perf_counter() - start


def step_timings(program, state, x, y, rounds: int, steps_per_sample: int) -> dict[str, float]:
    """Median microseconds per step of each contestant, in rotating order per round."""
    model = keras_model(program)
    dslc_step = program.jax_function("train_step")
    contestants = {
        "dslc": lambda n: chained_seconds(dslc_step, state, x, y, n),
        "hand": lambda n: chained_seconds(hand_train_step, state, x, y, n),
        "keras": lambda n: keras_seconds(model, np.asarray(x), np.asarray(y), n),
    }
    for run in contestants.values():
        run(3)
    samples: dict[str, list[float]] = {name: [] for name in contestants}
    names = list(contestants)
    for round_index in range(rounds):
        for name in names[round_index % 3:] + names[:round_index % 3]:
            samples[name].append(contestants[name](steps_per_sample) / steps_per_sample * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def steps_agree(program, state, x, y) -> bool:
    """One step of dslc, the hand step and Keras from the same weights: the same new
    parameters (Keras' variables in its layer order are dslc's parameters)."""
    ours = program.jax_function("train_step")(*state, x, y)
    theirs = hand_train_step(*state, x, y)
    model = keras_model(program)
    model.train_on_batch(np.asarray(x), np.asarray(y))
    keras_params = model.get_weights()
    return len(ours) == len(theirs) and all(
        np.allclose(a, b, rtol=AGREE_RTOL, atol=AGREE_ATOL) for a, b in zip(ours, theirs)
    ) and all(np.allclose(a, b, rtol=AGREE_RTOL, atol=AGREE_ATOL)
              for a, b in zip(ours[:6], keras_params))


def fit_us_per_step(program, data, epochs_short: int, epochs_long: int) -> dict[str, float]:
    """Steady-state cost per step of dslc's runtime `fit` and of Keras' `fit` over the
    same rows: the difference of a long and a short run, so that compilation cancels."""
    step, _ = step_functions(program)
    names = program.meta["train"]["metrics"]

    def dslc_fit(epochs: int) -> float:
        variables, carry = initial_carry(program, 0)
        start = time.perf_counter()
        fit(step, variables, carry, data, batch_size=BATCH, epochs=epochs, metric_names=names,
            metric_state=initial_metrics(program), verbose=0)
        return time.perf_counter() - start

    model = keras_model(program)

    def keras_fit(epochs: int) -> float:
        start = time.perf_counter()
        model.fit(data.x, data.y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)
        return time.perf_counter() - start

    steps = (epochs_long - epochs_short) * (len(data) // BATCH)
    result = {}
    for name, run in (("dslc", dslc_fit), ("keras", keras_fit)):
        run(epochs_short)  # Keras compiles its step once, in its first fit
        result[name] = (run(epochs_long) - run(epochs_short)) / steps * 1e6
    return result


def cnn_rows(rounds: int = 15, steps_per_sample: int = 5) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        program = compile_cnn(Path(folder))
        data = load_data(program)
    state = tuple(jax.device_put(a) for a in
                  (*program.init(0).values(), *program.init_optimizer().values()))
    x, y = jax.device_put(data.x[:BATCH]), jax.device_put(data.y[:BATCH])
    step = step_timings(program, state, x, y, rounds, steps_per_sample)
    fits = fit_us_per_step(program, data, 1, 4)
    return {"batch": BATCH, "agree": steps_agree(program, state, x, y),
            "step_us": step, "fit_us": fits,
            "dslc_over_hand": step["dslc"] / step["hand"],
            "dslc_over_keras_train_on_batch": step["dslc"] / step["keras"],
            "dslc_fit_over_keras_fit": fits["dslc"] / fits["keras"]}


if __name__ == "__main__":
    print(cnn_rows())
