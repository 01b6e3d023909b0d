"""Checkpoints (runtime/checkpoint.py) through the real `dslc` command: the safetensors
layout other tools read, resuming that repeats an uninterrupted run bit for bit (with
shuffling and dropout), folders that a `kill -9` at any moment leaves whole, and
`dslc evaluate`, `dslc predict` and `dslc.load` on the saved weights."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import dslc
from dslc.runtime import checkpoint as ckpt

from conftest import ROOT, run_dslc

DROPOUT_MODEL = """\
model Net(x: f32[B, 2]) -> f32[B, 1] {
    return x |> Dense(8, activation=relu) |> Dropout(0.3) |> Dense(1, activation=sigmoid)
}

train Net {
    data       = two_blobs(per_class=40, seed=3)
    loss       = binary_crossentropy
    optimizer  = Adam(learning_rate=0.01)
    metrics    = [binary_accuracy]
    batch_size = 16
    shuffle    = true
    seed       = 7
    SETTING
}
"""


def write_model(folder: Path, setting: str = "steps = 40") -> Path:
    path = folder / "net.nn"
    path.write_text(DROPOUT_MODEL.replace("SETTING", setting))
    return path


def train(*args, cwd: Path) -> subprocess.CompletedProcess:
    result = run_dslc("train", "net.nn", "--quiet", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result


def assert_same_checkpoint(first: Path, second: Path) -> None:
    """Every array (params, optimizer state, step, history, data order) equal bit for
    bit, and the same step, epoch and generator state."""
    a, b = load_file(first / ckpt.ARRAYS), load_file(second / ckpt.ARRAYS)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].tobytes() == b[name].tobytes(), name
    info_a, info_b = (json.loads((p / ckpt.MANIFEST).read_text()) for p in (first, second))
    for key in ("step", "epoch", "data_order", "history", "source"):
        assert info_a[key] == info_b[key], key


def test_the_arrays_file_is_safetensors_both_ways(tmp_path):
    arrays = {"params/dense/W": np.arange(6, dtype=np.float32).reshape(2, 3),
              "loop/step": np.int32(5), "loop/pending": np.array([3, 1], np.int64),
              "state/flag": np.array([True, False]), "history/loss": np.array([0.5, np.nan])}
    ckpt.save(tmp_path / "run", ckpt.Checkpoint(arrays, {"step": 5}))
    read_by_safetensors = load_file(tmp_path / "run" / ckpt.ARRAYS)
    assert sorted(read_by_safetensors) == sorted(arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(read_by_safetensors[name], value)
    save_file({k: np.asarray(v) for k, v in arrays.items()}, str(tmp_path / "theirs.safetensors"))
    ours = ckpt.read_safetensors((tmp_path / "theirs.safetensors").read_bytes())
    for name, value in arrays.items():
        np.testing.assert_array_equal(ours[name], value)
        assert ours[name].dtype == np.asarray(value).dtype


def test_a_damaged_checkpoint_is_refused(tmp_path):
    ckpt.save(tmp_path / "run", ckpt.Checkpoint({"params/W": np.ones(3, np.float32)}, {}))
    data = bytearray((tmp_path / "run" / ckpt.ARRAYS).read_bytes())
    data[-1] ^= 1
    (tmp_path / "run" / ckpt.ARRAYS).write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError, match="sha256"):
        ckpt.load(tmp_path / "run")


def test_a_folder_that_is_not_a_checkpoint_is_never_replaced(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(ckpt.CheckpointError, match="not a dslc checkpoint"):
        ckpt.save(tmp_path / "photos", ckpt.Checkpoint({"params/W": np.ones(2, np.float32)}))
    assert (tmp_path / "photos" / "cat.jpg").read_bytes() == b"meow"
    assert sorted(os.listdir(tmp_path)) == ["photos"]


@pytest.mark.parametrize("mode", ["steps", "epochs"])
def test_resuming_repeats_the_uninterrupted_run_bit_for_bit(tmp_path, mode):
    """Halfway through, and in epochs mode also inside an epoch: 80 rows make 5 batches
    of 16 an epoch, and ModelCheckpoint(save_freq=7) saves after steps 7 and 14."""
    setting = ("steps = 40" if mode == "steps" else 'epochs = 3\n    callbacks = '
               '[ModelCheckpoint("mid_{step}", monitor="loss", save_freq=7)]')
    write_model(tmp_path, setting)
    train("--save", "whole", cwd=tmp_path)
    half = ("--steps", "20") if mode == "steps" else ("--epochs", "1")
    train(*half, "--save", "part", "--save-every", "7", cwd=tmp_path)
    train("--resume", "part", "--save", "part", cwd=tmp_path)
    assert_same_checkpoint(tmp_path / "whole", tmp_path / "part")
    # the metrics' variables are a group of the carry; the runtime keeps no means of its own
    names = load_file(tmp_path / "whole" / ckpt.ARRAYS)
    assert {"metrics/loss/total", "metrics/loss/count"} <= set(names)
    assert "loop/epoch_sums" not in names
    if mode == "epochs":
        middle = json.loads((tmp_path / "mid_7" / ckpt.MANIFEST).read_text())
        assert middle["epoch"] == 1 and middle["epoch_steps"] == 2
        assert set(middle["epoch_logs"]) == {"loss", "binary_accuracy"}
        train("--resume", "mid_7", "--save", "from_mid", cwd=tmp_path)
        assert_same_checkpoint(tmp_path / "whole", tmp_path / "from_mid")


def dslc_command() -> list[str]:
    script = Path(sys.executable).parent / "dslc"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dslc.compiler.cli"]


def test_a_kill_at_any_moment_leaves_a_whole_checkpoint(tmp_path):
    """`--save-every 1` rewrites the folder after every step; killed at random moments,
    what is on disk always loads (its arrays match the manifest's sha256, the step in
    the manifest is the one in the arrays) and resumes to the uninterrupted result."""
    write_model(tmp_path, "steps = 4000")
    env = {**os.environ, "NO_COLOR": "1"}
    rng = random.Random(1)
    steps_seen = []
    for trial in range(3):
        folder = tmp_path / f"trial{trial}"
        process = subprocess.Popen(
            [*dslc_command(), "train", "net.nn", "--quiet", "--save", folder.name,
             "--save-every", "1"], cwd=tmp_path, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not (folder / ckpt.MANIFEST).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        loaded = ckpt.load(folder)
        assert int(loaded.arrays["loop/step"]) == loaded.info["step"] >= 1
        assert len(loaded.arrays["history/loss"]) == loaded.info["step"]
        steps_seen.append(loaded.info["step"])
    write_model(tmp_path, f"steps = {max(steps_seen) + 3}")
    train("--save", "whole", cwd=tmp_path)
    for trial in range(3):
        train("--resume", f"trial{trial}", "--save", f"trial{trial}", cwd=tmp_path)
        assert_same_checkpoint(tmp_path / "whole", tmp_path / f"trial{trial}")


def numpy_forward(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The dropout model in inference mode, from the safetensors arrays alone."""
    hidden = np.maximum(x @ weights["params/dense/kernel"] + weights["params/dense/bias"], 0)
    logits = hidden @ weights["params/dense_1/kernel"] + weights["params/dense_1/bias"]
    return 1 / (1 + np.exp(-logits))


def binary_crossentropy(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)  # Keras' epsilon
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_evaluate_predict_and_load_use_the_saved_weights(tmp_path):
    write_model(tmp_path, "steps = 30")
    train("--save", "run", cwd=tmp_path)
    weights = load_file(tmp_path / "run" / ckpt.ARRAYS)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(9, 2)).astype(np.float32)
    y = (rng.random((9, 1)) < 0.5).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    expected = numpy_forward(weights, x)

    result = run_dslc("predict", "net.nn", "--weights", "run", "--input", "x.npy", "-o", "y.npy",
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-5)
    result = run_dslc("evaluate", "net.nn", "--weights", "run", "--data", "data.npz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    loss = float(result.stdout.split("loss: ")[1].split()[0])
    assert loss == pytest.approx(binary_crossentropy(y, expected), abs=1e-4)

    program = dslc.load(tmp_path / "run")
    np.testing.assert_allclose(program.predict(program.trained, x), expected, rtol=1e-5)
    evaluated = program.evaluate(program.trained, x, y)
    assert evaluated["loss"] == pytest.approx(binary_crossentropy(y, expected), rel=1e-5)
    assert program.trained.history.history["loss"] == list(weights["history/loss"])
    program.save(program.trained, tmp_path / "copy")
    assert_same_checkpoint(tmp_path / "run", tmp_path / "copy")


def test_a_changed_source_warns_and_other_weights_are_refused(tmp_path):
    write_model(tmp_path, "steps = 3")
    train("--save", "run", cwd=tmp_path)
    with open(tmp_path / "net.nn", "a") as source:
        source.write("# edited after training\n")
    with pytest.warns(UserWarning, match="text differed"):
        dslc.load(tmp_path / "run")
    result = run_dslc("evaluate", "net.nn", "--weights", "run", cwd=tmp_path)
    assert result.returncode == 0 and "warning: the checkpoint was written from" in result.stderr
    (tmp_path / "net.nn").write_text(DROPOUT_MODEL.replace("Dense(8,", "Dense(5,")
                                     .replace("SETTING", "steps = 3"))
    result = run_dslc("predict", "net.nn", "--weights", "run", "--input", "run", "-o", "y.npy",
                      cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "`params/dense/kernel` is [2, 8] in the checkpoint, [2, 5] in the program" in result.stderr
    result = run_dslc("train", "net.nn", "--resume", "run", cwd=tmp_path)
    assert result.returncode == 1 and "does not fit" in result.stderr
    result = run_dslc("train", "net.nn", "--save", "net.nn", cwd=tmp_path)
    assert result.returncode == 1 and "will not write --save" in result.stderr


TWO_INPUTS = """\
model Pair(a: f32[B, 2], b: f32[B, 3]) -> f32[B, 1] {
    return (a |> Dense(1)) + (b |> Dense(1))
}

train Pair {
    data  = npz("pair.npz", x=["a", "b"], y="y")
    loss  = mse
    steps = 2
}
"""


def test_predict_takes_several_inputs_as_files_or_one_npz(tmp_path):
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(6, 2)).astype(np.float32), rng.normal(size=(6, 3)).astype(np.float32)
    np.savez(tmp_path / "pair.npz", a=a, b=b, y=np.zeros((6, 1), np.float32))
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    (tmp_path / "pair.nn").write_text(TWO_INPUTS)
    assert run_dslc("train", "pair.nn", "--save", "run", cwd=tmp_path).returncode == 0
    for inputs, output in ((["--input", "a.npy", "--input", "b.npy"], "files.npy"),
                           (["--input", "pair.npz"], "archive.npy")):
        result = run_dslc("predict", "pair.nn", "--weights", "run", *inputs, "-o", output,
                          cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    program = dslc.load(tmp_path / "run")
    expected = program.predict(program.trained, [a, b])
    np.testing.assert_array_equal(np.load(tmp_path / "files.npy"), np.load(tmp_path / "archive.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "files.npy"), expected, rtol=1e-6)
    result = run_dslc("predict", "pair.nn", "--weights", "run", "--input", "a.npy", "-o", "y.npy",
                      cwd=tmp_path)
    assert result.returncode == 1 and "the model takes 2 input(s), 1 given" in result.stderr
