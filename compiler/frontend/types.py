"""Types and dims in `.nn` code: annotations (`f32[B, in]`) resolved to IR tensor types,
values checked against them, and dims bound from the values (Keras' `build()`).

A dim is an integer, or a symbol (`B`, `N`) that stays symbolic; an unbound name in an
annotation is bound from the first value checked against it. Number literals are
checked against the dtype they become.
"""

from __future__ import annotations

import sys

import numpy as np

from ...dsl import ast
from ...dsl.diagnostics import Label, suggest
from ..ir import DTYPES, FLOAT_DTYPES, TensorType, Value
from .errors import fail
from .values import DimSym, kind_name

# Far beyond any device's memory; below it, a size in bytes still fits XLA's int64.
MAX_ELEMENTS = 2**48
# The compile-time kinds a layer's configuration can be annotated with, `units: int`.
SCALAR_KINDS = {"int": int, "float": (int, float), "bool": bool, "str": str}


def check_dtype_name(name: str, span) -> str:
    if name not in DTYPES:
        raise fail("E0201", f"unknown dtype `{name}`", span, "not a dtype",
                   help=suggest(name, list(DTYPES)) or f"dtypes are {', '.join(DTYPES)}")
    return name


def check_representable(value: int | float, dtype: str, span) -> None:
    """E0304 unless the number fits `dtype`: an integer dtype's range (`1e30` does not
    fit `i32`), or for a float dtype a float64, which then rounds or overflows to infinity
    as in NumPy."""
    if dtype in FLOAT_DTYPES:
        fits = abs(value) <= sys.float_info.max or isinstance(value, float)
    elif dtype in DTYPES and dtype != "bool":
        info = np.iinfo(DTYPES[dtype])
        fits = info.min <= value <= info.max
    else:
        fits = True
    if not fits:
        raise fail("E0304", f"the constant does not fit in `{dtype}`", span, f"as `{dtype}`",
                   help="use a smaller constant or a wider dtype")


def literal_dtype(value, tensor_dtype: str) -> str:
    """A number literal takes the other operand's dtype (weak typing, as in JAX), except
    a fraction beside an integer tensor: it stays `f32`, so the op reports the mismatch
    instead of truncating."""
    if isinstance(value, float) and tensor_dtype not in FLOAT_DTYPES and not value.is_integer():
        return "f32"
    return tensor_dtype


def resolve_type(ann: ast.TypeAnn, env: dict, require_concrete=False,
                 new_symbols=False) -> TensorType:
    """The tensor type an annotation names, its dims looked up in `env` (with
    `new_symbols`, an unbound name becomes a symbol, bound in `env`)."""
    dtype = check_dtype_name(ann.name, ann.span)
    if ann.dims is None:
        return TensorType(dtype, ())
    dims = []
    for dim in ann.dims:
        value = eval_dim(dim, env, new_symbols=new_symbols)
        if isinstance(value, DimSym):
            if require_concrete:
                raise fail("E0207", f"parameter shape `{ann_text(ann)}` uses the symbolic "
                           f"dim `{value.name}`", dim.span, "not a concrete size",
                           help="parameter shapes must be known at compile time; bind the "
                           "dim from a layer's input, e.g. `(x: f32[B, in])`")
            dims.append(value.name)
        else:
            if value < 0:
                raise fail("E0304", f"the dimension `{dim_text(dim)}` is {value}", dim.span,
                           "a negative size", help="dimensions are sizes >= 0")
            dims.append(value)
    ttype = TensorType(dtype, tuple(dims))
    if element_count(ttype) > MAX_ELEMENTS:
        raise fail("E0304", f"`{ttype}` has more elements than any device can hold",
                   ann.span, "too large", help="a tensor has at most 2**48 elements")
    return ttype


def eval_dim(dim, env: dict, bind_to=None, new_symbols=False):
    """The value of one dim expression: an int or a `DimSym`. An unbound name is bound
    in `env` to `bind_to` (or, with `new_symbols`, to a symbol of its own name)."""
    if isinstance(dim, ast.DimInt):
        return dim.value
    if isinstance(dim, ast.DimName):
        if dim.name in env:
            value = env[dim.name]
            if isinstance(value, (int, DimSym)) and not isinstance(value, bool):
                return value
            raise fail("E0304", f"`{dim.name}` is {kind_name(value)}, not a dimension",
                       dim.span)
        if bind_to is not None:
            env[dim.name] = bind_to
            return bind_to
        if new_symbols:
            env[dim.name] = DimSym(dim.name)
            return env[dim.name]
        raise fail("E0101", f"the dimension `{dim.name}` is not bound", dim.span,
                   help="dims are bound by a definition's inputs")
    left = eval_dim(dim.left, env, None, new_symbols)
    right = eval_dim(dim.right, env, None, new_symbols)
    if not (isinstance(left, int) and isinstance(right, int)):
        raise fail("E0601", "arithmetic on symbolic dims is not supported yet", dim.span)
    if dim.op == "/" and (right == 0 or left % right):
        raise fail("E0304", f"`{left} / {right}` is not a whole number of elements",
                   dim.span)
    return {"+": left + right, "-": left - right, "*": left * right,
            "/": left // max(right, 1)}[dim.op]


def match(ev, ann: ast.TypeAnn, value, env: dict, span, param, result=False):
    """`value` checked against `ann`, binding unbound dim names in `env`; a number
    becomes a scalar tensor of the annotated dtype."""
    if ann.dims is None:
        return check_kind(ann, value, span, param)
    dtype = check_dtype_name(ann.name, ann.span)
    if not isinstance(value, Value):
        if isinstance(value, (int, float)) and not ann.dims:
            return ev.tensor(value, span, dtype)
        raise fail("E0205", f"expected a tensor `{ann.name}[...]`, found {kind_name(value)}",
                   span, secondary=declared_here(ann))
    actual = value.type
    expected_text = ann_text(ann)
    code = "E0206" if result else "E0205"
    what = "result" if result else f"`{param.name}`" if param else "argument"
    if actual.dtype != dtype or actual.rank != len(ann.dims):
        raise fail(code, f"{what} should be `{expected_text}`, found `{actual}`", span,
                   f"this is `{actual}`", secondary=declared_here(ann),
                   help=None if result else rank_help(actual.rank, len(ann.dims)))
    for dim, size in zip(ann.dims, actual.shape):
        bound = eval_dim(dim, env, bind_to=DimSym(size) if isinstance(size, str) else size)
        got = bound.name if isinstance(bound, DimSym) else bound
        if got != size:
            notes = () if isinstance(dim, ast.DimInt) else (
                f"`{dim_text(dim)}` is `{got}` here, but the tensor has `{size}`",)
            raise fail(code, f"{what} should be `{expected_text}`, found `{actual}`", span,
                       f"this is `{actual}`", secondary=declared_here(ann), notes=notes)
    return value


def rank_help(actual: int, expected: int) -> str | None:
    """What to do about a tensor of the wrong rank for a layer or fn input."""
    if actual > expected:
        return (f"it takes rank {expected}: flatten the dims after the batch first, e.g. "
                f"`x |> Flatten() |> ...`, or `reshape` it")
    if actual < expected:
        return (f"it takes rank {expected}: add the missing axes with `reshape`, e.g. a "
                f"channels axis of size 1 for an image, `reshape(x, [B, 28, 28, 1])`")
    return None


def check_kind(ann: ast.TypeAnn, value, span, param):
    """A compile-time value checked against a scalar annotation (`units: int`); a bare
    dtype (`x: f32`) accepts anything here, since it is checked when traced."""
    expected = SCALAR_KINDS.get(ann.name)
    if expected is None:
        if ann.name in DTYPES:
            return value
        raise fail("E0201", f"unknown type `{ann.name}`", ann.span,
                   help=suggest(ann.name, list(SCALAR_KINDS)))
    if not isinstance(value, expected) or (ann.name == "int" and isinstance(value, bool)):
        name = f"`{param.name}`" if param else "value"
        raise fail("E0304", f"{name} should be {ann.name}, found {kind_name(value)}", span)
    return float(value) if ann.name == "float" else value


def element_count(ttype: TensorType) -> int:
    """The number of elements, counting a symbolic dim as 1."""
    total = 1
    for dim in ttype.shape:
        total *= dim if isinstance(dim, int) else 1
    return total


def dim_text(dim) -> str:
    if isinstance(dim, ast.DimInt):
        return str(dim.value)
    if isinstance(dim, ast.DimName):
        return dim.name
    return f"{dim_text(dim.left)} {dim.op} {dim_text(dim.right)}"


def ann_text(ann: ast.TypeAnn) -> str:
    return f"{ann.name}[{', '.join(dim_text(d) for d in ann.dims)}]"


def declared_here(ann: ast.TypeAnn) -> list[Label]:
    return [Label(ann.span, "declared here")]
