"""The builtin names of `.nn` code that the compiler implements (not the prelude).

Tensor functions map onto IR ops; initializers, optimizers and data sources (their
records in `compiler/initializers.py`, `optimizers.py`, `data_sources.py`) evaluate to
`Spec`s that carry the record; dtypes and `grad` are compile-time values. The table is
built once (`builtin_globals`); the prelude (`compiler/prelude/*.nn`) adds the rest.
"""

from __future__ import annotations

import functools
import math
import types
from typing import Any, Mapping

from ..data_sources import DATA_SOURCES, REQUIRED as DATA_REQUIRED
from ..initializers import ALIASES as INIT_ALIASES, INITIALIZERS
from ..ir import DTYPES, Value
from ..optimizers import ALIASES as OPT_ALIASES, OPTIMIZERS
from .binding import CallSite
from .values import (ALL, REQUIRED, Builtin, DimSym, Dtype, FnRef, GradOf, LayerInstance,
                     ModelRef, Signature, Spec, kind_name)

UNARY_OPS = ("exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "abs", "square",
             "sign", "neg", "stop_gradient")
BINARY_OPS = {"maximum": "elementwise maximum, broadcasting",
              "minimum": "elementwise minimum, broadcasting",
              "matmul": "matrix product with NumPy's rules (`x @ y`)",
              "pow": "elementwise power, broadcasting (`x ** y`)"}
REDUCTIONS = ("sum", "mean", "max", "min")


def _unary(op: str):
    return lambda c, x: c.b.emit(op, c.tensor("x", x))


def _binary(op: str):
    def impl(c: CallSite, x, y):
        like = x if isinstance(x, Value) else y
        dtype = like.type.dtype if isinstance(like, Value) else "f32"
        return c.b.emit(op, c.tensor("x", x, dtype), c.tensor("y", y, dtype))
    return impl


def _axes(c: CallSite, axis) -> tuple[int, ...] | None:
    if axis is None:
        return None
    items = axis if isinstance(axis, list) else [axis]
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in items):
        raise c.fail("E0304", f"`axis` should be an int or a list of ints, found "
                     f"{kind_name(axis)}", "axis")
    return tuple(items)


def _reduce(op: str):
    def impl(c: CallSite, x, axis=None, keepdims=False):
        return c.b.emit(op, c.tensor("x", x), axes=_axes(c, axis), keepdims=bool(keepdims))
    return impl


def _dims(c: CallSite, shape, arg: str) -> tuple:
    if not isinstance(shape, list):
        raise c.fail("E0304", f"`{arg}` should be a list of dims, found {kind_name(shape)}", arg)
    dims = []
    for dim in shape:
        if isinstance(dim, DimSym):
            dims.append(dim.name)
        elif isinstance(dim, int) and not isinstance(dim, bool):
            dims.append(dim)
        else:
            raise c.fail("E0304", f"a dim should be an int or a symbol, found {kind_name(dim)}",
                         arg)
    return tuple(dims)


def _reshape(c: CallSite, x, shape):
    return c.b.emit("reshape", c.tensor("x", x), shape=_dims(c, shape, "shape"))


def _flatten(c: CallSite, x):
    """Keeps the first dim and flattens the rest, like Keras' Flatten."""
    x = c.tensor("x", x)
    rest = x.type.shape[1:]
    if not all(isinstance(d, int) for d in rest):
        raise c.fail("E0601", f"cannot flatten the symbolic dims of `{x.type}` yet", "x")
    return c.b.emit("reshape", x, shape=(x.type.shape[0], math.prod(rest)))


def _transpose(c: CallSite, x, perm=None):
    x = c.tensor("x", x)
    perm = tuple(reversed(range(x.type.rank))) if perm is None else _axes(c, perm)
    return c.b.emit("transpose", x, perm=perm)


def _concat(c: CallSite, xs, axis=-1):
    if not isinstance(xs, list) or not xs:
        raise c.fail("E0304", "`concat` takes a non-empty list of tensors", "xs")
    tensors = [c.tensor("xs", x) for x in xs]
    return c.b.emit("concat", *tensors, axis=axis)


def _where(c: CallSite, condition, x, y):
    like = x if isinstance(x, Value) else y
    dtype = like.type.dtype if isinstance(like, Value) else "f32"
    return c.b.emit("select", c.tensor("condition", condition, "bool"),
                    c.tensor("x", x, dtype), c.tensor("y", y, dtype))


def _dtype_arg(c: CallSite, dtype, arg="dtype") -> str:
    if isinstance(dtype, Dtype):
        return dtype.name
    if isinstance(dtype, str) and dtype in DTYPES:
        return dtype
    raise c.fail("E0201", f"expected a dtype such as `f32`, found {kind_name(dtype)}", arg)


def _cast(c: CallSite, x, dtype):
    return c.b.cast(c.tensor("x", x), _dtype_arg(c, dtype))


def _one_hot(c: CallSite, indices, depth, dtype=Dtype("f32")):
    if not isinstance(depth, int) or isinstance(depth, bool) or depth not in range(1, 2**31):
        found = (f"`{depth}`" if isinstance(depth, int) and not isinstance(depth, bool)
                 and abs(depth) < 10**12 else kind_name(depth))
        raise c.fail("E0304", f"`depth` should be a positive int below 2**31, found {found}",
                     "depth")
    return c.b.emit("one_hot", c.tensor("indices", indices, "i32"), depth=depth,
                    dtype=_dtype_arg(c, dtype))


def _argmax(c: CallSite, x, axis=-1, keepdims=False):
    return c.b.emit("argmax", c.tensor("x", x), axis=axis, keepdims=bool(keepdims))


def _shape(c: CallSite, x):
    return [d if isinstance(d, int) else DimSym(d) for d in c.tensor("x", x).type.shape]


def _grad_of(with_value: bool):
    def impl(c: CallSite, f, argnums=0, has_aux=False):
        if not isinstance(f, (FnRef, GradOf, ModelRef, Builtin, LayerInstance)):
            raise c.fail("E0305", f"`grad` takes a function, found {kind_name(f)}", "f")
        nums = tuple(argnums) if isinstance(argnums, list) else (argnums,)
        if not nums or not all(isinstance(n, int) and not isinstance(n, bool) for n in nums):
            raise c.fail("E0304", f"`argnums` should be an int or a non-empty list of ints, "
                         f"found {kind_name(argnums)}", "argnums",
                         help="`argnums=1` differentiates the second argument")
        return GradOf(f, nums, with_value=with_value, has_aux=bool(has_aux))
    return impl


# Compiler-implemented functions beyond the op families above: name, signature,
# implementation, one-line doc.
FUNCTIONS = (
    ("reshape", Signature.of("x", "shape"), _reshape, "a new shape, same elements"),
    ("flatten", Signature.of("x"), _flatten, "flattens all but the first dim"),
    ("transpose", Signature.of("x", perm=None), _transpose, "permutes the dims"),
    ("concat", Signature.of("xs", axis=-1), _concat, "joins tensors along `axis`"),
    ("where", Signature.of("condition", "x", "y"), _where, "elementwise choice"),
    ("cast", Signature.of("x", "dtype"), _cast, "converts the element type"),
    ("one_hot", Signature.of("indices", "depth", dtype=Dtype("f32")), _one_hot,
     "one-hot vectors of length `depth`"),
    ("argmax", Signature.of("x", axis=-1, keepdims=False), _argmax,
     "index of the largest element"),
    ("shape", Signature.of("x"), _shape, "the dims of a tensor, as a list"),
    ("grad", Signature.of("f", argnums=0, has_aux=False), _grad_of(False),
     "the gradient of `f` in argument `argnums`"),
    ("value_and_grad", Signature.of("f", argnums=0, has_aux=False), _grad_of(True),
     "`f`'s value and gradient"),
)


def _configure(kind: str, name: str, component, kinds: dict[str, str]):
    def impl(c: CallSite, **args):
        for arg, value in args.items():
            if kinds.get(arg) and arg in c.arg_spans:  # given, not a default
                check_arg_kind(c, arg, value, kinds[arg], f"`{name}`")
        return Spec(kind, name, component, args, c.span)
    return impl


# What an argument of an initializer, optimizer or data source must be, by the kind of
# its default (or, for a data source, its declared kind): these reach the runtime as
# Python values, so a `relu` or a list there would only fail later, inside JAX.
ARG_KINDS: dict[str, str] = {"int": "an integer", "float": "a number",
                             "bool": "`true` or `false`", "str": "a string"}
INT32 = range(-2**31, 2**31)
SEEDS = range(0, 2**31)


def arg_kind(default: Any) -> str | None:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if default is None:
        return "int"  # the `seed` of an initializer, None meaning "from init's seed"
    return None


def check_arg_kind(c: CallSite, arg: str, value: Any, kind: str, what: str) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = {"int": isinstance(value, int) and number, "float": number,
          "bool": isinstance(value, bool), "str": isinstance(value, str)}[kind]
    if not ok:
        raise c.fail("E0304", f"{what}'s `{arg}` should be {ARG_KINDS[kind]}, found "
                     f"{kind_name(value)}", arg, f"not {ARG_KINDS[kind]}")
    # Seeds seed NumPy's generators too, which take no negative seed.
    if kind == "int" and value not in (SEEDS if arg == "seed" else INT32):
        raise c.fail("E0304", f"{what}'s `{arg}` is out of range", arg,
                     help="a seed is from 0 to 2**31 - 1" if arg == "seed"
                     else "it must fit in a 32-bit integer")


def _component(kind: str, name: str, component, params: dict[str, Any],
               kinds: dict[str, str | None]) -> Builtin:
    """The builtin that names an initializer, optimizer or data source: called, it
    configures a `Spec` of it; bare, it stands for one with its defaults."""
    signature = Signature(tuple(params.items()))
    return Builtin(name, signature, _configure(kind, name, component, kinds),
                   component.doc, spec_kind=kind, component=component)


def _by_defaults(kind: str, name: str, component) -> Builtin:
    return _component(kind, name, component, component.params,
                      {k: arg_kind(v) for k, v in component.params.items()})


def builtin_globals() -> Mapping[str, Any]:
    """Every builtin name with its compile-time value, built once per process."""
    return _builtin_table()


@functools.cache
def _builtin_table() -> Mapping[str, Any]:
    table: dict[str, Any] = {}
    for op in UNARY_OPS:
        table[op] = Builtin(op, Signature.of("x"), _unary(op), f"elementwise `{op}`")
    for op, doc in BINARY_OPS.items():
        table[op] = Builtin(op, Signature.of("x", "y"), _binary(op), doc)
    for op in REDUCTIONS:
        table[op] = Builtin(op, Signature.of("x", axis=None, keepdims=False), _reduce(op),
                            f"`{op}` over `axis` (all axes by default)")
    for name, signature, impl, doc in FUNCTIONS:
        table[name] = Builtin(name, signature, impl, doc)
    for name in DTYPES:
        table[name] = Dtype(name)
    table["all"] = ALL
    for aliases, records, kind in ((INIT_ALIASES, INITIALIZERS, "initializer"),
                                   (OPT_ALIASES, OPTIMIZERS, "optimizer")):
        for name, record in records.items():
            table[name] = _by_defaults(kind, name, record)
        for alias, name in aliases.items():
            table[alias] = _by_defaults(kind, name, records[name])
    for name, source in DATA_SOURCES.items():
        params = {k: (REQUIRED if v is DATA_REQUIRED else v) for k, v in source.params.items()}
        table[name] = _component("data", name, source, params, source.kinds)
    return types.MappingProxyType(table)
