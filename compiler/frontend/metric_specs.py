"""A train block's `metrics`, resolved as Keras' `compile` resolves them, and their
variables threaded through `eval_step` and `train_step`.

Each entry becomes a `Tracked` metric: a `compiler.metrics.Metric` with its arguments
and the values it folds in. A stateful class (`AUC(num_thresholds=50)`, `"precision"`)
is its own; a plain `fn` (the prelude's `binary_accuracy`, `BinaryAccuracy(threshold=
0.3)`, the user's own) is wrapped as Keras' MeanMetricWrapper; `"accuracy"` and `"acc"`
pick binary, sparse categorical or categorical accuracy from the shapes. The loss, and
with several outputs each one's own loss, are tracked by a `Mean` weighted by the batch
size, as Keras' loss trackers are. Every variable is an argument and a result of role
`metric_state`, named `<metric>/<variable>` and listed in `meta["metric_state"]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..builder import Builder
from ..ir import Function, Loc, TensorType, Value
from ..metrics import MEAN, Metric, mean_update, same_rank_shapes
from . import keras_names
from .builtins import argument_error
from .errors import fail
from .values import Spec, as_spec

ACCURACY_NAMES = ("accuracy", "acc")


@dataclass
class Tracked:
    """One metric of the training log: `update(b, variables)` -> new variables."""

    name: str
    record: Metric
    args: dict[str, Any]
    update: Callable[[Builder, list[Value]], list[Value]]
    prediction: TensorType  # the type of the predictions it sees


def resolve(value, span, y: Value, prediction: Value, as_fn, call) -> Tracked:
    """The metric a `metrics` entry names, for targets `y` and predictions `prediction`;
    `as_fn(value)` is the fn any other value names (`train.loss_function`), and
    `call(fn)` evaluates it on them (MeanMetricWrapper's values)."""
    name = value if isinstance(value, str) else None
    if isinstance(value, str):
        value = keras_names.named(accuracy_for(y.type, prediction.type)
                                  if value.lower() in ACCURACY_NAMES else value, "metric", span)
    spec = as_spec(value, "metric", span)
    if spec is not None:
        check(spec, span)
        y_shape, p_shape = same_rank_shapes(y.type.shape, prediction.type.shape)
        if y_shape != p_shape:
            raise fail("E0404", f"`{spec.name}` compares targets `{y.type}` with predictions "
                       f"`{prediction.type}` element by element, but their shapes differ",
                       span, help="it takes targets shaped like the predictions: train with "
                       "a loss that takes one-hot or binary targets, not class ids")
        record = spec.component
        return Tracked(name or record.name, record, spec.args,
                       lambda b, variables: record.update(b, spec.args, y, prediction,
                                                          variables), prediction.type)
    fn = as_fn(value)
    values = call(fn)
    if not values.type.is_float:
        raise fail("E0404", f"the metric `{fn.definition.name}` gives `{values.type}`, not "
                   "float values", span)
    return Tracked(name or fn.definition.name, MEAN, {},
                   lambda b, variables: mean_update(b, values, variables), prediction.type)


def accuracy_for(y: TensorType, prediction: TensorType) -> str:
    """Keras' `is_binary_or_sparse_categorical`: the accuracy `"accuracy"` stands for."""
    if prediction.shape[-1:] == (1,):
        return "binary_accuracy"
    if y.rank < prediction.rank or (y.shape[-1:] == (1,) and prediction.shape[-1] != 1):
        return "sparse_categorical_accuracy"
    return "categorical_accuracy"


def check(spec: Spec, span) -> None:
    """A metric class's arguments (with its defaults), at `span` (the metrics line; a
    call's own arguments are checked where they are written, `builtins._configure`)."""
    if problem := spec.component.check(spec.args):
        raise argument_error(spec.name, spec.component, spec.args, problem, span)


def loss_tracker(name: str, loss: Value, batch: Value) -> Tracked:
    """Keras' loss trackers: the mean of the batch losses weighted by the batch size."""
    return Tracked(name, MEAN, {}, lambda b, variables: mean_update(b, loss, variables, batch),
                   loss.type)


def unique_names(tracked: list[Tracked]) -> None:
    """A second metric of one name gets `_1`, a third `_2`, as Keras' auto names do."""
    seen: dict[str, int] = {}
    for metric in tracked:
        count = seen.get(metric.name, 0)
        seen[metric.name] = count + 1
        if count:
            metric.name = f"{metric.name}_{count}"


def thread_state(function: Function, tracked: list[Tracked], loc: Loc,
                 b: Builder) -> tuple[list[Value], list[Value], list[dict]]:
    """Adds each metric's variables to `function` as `metric_state` arguments and builds
    their update and the results. Returns (results, new variables, meta entries)."""
    unique_names(tracked)
    results, updated, meta = [], [], []
    for metric in tracked:
        variables = []
        for variable, ttype, initial in metric.record.state(metric.args, metric.prediction):
            name = f"{metric.name}/{variable}"
            variables.append(function.add_arg(ttype, name, loc, role="metric_state"))
            meta.append({"name": name, "dtype": ttype.dtype, "shape": list(ttype.shape),
                         "value": initial, "metric": metric.name})
        new = metric.update(b, variables)
        updated.extend(new)
        results.append(metric.record.result(b, metric.args, new))
    return results, updated, meta

