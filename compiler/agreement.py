"""Proves the three backends agree (`dslc verify`): the program trained for some steps on
XLA (through `jax.lax`), on TensorFlow and on PyTorch (through the modules `--emit tf`
and `--emit torch` write) from the same initial values on the same batches, step by
step. On a deviation beyond tolerance it bisects: the step's inputs are replayed node by
node on every backend, and the first IR node whose value differs while its operands
agree is named, with its `.nn` line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..runtime.data import arrays
from ..runtime.training import step_seed
from .backends import jax_lower
from .backends.python_module import TARGETS, emit_module, function_names, module_namer
from .backends.python_source import function_source
from .ir import Function, Loc
from .training import load_data

BACKENDS = ("xla", "tf", "torch")
# f32 arithmetic done in a different order drifts by a few ULP per op; the design's bar
# for agreement is a relative error of 1e-5 (with an absolute floor for values near 0).
RTOL, ATOL = 1e-5, 1e-6


def relative_deviation(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.abs(b), ATOL / RTOL)
    return float(np.max(np.abs(a - b) / scale))


class Runner:
    """One backend's functions of the program, called with NumPy arrays and giving
    NumPy arrays back."""

    def __init__(self, name: str, call: Callable[[str, list], list]):
        self.name = name
        self.call = call


def xla_runner(module) -> Runner:
    import jax

    compiled = {f.name: jax_lower.jit(f) for f in module}
    return Runner("xla", lambda name, args: [np.asarray(r) for r in compiled[name](*args)])


def emitted_namespace(module, target: str, source_name: str, text: str) -> dict:
    """The module `--emit TARGET` writes, executed."""
    source = emit_module(module, target, source_name, text, "verify")
    namespace: dict = {"__name__": f"dslc_emitted_{target}"}
    exec(compile(source, f"<dslc --emit {target}>", "exec"), namespace)
    return namespace


def tf_runner(module, source_name: str, text: str) -> Runner:
    namespace = emitted_namespace(module, "tf", source_name, text)
    names = function_names(module, module_namer("tf"))

    def call(name, args):
        return [np.asarray(r) for r in namespace[names[name]](*args)]
    return Runner("tf", call)


def torch_runner(module, source_name: str, text: str, backend: str = "inductor") -> Runner:
    import torch

    namespace = emitted_namespace(module, "torch", source_name, text)
    compiled = namespace["compiled"](backend)

    def call(name, args):
        tensors = [torch.from_numpy(np.array(a)) for a in args]
        return [r.detach().numpy() for r in compiled[name](*tensors)]
    return Runner("torch", call)


@dataclass
class StepReport:
    step: int
    losses: dict[str, float]
    deviation: float


@dataclass
class Culprit:
    """The first node whose value differs between `backend` and XLA."""

    op: str
    loc: Loc
    backend: str
    deviation: float


@dataclass
class Agreement:
    steps: list[StepReport] = field(default_factory=list)
    culprit: Culprit | None = None
    failed_step: int | None = None

    @property
    def ok(self) -> bool:
        return self.failed_step is None


def batches(program, steps: int, batch_size: int | None, seed: int):
    """`steps` batches of the training data, each full, from successive shuffled epochs."""
    from ..runtime.data import batches_for_epoch

    data = load_data(program)
    rng = np.random.default_rng(seed)
    produced = 0
    while produced < steps:
        for index in batches_for_epoch(len(data), batch_size, batch_size is not None, rng):
            if batch_size is not None and len(index) < batch_size:
                continue
            batch = data.take(index)
            yield batch.x, batch.y
            produced += 1
            if produced == steps:
                return


def verify(program, steps: int = 40, *, torch_backend: str = "inductor",
           runners: dict[str, Runner] | None = None, log=print) -> Agreement:
    """Trains `steps` steps on every backend in lockstep from XLA's initial values; stops
    at the first step whose loss, metrics, parameters or state deviate beyond RTOL, and
    bisects it."""
    compilation = program.compilation
    module = compilation.module
    runners = runners or {
        "xla": xla_runner(module),
        "tf": tf_runner(module, compilation.path, compilation.text),
        "torch": torch_runner(module, compilation.path, compilation.text, torch_backend),
    }
    config = compilation.train
    train_step = module.functions["train_step"]
    variables = program.init(config.seed)
    start = {"param": [variables[n] for n in program.param_names],
             "state": [variables[n] for n in program.state_names],
             "optimizer": list(program.init_optimizer().values()),
             "metric_state": list(program.init_metrics().values())}
    carried = {name: start for name in runners}
    draws = bool(train_step.args_with("rng"))
    result = Agreement()
    for step, (x, y) in enumerate(batches(program, steps, config.batch_size, config.seed), 1):
        rng = [np.asarray(step_seed(config.seed, step - 1))] if draws else []
        inputs = {name: train_step.order_args(**carried[name], rng=rng, input=arrays(x),
                                              target=arrays(y))
                  for name in runners}
        outputs = {name: runner.call("train_step", inputs[name])
                   for name, runner in runners.items()}
        reference = outputs["xla"]
        deviation = max(relative_deviation(value, ref) for name in runners if name != "xla"
                        for value, ref in zip(outputs[name], reference))
        grouped = {name: train_step.group_results(out) for name, out in outputs.items()}
        losses = {name: float(out["loss"][0]) for name, out in grouped.items()}
        result.steps.append(StepReport(step, losses, deviation))
        if log:
            log(f"{step:>5}  " + "  ".join(f"{losses[n]:>14.8g}" for n in runners)
                + f"  {deviation:.2e}")
        if deviation > RTOL:
            result.failed_step = step
            result.culprit = bisect(train_step, inputs["xla"], runners, compilation)
            break
        carried = {name: {role: out.get(role, []) for role in start}
                   for name, out in grouped.items()}
    return result


def bisect(function: Function, inputs: list, runners: dict[str, Runner],
           compilation) -> Culprit | None:
    """Replays `function` on `inputs` with every intermediate value as a result, on
    every backend; the first node (in program order) whose value deviates from XLA's
    while all its operands agree is the culprit."""
    probe = Function(f"{function.name}_probe", list(function.args), list(function.nodes),
                     [v for node in function.nodes for v in node.results], loc=function.loc)
    index = {v: i for i, v in enumerate(probe.results)}
    with jax_lower.precision([probe]):
        values = {"xla": [np.asarray(v) for v in jax_lower.lower_function(probe)(*inputs)]}
    for name, runner in runners.items():
        if name != "xla":
            values[name] = probe_values(probe, name, inputs)
    for node in function.nodes:
        for name in values:
            if name == "xla":
                continue
            operands_agree = all(
                v not in index or relative_deviation(values[name][index[v]],
                                                     values["xla"][index[v]]) <= RTOL
                for v in node.operands)
            worst = max(relative_deviation(values[name][index[r]], values["xla"][index[r]])
                        for r in node.results)
            if operands_agree and worst > RTOL:
                return Culprit(node.op, node.loc, name, worst)
    return None


def probe_values(probe: Function, target: str, inputs: list) -> list[np.ndarray]:
    """`probe` emitted for `target` and run eagerly (the values, not the speed, matter)."""
    helpers: dict[str, str] = {}
    source = function_source(probe, TARGETS[target], "probe", helpers=helpers)
    namespace: dict = {}
    if target == "tf":
        import tensorflow as tf

        namespace["tf"] = tf
        args = inputs
    else:
        import torch

        namespace["torch"] = torch
        args = [torch.from_numpy(np.array(a)) for a in inputs]
    namespace["np"] = np
    exec(compile("\n\n".join([*helpers.values(), source]), "<dslc probe>", "exec"), namespace)
    results = namespace["probe"](*args)
    return [np.asarray(r.numpy() if hasattr(r, "numpy") else r) for r in results]
