"""dslc's metrics against Keras 3's own (JAX backend): each metric, with its options,
fed the same batches for two epochs (its state reset in between, as `fit` resets it)
gives Keras' `result()` after every batch; and `fit`'s history, train and validation
metrics per epoch, matches `keras.Model.fit`'s from the same weights and data order."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import dslc  # noqa: E402
from dslc.compiler.training import load_data  # noqa: E402

from keras_oracle import relative_error  # noqa: E402

TOLERANCE = 1e-5
CLASSES = 5
BATCHES = (8, 8, 5)  # the last one smaller, as an epoch's last batch often is


def program_for(metric: str, output: str, loss: str = "mean_squared_error"):
    """A program whose model passes its input through: `eval_step` then sees the
    batch's x as its predictions."""
    return dslc.compile(f"""
model M(x: f32[{output}]) -> f32[{output}] {{
    return x
}}

fn my_metric(y_true, y_pred) = abs(y_true - y_pred) * 2

train M {{
    data = two_blobs()
    loss = {loss}
    metrics = [{metric}]
}}
""")


def probabilities(rng, rows, columns):
    return rng.random((rows, columns)).astype(np.float32)


def binary(rng, rows):
    return probabilities(rng, rows, 1), (rng.random((rows, 1)) > 0.4).astype(np.float32)


def categorical(rng, rows):
    scores = probabilities(rng, rows, CLASSES)
    return scores / scores.sum(-1, keepdims=True), np.eye(CLASSES, dtype=np.float32)[
        rng.integers(0, CLASSES, rows)]


def sparse(rng, rows):
    scores, one_hot = categorical(rng, rows)
    return scores, one_hot.argmax(-1).astype(np.int32)


def multi_label(rng, rows):
    return probabilities(rng, rows, CLASSES), (rng.random((rows, CLASSES)) > 0.5).astype(
        np.float32)


def logits(rng, rows):
    scores, labels = binary(rng, rows)
    return (scores - 0.5) * 8, labels


def halves(rng, rows):
    """Predictions and labels from {0, 0.5, 1}, so that some are equal (`Accuracy`)."""
    return tuple(np.round(rng.random((rows, 3)) * 2).astype(np.float32) / 2 for _ in "xy")


# (dslc's metrics entry, its log name, the Keras metric, the data, the program's output
# type and loss)
CASES = [
    ('"accuracy"', "accuracy", lambda: keras.metrics.BinaryAccuracy(), binary, "B, 1"),
    ('"acc"', "acc", lambda: keras.metrics.CategoricalAccuracy(), categorical, "B, 5"),
    ('"accuracy"', "accuracy", lambda: keras.metrics.SparseCategoricalAccuracy(), sparse,
     "B, 5", "sparse_categorical_crossentropy"),
    ("Accuracy()", "accuracy", lambda: keras.metrics.Accuracy(), halves, "B, 3"),
    ("BinaryAccuracy(threshold=0.3)", "binary_accuracy",
     lambda: keras.metrics.BinaryAccuracy(threshold=0.3), binary, "B, 1"),
    ("categorical_accuracy", "categorical_accuracy",
     lambda: keras.metrics.CategoricalAccuracy(), categorical, "B, 5"),
    ('"sparse_categorical_accuracy"', "sparse_categorical_accuracy",
     lambda: keras.metrics.SparseCategoricalAccuracy(), sparse, "B, 5",
     "sparse_categorical_crossentropy"),
    ("TopKCategoricalAccuracy(k=2)", "top_k_categorical_accuracy",
     lambda: keras.metrics.TopKCategoricalAccuracy(k=2), categorical, "B, 5"),
    ("SparseTopKCategoricalAccuracy(k=3)", "sparse_top_k_categorical_accuracy",
     lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=3), sparse, "B, 5",
     "sparse_categorical_crossentropy"),
    ("AUC", "auc", lambda: keras.metrics.AUC(), binary, "B, 1"),
    ('"auc"', "auc", lambda: keras.metrics.AUC(), multi_label, "B, 5"),
    ("AUC(num_thresholds=50, curve=\"PR\")", "auc",
     lambda: keras.metrics.AUC(num_thresholds=50, curve="PR"), binary, "B, 1"),
    ("AUC(curve=\"PR\", summation_method=\"minoring\")", "auc",
     lambda: keras.metrics.AUC(curve="PR", summation_method="minoring"), binary, "B, 1"),
    ("AUC(num_thresholds=7, summation_method=\"majoring\")", "auc",
     lambda: keras.metrics.AUC(num_thresholds=7, summation_method="majoring"), binary,
     "B, 1"),
    ("AUC(from_logits=true)", "auc", lambda: keras.metrics.AUC(from_logits=True), logits,
     "B, 1"),
    ('"precision"', "precision", lambda: keras.metrics.Precision(), binary, "B, 1"),
    ("Precision(thresholds=0.3)", "precision",
     lambda: keras.metrics.Precision(thresholds=0.3), multi_label, "B, 5"),
    ("Precision(top_k=2)", "precision", lambda: keras.metrics.Precision(top_k=2),
     multi_label, "B, 5"),
    ("Precision(class_id=3, thresholds=0.6)", "precision",
     lambda: keras.metrics.Precision(class_id=3, thresholds=0.6), multi_label, "B, 5"),
    ("Recall", "recall", lambda: keras.metrics.Recall(), binary, "B, 1"),
    ("Recall(top_k=3, class_id=1)", "recall",
     lambda: keras.metrics.Recall(top_k=3, class_id=1), multi_label, "B, 5"),
    ('F1Score(average="macro")', "f1_score",
     lambda: keras.metrics.F1Score(average="macro"), categorical, "B, 5"),
    ('F1Score(average="micro", threshold=0.5)', "f1_score",
     lambda: keras.metrics.F1Score(average="micro", threshold=0.5), multi_label, "B, 5"),
    ('F1Score(average="weighted", threshold=0.3)', "f1_score",
     lambda: keras.metrics.F1Score(average="weighted", threshold=0.3), multi_label, "B, 5"),
    ("my_metric", "my_metric",
     lambda: keras.metrics.MeanMetricWrapper(lambda t, p: keras.ops.abs(t - p) * 2),
     multi_label, "B, 5"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case[0])
def test_metric_matches_keras_over_batches_and_a_reset(case):
    entry, name, make, data, output, *loss = case
    program = program_for(entry, output, *loss)
    eval_step = program.module.functions["eval_step"]
    run = program.function("eval_step")
    assert eval_step.result_names[-1] == name
    theirs, rng = make(), np.random.default_rng(7)
    for epoch in range(2):
        ours = list(program.init_metrics().values())
        theirs.reset_state()
        for rows in BATCHES:
            x, y = data(rng, rows)
            out = eval_step.group_results(run(*eval_step.order_args(
                param=[], state=[], metric_state=ours, input=[x], target=[y])))
            ours = out["metric_state"]
            theirs.update_state(y, x)
            expected = np.asarray(theirs.result())
            assert relative_error(out["metric"][-1], expected, floor=1e-6) <= TOLERANCE, (
                epoch, rows, out["metric"][-1], expected)


def test_fit_history_matches_keras_fit():
    """Train and validation loss and metrics per epoch, with an epoch's last batch
    smaller than the others, against `model.fit` from the same initial weights."""
    program = dslc.compile("""
model M(x: f32[B, 2]) -> f32[B, 1] {
    return x |> Dense(1, activation=sigmoid)
}

train M {
    data             = two_blobs(per_class=45, seed=3)
    loss             = binary_crossentropy
    optimizer        = SGD(learning_rate=0.5)
    metrics          = ["accuracy", AUC(num_thresholds=20), Precision(thresholds=0.7),
                        "recall"]
    epochs           = 3
    batch_size       = 16
    shuffle          = false
    validation_split = 0.2
}
""")
    result = program.fit(verbose=0)
    data = load_data(program)
    train, validation = data.split(0.2)
    initial = program.init(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.set_weights([initial[n] for n in program.param_names])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5),
                  loss="binary_crossentropy",
                  # Named as a fresh session names them (other tests made some first).
                  metrics=["accuracy", keras.metrics.AUC(num_thresholds=20, name="auc"),
                           keras.metrics.Precision(thresholds=0.7, name="precision"),
                           "recall"])
    history = model.fit(train.x, train.y, batch_size=16, epochs=3, shuffle=False,
                        validation_data=(validation.x, validation.y), verbose=0).history
    ours = result.history.history
    assert set(ours) == set(history), (sorted(ours), sorted(history))
    for key, values in history.items():
        assert relative_error(ours[key], values) <= TOLERANCE, (key, ours[key], values)
