"""Learning-rate schedules by their Keras 3 names (`keras.optimizers.schedules`), built as
IR inside `train_step` from the optimizer's `iterations` (the count of updates applied
before this one, an i32 scalar), so every backend computes the same rate at each step.
The front end configures one as a `Spec` of kind "schedule", an optimizer's `learning_rate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from .builder import Builder
from .ir import Value


REQUIRED = ...  # the default of an argument that must be given


@dataclass(frozen=True)
class Schedule:
    """`params`: Keras' arguments and defaults in its order; `kinds`: what the front end
    accepts for each (`builtins.ARG_KINDS`); `rate(b, args, iterations)` -> f32 scalar;
    `check(args)` -> (argument, message, label, help) of values Keras refuses, or None."""

    params: dict[str, Any]
    kinds: dict[str, str]
    rate: Callable[[Builder, dict, Value], Value]
    doc: str
    check: Callable[[dict], tuple[str, str, str, str] | None] = lambda args: None


def _step(b: Builder, iterations: Value) -> Value:
    """Keras casts the step to the dtype of `initial_learning_rate`, f32."""
    return b.cast(iterations, "f32")


def _whole_periods(b: Builder, args, iterations: Value, up: bool = False) -> Value:
    """`iterations / decay_steps` rounded down (`up`: up), as f32. A whole `decay_steps`
    divides in integers: XLA multiplies by a constant's rounded reciprocal instead of
    dividing by it (so 45 / 15 is 3.0000002), which would move a step at an exact
    multiple into the next period on XLA alone."""
    steps = args["decay_steps"]
    if float(steps).is_integer():
        divisor = b.const(int(steps), "i32")
        if up:
            iterations = b.add(iterations, b.const(int(steps) - 1, "i32"))
        return b.cast(b.div(iterations, divisor), "f32")
    quotient = b.div(_step(b, iterations), b.const(steps))
    return b.neg(b.floor(b.neg(quotient))) if up else b.floor(quotient)


def _decay_exponent(b: Builder, args, iterations: Value) -> Value:
    """`step / decay_steps`, rounded down for a `staircase`."""
    if args["staircase"]:
        return _whole_periods(b, args, iterations)
    return b.div(_step(b, iterations), b.const(args["decay_steps"]))


def _exponential(b: Builder, args, iterations):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`."""
    p = _decay_exponent(b, args, iterations)
    return b.mul(b.const(args["initial_learning_rate"]),
                 b.pow(b.const(args["decay_rate"]), p))


def _inverse_time(b: Builder, args, iterations):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`."""
    p = _decay_exponent(b, args, iterations)
    return b.div(b.const(args["initial_learning_rate"]),
                 b.add(b.const(1.0), b.mul(b.const(args["decay_rate"]), p)))


def _polynomial(b: Builder, args, iterations):
    """From `initial_learning_rate` to `end_learning_rate` as `(1 - step / decay_steps) **
    power`; with `cycle`, `decay_steps` grows to the first multiple above the step."""
    step = _step(b, iterations)
    decay_steps = b.const(args["decay_steps"])
    if args["cycle"]:
        cycles = _whole_periods(b, args, iterations, up=True)
        decay_steps = b.mul(decay_steps, b.select(b.eq(step, b.const(0.0)), b.const(1.0),
                                                  cycles))
    else:
        step = b.minimum(step, decay_steps)
    fraction = b.div(step, decay_steps)
    initial, end = b.const(args["initial_learning_rate"]), b.const(args["end_learning_rate"])
    return b.add(b.mul(b.sub(initial, end), b.pow(b.sub(b.const(1.0), fraction),
                                                   b.const(args["power"]))), end)


def _cosine_from(b: Builder, args, step, decay_steps, start):
    """`start` times a half cosine from 1 to `alpha` over `decay_steps`."""
    cosine = b.mul(b.const(0.5), b.add(b.const(1.0), b.cos(
        b.mul(b.const(math.pi), b.div(step, decay_steps)))))
    alpha = args["alpha"]
    return b.mul(start, b.add(b.mul(b.const(1 - alpha), cosine), b.const(alpha)))


def _cosine(b: Builder, args, iterations):
    """A cosine decay over `decay_steps`, after a linear warmup to `warmup_target` over
    `warmup_steps` when `warmup_target` is given."""
    step, decay_steps = _step(b, iterations), b.const(args["decay_steps"])
    initial = b.const(args["initial_learning_rate"])
    if args["warmup_target"] is None:
        return _cosine_from(b, args, b.minimum(step, decay_steps), decay_steps, initial)
    target, warmup_steps = b.const(args["warmup_target"]), b.const(args["warmup_steps"])
    step = b.minimum(step, b.add(decay_steps, warmup_steps))
    warming = b.add(b.mul(b.sub(target, initial), b.div(step, warmup_steps)), initial)
    decaying = _cosine_from(b, args, b.sub(step, warmup_steps), decay_steps, target)
    return b.select(b.lt(step, warmup_steps), warming, decaying)


def _piecewise(b: Builder, args, iterations):
    """`values[i]` while the step is at most `boundaries[i]` (and above the one before);
    `values[-1]` after the last. Keras compares in the step's integer dtype."""
    rate = b.const(args["values"][-1])
    for boundary, value in reversed(list(zip(args["boundaries"], args["values"]))):
        rate = b.select(b.le(iterations, b.const(int(boundary), "i32")), b.const(value), rate)
    return rate


def _positive_decay_steps(args):
    if args["decay_steps"] <= 0:
        return ("decay_steps", "`decay_steps` must be positive", "not positive",
                "the number of steps the rate decays over")
    return None


def _piecewise_check(args):
    boundaries, values = args["boundaries"], args["values"]
    if len(boundaries) != len(values) - 1:
        return ("values", f"{len(boundaries)} boundaries need {len(boundaries) + 1} values, "
                f"found {len(values)}", f"{len(values)} values",
                "one value up to each boundary and one after the last")
    if any(low >= high for low, high in zip(boundaries, boundaries[1:])):
        return ("boundaries", "`boundaries` must increase", "not increasing",
                "e.g. `boundaries=[100, 200]`")
    return None


_DECAY = {"initial_learning_rate": "float", "decay_steps": "float", "decay_rate": "float",
          "staircase": "bool", "name": "str"}

SCHEDULES: dict[str, Schedule] = {
    "ExponentialDecay": Schedule(
        {"initial_learning_rate": REQUIRED, "decay_steps": REQUIRED, "decay_rate": REQUIRED,
         "staircase": False, "name": "ExponentialDecay"}, _DECAY, _exponential,
        "`initial_learning_rate * decay_rate ** (step / decay_steps)`", _positive_decay_steps),
    "InverseTimeDecay": Schedule(
        {"initial_learning_rate": REQUIRED, "decay_steps": REQUIRED, "decay_rate": REQUIRED,
         "staircase": False, "name": "InverseTimeDecay"}, _DECAY, _inverse_time,
        "`initial_learning_rate / (1 + decay_rate * step / decay_steps)`",
        _positive_decay_steps),
    "PolynomialDecay": Schedule(
        {"initial_learning_rate": REQUIRED, "decay_steps": REQUIRED,
         "end_learning_rate": 0.0001, "power": 1.0, "cycle": False, "name": "PolynomialDecay"},
        {"initial_learning_rate": "float", "decay_steps": "float", "end_learning_rate": "float",
         "power": "float", "cycle": "bool", "name": "str"}, _polynomial,
        "a polynomial decay to `end_learning_rate` over `decay_steps`", _positive_decay_steps),
    "CosineDecay": Schedule(
        {"initial_learning_rate": REQUIRED, "decay_steps": REQUIRED, "alpha": 0.0,
         "name": "CosineDecay", "warmup_target": None, "warmup_steps": 0},
        {"initial_learning_rate": "float", "decay_steps": "float", "alpha": "float",
         "name": "str", "warmup_target": "optional", "warmup_steps": "float"}, _cosine,
        "a cosine decay, after an optional linear warmup", _positive_decay_steps),
    "PiecewiseConstantDecay": Schedule(
        {"boundaries": REQUIRED, "values": REQUIRED, "name": "PiecewiseConstant"},
        {"boundaries": "numbers", "values": "numbers", "name": "str"}, _piecewise,
        "constant values between step boundaries", _piecewise_check),
}
