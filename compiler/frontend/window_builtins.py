"""The Keras-style builtins over windows (`conv`, `conv_transpose`, `max_pool`,
`average_pool`, as in `keras.ops`): they take `padding="valid"|"same"`, and strides,
sizes and dilation rates as an int or a list, compute explicit pads exactly as
TF/Keras do, and emit the `conv`, `max_pool` and `avg_pool` ops (`compiler/ops/`).

Also a compile-time helper the prelude's layers need: `as_tuple` (an int or a list, as
a tuple of a given length, Keras' `standardize_tuple`).
"""

from __future__ import annotations

from .. import dims
from ..ir import Value
from .binding import CallSite
from .values import Signature, kind_name

PADDINGS = ("valid", "same")


def as_ints(c: CallSite, name: str, value, count: int, minimum: int = 1) -> tuple[int, ...]:
    """`value`, an int or a list (or tuple) of `count` ints, as a tuple of `count`."""
    items = tuple(value) if isinstance(value, (list, tuple)) else (value,) * count
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in items)
    if not ints or len(items) != count:
        raise c.fail("E0304", f"`{name}` should be an int or a list of {count} ints, found "
                     f"{kind_name(value)}" + (f" of {len(items)}" if ints else ""), name,
                     help=f"e.g. `{name}=2` or `{name}=[{', '.join(['2'] * count)}]`")
    if any(v < minimum for v in items):
        raise c.fail("E0304", f"`{name}` should be at least {minimum}, found "
                     f"`{list(items)}`", name)
    return items


def padding_mode(c: CallSite, value) -> str:
    if not isinstance(value, str) or value.lower() not in PADDINGS:
        raise c.fail("E0304", f"`padding` should be \"valid\" or \"same\", found "
                     f"{kind_name(value)}" + (f" \"{value}\"" if isinstance(value, str) else ""),
                     "padding", help="\"same\" pads so that the output has "
                     "ceil(input / strides) positions; \"valid\" does not pad")
    return value.lower()


def windowed_input(c: CallSite, x, what: str) -> Value:
    """The input tensor, of rank 3 to 5 (batch, 1 to 3 spatial dims, channels)."""
    x = c.tensor("x", x)
    if x.type.rank not in (3, 4, 5):
        raise c.fail("E0204", f"`{what}` needs an input `[batch, *spatial, channels]` with "
                     f"1 to 3 spatial dims, found `{x.type}`", "x", f"rank {x.type.rank}",
                     help="a 2-d convolution takes `[batch, height, width, channels]`; "
                     "add a channels axis with `reshape(x, [B, H, W, 1])`")
    return x


def same_padding(c: CallSite, sizes, window, strides, dilation) -> tuple:
    """TF's "SAME": `ceil(size / stride)` outputs, the extra padding after, not before.
    A symbolic size gives symbolic pads, as long as they cannot come out negative
    (TF clips them at 0, which a dim cannot say): the dilated window must span a stride."""
    pads = []
    for size, w, s, d in zip(sizes, window, strides, dilation):
        reach = (w - 1) * d + 1
        out = dims.floordiv(dims.add(size, s - 1), s)
        total = dims.sub(dims.add(dims.mul(dims.sub(out, 1), s), reach), size)
        if dims.is_concrete(total):
            total = max(total, 0)
        elif reach < s:
            raise c.fail("E0207", f"padding=\"same\" with strides {s} and a window that "
                         f"spans {reach} needs an integer size, found `{size}`", "x",
                         help="a window that spans at least the stride pads every size "
                         "alike; or give the input an integer size")
        low = dims.floordiv(total, 2)
        pads.append((low, dims.sub(total, low)))
    return tuple(pads)


def explicit_padding(c, mode, x: Value, window, strides, dilation):
    if mode == "valid":
        return ((0, 0),) * len(window)
    return same_padding(c, x.type.shape[1:-1], window, strides, dilation)


def _conv(c: CallSite, x, kernel, strides=1, padding="valid", dilation_rate=1):
    x = windowed_input(c, x, "conv")
    kernel = c.tensor("kernel", kernel)
    count = x.type.rank - 2
    strides = as_ints(c, "strides", strides, count)
    dilation = as_ints(c, "dilation_rate", dilation_rate, count)
    window = kernel.type.shape[:-2]
    pads = explicit_padding(c, padding_mode(c, padding), x, window, strides, dilation)
    # As `keras.ops.conv`: the groups are the input's channels over the kernel's.
    channels, per_group = x.type.shape[-1], kernel.type.shape[-2] if kernel.type.rank >= 2 else 0
    groups = channels // per_group if (isinstance(channels, int) and isinstance(per_group, int)
                                       and per_group and channels % per_group == 0) else 1
    return c.b.emit("conv", x, kernel, strides=strides, padding=pads,
                    rhs_dilation=dilation, feature_group_count=groups)


def transpose_padding(window: int, stride: int, dilation: int, mode: str,
                      output_padding: int | None) -> tuple[int, int]:
    """Keras' `_convert_conv_transpose_padding_args_from_keras_to_jax`, one dim."""
    reach = (window - 1) * dilation + 1
    if mode == "valid":
        extra = max(reach, stride) - reach if output_padding is None else output_padding
        return reach - 1, reach - 1 + extra
    total = (stride + reach - 2 if output_padding is None
             else reach + reach % 2 - 2 + output_padding)
    low = min(total // 2 + total % 2, reach - 1)
    return low, total - low


def _conv_transpose(c: CallSite, x, kernel, strides=1, padding="valid", output_padding=None,
                    dilation_rate=1):
    """The gradient of a strided `conv` as a layer: the input spread `strides` apart and
    convolved with the kernel (Keras' layout `[*window, out, in]`) reversed."""
    x = windowed_input(c, x, "conv_transpose")
    kernel = c.tensor("kernel", kernel)
    count = x.type.rank - 2
    strides = as_ints(c, "strides", strides, count)
    dilation = as_ints(c, "dilation_rate", dilation_rate, count)
    extra = ((None,) * count if output_padding is None
             else as_ints(c, "output_padding", output_padding, count, minimum=0))
    mode = padding_mode(c, padding)
    if kernel.type.rank != x.type.rank:
        raise c.fail("E0204", f"`conv_transpose` kernel `{kernel.type}` needs rank "
                     f"{x.type.rank} for the input `{x.type}`", "kernel",
                     help="a kernel is `[*window, out_channels, in_channels]`")
    window = kernel.type.shape[:-2]
    pads = tuple(transpose_padding(w, s, d, mode, e)
                 for w, s, d, e in zip(window, strides, dilation, extra))
    b = c.b
    swapped = b.transpose(kernel, perm=(*range(count), count + 1, count))
    flipped = b.reverse(swapped, axes=tuple(range(count)))
    return b.emit("conv", x, flipped, padding=pads, lhs_dilation=strides,
                  rhs_dilation=dilation)


def _pool(op: str, what: str):
    def impl(c: CallSite, x, pool_size, strides=None, padding="valid"):
        x = windowed_input(c, x, what)
        count = x.type.rank - 2
        window = as_ints(c, "pool_size", pool_size, count)
        strides = window if strides is None else as_ints(c, "strides", strides, count)
        pads = explicit_padding(c, padding_mode(c, padding), x, window, strides,
                                (1,) * count)
        return c.b.emit(op, x, window=window, strides=strides, padding=pads)
    return impl


def _as_tuple(c: CallSite, value, count):
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 8:
        raise c.fail("E0304", f"`count` should be an int from 1 to 8, found "
                     f"{kind_name(count)}", "count")
    return as_ints(c, "value", value, count, minimum=0)


WINDOW_FUNCTIONS = (
    ("conv", Signature.of("x", "kernel", strides=1, padding="valid", dilation_rate=1),
     _conv, "N-d convolution, channels last, as `keras.ops.conv`"),
    ("conv_transpose", Signature.of("x", "kernel", strides=1, padding="valid",
                                    output_padding=None, dilation_rate=1),
     _conv_transpose, "transposed convolution, as `keras.ops.conv_transpose`"),
    ("max_pool", Signature.of("x", "pool_size", strides=None, padding="valid"),
     _pool("max_pool", "max_pool"), "max pooling, as `keras.ops.max_pool`"),
    ("average_pool", Signature.of("x", "pool_size", strides=None, padding="valid"),
     _pool("avg_pool", "average_pool"), "average pooling, as `keras.ops.average_pool`"),
    ("as_tuple", Signature.of("value", "count"), _as_tuple,
     "an int repeated `count` times, or a list of `count` ints, as a tuple"),
)
