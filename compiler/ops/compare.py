"""Comparisons, which make `bool` tensors, and `select`, which consumes them.

Laws: a comparison's operands share a dtype and broadcast like any binary elementwise
op; its result is `bool` and carries no gradient. `select` broadcasts all three
operands and routes its cotangent to the branch each element came from.
"""

from __future__ import annotations

from ..ir import TensorType
from .common import broadcast_shapes, require_dtype, require_same_dtype, single_cotangent
from .registry import Surface, define

FAMILY = "compare"


def comparison(name: str, symbol: str, *, lax: str, numpy: str, tf: str, torch: str,
               traits=()):
    """`lax` and `numpy` name the `jax.lax` and NumPy functions, `tf` and `torch` the
    source spelling; each returns `bool` and broadcasts (lax once the operands are)."""
    def infer(attrs, x, y):
        require_same_dtype(name, (x, y))
        return TensorType("bool", broadcast_shapes(name, (x, y)))
    op = define(name, ("x", "y"), family=FAMILY, infer=infer,
                traits=("elementwise", "broadcasting", "comparison", *traits),
                surface=Surface(operator=symbol), nondiff="its result is boolean", doc=f"""
Elementwise `x {symbol} y`, broadcasting, as `bool`.

    .nn:  m = x {symbol} y  # x: f32[N, 4], y: f32[N, 4]
    IR:   %2 = {name} %0, %1 : bool[N, 4]
""")
    op.def_jax(lambda ctx, x, y: getattr(ctx.lax, lax)(*ctx.broadcast(x, y)))
    op.def_numpy(lambda ctx, x, y: getattr(ctx.np, numpy)(x, y))
    op.def_tf(lambda ctx, x, y: f"{tf}({x}, {y})")
    op.def_torch(lambda ctx, x, y: f"{torch}({x}, {y})")
    return op


eq = comparison("eq", "==", lax="eq", numpy="equal", tf="tf.equal", torch="torch.eq",
                traits=("commutative",))
ne = comparison("ne", "!=", lax="ne", numpy="not_equal", tf="tf.not_equal", torch="torch.ne",
                traits=("commutative",))
lt = comparison("lt", "<", lax="lt", numpy="less", tf="tf.less", torch="torch.lt")
le = comparison("le", "<=", lax="le", numpy="less_equal", tf="tf.less_equal", torch="torch.le")
gt = comparison("gt", ">", lax="gt", numpy="greater", tf="tf.greater", torch="torch.gt")
ge = comparison("ge", ">=", lax="ge", numpy="greater_equal", tf="tf.greater_equal",
                torch="torch.ge")


def _where(b, cond, on_true, on_false):
    """`where(c, x, y)` with `c` a compile-time bool (`from_logits` in the prelude's
    losses) is the chosen branch itself, when that already has the result's type: the
    other branch is left dead for `dce`, so `.nn` code can switch on its arguments."""
    node = cond.node
    if (node is not None and node.op == "constant" and cond.type == TensorType("bool", ())
            and on_true.type == on_false.type):
        return on_true if node.attrs["value"] else on_false
    return b.emit("select", cond, on_true, on_false)


select = define("select", ("cond", "on_true", "on_false"), family=FAMILY,
                traits=("elementwise", "broadcasting"),
                surface=Surface("where", params=(("condition", "cond"), ("x", "on_true"),
                                                 ("y", "on_false")), bind=_where), doc="""
Elementwise `on_true if cond else on_false`, all three broadcasting together.

    .nn:  y = where(c, x, z)  # c: bool[N, 4], x: f32[N, 4], z: f32[N, 4]
    IR:   %3 = select %0, %1, %2 : f32[N, 4]
""")


@select.def_infer
def _(attrs, cond, on_true, on_false):
    require_dtype("select", cond, {"bool"}, what="condition")
    dtype = require_same_dtype("select", (on_true, on_false), first_operand=1)
    return TensorType(dtype, broadcast_shapes("select", (cond, on_true, on_false)))


select.def_jax(lambda ctx, cond, on_true, on_false:
               ctx.lax.select(*ctx.broadcast(cond, on_true, on_false)))
select.def_numpy(lambda ctx, cond, on_true, on_false: ctx.np.where(cond, on_true, on_false))
select.def_tf(lambda ctx, cond, on_true, on_false: f"tf.where({cond}, {on_true}, {on_false})")
select.def_torch(lambda ctx, cond, on_true, on_false:
                 f"torch.where({cond}, {on_true}, {on_false})")


@select.def_vjp
@single_cotangent
def _(b, node, ct):
    cond, on_true, on_false = node.operands
    zero = b.const(0, ct.type.dtype)
    return (None,
            b.unbroadcast(b.select(cond, ct, zero), on_true.type),
            b.unbroadcast(b.select(cond, zero, ct), on_false.type))
