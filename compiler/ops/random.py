"""Random tensors from a scalar `i32` seed, for initializers and dropout.

Law: the key is `fold_in(key(seed), stream)`, so one seed feeds many independent
draws (each op gets its own `stream`) and equal seeds give equal tensors on every
backend. Shapes are concrete, the dtype a float; none of these is differentiable.
"""

from __future__ import annotations

from ..ir import FLOAT_DTYPES, INT_DTYPES, TensorType, format_shape
from .common import require_dtype, require_rank
from .registry import Attr, ShapeError, define

FAMILY = "random"
COMMON_ATTRS = {"shape": Attr("dims"), "dtype": Attr("dtype", "f32"), "stream": Attr("int", 0)}


def random_op(name: str, doc: str, params: dict):
    def infer(attrs, seed):
        require_dtype(name, seed, INT_DTYPES, what="seed")
        require_rank(name, seed, (0,), what="a seed")
        require_dtype(name, TensorType(attrs["dtype"], ()), FLOAT_DTYPES, what="result")
        shape = tuple(attrs["shape"])
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ShapeError(f"`{name}` needs a concrete shape, got `{format_shape(shape)}`",
                             code="E0207", help="random tensors have integer dimensions")
        attrs["shape"] = shape
        return TensorType(attrs["dtype"], shape)
    return define(name, ("seed",), family=FAMILY, doc=doc, infer=infer,
                  attrs={**COMMON_ATTRS, **params}, nondiff="it is a random draw")


def stream_key(ctx, seed, stream: int):
    """The key of one parameter's stream: `init`'s seed folded with the stream index."""
    return ctx.random.fold_in(ctx.random.key(seed), stream)


def scale_shift(ctx, sample, stddev, mean):
    """`sample * stddev + mean`, in the sample's dtype."""
    lax = ctx.lax
    return lax.add(lax.mul(sample, lax.full_like(sample, stddev)), lax.full_like(sample, mean))


random_uniform = random_op("random_uniform", """
Uniform samples in `[low, high)`.

    .nn:  param W: f32[2, 1] = uniform(0, 1)
    IR:   %1 = random_uniform %0 {dtype = f32, high = 1.0, low = 0.0, shape = [2, 1], stream = 0} : f32[2, 1]
""", {"low": Attr("float", 0.0), "high": Attr("float", 1.0)})


@random_uniform.def_jax
def _(ctx, seed, shape, dtype, stream, low, high):
    return ctx.random.uniform(stream_key(ctx, seed, stream), shape, ctx.dtype(dtype), low, high)


random_normal = random_op("random_normal", """
Normal samples with `mean` and `stddev`.

    .nn:  param W: f32[in, units] = random_normal
    IR:   %1 = random_normal %0 {dtype = f32, mean = 0.0, shape = [784, 512], stddev = 1.0, stream = 3} : f32[784, 512]
""", {"mean": Attr("float", 0.0), "stddev": Attr("float", 1.0)})


@random_normal.def_jax
def _(ctx, seed, shape, dtype, stream, mean, stddev):
    sample = ctx.random.normal(stream_key(ctx, seed, stream), shape, ctx.dtype(dtype))
    return scale_shift(ctx, sample, stddev, mean)


truncated_normal = random_op("truncated_normal", """
Normal samples with `mean` and `stddev`, redrawn beyond 2 stddev (Keras'
`TruncatedNormal`: `stddev` is that of the normal before truncation).

    .nn:  param W: f32[64, 10] = truncated_normal(stddev=0.05)
    IR:   %1 = truncated_normal %0 {dtype = f32, mean = 0.0, shape = [64, 10], stddev = 0.05, stream = 1} : f32[64, 10]
""", {"mean": Attr("float", 0.0), "stddev": Attr("float", 1.0)})


@truncated_normal.def_jax
def _(ctx, seed, shape, dtype, stream, mean, stddev):
    sample = ctx.random.truncated_normal(stream_key(ctx, seed, stream), -2.0, 2.0, shape,
                                         ctx.dtype(dtype))
    return scale_shift(ctx, sample, stddev, mean)
