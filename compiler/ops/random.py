"""Random tensors from a scalar integer seed, for initializers and dropout.

Law: the key is `fold_in(key(seed), stream)`, the seed's low 32 bits making the key, so
one seed feeds many independent draws (each op gets its own `stream`) and equal seeds
give equal bits on every backend (`threefry.py` says how): the jax rule draws uniform
bits with `jax.random` (threefry-2x32) and the others compute the same generator; the
normal samplers are one source that every backend runs. Draws are made in f32, and
another float dtype gets the f32 draw converted, so that no backend depends on JAX's
x64 mode. A shape may hold symbolic dims (a dropout mask of a batch), which every rule
reads from its context; none of these is differentiable.
"""

from __future__ import annotations

from .. import dims
from ..ir import FLOAT_DTYPES, INT_DTYPES, TensorType, format_shape
from . import threefry
from .common import require_dtype, require_rank
from .registry import Attr, ShapeError, define

FAMILY = "random"
COMMON_ATTRS = {"shape": Attr("dims"), "dtype": Attr("dtype", "f32"), "stream": Attr("int", 0)}
DRAW_DTYPE = "f32"


def random_op(name: str, doc: str, params: dict, *, numpy, helper: str):
    """An op drawing with `numpy(np, seed, stream, shape, *params)` in the reference and
    calling the generator helper `helper(seed, stream, shape, *params)` in emitted code;
    `params` are its attributes beyond shape, dtype and stream, in that order."""
    def infer(attrs, seed):
        require_dtype(name, seed, INT_DTYPES, what="seed")
        require_rank(name, seed, (0,), what="a seed")
        require_dtype(name, TensorType(attrs["dtype"], ()), FLOAT_DTYPES, what="result")
        shape = tuple(attrs["shape"])
        if not all(dims.is_symbolic(d) or d >= 0 for d in shape):
            raise ShapeError(f"`{name}` has a negative dimension in `{format_shape(shape)}`",
                             code="E0304", help="dimensions are sizes >= 0")
        attrs["shape"] = shape
        return TensorType(attrs["dtype"], shape)
    op = define(name, ("seed",), family=FAMILY, doc=doc, infer=infer, traits=("random",),
                attrs={**COMMON_ATTRS, **params}, nondiff="it is a random draw",
                internal="initializers (`init = normal(...)`) make it")

    @op.def_numpy
    def _(ctx, seed, shape, dtype, stream, **values):
        sample = numpy(ctx.np, seed, stream, ctx.result_shape(), *(values[p] for p in params))
        return sample.astype(ctx.dtype(dtype))

    def call(ctx, helpers, seed, attrs) -> str:
        for helper_name, source in threefry.helpers_of(helpers, helper).items():
            ctx.helper(helper_name, source)
        args = ", ".join(f"{a}={ctx.literal(attrs[a])}" for a in ("stream", *params))
        return f"{helper}({seed}, shape={ctx.result_shape()}, {args})"

    @op.def_tf
    def _(ctx, seed, **attrs):
        sample = call(ctx, threefry.TF_HELPERS, seed, attrs)
        dtype = attrs["dtype"]
        return sample if dtype == DRAW_DTYPE else f"tf.cast({sample}, {ctx.dtype(dtype)})"

    @op.def_torch
    def _(ctx, seed, **attrs):
        sample = call(ctx, threefry.TORCH_HELPERS, seed, attrs)
        dtype = attrs["dtype"]
        return sample if dtype == DRAW_DTYPE else f"{sample}.to({ctx.dtype(dtype)})"
    return op


def stream_key(ctx, seed, stream: int):
    """The key of one parameter's stream: `init`'s seed folded with the stream index.
    The seed is made uint32 first, so that an `i64` seed keys alike with or without x64."""
    word = ctx.lax.convert_element_type(seed, "uint32")
    return ctx.random.fold_in(ctx.random.key(word), stream)


def jax_normals(ctx) -> dict:
    """The shared normal samplers (`threefry.NORMAL_SOURCE`) over JAX's primitives."""
    lax = ctx.lax

    def where(condition, a, b):
        a, b = (lax.full_like(condition, v, "float32") if isinstance(v, float) else v
                for v in (a, b))
        return lax.select(condition, a, b)

    def uniform(seed, stream, shape, low, high):
        return ctx.random.uniform(stream_key(ctx, seed, stream), shape,
                                  ctx.dtype(DRAW_DTYPE), low, high)

    return threefry.normal_functions({
        "_dslc_rounded": lambda p: lax.max(p, lax.full_like(p, threefry.LOWEST)),
        "_dslc_where": where,
        "_dslc_sqrt": lax.sqrt,
        "_dslc_bits_of": lambda z: lax.bitcast_convert_type(z, "int32"),
        "_dslc_float_of": lambda i: lax.bitcast_convert_type(i, "float32"),
        "_dslc_to_f32": lambda i: lax.convert_element_type(i, "float32"),
        "_dslc_random_uniform": uniform,
    })


def as_result(ctx, sample):
    return ctx.lax.convert_element_type(sample, ctx.dtype(ctx.result_types[0].dtype))


random_uniform = random_op("random_uniform", """
Uniform samples in `[low, high)`.

    .nn:  param W: f32[2, 1] = uniform(0, 1)
    IR:   %1 = random_uniform %0 {dtype = "f32", high = 1.0, low = 0.0, shape = [2, 1], stream = 0} : f32[2, 1]
""", {"low": Attr("float", 0.0), "high": Attr("float", 1.0)},
    numpy=threefry.uniform, helper="_dslc_random_uniform")


@random_uniform.def_jax
def _(ctx, seed, shape, dtype, stream, low, high):
    key = stream_key(ctx, seed, stream)
    return as_result(ctx, ctx.random.uniform(key, ctx.result_shape(), ctx.dtype(DRAW_DTYPE),
                                             low, high))


random_normal = random_op("random_normal", """
Normal samples with `mean` and `stddev`.

    .nn:  param W: f32[784, 512] = random_normal
    IR:   %1 = random_normal %0 {dtype = "f32", mean = 0.0, shape = [784, 512], stddev = 0.05, stream = 0} : f32[784, 512]
""", {"mean": Attr("float", 0.0), "stddev": Attr("float", 1.0)},
    numpy=threefry.normal, helper="_dslc_random_normal")


@random_normal.def_jax
def _(ctx, seed, shape, dtype, stream, mean, stddev):
    sample = jax_normals(ctx)["_dslc_random_normal"](seed, stream, ctx.result_shape(), mean,
                                                     stddev)
    return as_result(ctx, sample)


truncated_normal = random_op("truncated_normal", """
Normal samples with `mean` and `stddev`, redrawn beyond 2 stddev (Keras'
`TruncatedNormal`: `stddev` is that of the normal before truncation).

    .nn:  param W: f32[64, 10] = truncated_normal(stddev=0.05)
    IR:   %1 = truncated_normal %0 {dtype = "f32", mean = 0.0, shape = [64, 10], stddev = 0.05, stream = 0} : f32[64, 10]
""", {"mean": Attr("float", 0.0), "stddev": Attr("float", 1.0)},
    numpy=threefry.truncated_normal, helper="_dslc_truncated_normal")


@truncated_normal.def_jax
def _(ctx, seed, shape, dtype, stream, mean, stddev):
    sample = jax_normals(ctx)["_dslc_truncated_normal"](seed, stream, ctx.result_shape(), mean,
                                                        stddev)
    return as_result(ctx, sample)
