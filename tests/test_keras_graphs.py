"""Graphs with several inputs and outputs, branches, a shared layer and a residual
connection, trained with a loss per output (`loss_weights`) and metrics per output,
against the same Keras 3 functional model (JAX backend) from the same weights: outputs,
then the variables after 10 Adam steps, and the training log's names."""

from __future__ import annotations

import numpy as np
import pytest

import dslc
from keras_oracle import errors, relative_error

TOLERANCE = 1e-5

SOURCE = """
model TwoHeads(a: f32[B, 4], b: f32[B, 3]) -> (f32[B, 3], f32[B, 1]) {
    shared = Dense(6, activation=tanh)                 # one layer, called on both inputs
    left = shared(a)
    right = b |> Dense(4) |> shared
    merged = Concatenate()([left, right])
    hidden = Dense(12, activation=relu)(merged)
    deeper = hidden + Dense(12)(hidden)                 # a residual connection
    classes = Dense(3, activation=softmax)(deeper)
    score = Dense(1)(deeper)
    return classes, score
}

train TwoHeads {
    data         = npz("two_heads.npz", x=["a", "b"], y=["classes", "score"])
    loss         = [sparse_categorical_crossentropy, mean_squared_error]
    loss_weights = [1.0, 0.5]
    metrics      = [[sparse_categorical_accuracy], []]
    optimizer    = Adam(learning_rate=0.01)
    batch_size   = all
    steps        = 10
}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(3)
    folder = tmp_path_factory.mktemp("graphs")
    arrays = {"a": rng.normal(size=(32, 4)).astype(np.float32),
              "b": rng.normal(size=(32, 3)).astype(np.float32),
              "classes": rng.integers(0, 3, 32).astype(np.int32),
              "score": rng.normal(size=(32, 1)).astype(np.float32)}
    np.savez(folder / "two_heads.npz", **arrays)
    (folder / "two_heads.nn").write_text(SOURCE)
    return folder, arrays


@pytest.fixture(scope="module")
def program(data):
    return dslc.compile(data[0] / "two_heads.nn")


def keras_model(program, variables):
    """The same graph in Keras, each layer's weights copied from dslc's layer of the same
    role (dslc names layers in the order they are first called)."""
    import keras

    layers = {"dense": keras.layers.Dense(6, activation="tanh"),
              "dense_1": keras.layers.Dense(4),
              "dense_2": keras.layers.Dense(12, activation="relu"),
              "dense_3": keras.layers.Dense(12),
              "dense_4": keras.layers.Dense(3, activation="softmax"),
              "dense_5": keras.layers.Dense(1)}
    a, b = keras.Input((4,)), keras.Input((3,))
    left = layers["dense"](a)
    right = layers["dense"](layers["dense_1"](b))
    merged = keras.layers.Concatenate()([left, right])
    hidden = layers["dense_2"](merged)
    deeper = hidden + layers["dense_3"](hidden)
    model = keras.Model([a, b], [layers["dense_4"](deeper), layers["dense_5"](deeper)])
    assert {n.split("/")[0] for n in program.param_names} == set(layers)
    for prefix, layer in layers.items():
        layer.kernel.assign(variables[f"{prefix}/kernel"])
        layer.bias.assign(variables[f"{prefix}/bias"])
    return model, layers


def test_outputs_match_keras(program, data):
    _, arrays = data
    variables = program.init(0)
    model, _ = keras_model(program, variables)
    ours = program.predict(variables, [arrays["a"], arrays["b"]])
    theirs = model([arrays["a"], arrays["b"]], training=False)
    for mine, keras_value in zip(ours, theirs):
        assert relative_error(mine, np.asarray(keras_value)) <= TOLERANCE


def test_ten_weighted_steps_match_keras(program, data):
    import keras

    _, arrays = data
    variables = program.init(0)
    model, layers = keras_model(program, variables)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=["sparse_categorical_crossentropy", "mean_squared_error"],
                  loss_weights=[1.0, 0.5])
    x, y = [arrays["a"], arrays["b"]], [arrays["classes"], arrays["score"]]
    slots = program.init_optimizer()
    for step in range(10):
        variables, slots, _, _ = program.train_step(variables, slots, x, y, step)
        model.train_on_batch(x, y)
    ours = [variables[n] for n in program.param_names]
    theirs = [np.asarray(getattr(layers[n.split("/")[0]], n.split("/")[1]).value)
              for n in program.param_names]
    assert max(errors(ours, theirs)) <= TOLERANCE


def test_fit_logs_each_outputs_loss_and_metrics(program):
    result = program.fit(log=None, verbose=0)
    assert set(result.history.history) == {"loss", "classes_loss", "score_loss",
                                           "classes_sparse_categorical_accuracy"}
    history = result.history.history
    combined = np.array(history["classes_loss"]) + 0.5 * np.array(history["score_loss"])
    np.testing.assert_allclose(history["loss"], combined, rtol=1e-5)


def test_wrong_number_of_losses_is_a_diagnostic(data):
    source = SOURCE.replace("loss         = [sparse_categorical_crossentropy, mean_squared_error]",
                            "loss         = mean_squared_error")
    with pytest.raises(dslc.CompileError) as error:
        dslc.compile(source, filename=str(data[0] / "bad.nn"))
    rendered = error.value.render()
    assert "error[E0404]" in rendered and "needs one loss per output" in rendered


SHARED_BLOCK = """
layer Encoder(units: int) {
    (x: f32[B, 4]) -> f32[B, units]
    return x |> Dense(5, activation=relu) |> Dense(units)
}

model Siamese(a: f32[B, 4], b: f32[B, 4]) -> f32[B, 1] {
    encode = Encoder(3)
    return Concatenate()([encode(a), encode(b)]) |> Dense(1)
}
"""


def test_a_shared_composite_layer_shares_its_sub_layers_like_keras():
    """A layer whose body configures layers, called twice: the second call reuses the
    first call's sub-layers (their weights), as a Keras model called on two inputs."""
    import keras

    program = dslc.compile(SHARED_BLOCK)
    assert program.param_names == [
        "encoder/dense/kernel", "encoder/dense/bias", "encoder/dense_1/kernel",
        "encoder/dense_1/bias", "dense_2/kernel", "dense_2/bias"]
    variables = program.init(1)
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                                keras.layers.Dense(3)])
    head = keras.layers.Dense(1)
    a, b = keras.Input((4,)), keras.Input((4,))
    model = keras.Model([a, b], head(keras.layers.Concatenate()([encoder(a), encoder(b)])))
    for variable, name in zip(encoder.trainable_variables + head.trainable_variables,
                              program.param_names):
        variable.assign(variables[name])
    rng = np.random.default_rng(5)
    x = [rng.normal(size=(6, 4)).astype(np.float32) for _ in range(2)]
    ours = program.predict(variables, x)
    assert relative_error(ours, np.asarray(model(x, training=False))) <= TOLERANCE
