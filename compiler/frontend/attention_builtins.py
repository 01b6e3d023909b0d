"""Compile-time helpers of the prelude's MultiHeadAttention for Keras' `attention_axes`:
a query `[B, *inner, *attended, D]` is folded to the rank-3 `[B * inner, attended, D]`
that the attention is written for, and its output and scores unfolded to Keras'
layouts. Projections act on the last axis only, so folding before them is exact.

`attended_axes(x, axes)` normalizes Keras' argument (None: the axis before the
features); `fold_axes` and `unfold_axes` emit `transpose` and `reshape` ops, and none
for a rank-3 input attended over its axis 1.
"""

from __future__ import annotations

from .. import dims
from ..ir import Value
from .binding import CallSite
from .values import DimSym, Signature, kind_name


def _attention_axes(c: CallSite, x, axes):
    """Keras' `attention_axes` for `x`, as a sorted list of axes between the batch and
    the features: None is the one before the features."""
    x = c.tensor("x", x)
    rank = x.type.rank
    given = [rank - 2] if axes is None else axes if isinstance(axes, list) else [axes]
    ints = all(isinstance(a, int) and not isinstance(a, bool) for a in given)
    normal = sorted({a % rank for a in given}) if ints else []
    if not ints or not given or any(not -rank <= a < rank for a in given) or any(
            not 1 <= a <= rank - 2 for a in normal):
        raise c.fail("E0304", f"`attention_axes` should be axes of `{x.type}` between the "
                     f"batch and the features, found {kind_name(axes)} `{axes}`", "axes",
                     help=f"for a rank-{rank} query they run from 1 to {rank - 2} "
                     f"(or {1 - rank} to -2)")
    return normal


def fold_order(rank: int, axes) -> list[int]:
    """The batch axis, the axes not attended over, the attended ones, the features."""
    inner = [a for a in range(1, rank - 1) if a not in axes]
    return [0, *inner, *axes, rank - 1]


def _fold_axes(c: CallSite, x, axes):
    x = c.tensor("x", x)
    rank = x.type.rank
    order = fold_order(rank, axes)
    if order == list(range(rank)) and rank == 3:
        return x
    moved = x if order == list(range(rank)) else c.b.emit("transpose", x, perm=tuple(order))
    shape = moved.type.shape
    attended = len(axes)
    return c.b.emit("reshape", moved, shape=(
        dims.product(shape[:rank - 1 - attended]), dims.product(shape[rank - 1 - attended:-1]),
        shape[-1]))


def _unfold_axes(c: CallSite, y, like, axes):
    """`y` `[B * inner, attended, U]` back to `like`'s layout, its features `U`."""
    y, like = c.tensor("y", y), c.tensor("like", like)
    rank = like.type.rank
    order = fold_order(rank, axes)
    if order == list(range(rank)) and rank == 3:
        return y
    moved_shape = tuple(like.type.shape[a] for a in order[:-1]) + (y.type.shape[-1],)
    unfolded: Value = c.b.emit("reshape", y, shape=moved_shape)
    if order == list(range(rank)):
        return unfolded
    inverse = tuple(order.index(a) for a in range(rank))
    return c.b.emit("transpose", unfolded, perm=inverse)


def _scores_shape(c: CallSite, query, value, axes, heads):
    """The shape of Keras' scores for these inputs: the batch and the axes not attended
    over, the heads, the query's attended axes, then the value's."""
    query, value = c.tensor("query", query), c.tensor("value", value)
    order = fold_order(query.type.rank, axes)
    kept = [query.type.shape[a] for a in order[:-1 - len(axes)]]
    return [DimSym.wrap(d) for d in (*kept, heads, *(query.type.shape[a] for a in axes),
                                     *(value.type.shape[a] for a in axes))]


ATTENTION_FUNCTIONS = (
    ("attended_axes", Signature.of("x", "axes"), _attention_axes,
     "Keras' `attention_axes` of a query, normalized to a sorted list"),
    ("fold_axes", Signature.of("x", "axes"), _fold_axes,
     "`[B, *inner, *axes, D]` folded to `[B * inner, axes, D]`"),
    ("unfold_axes", Signature.of("y", "like", "axes"), _unfold_axes,
     "the inverse of `fold_axes`, to the layout of `like`"),
    ("scores_shape", Signature.of("query", "value", "axes", "heads"), _scores_shape,
     "the shape of Keras' attention scores for these inputs"),
)
