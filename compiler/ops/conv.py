"""Convolution: `conv` over 1 to 3 spatial dims, channels last as in Keras (`x` is
`[N, *spatial, C_in]`, `kernel` `[*window, C_in / groups, C_out]`), with strides,
explicit (low, high) padding (negative crops), input (`lhs`) and kernel (`rhs`)
dilation and feature groups, lowered to one `lax.conv_general_dilated`.

Law: `conv` is bilinear. Its VJP is two more `conv`s (JAX's transpose rules, in this
one layout): the input's gradient convolves the cotangent with the reversed kernel,
its in/out channels swapped; the kernel's convolves the input with the cotangent,
batch and channels exchanged. So second derivatives are convolutions too.
"""

from __future__ import annotations

import itertools

from .. import dims
from ..ir import TensorType, format_shape
from .common import require_float, require_rank, require_same_dtype, single_cotangent
from .registry import Attr, ShapeError, define

FAMILY = "conv"

SPATIAL_RANKS = (3, 4, 5)  # 1 to 3 spatial dims, between batch and channels


def dilated_size(size, dilation: int):
    """The extent of `size` elements with `dilation - 1` zeros between neighbours; `size`
    is a dim (a symbol stands for a size >= 1)."""
    if dims.is_concrete(size):
        return 0 if size == 0 else (size - 1) * dilation + 1
    return dims.add(dims.mul(dims.sub(size, 1), dilation), 1)


def window_output_size(size, window, stride: int, low, high, lhs_dilation: int = 1,
                       rhs_dilation: int = 1):
    """How many windows of `window` (dilated by `rhs_dilation`) fit, `stride` apart,
    in `size` elements dilated by `lhs_dilation` and padded by `low` and `high`; 0 if
    none does. Sizes, windows and pads are dims: a symbolic size gives a dim such as
    `(H - 3) / 2 + 1`. The one place output sizes of convolutions and pooling are
    computed."""
    extent = dims.add(dims.add(dilated_size(size, lhs_dilation), low), high)
    reach = dilated_size(window, rhs_dilation)
    fits = dims.sub(extent, reach)
    if dims.is_concrete(fits) and fits < 0:
        return 0
    return dims.add(dims.floordiv(fits, stride), 1)


def window_attr(op_name: str, attrs: dict, name: str, count: int, default,
                minimum: int | None = 1) -> tuple:
    """Attribute `name`, one entry per spatial dim (`default` for None), stored back."""
    value = attrs[name]
    value = (default,) * count if value is None else tuple(value)
    if len(value) != count:
        raise ShapeError(f"`{op_name}` `{name}` has {len(value)} entries for {count} "
                         f"spatial dims", code="E0304", operand=0)
    if minimum is not None and any(v < minimum for v in value):
        raise ShapeError(f"`{op_name}` `{name}` `{list(value)}` has an entry below "
                         f"{minimum}", code="E0304", operand=0)
    attrs[name] = value
    return value


def output_spatial(op_name: str, spatial, window, strides, padding, lhs_dilation=None,
                   rhs_dilation=None) -> tuple:
    ones = (1,) * len(spatial)
    sizes = tuple(window_output_size(s, w, st, lo, hi, ld, rd) for s, w, st, (lo, hi), ld, rd
                  in zip(spatial, window, strides, padding, lhs_dilation or ones,
                         rhs_dilation or ones))
    if 0 in sizes:
        raise ShapeError(f"`{op_name}` window `{list(window)}` does not fit the input's "
                         f"spatial dims `{list(spatial)}` (padded `{list(padding)}`)",
                         code="E0207", operand=0,
                         help="use a smaller window, or padding=\"same\"")
    return sizes


conv = define("conv", ("x", "kernel"), family=FAMILY,
              internal="`.nn` reaches it through the Keras-style builtins `conv` and "
                       "`conv_transpose`, which compute its padding",
              attrs={"strides": Attr("ints", None, optional=True),
                     "padding": Attr("dim_pairs", None, optional=True),
                     "lhs_dilation": Attr("ints", None, optional=True),
                     "rhs_dilation": Attr("ints", None, optional=True),
                     "feature_group_count": Attr("int", 1)}, doc="""
N-d convolution (cross-correlation, as Keras), channels last: `x` `[N, *spatial, C_in]`,
`kernel` `[*window, C_in / feature_group_count, C_out]`. `padding` holds a (low, high)
pair of dims per spatial dim; a negative one crops. Spatial dims, and so pads and the
kernel's window (in a gradient), may be symbolic. `lhs_dilation` spreads the input (a
transposed convolution), `rhs_dilation` the kernel (atrous). None means 1s and 0s.

    .nn:  y = conv(x, k, strides=2, padding="same")  # x: f32[N, 8, 8, 3], k: f32[3, 3, 3, 4]
    IR:   %2 = conv %0, %1 {feature_group_count = 1, lhs_dilation = [1, 1], padding = [[0, 1], [0, 1]], rhs_dilation = [1, 1], strides = [2, 2]} : f32[N, 4, 4, 4]
""")


@conv.def_infer
def _(attrs, x, kernel):
    dtype = require_same_dtype("conv", (x, kernel))
    require_float("conv", x)
    require_rank("conv", x, SPATIAL_RANKS, what="an input")
    if kernel.rank != x.rank:
        raise ShapeError(f"`conv` kernel `{kernel}` needs rank {x.rank} for the input "
                         f"`{x}`", code="E0204", operand=1,
                         help="a kernel is `[*window, in_channels, out_channels]`")
    count = x.rank - 2
    spatial = x.shape[1:-1]
    strides = window_attr("conv", attrs, "strides", count, 1)
    padding = window_attr("conv", attrs, "padding", count, (0, 0), minimum=None)
    lhs = window_attr("conv", attrs, "lhs_dilation", count, 1)
    rhs = window_attr("conv", attrs, "rhs_dilation", count, 1)
    groups = attrs["feature_group_count"]
    if groups < 1:
        raise ShapeError(f"`conv` feature_group_count `{groups}` is below 1", code="E0304",
                         operand=1)
    in_channels, (per_group, out_channels) = x.shape[-1], kernel.shape[-2:]
    window = kernel.shape[:-2]
    grouped = in_channels == per_group if groups == 1 else (
        isinstance(in_channels, int) and isinstance(per_group, int)
        and in_channels == per_group * groups)
    if not grouped or (groups > 1 and (not isinstance(out_channels, int)
                                       or out_channels % groups)):
        raise ShapeError(f"`conv` kernel `{format_shape(kernel.shape)}` does not fit "
                         f"input channels `{in_channels}` in {groups} group(s)",
                         code="E0203", operand=1, label=f"`{per_group}` vs `{in_channels}`",
                         help="the kernel's second-to-last dim is the input's channels "
                              "divided by the groups; its last divides by the groups")
    sizes = output_spatial("conv", spatial, window, strides, padding, lhs, rhs)
    return TensorType(dtype, (x.shape[0], *sizes, out_channels))


def layout(rank: int) -> tuple[str, str, str]:
    """`lax` dimension numbers of the channels-last layout: `NHWC`, `HWIO`, `NHWC`."""
    spatial = "DHW"[3 - (rank - 2):]
    return f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"


@conv.def_jax
def _(ctx, x, kernel, strides, padding, lhs_dilation, rhs_dilation, feature_group_count):
    numbers = ctx.lax.conv_dimension_numbers(x.shape, kernel.shape, layout(x.ndim))
    padding = tuple((ctx.dim(lo), ctx.dim(hi)) for lo, hi in padding)
    if not all(map(dims.is_concrete, itertools.chain(*padding))):
        # Exported with symbolic pads, which `conv_general_dilated` refuses: the
        # input is dilated and padded (or cropped) by `lax.pad` first.
        x = ctx.lax.pad(x, ctx.lax.full((), 0, x.dtype),
                        ((0, 0, 0), *((lo, hi, d - 1) for (lo, hi), d
                                      in zip(padding, lhs_dilation)), (0, 0, 0)))
        padding, lhs_dilation = ((0, 0),) * len(padding), (1,) * len(padding)
    return ctx.lax.conv_general_dilated(x, kernel, strides, padding, lhs_dilation,
                                        rhs_dilation, numbers, feature_group_count)


def numpy_spread(np, x, factors, first_axis: int):
    """`x` with `factor - 1` zeros between neighbours along axes `first_axis`, ..."""
    if all(f == 1 for f in factors):
        return x
    axes = range(first_axis, first_axis + len(factors))
    shape = list(x.shape)
    for axis, factor in zip(axes, factors):
        shape[axis] = dilated_size(shape[axis], factor)
    spread = np.zeros(shape, x.dtype)
    index = [slice(None)] * x.ndim
    for axis, factor in zip(axes, factors):
        index[axis] = slice(None, None, factor)
    spread[tuple(index)] = x
    return spread


def numpy_pairs(ctx, pairs) -> tuple:
    """(low, high) pairs of dims as ints, for this call's sizes."""
    return tuple(ctx.shape(pair) for pair in pairs)


def numpy_pad_spatial(np, x, padding, value=0):
    """`x` padded by `padding` on its spatial axes; a negative pad crops."""
    grow = [(0, 0)] + [(max(lo, 0), max(hi, 0)) for lo, hi in padding] + [(0, 0)]
    padded = np.pad(x, grow, constant_values=value)
    crop = tuple([slice(None)] + [slice(max(-lo, 0), padded.shape[i + 1] - max(-hi, 0))
                                  for i, (lo, hi) in enumerate(padding)] + [slice(None)])
    return padded[crop]


def numpy_windows(x, window, strides, out_sizes, dilation=None):
    """(offset, strided slice) for each offset in the window: the slice holds, for every
    output position, the input element at that offset of its window."""
    dilation = dilation or (1,) * len(window)
    for offset in itertools.product(*map(range, window)):
        index = [slice(None)]
        for o, d, s, n in zip(offset, dilation, strides, out_sizes):
            start = o * d
            index.append(slice(start, start + (n - 1) * s + 1, s))
        yield offset, x[tuple(index)]


@conv.def_numpy
def _(ctx, x, kernel, strides, padding, lhs_dilation, rhs_dilation, feature_group_count):
    """A sum, over the kernel's window offsets, of the strided input slice at that offset
    times the kernel's channel matrix there, group by group."""
    np = ctx.np
    padded = numpy_pad_spatial(np, numpy_spread(np, x, lhs_dilation, 1),
                               numpy_pairs(ctx, padding))
    out_shape = ctx.result_shape()
    out = np.zeros(out_shape, np.result_type(x, kernel))
    per_group = kernel.shape[-2]
    out_per_group = kernel.shape[-1] // feature_group_count
    for offset, window in numpy_windows(padded, kernel.shape[:-2], strides, out_shape[1:-1],
                                        rhs_dilation):
        for g in range(feature_group_count):
            ins = slice(g * per_group, (g + 1) * per_group)
            outs = slice(g * out_per_group, (g + 1) * out_per_group)
            out[..., outs] += window[..., ins] @ kernel[offset][:, outs]
    return out


# Emitted code: TF and torch pad only at the ends and take no input dilation, so the
# rules spread the input with zeros themselves, pad (or crop), and convolve "valid".

TF_SPREAD = '''def _dslc_tf_spread(x, factors, first_axis):
    """`x` with `factor - 1` zeros between neighbours along axes `first_axis`, ..."""
    for axis, factor in enumerate(factors, start=first_axis):
        if factor > 1:
            size = x.shape[axis]
            gaps = [[0, 0]] * (x.shape.rank + 1)
            gaps[axis + 1] = [0, factor - 1]
            spread = tf.pad(tf.expand_dims(x, axis + 1), gaps)
            shape = tf.shape(x)
            merged = tf.concat([shape[:axis], [size * factor], shape[axis + 1:]], 0)
            index = (slice(None),) * axis + (slice(0, (size - 1) * factor + 1),)
            x = tf.reshape(spread, merged)[index]
    return x
'''

TORCH_SPREAD = '''def _dslc_torch_spread(x, factors, first_axis):
    """`x` with `factor - 1` zeros between neighbours along axes `first_axis`, ..."""
    if all(factor == 1 for factor in factors):
        return x
    shape = list(x.shape)
    index = [slice(None)] * x.dim()
    for axis, factor in enumerate(factors, start=first_axis):
        shape[axis] = (shape[axis] - 1) * factor + 1
        index[axis] = slice(None, None, factor)
    spread = x.new_zeros(shape)
    spread[tuple(index)] = x
    return spread
'''


TF_PAD = '''def _dslc_tf_pad(x, pads, value):
    """`x` padded by (low, high) on its spatial axes, pads known only when it runs: a
    positive pad adds `value`s, a negative one crops."""
    grow = [[0, 0]] + [[tf.maximum(lo, 0), tf.maximum(hi, 0)] for lo, hi in pads] + [[0, 0]]
    x = tf.pad(x, grow, constant_values=value)
    begin = tf.stack([0] + [tf.maximum(-lo, 0) for lo, _ in pads] + [0])
    end = tf.stack([0] + [tf.maximum(-hi, 0) for _, hi in pads] + [0])
    return tf.slice(x, begin, tf.shape(x) - begin - end)
'''


def pairs_source(ctx, padding) -> str:
    return "(" + ", ".join(f"({ctx.dim(lo)}, {ctx.dim(hi)})" for lo, hi in padding) + ",)"


def tf_pad_spatial(ctx, x: str, shape, padding, value: str = "0") -> str:
    """Source of `x` (of IR `shape`) padded on its spatial axes, negative pads cropping;
    a symbolic pad, or a crop of a symbolic dim, is left to `_dslc_tf_pad` at run time."""
    concrete = all(map(dims.is_concrete, itertools.chain(*padding)))
    if not concrete or (any(min(pair) < 0 for pair in padding)
                        and not all(map(dims.is_concrete, shape[1:-1]))):
        return (f"{ctx.helper('_dslc_tf_pad', TF_PAD)}({x}, {pairs_source(ctx, padding)}, "
                f"{value})")
    grow = ((0, 0),) + tuple((max(lo, 0), max(hi, 0)) for lo, hi in padding) + ((0, 0),)
    if any(lo or hi for lo, hi in grow):
        x = f"tf.pad({x}, {ctx.literal(grow)}, constant_values={value})"
    return crop_spatial(ctx, x, shape, padding)


def crop_spatial(ctx, x: str, shape, padding) -> str:
    if all(lo >= 0 and hi >= 0 for lo, hi in padding):
        return x
    parts = [":"] + [f"{max(-lo, 0)}:{size + max(lo, 0) + max(hi, 0) - max(-hi, 0)}"
                     for size, (lo, hi) in zip(shape[1:-1], padding)] + [":"]
    return f"{x}[{', '.join(parts)}]"


def spread_shape(shape, factors):
    return (shape[0], *(dilated_size(s, f) for s, f in zip(shape[1:-1], factors)), shape[-1])


@conv.def_tf
def _(ctx, x, kernel, strides, padding, lhs_dilation, rhs_dilation, feature_group_count):
    if any(f > 1 for f in lhs_dilation):
        x = f"{ctx.helper('_dslc_tf_spread', TF_SPREAD)}({x}, {ctx.literal(lhs_dilation)}, 1)"
    x = tf_pad_spatial(ctx, x, spread_shape(ctx.operand_types[0].shape, lhs_dilation),
                       padding)
    if any(s > 1 for s in strides) and any(d > 1 for d in rhs_dilation):
        # `tf.nn.convolution` refuses strides and dilations together: dilate the kernel.
        kernel = (f"{ctx.helper('_dslc_tf_spread', TF_SPREAD)}({kernel}, "
                  f"{ctx.literal(rhs_dilation)}, 0)")
        rhs_dilation = (1,) * len(rhs_dilation)
    return (f"tf.nn.convolution({x}, {kernel}, strides={ctx.literal(strides)}, "
            f"padding=\"VALID\", dilations={ctx.literal(rhs_dilation)})")


def channels_first(rank: int) -> tuple[int, ...]:
    return (0, rank - 1, *range(1, rank - 1))


def channels_last(rank: int) -> tuple[int, ...]:
    return (0, *range(2, rank), 1)


def torch_pad_spatial(ctx, x: str, padding, value: str = "0.0") -> str:
    """Source of channels-first `x` padded on its spatial axes (`F.pad` crops when
    negative); F.pad lists the last axis first."""
    if not any(lo or hi for lo, hi in padding):
        return x
    pads = tuple(p for lo_hi in reversed(padding) for p in lo_hi)
    if all(map(dims.is_concrete, pads)):
        return f"torch.nn.functional.pad({x}, {ctx.literal(pads)}, value={value})"
    return f"torch.nn.functional.pad({x}, ({', '.join(map(ctx.dim, pads))}), value={value})"


@conv.def_torch
def _(ctx, x, kernel, strides, padding, lhs_dilation, rhs_dilation, feature_group_count):
    rank = ctx.operand_types[0].rank
    x = f"torch.permute({x}, {ctx.literal(channels_first(rank))})"
    if any(f > 1 for f in lhs_dilation):
        x = (f"{ctx.helper('_dslc_torch_spread', TORCH_SPREAD)}({x}, "
             f"{ctx.literal(lhs_dilation)}, 2)")
    x = torch_pad_spatial(ctx, x, padding)
    weight = f"torch.permute({kernel}, {ctx.literal((rank - 1, rank - 2, *range(rank - 2)))})"
    out = (f"torch.nn.functional.conv{rank - 2}d({x}, {weight}, "
           f"stride={ctx.literal(strides)}, dilation={ctx.literal(rhs_dilation)}, "
           f"groups={feature_group_count})")
    return f"torch.permute({out}, {ctx.literal(channels_last(rank))})"


# The VJP: JAX's `_conv_general_dilated_transpose_lhs/rhs`, in the channels-last layout.

def lhs_gradient_padding(in_sizes, window, strides, out_sizes, padding, lhs_dilation,
                         rhs_dilation):
    pads = []
    for size, w, s, n, (lo, _), ld, rd in zip(in_sizes, window, strides, out_sizes, padding,
                                               lhs_dilation, rhs_dilation):
        before = dims.sub(dims.sub(dilated_size(w, rd), lo), 1)
        reach = dims.add(dilated_size(size, ld), dilated_size(w, rd))
        after = dims.sub(dims.sub(dims.sub(reach, 1), dilated_size(n, s)), before)
        pads.append((before, after))
    return tuple(pads)


def rhs_gradient_padding(in_sizes, window, strides, out_sizes, padding, lhs_dilation,
                         rhs_dilation):
    pads = []
    for size, w, s, n, (lo, _), ld, rd in zip(in_sizes, window, strides, out_sizes, padding,
                                               lhs_dilation, rhs_dilation):
        spare = dims.sub(dilated_size(n, s), dilated_size(size, ld))
        pads.append((lo, dims.sub(dims.sub(dims.add(spare, dilated_size(w, rd)), lo), 1)))
    return tuple(pads)


def swapped_kernel(b, kernel, groups: int):
    """`[*window, I, O]` -> `[*window, O / groups, groups * I]`, the kernel of the
    transposed convolution: group g's outputs become its inputs."""
    *window, per_group, out_channels = kernel.type.shape
    count = len(window)
    split = b.reshape(kernel, shape=(*window, per_group, groups, out_channels // groups))
    swapped = b.transpose(split, perm=(*range(count), count + 2, count + 1, count))
    return b.reshape(swapped, shape=(*window, out_channels // groups, groups * per_group))


def channel_slice(b, value, start: int, stop: int):
    shape = value.type.shape
    return b.slice(value, start=(0,) * (len(shape) - 1) + (start,),
                   limit=shape[:-1] + (stop,))


@conv.def_vjp
@single_cotangent
def _(b, node, ct):
    x, kernel = node.operands
    attrs = node.attrs
    rank, groups = x.type.rank, attrs["feature_group_count"]
    count = rank - 2
    window = kernel.type.shape[:-2]
    sizes = (x.type.shape[1:-1], window, attrs["strides"], ct.type.shape[1:-1],
             attrs["padding"], attrs["lhs_dilation"], attrs["rhs_dilation"])
    flipped = b.reverse(swapped_kernel(b, kernel, groups), axes=tuple(range(count)))
    grad_x = b.conv(ct, flipped, strides=attrs["lhs_dilation"],
                    padding=lhs_gradient_padding(*sizes), lhs_dilation=attrs["strides"],
                    rhs_dilation=attrs["rhs_dilation"], feature_group_count=groups)
    # The kernel's gradient contracts over the batch: the input with batch and channels
    # exchanged, convolved with the cotangent as its kernel; one conv per group.
    batch_last = (rank - 1, *range(1, rank - 1), 0)
    per_group, out_per_group = kernel.type.shape[-2], kernel.type.shape[-1] // groups
    pieces = []
    for g in range(groups):
        xg = x if groups == 1 else channel_slice(b, x, g * per_group, (g + 1) * per_group)
        cg = ct if groups == 1 else channel_slice(b, ct, g * out_per_group,
                                                  (g + 1) * out_per_group)
        grad = b.conv(b.transpose(xg, perm=batch_last), b.transpose(cg, perm=(
            *range(1, rank - 1), 0, rank - 1)), strides=attrs["rhs_dilation"],
            padding=rhs_gradient_padding(*sizes), lhs_dilation=attrs["lhs_dilation"],
            rhs_dilation=attrs["strides"])
        pieces.append(b.transpose(grad, perm=(*range(1, rank - 1), 0, rank - 1)))
    grad_kernel = pieces[0] if groups == 1 else b.concat(*pieces, axis=rank - 1)
    return grad_x, grad_kernel
