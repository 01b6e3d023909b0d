"""Callbacks of the training loop (`fit`), by their Keras 3 names, arguments and rules.

A callback sees the run through a narrow handle (`run` below, `training._FitLoop`):
`run.step` and `run.epoch` (counted from 0, the one ending), `run.entries(*groups)`
(the carry's arrays as "group/name" -> array), `run.assign(entries)` (replace some of
them between steps: best weights, or an `optimizer/learning_rate` a schedule changes),
`run.save(directory)` (a checkpoint) and `run.stop_training`, as Keras' model flag.
Steps run many per XLA call; a callback that acts every N steps says so in
`every_steps`, and the loop ends a call at each multiple of it.
"""

from __future__ import annotations

import math
import os

import numpy as np

WEIGHT_GROUPS = ("params", "state")  # what Keras' get_weights/set_weights cover
MAXIMIZED = ("acc", "auc", "precision", "recall")


class Callback:
    """The hooks `fit` calls; each does nothing unless overridden."""

    every_steps: int | None = None

    def on_train_begin(self, run) -> None:
        pass

    def on_steps_end(self, run, logs: dict[str, float]) -> None:
        """After each XLA call of steps, with the last step's logs (in epochs mode the
        metrics' results over the epoch's batches so far, as Keras' batch logs)."""

    def on_epoch_end(self, run, logs: dict[str, float]) -> None:
        pass

    def on_train_end(self, run) -> None:
        pass


def direction(monitor: str, mode: str) -> str:
    """"min" or "max": `mode`, or for "auto" the direction of the monitored metric as
    Keras' metric objects declare it: accuracy, AUC, precision and recall go up; the
    loss and the metrics that are losses (errors, crossentropies, divergences, hinges,
    the negated cosine similarity) go down."""
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"mode must be auto, min or max, got {mode!r}")
    return "max" if any(word in monitor for word in MAXIMIZED) else "min"


class _Monitor(Callback):
    """Keras' MonitorCallback: `_is_improvement(value, reference)` is
    `value - min_delta` beyond `reference` in the monitor's direction."""

    def __init__(self, monitor: str, mode: str, baseline: float | None, min_delta: float):
        self.monitor = monitor
        self.maximize = direction(monitor, mode) == "max"
        self.min_delta = abs(min_delta) if self.maximize else -abs(min_delta)
        self.best = baseline

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        shifted = value - self.min_delta
        return shifted > reference if self.maximize else shifted < reference


class EarlyStopping(_Monitor):
    """Stops when `monitor` has not improved by more than `min_delta` for `patience`
    epochs (counted from `start_from_epoch`); `baseline` must be beaten to reset the
    wait; `restore_best_weights` puts back the best epoch's weights at the end."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__(monitor, mode, None, min_delta)
        self.patience, self.baseline = patience, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.on_train_begin(None)

    def on_train_begin(self, run) -> None:
        self.wait, self.stopped_epoch, self.best, self.best_epoch = 0, 0, None, 0
        self.best_weights = None

    def on_epoch_end(self, run, logs: dict[str, float]) -> None:
        current = logs.get(self.monitor)
        if current is None or run.epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = run.entries(*WEIGHT_GROUPS), run.epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, run.epoch
            if self.restore_best_weights:
                self.best_weights = run.entries(*WEIGHT_GROUPS)
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and run.epoch > 0:
            self.stopped_epoch = run.epoch
            run.stop_training = True

    def on_train_end(self, run) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            run.assign(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Saves a checkpoint to the folder `filepath` at each epoch end (`save_freq`
    "epoch") or every `save_freq` steps; with `save_best_only`, only when `monitor`
    improved (a missing monitor saves, as in Keras). The path is formatted as Keras'
    is: `{epoch}` (from 1), `{step}` (steps run) and the logs (`{val_loss:.3f}`)."""

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss",
                 save_best_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch", initial_value_threshold: float | None = None):
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"save_freq must be 'epoch' or a positive integer, got {save_freq!r}")
        super().__init__(monitor, mode if save_best_only else "min", initial_value_threshold,
                         0.0)
        self.filepath, self.save_best_only, self.save_freq = os.fspath(filepath), save_best_only, save_freq
        self.every_steps = save_freq if isinstance(save_freq, int) else None
        self.saved: list[tuple[int, int]] = []  # (epoch, step) of each save

    def on_steps_end(self, run, logs: dict[str, float]) -> None:
        if self.every_steps and run.step % self.every_steps == 0:
            self._save(run, logs)

    def on_epoch_end(self, run, logs: dict[str, float]) -> None:
        if self.save_freq == "epoch":
            self._save(run, logs)

    def _save(self, run, logs: dict[str, float]) -> None:
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is not None:
                if not self._is_improvement(current, self.best):
                    return
                self.best = current
        run.save(self.filepath.format(**logs, epoch=run.epoch + 1, step=run.step))
        self.saved.append((run.epoch, run.step))


class TerminateOnNaN(Callback):
    """Stops training after the first step whose loss is NaN or infinite. `fit` adds it
    unless told otherwise: a diverged run's later steps carry no information."""

    def on_steps_end(self, run, logs: dict[str, float]) -> None:
        if not math.isfinite(logs.get("loss", 0.0)):
            run.stop_training = True


class ReduceLROnPlateau(_Monitor):
    """Multiplies the learning rate by `factor` (down to `min_lr`) when `monitor` has
    not improved by more than `min_delta` for `patience` epochs, then waits `cooldown`
    epochs before counting again. It rewrites the optimizer-state entry
    `optimizer/learning_rate`, which the compiled step reads, so the optimizer must have
    a constant learning rate, not a schedule (as Keras requires)."""

    ENTRY = "optimizer/learning_rate"

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, got {factor}")
        super().__init__(monitor, mode, None, min_delta)
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr
        self.on_train_begin(None)

    def on_train_begin(self, run) -> None:
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def on_epoch_end(self, run, logs: dict[str, float]) -> None:
        current = logs.get(self.monitor)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and self._reduce(run):
                self.cooldown_counter, self.wait = self.cooldown, 0

    def _reduce(self, run) -> bool:
        """Keras' `_reduce_optimizer_lr`: whether the rate was above `min_lr` and cut."""
        entries = run.entries("optimizer")
        if self.ENTRY not in entries:
            raise ValueError("ReduceLROnPlateau needs a constant learning rate "
                             f"(the optimizer state has no `{self.ENTRY}`)")
        old = float(entries[self.ENTRY])
        if not old > np.float32(self.min_lr):
            return False
        new = max(old * self.factor, self.min_lr)
        run.assign({self.ENTRY: np.asarray(new, entries[self.ENTRY].dtype)})
        if self.verbose > 0:
            print(f"\nEpoch {run.epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
        return True


CALLBACKS = {cls.__name__: cls for cls in (EarlyStopping, ModelCheckpoint, ReduceLROnPlateau,
                                           TerminateOnNaN)}


class SaveCheckpoints(Callback):
    """`dslc train --save`: the run's checkpoint in `directory`, rewritten at every
    epoch end, every `every_steps` steps and at the end; once a loss is not finite it
    saves no more, so the last finite state stays on disk."""

    def __init__(self, directory: str | os.PathLike, every_steps: int | None = None):
        self.directory, self.every_steps = directory, every_steps
        self.diverged = False

    def on_steps_end(self, run, logs: dict[str, float]) -> None:
        self.diverged = self.diverged or not math.isfinite(logs.get("loss", 0.0))
        if self.every_steps and run.step % self.every_steps == 0:
            self._save(run)

    def on_epoch_end(self, run, logs: dict[str, float]) -> None:
        self._save(run)

    def on_train_end(self, run) -> None:
        self._save(run)

    def _save(self, run) -> None:
        if not self.diverged:
            run.save(self.directory)
