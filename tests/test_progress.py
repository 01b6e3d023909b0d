"""Training progress as Keras 3 prints it: the runtime's Progbar against Keras' own
`keras.utils.Progbar` fed the same updates at the same times, `dslc train` on a real
pseudo-terminal (a bar redrawn inside each epoch), and its one-line-per-epoch form when
output is a pipe (a golden file with the timings masked)."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import types

import numpy as np
import pytest

from dslc.runtime.progress import ProgressLogger, keras_number, progress_logger

from conftest import ROOT, check_golden, run_dslc

GOLDEN = ROOT / "tests" / "golden" / "progress"
TIMING = re.compile(r"\b\d+(?:ms|us|s)(/step)?\b")


class Clock:
    """Times handed out one after another, the same to both progress bars."""

    def __init__(self, times):
        self.times = list(times)

    def __call__(self) -> float:
        return self.times.pop(0)


UPDATES = [  # (current step, logs, finalize)
    (3, {"accuracy": 0.5, "loss": 1.25}, False),
    (5, {"accuracy": 0.625, "loss": 0.0004}, False),
    (12, {"accuracy": 0.8125, "loss": 0.43125}, False),
    (32, {"accuracy": 0.90625, "loss": -0.0002, "val_accuracy": 0.5, "val_loss": 2.0}, True),
]
TIMES = [100.0, 100.9, 100.91, 101.5, 161.0]  # start, then one per update


def keras_output(verbose, capsys, monkeypatch):
    from keras.src.utils import progbar

    clock = Clock(TIMES)
    monkeypatch.setattr(progbar, "time", types.SimpleNamespace(time=clock))
    bar = progbar.Progbar(32, verbose=verbose, stateless_metrics=set())
    capsys.readouterr()
    for current, logs, finalize in UPDATES:
        bar.update(current, list(logs.items()), finalize=finalize)
    return capsys.readouterr().out


def our_output(dynamic):
    written = []
    logger = ProgressLogger(written.append, dynamic=dynamic, clock=Clock(TIMES))
    logger.epoch_begin(0, 1, 32)
    for current, logs, finalize in UPDATES:
        (logger.epoch_end if finalize else lambda l: logger.batch_end(current, l))(logs)
    return "".join(written)


@pytest.mark.parametrize("verbose", [1, 2])
def test_the_bar_and_the_line_are_keras_own(verbose, capsys, monkeypatch):
    ours = our_output(dynamic=verbose == 1)
    assert ours == keras_output(verbose, capsys, monkeypatch)
    assert ours.endswith("\n") and "val_loss: 2.0000" in ours


def test_numbers_are_formatted_as_keras_formats_them():
    assert keras_number(0.43125) == "0.4313" and keras_number(0.0004) == "4.0000e-04"
    assert keras_number(-0.5) == "-0.5000" and keras_number(-0.5, absolute=False) == "-5.0000e-01"


def test_silent_and_line_loggers_are_chosen_as_keras_verbose_says():
    assert progress_logger(0, print) is None and progress_logger(1, None) is None
    lines = []
    assert not progress_logger(1, lines.append).dynamic
    assert not progress_logger(2, print).dynamic


def test_train_on_a_terminal_redraws_a_bar_inside_each_epoch():
    controller, terminal = os.openpty()
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    process = subprocess.Popen(
        [sys.executable, "-m", "dslc.compiler.cli", "train", "examples/mlp.nn", "--epochs", "2"],
        stdin=subprocess.DEVNULL, stdout=terminal, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 300)
        if not ready:
            process.kill()
            pytest.fail("no output from dslc train within 300 s")
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closes with the process (EIO on Linux)
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0, process.stderr.read().decode()
    text = output.decode("utf-8")
    epochs = text.split("Epoch 2/2")
    assert len(epochs) == 2 and epochs[0].startswith("Epoch 1/2")
    # Inside an epoch the bar is drawn several times, each redraw returning to the
    # line's start; the last draw of an epoch is complete and ends its line.
    for epoch in epochs:
        draws = re.findall(r"\r\x1b\[1m\s*(\d+)/(\d+)\x1b\[0m ((?:\x1b\[3\dm━*\x1b\[0m)+)"
                           r" \x1b\[1m(\d+s|\d+:\d+)\x1b\[0m \d+(?:ms|us|s)/step"
                           r" - loss: \d\.\d{4} - sparse_categorical_accuracy: \d\.\d{4}", epoch)
        assert len(draws) >= 2, epoch
        done = [int(current) for current, *_ in draws]
        assert done == sorted(done) and done[-1] == int(draws[-1][1]) and done[0] < done[-1]
        assert draws[-1][2].count("━") == 20
    assert re.search(r"\nfinal: loss: \d\.\d{4} - sparse_categorical_accuracy: \d\.\d{4}\r?\n",
                     text)


def test_train_into_a_pipe_prints_one_line_per_epoch(update_goldens):
    result = run_dslc("train", "examples/mlp.nn", "--epochs", "3")
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
    check_golden(GOLDEN / "mlp_epochs.txt", TIMING.sub(lambda m: "T" + (m[1] or ""),
                                                      result.stdout), update_goldens)


def test_verbose_0_and_quiet_print_only_the_final_line():
    for flags in (("--verbose", "0"), ("--quiet",)):
        result = run_dslc("train", "examples/linear_classifier.nn", "--steps", "3", *flags)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("final: binary_accuracy: ")
        assert result.stdout.count("\n") == 1
    assert run_dslc("train", "examples/mlp.nn", "--verbose", "3").returncode == 2


@pytest.mark.parametrize("verbose", [1, 2])
def test_the_api_fit_logs_one_line_per_epoch_to_a_log_function(verbose):
    from dslc.compiler.api import compile as compile_program

    lines = []
    program = compile_program(ROOT / "examples" / "mlp.nn")
    result = program.fit(log=lines.append, verbose=verbose, epochs=2)
    assert [line for line in lines if line.startswith("Epoch")] == ["Epoch 1/2", "Epoch 2/2"]
    epoch_lines = [line for line in lines if not line.startswith("Epoch")]
    history = result.history.history
    assert [TIMING.sub("T", line) for line in epoch_lines] == [
        f"15/15 - T - T - loss: {loss:.4f} - sparse_categorical_accuracy: {accuracy:.4f}"
        for loss, accuracy in zip(history["loss"], history["sparse_categorical_accuracy"])]
    assert program.fit(log=lines.append, verbose=0, epochs=1) and len(lines) == 4


ORACLE = """
model M(x: f32[N, 3]) -> f32[N, 1] {
    return x |> Dense(1, activation=sigmoid)
}

train M {
    data             = npz("data.npz")
    loss             = binary_crossentropy
    optimizer        = SGD(learning_rate=0.5)
    metrics          = [binary_accuracy]
    batch_size       = 16
    epochs           = 3
    shuffle          = false
    validation_split = 0.25
}
"""


def test_fit_prints_what_keras_fit_prints_for_the_same_training(tmp_path, capsys):
    """The same model, weights, data and batches in dslc and in Keras 3: with the
    timings masked, the lines printed with `verbose=2` are identical, numbers included."""
    import keras

    from dslc.compiler.api import compile as compile_program

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype("float32")[:, None]
    np.savez(tmp_path / "data.npz", x=x, y=y)
    (tmp_path / "m.nn").write_text(ORACLE)
    program = compile_program(tmp_path / "m.nn")
    variables = program.init(seed=0)
    ours = []
    program.fit(log=ours.append, verbose=2)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.set_weights([np.asarray(variables[name]) for name in ("dense/kernel", "dense/bias")])
    model.compile(keras.optimizers.SGD(0.5), "binary_crossentropy", metrics=["binary_accuracy"])
    capsys.readouterr()
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, validation_split=0.25, verbose=2)
    theirs = capsys.readouterr().out.splitlines()
    assert [TIMING.sub("T", line) for line in ours] == [TIMING.sub("T", line) for line in theirs]
    assert len(ours) == 6 and " - val_loss: " in ours[-1]
