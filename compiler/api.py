"""The embedding API: `dslc.compile(...)` returns a `Program` whose functions take and
return NumPy arrays, run through XLA on the current device; `Program.fit` trains it,
and `dslc.load(DIR)` gives back a trained program from its checkpoint.

Sits on top of the pipeline (`compiler/pipeline.py`), the StableHLO backend and the
runtime's training loop; invalid input raises `CompileError` with the diagnostics.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .. import __version__
from ..dsl import render_all
from .ir_text import print_module
from .pipeline import Compilation, compile_text


class CompileError(Exception):
    """The program has errors; `.diagnostics` lists them, `.render()` shows them."""

    def __init__(self, diagnostics):
        self.diagnostics = tuple(diagnostics)
        super().__init__(self.render())

    def render(self) -> str:
        return render_all(self.diagnostics)


def compile(source: str | os.PathLike, target: str = "cpu", *,
            filename: str | None = None) -> Program:
    """Compiles a `.nn` file (a path) or `.nn` source text (a string with a newline, or
    one that names no file)."""
    from .backends.stablehlo import PLATFORMS

    if target not in PLATFORMS:
        raise ValueError(f"unknown target {target!r}; targets are {', '.join(PLATFORMS)}")
    text, path = read_source(source, filename)
    compilation = compile_text(text, path)
    if not compilation.ok:
        raise CompileError(compilation.diagnostics)
    return Program(compilation, target)


def load(directory: str | os.PathLike, target: str = "cpu") -> Program:
    """The program a checkpoint folder was trained from, compiled again from the `.nn`
    path it records, with `trained` set to its weights, optimizer state and history.
    Warns (`UserWarning`) when the file's text has changed since; raises
    `CheckpointError` for a folder that is not a checkpoint, `ValueError` when its
    arrays do not fit the program."""
    from ..runtime.checkpoint import CheckpointError, load as load_checkpoint

    checkpoint = load_checkpoint(directory)
    path = checkpoint.info.get("source", {}).get("path")
    if not isinstance(path, str) or not os.path.isfile(path):
        raise CheckpointError(f"the program the checkpoint was trained from, {path}, is gone")
    program = compile(path, target)
    _warn_if_changed(program, checkpoint)
    program.trained = program.restored(checkpoint)
    return program


def _warn_if_changed(program: Program, checkpoint) -> None:
    import warnings

    from .training import source_mismatch

    if problem := source_mismatch(program, checkpoint):
        warnings.warn(problem, stacklevel=3)


def _parts(value, count: int) -> list:
    """The arrays of a model's `count` inputs (or targets): one (an array, or nested
    lists of numbers), or a list or tuple of `count` of them."""
    return list(value) if count > 1 else [value]


def _arrays(value, count: int):
    """The data of `count` inputs (or targets) as one array or a tuple of them."""
    parts = [np.asarray(part) for part in _parts(value, count)]
    return parts[0] if count == 1 else tuple(parts)


def _variables(variables) -> dict:
    """The model's variables by name, from a dict or from a `FitResult`."""
    return variables.params if hasattr(variables, "history") else variables


def read_source(source, filename: str | None) -> tuple[str, str]:
    if isinstance(source, os.PathLike) or (
            isinstance(source, str) and "\n" not in source and os.path.isfile(source)):
        path = os.fspath(source)
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read(), filename or path
    return str(source), filename or "<source>"


class Program:
    """A compiled program. The model's variables (its parameters and its non-trained
    state, as `init` returns them) and the optimizer state are dicts name -> array."""

    def __init__(self, compilation: Compilation, target: str = "cpu"):
        self.compilation = compilation
        self.module = compilation.module
        self.target = target
        self.meta = self.module.meta
        self._compiled: dict[str, Any] = {}
        self.trained = None  # a `FitResult`, for a program from `dslc.load`

    @property
    def functions(self) -> list[str]:
        return list(self.module.functions)

    @property
    def param_names(self) -> list[str]:
        return [p["name"] for p in self.meta.get("params", [])]

    @property
    def state_names(self) -> list[str]:
        return [s["name"] for s in self.meta.get("state", [])]

    def jax_function(self, name: str):
        """The jitted JAX callable of an IR function (arrays in, tuple out)."""
        if name not in self._compiled:
            import jax

            from .backends.jax_lower import jit

            if name not in self.module.functions:
                raise KeyError(f"no function `{name}`; functions are {', '.join(self.functions)}")
            self._compiled[name] = jit(self.module.functions[name])
        return self._compiled[name]

    def function(self, name: str):
        """A callable taking NumPy arrays or numbers, returning NumPy arrays (one array
        for one result, a tuple otherwise)."""
        from .backends.stablehlo import numpy_dtype

        compiled = self.jax_function(name)
        arg_types = [a.type for a in self.module.functions[name].args]

        def call(*args):
            if len(args) != len(arg_types):
                raise TypeError(f"`{name}` takes {len(arg_types)} argument(s), "
                                f"{len(args)} given")
            arrays = [np.asarray(a, dtype=numpy_dtype(t.dtype)) for a, t in zip(args, arg_types)]
            results = tuple(np.asarray(r) for r in compiled(*arrays))
            return results[0] if len(results) == 1 else results

        call.__name__ = name
        return call

    def init(self, seed: int = 0) -> dict[str, np.ndarray]:
        """The model's variables drawn from `seed`: parameters, then state."""
        values = self.function("init")(np.int32(seed))
        values = values if isinstance(values, tuple) else (values,)
        return dict(zip(self.module.functions["init"].result_names, values))

    def init_optimizer(self) -> dict[str, np.ndarray]:
        """The optimizer's slots before the first step."""
        return self._initial("optimizer_state")

    def init_metrics(self) -> dict[str, np.ndarray]:
        """The metrics' variables as every epoch and evaluation starts them
        (`meta["metric_state"]`): `<metric>/<variable>` -> array."""
        return self._initial("metric_state")

    def _initial(self, group: str) -> dict[str, np.ndarray]:
        from .backends.stablehlo import numpy_dtype

        return {s["name"]: np.full(s["shape"], s["value"], numpy_dtype(s["dtype"]))
                for s in self.meta.get(group, [])}

    def predict(self, variables, x) -> np.ndarray:
        """The model in inference mode (its state read, not updated); `variables` is a
        dict (`init`'s) or what `fit` returned; `x` is a list of arrays for a model with
        several inputs."""
        variables = _variables(variables)
        predict = self.module.functions["predict"]
        return self.function("predict")(*predict.order_args(
            param=self._named(variables, self.param_names),
            state=self._named(variables, self.state_names),
            input=_parts(x, len(predict.args_with("input")))))

    def train_step(self, variables: dict, opt_state: dict, x, y, step: int = 0,
                   metric_state: dict | None = None):
        """One step in training mode: returns (variables, opt_state, loss, metrics dict).
        The metrics are their results after this batch folded into `metric_state`
        (default: `init_metrics()`, so this batch's own; "loss" is the loss tracker's).
        A model that draws (dropout) draws with the seed of step `step` of a run seeded
        with the train block's `seed` (`runtime.training.step_seed`)."""
        from ..runtime.training import step_seed

        function = self.module.functions["train_step"]
        rng = [np.int32(step_seed(self.compilation.train.seed, step))] \
            if function.args_with("rng") else []
        slots = [a.name for a in function.args_with("optimizer")]
        metric_state = self.init_metrics() if metric_state is None else metric_state
        results = self.function("train_step")(*function.order_args(
            rng=rng, param=self._named(variables, self.param_names),
            state=self._named(variables, self.state_names),
            optimizer=self._named(opt_state, slots),
            metric_state=self._named(metric_state, list(self.init_metrics())),
            input=_parts(x, len(function.args_with("input"))),
            target=_parts(y, len(function.args_with("target")))))
        named = function.group_results(list(zip(function.result_names, results)))
        return (dict(named.get("param", []) + named.get("state", [])),
                dict(named.get("optimizer", [])), named["loss"][0][1],
                dict(named.get("metric", [])))

    @staticmethod
    def _named(values: dict, names: list[str]) -> list:
        missing = [n for n in names if n not in values]
        if missing:
            raise KeyError(f"missing value(s) for: {', '.join(missing)}")
        return [values[n] for n in names]

    def ir(self, print_loc: bool = False) -> str:
        return print_module(self.module, print_loc)

    def stablehlo(self, name: str, target: str | None = None) -> str:
        from .backends.stablehlo import stablehlo_text

        return stablehlo_text(self.module.functions[name], target or self.target)

    def emit(self, target: str) -> str:
        """The program as a standalone Python module for `target`, "tf" or "torch": the
        text `dslc FILE --emit tf|torch` writes."""
        from .backends.python_module import TARGETS, emit_module

        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}; targets are {', '.join(TARGETS)}")
        return emit_module(self.module, target, self.compilation.path, self.compilation.text,
                           __version__)

    def export(self, directory: str | os.PathLike, target: str | None = None) -> str:
        """Writes an artifact directory (manifest, StableHLO, serialized exports)."""
        from ..runtime.artifact import write_artifact
        from .backends.stablehlo import artifact

        manifest, blobs = artifact(self.module, target or self.target,
                                   self.compilation.path, self.compilation.text, __version__)
        write_artifact(directory, manifest, blobs)
        return os.fspath(directory)

    def fit(self, *, log=print, verbose: int = 1, resume=None, **overrides):
        """Runs the program's `train` block; `overrides` replace its settings (epochs,
        steps, batch_size, ...), and `save=DIR` (with `save_every=N`) checkpoints it.
        `resume` (a checkpoint folder, or an earlier result) goes on from there;
        epochs and steps stay totals. Returns the runtime's `FitResult`, whose `params`
        are the model's variables by name and which `save(DIR)` writes."""
        from ..runtime.checkpoint import load as load_checkpoint
        from .training import run_training

        if isinstance(resume, (str, os.PathLike)):
            resume = load_checkpoint(resume)
        elif resume is not None and hasattr(resume, "checkpoint"):
            resume = resume.checkpoint
        if resume is not None:
            _warn_if_changed(self, resume)
        return run_training(self, log=log, verbose=verbose, resume=resume, **overrides)

    def evaluate(self, variables, x=None, y=None, batch_size: int | None = None) -> dict:
        """Loss and metrics (name -> float) of `variables` (a dict, or what `fit`
        returned) in inference mode over `x` and `y`, or over the train block's data."""
        from ..runtime.data import Dataset
        from ..runtime.training import evaluate_dataset
        from .backends.jax_lower import precision
        from .training import (checked_data, initial_metrics, load_data, split_variables,
                               step_functions)

        if x is None:
            data = load_data(self)
        else:
            def fail(message, label=None, help=None):
                raise ValueError(message)

            eval_step = self.module.functions["eval_step"]
            data = checked_data(self, Dataset(
                _arrays(x, len(eval_step.args_with("input"))),
                _arrays(y, len(eval_step.args_with("target")))), fail)
        _, evaluate = step_functions(self)
        with precision(self.module):
            loss, metrics = evaluate_dataset(evaluate, split_variables(self, _variables(variables)),
                                             data, batch_size, initial_metrics(self))
        return dict(zip(self.compilation.train.metrics,
                        [float(loss)] + [float(m) for m in metrics]))

    def save(self, result, directory: str | os.PathLike) -> str:
        """Writes what `fit` returned as a checkpoint folder that `dslc.load` reads."""
        result.save(directory)
        return os.fspath(directory)

    def restored(self, checkpoint):
        """A `FitResult` holding a checkpoint's weights, optimizer state and history."""
        from ..runtime.training import FitResult, History
        from .training import weights_of

        return FitResult(weights_of(self, checkpoint), checkpoint.group("optimizer"),
                         History.from_arrays(checkpoint.group("history"),
                                             checkpoint.info["history"], checkpoint.info["step"]),
                         checkpoint=checkpoint)
