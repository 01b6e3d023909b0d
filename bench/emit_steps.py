"""Emitted-module benchmark: the `train_step` of the TensorFlow and PyTorch modules dslc
writes (`program.emit("tf"|"torch")`) against the same step written by hand in each
framework (`hand_frameworks`), for the linear classifier and a 784-512-256-10 MLP with
Adam. Both sides of a pair start from the same state and run interleaved in this process.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

import dslc
from dslc.compiler.training import load_data

from conventions import hand_convention
from hand_frameworks import HAND_TF, HAND_TORCH, tf, tf_step, torch, torch_step

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

MLP_784 = """
model MLP784(x: f32[B, 784]) -> f32[B, 10] {
    return x |> Dense(512, activation=relu)
             |> Dense(256, activation=relu)
             |> Dense(10, activation=softmax)
}

train MLP784 {
    data       = gaussian_classes(classes=10, features=784, per_class=64, seed=0)
    loss       = sparse_categorical_crossentropy
    optimizer  = Adam(learning_rate=1e-3)
    metrics    = [sparse_categorical_accuracy]
    batch_size = 128
    epochs     = 1
}
"""

# (name, .nn path or text, interleaved rounds, chained steps per sample): rounds are
# sized so that each workload's timing takes a few seconds on two cores.
WORKLOADS = (
    ("linear_classifier", EXAMPLES / "linear_classifier.nn", 200, 10),
    ("mlp_784", MLP_784, 40, 3),
)
AGREE_RTOL, AGREE_ATOL = 1e-4, 1e-6
# The absolute tolerance is 1e-3 of Adam's learning rate: its first step is
# lr * m / (sqrt(v) + 1e-7), which for gradients near 1e-7 magnifies the last-bit
# differences of two summation orders about 300-fold.


@dataclass
class Workload:
    """A program and the batch and state that both sides of each pair start from."""

    name: str
    program: dslc.Program
    state: tuple[np.ndarray, ...]  # (params..., opt_state...)
    x: np.ndarray
    y: np.ndarray
    rounds: int
    steps_per_sample: int


def load_workload(name: str, source, rounds: int, steps_per_sample: int) -> Workload:
    """The program's first batch of shuffled rows (`gaussian_classes` groups rows by
    class), or its full data when `batch_size = all`."""
    program = dslc.compile(source)
    data = load_data(program)
    batch_size = program.meta["train"]["batch_size"] or len(data)
    rows = np.random.default_rng(0).permutation(len(data))[:batch_size]
    state = (*program.init(0).values(), *program.init_optimizer().values())
    return Workload(name, program, tuple(np.asarray(a) for a in state),
                    data.x[rows], data.y[rows], rounds, steps_per_sample)


def emitted_namespace(program: dslc.Program, target: str) -> dict:
    namespace: dict[str, Any] = {"__name__": f"dslc_emitted_{target}"}
    exec(compile(program.emit(target), f"<dslc {target} module>", "exec"), namespace)
    return namespace


@dataclass(frozen=True)
class Framework:
    """How to build both steps of a workload in one framework, and move arrays."""

    to_tensor: Callable[[np.ndarray], Any]
    emitted_step: Callable[[Workload], Callable]
    hand_step: Callable[[Workload], Callable]


FRAMEWORKS = {
    "tf": Framework(
        tf.constant,
        lambda w: hand_convention(w.program, emitted_namespace(w.program, "tf")["train_step"],
                                  tf.constant),
        lambda w: tf_step(HAND_TF[w.name], (*w.state, w.x, w.y))),
    "torch": Framework(
        torch.tensor,
        lambda w: hand_convention(
            w.program, emitted_namespace(w.program, "torch")["compiled"]("inductor")["train_step"],
            torch.tensor),
        lambda w: torch_step(HAND_TORCH[w.name])),
}


def chained_seconds(step: Callable, state: tuple, x, y, steps: int) -> float:
    """Wall time of `steps` steps, each fed the previous step's state, as a training
    loop does; reading the last loss back waits for it (both frameworks run CPU
    work eagerly, so this is cheap)."""
    start = time.perf_counter()
    for _ in range(steps):
        results = step(*state, x, y)
        state = results[:len(state)]
    np.asarray(results[-2])
    return time.perf_counter() - start


def max_difference(ours: tuple, theirs: tuple) -> tuple[bool, float]:
    """Whether every output agrees (allclose), and the largest absolute difference."""
    agree, worst = len(ours) == len(theirs), 0.0
    for a, b in zip(ours, theirs):
        a, b = np.asarray(a), np.asarray(b)
        agree = agree and np.allclose(a, b, rtol=AGREE_RTOL, atol=AGREE_ATOL)
        worst = max(worst, float(np.max(np.abs(a - b))))
    return agree, worst


def time_pair(framework: Framework, workload: Workload, warmup: int = 5) -> dict:
    """One framework's emitted and hand-written steps on one workload: first-call
    seconds (tracing and compilation), agreement of one step, and the median
    microseconds per step over interleaved rounds."""
    state = tuple(framework.to_tensor(a) for a in workload.state)
    x, y = framework.to_tensor(workload.x), framework.to_tensor(workload.y)
    steps = {"emitted": framework.emitted_step(workload), "hand": framework.hand_step(workload)}
    first_call, outputs = {}, {}
    for name, step in steps.items():
        start = time.perf_counter()
        outputs[name] = step(*state, x, y)
        np.asarray(outputs[name][-2])
        first_call[name] = time.perf_counter() - start
        chained_seconds(step, state, x, y, warmup)
    agree, difference = max_difference(outputs["emitted"], outputs["hand"])
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(workload.rounds):
        order = list(steps) if round_index % 2 == 0 else list(steps)[::-1]
        for name in order:
            seconds = chained_seconds(steps[name], state, x, y, workload.steps_per_sample)
            samples[name].append(seconds / workload.steps_per_sample * 1e6)
    emitted_us, hand_us = (statistics.median(samples[name]) for name in steps)
    # Each round's two samples ran back to back: the spread of their ratio shows how
    # much the machine's load moved the timings.
    round_ratios = [a / b for a, b in zip(samples["emitted"], samples["hand"])]
    quartiles = statistics.quantiles(round_ratios, n=4)
    return {"emitted_us": emitted_us, "hand_us": hand_us, "ratio": emitted_us / hand_us,
            "round_ratio_quartiles": [quartiles[0], quartiles[2]], "agree": agree,
            "max_abs_difference": difference, "first_call_s": first_call}


def emit_rows() -> list[dict]:
    rows = []
    for name, source, rounds, steps_per_sample in WORKLOADS:
        workload = load_workload(name, source, rounds, steps_per_sample)
        for framework_name, framework in FRAMEWORKS.items():
            rows.append({"example": name, "framework": framework_name,
                         "batch": int(workload.x.shape[0]),
                         **time_pair(framework, workload)})
    return rows


def set_threads(count: int) -> None:
    """Pins both frameworks' intra-op threads (before TensorFlow runs any op); by
    default the benchmark leaves their defaults. One thread steadies the timings on
    a machine that other work keeps busy, where idle OpenMP workers spin."""
    torch.set_num_threads(count)
    tf.config.threading.set_intra_op_parallelism_threads(count)


def threads() -> dict:
    """The thread counts both sides of each pair share (0: TensorFlow's default)."""
    return {"torch": torch.get_num_threads(),
            "tf_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "tf_inter_op": tf.config.threading.get_inter_op_parallelism_threads()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="intra-op threads of both frameworks")
    arguments = parser.parse_args()
    if arguments.threads:
        set_threads(arguments.threads)
    started = time.perf_counter()
    for row in emit_rows():
        print(f"{row['example']:>17} {row['framework']:>5}: emitted {row['emitted_us']:.0f} us, "
              f"hand {row['hand_us']:.0f} us, ratio {row['ratio']:.3f} (rounds "
              f"{row['round_ratio_quartiles'][0]:.2f}-{row['round_ratio_quartiles'][1]:.2f}), "
              f"agree {'yes' if row['agree'] else 'no'}")
    print(f"threads {threads()}; {time.perf_counter() - started:.0f} s")
