"""Linear algebra: `matmul` with numpy semantics, lowered to one `lax.dot_general`, and
the reduced QR factorization that the `orthogonal` initializer draws with.

Law: matmul is bilinear, so its VJP is two matmuls with the other operand transposed,
each summed back over the batch dims that broadcasting added. `qr` gives `q` with
orthonormal columns and upper-triangular `r`, `q @ r == x`; each backend calls its
framework's Householder QR, so the backends agree to rounding, not bit for bit.
"""

from __future__ import annotations

from ..ir import TensorType, format_shape
from .common import (broadcast_shapes, require_dtype, require_numeric, require_rank,
                     require_same_dtype, single_cotangent)
from .registry import ShapeError, Surface, define

FAMILY = "linalg"

matmul = define("matmul", ("x", "y"), family=FAMILY, surface=Surface("matmul", "@"), doc="""
Matrix product with numpy's `@` semantics: `[.., N, K] @ [.., K, M] -> [.., N, M]`
with the batch dims broadcast; a rank-1 operand is a vector whose axis is dropped
from the result (`[K] @ [K] -> []`, `[N, K] @ [K] -> [N]`).

    .nn:  y = x @ W  # x: f32[N, 2], W: f32[2, 1]
    IR:   %2 = matmul %0, %1 : f32[N, 1]
""")


@matmul.def_infer
def _(attrs, x, y):
    dtype = require_same_dtype("matmul", (x, y))
    require_numeric("matmul", x)
    require_rank("matmul", x, range(1, 99), operand=0, what="operands")
    require_rank("matmul", y, range(1, 99), operand=1, what="operands")
    inner_x = x.shape[-1]
    inner_y = y.shape[-2] if y.rank > 1 else y.shape[0]
    if inner_x != inner_y:
        raise ShapeError(f"`matmul` inner dimensions differ: `{format_shape(x.shape)}` and "
                         f"`{format_shape(y.shape)}`", code="E0203", operand=1,
                         label=f"`{inner_x}` vs `{inner_y}`",
                         help="the last dimension of the left operand must equal the "
                              "second-to-last of the right one")
    batch = broadcast_shapes("matmul", (TensorType(dtype, x.shape[:-2]),
                                        TensorType(dtype, y.shape[:-2])))
    rows = x.shape[-2:-1]
    cols = y.shape[-1:] if y.rank > 1 else ()
    return TensorType(dtype, batch + rows + cols)


@matmul.def_jax
def _(ctx, x, y):
    if y.ndim <= 2 or x.ndim == 1:
        # No batch dims to pair: contract x's last axis with y's matrix-row axis.
        contract = (((x.ndim - 1,), (max(y.ndim - 2, 0),)), ((), ()))
        return ctx.lax.dot_general(x, y, contract)
    batch = ctx.result_shape()[:-2]
    x = ctx.broadcast_to(x, batch + tuple(x.shape[-2:]))
    y = ctx.broadcast_to(y, batch + tuple(y.shape[-2:]))
    axes = tuple(range(len(batch)))
    return ctx.lax.dot_general(x, y, (((x.ndim - 1,), (y.ndim - 2,)), (axes, axes)))


matmul.def_numpy(lambda ctx, x, y: ctx.np.matmul(x, y))
matmul.def_torch(lambda ctx, x, y: f"torch.matmul({x}, {y})")


@matmul.def_tf
def _(ctx, x, y):
    """`tf.linalg.matmul` takes matrices only: a vector operand becomes a row (`x`) or a
    column (`y`), and that axis is squeezed from the product."""
    x_rank, y_rank = (t.rank for t in ctx.operand_types)
    x = f"tf.expand_dims({x}, 0)" if x_rank == 1 else x
    y = f"tf.expand_dims({y}, -1)" if y_rank == 1 else y
    product = f"tf.linalg.matmul({x}, {y})"
    squeezed = (-2,) * (x_rank == 1) + (-1,) * (y_rank == 1)
    return f"tf.squeeze({product}, {ctx.literal(squeezed)})" if squeezed else product


def swap_last_axes(b, value):
    perm = tuple(range(value.type.rank - 2)) + (value.type.rank - 1, value.type.rank - 2)
    return b.transpose(value, perm=perm)


def as_matrix(b, value, vector_axis: int):
    """A rank-1 operand reshaped to a matrix (a row for `x`, a column for `y`)."""
    if value.type.rank > 1:
        return value
    shape = (1,) + value.type.shape if vector_axis == 0 else value.type.shape + (1,)
    return b.reshape(value, shape=shape)


@matmul.def_vjp
@single_cotangent
def _(b, node, ct):
    x, y = node.operands
    x2, y2 = as_matrix(b, x, 0), as_matrix(b, y, 1)
    ct_shape = (ct.type.shape[:len(ct.type.shape) - (x.type.rank > 1) - (y.type.rank > 1)]
                + x2.type.shape[-2:-1] + y2.type.shape[-1:])
    ct2 = b.reshape(ct, shape=ct_shape) if ct_shape != ct.type.shape else ct
    grad_x = b.unbroadcast(b.matmul(ct2, swap_last_axes(b, y2)), x2.type)
    grad_y = b.unbroadcast(b.matmul(swap_last_axes(b, x2), ct2), y2.type)
    return (b.reshape(grad_x, shape=x.type.shape) if x.type.rank == 1 else grad_x,
            b.reshape(grad_y, shape=y.type.shape) if y.type.rank == 1 else grad_y)


qr = define("qr", ("x",), family=FAMILY,
            nondiff="only the `orthogonal` initializer uses it, in `init`, which is never "
                    "differentiated",
            internal="the `orthogonal` initializer makes it", doc="""
The reduced QR factorization of the matrices in the last two axes of `x: [.., M, N]`:
`q: [.., M, K]` with orthonormal columns and upper-triangular `r: [.., K, N]`,
`K = min(M, N)`, `q @ r == x` (`numpy.linalg.qr`'s `"reduced"` mode). The signs of
`r`'s diagonal are whatever the framework's Householder reflections give.

    .nn:  param W: f32[6, 4] = orthogonal
    IR:   %2, %3 = qr %1 : f32[6, 4], f32[4, 4]
""")


@qr.def_infer
def _(attrs, x):
    require_dtype("qr", x, {"f32", "f64"}, what="operand")
    require_rank("qr", x, range(2, 99), what="a matrix operand")
    rows, cols = x.shape[-2:]
    if not (isinstance(rows, int) and isinstance(cols, int)):
        raise ShapeError(f"`qr` needs the matrix dims of `{x}` to be known numbers",
                         code="E0204", help="the size of `r` is the smaller of the two")
    k = min(rows, cols)
    return (TensorType(x.dtype, x.shape[:-2] + (rows, k)),
            TensorType(x.dtype, x.shape[:-2] + (k, cols)))


qr.def_jax(lambda ctx, x: tuple(ctx.lax.linalg.qr(x, full_matrices=False)))
qr.def_numpy(lambda ctx, x: tuple(ctx.np.linalg.qr(x, mode="reduced")))


@qr.def_tf
def _(ctx, x):
    factors = ctx.fresh("qr")
    ctx.emit(f"{factors} = tf.linalg.qr({x}, full_matrices=False)")
    return [f"{factors}[0]", f"{factors}[1]"]


@qr.def_torch
def _(ctx, x):
    factors = ctx.fresh("qr")
    ctx.emit(f"{factors} = torch.linalg.qr({x}, mode=\"reduced\")")
    return [f"{factors}[0]", f"{factors}[1]"]
