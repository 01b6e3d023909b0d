"""dslc's benchmarks in one process (`make bench`): compiled training steps against
hand-written JAX, runtime `fit` against a Python loop, a CNN's step and fit against
hand-written JAX and Keras 3, front-end compile time of
generated deep models, the emitted TensorFlow and PyTorch modules' training steps
against hand-written ones, and data-parallel `fit` on 1, 2 and 4 host devices. Prints tables and writes `bench/results.json`.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax

from cnn_steps import cnn_rows
from emit_steps import emit_rows, threads, tf, torch
from frontend_scaling import LAYER_COUNTS, frontend_rows, growth
from mesh_steps import mesh_rows
from step_timing import fit_rows, step_rows

RESULTS = Path(__file__).resolve().parent / "results.json"
STEP_TARGET_RATIO = 1.05
FRONTEND_TARGET_SECONDS = 1.0
NON_PASS_STAGES = ("parse", "frontend", "total", "gc_included")


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "jax": jax.__version__, "tensorflow": tf.__version__, "torch": torch.__version__,
            "threads": threads(), "cpu_count": os.cpu_count(),
            "device": str(jax.devices()[0]), "load_average": os.getloadavg()}


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header] + [[f"{c:.3g}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def report_steps(rows: list[dict]) -> None:
    print_table(f"train_step, median us per step (target dslc/hand <= {STEP_TARGET_RATIO})",
                ["example", "batch", "dslc us", "hand us", "dslc/hand", "agree"],
                [[r["example"], r["batch"], r["dslc_us"], r["hand_us"], r["ratio"],
                  "yes" if r["agree"] else "no"] for r in rows])


def report_fit(rows: list[dict]) -> None:
    print_table("multi-step training, us per step (runtime fit scan vs Python loop of hand steps)",
                ["example", "batch", "dslc fit us", "hand loop us", "dslc/hand"],
                [[r["example"], r["batch"], r["dslc_fit_us"], r["hand_loop_us"], r["ratio"]]
                 for r in rows])


def report_frontend(rows: list[dict]) -> None:
    print_table(f"front end + passes (compile_text) and StableHLO text of predict "
                f"(target {LAYER_COUNTS[-1]} layers < {FRONTEND_TARGET_SECONDS} s)",
                ["layers", "compile s", "ms/layer", "parse s", "frontend+AD s", "passes s",
                 "of which gc s", "stablehlo s", "ms/layer"],
                [[r["layers"], r["compile_s"], r["compile_ms_per_layer"], r["stages_s"]["parse"],
                  r["stages_s"]["frontend"], passes_seconds(r), r["stages_s"]["gc_included"],
                  r["stablehlo_predict_s"],
                  r["stablehlo_ms_per_layer"]] for r in rows])
    print(f"per-layer growth {LAYER_COUNTS[-1]} vs {LAYER_COUNTS[-2]} layers (1.0 = linear): "
          f"compile {growth(rows, 'compile_ms_per_layer'):.2f}, "
          f"stablehlo {growth(rows, 'stablehlo_ms_per_layer'):.2f}")


def report_emit(rows: list[dict]) -> None:
    print_table(f"emitted module train_step vs hand-written in the same framework, median us "
                f"per step (target emitted/hand <= {STEP_TARGET_RATIO})",
                ["example", "framework", "batch", "emitted us", "hand us", "emitted/hand",
                 "round q1", "round q3", "agree"],
                [[r["example"], r["framework"], r["batch"], r["emitted_us"], r["hand_us"],
                  r["ratio"], *r["round_ratio_quartiles"], "yes" if r["agree"] else "no"]
                 for r in rows])


def report_cnn(row: dict) -> None:
    step, fits = row["step_us"], row["fit_us"]
    print_table(f"CNN conv32-pool-conv64-pool-dense10, 28x28x1, batch {row['batch']}, Adam: "
                "median us per step", ["contestant", "us", "dslc/them"],
                [["dslc train_step", step["dslc"], 1.0],
                 ["hand-written JAX step", step["hand"], row["dslc_over_hand"]],
                 ["Keras 3 train_on_batch", step["keras"], row["dslc_over_keras_train_on_batch"]],
                 ["dslc runtime fit", fits["dslc"], 1.0],
                 ["Keras 3 fit", fits["keras"], row["dslc_fit_over_keras_fit"]]])
    print(f"one step from the same weights agrees: {'yes' if row['agree'] else 'no'}")


def report_mesh(rows: list[dict]) -> None:
    base = rows[0]["steps_per_second"]
    print_table("data-parallel fit over host CPU devices (forced with XLA_FLAGS), steps per second",
                ["example", "batch", "devices", "steps/s", "vs 1 device"],
                [[r["example"], r["batch"], r["devices"], r["steps_per_second"],
                  r["steps_per_second"] / base] for r in rows])


def passes_seconds(row: dict) -> float:
    return sum(s for name, s in row["stages_s"].items() if name not in NON_PASS_STAGES)


def main() -> int:
    start = time.perf_counter()
    results = {"date": datetime.date.today().isoformat(), "machine": machine()}
    results["train_step"] = step_rows()
    report_steps(results["train_step"])
    results["fit"] = fit_rows()
    report_fit(results["fit"])
    results["cnn"] = cnn_rows()
    report_cnn(results["cnn"])
    results["frontend"] = frontend_rows()
    report_frontend(results["frontend"])
    results["emit_steps"] = emit_rows()
    report_emit(results["emit_steps"])
    results["mesh"] = mesh_rows()
    report_mesh(results["mesh"])
    results["seconds"] = time.perf_counter() - start
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\n{results['seconds']:.0f} s in all; wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
