"""Data-parallel training speed: steps per second of the runtime's `fit` on 1, 2 and 4
host CPU devices for one example. JAX fixes its device count when it starts, so the
timing runs in a child process with 4 forced host devices, of which each row uses some.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

EXAMPLE = "mlp"
DEVICE_COUNTS = (1, 2, 4)
STEPS = 400
ROUNDS = 3
ROOT = Path(__file__).resolve().parent.parent


def mesh_rows() -> list[dict]:
    """One row per device count: the example, its batch, steps per second (best of
    `ROUNDS` runs of `STEPS` steps after a compiling run)."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    result = subprocess.run([sys.executable, __file__], env=env, capture_output=True,
                            text=True, check=True, cwd=Path(__file__).parent)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure() -> list[dict]:
    import dslc
    from dslc.compiler.training import initial_carry, load_data, step_functions
    from dslc.runtime.training import fit

    program = dslc.compile(ROOT / "examples" / f"{EXAMPLE}.nn")
    config = program.compilation.train
    data = load_data(program)
    step, _ = step_functions(program)
    rows = []
    for devices in DEVICE_COUNTS:
        def run(devices=devices):
            fit(step, *initial_carry(program, 0), data, batch_size=config.batch_size,
                steps=STEPS, seed=0, log=None, verbose=0, metric_names=config.metrics,
                devices=devices)

        run()
        seconds = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
        rows.append({"example": EXAMPLE, "batch": config.batch_size, "devices": devices,
                     "steps_per_second": STEPS / min(seconds)})
    return rows


if __name__ == "__main__":
    print(json.dumps(measure()))
