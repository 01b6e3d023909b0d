"""Tensor indexing `x[0, 1:3, :, ::2]` in `.nn` code, staged as `slice` and `reshape`.

Indices and bounds are compile-time integers; an integer index drops its dim. A dim
that is symbolic can only be taken whole (`:`).
"""

from __future__ import annotations

from ...dsl import ast
from .. import dims
from .errors import fail
from .values import kind_name


def index_tensor(ev, x, node: ast.Index, scope):
    shape = x.type.shape
    if len(node.indices) > len(shape):
        raise fail("E0204", f"too many indices for `{x.type}`: {len(node.indices)}", node.span)
    start, limit, stride, keep = [], [], [], []
    for axis, dim in enumerate(shape):
        index = node.indices[axis] if axis < len(node.indices) else None
        if index is None or (isinstance(index, ast.Slice) and index.start is None
                             and index.stop is None and index.step is None):
            start.append(0), limit.append(dim), stride.append(1), keep.append(dim)
            continue
        if dims.is_symbolic(dim):
            raise fail("E0601", f"cannot index the symbolic dim `{dim}` yet", index.span,
                       help="take it whole with `:`")
        if isinstance(index, ast.Slice):
            lo, hi, step = (_const(ev, part, scope) for part in (index.start, index.stop,
                                                                 index.step))
            if step == 0:
                raise fail("E0304", "a slice step cannot be zero", index.step.span)
            lo, hi, step = slice(lo, hi, step).indices(dim)
            if step <= 0:
                raise fail("E0601", "negative slice steps are not supported yet", index.span)
            count = max(0, (hi - lo + step - 1) // step)
            start.append(lo), limit.append(lo + max(count - 1, 0) * step + (1 if count else 0))
            stride.append(step), keep.append(count)
        else:
            i = _const(ev, index, scope)
            if not -dim <= i < dim:
                raise fail("E0208", f"index `{i}` is out of range for a dim of {dim}",
                           index.span)
            i %= dim
            start.append(i), limit.append(i + 1), stride.append(1)
    b = ev.trace.builder(node.span)
    sliced = b.emit("slice", x, start=tuple(start), limit=tuple(limit), stride=tuple(stride))
    if tuple(keep) != sliced.type.shape:
        sliced = b.emit("reshape", sliced, shape=tuple(keep))
    return sliced


def _const(ev, expr, scope):
    if expr is None:
        return None
    value = ev.expr(expr, scope)
    if not isinstance(value, int) or isinstance(value, bool):
        raise fail("E0304", f"an index must be a constant integer, found {kind_name(value)}",
                   expr.span)
    return value
