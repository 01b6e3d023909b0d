"""Front-end benchmark: compile time of generated models of 10 to 1,000 Dense layers.

Times `compile_text` (parse, front end with autodiff of `train_step`, passes), split
by stage through the pipeline's `after` hook, and separately the StableHLO text of
`predict` (JAX tracing and lowering, no XLA compilation).
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager

from dslc.compiler.backends.stablehlo import stablehlo_text
from dslc.compiler.pipeline import compile_text
from dslc.dsl import parse

LAYER_COUNTS = (10, 100, 1000)

TRAIN_BLOCK = """
train Deep {
    data       = gaussian_classes(classes=4, features=16, per_class=250, seed=0)
    loss       = sparse_categorical_crossentropy
    optimizer  = SGD(learning_rate=0.1, momentum=0.9)
    metrics    = [sparse_categorical_accuracy]
    batch_size = 64
    epochs     = 1
}
"""


def deep_model_text(layers: int) -> str:
    """`layers` x Dense(16, relu) on f32[B, 16], then a 4-way softmax, with a train
    block. One statement per layer: a `|>` chain of 1,000 calls is rejected as
    "expression nested too deeply"."""
    lines = ["model Deep(x: f32[B, 16]) -> f32[B, 4] {", "    h0 = x"]
    lines += [f"    h{i + 1} = Dense(16, activation=relu)(h{i})" for i in range(layers)]
    lines += [f"    return Dense(4, activation=softmax)(h{layers})", "}"]
    return "\n".join(lines) + "\n" + TRAIN_BLOCK


@contextmanager
def gc_seconds():
    """Yields a one-item list that holds, on exit, the seconds spent in Python's
    cyclic garbage collector inside the block."""
    total, started = [0.0], [0.0]

    def on_collect(phase, _info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            total[0] += time.perf_counter() - started[0]

    gc.callbacks.append(on_collect)
    try:
        yield total
    finally:
        gc.callbacks.remove(on_collect)


def compile_stages(text: str) -> tuple[dict[str, float], object]:
    """Seconds per stage of one `compile_text`: parse, front end (AST to IR, autodiff)
    and each pass; the parse is timed on its own, then subtracted from the front end.
    `gc_included` is the garbage collector's share of the total."""
    start = time.perf_counter()
    parse(text, "gen.nn")
    parse_seconds = time.perf_counter() - start
    stamps = [("start", time.perf_counter())]
    with gc_seconds() as collector_seconds:
        compilation = compile_text(text, "gen.nn", after=lambda stage, _: stamps.append(
            (stage, time.perf_counter())))
    if not compilation.ok:
        raise RuntimeError(f"generated model failed: {compilation.diagnostics[:3]}")
    stages = {stage: now - before for (_, before), (stage, now) in zip(stamps, stamps[1:])}
    stages["frontend"] -= parse_seconds
    stages = {"parse": parse_seconds, **stages}
    stages["total"] = time.perf_counter() - stamps[0][1]
    stages["gc_included"] = collector_seconds[0]
    return stages, compilation


def measure(layers: int) -> dict:
    text = deep_model_text(layers)
    stages, compilation = compile_stages(text)
    start = time.perf_counter()
    stablehlo_text(compilation.module.functions["predict"])
    stablehlo_seconds = time.perf_counter() - start
    return {"layers": layers, "compile_s": stages["total"], "stages_s": stages,
            "compile_ms_per_layer": stages["total"] / layers * 1e3,
            "stablehlo_predict_s": stablehlo_seconds,
            "stablehlo_ms_per_layer": stablehlo_seconds / layers * 1e3}


def frontend_rows() -> list[dict]:
    measure(LAYER_COUNTS[0])  # warm-up: imports, the prelude, JAX's first trace
    return [measure(layers) for layers in LAYER_COUNTS]


def growth(rows: list[dict], key: str) -> float:
    """Per-layer cost at the largest size over that at the middle one: 1.0 is linear."""
    by_layers = {row["layers"]: row[key] for row in rows}
    return by_layers[LAYER_COUNTS[-1]] / by_layers[LAYER_COUNTS[-2]]
