"""Types and dims in `.nn` code: annotations (`f32[B, in]`) resolved to IR tensor types,
values checked against them, and dims bound from the values (Keras' `build()`).

A dim is an integer, a symbol (`B`, `N`) that stays symbolic, or arithmetic on them
(`H * W * C`, `(H - 3) / 2 + 1`, `/` rounding down), kept in `compiler/dims.py`'s normal
form and compared as such; an unbound name in an annotation is bound from the first
value checked against it. Number literals are checked against the dtype they become.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from ...dsl import ast
from ...dsl.diagnostics import Label, suggest
from .. import dims
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
    try:
        return DimSym.wrap(dims.OPERATORS[dim.op](unwrap(left), unwrap(right)))
    except dims.DimError:
        raise fail("E0304", f"`{dim_text(dim)}` divides by zero", dim.span,
                   "a division by zero", help=f"`{dim_text(dim.right)}` is 0 here") from None


def unwrap(value) -> dims.Dim:
    return value.name if isinstance(value, DimSym) else value


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
                   help=rank_help(actual, len(ann.dims)))
    # Plain names bind first, so that `f32[2 * N, N]` reads N from the second axis;
    # an expression with one unbound name solves for it (`2 * K` from 8 binds K = 4).
    order = sorted(zip(ann.dims, actual.shape), key=lambda p: isinstance(p[0], ast.DimBinOp))
    for dim, size in order:
        if isinstance(dim, ast.DimBinOp):
            solve_unbound(dim, size, env)
        got = unwrap(eval_dim(dim, env, bind_to=DimSym.wrap(size)))
        if got != size:
            notes = () if isinstance(dim, ast.DimInt) else (
                f"`{dim_text(dim)}` is `{dims.format_dim(got)}` here, but the tensor has "
                f"`{dims.format_dim(size)}`",)
            raise fail(code, f"{what} should be `{expected_text}`, found `{actual}`", span,
                       f"this is `{actual}`", secondary=declared_here(ann), notes=notes)
    return value


def rank_help(actual: TensorType, expected: int) -> str | None:
    """What to do about a tensor of the wrong rank for a layer or fn input, with a
    `reshape` to the expected rank built from its own dims where axes are missing."""
    if actual.rank > expected:
        return (f"it takes rank {expected}: flatten the dims after the batch first, e.g. "
                f"`x |> Flatten() |> ...`, or `reshape` it")
    if actual.rank < expected:
        shape = ", ".join(map(dims.format_dim, added_axes(actual.shape, expected)))
        return (f"it takes rank {expected}: add the missing axes with `reshape`, e.g. "
                f"`reshape(x, [{shape}])`")
    return None


def added_axes(shape, rank: int) -> tuple:
    """`shape` grown to `rank` by axes of size 1 at the end; a last dim that is a square
    (a flat image, 784) is first split into its two sides when two axes are missing."""
    last = shape[-1] if shape else None
    side = math.isqrt(last) if dims.is_concrete(last) else 0
    if rank - len(shape) >= 2 and side > 1 and side * side == last:
        shape = (*shape[:-1], side, side)
    return (*shape, *(1,) * (rank - len(shape)))


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


def check_readable_symbols(annotations, types) -> None:
    """E0205 for a program input whose dim uses a symbol that no input has as a whole
    dim (`x: f32[2 * K]`): its size could not be read from the arrays given."""
    plain = {d for t in types for d in t.shape if isinstance(d, str)}
    for ann, ttype in zip(annotations, types):
        for dim, value in zip(ann.dims, ttype.shape):
            missing = [s for s in dims.symbols_of(value) if s not in plain]
            if missing:
                raise fail("E0205", f"the size of `{missing[0]}` cannot be read from the "
                           f"inputs", dim.span, f"`{missing[0]}` appears only inside this dim",
                           help=f"give `{missing[0]}` an axis of its own in some input, "
                           f"e.g. `f32[B, {missing[0]}]`")


def solve_unbound(dim: ast.DimBinOp, size, env: dict) -> None:
    """Binds the one unbound name in `dim` when `dim` is linear in it and `size`
    determines it; otherwise leaves `env` alone, and the name is reported unbound."""
    unbound = {n for n in dim_names(dim) if n not in env}
    if len(unbound) != 1:
        return
    (name,) = unbound
    placeholder = f"?{name}"  # no `.nn` symbol is spelled so
    expression = unwrap(eval_dim(dim, {**env, name: DimSym(placeholder)}))
    others = {s: s for s in dims.symbols_of(expression) if s != placeholder}
    solved = dims.solve(expression, size, others)
    if solved is not None:
        env[name] = DimSym.wrap(solved[1])


def dim_names(dim) -> list[str]:
    if isinstance(dim, ast.DimName):
        return [dim.name]
    if isinstance(dim, ast.DimBinOp):
        return dim_names(dim.left) + dim_names(dim.right)
    return []


def element_count(ttype: TensorType) -> int:
    """The number of elements with every symbol at 1, the least a shape such as
    `[B, 784]` or `[B, 2 * H]` can hold (a lower bound for the size limits)."""
    total = 1
    for dim in ttype.shape:
        try:
            total *= max(dims.evaluate(dim, dict.fromkeys(dims.symbols_of(dim), 1)), 1)
        except ZeroDivisionError:
            pass
    return total


PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def dim_text(dim, parent: int = 0, right_side: bool = False) -> str:
    """The dim as written, with the parentheses its tree needs."""
    if isinstance(dim, ast.DimInt):
        return str(dim.value)
    if isinstance(dim, ast.DimName):
        return dim.name
    own = PRECEDENCE[dim.op]
    text = f"{dim_text(dim.left, own)} {dim.op} {dim_text(dim.right, own, True)}"
    return f"({text})" if own < parent or (own == parent and right_side) else text


def ann_text(ann: ast.TypeAnn) -> str:
    return f"{ann.name}[{', '.join(dim_text(d) for d in ann.dims)}]"


def declared_here(ann: ast.TypeAnn) -> list[Label]:
    return [Label(ann.span, "declared here")]
