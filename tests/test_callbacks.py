"""runtime/callbacks.py against Keras 3's own callback objects: both are fed the same
sequences of epoch logs (and weights that name their epoch), and must stop at the same
epoch, restore the same epoch's weights and save at the same epochs. Then one run of
`fit` whose EarlyStopping decisions Keras' EarlyStopping repeats on its history."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from dslc.runtime.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN

keras = pytest.importorskip("keras")


class Run:
    """The handle `fit` gives callbacks, over a run whose one weight is the number of
    the epoch that produced it."""

    def __init__(self):
        self.epoch = self.step = 0
        self.stop_training = False
        self.weights = {"params/w": np.zeros(1)}
        self.saved: list[tuple[str, int]] = []

    def entries(self, *groups):
        return {k: v.copy() for k, v in self.weights.items() if k.split("/")[0] in groups}

    def assign(self, entries):
        self.weights.update(entries)

    def save(self, directory):
        self.saved.append((directory, self.epoch))


def keras_model():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.stop_training = False  # as Keras' fit sets it before the first epoch
    return model


def drive_keras(callback, logs_per_epoch):
    """Keras' fit loop around `callback`: (epochs run, the final weight)."""
    model = keras_model()
    callback.set_model(model)
    callback.on_train_begin()
    ran = 0
    for epoch, logs in enumerate(logs_per_epoch):
        model.set_weights([np.full((1, 1), float(epoch))])
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, dict(logs))
        ran += 1
        if model.stop_training:
            break
    callback.on_train_end()
    return ran, float(model.get_weights()[0][0, 0])


def drive_ours(callback, logs_per_epoch):
    run = Run()
    callback.on_train_begin(run)
    ran = 0
    for epoch, logs in enumerate(logs_per_epoch):
        run.epoch, run.weights = epoch, {"params/w": np.full(1, float(epoch))}
        callback.on_epoch_end(run, dict(logs))
        ran += 1
        if run.stop_training:
            break
    callback.on_train_end(run)
    return ran, float(run.weights["params/w"][0]), run


def log_sequences(count=12, epochs=14, seed=0):
    """Noisy descending curves with plateaus and repeats, as `val_loss` and `loss`, and
    an accuracy that rises."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        steps = rng.choice([0.0, 0.0, 0.01, 0.05, 0.2], size=epochs) * rng.choice([-1, 1], size=epochs, p=[0.7, 0.3])
        loss = np.round(1.0 + np.cumsum(steps), 2)
        yield [{"loss": float(v) * 1.1, "val_loss": float(v), "val_accuracy": float(1 - v / 2)}
               for v in loss]


EARLY_STOPPING_CONFIGS = [
    dict(monitor="val_loss", patience=patience, min_delta=min_delta, baseline=baseline,
         restore_best_weights=restore, start_from_epoch=start)
    for patience, min_delta, baseline, restore, start in itertools.product(
        (0, 2), (0.0, 0.03), (None, 0.95), (False, True), (0, 3))
] + [dict(monitor="val_accuracy", mode="max", patience=1, restore_best_weights=True),
     dict(monitor="val_loss", mode="max", patience=2)]


@pytest.mark.parametrize("config", EARLY_STOPPING_CONFIGS, ids=str)
def test_early_stopping_decides_as_keras(config):
    for logs in log_sequences():
        theirs = drive_keras(keras.callbacks.EarlyStopping(**config), logs)
        ran, weight, _ = drive_ours(EarlyStopping(**config), logs)
        assert (ran, weight) == theirs, logs


def test_early_stopping_auto_mode_maximizes_accuracy():
    logs = [{"val_accuracy": v} for v in (0.5, 0.6, 0.55, 0.58, 0.54)]
    theirs = drive_keras(keras.callbacks.EarlyStopping("val_accuracy", mode="max", patience=1,
                                                       restore_best_weights=True), logs)
    ours = drive_ours(EarlyStopping("val_accuracy", patience=1, restore_best_weights=True), logs)
    assert ours[:2] == theirs == (3, 1.0)


@pytest.mark.parametrize("config", [
    dict(monitor="val_loss", save_best_only=True),
    dict(monitor="val_loss", save_best_only=True, initial_value_threshold=0.99),
    dict(monitor="val_accuracy", save_best_only=True, mode="max"),
    dict(monitor="val_loss", save_best_only=False),
], ids=str)
def test_model_checkpoint_saves_at_the_epochs_keras_saves(config, tmp_path):
    for index, logs in enumerate(log_sequences(count=4)):
        pattern = str(tmp_path / f"{index}_{{epoch}}.keras")
        drive_keras(keras.callbacks.ModelCheckpoint(pattern, **config), logs)
        keras_epochs = sorted(int(name.split("_")[1].split(".")[0])
                              for name in os.listdir(tmp_path) if name.startswith(f"{index}_"))
        _, _, run = drive_ours(ModelCheckpoint("ours_{epoch}", **config), logs)
        assert [epoch + 1 for _, epoch in run.saved] == keras_epochs
        assert [path for path, _ in run.saved] == [f"ours_{e}" for e in keras_epochs]


def test_model_checkpoint_every_n_steps_saves_where_keras_does(tmp_path):
    """Keras counts batches across epochs (5 a epoch here) and saves every `save_freq`."""
    pattern = str(tmp_path / "k_{epoch}_{batch}.keras")
    callback = keras.callbacks.ModelCheckpoint(pattern, monitor="loss", save_freq=3)
    callback.set_model(keras_model())
    callback.on_train_begin()
    theirs = []
    for epoch in range(3):
        callback.on_epoch_begin(epoch)
        for batch in range(5):
            before = set(os.listdir(tmp_path))
            callback.on_train_batch_end(batch, {"loss": 1.0})
            if set(os.listdir(tmp_path)) - before:
                theirs.append(epoch * 5 + batch + 1)
    ours = ModelCheckpoint("ours", monitor="loss", save_freq=3)
    run = Run()
    saved_at = []
    for step in range(1, 16):
        run.step = step
        ours.on_steps_end(run, {"loss": 1.0})
        if len(run.saved) > len(saved_at):
            saved_at.append(step)
    assert saved_at == theirs == [3, 6, 9, 12, 15]


def test_terminate_on_nan_stops_as_keras_does():
    for loss in (1.0, float("nan"), float("inf")):
        model = keras_model()
        theirs = keras.callbacks.TerminateOnNaN()
        theirs.set_model(model)
        theirs.on_batch_end(0, {"loss": loss})
        run = Run()
        TerminateOnNaN().on_steps_end(run, {"loss": loss})
        assert run.stop_training == bool(model.stop_training)


def test_a_fit_stops_and_restores_where_keras_would_on_its_history(tmp_path):
    import dslc
    from safetensors.numpy import load_file

    from test_checkpoints import write_model

    write_model(tmp_path, "epochs = 30\n    validation_split = 0.25\n    callbacks = ["
                "EarlyStopping(\"val_binary_accuracy\", patience=2, restore_best_weights=true), "
                'ModelCheckpoint("epoch_{epoch}")]')
    program = dslc.compile(str(tmp_path / "net.nn"))
    result = program.fit(log=None, verbose=0)
    history = result.history.history
    logs = [{key: values[i] for key, values in history.items()} for i in range(result.history.epochs)]
    keras_stopper = keras.callbacks.EarlyStopping(
        "val_binary_accuracy", patience=2, mode="max", restore_best_weights=True)
    ran, _ = drive_keras(keras_stopper, logs + [{"val_binary_accuracy": 0.0}] * 30)
    assert ran == result.history.epochs < 30
    best = load_file(tmp_path / f"epoch_{keras_stopper.best_epoch + 1}" / "arrays.safetensors")
    for name, value in result.params.items():
        np.testing.assert_array_equal(value, best[f"params/{name}"])


REDUCE_CONFIGS = [
    dict(monitor="val_loss", factor=factor, patience=patience, min_delta=min_delta,
         cooldown=cooldown, min_lr=min_lr)
    for factor, patience, min_delta, cooldown, min_lr in itertools.product(
        (0.5, 0.1), (0, 2), (1e-4, 0.03), (0, 2), (0.0, 0.02))
] + [dict(monitor="val_accuracy", mode="max", patience=1, factor=0.5),
     dict(monitor="loss", patience=1, factor=0.5)]


@pytest.mark.parametrize("config", REDUCE_CONFIGS, ids=str)
def test_reduce_lr_on_plateau_sets_the_rates_keras_sets(config):
    """Keras' callback on a compiled model's optimizer and ours on the run's
    `optimizer/learning_rate` entry, fed the same epochs: the same rate after each."""
    for logs in log_sequences(count=6):
        model = keras_model()
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
        theirs = keras.callbacks.ReduceLROnPlateau(**config)
        theirs.set_model(model)
        theirs.on_train_begin()
        run, ours = Run(), ReduceLROnPlateau(**config)
        run.weights["optimizer/learning_rate"] = np.float32(0.1)
        ours.on_train_begin(run)
        for epoch, epoch_logs in enumerate(logs):
            theirs.on_epoch_end(epoch, dict(epoch_logs))
            run.epoch = epoch
            ours.on_epoch_end(run, dict(epoch_logs))
            expected = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
            assert float(run.weights["optimizer/learning_rate"]) == expected, (epoch, logs)


def test_reduce_lr_on_plateau_changes_the_rate_the_compiled_step_reads(tmp_path):
    """A loss that never improves by `min_delta` halves the rate at the end of every
    epoch but the first. The run's optimizer state holds the last rate, and the step
    reads it: the epochs before the first cut log what a run without the callback
    logs, and the epochs after it do not."""
    import dslc

    from test_checkpoints import write_model

    callback = 'ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)'
    runs = {}
    for name, setting in (("plain", "epochs = 4"),
                          ("reduced", f"epochs = 4\n    callbacks = [{callback}]")):
        (tmp_path / name).mkdir()
        write_model(tmp_path / name, setting)
        runs[name] = dslc.compile(str(tmp_path / name / "net.nn")).fit(log=None, verbose=0)
    assert runs["plain"].opt_state["optimizer/learning_rate"] == np.float32(0.01)
    assert runs["reduced"].opt_state["optimizer/learning_rate"] == np.float32(0.01 * 0.5 ** 3)
    plain, reduced = (runs[n].history.history["loss"] for n in ("plain", "reduced"))
    assert plain[:2] == reduced[:2] and plain[2] != reduced[2]
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)


def test_the_front_end_declares_each_runtime_callback_with_its_signature():
    import inspect

    from dslc.compiler.callbacks import CALLBACKS as DECLARED
    from dslc.compiler.data_sources import REQUIRED
    from dslc.runtime.callbacks import CALLBACKS as IMPLEMENTED

    assert sorted(DECLARED) == sorted(IMPLEMENTED)
    for name, record in DECLARED.items():
        parameters = list(inspect.signature(IMPLEMENTED[name]).parameters.values())
        assert [p.name for p in parameters] == list(record.params), name
        for parameter in parameters:
            declared = record.params[parameter.name]
            assert (parameter.default is inspect.Parameter.empty) == (declared is REQUIRED)
            if declared is not REQUIRED:
                assert parameter.default == declared, (name, parameter.name)
