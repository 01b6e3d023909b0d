"""Random draws in model code: the `random` namespace (`random.dropout`, `random.uniform`,
`random.normal`), named after `keras.random`.

A draw is allowed only while a model is traced in training mode (`train_step`): the
first one gives the traced function its `rng` argument, a per-step seed that the
runtime supplies, and each draw takes its own stream of it, numbered in program order.
The bits are those of `jax.random` on every backend (`compiler/ops/random.py`).
"""

from __future__ import annotations

from ..ir import TensorType, Value
from .binding import CallSite
from .errors import fail
from .values import Builtin, DimSym, Dtype, Namespace, Signature, kind_name


def draw_seed(c: CallSite, what: str) -> tuple[Value, int]:
    """The traced function's `rng` argument (added on the first draw) and a new stream."""
    trace = c.ev.trace
    if trace.params is None:
        raise fail("E0303", f"`random.{what}` draws only inside a model or a layer", c.span,
                   "not in a model")
    if not trace.training:
        raise fail("E0303", f"`random.{what}` draws only in training, but this model is "
                   "being traced for inference (`predict`, `eval_step`)", c.span,
                   "drawn in inference", help=f"guard the draw: e.g. `random.{what}(...) if "
                   "training else x`")
    if trace.rng is None:
        trace.rng = trace.function.add_arg(TensorType("i32", ()), "rng",
                                           trace.builder(c.span).loc, role="rng")
    trace.draws += 1
    return trace.rng, trace.draws - 1


def draw_shape(c: CallSite, shape) -> tuple:
    if not isinstance(shape, list) or not all(
            isinstance(d, DimSym) or (isinstance(d, int) and not isinstance(d, bool) and d >= 0)
            for d in shape):
        raise c.fail("E0304", f"`shape` should be a list of dims, found {kind_name(shape)}",
                     "shape", help="e.g. `[B, 10]` or `shape(x)`")
    return tuple(d.name if isinstance(d, DimSym) else d for d in shape)


def float_dtype(c: CallSite, dtype) -> str:
    if not isinstance(dtype, Dtype) or not TensorType(dtype.name, ()).is_float:
        raise c.fail("E0304", f"`dtype` should be a float dtype, found {kind_name(dtype)}",
                     "dtype")
    return dtype.name


def _number(c: CallSite, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise c.fail("E0304", f"`{name}` should be a number, found {kind_name(value)}", name)
    return float(value)


def _uniform(c: CallSite, shape, minval=0.0, maxval=1.0, dtype=Dtype("f32")):
    seed, stream = draw_seed(c, "uniform")
    return c.b.emit("random_uniform", seed, shape=draw_shape(c, shape),
                    dtype=float_dtype(c, dtype), low=_number(c, "minval", minval),
                    high=_number(c, "maxval", maxval), stream=stream)


def _normal(c: CallSite, shape, mean=0.0, stddev=1.0, dtype=Dtype("f32")):
    seed, stream = draw_seed(c, "normal")
    return c.b.emit("random_normal", seed, shape=draw_shape(c, shape),
                    dtype=float_dtype(c, dtype), mean=_number(c, "mean", mean),
                    stddev=_number(c, "stddev", stddev), stream=stream)


def _dropout(c: CallSite, x, rate):
    """`keras.random.dropout`: each element kept with probability `1 - rate` (a uniform
    draw below it, as `jax.random.bernoulli` decides) and scaled by `1 / (1 - rate)`."""
    x = c.tensor("x", x)
    rate = _number(c, "rate", rate)
    if not 0 <= rate < 1:
        raise c.fail("E0304", f"`rate` is {rate:g}, but a dropout rate is in [0, 1)", "rate")
    seed, stream = draw_seed(c, "dropout")
    b = c.b
    keep = 1.0 - rate
    draw = b.emit("random_uniform", seed, shape=x.type.shape, dtype=x.type.dtype, low=0.0,
                  high=1.0, stream=stream)
    kept = b.emit("lt", draw, b.const(keep, x.type.dtype))
    scaled = b.emit("div", x, b.const(keep, x.type.dtype))
    return b.emit("select", kept, scaled, b.const(0.0, x.type.dtype))


RANDOM = Namespace("random", {
    "uniform": Builtin("uniform", Signature.of("shape", minval=0.0, maxval=1.0,
                                               dtype=Dtype("f32")), _uniform,
                       "uniform samples in [minval, maxval) (training only)"),
    "normal": Builtin("normal", Signature.of("shape", mean=0.0, stddev=1.0,
                                             dtype=Dtype("f32")), _normal,
                      "normal samples (training only)"),
    "dropout": Builtin("dropout", Signature.of("x", "rate"), _dropout,
                       "zeros elements with probability `rate`, scales the rest "
                       "(training only)"),
})
