"""The Keras-like training loop: fit, evaluate and predict over compiled functions.

Consumes JAX-traceable steps with metric state, `step(params, opt_state, metric_state,
x, y) -> (params, opt_state, metric_state, loss, results)` and `evaluate(params,
metric_state, x, y) -> (metric_state, loss, results)` (the compiler's), where `results`
are the metrics' current values ("loss", Keras' loss tracker, first), or plain ones
written by hand, `step(params, opt_state, x, y) -> (params, opt_state, loss, metrics)`
and `evaluate(params, x, y) -> (loss, metrics)`, whose batch values `mean_tracked` turns
into means weighted by batch size. The metric state is reset to its initial value at the
start of every epoch and of every evaluation, as Keras' `reset_metrics` does, so an
epoch logs its metrics over all of its batches. Produces trained parameters and a
`History`. Many steps run per XLA call (`lax.scan` over index batches gathered from
device-resident data), with donated parameter buffers and no host round trip per step.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .data import Dataset, batches_for_epoch, rows_of
from .files import write_atomically

MAX_STEPS_PER_CALL = 1000
"""Default cap on steps (or evaluation batches) per XLA call; bounds the index
array sent per call and the time between log lines."""

PROGRESS_UPDATES_PER_EPOCH = 10
"""With a progress bar, an epoch runs in about this many calls so the bar moves."""


# -- results ------------------------------------------------------------------


@dataclass
class History:
    """What `fit` recorded. `history` maps "loss", each metric name, "val_loss" and
    "val_<metric>" to lists of floats: one per step in steps mode, one per epoch
    (the metrics' results over all of its batches) in epochs mode. `epochs` is the number of epochs run
    (None in steps mode) and `steps` the number of optimizer steps run."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs: int | None = None
    steps: int = 0

    def record(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def to_json(self, path: str | os.PathLike) -> None:
        """Write `{"loss": [...], ..., "epochs": ..., "steps": ...}` atomically;
        non-finite values are written as null to keep the file strict JSON."""
        document = {key: [_json_number(v) for v in values] for key, values in self.history.items()}
        document["epochs"] = self.epochs
        document["steps"] = self.steps
        write_atomically(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))


@dataclass(frozen=True)
class FitResult:
    params: Any
    opt_state: Any
    history: History
    # (step, loss) of the first step whose loss was NaN or infinite, counted from 1
    first_nonfinite_step: tuple[int, float] | None = None


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


# -- callbacks ----------------------------------------------------------------


class Callback:
    """Called by `fit` in epochs mode; `on_epoch_end` returns True to stop training."""

    def on_train_begin(self) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool:
        return False


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience`
    epochs. `mode` "auto" maximizes monitors whose name contains "acc", else minimizes."""

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0, mode: str = "auto"):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping mode must be auto, min or max, got {mode!r}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.maximize = mode == "max" or (mode == "auto" and "acc" in monitor)
        self.on_train_begin()

    def on_train_begin(self) -> None:
        self.best = -math.inf if self.maximize else math.inf
        self.wait = 0
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool:
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping monitors `{self.monitor}`, but fit logs only {', '.join(logs)}")
        value = logs[self.monitor]
        improvement = value - self.best if self.maximize else self.best - value
        if improvement > self.min_delta:
            self.best, self.wait = value, 0
            return False
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            return True
        return False


# -- the jitted kernels ---------------------------------------------------------


def _scan_gathered(step, shard, accumulate, params, opt_state, metric_state, x, y,
                   index_chunk):
    """Run `step` once per row of `index_chunk` ([steps, batch]), gathering each
    batch from the device-resident `x` and `y`; `shard` places a batch (over a device
    mesh, or not at all). With `accumulate` the metric state runs on from step to
    step, else every step starts from `metric_state` (each logs its own batch)."""
    return _scan_steps(step, accumulate, params, opt_state, metric_state, index_chunk,
                       lambda indices: (shard(rows_of(x, indices)), shard(rows_of(y, indices))))


def _scan_full_batch(step, shard, accumulate, params, opt_state, metric_state, x, y, length):
    """Run `step` `length` times on the whole of `x` and `y` (no gather needed)."""
    return _scan_steps(step, accumulate, params, opt_state, metric_state,
                       jnp.zeros((length, 0)), lambda _: (shard(x), shard(y)))


def _scan_steps(step, accumulate, params, opt_state, metric_state, rows, batch_of):
    fresh = metric_state

    def body(carry, row):
        params, opt_state, metric_state = carry
        params, opt_state, metric_state, loss, results = step(
            params, opt_state, metric_state if accumulate else fresh, *batch_of(row))
        return (params, opt_state, metric_state), (loss, tuple(results))

    (params, opt_state, metric_state), (losses, results) = jax.lax.scan(
        body, (params, opt_state, metric_state), rows)
    return params, opt_state, metric_state, losses, results


def _scan_evaluate(function, params, metric_state, x, y, index_chunk):
    """`function` over each batch of `index_chunk`, its metric state running on;
    returns the state and the results after the last batch."""

    def body(metric_state, indices):
        metric_state, _, results = function(params, metric_state, rows_of(x, indices),
                                            rows_of(y, indices))
        return metric_state, tuple(results)

    metric_state, results = jax.lax.scan(body, metric_state, index_chunk)
    return metric_state, tuple(r[-1] for r in results)


def _unsharded(batch):
    return batch


class DataParallel:
    """Data parallelism over `devices` of this host: a one-axis mesh ("batch"); params,
    optimizer state and the data are replicated, each batch is split over the mesh,
    and XLA reduces the gradients (sharding annotations, no hand-written collectives).
    A batch the device count does not divide (an epoch's last) runs unsplit."""

    def __init__(self, devices: int):
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise ValueError(f"{devices} devices asked for, {len(available)} available")
        self.count = devices
        self.mesh = jax.sharding.Mesh(np.array(available[:devices]), ("batch",))
        self.replicated = jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec())
        self.split = jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec("batch"))

    def replicate(self, tree):
        return jax.device_put(tree, self.replicated)

    def shard_batch(self, batch):
        """`batch` (an array, or a tuple of them for several inputs) split over the mesh."""
        if isinstance(batch, tuple):
            return tuple(self.shard_batch(part) for part in batch)
        if batch.shape[0] % self.count:
            return batch
        return jax.lax.with_sharding_constraint(batch, self.split)


class _Trainer:
    """Holds the training data on device and runs chunks of steps on it.

    Every chunk is one XLA call compiled once per distinct (steps, batch) shape:
    the full-size chunks of an epoch, the shorter last chunk, and the last partial
    batch, which runs as a chunk of one step of its own size."""

    def __init__(self, step: Callable, train: Dataset, batch_size: int | None, mesh: DataParallel | None = None):
        self.mesh = mesh
        place = mesh.replicate if mesh else jax.device_put
        self.x, self.y = place(train.x), place(train.y)
        self.size = len(train)
        self.full_batch = batch_size is None or batch_size >= self.size
        self.batch_size = self.size if self.full_batch else batch_size
        shard = mesh.shard_batch if mesh else _unsharded
        self._gathered, self._full = ({
            accumulate: jax.jit(functools.partial(kernel, step, shard, accumulate), **options)
            for accumulate in (False, True)} for kernel, options in (
                (_scan_gathered, {"donate_argnums": (0, 1)}),
                (_scan_full_batch, {"donate_argnums": (0, 1), "static_argnums": (5,)})))

    def run(self, params, opt_state, metric_state, work, accumulate: bool):
        """`work` is a step count (full batch) or an index chunk [steps, batch].
        Returns params, opt_state, metric_state, losses [steps] and the metrics' results
        after each step (tuple of [steps])."""
        if self.full_batch:
            out = self._full[accumulate](params, opt_state, metric_state, self.x, self.y, work)
        else:
            indices = jnp.asarray(work, dtype=jnp.int32)
            out = self._gathered[accumulate](params, opt_state, metric_state, self.x, self.y,
                                             indices)
        params, opt_state, metric_state, losses, results = out
        losses, results = jax.device_get((losses, results))
        if np.ndim(losses) != 1:
            raise ValueError(f"the step function must return a scalar loss, got shape {np.shape(losses)[1:]}")
        return (params, opt_state, metric_state, np.asarray(losses),
                tuple(np.asarray(r) for r in results))


class _Evaluator:
    """Holds a dataset on device and runs `evaluate` over all of it, from the initial
    metric state `fresh`; returns the metrics' results (floats)."""

    def __init__(self, evaluate: Callable, fresh, data: Dataset, batch_size: int | None, steps_per_call: int = 0):
        self.x, self.y = jax.device_put(data.x), jax.device_put(data.y)
        self.fresh = fresh
        self.size = len(data)
        self.batch_size = self.size if batch_size is None else min(batch_size, self.size)
        self.steps_per_call = steps_per_call or MAX_STEPS_PER_CALL
        self._scanned = _jitted(evaluate, _scan_evaluate)

    def __call__(self, params) -> tuple[float, ...]:
        metric_state, results = self.fresh, ()
        batches = batches_for_epoch(self.size, self.batch_size, shuffle=False, rng=None)
        for chunk in _index_chunks(batches, self.steps_per_call):
            metric_state, results = self._scanned(params, metric_state, self.x, self.y,
                                                  jnp.asarray(chunk, dtype=jnp.int32))
        return tuple(float(r) for r in jax.device_get(results))


@functools.lru_cache(maxsize=64)
def _jitted(function: Callable, kernel: Callable) -> Callable:
    """jit(kernel bound to function), cached so that repeated evaluate/predict
    calls with the same function reuse the compiled code."""
    return jax.jit(functools.partial(kernel, function))


def _index_chunks(batches: list[np.ndarray], steps_per_call: int):
    """Stack equal-size batches into [steps, batch] chunks of at most
    `steps_per_call` steps; a smaller last batch becomes a chunk [1, rest] of its own."""
    full = batches if len(batches[-1]) == len(batches[0]) else batches[:-1]
    for start in range(0, len(full), steps_per_call):
        yield np.stack(full[start : start + steps_per_call])
    if len(full) < len(batches):
        yield batches[-1][None]


def mean_tracked(step: Callable, evaluate: Callable | None, metrics: int):
    """A plain `step(params, opt_state, x, y) -> (params, opt_state, loss, metrics)`
    and `evaluate(params, x, y) -> (loss, metrics)` (`metrics` of them) as steps with
    metric state: the loss and each metric tracked by a mean weighted by the batch size,
    as Keras' loss tracker is. Returns (step, evaluate, initial metric state)."""

    def tracked(sums, x, loss, values):
        if len(values) != metrics:
            raise ValueError(f"the step/evaluate function returned {len(values)} metrics but "
                             f"{metrics} metric names were given")
        totals, count = sums
        batch = jnp.asarray(jax.tree.leaves(x)[0].shape[0], jnp.float32)
        columns = jnp.stack([jnp.ravel(v)[0] for v in (loss, *values)]).astype(jnp.float32)
        totals, count = totals + columns * batch, count + batch
        return (totals, count), tuple(totals / count)

    def tracked_step(params, opt_state, sums, x, y):
        params, opt_state, loss, values = step(params, opt_state, x, y)
        sums, results = tracked(sums, x, loss, values)
        return params, opt_state, sums, loss, results

    def tracked_evaluate(params, sums, x, y):
        loss, values = evaluate(params, x, y)
        sums, results = tracked(sums, x, loss, values)
        return sums, loss, results

    fresh = (np.zeros(metrics + 1, np.float32), np.float32(0))
    return tracked_step, tracked_evaluate if evaluate is not None else None, fresh


# -- fit ----------------------------------------------------------------------


SEED_STRIDE = 0x9E3779B1  # odd, so that steps map one-to-one onto seeds modulo 2**31


def step_seed(seed, step):
    """The random seed of training step `step` (counted from 0) of a run seeded with
    `seed`: `(seed + step * SEED_STRIDE) mod 2**31`, distinct for the first 2**31 steps.
    A compiled `train_step` that draws (dropout) takes it as its `rng` argument and
    folds each draw's stream into it, so that a run, and a resumed run, repeats its
    bits on every backend."""
    step = jnp.asarray(step, jnp.uint32)
    mixed = jnp.asarray(seed, jnp.uint32) + step * jnp.uint32(SEED_STRIDE)
    return (mixed & jnp.uint32(0x7FFFFFFF)).astype(jnp.int32)



def fit(
    step: Callable,
    params,
    opt_state,
    train: Dataset,
    *,
    batch_size: int | None = None,
    epochs: int | None = None,
    steps: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    validation: Dataset | None = None,
    evaluate: Callable | None = None,
    metric_names: Sequence[str] = (),
    metric_state=None,
    steps_per_call: int = 0,
    devices: int | None = None,
    callbacks: Sequence[Callback] = (),
    log: Callable[[str], Any] = print,
    verbose: int = 1,
) -> FitResult:
    """Train with `step` on `train`, Keras style, and return the final state.

    Give `epochs` (default 1) or `steps`. `batch_size=None` means full batch (never
    shuffled: the order inside one batch does not change the update). In epochs mode
    every epoch visits each row once, its last batch smaller when `batch_size` does
    not divide the row count. In steps mode batches are cut from a stream of
    successive shuffled epochs, so all are full. `steps_per_call` (0 = automatic: an
    epoch or all steps, capped) sets how many steps one XLA call runs. `validation`
    needs `evaluate`; it runs after every epoch, or once at the end in steps mode.
    `verbose`: 0 silent, 1 log lines (and a progress bar on a terminal), 2 lines only.
    `callbacks` (e.g. `EarlyStopping`) run after every epoch, in epochs mode only.
    `devices` (> 1) trains data-parallel over that many of this host's devices
    (`DataParallel`); the batch size must be a multiple of it.
    With `metric_state` (its initial value), `step` and `evaluate` thread it and return
    the results named `metric_names` (the loss tracker, "loss", among them); without,
    they are plain and `metric_names` names their metrics (`mean_tracked`). An epoch
    logs the results after its last step, steps mode each step's own.
    The caller's `params` and `opt_state` are copied, never donated."""
    _check_fit_arguments(train, batch_size, epochs, steps, validation, evaluate, callbacks, steps_per_call)
    if metric_state is None:
        step, evaluate, metric_state = mean_tracked(step, evaluate, len(metric_names))
        metric_names = ("loss", *metric_names)
    mesh = None
    if devices is not None and devices > 1:
        if batch_size is not None and batch_size % devices:
            raise ValueError(f"`batch_size` {batch_size} is not a multiple of the {devices} devices")
        mesh = DataParallel(devices)
    trainer = _Trainer(step, train, batch_size, mesh)
    params, opt_state, metric_state = jax.tree.map(jnp.array, (params, opt_state, metric_state))
    if mesh is not None:
        params, opt_state, metric_state = mesh.replicate((params, opt_state, metric_state))
    evaluator = (_Evaluator(evaluate, metric_state, validation, batch_size, steps_per_call)
                 if validation is not None else None)
    loop = _FitLoop(trainer, evaluator, tuple(metric_names), metric_state, steps_per_call,
                    log, verbose)
    rng = np.random.default_rng(seed)
    if steps is not None:
        return loop.run_steps(params, opt_state, steps, shuffle, rng)
    return loop.run_epochs(params, opt_state, epochs or 1, shuffle, rng, callbacks)


def _check_fit_arguments(train, batch_size, epochs, steps, validation, evaluate, callbacks, steps_per_call):
    if len(train) == 0:
        raise ValueError("cannot fit on an empty dataset")
    if epochs is not None and steps is not None:
        raise ValueError("give either `epochs` or `steps`, not both")
    for name, value in (("batch_size", batch_size), ("epochs", epochs), ("steps", steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
    if steps_per_call < 0:
        raise ValueError(f"`steps_per_call` must be 0 (automatic) or positive, got {steps_per_call}")
    if validation is not None and evaluate is None:
        raise ValueError("validation data needs an `evaluate` function")
    if callbacks and steps is not None:
        raise ValueError("callbacks run at the end of each epoch; they need `epochs`, not `steps`")


class _FitLoop:
    """The host side of `fit`: cuts work into chunks, records history, logs."""

    def __init__(self, trainer, evaluator, metric_names, fresh, steps_per_call, log, verbose):
        self.trainer = trainer
        self.evaluator = evaluator
        self.metric_names = metric_names
        self.fresh = fresh  # the metric state every epoch and evaluation starts from
        self.steps_per_call = steps_per_call
        self.log = log if verbose else (lambda line: None)
        self.progress = verbose == 1 and log is print and sys.stdout.isatty()
        self.history = History()
        self.nonfinite: tuple[int, float] | None = None

    def run_steps(self, params, opt_state, steps, shuffle, rng) -> FitResult:
        chunk_size = self.steps_per_call or min(steps, MAX_STEPS_PER_CALL)
        stream = None if self.trainer.full_batch else _IndexStream(self.trainer.size, shuffle, rng)
        done = 0
        while done < steps:
            count = min(chunk_size, steps - done)
            work = count if stream is None else stream.take(count, self.trainer.batch_size)
            params, opt_state, _, losses, results = self.trainer.run(
                params, opt_state, self.fresh, work, accumulate=False)
            self._watch(done, losses)
            for i in range(count):
                logs = self._named(tuple(r[i] for r in results))
                self.history.record(logs)
                self.log(_format(f"step {done + i + 1}/{steps}", logs))
            done += count
        self.history.steps = steps
        if self.evaluator is not None:
            val_logs = self._named(self.evaluator(params), prefix="val_")
            self.history.record(val_logs)
            self.log(_format("validation", val_logs))
        return FitResult(params, opt_state, self.history, self.nonfinite)

    def run_epochs(self, params, opt_state, epochs, shuffle, rng, callbacks) -> FitResult:
        for callback in callbacks:
            callback.on_train_begin()
        self.history.epochs = 0
        for epoch in range(epochs):
            params, opt_state, logs = self._run_epoch(params, opt_state, epoch, epochs, shuffle, rng)
            if self.evaluator is not None:
                logs.update(self._named(self.evaluator(params), prefix="val_"))
            self.history.record(logs)
            self.history.epochs = epoch + 1
            self.log(_format(f"Epoch {epoch + 1}/{epochs}", logs))
            stop = [callback.on_epoch_end(epoch, dict(logs)) for callback in callbacks]
            if any(stop):
                break
        return FitResult(params, opt_state, self.history, self.nonfinite)

    def _watch(self, done: int, losses) -> None:
        """Remembers the first non-finite loss, `done` steps having run before `losses`."""
        if self.nonfinite is None:
            bad = np.flatnonzero(~np.isfinite(losses))
            if bad.size:
                self.nonfinite = (done + int(bad[0]) + 1, float(losses[bad[0]]))

    def _run_epoch(self, params, opt_state, epoch, epochs, shuffle, rng):
        trainer, metric_state, results = self.trainer, self.fresh, ()
        bar = _ProgressBar(f"Epoch {epoch + 1}/{epochs}", trainer.size) if self.progress else None
        if trainer.full_batch:
            chunks = [1]
        else:
            batches = batches_for_epoch(trainer.size, trainer.batch_size, shuffle, rng)
            chunks = _index_chunks(batches, self._epoch_chunk_size())
        for work in chunks:
            params, opt_state, metric_state, losses, results = trainer.run(
                params, opt_state, metric_state, work, accumulate=True)
            self._watch(self.history.steps, losses)
            batch = trainer.batch_size if trainer.full_batch else work.shape[1]
            self.history.steps += len(losses)
            if bar is not None:
                bar.advance(batch * len(losses))
        if bar is not None:
            bar.clear()
        return params, opt_state, self._named(tuple(r[-1] for r in results))

    def _epoch_chunk_size(self) -> int:
        if self.steps_per_call:
            return self.steps_per_call
        batches_per_epoch = self.trainer.size // self.trainer.batch_size
        if self.progress:
            return max(1, math.ceil(batches_per_epoch / PROGRESS_UPDATES_PER_EPOCH))
        return max(1, min(batches_per_epoch, MAX_STEPS_PER_CALL))

    def _named(self, results, prefix: str = "") -> dict[str, float]:
        if len(results) != len(self.metric_names):
            raise ValueError(
                f"the step/evaluate function returned {len(results)} results but "
                f"{len(self.metric_names)} names were given: {list(self.metric_names)}"
            )
        return {prefix + name: float(value) for name, value in zip(self.metric_names, results)}


class _IndexStream:
    """Batches cut from successive (shuffled) passes over 0..size-1, for steps mode."""

    def __init__(self, size: int, shuffle: bool, rng: np.random.Generator):
        self.size, self.shuffle, self.rng = size, shuffle, rng
        self.pending = np.empty(0, dtype=np.int64)

    def take(self, steps: int, batch_size: int) -> np.ndarray:
        needed = steps * batch_size
        passes = [self.pending]
        available = len(self.pending)
        while available < needed:
            passes.append(self.rng.permutation(self.size) if self.shuffle else np.arange(self.size))
            available += self.size
        stream = np.concatenate(passes)
        self.pending = stream[needed:]
        return stream[:needed].reshape(steps, batch_size)


def _format(prefix: str, logs: dict[str, float]) -> str:
    return " - ".join([prefix] + [f"{key}: {value:.4f}" for key, value in logs.items()])


class _ProgressBar:
    """A one-line bar redrawn in place on a terminal, erased before the epoch's line."""

    WIDTH = 30

    def __init__(self, label: str, total: int):
        self.label, self.total, self.done = label, total, 0
        self._draw()

    def advance(self, count: int) -> None:
        self.done = min(self.total, self.done + count)
        self._draw()

    def clear(self) -> None:
        sys.stdout.write("\r\033[K")
        sys.stdout.flush()

    def _draw(self) -> None:
        filled = self.WIDTH * self.done // self.total
        bar = "=" * filled + (">" if filled < self.WIDTH else "") + "." * (self.WIDTH - filled - 1)
        sys.stdout.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        sys.stdout.flush()


# -- evaluate and predict -------------------------------------------------------


def evaluate_dataset(
    evaluate: Callable, params, data: Dataset, batch_size: int | None = None,
    metric_state=None,
) -> tuple[float, tuple[float, ...]]:
    """Loss and metrics of `evaluate` over `data` (`batch_size=None`: one batch): with
    `metric_state`, `evaluate(params, metric_state, x, y)`'s results from that initial
    state, the loss tracker first; without, the means over all rows of a plain
    `evaluate(params, x, y)`'s `metrics` (batch results weighted by batch size)."""
    if metric_state is None:
        first = data.take(np.arange(1))
        _, metrics = jax.eval_shape(evaluate, params, first.x, first.y)
        _, evaluate, metric_state = mean_tracked(None, evaluate, len(metrics))
    results = _Evaluator(evaluate, metric_state, data, batch_size)(params)
    return results[0], results[1:]


def predict_batches(fn: Callable, params, x: np.ndarray, batch_size: int | None = None):
    """`fn(params, x_batch)` over `x` in batches, concatenated; returns NumPy arrays
    (a tuple if `fn` returns several). The last partial batch is padded by repeating
    the final row and the padding's outputs are dropped, so one compiled shape
    serves every batch; this assumes rows are predicted independently, as in
    inference."""
    size = len(x)
    if size == 0:
        raise ValueError("cannot predict on an empty array")
    batch = size if batch_size is None else min(batch_size, size)
    padded = math.ceil(size / batch) * batch
    order = np.minimum(np.arange(padded), size - 1).reshape(-1, batch)
    mapped = _jitted(fn, _map_rows)
    x_device = jax.device_put(x)
    pieces = []
    for start in range(0, len(order), MAX_STEPS_PER_CALL):
        chunk = jnp.asarray(order[start : start + MAX_STEPS_PER_CALL], dtype=jnp.int32)
        pieces.append(jax.device_get(mapped(params, x_device, chunk)))
    outputs = jax.tree.map(lambda *parts: np.concatenate([p.reshape(-1, *p.shape[2:]) for p in parts])[:size], *pieces)
    return outputs


def _map_rows(function, params, x, index_chunk):
    return jax.lax.map(lambda indices: function(params, x[indices]), index_chunk)
