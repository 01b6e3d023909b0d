"""`dslc train` as two processes of one run on this machine, over localhost with gloo
CPU collectives (JAX's multi-process runtime): 40 steps give the losses of a single
process to f32 relative error 1e-5, only process 0 logs and writes, and a process
killed mid-run makes the other stop with a clear error, not hang."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT

DSLC = [sys.executable, "-m", "dslc.compiler.cli"]
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def start_processes(*args: str, count: int = 2) -> list[subprocess.Popen]:
    coordinator = f"localhost:{free_port()}"
    return [subprocess.Popen([*DSLC, "train", *args, "--coordinator", coordinator,
                              "--num-processes", str(count), "--process-id", str(i)],
                             cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for i in range(count)]


def losses(path) -> list[float]:
    return json.loads(path.read_text())["loss"]


@pytest.mark.parametrize("example", ["linear_classifier", "mlp"])
def test_two_processes_train_to_the_losses_of_one(example, tmp_path):
    program = f"examples/{example}.nn"
    single = subprocess.run([*DSLC, "train", program, "--steps", "40", "--quiet",
                             "--history", str(tmp_path / "one.json")],
                            cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    both = start_processes(program, "--steps", "40", "--history", str(tmp_path / "two.json"))
    outputs = [p.communicate(timeout=300) for p in both]
    assert [p.returncode for p in both] == [0, 0], [err[-2000:] for _, err in outputs]
    expected, found = losses(tmp_path / "one.json"), losses(tmp_path / "two.json")
    assert len(found) == len(expected) == 40
    assert max(abs(f - e) / abs(e) for f, e in zip(found, expected)) <= 1e-5
    assert "40/40" in outputs[0][0] and "final:" in outputs[0][0]
    assert "40/40" not in outputs[1][0] and "final" not in outputs[1][0], "only process 0 logs"


def test_two_processes_write_one_checkpoint_that_one_process_resumes(tmp_path):
    """Process 0 alone writes the checkpoint of a two-process run; a single-process
    run resumes it and ends where one process training throughout ends."""
    program = "examples/mlp.nn"
    single = subprocess.run([*DSLC, "train", program, "--steps", "40", "--quiet",
                             "--history", str(tmp_path / "one.json")],
                            cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    both = start_processes(program, "--steps", "20", "--verbose", "0",
                           "--save", str(tmp_path / "run"))
    outputs = [p.communicate(timeout=300) for p in both]
    assert [p.returncode for p in both] == [0, 0], [err[-2000:] for _, err in outputs]
    assert "saved the checkpoint" in outputs[0][0] and "saved" not in outputs[1][0]
    assert sorted(os.listdir(tmp_path / "run")) == ["arrays.safetensors", "checkpoint.json"]
    resumed = subprocess.run([*DSLC, "train", program, "--steps", "40", "--quiet",
                              "--resume", str(tmp_path / "run"),
                              "--history", str(tmp_path / "resumed.json")],
                             cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    expected, found = losses(tmp_path / "one.json"), losses(tmp_path / "resumed.json")
    assert len(found) == len(expected) == 40
    assert max(abs(f - e) / abs(e) for f, e in zip(found, expected)) <= 1e-5


def killed_mid_run(victim: int) -> tuple[subprocess.Popen, str, float]:
    """Two processes; once process 0 has logged an epoch, `victim` is killed. Returns
    the survivor, its stderr and how long it ran on."""
    processes = start_processes("examples/mlp.nn", "--epochs", "1000000", "--verbose", "2")
    try:
        line = processes[0].stdout.readline()
        while line and not line.startswith("Epoch 2/"):  # gloo's own lines come first
            line = processes[0].stdout.readline()
        assert line, processes[0].communicate(timeout=60)[1][-2000:]
        processes[victim].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        survivor = processes[1 - victim]
        _, stderr = survivor.communicate(timeout=120)
        return survivor, stderr, time.monotonic() - killed_at
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_a_killed_process_stops_the_other_with_a_clear_error():
    survivor, stderr, seconds = killed_mid_run(victim=1)
    assert survivor.returncode == 1, stderr[-2000:]
    assert "error: process 0 of 2 stopped: another process of the run failed or left" in stderr
    assert seconds < 120


def test_a_killed_coordinator_stops_the_other():
    survivor, stderr, seconds = killed_mid_run(victim=0)
    # whichever notices first, dslc's handler or JAX's coordination client, says so
    assert survivor.returncode != 0
    assert ("error: process 1 of 2 stopped: another process of the run failed or left" in stderr
            or "another task died" in stderr), stderr[-2000:]
    assert seconds < 120
