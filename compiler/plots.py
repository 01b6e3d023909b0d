"""Pictures of a training run, for `dslc train --plot` and `dslc plot`: the loss and
metric curves of a History (per epoch, or per step when trained by steps), with the
validation values beside them; and, for a classifier of 2-D points (the textbook's
linear classifier), its decision boundary over the training data.

Consumes a History's JSON document and a trained `Program`; produces matplotlib
Figures (built without pyplot's global state) and PNG files. matplotlib is the optional
extra `dslc[plot]`.
"""

from __future__ import annotations

import io
import json
import math
import os

import numpy as np

from ..runtime.files import write_atomically

INSTALL_HINT = "pip install 'dslc[plot]'"
TRAINING_COLOR, VALIDATION_COLOR = "#1f77b4", "#ff7f0e"
CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
GRID_POINTS = 200


class PlotUnavailable(Exception):
    """matplotlib is not installed; the message says how to install it."""


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(f"plots need matplotlib, which is not installed: "
                              f"{INSTALL_HINT}") from None


def _figure(columns: int, rows: int = 1):
    require_matplotlib()
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5 * columns, 3.5 * rows), dpi=100, layout="constrained")
    return figure, [figure.add_subplot(rows, columns, i + 1) for i in range(columns * rows)]


def png_bytes(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def curves_figure(history: dict):
    """One panel per logged quantity (loss, then each metric): its training values per
    epoch (or per step) and its validation values (`val_<name>`). A document from
    `History.to_json` (`"epochs"` null: trained by steps, validated once at the end)."""
    series = {k: v for k, v in history.items() if isinstance(v, list)}
    names = [k for k in series if not k.startswith("val_")]
    if not names:
        raise ValueError("the history holds no training values to plot")
    by_epoch = history.get("epochs") is not None
    unit = "epoch" if by_epoch else "step"
    columns = min(len(names), 3)
    figure, axes = _figure(columns, math.ceil(len(names) / columns))
    for ax, name in zip(axes, names):
        values = _floats(series[name])
        ax.plot(np.arange(1, len(values) + 1), values, color=TRAINING_COLOR, label="training",
                marker="o" if len(values) < 30 else None, markersize=3)
        if (validation := series.get(f"val_{name}")) is not None:
            validation = _floats(validation)
            steps = np.arange(1, len(validation) + 1) if by_epoch else [len(values)]
            ax.plot(steps, validation, color=VALIDATION_COLOR, label="validation",
                    marker="o", markersize=4 if by_epoch else 7)
        ax.set_xlabel(unit)
        ax.set_ylabel(name)
        ax.set_title(f"{name} per {unit}")
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in axes[len(names):]:
        ax.set_visible(False)
    return figure


def _floats(values) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


def boundary_problem(program) -> str | None:
    """Why `program` has no decision boundary to draw, or None: it needs one input of
    2 features per row and one output, trained as a classifier (a cross-entropy loss or
    an accuracy metric)."""
    predict = program.module.functions["predict"]
    inputs, outputs = predict.args_with("input"), predict.results
    config = program.compilation.train
    if len(inputs) != 1 or tuple(inputs[0].type.shape[1:]) != (2,) or len(outputs) != 1:
        return "the model does not take one input of 2 features per row"
    if len(outputs[0].type.shape) != 2 or not isinstance(outputs[0].type.shape[1], int):
        return "the model does not give one row of class scores per input row"
    if "crossentropy" not in config.loss and not any("accuracy" in m for m in config.metrics):
        return "the model is not trained as a classifier (no cross-entropy, no accuracy)"
    return None


def predicted_classes(scores: np.ndarray) -> np.ndarray:
    """Class ids from a classifier's outputs: one column is a score for class 1 (above
    0.5, as the textbook's linear classifier reads it), several are one score per class."""
    return (scores[:, 0] > 0.5).astype(int) if scores.shape[1] == 1 else scores.argmax(axis=1)


def boundary_figure(program, variables: dict, x: np.ndarray, y: np.ndarray):
    """The plane of the data's two features coloured by the class `program` predicts
    with `variables`, the boundary between classes drawn as a line, and the points of
    `x` coloured by their true class `y`."""
    low, high = x.min(axis=0), x.max(axis=0)
    margin = (high - low) * 0.1 + 1e-6
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], GRID_POINTS)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], GRID_POINTS)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(x.dtype)
    classes = predicted_classes(np.asarray(program.predict(variables, grid)))
    labels = np.ravel(y).astype(int) if y.ndim == 1 or y.shape[-1] == 1 else y.argmax(-1)
    count = int(max(classes.max(), labels.max())) + 1
    figure, (ax,) = _figure(1)
    from matplotlib.colors import ListedColormap

    colors = ListedColormap([CLASS_COLORS[i % len(CLASS_COLORS)] for i in range(count)])
    levels = np.arange(count + 1) - 0.5
    ax.contourf(grid_x, grid_y, classes.reshape(grid_x.shape), levels=levels, cmap=colors,
                alpha=0.25)
    ax.contour(grid_x, grid_y, classes.reshape(grid_x.shape), levels=levels[1:-1],
               colors="black", linewidths=1.5)
    ax.scatter(x[:, 0], x[:, 1], c=labels, cmap=colors, vmin=-0.5, vmax=count - 0.5, s=8,
               edgecolors="none")
    ax.set_xlabel("x[:, 0]")
    ax.set_ylabel("x[:, 1]")
    ax.set_title(f"decision boundary of {program.compilation.train.model}")
    return figure


def boundary_path(curves_path: str) -> str:
    """Where `--plot curves.png` puts the decision boundary: `curves_boundary.png`."""
    stem, suffix = os.path.splitext(curves_path)
    return f"{stem}_boundary{suffix or '.png'}"


def write_training_plots(program, result, data, curves_path: str) -> list[str]:
    """The curves of `result.history` at `curves_path` and, for a classifier of 2-D
    points, its decision boundary over the training `data` beside it; the paths written."""
    document = json.loads(result.history.to_json_text())
    written = [_write(curves_figure(document), curves_path)]
    if boundary_problem(program) is None:
        figure = boundary_figure(program, result.params, np.asarray(data.x), np.asarray(data.y))
        written.append(_write(figure, boundary_path(curves_path)))
    return written


def _write(figure, path: str) -> str:
    write_atomically(path, png_bytes(figure))
    return path
