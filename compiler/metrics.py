"""Metrics with state, by their Keras 3 names; each one's update and result are built as
IR inside `eval_step` and `train_step`, so that every backend accumulates the same way.

A metric is a set of variables (`state`: the `metric_state` role of the functions'
signature, initial values in `meta["metric_state"]`), an `update` that folds one batch
of (y_true, y_pred) into them and a `result` read from them. `MEAN` is Keras' `Mean`,
which wraps every plain `fn` metric as `MeanMetricWrapper` does and tracks the losses;
`METRICS` holds the classes whose state is not a mean (AUC, Precision, Recall, F1Score).
The runtime resets the variables to their initial values at the start of every epoch
and before every evaluation, as Keras' `reset_metrics` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import dims
from .builder import Builder
from .ir import TensorType, Value

EPSILON = 1e-7  # keras.backend.epsilon()
NEG_INF = -1e10  # keras.src.metrics.metrics_utils.NEG_INF, a top_k filter's floor
CURVES = ("ROC", "PR")
SUMMATION_METHODS = ("interpolation", "minoring", "majoring")
AVERAGES = (None, "micro", "macro", "weighted")

F32 = "f32"


@dataclass(frozen=True)
class Metric:
    """`state(args, y_pred_type)` -> [(variable, type, initial value)];
    `update(b, args, y_true, y_pred, variables)` -> new variables;
    `result(b, args, variables)` -> a float scalar; `check(args)` -> None, or the
    argument that Keras would refuse, what it should be, and a hint (or None); `name` is
    the one Keras gives an instance (its class name in snake case)."""

    name: str
    params: dict[str, Any]
    state: Callable[[dict, TensorType], list[tuple[str, TensorType, float]]]
    update: Callable[..., list[Value]]
    result: Callable[..., Value]
    check: Callable[[dict], tuple[str, str, str | None] | None]
    doc: str


# -- IR helpers ---------------------------------------------------------------------


def _zeros_like(b: Builder, x: Value) -> Value:
    return b.broadcast_to(b.const(0.0, x.type.dtype), x.type.shape)


def divide_no_nan(b: Builder, x: Value, y: Value) -> Value:
    """`x / y`, and 0 where `y` is 0 (keras.ops.divide_no_nan)."""
    zero = _zeros_like(b, y)
    zeroed = b.eq(y, zero)
    safe = b.select(zeroed, b.broadcast_to(b.const(1.0, y.type.dtype), y.type.shape), y)
    return b.select(zeroed, zero, b.div(x, safe))


def _as_float(b: Builder, x: Value) -> Value:
    return b.cast(x, F32)


def _flat(b: Builder, x: Value) -> Value:
    return b.reshape(x, shape=(dims.product(x.type.shape),)) if x.type.rank != 1 else x


def _is_true(b: Builder, y_true: Value) -> Value:
    """Labels cast to bool (non-zero), as 0. or 1."""
    y = _as_float(b, y_true)
    return _as_float(b, b.ne(y, _zeros_like(b, y)))


def same_rank_shapes(y_true: tuple, y_pred: tuple) -> tuple[tuple, tuple]:
    """Keras' `squeeze_or_expand_to_same_rank`: a trailing dim of 1 squeezed from the
    higher-ranked of two shapes whose ranks differ by one, else a dim of 1 added to the
    other."""
    def squeeze_or_expand(high, low):
        return (high[:-1], low) if high[-1:] == (1,) else (high, (*low, 1))

    if len(y_true) == len(y_pred) + 1:
        return squeeze_or_expand(y_true, y_pred)
    if len(y_pred) == len(y_true) + 1:
        return squeeze_or_expand(y_pred, y_true)[::-1]
    return y_true, y_pred


def same_rank(b: Builder, y_true: Value, y_pred: Value) -> tuple[Value, Value]:
    """`y_true` and `y_pred` reshaped to `same_rank_shapes`."""
    shapes = same_rank_shapes(y_true.type.shape, y_pred.type.shape)
    return tuple(b.reshape(v, shape=shape) if v.type.shape != shape else v
                 for v, shape in zip((y_true, y_pred), shapes))


def _first(b: Builder, x: Value, count: int) -> Value:
    return b.slice(x, start=(0,), limit=(count,))


def _rest(b: Builder, x: Value) -> Value:
    return b.slice(x, start=(1,), limit=(x.type.shape[0],))


def _vector(b: Builder, x: Value) -> Value:
    return b.reshape(x, shape=(1,))


def _scalar(b: Builder, x: Value) -> Value:
    return b.reshape(x, shape=())


# -- Mean ------------------------------------------------------------------------------


def _mean_state(args, y_pred_type):
    scalar = TensorType(F32, ())
    return [("total", scalar, 0.0), ("count", scalar, 0.0)]


def mean_update(b: Builder, values: Value, variables, weight: Value | None = None):
    """Keras' `Mean.update_state`: values averaged per sample (over all but the first
    axis), then summed; the count grows by the samples, or by `weight` (a scalar
    sample weight, as the loss trackers are given the batch size)."""
    total, count = variables
    values = _as_float(b, values)
    if values.type.rank > 1:
        values = b.mean(values, axes=tuple(range(1, values.type.rank)))
    summed = b.sum(values) if values.type.rank else values
    if weight is not None:
        return [b.add(total, b.mul(summed, weight)), b.add(count, weight)]
    samples = b.size(values, axes=(0,)) if values.type.rank else b.const(1.0)
    return [b.add(total, summed), b.add(count, samples)]


def _mean_result(b: Builder, args, variables):
    total, count = variables
    return divide_no_nan(b, total, count)


MEAN = Metric("mean", {}, _mean_state,
              lambda b, args, y_true, values, variables: mean_update(b, values, variables),
              _mean_result, lambda args: None,
              "the mean of the values, weighted by sample")


# -- AUC -------------------------------------------------------------------------------

CONFUSION = ("true_positives", "false_positives", "true_negatives", "false_negatives")


def _auc_state(args, y_pred_type):
    return [(name, TensorType(F32, (args["num_thresholds"],)), 0.0) for name in CONFUSION]


def _auc_update(b: Builder, args, y_true, y_pred, variables):
    """Keras' evenly spaced thresholds (`_update_confusion_matrix_variables_optimized`):
    a prediction `p` clipped to [0, 1] is above threshold `i` when `p (n - 1) > i`, and
    above the first (`-epsilon`) always."""
    n = args["num_thresholds"]
    y_true, y_pred = same_rank(b, y_true, y_pred)
    p = _as_float(b, y_pred)
    if args["from_logits"]:
        p = b.sigmoid(p)
    p = b.minimum(b.maximum(p, b.const(0.0)), b.const(1.0))
    scaled = b.reshape(b.mul(_flat(b, p), b.const(float(n - 1))),
                       shape=(1, dims.product(p.type.shape)))
    index = b.iota(shape=(n, 1), axis=0, dtype=F32)
    above = b.maximum(_as_float(b, b.gt(scaled, index)),
                      _as_float(b, b.eq(index, b.const(0.0))))
    positive = b.reshape(_flat(b, _is_true(b, y_true)), shape=scaled.type.shape)
    negative = b.sub(b.const(1.0), positive)
    tp = b.sum(b.mul(above, positive), axes=(1,))
    fp = b.sum(b.mul(above, negative), axes=(1,))
    tn = b.sub(b.sum(negative), fp)
    fn = b.sub(b.sum(positive), tp)
    return [b.add(v, new) for v, new in zip(variables, (tp, fp, tn, fn))]


def _auc_result(b: Builder, args, variables):
    tp, fp, tn, fn = variables
    n = args["num_thresholds"]
    if args["curve"] == "PR" and args["summation_method"] == "interpolation":
        return _interpolated_pr_auc(b, n, tp, fp, fn)
    recall = divide_no_nan(b, tp, b.add(tp, fn))
    if args["curve"] == "ROC":
        x, y = divide_no_nan(b, fp, b.add(fp, tn)), recall
    else:
        x, y = recall, divide_no_nan(b, tp, b.add(tp, fp))
    low, high = _first(b, y, n - 1), _rest(b, y)
    heights = {"interpolation": lambda: b.div(b.add(low, high), b.const(2.0)),
               "minoring": lambda: b.minimum(low, high),
               "majoring": lambda: b.maximum(low, high)}[args["summation_method"]]()
    return b.sum(b.mul(b.sub(_first(b, x, n - 1), _rest(b, x)), heights))


def _interpolated_pr_auc(b: Builder, n, tp, fp, fn):
    """Keras' `AUC.interpolate_pr_auc` (Davis & Goadrich's interpolation)."""
    zero = b.const(0.0)
    dtp = b.sub(_first(b, tp, n - 1), _rest(b, tp))
    p = b.add(tp, fp)
    p_low, p_high = _first(b, p, n - 1), _rest(b, p)
    slope = divide_no_nan(b, dtp, b.maximum(b.sub(p_low, p_high), zero))
    intercept = b.sub(_rest(b, tp), b.mul(slope, p_high))
    both = b.mul(_as_float(b, b.gt(p_low, zero)), _as_float(b, b.gt(p_high, zero)))
    ratio = b.select(b.eq(both, _zeros_like(b, both)), b.add(_zeros_like(b, both), b.const(1.0)),
                     divide_no_nan(b, p_low, b.maximum(p_high, zero)))
    increment = divide_no_nan(b, b.mul(slope, b.add(dtp, b.mul(intercept, b.log(ratio)))),
                              b.maximum(b.add(_rest(b, tp), _rest(b, fn)), zero))
    return b.sum(increment)


def _auc_check(args):
    n = args["num_thresholds"]
    if not (isinstance(n, int) and not isinstance(n, bool) and 1 < n < 2**20):
        return "num_thresholds", "an integer above 1 (and below 2**20)", None
    if args["curve"] not in CURVES:
        return "curve", f"one of {_choices(CURVES)}", None
    if args["summation_method"] not in SUMMATION_METHODS:
        return "summation_method", f"one of {_choices(SUMMATION_METHODS)}", None
    if not isinstance(args["from_logits"], bool):
        return "from_logits", "`true` or `false`", None
    return None


# -- Precision and Recall ---------------------------------------------------------------


def _confusion_state(names):
    def state(args, y_pred_type):
        return [(name, TensorType(F32, (1,)), 0.0) for name in names]
    return state


def _top_k_mask(b: Builder, x: Value, k: int) -> Value:
    """1. where `x` is among the `k` largest of its last axis (ties to the lower index,
    as `top_k` breaks them), else 0."""
    classes = x.type.shape[-1]
    row = b.reshape(x, shape=(*x.type.shape, 1))
    column = b.reshape(x, shape=(*x.type.shape[:-1], 1, classes))
    earlier = b.lt(b.iota(shape=(classes, classes), axis=1, dtype="i32"),
                   b.iota(shape=(classes, classes), axis=0, dtype="i32"))
    ahead = b.add(_as_float(b, b.gt(column, row)),
                  b.mul(_as_float(b, b.eq(column, row)), _as_float(b, earlier)))
    return _as_float(b, b.lt(b.sum(ahead, axes=(x.type.rank,)), b.const(float(k))))


def _threshold(args) -> float:
    given = args["thresholds"]
    return float(given) if given is not None else (0.5 if args["top_k"] is None else NEG_INF)


def _predicted_and_true(b: Builder, args, y_true, y_pred):
    """`update_confusion_matrix_variables`' labels and decisions, as 0. or 1.: labels
    cast to bool, predictions above the threshold after the `top_k` filter and the
    `class_id` slice."""
    y_true, y_pred = same_rank(b, _as_float(b, y_true), _as_float(b, y_pred))
    if args["top_k"] is not None:
        mask = _top_k_mask(b, y_pred, args["top_k"])
        y_pred = b.add(b.mul(y_pred, mask),
                       b.mul(b.const(NEG_INF), b.sub(b.const(1.0), mask)))
    if args["class_id"] is not None:
        i = args["class_id"]

        def column(x):
            rank = x.type.rank
            return b.slice(x, start=(0,) * (rank - 1) + (i,), limit=(*x.type.shape[:-1], i + 1))
        y_true, y_pred = column(y_true), column(y_pred)
    predicted = _as_float(b, b.gt(y_pred, b.const(_threshold(args))))
    return predicted, _is_true(b, y_true)


def _confusion_update(counts):
    """`counts(b, predicted, true)` -> each variable's increment (scalars)."""
    def update(b: Builder, args, y_true, y_pred, variables):
        predicted, true = _predicted_and_true(b, args, y_true, y_pred)
        return [b.add(v, _vector(b, b.sum(d))) for v, d in
                zip(variables, counts(b, predicted, true))]
    return update


def _ratio_result(b: Builder, args, variables):
    """`tp / (tp + other)`, 0 when both are 0: precision or recall."""
    tp, other = variables
    return _scalar(b, divide_no_nan(b, tp, b.add(tp, other)))


def _complement(b: Builder, x: Value) -> Value:
    return b.sub(b.const(1.0), x)


def _confusion_check(args):
    t, k, c = args["thresholds"], args["top_k"], args["class_id"]
    if isinstance(t, list):
        return "thresholds", "one number", ("a list gives one result per threshold, which "
                                            "the log cannot show yet: one metric each")
    if t is not None and not (_number(t) and 0 <= t <= 1):
        return "thresholds", "a number in [0, 1]", None
    for arg, value, least in (("top_k", k, 1), ("class_id", c, 0)):
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool)
                                      and value >= least):
            return arg, f"an integer of at least {least}", None
    return None


# -- F1Score ------------------------------------------------------------------------------

F_SCORE_STATE = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")


def _f1_state(args, y_pred_type):
    shape = () if args["average"] == "micro" else (y_pred_type.shape[-1],)
    return [(name, TensorType(F32, shape), 0.0) for name in F_SCORE_STATE]


def _f1_update(b: Builder, args, y_true, y_pred, variables):
    y_true, y_pred = same_rank(b, _as_float(b, y_true), _as_float(b, y_pred))
    if args["threshold"] is None:
        top = b.max(y_pred, axes=(y_pred.type.rank - 1,), keepdims=True)
        predicted = b.mul(_as_float(b, b.ge(y_pred, top)),
                          _as_float(b, b.gt(b.abs(y_pred), b.const(1e-9))))
    else:
        predicted = _as_float(b, b.gt(y_pred, b.const(float(args["threshold"]))))
    axes = None if args["average"] == "micro" else (0,)
    increments = (b.mul(predicted, y_true), b.mul(predicted, _complement(b, y_true)),
                  b.mul(_complement(b, predicted), y_true), y_true)
    return [b.add(v, b.sum(d, axes=axes)) for v, d in zip(variables, increments)]


def _f1_result(b: Builder, args, variables):
    tp, fp, fn, weights = variables
    eps = b.const(EPSILON)
    precision = b.div(tp, b.add(b.add(tp, fp), eps))
    recall = b.div(tp, b.add(b.add(tp, fn), eps))
    f1 = b.mul(b.div(b.mul(precision, recall), b.add(b.add(precision, recall), eps)),
               b.const(2.0))
    if args["average"] == "weighted":
        return b.sum(b.mul(f1, b.div(weights, b.add(b.sum(weights), eps))))
    return b.mean(f1)


def _f1_check(args):
    if args["average"] not in AVERAGES[1:]:
        return "average", f"one of {_choices(AVERAGES[1:])}", (
            "Keras' default, `none`, gives one score per class, which the log cannot show "
            "yet: e.g. `F1Score(average=\"macro\")`")
    t = args["threshold"]
    if t is not None and not (_number(t) and 0 < t <= 1):
        return "threshold", "a number in (0, 1]", None
    return None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _choices(values) -> str:
    return ", ".join(f'`"{v}"`' for v in values)


CONFUSION_ARGS = {"thresholds": None, "top_k": None, "class_id": None}

METRICS: dict[str, Metric] = {
    "AUC": Metric("auc", {"num_thresholds": 200, "curve": "ROC",
                          "summation_method": "interpolation", "from_logits": False},
                  _auc_state, _auc_update, _auc_result, _auc_check,
                  "the area under the ROC or PR curve, over evenly spaced thresholds"),
    "Precision": Metric(
        "precision", CONFUSION_ARGS, _confusion_state(("true_positives", "false_positives")),
        _confusion_update(lambda b, p, t: (b.mul(p, t), b.mul(p, _complement(b, t)))),
        _ratio_result, _confusion_check, "true positives over predicted positives"),
    "Recall": Metric(
        "recall", CONFUSION_ARGS, _confusion_state(("true_positives", "false_negatives")),
        _confusion_update(lambda b, p, t: (b.mul(p, t), b.mul(_complement(b, p), t))),
        _ratio_result, _confusion_check, "true positives over actual positives"),
    "F1Score": Metric("f1_score", {"average": None, "threshold": None},
                      _f1_state, _f1_update, _f1_result, _f1_check,
                      "the harmonic mean of precision and recall, per class then averaged"),
}
