"""Comparisons, which make `bool` tensors, and `select`, which consumes them.

Laws: a comparison's operands share a dtype and broadcast like any binary elementwise
op; its result is `bool` and carries no gradient. `select` broadcasts all three
operands and routes its cotangent to the branch each element came from.
"""

from __future__ import annotations

from ..ir import TensorType
from .common import broadcast_shapes, require_dtype, require_same_dtype, single_cotangent
from .registry import define

FAMILY = "compare"


def comparison(name: str, symbol: str, lax_op: str):
    """`lax_op` names the `jax.lax` function of the lowering."""
    def infer(attrs, x, y):
        require_same_dtype(name, (x, y))
        return TensorType("bool", broadcast_shapes(name, (x, y)))
    op = define(name, ("x", "y"), family=FAMILY, infer=infer,
                nondiff="its result is boolean", doc=f"""
Elementwise `x {symbol} y`, broadcasting, as `bool`.

    .nn:  m = x {symbol} y
    IR:   %2 = {name} %0, %1 : bool[N, 4]
""")
    op.def_jax(lambda ctx, x, y: getattr(ctx.lax, lax_op)(*ctx.broadcast(x, y)))
    return op


eq = comparison("eq", "==", "eq")
ne = comparison("ne", "!=", "ne")
lt = comparison("lt", "<", "lt")
le = comparison("le", "<=", "le")
gt = comparison("gt", ">", "gt")
ge = comparison("ge", ">=", "ge")


select = define("select", ("cond", "on_true", "on_false"), family=FAMILY, doc="""
Elementwise `on_true if cond else on_false`, all three broadcasting together.

    .nn:  y = select(x > 0.0, x, 0.01 * x)
    IR:   %4 = select %1, %0, %3 : f32[N, 4]
""")


@select.def_infer
def _(attrs, cond, on_true, on_false):
    require_dtype("select", cond, {"bool"}, what="condition")
    dtype = require_same_dtype("select", (on_true, on_false), first_operand=1)
    return TensorType(dtype, broadcast_shapes("select", (cond, on_true, on_false)))


select.def_jax(lambda ctx, cond, on_true, on_false:
               ctx.lax.select(*ctx.broadcast(cond, on_true, on_false)))


@select.def_vjp
@single_cotangent
def _(b, node, ct):
    cond, on_true, on_false = node.operands
    zero = b.const(0, ct.type.dtype)
    return (None,
            b.unbroadcast(b.select(cond, ct, zero), on_true.type),
            b.unbroadcast(b.select(cond, zero, ct), on_false.type))
