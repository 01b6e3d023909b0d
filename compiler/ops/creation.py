"""Creation ops: tensors made from attributes and shapes rather than from values.

Law: none of them is differentiable (a result depends on no operand's values, only
on attributes or on an operand's shape or integer contents). Shapes may hold symbols,
which the lowering resolves through `ctx.shape`.
"""

from __future__ import annotations

from ..ir import FLOAT_DTYPES, INT_DTYPES, TensorType
from .common import (check_shape_attr, element_count, normalize_axes, normalize_axis,
                     require_dtype, require_known_dtype)
from .registry import Attr, ShapeError, Surface, define

FAMILY = "creation"

constant = define("constant", (), family=FAMILY,
                  attrs={"value": Attr("scalar"), "dtype": Attr("dtype", "f32"),
                         "shape": Attr("dims", ())},
                  traits=("constant",), nondiff="it has no operands",
                  internal="`.nn` number literals and initializers make it", doc="""
A tensor of `shape` (which may hold symbols) filled with the scalar `value`.

    .nn:  y = x + 1.0  # x: f32[N, 4]
    IR:   %0 = constant {dtype = "f32", shape = [], value = 1.0} : f32[]
""")


@constant.def_infer
def _(attrs):
    require_known_dtype("constant", attrs["dtype"])
    check_shape_attr("constant", attrs["shape"])
    attrs["shape"] = tuple(attrs["shape"])
    return TensorType(attrs["dtype"], attrs["shape"])


constant.def_jax(lambda ctx, value, dtype, shape:
                 ctx.lax.full(ctx.result_shape(), value, ctx.dtype(dtype)))
constant.def_numpy(lambda ctx, value, dtype, shape:
                   ctx.np.full(ctx.result_shape(), value, ctx.dtype(dtype)))


def typed_value(value, dtype: str):
    """`value` as the Python scalar of `dtype`'s kind: TF refuses `0.0` for an int."""
    if dtype == "bool":
        return bool(value)
    return float(value) if dtype in FLOAT_DTYPES else int(value)


@constant.def_tf
def _(ctx, value, dtype, shape):
    scalar = f"tf.constant({ctx.literal(typed_value(value, dtype))}, {ctx.dtype(dtype)})"
    # `tf.fill` takes a shape of mixed ints and `tf.shape` scalars, but not `()`.
    return f"tf.fill({ctx.result_shape()}, {scalar})" if shape else scalar


constant.def_torch(lambda ctx, value, dtype, shape:
                   f"torch.full({ctx.result_shape()}, {ctx.literal(typed_value(value, dtype))},"
                   f" dtype={ctx.dtype(dtype)})")

size = define("size", ("x",), family=FAMILY,
              attrs={"axes": Attr("ints", None, optional=True), "dtype": Attr("dtype", "f32")},
              surface=Surface("size", params=("x", ("axis", "axes"), "dtype")),
              nondiff="it depends on the operand's shape only", doc="""
The number of elements of `x` over `axes` (all when None), as a scalar of `dtype`;
symbolic dims are counted at run time. `mean`'s gradient divides by it.

    .nn:  n = size(x, axis=0)  # x: f32[N, 4]
    IR:   %1 = size %0 {axes = [0], dtype = "f32"} : f32[]
""")


@size.def_infer
def _(attrs, x):
    require_dtype("size", TensorType(attrs["dtype"], ()), FLOAT_DTYPES | INT_DTYPES,
                  what="result")
    attrs["axes"] = normalize_axes("size", attrs["axes"], x)
    return TensorType(attrs["dtype"], ())


size.def_jax(lambda ctx, x, axes, dtype: ctx.lax.convert_element_type(
    element_count(x.shape[a] for a in axes), ctx.dtype(dtype)))
size.def_numpy(lambda ctx, x, axes, dtype:
               ctx.np.asarray(element_count(x.shape[a] for a in axes), ctx.dtype(dtype)))


def count_source(ctx, axes, dim_of) -> str:
    """Source for the number of elements over `axes`: the concrete dims multiplied here,
    each symbolic one read at run time as `dim_of(axis)`."""
    shape = ctx.operand_types[0].shape
    known = element_count(shape[a] for a in axes if isinstance(shape[a], int))
    factors = [dim_of(ctx.literal(a)) for a in axes if not isinstance(shape[a], int)]
    return " * ".join(factors + [ctx.literal(known)] * (known != 1 or not factors))


@size.def_tf
def _(ctx, x, axes, dtype):
    count = count_source(ctx, axes, lambda axis: f"tf.shape({x})[{axis}]")
    return f"tf.cast({count}, {ctx.dtype(dtype)})"


@size.def_torch
def _(ctx, x, axes, dtype):
    count = count_source(ctx, axes, lambda axis: f"{x}.shape[{axis}]")
    return f"torch.tensor({count}, dtype={ctx.dtype(dtype)})"


@size.def_canonicalize
def fold_concrete_size(b, node):
    """`size` over concrete dims is a constant."""
    (x,) = node.operands
    dims = [x.type.shape[a] for a in node.attrs["axes"]]
    if all(isinstance(d, int) for d in dims):
        return b.const(element_count(dims), node.attrs["dtype"])
    return None


one_hot = define("one_hot", ("indices",), family=FAMILY,
                 attrs={"depth": Attr("int"), "dtype": Attr("dtype", "f32")},
                 surface=Surface("one_hot"),
                 nondiff="its operand is integer class indices", doc="""
`result[..., k] = 1 if indices[...] == k else 0`, for `k` in `[0, depth)`; indices
outside that range give all zeros.

    .nn:  t = one_hot(labels, 10)  # labels: i32[N]
    IR:   %1 = one_hot %0 {depth = 10, dtype = "f32"} : f32[N, 10]
""")


@one_hot.def_infer
def _(attrs, indices):
    require_dtype("one_hot", indices, INT_DTYPES, what="indices")
    require_known_dtype("one_hot", attrs["dtype"])
    depth = attrs["depth"]
    if not isinstance(depth, int) or depth < 1:
        raise ShapeError(f"`one_hot` depth must be a positive integer, got `{depth}`",
                         code="E0304")
    return TensorType(attrs["dtype"], indices.shape + (depth,))


@one_hot.def_jax
def _(ctx, indices, depth, dtype):
    shape = ctx.result_shape()
    classes = ctx.lax.broadcasted_iota(indices.dtype, shape, len(shape) - 1)
    spread = ctx.lax.broadcast_in_dim(indices, shape, tuple(range(indices.ndim)))
    return ctx.lax.convert_element_type(ctx.lax.eq(spread, classes), ctx.dtype(dtype))


one_hot.def_numpy(lambda ctx, indices, depth, dtype:
                  (indices[..., None] == ctx.np.arange(depth)).astype(ctx.dtype(dtype)))


@one_hot.def_tf
def _(ctx, indices, depth, dtype):
    # `tf.one_hot`'s default on and off values are numbers, which `tf.bool` refuses.
    values = ", on_value=True, off_value=False" if dtype == "bool" else ""
    return f"tf.one_hot({indices}, {ctx.literal(depth)}{values}, dtype={ctx.dtype(dtype)})"


# `torch.nn.functional.one_hot` raises on indices outside `[0, depth)`; a comparison
# with every class gives zeros there, as the other backends do.
one_hot.def_torch(lambda ctx, indices, depth, dtype:
                  f"({indices}.unsqueeze(-1) == torch.arange({ctx.literal(depth)}, "
                  f"device={indices}.device)).to({ctx.dtype(dtype)})")


iota = define("iota", (), family=FAMILY,
              attrs={"shape": Attr("dims"), "axis": Attr("int"), "dtype": Attr("dtype", "i32")},
              surface=Surface("iota", params=("shape", "axis", "dtype")),
              nondiff="it has no operands", doc="""
A tensor of `shape` (which may hold symbols) whose elements are their own index along
`axis` (`lax.broadcasted_iota`); `iota([T, T], 0) >= iota([T, T], 1)` is a causal mask.

    .nn:  rows = iota(shape(x), 0)  # x: f32[N, 4]
    IR:   %1 = iota {axis = 0, dtype = "i32", shape = ["N", 4]} : i32[N, 4]
""")


@iota.def_infer
def _(attrs):
    require_known_dtype("iota", attrs["dtype"])
    result = TensorType(attrs["dtype"], tuple(attrs["shape"]))
    require_dtype("iota", result, FLOAT_DTYPES | INT_DTYPES, what="result")
    check_shape_attr("iota", result.shape)
    if result.rank == 0:
        raise ShapeError("`iota` needs a shape with at least one dim to count along",
                         code="E0304", help="`iota([n], 0)` counts `0, 1, ..., n - 1`")
    attrs.update(shape=result.shape, axis=normalize_axis("iota", attrs["axis"], result,
                                                         operand=None))
    return result


iota.def_jax(lambda ctx, shape, axis, dtype:
             ctx.lax.broadcasted_iota(ctx.dtype(dtype), ctx.result_shape(), axis))
iota.def_numpy(lambda ctx, shape, axis, dtype:
               ctx.np.indices(ctx.result_shape(), ctx.dtype(dtype))[axis])


def iota_view(ctx, shape, axis) -> str:
    """The shape that lays a range along `axis` against `shape`: 1s elsewhere."""
    return ctx.literal(tuple(-1 if i == axis else 1 for i in range(len(shape))))


@iota.def_tf
def _(ctx, shape, axis, dtype):
    counts = f"tf.range({ctx.dim(shape[axis])}, dtype={ctx.dtype(dtype)})"
    if len(shape) == 1:
        return counts
    return (f"tf.broadcast_to(tf.reshape({counts}, {iota_view(ctx, shape, axis)}), "
            f"{ctx.result_shape()})")


@iota.def_torch
def _(ctx, shape, axis, dtype):
    counts = f"torch.arange({ctx.dim(shape[axis])}, dtype={ctx.dtype(dtype)})"
    if len(shape) == 1:
        return counts
    return f"{counts}.reshape({iota_view(ctx, shape, axis)}).expand({ctx.result_shape()})"
