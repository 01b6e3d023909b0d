"""Pooling over spatial windows, channels last (`x` is `[N, *spatial, C]`, 1 to 3
spatial dims): `max_pool` and `avg_pool` with strides and explicit (low, high) padding.
Padded elements never count: they lose every maximum, and an average divides by the
number of unpadded elements in its window, as Keras 3 does with padding="same".

Law: both gradients are built from strided slices of the padded input, one per window
offset, and their transposes (zero pads) summed back. `avg_pool` is linear, so its
transpose shares each cotangent among the window's elements; `max_pool` gives it to
the first maximum of each window in row-major order, as XLA's `select_and_scatter`
(and so `jax.grad` of Keras' pooling) does, even where a window has ties.
"""

from __future__ import annotations

import itertools
import math

from .common import require_float, require_rank, single_cotangent
from .. import dims
from .conv import (SPATIAL_RANKS, channels_first, channels_last, dilated_size, numpy_pairs,
                   numpy_pad_spatial, numpy_windows, output_spatial, tf_pad_spatial,
                   torch_pad_spatial, window_attr)
from .registry import Attr, ShapeError, define

FAMILY = "pool"

POOL_ATTRS = {"window": Attr("ints"), "strides": Attr("ints", None, optional=True),
              "padding": Attr("dim_pairs", None, optional=True)}


def pool_infer(name: str):
    def infer(attrs, x):
        require_float(name, x)
        require_rank(name, x, SPATIAL_RANKS, what="an input")
        count = x.rank - 2
        spatial = x.shape[1:-1]
        window = window_attr(name, attrs, "window", count, None)
        strides = window_attr(name, attrs, "strides", count, 1)
        padding = window_attr(name, attrs, "padding", count, (0, 0), minimum=None)
        if any(dims.is_concrete(p) and p < 0 for pair in padding for p in pair):
            raise ShapeError(f"`{name}` padding `{list(padding)}` is negative", code="E0304",
                             operand=0)
        sizes = output_spatial(name, spatial, window, strides, padding)
        return x.with_shape((x.shape[0], *sizes, x.shape[-1]))
    return infer


max_pool = define("max_pool", ("x",), family=FAMILY, attrs=dict(POOL_ATTRS),
                  infer=pool_infer("max_pool"),
                  internal="`.nn` reaches it through the Keras-style builtin `max_pool`, "
                           "which computes its padding", doc="""
The maximum of each `window` of `x`'s spatial dims, `strides` apart, over `x` padded by
`padding` ((low, high) per spatial dim) with elements that never win.

    .nn:  y = max_pool(x, 2)  # x: f32[N, 4, 4, 3]
    IR:   %1 = max_pool %0 {padding = [[0, 0], [0, 0]], strides = [2, 2], window = [2, 2]} : f32[N, 2, 2, 3]
""")

avg_pool = define("avg_pool", ("x",), family=FAMILY, attrs=dict(POOL_ATTRS),
                  infer=pool_infer("avg_pool"), traits=("linear",),
                  internal="`.nn` reaches it through the Keras-style builtin "
                           "`average_pool`, which computes its padding", doc="""
The mean of each `window` of `x`'s spatial dims, `strides` apart, over the unpadded
elements of the window (`padding` is (low, high) per spatial dim), as Keras.

    .nn:  y = average_pool(x, 3, strides=2, padding="same")  # x: f32[N, 5, 5, 2]
    IR:   %1 = avg_pool %0 {padding = [[1, 1], [1, 1]], strides = [2, 2], window = [3, 3]} : f32[N, 3, 3, 2]
""")


def full_window(window) -> tuple:
    return (1, *window, 1)


def full_padding(padding) -> tuple:
    return ((0, 0), *padding, (0, 0))


@max_pool.def_jax
def _(ctx, x, window, strides, padding):
    # Python scalars as the initial values make JAX see `max` and `add` monoids, whose
    # reductions it can differentiate (the tests' reference `jax.vjp` needs that).
    return ctx.lax.reduce_window(x, -math.inf, ctx.lax.max, full_window(window),
                                 full_window(strides), jax_padding(ctx, padding))


def jax_padding(ctx, padding) -> tuple:
    return full_padding(tuple(ctx.shape(pair) for pair in padding))


def jax_window_sum(ctx, x, window, strides, padding):
    return ctx.lax.reduce_window(x, 0.0, ctx.lax.add,
                                 full_window(window), full_window(strides),
                                 jax_padding(ctx, padding))


@avg_pool.def_jax
def _(ctx, x, window, strides, padding):
    total = jax_window_sum(ctx, x, window, strides, padding)
    if not any(lo or hi for lo, hi in padding):
        return ctx.lax.div(total, ctx.lax.full_like(total, math.prod(window)))
    ones = ctx.lax.full((1, *x.shape[1:-1], 1), 1, x.dtype)
    counts = jax_window_sum(ctx, ones, window, strides, padding)
    return ctx.lax.div(total, ctx.broadcast_to(counts, ctx.result_shape()))


def numpy_pool(ctx, x, window, strides, padding, reduce, pad_value):
    padded = numpy_pad_spatial(ctx.np, x, numpy_pairs(ctx, padding), pad_value)
    slices = [s for _, s in numpy_windows(padded, window, strides, ctx.result_shape()[1:-1])]
    return reduce(ctx.np.stack(slices), axis=0)


max_pool.def_numpy(lambda ctx, x, window, strides, padding: numpy_pool(
    ctx, x, window, strides, padding, ctx.np.max, -ctx.np.inf))


@avg_pool.def_numpy
def _(ctx, x, window, strides, padding):
    total = numpy_pool(ctx, x, window, strides, padding, ctx.np.sum, 0)
    ones = ctx.np.ones((1, *x.shape[1:-1], 1), x.dtype)
    return total / numpy_pool(ctx, ones, window, strides, padding, ctx.np.sum, 0)


@max_pool.def_tf
def _(ctx, x, window, strides, padding):
    """TF's 3-d max pooling takes no `f64`: a 3-d window's maximum is taken as that of
    its (depth, height) planes, then along the width, each a 2-d pooling."""
    shape = ctx.operand_types[0].shape
    padded = tf_pad_spatial(ctx, x, shape, padding, 'float("-inf")')
    if len(window) < 3:
        return (f"tf.nn.max_pool({padded}, {ctx.literal(window)}, {ctx.literal(strides)}, "
                f"\"VALID\")")
    depth, height, width = (dims.add(dims.add(s, lo), hi)
                            for s, (lo, hi) in zip(shape[1:-1], padding))
    channels = shape[-1]
    out_depth, out_height = ctx.result_types[0].shape[1:3]
    planes = ctx.fresh("planes")
    ctx.emit(f"{planes} = tf.nn.max_pool(tf.reshape({padded}, "
             f"{ctx.shape((-1, depth, height, dims.mul(width, channels)))}), "
             f"{ctx.literal(window[:2])}, {ctx.literal(strides[:2])}, \"VALID\")")
    rows = (f"tf.reshape({planes}, "
            f"{ctx.shape((-1, dims.mul(out_depth, out_height), width, channels))})")
    return (f"tf.reshape(tf.nn.max_pool({rows}, {ctx.literal((1, window[2]))}, "
            f"{ctx.literal((1, strides[2]))}, \"VALID\"), {ctx.result_shape()})")


@avg_pool.def_tf
def _(ctx, x, window, strides, padding):
    """Padded zeros would count in `tf.nn.avg_pool`: the mean of `x` over the padded
    input, divided by the mean of ones likewise padded, is the mean over valid ones."""
    shape = ctx.operand_types[0].shape

    def mean(value):
        padded = tf_pad_spatial(ctx, value, shape, padding)
        return (f"tf.nn.avg_pool({padded}, {ctx.literal(window)}, {ctx.literal(strides)}, "
                f"\"VALID\")")
    if not any(lo or hi for lo, hi in padding):
        return mean(x)
    ones = f"tf.ones({ctx.shape((1, *shape[1:-1], 1))}, {ctx.dtype(ctx.operand_types[0].dtype)})"
    return f"{mean(x)} / {mean(ones)}"


def torch_pool(ctx, x: str, function: str, window, strides, padding, value: str) -> str:
    rank = ctx.operand_types[0].rank
    x = torch_pad_spatial(ctx, f"torch.permute({x}, {ctx.literal(channels_first(rank))})",
                          padding, value)
    pooled = (f"torch.nn.functional.{function}{rank - 2}d({x}, {ctx.literal(window)}, "
              f"{ctx.literal(strides)})")
    return f"torch.permute({pooled}, {ctx.literal(channels_last(rank))})"


max_pool.def_torch(lambda ctx, x, window, strides, padding: torch_pool(
    ctx, x, "max_pool", window, strides, padding, 'float("-inf")'))


@avg_pool.def_torch
def _(ctx, x, window, strides, padding):
    """As the TF rule: the padded mean over the padded mean of ones."""
    mean = torch_pool(ctx, x, "avg_pool", window, strides, padding, "0.0")
    if not any(lo or hi for lo, hi in padding):
        return mean
    shape = ctx.operand_types[0].shape
    ones = f"{x}.new_ones({ctx.shape((1, *shape[1:-1], 1))})"
    return f"{mean} / {torch_pool(ctx, ones, 'avg_pool', window, strides, padding, '0.0')}"


# Gradients: one strided slice of the padded input per window offset, and back.

def padded_input(b, x, padding):
    if not any(lo or hi for lo, hi in padding):
        return x
    return b.pad(x, low=(0, *(lo for lo, _ in padding), 0),
                 high=(0, *(hi for _, hi in padding), 0))


def window_slices(b, padded, window, strides, out_sizes):
    """(offset, slice) per window offset, row-major: the slice `[N, *out, C]` holds the
    element at that offset of every window."""
    shape = padded.type.shape
    for offset in itertools.product(*map(range, window)):
        limit = tuple(dims.add(o, dilated_size(n, s)) for o, n, s in
                      zip(offset, out_sizes, strides))
        yield offset, b.slice(padded, start=(0, *offset, 0),
                              limit=(shape[0], *limit, shape[-1]), stride=(1, *strides, 1))


def scatter_windows(b, pieces, node):
    """The transpose of `window_slices`: each `(offset, piece)` zero-padded back into the
    padded input's shape, summed, and cropped to the input."""
    x = node.operands[0]
    attrs = node.attrs
    strides, padding = attrs["strides"], attrs["padding"]
    padded = [dims.add(dims.add(s, lo), hi) for s, (lo, hi) in zip(x.type.shape[1:-1], padding)]
    total = None
    for offset, piece in pieces:
        extent = [dilated_size(n, s) for n, s in zip(piece.type.shape[1:-1], strides)]
        spread = b.pad(piece, low=(0, *offset, 0),
                       high=(0, *(dims.sub(dims.sub(p, o), e)
                                  for p, o, e in zip(padded, offset, extent)), 0),
                       interior=(0, *(s - 1 for s in strides), 0))
        total = spread if total is None else b.add(total, spread)
    if not any(lo or hi for lo, hi in padding):
        return total
    return b.slice(total, start=(0, *(lo for lo, _ in padding), 0),
                   limit=x.type.shape[:1] + tuple(dims.add(lo, s) for s, (lo, _) in
                                                  zip(x.type.shape[1:-1], padding))
                   + x.type.shape[-1:])


def valid_slices(b, node):
    """Per window offset, a `[1, *out, 1]` tensor that is 1 where that element of the
    window is unpadded and 0 where it is padding; None without padding."""
    x, result = node.operands[0], node.result
    attrs = node.attrs
    if not any(lo or hi for lo, hi in attrs["padding"]):
        return None
    ones = b.constant(value=1, dtype=x.type.dtype, shape=(1, *x.type.shape[1:-1], 1))
    return [s for _, s in window_slices(b, padded_input(b, ones, attrs["padding"]),
                                        attrs["window"], attrs["strides"],
                                        result.type.shape[1:-1])]


@avg_pool.def_transpose
@single_cotangent
def _(b, node, ct):
    attrs = node.attrs
    valid = valid_slices(b, node)
    if valid is None:
        counts = b.const(float(math.prod(attrs["window"])), ct.type.dtype)
    else:
        counts = valid[0]
        for piece in valid[1:]:
            counts = b.add(counts, piece)
    share = b.div(ct, counts)
    offsets = itertools.product(*map(range, attrs["window"]))
    return scatter_windows(b, [(offset, share) for offset in offsets], node)


@max_pool.def_vjp
@single_cotangent
def _(b, node, ct):
    x, result = node.operands[0], node.result
    attrs = node.attrs
    dtype = x.type.dtype
    valid = valid_slices(b, node)
    padded = padded_input(b, x, attrs["padding"])
    pieces, taken = [], None
    for index, (offset, piece) in enumerate(window_slices(
            b, padded, attrs["window"], attrs["strides"], result.type.shape[1:-1])):
        hit = b.convert(b.eq(piece, result), dtype=dtype)
        if valid is not None:
            hit = b.mul(hit, valid[index])
        if taken is not None:
            # Only the first maximum of a window takes the cotangent.
            hit = b.mul(hit, b.sub(b.const(1, dtype), taken))
        taken = hit if taken is None else b.add(taken, hit)
        pieces.append((offset, b.mul(ct, hit)))
    return scatter_windows(b, pieces, node)
