"""Plots of a training run: the curves of a History and a 2-D classifier's decision
boundary, checked on the figures built (labels, lines) and on the PNG written (its size
read from the PNG header, its pixels decoded), and the real CLI's `--plot` and `plot`."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from dslc.compiler.api import compile as compile_program
from dslc.compiler.plots import (TRAINING_COLOR, VALIDATION_COLOR, boundary_figure,
                                 boundary_problem, curves_figure, png_bytes,
                                 predicted_classes)
from dslc.compiler.training import load_data

from conftest import ROOT, run_dslc

HISTORY = {"loss": [1.0, 0.6, 0.4, 0.3], "accuracy": [0.5, 0.7, 0.8, 0.85],
           "val_loss": [1.1, 0.7, 0.5, 0.45], "val_accuracy": [0.45, 0.6, 0.75, 0.8],
           "epochs": 4, "steps": 40}


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, which must come first."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def pixels(data: bytes) -> np.ndarray:
    import io

    from matplotlib.image import imread

    return imread(io.BytesIO(data), format="png")[..., :3]


def share_of(image: np.ndarray, color: str) -> float:
    """The share of pixels within a small distance of `color` ("#rrggbb")."""
    rgb = np.array([int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return float(np.mean(np.abs(image - rgb).max(axis=-1) < 0.06))


def test_curves_show_training_and_validation_per_epoch():
    figure = curves_figure(HISTORY)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in visible] == [
        ("epoch", "loss"), ("epoch", "accuracy")]
    loss_axes = visible[0]
    lines = {line.get_label(): line for line in loss_axes.get_lines()}
    np.testing.assert_array_equal(lines["training"].get_ydata(), HISTORY["loss"])
    np.testing.assert_array_equal(lines["validation"].get_ydata(), HISTORY["val_loss"])
    np.testing.assert_array_equal(lines["training"].get_xdata(), [1, 2, 3, 4])
    data = png_bytes(figure)
    assert png_size(data) == (900, 350)
    image = pixels(data)
    assert np.mean(image.min(axis=-1) < 0.9) > 0.02  # not blank
    assert share_of(image, TRAINING_COLOR) > 0.001 and share_of(image, VALIDATION_COLOR) > 0.001


def test_curves_by_steps_show_the_final_validation_as_one_point():
    history = {"loss": list(np.linspace(1, 0.1, 50)), "val_loss": [0.2], "epochs": None,
               "steps": 50}
    (ax,) = [ax for ax in curves_figure(history).axes if ax.get_visible()]
    assert ax.get_xlabel() == "step"
    validation = [l for l in ax.get_lines() if l.get_label() == "validation"][0]
    assert list(validation.get_xdata()) == [50] and list(validation.get_ydata()) == [0.2]


def test_history_without_values_is_refused():
    with pytest.raises(ValueError, match="no training values"):
        curves_figure({"epochs": 1, "steps": 1})


def test_the_linear_classifiers_boundary_separates_the_blobs():
    program = compile_program(ROOT / "examples" / "linear_classifier.nn")
    assert boundary_problem(program) is None
    result = program.fit(log=None, verbose=0)
    data = load_data(program)
    figure = boundary_figure(program, result.params, data.x, data.y)
    (ax,) = figure.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x[:, 0]", "x[:, 1]")
    assert "LinearClassifier" in ax.get_title()
    predicted = predicted_classes(np.asarray(program.predict(result.params, data.x)))
    assert np.mean(predicted == data.y[:, 0]) > 0.99
    image = pixels(png_bytes(figure))
    # Both classes' regions (light fills) and points show, and the boundary line.
    assert share_of(image, "#1f77b4") > 0.005 and share_of(image, "#ff7f0e") > 0.005
    assert np.mean(image.max(axis=-1) < 0.15) > 0.001


def test_a_regression_model_has_no_boundary(tmp_path):
    source = tmp_path / "reg.nn"
    source.write_text("model R(x: f32[N, 2]) -> f32[N, 1] {\n    return x |> Dense(1)\n}\n"
                      "train R {\n    data = two_blobs(per_class=10)\n    loss = mse\n}\n")
    assert "not trained as a classifier" in boundary_problem(compile_program(source))


def test_dslc_train_plot_writes_curves_and_the_boundary_and_dslc_plot_redraws(tmp_path):
    out = tmp_path / "curves.png"
    history = tmp_path / "h.json"
    result = run_dslc("train", "examples/mlp.nn", "--epochs", "2", "--verbose", "0",
                      "--plot", str(out), "--history", str(history))
    assert result.returncode == 0, result.stderr
    assert png_size(out.read_bytes()) == (900, 350)
    assert png_size((tmp_path / "curves_boundary.png").read_bytes()) == (450, 350)
    result = run_dslc("plot", str(history))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {tmp_path / 'h.png'}\n"
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_problems_are_one_line_and_exit_1(tmp_path):
    (tmp_path / "h.json").write_text(json.dumps(HISTORY))
    (tmp_path / "bad.json").write_text("{not json")
    for args, message in (
            (["plot", "h.json", "-o", "h.json"], "will not write -o h.json: it is an input"),
            (["plot", "bad.json"], "cannot read bad.json as a history"),
            (["plot", "missing.json"], "cannot read missing.json as a history"),
            (["plot", "h.json", "-o", "nowhere/h.png"], "its folder does not exist")):
        result = run_dslc(*args, cwd=tmp_path)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr


def test_without_matplotlib_plot_says_what_to_install_before_training(tmp_path):
    blocker = tmp_path / "blocker" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(blocker.parent), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "dslc.compiler.cli", "train",
                             "examples/mlp.nn", "--plot", str(tmp_path / "c.png")],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ("dslc: error: plots need matplotlib, which is not installed: "
                             "pip install 'dslc[plot]'\n")
