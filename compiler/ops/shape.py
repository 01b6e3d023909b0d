"""Layout ops: they move, copy or drop elements and never combine them arithmetically.

Law: each is linear in its operands, so each declares a *transpose* (reshape back,
inverse permutation, unbroadcast, slice <-> zero pad, concat -> slices) instead of a
VJP. Shape attributes may hold symbolic dims (`compiler/dims.py`); element counts
compare as normal forms, and slicing and padding keep a symbolic dim only whole.
"""

from __future__ import annotations

from .. import dims
from ..ir import TensorType, format_shape
from .common import (broadcast_dim, check_shape_attr, normalize_axes, normalize_axis,
                     require_same_dtype, single_cotangent)
from .registry import Attr, ShapeError, Surface, define

FAMILY = "shape"


# reshape

def resolve_reshape(source, target) -> tuple:
    """`target` with its `-1` (if any) worked out, or E0210 when the element counts
    of `source` and `target` cannot be shown equal."""
    if target.count(-1) > 1:
        raise ShapeError(f"`reshape` shape `{format_shape(target)}` has more than one `-1`",
                         code="E0210")
    have = dims.product(source)
    want = dims.product(d for d in target if d != -1)
    cannot = (f"cannot reshape `{format_shape(source)}` to `{format_shape(target)}`")
    if -1 not in target:
        if have == want:
            return tuple(target)
        raise ShapeError(cannot + f": element counts differ (`{dims.format_dim(have)}` "
                         f"and `{dims.format_dim(want)}`)", code="E0210", operand=0,
                         help="one dimension may be `-1` to infer it")
    if want != 0:
        quotient = dims.floordiv(have, want)
        if dims.mul(quotient, want) == have:
            return tuple(quotient if d == -1 else d for d in target)
    raise ShapeError(cannot + ": `-1` cannot be inferred", code="E0210", operand=0,
                     help="`-1` stands for the element count divided by the other dims' "
                     "product, which must divide it exactly")


reshape = define("reshape", ("x",), family=FAMILY, attrs={"shape": Attr("dims")},
                 surface=Surface("reshape"),
                 traits=("shape", "linear"), doc="""
The elements of `x` in row-major order, in `shape` (symbols allowed; one dim may be
`-1`, which the rule resolves and stores).

    .nn:  f = reshape(x, [B, -1])  # x: f32[B, 28, 28]
    IR:   %1 = reshape %0 {shape = ["B", 784]} : f32[B, 784]
""")


@reshape.def_infer
def _(attrs, x):
    check_shape_attr("reshape", tuple(attrs["shape"]), allow_inferred=True, code="E0210")
    attrs["shape"] = resolve_reshape(x.shape, tuple(attrs["shape"]))
    return x.with_shape(attrs["shape"])


reshape.def_jax(lambda ctx, x, shape: ctx.lax.reshape(x, ctx.result_shape()))
reshape.def_numpy(lambda ctx, x, shape: x.reshape(ctx.result_shape()))
reshape.def_tf(lambda ctx, x, shape: f"tf.reshape({x}, {ctx.result_shape()})")
reshape.def_torch(lambda ctx, x, shape: f"torch.reshape({x}, {ctx.result_shape()})")
reshape.def_transpose(single_cotangent(
    lambda b, node, ct: b.reshape(ct, shape=node.operands[0].type.shape)))


# transpose

transpose = define("transpose", ("x",), family=FAMILY, traits=("shape", "linear"),
                   surface=Surface("transpose"),
                   attrs={"perm": Attr("ints", None, optional=True)}, doc="""
Permutes the axes: `result.shape[i] == x.shape[perm[i]]`; `perm` None reverses them.

    .nn:  wt = transpose(w)  # w: f32[N, 3]
    IR:   %1 = transpose %0 {perm = [1, 0]} : f32[3, N]
""")


@transpose.def_infer
def _(attrs, x):
    perm = attrs["perm"]
    perm = tuple(reversed(range(x.rank))) if perm is None else tuple(perm)
    if sorted(perm) != list(range(x.rank)):
        raise ShapeError(f"`transpose` permutation `{list(perm)}` does not permute the "
                         f"axes of `{x}`", code="E0208", operand=0,
                         help=f"give each of the axes 0 to {x.rank - 1} once")
    attrs["perm"] = perm
    return x.with_shape(x.shape[p] for p in perm)


transpose.def_jax(lambda ctx, x, perm: ctx.lax.transpose(x, perm))
transpose.def_numpy(lambda ctx, x, perm: ctx.np.transpose(x, perm))
transpose.def_tf(lambda ctx, x, perm: f"tf.transpose({x}, {ctx.literal(perm)})")
transpose.def_torch(lambda ctx, x, perm: f"torch.permute({x}, {ctx.literal(perm)})")


def inverse_permutation(perm) -> tuple[int, ...]:
    return tuple(sorted(range(len(perm)), key=perm.__getitem__))


transpose.def_transpose(single_cotangent(
    lambda b, node, ct: b.transpose(ct, perm=inverse_permutation(node.attrs["perm"]))))


# reverse

reverse = define("reverse", ("x",), family=FAMILY, traits=("shape", "linear"),
                 surface=Surface("flip", params=("x", ("axis", "axes"))),
                 attrs={"axes": Attr("ints", None, optional=True)}, doc="""
`x` with the order of its elements reversed along `axes` (None: every axis), as
`keras.ops.flip`; the convolution's gradient reverses its kernel's window with it.

    .nn:  r = flip(x, axis=1)  # x: f32[N, 3]
    IR:   %1 = reverse %0 {axes = [1]} : f32[N, 3]
""")


@reverse.def_infer
def _(attrs, x):
    attrs["axes"] = normalize_axes("reverse", attrs["axes"], x)
    return x


reverse.def_jax(lambda ctx, x, axes: ctx.lax.rev(x, axes))
reverse.def_numpy(lambda ctx, x, axes: ctx.np.flip(x, axes))
reverse.def_tf(lambda ctx, x, axes: f"tf.reverse({x}, {ctx.literal(axes)})" if axes else x)
reverse.def_torch(lambda ctx, x, axes: f"torch.flip({x}, {ctx.literal(axes)})" if axes else x)
reverse.def_transpose(single_cotangent(
    lambda b, node, ct: b.reverse(ct, axes=node.attrs["axes"])))


# broadcast

broadcast = define("broadcast", ("x",), family=FAMILY, attrs={"shape": Attr("dims")},
                   surface=Surface("broadcast_to"),
                   traits=("shape", "linear"), doc="""
`x` repeated to `shape` (numpy `broadcast_to`: trailing axes aligned, a dim of 1
stretches to any size, a symbol only matches itself).

    .nn:  y = broadcast_to(b, shape(x))  # b: f32[4], x: f32[N, 4]
    IR:   %1 = broadcast %0 {shape = ["N", 4]} : f32[N, 4]
""")


@broadcast.def_infer
def _(attrs, x):
    target = tuple(attrs["shape"])
    check_shape_attr("broadcast", target)
    if len(target) < x.rank:
        raise ShapeError(f"`broadcast` cannot lower the rank of `{x}` to "
                         f"`{format_shape(target)}`", code="E0204", operand=0)
    aligned = target[len(target) - x.rank:]
    if any(broadcast_dim(t, d) != t for d, t in zip(x.shape, aligned)):
        raise ShapeError(f"shapes `{format_shape(x.shape)}` and `{format_shape(target)}` "
                         f"cannot be broadcast together", code="E0202", operand=0,
                         help="each dimension must equal the target's or be 1")
    attrs["shape"] = target
    return x.with_shape(target)


broadcast.def_jax(lambda ctx, x, shape: ctx.broadcast_to(x, ctx.result_shape()))
broadcast.def_numpy(lambda ctx, x, shape: ctx.np.broadcast_to(x, ctx.result_shape()))
broadcast.def_tf(lambda ctx, x, shape: f"tf.broadcast_to({x}, {ctx.result_shape()})")
broadcast.def_torch(lambda ctx, x, shape: f"torch.broadcast_to({x}, {ctx.result_shape()})")
broadcast.def_transpose(single_cotangent(
    lambda b, node, ct: b.unbroadcast(ct, node.operands[0].type)))


# concat

concat = define("concat", ("xs*",), family=FAMILY, attrs={"axis": Attr("int", -1)},
                surface=Surface("concat"),
                traits=("shape", "linear"), doc="""
The operands joined along `axis`; all other dims must agree, and the joined dims
must be integers (a sum of symbols has no name).

    .nn:  h = concat([a, b], axis=1)  # a: f32[N, 3], b: f32[N, 4]
    IR:   %2 = concat %0, %1 {axis = 1} : f32[N, 7]
""")


_CONCAT_HELP = ("the tensors joined must have the same rank and the same dims except along "
                "`axis`: reshape one, or pick the axis where they differ")


@concat.def_infer
def _(attrs, *xs):
    if not xs:
        raise ShapeError("`concat` needs at least one operand", code="E0204")
    dtype = require_same_dtype("concat", xs)
    first = xs[0]
    axis = normalize_axis("concat", attrs["axis"], first)
    for index, x in enumerate(xs[1:], start=1):
        if x.rank != first.rank:
            raise ShapeError(f"`concat` operands have different ranks: `{first}` and `{x}`",
                             code="E0204", operand=index, help=_CONCAT_HELP)
        if any(a != b for i, (a, b) in enumerate(zip(first.shape, x.shape)) if i != axis):
            raise ShapeError(f"`concat` operands differ outside axis {axis}: "
                             f"`{first}` and `{x}`", code="E0202", operand=index,
                             help=_CONCAT_HELP)
    joined = [x.shape[axis] for x in xs]
    if len(xs) > 1 and not all(dims.is_concrete(d) for d in joined):
        raise ShapeError(f"`concat` along axis {axis} needs integer sizes, got "
                         + ", ".join(f"`{x}`" for x in xs), code="E0207")
    attrs["axis"] = axis
    size = sum(joined) if len(xs) > 1 else joined[0]
    return TensorType(dtype, first.shape[:axis] + (size,) + first.shape[axis + 1:])


concat.def_jax(lambda ctx, *xs, axis: ctx.lax.concatenate(xs, axis))
concat.def_numpy(lambda ctx, *xs, axis: ctx.np.concatenate(xs, axis))
concat.def_tf(lambda ctx, *xs, axis: f"tf.concat([{', '.join(xs)}], {ctx.literal(axis)})")
concat.def_torch(lambda ctx, *xs, axis: f"torch.cat([{', '.join(xs)}], {ctx.literal(axis)})")


@concat.def_transpose
@single_cotangent
def _(b, node, ct):
    if len(node.operands) == 1:
        return ct
    axis = node.attrs["axis"]
    pieces, offset = [], 0
    for x in node.operands:
        width = x.type.shape[axis]
        start = tuple(offset if i == axis else 0 for i in range(ct.type.rank))
        limit = tuple(offset + width if i == axis else d for i, d in enumerate(ct.type.shape))
        pieces.append(b.slice(ct, start=start, limit=limit))
        offset += width
    return tuple(pieces)


# slice and pad (each other's transpose)

def strided_extent(size, interior: int):
    """How many elements `size` elements (a dim) spread with `interior` gaps take."""
    if dims.is_concrete(size):
        return size + max(size - 1, 0) * interior
    return dims.add(size, dims.mul(dims.sub(size, 1), interior))


def index_source(ctx, x: str, shape, start, limit, stride) -> str:
    """Source of `x[start:limit:stride, ...]` for a tensor of IR `shape`, with `:` for
    an axis kept whole."""
    parts = []
    for dim, lo, hi, step in zip(shape, start, limit, stride):
        if (lo, hi, step) == (0, dim, 1):
            parts.append(":")
        else:
            step_part = f":{ctx.literal(step)}" if step != 1 else ""
            parts.append(f"{ctx.dim(lo)}:{ctx.dim(hi)}{step_part}")
    return f"{x}[{', '.join(parts)}]" if parts else x


slice_ = define("slice", ("x",), family=FAMILY, traits=("shape", "linear"),
                internal="`.nn` indexing makes it: `x[:, 1:3]`",
                attrs={"start": Attr("dims"), "limit": Attr("dims"),
                       "stride": Attr("ints", None, optional=True)}, doc="""
`x[start:limit:stride]` on every axis, static (`stride` None means 1s). A symbolic
dim is kept whole (start 0, limit the symbol, stride 1) or sliced by symbolic bounds
(a gradient's, `H - 1`), never by integer ones.

    .nn:  h = x[:, 1:3]  # x: f32[N, 4]
    IR:   %1 = slice %0 {limit = ["N", 3], start = [0, 1], stride = [1, 1]} : f32[N, 2]
""")


@slice_.def_infer
def _(attrs, x):
    start, limit = tuple(attrs["start"]), tuple(attrs["limit"])
    stride = (1,) * x.rank if attrs["stride"] is None else tuple(attrs["stride"])
    if not len(start) == len(limit) == len(stride) == x.rank:
        raise ShapeError(f"`slice` of `{x}` needs {x.rank} start, limit and stride values, "
                         f"got {len(start)}, {len(limit)} and {len(stride)}",
                         code="E0204", operand=0)
    shape = []
    for axis, (dim, lo, hi, step) in enumerate(zip(x.shape, start, limit, stride)):
        bounds = (lo, hi)
        if dims.is_symbolic(dim) and (lo, hi, step) == (0, dim, 1):
            shape.append(dim)
        elif (dims.is_concrete(dim) and all(map(dims.is_concrete, bounds)) and step >= 1
              and 0 <= lo <= hi <= dim):
            shape.append(-(-(hi - lo) // step))
        elif dims.is_symbolic(dim) and dims.is_symbolic(hi) and step >= 1:
            shape.append(dims.floordiv(dims.add(dims.sub(hi, lo), step - 1), step))
        else:
            raise ShapeError(f"`slice` `{lo}:{hi}:{step}` is out of range for axis {axis} "
                             f"of `{x}`", code="E0208", operand=0,
                             help="a symbolic dimension can only be kept whole")
    attrs.update(start=start, limit=limit, stride=stride)
    return x.with_shape(shape)


@slice_.def_jax
def _(ctx, x, start, limit, stride):
    start, limit = ctx.shape(start), ctx.shape(limit)
    if all(map(dims.is_concrete, start + limit)):
        return ctx.lax.slice(x, start, limit, stride)
    # Exported with symbolic bounds, whose order `lax.slice` cannot decide: a crop by
    # negative pads, then strides over the whole of what is left.
    cropped = ctx.lax.pad(x, ctx.lax.full((), 0, x.dtype),
                          tuple((-lo, hi - size, 0) for lo, hi, size in
                                zip(start, limit, x.shape)))
    return ctx.lax.slice(cropped, (0,) * x.ndim, cropped.shape, stride)
slice_.def_numpy(lambda ctx, x, start, limit, stride:
                 x[tuple(map(slice, ctx.shape(start), ctx.shape(limit), stride))])
slice_.def_tf(lambda ctx, x, start, limit, stride:
              index_source(ctx, x, ctx.operand_types[0].shape, start, limit, stride))
slice_.def_torch(lambda ctx, x, start, limit, stride:
                 index_source(ctx, x, ctx.operand_types[0].shape, start, limit, stride))


@slice_.def_transpose
@single_cotangent
def _(b, node, ct):
    x_type = node.operands[0].type
    start, stride = node.attrs["start"], node.attrs["stride"]
    high = tuple(0 if (lo, kept, step) == (0, dim, 1)
                 else dims.sub(dims.sub(dim, lo), strided_extent(kept, step - 1))
                 for dim, lo, kept, step in zip(x_type.shape, start, ct.type.shape, stride))
    return b.pad(ct, low=start, high=high, interior=tuple(s - 1 for s in stride))


pad = define("pad", ("x",), family=FAMILY, traits=("shape", "linear"),
             surface=Surface("pad"),
             attrs={"low": Attr("dims"), "high": Attr("dims"),
                    "interior": Attr("ints", None, optional=True)}, doc="""
`x` with zeros added: `low` before and `high` after each axis, and `interior`
between neighbours (None means no interior padding). Pads are dims: a symbolic dim
may get integer or symbolic ones (a gradient's, `H - 2`), which must not be negative.

    .nn:  p = pad(x, low=[0, 1], high=[0, 1])  # x: f32[N, 3]
    IR:   %1 = pad %0 {high = [0, 1], interior = [0, 0], low = [0, 1]} : f32[N, 5]
""")


@pad.def_infer
def _(attrs, x):
    low, high = tuple(attrs["low"]), tuple(attrs["high"])
    interior = (0,) * x.rank if attrs["interior"] is None else tuple(attrs["interior"])
    if not len(low) == len(high) == len(interior) == x.rank:
        raise ShapeError(f"`pad` of `{x}` needs {x.rank} low, high and interior values, "
                         f"got {len(low)}, {len(high)} and {len(interior)}",
                         code="E0204", operand=0)
    shape = []
    for axis, (dim, lo, hi, gap) in enumerate(zip(x.shape, low, high, interior)):
        if any(dims.is_concrete(p) and p < 0 for p in (lo, hi, gap)):
            raise ShapeError(f"`pad` `({lo}, {hi}, {gap})` is invalid for axis {axis} of "
                             f"`{x}`", code="E0304", operand=0, help="padding is >= 0")
        shape.append(dims.add(dims.add(lo, strided_extent(dim, gap)), hi))
    attrs.update(low=low, high=high, interior=interior)
    return x.with_shape(shape)


def unpadded_slice(shape, low, interior) -> tuple[tuple, tuple, tuple]:
    """The `(start, limit, stride)` of a pad's result that holds its operand of `shape`."""
    limit = tuple(dims.add(lo, strided_extent(dim, gap)) for dim, lo, gap in
                  zip(shape, low, interior))
    return tuple(low), limit, tuple(gap + 1 for gap in interior)


pad.def_jax(lambda ctx, x, low, high, interior: ctx.lax.pad(
    x, ctx.lax.full((), 0, x.dtype), tuple(zip(ctx.shape(low), ctx.shape(high), interior))))


@pad.def_numpy
def _(ctx, x, low, high, interior):
    padded = ctx.np.zeros(ctx.result_shape(), x.dtype)
    start, limit, stride = unpadded_slice(x.shape, ctx.shape(low), interior)
    padded[tuple(map(slice, start, limit, stride))] = x
    return padded


@pad.def_tf
def _(ctx, x, low, high, interior):
    """TF pads only at the ends. Along an axis with interior padding each element gets
    `gap` zeros after it (a new axis after it, padded, merged back into it), and the
    last element's are cut off."""
    shape = list(ctx.operand_types[0].shape)
    for axis, gap in enumerate(interior):
        if gap:
            size = shape[axis]
            new_axis = tuple((0, gap if i == axis + 1 else 0) for i in range(len(shape) + 1))
            merged = ctx.shape(shape[:axis] + [dims.mul(size, gap + 1)] + shape[axis + 1:])
            spread = ctx.fresh("spread")
            ctx.emit(f"{spread} = tf.reshape(tf.pad(tf.expand_dims({x}, {axis + 1}), "
                     f"{ctx.literal(new_axis)}), {merged})[{':, ' * axis}:{ctx.literal(-gap)}]")
            x, shape[axis] = spread, strided_extent(size, gap)
    if not any(low + high):
        return x
    if all(map(dims.is_concrete, low + high)):
        return f"tf.pad({x}, {ctx.literal(tuple(zip(low, high)))})"
    pairs = ", ".join(f"({ctx.dim(lo)}, {ctx.dim(hi)})" for lo, hi in zip(low, high))
    return f"tf.pad({x}, ({pairs}))"


@pad.def_torch
def _(ctx, x, low, high, interior):
    """Zeros with `x` written into its strided slice: torch pads only at the ends."""
    if not any(low + high + interior):
        return x
    padded = ctx.fresh("padded")
    ctx.emit(f"{padded} = {x}.new_zeros({ctx.result_shape()})")
    start, limit, stride = unpadded_slice(ctx.operand_types[0].shape, low, interior)
    ctx.emit(f"{index_source(ctx, padded, ctx.result_types[0].shape, start, limit, stride)}"
             f" = {x}")
    return padded


@pad.def_transpose
@single_cotangent
def _(b, node, ct):
    start, limit, stride = unpadded_slice(node.operands[0].type.shape, node.attrs["low"],
                                          node.attrs["interior"])
    return b.slice(ct, start=start, limit=limit, stride=stride)
