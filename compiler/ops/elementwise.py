"""Elementwise ops: each result element depends only on the elements at the same index.

Laws: a unary op keeps its operand's type; a binary op's operands share one dtype
(E0209) and broadcast numpy-style (E0202, `common.broadcast_shapes`), so its VJP
unbroadcasts each cotangent back to its operand's shape. Float-only ops reject ints.
"""

from __future__ import annotations

from ..ir import TensorType
from .common import (broadcast_shapes, require_float,
                     require_known_dtype, require_numeric, require_same_dtype,
                     single_cotangent)
from .registry import REQUIRED, define

FAMILY = "elementwise"


def unary(name: str, doc: str, *, float_only: bool = True, nondiff: str | None = None):
    def infer(attrs, x):
        (require_float if float_only else require_numeric)(name, x)
        return x
    return define(name, ("x",), family=FAMILY, doc=doc, infer=infer, nondiff=nondiff)


def binary(name: str, doc: str, *, float_only: bool = False):
    def infer(attrs, x, y):
        dtype = require_same_dtype(name, (x, y))
        (require_float if float_only else require_numeric)(name, x)
        return TensorType(dtype, broadcast_shapes(name, (x, y)))
    return define(name, ("x", "y"), family=FAMILY, doc=doc, infer=infer)


def lax_binary(name: str):
    """A lowering for a broadcasting binary op from the `jax.lax` op `name`, which
    takes equal shapes."""
    return lambda ctx, x, y: getattr(ctx.lax, name)(*ctx.broadcast(x, y))


def scaled(b, ct, factor, operand):
    """`ct * factor` summed back to `operand`'s shape."""
    return b.unbroadcast(b.mul(ct, factor), operand.type)


# Binary arithmetic

add = binary("add", """Elementwise sum, broadcasting.

    .nn:  h = x @ W + b
    IR:   %3 = add %2, %1 : f32[N, 1]
""")
add.def_jax(lax_binary("add"))


@add.def_transpose
@single_cotangent
def _(b, node, ct):
    x, y = node.operands
    return b.unbroadcast(ct, x.type), b.unbroadcast(ct, y.type)


sub = binary("sub", """Elementwise difference, broadcasting.

    .nn:  d = y_pred - y_true
    IR:   %2 = sub %0, %1 : f32[N, 1]
""")
sub.def_jax(lax_binary("sub"))


@sub.def_transpose
@single_cotangent
def _(b, node, ct):
    x, y = node.operands
    return b.unbroadcast(ct, x.type), b.unbroadcast(b.neg(ct), y.type)


mul = binary("mul", """Elementwise product, broadcasting.

    .nn:  y = 4.9 * t
    IR:   %2 = mul %1, %0 : f32[]
""")
mul.def_jax(lax_binary("mul"))


@mul.def_vjp
@single_cotangent
def _(b, node, ct):
    x, y = node.operands
    return scaled(b, ct, y, x), scaled(b, ct, x, y)


div = binary("div", """Elementwise quotient, broadcasting (ints round toward zero).

    .nn:  p = e / s
    IR:   %2 = div %0, %1 : f32[N, 10]
""")
div.def_jax(lax_binary("div"))


@div.def_vjp
@single_cotangent
def _(b, node, ct):
    x, y = node.operands
    ct_over_y = b.div(ct, y)
    return (b.unbroadcast(ct_over_y, x.type),
            b.unbroadcast(b.neg(b.mul(ct_over_y, node.result)), y.type))


pow_ = binary("pow", """`x ** y` elementwise, both tensors, broadcasting; floats only.

    .nn:  y = t ** 2.0
    IR:   %2 = pow %0, %1 : f32[]

The derivative in `y` is `log(x) * x ** y` where `x > 0` and 0 elsewhere; the one in
`x` is `y * x ** (y - 1)`, taken as 0 where `y == 0` (as JAX does).
""", float_only=True)
pow_.def_jax(lax_binary("pow"))


@pow_.def_vjp
@single_cotangent
def _(b, node, ct):
    x, y = node.operands
    zero, one = b.const(0, x.type.dtype), b.const(1, x.type.dtype)
    d_x = b.select(b.eq(y, zero), zero, b.mul(y, b.pow(x, b.sub(y, one))))
    d_y = b.mul(node.result, b.log(b.select(b.gt(x, zero), x, one)))
    return scaled(b, ct, d_x, x), scaled(b, ct, d_y, y)


def chooser_share(b, mine, other, chosen):
    """1 where `mine` was chosen alone, 1/2 at a tie, else 0 (JAX's balanced rule)."""
    dtype = chosen.type.dtype
    zero, half, one = (b.const(v, dtype) for v in (0, 0.5, 1))
    return b.select(b.eq(mine, chosen), b.select(b.eq(other, chosen), half, one), zero)


maximum = binary("maximum", """Elementwise maximum, broadcasting.

    .nn:  y = maximum(x, 0.0)
    IR:   %2 = maximum %0, %1 : f32[N, 4]
""")
maximum.def_jax(lax_binary("max"))

minimum = binary("minimum", """Elementwise minimum, broadcasting.

    .nn:  y = minimum(x, 6.0)
    IR:   %2 = minimum %0, %1 : f32[N, 4]
""")
minimum.def_jax(lax_binary("min"))


@maximum.def_vjp
@minimum.def_vjp
@single_cotangent
def _(b, node, ct):
    x, y = node.operands
    out = node.result
    return (scaled(b, ct, chooser_share(b, x, y, out), x),
            scaled(b, ct, chooser_share(b, y, x, out), y))


# Unary arithmetic (ints allowed)

neg = unary("neg", """Elementwise negation.

    .nn:  y = -x
    IR:   %1 = neg %0 : f32[N, 4]
""", float_only=False)
neg.def_jax(lambda ctx, x: ctx.lax.neg(x))
neg.def_transpose(single_cotangent(lambda b, node, ct: b.neg(ct)))

square = unary("square", """Elementwise `x * x`.

    .nn:  y = square(x)
    IR:   %1 = square %0 : f32[N, 4]
""", float_only=False)
square.def_jax(lambda ctx, x: ctx.lax.square(x))


@square.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    return b.mul(ct, b.mul(x, b.const(2, x.type.dtype)))


abs_ = unary("abs", """Elementwise absolute value; its derivative at 0 is 0.

    .nn:  y = abs(x)
    IR:   %1 = abs %0 : f32[N, 4]
""", float_only=False)
abs_.def_jax(lambda ctx, x: ctx.lax.abs(x))
abs_.def_vjp(single_cotangent(lambda b, node, ct: b.mul(ct, b.sign(node.operands[0]))))

sign = unary("sign", """Elementwise sign: -1, 0 or 1.

    .nn:  s = sign(x)
    IR:   %1 = sign %0 : f32[N, 4]
""", float_only=False, nondiff="piecewise constant: its derivative is 0 where defined")
sign.def_jax(lambda ctx, x: ctx.lax.sign(x))

relu = unary("relu", """Elementwise `max(x, 0)`; its derivative at 0 is 0.

    .nn:  h = relu(x @ W + b)
    IR:   %4 = relu %3 : f32[N, 128]
""", float_only=False)
relu.def_jax(lambda ctx, x: ctx.lax.max(x, ctx.lax.full_like(x, 0)))


@relu.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    zero = b.const(0, x.type.dtype)
    return b.select(b.gt(x, zero), ct, zero)


# Unary float math: each derivative is written with the op's own result where it can.

sqrt = unary("sqrt", """Elementwise square root.

    .nn:  r = sqrt(v)
    IR:   %1 = sqrt %0 : f32[N, 4]
""")
sqrt.def_jax(lambda ctx, x: ctx.lax.sqrt(x))
sqrt.def_vjp(single_cotangent(
    lambda b, node, ct: b.div(ct, b.mul(node.result, b.const(2, ct.type.dtype)))))

rsqrt = unary("rsqrt", """Elementwise `1 / sqrt(x)`.

    .nn:  s = rsqrt(var + 1e-5)
    IR:   %2 = rsqrt %1 : f32[N, 1]
""")
rsqrt.def_jax(lambda ctx, x: ctx.lax.rsqrt(x))


@rsqrt.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    minus_half = b.const(-0.5, x.type.dtype)
    return b.mul(ct, b.mul(minus_half, b.div(node.result, x)))


exp = unary("exp", """Elementwise `e ** x`.

    .nn:  e = exp(x)
    IR:   %1 = exp %0 : f32[N, 10]
""")
exp.def_jax(lambda ctx, x: ctx.lax.exp(x))
exp.def_vjp(single_cotangent(lambda b, node, ct: b.mul(ct, node.result)))

log = unary("log", """Elementwise natural logarithm.

    .nn:  l = log(p)
    IR:   %1 = log %0 : f32[N, 10]
""")
log.def_jax(lambda ctx, x: ctx.lax.log(x))
log.def_vjp(single_cotangent(lambda b, node, ct: b.div(ct, node.operands[0])))

log1p = unary("log1p", """Elementwise `log(1 + x)`, accurate near 0.

    .nn:  l = log1p(x)
    IR:   %1 = log1p %0 : f32[N, 10]
""")
log1p.def_jax(lambda ctx, x: ctx.lax.log1p(x))


@log1p.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    return b.div(ct, b.add(x, b.const(1, x.type.dtype)))


tanh = unary("tanh", """Elementwise hyperbolic tangent.

    .nn:  h = tanh(x)
    IR:   %1 = tanh %0 : f32[N, 4]
""")
tanh.def_jax(lambda ctx, x: ctx.lax.tanh(x))


@tanh.def_vjp
@single_cotangent
def _(b, node, ct):
    out = node.result
    return b.mul(ct, b.sub(b.const(1, out.type.dtype), b.square(out)))


sigmoid = unary("sigmoid", """Elementwise logistic function `1 / (1 + exp(-x))`.

    .nn:  p = sigmoid(z)
    IR:   %1 = sigmoid %0 : f32[N, 1]
""")
sigmoid.def_jax(lambda ctx, x: ctx.lax.logistic(x))


@sigmoid.def_vjp
@single_cotangent
def _(b, node, ct):
    out = node.result
    return b.mul(ct, b.mul(out, b.sub(b.const(1, out.type.dtype), out)))


softplus = unary("softplus", """Elementwise `log(1 + exp(x))`, computed without overflow.

    .nn:  y = softplus(x)
    IR:   %1 = softplus %0 : f32[N, 4]
""")
@softplus.def_jax
def _(ctx, x):
    """`max(x, 0) + log1p(exp(-|x|))`, which neither overflows nor loses small values."""
    lax = ctx.lax
    return lax.add(lax.max(x, lax.full_like(x, 0)), lax.log1p(lax.exp(lax.neg(lax.abs(x)))))
softplus.def_vjp(single_cotangent(lambda b, node, ct: b.mul(ct, b.sigmoid(node.operands[0]))))

erf = unary("erf", """Elementwise Gauss error function.

    .nn:  y = erf(x)
    IR:   %1 = erf %0 : f32[N, 4]
""")
erf.def_jax(lambda ctx, x: ctx.lax.erf(x))


@erf.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    two_over_sqrt_pi = b.const(1.1283791670955126, x.type.dtype)
    return b.mul(ct, b.mul(two_over_sqrt_pi, b.exp(b.neg(b.square(x)))))


# Dtype and gradient plumbing

convert = define("convert", ("x",), family=FAMILY, attrs={"dtype": REQUIRED}, doc="""
Elementwise conversion to `dtype`. Differentiable from float to float only: its
cotangent is converted back; to or from ints or bool there is none.

    .nn:  m = (y == t).astype(f32)
    IR:   %3 = convert %2 {dtype = f32} : f32[N]
""")


@convert.def_infer
def _(attrs, x):
    require_known_dtype("convert", attrs["dtype"])
    return x.with_dtype(attrs["dtype"])


convert.def_jax(lambda ctx, x, dtype: ctx.lax.convert_element_type(x, ctx.dtype(dtype)))


@convert.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    if x.type.is_float and ct.type.is_float:
        return b.convert(ct, dtype=x.type.dtype)
    return None


stop_gradient = define("stop_gradient", ("x",), family=FAMILY, infer=lambda attrs, x: x,
                       nondiff="it is the identity whose gradient is defined to be 0", doc="""
The identity, through which no gradient flows.

    .nn:  t = stop_gradient(target)
    IR:   %1 = stop_gradient %0 : f32[N, 1]
""")
stop_gradient.def_jax(lambda ctx, x: ctx.lax.stop_gradient(x))
