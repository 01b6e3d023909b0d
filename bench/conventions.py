"""How the benchmarks call dslc's `train_step` beside a hand-written one: the hand
steps know nothing of metric state, so dslc's step starts its metrics from their
initial values each call and returns what the hand steps return."""

from __future__ import annotations

from typing import Callable


def hand_convention(program, step: Callable, to_tensor: Callable = lambda a: a) -> Callable:
    """`step` (the program's `train_step`, compiled for some framework) as `(params,
    slots, x, y) -> (params, slots, loss, metric)`: its metric variables from their
    initial values (`to_tensor` of them), its results without them or the loss tracker."""
    function = program.module.functions["train_step"]
    metrics = [to_tensor(a) for a in program.init_metrics().values()]

    def call(*arrays):
        *variables, x, y = arrays
        out = function.group_results(list(step(*variables, *metrics, x, y)))
        return (*out.get("param", ()), *out.get("optimizer", ()), *out["loss"],
                *out["metric"][1:])

    return call
