"""Elementwise ops: each result element depends only on the elements at the same index.

Laws: a unary op keeps its operand's type; a binary op's operands share one dtype
(E0209) and broadcast numpy-style (E0202, `common.broadcast_shapes`), so its VJP
unbroadcasts each cotangent back to its operand's shape. Float-only ops reject ints.
"""

from __future__ import annotations

import math

from ..ir import TensorType
from .common import (broadcast_shapes, require_float,
                     require_known_dtype, require_numeric, require_same_dtype,
                     single_cotangent)
from .registry import Attr, Surface, define

FAMILY = "elementwise"


def unary(name: str, doc: str, *, float_only: bool = True, nondiff: str | None = None,
          traits=(), operator: str | None = None):
    """An elementwise op of one operand; `.nn` calls it by its name (`exp(x)`)."""
    def infer(attrs, x):
        (require_float if float_only else require_numeric)(name, x)
        return x
    return define(name, ("x",), family=FAMILY, doc=doc, infer=infer, nondiff=nondiff,
                  traits=("elementwise", *traits), surface=Surface(name, operator))


def binary(name: str, doc: str, *, float_only: bool = False, traits=(),
           surface: Surface):
    def infer(attrs, x, y):
        dtype = require_same_dtype(name, (x, y))
        (require_float if float_only else require_numeric)(name, x)
        return TensorType(dtype, broadcast_shapes(name, (x, y)))
    return define(name, ("x", "y"), family=FAMILY, doc=doc, infer=infer,
                  traits=("elementwise", "broadcasting", *traits), surface=surface)


def functions(op, *, lax: str, numpy: str, tf: str, torch: str) -> None:
    """The four rules of an op that every backend has as one function of the operands:
    `lax` and `numpy` name a function of `jax.lax` and of NumPy (lax needs the operands
    broadcast first), `tf` and `torch` its source spelling. Dtypes need no care: the
    operands already share the result's dtype."""
    op.def_jax(lambda ctx, *xs: getattr(ctx.lax, lax)(*ctx.broadcast(*xs)))
    op.def_numpy(lambda ctx, *xs: getattr(ctx.np, numpy)(*xs))
    op.def_tf(lambda ctx, *xs: f"{tf}({', '.join(xs)})")
    op.def_torch(lambda ctx, *xs: f"{torch}({', '.join(xs)})")


def scaled(b, ct, factor, operand):
    """`ct * factor` summed back to `operand`'s shape."""
    return b.unbroadcast(b.mul(ct, factor), operand.type)


# Binary arithmetic

add = binary("add", """Elementwise sum, broadcasting.

    .nn:  h = x @ W + b  # x: f32[N, 2], W: f32[2, 1], b: f32[1]
    IR:   %2 = add %0, %1 : f32[N, 1]
""", traits=("commutative", "linear"), surface=Surface(operator="+"))
functions(add, lax="add", numpy="add", tf="tf.add", torch="torch.add")


@add.def_transpose
@single_cotangent
def _(b, node, ct):
    x, y = node.operands
    return b.unbroadcast(ct, x.type), b.unbroadcast(ct, y.type)


sub = binary("sub", """Elementwise difference, broadcasting.

    .nn:  d = y_pred - y_true  # y_pred: f32[N, 1], y_true: f32[N, 1]
    IR:   %2 = sub %0, %1 : f32[N, 1]
""", traits=("linear",), surface=Surface(operator="-"))
functions(sub, lax="sub", numpy="subtract", tf="tf.subtract", torch="torch.sub")


@sub.def_transpose
@single_cotangent
def _(b, node, ct):
    x, y = node.operands
    return b.unbroadcast(ct, x.type), b.unbroadcast(b.neg(ct), y.type)


mul = binary("mul", """Elementwise product, broadcasting.

    .nn:  y = x * w  # x: f32[N, 4], w: f32[4]
    IR:   %2 = mul %0, %1 : f32[N, 4]
""", traits=("commutative",), surface=Surface(operator="*"))
functions(mul, lax="mul", numpy="multiply", tf="tf.multiply", torch="torch.mul")


@mul.def_vjp
@single_cotangent
def _(b, node, ct):
    x, y = node.operands
    return scaled(b, ct, y, x), scaled(b, ct, x, y)


div = binary("div", """Elementwise quotient, broadcasting (ints round toward zero).

    .nn:  p = e / s  # e: f32[N, 10], s: f32[N, 1]
    IR:   %2 = div %0, %1 : f32[N, 10]
""", surface=Surface(operator="/"))
div.def_jax(lambda ctx, x, y: ctx.lax.div(*ctx.broadcast(x, y)))


@div.def_numpy
def _(ctx, x, y):
    if ctx.result_types[0].is_float:
        return ctx.np.divide(x, y)
    np = ctx.np
    return np.sign(x) * np.sign(y) * (np.abs(x) // np.abs(y))


div.def_tf(lambda ctx, x, y: f"tf.math.divide({x}, {y})" if ctx.result_types[0].is_float
           else f"tf.truncatediv({x}, {y})")
div.def_torch(lambda ctx, x, y: f"torch.div({x}, {y})" if ctx.result_types[0].is_float
              else f'torch.div({x}, {y}, rounding_mode="trunc")')


@div.def_vjp
@single_cotangent
def _(b, node, ct):
    x, y = node.operands
    ct_over_y = b.div(ct, y)
    return (b.unbroadcast(ct_over_y, x.type),
            b.unbroadcast(b.neg(b.mul(ct_over_y, node.result)), y.type))


pow_ = binary("pow", """`x ** y` elementwise, both tensors, broadcasting; floats only.

    .nn:  y = x ** z  # x: f32[N, 4], z: f32[N, 4]
    IR:   %2 = pow %0, %1 : f32[N, 4]

The derivative in `y` is `log(x) * x ** y` where `x > 0` and 0 elsewhere; the one in
`x` is `y * x ** (y - 1)`, taken as 0 where `y == 0` (as JAX does).
""", float_only=True, surface=Surface("pow", "**"))
functions(pow_, lax="pow", numpy="power", tf="tf.pow", torch="torch.pow")


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

    .nn:  y = maximum(x, z)  # x: f32[N, 4], z: f32[4]
    IR:   %2 = maximum %0, %1 : f32[N, 4]
""", traits=("commutative",), surface=Surface("maximum"))
functions(maximum, lax="max", numpy="maximum", tf="tf.maximum", torch="torch.maximum")

minimum = binary("minimum", """Elementwise minimum, broadcasting.

    .nn:  y = minimum(x, z)  # x: f32[N, 4], z: f32[N, 4]
    IR:   %2 = minimum %0, %1 : f32[N, 4]
""", traits=("commutative",), surface=Surface("minimum"))
functions(minimum, lax="min", numpy="minimum", tf="tf.minimum", torch="torch.minimum")


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

    .nn:  y = -x  # x: f32[N, 4]
    IR:   %1 = neg %0 : f32[N, 4]
""", float_only=False, traits=("linear",), operator="-")
functions(neg, lax="neg", numpy="negative", tf="tf.negative", torch="torch.neg")
neg.def_transpose(single_cotangent(lambda b, node, ct: b.neg(ct)))

square = unary("square", """Elementwise `x * x`.

    .nn:  y = square(x)  # x: f32[N, 4]
    IR:   %1 = square %0 : f32[N, 4]
""", float_only=False)
functions(square, lax="square", numpy="square", tf="tf.square", torch="torch.square")


@square.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    return b.mul(ct, b.mul(x, b.const(2, x.type.dtype)))


abs_ = unary("abs", """Elementwise absolute value; its derivative at 0 is 0.

    .nn:  y = abs(x)  # x: f32[N, 4]
    IR:   %1 = abs %0 : f32[N, 4]
""", float_only=False)
functions(abs_, lax="abs", numpy="abs", tf="tf.abs", torch="torch.abs")
abs_.def_vjp(single_cotangent(lambda b, node, ct: b.mul(ct, b.sign(node.operands[0]))))

sign = unary("sign", """Elementwise sign: -1, 0 or 1.

    .nn:  s = sign(x)  # x: f32[N, 4]
    IR:   %1 = sign %0 : f32[N, 4]
""", float_only=False, nondiff="piecewise constant: its derivative is 0 where defined")
functions(sign, lax="sign", numpy="sign", tf="tf.sign", torch="torch.sign")

relu = unary("relu", """Elementwise `max(x, 0)`; its derivative at 0 is 0.

    .nn:  h = relu(x)  # x: f32[N, 128]
    IR:   %1 = relu %0 : f32[N, 128]
""", float_only=False)
relu.def_jax(lambda ctx, x: ctx.lax.max(x, ctx.lax.full_like(x, 0)))
relu.def_numpy(lambda ctx, x: ctx.np.maximum(x, ctx.np.zeros((), x.dtype)))
relu.def_tf(lambda ctx, x: f"tf.nn.relu({x})")
relu.def_torch(lambda ctx, x: f"torch.relu({x})")


@relu.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    zero = b.const(0, x.type.dtype)
    return b.select(b.gt(x, zero), ct, zero)


# Unary float math: each derivative is written with the op's own result where it can.

sqrt = unary("sqrt", """Elementwise square root.

    .nn:  r = sqrt(v)  # v: f32[N, 4]
    IR:   %1 = sqrt %0 : f32[N, 4]
""")
functions(sqrt, lax="sqrt", numpy="sqrt", tf="tf.sqrt", torch="torch.sqrt")
sqrt.def_vjp(single_cotangent(
    lambda b, node, ct: b.div(ct, b.mul(node.result, b.const(2, ct.type.dtype)))))

rsqrt = unary("rsqrt", """Elementwise `1 / sqrt(x)`.

    .nn:  s = rsqrt(v)  # v: f32[N, 1]
    IR:   %1 = rsqrt %0 : f32[N, 1]
""")
rsqrt.def_jax(lambda ctx, x: ctx.lax.rsqrt(x))
rsqrt.def_numpy(lambda ctx, x: 1 / ctx.np.sqrt(x))
rsqrt.def_tf(lambda ctx, x: f"tf.math.rsqrt({x})")
rsqrt.def_torch(lambda ctx, x: f"torch.rsqrt({x})")


@rsqrt.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    minus_half = b.const(-0.5, x.type.dtype)
    return b.mul(ct, b.mul(minus_half, b.div(node.result, x)))


exp = unary("exp", """Elementwise `e ** x`.

    .nn:  e = exp(x)  # x: f32[N, 10]
    IR:   %1 = exp %0 : f32[N, 10]
""")
functions(exp, lax="exp", numpy="exp", tf="tf.exp", torch="torch.exp")
exp.def_vjp(single_cotangent(lambda b, node, ct: b.mul(ct, node.result)))

expm1 = unary("expm1", """Elementwise `exp(x) - 1`, accurate near 0 (Keras' `elu` and `selu`).

    .nn:  e = expm1(x)  # x: f32[N, 10]
    IR:   %1 = expm1 %0 : f32[N, 10]
""")
functions(expm1, lax="expm1", numpy="expm1", tf="tf.math.expm1", torch="torch.expm1")
expm1.def_vjp(single_cotangent(lambda b, node, ct: b.mul(ct, b.exp(node.operands[0]))))

sin = unary("sin", """Elementwise sine, in radians.

    .nn:  s = sin(x)  # x: f32[N, 4]
    IR:   %1 = sin %0 : f32[N, 4]
""")
functions(sin, lax="sin", numpy="sin", tf="tf.sin", torch="torch.sin")
sin.def_vjp(single_cotangent(lambda b, node, ct: b.mul(ct, b.cos(node.operands[0]))))

cos = unary("cos", """Elementwise cosine, in radians (Keras' `CosineDecay` schedule).

    .nn:  c = cos(x)  # x: f32[N, 4]
    IR:   %1 = cos %0 : f32[N, 4]
""")
functions(cos, lax="cos", numpy="cos", tf="tf.cos", torch="torch.cos")
cos.def_vjp(single_cotangent(lambda b, node, ct: b.neg(b.mul(ct, b.sin(node.operands[0])))))

floor = unary("floor", """Elementwise round toward minus infinity (a `staircase` schedule).

    .nn:  f = floor(x)  # x: f32[N, 4]
    IR:   %1 = floor %0 : f32[N, 4]
""", nondiff="piecewise constant: its derivative is 0 where defined")
functions(floor, lax="floor", numpy="floor", tf="tf.floor", torch="torch.floor")

log = unary("log", """Elementwise natural logarithm.

    .nn:  l = log(p)  # p: f32[N, 10]
    IR:   %1 = log %0 : f32[N, 10]
""")
functions(log, lax="log", numpy="log", tf="tf.math.log", torch="torch.log")
log.def_vjp(single_cotangent(lambda b, node, ct: b.div(ct, node.operands[0])))

log1p = unary("log1p", """Elementwise `log(1 + x)`, accurate near 0.

    .nn:  l = log1p(x)  # x: f32[N, 10]
    IR:   %1 = log1p %0 : f32[N, 10]
""")
functions(log1p, lax="log1p", numpy="log1p", tf="tf.math.log1p", torch="torch.log1p")


@log1p.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    return b.div(ct, b.add(x, b.const(1, x.type.dtype)))


tanh = unary("tanh", """Elementwise hyperbolic tangent.

    .nn:  h = tanh(x)  # x: f32[N, 4]
    IR:   %1 = tanh %0 : f32[N, 4]
""")
functions(tanh, lax="tanh", numpy="tanh", tf="tf.tanh", torch="torch.tanh")


@tanh.def_vjp
@single_cotangent
def _(b, node, ct):
    out = node.result
    return b.mul(ct, b.sub(b.const(1, out.type.dtype), b.square(out)))


sigmoid = unary("sigmoid", """Elementwise logistic function `1 / (1 + exp(-x))`.

    .nn:  p = sigmoid(z)  # z: f32[N, 1]
    IR:   %1 = sigmoid %0 : f32[N, 1]
""")
sigmoid.def_jax(lambda ctx, x: ctx.lax.logistic(x))
# The tanh form overflows nowhere, unlike `1 / (1 + exp(-x))` for large negative `x`.
sigmoid.def_numpy(lambda ctx, x: 0.5 * (ctx.np.tanh(0.5 * x) + 1))
sigmoid.def_tf(lambda ctx, x: f"tf.sigmoid({x})")
sigmoid.def_torch(lambda ctx, x: f"torch.sigmoid({x})")


@sigmoid.def_vjp
@single_cotangent
def _(b, node, ct):
    out = node.result
    return b.mul(ct, b.mul(out, b.sub(b.const(1, out.type.dtype), out)))


softplus = unary("softplus", """Elementwise `log(1 + exp(x))`, computed without overflow.

    .nn:  y = softplus(x)  # x: f32[N, 4]
    IR:   %1 = softplus %0 : f32[N, 4]
""")
@softplus.def_jax
def _(ctx, x):
    """`max(x, 0) + log1p(exp(-|x|))`, which neither overflows nor loses small values."""
    lax = ctx.lax
    return lax.add(lax.max(x, lax.full_like(x, 0)), lax.log1p(lax.exp(lax.neg(lax.abs(x)))))


softplus.def_numpy(lambda ctx, x: ctx.np.logaddexp(x, ctx.np.zeros((), x.dtype)))
softplus.def_tf(lambda ctx, x: f"tf.nn.softplus({x})")
softplus.def_torch(lambda ctx, x: f"torch.nn.functional.softplus({x})")
softplus.def_vjp(single_cotangent(lambda b, node, ct: b.mul(ct, b.sigmoid(node.operands[0]))))

erf = unary("erf", """Elementwise Gauss error function.

    .nn:  y = erf(x)  # x: f32[N, 4]
    IR:   %1 = erf %0 : f32[N, 4]
""")
erfc = unary("erfc", """Elementwise `1 - erf(x)`, accurate where it is small (the exact `gelu`).

    .nn:  y = erfc(x)  # x: f32[N, 4]
    IR:   %1 = erfc %0 : f32[N, 4]
""")


def error_function(op, *, slope: float) -> None:
    """The rules of `erf` and `erfc`: NumPy has neither, so its rule is Python's `math`
    function element by element in float64; the derivative is `slope * exp(-x ** 2)`."""
    name = op.name
    op.def_jax(lambda ctx, x: getattr(ctx.lax, name)(x))

    @op.def_numpy
    def _(ctx, x):
        in_float64 = ctx.np.frompyfunc(getattr(math, name), 1, 1)
        return ctx.np.asarray(in_float64(x.astype(ctx.np.float64)), x.dtype)

    op.def_tf(lambda ctx, x: f"tf.math.{name}({x})")
    op.def_torch(lambda ctx, x: f"torch.{name}({x})")

    @op.def_vjp
    @single_cotangent
    def _(b, node, ct):
        (x,) = node.operands
        return b.mul(ct, b.mul(b.const(slope, x.type.dtype), b.exp(b.neg(b.square(x)))))


error_function(erf, slope=1.1283791670955126)  # 2 / sqrt(pi)
error_function(erfc, slope=-1.1283791670955126)


# Dtype and gradient plumbing

def cast(b, x, dtype):
    """`cast(x, dtype)` is no op at all where `x` already has `dtype`."""
    return x if x.type.dtype == dtype else b.emit("convert", x, dtype=dtype)


convert = define("convert", ("x",), family=FAMILY, attrs={"dtype": Attr("dtype")},
                 traits=("elementwise",), surface=Surface("cast", bind=cast), doc="""
Elementwise conversion to `dtype`. Differentiable from float to float only: its
cotangent is converted back; to or from ints or bool there is none.

    .nn:  m = cast(y == t, f32)  # y: i32[N], t: i32[N]
    IR:   %1 = convert %0 {dtype = "f32"} : f32[N]
""")


@convert.def_infer
def _(attrs, x):
    require_known_dtype("convert", attrs["dtype"])
    return x.with_dtype(attrs["dtype"])


convert.def_jax(lambda ctx, x, dtype: ctx.lax.convert_element_type(x, ctx.dtype(dtype)))
convert.def_numpy(lambda ctx, x, dtype: x.astype(ctx.dtype(dtype)))
convert.def_tf(lambda ctx, x, dtype: f"tf.cast({x}, {ctx.dtype(dtype)})")
convert.def_torch(lambda ctx, x, dtype: f"{x}.to({ctx.dtype(dtype)})")


@convert.def_vjp
@single_cotangent
def _(b, node, ct):
    (x,) = node.operands
    if x.type.is_float and ct.type.is_float:
        return b.convert(ct, dtype=x.type.dtype)
    return None


stop_gradient = define("stop_gradient", ("x",), family=FAMILY, infer=lambda attrs, x: x,
                       traits=("elementwise",), surface=Surface("stop_gradient"),
                       nondiff="it is the identity whose gradient is defined to be 0", doc="""
The identity, through which no gradient flows.

    .nn:  t = stop_gradient(target)  # target: f32[N, 1]
    IR:   %1 = stop_gradient %0 : f32[N, 1]
""")
stop_gradient.def_jax(lambda ctx, x: ctx.lax.stop_gradient(x))
stop_gradient.def_numpy(lambda ctx, x: x)
stop_gradient.def_tf(lambda ctx, x: f"tf.stop_gradient({x})")
stop_gradient.def_torch(lambda ctx, x: f"{x}.detach()")
