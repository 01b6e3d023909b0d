"""The Keras-like training loop: fit, evaluate and predict over compiled functions.

Consumes JAX-traceable steps with metric state, `step(params, opt_state, metric_state,
x, y) -> (params, opt_state, metric_state, loss, results)` and `evaluate(params,
metric_state, x, y) -> (metric_state, loss, results)` (the compiler's), where `results`
are the metrics' current values ("loss", Keras' loss tracker, first), or plain ones
written by hand, `step(params, opt_state, x, y) -> (params, opt_state, loss, metrics)`
and `evaluate(params, x, y) -> (loss, metrics)`, whose batch values `mean_tracked` turns
into means weighted by batch size. The run's carry is `(params, opt_state,
metric_state)`; the metric state is reset to its initial value at the start of every
epoch and of every evaluation, as Keras' `reset_metrics` does, so an epoch logs its
metrics over all of its batches, and a checkpoint taken mid-epoch holds them. Produces
trained parameters and a `History`. Many steps run per XLA call (`lax.scan` over index
batches gathered from device-resident data), with donated carry buffers and no host
round trip per step.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .callbacks import Callback, TerminateOnNaN
from .checkpoint import Checkpoint, CheckpointError, save as save_checkpoint
from .data import DataOrder, Dataset, arrays, batches_for_epoch, rows_of
from .files import write_atomically
from .mesh import DeviceMesh, on_this_process, writes_files
from .progress import progress_logger

MAX_STEPS_PER_CALL = 1000
"""Default cap on steps (or evaluation batches) per XLA call; bounds the index
array sent per call and the time between log lines."""

PROGRESS_UPDATES_PER_EPOCH = 10
"""With a progress bar, an epoch runs in about this many calls so the bar moves."""


# -- results ------------------------------------------------------------------


@dataclass
class History:
    """What `fit` recorded. `history` maps "loss", each metric name, "val_loss" and
    "val_<metric>" to lists of floats: one per step in steps mode (that step's batch
    alone), one per epoch (the metrics' results over all of its batches) in epochs
    mode. `epochs` is the number of epochs run (None in steps mode) and `steps` the
    number of optimizer steps run."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs: int | None = None
    steps: int = 0

    def record(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def to_json(self, path: str | os.PathLike) -> None:
        """Write `to_json_text()` atomically."""
        write_atomically(path, self.to_json_text().encode("utf-8"))

    def to_json_text(self) -> str:
        """`{"loss": [...], ..., "epochs": ..., "steps": ...}`; non-finite values are
        written as null to keep the document strict JSON."""
        document = {key: [_json_number(v) for v in values] for key, values in self.history.items()}
        document["epochs"] = self.epochs
        document["steps"] = self.steps
        return json.dumps(document, indent=2) + "\n"

    def arrays(self) -> dict[str, np.ndarray]:
        """The recorded values as float64 arrays named "history/<key>" (exact, and
        non-finite values kept), for checkpoints."""
        return {f"history/{key}": np.asarray(values, np.float64)
                for key, values in self.history.items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], info: dict, steps: int) -> History:
        """The History a checkpoint recorded: `arrays` by key, `info` its key order
        and epoch count."""
        return cls({key: [float(v) for v in arrays[key]] for key in info["keys"]},
                   info["epochs"], steps)


@dataclass(frozen=True)
class FitResult:
    params: Any
    opt_state: Any
    history: History
    # (step, loss) of the first step whose loss was NaN or infinite, counted from 1
    first_nonfinite_step: tuple[int, float] | None = None
    # the run's final state, ready to be saved (`runtime.checkpoint`) and resumed
    checkpoint: Checkpoint | None = None

    def save(self, directory: str | os.PathLike) -> None:
        """Writes the run's final state as a checkpoint folder (atomically)."""
        save_checkpoint(directory, self.checkpoint)


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


# -- the jitted kernels ---------------------------------------------------------


def _guarded(step, halt: bool, accumulate: bool, fresh, active):
    """A scan body running `step` on a batch, whose steps from the `active`-th on
    leave the carry `(params, opt_state, metric_state)` as it was, and with `halt` also
    those after a NaN or infinite loss. With `accumulate` the metric state runs on from
    step to step, else every step starts from `fresh` (each logs its own batch).
    (Padding is how a single step runs as a loop of two: XLA compiles a loop of one
    differently, and its rounding would make a resumed run differ from one that was
    never interrupted.)"""

    def body(state, batch):
        carry, stopped, index = state
        params, opt_state, metric_state = carry
        params, opt_state, metric_state, loss, results = step(
            params, opt_state, metric_state if accumulate else fresh, *batch)
        keep = stopped | (index >= active)
        new = jax.tree.map(lambda n, o: jnp.where(keep, o, n),
                           (params, opt_state, metric_state), carry)
        if halt:
            stopped = stopped | ~jnp.isfinite(loss)
        return (new, stopped, index + 1), (loss, tuple(results))

    return body


def _start(carry):
    return carry, jnp.array(False), jnp.array(0, jnp.int32)


def _scan_gathered(step, shard, halt, accumulate, carry, x, y, index_chunk, active):
    """Run `step` once per row of `index_chunk` ([steps, batch]), gathering each
    batch from the device-resident `x` and `y`; `shard` places a batch (over a device
    mesh, or not at all)."""
    body = _guarded(step, halt, accumulate, carry[2], active)

    def gathered(state, indices):
        return body(state, (shard(rows_of(x, indices)), shard(rows_of(y, indices))))

    (carry, _, _), (losses, metrics) = jax.lax.scan(gathered, _start(carry), index_chunk)
    return carry, losses, metrics


def _scan_full_batch(step, shard, halt, accumulate, carry, x, y, active, length):
    """Run `step` `length` times on the whole of `x` and `y` (no gather needed)."""
    body = _guarded(step, halt, accumulate, carry[2], active)
    (carry, _, _), (losses, metrics) = jax.lax.scan(
        lambda state, _: body(state, (shard(x), shard(y))), _start(carry), None, length=length)
    return carry, losses, metrics


def _scan_batches(step, halt, accumulate, carry, xs, ys, active):
    """Run `step` once per batch of `xs` and `ys` ([steps, batch, ...], gathered and
    placed by the caller: across processes each hands over its own rows)."""
    (carry, _, _), (losses, metrics) = jax.lax.scan(
        _guarded(step, halt, accumulate, carry[2], active), _start(carry), (xs, ys))
    return carry, losses, metrics


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


class _Trainer:
    """Holds the training data on device and runs chunks of steps on it.

    Every chunk is one XLA call compiled once per distinct (steps, batch) shape:
    the full-size chunks of an epoch, the shorter last chunk, and the last partial
    batch, which runs as a chunk of one step of its own size."""

    def __init__(self, step: Callable, train: Dataset, batch_size: int | None,
                 mesh: DeviceMesh | None = None, halt: bool = False):
        self.mesh, self.halt = mesh, halt
        self.size = len(train)
        self.full_batch = batch_size is None or batch_size >= self.size
        self.batch_size = self.size if self.full_batch else batch_size
        self.local = mesh is not None and mesh.multiprocess
        if self.local:
            # across processes each one hands over only its rows of a batch
            place = mesh.local_rows if self.full_batch else (lambda part: part)
        else:
            place = mesh.place if mesh else jax.device_put
        self.x, self.y = place(train.x), place(train.y)
        shard = mesh.shard_batch if mesh else _unsharded
        # keyed by `accumulate`: epochs run the metric state on, steps mode does not
        self._gathered, self._full, self._batches = ({
            accumulate: jax.jit(functools.partial(kernel, step, *bound, halt, accumulate), **options)
            for accumulate in (False, True)} for kernel, bound, options in (
                (_scan_gathered, (shard,), {"donate_argnums": (0,)}),
                (_scan_full_batch, (shard,), {"donate_argnums": (0,), "static_argnums": (4,)}),
                (_scan_batches, (), {"donate_argnums": (0,)})))

    def run(self, carry, work, accumulate: bool):
        """`work` is a step count (full batch) or an index chunk [steps, batch];
        `carry` is (params, opt_state, metric_state). Returns the new carry, losses
        [steps] and the metrics' results after each step (tuple of [steps])."""
        count = work if self.full_batch else len(work)
        if self.full_batch:
            carry, losses, results = self._full[accumulate](carry, self.x, self.y, count,
                                                            max(count, 2))
        else:
            padded = np.concatenate([work, work]) if count == 1 else work
            if self.local:
                xs, ys = self.mesh.local_batches(self.x, padded), self.mesh.local_batches(self.y, padded)
                carry, losses, results = self._batches[accumulate](carry, xs, ys, count)
            else:
                indices = jnp.asarray(padded, dtype=jnp.int32)
                carry, losses, results = self._gathered[accumulate](carry, self.x, self.y,
                                                                    indices, count)
        losses, results = jax.tree.map(lambda a: a[:count],
                                       jax.device_get(on_this_process((losses, results))))
        if np.ndim(losses) != 1:
            raise ValueError(f"the step function must return a scalar loss, got shape {np.shape(losses)[1:]}")
        return carry, np.asarray(losses), tuple(np.asarray(r) for r in results)


class _Evaluator:
    """Holds a dataset on device and runs `evaluate` over all of it, from the initial
    metric state `fresh` (a reset, as Keras' evaluate starts with); returns the
    metrics' results (floats)."""

    def __init__(self, evaluate: Callable, fresh, data: Dataset, batch_size: int | None,
                 steps_per_call: int = 0):
        self.x, self.y = jax.device_put(data.x), jax.device_put(data.y)
        self.fresh = fresh
        self.size = len(data)
        self.batch_size = self.size if batch_size is None else min(batch_size, self.size)
        self.steps_per_call = steps_per_call or MAX_STEPS_PER_CALL
        self._scanned = _jitted(evaluate, _scan_evaluate)

    def __call__(self, params) -> tuple[float, ...]:
        params, metric_state, results = on_this_process(params), self.fresh, ()
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


TRACKER_NAMES = ("metrics/mean/total", "metrics/mean/count")
"""The names of `mean_tracked`'s metric state in the run's carry."""


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
    mesh: DeviceMesh | None = None,
    specs=None,
    callbacks: Sequence[Callback] = (),
    names=None,
    resume: Checkpoint | None = None,
    info: dict | None = None,
    terminate_on_nan: bool = True,
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
    With `metric_state` (its initial value), `step` and `evaluate` thread it and return
    the results named `metric_names` (the loss tracker, "loss", among them); without,
    they are plain and `metric_names` names their metrics (`mean_tracked`). An epoch
    logs the results after its last step; steps mode records each step's own batch.
    `verbose` as Keras' (`runtime/progress.py`): 0 silent, 1 a progress bar redrawn
    inside each epoch when `log` is `print` to a terminal, else (and with 2) one line
    per epoch handed to `log`. Steps mode shows as one epoch of `steps` steps, its
    numbers the means of the steps' own.
    `callbacks` (`runtime.callbacks`) see the run after each call of steps and each
    epoch; `terminate_on_nan` stops after the first non-finite loss (Keras'
    TerminateOnNaN, here the default).
    `names` is a pytree shaped like `(params, opt_state, metric_state)` of "group/name"
    strings that name the carry's arrays in checkpoints and to callbacks (default
    `carry/0`, ..., and `metrics/...` for the metric state; a pytree shaped like
    `(params, opt_state)` is completed so).
    `resume` (a `Checkpoint`) continues a run where it stopped: its carry (metric state
    included, so an epoch resumed mid-way logs all of its batches), step, epoch, data
    order and history; `epochs` and `steps` stay totals, as Keras' initial_epoch.
    `info` is copied into each checkpoint's manifest.
    `devices` (> 1) trains data-parallel over that many of this host's devices; a
    `mesh` (`DeviceMesh`: several processes, a `model` axis) is given instead of it,
    with `specs`, a `PartitionSpec` per leaf of `(params, opt_state)`, for what is
    split over the mesh (the rest is replicated). The batch size must be a multiple
    of the mesh's `data` axis. The result holds global arrays (`on_this_process`
    gives them to one process).
    The caller's `params`, `opt_state` and `metric_state` are copied, never donated."""
    _check_fit_arguments(train, batch_size, epochs, steps, validation, evaluate, steps_per_call)
    if metric_state is None:
        step, evaluate, metric_state = mean_tracked(step, evaluate, len(metric_names))
        metric_names = ("loss", *metric_names)
        metric_state_names = TRACKER_NAMES
    else:
        metric_state_names = tuple(f"metrics/{i}"
                                   for i in range(len(jax.tree.leaves(metric_state))))
    if mesh is None and devices is not None and devices > 1:
        mesh = DeviceMesh(devices)
    if mesh is not None and batch_size is not None and batch_size % mesh.data:
        raise ValueError(f"`batch_size` {batch_size} is not a multiple of the {mesh.data} "
                         "devices of the mesh's `data` axis")
    callbacks = [*callbacks, *([TerminateOnNaN()] if terminate_on_nan else [])]
    halt = any(isinstance(callback, TerminateOnNaN) for callback in callbacks)
    trainer = _Trainer(step, train, batch_size, mesh, halt)
    place = mesh.place if mesh is not None else (lambda tree: tree)
    fresh = place(jax.tree.map(jnp.array, metric_state))
    # evaluation runs on this process's devices alone, from a state of its own
    evaluator = (_Evaluator(evaluate, jax.tree.map(jnp.array, metric_state), validation,
                            batch_size, steps_per_call) if validation is not None else None)
    carry = jax.tree.map(jnp.array, (params, opt_state, metric_state))
    if names is None:
        names = jax.tree.unflatten(jax.tree.structure(carry[:2]),
                                   [f"carry/{i}" for i in range(len(jax.tree.leaves(carry[:2])))])
    if len(names) == 2:
        names = (*names, jax.tree.unflatten(jax.tree.structure(metric_state), metric_state_names))
    loop = _FitLoop(trainer, evaluator, tuple(metric_names), steps_per_call, log, verbose,
                    carry, names, np.random.default_rng(seed), shuffle, callbacks, info or {},
                    fresh, place)
    if resume is not None:
        loop.restore(resume)
    if mesh is not None:
        loop.carry = (*mesh.place(loop.carry[:2], specs), place(loop.carry[2]))
    return loop.run(epochs=None if steps is not None else (epochs or 1), steps=steps)


def _check_fit_arguments(train, batch_size, epochs, steps, validation, evaluate, steps_per_call):
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


class _FitLoop:
    """The host side of `fit`: cuts the work into XLA calls, records history, logs,
    calls the callbacks, and is the `run` handle they see (`runtime.callbacks`)."""

    def __init__(self, trainer, evaluator, metric_names, steps_per_call, log, verbose,
                 carry, names, rng, shuffle, callbacks, info, fresh, place):
        self.trainer = trainer
        self.evaluator = evaluator
        self.metric_names = metric_names
        self.steps_per_call = steps_per_call
        self.progress = progress_logger(verbose, log)
        self.dynamic = self.progress is not None and self.progress.dynamic
        self.carry, self.names = carry, list(jax.tree.leaves(names))
        self.fresh, self.place = fresh, place  # the metric state every epoch starts from
        self.order = DataOrder(trainer.size, shuffle, rng)
        self.callbacks, self.info = list(callbacks), info
        self.periods = [c.every_steps for c in callbacks if c.every_steps]
        self.history = History()
        self.step = 0  # optimizer steps run
        self.epoch = 0  # the epoch under way (or ending, for on_epoch_end), from 0
        self.epochs_done = 0
        # while an epoch is under way: its steps run and its logs so far (the metric
        # state holding them is in the carry)
        self.epoch_steps: int | None = None
        self.epoch_logs: dict[str, float] = {}
        self.nonfinite: tuple[int, float] | None = None
        self.stop_training = False

    # -- the handle callbacks see

    def entries(self, *groups: str) -> dict[str, np.ndarray]:
        """The carry's arrays (of `groups`, or all) as "group/name" -> NumPy array."""
        leaves = jax.device_get(on_this_process(jax.tree.leaves(self.carry)))
        return {name: np.array(leaf) for name, leaf in zip(self.names, leaves)
                if not groups or name.split("/", 1)[0] in groups}

    def assign(self, entries: dict[str, Any]) -> None:
        """Replaces the named arrays of the carry; each keeps its shape and dtype."""
        if unknown := sorted(set(entries) - set(self.names)):
            raise KeyError(f"the run has no array {', '.join(unknown)}")
        leaves = jax.tree.leaves(self.carry)
        for index, name in enumerate(self.names):
            if name in entries:
                value, old = np.asarray(entries[name]), leaves[index]
                if value.shape != old.shape or value.dtype != old.dtype:
                    raise ValueError(f"`{name}` is {old.dtype}{list(old.shape)} in this run, "
                                     f"{value.dtype}{list(value.shape)} in what was given")
                leaves[index] = jnp.array(value)
        self.carry = self.place(jax.tree.unflatten(jax.tree.structure(self.carry), leaves))

    def snapshot(self) -> Checkpoint:
        """Everything a resumed run needs, as host arrays and JSON-able info."""
        arrays = {**self.entries(), **self.history.arrays(), "loop/pending": self.order.pending}
        info = {**self.info, "step": self.step, "epoch": self.epochs_done,
                "data_order": self.order.rng.bit_generator.state,
                "history": {"keys": list(self.history.history), "epochs": self.history.epochs}}
        if self.epoch_steps is not None:
            info["epoch_steps"] = self.epoch_steps
            info["epoch_logs"] = self.epoch_logs
        return Checkpoint(arrays, info)

    def save(self, directory) -> None:
        """Every process gathers the run's state (a collective); one writes it."""
        snapshot = self.snapshot()
        if writes_files():
            save_checkpoint(directory, snapshot)

    def restore(self, checkpoint: Checkpoint) -> None:
        """Puts the run where `checkpoint` left it; `CheckpointError` if its arrays do
        not fit this run's."""
        if missing := [n for n in self.names if n not in checkpoint.arrays]:
            raise CheckpointError(f"the checkpoint does not fit this run: it has no "
                                  f"{', '.join(missing)}")
        try:
            self.assign({name: checkpoint.arrays[name] for name in self.names})
        except ValueError as error:
            raise CheckpointError(f"the checkpoint does not fit this run: {error}") from None
        info = checkpoint.info
        self.step, self.epochs_done = int(info["step"]), int(info["epoch"])
        self.epoch = self.epochs_done
        self.order.rng.bit_generator.state = info["data_order"]
        self.order.pending = checkpoint.arrays["loop/pending"].astype(np.int64)
        if "epoch_steps" in info:
            self.epoch_steps = int(info["epoch_steps"])
            self.epoch_logs = {key: float(value) for key, value in info["epoch_logs"].items()}
        self.history = History.from_arrays(checkpoint.group("history"), info["history"], self.step)

    # -- the loop

    def run(self, epochs: int | None, steps: int | None) -> FitResult:
        for callback in self.callbacks:
            callback.on_train_begin(self)
        if steps is not None:
            self._run_steps(steps)
        else:
            self._run_epochs(epochs)
        for callback in self.callbacks:
            callback.on_train_end(self)
        params, opt_state, _ = self.carry
        return FitResult(params, opt_state, self.history, self.nonfinite, self.snapshot())

    def _reset_metrics(self) -> None:
        """The carry's metric state back to its initial value (a copy: the carry's
        buffers are donated to each call)."""
        params, opt_state, _ = self.carry
        self.carry = (params, opt_state, self.place(jax.tree.map(jnp.copy, self.fresh)))

    def _run_steps(self, steps: int) -> None:
        """Each step from a fresh metric state, so the history holds each batch's own
        results; the display shows one epoch whose numbers are their means."""
        chunk_size = self.steps_per_call or self._chunk_size(steps)
        start = self.step
        self._report("epoch_begin", 0, 1, steps)
        while self.step < steps and not self.stop_training:
            count = self._call_length(min(chunk_size, steps - self.step))
            work = count if self.trainer.full_batch else self.order.take(count, self.trainer.batch_size)
            self._reset_metrics()
            results = self._advance(work, accumulate=False)
            for i in range(len(results[0])):
                logs = self._named(tuple(r[i] for r in results))
                self.history.record(logs)
            self.history.steps = self.step
            self._report("batch_end", self.step, self._means_since(start))
            self._steps_end(logs)
        logs = self._means_since(start)
        if self.evaluator is not None and self.step > start:
            val_logs = self._named(self.evaluator(self.carry[0]), prefix="val_")
            self.history.record(val_logs)
            logs.update(val_logs)
        self._report("epoch_end", logs)

    def _means_since(self, start: int) -> dict[str, float]:
        """The means of the steps' own logs recorded from step `start` on (all their
        batches are full, so they weigh alike); the steps-mode display's numbers."""
        done = self.step - start
        if done <= 0:
            return {}
        return {name: float(np.mean(self.history.history[name][-done:]))
                for name in self.metric_names}

    def _report(self, event: str, *args) -> None:
        if self.progress is not None:
            getattr(self.progress, event)(*args)

    def _run_epochs(self, epochs: int) -> None:
        self.history.epochs = self.epochs_done
        while self.epochs_done < epochs and not self.stop_training:
            self.epoch = self.epochs_done
            if self.epoch_steps is None:
                self.epoch_steps, self.epoch_logs = 0, {}
                self._reset_metrics()
                if not self.trainer.full_batch:
                    self.order.new_pass()
            logs = self._run_epoch(epochs)
            if self.evaluator is not None:
                logs.update(self._named(self.evaluator(self.carry[0]), prefix="val_"))
            self.epoch_steps, self.epoch_logs = None, {}
            self.history.record(logs)
            self.epochs_done = self.history.epochs = self.epoch + 1
            self._report("epoch_end", logs)
            for callback in self.callbacks:
                callback.on_epoch_end(self, dict(logs))

    def _run_epoch(self, epochs: int) -> dict[str, float]:
        """The rest of the epoch under way; its logs (the metrics' results over its
        batches, from the metric state the carry accumulates)."""
        trainer = self.trainer
        steps_per_epoch = 1 if trainer.full_batch else math.ceil(trainer.size / trainer.batch_size)
        self._report("epoch_begin", self.epoch, epochs, steps_per_epoch)
        chunk_size = self._epoch_chunk_size()
        while not self.stop_training:
            if trainer.full_batch:
                work = 1 if self.epoch_steps == 0 else None
            else:
                work = self.order.next_batches(self._call_length(chunk_size), trainer.batch_size)
            if work is None:
                break
            results = self._advance(work, accumulate=True)
            self.epoch_steps += len(results[0])
            self.epoch_logs = self._named(tuple(r[-1] for r in results))
            self.history.steps = self.step
            done = steps_per_epoch - math.ceil(len(self.order.pending) / trainer.batch_size) \
                if not trainer.full_batch else 1
            if done < steps_per_epoch:
                self._report("batch_end", done, self.epoch_logs)
            self._steps_end(self.epoch_logs)
        return dict(self.epoch_logs)

    def _advance(self, work, accumulate: bool):
        """Runs one XLA call; the metrics' results after each of its steps, cut after
        the first non-finite loss when the trainer halts there (the steps after it left
        the carry alone)."""
        self.carry, losses, results = self.trainer.run(self.carry, work, accumulate)
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            if self.nonfinite is None:
                self.nonfinite = (self.step + int(bad[0]) + 1, float(losses[bad[0]]))
            if self.trainer.halt:
                losses, results = losses[: bad[0] + 1], tuple(r[: bad[0] + 1] for r in results)
        self.step += len(losses)
        return results

    def _steps_end(self, logs: dict[str, float]) -> None:
        for callback in self.callbacks:
            callback.on_steps_end(self, logs)

    def _call_length(self, count: int) -> int:
        """`count`, shortened so that the call ends at the next multiple of each
        callback's `every_steps`."""
        return min([count] + [period - self.step % period for period in self.periods])

    def _epoch_chunk_size(self) -> int:
        if self.steps_per_call:
            return self.steps_per_call
        return self._chunk_size(self.trainer.size // self.trainer.batch_size)

    def _chunk_size(self, steps: int) -> int:
        """Steps per XLA call for a run of `steps`: all of them (capped), or a tenth
        of them when a bar is redrawn, so that it moves."""
        if self.dynamic:
            return max(1, math.ceil(steps / PROGRESS_UPDATES_PER_EPOCH))
        return max(1, min(steps, MAX_STEPS_PER_CALL))

    def _named(self, results, prefix: str = "") -> dict[str, float]:
        if len(results) != len(self.metric_names):
            raise ValueError(
                f"the step/evaluate function returned {len(results)} results but "
                f"{len(self.metric_names)} names were given: {list(self.metric_names)}"
            )
        return {prefix + name: float(value) for name, value in zip(self.metric_names, results)}


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
    """`fn(params, x_batch)` over `x` (an array, or a tuple of them for several inputs)
    in batches, concatenated; returns NumPy arrays (a tuple if `fn` returns several).
    The last partial batch is padded by repeating
    the final row and the padding's outputs are dropped, so one compiled shape
    serves every batch; this assumes rows are predicted independently, as in
    inference."""
    size = len(arrays(x)[0])
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
    return jax.lax.map(lambda indices: function(params, rows_of(x, indices)), index_chunk)
