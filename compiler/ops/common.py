"""Rules shared by the op families: broadcasting, dtype and axis checks, and the
adapters that VJP rules use, so each family states its law once. Nothing here knows a
backend: a lowering rule gets what it needs (`lax`, dtypes, broadcasting) from its
backend's context.

Shape rules may write normalized attributes back into the `attrs` dict they are
given (negative axes made positive, `-1` in a reshape resolved): the builder stores
that same dict on the node, so the IR always holds the canonical form.
"""

from __future__ import annotations

import functools
import math

from .. import dims
from ..ir import DTYPES, TensorType, format_shape
from .registry import ShapeError

BROADCAST_HELP = ("dimensions must be equal or 1; a symbolic dimension only matches "
                  "the same symbol or 1")


# Shapes

def broadcast_dim(a, b):
    """The broadcast of two dims, or None. Strict for symbolic dims: `N` (or `H * W`)
    matches only an equal normal form or 1, never another symbol or an int other than
    1, because nothing at compile time says they agree."""
    if a == b or b == 1:
        return a
    if a == 1:
        return b
    return None


def broadcast_shapes(op_name: str, types) -> tuple:
    """The numpy broadcast of the operands' shapes (trailing alignment), or E0202."""
    shape: tuple = ()
    for index, type_ in enumerate(types):
        rank = max(len(shape), type_.rank)
        left = (1,) * (rank - len(shape)) + shape
        right = (1,) * (rank - type_.rank) + type_.shape
        dims = tuple(broadcast_dim(a, b) for a, b in zip(left, right))
        if None in dims:
            raise ShapeError(
                f"shapes `{format_shape(shape)}` and `{format_shape(type_.shape)}` "
                f"cannot be broadcast together", code="E0202", operand=index,
                label=f"in this `{op_name}`", help=BROADCAST_HELP)
        shape = dims
    return shape


def require_rank(op_name: str, type_: TensorType, ranks, operand: int = 0, what="operand"):
    """E0204 unless the operand's rank is in `ranks` (a range or a tuple)."""
    if type_.rank not in ranks:
        expected = (f"rank {ranks[0]}" if len(ranks) == 1
                    else f"rank at least {ranks[0]}" if isinstance(ranks, range)
                    else "rank " + " or ".join(map(str, ranks)))
        raise ShapeError(f"`{op_name}` needs {what} of {expected}, got `{type_}`",
                         code="E0204", operand=operand, label=f"`{type_}` has rank {type_.rank}")


def check_shape_attr(op_name: str, shape, allow_inferred: bool = False,
                     code: str = "E0304") -> None:
    """`code` for a target shape with a dim that is neither a symbol nor a size >= 0."""
    for dim in shape:
        if dims.is_symbolic(dim) or (dims.is_concrete(dim) and dim >= 0):
            continue
        if allow_inferred and dim == -1:
            continue
        raise ShapeError(f"`{op_name}` shape `{format_shape(shape)}` has an invalid "
                         f"dimension `{dim}`", code=code,
                         help="dimensions are sizes >= 0, symbols like `N` or "
                         "arithmetic on them")


# Dtypes

def require_same_dtype(op_name: str, types, first_operand: int = 0) -> str:
    """The common dtype of `types` (operands from index `first_operand` on), or E0209
    naming the first two that differ."""
    first = types[0].dtype
    for index, type_ in enumerate(types[1:], start=first_operand + 1):
        if type_.dtype != first:
            raise ShapeError(
                f"`{op_name}` operands have different dtypes: `{first}` and `{type_.dtype}`",
                code="E0209", operand=index, label=f"`{first}` and `{type_.dtype}` do not mix",
                help=f"convert one operand first, e.g. `cast(value, {first})`")
    return first


def require_float(op_name: str, type_: TensorType, operand: int = 0) -> None:
    if not type_.is_float:
        raise ShapeError(f"`{op_name}` needs a float operand, got `{type_}`",
                         code="E0209", operand=operand, label="needs a float operand",
                         help="convert it first, e.g. `cast(value, f32)`")


def require_numeric(op_name: str, type_: TensorType, operand: int = 0) -> None:
    if type_.dtype == "bool":
        raise ShapeError(f"`{op_name}` needs a numeric operand, got `{type_}`",
                         code="E0209", operand=operand, label=f"this is `{type_}`",
                         help="convert it to a number type first")


def require_dtype(op_name: str, type_: TensorType, allowed, operand: int = 0,
                  what="operand") -> None:
    if type_.dtype not in allowed:
        names = ", ".join(f"`{d}`" for d in sorted(allowed))
        raise ShapeError(f"`{op_name}` {what} must have dtype {names}, got `{type_}`",
                         code="E0209", operand=operand, label=f"this is `{type_}`")


def require_known_dtype(op_name: str, dtype: str) -> None:
    if dtype not in DTYPES:
        raise ShapeError(f"`{op_name}` has unknown dtype `{dtype}`", code="E0201",
                         help="dtypes are " + ", ".join(DTYPES))


# Axes

def normalize_axis(op_name: str, axis: int, type_: TensorType, operand: int = 0,
                   rank: int | None = None) -> int:
    """`axis` in `[0, rank)` (negative counts from the end), or E0208."""
    rank = type_.rank if rank is None else rank
    if not isinstance(axis, int) or not -rank <= axis < rank:
        raise ShapeError(f"`{op_name}` axis `{axis}` is out of range for `{type_}`",
                         code="E0208", operand=operand,
                         label=f"valid axes are {-rank} to {rank - 1}" if rank else
                         "a scalar has no axes")
    return axis % rank


def normalize_axes(op_name: str, axes, type_: TensorType) -> tuple[int, ...]:
    """Sorted, non-negative, distinct axes; `None` means every axis."""
    if axes is None:
        return tuple(range(type_.rank))
    normalized = tuple(normalize_axis(op_name, a, type_) for a in axes)
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"`{op_name}` axes `{tuple(axes)}` repeat an axis of `{type_}`",
                         code="E0208", operand=0)
    return tuple(sorted(normalized))


def keepdims_shape(shape, axes) -> tuple:
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


# Gradients

def single_cotangent(rule):
    """Adapts `rule(b, node, ct)` of a one-result op to the registry contract
    `(b, node, cts) -> tuple`: a missing cotangent gives no cotangents, and a single
    returned value becomes a one-tuple."""
    @functools.wraps(rule)
    def adapted(b, node, cts):
        (ct,) = cts
        if ct is None:
            return (None,) * len(node.operands)
        grads = rule(b, node, ct)
        return grads if isinstance(grads, tuple) else (grads,)
    return adapted


# Sizes

def element_count(dims):
    """The product of `dims` (ints or JAX symbolic dims)."""
    return math.prod(dims)
