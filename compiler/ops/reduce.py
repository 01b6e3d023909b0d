"""Reductions over `axes` (None: all of them), keeping them as 1s with `keepdims`.

Law: the rule stores `axes` normalized (sorted, non-negative). A cotangent goes back
by reshaping it to the kept-dims shape and broadcasting it over the reduced axes: all
of it for `sum` (a transpose), divided by `size` for `mean`, and shared among the
elements that attained the extremum for `max` and `min`.
"""

from __future__ import annotations

from ..ir import TensorType
from .common import (element_count, keepdims_shape, normalize_axes, normalize_axis,
                     require_float, require_numeric, single_cotangent)
from .registry import Attr, Surface, define

FAMILY = "reduce"


def reduction(name: str, doc: str, *, float_only: bool = False, traits=()):
    def infer(attrs, x):
        (require_float if float_only else require_numeric)(name, x)
        axes = normalize_axes(name, attrs["axes"], x)
        attrs.update(axes=axes, keepdims=bool(attrs["keepdims"]))
        if attrs["keepdims"]:
            return x.with_shape(keepdims_shape(x.shape, axes))
        return x.with_shape(d for i, d in enumerate(x.shape) if i not in axes)
    return define(name, ("x",), family=FAMILY, doc=doc, infer=infer,
                  surface=Surface(name, params=("x", ("axis", "axes"), "keepdims")),
                  traits=("reduction", *traits),
                  attrs={"axes": Attr("ints", None, optional=True),
                         "keepdims": Attr("bool", False)})


def lax_reduction(name: str):
    """A lowering from the `jax.lax` reduction `name` (`reduce_sum`, ...)."""
    def lower(ctx, x, axes, keepdims):
        out = getattr(ctx.lax, name)(x, axes)
        return ctx.lax.expand_dims(out, axes) if keepdims else out
    return lower


def functions(op, *, numpy: str, tf: str, torch: str, initial=None,
              widens_ints: bool = False) -> None:
    """The NumPy, TF and torch rules of a reduction `name(x, axes, keepdims)`. No axes
    reduce nothing, which the source rules say outright: `torch.sum(x, ())` would reduce
    every axis. `initial(ctx)`: NumPy's start value, where NumPy would raise on axes of
    size 0. `widens_ints`: the torch function sums ints as `int64`, so it is given
    the result dtype."""
    @op.def_numpy
    def _(ctx, x, axes, keepdims):
        start = {} if initial is None else {"initial": initial(ctx)}
        return getattr(ctx.np, numpy)(x, axis=axes, keepdims=keepdims, **start)

    op.def_tf(lambda ctx, x, axes, keepdims: x if not axes else
              f"{tf}({x}, axis={ctx.literal(axes)}, keepdims={ctx.literal(keepdims)})")

    @op.def_torch
    def _(ctx, x, axes, keepdims):
        if not axes:
            return x
        widened = widens_ints and not ctx.result_types[0].is_float
        dtype = f", dtype={ctx.result_dtype()}" if widened else ""
        return f"{torch}({x}, dim={ctx.literal(axes)}, keepdim={ctx.literal(keepdims)}{dtype})"


def with_kept_dims(b, value, node):
    """`value`, a result-shaped tensor of reduction `node`, with reduced axes as 1s."""
    kept = keepdims_shape(node.operands[0].type.shape, node.attrs["axes"])
    return value if value.type.shape == kept else b.reshape(value, shape=kept)


sum_ = reduction("sum", """Sum over `axis` (all axes by default).

    .nn:  s = sum(x, axis=1)  # x: f32[N, 4]
    IR:   %1 = sum %0 {axes = [1], keepdims = false} : f32[N]
""", traits=("linear",))
sum_.def_jax(lax_reduction("reduce_sum"))
functions(sum_, numpy="sum", tf="tf.reduce_sum", torch="torch.sum", widens_ints=True)
sum_.def_transpose(single_cotangent(lambda b, node, ct: b.broadcast_to(
    with_kept_dims(b, ct, node), node.operands[0].type.shape)))

mean = reduction("mean", """Arithmetic mean over `axis` (all axes by default); symbolic dims are
counted at run time.

    .nn:  loss = mean(e)  # e: f32[N, 4]
    IR:   %1 = mean %0 {axes = [0, 1], keepdims = false} : f32[]
""", float_only=True, traits=("linear",))


@mean.def_jax
def _(ctx, x, axes, keepdims):
    count = element_count(x.shape[a] for a in axes)
    total = lax_reduction("reduce_sum")(ctx, x, axes, keepdims)
    return ctx.lax.div(total, ctx.lax.full_like(total, count))


functions(mean, numpy="mean", tf="tf.reduce_mean", torch="torch.mean")


@mean.def_transpose
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    share = b.div(ct, b.size(x, axes=node.attrs["axes"], dtype=ct.type.dtype))
    return b.broadcast_to(with_kept_dims(b, share, node), x.type.shape)


def extreme(ctx, *, lowest: bool):
    """The lowest (highest) value of the result's dtype, infinite for floats: the
    identity of `max` (`min`), which JAX and TF give for an empty reduction (torch
    raises)."""
    if ctx.result_types[0].is_float:
        return -ctx.np.inf if lowest else ctx.np.inf
    limits = ctx.np.iinfo(ctx.result_dtype())
    return limits.min if lowest else limits.max


max_ = reduction("max", """Maximum over `axis` (all axes by default); ties share the gradient
equally.

    .nn:  m = max(logits, axis=-1, keepdims=true)  # logits: f32[N, 10]
    IR:   %1 = max %0 {axes = [1], keepdims = true} : f32[N, 1]
""")
max_.def_jax(lax_reduction("reduce_max"))
functions(max_, numpy="max", tf="tf.reduce_max", torch="torch.amax",
          initial=lambda ctx: extreme(ctx, lowest=True))

min_ = reduction("min", """Minimum over `axis` (all axes by default); ties share the gradient
equally.

    .nn:  m = min(x, axis=0)  # x: f32[N, 4]
    IR:   %1 = min %0 {axes = [0], keepdims = false} : f32[4]
""")
min_.def_jax(lax_reduction("reduce_min"))
functions(min_, numpy="min", tf="tf.reduce_min", torch="torch.amin",
          initial=lambda ctx: extreme(ctx, lowest=False))


@max_.def_vjp
@min_.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    attained = b.convert(b.eq(x, with_kept_dims(b, node.result, node)), dtype=x.type.dtype)
    ties = b.sum(attained, axes=node.attrs["axes"], keepdims=True)
    return b.mul(with_kept_dims(b, ct, node), b.div(attained, ties))


argmax = define("argmax", ("x",), family=FAMILY, surface=Surface("argmax"),
                attrs={"axis": Attr("int", -1), "keepdims": Attr("bool", False)},
                nondiff="it returns integer indices", doc="""
The index (`i32`) of the first maximum along `axis`.

    .nn:  k = argmax(logits, axis=-1)  # logits: f32[N, 10]
    IR:   %1 = argmax %0 {axis = 1, keepdims = false} : i32[N]
""")


@argmax.def_infer
def _(attrs, x):
    require_numeric("argmax", x)
    axis = normalize_axis("argmax", attrs["axis"], x)
    attrs.update(axis=axis, keepdims=bool(attrs["keepdims"]))
    if attrs["keepdims"]:
        return TensorType("i32", keepdims_shape(x.shape, (axis,)))
    return TensorType("i32", x.shape[:axis] + x.shape[axis + 1:])


@argmax.def_jax
def _(ctx, x, axis, keepdims):
    indices = ctx.lax.argmax(x, axis, index_dtype=ctx.dtype("i32"))
    return ctx.lax.expand_dims(indices, (axis,)) if keepdims else indices


argmax.def_numpy(lambda ctx, x, axis, keepdims: ctx.np.argmax(x, axis=axis, keepdims=keepdims))


@argmax.def_tf
def _(ctx, x, axis, keepdims):
    indices = f"tf.math.argmax({x}, axis={ctx.literal(axis)}, output_type={ctx.result_dtype()})"
    return f"tf.expand_dims({indices}, {ctx.literal(axis)})" if keepdims else indices


argmax.def_torch(lambda ctx, x, axis, keepdims:
                 f"torch.argmax({x}, dim={ctx.literal(axis)}, keepdim={ctx.literal(keepdims)})"
                 f".to({ctx.result_dtype()})")
