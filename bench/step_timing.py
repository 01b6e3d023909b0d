"""Training-step benchmarks: dslc's compiled `train_step` against the hand-written
JAX step of `hand_steps`, and dslc's multi-step `fit` against a Python loop of
jitted hand steps. Both sides of a comparison run in this process, interleaved.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import numpy as np

import dslc
from dslc.compiler.training import initial_carry, initial_metrics, load_data, step_functions
from dslc.runtime.training import fit

from conventions import hand_convention
from hand_steps import HAND_STEPS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass
class StepCase:
    """One example's two steps and the arrays they start from."""

    name: str
    program: dslc.Program
    dslc_step: Callable
    hand_step: Callable
    state: tuple  # (params..., opt_state...)
    x: jax.Array
    y: jax.Array


def load_case(name: str) -> StepCase:
    """The example's first batch (the full batch when `batch_size = all`)."""
    program = dslc.compile(EXAMPLES / f"{name}.nn")
    data = load_data(program)
    batch_size = program.meta["train"]["batch_size"] or len(data)
    state = (*program.init(0).values(), *program.init_optimizer().values())
    return StepCase(name, program,
                    jax.jit(hand_convention(program, program.jax_function("train_step"))),
                    HAND_STEPS[name],
                    tuple(jax.device_put(a) for a in state),
                    jax.device_put(data.x[:batch_size]), jax.device_put(data.y[:batch_size]))


def steps_agree(case: StepCase) -> bool:
    """One step of each from the same state: same params, opt_state, loss, metric."""
    ours = case.dslc_step(*case.state, case.x, case.y)
    theirs = case.hand_step(*case.state, case.x, case.y)
    return len(ours) == len(theirs) and all(
        np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(ours, theirs))


def chained_seconds(step: Callable, case: StepCase, steps: int) -> float:
    """Wall time of `steps` steps, each fed the previous step's state, as a training
    loop does; waits for the last result."""
    state = case.state
    start = time.perf_counter()
    for _ in range(steps):
        results = step(*state, case.x, case.y)
        state = results[:len(state)]
    jax.block_until_ready(results)
    return time.perf_counter() - start


def time_step_pair(case: StepCase, rounds: int = 300, steps_per_sample: int = 20,
                   warmup: int = 50) -> dict[str, float]:
    """Median microseconds per step of both steps, sampled in alternating order."""
    contestants = {"dslc": case.dslc_step, "hand": case.hand_step}
    for step in contestants.values():
        chained_seconds(step, case, warmup)
    samples: dict[str, list[float]] = {name: [] for name in contestants}
    for round_index in range(rounds):
        order = list(contestants) if round_index % 2 == 0 else list(contestants)[::-1]
        for name in order:
            seconds = chained_seconds(contestants[name], case, steps_per_sample)
            samples[name].append(seconds / steps_per_sample * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def step_rows() -> list[dict]:
    rows = []
    for name in HAND_STEPS:
        case = load_case(name)
        timings = time_step_pair(case)
        rows.append({"example": name, "batch": int(case.x.shape[0]), "agree": steps_agree(case),
                     "dslc_us": timings["dslc"], "hand_us": timings["hand"],
                     "ratio": timings["dslc"] / timings["hand"]})
    return rows


# -- multi-step throughput: runtime `fit` against a Python loop -----------------


def fit_seconds(case: StepCase, steps: int, steps_per_call: int) -> float:
    """Wall time of `fit` in steps mode (includes its compilation: each call jits anew)."""
    step, _ = step_functions(case.program)
    variables, carry = initial_carry(case.program, 0)
    data = load_data(case.program)
    start = time.perf_counter()
    fit(step, variables, carry, data, batch_size=int(case.x.shape[0]), steps=steps,
        steps_per_call=steps_per_call, metric_names=case.program.meta["train"]["metrics"],
        metric_state=initial_metrics(case.program), verbose=0)
    return time.perf_counter() - start


def fit_us_per_step(case: StepCase, short: int, long: int) -> float:
    """Steady-state cost per step: the time difference of a long and a short run, so
    that compilation (the same [steps_per_call, batch] chunk in both) cancels."""
    return (fit_seconds(case, long, short) - fit_seconds(case, short, short)) / (long - short) * 1e6


def device_batches(case: StepCase, count: int = 16) -> list[tuple[jax.Array, jax.Array]]:
    """Random batches of the example's data, put on the device before timing."""
    data = load_data(case.program)
    rng = np.random.default_rng(0)
    rows = [rng.choice(len(data), int(case.x.shape[0]), replace=False) for _ in range(count)]
    return [(jax.device_put(data.x[r]), jax.device_put(data.y[r])) for r in rows]


def python_loop_us_per_step(case: StepCase, batches: list, steps: int) -> float:
    """A plain loop of jitted hand steps over pre-gathered device batches; unlike
    `fit` it keeps no per-step loss history, which favours it slightly."""
    state = case.state
    start = time.perf_counter()
    for index in range(steps):
        results = case.hand_step(*state, *batches[index % len(batches)])
        state = results[:len(state)]
    jax.block_until_ready(results)
    return (time.perf_counter() - start) / steps * 1e6


def fit_rows(repeats: int = 3, short: int = 1000, long: int = 5000) -> list[dict]:
    """Medians over `repeats` interleaved measurements of both sides."""
    case = load_case("mlp")
    batches = device_batches(case)
    python_loop_us_per_step(case, batches, 50)
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(fit_us_per_step(case, short, long))
        theirs.append(python_loop_us_per_step(case, batches, long - short))
    ours_us, theirs_us = statistics.median(ours), statistics.median(theirs)
    return [{"example": "mlp", "batch": int(case.x.shape[0]), "dslc_fit_us": ours_us,
             "hand_loop_us": theirs_us, "ratio": ours_us / theirs_us}]
