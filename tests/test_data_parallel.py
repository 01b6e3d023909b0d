"""Data-parallel training on one host (`dslc train --devices N`), with 4 host CPU
devices in a subprocess (JAX fixes its device count at start-up): 40 steps of every
example with a `train` block give the losses of one device to f32 relative error 1e-5, the step XLA
compiles reduces gradients across the devices, and a batch that does not split is a
diagnostic at the `batch_size` line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import EXAMPLES, ROOT, run_dslc

FOUR_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}

SCRIPT = """
import json
import sys
import jax
import numpy as np
import dslc
from dslc.compiler.training import initial_carry, initial_metrics, load_data, step_functions
from dslc.runtime.mesh import DeviceMesh
from dslc.runtime.training import _Trainer, fit

assert len(jax.devices()) == 4
report = {}
for example in sys.argv[1:]:
    program = dslc.compile(example)
    config = program.compilation.train
    data = load_data(program)
    step, _ = step_functions(program)
    losses = {}
    for devices in (None, 4):
        result = fit(step, *initial_carry(program, 0), data,
                     batch_size=config.batch_size, steps=40, seed=0, log=None, verbose=0,
                     metric_names=config.metrics, metric_state=initial_metrics(program),
                     devices=devices)
        losses[devices] = np.array(result.history.history["loss"])
    trainer = _Trainer(step, data, config.batch_size, DeviceMesh(4))
    carry = (*initial_carry(program, 0), initial_metrics(program))
    if trainer.full_batch:
        lowered = trainer._full[True].lower(carry, trainer.x, trainer.y, 2, 2)
    else:
        indices = np.zeros((2, trainer.batch_size), np.int32)
        lowered = trainer._gathered[True].lower(carry, trainer.x, trainer.y, indices, 2)
    report[example] = {
        "deviation": float(np.max(np.abs(losses[4] - losses[None]) / np.abs(losses[None]))),
        "all_reduce": "all-reduce" in lowered.compile().as_text(),
    }
print(json.dumps(report))
"""


def test_four_devices_train_to_the_losses_of_one():
    examples = [str(p.relative_to(ROOT)) for p in EXAMPLES if "\ntrain " in p.read_text()]
    assert len(examples) >= 6
    result = subprocess.run([sys.executable, "-c", SCRIPT, *examples], cwd=ROOT, capture_output=True,
                            text=True, timeout=600, env={**os.environ, **FOUR_DEVICES})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for example, found in report.items():
        assert found["deviation"] <= 1e-5, (example, found)
        assert found["all_reduce"], f"{example}: no cross-device reduction was compiled"


def test_the_cli_trains_on_all_devices_and_refuses_a_batch_that_does_not_split(monkeypatch):
    for key, value in FOUR_DEVICES.items():
        monkeypatch.setenv(key, value)
    result = run_dslc("train", "examples/mlp.nn", "--devices", "all", "--steps", "4",
                      "--quiet")
    assert result.returncode == 0, result.stderr
    result = run_dslc("train", "examples/mlp.nn", "--devices", "3", "--steps", "4")
    assert result.returncode == 1
    assert "error[E0404]: a batch of 64 rows does not split over 3 devices" in result.stderr
    assert "mlp.nn:24:18" in result.stderr


def test_the_train_block_asks_for_devices(tmp_path, monkeypatch):
    source = (ROOT / "examples" / "mlp.nn").read_text()
    for key, value in FOUR_DEVICES.items():
        monkeypatch.setenv(key, value)
    program = tmp_path / "mlp.nn"
    program.write_text(source.replace("    seed       = 0\n",
                                      "    seed       = 0\n    devices    = all\n"))
    result = run_dslc("train", str(program), "--steps", "4", "--quiet")
    assert result.returncode == 0, result.stderr
    program.write_text(source.replace("    seed       = 0\n",
                                      "    seed       = 0\n    devices    = 8\n"))
    result = run_dslc("train", str(program), "--steps", "4")
    assert result.returncode == 1
    assert "error[E0404]: 8 devices asked for, this machine has 4" in result.stderr
    assert "mlp.nn:28:18" in result.stderr
