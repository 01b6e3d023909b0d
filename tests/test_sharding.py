"""Sharding beyond data: params split over a `model` mesh axis by their `sharded`
annotation. A TPU export for a 4x2 mesh made on this CPU machine carries the sharding
in its StableHLO; training on a 2x2 mesh of 4 host CPU devices gives the losses of one
device; an artifact compiled for a mesh runs on that many devices and no other."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from conftest import ROOT, run_dslc

FOUR_DEVICES = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}

PROGRAM = """
model Sharded(x: f32[B, 2]) -> f32[B, 3] {
    param scale: f32[2, 2] = glorot_uniform sharded ["model", none]
    return x @ scale |> Dense(64, activation=relu, kernel_sharding=[none, "model"])
                     |> Dense(64, activation=relu, kernel_sharding=["model", none])
                     |> Dense(3, activation=softmax)
}

train Sharded {
    data       = spirals(classes=3, per_class=300, seed=0)
    loss       = sparse_categorical_crossentropy
    optimizer  = Adam(learning_rate=0.01)
    metrics    = [sparse_categorical_accuracy]
    batch_size = 64
    steps      = 40
    seed       = 0
}
"""

TRAIN_SCRIPT = """
import json, sys
import jax
import numpy as np
import dslc
from jax.sharding import PartitionSpec

program = dslc.compile(sys.argv[1])
one = program.fit(log=None, verbose=0)
split = program.fit(log=None, verbose=0, mesh=(2, 2))
kernel = split.params["dense/kernel"]
report = {
    "one": one.history.history["loss"], "split": split.history.history["loss"],
    "kernel_spec": list(kernel.sharding.spec),
    "kernel_shard": list(kernel.addressable_shards[0].data.shape),
}
print(json.dumps(report))
"""


def write_program(tmp_path):
    path = tmp_path / "sharded.nn"
    path.write_text(PROGRAM)
    return path


def test_a_tpu_export_for_a_mesh_carries_the_sharding(tmp_path):
    program = write_program(tmp_path)
    result = run_dslc(str(program), "--target", "tpu", "--mesh", "4x2", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["platforms"] == ["tpu"]
    assert manifest["mesh"] == {"axes": ["data", "model"], "shape": [4, 2]}
    params = {p["name"]: p.get("sharding") for p in manifest["params"]}
    assert params["dense/kernel"] == [None, "model"]
    assert params["dense/bias"] is None
    text = (tmp_path / "out" / "train_step.mlir").read_text()
    assert 'sdy.mesh @mesh = <["data"=4, "model"=2]>' in text
    main = next(line for line in text.splitlines() if "func.func public @main" in line)
    arguments = re.findall(r"%arg\d+: tensor<([^>]*)> \{sdy.sharding = #sdy.sharding<@mesh, "
                           r"(\[[^\]]*\])>", main)
    kernel_shape = "2x64xf32"
    shardings = [attrs for shape, attrs in arguments if shape == kernel_shape]
    # the kernel and its two Adam slots are split over `model` along their columns
    assert shardings == ['[{}, {"model"}]'] * 3, shardings
    inputs = [attrs for shape, attrs in arguments if shape == "?x2xf32"]
    assert inputs == ['[{"data"}, {}]']


def test_training_over_a_model_axis_gives_the_losses_of_one_device(tmp_path):
    program = write_program(tmp_path)
    result = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT, str(program)], cwd=ROOT,
                            env=FOUR_DEVICES, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    one, split = report["one"], report["split"]
    assert len(one) == len(split) == 40
    assert max(abs(s - o) / abs(o) for s, o in zip(split, one)) <= 1e-5
    assert report["kernel_spec"] == [None, "model"]
    assert report["kernel_shard"] == [2, 32], "the kernel is split in two over `model`"


def test_the_cli_trains_on_a_mesh(tmp_path):
    program = write_program(tmp_path)
    result = subprocess.run([sys.executable, "-m", "dslc.compiler.cli", "train", str(program),
                             "--mesh", "2x2", "--steps", "3"], cwd=ROOT, env=FOUR_DEVICES,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "3/3 - " in result.stdout
    result = subprocess.run([sys.executable, "-m", "dslc.compiler.cli", "train", str(program),
                             "--mesh", "3x1", "--steps", "3"], cwd=ROOT, env=FOUR_DEVICES,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "error[E0404]: a batch of 64 rows does not split over 3 devices" in result.stderr


ARTIFACT_SCRIPT = """
import sys
import numpy as np
from dslc.runtime import ArtifactError, load

x = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
single = load(sys.argv[1])
params = single.function("init")(0)
expected = single.function("predict")(*params, x)
try:
    found = load(sys.argv[2]).function("predict")(*params, x)
except ArtifactError as error:
    print("refused:", error)
else:
    print("deviation:", float(np.max(np.abs(found - expected))))
"""


def test_an_artifact_runs_on_the_devices_of_its_mesh_only(tmp_path):
    program = write_program(tmp_path)
    for name, mesh in (("single", []), ("mesh", ["--mesh", "2x2"])):
        result = run_dslc(str(program), *mesh, "-o", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
    command = [sys.executable, "-c", ARTIFACT_SCRIPT, str(tmp_path / "single"), str(tmp_path / "mesh")]
    on_four = subprocess.run(command, cwd=ROOT, env=FOUR_DEVICES, capture_output=True, text=True,
                             timeout=300)
    assert on_four.returncode == 0, on_four.stderr[-3000:]
    assert float(on_four.stdout.split("deviation:")[1]) <= 1e-6
    on_one = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert on_one.returncode == 0, on_one.stderr[-3000:]
    assert ("refused: " + str(tmp_path / "mesh") + ": compiled for a 2x2 device mesh (4 devices), "
            "but this machine has 1; recompile with `--mesh` for its devices") in on_one.stdout


def test_a_mesh_that_does_not_divide_a_split_dim_is_a_diagnostic(tmp_path):
    program = write_program(tmp_path)
    result = run_dslc(str(program), "--mesh", "2x3", "-o", str(tmp_path / "out"))
    assert result.returncode == 1, result.stderr
    assert ("error[E0304]: dim 0 of `scale` (f32[2, 2]) does not split over the 3 "
            "devices of the mesh's `model` axis") in result.stderr
    assert "sharded.nn:3:5" in result.stderr
    assert "help: use a `--mesh` whose `model` size divides 2" in result.stderr
    assert not (tmp_path / "out").exists()
