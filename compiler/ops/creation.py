"""Creation ops: tensors made from attributes and shapes rather than from values.

Law: none of them is differentiable (a result depends on no operand's values, only
on attributes or on an operand's shape or integer contents). Shapes may hold symbols,
which the lowering resolves through `ctx.shape`.
"""

from __future__ import annotations

from ..ir import FLOAT_DTYPES, INT_DTYPES, TensorType
from .common import (check_shape_attr, element_count, normalize_axes,
                     require_dtype, require_known_dtype)
from .registry import Attr, ShapeError, define

FAMILY = "creation"

constant = define("constant", (), family=FAMILY,
                  attrs={"value": Attr("scalar"), "dtype": Attr("dtype", "f32"),
                         "shape": Attr("dims", ())},
                  nondiff="it has no operands", doc="""
A tensor of `shape` (which may hold symbols) filled with the scalar `value`.

    .nn:  param b: f32[1] = zeros
    IR:   %0 = constant {dtype = f32, shape = [1], value = 0.0} : f32[1]
""")


@constant.def_infer
def _(attrs):
    require_known_dtype("constant", attrs["dtype"])
    check_shape_attr("constant", attrs["shape"])
    attrs["shape"] = tuple(attrs["shape"])
    return TensorType(attrs["dtype"], attrs["shape"])


constant.def_jax(lambda ctx, value, dtype, shape:
                 ctx.lax.full(ctx.result_shape(), value, ctx.dtype(dtype)))

size = define("size", ("x",), family=FAMILY, attrs={"axes": Attr("ints", None, optional=True),
                                                     "dtype": Attr("dtype", "f32")},
              nondiff="it depends on the operand's shape only", doc="""
The number of elements of `x` over `axes` (all when None), as a scalar of `dtype`;
symbolic dims are counted at run time. `mean`'s gradient divides by it.

    .nn:  n = size(x)
    IR:   %1 = size %0 {axes = [0], dtype = f32} : f32[]
""")


@size.def_infer
def _(attrs, x):
    require_dtype("size", TensorType(attrs["dtype"], ()), FLOAT_DTYPES | INT_DTYPES,
                  what="result")
    attrs["axes"] = normalize_axes("size", attrs["axes"], x)
    return TensorType(attrs["dtype"], ())


size.def_jax(lambda ctx, x, axes, dtype: ctx.lax.convert_element_type(
    element_count(x.shape[a] for a in axes), ctx.dtype(dtype)))


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
                 nondiff="its operand is integer class indices", doc="""
`result[..., k] = 1 if indices[...] == k else 0`, for `k` in `[0, depth)`; indices
outside that range give all zeros.

    .nn:  t = one_hot(labels, 10)
    IR:   %1 = one_hot %0 {depth = 10, dtype = f32} : f32[N, 10]
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
